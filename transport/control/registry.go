package control

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/truncheck/truncheck/transport"
)

// dirFaults are faults per direction of data.
type dirFaults struct{ toUpstream, toClient transport.Faults }

func (d dirFaults) view() Faults {
	return Faults{ToClient: d.toClient.String(), ToUpstream: d.toUpstream.String()}
}

// maxToxics bounds the toxics of one proxy (each fault acts at most once per direction,
// so a useful list is far shorter).
const maxToxics = 32

// entry is one proxy of the registry, or serve's listeners under one name.
type entry struct {
	name string
	// tmpl is the proxy to run: addresses, seed, recorder, dial timeout; its faults and
	// OnConnEnd are filled in at each start.
	tmpl         transport.ProxyConfig
	upstreamText string // the upstream as given, shown back as Toxiproxy does
	enabled      bool
	native       dirFaults
	toxics       []*toxic // in the order they were added
	active       dirFaults

	proxy     *transport.Proxy      // the running proxy; nil when disabled or for listeners
	listeners []*transport.Listener // serve's listeners: never disabled, moved or deleted here
	base      transport.Stats       // what the proxies this entry closed carried
}

func (e *entry) isListener() bool { return e.listeners != nil }

// listenAddr is where the entry listens: resolved once it listened (port 0 becomes
// the port it got, kept across disable and enable).
func (e *entry) listenAddr() addr {
	return addr{e.tmpl.ListenNetwork, e.tmpl.ListenAddr}
}

// start listens with the entry's active faults.
func (e *entry) start(onEnd func(transport.ProxyReport)) error {
	cfg := e.tmpl
	cfg.ToUpstream, cfg.ToClient, cfg.OnConnEnd = e.active.toUpstream, e.active.toClient, onEnd
	p, err := transport.NewProxy(cfg)
	if err != nil {
		return badRequest("proxy %q: %v", e.name, err)
	}
	if err := p.Start(); err != nil {
		return conflict("proxy %q: listen %s: %v", e.name, e.listenAddr(), err)
	}
	e.proxy = p
	if a := p.Addr(); a.Network() != "unix" {
		e.tmpl.ListenAddr = a.String()
	}
	return nil
}

// stop closes the running proxy (its listener and every open conn) and keeps its counts.
func (e *entry) stop() {
	if e.proxy == nil {
		return
	}
	_ = e.proxy.Close()
	s := e.proxy.Stats()
	s.Active, s.Stale = 0, 0
	e.base.Add(s)
	e.proxy = nil
}

func (e *entry) stats() transport.Stats {
	s := transport.Stats{}
	s.Add(e.base)
	if e.proxy != nil {
		s.Add(e.proxy.Stats())
	}
	for _, l := range e.listeners {
		s.Add(l.Stats())
	}
	return s
}

func (e *entry) view() Proxy {
	p := Proxy{Name: e.name, Listen: e.listenAddr().String(), Upstream: e.upstreamText, Enabled: e.enabled,
		Toxics: make([]Toxic, 0, len(e.toxics)), Faults: e.native.view(), ActiveFaults: e.active.view(), Seed: e.tmpl.Seed}
	for _, t := range e.toxics {
		p.Toxics = append(p.Toxics, t.view())
	}
	s := e.stats()
	p.Stats = Stats{Connections: s.Conns, ActiveConnections: s.Active, StaleConnections: s.Stale,
		BytesToClient: s.ToClient, BytesToUpstream: s.ToUpstream, FaultsFired: s.Fired}
	return p
}

// merge is the faults new conns get from native faults and toxics together, each fault
// at most once per direction: a fault set twice is a conflict naming both sources.
func merge(native dirFaults, toxics []*toxic, listener bool) (dirFaults, error) {
	var out dirFaults
	for _, d := range []struct {
		name, stream string
		native       transport.Faults
		out          *transport.Faults
	}{{"to_client", downstream, native.toClient, &out.toClient}, {"to_upstream", upstream, native.toUpstream, &out.toUpstream}} {
		owner := map[string]string{}
		acc := transport.Faults{}
		add := func(source string, f transport.Faults) error {
			for _, k := range f.Kinds() {
				if prev, ok := owner[k]; ok {
					return conflict("%s: %s and %s both set %s; each fault acts at most once per direction: remove one first", d.name, prev, source, k)
				}
				owner[k] = source
			}
			j, err := transport.Join(acc, f)
			if err != nil {
				return conflict("%s: %s: %v", d.name, source, err)
			}
			acc = j
			return nil
		}
		if err := add(fmt.Sprintf("the native faults (%s)", d.native), d.native); err != nil {
			return out, err
		}
		for _, t := range toxics {
			if t.stream == d.stream {
				if err := add(fmt.Sprintf("toxic %q (%s)", t.name, t.faults), t.faults); err != nil {
					return out, err
				}
			}
		}
		*d.out = acc
	}
	if listener {
		if _, err := transport.ListenerFaults(out.toUpstream, out.toClient); err != nil {
			return out, badRequest("%v", err)
		}
	}
	return out, nil
}

// setFaults makes native and toxics the entry's faults for the conns accepted from now
// on, after checking that they fit together; on error nothing changed.
func (e *entry) setFaults(native dirFaults, toxics []*toxic) error {
	active, err := merge(native, toxics, e.isListener())
	if err != nil {
		return err
	}
	if e.isListener() {
		lf, err := transport.ListenerFaults(active.toUpstream, active.toClient)
		if err != nil {
			return badRequest("%v", err)
		}
		for _, l := range e.listeners {
			l.SetFaults(lf)
		}
	} else if e.proxy != nil {
		e.proxy.SetFaults(active.toUpstream, active.toClient)
	}
	e.native, e.toxics, e.active = native, toxics, active
	return nil
}

func (e *entry) toxic(name string) (int, *toxic) {
	for i, t := range e.toxics {
		if t.name == name {
			return i, t
		}
	}
	return -1, nil
}

// namePattern is what a proxy's or a toxic's name may hold: it goes in URL paths and
// metric labels.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

func checkName(what, name string) error {
	if !namePattern.MatchString(name) {
		return badRequest("%s name %q; accepted: 1 to 64 of A-Z a-z 0-9 _ . -", what, name)
	}
	return nil
}

// parseFaults reads the native shape of a request into d (absent fields keep d's).
func parseFaults(in *faultsInput, d dirFaults) (dirFaults, error) {
	if in == nil {
		return d, nil
	}
	for _, f := range []struct {
		name string
		text *string
		out  *transport.Faults
	}{{"to_client", in.ToClient, &d.toClient}, {"to_upstream", in.ToUpstream, &d.toUpstream}} {
		if f.text == nil {
			continue
		}
		v, err := transport.ParseFaults(*f.text)
		if err != nil {
			return d, badRequest("faults: %s: %v", f.name, err)
		}
		*f.out = v
	}
	return d, nil
}

// faultsInput is the native shape in a request: absent fields keep their value.
type faultsInput struct {
	ToClient   *string `json:"to_client"`
	ToUpstream *string `json:"to_upstream"`
}

var faultsFields = []string{"to_client", "to_upstream"}

// proxyInput is a proxy in a request: Toxiproxy's fields, then ours.
type proxyInput struct {
	Name     *string      `json:"name"`
	Listen   *string      `json:"listen"`
	Upstream *string      `json:"upstream"`
	Enabled  *bool        `json:"enabled"`
	Toxics   []any        `json:"toxics"` // accepted and ignored, as Toxiproxy does: add toxics one by one
	Faults   *faultsInput `json:"faults"`
	Seed     *int64       `json:"seed"`
}

var proxyFields = []string{"name", "listen", "upstream", "enabled", "toxics", "faults", "seed"}

// toxicInput is a toxic in a request.
type toxicInput struct {
	Name       *string              `json:"name"`
	Type       *string              `json:"type"`
	Stream     *string              `json:"stream"`
	Toxicity   *float64             `json:"toxicity"`
	Attributes map[string]rawNumber `json:"attributes"`
}

var toxicFields = []string{"name", "type", "stream", "toxicity", "attributes"}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// newEntry checks a proxy of a create or populate request and makes its entry, not yet
// listening.
func (s *Server) newEntry(in proxyInput) (*entry, error) {
	name := str(in.Name)
	if name == "" {
		return nil, badRequest("missing required field: name")
	}
	if err := checkName("proxy", name); err != nil {
		return nil, err
	}
	if str(in.Upstream) == "" {
		return nil, badRequest("proxy %q: missing required field: upstream (accepted: %s)", name, acceptedAddresses)
	}
	up, err := parseAddr("upstream", *in.Upstream)
	if err != nil {
		return nil, err
	}
	listen := addr{"tcp", "127.0.0.1:0"}
	if str(in.Listen) != "" {
		if listen, err = parseAddr("listen", *in.Listen); err != nil {
			return nil, err
		}
	}
	native, err := parseFaults(in.Faults, dirFaults{})
	if err != nil {
		return nil, err
	}
	e := &entry{name: name, upstreamText: *in.Upstream, enabled: in.Enabled == nil || *in.Enabled,
		tmpl: transport.ProxyConfig{ListenNetwork: listen.network, ListenAddr: listen.address,
			UpstreamNetwork: up.network, UpstreamAddr: up.address, Name: name,
			Seed: s.cfg.Seed, Record: s.cfg.Record, DialTimeout: s.cfg.DialTimeout}}
	if in.Seed != nil {
		e.tmpl.Seed = *in.Seed
	}
	if e.active, err = merge(native, nil, false); err != nil {
		return nil, err
	}
	e.native = native
	return e, nil
}

// add registers e and starts it when enabled; the caller holds s.mu.
func (s *Server) add(e *entry) error {
	if _, ok := s.entries[e.name]; ok {
		return conflict("proxy %q already exists", e.name)
	}
	if len(s.entries) >= s.cfg.MaxProxies {
		return conflict("the registry holds at most %d proxies; delete one first", s.cfg.MaxProxies)
	}
	if e.enabled && !e.isListener() {
		if err := e.start(s.cfg.OnConnEnd); err != nil {
			return err
		}
	}
	s.entries[e.name] = e
	return nil
}

// get finds a proxy; the caller holds s.mu.
func (s *Server) get(name string) (*entry, error) {
	e, ok := s.entries[name]
	if !ok {
		names := make([]string, 0, len(s.entries))
		for n := range s.entries {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, notFound("proxy %q not found (proxies: %s)", name, orNone(names))
	}
	return e, nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// update applies a POST /proxies/{name} body; the caller holds s.mu.
func (s *Server) update(e *entry, in proxyInput) error {
	if n := str(in.Name); n != "" && n != e.name {
		return badRequest("proxy %q: name %q: a proxy is renamed by deleting it and creating it anew", e.name, n)
	}
	listen, up := e.listenAddr(), addr{e.tmpl.UpstreamNetwork, e.tmpl.UpstreamAddr}
	upText := e.upstreamText
	var err error
	if str(in.Listen) != "" {
		if listen, err = parseAddr("listen", *in.Listen); err != nil {
			return err
		}
	}
	if str(in.Upstream) != "" {
		if up, err = parseAddr("upstream", *in.Upstream); err != nil {
			return err
		}
		upText = *in.Upstream
	}
	enabled := e.enabled
	if in.Enabled != nil {
		enabled = *in.Enabled
	}
	moved := listen != e.listenAddr() || up != (addr{e.tmpl.UpstreamNetwork, e.tmpl.UpstreamAddr})
	if e.isListener() && (moved || !enabled) {
		return forbidden("proxy %q is the command's own listener: its address and state are the command's (accepted here: faults and toxics)", e.name)
	}
	native, err := parseFaults(in.Faults, e.native)
	if err != nil {
		return err
	}
	if in.Seed != nil && *in.Seed != e.tmpl.Seed && !e.isListener() {
		e.tmpl.Seed = *in.Seed
		moved = true // the seed is fixed for a proxy's life: restart it
	}
	if err := e.setFaults(native, e.toxics); err != nil {
		return err
	}
	if moved || !enabled {
		e.stop()
	}
	e.tmpl.ListenNetwork, e.tmpl.ListenAddr = listen.network, listen.address
	e.tmpl.UpstreamNetwork, e.tmpl.UpstreamAddr, e.upstreamText = up.network, up.address, upText
	e.enabled = enabled
	if enabled && e.proxy == nil && !e.isListener() {
		if err := e.start(s.cfg.OnConnEnd); err != nil {
			e.enabled = false // what GET shows is what runs
			return err
		}
	}
	return nil
}

// addToxic applies a POST /proxies/{name}/toxics body; the caller holds s.mu.
func (s *Server) addToxic(e *entry, in toxicInput) (*toxic, error) {
	if str(in.Type) == "" {
		return nil, badRequest("missing required field: type (accepted: %s)", toxicTypeNames())
	}
	kind, err := findToxicKind(*in.Type)
	if err != nil {
		return nil, err
	}
	t := &toxic{kind: kind, stream: downstream, toxicity: 1, attrs: map[string]int64{}}
	for _, a := range kind.attrs {
		t.attrs[a] = 0
	}
	if in.Stream != nil {
		if err := checkStream(*in.Stream); err != nil {
			return nil, err
		}
		t.stream = *in.Stream
	}
	t.name = kind.name + "_" + t.stream
	if str(in.Name) != "" {
		t.name = *in.Name
	}
	if err := checkName("toxic", t.name); err != nil {
		return nil, err
	}
	if _, old := e.toxic(t.name); old != nil {
		return nil, conflict("toxic %q already exists on proxy %q", t.name, e.name)
	}
	if len(e.toxics) >= maxToxics {
		return nil, conflict("proxy %q holds at most %d toxics; remove one first", e.name, maxToxics)
	}
	if err := t.apply(in); err != nil {
		return nil, err
	}
	return t, e.setFaults(e.native, append(slices.Clone(e.toxics), t))
}

// apply sets what a POST body gives (toxicity, attributes) and compiles the
// toxic into faults: what adding and changing a toxic share.
func (t *toxic) apply(in toxicInput) error {
	if err := t.setToxicity(in.Toxicity); err != nil {
		return err
	}
	if err := t.setAttributes(in.Attributes); err != nil {
		return err
	}
	return t.compile()
}

// changeToxic applies a POST /proxies/{name}/toxics/{toxic} body: attributes and
// toxicity given replace, the rest stays; the caller holds s.mu.
func (s *Server) changeToxic(e *entry, name string, in toxicInput) (*toxic, error) {
	i, old := e.toxic(name)
	if old == nil {
		return nil, notFound("toxic %q not found on proxy %q", name, e.name)
	}
	for _, f := range []struct{ field, got, have string }{
		{"name", str(in.Name), old.name}, {"type", str(in.Type), old.kind.name}, {"stream", str(in.Stream), old.stream},
	} {
		if f.got != "" && f.got != f.have {
			return nil, badRequest("toxic %q: %s %q: a toxic's %s is fixed (accepted: %q or absent); remove it and add it anew", name, f.field, f.got, f.field, f.have)
		}
	}
	t := *old
	t.attrs = maps.Clone(old.attrs)
	if err := t.apply(in); err != nil {
		return nil, err
	}
	toxics := slices.Clone(e.toxics)
	toxics[i] = &t
	return &t, e.setFaults(e.native, toxics)
}

func (t *toxic) setToxicity(p *float64) error {
	if p == nil {
		return nil
	}
	if *p < 0 || *p > 1 || *p != *p {
		return badRequest("toxic %q: toxicity %g; accepted: 0 to 1 (the fraction of connections it applies to)", t.name, *p)
	}
	t.toxicity = *p
	return nil
}

// listenerEntry makes the entry of a command's own listeners, their faults read back in
// the per-direction shape.
func listenerEntry(name string, ls []*transport.Listener) (*entry, error) {
	if len(ls) == 0 {
		return nil, fmt.Errorf("control: listeners %q: none given", name)
	}
	up, down, err := ls[0].Faults().Directions()
	if err != nil {
		return nil, fmt.Errorf("control: listeners %q: %w", name, err)
	}
	a := ls[0].Addr()
	e := &entry{name: name, enabled: true, listeners: ls,
		tmpl:   transport.ProxyConfig{ListenNetwork: a.Network(), ListenAddr: a.String()},
		native: dirFaults{toUpstream: up, toClient: down}}
	if e.tmpl.ListenNetwork != "unix" {
		e.tmpl.ListenNetwork = "tcp"
	}
	// The listeners keep the chain they were given until the first change: the same
	// faults, with a fault that acts both ways chosen for a conn once, not per direction.
	if e.active, err = merge(e.native, nil, true); err != nil {
		return nil, fmt.Errorf("control: listeners %q: %w", name, err)
	}
	return e, nil
}
