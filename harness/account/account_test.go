package account

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truncheck/truncheck/results"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server runs h behind the middleware, accounts at /accounts/, on a real
// loopback socket with the connection-tracking listener.
func server(t *testing.T, h http.Handler, cfg func(*http.Server)) (*Store, string) {
	t.Helper()
	st := NewStore(0)
	mux := http.NewServeMux()
	mux.Handle("GET /accounts/", st.Handler())
	mux.Handle("/", st.Wrap(h))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: mux, ConnContext: ConnContext}
	if cfg != nil {
		cfg(srv)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(Listener(l)) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return st, "http://" + l.Addr().String()
}

func getAccount(t *testing.T, base, id string) results.Account {
	t.Helper()
	resp, err := http.Get(base + "/accounts/" + id + "?wait=5s")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var a results.Account
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	return a
}

func fetch(t *testing.T, base, path, id string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	require.NoError(t, err)
	if id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func TestAccountOfWholeResponses(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/promised":
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body)
		case "/streamed":
			_, _ = w.Write(body[:1000])
			w.(http.Flusher).Flush()
			_, _ = w.Write(body[1000:])
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte("short and stout"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		}
	})
	_, base := server(t, h, nil)
	tests := []struct {
		path    string
		status  int
		cl      int64
		written int64
	}{
		{"/promised", 200, int64(len(body)), int64(len(body))},
		{"/streamed", 200, -1, int64(len(body))},
		{"/teapot", 418, -1, 15},
		{"/empty", 204, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			id := "t" + tt.path[1:]
			resp, got := fetch(t, base, tt.path, id)
			assert.Equal(t, id, resp.Header.Get("X-Request-Id"), "echoed")
			a := getAccount(t, base, id)
			assert.Equal(t, id, a.RequestID)
			assert.Equal(t, tt.status, a.Status)
			assert.Equal(t, tt.cl, a.ContentLength)
			assert.Equal(t, tt.written, a.BytesWritten)
			assert.Equal(t, int64(len(got)), a.BytesWritten)
			assert.True(t, a.Finished)
			assert.True(t, a.Complete, a.WriteError)
			assert.Equal(t, "GET", a.Method)
			assert.Equal(t, tt.path, a.Path)
			assert.NotEmpty(t, a.ConnID)
			assert.False(t, a.Ended.Before(a.Started))
		})
	}
	// HEAD: no body, complete.
	req, _ := http.NewRequest(http.MethodHead, base+"/promised", nil)
	req.Header.Set("X-Request-Id", "head-1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	a := getAccount(t, base, "head-1")
	assert.True(t, a.Complete)
	assert.Zero(t, a.ContentLength)
	assert.Zero(t, a.BytesWritten)
}

// TestAccountSeesTheWriteTimeoutCut is the Go shape of the bug: a handler
// that ignores its Write error under a WriteTimeout, a slow reader. The
// client gets a short body; the account says the handler knew (a failed
// write): not silent. Its twin without the cut is complete.
func TestAccountSeesTheWriteTimeoutCut(t *testing.T) {
	body := make([]byte, 8<<20)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body) // the error is ignored, as the buggy handler does
	})
	_, base := server(t, h, func(s *http.Server) { s.WriteTimeout = 200 * time.Millisecond })
	req, _ := http.NewRequest(http.MethodGet, base+"/big", nil)
	req.Header.Set("X-Request-Id", "slow-1")
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	require.NoError(t, err)
	var n int64
	buf := make([]byte, 16<<10)
	for {
		m, err := resp.Body.Read(buf)
		n += int64(m)
		if err != nil {
			break
		}
		time.Sleep(5 * time.Millisecond) // ~3 MB/s: far slower than the timeout allows
	}
	resp.Body.Close()
	require.Less(t, n, int64(len(body)), "the write timeout cut the body")
	a := getAccount(t, base, "slow-1")
	assert.False(t, a.Complete)
	assert.NotEmpty(t, a.WriteError)
	assert.Less(t, a.BytesWritten, int64(len(body)))
	assert.Equal(t, int64(len(body)), a.ContentLength)
	assert.Contains(t, a.ConnEnd, "error", "the socket write failed below the handler")
}

func TestAccountHandlerErrors(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write(make([]byte, 10)) // promised 100, wrote 10
	})
	st, base := server(t, h, nil)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer c.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, base+"/short", nil)
	req.Header.Set("X-Request-Id", "short-1")
	if resp, err := c.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	a, ok := st.Wait(context.Background(), "short-1")
	require.True(t, ok)
	assert.False(t, a.Complete, "fewer bytes than promised")
	assert.Equal(t, int64(10), a.BytesWritten)

	tests := []struct {
		name, path string
		header     string
		want       int
	}{
		{"unknown id", "/accounts/nobody", "", http.StatusNotFound},
		{"bad wait", "/accounts/short-1?wait=1h", "", http.StatusBadRequest},
		{"negative wait", "/accounts/short-1?wait=-1s", "", http.StatusBadRequest},
		{"bad request id", "/x", "not valid!", http.StatusBadRequest},
		{"long request id", "/x", string(bytes.Repeat([]byte("a"), 129)), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, base+tt.path, nil)
			if tt.header != "" {
				req.Header.Set("X-Request-Id", tt.header)
			}
			resp, err := c.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.want, resp.StatusCode)
			var e struct{ Error, Accepted string }
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
			assert.NotEmpty(t, e.Error)
			assert.NotEmpty(t, e.Accepted)
		})
	}
	// A made-up id when none is sent.
	resp, err := c.Get(base + "/x")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Regexp(t, `^acct-[0-9a-f]{24}$`, resp.Header.Get("X-Request-Id"))
}

// TestAccountWaitsForTheHandler: ?wait= returns once the handler returned,
// and a running handler's account says not finished.
func TestAccountWaitsForTheHandler(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("begun"))
		w.(http.Flusher).Flush()
		<-release
		_, _ = w.Write([]byte(", done"))
	})
	st, base := server(t, h, nil)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, base+"/slow", nil)
		req.Header.Set("X-Request-Id", "wait-1")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	require.Eventually(t, func() bool { _, ok := st.Account("wait-1"); return ok }, 5*time.Second, 5*time.Millisecond)
	a, _ := st.Account("wait-1")
	assert.False(t, a.Finished)
	assert.False(t, a.Complete)
	close(release)
	a = getAccount(t, base, "wait-1")
	assert.True(t, a.Finished)
	assert.True(t, a.Complete)
	assert.Equal(t, int64(11), a.BytesWritten)
	http.DefaultClient.CloseIdleConnections()
}

func TestStoreBounded(t *testing.T) {
	st := NewStore(2)
	h := st.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, id := range []string{"a", "b", "c"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("X-Request-Id", id)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	_, ok := st.Account("a")
	assert.False(t, ok, "the oldest is forgotten")
	for _, id := range []string{"b", "c"} {
		a, ok := st.Account(id)
		require.True(t, ok)
		assert.True(t, a.Complete)
	}
}

// TestConformMiddleware: the middleware follows the protocol it documents;
// TestConformCatchesViolations: the checker can fail.
func TestConformMiddleware(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4096")
		_, _ = w.Write(make([]byte, 4096))
	})
	_, base := server(t, h, nil)
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	assert.NoError(t, Conform(t.Context(), c, base, "/file", "/accounts/{id}"))
}

func TestConformCatchesViolations(t *testing.T) {
	// A server that publishes accounts that lie: it never says complete,
	// does not echo the id, and answers every account path 200.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(results.Account{RequestID: r.PathValue("id"), Status: 200, ContentLength: 10, BytesWritten: 3})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(make([]byte, 10)) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	err := Conform(t.Context(), srv.Client(), srv.URL, "/file", "/accounts/{id}")
	require.Error(t, err)
	for _, want := range []string{"echoes X-Request-Id", "not finished", "not complete", "bytes_written 3", "unknown id answered 200", "wait=forever answered 200", "bad X-Request-Id answered 200"} {
		assert.Contains(t, err.Error(), want)
	}
}
