package h2fault

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Injector applies a [Faults] to the requests of one http.Server: its
// handler goes through [Injector.Wrap] and the server's ConnContext through
// [Injector.ConnContext] (goaway-after counts streams per connection).
// Every random choice derives from the seed and the stream's or the
// connection's number, so a run replays from its seed.
type Injector struct {
	f    Faults
	seed int64

	streams atomic.Uint64 // streams seen, numbered from 1
	conns   atomic.Uint64 // connections seen, numbered from 1

	mu      sync.Mutex
	fired   map[string]string // request id, or "conn " + peer address -> the fault's action
	order   []string          // ring of keys, bounding fired
	next    int
	pending sync.WaitGroup // drain closes not yet run
	stop    chan struct{}
	stopped bool
}

// firedHistory bounds how many requests an Injector remembers it acted on.
const firedHistory = 4096

// NewInjector returns an injector of f with its seed.
func NewInjector(f Faults, seed int64) *Injector {
	return &Injector{f: f, seed: seed, fired: map[string]string{}, stop: make(chan struct{})}
}

// Faults returns what the injector injects.
func (in *Injector) Faults() Faults { return in.f }

// connState is what goaway-after keeps of one connection.
type connState struct {
	conn     net.Conn
	selected bool
	streams  atomic.Int64

	mu     sync.Mutex
	served []string // request ids the conn carried (selected conns only)
}

// maxServed bounds the request ids kept per connection.
const maxServed = 1024

type connKey struct{}

// ConnContext keeps the connection's state in its context; chain it into the
// server's ConnContext (it keeps whatever ctx already holds).
func (in *Injector) ConnContext(ctx context.Context, c net.Conn) context.Context {
	cs := &connState{conn: c}
	if g := in.f.goAway; g != nil {
		cs.selected = chosen(g.sel, in.seed, 2, in.conns.Add(1))
	}
	return context.WithValue(ctx, connKey{}, cs)
}

// chosen applies a selection to item number n (from 1): every-Nth first,
// then the probability, drawn from the seed, the fault's salt and n alone.
func chosen(s selection, seed int64, salt, n uint64) bool {
	if s.every > 0 && n%uint64(s.every) != 0 {
		return false
	}
	if s.p > 0 {
		return rand.New(rand.NewPCG(uint64(seed)^salt, n)).Float64() < s.p
	}
	return true
}

// Wrap returns h with the faults applied to its requests.
func (in *Injector) Wrap(h http.Handler) http.Handler {
	if in.f.IsZero() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		n := in.streams.Add(1)
		cs, _ := r.Context().Value(connKey{}).(*connState)
		if cs != nil && cs.selected && id != "" {
			cs.mu.Lock()
			if len(cs.served) < maxServed {
				cs.served = append(cs.served, id)
			}
			cs.mu.Unlock()
		}
		if g := in.f.goAway; g != nil && cs != nil && cs.selected && cs.streams.Add(1) == g.streams {
			// Go's HTTP/2 server reads Connection: close on a response as
			// "shut this connection down gracefully": a GOAWAY naming the last
			// stream it took, those finished, then the close.
			w.Header().Set("Connection", "close")
			in.note(id, g.action())
			if g.drain > 0 {
				in.closeLater(cs, g)
			}
		}
		if rs := in.f.reset; rs != nil && chosen(rs.sel, in.seed, 1, n) {
			w = &resetWriter{ResponseWriter: w, left: rs.size, fire: func() { in.note(id, rs.action()) }}
		}
		h.ServeHTTP(w, r)
	})
}

// closeLater closes the connection g.drain from now, cutting whatever is in
// flight on it, and notes the fault on each request it may have cut.
func (in *Injector) closeLater(cs *connState, g *goAwaySpec) {
	in.mu.Lock()
	if in.stopped {
		in.mu.Unlock()
		return
	}
	in.pending.Add(1)
	in.mu.Unlock()
	go func() {
		defer in.pending.Done()
		t := time.NewTimer(g.drain)
		defer t.Stop()
		select {
		case <-t.C:
		case <-in.stop:
			return
		}
		// Every request the conn carried may be cut: a handler that returned
		// may still have its response queued in the server. Only failed
		// requests are ever looked up.
		cs.mu.Lock()
		cut := append([]string(nil), cs.served...)
		cs.mu.Unlock()
		for _, id := range cut {
			in.note(id, g.action())
		}
		if a := cs.conn.RemoteAddr(); a != nil {
			in.note(connKeyOf(a), g.action())
		}
		_ = cs.conn.Close()
	}()
}

// Close stops the closes still pending and waits for them: no goroutine of
// the injector outlives it.
func (in *Injector) Close() {
	in.mu.Lock()
	if !in.stopped {
		in.stopped = true
		close(in.stop)
	}
	in.mu.Unlock()
	in.pending.Wait()
}

// note remembers that the fault acted on request id.
func (in *Injector) note(id, action string) {
	if id == "" {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := in.fired[id]; !ok {
		if len(in.order) < firedHistory {
			in.order = append(in.order, id)
		} else {
			delete(in.fired, in.order[in.next])
			in.order[in.next] = id
			in.next = (in.next + 1) % firedHistory
		}
	}
	in.fired[id] = action
}

// Fired returns the fault that acted on the request with this X-Request-Id
// (its action, e.g. "reset-after=300KiB"), among the last 4096 it acted on.
func (in *Injector) Fired(requestID string) (string, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	f, ok := in.fired[requestID]
	return f, ok
}

// FiredOnConn returns the fault that closed the connection whose peer (the
// client) has the address peer, "network:address" (a client's local
// address; transport.PeerKey of its conn): requests sent on it after the
// close never reached a handler, so no request id names them.
func (in *Injector) FiredOnConn(peer string) (string, bool) {
	return in.Fired("conn " + peer)
}

// connKeyOf is the key of a connection by its peer's address.
func connKeyOf(a net.Addr) string { return "conn " + a.Network() + ":" + a.String() }

// resetWriter passes a response's body until its budget is spent, flushes
// what went (so the stream carries exactly that much), then aborts the
// handler: Go's HTTP/2 server answers an http.ErrAbortHandler panic with
// RST_STREAM.
type resetWriter struct {
	http.ResponseWriter
	left int64
	fire func()
}

func (w *resetWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= w.left {
		n, err := w.ResponseWriter.Write(p)
		w.left -= int64(n)
		return n, err
	}
	n, err := w.ResponseWriter.Write(p[:w.left])
	w.left -= int64(n)
	if err != nil {
		return n, err
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
	w.fire()
	panic(http.ErrAbortHandler)
}

// Flush keeps the wrapped writer's Flush.
func (w *resetWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the server's own writer.
func (w *resetWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
