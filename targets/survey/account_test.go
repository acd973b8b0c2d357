package survey

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

func TestRequestAccount(t *testing.T) {
	const n = 16 << 20
	tests := []struct {
		name     string
		give     Request
		promised int64
		want     string // "complete", "noticed" or "unknown"
	}{
		{"its word and its count agree", Request{End: EndComplete, BodyBytes: n, WireBytes: -1}, n, "complete"},
		{"its word says cut", Request{End: EndCut, BodyBytes: n, WireBytes: -1}, n, "noticed"},
		{"its word says done, its count is short", Request{End: EndComplete, BodyBytes: 4 << 20, WireBytes: -1}, n, "noticed"},
		{"no word, every byte counted", Request{BodyBytes: n, WireBytes: -1}, n, "complete"},
		{"no word, a short count", Request{BodyBytes: 3, WireBytes: -1}, n, "noticed"},
		{"no word, nothing promised", Request{BodyBytes: 4 << 20, WireBytes: -1}, -1, "unknown"},
		{"its word, nothing promised", Request{End: EndComplete, BodyBytes: 4 << 20, WireBytes: -1}, -1, "complete"},
		{"head included, below the body", Request{BodyBytes: -1, WireBytes: n - 1}, n, "noticed"},
		{"head included, at least the body", Request{BodyBytes: -1, WireBytes: n + 200}, n, "unknown"},
		{"no counts, no word", Request{BodyBytes: -1, WireBytes: -1}, n, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.give.ID, tt.give.Status, tt.give.Line = "id", 200, "the line"
			acc := tt.give.Account(tt.promised)
			switch tt.want {
			case "unknown":
				assert.Nil(t, acc)
				return
			case "complete":
				require.NotNil(t, acc)
				assert.True(t, acc.Complete)
				assert.Empty(t, acc.WriteError)
			case "noticed":
				require.NotNil(t, acc)
				assert.False(t, acc.Complete)
				assert.NotEmpty(t, acc.WriteError, "says what the log showed")
			}
			assert.True(t, acc.Finished)
			assert.Contains(t, acc.Source, "the line")
			assert.Equal(t, "id", acc.RequestID)
		})
	}
}

func TestPromised(t *testing.T) {
	for give, want := range map[string]int64{
		"/bytes/16777216":                16777216,
		"/up/bytes/100?x=1":              100,
		"/up" + CutCLPrefix + "/bytes/9": 9,
		CutClosePrefix + "/bytes/9":      -1,
		"/early":                         -1,
		"/bytes/nope":                    -1,
	} {
		assert.Equal(t, want, Promised(give), give)
	}
}

// logCutter is a server on loopback that cuts every response (it
// promises size bytes, sends a quarter, closes) and then writes its
// access-log line in the Go control's shape, the way a real server logs
// when it is done: mode "all" says it sent every byte, "short" logs the
// bytes it did send, "none" writes no line at all.
func logCutter(t *testing.T, log string, size int64, mode string) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			return
		}
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
		_, _ = io.Copy(buf, io.LimitReader(Body(size), CutAt(size)))
		_ = buf.Flush()
		c.Close()
		id := r.Header.Get("X-Request-Id")
		var line string
		switch mode {
		case "all":
			line = fmt.Sprintf("%s\t200\t%d\t-\tGET\t%s\tcomplete\t100\n", id, size, r.URL.Path)
		case "short":
			line = fmt.Sprintf("%s\t200\t%d\t-\tGET\t%s\t-\t100\n", id, CutAt(size), r.URL.Path)
		default:
			return
		}
		time.Sleep(50 * time.Millisecond) // written a little after the client saw the end
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = f.WriteString(line)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestLogAccountsDecideSilence: the harness's verdict on responses a
// server cut, with the server's access log as its account: a log that
// says 200 and every byte makes the cut silent, one that counts the
// bytes actually sent makes it noticed, and no line leaves it unknown.
func TestLogAccountsDecideSilence(t *testing.T) {
	const size = 1 << 20
	for _, tt := range []struct {
		mode                     string
		silent, unknown, noticed int64
	}{
		{"all", 3, 0, 0},
		{"short", 0, 0, 3},
		{"none", 0, 3, 0},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "access.log")
			srv := logCutter(t, log, size, tt.mode)
			n := int64(size)
			sc, err := scenarios.Compile(scenarios.Scenario{
				Name: "log-" + tt.mode, TargetOnly: true,
				Topology:    scenarios.Topology{Mode: scenarios.Direct, Hops: []scenarios.Hop{{}}},
				Workload:    scenarios.Workload{Requests: []scenarios.Request{{Path: BodyPath(size), Want: &scenarios.Want{Length: &n}}}},
				Concurrency: 3, Count: 3,
				Expect: results.Expectation{Kind: results.ExpectDetect, Outcomes: []results.Outcome{results.Truncated}},
			})
			require.NoError(t, err)
			target := &harness.Target{URL: srv.URL, Accounts: LogAccounts(goControl(), Logs{Access: []string{log}}, Promised)}
			rep, err := harness.RunScenario(t.Context(), sc, harness.Options{Target: target})
			require.NoError(t, err)
			s := rep.Summary
			require.Equal(t, int64(3), s.Outcomes[results.Truncated], rep.Text())
			assert.Equal(t, tt.silent, s.Silent, rep.Text())
			assert.Equal(t, tt.unknown, s.SilenceUnknown, rep.Text())
			var noticed int64
			for _, f := range s.Failures {
				if f.Silence == results.SilenceNoticed {
					noticed++
					assert.Contains(t, f.ServerAccount.WriteError, "body bytes of")
				}
			}
			assert.Equal(t, tt.noticed, noticed, rep.Text())
		})
	}
}

// TestLogAccountsReadLinesAsTheyCome: lines appended between calls are
// found, a line still being written is not read half, a log written over
// from its start is read again, and ids never logged stay unknown.
func TestLogAccountsReadLinesAsTheyCome(t *testing.T) {
	log := filepath.Join(t.TempDir(), "access.log")
	acct := LogAccounts(goControl(), Logs{Access: []string{log}}, Promised)
	ctx := context.Background()
	acc, err := acct(ctx, "a")
	require.NoError(t, err)
	assert.Nil(t, acc, "no log yet")

	f, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString("a\t200\t100\t-\tGET\t/bytes/100\tcomplete\t1\nb\t200\t5")
	require.NoError(t, err)
	acc, err = acct(ctx, "a")
	require.NoError(t, err)
	require.NotNil(t, acc)
	assert.True(t, acc.Complete)
	acc, _ = acct(ctx, "b")
	assert.Nil(t, acc, "half a line is not read")

	_, err = f.WriteString("0\t-\tGET\t/bytes/100\tcut\t1\n")
	require.NoError(t, err)
	acc, _ = acct(ctx, "b")
	require.NotNil(t, acc)
	assert.False(t, acc.Complete)
	assert.Equal(t, int64(50), acc.BytesWritten)
	acc, _ = acct(ctx, "never")
	assert.Nil(t, acc)

	// A process that lost O_APPEND writes from offset 0, over what was there.
	w, err := os.OpenFile(log, os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer w.Close()
	_, err = w.WriteString("c\t200\t100\t-\tGET\t/bytes/100\tcomplete\t1\n")
	require.NoError(t, err)
	acc, _ = acct(ctx, "c")
	require.NotNil(t, acc, "a line written over the start of the log is found")
	assert.True(t, acc.Complete)
}
