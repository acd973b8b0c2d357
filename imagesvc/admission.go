package imagesvc

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// admission is the bounded queue in front of the worker slots. A transform
// waits here, in arrival order, for one of the slots (each a core's worth of
// libvips work; one granted while others are idle may use their cores too,
// see ticket.threads). It is refused at once, with a Retry-After, when the
// queue is full or when the work queued and running ahead of it would not
// leave it time to finish within its budget: the caller learns in
// microseconds what it would otherwise learn from a timeout after waiting
// the whole budget.
type admission struct {
	slots    int
	maxQueue int

	mu       sync.Mutex
	running  map[*ticket]struct{}
	queue    []*ticket
	slowdown float64 // moving average of actual/estimated work time, >= 1 under contention
	stats    AdmissionStats

	observeWait func(time.Duration) // every granted ticket's time in the queue (metrics)
}

// ticket is one transform's place in the queue, then in a slot.
type ticket struct {
	cost    time.Duration // estimated work on one core
	ready   chan struct{} // closed when the ticket holds a slot
	granted bool
	queued  time.Time
	started time.Time
	// threads is how many libvips threads the transform may use: its own slot
	// and the slots idle when it got it, so that a lone request is not held
	// to one core of an idle machine. Transforms granted later get one each;
	// for a while the cores are shared, then each slot is a core again.
	threads int
}

// AdmissionStats counts what the admission control did since the Service
// started; Service.Stats returns it, and /metrics exports it.
type AdmissionStats struct {
	Slots           int     `json:"slots"`            // worker slots (Config.MaxConcurrent)
	QueueLimit      int     `json:"queue_limit"`      // Config.MaxQueue
	Running         int     `json:"running"`          // transforms holding a slot now
	Queued          int     `json:"queued"`           // transforms waiting for a slot now
	Admitted        int64   `json:"admitted"`         // transforms that got a slot
	RejectedFull    int64   `json:"rejected_full"`    // refused: the queue was full
	RejectedWait    int64   `json:"rejected_wait"`    // refused: the expected wait would exceed the budget
	RejectedCost    int64   `json:"rejected_cost"`    // refused before queueing: the estimate alone exceeds the budget
	RejectedUploads int64   `json:"rejected_uploads"` // uploads refused before reading: too many upload bytes in flight
	LeftQueue       int64   `json:"left_queue"`       // callers that gave up while queued (client gone, budget over)
	Cancelled       int64   `json:"cancelled"`        // transforms stopped while running (client gone, budget over)
	BudgetExpired   int64   `json:"budget_expired"`   // requests answered 504
	Slowdown        float64 `json:"slowdown"`         // actual/estimated work time, moving average
}

// errOverloaded is a refusal by the admission control (503 with Retry-After).
type errOverloaded struct {
	reason     string
	retryAfter time.Duration
}

func (e *errOverloaded) Error() string { return e.reason }

func newAdmission(slots, maxQueue int) *admission {
	return &admission{
		slots: slots, maxQueue: maxQueue, slowdown: 1,
		running: make(map[*ticket]struct{}),
		stats:   AdmissionStats{Slots: slots, QueueLimit: maxQueue},
	}
}

// expectedWait is how long a newcomer would wait for a slot: the work still
// ahead of it (running work's estimate, less what it has done, and every
// queued estimate), corrected by the observed slowdown, shared by the slots.
// Called with mu held.
func (a *admission) expectedWait(now time.Time) time.Duration {
	if len(a.running) < a.slots && len(a.queue) == 0 {
		return 0
	}
	var ahead float64
	for t := range a.running {
		ahead += math.Max(0, float64(t.cost)*a.slowdown-float64(now.Sub(t.started)))
	}
	for _, t := range a.queue {
		ahead += float64(t.cost) * a.slowdown
	}
	return time.Duration(ahead / float64(a.slots))
}

// acquire waits for a slot for work estimated at cost. With shed set, it
// refuses (errOverloaded) when the queue is full, or when the expected wait
// plus the cost would pass the deadline shedBy (when not zero). It returns
// ctx's cause when ctx ends first.
func (a *admission) acquire(ctx context.Context, cost time.Duration, shed bool, shedBy time.Time) (*ticket, error) {
	now := time.Now()
	t := &ticket{cost: cost, ready: make(chan struct{}), queued: now}
	a.mu.Lock()
	wait := a.expectedWait(now)
	if shed {
		if len(a.queue) >= a.maxQueue {
			a.stats.RejectedFull++
			a.mu.Unlock()
			return nil, &errOverloaded{reason: fmt.Sprintf("the service is busy: %d transforms are queued, the limit", a.maxQueue),
				retryAfter: wait}
		}
		if !shedBy.IsZero() && wait > 0 && now.Add(wait+cost).After(shedBy) {
			a.stats.RejectedWait++
			a.mu.Unlock()
			return nil, &errOverloaded{reason: fmt.Sprintf("the service is busy: the expected wait of %v would leave too little of the %v left of the time budget",
				wait.Round(100*time.Millisecond), shedBy.Sub(now).Round(100*time.Millisecond)), retryAfter: wait}
		}
	}
	if len(a.running) < a.slots && len(a.queue) == 0 {
		a.grant(t, now)
		a.mu.Unlock()
		return t, nil
	}
	a.queue = append(a.queue, t)
	a.mu.Unlock()
	select {
	case <-t.ready:
		return t, nil
	case <-ctx.Done():
	}
	a.mu.Lock()
	a.stats.LeftQueue++
	granted := t.granted
	if !granted {
		for i, q := range a.queue {
			if q == t {
				a.queue = append(a.queue[:i], a.queue[i+1:]...)
				break
			}
		}
	}
	a.mu.Unlock()
	if granted { // granted while we were giving up: pass the slot on
		a.release(t, false)
	}
	return nil, context.Cause(ctx)
}

// grant gives t a slot. Called with mu held.
func (a *admission) grant(t *ticket, now time.Time) {
	t.granted = true
	t.started = now
	t.threads = max(1, a.slots-len(a.running))
	a.running[t] = struct{}{}
	a.stats.Admitted++
	if a.observeWait != nil {
		a.observeWait(now.Sub(t.queued))
	}
	close(t.ready)
}

// release frees t's slot for the next in the queue. finished says whether the
// work ran to its end; only then, and only for work on one thread (the costs
// are per core), does its time teach the slowdown average.
func (a *admission) release(t *ticket, finished bool) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.running, t)
	if finished && t.cost > 0 && t.threads == 1 {
		ratio := float64(now.Sub(t.started)) / float64(t.cost)
		ratio = math.Min(math.Max(ratio, 0.25), 8)
		a.slowdown = 0.8*a.slowdown + 0.2*ratio
	}
	if len(a.queue) > 0 {
		next := a.queue[0]
		a.queue = a.queue[1:]
		a.grant(next, now)
	}
}

// snapshot returns the counters and the current state.
func (a *admission) snapshot() AdmissionStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.stats
	s.Running = len(a.running)
	s.Queued = len(a.queue)
	s.Slowdown = a.slowdown
	return s
}

// count applies fn to the counters under the lock.
func (a *admission) count(fn func(*AdmissionStats)) {
	a.mu.Lock()
	fn(&a.stats)
	a.mu.Unlock()
}
