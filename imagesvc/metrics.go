package imagesvc

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is the service's own surface on GET /metrics (Prometheus text):
// requests by route and status, the admission control (slots, queue depth,
// refusals by reason, queue waits), the cache, and where the process's memory
// is: Go's heap (Go collector), libvips' tracked buffers and glibc's malloc
// arenas (memory outside Go), RSS (process collector). Each Service has a
// registry of its own: no process-wide state.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	queueWait prometheus.Histogram
}

func newMetrics(s *Service) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imagesvc_requests_total", Help: "Requests answered, by route and status code.",
	}, []string{"route", "code"})
	m.durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "imagesvc_request_duration_seconds", Help: "Time from the request to its last body byte handed to the HTTP layer, by route.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
	}, []string{"route"})
	m.queueWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "imagesvc_queue_wait_seconds", Help: "Time transforms waited for a worker slot.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 3, 12),
	})
	s.adm.observeWait = func(d time.Duration) { m.queueWait.Observe(d.Seconds()) }

	gauge := func(name, help string, fn func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn)
	}
	counter := func(name, help string, fn func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn)
	}
	stat := func(fn func(AdmissionStats) float64) func() float64 {
		return func() float64 { return fn(s.adm.snapshot()) }
	}
	m.reg.MustRegister(
		m.requests, m.durations, m.queueWait,
		gauge("imagesvc_worker_slots", "Transforms that may run at once (Config.MaxConcurrent).",
			stat(func(a AdmissionStats) float64 { return float64(a.Slots) })),
		gauge("imagesvc_queue_limit", "Transforms that may wait for a slot (Config.MaxQueue).",
			stat(func(a AdmissionStats) float64 { return float64(a.QueueLimit) })),
		gauge("imagesvc_workers_busy", "Transforms holding a worker slot now.",
			stat(func(a AdmissionStats) float64 { return float64(a.Running) })),
		gauge("imagesvc_queue_depth", "Transforms waiting for a worker slot now.",
			stat(func(a AdmissionStats) float64 { return float64(a.Queued) })),
		gauge("imagesvc_work_slowdown_ratio", "Moving average of actual over estimated transform time (the expected wait uses it).",
			stat(func(a AdmissionStats) float64 { return a.Slowdown })),
		counter("imagesvc_admitted_total", "Transforms that got a worker slot.",
			stat(func(a AdmissionStats) float64 { return float64(a.Admitted) })),
		counter("imagesvc_shed_queue_full_total", "Requests refused with 503: the queue was full.",
			stat(func(a AdmissionStats) float64 { return float64(a.RejectedFull) })),
		counter("imagesvc_shed_expected_wait_total", "Requests refused with 503: the expected wait would not leave time within the budget.",
			stat(func(a AdmissionStats) float64 { return float64(a.RejectedWait) })),
		counter("imagesvc_shed_uploads_total", "Uploads refused with 503 before their body was read: too many upload bytes in flight.",
			stat(func(a AdmissionStats) float64 { return float64(a.RejectedUploads) })),
		counter("imagesvc_refused_cost_total", "Requests refused with 422: the chain's cost estimate alone exceeds the budget.",
			stat(func(a AdmissionStats) float64 { return float64(a.RejectedCost) })),
		counter("imagesvc_left_queue_total", "Callers that gave up while their transform was queued (client gone, budget over).",
			stat(func(a AdmissionStats) float64 { return float64(a.LeftQueue) })),
		counter("imagesvc_cancelled_running_total", "Transforms stopped while running (every caller gone, budget over).",
			stat(func(a AdmissionStats) float64 { return float64(a.Cancelled) })),
		counter("imagesvc_budget_expired_total", "Requests answered 504: the time budget ran out.",
			stat(func(a AdmissionStats) float64 { return float64(a.BudgetExpired) })),
		gauge("imagesvc_cache_bytes", "Bytes of transformed built-ins in the cache.",
			func() float64 { return float64(s.cache.bytes()) }),
		gauge("imagesvc_cache_limit_bytes", "The cache's bound (Config.CacheBytes).",
			func() float64 { return float64(max(s.cfg.CacheBytes, 0)) }),
		gauge("imagesvc_libvips_tracked_bytes", "Pixel buffers libvips holds now (its own accounting).",
			func() float64 { return float64(vipsTrackedBytes()) }),
		gauge("imagesvc_libvips_tracked_highwater_bytes", "The most pixel buffers libvips held at once.",
			func() float64 { return float64(vipsTrackedHighwater()) }),
		gauge("imagesvc_malloc_arena_bytes", "Bytes glibc's malloc holds from the system in its arenas (memory outside Go, mostly libvips and codecs).",
			func() float64 { return float64(mallocStats().arena) }),
		gauge("imagesvc_malloc_mmap_bytes", "Bytes glibc's malloc holds in separate mappings (large blocks).",
			func() float64 { return float64(mallocStats().mmapped) }),
		gauge("imagesvc_malloc_used_bytes", "Bytes in use inside glibc's arenas.",
			func() float64 { return float64(mallocStats().used) }),
		gauge("imagesvc_malloc_free_bytes", "Bytes free inside glibc's arenas (held, not in use: fragmentation).",
			func() float64 { return float64(mallocStats().free) }),
		counter("imagesvc_malloc_trims_total", "Times the service handed free arena pages back to the system (malloc_trim).",
			func() float64 { n, _ := s.trimmer.stats(); return float64(n) }),
		counter("imagesvc_malloc_trim_seconds_total", "Time spent in malloc_trim.",
			func() float64 { _, d := s.trimmer.stats(); return d.Seconds() }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observe records one answered request.
func (m *metrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.durations.WithLabelValues(route).Observe(d.Seconds())
}
