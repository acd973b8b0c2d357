package imagesvc

// Benchmark 4 of make bench, driven by imagesvc/bench.sh: requests per second
// and peak RSS for a fixed mix of transforms over loopback HTTP, one
// process per setting so the peaks (VmHWM) do not mix. Gated by
// TRUNCHECK_PERF_IMAGESVC so `go test -race ./imagesvc` skips it; no
// timing is asserted.

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2non/bimg"
	"github.com/stretchr/testify/require"
)

// perfMix is the fixed mix: thumbnails, chains, large encodes, a raw TIFF.
var perfMix = []string{
	"/images/photo-1mp?ops=resize:w=640%3Bblur:sigma=0.8&format=jpeg&quality=85",
	"/images/photo-1mp?ops=rotate:deg=90%3Bflip&format=webp",
	"/images/photo-1mp?format=tiff",
	"/images/photo-4mp?ops=resize:w=1200&format=jpeg",
	"/images/photo-4mp?ops=crop:x=100,y=100,w=1000,h=800%3Bflop&format=png",
	"/images/photo-4mp?ops=resize:w=800,h=800,fit=cover&format=webp",
	"/images/photo-12mp?ops=resize:w=1600&format=jpeg&quality=90",
	"/images/photo-12mp?ops=rotate:deg=90&format=jpeg&quality=95",
}

func perfEnvInt(t *testing.T, name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	require.NoError(t, err, "%s: an integer", name)
	return n
}

// TestPerfImagesvc serves perfMix with the settings from the environment
// and prints one PERF line: requests per second over
// TRUNCHECK_PERF_FOR (default 5s) after one warm-up pass of the mix, and
// the peak RSS of this process.
//
//	TRUNCHECK_PERF_IMAGESVC  label of the setting (required to run)
//	TRUNCHECK_PERF_CONC      client concurrency (default 1)
//	TRUNCHECK_PERF_CACHE     Config.CacheBytes (default 0: 512 MiB; -1 off)
//	TRUNCHECK_PERF_MAXCONC   Config.MaxConcurrent (default 0: GOMAXPROCS)
//	TRUNCHECK_PERF_VIPS_MAX  bimg.VipsCacheSetMax after warm-up (default: leave imagesvc's 0)
//	TRUNCHECK_PERF_VIPS_MEM  bimg.VipsCacheSetMaxMem in bytes (default: leave)
func TestPerfImagesvc(t *testing.T) {
	label := os.Getenv("TRUNCHECK_PERF_IMAGESVC")
	if label == "" {
		t.Skip("set TRUNCHECK_PERF_IMAGESVC=<label> (see imagesvc/bench.sh)")
	}
	conc := int(perfEnvInt(t, "TRUNCHECK_PERF_CONC", 1))
	dur := 5 * time.Second
	if d := os.Getenv("TRUNCHECK_PERF_FOR"); d != "" {
		var err error
		dur, err = time.ParseDuration(d)
		require.NoError(t, err, "TRUNCHECK_PERF_FOR: a Go duration such as 5s")
	}
	cfg := Config{
		CacheBytes:    perfEnvInt(t, "TRUNCHECK_PERF_CACHE", 0),
		MaxConcurrent: int(perfEnvInt(t, "TRUNCHECK_PERF_MAXCONC", 0)),
	}
	e := newEnv(t, cfg, ServerConfig{})
	get := func(path string) int64 {
		resp, err := e.tcp.Get(e.tcpBase + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		return n
	}
	for _, p := range perfMix { // warm-up: sources generated, vips warmed
		get(p)
	}
	// imagesvc sets the libvips operation cache to 0 on its first
	// transform; a setting under test goes after that.
	if v := os.Getenv("TRUNCHECK_PERF_VIPS_MAX"); v != "" {
		bimg.VipsCacheSetMax(int(perfEnvInt(t, "TRUNCHECK_PERF_VIPS_MAX", 0)))
	}
	if v := os.Getenv("TRUNCHECK_PERF_VIPS_MEM"); v != "" {
		bimg.VipsCacheSetMaxMem(int(perfEnvInt(t, "TRUNCHECK_PERF_VIPS_MEM", 0)))
	}
	var reqs, bytes atomic.Int64
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i++ {
				bytes.Add(get(perfMix[i%len(perfMix)]))
				reqs.Add(1)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	fmt.Printf("PERF imagesvc setting=%s conc=%d rps=%.2f mb_per_s=%.1f requests=%d peak_rss_mb=%.0f rss_mb=%.0f\n",
		label, conc, float64(reqs.Load())/wall.Seconds(), float64(bytes.Load())/(1<<20)/wall.Seconds(),
		reqs.Load(), procStatusMB(t, "VmHWM"), procStatusMB(t, "VmRSS"))
}

// procStatusMB reads a field of /proc/self/status (VmRSS, VmHWM) in MB.
func procStatusMB(t *testing.T, field string) float64 {
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
