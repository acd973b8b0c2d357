package results

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriterRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), RecordsFile)
	w, err := NewWriter(path, WriterConfig{})
	require.NoError(t, err)
	want := []Record{rec("a", 1, Complete), rec("a", 2, Truncated), rec("b", 3, Reset)}
	for i := range want {
		require.NoError(t, w.Write(&want[i]))
	}
	assert.Equal(t, int64(3), w.Count())
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "second Close is a no-op")
	assert.ErrorIs(t, w.Write(&want[0]), ErrClosed)

	got, warns, err := ReadFile(path)
	require.NoError(t, err)
	assert.Empty(t, warns)
	require.Len(t, got, len(want))
	for i := range want {
		assert.True(t, want[i].Start.Equal(got[i].Start))
		got[i].Start = want[i].Start // monotonic/location details aside
	}
	assert.Equal(t, want, got)

	// The JSON keys are snake_case and carry their units.
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, key := range []string{`"request_id"`, `"latency_ns"`, `"ttfb_ns"`, `"digest_want"`, `"server_account"`, `"at_ns"`, `"bytes_written"`} {
		assert.Contains(t, string(raw), key)
	}
	assert.Equal(t, 3, bytes.Count(raw, []byte("\n")))
}

func TestWriterRejectsBadRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), RecordsFile)
	w, err := NewWriter(path, WriterConfig{})
	require.NoError(t, err)
	bad := rec("a", 1, "nope")
	assert.Error(t, w.Write(&bad))
	good := rec("a", 2, Complete)
	require.NoError(t, w.Write(&good))
	require.NoError(t, w.Close())
	got, _, err := ReadFile(path)
	require.NoError(t, err)
	require.Len(t, got, 1, "the bad record left no trace")
}

func TestWriterConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), RecordsFile)
	w, err := NewWriter(path, WriterConfig{SyncEvery: time.Millisecond})
	require.NoError(t, err)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := rec(fmt.Sprintf("s%d", g), int64(i), Truncated)
				assert.NoError(t, w.Write(&r))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, w.Close())
	got, warns, err := ReadFile(path)
	require.NoError(t, err)
	assert.Empty(t, warns)
	assert.Len(t, got, writers*each)
	perScenario := map[string]int{}
	for _, r := range got {
		perScenario[r.Scenario]++
	}
	for g := range writers {
		assert.Equal(t, each, perScenario[fmt.Sprintf("s%d", g)])
	}
}

func TestWriterBadConfig(t *testing.T) {
	_, err := NewWriter(filepath.Join(t.TempDir(), "x.jsonl"), WriterConfig{SyncEvery: -1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SyncEvery")
	_, err = NewWriter(filepath.Join(t.TempDir(), "no", "such", "dir.jsonl"), WriterConfig{})
	require.Error(t, err)
}

// writeLines writes records then raw text to a file.
func writeLines(t *testing.T, recs []Record, tail string) string {
	t.Helper()
	var b bytes.Buffer
	enc := NewEncoder(&b)
	for i := range recs {
		require.NoError(t, enc(&recs[i]))
	}
	b.WriteString(tail)
	path := filepath.Join(t.TempDir(), RecordsFile)
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	return path
}

func TestReadTornAndCorrupt(t *testing.T) {
	two := []Record{rec("a", 1, Complete), rec("a", 2, Truncated)}
	tests := []struct {
		name      string
		tail      string
		wantN     int
		wantWarn  string
		wantErr   string
		afterRecs bool // a whole record follows the tail
	}{
		{name: "clean", wantN: 2},
		{name: "torn last line", tail: `{"scenario":"a","seq":3,"outc`, wantN: 2, wantWarn: ":3: torn last line"},
		{name: "last line whole without newline", tail: `{"scenario":"a","seq":3,"outcome":"reset","expected":1,"received":0,"offset":0,"start":"2026-11-27T02:00:00Z","latency_ns":5}`, wantN: 3},
		{name: "blank lines", tail: "\n\n", wantN: 2},
		{name: "corrupt middle line", tail: "{oops\n", afterRecs: true, wantErr: ":3: bad record"},
		{name: "bad outcome in middle", tail: `{"scenario":"a","outcome":"meh"}` + "\n", afterRecs: true, wantErr: `:3: bad record: unknown outcome "meh"`},
		{name: "missing scenario", tail: `{"outcome":"complete"}` + "\n", afterRecs: true, wantErr: "empty scenario"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tail := tt.tail
			if tt.afterRecs {
				var b bytes.Buffer
				r := rec("a", 9, Complete)
				require.NoError(t, NewEncoder(&b)(&r))
				tail += b.String()
			}
			path := writeLines(t, append([]Record(nil), two...), tail)
			got, warns, err := ReadFile(path)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), path+":")
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Len(t, got, tt.wantN)
			if tt.wantWarn == "" {
				assert.Empty(t, warns)
				return
			}
			require.Len(t, warns, 1)
			assert.Contains(t, warns[0].String(), path+tt.wantWarn)
		})
	}
}

func TestReadMissingFile(t *testing.T) {
	_, _, err := ReadFile(filepath.Join(t.TempDir(), "nope.jsonl"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func TestReadLineTooLong(t *testing.T) {
	big := `{"scenario":"` + strings.Repeat("x", MaxLineBytes+10) + `"}` + "\n"
	_, _, err := Read(strings.NewReader(big), "big.jsonl")
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrLineTooLong)
	assert.Contains(t, err.Error(), "big.jsonl:1")
}

func TestWriterCutsTornTailOnReopen(t *testing.T) {
	path := writeLines(t, []Record{rec("a", 1, Complete)}, `{"scenario":"a","se`)
	w, err := NewWriter(path, WriterConfig{})
	require.NoError(t, err)
	r := rec("a", 2, Reset)
	require.NoError(t, w.Write(&r))
	require.NoError(t, w.Close())
	got, warns, err := ReadFile(path)
	require.NoError(t, err, "the new record must not glue onto the torn one")
	assert.Empty(t, warns)
	require.Len(t, got, 2)
	assert.Equal(t, int64(2), got[1].Seq)
}

func TestWriterTornTailOnlyLine(t *testing.T) {
	path := writeLines(t, nil, `{"scenario"`)
	w, err := NewWriter(path, WriterConfig{})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Zero(t, st.Size())
}

const killChildEnv = "RESULTS_TEST_KILL_CHILD"

// killChild is the child process of TestWriterSurvivesSIGKILL: it writes
// records until killed (bounded: 20 s or 2M records, in case the parent
// dies first), with the defaults a soak uses. After each Write returns it
// prints the record's seq on stdout: the parent then knows what the writer
// acknowledged before the kill, and that every one of those is on disk.
func killChild(path string) int {
	w, err := NewWriter(path, WriterConfig{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := int64(0); i < 2_000_000 && time.Now().Before(deadline); i++ {
		o := Complete
		if i%3 == 0 {
			o = Truncated
		}
		r := rec("kill", i, o)
		r.Key = fmt.Sprintf("check-%d", i*7919) // lets the parent verify each record is whole
		if err := w.Write(&r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 4
		}
		fmt.Fprintf(os.Stdout, "%d\n", i) // unbuffered: one write(2) per ack
	}
	if err := w.Close(); err != nil {
		return 5
	}
	return 0
}

func TestWriterSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, RecordsFile)
	var stderr bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	cmd.Stderr = &stderr
	acks, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	// The last seq the child acknowledged; read until the pipe closes.
	lastAck := make(chan int64, 1)
	go func() {
		last := int64(-1)
		sc := bufio.NewScanner(acks)
		for sc.Scan() {
			if v, err := strconv.ParseInt(sc.Text(), 10, 64); err == nil {
				last = v
			}
		}
		lastAck <- last
	}()

	// Wait until the child has written a good amount (bounded).
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := os.Stat(path); err == nil && st.Size() > 256<<10 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	acked := <-lastAck // the pipe closes when the child dies
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "child must have been killed, stderr: %s", stderr.String())
	ws, ok := ee.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled(), "child exited by itself: %v, stderr: %s", err, stderr.String())

	var n int64
	warns, err := ScanFile(path, func(r *Record) error {
		if r.Seq != n {
			return fmt.Errorf("record %d out of order: seq %d", n, r.Seq)
		}
		if r.Key != fmt.Sprintf("check-%d", r.Seq*7919) || r.Scenario != "kill" {
			return fmt.Errorf("record %d not whole: %+v", n, r)
		}
		if r.Outcome == Truncated && len(r.Timeline) != 4 {
			return fmt.Errorf("record %d lost its timeline", n)
		}
		n++
		return nil
	})
	require.NoError(t, err)
	assert.LessOrEqual(t, len(warns), 1, "at most the last line is torn")
	assert.Greater(t, n, int64(100))
	assert.Greater(t, n, acked, "every record the writer acknowledged before the kill must be in the file")
	t.Logf("child killed after %d whole records (%d acknowledged); warnings: %v", n, acked+1, warns)

	// The next writer on the same file continues cleanly.
	w, err := NewWriter(path, WriterConfig{})
	require.NoError(t, err)
	r := rec("kill", n, Complete)
	r.Key = fmt.Sprintf("check-%d", n*7919)
	require.NoError(t, w.Write(&r))
	require.NoError(t, w.Close())
	got, warns, err := ReadFile(path)
	require.NoError(t, err)
	assert.Empty(t, warns)
	assert.Equal(t, n+1, int64(len(got)))
}
