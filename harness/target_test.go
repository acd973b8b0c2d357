package harness

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

func shortSockDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "tc")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestTargetExecWithRestarts runs a scenario against an exec'd server (this
// test binary serving the bodies origin on a Unix socket) restarted gracefully
// during the run: every response must still verify, and the server's
// accounts are read over HTTP.
func TestTargetExecWithRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	sock := filepath.Join(shortSockDir(t), "t.sock")
	s := scenarios.Scenario{
		Name:        "exec-restarts",
		Topology:    scenarios.Topology{Hops: []scenarios.Hop{{ClientFaults: mustFaults("slow-read=64KiB/2ms")}}},
		Workload:    scenarios.Workload{Requests: []scenarios.Request{{Path: "/bytes/3MB"}}},
		Concurrency: 2, Count: 10, Seed: 1,
		Expect: results.Expectation{Kind: results.ExpectComplete},
	}
	// Overlap with a server that takes over its socket path: without it a
	// request the old process accepted as SIGTERM came is dropped by its
	// http.Server (a transport error this test is not about).
	target := &Target{
		URL:          "unix:" + sock,
		Exec:         []string{os.Args[0], "-test.run=^TestHelperTakeoverServer$"},
		Env:          []string{takeoverEnv + "=" + sock},
		Overlap:      true,
		RestartEvery: 300 * time.Millisecond,
		ReadyPath:    "/bytes/1",
		AccountPath:  "/accounts/{id}",
		Stderr:       os.Stderr,
	}
	rep, err := RunScenario(t.Context(), compile(t, s), Options{Target: target})
	require.NoError(t, err, rep.Text())
	assert.True(t, rep.Met, rep.Text())
	assert.Equal(t, "client-unix>target", rep.Layout)
	t.Log(rep.Text(), " restarts:", rep.Restarts)
}

// TestTargetSilentTruncation points the harness at a server of ours that
// promises 1 MB, sends 300 KB, closes cleanly, and claims in its account
// that it sent everything: the harness must report silent truncations at
// offset 300000, using the account read over HTTP.
func TestTargetSilentTruncation(t *testing.T) {
	const promised, sent = 1 << 20, 300_000
	body := testBody(promised)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		c, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(promised) + "\r\nX-Request-Id: " + r.Header.Get("X-Request-Id") + "\r\n\r\n")
		_, _ = buf.Write(body[:sent])
		_ = buf.Flush()
	})
	mux.HandleFunc("GET /accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"request_id":"` + r.PathValue("id") + `","bytes_written":1048576,"complete":true}`))
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	defer func() { srv.Close(); <-done }()

	s := scenarios.Scenario{
		Name:        "target-cut",
		Workload:    scenarios.Workload{Requests: []scenarios.Request{{Path: "/big"}}},
		Concurrency: 2, Count: 6, Seed: 1,
		Expect: results.Expectation{Kind: results.ExpectDetect, Outcomes: []results.Outcome{results.Truncated}, Silent: results.SilentRequired},
	}
	rep, err := RunScenario(t.Context(), compile(t, s), Options{Target: &Target{URL: "http://" + l.Addr().String(), AccountPath: "/accounts/{id}"}})
	require.NoError(t, err)
	assert.True(t, rep.Met, rep.Text())
	assert.Equal(t, int64(6), rep.Summary.Silent)
	assert.Equal(t, int64(sent), rep.Summary.Offsets.Min)
	assert.Equal(t, int64(sent), rep.Summary.Offsets.Max)
	require.NotEmpty(t, rep.Summary.Failures)
	f := rep.Summary.Failures[0]
	assert.Equal(t, results.Truncated, f.Outcome)
	assert.Equal(t, int64(promised), f.Expected)
	require.NotNil(t, f.ServerAccount)
	assert.True(t, f.ServerAccount.Complete)
	assert.NotEmpty(t, f.Timeline, "the client-side flight recorder is attached")
	assert.NotEmpty(t, rep.Notes, "no clean reference could be fetched: noted")
}

// TestTargetServerFaultsViaProxy runs an exec'd target behind the fault
// proxy with close-after on the data sent to the client: the cut the proxy
// makes is caught, and attributed to the proxy, never called the target's
// silence (its account says it wrote everything: it could not know), and
// the report says a proxy stands in front of the target.
func TestTargetServerFaultsViaProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	sock := filepath.Join(shortSockDir(t), "t.sock")
	s := scenarios.Scenario{
		Name:        "proxy-faults",
		Topology:    scenarios.Topology{Hops: []scenarios.Hop{{ServerFaults: mustFaults("close-after=300KiB@p=0.5")}}},
		Workload:    scenarios.Workload{Requests: []scenarios.Request{{Path: "/bytes/3MB"}}},
		Concurrency: 2, Count: 8, Seed: 1,
		Client: scenarios.Client{ConnectionClose: true},
		Expect: results.Expectation{Kind: results.ExpectDetect, Outcomes: []results.Outcome{results.Truncated}, Silent: results.SilentForbidden},
	}
	target := &Target{URL: "unix:" + sock, Exec: []string{os.Args[0]}, Env: []string{serveEnv + "=" + sock}, ReadyPath: "/bytes/1", AccountPath: "/accounts/{id}"}
	rep, err := RunScenario(t.Context(), compile(t, s), Options{Target: target})
	require.NoError(t, err, rep.Text())
	assert.True(t, rep.Met, rep.Text())
	assert.Equal(t, "client-unix>proxy-unix>target", rep.Layout)
	require.Len(t, rep.Notes, 1, "only the proxy's note: the reference is fetched around the proxy")
	assert.Contains(t, rep.Notes[0], "adds a second pair of kernel socket buffers")
	truncated := rep.Summary.Outcomes[results.Truncated]
	require.Positive(t, truncated)
	assert.Zero(t, rep.Summary.Silent, "our proxy's cut is not the target's silence")
	assert.Equal(t, truncated, rep.Summary.Injected)
	for _, f := range rep.Summary.Failures {
		if f.Outcome == results.Truncated {
			assert.Equal(t, "injected:close-after=300KiB at proxy", f.Cause)
			assert.Equal(t, results.SilenceInjected, f.Silence, "whatever the target's account says, the cut was ours")
		}
	}
}

func TestTargetBadInput(t *testing.T) {
	s := scenarios.Scenario{Name: "x", Workload: scenarios.Workload{Requests: []scenarios.Request{{Path: "/"}}}, Count: 1,
		Expect: results.Expectation{Kind: results.ExpectComplete}}
	gw := s
	gw.Topology = scenarios.Topology{Mode: scenarios.Gateway}
	tests := []struct {
		name string
		s    scenarios.Scenario
		url  string
		want string
	}{
		{"not loopback", s, "http://192.0.2.1:80", `host "192.0.2.1" is not loopback (accepted: 127.0.0.1, ::1, localhost; a remote host only with AllowRemote`},
		{"wrong scheme", s, "ftp://127.0.0.1:1", `not a base URL (accepted: http://127.0.0.1:PORT, https://127.0.0.1:PORT or unix:/path/to.sock)`},
		{"empty socket", s, "unix:", `empty socket path`},
		{"gateway topology", gw, "http://127.0.0.1:1", `scenario topology gateway (accepted: direct`},
		{"nothing answers", s, "unix:/nonexistent/tc.sock", `did not answer within`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RunScenario(t.Context(), compile(t, tt.s), Options{Target: &Target{URL: tt.url}})
			assert.ErrorContains(t, err, tt.want)
		})
	}
}
