package transport

import (
	"sync"
	"time"
)

// A delayLine holds the bytes of one direction of a conn between their arrival and their
// release, which is what makes latency a pipeline instead of a pause per call: each chunk
// is stamped when it arrives and released at arrival + its delay, so chunks in flight
// overlap. Releases never go back in time (a chunk whose jittered delay is shorter than
// its predecessor's leaves with it), so jitter cannot reorder bytes. The line holds at
// most lineLimit bytes; a full line stops taking bytes, so backpressure still reaches the
// sender (like a TCP window: at 5ms, 4 MiB in flight move at most 800 MB/s).
//
// On the write side the app's Write pushes and a releaser goroutine writes each chunk to
// the socket when it is due; on the read side a reader goroutine pushes what comes off the
// socket and the app's Read takes what is due.
type delayLine struct {
	clock clock
	draw  func() time.Duration // the delay of the next chunk
	limit int                  // load at most (a chunk always fits an empty line)
	// onSchedule, when set (tests), sees every chunk's arrival and release.
	onSchedule func(arrived, release time.Time, n int)

	mu       sync.Mutex
	chunks   []lineChunk   // oldest first
	held     int           // bytes in the line
	load     int           // what they cost: bytes plus chunkOverhead per chunk, bounded by limit
	last     time.Time     // release of the newest chunk
	changed  chan struct{} // closed and renewed on a change that someone waits for
	watched  bool          // a waiter holds changed
	started  bool          // the goroutine of the line runs
	draining bool          // write side: no more pushes; the releaser ends once empty
	stopped  bool          // the line is shut: waits end, the goroutine ends, chunks are dropped
	err      error         // write side: the socket failed, later pushes return it
	moved    int64         // bytes released so far (the drain watches it for progress)
	done     chan struct{} // closed when the goroutine of the line ends
}

// lineChunk is a run of bytes in the line (or, on the read side, the end of the stream:
// err with no data, delivered after the bytes before it).
type lineChunk struct {
	buf              *[lineChunkSize]byte // pooled storage of data; nil for a small chunk
	data             []byte
	cost             int // its share of load
	arrived, release time.Time
	err              error
}

const (
	lineChunkSize = 64 << 10 // bytes per chunk and per socket call of the line's goroutine
	lineLimit     = 4 << 20  // bytes a line holds at most
	// Chunks under smallChunk get storage of their own size instead of a pooled 64 KiB
	// buffer, and every chunk costs chunkOverhead more than its bytes, so a stream of
	// one-byte writes cannot hold 64 KiB per byte: memory stays near lineLimit.
	smallChunk    = 4 << 10
	chunkOverhead = 256
	// closeStallGrace bounds Close's drain of a write line when the peer stops reading:
	// once every chunk was due, Close waits while bytes keep moving and gives up after
	// this long without progress (the write deadline ends it sooner).
	closeStallGrace = time.Second
)

var lineBuffers = sync.Pool{New: func() any { return new([lineChunkSize]byte) }}

func newDelayLine(draw func() time.Duration, c clock) *delayLine {
	return &delayLine{clock: c, draw: draw, limit: lineLimit, changed: make(chan struct{}), done: make(chan struct{})}
}

// broadcast wakes every waiter; l.mu is held. Without waiters it costs nothing, which
// keeps a channel allocation off the path of every chunk.
func (l *delayLine) broadcast() {
	if !l.watched {
		return
	}
	close(l.changed)
	l.changed = make(chan struct{})
	l.watched = false
}

// schedule stamps a chunk that arrived at arrived with its release; l.mu is held.
func (l *delayLine) schedule(arrived time.Time, n int) time.Time {
	release := arrived.Add(l.draw())
	if release.Before(l.last) {
		release = l.last
	}
	l.last = release
	if l.onSchedule != nil {
		l.onSchedule(arrived, release, n)
	}
	return release
}

// await waits, l.mu held, until ready says so, the deadline dl passes (nil: none), the
// conn closes or the line stops. ready returns when to look again on the line's clock
// (zero: on the next change); the deadline is wall-clock time, as for any net.Conn.
func (l *delayLine) await(ready func(now time.Time) (bool, time.Time), dl *deadline, closed <-chan struct{}) errWait {
	for {
		if l.stopped {
			return waitClosed
		}
		now := l.clock.Now()
		ok, wake := ready(now)
		if ok {
			return waitDone
		}
		var dch <-chan struct{}
		var dtimer *time.Timer
		var dfired <-chan time.Time
		if dl != nil {
			var t time.Time
			t, dch = dl.get()
			if !t.IsZero() {
				left := time.Until(t)
				if left <= 0 {
					return waitDeadline
				}
				dtimer = time.NewTimer(left)
				dfired = dtimer.C
			}
		}
		var tc <-chan time.Time
		stop := func() bool { return false }
		if !wake.IsZero() {
			tc, stop = l.clock.Timer(wake.Sub(now))
		}
		changed := l.changed
		l.watched = true
		l.mu.Unlock()
		res := waitDone
		select {
		case <-tc:
		case <-changed:
		case <-dch:
		case <-dfired: // looked at again above: the deadline may have moved meanwhile
		case <-closed:
			res = waitClosed
		}
		stop()
		if dtimer != nil {
			dtimer.Stop()
		}
		l.mu.Lock()
		if res != waitDone {
			return res
		}
	}
}

// roomFor reports whether a chunk of n more bytes fits; l.mu is held.
func (l *delayLine) roomFor(n int) bool { return l.load == 0 || l.load+n+chunkOverhead <= l.limit }

// add appends a chunk of data (buf its pooled storage or nil) and stamps it; l.mu is held.
func (l *delayLine) add(buf *[lineChunkSize]byte, data []byte, arrived time.Time) {
	cost := len(data) + chunkOverhead
	l.chunks = append(l.chunks, lineChunk{buf: buf, data: data, cost: cost, arrived: arrived, release: l.schedule(arrived, len(data))})
	l.held += len(data)
	l.load += cost
}

// remove drops the oldest chunk and gives its storage back; l.mu is held.
func (l *delayLine) remove() {
	ch := l.chunks[0]
	l.chunks[0] = lineChunk{}
	l.chunks = l.chunks[1:]
	l.held -= len(ch.data)
	l.load -= ch.cost
	if ch.buf != nil {
		lineBuffers.Put(ch.buf)
	}
}

// push copies p into the line as chunks that arrived at arrived, waiting for room while
// the line is full. It returns how many bytes it took and why it stopped early.
func (l *delayLine) push(p []byte, arrived time.Time, dl *deadline, closed <-chan struct{}) (int, errWait, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	took := 0
	for took < len(p) {
		if l.err != nil {
			return took, waitDone, l.err
		}
		if l.draining {
			return took, waitClosed, nil
		}
		n := min(len(p)-took, lineChunkSize)
		if w := l.await(func(time.Time) (bool, time.Time) { return l.roomFor(n) || l.err != nil || l.draining, time.Time{} }, dl, closed); w != waitDone {
			return took, w, nil
		}
		if l.err != nil || l.draining {
			continue
		}
		if n < smallChunk {
			l.add(nil, append([]byte(nil), p[took:took+n]...), arrived)
		} else {
			buf := lineBuffers.Get().(*[lineChunkSize]byte)
			l.add(buf, buf[:copy(buf[:], p[took:took+n])], arrived)
		}
		took += n
		l.broadcast()
	}
	return took, waitDone, nil
}

// pushRead adds what the reader goroutine read (data in buf, or the stream's end err).
func (l *delayLine) pushRead(buf *[lineChunkSize]byte, n int, err error, arrived time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case n >= smallChunk:
		l.add(buf, buf[:n], arrived)
	case n > 0:
		l.add(nil, append([]byte(nil), buf[:n]...), arrived)
		lineBuffers.Put(buf)
	default:
		lineBuffers.Put(buf)
	}
	if err != nil {
		l.chunks = append(l.chunks, lineChunk{err: err, arrived: arrived, release: l.schedule(arrived, 0)})
	}
	l.broadcast()
}

// awaitRoom blocks the reader goroutine while the line is full; false once it stopped.
func (l *delayLine) awaitRoom(closed <-chan struct{}) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.await(func(time.Time) (bool, time.Time) { return l.roomFor(lineChunkSize), time.Time{} }, nil, closed) == waitDone
}

// due returns the oldest chunk if it is due at now, else when it will be (zero: nothing
// is waiting); l.mu is held.
func (l *delayLine) due(now time.Time) (bool, time.Time) {
	if len(l.chunks) == 0 {
		return false, time.Time{}
	}
	r := l.chunks[0].release
	return !now.Before(r), r
}

// next waits for the oldest chunk to be due and returns it (the releaser writes it, then
// calls release). false: the line stopped, or it drained and nothing is left.
func (l *delayLine) next() (lineChunk, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.await(func(now time.Time) (bool, time.Time) {
		if len(l.chunks) == 0 && l.draining {
			return true, time.Time{}
		}
		return l.due(now)
	}, nil, nil)
	if w != waitDone || len(l.chunks) == 0 {
		return lineChunk{}, false
	}
	return l.chunks[0], true
}

// release drops the oldest chunk once its bytes left the line.
func (l *delayLine) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.chunks) == 0 {
		return
	}
	l.moved += int64(len(l.chunks[0].data))
	l.remove()
	l.broadcast()
}

// pop copies due bytes into p for the app's Read: the oldest chunks that are due, up to
// len(p), stopping before the stream's end, which a call with nothing else returns.
func (l *delayLine) pop(p []byte, dl *deadline, closed <-chan struct{}) (int, error, errWait) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.await(l.due, dl, closed); w != waitDone {
		return 0, nil, w
	}
	n := 0
	now := l.clock.Now()
	for n < len(p) && len(l.chunks) > 0 && !now.Before(l.chunks[0].release) {
		ch := &l.chunks[0]
		if len(ch.data) == 0 {
			if n == 0 {
				return 0, ch.err, waitDone // stays: every later Read gets it too
			}
			break
		}
		k := copy(p[n:], ch.data)
		n += k
		ch.data = ch.data[k:]
		l.held -= k
		if len(ch.data) == 0 {
			l.remove()
		}
	}
	l.broadcast()
	return n, nil, waitDone
}

// fail records that the socket failed for good: the line drops what it holds and later
// pushes return err.
func (l *delayLine) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
	}
	l.dropLocked()
}

// stop shuts the line: every wait ends, the goroutine exits, held bytes are dropped.
// It returns how many bytes were dropped.
func (l *delayLine) stop() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	return l.dropLocked()
}

func (l *delayLine) dropLocked() int64 {
	dropped := int64(l.held)
	for len(l.chunks) > 0 {
		l.remove()
	}
	l.broadcast()
	return dropped
}

// drain lets the releaser empty the line before the conn shuts down, bounded: it gives
// up when the write deadline passes or, once every chunk was due, when no byte moved for
// closeStallGrace (a peer that stopped reading must not hold Close forever). It returns
// whether the line emptied; the caller stops the line when it did not.
func (l *delayLine) drain(dl *deadline) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.draining = true
	l.broadcast()
	if !l.started {
		return len(l.chunks) == 0
	}
	moved, since := l.moved, l.clock.Now()
	w := l.await(func(now time.Time) (bool, time.Time) {
		select {
		case <-l.done:
			return true, time.Time{}
		default:
		}
		if l.moved != moved {
			moved, since = l.moved, now
		}
		giveUp := later(since, l.last).Add(closeStallGrace)
		if !now.Before(giveUp) {
			return true, time.Time{}
		}
		return false, giveUp
	}, dl, l.done)
	if w == waitClosed { // the releaser ended (l.done)
		return len(l.chunks) == 0 && l.err == nil
	}
	select {
	case <-l.done:
		return len(l.chunks) == 0 && l.err == nil
	default:
		return false
	}
}

// clock is the time source of a delay line, replaceable in tests.
type clock interface {
	Now() time.Time
	// Timer returns a channel that receives once d has passed, and a func that stops it.
	Timer(d time.Duration) (<-chan time.Time, func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Timer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}
