package imagesvc

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestErrorsBeforeTheHandlerAreJSON: the responses net/http writes itself,
// before any handler runs, come in the service's JSON shape with an honest
// Content-Length, over TCP and the Unix socket, like every other error; a
// valid request on the same kind of connection still gets its 200, and the
// service's own errors are left alone.
func TestErrorsBeforeTheHandlerAreJSON(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	tests := []struct {
		name       string
		raw        string
		wantStatus int
		wantError  string // prefix of the JSON error
	}{
		{"headers too large", "GET /images HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 80<<10) + "\r\n\r\n",
			431, "request header fields too large"},
		{"garbage request line", "HELLO\r\n\r\n", 400, "bad request"},
		{"no Host header", "GET /images HTTP/1.1\r\n\r\n", 400, "bad request: missing required Host header"},
		{"bad header name", "GET /images HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400, "bad request"},
		{"HTTP/2.0 request line", "GET /images HTTP/2.0\r\nHost: x\r\n\r\n", 505, "unsupported HTTP version"},
		{"unknown transfer coding", "POST /transform HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported transfer encoding"},
		{"unknown expectation", "GET /images HTTP/1.1\r\nHost: x\r\nExpect: wonders\r\n\r\n", 417, "unsupported Expect header"},
		{"unclean path (the mux would redirect in HTML)", "GET /x/../images HTTP/1.1\r\nHost: x\r\n\r\n", 404, "no such route"},
		{"method not served", "DELETE /images HTTP/1.1\r\nHost: x\r\n\r\n", 404, "no such route"},
		{"the service's own 400 is untouched", "GET /images/photo-small?ops=sharpen HTTP/1.1\r\nHost: x\r\n\r\n", 400, `operation 1: unknown operation "sharpen"`},
		{"twin: valid request", "GET /images HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200, ""},
	}
	for _, network := range []struct{ name, addr string }{{"tcp", e.srv.TCPAddr()}, {"unix", e.socketPath}} {
		for _, tt := range tests {
			t.Run(network.name+"/"+tt.name, func(t *testing.T) {
				resp, body := rawRequest(t, network.name, network.addr, tt.raw, nil, false)
				require.Equal(t, tt.wantStatus, resp.StatusCode, "%s", body)
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				assert.Equal(t, int64(len(body)), resp.ContentLength)
				if tt.wantError == "" {
					var list []ImageInfo
					require.NoError(t, json.Unmarshal(body, &list))
					assert.NotEmpty(t, list)
					return
				}
				var ej errJSON
				require.NoError(t, json.Unmarshal(body, &ej), "%s", body)
				assert.True(t, strings.HasPrefix(ej.Error, tt.wantError), "error %q", ej.Error)
				assert.NotEmpty(t, ej.Accepted)
			})
		}
	}
}

// TestErrorConnKeepsConnAbilities: the wrapper still offers the wrapped
// connection's ID (accounts) and CloseWrite (half-close: the peer reads EOF
// while it can still write).
func TestErrorConnKeepsConnAbilities(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	assert.Equal(t, "", (&jsonErrorConn{Conn: a}).ID())
	assert.ErrorIs(t, (&jsonErrorConn{Conn: a}).CloseWrite(), errors.ErrUnsupported)
	assert.Equal(t, "c-1", (&jsonErrorConn{Conn: idConn{Conn: a, id: "c-1"}}).ID())

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	server, err := jsonErrorListener{Listener: l}.Accept()
	require.NoError(t, err)
	defer server.Close()
	require.NoError(t, server.(*jsonErrorConn).CloseWrite())
	n, err := client.Read(make([]byte, 1))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, io.EOF)
	_, err = client.Write([]byte("x"))
	assert.NoError(t, err, "the other direction stays open")
}
