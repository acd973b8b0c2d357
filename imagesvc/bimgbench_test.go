package imagesvc

// The comparison behind imagesvc/bench-vs-bimg.sh: imagesvc's transform of an
// upload against bimg called directly the way imaginary 1.2.4 calls it (one
// bimg.Resize per request, Options{Rotate, Width, Embed, Type, Quality}; its
// default keeps NoAutoRotate off, so bimg re-encodes a rotated JPEG before
// shrinking it on load). One (implementation, workload) per process, so that
// the peak RSS (VmHWM) is its own. Gated; no timing is asserted.

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/h2non/bimg"
	"github.com/stretchr/testify/require"
)

// benchWork is one workload on the source JPEG.
type benchWork struct {
	chain string       // imagesvc
	out   output       // imagesvc
	bimg  bimg.Options // the baseline
}

var benchWorks = map[string]benchWork{
	"resize": {"resize:w=1200", output{format: JPEG, quality: 80},
		bimg.Options{Width: 1200, Embed: true, Type: bimg.JPEG, Quality: 80}},
	"webp": {"resize:w=1200", output{format: WEBP, quality: 80},
		bimg.Options{Width: 1200, Embed: true, Type: bimg.WEBP, Quality: 80}},
	"rotate-resize": {"rotate:deg=90;resize:w=1200", output{format: JPEG, quality: 80},
		bimg.Options{Rotate: 90, Width: 1200, Embed: true, Type: bimg.JPEG, Quality: 80}},
}

// TestBenchVsBimg runs one workload with one implementation for
// TRUNCHECK_BENCH_FOR (default 5s) at TRUNCHECK_BENCH_CONC (default 1) and
// prints a BENCH line: operations per second, CPU time per operation and
// peak RSS.
//
//	TRUNCHECK_BENCH_IMPL  imagesvc, bimg, or none (the process's floor; required to run)
//	TRUNCHECK_BENCH_WORK  resize, webp or rotate-resize
//	TRUNCHECK_BENCH_SRC   the source JPEG (bench-vs-bimg.sh writes photo-12mp at quality 90)
func TestBenchVsBimg(t *testing.T) {
	impl := os.Getenv("TRUNCHECK_BENCH_IMPL")
	if impl == "" {
		t.Skip("set TRUNCHECK_BENCH_IMPL (imagesvc/bench-vs-bimg.sh)")
	}
	work, ok := benchWorks[os.Getenv("TRUNCHECK_BENCH_WORK")]
	require.True(t, ok, "TRUNCHECK_BENCH_WORK: resize, webp or rotate-resize")
	src, err := os.ReadFile(os.Getenv("TRUNCHECK_BENCH_SRC"))
	require.NoError(t, err, "TRUNCHECK_BENCH_SRC")
	dur := 5 * time.Second
	if v := os.Getenv("TRUNCHECK_BENCH_FOR"); v != "" {
		dur, err = time.ParseDuration(v)
		require.NoError(t, err)
	}
	conc := 1
	if v := os.Getenv("TRUNCHECK_BENCH_CONC"); v != "" {
		conc, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	var op func() (int, error)
	switch impl {
	case "imagesvc":
		svc, err := New(Config{CacheBytes: -1, MaxConcurrent: conc})
		require.NoError(t, err)
		c, err := parseChain(work.chain, 16)
		require.NoError(t, err)
		req := request{chain: c, out: work.out}
		op = func() (int, error) {
			res, err := svc.transformBytes(t.Context(), src, req)
			if err != nil {
				return 0, err
			}
			return len(res.body), nil
		}
	case "bimg":
		// the libvips operation cache would serve repeats of one buffer from
		// memory: real traffic does not repeat, so it is off here as in imagesvc
		bimg.VipsCacheSetMax(0)
		op = func() (int, error) {
			out, err := bimg.Resize(src, work.bimg)
			return len(out), err
		}
	case "none":
		// the floor: the process with libvips loaded and the source read
		op = func() (int, error) { return len(src), nil }
	default:
		t.Fatalf("TRUNCHECK_BENCH_IMPL %q: imagesvc, bimg or none", impl)
	}
	n, err := op() // warm-up, and the size of one result
	require.NoError(t, err)
	if impl == "none" {
		dur = 0
	}
	var ops atomic.Int64
	cpu0 := processCPU()
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := op(); err != nil {
					t.Error(err)
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	cpu := processCPU() - cpu0
	fmt.Printf("BENCH impl=%s work=%s conc=%d ops_per_s=%.3f cpu_ms_per_op=%.1f ops=%d out_bytes=%d peak_rss_mb=%.0f\n",
		impl, os.Getenv("TRUNCHECK_BENCH_WORK"), conc, float64(ops.Load())/wall.Seconds(), float64(cpu.Milliseconds())/float64(ops.Load()),
		ops.Load(), n, procStatusMB(t, "VmHWM"))
}

// processCPU is this process's user and system time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestBenchWriteSource writes the benchmark's source JPEG to
// TRUNCHECK_BENCH_WRITE: photo-12mp at quality 90.
func TestBenchWriteSource(t *testing.T) {
	path := os.Getenv("TRUNCHECK_BENCH_WRITE")
	if path == "" {
		t.Skip("set TRUNCHECK_BENCH_WRITE=path")
	}
	svc, err := New(Config{CacheBytes: -1})
	require.NoError(t, err)
	body, err := svc.TransformPath(t.Context(), "/images/photo-12mp?format=jpeg&quality=90")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, body, 0o644))
}

// TestBenchHTTPUpload is the client of bench-vs-bimg.sh's HTTP part: it
// POSTs the source JPEG to TRUNCHECK_BENCH_URL (imagesvc's /transform or
// imaginary's /resize, each asked for the same result) at
// TRUNCHECK_BENCH_CONC for TRUNCHECK_BENCH_FOR, reads every answer whole,
// and prints a BENCH line with the answers per second. Every answer must be
// a 200 whose image has the format and size in TRUNCHECK_BENCH_WANT
// ("jpeg 1200x802"), so both servers are measured doing the same work.
func TestBenchHTTPUpload(t *testing.T) {
	url := os.Getenv("TRUNCHECK_BENCH_URL")
	if url == "" {
		t.Skip("set TRUNCHECK_BENCH_URL (imagesvc/bench-vs-bimg.sh)")
	}
	src, err := os.ReadFile(os.Getenv("TRUNCHECK_BENCH_SRC"))
	require.NoError(t, err, "TRUNCHECK_BENCH_SRC")
	dur, err := time.ParseDuration(cmp.Or(os.Getenv("TRUNCHECK_BENCH_FOR"), "5s"))
	require.NoError(t, err, "TRUNCHECK_BENCH_FOR")
	conc, err := strconv.Atoi(cmp.Or(os.Getenv("TRUNCHECK_BENCH_CONC"), "1"))
	require.NoError(t, err, "TRUNCHECK_BENCH_CONC")
	want := os.Getenv("TRUNCHECK_BENCH_WANT")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	op := func() error {
		resp, err := client.Post(url, "image/jpeg", bytes.NewReader(src))
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s: %.200s", url, resp.Status, body)
		}
		f, d, err := sniff(body, 1<<30)
		if err != nil {
			return fmt.Errorf("%s: the answer is not an image: %w", url, err)
		}
		if got := fmt.Sprintf("%s %dx%d", f, d.w, d.h); want != "" && got != want {
			return fmt.Errorf("%s: the answer is %s, want %s", url, got, want)
		}
		return nil
	}
	require.NoError(t, op(), "warm-up")
	var ops atomic.Int64
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := op(); err != nil {
					t.Error(err)
					return
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	fmt.Printf("BENCH conc=%d ops=%d ops_per_s=%.3f\n", conc, ops.Load(), float64(ops.Load())/wall.Seconds())
}
