package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ProxyConfig configures a standalone fault-injecting proxy. Zero values are noted.
type ProxyConfig struct {
	ListenNetwork, ListenAddr     string // "tcp" "127.0.0.1:0" | "unix" "/path/to.sock"
	UpstreamNetwork, UpstreamAddr string // where every accepted conn is forwarded
	// ToUpstream and ToClient are the faults of each direction's data. Faults that act on
	// reads (read-slice, slow-read, rcvbuf, or @dir=read) act on the proxy's reads from
	// that direction's source; everything else on its writes to that direction's sink.
	ToUpstream, ToClient Faults
	Seed                 int64         // all randomness; conns numbered from 1 in accept order
	Record               int           // flight-recorder events per conn; 0 => off
	Name                 string        // prefix of IDs; "" => "proxy" (IDs "proxy-3", conns "proxy-3-client")
	DialTimeout          time.Duration // upstream dial; 0 => 10s
	// OnConnEnd, if set, is called once per proxied conn after both directions ended, from
	// the conn's own goroutine (keep it short).
	OnConnEnd func(ProxyReport)
}

// End says how one direction of a proxied conn ended.
type End string

// The ends a direction can have.
const (
	EndFIN    End = "fin"    // the source sent a FIN (read io.EOF); carried on as CloseWrite
	EndRST    End = "rst"    // a reset (ECONNRESET) on either side; carried on as a reset
	EndFault  End = "fault"  // an injected fault ended it (close-after, reset-after, ...)
	EndClosed End = "closed" // the other direction (or Proxy.Close) closed the conns
	EndError  End = "error"  // any other error (Err has it)
)

// DirectionReport is what one direction of a proxied conn carried and how it ended.
type DirectionReport struct {
	Bytes int64  // bytes written to the sink
	End   End    // "" while still running
	Err   string // the error that ended it, "" for a FIN
}

// ProxyReport describes one proxied conn after it ended.
type ProxyReport struct {
	ID                   string // e.g. "proxy-3"
	Peer                 string // the client's address, network-qualified (see [PeerKey])
	Fired                string // the fault that cut or stopped either side (canonical spec), "" if none
	ToUpstream, ToClient DirectionReport
	Started              time.Time
	Duration             time.Duration
	// Timelines of the two sides when Record > 0: the accepted client conn and the
	// upstream conn.
	Client, Upstream Timeline
}

// Proxy forwards TCP or Unix conns to an upstream with faults per direction. Unlike
// Toxiproxy it carries a half-close through (a FIN one way stays a FIN one way, the other
// direction keeps flowing) and reports each direction's end.
type Proxy struct {
	cfg    ProxyConfig
	faults atomic.Pointer[proxyFaults] // what a conn accepted now gets
	m      *meter

	mu      sync.Mutex
	ln      net.Listener
	conns   map[*proxyConn]struct{}
	closing bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	seq     atomic.Uint64
	reports map[string]ProxyReport
	order   []string          // report IDs, oldest first, bounded by historySize
	byPeer  map[string]string // client address -> conn ID, live and reported
	live    map[string]*proxyConn
}

// NewProxy checks cfg and prepares a proxy; Start begins listening.
func NewProxy(cfg ProxyConfig) (*Proxy, error) {
	for _, a := range []struct{ what, network, addr string }{
		{"listen", cfg.ListenNetwork, cfg.ListenAddr}, {"upstream", cfg.UpstreamNetwork, cfg.UpstreamAddr},
	} {
		switch a.network {
		case "tcp", "tcp4", "tcp6", "unix":
		default:
			return nil, fmt.Errorf("proxy: %s network %q not accepted; accepted: tcp, tcp4, tcp6, unix", a.what, a.network)
		}
		if a.addr == "" {
			return nil, fmt.Errorf("proxy: %s address is empty", a.what)
		}
	}
	if cfg.Name == "" {
		cfg.Name = "proxy"
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	p := &Proxy{
		cfg:     cfg,
		m:       newMeter(),
		conns:   make(map[*proxyConn]struct{}),
		reports: make(map[string]ProxyReport),
		byPeer:  make(map[string]string),
		live:    make(map[string]*proxyConn),
	}
	p.faults.Store(p.newFaults(cfg.ToUpstream, cfg.ToClient, 0))
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// proxyFaults is one generation of a proxy's faults: a conn takes the current one when
// it is accepted and keeps it for both of its sides.
type proxyFaults struct {
	toUpstream, toClient     Faults
	clientSide, upstreamSide Options
	gen                      uint64
}

func (p *Proxy) newFaults(toUpstream, toClient Faults, gen uint64) *proxyFaults {
	client, upstream := splitProxyFaults(toClient, toUpstream)
	cfg := p.cfg
	return &proxyFaults{
		toUpstream: toUpstream, toClient: toClient, gen: gen,
		clientSide:   Options{Faults: client, Seed: cfg.Seed, Record: cfg.Record, Name: cfg.Name},
		upstreamSide: Options{Faults: upstream, Seed: int64(splitmix64(uint64(cfg.Seed) ^ 0x75707374)), Record: cfg.Record, Name: cfg.Name},
	}
}

// SetFaults replaces the faults of each direction for the conns accepted from now on;
// both sides of a conn take the same generation. Open conns keep the chains they started
// with: a chain holds state (byte budgets, a delay line's goroutine, a write buffer) that
// cannot be swapped mid-stream without inventing bytes or losing them. [Stats].Stale
// counts the open conns that still run older faults.
func (p *Proxy) SetFaults(toUpstream, toClient Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults.Store(p.newFaults(toUpstream, toClient, p.faults.Load().gen+1))
}

// Faults returns the faults of each direction that new conns get.
func (p *Proxy) Faults() (toUpstream, toClient Faults) {
	f := p.faults.Load()
	return f.toUpstream, f.toClient
}

// Stats returns what the proxy carried so far; bytes are counted as they move, so an
// open conn's bytes show before it ends.
func (p *Proxy) Stats() Stats {
	s := p.m.stats()
	p.mu.Lock()
	gen := p.faults.Load().gen
	for pc := range p.conns {
		if pc.gen < gen {
			s.Stale++
		}
	}
	p.mu.Unlock()
	return s
}

// splitProxyFaults turns per-direction faults into per-conn faults: the client conn
// writes the to-client data and reads the to-upstream data, the upstream conn the reverse.
func splitProxyFaults(toClient, toUpstream Faults) (client, upstream Faults) {
	place := func(fs faultSpec, sink, source *Faults) {
		if fs.dir == dirRead {
			*source = Faults{list: append(source.list, fs)}
			return
		}
		if fs.kind.dirs != 0 && fs.dir == dirBoth {
			fs.dir = dirWrite // once per direction of data, not once per side
		}
		*sink = Faults{list: append(sink.list, fs)}
	}
	for _, fs := range toClient.list {
		place(fs, &client, &upstream)
	}
	for _, fs := range toUpstream.list {
		place(fs, &upstream, &client)
	}
	client.sortChain()
	upstream.sortChain()
	return client, upstream
}

// Start listens and serves in the background until Close.
func (p *Proxy) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil || p.closing {
		return errors.New("proxy: already started or closed")
	}
	ln, err := net.Listen(p.cfg.ListenNetwork, p.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	p.ln = ln
	p.wg.Add(1)
	go p.serve(ln)
	return nil
}

// Addr returns the listening address (nil before Start).
func (p *Proxy) Addr() net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return nil
	}
	return p.ln.Addr()
}

// Close stops listening, closes every proxied conn and waits for all goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closing = true
	ln := p.ln
	conns := make([]*proxyConn, 0, len(p.conns))
	for pc := range p.conns {
		conns = append(conns, pc)
	}
	p.mu.Unlock()
	p.cancel()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	for _, pc := range conns {
		pc.abort()
	}
	p.wg.Wait()
	return err
}

// ConnFrom returns the report of the proxied conn whose client had the address peer
// (see [PeerKey]), live or among the last 4096 ended ones. For a live conn the report
// says only what is known yet: its ID, peer and the fault that fired, if one did.
func (p *Proxy) ConnFrom(peer string) (ProxyReport, bool) {
	if peer == "" {
		return ProxyReport{}, false
	}
	p.mu.Lock()
	id, ok := p.byPeer[peer]
	r, done := p.reports[id]
	pc := p.live[id]
	p.mu.Unlock()
	switch {
	case !ok:
		return ProxyReport{}, false
	case done:
		return r, true
	case pc != nil:
		return ProxyReport{ID: id, Peer: peer, Fired: pc.fired()}, true
	}
	return ProxyReport{}, false
}

// fired is the fault that cut or stopped either side of a proxied conn.
func (pc *proxyConn) fired() string {
	if f, ok := pc.client.firedFault(); ok {
		return f
	}
	if up := pc.upstreamConn(); up != nil {
		if f, ok := up.firedFault(); ok {
			return f
		}
	}
	return ""
}

// Report returns the report of one of the last 4096 ended conns.
func (p *Proxy) Report(id string) (ProxyReport, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.reports[id]
	return r, ok
}

func (p *Proxy) serve(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		p.mu.Lock()
		if p.closing {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.handle(c)
	}
}

type proxyConn struct {
	client   *conn
	gen      uint64 // the generation of faults both sides started with
	mu       sync.Mutex
	upstream *conn // nil until dialed
	closed   bool
}

func (pc *proxyConn) upstreamConn() *conn {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.upstream
}

// setUpstream records the dialed conn; false if the proxied conn was closed meanwhile.
func (pc *proxyConn) setUpstream(c *conn) bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.upstream = c
	return !pc.closed
}

// abort ends a proxied conn from Proxy.Close. A deadline in the past comes first: it ends
// stalls and bounds the drain of buffered-shutdown-fixed, so Close cannot hang on a peer
// that stopped reading.
func (pc *proxyConn) abort() {
	pc.mu.Lock()
	pc.closed = true
	up := pc.upstream
	pc.mu.Unlock()
	pc.client.SetDeadline(aLongTimeAgo)
	if up != nil {
		up.SetDeadline(aLongTimeAgo)
	}
	pc.closeBoth()
}

func (pc *proxyConn) isClosed() bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.closed
}

func (pc *proxyConn) closeBoth() {
	pc.mu.Lock()
	pc.closed = true
	up := pc.upstream
	pc.mu.Unlock()
	pc.client.Close()
	if up != nil {
		up.Close()
	}
}

func (p *Proxy) handle(raw net.Conn) {
	defer p.wg.Done()
	seq := p.seq.Add(1)
	id := p.cfg.Name + "-" + strconv.FormatUint(seq, 10)
	rep := ProxyReport{ID: id, Started: time.Now()}
	pf := p.faults.Load()
	co := pf.clientSide
	co.Name = id + "-client"
	pc := &proxyConn{client: newConnNamed(raw, co, seq, EventAccept), gen: pf.gen}
	pc.client.meter = p.m
	rep.Peer = peerOf(raw)
	p.m.conns.Add(1)
	p.m.active.Add(1)
	defer p.m.active.Add(-1)
	p.mu.Lock()
	p.conns[pc] = struct{}{}
	p.live[id] = pc
	if rep.Peer != "" {
		p.byPeer[rep.Peer] = id
	}
	p.mu.Unlock()
	defer func() {
		pc.closeBoth()
		rep.Fired = pc.fired()
		p.mu.Lock()
		delete(p.conns, pc)
		delete(p.live, id)
		p.mu.Unlock()
		rep.Duration = time.Since(rep.Started)
		rep.Client = pc.client.Timeline()
		if up := pc.upstreamConn(); up != nil {
			rep.Upstream = up.Timeline()
		}
		p.keep(rep)
		if p.cfg.OnConnEnd != nil {
			p.cfg.OnConnEnd(rep)
		}
	}()

	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	up, err := d.DialContext(p.ctx, p.cfg.UpstreamNetwork, p.cfg.UpstreamAddr)
	if err != nil {
		rep.ToUpstream = DirectionReport{End: EndError, Err: err.Error()}
		rep.ToClient = rep.ToUpstream
		if l, ok := raw.(interface{ SetLinger(int) error }); ok {
			_ = l.SetLinger(0) // tell the client at once that nobody is there
		}
		return
	}
	uo := pf.upstreamSide
	uo.Name = id + "-upstream"
	uc := newConnNamed(up, uo, seq, EventDial)
	uc.meter = p.m
	if !pc.setUpstream(uc) {
		pc.closeBoth()
		rep.ToUpstream = DirectionReport{End: EndClosed}
		rep.ToClient = rep.ToUpstream
		return
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rep.ToUpstream = pc.pipe(pc.upstream, pc.client, &p.m.toUpstream)
	}()
	rep.ToClient = pc.pipe(pc.client, pc.upstream, &p.m.toClient)
	wg.Wait()
}

// newConnNamed wraps with o.Name used as the whole ID (the proxy numbers its conns itself).
func newConnNamed(c net.Conn, o Options, seq uint64, born EventKind) *conn {
	w := newConn(c, o, seq, born)
	w.id = o.Name
	return w
}

// Copy buffers of the proxy. Every direction starts with a small buffer; a read that
// fills it means a bulk stream is flowing, and the direction borrows a large buffer from
// a pool until a read returns less than a quarter of it. On loopback a 1 MiB buffer moved
// more per second than splice(2) (the kernel path io.Copy takes between two TCP conns)
// and four times fewer syscalls than 64 KiB, while idle and interactive conns hold only
// the small one.
const (
	smallCopyBuffer = 32 << 10
	largeCopyBuffer = 1 << 20
)

var largeCopyBuffers = sync.Pool{New: func() any { return new([largeCopyBuffer]byte) }}

// pipe copies src to dst until src ends, carries the end on (FIN as CloseWrite, RST as a
// reset) and reports it. Any end other than a FIN closes both conns. Every write adds to
// moved, so the proxy's byte counts grow while a conn is open.
func (pc *proxyConn) pipe(dst, src *conn, moved *atomic.Int64) DirectionReport {
	var r DirectionReport
	var rerr, werr error
	small := make([]byte, smallCopyBuffer)
	var large *[largeCopyBuffer]byte
	defer func() {
		if large != nil {
			largeCopyBuffers.Put(large)
		}
	}()
	for {
		buf := small
		if large != nil {
			buf = large[:]
		}
		n, err := src.Read(buf)
		if n > 0 {
			m, err := dst.Write(buf[:n])
			r.Bytes += int64(m)
			moved.Add(int64(m))
			if err != nil {
				werr = err
				break
			}
		}
		if err != nil {
			rerr = err
			break
		}
		switch {
		case large == nil && n == len(small):
			large = largeCopyBuffers.Get().(*[largeCopyBuffer]byte)
		case large != nil && n < largeCopyBuffer/4:
			largeCopyBuffers.Put(large)
			large = nil
		}
	}
	err := rerr
	if werr != nil {
		err = werr
	}
	r.End = endOf(err)
	if r.End == EndError && pc.isClosed() {
		r.End = EndClosed // ended by the other direction or Proxy.Close
	}
	if r.End != EndFIN {
		r.Err = err.Error()
	}
	switch r.End {
	case EndFIN:
		if err := dst.CloseWrite(); err != nil {
			pc.closeBoth()
		}
	case EndRST:
		if rerr != nil {
			_ = dst.reset()
		} else {
			_ = src.reset()
		}
		pc.closeBoth()
	default:
		pc.closeBoth()
	}
	return r
}

func endOf(err error) End {
	switch {
	case err == nil || errors.Is(err, io.EOF):
		return EndFIN
	case errors.Is(err, ErrInjected):
		return EndFault
	case errors.Is(err, syscall.ECONNRESET):
		return EndRST
	case errors.Is(err, net.ErrClosed):
		return EndClosed
	}
	return EndError
}

func (p *Proxy) keep(r ProxyReport) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.order) >= historySize {
		old := p.reports[p.order[0]]
		if p.byPeer[old.Peer] == old.ID {
			delete(p.byPeer, old.Peer)
		}
		delete(p.reports, p.order[0])
		p.order = p.order[1:]
	}
	p.order = append(p.order, r.ID)
	p.reports[r.ID] = r
}
