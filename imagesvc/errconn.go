package imagesvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
)

// net/http answers a few malformed requests itself, before any handler runs,
// by writing a plain-text response straight to the connection: 431 (headers
// too large), 400 (a malformed request line or header, no Host), 505 (an HTTP
// version it does not speak), 501 (a transfer coding it does not know), and
// 417 (an Expect other than 100-continue, from the response writer). There
// is no hook for them, so the service's listeners wrap each connection and
// rewrite exactly those writes into its JSON error shape. The signature is
// net/http's own: a whole response in one write, with
// "Content-Type: text/plain; charset=utf-8" and "Connection: close" (the
// service itself never sends text/plain), or a 417 head (the service never
// answers 417).

// serverErrorHeaders is how net/http's own error responses end their head.
var serverErrorHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

// jsonErrorListener wraps every accepted connection in a jsonErrorConn.
type jsonErrorListener struct {
	net.Listener
	maxHeaderBytes int
}

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c, maxHeaderBytes: l.maxHeaderBytes}, nil
}

// jsonErrorConn rewrites net/http's own error responses (see above). It keeps
// the abilities of the connection it wraps that the server and the service
// look for: ID (accounts) and CloseWrite (half-close).
type jsonErrorConn struct {
	net.Conn
	maxHeaderBytes int
}

func (c *jsonErrorConn) Write(p []byte) (int, error) {
	if out, ok := rewriteServerError(p, c.maxHeaderBytes); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// ID is the wrapped connection's ID ("" when it has none).
func (c *jsonErrorConn) ID() string {
	if idc, ok := c.Conn.(interface{ ID() string }); ok {
		return idc.ID()
	}
	return ""
}

// CloseWrite half-closes when the wrapped connection can.
func (c *jsonErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// rewriteServerError turns one of net/http's own error responses into the
// JSON shape; ok is false for every other write.
func rewriteServerError(p []byte, maxHeaderBytes int) (out []byte, ok bool) {
	const prefix = "HTTP/1.1 "
	if len(p) > 2048 || len(p) < len(prefix)+3 || !bytes.HasPrefix(p, []byte(prefix)) {
		return nil, false
	}
	code, err := strconv.Atoi(string(p[len(prefix) : len(prefix)+3]))
	if err != nil || code < 400 {
		return nil, false
	}
	var detail string
	switch {
	case code == http.StatusExpectationFailed:
	case bytes.Contains(p, serverErrorHeaders):
		_, body, _ := bytes.Cut(p, serverErrorHeaders)
		detail = string(body)
	default:
		return nil, false
	}
	var eb errorBody
	switch code {
	case http.StatusRequestHeaderFieldsTooLarge:
		eb = errorBody{Error: "request header fields too large",
			Accepted: fmt.Sprintf("a request line and headers of at most %d bytes", maxHeaderBytes)}
	case http.StatusHTTPVersionNotSupported:
		eb = errorBody{Error: "unsupported HTTP version", Accepted: "HTTP/1.0 or HTTP/1.1"}
	case http.StatusNotImplemented:
		eb = errorBody{Error: "unsupported transfer encoding", Accepted: "Transfer-Encoding: chunked, or a Content-Length"}
	case http.StatusExpectationFailed:
		eb = errorBody{Error: "unsupported Expect header", Accepted: "Expect: 100-continue, or no Expect header"}
	default:
		// "400 Bad Request: missing required Host header": keep net/http's
		// reason, which is fixed text (never the caller's bytes).
		msg := "bad request"
		if _, reason, found := bytes.Cut([]byte(detail), []byte(": ")); found {
			msg += ": " + string(reason)
		}
		eb = errorBody{Error: msg, Accepted: "an HTTP/1.1 request: request line, headers with a Host, CRLF"}
	}
	body, err := json.Marshal(eb)
	if err != nil {
		return nil, false
	}
	body = append(body, '\n')
	head := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		code, http.StatusText(code), len(body))
	return append([]byte(head), body...), true
}
