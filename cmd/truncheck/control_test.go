package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/transport/control"
	"github.com/truncheck/truncheck/transport/transporttest"
)

// The tests in this file drive `truncheck proxy|serve|check --control` through the
// control package's Go client: a built binary, real sockets on loopback.

// running is a truncheck process that runs until interrupted, its output line by line.
type running struct {
	cmd   *exec.Cmd
	lines chan string
	read  sync.WaitGroup
	mu    sync.Mutex
	all   strings.Builder
}

// startCLI starts the binary with args; stop (registered as cleanup) interrupts it.
func startCLI(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	r := &running{cmd: exec.CommandContext(ctx, builtBinary(t), args...), lines: make(chan string, 1024)}
	stdout, err := r.cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := r.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, r.cmd.Start())
	for _, p := range []io.Reader{stdout, stderr} {
		r.read.Add(1)
		go func() {
			defer r.read.Done()
			sc := bufio.NewScanner(p)
			for sc.Scan() {
				r.mu.Lock()
				r.all.WriteString(sc.Text() + "\n")
				r.mu.Unlock()
				select {
				case r.lines <- sc.Text():
				default: // nobody waits for it; the whole output is kept above
				}
			}
		}()
	}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			r.read.Wait()
			_ = r.cmd.Wait()
		}
		cancel()
	})
	return r
}

// wait returns the first submatch of the first line that matches re.
func (r *running) wait(t *testing.T, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l := <-r.lines:
			if m := rx.FindStringSubmatch(l); m != nil {
				return m[len(m)-1]
			}
		case <-deadline:
			t.Fatalf("no line matching %q in:\n%s", re, r.output())
		}
	}
}

func (r *running) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.all.String()
}

// interrupt sends SIGINT and returns the exit code.
func (r *running) interrupt(t *testing.T) int {
	t.Helper()
	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	r.read.Wait()
	_ = r.cmd.Wait()
	return r.cmd.ProcessState.ExitCode()
}

// rawUpstream writes size bytes on every conn it accepts, then a FIN.
func rawUpstream(t *testing.T, size int) string {
	return transporttest.Upstream(t, size).Addr().String()
}

// received dials addr (HOST:PORT), optionally sends req, and counts what comes back.
func received(t *testing.T, addr, req string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	if req != "" {
		_, err := io.WriteString(c, req)
		require.NoError(t, err)
	}
	n, _ := io.Copy(io.Discard, c) // a cut ends in EOF or a reset: the count is the point
	return int(n)
}

func apiClient(t *testing.T, url string) (*control.Client, context.Context) {
	t.Helper()
	c, err := control.NewClient(url)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return c, ctx
}

// TestCLIProxyControl: `truncheck proxy --control` with the flags' proxy as "main" and
// one made through the API: a limit_data toxic cuts the next conn at its byte count and
// its removal makes the next conn whole, the native shape the same on main, /metrics
// counts bytes and the faults that fired, bad input gets a 4xx that names what is
// accepted, DELETE closes the listener, SIGINT closes the rest and exits 130.
func TestCLIProxyControl(t *testing.T) {
	const size = 200_000
	up := rawUpstream(t, size)
	r := startCLI(t, "proxy", "--upstream", "http://"+up, "--control", "http://127.0.0.1:0")
	main := r.wait(t, `^proxy http://(127\.0\.0\.1:\d+) -> http://`+regexp.QuoteMeta(up)+` \(main\)$`)
	api := r.wait(t, `^control (http://127\.0\.0\.1:\d+)$`)
	c, ctx := apiClient(t, api)

	v, err := c.Version(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, v)
	p, err := c.CreateProxy(ctx, control.NewProxy{Name: "api", Upstream: up})
	require.NoError(t, err)

	_, err = c.AddToxic(ctx, "api", control.Toxic{Type: "limit_data", Attributes: map[string]int64{"bytes": 1000}})
	require.NoError(t, err)
	assert.Equal(t, 1000, received(t, p.Listen, ""), "limit_data cuts the next conn")
	assert.Equal(t, size, received(t, main, ""), "main has no faults")
	require.NoError(t, c.RemoveToxic(ctx, "api", "limit_data_downstream"))
	assert.Equal(t, size, received(t, p.Listen, ""), "whole once removed")

	_, err = c.SetFaults(ctx, "main", control.Faults{ToClient: "close-after=3000"})
	require.NoError(t, err)
	assert.Equal(t, 3000, received(t, main, ""), "the native shape on the flags' proxy")
	_, err = c.SetFaults(ctx, "main", control.Faults{ToClient: ""})
	require.NoError(t, err)
	assert.Equal(t, size, received(t, main, ""))

	var m string
	ok := assert.Eventually(t, func() bool {
		m, err = c.Metrics(ctx)
		return err == nil && strings.Contains(m, `truncheck_proxy_bytes_total{direction="to_client",proxy="api"} 201000`) &&
			strings.Contains(m, `truncheck_proxy_bytes_total{direction="to_client",proxy="main"} 403000`) &&
			strings.Contains(m, `truncheck_proxy_faults_fired_total{fault="close-after",proxy="api"} 1`) &&
			strings.Contains(m, `truncheck_proxy_faults_fired_total{fault="close-after",proxy="main"} 1`)
	}, 10*time.Second, 20*time.Millisecond, "metrics")
	if !ok {
		t.Fatalf("metrics:\n%s", m)
	}

	_, err = c.AddToxic(ctx, "api", control.Toxic{Type: "slow_close"})
	assert.True(t, control.IsStatus(err, 400), "%v", err)
	assert.ErrorContains(t, err, "accepted: latency, bandwidth, timeout, slicer, limit_data, reset_peer")
	_, err = c.CreateProxy(ctx, control.NewProxy{Name: "out", Listen: "0.0.0.0:0", Upstream: up})
	assert.True(t, control.IsStatus(err, 400), "%v", err)
	assert.ErrorContains(t, err, "not a loopback address")

	require.NoError(t, c.DeleteProxy(ctx, "api"))
	_, err = net.DialTimeout("tcp", p.Listen, time.Second)
	assert.Error(t, err, "DELETE closed the listener")
	assert.Regexp(t, `(?m)^api-1 to-upstream 0 bytes closed .*, to-client 1000 bytes fault .*close-after 1000`, r.output(), "a line per conn, as without --control")

	assert.Equal(t, exitInterrupted, r.interrupt(t), r.output())
	_, err = net.DialTimeout("tcp", main, time.Second)
	assert.Error(t, err, "the command's end closed main")
}

// TestCLIProxyControlAlone: --control without --upstream is an empty registry.
func TestCLIProxyControlAlone(t *testing.T) {
	r := startCLI(t, "proxy", "--control", "http://127.0.0.1:0")
	api := r.wait(t, `^control (http://127\.0\.0\.1:\d+)$`)
	c, ctx := apiClient(t, api)
	ps, err := c.Proxies(ctx)
	require.NoError(t, err)
	assert.Empty(t, ps)
	assert.Equal(t, exitInterrupted, r.interrupt(t))
}

// TestCLIControlBadAddress: the API listens on loopback only, written as a URL.
func TestCLIControlBadAddress(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"proxy", "--control", "http://0.0.0.0:8474"}, `--control "http://0.0.0.0:8474": not a loopback address (accepted: http://127.0.0.1:PORT`},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:1", "--control", "127.0.0.1:8474"}, "did you mean http://127.0.0.1:8474?"},
		{[]string{"serve", "--control", "http://192.0.2.1:8474"}, "not a loopback address"},
		{[]string{"check", "--target", "http://127.0.0.1:1", "--path", "/", "--control", "http://[::]:9464"}, "not a loopback address"},
	} {
		code, _, stderr := truncheck(t, tt.args...)
		assert.Equal(t, exitUsage, code, stderr)
		oneLine(t, stderr, tt.want)
	}
}

// TestCLICheckControl: check's /metrics counts outcomes as they arrive.
func TestCLICheckControl(t *testing.T) {
	srv := fileServer(t, 256<<10, 0)
	r := startCLI(t, "check", "--target", srv.URL, "--path", "/big.bin", "--conditions", "baseline",
		"--count", "100000", "--concurrency", "2", "--out", t.TempDir(), "--control", "http://127.0.0.1:0")
	api := r.wait(t, `^control (http://127\.0\.0\.1:\d+)$`)
	c, ctx := apiClient(t, api)
	require.Eventually(t, func() bool {
		m, err := c.Metrics(ctx)
		return err == nil && regexp.MustCompile(`truncheck_check_responses_total\{outcome="complete",scenario="hunt-baseline"\} [1-9]`).MatchString(m)
	}, 30*time.Second, 50*time.Millisecond, "outcomes in /metrics while check runs")
	_, err := c.CreateProxy(ctx, control.NewProxy{Name: "x", Upstream: "127.0.0.1:1"})
	assert.True(t, control.IsStatus(err, 403), "check creates no proxies: %v", err)
	assert.Equal(t, exitInterrupted, r.interrupt(t), r.output())
}

// TestCLIServeControl: serve's listeners are the proxy "serve": a toxic cuts the next
// response, a reset makes the next one whole, and the listener is not the API's to
// delete.
func TestCLIServeControl(t *testing.T) {
	r := startCLI(t, "serve", "--listen", "http://127.0.0.1:0", "--no-keepalive", "--control", "http://127.0.0.1:0")
	svc := r.wait(t, `^listening http://(127\.0\.0\.1:\d+)$`)
	api := r.wait(t, `^control (http://127\.0\.0\.1:\d+)$`)
	c, ctx := apiClient(t, api)
	const req = "GET /images/photo-4mp?format=jpeg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

	_, err := c.AddToxic(ctx, "serve", control.Toxic{Type: "limit_data", Attributes: map[string]int64{"bytes": 1000}})
	require.NoError(t, err)
	assert.Equal(t, 1000, received(t, svc, req), "the toxic cuts what the service writes")
	require.NoError(t, c.Reset(ctx))
	assert.Greater(t, received(t, svc, req), 100_000, "whole after a reset")
	assert.True(t, control.IsStatus(c.DeleteProxy(ctx, "serve"), 403))
	p, err := c.Proxy(ctx, "serve")
	require.NoError(t, err)
	assert.Equal(t, map[string]uint64{"close-after": 1}, p.Stats.FaultsFired)
	assert.Equal(t, exitInterrupted, r.interrupt(t), r.output())
}
