package harness

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/targets/adversary"
	"github.com/truncheck/truncheck/transport"
)

// reloadEnv makes TestHelperReloadServer a server that reloads on SIGHUP,
// the way nginx and Apache do: "SOCK,MODE,PIDFILE". MODE cut closes every
// connection that is serving a response (a careless reload); graceful
// leaves them be (a reload done right).
const reloadEnv = "TRUNCHECK_TEST_RELOAD"

// TestHelperReloadServer is not a test: the Reload tests run it as the
// external target's process.
func TestHelperReloadServer(t *testing.T) {
	cfg := os.Getenv(reloadEnv)
	if cfg == "" {
		t.Skip("helper process for the Reload tests")
	}
	os.Exit(serveReloading(cfg))
}

func serveReloading(cfg string) int {
	parts := strings.Split(cfg, ",")
	if len(parts) != 3 {
		return 2
	}
	return adversary.ServeReloading(parts[0], adversary.ReloadMode(parts[1]), parts[2])
}

// reloadRun runs a scenario whose restarts are reloads against the
// reloading helper server in mode, with rl as the target's reload.
func reloadRun(t *testing.T, mode string, rl func(pidfile string) Reload) Report {
	t.Helper()
	dir := shortSockDir(t)
	sock, pidfile := filepath.Join(dir, "r.sock"), filepath.Join(dir, "r.pid")
	target := &Target{URL: "unix:" + sock, Exec: []string{os.Args[0], "-test.run=^TestHelperReloadServer$"},
		Env: []string{reloadEnv + "=" + sock + "," + mode + "," + pidfile}, ReadyPath: "/bytes/1",
		Reload: rl(pidfile), Stderr: os.Stderr}
	s := scenarios.Scenario{
		Name: "reload-" + mode,
		Topology: scenarios.Topology{Mode: scenarios.Direct, Hops: []scenarios.Hop{{Network: scenarios.Unix,
			ClientFaults: transport.MustFaults(transport.SlowRead(64<<10, 5*time.Millisecond))}}},
		Workload:    scenarios.Workload{Requests: []scenarios.Request{{Path: "/bytes/2MiB"}}},
		Concurrency: 4, Count: 8,
		Restarts: scenarios.Restarts{Every: 100 * time.Millisecond, Reload: true},
		Expect:   results.Expectation{Kind: results.ExpectComplete},
	}
	rep, err := RunScenario(t.Context(), compile(t, s), Options{Target: target})
	require.NoError(t, err)
	return rep
}

// TestTargetReloadBySignal: a server that drops its responses in flight
// when told to reload is caught; the same server reloading gracefully
// passes (the twin that proves the check can fail).
func TestTargetReloadBySignal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bySignal := func(string) Reload { return Reload{Signal: syscall.SIGHUP} }
	careless := reloadRun(t, "cut", bySignal)
	assert.Positive(t, careless.Restarts, "reloads were made")
	assert.False(t, careless.Met, "a reload that cuts responses is found: %s", careless.Reason)
	assert.Positive(t, careless.Summary.Failed(), careless.Reason)

	graceful := reloadRun(t, "graceful", bySignal)
	assert.Positive(t, graceful.Restarts)
	assert.True(t, graceful.Met, graceful.Reason)
}

// TestTargetReloadByCommand reloads with a command, the way `nginx -s
// reload` does: it reads the server's pid file and signals it.
func TestTargetReloadByCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	rep := reloadRun(t, "cut", func(pidfile string) Reload {
		return Reload{Command: []string{"sh", "-c", `kill -HUP "$(cat "$1")"`, "reload", pidfile}}
	})
	assert.Positive(t, rep.Restarts)
	assert.False(t, rep.Met, rep.Reason)
}

// TestTargetReloadNeedsAWay: a reload scenario without Target.Reload says
// what is missing instead of restarting.
func TestTargetReloadNeedsAWay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	sock := filepath.Join(shortSockDir(t), "n.sock")
	target := &Target{URL: "unix:" + sock, Exec: []string{os.Args[0]}, Env: []string{serveEnv + "=" + sock}, ReadyPath: "/bytes/1"}
	s := compile(t, minimal(scenarios.Scenario{Name: "reload-without-a-way", Topology: scenarios.Topology{Mode: scenarios.Direct, Hops: []scenarios.Hop{{}}},
		Restarts: scenarios.Restarts{Every: time.Second, Reload: true}})).Scenario()
	e, err := startTarget(t.Context(), target, s, 0, t.Logf)
	require.NoError(t, err)
	defer func() { assert.NoError(t, e.close()) }()
	assert.ErrorContains(t, e.restart(t.Context(), 0), "reloads need Target.Reload")
}
