package harness

// Performance measurements, driven by harness/bench.sh. The
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
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

// BenchmarkPerfVerify: 16 MB bodies from a static loopback server, read by a plain
// client and by the verifier (length, framing, CRC-32C of the whole body and of every
// block against the reference, and the Content-Digest: crc32c as the harness asks for it
// by default, or sha-256 when that is all there is). The plain client does the same work
// except the checking: the same http.Client set-up ([perfClient]: a connection of its
// own, kept alive, with a pinned receive buffer), the same request (Want-Content-Digest
// included, so the response is the same bytes) and the same 64 KiB read buffer as the
// verifier (io.Copy to io.Discard would read 8 KiB at a time). bench.sh runs each
// sub-benchmark in its own process, in an order that rotates per repetition, and prints
// the verifier's per-repetition ratios to the plain client.
func BenchmarkPerfVerify(b *testing.B) {
	const n = 16 << 20
	srv, body := digestServer(b, n)
	ref := FingerprintBytes(body[:n])
	url := srv.URL + "/" + strconv.Itoa(n)
	b.Run("plain", func(b *testing.B) {
		c := perfClient()
		defer c.CloseIdleConnections()
		buf := make([]byte, bufSize)
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			got, err := plainGet(c, url, DefaultWantDigest, buf)
			require.NoError(b, err)
			require.Equal(b, int64(n), got)
		}
	})
	for _, tc := range []struct{ name, want string }{
		{"verifier-crc32c", DefaultWantDigest},
		{"verifier-sha256", "sha-256=1"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := perfClient()
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
	// paired: the plain client and the crc32c verifier in turns, one request each, the
	// order swapped every pair, each request timed. On a shared machine the two requests
	// of a pair see nearly the same load, so the median over pairs of plain's time over
	// the verifier's (verifier/plain, a throughput ratio) is steadier than the ratio of two
	// benchmarks run seconds apart; a burst of load spoils a pair, not the result.
	// plain-MB/s and verifier-MB/s are from the summed times; MB/s counts both clients'
	// bytes. verifier/plain-cpu is plain's summed process CPU time (client and server, user
	// and system) over the verifier's: what a request costs whoever else shares the CPUs,
	// which the load on a shared machine moves far less than it moves wall time.
	b.Run("paired", func(b *testing.B) {
		plainC := perfClient()
		defer plainC.CloseIdleConnections()
		verifyC := perfClient()
		defer verifyC.CloseIdleConnections()
		buf := make([]byte, bufSize)
		v := NewVerifier(time.Minute, DefaultWantDigest)
		var cpuPlain, cpuVerify time.Duration
		plain := func() time.Duration {
			cpu0, start := processCPU(b), time.Now()
			got, err := plainGet(plainC, url, DefaultWantDigest, buf)
			d := time.Since(start)
			cpuPlain += processCPU(b) - cpu0
			require.NoError(b, err)
			require.Equal(b, int64(n), got)
			return d
		}
		verify := func() time.Duration {
			cpu0, start := processCPU(b), time.Now()
			req, err := http.NewRequest(http.MethodGet, url, nil)
			require.NoError(b, err)
			vd := v.Do(context.Background(), verifyC, req, &ref, false)
			d := time.Since(start)
			cpuVerify += processCPU(b) - cpu0
			require.Equal(b, results.Complete, vd.Outcome, "%v", vd.Err)
			require.NotEmpty(b, vd.DigestWant, "the digest was not checked")
			return d
		}
		var tPlain, tVerify time.Duration
		var ratios []float64
		b.SetBytes(2 * n)
		b.ReportAllocs()
		for b.Loop() {
			var p, v time.Duration
			if len(ratios)%2 == 0 {
				p = plain()
				v = verify()
			} else {
				v = verify()
				p = plain()
			}
			tPlain, tVerify = tPlain+p, tVerify+v
			ratios = append(ratios, p.Seconds()/v.Seconds())
		}
		pairs := float64(len(ratios))
		b.ReportMetric(pairs*n/tPlain.Seconds()/1e6, "plain-MB/s")
		b.ReportMetric(pairs*n/tVerify.Seconds()/1e6, "verifier-MB/s")
		b.ReportMetric(median(ratios), "verifier/plain")
		b.ReportMetric(cpuPlain.Seconds()/cpuVerify.Seconds(), "verifier/plain-cpu")
	})
}

// processCPU is the CPU time this process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perfRcvBuf is the receive buffer of the benchmark clients' sockets, pinned. Left to
// the kernel's autotuning, a loopback connection's buffer settles anywhere from about 1
// to 32 MiB depending on how its first bodies happened to be read, and keeps that size:
// in one paired run the verifier's connection got 33 MiB and the plain client's 2.5 MiB,
// and the larger buffer made its requests up to a third cheaper (fewer wakeups and
// window updates) for the rest of the run, whichever client held it. Pinned, both
// clients read from the same kind of socket and the ratio measures the client. 4 MiB is
// the kernel's default cap for an unprivileged SO_RCVBUF (net.core.rmem_max); a lower
// cap lowers both clients' alike.
const perfRcvBuf = 4 << 20

// perfClient is the http.Client of every verification benchmark client: a transport of
// its own (its own keep-alive connection) whose sockets have perfRcvBuf.
func perfClient() *http.Client {
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, perfRcvBuf)
		}); err != nil {
			return err
		}
		return serr
	}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// plainGet fetches url and reads the whole body into buf, bufSize bytes at a time, like
// the verifier reads but checking nothing; it returns the body's length. wantDigest is
// sent as Want-Content-Digest, as the verifier it stands beside sends it, so the server
// does the same work and the same bytes cross the wire.
func plainGet(c *http.Client, url, wantDigest string, buf []byte) (int64, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if wantDigest != "" {
		req.Header.Set("Want-Content-Digest", wantDigest)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var n int64
	for {
		m, err := resp.Body.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// BenchmarkPerfHash measures the checksums' speed on this CPU in the same
// run: the physical limits of the verifier. crc32c is what the verifier
// runs (crc32cUpdate), crc32c-stdlib hash/crc32's Castagnoli loop.
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
			c = crc32cUpdate(c, buf)
		}
	})
	b.Run("crc32c-stdlib", func(b *testing.B) {
		var c uint32
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			c = crc32.Update(c, castagnoli, buf)
		}
	})
}

// TestPerfServe is the server of bench.sh's side-by-side run with vegeta, in its own
// process: digestServer's 16 MB bodies on loopback until TRUNCHECK_PERF_SERVE_FOR
// (default 30m) ends or the script stops it; its URL goes to the file named by
// TRUNCHECK_PERF_SERVE.
func TestPerfServe(t *testing.T) {
	out := os.Getenv("TRUNCHECK_PERF_SERVE")
	if out == "" {
		t.Skip("set TRUNCHECK_PERF_SERVE=path to serve 16 MB bodies for harness/bench.sh")
	}
	life := 30 * time.Minute
	if v := os.Getenv("TRUNCHECK_PERF_SERVE_FOR"); v != "" {
		var err error
		life, err = time.ParseDuration(v)
		require.NoError(t, err, "TRUNCHECK_PERF_SERVE_FOR: a Go duration")
	}
	const n = 16 << 20
	srv, _ := digestServer(t, n)
	require.NoError(t, os.WriteFile(out+".tmp", []byte(srv.URL+"/"+strconv.Itoa(n)+"\n"), 0o600))
	require.NoError(t, os.Rename(out+".tmp", out))
	time.Sleep(life)
}

// TestPerfClient is a client of bench.sh's side-by-side run with vegeta: one connection (a
// [perfClient]'s, receive buffer pinned) fetching TRUNCHECK_PERF_CLIENT_URL for
// TRUNCHECK_PERF_CLIENT_FOR (default 5s, at most 100,000 requests), as the verifier with
// crc32c digests and the reference (TRUNCHECK_PERF_CLIENT=verifier-crc32c) or as the plain
// client with the same 64 KiB buffer (plain). It prints "PERF client mode=M requests=N seconds=S mb_s=X".
func TestPerfClient(t *testing.T) {
	mode := os.Getenv("TRUNCHECK_PERF_CLIENT")
	if mode == "" {
		t.Skip("set TRUNCHECK_PERF_CLIENT=plain|verifier-crc32c and TRUNCHECK_PERF_CLIENT_URL for harness/bench.sh")
	}
	url := os.Getenv("TRUNCHECK_PERF_CLIENT_URL")
	dur := 5 * time.Second
	if v := os.Getenv("TRUNCHECK_PERF_CLIENT_FOR"); v != "" {
		var err error
		dur, err = time.ParseDuration(v)
		require.NoError(t, err, "TRUNCHECK_PERF_CLIENT_FOR: a Go duration")
	}
	const n = 16 << 20
	ref := FingerprintBytes(testBody(n))
	c := perfClient()
	defer c.CloseIdleConnections()
	v := NewVerifier(time.Minute, DefaultWantDigest)
	buf := make([]byte, bufSize)
	var requests int
	var bytes int64
	start := time.Now()
	for requests < 100_000 && time.Since(start) < dur {
		switch mode {
		case "plain":
			got, err := plainGet(c, url, DefaultWantDigest, buf)
			require.NoError(t, err)
			require.Equal(t, int64(n), got)
			bytes += got
		case "verifier-crc32c":
			req, err := http.NewRequest(http.MethodGet, url, nil)
			require.NoError(t, err)
			vd := v.Do(context.Background(), c, req, &ref, false)
			require.Equal(t, results.Complete, vd.Outcome, "%v", vd.Err)
			bytes += vd.Received
		default:
			t.Fatalf("TRUNCHECK_PERF_CLIENT=%q; accepted: plain, verifier-crc32c", mode)
		}
		requests++
	}
	secs := time.Since(start).Seconds()
	perfLine("client mode=%s requests=%d seconds=%.3f mb_s=%.1f", mode, requests, secs, float64(bytes)/secs/1e6)
}

// perfLine prints one machine-readable result line for bench.sh.
func perfLine(format string, args ...any) {
	fmt.Printf("PERF "+format+"\n", args...)
}

// TestPerfReproduce measures the time to reproduce, run when TRUNCHECK_PERF_REPRO
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

// TestPerfSoak is the memory soak, run when TRUNCHECK_PERF_SOAK is a duration
// (bench.sh: 10m): concurrency 16 over imagesvc on loopback TCP with a mix of
// ~1 to ~30 MB bodies, every body verified. RSS (VmRSS), the live Go heap
// (after a collection) and the goroutine count are sampled every
// TRUNCHECK_PERF_SOAK_EVERY (default 10s). After the warm-up
// (TRUNCHECK_PERF_SOAK_WARMUP, default 2m, at most a third of the soak) each
// series is judged by [judgeGrowth]. TRUNCHECK_PERF_SOAK_OUT=dir writes the
// samples (soak.csv) and charts of RSS and live heap over time (soak.svg,
// soak.txt). TRUNCHECK_PERF_SOAK_HEAP=path writes a heap profile at every
// sample, to path.<seconds>s.
func TestPerfSoak(t *testing.T) {
	d := os.Getenv("TRUNCHECK_PERF_SOAK")
	if d == "" {
		t.Skip("set TRUNCHECK_PERF_SOAK=10m to run the memory soak")
	}
	dur, err := time.ParseDuration(d)
	require.NoError(t, err, "TRUNCHECK_PERF_SOAK: a Go duration such as 5m")
	every := 10 * time.Second
	if e := os.Getenv("TRUNCHECK_PERF_SOAK_EVERY"); e != "" {
		every, err = time.ParseDuration(e)
		require.NoError(t, err, "TRUNCHECK_PERF_SOAK_EVERY: a Go duration such as 10s")
	}
	warmup := 2 * time.Minute
	if w := os.Getenv("TRUNCHECK_PERF_SOAK_WARMUP"); w != "" {
		warmup, err = time.ParseDuration(w)
		require.NoError(t, err, "TRUNCHECK_PERF_SOAK_WARMUP: a Go duration such as 2m")
	}
	warmup = min(warmup, dur/3)
	s := scenarios.Scenario{
		Name:        "perf-soak",
		Description: "memory soak: 1-30 MB bodies at concurrency 16",
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
	var fit []sample
	for _, smp := range samples {
		if smp.at >= warmup {
			fit = append(fit, smp)
		}
	}
	if dir := os.Getenv("TRUNCHECK_PERF_SOAK_OUT"); dir != "" {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		var csv strings.Builder
		csv.WriteString("seconds,rss_mb,heap_live_mb,goroutines,requests\n")
		series := make([]soakPoint, len(samples))
		for i, smp := range samples {
			fmt.Fprintf(&csv, "%.1f,%.1f,%.1f,%d,%d\n", smp.at.Seconds(), smp.rss, smp.heap, smp.goroutines, smp.done)
			series[i] = soakPoint{smp.at.Minutes(), smp.rss, smp.heap}
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "soak.csv"), []byte(csv.String()), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "soak.svg"), []byte(soakSVG(series, warmup.Minutes())), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "soak.txt"), []byte(soakASCII(series, 64, 14)), 0o644))
	}
	perfLine("soak fit over %d samples after a warm-up of %s", len(fit), warmup)
	xs := make([]float64, len(fit))
	rss, heap, gor := make([]float64, len(fit)), make([]float64, len(fit)), make([]float64, len(fit))
	for i, smp := range fit {
		xs[i] = smp.at.Minutes()
		rss[i], heap[i], gor[i] = smp.rss, smp.heap, float64(smp.goroutines)
	}
	for _, m := range []struct {
		name  string
		ys    []float64
		limit float64
	}{{"rss_mb", rss, soakMaxMBPerMin}, {"heap_live_mb", heap, soakMaxMBPerMin}, {"goroutines", gor, soakMaxGoroutinesPerMin}} {
		g := judgeGrowth(xs, m.ys, m.limit)
		perfLine("soak slope %s per_min=%+.3f se=%.3f upper95=%+.3f limit=%.2f mean=%.1f min=%.1f max=%.1f n=%d verdict=%s",
			m.name, g.slope, g.se, g.slope+2*g.se, m.limit, g.mean, minOf(m.ys), maxOf(m.ys), len(m.ys), g.verdict)
	}
}

// TestJudgeGrowth checks the soak's rule on synthetic series sampled every 10 s for
// 8 minutes after the warm-up: flat with noise passes, a steady rise of 5 MB/min fails
// with or without noise, and a series too short or too noisy to tell is never flat.
func TestJudgeGrowth(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	series := func(n int, everyMin, perMin, noise float64) ([]float64, []float64) {
		xs, ys := make([]float64, n), make([]float64, n)
		for i := range n {
			xs[i] = 2 + float64(i)*everyMin
			// noise: Gaussian scatter plus a GC-like sawtooth of the same size
			ys[i] = 300 + perMin*xs[i] + noise*rng.NormFloat64() + noise*float64(i%5-2)/2
		}
		return xs, ys
	}
	tests := []struct {
		name          string
		n             int
		perMin, noise float64
		want          string
	}{
		{"flat, quiet", 48, 0, 1, "flat"},
		{"flat, noisy", 48, 0, 8, "flat"},
		{"slow drift under the limit", 48, 0.3, 2, "flat"},
		{"5 MB/min, quiet", 48, 5, 1, "rising"},
		{"5 MB/min, noisy", 48, 5, 8, "rising"},
		{"5 MB/min under heavy noise", 48, 5, 60, "unproven"},
		{"one minute of 5.5 MB/min", 6, 5.5, 1, "rising"},
		{"one minute, flat but noisy", 6, 0, 8, "unproven"},
		{"two samples", 2, 0, 0, "unproven"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xs, ys := series(tt.n, 1.0/6, tt.perMin, tt.noise)
			g := judgeGrowth(xs, ys, soakMaxMBPerMin)
			assert.Equal(t, tt.want, g.verdict, "slope %.3f se %.3f", g.slope, g.se)
			if tt.perMin >= 5 {
				assert.NotEqual(t, "flat", g.verdict, "a steady 5 MB/min rise is never flat")
			}
		})
	}
}

// The growth a soak tolerates per minute: a megabyte a minute is half a gigabyte over
// the nightly eight hours, so anything steadier than that is a leak to find.
const (
	soakMaxMBPerMin         = 1.0
	soakMaxGoroutinesPerMin = 0.5
)

// growth is the verdict of [judgeGrowth].
type growth struct {
	slope, se, mean float64 // per minute; se is the slope's standard error
	verdict         string  // "flat", "rising" or "unproven"
}

// judgeGrowth fits a least-squares line through ys sampled at xs (minutes) and judges the
// slope with its uncertainty, so a steady rise cannot hide in the noise of a short run:
//
//	flat      the slope's upper 95% bound (slope + 2 standard errors) is at most limit
//	rising    its lower 95% bound (slope - 2 standard errors) is above limit
//	unproven  neither: too short or too noisy to tell; never called flat
//
// Fewer than three samples are unproven.
func judgeGrowth(xs, ys []float64, limit float64) growth {
	n := len(xs)
	if n < 3 {
		return growth{verdict: "unproven", mean: meanOf(ys)}
	}
	mx, my := meanOf(xs), meanOf(ys)
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	if sxx == 0 {
		return growth{verdict: "unproven", mean: my}
	}
	slope := sxy / sxx
	var ss float64
	for i := range xs {
		r := ys[i] - (my + slope*(xs[i]-mx))
		ss += r * r
	}
	se := math.Sqrt(ss / float64(n-2) / sxx)
	g := growth{slope: slope, se: se, mean: my, verdict: "unproven"}
	switch {
	case slope+2*se <= limit:
		g.verdict = "flat"
	case slope-2*se > limit:
		g.verdict = "rising"
	}
	return g
}

func meanOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func minOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Min(v)
}

func maxOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Max(v)
}

// soakPoint is one sample for the charts: minutes, RSS and live heap in MB.
type soakPoint struct{ min, rss, heap float64 }

// soakASCII draws RSS (*) and the live heap (o) over time in a w x h text chart, for
// reading in a terminal or a log.
func soakASCII(pts []soakPoint, w, h int) string {
	if len(pts) == 0 {
		return "no samples\n"
	}
	top, end := 1.0, pts[len(pts)-1].min
	for _, p := range pts {
		top = math.Max(top, math.Max(p.rss, p.heap))
	}
	grid := make([][]byte, h)
	for i := range grid {
		grid[i] = []byte(strings.Repeat(" ", w))
	}
	put := func(x, y float64, c byte) {
		col := 0
		if end > 0 {
			col = int(math.Round(x / end * float64(w-1)))
		}
		row := h - 1 - int(math.Round(y/top*float64(h-1)))
		if grid[row][col] == ' ' || c == '*' {
			grid[row][col] = c
		}
	}
	for _, p := range pts {
		put(p.min, p.heap, 'o')
		put(p.min, p.rss, '*')
	}
	var b strings.Builder
	b.WriteString("MB  (* RSS, o live heap)\n")
	for i, row := range grid {
		label := "      "
		switch i {
		case 0:
			label = fmt.Sprintf("%6.0f", top)
		case h - 1:
			label = fmt.Sprintf("%6.0f", 0.0)
		}
		fmt.Fprintf(&b, "%s |%s\n", label, row)
	}
	fmt.Fprintf(&b, "       +%s\n", strings.Repeat("-", w))
	fmt.Fprintf(&b, "        0%*s\n", w-1, fmt.Sprintf("%.1f min", end))
	return b.String()
}

// soakSVG draws RSS and the live heap over time as an SVG line chart, the warm-up shaded.
func soakSVG(pts []soakPoint, warmupMin float64) string {
	const W, H, L, R, T, B = 720.0, 320.0, 60.0, 20.0, 20.0, 40.0
	top, end := 1.0, 1e-9
	for _, p := range pts {
		top = math.Max(top, math.Max(p.rss, p.heap))
		end = math.Max(end, p.min)
	}
	top *= 1.1
	x := func(m float64) float64 { return L + m/end*(W-L-R) }
	y := func(v float64) float64 { return H - B - v/top*(H-T-B) }
	line := func(get func(soakPoint) float64) string {
		var b strings.Builder
		for i, p := range pts {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%.1f,%.1f", x(p.min), y(get(p)))
		}
		return b.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#eee"/>`+"\n", x(0), T, math.Max(0, x(math.Min(warmupMin, end))-x(0)), H-T-B)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000"/>`+"\n", L, H-B, W-R, H-B)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000"/>`+"\n", L, T, L, H-B)
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%.0f MB</text>`+"\n", L-4, y(v)+4, v)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">minutes (warm-up shaded)</text>`+"\n", (L+W-R)/2, H-8)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">0</text><text x="%.1f" y="%.1f" text-anchor="end">%.1f</text>`+"\n", L, H-B+16, W-R, H-B+16, end)
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#c33" stroke-width="2" points="%s"/>`+"\n", line(func(p soakPoint) float64 { return p.rss }))
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#36c" stroke-width="2" points="%s"/>`+"\n", line(func(p soakPoint) float64 { return p.heap }))
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#c33">RSS</text><text x="%.1f" y="%.1f" fill="#36c">live heap</text>`+"\n", L+10, T+14, L+60, T+14)
	b.WriteString("</svg>\n")
	return b.String()
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

// median returns the median of xs (which it sorts); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}
