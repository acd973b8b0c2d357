package control

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The proxies' metrics are read from the transport's counters when Prometheus scrapes
// (a collector, no second set of counters to keep in step); check's outcomes are
// counted as its records arrive.
var (
	descBytes = prometheus.NewDesc("truncheck_proxy_bytes_total",
		"Bytes a proxy delivered, by direction: to_client (responses) or to_upstream (requests); on serve's listener, what the server wrote and read.",
		[]string{"proxy", "direction"}, nil)
	descConns = prometheus.NewDesc("truncheck_proxy_connections_total",
		"Connections a proxy accepted.", []string{"proxy"}, nil)
	descActive = prometheus.NewDesc("truncheck_proxy_connections_active",
		"Connections open now.", []string{"proxy"}, nil)
	descStale = prometheus.NewDesc("truncheck_proxy_connections_stale",
		"Open connections accepted before the last change of faults: they keep the faults they started with.", []string{"proxy"}, nil)
	descFired = prometheus.NewDesc("truncheck_proxy_faults_fired_total",
		"Connection sides a fault cut or stopped, by fault name (close-after, reset-after, stall-after, half-close-after, buffered-shutdown).",
		[]string{"proxy", "fault"}, nil)
)

type proxyCollector struct{ s *Server }

func (c proxyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBytes, descConns, descActive, descStale, descFired} {
		ch <- d
	}
}

func (c proxyCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for name, e := range c.s.entries {
		st := e.stats()
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(st.ToClient), name, "to_client")
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(st.ToUpstream), name, "to_upstream")
		ch <- prometheus.MustNewConstMetric(descConns, prometheus.CounterValue, float64(st.Conns), name)
		ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(st.Active), name)
		ch <- prometheus.MustNewConstMetric(descStale, prometheus.GaugeValue, float64(st.Stale), name)
		for fault, n := range st.Fired {
			ch <- prometheus.MustNewConstMetric(descFired, prometheus.CounterValue, float64(n), name, fault)
		}
	}
}

func (s *Server) initMetrics() {
	s.reg = prometheus.NewRegistry()
	s.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truncheck_check_responses_total",
		Help: "Responses check verified, by scenario (hunting condition) and outcome (complete, truncated, reset, ...)."},
		[]string{"scenario", "outcome"})
	s.silent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truncheck_check_silent_total",
		Help: "Failed responses the server's own account calls complete: the silent ones."}, []string{"scenario"})
	s.reg.MustRegister(proxyCollector{s}, s.outcomes, s.silent)
}

// RecordOutcome counts one response check verified: its scenario, its outcome and
// whether it failed silently. Safe from any goroutine.
func (s *Server) RecordOutcome(scenario, outcome string, silent bool) {
	s.outcomes.WithLabelValues(scenario, outcome).Inc()
	if silent {
		s.silent.WithLabelValues(scenario).Inc()
	}
}

func (s *Server) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, &apiErr{http.StatusMethodNotAllowed, "method " + r.Method + " on /metrics; accepted: GET"})
			return
		}
		h.ServeHTTP(w, r)
	})
}
