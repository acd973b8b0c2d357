package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truncheck/truncheck/imagesvc"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/targets/adversary"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(cliServeEnv); cfg != "" {
		os.Exit(serveCLITest(cfg))
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(removeBinary))
}

// truncheck runs realMain like the binary would be run.
func truncheck(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = realMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

// oneLine checks a usage error: exit 2, one line naming the problem, no stack.
func oneLine(t *testing.T, stderr string, want string) {
	t.Helper()
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "want exactly one line, got:\n%s", stderr)
	assert.Contains(t, stderr, want)
	assert.NotContains(t, stderr, "goroutine")
	assert.NotContains(t, stderr, "panic")
}

func TestBadUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		give []string
		want string
	}{
		{"unknown command", []string{"nope"}, `unknown command "nope"`},
		{"bad flag", []string{"run", "--bogus"}, "flag provided but not defined: -bogus"},
		{"bad flag value", []string{"run", "--count", "many"}, `invalid value "many" for flag -count`},
		{"unknown scenario", []string{"run", "no-such-scenario", "--out", dir}, `unknown scenario "no-such-scenario"`},
		{"missing scenario file", []string{"run", "--scenarios", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{"bad scenario file", []string{"list", "--scenarios", "../../scenarios/testdata/bad-fault.yaml"}, "bad-fault.yaml"},
		{"target-only in run", []string{"run", "hyper-early-answer"}, "external target only"},
		{"all with names", []string{"run", "all", "baseline"}, `"all" stands alone`},
		{"missing baseline", []string{"run", "--gate", "--baseline", filepath.Join(dir, "nope.json"), "baseline"}, "--baseline"},
		{"replay missing file", []string{"run", "--replay", filepath.Join(dir, "nope.jsonl")}, "--replay"},
		{"replay with seed", []string{"run", "--replay", "x.jsonl", "--seed", "3"}, "--replay runs the scenarios as they ran"},
		{"baseline without gate", []string{"run", "--baseline", "x.json"}, "--baseline and the --gate-* flags need --gate"},
		{"soak without duration", []string{"soak"}, "--duration is required"},
		{"soak target-only", []string{"soak", "--duration", "1s", "hyper-early-answer"}, "external target only"},
		{"serve host:port", []string{"serve", "--listen", "127.0.0.1:8080"}, "did you mean http://127.0.0.1:8080?"},
		{"serve two tcp", []string{"serve", "--listen", "http://127.0.0.1:1", "--listen", "http://127.0.0.1:2"}, "one http address at most"},
		{"serve bad faults", []string{"serve", "--faults", "no-such-fault=1"}, "--faults"},
		{"serve arguments", []string{"serve", "extra"}, "unexpected arguments"},
		{"proxy without upstream", []string{"proxy"}, "--upstream is required"},
		{"proxy bad faults", []string{"proxy", "--upstream", "http://127.0.0.1:1", "--faults", "close-after=lots"}, "--faults"},
		{"proxy tcp: address", []string{"proxy", "--upstream", "tcp:127.0.0.1:1"}, "did you mean http://127.0.0.1:1?"},
		{"proxy path without unix:", []string{"proxy", "--upstream", "/run/app.sock"}, "did you mean unix:/run/app.sock?"},
		{"report nothing", []string{"report"}, "give at least one results directory"},
		{"report missing", []string{"report", filepath.Join(dir, "nope")}, "nope"},
		{"check without target", []string{"check"}, "--target is required"},
		{"check bad target", []string{"check", "--target", "ftp://127.0.0.1:1"}, "accepted: http://HOST:PORT, https://HOST:PORT or unix:/PATH"},
		{"check remote target", []string{"check", "--target", "http://192.0.2.1:80", "--path", "/f"}, "is not loopback (accepted: 127.0.0.1, ::1, localhost; another host only with --allow-remote)"},
		{"check without paths", []string{"check", "--target", "unix:/x.sock"}, "--path /your/large/file"},
		{"check paths and scenarios", []string{"check", "--target", "unix:/x.sock", "--path", "/f", "baseline"}, "give one or the other"},
		{"check bad header", []string{"check", "--target", "unix:/x.sock", "--path", "/f", "--header", "no colon"}, `accepted: "Name: value"`},
		{"check bad upload", []string{"check", "--target", "unix:/x.sock", "--path", "/f", "--upload", "@/nonexistent"}, "--upload"},
		{"check bad method", []string{"check", "--target", "unix:/x.sock", "--path", "/f", "--method", "DELETE"}, "accepted: GET, HEAD, POST, PUT"},
		{"check bad reload signal", []string{"check", "--target", "unix:/x.sock", "--path", "/f", "--reload-signal", "KILLME", "--", "srv"}, "accepted: HUP"},
		{"check bad reload cmd", []string{"check", "--target", "unix:/x.sock", "--path", "/f", "--reload-cmd", `nginx "unterminated`}, "unterminated"},
		{"check exec flag", []string{"check", "--target", "unix:/x.sock", "--exec", "srv"}, "flag provided but not defined: -exec"},
		{"check bad length", []string{"check", "--target", "unix:/x.sock", "--expect-length", "3.3XB"}, "want a number of bytes"},
		{"check restart without command", []string{"check", "--target", "unix:/x.sock", "--restart-every", "1s", "baseline"}, "need the server's command after --"},
		{"check overlap without command", []string{"check", "--target", "unix:/x.sock", "--path", "/f", "--overlap"}, "need the server's command after --"},
		{"help for nothing", []string{"help", "nope"}, `unknown command "nope"`},
		{"completion for fish", []string{"completion", "fish"}, "accepted: bash, zsh"},
		{"check gateway scenario", []string{"check", "--target", "unix:/x.sock", "gateway-baseline"}, "direct scenarios only"},
		{"realworld no binaries", []string{"realworld", "--bin-dir", dir}, "targets/hyper/build.sh"},
		{"realworld other scenario", []string{"realworld", "baseline"}, "not a hyper target scenario"},
		{"survey unknown server", []string{"survey", "--servers", "nope"}, `--servers: server "nope" (accepted: go, nginx, apache2`},
		{"survey unknown condition", []string{"survey", "--servers", "go", "--conditions", "nope", "--no-install"}, `condition "nope" (accepted: baseline,`},
		{"survey condition of another server", []string{"survey", "--servers", "go", "--conditions", "nginx:reload", "--no-install"}, `names server "nginx", which is not surveyed`},
		{"survey protocol twice", []string{"survey", "--servers", "go", "--protocols", "h2c,h2c", "--no-install"}, "--protocols: h2c twice"},
		{"survey bad protocol", []string{"survey", "--protocols", "spdy"}, `protocol "spdy" (accepted: http/1.1, h2c, h2)`},
		{"survey arguments", []string{"survey", "nginx"}, "unexpected arguments"},
		{"survey require elsewhere", []string{"survey", "--servers", "go", "--require", "nginx"}, "--require nginx: not among the surveyed servers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := truncheck(t, tt.give...)
			assert.Equal(t, 2, code, stderr)
			oneLine(t, stderr, tt.want)
		})
	}
}

// TestHelp: help is on stdout with exit 0 when asked for (truncheck help,
// help CMD, CMD -h), on stderr with exit 2 when no command was given;
// every command has a synopsis, examples and its flags.
func TestHelp(t *testing.T) {
	code, stdout, stderr := truncheck(t)
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "usage: truncheck <command>")

	code, stdout, stderr = truncheck(t, "help")
	assert.Equal(t, exitOK, code)
	assert.Empty(t, stderr)
	assert.Contains(t, stdout, "Exit codes: 0 ok, 1 the verdict failed, 2 bad usage, 3 the environment")
	for _, cmd := range []string{"list", "run", "soak", "serve", "proxy", "check", "report", "realworld", "completion"} {
		assert.Contains(t, stdout, "  "+cmd+" ")
		for _, ask := range [][]string{{"help", cmd}, {cmd, "-h"}, {cmd, "--help"}} {
			code, out, errs := truncheck(t, ask...)
			assert.Equal(t, exitOK, code, ask)
			assert.Empty(t, errs, ask)
			assert.Contains(t, out, "usage: truncheck "+cmd, ask)
			assert.Contains(t, out, "\nexamples:\n  ", ask)
		}
	}
	_, stdout, _ = truncheck(t, "help", "run")
	assert.Contains(t, stdout, "timing", "run's help says what --replay does not reproduce")
	assert.Contains(t, stdout, "  --replay STRING\n")

	code, stdout, _ = truncheck(t, "--version")
	assert.Equal(t, exitOK, code)
	assert.Regexp(t, `^truncheck \S+ \(go1\.\d+`, stdout)
}

func TestList(t *testing.T) {
	code, stdout, _ := truncheck(t, "list")
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "baseline ")
	assert.Contains(t, stdout, "buffered-shutdown ")
	assert.Contains(t, stdout, "hyper-early-answer ")
}

// TestRunWritesResults is the main job end to end: the records as the run
// went, summary, JUnit and HTML, then report, replay and the gate over them.
func TestRunWritesResults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := truncheck(t, "run", "baseline", "buffered-shutdown", "--out", dir)
	require.Equal(t, 0, code, stdout+stderr)
	assert.Contains(t, stdout, "baseline")
	assert.Contains(t, stdout, filepath.Join(dir, results.HTMLFile))
	assert.Contains(t, stdout, filepath.Join(dir, results.JUnitFile))

	recs, warnings, err := results.ReadFile(filepath.Join(dir, results.RecordsFile))
	require.NoError(t, err)
	assert.Empty(t, warnings)
	require.NotEmpty(t, recs)
	seen := map[string]int{}
	for _, r := range recs {
		require.NoError(t, r.Validate())
		seen[r.Scenario]++
	}
	assert.Positive(t, seen["baseline"])
	assert.Positive(t, seen["buffered-shutdown"])

	junit, err := os.ReadFile(filepath.Join(dir, results.JUnitFile))
	require.NoError(t, err)
	var suites results.JUnitSuites
	require.NoError(t, xml.Unmarshal(junit, &suites))
	assert.Equal(t, 2, suites.Tests)
	assert.Zero(t, suites.Failures)
	html, err := os.ReadFile(filepath.Join(dir, results.HTMLFile))
	require.NoError(t, err)
	assert.Contains(t, string(html), "buffered-shutdown")
	sum, err := results.ReadJSONFile(filepath.Join(dir, results.SummaryFile))
	require.NoError(t, err)
	assert.True(t, sum.Met())

	t.Run("report merges", func(t *testing.T) {
		merged := filepath.Join(t.TempDir(), "merged")
		code, stdout, stderr := truncheck(t, "report", dir, filepath.Join(dir, results.RecordsFile), "--out", merged)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "baseline")
		rr, err := results.ReadJSONFile(filepath.Join(merged, results.SummaryFile))
		require.NoError(t, err)
		assert.Equal(t, int64(len(recs)), rr.Total.Requests, "the same run given twice counts once")
		assert.Contains(t, stderr, "counted once")
	})

	t.Run("replay", func(t *testing.T) {
		again := filepath.Join(t.TempDir(), "replay")
		code, stdout, stderr := truncheck(t, "run", "--replay", filepath.Join(dir, results.RecordsFile), "--out", again, "buffered-shutdown")
		require.Equal(t, 0, code, stdout+stderr)
		recs2, _, err := results.ReadFile(filepath.Join(again, results.RecordsFile))
		require.NoError(t, err)
		require.Len(t, recs2, seen["buffered-shutdown"])
		for _, r := range recs2 {
			assert.Equal(t, "buffered-shutdown", r.Scenario)
			assert.Equal(t, recs[len(recs)-1].Seed, r.Seed)
		}
	})

	t.Run("gate with baseline", func(t *testing.T) {
		// buffered-shutdown expects detect and has under 20 requests: no
		// timing comparison applies, so the verdict cannot flake.
		code, stdout, stderr := truncheck(t, "run", "--gate", "--baseline", dir, "--out", t.TempDir(), "buffered-shutdown")
		require.Equal(t, 0, code, stdout+stderr)
		assert.Contains(t, stdout, "gate: pass")
	})

	t.Run("gate", func(t *testing.T) {
		code, stdout, stderr := truncheck(t, "run", "--gate", "--out", t.TempDir(), "buffered-shutdown")
		require.Equal(t, 0, code, stdout+stderr)
		assert.Contains(t, stdout, "gate: pass")
	})
}

func TestRunExpectationNotMet(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := truncheck(t, "run", "--scenarios", "testdata/undetectable.yaml", "close-after-no-faults", "--out", dir)
	assert.Equal(t, 1, code, stdout+stderr)
	assert.Contains(t, stdout, "FAIL detect: defect not detected")
	junit, err := os.ReadFile(filepath.Join(dir, results.JUnitFile))
	require.NoError(t, err, "JUnit is written when the run fails too")
	var suites results.JUnitSuites
	require.NoError(t, xml.Unmarshal(junit, &suites))
	assert.Equal(t, 1, suites.Failures)

	code, stdout, _ = truncheck(t, "run", "--gate", "--scenarios", "testdata/undetectable.yaml", "close-after-no-faults", "--out", t.TempDir())
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "gate: FAIL")
}

func TestCheckTargetNotAnswering(t *testing.T) {
	code, _, stderr := truncheck(t, "check", "--target", "http://127.0.0.1:1", "--out", t.TempDir(), "baseline")
	assert.Equal(t, exitEnv, code, "a server that is not there is the environment, not bad usage")
	oneLine(t, stderr, "did not answer")
}

// TestCheckAgainstImagesvc runs check against a server it did not start
// itself: an imagesvc on a Unix socket, its accounts as the server's view.
func TestCheckAgainstImagesvc(t *testing.T) {
	svc, err := imagesvc.New(imagesvc.Config{})
	require.NoError(t, err)
	sockDir, err := os.MkdirTemp("", "tc")
	require.NoError(t, err)
	defer os.RemoveAll(sockDir)
	srv := imagesvc.NewServer(svc, imagesvc.ServerConfig{UnixPath: filepath.Join(sockDir, "s.sock")})
	require.NoError(t, srv.Start())
	defer srv.Close()

	dir := t.TempDir()
	code, stdout, stderr := truncheck(t, "check", "--target", "unix:"+srv.UnixPath(),
		"--account-path", "/accounts/{id}", "--out", dir, "baseline", "slow-reader-unix")
	assert.Equal(t, 0, code, stdout+stderr)
	recs, _, err := results.ReadFile(filepath.Join(dir, results.RecordsFile))
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	for _, r := range recs {
		assert.Equal(t, "client-unix>target", r.Layout)
	}
}

func TestSoakShort(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := truncheck(t, "soak", "--duration", "3s", "--out", dir)
	require.Equal(t, 0, code, stdout+stderr)
	assert.Contains(t, stdout, "soak time up")
	recs, warnings, err := results.ReadFile(filepath.Join(dir, results.RecordsFile))
	require.NoError(t, err)
	assert.Empty(t, warnings)
	require.NotEmpty(t, recs)
	sum, err := results.ReadJSONFile(filepath.Join(dir, results.SummaryFile))
	require.NoError(t, err)
	assert.Equal(t, int64(len(recs)), sum.Total.Requests)
	assert.True(t, sum.Met())
}

// TestSoakKilled: a soak killed with SIGKILL mid-run leaves a records file
// whose records all parse (a torn last line at most, skipped with a
// warning); one stopped with SIGINT writes its summary and exits by its
// expectations.
func TestSoakKilled(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found: cannot build the binary")
	}
	bin := filepath.Join(t.TempDir(), "truncheck")
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))

	// soak starts a 10-minute soak and waits until it wrote n records.
	soak := func(t *testing.T, dir string, n int) *exec.Cmd {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		t.Cleanup(cancel)
		cmd := exec.CommandContext(ctx, bin, "soak", "--duration", "10m", "--out", dir, "baseline", "buffered-shutdown")
		require.NoError(t, cmd.Start())
		for lines := 0; lines < n; lines = countLines(filepath.Join(dir, results.RecordsFile)) {
			select {
			case <-ctx.Done():
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("soak wrote %d records before the deadline", lines)
			case <-time.After(100 * time.Millisecond):
			}
		}
		return cmd
	}

	t.Run("SIGKILL", func(t *testing.T) {
		dir := t.TempDir()
		cmd := soak(t, dir, 30)
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()

		recs, warnings, err := results.ReadFile(filepath.Join(dir, results.RecordsFile))
		require.NoError(t, err)
		assert.LessOrEqual(t, len(warnings), 1, "at most the torn last line: %v", warnings)
		assert.GreaterOrEqual(t, len(recs), 30)
		for _, r := range recs {
			assert.NoError(t, r.Validate())
		}
		_, err = os.Stat(filepath.Join(dir, results.SummaryFile))
		assert.ErrorIs(t, err, os.ErrNotExist, "killed before its summary")
		// report still renders the run from its records alone.
		code, stdout, stderr := truncheck(t, "report", dir)
		assert.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "baseline")
	})

	t.Run("SIGINT", func(t *testing.T) {
		dir := t.TempDir()
		cmd := soak(t, dir, 10)
		require.NoError(t, cmd.Process.Signal(os.Interrupt))
		var ee *exec.ExitError
		require.ErrorAs(t, cmd.Wait(), &ee)
		assert.Equal(t, exitInterrupted, ee.ExitCode(), "a stopped soak says it was stopped: 130, after writing everything")
		sum, err := results.ReadJSONFile(filepath.Join(dir, results.SummaryFile))
		require.NoError(t, err)
		recs, warnings, err := results.ReadFile(filepath.Join(dir, results.RecordsFile))
		require.NoError(t, err)
		assert.Empty(t, warnings, "a clean stop leaves no torn line")
		assert.Equal(t, int64(len(recs)), sum.Total.Requests)
		_, err = os.Stat(filepath.Join(dir, results.JUnitFile))
		assert.NoError(t, err)
	})
}

func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), results.MaxLineBytes)
	for sc.Scan() {
		n++
	}
	return n
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		give    string
		want    []string
		wantErr string
	}{
		{give: "srv --unix /tmp/s.sock", want: []string{"srv", "--unix", "/tmp/s.sock"}},
		{give: "  srv\t a  ", want: []string{"srv", "a"}},
		{give: `srv --name 'two words' "and \"more\"" a\ b`, want: []string{"srv", "--name", "two words", `and "more"`, "a b"}},
		{give: `srv ''`, want: []string{"srv", ""}},
		{give: `srv "$HOME"`, want: []string{"srv", "$HOME"}},
		{give: "", want: nil},
		{give: `srv 'open`, wantErr: "unterminated '"},
		{give: `srv "open`, wantErr: `unterminated "`},
		{give: `srv \`, wantErr: "trailing backslash"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := splitWords(tt.give)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestInterruptedRunFailsGate: a run interrupted before its scenarios
// started must not pass the gate on what little it ran: the scenarios it
// planned are kept as not met.
func TestInterruptedRunFailsGate(t *testing.T) {
	cat, err := loadCatalog(nil)
	require.NoError(t, err)
	first, err := cat.Get("baseline")
	require.NoError(t, err)
	second, err := cat.Get("buffered-shutdown")
	require.NoError(t, err)
	sess, err := startSession("run", t.TempDir(), []scenarios.Compiled{first, second}, &bytes.Buffer{}, false)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the signal arrived before the first scenario began
	_, err = sess.runOne(ctx, first, sess.options())
	require.Error(t, err)
	sess.interrupted([]scenarios.Compiled{second})

	var out bytes.Buffer
	rr := sess.result()
	require.NoError(t, sess.finish(&out, rr, nil))
	require.Len(t, rr.Scenarios, 2, "both planned scenarios are reported")
	assert.False(t, rr.Met())
	assert.True(t, results.Failed(results.Compare(rr, nil, results.DefaultTolerance())), "the gate fails")
	assert.Contains(t, out.String(), "not run: the run was interrupted")
}

// TestSoakFailsOnScenarioThatCannotStart: rounds that fail before they
// start (here: the reference fetch gets a 404) fail the soak.
func TestSoakFailsOnScenarioThatCannotStart(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := truncheck(t, "soak", "--duration", "2s", "--out", dir,
		"--scenarios", "testdata/unstartable.yaml", "missing-image")
	assert.Equal(t, 1, code, stdout+stderr)
}

// TestTrustInTheCommandLine: the verdict's exit codes are shared (report
// exits 1 on FAIL like run), a reused --out never shows the previous run's
// summary, a table that cannot be written is exit 3, --scenarios FILE
// alone runs the file's scenarios, and the gate's findings are in JUnit.
func TestTrustInTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	file := "testdata/undetectable.yaml"

	code, stdout, stderr := truncheck(t, "run", "--scenarios", file, "--out", dir)
	require.Equal(t, exitFailed, code, stdout+stderr)
	assert.Contains(t, stdout, "close-after-no-faults", "the file's scenario ran without being named")
	assert.NotContains(t, stdout, "baseline", "and only it")

	code, stdout, _ = truncheck(t, "report", dir)
	assert.Equal(t, exitFailed, code, "report exits 1 when its own verdict is FAIL")
	assert.Contains(t, stdout, "FAIL detect")
	assert.Regexp(t, `(?m)^  close-after-no-faults\s+client-tcp>svc\s+seed 7\s+no faults\s+expect detect truncated \(silent forbidden\)$`, stdout,
		"report shows the scenario as it ran")

	// The plan holds each scenario as it ran: a replay of the directory
	// needs neither the file nor the catalog, and makes the same requests.
	again := t.TempDir()
	code, stdout, stderr = truncheck(t, "run", "--replay", dir, "--out", again)
	require.Equal(t, exitFailed, code, stdout+stderr)
	assert.Contains(t, stdout, "close-after-no-faults")
	first, _, err := results.ReadFile(filepath.Join(dir, results.RecordsFile))
	require.NoError(t, err)
	second, _, err := results.ReadFile(filepath.Join(again, results.RecordsFile))
	require.NoError(t, err)
	require.Len(t, second, len(first))
	for i := range first {
		assert.Equal(t, first[i].Seed, second[i].Seed)
		assert.Equal(t, first[i].Layout, second[i].Layout)
	}

	// A second run into the same directory, killed before its summary: the
	// first run's summary must not pass for it. Simulate the kill by
	// starting the session and stopping at its records.
	cat, err := loadCatalog(nil)
	require.NoError(t, err)
	base, err := cat.Get("baseline")
	require.NoError(t, err)
	sess, err := startSession("run", dir, []scenarios.Compiled{base}, &bytes.Buffer{}, false)
	require.NoError(t, err)
	sess.close()
	_, err = os.Stat(filepath.Join(dir, results.SummaryFile))
	assert.ErrorIs(t, err, os.ErrNotExist, "the earlier run's summary is gone")
	code, stdout, _ = truncheck(t, "report", dir)
	assert.Equal(t, exitFailed, code, "a planned scenario with no records is not met")
	assert.Contains(t, stdout, "no requests were made")
	assert.NotContains(t, stdout, "close-after-no-faults")

	// The gate's findings reach JUnit; the table that cannot be written is exit 3.
	gated := t.TempDir()
	var errb bytes.Buffer
	code = realMain([]string{"run", "--gate", "--out", gated, "--scenarios", file}, failingWriter{}, &errb)
	assert.Equal(t, exitEnv, code, errb.String())
	assert.Contains(t, errb.String(), "writing the table")
	var suites results.JUnitSuites
	b, err := os.ReadFile(filepath.Join(gated, results.JUnitFile))
	require.NoError(t, err)
	require.NoError(t, xml.Unmarshal(b, &suites))
	var gate *results.JUnitCase
	for i := range suites.Suites[0].Cases {
		if suites.Suites[0].Cases[i].Name == "gate" {
			gate = &suites.Suites[0].Cases[i]
		}
	}
	require.NotNil(t, gate, "a gated run has a gate testcase")
	require.NotNil(t, gate.Failure)
	assert.Contains(t, gate.Failure.Text, "defect not detected")
	sum, err := results.ReadJSONFile(filepath.Join(gated, results.SummaryFile))
	require.NoError(t, err)
	assert.Equal(t, "FAIL", sum.Verdict)
	assert.True(t, sum.Gated)
	assert.NotEmpty(t, sum.Findings)
	assert.NotEmpty(t, sum.Version)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

// TestCheckStatedExpectation: check on a gateway that cuts every response
// and re-frames it cleanly. With --expect-length every response is
// truncated; with --require-e2e nothing passes as complete on framing.
func TestCheckStatedExpectation(t *testing.T) {
	body := adversary.Body(500_000)
	origin := httptest.NewServer(adversary.NewOrigin(body).Handler())
	defer origin.Close()
	gw := &adversary.Gateway{Upstream: origin.URL, CutOneIn: 1, Seed: 3}
	front := httptest.NewServer(gw)
	defer front.Close()
	defer func() {
		if gw.Client != nil {
			gw.Client.CloseIdleConnections()
		}
	}()
	file := filepath.Join(t.TempDir(), "file.yaml")
	require.NoError(t, os.WriteFile(file, []byte("name: the-file\nworkload: [{path: /file}]\ncount: 6\nexpect: {kind: complete}\n"), 0o644))

	checked := t.TempDir()
	code, stdout, stderr := truncheck(t, "check", "--target", front.URL, "--scenarios", file, "--out", checked,
		"--expect-length", strconv.Itoa(len(body)))
	assert.Equal(t, exitFailed, code, stderr)
	assert.Regexp(t, `(?m)^the-file\s+6\s+6 truncated\s+\?\s`, stdout, "truncated, silence unknown: the gateway keeps no account")
	plan, err := results.ReadPlan(checked)
	require.NoError(t, err)
	require.NotNil(t, plan.Target, "the plan names the server that was checked")
	assert.Equal(t, front.URL, plan.Target.URL)
	_, stdout, _ = truncheck(t, "report", checked)
	assert.Contains(t, stdout, "target "+front.URL+", no account (silence unknown)")

	code, stdout, stderr = truncheck(t, "check", "--target", front.URL, "--scenarios", file, "--out", t.TempDir(), "--require-e2e")
	assert.Equal(t, exitFailed, code, stderr)
	assert.NotRegexp(t, `(?m)^the-file\s+6\s+\d+ complete`, stdout)

	code, _, stderr = truncheck(t, "check", "--target", front.URL, "--out", t.TempDir(), "--expect-length", "5", "baseline")
	assert.Equal(t, exitUsage, code)
	oneLine(t, stderr, "sends 6 kinds of request")
}

// TestWithoutCgo: the command line built with CGO_ENABLED=0 has every
// subcommand that does not need the image service, runs scenarios on the
// pure-Go bodies origin, and says plainly how to get the image service.
func TestWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	bin := filepath.Join(t.TempDir(), "truncheck")
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	built, err := cmd.CombinedOutput()
	require.NoError(t, err, string(built))

	run := func(args ...string) (int, string) {
		c := exec.Command(bin, args...)
		out, err := c.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return code, string(out)
	}
	code, out := run("serve", "--listen", "http://127.0.0.1:0")
	assert.Equal(t, exitEnv, code)
	assert.Contains(t, out, "built without cgo")
	assert.Contains(t, out, "CGO_ENABLED=1")
	code, out = run("run", "baseline", "--out", t.TempDir())
	assert.Equal(t, exitEnv, code, out)
	assert.Contains(t, out, "the image service (bimg on libvips) needs it")

	file := filepath.Join(t.TempDir(), "bodies.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`name: bodies-slow-reader
origin: bodies
topology: {hops: [{network: unix, client_faults: slow-read=64KiB/1ms}]}
workload: [{path: /bytes/3MB}, {path: "/bytes/1MiB?stream=1"}]
count: 8
expect: {kind: complete}
`), 0o644))
	code, out = run("run", "--scenarios", file, "--out", t.TempDir())
	assert.Equal(t, exitOK, code, out)
	assert.Regexp(t, `(?m)^bodies-slow-reader\s+8\s+8 complete\s+0\s+-\s+e2e 8`, out)
	code, out = run("list")
	assert.Equal(t, exitOK, code, out)
}

// TestSurveyOneServer runs the survey on the Go control (no package to
// install): the table on stdout and in survey.md, the grid in the plan,
// the summary and the report, the server stopped at the end.
func TestSurveyOneServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Go control")
	}
	out := t.TempDir()
	code, stdout, stderr := truncheck(t, "survey", "--servers", "go", "--conditions", "slow-reader-64k", "--no-install", "--require", "go", "--out", out)
	require.Equal(t, 0, code, stderr+stdout)
	for _, want := range []string{
		"| server | version | baseline | slow-reader-64k |",
		"| **go** | go1.",
		"| 16 ok | 8 ok |",
		"survey: every control passed",
		"wall time: ",
	} {
		assert.Contains(t, stdout, want)
	}
	md, err := os.ReadFile(filepath.Join(out, surveyTable))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| **go** |")
	plan, err := results.ReadPlan(out)
	require.NoError(t, err)
	require.NotNil(t, plan.Grid, "the plan carries the table")
	assert.Equal(t, "survey", plan.Command)
	rr, _, err := results.Load(out)
	require.NoError(t, err)
	require.NotNil(t, rr.Grid)
	assert.Equal(t, "go-baseline", rr.Grid.Rows[0].Cells[0].Scenario)
	html, err := os.ReadFile(filepath.Join(out, results.HTMLFile))
	require.NoError(t, err)
	assert.Contains(t, string(html), `<h2 id="grid">`)
}

// TestQueuedResetNote: realworld warns before TCP restart scenarios when
// the kernel will reset connections queued on a closing listener, and only
// then.
func TestQueuedResetNote(t *testing.T) {
	cat := scenarios.Builtin()
	pick := func(names ...string) []scenarios.Compiled {
		var out []scenarios.Compiled
		for _, n := range names {
			c, err := cat.Get(n)
			require.NoError(t, err)
			out = append(out, c)
		}
		return out
	}
	assert.Empty(t, queuedResetNote(pick("hyper-early-answer-tcp", "hyper-graceful-restart")), "no restart over TCP")
	note := queuedResetNote(pick("hyper-early-answer", "hyper-graceful-restart-tcp-fixed"))
	b, err := os.ReadFile(migrateReqPath)
	if err == nil && strings.TrimSpace(string(b)) != "0" {
		assert.Empty(t, note, "the kernel migrates queued connections")
	} else {
		assert.Contains(t, note, "sysctl -w net.ipv4.tcp_migrate_req=1")
	}
}
