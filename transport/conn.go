package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrInjected is wrapped by every error a fault returns on purpose (close-after,
// half-close-after, reset-after), so callers can tell an injected end from a real one
// with errors.Is.
var ErrInjected = errors.New("transport: connection ended by an injected fault")

// conn is a wrapped net.Conn: the faults chosen for it act on its Read and Write, its
// recorder keeps a timeline. Without faults and recorder it is a pass-through.
type conn struct {
	net.Conn
	id    string
	seq   uint64
	start time.Time
	rec   *recorder // nil => recording off
	plain bool      // no stages, no recorder, no buffer: Read and Write go straight through

	rs, ws   []stage         // read and write stages in chain order (the app's side of a line)
	buf      *shutdownBuffer // buffered-shutdown(-fixed), nil otherwise
	maxWrite int             // write-slice for the drainer of buf; 0 => unlimited

	// With latency a direction's chain is split by a delay line (delay_line.go): rs and ws
	// keep the app's side, rsLine and wsLine run in the line's goroutine, next to the socket.
	rline, wline   *delayLine
	rsLine, wsLine []stage
	rmu            sync.Mutex // orders the start of the reader goroutine with SetReadDeadline

	rdl, wdl  deadline
	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
	cwDone    atomic.Bool // CloseWrite already sent

	fired atomic.Pointer[string] // the first fault that cut or stopped this conn

	// meter, when set, counts the fault that fires; with countIO also the bytes each way
	// and the conn's Close (a Listener's conns; a Proxy counts bytes in its copy loop).
	meter   *meter
	countIO bool
	onClose func(*conn) // called once by Close (a Listener forgets the conn)
	gen     uint64      // the generation of the faults the conn started with
}

// fire notes that fault (its canonical spec) cut or stopped the conn; the
// first one sticks, and only it is counted.
func (c *conn) fire(fault string) {
	if c.fired.CompareAndSwap(nil, &fault) && c.meter != nil {
		c.meter.fire(fault)
	}
}

// Fired returns the fault that cut or stopped a conn made by this package
// (or the one beneath c, see [Annotate]):
// its canonical spec ("close-after=300KiB", "buffered-shutdown"), so a
// caller can tell its own injected cut from the peer's. False for a conn
// no fault acted on, or one not made here.
func Fired(c net.Conn) (string, bool) {
	w, ok := ours(c)
	if !ok {
		return "", false
	}
	return w.firedFault()
}

func (c *conn) firedFault() (string, bool) {
	if f := c.fired.Load(); f != nil {
		return *f, true
	}
	return "", false
}

// seqCounter numbers conns wrapped by WrapConn directly (listeners and dialers number their
// own, so that their selections replay from the seed alone).
var seqCounter atomic.Uint64

// newConn wraps inner as conn number seq and records how it was born (accept or dial).
func newConn(inner net.Conn, o Options, seq uint64, born EventKind) *conn {
	name := o.Name
	if name == "" {
		name = "conn"
	}
	c := &conn{
		Conn:   inner,
		id:     name + "-" + strconv.FormatUint(seq, 10),
		seq:    seq,
		start:  time.Now(),
		closed: make(chan struct{}),
	}
	c.rec = newRecorder(o.Record, c.start, c.id)
	var active []string
	var setups []func()
	for idx, fs := range o.Faults.list {
		if !fs.selected(o.Seed, seq, idx) {
			continue
		}
		active = append(active, fs.String())
		if fs.kind.stages != nil {
			r, w := fs.kind.stages(fs, subSeed(o.Seed, seq, idx))
			if r != nil && fs.dir&dirRead != 0 {
				c.rs = append(c.rs, r)
			}
			if w != nil && fs.dir&dirWrite != 0 {
				c.ws = append(c.ws, w)
			}
		}
		if fs.kind.setup != nil {
			setups = append(setups, func() { fs.kind.setup(fs, c) })
		}
	}
	note := ""
	if len(active) > 0 {
		note = "faults=" + strings.Join(active, ",")
	}
	c.rec.add(born, 0, 0, note)
	for _, f := range setups {
		f()
	}
	c.plain = c.rec == nil && c.rs == nil && c.ws == nil && c.buf == nil
	c.splitAtLatency(realClock{})
	return c
}

// splitAtLatency gives each direction with latency its delay line. Writes: the stages
// before latency (budgets, write-slice) run in the app's Write, which pushes into the
// line; the ones after it (bandwidth), the buffer of buffered-shutdown and the socket run
// in the releaser. Reads: the budgets run in the app's Read, which takes from the line;
// read-slice, slow-read and bandwidth run in the reader goroutine, next to the socket.
func (c *conn) splitAtLatency(clk clock) {
	for i, s := range c.ws {
		if ls, ok := s.(*latencyStage); ok {
			c.wline = newDelayLine(ls.delay, clk)
			c.wsLine = c.ws[i+1:]
			c.ws = c.ws[:i:i]
			break
		}
	}
	for _, s := range c.rs {
		if ls, ok := s.(*latencyStage); ok {
			c.rline = newDelayLine(ls.delay, clk)
			var app, line []stage
			for _, s := range c.rs {
				switch s.(type) {
				case *latencyStage:
				case *budgetStage:
					app = append(app, s)
				default:
					line = append(line, s)
				}
			}
			c.rs, c.rsLine = app, line
			break
		}
	}
}

// ID returns the conn's identifier, e.g. "svc-17": Options.Name and the conn's number.
func (c *conn) ID() string { return c.id }

// Timeline returns a copy of the conn's flight recorder (nil when recording is off).
func (c *conn) Timeline() Timeline { return c.rec.timeline() }

// NetConn returns the wrapped conn.
func (c *conn) NetConn() net.Conn { return c.Conn }

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.read(p)
	if c.countIO && n > 0 {
		c.meter.toUpstream.Add(int64(n))
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.write(p)
	if c.countIO && n > 0 {
		c.meter.toClient.Add(int64(n))
	}
	return n, err
}

func (c *conn) read(p []byte) (int, error) {
	if c.plain || len(p) == 0 {
		return c.Conn.Read(p)
	}
	n, err := c.before(c.rs, len(p))
	if err != nil {
		return 0, err
	}
	if c.rline != nil {
		return c.readLine(p[:n])
	}
	m, err := c.Conn.Read(p[:n])
	if m > 0 {
		c.rec.add(EventRead, int64(m), 0, "")
	}
	for _, s := range c.rs {
		s.after(c, m)
	}
	if err != nil {
		c.noteErr(err)
	}
	return m, err
}

func (c *conn) write(p []byte) (int, error) {
	if c.plain || len(p) == 0 {
		return c.Conn.Write(p)
	}
	written := 0
	for written < len(p) {
		n, err := c.before(c.ws, len(p)-written)
		if err != nil {
			return written, err
		}
		chunk := p[written : written+n]
		var m int
		if c.wline != nil {
			m, err = c.writeLine(chunk)
		} else {
			m, err = c.sink(chunk)
		}
		written += m
		for _, s := range c.ws {
			s.after(c, m)
		}
		if err != nil {
			c.noteErr(err)
			return written, err
		}
	}
	return written, nil
}

// sink moves a chunk to the socket (or into the buffer of buffered-shutdown) and records it.
func (c *conn) sink(chunk []byte) (int, error) {
	if c.buf != nil {
		return c.buf.write(chunk)
	}
	m, err := c.Conn.Write(chunk)
	switch {
	case m == len(chunk):
		c.rec.add(EventWrite, int64(m), 0, "")
	case m > 0:
		c.rec.add(EventPartialWrite, int64(m), int64(len(chunk)), "")
	}
	return m, err
}

// before runs the stages' before in chain order; when one refuses, the stages that
// already agreed hear after(0) so that reservations (byte budgets) are given back.
func (c *conn) before(stages []stage, n int) (int, error) {
	for i, s := range stages {
		var err error
		if n, err = s.before(c, n); err != nil {
			for _, done := range stages[:i] {
				done.after(c, 0)
			}
			return 0, err
		}
	}
	return n, nil
}

// noteErr records the end of a Read or Write: the peer's FIN, a reset, or another error.
func (c *conn) noteErr(err error) {
	if c.rec == nil {
		return
	}
	switch {
	case errors.Is(err, io.EOF):
		c.rec.add(EventPeerFIN, 0, 0, "")
	case errors.Is(err, syscall.ECONNRESET):
		c.rec.add(EventRST, 0, 0, "")
	default:
		c.rec.add(EventError, 0, 0, err.Error())
	}
}

// CloseWrite sends a FIN (shutdown SHUT_WR) when the wrapped conn can; Go's http server
// calls it before closing a "Connection: close" response, which is where
// buffered-shutdown does its damage.
func (c *conn) CloseWrite() error {
	unsent, note := c.drainWriteLine()
	if c.buf != nil {
		return c.buf.closeWrite()
	}
	return c.closeWriteInner(unsent, note)
}

func (c *conn) closeWriteInner(unsent int64, note string) error {
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok {
		return c.opErr("close-write", fmt.Errorf("%T cannot half-close: %w", c.Conn, errors.ErrUnsupported))
	}
	if c.cwDone.Swap(true) {
		return nil
	}
	c.rec.add(EventCloseWrite, unsent, 0, note)
	return cw.CloseWrite()
}

// Close closes the conn once; later calls return the first call's result. No goroutine of
// the conn survives it. With buffered-shutdown the buffer is dropped (the defect); with
// buffered-shutdown-fixed Close drains it first, bounded by the write deadline.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		unsent, note := c.drainWriteLine()
		if c.buf != nil {
			u, n := c.buf.close()
			unsent += u
			if note == "" {
				note = n
			}
		}
		close(c.closed)
		c.rec.add(EventClose, unsent, 0, note)
		c.closeErr = c.Conn.Close()
		c.stopReadLine()
		if c.onClose != nil {
			c.onClose(c)
		}
	})
	return c.closeErr
}

func (c *conn) SetDeadline(t time.Time) error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rdl.set(t)
	c.wdl.set(t)
	if c.buf != nil {
		c.buf.kick()
	}
	if c.readerStarted() {
		// The reader goroutine owns the socket's reads; the deadline acts on the line.
		return c.Conn.SetWriteDeadline(t)
	}
	return c.Conn.SetDeadline(t)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rdl.set(t)
	if c.readerStarted() {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.wdl.set(t)
	if c.buf != nil {
		c.buf.kick()
	}
	return c.Conn.SetWriteDeadline(t)
}

// opErr dresses err the way net does, so net.Error and errors.Is work on it.
func (c *conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: c.Conn.LocalAddr().Network(), Source: c.Conn.LocalAddr(), Addr: c.Conn.RemoteAddr(), Err: err}
}

// wait pauses direction d for dur (forever if dur < 0) the way a blocked socket call
// would: it ends with a timeout error at the deadline and net.ErrClosed on Close.
func (c *conn) wait(d dir, dur time.Duration) error {
	dl, op := &c.wdl, "write"
	if d == dirRead {
		dl, op = &c.rdl, "read"
	}
	switch sleep(dur, dl, c.closed) {
	case waitDeadline:
		return c.opErr(op, os.ErrDeadlineExceeded)
	case waitClosed:
		return c.opErr(op, net.ErrClosed)
	}
	return nil
}

// pause is wait for after-stages: the bytes are delivered whatever ends the pause.
func (c *conn) pause(d dir, dur time.Duration) { _ = c.wait(d, dur) }

// reset closes with SO_LINGER 0 so the peer gets an RST (TCP only: a Unix socket has no
// RST and is simply closed).
func (c *conn) reset() error {
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	return c.Close()
}

// setSockBuf sets SO_SNDBUF or SO_RCVBUF through the conn's own setter (TCP and Unix
// conns have one) and reports the size the kernel applied.
func (c *conn) setSockBuf(send bool, n int64) (int, error) {
	type bufSetter interface {
		SetReadBuffer(int) error
		SetWriteBuffer(int) error
	}
	s, ok := c.Conn.(bufSetter)
	if !ok {
		return 0, fmt.Errorf("%T has no socket buffers", c.Conn)
	}
	var err error
	opt := syscall.SO_RCVBUF
	if send {
		err, opt = s.SetWriteBuffer(int(n)), syscall.SO_SNDBUF
	} else {
		err = s.SetReadBuffer(int(n))
	}
	if err != nil {
		return 0, err
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return int(n), nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return int(n), nil
	}
	got := int(n)
	_ = rc.Control(func(fd uintptr) {
		if v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, opt); err == nil {
			got = v
		}
	})
	return got, nil
}

// TimelineOf returns the flight recorder of a conn made by this package (e.g. the conn
// httptrace.GotConn hands a client that dials through [Dialer]), or of the one beneath
// c (a *tls.Conn over it, see [Annotate]).
func TimelineOf(c net.Conn) (Timeline, bool) {
	w, ok := ours(c)
	if !ok {
		return nil, false
	}
	return w.Timeline(), true
}

// ConnID returns the ID of a conn made by this package (or of the one beneath c, see
// [Annotate]), "" for any other conn.
func ConnID(c net.Conn) string {
	if w, ok := ours(c); ok {
		return w.id
	}
	return ""
}
