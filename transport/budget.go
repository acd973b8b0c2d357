package transport

import (
	"fmt"
	"sync"
)

// budget is the shared machinery of the "-after" faults (stall-after, close-after,
// half-close-after, reset-after): a byte budget counted over the fault's direction(s).
// Calls move at most what is left, so the cut lands exactly on the budget; the call that
// finds it spent fires the action.
type budget struct {
	f     faultSpec
	act   func(c *conn) // the action, run once by the first call that finds the budget spent
	mu    sync.Mutex
	left  int64
	held  [2]int64 // reserved by the call in flight, per direction (index: dir-1)
	fired bool
}

// budgetStages returns the read and write stages of one budget (shared when @dir=both).
func budgetStages(f faultSpec, act func(c *conn)) (stage, stage) {
	b := &budget{f: f, act: act, left: f.size}
	return &budgetStage{b: b, d: dirRead}, &budgetStage{b: b, d: dirWrite}
}

type budgetStage struct {
	b *budget
	d dir
}

func (s *budgetStage) before(c *conn, n int) (int, error) {
	b := s.b
	b.mu.Lock()
	if b.left > 0 {
		k := min(int64(n), b.left)
		b.left -= k
		b.held[s.d-1] += k
		b.mu.Unlock()
		return int(k), nil
	}
	first := !b.fired
	b.fired = true
	b.mu.Unlock()
	if first {
		c.rec.add(EventFault, b.f.size, 0, b.f.kind.name)
		c.fire(b.f.action())
		b.act(c)
	}
	op := "read"
	if s.d == dirWrite {
		op = "write"
	}
	if b.f.kind == &stallAfterKind {
		return 0, c.wait(s.d, -1)
	}
	return 0, c.opErr(op, fmt.Errorf("%w: %s %d", ErrInjected, b.f.kind.name, b.f.size))
}

// after gives back what the call reserved but did not move.
func (s *budgetStage) after(_ *conn, n int) {
	b := s.b
	b.mu.Lock()
	held := b.held[s.d-1]
	if int64(n) < held {
		b.left += held - int64(n)
	}
	b.held[s.d-1] = 0
	b.mu.Unlock()
}
