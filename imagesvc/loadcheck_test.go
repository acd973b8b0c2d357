package imagesvc

// Measurements against a service in a child process (`truncheck serve`), so
// that its CPU time and RSS are its own: what abandoned work costs, how the
// service sheds at 64 and 256 clients, and a memory soak. Gated; driven by
// imagesvc/loadcheck.sh and imagesvc/soak.sh, which build the binaries. No
// timing is asserted: the scripts print what they measure.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/imagesvc/internal/httpfuzz"
)

// startServe runs TRUNCHECK_SERVE_BIN serve on a Unix socket in a temporary
// directory, with extra flags.
func startServe(t *testing.T, flags ...string) *httpfuzz.Process {
	bin := os.Getenv("TRUNCHECK_SERVE_BIN")
	require.NotEmpty(t, bin, "TRUNCHECK_SERVE_BIN: a truncheck binary")
	sock := shortSocketPath(t)
	target := httpfuzz.Target{Network: "unix", Addr: sock}
	args := append([]string{"serve", "--tcp", "", "--unix", sock}, flags...)
	p, err := httpfuzz.StartProcess(t.Context(), target, time.Minute, bin, args...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Stop()) })
	return p
}

func sample(t *testing.T, p *httpfuzz.Process) httpfuzz.Sample {
	s, err := httpfuzz.ReadSample(p.Pid())
	require.NoError(t, err)
	return s
}

// timedGet GETs path and returns the status and the time to the last byte.
func timedGet(ctx context.Context, c *http.Client, path string) (int, time.Duration, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://imagesvc"+path, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, time.Since(start), err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, time.Since(start), err
}

// TestLoadCheck prints, for the binary in TRUNCHECK_SERVE_BIN (labelled
// TRUNCHECK_LOADCHECK):
//
//   - abandon: six clients ask for seconds of work each and hang up after
//     1s; the server's CPU time from their start until it is idle again, and
//     the latency of an unrelated small request sent right after they left;
//   - load at 64 and 256 clients (TRUNCHECK_LOADCHECK_FOR each, default 30s):
//     the status mix, p50/p99, 503s and 504s.
func TestLoadCheck(t *testing.T) {
	label := os.Getenv("TRUNCHECK_LOADCHECK")
	if label == "" {
		t.Skip("set TRUNCHECK_LOADCHECK=<label> and TRUNCHECK_SERVE_BIN (imagesvc/loadcheck.sh)")
	}
	loadFor := 30 * time.Second
	if v := os.Getenv("TRUNCHECK_LOADCHECK_FOR"); v != "" {
		var err error
		loadFor, err = time.ParseDuration(v)
		require.NoError(t, err)
	}
	t.Run("abandon", func(t *testing.T) {
		p := startServe(t)
		c := unixClient(p.Target.Addr)
		defer c.CloseIdleConnections()
		ctx := t.Context()
		// warm up: built-ins generated, libvips started
		for _, path := range []string{"/images/photo-12mp?ops=resize:w=100", "/images/photo-small?ops=resize:w=100"} {
			status, _, err := timedGet(ctx, c, path)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, status)
		}
		small := func(i int) time.Duration {
			status, d, err := timedGet(ctx, c, fmt.Sprintf("/images/photo-small?ops=resize:w=%d", 100+i))
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, status)
			return d
		}
		var idle []time.Duration
		for i := range 5 {
			idle = append(idle, small(i))
		}
		slices.Sort(idle)
		before := sample(t, p)
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// seconds of work each (a blur on 12 MP), distinct so none is shared
				hctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				timedGet(hctx, c, fmt.Sprintf("/images/photo-12mp?ops=blur:sigma=25&quality=%d", 60+i))
			}()
		}
		wg.Wait()
		_, during, err := timedGet(ctx, c, "/images/photo-small?ops=resize:w=99")
		require.NoError(t, err)
		// wait until the server is idle: under 5% of a core over a second
		var after httpfuzz.Sample
		prev := sample(t, p)
		for range 300 {
			time.Sleep(time.Second)
			after = sample(t, p)
			if after.CPU-prev.CPU < 50*time.Millisecond {
				break
			}
			prev = after
		}
		fmt.Printf("LOADCHECK %s abandon: 6 clients x blur:sigma=25 on 12 MP, hung up after 1s: server CPU %.1fs until idle (%.1fs after they started); unrelated small request %v right after (idle: median %v)\n",
			label, (after.CPU - before.CPU).Seconds(), after.At.Sub(before.At).Seconds(), during.Round(time.Millisecond), idle[2].Round(time.Millisecond))
	})
	for _, clients := range []int{64, 256} {
		t.Run(fmt.Sprintf("load-%d", clients), func(t *testing.T) {
			p := startServe(t)
			cpu0 := sample(t, p).CPU
			rep, err := httpfuzz.Run(t.Context(), httpfuzz.Options{
				Target: p.Target, Duration: loadFor, Concurrency: clients, Mix: httpfuzz.LoadMix, Seed: uint64(clients),
				ProbeTimeout: 2 * time.Minute,
			})
			require.NoError(t, err)
			s := sample(t, p)
			var ok, shed, timedOut, other, total int
			var lat []string
			for _, cr := range rep.Classes {
				ok += cr.Outcomes["200"]
				shed += cr.Outcomes["503"]
				timedOut += cr.Outcomes["504"]
				total += cr.Probes
				lat = append(lat, fmt.Sprintf("%s: 200s p50 %v p99 %v, 503s p50 %v p99 %v", cr.Class,
					cr.Percentile(50, "200").Round(time.Millisecond), cr.Percentile(99, "200").Round(time.Millisecond),
					cr.Percentile(50, "503").Round(time.Millisecond), cr.Percentile(99, "503").Round(time.Millisecond)))
			}
			other = total - ok - shed - timedOut
			slices.Sort(lat)
			fmt.Printf("LOADCHECK %s load %d clients for %v: %d requests (%.1f/s answered 200, server CPU %.0f ms per 200): %d x 200, %d x 503, %d x 504, %d other; %s; peak RSS %d MB\n",
				label, clients, loadFor, total, float64(ok)/rep.Duration.Seconds(), float64((s.CPU-cpu0).Milliseconds())/float64(max(ok, 1)),
				ok, shed, timedOut, other, strings.Join(lat, "; "), s.HWM>>20)
			fmt.Print(rep.Table())
		})
	}
}

// TestSoak runs a varied mix against TRUNCHECK_SERVE_BIN for TRUNCHECK_SOAK
// (e.g. 30m) and samples the server's RSS every TRUNCHECK_SOAK_EVERY (10s):
// it prints every sample with what /metrics says of the Go heap, libvips and
// glibc's arenas, then the RSS slope (least squares, MB per minute) over
// the whole run and over its second half, and the peak against the
// configured cache and concurrency (TRUNCHECK_SOAK_FLAGS, passed to serve).
func TestSoak(t *testing.T) {
	d := os.Getenv("TRUNCHECK_SOAK")
	if d == "" {
		t.Skip("set TRUNCHECK_SOAK=30m and TRUNCHECK_SERVE_BIN (imagesvc/soak.sh)")
	}
	dur, err := time.ParseDuration(d)
	require.NoError(t, err)
	every := 10 * time.Second
	if v := os.Getenv("TRUNCHECK_SOAK_EVERY"); v != "" {
		every, err = time.ParseDuration(v)
		require.NoError(t, err)
	}
	conc := 8
	if v := os.Getenv("TRUNCHECK_SOAK_CONC"); v != "" {
		conc, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	flags := strings.Fields(os.Getenv("TRUNCHECK_SOAK_FLAGS"))
	p := startServe(t, flags...)
	c := unixClient(p.Target.Addr)
	defer c.CloseIdleConnections()
	metric := func(body, name string) float64 {
		for _, line := range strings.Split(body, "\n") {
			if rest, ok := strings.CutPrefix(line, name+" "); ok {
				v, _ := strconv.ParseFloat(rest, 64)
				return v
			}
		}
		return -1
	}
	var samples []httpfuzz.Sample
	done := make(chan struct{})
	sampled := make(chan struct{})
	fmt.Printf("SOAK %s for %v, %d clients, flags %q\n", filepath.Base(os.Getenv("TRUNCHECK_SERVE_BIN")), dur, conc, flags)
	fmt.Printf("SOAK %8s %8s %8s %8s %9s %9s %9s %9s %9s %9s %8s\n", "t", "rss_mb", "hwm_mb", "cpu_s", "goheap_mb", "arena_mb", "a_used_mb", "a_free_mb", "mmap_mb", "vips_mb", "cache_mb")
	go func() {
		defer close(sampled)
		start := time.Now()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			s, err := httpfuzz.ReadSample(p.Pid())
			if err != nil {
				return
			}
			samples = append(samples, s)
			var body string
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://imagesvc/metrics", nil); err == nil {
				if resp, err := c.Do(req); err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					body = string(b)
				}
			}
			cancel()
			mb := func(v float64) float64 { return v / (1 << 20) }
			fmt.Printf("SOAK %8.0f %8d %8d %8.1f %9.0f %9.0f %9.0f %9.0f %9.0f %9.0f %8.0f\n", time.Since(start).Seconds(), s.RSS>>20, s.HWM>>20, s.CPU.Seconds(),
				mb(metric(body, "go_memstats_heap_inuse_bytes")), mb(metric(body, "imagesvc_malloc_arena_bytes")),
				mb(metric(body, "imagesvc_malloc_used_bytes")), mb(metric(body, "imagesvc_malloc_free_bytes")),
				mb(metric(body, "imagesvc_malloc_mmap_bytes")), mb(metric(body, "imagesvc_libvips_tracked_bytes")), mb(metric(body, "imagesvc_cache_bytes")))
		}
	}()
	mix := httpfuzz.Mix{}
	for k, v := range httpfuzz.FuzzMix {
		mix[k] = v
	}
	delete(mix, httpfuzz.SlowlorisStall) // holds connections, not memory
	rep, err := httpfuzz.Run(t.Context(), httpfuzz.Options{Target: p.Target, Duration: dur, Concurrency: conc, Mix: mix, Seed: 7})
	close(done)
	<-sampled
	require.NoError(t, err)
	fmt.Print(rep.Table())
	if resp, err := c.Get("http://imagesvc/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("SOAK malloc_trim: %.0f calls, %.2fs in total\n", metric(string(b), "imagesvc_malloc_trims_total"), metric(string(b), "imagesvc_malloc_trim_seconds_total"))
	}
	require.GreaterOrEqual(t, len(samples), 4, "too short a soak to fit a slope")
	half := samples[len(samples)/2:]
	var peak int64
	for _, s := range samples {
		peak = max(peak, s.HWM)
	}
	fmt.Printf("SOAK result: RSS slope %.2f MB/min over the run, %.2f MB/min over its second half; RSS first %d MB, last %d MB, peak %d MB; flags %q (cache, concurrency)\n",
		httpfuzz.Slope(samples)/(1<<20), httpfuzz.Slope(half)/(1<<20), samples[0].RSS>>20, samples[len(samples)-1].RSS>>20, peak>>20, flags)
}
