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

	"truncheck/imagesvc"
	"truncheck/results"
	"truncheck/scenarios"
	"truncheck/transport"
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
// "no such socket" while a restarting service is down.
const dialRetry = 10 * time.Second

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
			if err == nil || !(errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)) || time.Now().After(deadline) {
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

	mu        sync.Mutex
	origin    *imagesvc.Server
	gen       int
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

	if st.svc, err = imagesvc.New(imagesvc.Config{}); err != nil {
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
		outer, err := imagesvc.New(imagesvc.Config{Upstream: &imagesvc.Upstream{Client: &http.Client{Transport: upTr}, BaseURL: "http://gw"}})
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
		refOuter, err := imagesvc.New(imagesvc.Config{Upstream: &imagesvc.Upstream{Client: &http.Client{Transport: refTr}, BaseURL: "http://ref"}})
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

func (st *stack) startOrigin() error {
	cfg := st.originCfg
	// A new name per generation keeps conn ids unique across restarts.
	name := "svc"
	if st.gen > 0 {
		name = fmt.Sprintf("svc.r%d", st.gen)
	}
	hopIdx := len(st.s.Topology.Hops) - 1
	cfg.WrapListener = st.wrapper(st.originHop.ServerFaults, st.s.Seed*1_000_003+int64(hopIdx)+int64(st.gen)*7919, name)
	srv := imagesvc.NewServer(st.svc, cfg)
	var err error
	for try := 0; try < 50; try++ { // the old socket may linger a moment
		if err = srv.Start(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
		srv = imagesvc.NewServer(st.svc, cfg)
	}
	if err != nil {
		return fmt.Errorf("origin server: %w", err)
	}
	if st.originCfg.TCPAddr != "" {
		st.originCfg.TCPAddr = srv.TCPAddr() // restarts reuse the port
	}
	st.mu.Lock()
	st.origin = srv
	st.mu.Unlock()
	return nil
}

func (st *stack) originAddr() (string, string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return addrOf(st.origin)
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

// restart shuts the origin down gracefully (cut at grace) and starts a new
// server on the same address, like a deploy.
func (st *stack) restart(ctx context.Context, grace time.Duration) error {
	st.mu.Lock()
	old := st.origin
	st.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, grace)
	err := old.Shutdown(sctx)
	cancel()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("origin shutdown: %w", err)
	}
	if ctx.Err() != nil {
		return nil // the run is over; teardown closes what is left
	}
	st.gen++
	return st.startOrigin()
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
