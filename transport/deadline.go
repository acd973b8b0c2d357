package transport

import (
	"sync"
	"time"
)

// deadline mirrors one direction's deadline of a wrapped conn so that a fault's wait
// (latency, a stall, a slow-read pause) ends when the deadline passes or is moved,
// exactly as a blocked socket call would.
type deadline struct {
	mu      sync.Mutex
	t       time.Time
	changed chan struct{} // closed when t changes; nil until someone waits
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	d.t = t
	if d.changed != nil {
		close(d.changed)
		d.changed = nil
	}
	d.mu.Unlock()
}

// get returns the deadline and a channel closed when it changes.
func (d *deadline) get() (time.Time, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.changed == nil {
		d.changed = make(chan struct{})
	}
	return d.t, d.changed
}

// passed reports whether the deadline is set and not in the future.
func (d *deadline) passed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.t.IsZero() && !time.Now().Before(d.t)
}

// errWait tells why a wait ended early.
type errWait uint8

const (
	waitDone errWait = iota
	waitDeadline
	waitClosed
)

// sleep waits for dur (forever if dur < 0), ending early when the deadline passes or
// the conn closes.
func sleep(dur time.Duration, d *deadline, closed <-chan struct{}) errWait {
	var end time.Time
	if dur >= 0 {
		end = time.Now().Add(dur)
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		t, changed := d.get()
		now := time.Now()
		if !t.IsZero() && !now.Before(t) {
			return waitDeadline
		}
		if !end.IsZero() && !now.Before(end) {
			return waitDone
		}
		wake, byDeadline := end, false
		if !t.IsZero() && (end.IsZero() || t.Before(end)) {
			wake, byDeadline = t, true
		}
		var tc <-chan time.Time
		if !wake.IsZero() {
			if timer == nil {
				timer = time.NewTimer(wake.Sub(now))
			} else {
				timer.Reset(wake.Sub(now))
			}
			tc = timer.C
		}
		select {
		case <-tc:
			if byDeadline {
				return waitDeadline
			}
			return waitDone
		case <-changed:
		case <-closed:
			return waitClosed
		}
	}
}
