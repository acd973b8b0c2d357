package transport

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// This file connects a conn to its delay lines (latency.go, delay_line.go): the releaser
// of the write side and the reader of the read side, each one goroutine per conn and
// direction, started by the first Write or Read and ended by Close.

// writeLine pushes a chunk of the app's Write into the write line; it returns once the
// line took it (the releaser writes it when it is due), waiting while the line is full.
func (c *conn) writeLine(chunk []byte) (int, error) {
	l := c.wline
	if c.wdl.passed() {
		return 0, c.opErr("write", os.ErrDeadlineExceeded)
	}
	l.mu.Lock()
	if !l.started && !l.stopped && !l.draining {
		l.started = true
		go c.releaseWrites()
	}
	l.mu.Unlock()
	n, w, err := l.push(chunk, l.clock.Now(), &c.wdl, c.closed)
	switch {
	case err != nil:
		return n, err
	case w == waitDeadline:
		return n, c.opErr("write", os.ErrDeadlineExceeded)
	case w == waitClosed:
		l.mu.Lock()
		shut := l.draining && !l.stopped
		l.mu.Unlock()
		if shut {
			return n, c.opErr("write", syscall.EPIPE) // like a socket shut down for writing
		}
		return n, c.opErr("write", net.ErrClosed)
	}
	return n, nil
}

// releaseWrites is the write line's releaser: it writes every chunk when it is due
// through the stages after latency, until the line drains or stops.
func (c *conn) releaseWrites() {
	l := c.wline
	defer close(l.done)
	for {
		ch, ok := l.next()
		if !ok {
			return
		}
		data := ch.data
		for len(data) > 0 {
			n, err := c.before(c.wsLine, len(data))
			var m int
			if err == nil {
				m, err = c.sink(data[:n])
			}
			for _, s := range c.wsLine {
				s.after(c, m)
			}
			data = data[m:]
			if err == nil {
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && c.awaitWriteDeadlineMoved() {
				continue // a passed write deadline pauses the line until it moves
			}
			if !l.isStopped() {
				c.noteErr(err)
			}
			l.fail(err)
			return
		}
		l.release()
	}
}

// awaitWriteDeadlineMoved waits until the write deadline changes; false when the line
// stopped meanwhile. It looks at stopped and registers for the line's next change in one
// hold of l.mu: a stop between the two would find no waiter to wake (stop only closes
// changed for a registered waiter) and Close would wait for this goroutine forever.
func (c *conn) awaitWriteDeadlineMoved() bool {
	l := c.wline
	for {
		t, changed := c.wdl.get()
		l.mu.Lock()
		if l.stopped {
			l.mu.Unlock()
			return false
		}
		if t.IsZero() || time.Now().Before(t) {
			l.mu.Unlock()
			return true
		}
		lc := l.changed
		l.watched = true
		l.mu.Unlock()
		select {
		case <-changed:
		case <-lc:
		}
	}
}

func (l *delayLine) isStopped() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopped
}

// drainWriteLine is the write side of CloseWrite and Close: the bytes the app already
// wrote are delivered when they are due, as a kernel delivers what is in its socket
// buffer after close(2); dropping them would turn latency into a truncation. The drain is
// bounded (see delayLine.drain); what it could not deliver is counted in the timeline.
func (c *conn) drainWriteLine() (unsent int64, note string) {
	l := c.wline
	if l == nil {
		return 0, ""
	}
	if l.drain(&c.wdl) {
		return 0, ""
	}
	unsent = l.stop()
	_ = c.Conn.SetWriteDeadline(aLongTimeAgo) // wakes a releaser blocked on a full socket
	l.mu.Lock()
	started, err := l.started, l.err
	l.mu.Unlock()
	if started {
		<-l.done
	}
	if unsent == 0 {
		return 0, ""
	}
	if err != nil {
		return unsent, "still delayed (latency: the socket failed: " + err.Error() + ")"
	}
	return unsent, "still delayed (latency: the peer stopped reading or the write deadline passed)"
}

// readerStarted reports whether the read line's goroutine owns the socket's reads;
// c.rmu is held.
func (c *conn) readerStarted() bool {
	if c.rline == nil {
		return false
	}
	c.rline.mu.Lock()
	defer c.rline.mu.Unlock()
	return c.rline.started
}

// readLine is the app's Read with a read line: it starts the reader goroutine on the
// first call and returns the bytes that are due, waiting for them like a blocked read.
func (c *conn) readLine(p []byte) (int, error) {
	l := c.rline
	c.rmu.Lock()
	l.mu.Lock()
	start := !l.started && !l.stopped
	l.started = l.started || start
	l.mu.Unlock()
	if start {
		// From now on the goroutine reads the socket without a deadline; the app's
		// deadline acts on its wait for the line.
		_ = c.Conn.SetReadDeadline(time.Time{})
		go c.readAhead()
	}
	c.rmu.Unlock()
	n, err, w := l.pop(p, &c.rdl, c.closed)
	for _, s := range c.rs {
		s.after(c, n)
	}
	switch w {
	case waitDeadline:
		return 0, c.opErr("read", os.ErrDeadlineExceeded)
	case waitClosed:
		return 0, c.opErr("read", net.ErrClosed)
	}
	return n, err
}

// readAhead is the read line's reader: it reads the socket through the stages next to it
// (read-slice, slow-read, bandwidth), stamps what arrives and pushes it into the line,
// and stops reading while the line is full so the sender meets backpressure.
func (c *conn) readAhead() {
	l := c.rline
	defer close(l.done)
	for {
		if !l.awaitRoom(c.closed) {
			return
		}
		n, err := c.before(c.rsLine, lineChunkSize)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && c.awaitReadDeadlineMoved() {
				continue // a stage's wait ended at the app's deadline: not the stream's end
			}
			l.pushRead(lineBuffers.Get().(*[lineChunkSize]byte), 0, err, l.clock.Now())
			return
		}
		buf := lineBuffers.Get().(*[lineChunkSize]byte)
		m, rerr := c.Conn.Read(buf[:n])
		arrived := l.clock.Now()
		if m > 0 {
			c.rec.add(EventRead, int64(m), 0, "")
		}
		if rerr != nil && !c.isClosed() {
			c.noteErr(rerr)
		}
		l.pushRead(buf, m, rerr, arrived)
		for _, s := range c.rsLine {
			s.after(c, m) // slow-read's pause: the socket is not read meanwhile
		}
		if rerr != nil {
			return
		}
	}
}

// awaitReadDeadlineMoved waits until the read deadline changes; false once the conn closed.
func (c *conn) awaitReadDeadlineMoved() bool {
	for {
		t, changed := c.rdl.get()
		if t.IsZero() || time.Now().Before(t) {
			return true
		}
		select {
		case <-changed:
		case <-c.closed:
			return false
		}
	}
}

func (c *conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// stopReadLine ends the reader goroutine after the socket closed and waits for it.
func (c *conn) stopReadLine() {
	l := c.rline
	if l == nil {
		return
	}
	c.rmu.Lock()
	l.stop()
	l.mu.Lock()
	started := l.started
	l.mu.Unlock()
	c.rmu.Unlock()
	if started {
		<-l.done
	}
}
