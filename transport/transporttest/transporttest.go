// Package transporttest holds the servers the transport's tests, and tests
// of anything built on a transport proxy, keep writing: the way
// net/http/httptest serves handlers, it serves raw byte streams on
// loopback.
//
//	client ──TCP──> Upstream: size bytes, then a FIN; reads until the client closes
package transporttest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Upstream listens on 127.0.0.1 and writes size bytes on every
// connection it accepts, then a FIN, and reads what the client sends until
// the client closes. Every connection is bounded by a 20 s deadline. The
// listener closes, and its goroutines are waited for, when the test ends.
func Upstream(t testing.TB, size int) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("transporttest: %v", err)
	}
	body := make([]byte, size)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				_, _ = c.Write(body)
				_ = c.(*net.TCPConn).CloseWrite()
				_, _ = io.Copy(io.Discard, c)
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return l
}
