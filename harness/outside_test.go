package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOutsideModule is a Go team using the harness in its own repository:
// a throwaway module outside this tree imports it with CGO_ENABLED=0 (no
// libvips anywhere), puts its own handler behind the account middleware,
// and runs a scenario against it. The handler has the Go shape of the bug:
// it ignores its Write error under a WriteTimeout, so a slow reader gets a
// short body and nothing is logged. The harness must report it truncated,
// with the middleware's account showing the handler's failed write (the
// server knew: not silent).
func TestOutsideModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module outside the tree")
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	dir := t.TempDir()
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	files := map[string]string{
		"go.mod": "module example.com/mysvc\n\ngo 1.26.0\n\nrequire github.com/truncheck/truncheck v0.0.0\n\n" +
			"replace github.com/truncheck/truncheck => " + root + "\n",
		"go.sum": string(sum),
		"mysvc.go": `package mysvc

import (
	"net/http"
	"strconv"
)

// Handler serves an 8 MiB report and, like too many handlers, ignores the
// error of its one Write.
func Handler() http.Handler {
	body := make([]byte, 8<<20)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
}
`,
		"mysvc_test.go": `package mysvc

import (
	"testing"
	"time"

	"github.com/truncheck/truncheck/harness"
	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

func TestSlowReadersGetTheWholeReport(t *testing.T) {
	o := origin.Handler("mysvc", Handler())
	s := scenarios.Scenario{
		Name:     "write-timeout-slow-reader",
		Topology: scenarios.Topology{Hops: []scenarios.Hop{{Network: scenarios.Unix, ClientFaults: transport.MustFaults(transport.SlowRead(16<<10, 10*time.Millisecond))}}},
		Workload: scenarios.Workload{Requests: []scenarios.Request{{Path: "/report"}}},
		Service:  scenarios.Service{WriteTimeout: 300 * time.Millisecond},
		Concurrency: 2, Count: 4,
		Expect: results.Expectation{Kind: results.ExpectDetect, Outcomes: []results.Outcome{results.Truncated}, Silent: results.SilentForbidden},
	}
	rep := harness.Run(t, s, harness.Options{Origin: &o})
	for _, f := range rep.Summary.Failures {
		if f.ServerAccount == nil || f.ServerAccount.WriteError == "" || f.ServerAccount.Complete {
			t.Errorf("failure #%d without the handler's failed write in its account: %+v", f.Seq, f.ServerAccount)
		}
	}
	t.Logf("OUTSIDE truncated=%d silent=%d write_error=%q", rep.Summary.Outcomes[results.Truncated], rep.Summary.Silent, rep.Summary.Failures[0].ServerAccount.WriteError)
}
`,
	}
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	run := func(args ...string) string {
		cmd := exec.Command(gobin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOSUMDB=off", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	run("mod", "tidy")
	out := run("test", "-count=1", "-v", "./...")
	t.Log(out)
	assert.Contains(t, out, "--- PASS: TestSlowReadersGetTheWholeReport")
	assert.Regexp(t, `OUTSIDE truncated=[1-9]\d* silent=0 write_error=".+"`, out)
	assert.NotContains(t, out, "bimg", "no libvips on the import path")
}
