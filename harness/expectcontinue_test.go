package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

// TestExpectContinue checks the minimal client both ways: a server that
// reads the upload (100 Continue, then the body is sent and counted) and
// one that answers early (the body is never sent, the answer verifies).
func TestExpectContinue(t *testing.T) {
	body := testBody(200_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int64(-1)
		if r.URL.Query().Get("early") == "" {
			n, _ = io.Copy(io.Discard, r.Body)
		}
		w.Header().Set("X-Upload", strconv.FormatInt(n, 10))
		w.Header().Set("Content-Digest", crcDigest(body))
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	for _, tt := range []struct{ query, upload string }{{"", "100000"}, {"?early=1", "-1"}} {
		req, err := newRequest(t.Context(), srv.URL, scenarios.Request{Method: "POST", Path: "/up" + tt.query, Upload: 100_000, Expect100: true}, "x1")
		require.NoError(t, err)
		resp, err := ExpectContinue(dial)(req)
		require.NoError(t, err)
		assert.Equal(t, tt.upload, resp.Header.Get("X-Upload"))
		require.NoError(t, resp.Body.Close())

		req, err = newRequest(t.Context(), srv.URL, scenarios.Request{Method: "POST", Path: "/up" + tt.query, Upload: 100_000, Expect100: true}, "x2")
		require.NoError(t, err)
		vd := NewVerifier(5*time.Second, DefaultWantDigest).Verify(context.Background(), ExpectContinue(dial), req, Check{})
		assert.Equal(t, results.Complete, vd.Outcome, "%v", vd.Err)
		assert.Equal(t, int64(len(body)), vd.Received)
	}
}

// TestExpectContinueWithoutAnAnswer: a server that ignores Expect:
// 100-continue and waits for the body gets it after the timeout, as Go's
// own client would send it, and its answer verifies.
func TestExpectContinueWithoutAnAnswer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br) // never answers 100: reads the body as a plain server
		if err != nil {
			got <- -1
			return
		}
		n, _ := io.Copy(io.Discard, req.Body)
		got <- n
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
	}()
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", l.Addr().String())
	}
	req, err := newRequest(t.Context(), "http://"+l.Addr().String(), scenarios.Request{Method: "POST", Path: "/up", Upload: 300_000, Expect100: true}, "x3")
	require.NoError(t, err)
	vd := NewVerifier(5*time.Second, "").Verify(context.Background(), ExpectContinue(dial), req, Check{})
	assert.Equal(t, results.Complete, vd.Outcome, "%v", vd.Err)
	assert.Equal(t, int64(300_000), <-got, "the body was sent without a 100 Continue")
}
