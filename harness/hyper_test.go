package harness

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness/account"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

// TestHyperTarget runs the hyper scenarios against the real hyper 0.14.19
// builds of targets/hyper when TRUNCHECK_HYPER=1 and the binaries
// are built (targets/hyper/build.sh): the stock build must show silent
// truncations, the fixed build none.
func TestHyperTarget(t *testing.T) {
	if os.Getenv("TRUNCHECK_HYPER") != "1" {
		t.Skip("set TRUNCHECK_HYPER=1 (after targets/hyper/build.sh) to run against real hyper")
	}
	bin := filepath.Join("..", "targets", "hyper", "bin")
	for _, flavor := range []string{"stock", "fixed"} {
		exe, err := filepath.Abs(filepath.Join(bin, "hyper-"+flavor))
		require.NoError(t, err)
		if _, err := os.Stat(exe); err != nil {
			t.Skipf("%s not built: %v", exe, err)
		}
		for _, name := range []string{"hyper-early-answer", "hyper-graceful-restart"} {
			if flavor == "fixed" {
				name += "-fixed"
			}
			t.Run(name, func(t *testing.T) {
				s, err := scenarios.Builtin().Get(name)
				require.NoError(t, err)
				dir := shortSockDir(t)
				sock := filepath.Join(dir, "h.sock")
				target := &Target{
					URL:         "unix:" + sock,
					Exec:        []string{exe, "--unix", sock, "--accounts", filepath.Join(dir, "acc.jsonl")},
					ReadyPath:   "/healthz",
					AccountPath: "/accounts/{id}?wait=2s",
					Overlap:     true, // hyper-target --unix replaces the socket file
				}
				rep, err := RunScenario(t.Context(), s, Options{Target: target})
				require.NoError(t, err, rep.Text())
				t.Log(rep.Text())
				assert.True(t, rep.Met, rep.Text())
			})
		}
	}
}

// TestHyperConforms: the hyper target publishes its accounts by the
// account protocol, checked by the same checker as every origin.
func TestHyperConforms(t *testing.T) {
	if os.Getenv("TRUNCHECK_HYPER") != "1" {
		t.Skip("set TRUNCHECK_HYPER=1 (after targets/hyper/build.sh) to run against real hyper")
	}
	exe, err := filepath.Abs(filepath.Join("..", "targets", "hyper", "bin", "hyper-stock"))
	require.NoError(t, err)
	if _, err := os.Stat(exe); err != nil {
		t.Skipf("%s not built: %v", exe, err)
	}
	dir := shortSockDir(t)
	sock := filepath.Join(dir, "h.sock")
	r := &external{t: &Target{URL: "unix:" + sock, Exec: []string{exe, "--unix", sock, "--accounts", filepath.Join(dir, "acc.jsonl")}, ReadyPath: "/healthz"},
		network: "unix", addr: sock, base: "http://target", logf: t.Logf}
	p, err := r.start(t.Context(), nil)
	require.NoError(t, err)
	r.proc = p
	defer func() { assert.NoError(t, r.stop()) }()
	c := &http.Client{Transport: newTransport(hopDialer(transport.Options{}, "unix", sock), 2, false)}
	defer c.CloseIdleConnections()
	assert.NoError(t, account.Conform(t.Context(), c, "http://target", "/bytes/1000000", "/accounts/{id}"))
}
