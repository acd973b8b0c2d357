package transport

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"
)

// Stats is what a [Proxy] or a [Listener] carried since it was made: the numbers a
// control layer turns into metrics without this package knowing any metrics library.
// It is a copy; the zero value means nothing happened yet.
type Stats struct {
	Conns  uint64 // conns accepted
	Active int64  // conns open now
	// Bytes delivered toward the clients and toward the upstream. A [Listener]'s server
	// is its clients' upstream: ToClient is what it wrote, ToUpstream what it read.
	ToClient, ToUpstream int64
	// Fired counts, by fault name ("close-after", "buffered-shutdown"), the wrapped conns
	// each fault cut or stopped (the two sides of a proxied conn count apart); nil when
	// none fired.
	Fired map[string]uint64
	// Stale is how many open conns were accepted before the last SetFaults: they keep the
	// faults they started with (a conn's chain holds state and is never swapped).
	Stale int64
}

// Add adds o's counts to s (Fired merged by name): the totals of several listeners, or
// of a proxy across restarts.
func (s *Stats) Add(o Stats) {
	s.Conns += o.Conns
	s.Active += o.Active
	s.ToClient += o.ToClient
	s.ToUpstream += o.ToUpstream
	s.Stale += o.Stale
	for k, v := range o.Fired {
		if s.Fired == nil {
			s.Fired = make(map[string]uint64, len(o.Fired))
		}
		s.Fired[k] += v
	}
}

// meter counts for one Proxy or Listener; every conn it makes holds a pointer to it.
type meter struct {
	conns                atomic.Uint64
	active               atomic.Int64
	toClient, toUpstream atomic.Int64

	mu    sync.Mutex
	fired map[string]uint64 // keyed by fault name: at most one key per catalog entry
}

func newMeter() *meter { return &meter{fired: make(map[string]uint64)} }

// fire counts a fault given by its spec ("close-after=300KiB") under its name.
func (m *meter) fire(fault string) {
	name := fault
	if i := strings.IndexAny(fault, "=@"); i >= 0 {
		name = fault[:i]
	}
	m.mu.Lock()
	m.fired[name]++
	m.mu.Unlock()
}

// stats copies the counters (Stale is the owner's to fill in).
func (m *meter) stats() Stats {
	s := Stats{Conns: m.conns.Load(), Active: m.active.Load(), ToClient: m.toClient.Load(), ToUpstream: m.toUpstream.Load()}
	m.mu.Lock()
	if len(m.fired) > 0 {
		s.Fired = maps.Clone(m.fired)
	}
	m.mu.Unlock()
	return s
}
