package survey

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/truncheck/truncheck/harness/origin"
)

// The cutting upstream's routes, in front of BodyPath(n): the origin
// promises n bytes and sends CutAt(n) of them, then ends the connection
// with a clean FIN.
const (
	// CutCLPrefix: the head says Content-Length: n. A proxy can tell the
	// body was cut (the upstream closed before its promise).
	CutCLPrefix = "/cut-cl"
	// CutClosePrefix: no Content-Length, the body ends at the close. No
	// proxy can tell: a close-delimited body that ends early is a
	// shorter body, which is why end-to-end digests exist.
	CutClosePrefix = "/cut-close"
)

// CutAt is where the cutting upstream stops an n-byte body: a quarter of
// it, past any socket buffer for the survey's sizes.
func CutAt(n int64) int64 { return n / 4 }

// Upstream is the origin the survey's proxies forward to, on a loopback
// port of this process:
//
//	GET /bytes/{n}              origin.Bodies: the same bytes as Dir/www/bytes/n,
//	                            Content-Length, Content-Digest (Want-Content-Digest)
//	GET /cut-cl/bytes/{n}       200, Content-Length n, CutAt(n) bytes, FIN
//	GET /cut-close/bytes/{n}    200, no length, CutAt(n) bytes, FIN
type Upstream struct {
	// URL is "http://127.0.0.1:PORT", for Config.Upstream.
	URL  string
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// StartUpstream starts the upstream; Close stops it.
func StartUpstream() (*Upstream, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("survey upstream: %w", err)
	}
	bodies := origin.Bodies()
	mux := http.NewServeMux()
	mux.Handle("/", bodies.Handler)
	mux.HandleFunc("GET "+CutCLPrefix+"/bytes/{n}", func(w http.ResponseWriter, r *http.Request) { cut(w, r, true) })
	mux.HandleFunc("GET "+CutClosePrefix+"/bytes/{n}", func(w http.ResponseWriter, r *http.Request) { cut(w, r, false) })
	u := &Upstream{URL: "http://" + ln.Addr().String(), ln: ln, done: make(chan struct{}),
		srv: &http.Server{Handler: mux, ConnContext: bodies.ConnContext, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(u.done)
		_ = u.srv.Serve(ln)
	}()
	return u, nil
}

// Close stops the upstream, cutting what is still in flight after a
// short grace (a proxy may keep connections open).
func (u *Upstream) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := u.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = u.srv.Close()
	}
	<-u.done
	return err
}

// cut answers with CutAt(n) bytes of Body(n) on the raw connection and
// closes it: a head that promised n (withLength) or nothing.
func cut(w http.ResponseWriter, r *http.Request, withLength bool) {
	n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
	if err != nil || n < 0 || n > MaxFileSize {
		http.Error(w, "bad size (accepted: 0 to 4GiB in bytes)", http.StatusBadRequest)
		return
	}
	c, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	defer c.Close()
	head := "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n"
	if withLength {
		head += "Content-Length: " + strconv.FormatInt(n, 10) + "\r\n"
	}
	if id := r.Header.Get("X-Request-Id"); id != "" {
		head += "X-Request-Id: " + id + "\r\n"
	}
	_, _ = buf.WriteString(head + "\r\n")
	_, _ = io.Copy(buf, io.LimitReader(Body(n), CutAt(n)))
	_ = buf.Flush()
}
