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

// historySize bounds how many recent conns a Listener keeps timelines for.
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
	wl := &Listener{Listener: l, o: o}
	if o.Record > 0 {
		wl.hist = newHistory(historySize)
	}
	return wl
}

// Accept waits for the next conn and wraps it.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	w := newConn(c, l.o, l.seq.Add(1), EventAccept)
	l.hist.add(w.id, w.rec)
	return w, nil
}

// Timeline returns the timeline of one of the last 4096 accepted conns, open or closed;
// false when the ID is unknown, evicted, or recording is off.
func (l *Listener) Timeline(connID string) (Timeline, bool) { return l.hist.get(connID) }

// Dialer returns a DialContext for http.Transport (or anything else) whose conns carry
// o's faults and recorder. base nil means a zero net.Dialer. Conns are numbered from 1 in
// dial order per returned function.
func Dialer(o Options, base *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if base == nil {
		base = &net.Dialer{}
	}
	var seq atomic.Uint64
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := base.DialContext(ctx, network, addr)
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
