package harness

// Performance measurements for issue 7, driven by harness/bench.sh. The
// benchmarks here run only with -bench; the Test functions are gated by
// environment variables (TRUNCHECK_PERF_REPRO, TRUNCHECK_PERF_SOAK) and skip
// otherwise, so `go test -race ./harness` stays fast. Nothing here asserts a
// timing: the script prints ratios and the reader judges them.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

// digestServer serves /N as N deterministic bytes with Content-Length and
// the Content-Digest the request's Want-Content-Digest prefers (crc32c
// or sha-256), like imagesvc does; digests are computed once per size.
func digestServer(b testing.TB, max int) (*httptest.Server, []byte) {
	body := testBody(max)
	var mu sync.Mutex
	digests := map[string]string{}
	digestOf := func(algo string, n int) string {
		mu.Lock()
		defer mu.Unlock()
		k := algo + strconv.Itoa(n)
		if d, ok := digests[k]; ok {
			return d
		}
		var sum []byte
		if algo == "crc32c" {
			c := crc32.Checksum(body[:n], castagnoli)
			sum = []byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}
		} else {
			s := sha256.Sum256(body[:n])
			sum = s[:]
		}
		d := algo + "=:" + base64.StdEncoding.EncodeToString(sum) + ":"
		digests[k] = d
		return d
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Path[1:])
		if err != nil || n > len(body) {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		switch want := r.Header.Get("Want-Content-Digest"); {
		case strings.HasPrefix(want, "crc32c"):
			w.Header().Set("Content-Digest", digestOf("crc32c", n))
		case strings.HasPrefix(want, "sha-256"):
			w.Header().Set("Content-Digest", digestOf("sha-256", n))
		}
		_, _ = w.Write(body[:n])
	}))
	b.Cleanup(srv.Close)
	return srv, body
}

// BenchmarkPerfVerify is issue 7's benchmark 1: 16 MB bodies from a static
// loopback server, read by a plain client (io.Copy to io.Discard) and by
// the verifier (length, framing, CRC-32C of the whole body and of every
// block against the reference, and the Content-Digest: crc32c as the
// harness asks for it by default, or sha-256 when that is all there is).
// bench.sh runs it with -count to interleave the sub-benchmarks and prints
// the verifier's medians as ratios of the plain client's.
func BenchmarkPerfVerify(b *testing.B) {
	const n = 16 << 20
	srv, body := digestServer(b, n)
	ref := FingerprintBytes(body[:n])
	url := srv.URL + "/" + strconv.Itoa(n)
	b.Run("plain", func(b *testing.B) {
		c := &http.Client{Transport: &http.Transport{}}
		defer c.CloseIdleConnections()
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			resp, err := c.Get(url)
			require.NoError(b, err)
			_, err = io.Copy(io.Discard, resp.Body)
			require.NoError(b, err)
			resp.Body.Close()
		}
	})
	for _, tc := range []struct{ name, want string }{
		{"verifier-crc32c", DefaultWantDigest},
		{"verifier-sha256", "sha-256=1"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := &http.Client{Transport: &http.Transport{}}
			defer c.CloseIdleConnections()
			v := NewVerifier(time.Minute, tc.want)
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				req, err := http.NewRequest(http.MethodGet, url, nil)
				require.NoError(b, err)
				vd := v.Do(context.Background(), c, req, &ref, false)
				require.Equal(b, results.Complete, vd.Outcome, "%v", vd.Err)
				require.NotEmpty(b, vd.DigestWant, "the digest was not checked")
			}
		})
	}
}

// BenchmarkPerfHash measures the checksums' speed on this CPU in the same
// run: the physical limits of the verifier.
func BenchmarkPerfHash(b *testing.B) {
	buf := testBody(1 << 20)
	b.Run("sha-256", func(b *testing.B) {
		h := sha256.New()
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			h.Write(buf)
		}
	})
	b.Run("crc32c", func(b *testing.B) {
		var c uint32
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			c = crc32.Update(c, castagnoli, buf)
		}
	})
}

// perfLine prints one machine-readable result line for bench.sh.
func perfLine(format string, args ...any) {
	fmt.Printf("PERF "+format+"\n", args...)
}

// TestPerfReproduce is issue 7's benchmark 3, run when TRUNCHECK_PERF_REPRO
// is set to a number of runs: the built-in buffered-shutdown scenario over
// its Unix socket, each run for TRUNCHECK_PERF_REPRO_FOR (default 2s) of
// sending. It prints, per run, the time from calling RunScenario to the
// first silent truncation record and the fraction of the requests started
// in the first second (after the first request started) that came back
// truncated.
func TestPerfReproduce(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("TRUNCHECK_PERF_REPRO"))
	if runs <= 0 {
		t.Skip("set TRUNCHECK_PERF_REPRO=10 to measure the time to reproduce buffered-shutdown")
	}
	dur := 2 * time.Second
	if d := os.Getenv("TRUNCHECK_PERF_REPRO_FOR"); d != "" {
		var err error
		dur, err = time.ParseDuration(d)
		require.NoError(t, err, "TRUNCHECK_PERF_REPRO_FOR: a Go duration such as 2s")
	}
	s, err := scenarios.Builtin().Get("buffered-shutdown")
	require.NoError(t, err)
	for i := range runs {
		var (
			mu         sync.Mutex
			first      time.Duration = -1
			firstStart time.Time
			recs       []*results.Record
		)
		start := time.Now()
		rep, err := RunScenario(context.Background(), s, Options{
			Origin:   imageOrigin(t),
			Duration: dur,
			OnRecord: func(r *results.Record) {
				mu.Lock()
				defer mu.Unlock()
				if first < 0 && r.Outcome == results.Truncated && r.Silent() {
					first = time.Since(start)
				}
				recs = append(recs, r)
			},
		})
		require.NoError(t, err)
		var inFirst, truncFirst int
		for _, r := range recs {
			if firstStart.IsZero() || r.Start.Before(firstStart) {
				firstStart = r.Start
			}
		}
		for _, r := range recs {
			if r.Start.Sub(firstStart) < time.Second {
				inFirst++
				if r.Outcome == results.Truncated {
					truncFirst++
				}
			}
		}
		frac := 0.0
		if inFirst > 0 {
			frac = float64(truncFirst) / float64(inFirst)
		}
		setup := time.Duration(-1)
		if !firstStart.IsZero() {
			setup = firstStart.Sub(start)
		}
		perfLine("repro run=%d first_silent_s=%.3f setup_s=%.3f first_second=%d/%d frac=%.3f total=%d met=%v",
			i+1, first.Seconds(), setup.Seconds(), truncFirst, inFirst, frac, len(recs), rep.Met)
	}
}

// TestPerfSoak is issue 7's benchmark 5, run when TRUNCHECK_PERF_SOAK is a
// duration (e.g. 5m): concurrency 16 over imagesvc on loopback TCP with a
// mix of ~1 to ~30 MB bodies, every body verified. RSS (VmRSS), the Go
// heap in use and the goroutine count are sampled every
// TRUNCHECK_PERF_SOAK_EVERY (default 10s); the script prints the slopes
// of least-squares lines through the samples. TRUNCHECK_PERF_SOAK_HEAP=path
// writes a heap profile at every sample, to path.<seconds>s.
func TestPerfSoak(t *testing.T) {
	d := os.Getenv("TRUNCHECK_PERF_SOAK")
	if d == "" {
		t.Skip("set TRUNCHECK_PERF_SOAK=5m to run the memory soak")
	}
	dur, err := time.ParseDuration(d)
	require.NoError(t, err, "TRUNCHECK_PERF_SOAK: a Go duration such as 5m")
	every := 10 * time.Second
	if e := os.Getenv("TRUNCHECK_PERF_SOAK_EVERY"); e != "" {
		every, err = time.ParseDuration(e)
		require.NoError(t, err, "TRUNCHECK_PERF_SOAK_EVERY: a Go duration such as 10s")
	}
	s := scenarios.Scenario{
		Name:        "perf-soak",
		Description: "issue 7 memory soak: 1-30 MB bodies at concurrency 16",
		Topology:    scenarios.Topology{Mode: scenarios.Direct, Hops: []scenarios.Hop{{Network: scenarios.TCP}}},
		Workload: scenarios.Workload{Requests: []scenarios.Request{
			{Path: "/images/photo-small?format=tiff"},                                // ~0.9 MB
			{Path: "/images/photo-1mp?format=tiff"},                                  // ~3 MB
			{Path: "/images/photo-1mp?format=tiff&stream=1"},                         // ~3 MB chunked
			{Path: "/images/photo-4mp?format=tiff"},                                  // ~12 MB
			{Path: "/images/photo-12mp?ops=resize:w=3600,h=2400%3Bflip&format=tiff"}, // ~26 MB
			{Path: "/images/photo-12mp?ops=resize:w=4000,h=2600&format=tiff"},        // ~30 MB
		}},
		Concurrency: 16,
		Duration:    dur,
		Seed:        7,
		Expect:      results.Expectation{Kind: results.ExpectComplete},
	}
	c := compile(t, s)
	type sample struct {
		at         time.Duration
		rss, heap  float64 // MB
		goroutines int
		done       int64
	}
	var (
		done, bytes atomic.Int64
		samples     []sample
	)
	take := func(start time.Time) {
		// RSS first, as the process has it; then the live Go heap after a
		// collection (HeapInuse between collections is a sawtooth that says
		// when the next GC is due, not what is kept).
		rss := rssMB(t, "VmRSS")
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		smp := sample{time.Since(start), rss, float64(ms.HeapAlloc) / (1 << 20), runtime.NumGoroutine(), done.Load()}
		samples = append(samples, smp)
		if path := os.Getenv("TRUNCHECK_PERF_SOAK_HEAP"); path != "" {
			// The live heap at each sample, for `go tool pprof -base`.
			f, err := os.Create(fmt.Sprintf("%s.%.0fs", path, smp.at.Seconds()))
			require.NoError(t, err)
			require.NoError(t, pprof.WriteHeapProfile(f))
			require.NoError(t, f.Close())
		}
		perfLine("soak sample t=%.0fs rss_mb=%.1f heap_live_mb=%.1f goroutines=%d requests=%d",
			smp.at.Seconds(), smp.rss, smp.heap, smp.goroutines, smp.done)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	var rep Report
	var runErr error
	finished := make(chan struct{})
	o := imageOrigin(t)
	go func() {
		defer close(finished)
		rep, runErr = RunScenario(ctx, c, Options{
			Origin:   o,
			Duration: dur,
			OnRecord: func(r *results.Record) {
				done.Add(1)
				bytes.Add(r.Received)
			},
		})
	}()
	tick := time.NewTicker(every)
	defer tick.Stop()
loop:
	for {
		select {
		case <-tick.C:
			take(start)
		case <-finished:
			break loop
		}
	}
	require.NoError(t, runErr)
	wall := time.Since(start)
	perfLine("soak done wall_s=%.0f requests=%d gb=%.1f met=%v peak_rss_mb=%.1f reason=%q",
		wall.Seconds(), done.Load(), float64(bytes.Load())/(1<<30), rep.Met, rssMB(t, "VmHWM"), rep.Reason)
	// The first sample includes the warm-up (images generated, references
	// fetched, cache filling): slopes are over the rest when there are
	// at least three of them.
	fit := samples
	if len(fit) >= 4 {
		fit = fit[1:]
	}
	if len(fit) < 2 {
		perfLine("soak slope n/a (fewer than 2 samples: run longer or sample more often)")
		return
	}
	xs := make([]float64, len(fit))
	rss, heap, gor := make([]float64, len(fit)), make([]float64, len(fit)), make([]float64, len(fit))
	for i, smp := range fit {
		xs[i] = smp.at.Minutes()
		rss[i], heap[i], gor[i] = smp.rss, smp.heap, float64(smp.goroutines)
	}
	span := xs[len(xs)-1] - xs[0]
	for _, m := range []struct {
		name string
		ys   []float64
	}{{"rss_mb", rss}, {"heap_live_mb", heap}, {"goroutines", gor}} {
		slope, sd, mean := linfit(xs, m.ys)
		growth := slope * span
		// Flat (no growth beyond noise): the growth the line predicts over
		// the fitted span is at most twice the samples' scatter around the
		// line or 2% of the mean; a falling line is flat.
		flat := growth <= math.Max(2*sd, 0.02*math.Abs(mean))
		perfLine("soak slope %s per_min=%+.3f over_span=%+.2f mean=%.1f resid_sd=%.2f min=%.1f max=%.1f n=%d flat=%v",
			m.name, slope, growth, mean, sd, slices.Min(m.ys), slices.Max(m.ys), len(m.ys), flat)
	}
}

// linfit returns the least-squares slope of ys over xs, the standard
// deviation of the residuals and the mean of ys.
func linfit(xs, ys []float64) (slope, sd, mean float64) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	mean = sy / n
	den := n*sxx - sx*sx
	if den != 0 {
		slope = (n*sxy - sx*sy) / den
	}
	icpt := (sy - slope*sx) / n
	var ss float64
	for i := range xs {
		r := ys[i] - (icpt + slope*xs[i])
		ss += r * r
	}
	return slope, math.Sqrt(ss / n), mean
}

// rssMB reads a field of /proc/self/status (VmRSS, VmHWM) in MB.
func rssMB(t testing.TB, field string) float64 {
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			require.NoError(t, err)
			return kb / 1024
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
