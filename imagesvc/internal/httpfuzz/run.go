package httpfuzz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Run. Zero values are the documented defaults.
type Options struct {
	Target      Target
	Duration    time.Duration // required: no probe starts after it (at most 24h)
	MaxProbes   int           // 0 => 10,000,000; no probe starts after this many
	Concurrency int           // probes in flight; 0 => 8 (at most 4096)
	Mix         Mix           // nil => FuzzMix
	Seed        uint64        // the generators' seed; the same seed draws the same probes per worker
	// ProbeTimeout bounds one probe from dial to the last body byte.
	// 0 => Budget + 30s, or 60s without a budget.
	ProbeTimeout time.Duration
	// Budget is the service's request time budget: an answer later than it
	// (plus 5s for the body) is a violation. 0 => not checked.
	Budget time.Duration
	// Progress, when set, gets a line every ProgressEvery (0 => 10s).
	Progress      io.Writer
	ProgressEvery time.Duration
}

// Report is what a Run saw.
type Report struct {
	Target     Target
	Duration   time.Duration
	Probes     int
	Classes    map[Class]*ClassReport
	Violations []Violation // the first 50
	Violated   int         // all of them
}

// ClassReport counts one class's outcomes.
type ClassReport struct {
	Class     Class
	Probes    int
	Outcomes  map[string]int // "200", "422", "closed", ...
	Violated  int
	latencies map[string][]time.Duration // by outcome
}

// Violation is a probe whose answer broke a promise of the service.
type Violation struct {
	Class   Class
	Probe   string
	Result  string
	Problem string
}

const maxViolationsKept = 50

// maxRetryAfter caps how long a worker honours a 503's Retry-After.
const maxRetryAfter = 30 * time.Second

// Run fires probes at the target until the duration or the probe count is
// used up (or ctx ends), then reports. It first reads the catalog from the
// service (GET /images, and one image of each format to upload).
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Target.Validate(); err != nil {
		return nil, err
	}
	if o.Duration <= 0 || o.Duration > 24*time.Hour {
		return nil, fmt.Errorf("httpfuzz: Duration %v: want 0 < d <= 24h", o.Duration)
	}
	if o.MaxProbes <= 0 {
		o.MaxProbes = 10_000_000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Concurrency > 4096 {
		return nil, fmt.Errorf("httpfuzz: Concurrency %d: at most 4096", o.Concurrency)
	}
	if o.Mix == nil {
		o.Mix = FuzzMix
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 60 * time.Second
		if o.Budget > 0 {
			o.ProbeTimeout = o.Budget + 30*time.Second
		}
	}
	cat, err := loadCatalog(ctx, o.Target)
	if err != nil {
		return nil, err
	}
	rep := &Report{Target: o.Target, Classes: map[Class]*ClassReport{}}
	var mu sync.Mutex
	record := func(oc outcome) {
		mu.Lock()
		defer mu.Unlock()
		rep.Probes++
		cr := rep.Classes[oc.class]
		if cr == nil {
			cr = &ClassReport{Class: oc.class, Outcomes: map[string]int{}, latencies: map[string][]time.Duration{}}
			rep.Classes[oc.class] = cr
		}
		cr.Probes++
		cr.Outcomes[oc.result]++
		if len(cr.latencies[oc.result]) < 1_000_000 {
			cr.latencies[oc.result] = append(cr.latencies[oc.result], oc.latency)
		}
		if oc.problem != "" {
			cr.Violated++
			rep.Violated++
			if len(rep.Violations) < maxViolationsKept {
				rep.Violations = append(rep.Violations, Violation{oc.class, oc.what, oc.result, oc.problem})
			}
		}
	}

	start := time.Now()
	rctx, cancel := context.WithDeadline(ctx, start.Add(o.Duration))
	defer cancel()
	var started sync.Mutex
	count := 0
	take := func() bool {
		started.Lock()
		defer started.Unlock()
		if count >= o.MaxProbes || rctx.Err() != nil {
			return false
		}
		count++
		return true
	}
	var wg sync.WaitGroup
	for w := range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := &generator{rng: rand.New(rand.NewPCG(o.Seed, uint64(w))), cat: cat}
			for take() {
				p := g.next(o.Mix)
				// a probe started before the deadline runs to its own end:
				// cutting it would count as the service's failure
				oc := execute(ctx, o.Target, p, o.ProbeTimeout, o.Budget)
				record(oc)
				if oc.retry > 0 {
					// a polite client: back off as told, never past the run
					select {
					case <-time.After(min(oc.retry, maxRetryAfter)):
					case <-rctx.Done():
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	if o.Progress != nil {
		every := o.ProgressEvery
		if every <= 0 {
			every = 10 * time.Second
		}
		go func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					mu.Lock()
					fmt.Fprintf(o.Progress, "httpfuzz: %v: %d probes, %d violations\n", time.Since(start).Round(time.Second), rep.Probes, rep.Violated)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	rep.Duration = time.Since(start)
	return rep, nil
}

// loadCatalog reads the built-ins and fetches upload material of every
// format from the service itself: a small and a medium photo.
func loadCatalog(ctx context.Context, t Target) (*catalog, error) {
	c := t.client(2 * time.Minute)
	defer c.CloseIdleConnections()
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://imagesvc"+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("httpfuzz: catalog: GET %s: %w", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("httpfuzz: catalog: GET %s: %w", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("httpfuzz: catalog: GET %s: status %d", path, resp.StatusCode)
		}
		return body, nil
	}
	list, err := get("/images")
	if err != nil {
		return nil, err
	}
	var imgs []image
	if err := json.Unmarshal(list, &imgs); err != nil {
		return nil, fmt.Errorf("httpfuzz: catalog: GET /images: %w", err)
	}
	cat := &catalog{uploads: map[string][]upload{}}
	for _, im := range imgs {
		switch im.Kind {
		case "photo":
			cat.photos = append(cat.photos, im)
		case "overlay":
			cat.overlay = im
		}
	}
	if len(cat.photos) == 0 {
		return nil, errors.New("httpfuzz: catalog: the service lists no photos")
	}
	sort.Slice(cat.photos, func(i, j int) bool {
		return cat.photos[i].Width*cat.photos[i].Height < cat.photos[j].Width*cat.photos[j].Height
	})
	small := cat.photos[0]
	for _, f := range formats {
		for _, w := range []int{small.Width, 1000} {
			h := small.Height * w / small.Width
			body, err := get(fmt.Sprintf("/images/%s?ops=resize:w=%d&format=%s&quality=90", small.Name, w, f))
			if err != nil {
				return nil, err
			}
			cat.uploads[f] = append(cat.uploads[f], upload{body: body, size: dims{w, h}})
		}
	}
	return cat, nil
}

// Percentile is the p-th percentile (0..100) of a class's latencies, of
// every probe, or of those with the given outcomes ("200", "503", ...).
func (c *ClassReport) Percentile(p float64, outcomes ...string) time.Duration {
	var s []time.Duration
	for k, l := range c.latencies {
		if len(outcomes) == 0 || slices.Contains(outcomes, k) {
			s = append(s, l...)
		}
	}
	if len(s) == 0 {
		return 0
	}
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p/100)]
}

// Table renders the status mix per class, with latencies and violations.
func (r *Report) Table() string {
	var results []string
	seen := map[string]bool{}
	for _, c := range r.Classes {
		for k := range c.Outcomes {
			if !seen[k] {
				seen[k] = true
				results = append(results, k)
			}
		}
	}
	sort.Slice(results, func(i, j int) bool {
		a, aerr := strconv.Atoi(results[i])
		b, berr := strconv.Atoi(results[j])
		switch {
		case aerr == nil && berr == nil:
			return a < b
		case aerr == nil:
			return true
		case berr == nil:
			return false
		}
		return results[i] < results[j]
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%-18s %6s", "class", "probes")
	for _, k := range results {
		fmt.Fprintf(&b, " %7s", k)
	}
	fmt.Fprintf(&b, " %9s %9s %9s\n", "p50", "p99", "violated")
	classes := make([]Class, 0, len(r.Classes))
	for c := range r.Classes {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	for _, c := range classes {
		cr := r.Classes[c]
		fmt.Fprintf(&b, "%-18s %6d", c, cr.Probes)
		for _, k := range results {
			fmt.Fprintf(&b, " %7d", cr.Outcomes[k])
		}
		fmt.Fprintf(&b, " %9s %9s %9d\n", round(cr.Percentile(50)), round(cr.Percentile(99)), cr.Violated)
	}
	fmt.Fprintf(&b, "%d probes in %v against %s, %d violations\n", r.Probes, r.Duration.Round(time.Second), r.Target, r.Violated)
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "  violation: %s: %s -> %s: %s\n", v.Class, v.Probe, v.Result, v.Problem)
	}
	return b.String()
}

func round(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
