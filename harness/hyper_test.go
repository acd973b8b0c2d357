package harness

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/scenarios"
)

// TestHyperTarget runs the hyper scenarios against the real hyper 0.14.19
// builds of targets/hyper (issue 6) when TRUNCHECK_HYPER=1 and the binaries
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
