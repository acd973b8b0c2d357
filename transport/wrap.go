package transport

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
)

// Options configures how conns are wrapped. The zero value wraps without faults and
// without recording: a pass-through.
type Options struct {
	Faults Faults // the chain applied to every selected conn; zero => none
	Seed   int64  // all randomness derives from it (per-conn sub-seeds by conn number)
	Record int    // flight-recorder capacity in events per conn; 0 => off (costs nothing)
	Name   string // prefix of conn IDs, e.g. "svc" gives "svc-1", "svc-2"; "" => "conn"
}

// historySize bounds how many recent conns a Listener (and a Proxy) keeps.
const historySize = 4096

// Listener wraps a net.Listener: every accepted conn gets the faults and a recorder,
// numbered from 1 in accept order so that selections replay from the seed.
type Listener struct {
	net.Listener
	o    atomic.Pointer[listenerFaults]
	seq  atomic.Uint64
	hist *history
	m    *meter

	mu   sync.Mutex       // guards open and orders SetFaults
	open map[*conn]uint64 // open conns and the generation of faults they started with
}

// listenerFaults is one generation of a Listener's options: a conn takes the current one
// when it is accepted and keeps it.
type listenerFaults struct {
	o   Options
	gen uint64
}

// WrapListener wraps l so that every accepted conn carries o's faults and recorder.
func WrapListener(l net.Listener, o Options) *Listener {
	wl := &Listener{Listener: l, hist: newHistory(historySize), m: newMeter(), open: make(map[*conn]uint64)}
	wl.o.Store(&listenerFaults{o: o})
	return wl
}

// Accept waits for the next conn and wraps it.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lf := l.o.Load()
	w := newConn(c, lf.o, l.seq.Add(1), EventAccept)
	w.meter, w.countIO, w.gen, w.onClose = l.m, true, lf.gen, l.forget
	l.m.conns.Add(1)
	l.m.active.Add(1)
	l.mu.Lock()
	l.open[w] = lf.gen
	l.mu.Unlock()
	l.hist.add(w)
	return w, nil
}

func (l *Listener) forget(c *conn) {
	l.m.active.Add(-1)
	l.mu.Lock()
	delete(l.open, c)
	l.mu.Unlock()
}

// SetFaults replaces the faults of the conns accepted from now on. Open conns keep the
// chain they started with: a chain holds state (byte budgets, a delay line's goroutine,
// a write buffer) that cannot be swapped mid-stream without inventing bytes or losing
// them. [Stats].Stale counts the open conns that still run older faults.
func (l *Listener) SetFaults(f Faults) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.o.Load()
	o := cur.o
	o.Faults = f
	l.o.Store(&listenerFaults{o: o, gen: cur.gen + 1})
}

// Faults returns the faults new conns get.
func (l *Listener) Faults() Faults { return l.o.Load().o.Faults }

// Stats returns what the listener's conns carried so far.
func (l *Listener) Stats() Stats {
	s := l.m.stats()
	l.mu.Lock()
	gen := l.o.Load().gen
	for _, g := range l.open {
		if g < gen {
			s.Stale++
		}
	}
	l.mu.Unlock()
	return s
}

// Timeline returns the timeline of one of the last 4096 accepted conns, open or closed;
// false when the ID is unknown, evicted, or recording is off.
func (l *Listener) Timeline(connID string) (Timeline, bool) {
	c, ok := l.hist.get(connID)
	if !ok || c.rec == nil {
		return nil, false
	}
	return c.Timeline(), true
}

// Conn describes one of the last 4096 accepted conns by its ID.
func (l *Listener) Conn(connID string) (ConnInfo, bool) {
	c, ok := l.hist.get(connID)
	if !ok {
		return ConnInfo{}, false
	}
	return c.info(), true
}

// ConnFrom describes the most recent of the last 4096 accepted conns whose
// peer had the address peer ("tcp:127.0.0.1:5678", "unix:@name"): how the
// harness finds the server side of one of its own client conns.
func (l *Listener) ConnFrom(peer string) (ConnInfo, bool) {
	c, ok := l.hist.fromPeer(peer)
	if !ok {
		return ConnInfo{}, false
	}
	return c.info(), true
}

// PeerKey is the key [Listener.ConnFrom] and [Proxy.ConnFrom] take for the
// conn whose local end is c: its local address, network-qualified.
func PeerKey(c net.Conn) string {
	a := c.LocalAddr()
	if a == nil || a.String() == "" || a.String() == "@" {
		return ""
	}
	return a.Network() + ":" + a.String()
}

// Dialer returns a DialContext for http.Transport (or anything else) whose conns carry
// o's faults and recorder. base nil means a zero net.Dialer. Conns are numbered from 1 in
// dial order per returned function.
func Dialer(o Options, base *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if base == nil {
		base = &net.Dialer{}
	}
	return DialerFunc(o, base.DialContext)
}

// DialerFunc is [Dialer] over any dial function (one that binds its own local address,
// say): the conns it returns carry o's faults and recorder.
func DialerFunc(o Options, dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var seq atomic.Uint64
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newConn(c, o, seq.Add(1), EventDial), nil
	}
}

// WrapConn wraps one conn. Its number (for IDs and selection) comes from a process-wide
// counter, so prefer WrapListener or Dialer when a run must replay from its seed.
func WrapConn(c net.Conn, o Options) net.Conn {
	return newConn(c, o, seqCounter.Add(1), EventDial)
}
