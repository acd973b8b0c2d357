package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/truncheck/truncheck/harness/account"
	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
	"github.com/truncheck/truncheck/transport/h2fault"
)

// inProcess is an in-process topology: the tiers of the scenario on loopback
// sockets, from the origin outward, plus a clean twin of the content path
// (no faults) to fetch references from.
//
//	client ─hop 0─> [gateway ─hop 1─>] origin            (direct, gateway)
//	client ─hop 0─> outer ─hop 1─> gateway ─hop 2─> inner (nested)
//	reference client ──> clean twin of the origin (and of the outer tier)
type inProcess struct {
	s      scenarios.Scenario
	record int
	dir    string // socket directory

	origin   origin.Origin   // the service at the end
	accounts origin.Accounts // whose accounts the client's request ids are in (nil: none)
	outers   []origin.Origin // outer tiers built here (nested), closed here

	// The origin's listening socket outlives its server generations (a
	// restart hands it over, as a zero-downtime deploy passes its socket).
	originL *transport.Listener // wrapped with the last hop's server faults
	socket  *transport.Handover
	mu      sync.Mutex
	gen     *generation // guarded by mu

	// Where a client's request can be cut, for attribution: the listener
	// the client reaches (front), the gateway's upstream conns (upConns).
	front       *transport.Listener
	frontName   string
	frontInside bool
	upConns     *connIndex
	upName      string
	listeners   []*transport.Listener

	cl        *http.Client
	cldial    dialFunc
	base      string
	cleanPath cleanPath

	// TLS hops: the run's CA (nil when no hop uses TLS). HTTP/2 stream
	// faults: the injector of each tier that has some, by hop.
	ca        *runCA
	injectors map[int]*h2fault.Injector

	closers []func() error // in reverse order of creation
	trs     []roundTripper
}

// generation is one origin server on the shared socket.
type generation struct {
	hs   *http.Server
	view *transport.HandoverView
	done chan struct{}
}

var quietLog = log.New(io.Discard, "", 0)

// buildInProcess starts the scenario's tiers from the origin outward.
func buildInProcess(s scenarios.Scenario, o origin.Origin, record int) (st *inProcess, err error) {
	if o.Handler == nil {
		return nil, errors.New("the origin has no handler")
	}
	if s.Topology.Mode == scenarios.Nested && o.Outer == nil {
		return nil, fmt.Errorf("origin %q cannot be nested (it has no Outer tier; accepted: topology direct or gateway)", o.Name)
	}
	hops := s.Topology.Hops
	for _, r := range s.Workload.Requests {
		if r.Expect100 && hops[0].Protocol == scenarios.HTTP2 {
			return nil, fmt.Errorf("request %s %s: Expect: 100-continue uploads go through the harness's own HTTP/1.1 client (accepted: protocol http/1.1 on hop 0)", r.Method, r.Path)
		}
	}
	dir, err := os.MkdirTemp("", "tc")
	if err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	st = &inProcess{s: s, record: record, dir: dir, origin: o, accounts: o.Accounts, injectors: map[int]*h2fault.Injector{}}
	defer func() {
		if err != nil {
			st.close()
			st = nil
		}
	}()
	for _, h := range hops {
		if h.TLS && st.ca == nil {
			if st.ca, err = newRunCA(); err != nil {
				return nil, err
			}
		}
	}
	last := len(hops) - 1
	seed := func(i int) int64 { return s.Seed*1_000_003 + int64(i) }
	hopName := func(i int, side string) string { return fmt.Sprintf("hop%d-%s", i, side) }

	// The origin, on its hop's socket kind, with its server-side faults.
	l, err := st.listen(hops[last].Network, "svc.sock")
	if err != nil {
		return nil, fmt.Errorf("origin listener: %w", err)
	}
	st.originL = st.wrap(l, hops[last].ServerFaults, seed(last), "svc")
	st.socket = transport.NewHandover(st.originL)
	st.injector(last, seed(last))
	st.startGeneration()
	upNet, upAddr := l.Addr().Network(), l.Addr().String()
	st.front, st.frontName, st.frontInside = st.originL, hopName(last, "server"), true

	// Its clean twin, for references: the same service on its own socket.
	refNet, refAddr, err := st.serveClean(o, "ref.sock")
	if err != nil {
		return nil, err
	}

	if s.Topology.Mode == scenarios.Gateway || s.Topology.Mode == scenarios.Nested {
		gi := last - 1 // the hop that reaches the gateway
		st.upConns = newConnIndex(4096)
		st.upName = hopName(last, "client")
		upDial := st.upConns.dialer(hopDialer(st.opts(hops[last].ClientFaults, seed(last)+500, "gw-up"), upNet, upAddr))
		upWire := st.wire(hops[last])
		upTr := hopTransport(upDial, upWire, 64, false)
		st.trs = append(st.trs, upTr)
		gl, err := st.listen(hops[gi].Network, "gw.sock")
		if err != nil {
			return nil, fmt.Errorf("gateway listener: %w", err)
		}
		wl := st.wrap(gl, hops[gi].ServerFaults, seed(gi), "gw")
		hs := &http.Server{Handler: newGateway(s.Topology.Gateway, upTr, upWire.scheme()), ErrorLog: quietLog, ReadHeaderTimeout: 10 * time.Second}
		st.withStreamFaults(hs, st.injector(gi, seed(gi)))
		st.serve(hs, serveWire(hs, wl, hops[gi], st.ca))
		upNet, upAddr = gl.Addr().Network(), gl.Addr().String()
		st.front, st.frontName, st.frontInside = wl, hopName(gi, "server"), false
	}
	if s.Topology.Mode == scenarios.Nested {
		// The outer tier: the origin's own outer service fetching its source
		// through the gateway; its account is the one the client's request
		// ids are in.
		upWire := st.wire(hops[1])
		upTr := hopTransport(hopDialer(st.opts(hops[1].ClientFaults, seed(1)+500, "outer-up"), upNet, upAddr), upWire, 64, false)
		st.trs = append(st.trs, upTr)
		outer, err := st.outer(o, upTr, upWire.scheme()+"://gw")
		if err != nil {
			return nil, err
		}
		st.accounts = outer.Accounts
		ol, err := st.listen(hops[0].Network, "outer.sock")
		if err != nil {
			return nil, fmt.Errorf("outer listener: %w", err)
		}
		wl := st.wrap(ol, hops[0].ServerFaults, seed(0), "outer")
		hs := originServer(outer, s.Service)
		st.withStreamFaults(hs, st.injector(0, seed(0)))
		st.serve(hs, serveWire(hs, wl, hops[0], st.ca))
		upNet, upAddr = ol.Addr().Network(), ol.Addr().String()
		st.front, st.frontName, st.frontInside = wl, hopName(0, "server"), true
		st.upConns = nil // the account is the outer tier's: cuts beyond it show as its 502

		// Its clean twin for references, fetching from the clean origin.
		refTr := newTransport(hopDialer(transport.Options{}, refNet, refAddr), 8, false)
		st.trs = append(st.trs, refTr)
		refOuter, err := st.outer(o, refTr, "http://ref")
		if err != nil {
			return nil, err
		}
		if refNet, refAddr, err = st.serveClean(refOuter, "refo.sock"); err != nil {
			return nil, err
		}
		o = outer // whose answers the clean path gives
	}

	w := st.wire(hops[0])
	raw := hopDialer(st.opts(hops[0].ClientFaults, seed(0)+500, "client"), upNet, upAddr)
	st.cldial = raw
	if w.tls != nil {
		// Expect: 100-continue uploads take the harness's own client over this dial.
		st.cldial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialTLS(ctx, raw, network, addr, w.tls)
		}
	}
	tr := hopTransport(raw, w, s.Concurrency, s.Client.ConnectionClose)
	st.trs = append(st.trs, tr)
	st.cl = &http.Client{Transport: tr}
	st.base = w.scheme() + "://svc"
	cleanDial := hopDialer(transport.Options{Record: record, Name: "ref"}, refNet, refAddr)
	cleanTr := newTransport(cleanDial, 4, true)
	st.trs = append(st.trs, cleanTr)
	st.cleanPath = cleanPath{client: &http.Client{Transport: cleanTr}, dial: cleanDial, base: "http://ref", trusted: o.Trusted}
	return st, nil
}

// wire is how hop carries HTTP, from its client's side.
func (st *inProcess) wire(hop scenarios.Hop) wire {
	w := wire{proto: hop.Protocol}
	if hop.TLS {
		w.tls = st.ca.clientConfig(hop.Protocol)
	}
	return w
}

// injector returns the stream-fault injector of the tier hop i reaches,
// made on first use; nil when the hop has no stream faults.
func (st *inProcess) injector(i int, seed int64) *h2fault.Injector {
	f := st.s.Topology.Hops[i].StreamFaults
	if f.IsZero() {
		return nil
	}
	in, ok := st.injectors[i]
	if !ok {
		in = h2fault.NewInjector(f, seed)
		st.injectors[i] = in
	}
	return in
}

// withStreamFaults puts in (when not nil) on hs: its handler wrapped, its
// ConnContext chained.
func (st *inProcess) withStreamFaults(hs *http.Server, in *h2fault.Injector) {
	if in == nil {
		return
	}
	hs.Handler = in.Wrap(hs.Handler)
	cc := hs.ConnContext
	hs.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if cc != nil {
			ctx = cc(ctx, c)
		}
		return in.ConnContext(ctx, c)
	}
}

// outer builds an outer tier of the origin, fetching from base through
// tr; the stack closes it.
func (st *inProcess) outer(o origin.Origin, tr http.RoundTripper, base string) (origin.Origin, error) {
	outer, err := o.Outer(&http.Client{Transport: tr}, base)
	if err != nil {
		return origin.Origin{}, fmt.Errorf("outer tier: %w", err)
	}
	st.outers = append(st.outers, outer)
	return outer, nil
}

// listen opens a loopback TCP port or a Unix socket in the stack's directory.
func (st *inProcess) listen(network scenarios.Network, sock string) (net.Listener, error) {
	if network == scenarios.Unix {
		return net.Listen("unix", filepath.Join(st.dir, sock))
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// opts is the transport options of one side of a hop.
func (st *inProcess) opts(f transport.Faults, seed int64, name string) transport.Options {
	return transport.Options{Faults: f, Seed: seed, Record: st.record, Name: name}
}

// wrap wraps a listener with a hop's server-side faults and keeps it, so
// its conns' timelines and faults can be looked up.
func (st *inProcess) wrap(l net.Listener, f transport.Faults, seed int64, name string) *transport.Listener {
	wl := transport.WrapListener(l, st.opts(f, seed, name))
	st.mu.Lock()
	st.listeners = append(st.listeners, wl)
	st.mu.Unlock()
	return wl
}

// originServer is the http.Server of an in-process origin: the scenario's
// timeouts and keep-alive setting, the accepted conn in the request
// context (accounts record its ID).
func originServer(o origin.Origin, svc scenarios.Service) *http.Server {
	cc := o.ConnContext
	if cc == nil {
		cc = account.ConnContext
	}
	pick := func(v, def time.Duration) time.Duration {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return def
		}
		return v
	}
	hs := &http.Server{
		Handler:           o.Handler,
		ConnContext:       cc,
		ErrorLog:          quietLog,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      pick(svc.WriteTimeout, 10*time.Minute),
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	hs.SetKeepAlivesEnabled(!svc.DisableKeepAlives)
	return hs
}

// serve runs hs on l until the stack closes.
func (st *inProcess) serve(hs *http.Server, l net.Listener) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(l)
	}()
	st.closers = append(st.closers, func() error {
		err := hs.Close()
		<-done
		return err
	})
}

// serveClean serves o without faults on a Unix socket of its own.
func (st *inProcess) serveClean(o origin.Origin, sock string) (string, string, error) {
	l, err := net.Listen("unix", filepath.Join(st.dir, sock))
	if err != nil {
		return "", "", fmt.Errorf("reference server: %w", err)
	}
	st.serve(originServer(o, scenarios.Service{}), l)
	return "unix", l.Addr().String(), nil
}

// startGeneration starts an origin server on a new view of the shared
// socket; from now on it takes the socket's connections.
func (st *inProcess) startGeneration() *generation {
	g := &generation{hs: originServer(st.origin, st.s.Service), view: st.socket.Generation(), done: make(chan struct{})}
	last := len(st.s.Topology.Hops) - 1
	hop := st.s.Topology.Hops[last]
	st.withStreamFaults(g.hs, st.injectors[last])
	if hop.TLS && hop.Protocol != scenarios.HTTP2 {
		// A TLS server writes its handshake before it reads a request, so its
		// first write is no answer: a connection counts as answered once its
		// first response is done (idle), or it closed. (HTTP/2 needs no such
		// care: a stream the old server did not take is above its GOAWAY's
		// last stream id, and the client sends it again.)
		g.view.AnswerExplicitly()
		g.hs.ConnState = func(c net.Conn, cs http.ConnState) {
			if cs == http.StateIdle || cs == http.StateHijacked {
				g.view.Answered(c)
			}
		}
	}
	l := serveWire(g.hs, g.view, hop, st.ca)
	go func() {
		defer close(g.done)
		_ = g.hs.Serve(l)
	}()
	st.mu.Lock()
	st.gen = g
	st.mu.Unlock()
	return g
}

func (st *inProcess) client() *http.Client          { return st.cl }
func (st *inProcess) dial() dialFunc                { return st.cldial }
func (st *inProcess) baseURL() string               { return st.base }
func (st *inProcess) clean() cleanPath              { return st.cleanPath }
func (st *inProcess) layout(scenario string) string { return scenario }
func (st *inProcess) notes() []string               { return nil }

func (st *inProcess) account(ctx context.Context, id string, wait time.Duration) (*results.Account, results.Timeline) {
	if id == "" || st.accounts == nil {
		return nil, nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	acc, ok := st.accounts.Wait(wctx, id)
	if !ok {
		return nil, nil
	}
	ra := &acc
	if acc.ConnID == "" {
		return ra, nil
	}
	st.mu.Lock()
	ls := append([]*transport.Listener(nil), st.listeners...)
	st.mu.Unlock()
	for _, l := range ls {
		if tl, ok := l.Timeline(acc.ConnID); ok {
			return ra, tl
		}
	}
	return ra, nil
}

func (st *inProcess) cutBy(conn net.Conn, id string, acc *results.Account) (string, string, bool) {
	// A stream fault is the server's own doing (its HTTP/2 server reset the
	// stream or closed the connection): inside, the account decides silence.
	for i, in := range st.injectors {
		if f, ok := in.Fired(id); ok {
			return f, fmt.Sprintf("hop%d-streams", i), true
		}
		if conn != nil && i == 0 {
			if f, ok := in.FiredOnConn(transport.PeerKey(conn)); ok {
				return f, fmt.Sprintf("hop%d-streams", i), true
			}
		}
	}
	if conn == nil {
		return "", "", false
	}
	if f, ok := transport.Fired(conn); ok {
		return f, "hop0-client", false
	}
	if info, ok := st.front.ConnFrom(transport.PeerKey(conn)); ok && info.Fired != "" {
		return info.Fired, st.frontName, st.frontInside
	}
	if acc == nil || acc.ConnID == "" {
		return "", "", false
	}
	// Gateway: the origin's conn of this request (from its account) has the
	// gateway's upstream conn as its peer.
	in, ok := st.originL.Conn(acc.ConnID)
	if !ok {
		return "", "", false
	}
	if st.upConns != nil {
		if up, ok := st.upConns.get(in.Peer); ok {
			if f, ok := transport.Fired(up); ok {
				return f, st.upName, false
			}
		}
	}
	if in.Fired != "" && st.front != st.originL {
		return in.Fired, fmt.Sprintf("hop%d-server", len(st.s.Topology.Hops)-1), true
	}
	return "", "", false
}

// restart replaces the origin like a zero-downtime deploy: the new
// generation takes over the shared listening socket first, so no
// connection ever meets a closed socket; then the old one, once every
// connection it took has been answered, shuts down gracefully (cut at
// grace).
func (st *inProcess) restart(ctx context.Context, grace time.Duration) error {
	st.mu.Lock()
	old := st.gen
	st.mu.Unlock()
	st.startGeneration()
	sctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	old.view.WaitAnswered(sctx)
	err := old.hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = old.hs.Close() // responses still in flight at the deadline are cut
	}
	<-old.done
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("origin shutdown: %w", err)
	}
	return nil
}

func (st *inProcess) close() error {
	var errs []error
	st.mu.Lock()
	g := st.gen
	st.mu.Unlock()
	if g != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		if err := g.hs.Shutdown(ctx); err != nil {
			_ = g.hs.Close()
		}
		cancel()
		<-g.done
	}
	if st.socket != nil {
		// Last, after the final generation: the socket outlives them all.
		if err := st.socket.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for i := len(st.closers) - 1; i >= 0; i-- {
		if err := st.closers[i](); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for _, tr := range st.trs {
		tr.CloseIdleConnections()
	}
	for _, in := range st.injectors {
		in.Close()
	}
	for _, o := range st.outers {
		if o.Close != nil {
			errs = append(errs, o.Close())
		}
	}
	if st.dir != "" {
		errs = append(errs, os.RemoveAll(st.dir))
	}
	return errors.Join(errs...)
}

// connIndex keeps the most recent conns a dialer made, by their local
// address, so the far end's accepted conn (whose peer that address is)
// leads back to them.
type connIndex struct {
	mu    sync.Mutex
	max   int
	byKey map[string]net.Conn
	order []string
	next  int
}

func newConnIndex(max int) *connIndex {
	return &connIndex{max: max, byKey: make(map[string]net.Conn)}
}

// dialer records every conn d makes.
func (x *connIndex) dialer(d dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d(ctx, network, addr)
		if err == nil {
			x.add(c)
		}
		return c, err
	}
}

func (x *connIndex) add(c net.Conn) {
	key := transport.PeerKey(c)
	if key == "" {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.order) < x.max {
		x.order = append(x.order, key)
	} else {
		delete(x.byKey, x.order[x.next])
		x.order[x.next] = key
		x.next = (x.next + 1) % x.max
	}
	x.byKey[key] = c
}

func (x *connIndex) get(key string) (net.Conn, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	c, ok := x.byKey[key]
	return c, ok
}
