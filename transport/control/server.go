package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/truncheck/truncheck/transport"
)

// Config configures a [Server]. The zero value serves a fixed registry (what the
// command registers) with the defaults noted.
type Config struct {
	Version string // GET /version; "" => "devel"
	// Create lets the API create and delete proxies (POST /proxies, /populate, DELETE);
	// without it the registry holds what the command registered.
	Create      bool
	MaxProxies  int           // proxies the registry holds at most; 0 => 64
	Seed        int64         // the seed of proxies created without one
	Record      int           // flight-recorder events per conn of created proxies; 0 => off
	DialTimeout time.Duration // upstream dial of created proxies; 0 => the transport's default
	// OnConnEnd, if set, gets every proxied conn's report (its ID starts with the proxy's
	// name), from the conn's own goroutine: keep it short.
	OnConnEnd func(transport.ProxyReport)
}

// Server is the control API: a registry of proxies (and of a command's own listeners),
// their faults and toxics, and their metrics. Start serves it; Close stops it and every
// proxy it runs.
type Server struct {
	cfg Config

	mu      sync.Mutex // guards entries and every entry's state
	entries map[string]*entry

	reg      *prometheus.Registry
	outcomes *prometheus.CounterVec
	silent   *prometheus.CounterVec

	hs   *http.Server
	ln   net.Listener
	tcp  bool // the API listens on TCP: the Host header is checked
	done chan struct{}
}

// New makes a server with an empty registry.
func New(cfg Config) *Server {
	if cfg.Version == "" {
		cfg.Version = "devel"
	}
	if cfg.MaxProxies <= 0 {
		cfg.MaxProxies = 64
	}
	s := &Server{cfg: cfg, entries: make(map[string]*entry)}
	s.initMetrics()
	return s
}

// AddProxy registers and starts a proxy given by a command's flags: cfg.Name is its name
// (required), cfg.ToUpstream and ToClient its faults in the native shape. Its addresses
// are the command's to choose (the API's loopback rule is for proxies made through it);
// the server's OnConnEnd replaces cfg's.
func (s *Server) AddProxy(cfg transport.ProxyConfig) (Proxy, error) {
	if err := checkName("proxy", cfg.Name); err != nil {
		return Proxy{}, err
	}
	native := dirFaults{toUpstream: cfg.ToUpstream, toClient: cfg.ToClient}
	up := addr{cfg.UpstreamNetwork, cfg.UpstreamAddr}
	e := &entry{name: cfg.Name, tmpl: cfg, upstreamText: up.String(), enabled: true, native: native, active: native}
	e.tmpl.OnConnEnd = nil
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.add(e); err != nil {
		return Proxy{}, err
	}
	return e.view(), nil
}

// AddListeners registers a command's own listeners under name (serve's TCP and Unix
// listeners, which share their faults): the API changes their faults for the conns
// they accept next, and never closes them. Their current faults are shown per
// direction; a chain that has no per-direction form is refused.
func (s *Server) AddListeners(name string, ls ...*transport.Listener) (Proxy, error) {
	if err := checkName("proxy", name); err != nil {
		return Proxy{}, err
	}
	e, err := listenerEntry(name, ls)
	if err != nil {
		return Proxy{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.add(e); err != nil {
		return Proxy{}, err
	}
	return e.view(), nil
}

// Start listens on network ("tcp" or "unix") and address and serves the API in the
// background until Close. A TCP address must be a loopback one: the API changes what
// this machine's connections do.
func (s *Server) Start(network, address string) error {
	if network == "tcp" {
		host, _, err := net.SplitHostPort(address)
		if err != nil || !isLoopback(host) {
			return fmt.Errorf("control: listen %q: not a loopback address (accepted: 127.0.0.1, [::1], localhost, or a Unix socket)", address)
		}
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	s.ln, s.tcp = ln, network == "tcp"
	s.hs = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		_ = s.hs.Serve(ln)
	}()
	return nil
}

// Addr is where the API listens (nil before Start).
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close stops the API (requests in flight get 5 seconds), then closes every proxy the
// registry runs; a command's own listeners are left to the command.
func (s *Server) Close() error {
	var err error
	if s.hs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err = s.hs.Shutdown(ctx); err != nil {
			err = s.hs.Close()
		}
		cancel()
		<-s.done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, e := range s.entries {
		e.stop()
		delete(s.entries, name)
	}
	return err
}

// route is one path of the API and the handler of each method it takes.
type route struct {
	pattern string
	methods map[string]handler
}

// handler answers one request: a status, a value to encode as JSON (nil: no body).
type handler func(r *http.Request, body []byte) (int, any, error)

// Handler is the API's http.Handler: Start serves it; tests may mount it elsewhere.
func (s *Server) Handler() http.Handler {
	routes := []route{
		{"/version", map[string]handler{"GET": s.version}},
		{"/metrics", nil}, // promhttp, below
		{"/proxies", map[string]handler{"GET": s.listProxies, "POST": s.createProxy}},
		{"/populate", map[string]handler{"POST": s.populate}},
		{"/reset", map[string]handler{"POST": s.reset}},
		{"/proxies/{proxy}", map[string]handler{"GET": s.showProxy, "POST": s.updateProxy, "PATCH": s.updateProxy, "DELETE": s.deleteProxy}},
		{"/proxies/{proxy}/faults", map[string]handler{"GET": s.showFaults, "POST": s.setFaults, "PUT": s.setFaults, "PATCH": s.setFaults}},
		{"/proxies/{proxy}/toxics", map[string]handler{"GET": s.listToxics, "POST": s.createToxic}},
		{"/proxies/{proxy}/toxics/{toxic}", map[string]handler{"GET": s.showToxic, "POST": s.updateToxic, "PATCH": s.updateToxic, "DELETE": s.deleteToxic}},
	}
	var endpoints []string
	mux := http.NewServeMux()
	for _, rt := range routes {
		if rt.methods == nil {
			mux.Handle(rt.pattern, s.metricsHandler())
			endpoints = append(endpoints, "GET "+rt.pattern)
			continue
		}
		methods := slices.Sorted(func(yield func(string) bool) {
			for m := range rt.methods {
				if !yield(m) {
					return
				}
			}
		})
		endpoints = append(endpoints, strings.Join(methods, "|")+" "+rt.pattern)
		mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			h, ok := rt.methods[r.Method]
			if !ok {
				w.Header().Set("Allow", strings.Join(methods, ", "))
				writeError(w, &apiErr{http.StatusMethodNotAllowed, fmt.Sprintf("method %s on %s; accepted: %s", r.Method, rt.pattern, strings.Join(methods, ", "))})
				return
			}
			body, err := readBody(w, r)
			if err != nil {
				writeError(w, err)
				return
			}
			status, v, err := h(r, body)
			if err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, status, v)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("no endpoint %s %s; accepted: %s", r.Method, r.URL.Path, strings.Join(endpoints, ", ")))
	})
	return s.guard(mux)
}

// guard refuses what a web page could send: a request with an Origin header (a browser
// adds it to every cross-origin and every POST request), and on TCP a Host that is not
// a loopback name (a page whose name was rebound to 127.0.0.1). The API is for tests and
// tools on this machine, never for pages a browser opened.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" {
			writeError(w, forbidden("a request with an Origin header (%q) is refused: the API takes requests from programs on this machine, not web pages", o))
			return
		}
		if s.tcp {
			host := r.Host
			if h, _, err := net.SplitHostPort(r.Host); err == nil {
				host = h
			}
			if !isLoopback(strings.Trim(host, "[]")) {
				writeError(w, forbidden("Host %q is refused; accepted: a loopback address or localhost", r.Host))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if v == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, err error) {
	st := statusOf(err)
	b, _ := json.Marshal(APIError{Message: err.Error(), Status: st})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	_, _ = w.Write(append(b, '\n'))
}

func (s *Server) version(*http.Request, []byte) (int, any, error) {
	return http.StatusOK, Version{Version: s.cfg.Version}, nil
}

func (s *Server) listProxies(*http.Request, []byte) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Proxy, len(s.entries))
	for name, e := range s.entries {
		out[name] = e.view()
	}
	return http.StatusOK, out, nil
}

// canCreate refuses creation and deletion when the command did not allow them.
func (s *Server) canCreate(what string) error {
	if !s.cfg.Create {
		return forbidden("%s: this command controls its own proxies only; truncheck proxy --control creates and deletes proxies", what)
	}
	return nil
}

func (s *Server) createProxy(_ *http.Request, body []byte) (int, any, error) {
	if err := s.canCreate("POST /proxies"); err != nil {
		return 0, nil, err
	}
	var in proxyInput
	if err := decodeObject(body, "proxy", proxyFields, &in); err != nil {
		return 0, nil, err
	}
	e, err := s.newEntry(in)
	if err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.add(e); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, e.view(), nil
}

func (s *Server) populate(_ *http.Request, body []byte) (int, any, error) {
	if err := s.canCreate("POST /populate"); err != nil {
		return 0, nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return 0, nil, badRequest("bad request body: populate: %v (want a JSON array of proxies with the fields %s)", err, strings.Join(proxyFields, ", "))
	}
	if len(raw) > s.cfg.MaxProxies {
		return 0, nil, badRequest("populate: %d proxies; accepted: at most %d", len(raw), s.cfg.MaxProxies)
	}
	// Every proxy is checked before any is created, as Toxiproxy does.
	entries := make([]*entry, len(raw))
	for i, r := range raw {
		var in proxyInput
		if err := decodeObject(r, fmt.Sprintf("proxy %d", i+1), proxyFields, &in); err != nil {
			return 0, nil, err
		}
		e, err := s.newEntry(in)
		if err != nil {
			return 0, nil, fmt.Errorf("proxy %d: %w", i+1, err)
		}
		entries[i] = e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res := populateResult{Proxies: []Proxy{}}
	for _, e := range entries {
		if old, ok := s.entries[e.name]; ok {
			if old.listenAddr() == e.listenAddr() && old.tmpl.UpstreamAddr == e.tmpl.UpstreamAddr && old.tmpl.UpstreamNetwork == e.tmpl.UpstreamNetwork {
				res.Proxies = append(res.Proxies, old.view()) // the same: left as it is
				continue
			}
			if old.isListener() {
				err := forbidden("proxy %q is the command's own listener: it cannot be replaced", e.name)
				res.APIError = &APIError{Message: err.Error(), Status: statusOf(err)}
				return res.APIError.Status, res, nil
			}
			old.stop()
			delete(s.entries, e.name)
		}
		if err := s.add(e); err != nil {
			res.APIError = &APIError{Message: err.Error(), Status: statusOf(err)}
			return res.APIError.Status, res, nil
		}
		res.Proxies = append(res.Proxies, e.view())
	}
	return http.StatusCreated, res, nil
}

// reset removes every toxic and native fault and enables every proxy.
func (s *Server) reset(_ *http.Request, body []byte) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, e := range s.entries {
		if err := e.setFaults(dirFaults{}, nil); err != nil {
			errs = append(errs, err)
		}
		if !e.enabled && !e.isListener() {
			if err := e.start(s.cfg.OnConnEnd); err != nil {
				errs = append(errs, err)
				continue
			}
			e.enabled = true
		}
	}
	if err := errors.Join(errs...); err != nil {
		return 0, nil, conflict("reset: %v", err)
	}
	return http.StatusNoContent, nil, nil
}

// withEntry runs f on the request's proxy under the lock.
func (s *Server) withEntry(r *http.Request, f func(e *entry) (int, any, error)) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.get(r.PathValue("proxy"))
	if err != nil {
		return 0, nil, err
	}
	return f(e)
}

func (s *Server) showProxy(r *http.Request, _ []byte) (int, any, error) {
	return s.withEntry(r, func(e *entry) (int, any, error) { return http.StatusOK, e.view(), nil })
}

func (s *Server) updateProxy(r *http.Request, body []byte) (int, any, error) {
	var in proxyInput
	if err := decodeObject(body, "proxy", proxyFields, &in); err != nil {
		return 0, nil, err
	}
	return s.withEntry(r, func(e *entry) (int, any, error) {
		if err := s.update(e, in); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, e.view(), nil
	})
}

func (s *Server) deleteProxy(r *http.Request, _ []byte) (int, any, error) {
	if err := s.canCreate("DELETE /proxies/{proxy}"); err != nil {
		return 0, nil, err
	}
	return s.withEntry(r, func(e *entry) (int, any, error) {
		if e.isListener() {
			return 0, nil, forbidden("proxy %q is the command's own listener: it is not deleted here", e.name)
		}
		e.stop()
		delete(s.entries, e.name)
		return http.StatusNoContent, nil, nil
	})
}

func (s *Server) showFaults(r *http.Request, _ []byte) (int, any, error) {
	return s.withEntry(r, func(e *entry) (int, any, error) { return http.StatusOK, e.native.view(), nil })
}

func (s *Server) setFaults(r *http.Request, body []byte) (int, any, error) {
	var in faultsInput
	if err := decodeObject(body, "faults", faultsFields, &in); err != nil {
		return 0, nil, err
	}
	return s.withEntry(r, func(e *entry) (int, any, error) {
		native, err := parseFaults(&in, e.native)
		if err != nil {
			return 0, nil, err
		}
		if err := e.setFaults(native, e.toxics); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, e.view(), nil
	})
}

func (s *Server) listToxics(r *http.Request, _ []byte) (int, any, error) {
	return s.withEntry(r, func(e *entry) (int, any, error) {
		out := make([]Toxic, 0, len(e.toxics))
		for _, t := range e.toxics {
			out = append(out, t.view())
		}
		return http.StatusOK, out, nil
	})
}

func (s *Server) createToxic(r *http.Request, body []byte) (int, any, error) {
	var in toxicInput
	if err := decodeObject(body, "toxic", toxicFields, &in); err != nil {
		return 0, nil, err
	}
	return s.withEntry(r, func(e *entry) (int, any, error) {
		t, err := s.addToxic(e, in)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, t.view(), nil // Toxiproxy answers 200, not 201
	})
}

func (s *Server) showToxic(r *http.Request, _ []byte) (int, any, error) {
	return s.withEntry(r, func(e *entry) (int, any, error) {
		_, t := e.toxic(r.PathValue("toxic"))
		if t == nil {
			return 0, nil, notFound("toxic %q not found on proxy %q", r.PathValue("toxic"), e.name)
		}
		return http.StatusOK, t.view(), nil
	})
}

func (s *Server) updateToxic(r *http.Request, body []byte) (int, any, error) {
	var in toxicInput
	if err := decodeObject(body, "toxic", toxicFields, &in); err != nil {
		return 0, nil, err
	}
	return s.withEntry(r, func(e *entry) (int, any, error) {
		t, err := s.changeToxic(e, r.PathValue("toxic"), in)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, t.view(), nil
	})
}

func (s *Server) deleteToxic(r *http.Request, _ []byte) (int, any, error) {
	return s.withEntry(r, func(e *entry) (int, any, error) {
		name := r.PathValue("toxic")
		i, t := e.toxic(name)
		if t == nil {
			return 0, nil, notFound("toxic %q not found on proxy %q", name, e.name)
		}
		if err := e.setFaults(e.native, slices.Delete(slices.Clone(e.toxics), i, i+1)); err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, nil
	})
}
