package transport

import (
	"context"
	"net"
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
	o    Options
	seq  atomic.Uint64
	hist *history
}

// WrapListener wraps l so that every accepted conn carries o's faults and recorder.
func WrapListener(l net.Listener, o Options) *Listener {
	return &Listener{Listener: l, o: o, hist: newHistory(historySize)}
}

// Accept waits for the next conn and wraps it.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	w := newConn(c, l.o, l.seq.Add(1), EventAccept)
	l.hist.add(w)
	return w, nil
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
