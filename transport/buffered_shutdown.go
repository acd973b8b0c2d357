package transport

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// buffered-shutdown is the hyper #4022 defect, faithful in its timing. Write copies the
// bytes into a user-space buffer and returns len(p), nil at once; a drainer goroutine
// moves them to the socket with one non-blocking write(2) at a time, recording partial
// writes and would-blocks (EAGAIN), and waits for writability in between without ever
// blocking the writer. CloseWrite and Close make one last non-blocking write, ignore its
// would-block (hyper's flush returned Pending and the result was dropped), and shut the
// socket down WITHOUT draining: the timeline says "close-write 3975180 still buffered".
// How much the peer gets depends on how fast it reads and on the kernel buffers, as in
// the original: a fast reader on TCP mostly gets everything, a slow reader on a Unix
// socket with default buffers gets one socket buffer's worth (219264 bytes on Linux with
// the default net.core.wmem_default, the very number of the original report).
//
// buffered-shutdown-fixed is the fix (hyper PR #4018): the same buffer, but CloseWrite and
// Close drain it first, bounded by the write deadline.
//
// The write deadline keeps its meaning: the drainer's waits end at it, a Write after it
// fails with a timeout (the buffer is kept, and draining resumes when the deadline moves).
// Up to 64 MiB wait to be sent; beyond that Write waits for the drainer, like a socket
// (and the bytes already sent are dropped from the front, so memory stays bounded too).
var bufferedShutdownKind = kindInfo{
	name:   "buffered-shutdown",
	usage:  "buffered-shutdown (no value)",
	rank:   50,
	defDir: dirWrite,
	parse:  noValue,
	format: formatNone,
	setup:  func(_ faultSpec, c *conn) { c.buf = newShutdownBuffer(c, false) },
}

var bufferedShutdownFixedKind = kindInfo{
	name:   "buffered-shutdown-fixed",
	usage:  "buffered-shutdown-fixed (no value)",
	rank:   51,
	defDir: dirWrite,
	parse:  noValue,
	format: formatNone,
	setup:  func(_ faultSpec, c *conn) { c.buf = newShutdownBuffer(c, true) },
}

// shutdownBufferMax bounds the user-space buffer.
const shutdownBufferMax = 64 << 20

// aLongTimeAgo is a deadline in the past, used to wake the drainer out of a wait.
var aLongTimeAgo = time.Unix(1, 0)

type shutdownBuffer struct {
	c     *conn
	fixed bool
	raw   syscall.RawConn // nil => the inner conn is not a socket: blocking writes in the drainer

	mu      sync.Mutex
	data    []byte // pending bytes are data[off:]
	off     int
	err     error // the drain failed for good (peer gone): later Writes return it
	paused  bool  // the drain hit the write deadline; resumes on kick
	started bool
	shut    bool // CloseWrite or Close began: no more Writes
	stopNow bool // defect: the drainer stops at once
	finish  bool // fix: the drainer stops once empty (or at the deadline)

	wake  chan struct{} // cap 1: data, deadline change, stop
	space chan struct{} // cap 1: the drainer consumed bytes
	done  chan struct{} // closed when the drainer exits
}

func newShutdownBuffer(c *conn, fixed bool) *shutdownBuffer {
	b := &shutdownBuffer{c: c, fixed: fixed, wake: make(chan struct{}, 1),
		space: make(chan struct{}, 1), done: make(chan struct{})}
	if sc, ok := c.Conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			b.raw = raw
		}
	}
	return b
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// kick wakes the drainer, e.g. after the write deadline moved.
func (b *shutdownBuffer) kick() {
	b.mu.Lock()
	b.paused = false
	b.mu.Unlock()
	signal(b.wake)
}

// write buffers p and returns at once (unless 64 MiB are already waiting).
func (b *shutdownBuffer) write(p []byte) (int, error) {
	b.mu.Lock()
	for {
		switch {
		case b.shut:
			b.mu.Unlock()
			return 0, b.c.opErr("write", syscall.EPIPE)
		case b.err != nil:
			err := b.err
			b.mu.Unlock()
			return 0, b.c.opErr("write", err)
		case b.c.wdl.passed():
			b.mu.Unlock()
			return 0, b.c.opErr("write", os.ErrDeadlineExceeded)
		}
		pending := len(b.data) - b.off
		if pending == 0 || pending+len(p) <= shutdownBufferMax {
			break
		}
		b.mu.Unlock()
		_, changed := b.c.wdl.get()
		select {
		case <-b.space:
		case <-changed:
		case <-b.c.closed:
		}
		b.mu.Lock()
	}
	b.data = append(b.data, p...)
	if !b.started {
		b.started = true
		go b.drain()
	}
	b.mu.Unlock()
	signal(b.wake)
	return len(p), nil
}

// drain moves the buffer to the socket until told to stop.
func (b *shutdownBuffer) drain() {
	defer close(b.done)
	for {
		b.mu.Lock()
		for {
			empty := b.off == len(b.data)
			if b.stopNow || b.err != nil || (b.finish && (empty || b.paused)) {
				b.mu.Unlock()
				return
			}
			if !empty && !b.paused {
				break
			}
			b.mu.Unlock()
			<-b.wake
			b.mu.Lock()
		}
		chunk := b.data[b.off:]
		if b.c.maxWrite > 0 && len(chunk) > b.c.maxWrite {
			chunk = chunk[:b.c.maxWrite]
		}
		b.mu.Unlock()

		n, err := b.writeOnce(chunk)

		b.mu.Lock()
		b.off += n
		switch {
		case b.off == len(b.data):
			b.data, b.off = b.data[:0], 0
		case b.off >= shutdownBufferMax/2:
			// A writer that stays ahead of the socket never lets the buffer
			// empty; without moving the unsent tail to the front, the bytes
			// already sent would stay in front of it and the buffer would grow
			// without bound. chunk is done with, and write only appends.
			b.data = append(b.data[:0], b.data[b.off:]...)
			b.off = 0
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				b.paused = true
			} else {
				b.err = err
			}
		}
		b.mu.Unlock()
		signal(b.space)
	}
}

// writeOnce makes one non-blocking write(2) of chunk, waiting for writability (and
// recording a would-block) while the socket buffer is full.
func (b *shutdownBuffer) writeOnce(chunk []byte) (int, error) {
	rec := b.c.rec
	var n int
	var err error
	if b.raw == nil {
		n, err = b.c.Conn.Write(chunk)
	} else {
		var werr error
		err = b.raw.Write(func(fd uintptr) bool {
			n, werr = syscall.Write(int(fd), chunk)
			switch werr {
			case syscall.EAGAIN:
				rec.add(EventWouldBlock, 0, int64(len(chunk)), "")
				return false
			case syscall.EINTR:
				return false
			}
			return true
		})
		n = max(n, 0)
		if err == nil && werr != nil {
			err = os.NewSyscallError("write", werr)
		}
	}
	switch {
	case n == len(chunk):
		rec.add(EventWrite, int64(n), 0, "")
	case n > 0:
		rec.add(EventPartialWrite, int64(n), int64(len(chunk)), "")
	}
	if err != nil {
		b.mu.Lock()
		stopping := b.stopNow
		b.mu.Unlock()
		if !(stopping && errors.Is(err, os.ErrDeadlineExceeded)) { // our own wake-up call
			b.c.noteErr(err)
		}
	}
	return n, err
}

// stop ends the drainer: the defect stops it at once (waking it out of a wait for
// writability), the fix lets it empty the buffer first. It returns the bytes never sent.
func (b *shutdownBuffer) stop() (unsent int64, note string) {
	b.mu.Lock()
	b.shut = true
	if b.fixed {
		b.finish = true
	} else {
		b.stopNow = true
	}
	started := b.started
	b.mu.Unlock()
	if started {
		signal(b.wake)
		if !b.fixed {
			_ = b.c.Conn.SetWriteDeadline(aLongTimeAgo)
		}
		<-b.done
	}
	if !b.fixed {
		b.flushOnce()
	}
	b.mu.Lock()
	unsent = int64(len(b.data) - b.off)
	err := b.err
	b.mu.Unlock()
	switch {
	case unsent == 0:
	case !b.fixed:
		note = "still buffered (buffered-shutdown)"
		b.c.fire(bufferedShutdownKind.name)
	case err != nil:
		note = "still buffered (drain failed: " + err.Error() + ")"
	default:
		note = "still buffered (drain stopped at the write deadline)"
	}
	return unsent, note
}

// flushOnce is the defect's last flush before shutdown: one non-blocking write(2) of what
// is pending, its would-block ignored (hyper's poll_flush returned Pending and the result
// was dropped). The drainer has stopped; Control does not look at the deadline we used
// to wake it.
func (b *shutdownBuffer) flushOnce() {
	b.mu.Lock()
	chunk := b.data[b.off:]
	if b.c.maxWrite > 0 && len(chunk) > b.c.maxWrite {
		chunk = chunk[:b.c.maxWrite]
	}
	failed := b.err != nil
	b.mu.Unlock()
	if b.raw == nil || len(chunk) == 0 || failed {
		return
	}
	var n int
	var werr error
	if err := b.raw.Control(func(fd uintptr) { n, werr = syscall.Write(int(fd), chunk) }); err != nil {
		return
	}
	rec := b.c.rec
	switch {
	case werr == syscall.EAGAIN:
		rec.add(EventWouldBlock, 0, int64(len(chunk)), "ignored (buffered-shutdown)")
	case werr != nil:
		b.c.noteErr(os.NewSyscallError("write", werr))
	case n == len(chunk):
		rec.add(EventWrite, int64(n), 0, "")
	case n > 0:
		rec.add(EventPartialWrite, int64(n), int64(len(chunk)), "")
	}
	if n > 0 {
		b.mu.Lock()
		b.off += n
		b.mu.Unlock()
	}
}

// closeWrite is the conn's CloseWrite: stop (or finish) the drain, then shutdown(SHUT_WR).
func (b *shutdownBuffer) closeWrite() error {
	b.mu.Lock()
	already := b.shut
	b.mu.Unlock()
	if already {
		return b.c.closeWriteInner(0, "")
	}
	unsent, note := b.stop()
	return b.c.closeWriteInner(unsent, note)
}

// close is called by the conn's Close before the socket closes.
func (b *shutdownBuffer) close() (int64, string) {
	return b.stop()
}

var _ net.Conn = (*conn)(nil)
