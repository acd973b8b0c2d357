package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"sync"
	"time"
)

// ExpectContinueTimeout is how long [ExpectContinue] waits for `100
// Continue` before it sends the body anyway, as Go's own client does
// (http.Transport.ExpectContinueTimeout) and RFC 9110 allows: a server
// that ignores the expectation must still get the body.
const ExpectContinueTimeout = time.Second

// ExpectContinue returns a round trip for uploads sent with `Expect:
// 100-continue`: a minimal HTTP/1.1 client on one new connection from
// dial that sends the body after `100 Continue` (or after
// [ExpectContinueTimeout] without an answer), stops sending the moment a
// final answer comes, then hands the response (framing parsed by
// http.ReadResponse) to the verifier. Closing the body closes the
// connection.
//
// Why not net/http's client: when a server answers early (a cache hit,
// hyper's early-answer case), Go's Transport keeps sending the body, gets
// EPIPE from a server that stopped reading, and closes the connection
// under its own response: the client, not the server, would cut the body
// ("use of closed network connection" at the first read after the failed
// write). RFC 9110 §10.1.1 lets a client that receives a final status
// instead of 100 stop sending.
func ExpectContinue(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		ctx := req.Context()
		conn, err := dial(ctx, "tcp", req.URL.Host)
		if err != nil {
			return nil, err
		}
		trace := httptrace.ContextClientTrace(ctx)
		if trace != nil && trace.GotConn != nil {
			trace.GotConn(httptrace.GotConnInfo{Conn: conn})
		}
		up := &uploader{conn: conn, body: req.Body, done: make(chan struct{})}
		// The context ends the exchange by closing the connection.
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		fail := func(err error) (*http.Response, error) {
			stop()
			conn.Close()
			up.stop()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w (%w)", ctx.Err(), err)
			}
			return nil, err
		}
		bw := bufio.NewWriter(conn)
		fmt.Fprintf(bw, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.Method, req.URL.RequestURI(), req.URL.Host)
		h := req.Header.Clone()
		if req.ContentLength > 0 {
			h.Set("Content-Length", strconv.FormatInt(req.ContentLength, 10))
		}
		if req.Close {
			h.Set("Connection", "close")
		}
		if err := h.Write(bw); err != nil {
			return fail(err)
		}
		if _, err := bw.WriteString("\r\n"); err != nil {
			return fail(err)
		}
		if err := bw.Flush(); err != nil {
			return fail(err)
		}
		br := bufio.NewReaderSize(conn, 64<<10)
		if req.Body != nil {
			// Wait a while for an answer; a server that sends none gets the
			// body anyway, while the response is read.
			_ = conn.SetReadDeadline(time.Now().Add(ExpectContinueTimeout))
			_, perr := br.Peek(1)
			_ = conn.SetReadDeadline(time.Time{})
			if errors.Is(perr, os.ErrDeadlineExceeded) {
				up.start()
			}
		}
		first := true
		for {
			if first && trace != nil && trace.GotFirstResponseByte != nil {
				if _, err := br.Peek(1); err == nil {
					trace.GotFirstResponseByte()
				}
				first = false
			}
			resp, err := http.ReadResponse(br, req)
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return fail(err)
			}
			if resp.StatusCode == http.StatusContinue {
				up.start()
				continue
			}
			if resp.StatusCode >= 100 && resp.StatusCode < 200 {
				continue // other informational answers
			}
			// A final answer: stop sending what was not asked for.
			up.stop()
			resp.Body = &connBody{ReadCloser: resp.Body, conn: conn, stop: stop}
			return resp, nil
		}
	}
}

// uploader sends a request body once, in the background, and can be
// stopped mid-way (a final answer came).
type uploader struct {
	conn    net.Conn
	body    io.Reader
	once    sync.Once
	started bool
	done    chan struct{}
}

func (u *uploader) start() {
	if u.body == nil {
		return
	}
	u.once.Do(func() {
		u.started = true
		go func() {
			defer close(u.done)
			_, _ = io.Copy(u.conn, u.body)
		}()
	})
}

// stop ends a send in flight (a write deadline in the past) and waits for
// it; the connection's read side is untouched.
func (u *uploader) stop() {
	u.once.Do(func() {}) // never start after a stop
	if !u.started {
		return
	}
	select {
	case <-u.done:
	default:
		_ = u.conn.SetWriteDeadline(time.Unix(1, 0))
		<-u.done
	}
}

// connBody closes the connection with the body.
type connBody struct {
	io.ReadCloser
	conn net.Conn
	stop func() bool
	once sync.Once
}

func (b *connBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() {
		b.stop()
		b.conn.Close()
	})
	return err
}
