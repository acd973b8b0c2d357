package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/truncheck/truncheck/imagesvc"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

// env is what a run needs from the system under test, in-process or
// external: a client over the faulty path, a way to fingerprint the right
// answer, the server's account of a request, restarts and teardown.
type env interface {
	client() *http.Client
	dial() dialFunc // the client's faulty dial, for [ExpectContinue]
	baseURL() string
	// clean is a path without faults, for references.
	clean() (c *http.Client, dial dialFunc, base string)
	// account returns the server's account of a request id (waiting a
	// little for the handler to finish), with the server-side timeline of
	// its connection when one was recorded.
	account(ctx context.Context, id string, wait time.Duration) (*results.Account, []results.Event)
	restart(ctx context.Context, grace time.Duration) error
	close() error
}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// dialRetry bounds how long a dial keeps retrying "connection refused" /
// "no such socket" while a restarting service is down, and "connection
// reset" (a listener closed while our connection waited in its queue);
// all three fail before any byte of the request is sent, so a retry is
// safe whatever the request.
const dialRetry = 10 * time.Second

// accountsKept bounds each in-process service's account store. The harness
// reads a request's account right after its response, so a few thousand
// (far more than MaxConcurrency requests in flight) suffice; imagesvc's
// default of 100,000 (~60 MB) made hour-long soaks look like leaks.
const accountsKept = 8192

// hopDialer returns a DialContext that always dials network/addr (the
// http.Transport's own address is a placeholder host), wraps the conn with
// the hop's client-side faults and recorder, and retries while the peer
// is down (a restart in progress).
func hopDialer(o transport.Options, network, addr string) func(ctx context.Context, _, _ string) (net.Conn, error) {
	dial := transport.Dialer(o, &net.Dialer{Timeout: 5 * time.Second})
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		deadline := time.Now().Add(dialRetry)
		for {
			c, err := dial(ctx, network, addr)
			if err == nil || !(errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNRESET)) || time.Now().After(deadline) {
				return c, err
			}
			select {
			case <-ctx.Done():
				return nil, err
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

func newTransport(dial func(ctx context.Context, network, addr string) (net.Conn, error), conns int, keepAlivesOff bool) *http.Transport {
	return &http.Transport{
		DialContext:           dial,
		DisableCompression:    true,
		DisableKeepAlives:     keepAlivesOff,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       30 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 0, // the verifier's stall watchdog bounds it
	}
}

// stack is an in-process topology: the tiers of the scenario on loopback
// sockets, plus a clean path (no faults) to fetch references.
type stack struct {
	s      scenarios.Scenario
	record int
	dir    string // socket directory

	svc       *imagesvc.Service // origin (inner) service
	originCfg imagesvc.ServerConfig
	originHop scenarios.Hop
	acctSvc   *imagesvc.Service // whose accounts the client's request ids are in

	// socket is the origin's listening socket, kept across restarts;
	// originGen the current generation's share of it. Both are set by
	// startOrigin only (build, then restarts one at a time).
	socket    *handover
	originGen *handoverView

	mu        sync.Mutex
	origin    *imagesvc.Server
	listeners []*transport.Listener

	cl        *http.Client
	cldial    dialFunc
	base      string
	cleanCl   *http.Client
	cleanDial dialFunc
	cleanBase string

	closers []func() error // in reverse order of creation
	trs     []*http.Transport
}

// buildStack starts the scenario's tiers from the origin outward.
func buildStack(s scenarios.Scenario, record int) (st *stack, err error) {
	dir, err := os.MkdirTemp("", "tc")
	if err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	st = &stack{s: s, record: record, dir: dir, base: "http://svc", cleanBase: "http://ref"}
	defer func() {
		if err != nil {
			st.close()
			st = nil
		}
	}()
	hops := s.Topology.Hops
	seed := func(i int) int64 { return s.Seed*1_000_003 + int64(i) }

	if st.svc, err = imagesvc.New(imagesvc.Config{MaxAccounts: accountsKept}); err != nil {
		return nil, fmt.Errorf("origin service: %w", err)
	}
	st.acctSvc = st.svc
	last := len(hops) - 1
	st.originHop = hops[last]
	st.originCfg = imagesvc.ServerConfig{
		WriteTimeout:      s.Service.WriteTimeout,
		DisableKeepAlives: s.Service.DisableKeepAlives,
	}
	if hops[last].Network == scenarios.Unix {
		st.originCfg.UnixPath = filepath.Join(dir, "svc.sock")
	} else {
		st.originCfg.TCPAddr = "127.0.0.1:0"
	}
	if err := st.startOrigin(); err != nil {
		return nil, err
	}
	// The address the next tier out dials.
	upNet, upAddr := st.originAddr()

	// Clean path for references: the origin service on its own socket.
	refSrv := imagesvc.NewServer(st.svc, imagesvc.ServerConfig{UnixPath: filepath.Join(dir, "ref.sock")})
	if err := refSrv.Start(); err != nil {
		return nil, fmt.Errorf("reference server: %w", err)
	}
	st.closers = append(st.closers, refSrv.Close)
	refNet, refAddr := "unix", refSrv.UnixPath()

	if s.Topology.Mode == scenarios.Gateway || s.Topology.Mode == scenarios.Nested {
		gi := last - 1 // the hop that reaches the gateway
		upTr := newTransport(hopDialer(st.opts(hops[last].ClientFaults, seed(last)+500, "gw-up"), upNet, upAddr), 64, false)
		st.trs = append(st.trs, upTr)
		gwNet, gwAddr, err := st.startGateway(s.Topology.Gateway, upTr, hops[gi], seed(gi))
		if err != nil {
			return nil, err
		}
		upNet, upAddr = gwNet, gwAddr
	}
	if s.Topology.Mode == scenarios.Nested {
		// The outer tier: a second imagesvc fetching its source through the gateway.
		upTr := newTransport(hopDialer(st.opts(hops[1].ClientFaults, seed(1)+500, "outer-up"), upNet, upAddr), 64, false)
		st.trs = append(st.trs, upTr)
		outer, err := imagesvc.New(imagesvc.Config{MaxAccounts: accountsKept, Upstream: &imagesvc.Upstream{Client: &http.Client{Transport: upTr}, BaseURL: "http://gw"}})
		if err != nil {
			return nil, fmt.Errorf("outer service: %w", err)
		}
		st.acctSvc = outer
		cfg := imagesvc.ServerConfig{WrapListener: st.wrapper(hops[0].ServerFaults, seed(0), "outer")}
		if hops[0].Network == scenarios.Unix {
			cfg.UnixPath = filepath.Join(dir, "outer.sock")
		} else {
			cfg.TCPAddr = "127.0.0.1:0"
		}
		srv := imagesvc.NewServer(outer, cfg)
		if err := srv.Start(); err != nil {
			return nil, fmt.Errorf("outer server: %w", err)
		}
		st.closers = append(st.closers, srv.Close)
		upNet, upAddr = addrOf(srv)

		// Its clean twin for references, fetching from the clean origin.
		refTr := newTransport(hopDialer(transport.Options{}, refNet, refAddr), 8, false)
		st.trs = append(st.trs, refTr)
		refOuter, err := imagesvc.New(imagesvc.Config{MaxAccounts: accountsKept, Upstream: &imagesvc.Upstream{Client: &http.Client{Transport: refTr}, BaseURL: "http://ref"}})
		if err != nil {
			return nil, fmt.Errorf("reference outer service: %w", err)
		}
		refOuterSrv := imagesvc.NewServer(refOuter, imagesvc.ServerConfig{UnixPath: filepath.Join(dir, "refo.sock")})
		if err := refOuterSrv.Start(); err != nil {
			return nil, fmt.Errorf("reference outer server: %w", err)
		}
		st.closers = append(st.closers, refOuterSrv.Close)
		refNet, refAddr = "unix", refOuterSrv.UnixPath()
	}

	st.cldial = hopDialer(st.opts(hops[0].ClientFaults, seed(0)+500, "client"), upNet, upAddr)
	tr := newTransport(st.cldial, s.Concurrency, s.Service.ConnectionClose)
	st.trs = append(st.trs, tr)
	st.cl = &http.Client{Transport: tr}
	st.cleanDial = hopDialer(transport.Options{Record: record, Name: "ref"}, refNet, refAddr)
	cleanTr := newTransport(st.cleanDial, 4, false)
	st.trs = append(st.trs, cleanTr)
	st.cleanCl = &http.Client{Transport: cleanTr}
	return st, nil
}

func addrOf(srv *imagesvc.Server) (network, addr string) {
	if p := srv.UnixPath(); p != "" {
		return "unix", p
	}
	return "tcp", srv.TCPAddr()
}

// opts builds transport options from a fault spec (already validated by
// the scenario).
func (st *stack) opts(spec string, seed int64, name string) transport.Options {
	f, err := transport.ParseFaults(spec)
	if err != nil {
		// Validate ran before; a spec that parsed then must parse now.
		panic(fmt.Sprintf("harness: fault spec %q: %v", spec, err))
	}
	return transport.Options{Faults: f, Seed: seed, Record: st.record, Name: name}
}

// wrapper returns a WrapListener func that keeps the wrapped listener so
// its timelines can be looked up by conn id.
func (st *stack) wrapper(spec string, seed int64, name string) func(net.Listener) net.Listener {
	o := st.opts(spec, seed, name)
	return func(l net.Listener) net.Listener {
		wl := transport.WrapListener(l, o)
		st.mu.Lock()
		st.listeners = append(st.listeners, wl)
		st.mu.Unlock()
		return wl
	}
}

// startOrigin starts a generation of the origin server. The first one
// makes the listening socket (imagesvc's own listen: loopback default,
// Unix mode, stale-socket check) and the stack keeps it in a [handover]
// with the hop's fault wrapper; every generation serves a view of that one
// socket, so a restart never leaves the address unserved and one
// wrapped listener (one set of flight recorders) serves all generations.
func (st *stack) startOrigin() error {
	cfg := st.originCfg
	if st.socket == nil {
		hopIdx := len(st.s.Topology.Hops) - 1
		wrap := st.wrapper(st.originHop.ServerFaults, st.s.Seed*1_000_003+int64(hopIdx), "svc")
		cfg.WrapListener = func(l net.Listener) net.Listener {
			st.socket = newHandover(wrap(l))
			st.originGen = st.socket.generation()
			return st.originGen
		}
	} else {
		// imagesvc.Server always listens itself and has no way to be handed
		// a listener, so a later generation binds a throwaway loopback port
		// (never announced, closed at once) and serves the shared socket
		// in its place.
		cfg.TCPAddr, cfg.UnixPath = "127.0.0.1:0", ""
		cfg.WrapListener = func(l net.Listener) net.Listener {
			l.Close()
			st.originGen = st.socket.generation()
			return st.originGen
		}
	}
	srv := imagesvc.NewServer(st.svc, cfg)
	if err := srv.Start(); err != nil {
		return fmt.Errorf("origin server: %w", err)
	}
	st.mu.Lock()
	st.origin = srv
	st.mu.Unlock()
	return nil
}

// originAddr is the origin's listening address (the same for every
// generation).
func (st *stack) originAddr() (string, string) {
	if p := st.originCfg.UnixPath; p != "" {
		return "unix", p // imagesvc binds elsewhere and renames it into place
	}
	return "tcp", st.socket.Addr().String()
}

// startGateway runs the gateway tier on its own listener (with the hop's
// server-side faults) relaying to upTr.
func (st *stack) startGateway(kind scenarios.GatewayKind, upTr *http.Transport, hop scenarios.Hop, seed int64) (string, string, error) {
	var h http.Handler
	target := &url.URL{Scheme: "http", Host: "upstream"}
	quiet := log.New(io.Discard, "", 0)
	switch kind {
	case scenarios.Naive:
		h = naiveGateway{tr: upTr}
	default:
		h = &httputil.ReverseProxy{
			Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.Out.Header["X-Forwarded-For"] = nil },
			Transport: upTr,
			ErrorLog:  quiet,
		}
	}
	var l net.Listener
	var err error
	if hop.Network == scenarios.Unix {
		l, err = net.Listen("unix", filepath.Join(st.dir, "gw.sock"))
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return "", "", fmt.Errorf("gateway listener: %w", err)
	}
	netw, addr := l.Addr().Network(), l.Addr().String()
	wl := st.wrapper(hop.ServerFaults, seed, "gw")(l)
	hs := &http.Server{Handler: h, ErrorLog: quiet, ReadHeaderTimeout: 10 * time.Second, ConnContext: imagesvc.ConnContext}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(wl)
	}()
	st.closers = append(st.closers, func() error {
		err := hs.Close()
		<-done
		return err
	})
	return netw, addr, nil
}

// naiveGateway is the close-delimited gateway: it relays the upstream
// response with io.Copy, ignores the copy's error and drops
// Content-Length, so Go's server re-chunks the body and ends it cleanly
// whatever happened upstream. The origin's Content-Digest and request id
// travel on.
type naiveGateway struct{ tr http.RoundTripper }

func (g naiveGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://upstream"+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	out.Header = r.Header.Clone()
	out.ContentLength = r.ContentLength
	resp, err := g.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, "upstream unreachable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		if k == "Content-Length" {
			continue
		}
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body) // the defect: the error is ignored
}

func (st *stack) client() *http.Client { return st.cl }
func (st *stack) dial() dialFunc       { return st.cldial }
func (st *stack) baseURL() string      { return st.base }
func (st *stack) clean() (*http.Client, dialFunc, string) {
	return st.cleanCl, st.cleanDial, st.cleanBase
}

// fetchReference fetches a request over a clean path until one response
// verifies against its own framing and digest (three tries).
func fetchReference(ctx context.Context, v *Verifier, rt func(*http.Request) (*http.Response, error), base string, newReq func(base string) (*http.Request, error)) (Reference, error) {
	var last Verdict
	for try := 0; try < 3; try++ {
		req, err := newReq(base)
		if err != nil {
			return Reference{}, err
		}
		last = v.DoWith(ctx, rt, req, nil, true)
		if last.Outcome == results.Complete && last.Fingerprint != nil {
			return *last.Fingerprint, nil
		}
		if ctx.Err() != nil {
			return Reference{}, ctx.Err()
		}
	}
	return Reference{}, fmt.Errorf("reference fetch without faults: %s after %d bytes: %v", last.Outcome, last.Received, last.Err)
}

// accountWait bounds how long the harness waits for a handler to finish
// its account after the client saw the response end.
const accountWait = 2 * time.Second

func (st *stack) account(ctx context.Context, id string, wait time.Duration) (*results.Account, []results.Event) {
	if id == "" {
		return nil, nil
	}
	deadline := time.Now().Add(wait)
	var acc imagesvc.Account
	var ok bool
	for {
		acc, ok = st.acctSvc.Account(id)
		if (ok && !acc.Finished.IsZero()) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !ok {
		return nil, nil
	}
	ra := &results.Account{Status: acc.Status, ContentLength: acc.ContentLength, BytesWritten: acc.BytesWritten,
		Complete: acc.Complete, WriteError: acc.WriteError, ConnID: acc.ConnID}
	if acc.ConnID == "" {
		return ra, nil
	}
	st.mu.Lock()
	ls := append([]*transport.Listener(nil), st.listeners...)
	st.mu.Unlock()
	for _, l := range ls {
		if tl, ok := l.Timeline(acc.ConnID); ok {
			return ra, convertTimeline(acc.ConnID, tl)
		}
	}
	return ra, nil
}

func convertTimeline(conn string, tl transport.Timeline) []results.Event {
	out := make([]results.Event, 0, len(tl))
	for _, e := range tl {
		out = append(out, results.Event{At: e.At, Conn: conn, Kind: e.Kind.String(), N: e.N, Of: e.Of, Note: e.Note})
	}
	return out
}

// restart replaces the origin like a zero-downtime deploy: the new
// generation takes over the shared listening socket first, so no
// connection ever meets a closed socket; then the old one, once every
// connection it took has been answered, shuts down gracefully (cut at
// grace).
func (st *stack) restart(ctx context.Context, grace time.Duration) error {
	st.mu.Lock()
	old := st.origin
	st.mu.Unlock()
	oldGen := st.originGen
	if err := st.startOrigin(); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	oldGen.waitAnswered(sctx)
	err := old.Shutdown(sctx)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("origin shutdown: %w", err)
	}
	return nil
}

func (st *stack) close() error {
	var errs []error
	st.mu.Lock()
	origin := st.origin
	st.mu.Unlock()
	if origin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		if err := origin.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			errs = append(errs, err)
		}
		cancel()
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
	if st.dir != "" {
		errs = append(errs, os.RemoveAll(st.dir))
	}
	return errors.Join(errs...)
}

// handover is one listening socket shared by successive server
// generations, the in-process twin of a socket passed from the old
// process to the new one in a zero-downtime deploy. An accept loop queues
// the socket's connections; only the current generation's view takes them
// from the queue, so a new generation takes over the moment it is made
// and the old one is left with the connections it already took. Closing a
// view (what http.Server.Shutdown does to its listeners) leaves the
// socket open; only Close closes it.
type handover struct {
	l    net.Listener
	done chan struct{} // closed when the accept loop returned

	mu     sync.Mutex
	wake   chan struct{} // closed and replaced on every change below
	queue  []net.Conn    // accepted, not yet taken by a generation
	cur    *handoverView
	err    error // why the accept loop returned
	closed bool
}

func newHandover(l net.Listener) *handover {
	h := &handover{l: l, done: make(chan struct{}), wake: make(chan struct{})}
	go h.acceptLoop()
	return h
}

// changed wakes every waiter; h.mu is held.
func (h *handover) changed() {
	close(h.wake)
	h.wake = make(chan struct{})
}

func (h *handover) acceptLoop() {
	defer close(h.done)
	var backoff time.Duration
	for {
		c, err := h.l.Accept()
		var ne net.Error
		if err != nil && errors.As(err, &ne) && ne.Temporary() && !h.isClosed() {
			// EMFILE and the like: back off as http.Server.Serve would.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		h.mu.Lock()
		if err != nil {
			h.err = err
		} else {
			h.queue = append(h.queue, c)
		}
		h.changed()
		h.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (h *handover) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Addr is the socket's address.
func (h *handover) Addr() net.Addr { return h.l.Addr() }

// Close closes the socket, waits for the accept loop to end and closes
// the connections no generation took.
func (h *handover) Close() error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	err := h.l.Close()
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.queue {
		c.Close()
	}
	h.queue = nil
	return err
}

// generation returns the listener of a new server generation and makes
// it the one that takes connections from now on.
func (h *handover) generation() *handoverView {
	v := &handoverView{h: h}
	h.mu.Lock()
	h.cur = v
	h.changed()
	h.mu.Unlock()
	return v
}

// handoverView is one generation's listener. It counts the connections it
// handed to its server that have not been answered yet.
type handoverView struct {
	h          *handover
	closed     bool // guarded by h.mu, like unanswered
	unanswered int
}

func (v *handoverView) Accept() (net.Conn, error) {
	h := v.h
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		switch {
		case v.closed:
			return nil, net.ErrClosed
		case h.cur == v && len(h.queue) > 0:
			c := h.queue[0]
			h.queue[0] = nil
			h.queue = h.queue[1:]
			v.unanswered++
			return &answerConn{Conn: c, v: v}, nil
		case h.err != nil:
			return nil, h.err
		}
		wake := h.wake
		h.mu.Unlock()
		<-wake
		h.mu.Lock()
	}
}

// Close stops this generation accepting; the socket stays open.
func (v *handoverView) Close() error {
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	v.closed = true
	v.h.changed()
	return nil
}

func (v *handoverView) Addr() net.Addr { return v.h.l.Addr() }

// waitAnswered waits (until ctx ends) until every connection this
// generation took has been answered or closed. http.Server.Shutdown drops,
// unanswered, any request it reads after Shutdown began, which would hit
// a client whose connection the old generation took a moment before the
// restart; so the old generation shuts down only after this.
func (v *handoverView) waitAnswered(ctx context.Context) {
	h := v.h
	for {
		h.mu.Lock()
		n, wake := v.unanswered, h.wake
		h.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// answerConn marks its connection answered at the server's first write
// (or close): by then http.Server has read the request and is committed
// to answer it. It keeps the methods of the transport conn that the
// server and imagesvc look for (ID for accounts, CloseWrite for
// half-close).
type answerConn struct {
	net.Conn
	v    *handoverView
	once sync.Once
}

func (c *answerConn) answered() {
	c.once.Do(func() {
		h := c.v.h
		h.mu.Lock()
		c.v.unanswered--
		h.changed()
		h.mu.Unlock()
	})
}

func (c *answerConn) Write(p []byte) (int, error) {
	c.answered()
	return c.Conn.Write(p)
}

func (c *answerConn) Close() error {
	c.answered()
	return c.Conn.Close()
}

// ID is the transport conn's id (imagesvc records it in its accounts).
func (c *answerConn) ID() string { return transport.ConnID(c.Conn) }

// CloseWrite half-closes when the conn can (http.Server uses it).
func (c *answerConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
