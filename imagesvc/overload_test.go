package imagesvc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// getJSON GETs path over TCP and decodes an error body.
func getJSON(t *testing.T, e *testEnv, path string, hdr map[string]string) (*http.Response, errJSON) {
	t.Helper()
	resp, body := get(t, e.tcp, e.tcpBase+path, hdr)
	var ej errJSON
	if resp.StatusCode != http.StatusOK {
		require.NoError(t, json.Unmarshal(body, &ej), "JSON error body: %q", body)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	}
	return resp, ej
}

// TestCostEstimateRefusesChainsOverBudget: chains whose estimate alone is
// over the budget are refused at once (422) saying which part costs most;
// their cheaper twins pass.
func TestCostEstimateRefusesChainsOverBudget(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	tests := []struct {
		name      string
		give      string
		wantError string // substring; "" for a 200
	}{
		{"blur sigma 100 on 24 MP", "/images/photo-24mp?ops=blur:sigma=100",
			"over the 20s time budget (most of it operation 1 (blur:sigma=100) at 6000x4000"},
		{"two big blurs", "/images/photo-12mp?ops=blur:sigma=80;blur:sigma=80", "over the 20s time budget"},
		{"avif at speed 0 on 4 MP", "/images/photo-4mp?format=avif&speed=0", "encoding avif at speed 0 (2448x1632)"},
		{"blur twin: small", "/images/photo-small?ops=blur:sigma=5", ""},
		{"avif twin: small", "/images/photo-small?ops=resize:w=64&format=avif&speed=0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, ej := getJSON(t, e, tt.give, nil)
			if tt.wantError == "" {
				assert.Equal(t, http.StatusOK, resp.StatusCode, ej.Error)
				return
			}
			require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
			assert.Contains(t, ej.Error, tt.wantError)
			assert.Contains(t, ej.Accepted, "within the 20s time budget")
		})
	}
	assert.Equal(t, int64(3), e.svc.Stats().RejectedCost)
	assert.Equal(t, int64(2), e.svc.Stats().Admitted, "refused chains never reach a worker")
}

// blockWork makes every transform of svc wait in its slot until release is
// closed or its context ends.
func blockWork(svc *Service, release <-chan struct{}) {
	svc.testHookWork = func(ctx context.Context, _ engineSource) {
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
}

// TestBudgetExpiredIs504: a transform that outlives the request's budget is
// answered 504 in JSON, and the account says why; the twin without the slow
// work is a 200.
func TestBudgetExpiredIs504(t *testing.T) {
	e := newEnv(t, Config{RequestBudget: 300 * time.Millisecond}, ServerConfig{})
	resp, ej := getJSON(t, e, "/images/photo-small?ops=flop", map[string]string{"X-Request-Id": "fast"})
	require.Equal(t, http.StatusOK, resp.StatusCode, "twin: %s", ej.Error)

	blockWork(e.svc, make(chan struct{}))
	resp, ej = getJSON(t, e, "/images/photo-small?ops=flip", map[string]string{"X-Request-Id": "slow"})
	require.Equal(t, http.StatusGatewayTimeout, resp.StatusCode)
	assert.Equal(t, "the transform did not finish within the 300ms time budget", ej.Error)
	assert.Contains(t, ej.Accepted, "transforms that finish within 300ms")
	acc, ok := e.svc.WaitAccount(t.Context(), "slow")
	require.True(t, ok)
	assert.Equal(t, http.StatusGatewayTimeout, acc.Status)
	assert.Equal(t, ej.Error, acc.Error)
	assert.Equal(t, int64(1), e.svc.Stats().BudgetExpired)
	e.svc.flight.wait()
	assert.Equal(t, int64(1), e.svc.Stats().Cancelled, "the work was stopped, not left running")
}

// TestShedWhenQueueFull: with the slot busy and the queue full, the next
// request is answered 503 at once, with Retry-After and a JSON body; the
// queued one is served once the slot frees.
func TestShedWhenQueueFull(t *testing.T) {
	e := newEnv(t, Config{MaxConcurrent: 1, MaxQueue: 1}, ServerConfig{})
	release := make(chan struct{})
	blockWork(e.svc, release)
	statuses := make(chan int, 2)
	for i, path := range []string{"/images/photo-small?ops=flip", "/images/photo-small?ops=flop"} {
		go func() {
			req, err := http.NewRequest(http.MethodGet, e.tcpBase+path, nil)
			if !assert.NoError(t, err) {
				statuses <- 0
				return
			}
			req.Header.Set("X-Request-Id", "queued-"+strconv.Itoa(i))
			resp, err := e.tcp.Do(req)
			if !assert.NoError(t, err) {
				statuses <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
		require.Eventually(t, func() bool {
			s := e.svc.Stats()
			return s.Running+s.Queued == i+1
		}, 10*time.Second, time.Millisecond)
	}
	assert.Contains(t, scrape(t, e), "imagesvc_shed_queue_full_total 0\n")
	resp, ej := getJSON(t, e, "/images/photo-small?ops=rotate:deg=90", map[string]string{"X-Request-Id": "shed"})
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, ej.Error, "1 transforms are queued")
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After in seconds")
	assert.GreaterOrEqual(t, retry, 1)
	close(release)
	assert.Equal(t, http.StatusOK, <-statuses)
	assert.Equal(t, http.StatusOK, <-statuses)
	assert.Equal(t, int64(1), e.svc.Stats().RejectedFull)
	// A client can read the whole body before the handler returns and counts
	// it; an account is finished only after the count, so wait for all three.
	for _, id := range []string{"queued-0", "queued-1", "shed"} {
		_, ok := e.svc.WaitAccount(t.Context(), id)
		require.True(t, ok, "account %s", id)
	}
	m := scrape(t, e)
	for _, want := range []string{
		"imagesvc_shed_queue_full_total 1\n",
		`imagesvc_requests_total{code="503",route="image"} 1` + "\n",
		`imagesvc_requests_total{code="200",route="image"} 2` + "\n",
		"imagesvc_queue_depth 0\n",
		"imagesvc_worker_slots 1\n",
		"imagesvc_queue_limit 1\n",
		"imagesvc_queue_wait_seconds_count 2\n",
		"imagesvc_malloc_arena_bytes ",
		"imagesvc_libvips_tracked_bytes ",
		"process_resident_memory_bytes ",
		"go_memstats_heap_alloc_bytes ",
	} {
		assert.Contains(t, m, want)
	}
}

// scrape reads GET /metrics.
func scrape(t *testing.T, e *testEnv) string {
	t.Helper()
	resp, body := get(t, e.tcp, e.tcpBase+"/metrics", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return string(body)
}

// rawGet sends a GET on a fresh connection and returns the connection
// without reading the answer.
func rawGet(t *testing.T, addr, path, id string) net.Conn {
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\n\r\n", path, id)
	require.NoError(t, err)
	return c
}

// TestClientGoneStopsQueuedWork: a client that hangs up while its transform
// waits for a slot takes the transform out of the queue: it never runs.
func TestClientGoneStopsQueuedWork(t *testing.T) {
	e := newEnv(t, Config{MaxConcurrent: 1}, ServerConfig{})
	release := make(chan struct{})
	var ran []string
	e.svc.testHookWork = func(ctx context.Context, _ engineSource) {
		ran = append(ran, "work") // under the single slot: no race
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
	holder := rawGet(t, e.srv.TCPAddr(), "/images/photo-small?ops=flip", "holder")
	defer holder.Close()
	require.Eventually(t, func() bool { return e.svc.Stats().Running == 1 }, 10*time.Second, time.Millisecond)
	leaver := rawGet(t, e.srv.TCPAddr(), "/images/photo-small?ops=flop", "leaver")
	require.Eventually(t, func() bool { return e.svc.Stats().Queued == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, leaver.Close())
	require.Eventually(t, func() bool { return e.svc.Stats().Queued == 0 }, 10*time.Second, time.Millisecond)
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(holder), nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	acc, ok := e.svc.WaitAccount(t.Context(), "leaver")
	require.True(t, ok)
	assert.Equal(t, http.StatusServiceUnavailable, acc.Status)
	e.svc.flight.wait()
	s := e.svc.Stats()
	assert.Equal(t, int64(1), s.LeftQueue)
	assert.Equal(t, int64(1), s.Admitted, "the leaver's transform never got a slot")
	assert.Equal(t, []string{"work"}, ran)
}

// TestClientGoneStopsRunningWork: a client that hangs up while its
// transform runs in libvips stops it (the kill flag), instead of leaving it
// to run for seconds on a core nobody will read from.
func TestClientGoneStopsRunningWork(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.tcpBase+"/images/photo-4mp?ops=blur:sigma=40", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "gone")
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err = e.tcp.Do(req)
	require.ErrorIs(t, err, context.Canceled)
	acc, ok := e.svc.WaitAccount(t.Context(), "gone")
	require.True(t, ok)
	assert.Equal(t, http.StatusServiceUnavailable, acc.Status)
	e.svc.flight.wait()
	assert.Equal(t, int64(1), e.svc.Stats().Cancelled, "the running blur was stopped")
}
