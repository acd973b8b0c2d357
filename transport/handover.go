package transport

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Handover is one listening socket shared by successive server
// generations, the in-process twin of a socket passed from the old
// process to the new one in a zero-downtime deploy. An accept loop queues
// the socket's connections; only the current generation's view takes them
// from the queue, so a new generation takes over the moment it is made
// and the old one is left with the connections it already took. Closing a
// view (what http.Server.Shutdown does to its listeners) leaves the
// socket open; only Close closes it.
type Handover struct {
	l    net.Listener
	done chan struct{} // closed when the accept loop returned

	mu     sync.Mutex
	wake   chan struct{} // closed and replaced on every change below
	queue  []net.Conn    // accepted, not yet taken by a generation
	cur    *HandoverView
	err    error // why the accept loop returned
	closed bool
}

func NewHandover(l net.Listener) *Handover {
	h := &Handover{l: l, done: make(chan struct{}), wake: make(chan struct{})}
	go h.acceptLoop()
	return h
}

// changed wakes every waiter; h.mu is held.
func (h *Handover) changed() {
	close(h.wake)
	h.wake = make(chan struct{})
}

func (h *Handover) acceptLoop() {
	defer close(h.done)
	var backoff time.Duration
	for {
		c, err := h.l.Accept()
		var ne net.Error
		if err != nil && errors.As(err, &ne) && ne.Temporary() && !h.isClosed() {
			// EMFILE and the like: back off as http.Server.Serve would.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		h.mu.Lock()
		if err != nil {
			h.err = err
		} else {
			h.queue = append(h.queue, c)
		}
		h.changed()
		h.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (h *Handover) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Addr is the socket's address.
func (h *Handover) Addr() net.Addr { return h.l.Addr() }

// Close closes the socket, waits for the accept loop to end and closes
// the connections no generation took.
func (h *Handover) Close() error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	err := h.l.Close()
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.queue {
		c.Close()
	}
	h.queue = nil
	return err
}

// Generation returns the listener of a new server generation and makes
// it the one that takes connections from now on.
func (h *Handover) Generation() *HandoverView {
	v := &HandoverView{h: h}
	h.mu.Lock()
	h.cur = v
	h.changed()
	h.mu.Unlock()
	return v
}

// HandoverView is one generation's listener. It counts the connections it
// handed to its server that have not been answered yet.
type HandoverView struct {
	h          *Handover
	closed     bool // guarded by h.mu, like unanswered
	unanswered int
	explicit   bool // set before Accept: only Answered and Close answer
}

// AnswerExplicitly makes a connection count as answered only when
// [HandoverView.Answered] says so (or it closes), not at its first write:
// for a server whose first write is not an answer, as a TLS server's
// handshake is not. Call it before the view accepts.
func (v *HandoverView) AnswerExplicitly() {
	v.h.mu.Lock()
	v.explicit = true
	v.h.mu.Unlock()
}

// Answered marks c answered: a connection this view handed out, or a layer
// over it that exposes it with NetConn (a *tls.Conn). Others are ignored.
func (v *HandoverView) Answered(c net.Conn) {
	for range maxLayers {
		switch x := c.(type) {
		case *answerConn:
			if x.v == v {
				x.answered()
			}
			return
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return
		}
	}
}

func (v *HandoverView) Accept() (net.Conn, error) {
	h := v.h
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		switch {
		case v.closed:
			return nil, net.ErrClosed
		case h.cur == v && len(h.queue) > 0:
			c := h.queue[0]
			h.queue[0] = nil
			h.queue = h.queue[1:]
			v.unanswered++
			return &answerConn{Conn: c, v: v, explicit: v.explicit}, nil
		case h.err != nil:
			return nil, h.err
		}
		wake := h.wake
		h.mu.Unlock()
		<-wake
		h.mu.Lock()
	}
}

// Close stops this generation accepting; the socket stays open.
func (v *HandoverView) Close() error {
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	v.closed = true
	v.h.changed()
	return nil
}

func (v *HandoverView) Addr() net.Addr { return v.h.l.Addr() }

// WaitAnswered waits (until ctx ends) until every connection this
// generation took has been answered or closed. http.Server.Shutdown drops,
// unanswered, any request it reads after Shutdown began, which would hit
// a client whose connection the old generation took a moment before the
// restart; so the old generation shuts down only after this.
func (v *HandoverView) WaitAnswered(ctx context.Context) {
	h := v.h
	for {
		h.mu.Lock()
		n, wake := v.unanswered, h.wake
		h.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// answerConn marks its connection answered at the server's first write
// (or close): by then http.Server has read the request and is committed
// to answer it. It keeps the methods of the transport conn that the
// server and imagesvc look for (ID for accounts, CloseWrite for
// half-close).
type answerConn struct {
	net.Conn
	v        *HandoverView
	explicit bool // answered by HandoverView.Answered or Close only
	once     sync.Once
}

func (c *answerConn) answered() {
	c.once.Do(func() {
		h := c.v.h
		h.mu.Lock()
		c.v.unanswered--
		h.changed()
		h.mu.Unlock()
	})
}

func (c *answerConn) Write(p []byte) (int, error) {
	if !c.explicit {
		c.answered()
	}
	return c.Conn.Write(p)
}

// NetConn returns the wrapped conn, so lookups reach the transport's conn.
func (c *answerConn) NetConn() net.Conn { return c.Conn }

func (c *answerConn) Close() error {
	c.answered()
	return c.Conn.Close()
}

// ID is the wrapped conn's id (servers record it in their accounts).
func (c *answerConn) ID() string { return ConnID(c.Conn) }

// CloseWrite half-closes when the conn can (http.Server uses it).
func (c *answerConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
