package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

// cuttingServer is a real server on loopback whose answers are cut the
// way real servers cut them: GET /cut promises cutSize bytes by
// Content-Length, writes cutAt of them and closes (the client sees a clean
// FIN short of the length); GET /laundered sends the same cutAt bytes
// chunked and ends the body properly (a tier that re-framed a cut: only
// end-to-end evidence can tell). Anything else is a small 200 (readiness).
func cuttingServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cut", func(w http.ResponseWriter, r *http.Request) {
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Request-Id: %s\r\n\r\n", cutSize, r.Header.Get("X-Request-Id"))
		_, _ = io.Copy(buf, io.LimitReader(origin.Body(cutSize), cutAt))
		_ = buf.Flush()
	})
	mux.HandleFunc("GET /laundered", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, io.LimitReader(origin.Body(cutSize), cutAt)) // no length: Go's server chunks it and ends it cleanly
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

const (
	cutSize int64 = 1 << 20
	cutAt   int64 = 256 << 10
)

// cutScenario sends n requests for path, stating the body's length: no
// reference is fetched from the server under test.
func cutScenario(t *testing.T, name, path string, n int) scenarios.Compiled {
	t.Helper()
	size := cutSize
	return compile(t, scenarios.Scenario{
		Name:        name,
		Topology:    scenarios.Topology{Mode: scenarios.Direct, Hops: []scenarios.Hop{{}}},
		Workload:    scenarios.Workload{Requests: []scenarios.Request{{Path: path, Want: &scenarios.Want{Length: &size}}}},
		Concurrency: n, Count: n, Seed: 1,
		Expect: results.Expectation{Kind: results.ExpectDetect, Outcomes: []results.Outcome{results.Truncated}},
	})
}

// TestTargetAccountsFromLogs: a server's log read as its account decides
// silence through the same rule as a published account. A log that says
// 200 and every byte for a response the client got cut makes it silent;
// one that says fewer bytes makes it noticed; no log line at all (after
// the bounded wait) leaves it unknown, never silent; a line that appears
// a little after the client saw the end is waited for.
func TestTargetAccountsFromLogs(t *testing.T) {
	srv := cuttingServer(t)
	logLine := func(written int64, complete bool) AccountSource {
		return func(_ context.Context, id string) (*results.Account, error) {
			return &results.Account{RequestID: id, Status: 200, ContentLength: cutSize, BytesWritten: written,
				Complete: complete, Finished: true, Source: "access log: test"}, nil
		}
	}
	// asked counts each request id's lookups. The late log line appears at
	// the lateAsks-th lookup: within the default wait (2 s, a lookup every
	// 20 ms), and never within a 100 ms wait (at most 6 lookups).
	const lateAsks = 10
	var mu sync.Mutex
	asked := map[string]int{}
	ask := func(id string) int {
		mu.Lock()
		defer mu.Unlock()
		asked[id]++
		return asked[id]
	}
	counting := func(src AccountSource) AccountSource {
		return func(ctx context.Context, id string) (*results.Account, error) {
			ask(id)
			return src(ctx, id)
		}
	}
	late := func(_ context.Context, id string) (*results.Account, error) {
		if ask(id) < lateAsks {
			return nil, nil // not written yet
		}
		return logLine(cutSize, true)(context.Background(), id)
	}
	tests := []struct {
		name     string
		give     AccountSource
		wait     time.Duration
		silent   int64
		unknown  int64
		noticed  bool
		minAsked int
	}{
		{name: "log says all bytes", give: logLine(cutSize, true), silent: 3},
		{name: "log says short bytes", give: logLine(cutAt, false), noticed: true},
		{name: "no log line", give: counting(func(context.Context, string) (*results.Account, error) { return nil, nil }), unknown: 3},
		{name: "log line written late", give: late, silent: 3, minAsked: lateAsks},
		{name: "log line later than the wait", give: late, wait: 100 * time.Millisecond, unknown: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			clear(asked)
			mu.Unlock()
			target := &Target{URL: srv.URL, Accounts: tt.give, AccountWait: tt.wait}
			rep, err := RunScenario(t.Context(), cutScenario(t, "log-accounts", "/cut", 3), Options{Target: target})
			require.NoError(t, err)
			s := rep.Summary
			require.Equal(t, int64(3), s.Outcomes[results.Truncated], rep.Text())
			assert.Equal(t, tt.silent, s.Silent, rep.Text())
			assert.Equal(t, tt.unknown, s.SilenceUnknown, rep.Text())
			if tt.noticed {
				assert.Zero(t, s.Silent+s.SilenceUnknown, rep.Text())
			}
			for _, f := range s.Failures {
				assert.False(t, f.FramingWhole, "a body short of its Content-Length showed the cut")
				if tt.unknown == 0 {
					require.NotNil(t, f.ServerAccount)
					assert.Equal(t, "access log: test", f.ServerAccount.Source)
				}
			}
			wait := tt.wait
			if wait == 0 {
				wait = accountWait
			}
			mu.Lock()
			defer mu.Unlock()
			for id, n := range asked {
				// The wait is bounded: no more lookups than it has room for.
				assert.LessOrEqual(t, n, 2+int(wait/accountPoll), "lookups of %s", id)
				assert.GreaterOrEqual(t, n, tt.minAsked, "lookups of %s", id)
			}
			if tt.minAsked > 0 || tt.unknown > 0 {
				assert.Len(t, asked, 3, "each failed response's account is looked up")
			}
		})
	}
}

// TestFramingWholeTellsLaunderedCuts: the same cut once with a
// Content-Length it falls short of (the client's framing shows it) and
// once re-framed into a well-formed shorter body (only the stated length
// catches it): the record says which.
func TestFramingWholeTellsLaunderedCuts(t *testing.T) {
	srv := cuttingServer(t)
	for _, tt := range []struct {
		path        string
		framedWhole int64
	}{{"/cut", 0}, {"/laundered", 3}} {
		t.Run(tt.path, func(t *testing.T) {
			rep, err := RunScenario(t.Context(), cutScenario(t, "framing", tt.path, 3), Options{Target: &Target{URL: srv.URL}})
			require.NoError(t, err)
			assert.Equal(t, int64(3), rep.Summary.Outcomes[results.Truncated], rep.Text())
			assert.Equal(t, tt.framedWhole, rep.Summary.FramedWhole, rep.Text())
			for _, f := range rep.Summary.Failures {
				assert.Equal(t, tt.framedWhole > 0, f.FramingWhole)
				assert.Equal(t, cutAt, f.Offset)
			}
		})
	}
}

// TestTargetRestartAndReloadFuncs: a server the caller supervises is
// restarted and reloaded by the caller's own functions, and the harness
// waits until it answers again; the ways that cannot go together are
// refused with what is accepted.
func TestTargetRestartAndReloadFuncs(t *testing.T) {
	srv := cuttingServer(t)
	var restarts, reloads atomic.Int64
	for _, reload := range []bool{false, true} {
		s := cutScenario(t, "caller-restarts-"+strconv.FormatBool(reload), "/", 6).Scenario()
		s.Workload.Requests[0].Want = nil
		s.Expect = results.Expectation{Kind: results.ExpectComplete, AllowUnverified: true}
		s.Count, s.Concurrency = 0, 2
		s.Duration = 600 * time.Millisecond
		s.Restarts = scenarios.Restarts{Every: 100 * time.Millisecond, Reload: reload}
		target := &Target{URL: srv.URL,
			Restart: func(context.Context) error { restarts.Add(1); return nil },
			Reload:  Reload{Func: func(context.Context) error { reloads.Add(1); return nil }}}
		rep, err := RunScenario(t.Context(), compile(t, s), Options{Target: target})
		require.NoError(t, err)
		assert.Positive(t, rep.Restarts, rep.Text())
	}
	assert.Positive(t, restarts.Load(), "Target.Restart was called")
	assert.Positive(t, reloads.Load(), "Target.Reload.Func was called")

	bad := []struct {
		give *Target
		want string
	}{
		{&Target{URL: srv.URL, AccountPath: "/a/{id}", Accounts: func(context.Context, string) (*results.Account, error) { return nil, nil }}, "one source of accounts"},
		{&Target{URL: srv.URL, Exec: []string{"true"}, Restart: func(context.Context) error { return nil }}, "Restart and Exec"},
		{&Target{URL: srv.URL, Reload: Reload{Command: []string{"true"}, Func: func(context.Context) error { return nil }}}, "one way to reload"},
	}
	for _, b := range bad {
		_, err := RunScenario(t.Context(), cutScenario(t, "bad-target", "/cut", 1), Options{Target: b.give})
		assert.ErrorContains(t, err, b.want)
	}
}

// TestTargetSeesItsOwnHost: requests, references and readiness probes
// name the target's own host and port, so a server that routes by Host
// (virtual hosts) answers as it is deployed.
func TestTargetSeesItsOwnHost(t *testing.T) {
	var mu sync.Mutex
	hosts := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts[r.Host] = true
		mu.Unlock()
		_, _ = io.Copy(w, origin.Body(1000))
	}))
	defer srv.Close()
	s := cutScenario(t, "host", "/b", 2).Scenario()
	s.Workload.Requests[0].Want = nil // a reference from agreeing fetches: the clean path too
	s.Expect = results.Expectation{Kind: results.ExpectComplete}
	rep, err := RunScenario(t.Context(), compile(t, s), Options{Target: &Target{URL: srv.URL}})
	require.NoError(t, err)
	assert.True(t, rep.Met, rep.Text())
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]bool{srv.Listener.Addr().String(): true}, hosts)
}
