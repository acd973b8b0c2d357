package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/targets/adversary"
)

// The tests in this file run the built binary the way a user does: real
// processes, real sockets, signals, a shell's completion.

// cliServeEnv makes the test binary a server for check's restart and
// reload conditions: "SOCK,MODE". It serves the bodies origin on the Unix
// socket SOCK; on SIGHUP, MODE cut closes every connection serving a
// response (a careless reload), graceful leaves them be; on SIGTERM it
// shuts down gracefully.
const cliServeEnv = "TRUNCHECK_TEST_CLI_SERVE"

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// builtBinary builds truncheck once for the package's tests.
func builtBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	binOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			binErr = err
			return
		}
		if binDir, binErr = os.MkdirTemp("", "truncheck-cli"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "truncheck")
		out, err := exec.Command(gobin, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = &buildError{err, string(out)}
		}
	})
	require.NoError(t, binErr)
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// removeBinary is TestMain's cleanup.
func removeBinary(int) {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// cli runs the binary with args (and extra environment), bounded in time.
func cli(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, builtBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("truncheck %q: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// serveCLITest is the server cliServeEnv asks for.
func serveCLITest(cfg string) int {
	sock, mode, ok := strings.Cut(cfg, ",")
	if !ok {
		return 2
	}
	return adversary.ServeReloading(sock, adversary.ReloadMode(mode), "")
}

// fileServer serves a directory holding big.bin (size bytes) on loopback
// TCP, with a write timeout when impatient is set.
func fileServer(t *testing.T, size int, writeTimeout time.Duration) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.bin"), bytes.Repeat([]byte("0123456789abcdef"), size/16), 0o644))
	srv := httptest.NewUnstartedServer(http.FileServer(http.Dir(dir)))
	srv.Config.WriteTimeout = writeTimeout
	srv.Start()
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// TestCLIHuntOnUserPaths: a first run on someone else's server needs no
// scenario file: check hunts on the given path, a line per condition as it
// ends, and the summary says which conditions found something.
func TestCLIHuntOnUserPaths(t *testing.T) {
	steady := fileServer(t, 1<<20, 0)
	code, stdout, stderr := cli(t, nil, "check", "--target", steady.URL, "--path", "/big.bin",
		"--conditions", "baseline,slow-reader-16k,tiny-writes", "--count", "4", "--out", t.TempDir())
	require.Equal(t, exitOK, code, stdout+stderr)
	assert.Contains(t, stdout, "hunt: nothing found under 3 conditions (baseline, slow-reader-16k, tiny-writes)")
	assert.Regexp(t, `(?m)^\[1/3\] PASS hunt-baseline +all 4 responses verified`, stderr, "a line per condition as it ends")
	assert.NotContains(t, stdout, "/images/", "nothing of our own service is requested")

	// A server whose write timeout is shorter than a slow reader's download
	// cuts it: found under the slow readers, not under the baseline. The
	// margins are wide (16 MiB: a fifth of a second at loopback speed, 10 s
	// at the fastest slow reader, against a 2 s timeout) so that a loaded
	// machine cannot blur them.
	impatient := fileServer(t, 16<<20, 2*time.Second)
	code, stdout, stderr = cli(t, nil, "check", "--target", impatient.URL, "--path", "/big.bin",
		"--conditions", "baseline,slow-reader-16k", "--count", "4", "--out", t.TempDir())
	require.Equal(t, exitFailed, code, stdout+stderr)
	assert.Contains(t, stdout, "hunt: 1 of 2 conditions found something:")
	assert.Regexp(t, `(?m)^  slow-reader-16k +4 of 4 responses did not verify \(4 truncated; silent=\? \(4 with no account\)\)`, stdout,
		"cut by the server's own timeout; with no account its silence is unknown")
	assert.Contains(t, stdout, "  nothing under: baseline")
}

// TestCLIServerCommandAfterDashes: the server's command after --, started
// and reloaded by check. Its careless reload (it drops the responses in
// flight on SIGHUP) is found; the baseline, the same server without
// reloads, finds nothing. (A restart without --overlap can reset a
// connection queued in the old process: the harness's own tests cover
// restarts.)
func TestCLIServerCommandAfterDashes(t *testing.T) {
	sock := filepath.Join(shortDir(t), "s.sock")
	env := []string{cliServeEnv + "=" + sock + ",cut"}
	code, stdout, stderr := cli(t, env, "check", "--target", "unix:"+sock, "--path", "/bytes/2MiB", "--ready-path", "/bytes/1",
		"--conditions", "baseline,reload", "--reload-signal", "HUP", "--restart-every", "150ms", "--count", "8",
		"--out", t.TempDir(), "--", os.Args[0], "-test.run=^$")
	require.Equal(t, exitFailed, code, stdout+stderr)
	assert.Contains(t, stdout, "hunt: 1 of 2 conditions found something:")
	assert.Regexp(t, `(?m)^  reload +\d+ of 8 responses did not verify`, stdout)
	assert.Contains(t, stdout, "  nothing under: baseline")
}

// shortDir is a directory with a path short enough for a Unix socket.
func shortDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "tc")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestCLIInterruptExits130: SIGINT gives exit 130 from every command that
// runs until stopped or takes long, after it wrote what it had.
func TestCLIInterruptExits130(t *testing.T) {
	bin := builtBinary(t)
	upstream := fileServer(t, 1<<20, 0)
	dir := t.TempDir()
	tests := []struct {
		name  string
		args  []string
		ready func(line string) bool // a line of stdout that says it runs
		file  string                 // or a file that appears
	}{
		{name: "proxy", args: []string{"proxy", "--upstream", upstream.URL}, ready: func(l string) bool { return strings.HasPrefix(l, "proxy http://") }},
		{name: "serve", args: []string{"serve", "--listen", "http://127.0.0.1:0"}, ready: func(l string) bool { return strings.HasPrefix(l, "listening http://") }},
		{name: "run", args: []string{"run", "--duration", "2m", "--out", filepath.Join(dir, "run"), "baseline"}, file: filepath.Join(dir, "run", results.RecordsFile)},
		{name: "check", args: []string{"check", "--target", upstream.URL, "--path", "/big.bin", "--count", "100000", "--out", filepath.Join(dir, "check")},
			file: filepath.Join(dir, "check", results.RecordsFile)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tt.args...)
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			var stderr lockedBuffer // written by exec's copier while the test reads it
			cmd.Stderr = &stderr
			require.NoError(t, cmd.Start())
			lines := bufio.NewScanner(stdout)
			if tt.ready != nil {
				for lines.Scan() && !tt.ready(lines.Text()) {
				}
			} else {
				for {
					if st, err := os.Stat(tt.file); err == nil && st.Size() > 0 {
						break
					}
					require.NoError(t, ctx.Err(), "never started: %s", stderr.String())
					time.Sleep(20 * time.Millisecond)
				}
			}
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			require.NoError(t, cmd.Process.Signal(os.Interrupt))
			err = cmd.Wait()
			assert.Equal(t, exitInterrupted, cmd.ProcessState.ExitCode(), "%v: %s", err, stderr.String())
			if tt.file != "" {
				_, err := os.Stat(filepath.Join(filepath.Dir(tt.file), results.SummaryFile))
				assert.NoError(t, err, "the summary is written before exit 130")
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCLICompletion: the bash script completes commands, flags and
// scenario names in a real bash; zsh loads its script and defines the
// completion function.
func TestCLICompletion(t *testing.T) {
	bin := builtBinary(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	complete := func(words ...string) string {
		script := `source <("$BIN" completion bash) || exit 9
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _truncheck; echo "${COMPREPLY[*]}"`
		cmd := exec.Command(bash, append([]string{"-c", script, "bash"}, words...)...)
		cmd.Env = append(os.Environ(), "BIN="+bin)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		return strings.TrimSpace(string(out))
	}
	assert.Equal(t, "run", complete("truncheck", "ru"))
	assert.Equal(t, "--gate --gate-min-requests --gate-p99 --gate-require-all --gate-throughput", complete("truncheck", "run", "--gat"))
	assert.Equal(t, "buffered-shutdown buffered-shutdown-fixed buffered-shutdown-tcp", complete("truncheck", "run", "buffered-sh"))
	assert.Empty(t, complete("truncheck", "check", "--out", ""), "a flag's value: the shell completes file names")
	assert.Equal(t, "bash", complete("truncheck", "completion", "ba"))

	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Log("zsh not installed: its script is not loaded here (CI installs zsh)")
		return
	}
	cmd := exec.Command(zsh, "-c", `autoload -Uz compinit && compinit -u -D && source <("$BIN" completion zsh) && whence -w _truncheck`)
	cmd.Env = append(os.Environ(), "BIN="+bin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "_truncheck: function", strings.TrimSpace(string(out)))
}
