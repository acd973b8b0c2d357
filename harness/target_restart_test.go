package harness

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

// takeoverEnv makes TestHelperTakeoverServer a server that takes over its
// Unix socket path while an older instance still serves on it, the way a
// zero-downtime deploy does (and the hyper target's --unix), and serves
// the bodies origin there.
const takeoverEnv = "TRUNCHECK_TEST_TAKEOVER"

// TestHelperTakeoverServer is not a test: run by the Overlap tests as the
// external target's process. It replaces the socket file, serves until
// SIGTERM, then stops accepting, removes the path only while it is still
// its own, and shuts down gracefully.
func TestHelperTakeoverServer(t *testing.T) {
	sock := os.Getenv(takeoverEnv)
	if sock == "" {
		t.Skip("helper process for the Overlap tests")
	}
	os.Exit(serveTakeover(sock))
}

func serveTakeover(sock string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	_ = os.Remove(sock) // the old instance keeps its listening socket, unreachable by path
	l, err := net.Listen("unix", sock)
	if err != nil {
		return 1
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	mine, err := os.Stat(sock)
	if err != nil {
		return 1
	}
	o := origin.Bodies()
	var mu sync.Mutex
	fresh := map[net.Conn]bool{} // accepted, first request not read yet
	hs := &http.Server{
		Handler:     o.Handler,
		ConnContext: o.ConnContext,
		ConnState: func(c net.Conn, s http.ConnState) {
			mu.Lock()
			defer mu.Unlock()
			if s == http.StateNew {
				fresh[c] = true
			} else {
				delete(fresh, c)
			}
		},
	}
	go func() { _ = hs.Serve(l) }()
	<-ctx.Done()
	l.Close()
	if now, err := os.Stat(sock); err == nil && os.SameFile(now, mine) {
		os.Remove(sock)
	}
	// http.Server.Shutdown drops requests it reads after it began: let the
	// connections already accepted get their request read first.
	for range 200 {
		mu.Lock()
		n := len(fresh)
		mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	return 0
}

func takeoverTarget(t *testing.T, overlap bool) (*Target, scenarios.Scenario) {
	sock := filepath.Join(shortSockDir(t), "o.sock")
	return &Target{
			URL:       "unix:" + sock,
			Exec:      []string{os.Args[0], "-test.run=^TestHelperTakeoverServer$"},
			Env:       []string{takeoverEnv + "=" + sock},
			Overlap:   overlap,
			ReadyPath: "/bytes/1",
			Stderr:    os.Stderr,
		}, scenarios.Scenario{
			Name:        "overlap",
			Topology:    scenarios.Topology{Mode: scenarios.Direct, Hops: []scenarios.Hop{{Network: scenarios.Unix}}},
			Concurrency: 4,
			Client:      scenarios.Client{ConnectionClose: true},
		}
}

// restartUnderLoad restarts e n times while 4 clients send requests, and
// returns how many requests were sent and how many failed.
func restartUnderLoad(t *testing.T, e systemUnderTest, n int) (reqs, failed int64, first error) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var nreq, nfail atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil && nreq.Load() < 50_000 {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.baseURL()+"/bytes/64KiB", nil)
				if err != nil {
					panic(err)
				}
				resp, err := e.client().Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if ctx.Err() != nil {
					return
				}
				nreq.Add(1)
				if err != nil && nfail.Add(1) == 1 {
					mu.Lock()
					first = err
					mu.Unlock()
				}
			}
		})
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, e.restart(ctx, 0))
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return nreq.Load(), nfail.Load(), first
}

// TestTargetOverlapRestart restarts an exec'd server that takes over its
// socket path, with Overlap: no request may fail, since a server answers
// on the path at every moment.
func TestTargetOverlapRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	target, s := takeoverTarget(t, true)
	e, err := startTarget(t.Context(), target, compile(t, minimal(s)).Scenario(), 0, t.Logf)
	require.NoError(t, err)
	defer func() { assert.NoError(t, e.close()) }()
	reqs, failed, first := restartUnderLoad(t, e, 5)
	t.Logf("overlap: %d requests over 5 restarts, %d failed", reqs, failed)
	require.Positive(t, reqs)
	assert.Zero(t, failed, "first: %v", first)
}

// TestTargetOverlapNewProcessFails: with Overlap and a server that cannot
// listen while the old one runs (it refuses a live socket), the
// restart reports the failure and the old process goes on serving.
func TestTargetOverlapNewProcessFails(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	sock := filepath.Join(shortSockDir(t), "f.sock")
	target := &Target{URL: "unix:" + sock, Exec: []string{os.Args[0]}, Env: []string{serveEnv + "=" + sock},
		ReadyPath: "/bytes/1", Overlap: true}
	s := compile(t, minimal(scenarios.Scenario{Name: "overlap-fails", Topology: scenarios.Topology{Mode: scenarios.Direct, Hops: []scenarios.Hop{{}}}})).Scenario()
	e, err := startTarget(t.Context(), target, s, 0, t.Logf)
	require.NoError(t, err)
	defer func() { assert.NoError(t, e.close()) }()

	err = e.restart(t.Context(), 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited before answering")
	resp, err := e.client().Get(e.baseURL() + "/bytes/1KiB")
	require.NoError(t, err, "the old process must still serve")
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestTargetStartTimeoutWithoutExec: a target that is not running is
// waited for StartTimeout, not a fixed 2s (the error names the wait).
func TestTargetStartTimeoutWithoutExec(t *testing.T) {
	sock := filepath.Join(shortSockDir(t), "none.sock")
	target := &Target{URL: "unix:" + sock, StartTimeout: 300 * time.Millisecond}
	s := compile(t, minimal(scenarios.Scenario{Name: "absent", Topology: scenarios.Topology{Mode: scenarios.Direct, Hops: []scenarios.Hop{{}}}})).Scenario()
	_, err := startTarget(t.Context(), target, s, 0, t.Logf)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not answer within 300ms")
}

// TestDialRetriesWhileServerDown: without Overlap a restart leaves a
// moment with no socket; a dial then is retried (bounded, with ctx)
// instead of failing the request.
func TestDialRetriesWhileServerDown(t *testing.T) {
	sock := filepath.Join(shortSockDir(t), "late.sock")
	dial := hopDialer(transport.Options{}, "unix", sock)
	listening := make(chan net.Listener, 1)
	go func() {
		time.Sleep(100 * time.Millisecond) // the dial below starts before the server exists
		l, err := net.Listen("unix", sock)
		if err != nil {
			close(listening)
			return
		}
		listening <- l
	}()
	c, err := dial(t.Context(), "", "")
	l, ok := <-listening
	require.True(t, ok, "listen failed")
	defer l.Close()
	require.NoError(t, err)
	c.Close()

	// A cancelled ctx ends the retries with the dial's error.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = hopDialer(transport.Options{}, "unix", sock+".absent")(ctx, "", "")
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.ENOENT) || errors.Is(err, context.Canceled), "got %v", err)
}
