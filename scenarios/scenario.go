package scenarios

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/truncheck/truncheck/harness/digest"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/transport"
	"github.com/truncheck/truncheck/transport/h2fault"
)

// Scenario is one experiment as plain data: which tiers stand between the
// client and the image service, which faults each hop carries, what the
// client asks for and how hard, and what a run must show. Scenarios are
// values so that a failing run can be printed, stored and replayed; the
// harness turns one into sockets and servers.
type Scenario struct {
	Name        string // lowercase letters, digits and dashes
	Description string // one line, shown by `truncheck list`
	Quick       bool   // part of the quick catalog run by `go test` and `truncheck run`
	// TargetOnly marks a scenario written for an external server's API
	// (e.g. the hyper target's /bytes routes): it runs only against a
	// harness Target (`truncheck check`), never in-process.
	TargetOnly bool
	// Origin names the in-process origin whose API the requests are written
	// for: "imagesvc" (the image service, the default) or "bodies" (the
	// pure-Go origin of deterministic bodies); whoever runs the scenario
	// maps the name to an origin (harness.Options.Origin).
	Origin string

	Topology Topology
	Workload Workload

	Concurrency int           // requests in flight at once; 0 => 4
	Count       int           // requests to send; 0 => bounded by Duration only
	Duration    time.Duration // stop sending new requests after this; 0 => bounded by Count only
	Seed        int64         // every fault's randomness and the workload's choices derive from it

	// Client holds how the client side of the first hop behaves.
	Client   Client
	Service  Service
	Restarts Restarts
	// Target, for a target-only scenario, says how the external server it
	// was written for is started (the CLI's realworld maps it to a binary).
	Target *TargetRecipe
	// StallTimeout is how long a response may make no progress before it is
	// classified stalled; 0 => 10s.
	StallTimeout time.Duration
	// Verify says what evidence a response needs (see [Verify]).
	Verify Verify

	// Expect is what a run must show; results judges it (one judge for a
	// run, a merge and a report).
	Expect results.Expectation
}

// Verify tunes what the verifier accepts as evidence.
type Verify struct {
	// RequireEndToEnd makes a response whose only evidence is its own hop's
	// framing (Content-Length, the last chunk) or agreeing fetches
	// unverified: end-to-end evidence (the origin's digest, a reference, a
	// stated expectation) is required for complete.
	RequireEndToEnd bool
	// ReferenceFetches is how many clean fetches an external target's
	// reference is made of when nothing better is known; 0 => 3.
	ReferenceFetches int
}

// Mode names the chain of tiers between the client and the origin.
type Mode string

// The topologies. Hops are listed client first.
const (
	// Direct: client -> service (1 hop).
	Direct Mode = "direct"
	// Gateway: client -> gateway -> service (2 hops).
	Gateway Mode = "gateway"
	// Nested: client -> outer service -> gateway -> inner service (3 hops).
	// The outer service fetches its source image through the gateway with
	// imagesvc's /fetch route, the customer's pipeline.
	Nested Mode = "nested"
)

// HopCount is how many hops the mode has.
func (m Mode) HopCount() int {
	switch m {
	case Direct:
		return 1
	case Gateway:
		return 2
	case Nested:
		return 3
	}
	return 0
}

// Network is the socket kind of one hop.
type Network string

// The networks a hop can use.
const (
	TCP  Network = "tcp"  // 127.0.0.1
	Unix Network = "unix" // a socket in a temporary directory
)

// GatewayKind is how the gateway tier relays a response.
type GatewayKind string

// The gateway kinds.
const (
	// Proxy is net/http/httputil.ReverseProxy: it copies Content-Length, so a
	// cut upstream body reaches the client as a short body with the origin's
	// length: a truncation the client can see.
	Proxy GatewayKind = "proxy"
	// Naive copies the upstream body with io.Copy, ignores the copy's error
	// and drops Content-Length, so Go's server re-chunks the body and ends it
	// cleanly: a cut laundered into a well-formed, shorter response that only
	// the digest or the reference can catch (the close-delimited gateway).
	Naive GatewayKind = "naive"
)

// Topology is the chain of tiers and the hops between them.
type Topology struct {
	Mode    Mode
	Gateway GatewayKind // gateway and nested modes; "" => proxy
	// Hops are listed client first: hop 0 is opened by the client. Empty
	// means every hop over TCP without faults; otherwise exactly
	// Mode.HopCount() entries.
	Hops []Hop
}

// Hop is one connection between two tiers and the faults injected on it:
// typed chains (transport.Faults, h2fault.Faults), built with their
// packages' constructors in Go or parsed from a file's spec text when it is
// loaded, never again.
type Hop struct {
	Network Network // "" => tcp
	// TLS runs crypto/tls over the hop's connections, the way services are
	// deployed: the tier it reaches presents a certificate from a CA the
	// harness makes for the run. The byte faults and the flight recorder
	// stay beneath TLS, on the raw connection (they count ciphertext).
	TLS bool
	// Protocol is the HTTP version spoken on the hop; "" => http/1.1. h2
	// over TLS is chosen by ALPN; without TLS it is h2c with prior knowledge.
	Protocol Protocol
	// ServerFaults wrap the listener of the tier this hop reaches (how that
	// tier writes responses and reads requests).
	ServerFaults transport.Faults
	// ClientFaults wrap the dialer of the tier that opens this hop (how it
	// reads responses: a slow reader lives here).
	ClientFaults transport.Faults
	// StreamFaults act on the HTTP/2 streams the tier this hop reaches
	// serves, through Go's own HTTP/2 server (a stream reset, a GOAWAY with
	// streams in flight; package transport/h2fault). Protocol h2 only.
	StreamFaults h2fault.Faults
}

// Protocol is the HTTP version of a hop.
type Protocol string

// The protocols a hop can speak.
const (
	HTTP1 Protocol = "http/1.1"
	HTTP2 Protocol = "h2" // over TLS by ALPN, else h2c with prior knowledge
)

// Workload is what the client asks for. Each request is chosen by weight
// from a generator seeded with the scenario's seed.
type Workload struct {
	Requests []Request
}

// Request is one kind of request against imagesvc's HTTP API (or a
// target's), e.g. GET /images/photo-4mp?format=tiff.
type Request struct {
	Method string // GET, HEAD, POST or PUT; "" => GET
	Path   string // path and query, starting with "/"
	Weight int    // relative frequency; 0 => 1
	// Headers are sent with every request of this kind (e.g. Range,
	// Accept-Encoding: identity); Host, Content-Length and the
	// hop-by-hop headers are refused.
	Headers map[string]string
	// Want, when set, is what the user states the response must be: the
	// strongest evidence a verdict can rest on.
	Want *Want
	// Upload is the size of a deterministic request body (0 => none);
	// UploadFile, instead, sends a file's bytes. Either goes with GET, POST
	// or PUT: a GET with a body is how to find a server that answers
	// without reading what it was sent (most never read a GET's body) and
	// then closes with the upload unread, which can reset the answer.
	// Expect100 adds `Expect: 100-continue`, the shape of the early-answer
	// case (a server that answers before the client sends the upload).
	Upload     int64
	UploadFile string
	Expect100  bool
}

// Want is what a response must be, stated by the user rather than taken
// from the server under test: its exact length, its RFC 9530 digest, or
// the bytes of a known-good copy (a file, or a URL on another server).
type Want struct {
	Length        *int64       // exact body length
	Digest        digest.Field // parsed, e.g. from "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
	ReferenceURL  string       // a known-good server's URL of the same content
	ReferenceFile string       // a file holding the expected body
}

// IsZero reports whether nothing is stated.
func (w *Want) IsZero() bool {
	return w == nil || (w.Length == nil && len(w.Digest) == 0 && w.ReferenceURL == "" && w.ReferenceFile == "")
}

// Service holds the origin server's HTTP options.
type Service struct {
	// WriteTimeout is the origin server's http.Server.WriteTimeout; 0 =>
	// 10 minutes, negative => none.
	WriteTimeout time.Duration
	// DisableKeepAlives makes the origin server close (half-close first)
	// after every response, the shape of the hyper report.
	DisableKeepAlives bool
}

// Client holds the client's HTTP options.
type Client struct {
	// ConnectionClose makes the client send `Connection: close` and use a
	// new connection per request.
	ConnectionClose bool
}

// TargetRecipe says how a target-only scenario's server is started, as
// data: which server (the runner maps the name to a program, e.g.
// "hyper-stock", "hyper-fixed"); the socket kind is the hop's network.
type TargetRecipe struct {
	Server string
}

// Restarts make the origin service restart during the run, the way a deploy
// does: graceful shutdown with a deadline, then a new server on the same
// address.
type Restarts struct {
	Every time.Duration // 0 => no restarts
	// Grace is the graceful shutdown's deadline; responses still in flight
	// after it are cut by closing their connections. 0 => 5s.
	Grace time.Duration
	// Reload asks an external target to reload its configuration the way
	// its operators do (harness.Target.Reload: a signal or a command)
	// instead of restarting its process. nginx, Apache and HAProxy reload
	// far more often than they restart. In-process origins restart either
	// way.
	Reload bool
}

// Defaults used when a field is zero.
const (
	DefaultOrigin       = "imagesvc"
	DefaultConcurrency  = 4
	DefaultStallTimeout = 10 * time.Second
	DefaultGrace        = 5 * time.Second
	DefaultSeed         = 1
)

// withDefaults returns a copy with every zero field that has a documented
// default filled in (origin, hops, gateway kind, methods, weights,
// concurrency, stall timeout, grace): what [Compile] keeps.
func (s Scenario) withDefaults() Scenario {
	s = s.Clone()
	if s.Origin == "" {
		s.Origin = DefaultOrigin
	}
	if s.Topology.Mode == "" {
		s.Topology.Mode = Direct
	}
	if s.Topology.Mode != Direct && s.Topology.Gateway == "" {
		s.Topology.Gateway = Proxy
	}
	if len(s.Topology.Hops) == 0 {
		s.Topology.Hops = make([]Hop, s.Topology.Mode.HopCount())
	}
	for i := range s.Topology.Hops {
		if s.Topology.Hops[i].Network == "" {
			s.Topology.Hops[i].Network = TCP
		}
		if s.Topology.Hops[i].Protocol == "" {
			s.Topology.Hops[i].Protocol = HTTP1
		}
	}
	for i := range s.Workload.Requests {
		r := &s.Workload.Requests[i]
		if r.Method == "" {
			r.Method = "GET"
		}
		if r.Weight == 0 {
			r.Weight = 1
		}
	}
	if s.Concurrency == 0 {
		s.Concurrency = DefaultConcurrency
	}
	if s.StallTimeout == 0 {
		s.StallTimeout = DefaultStallTimeout
	}
	if s.Restarts.Every > 0 && s.Restarts.Grace == 0 {
		s.Restarts.Grace = DefaultGrace
	}
	return s
}

// Clone returns a deep copy, so a catalog's scenarios cannot be changed
// through a value handed out.
func (s Scenario) Clone() Scenario {
	s.Topology.Hops = append([]Hop(nil), s.Topology.Hops...)
	s.Workload.Requests = append([]Request(nil), s.Workload.Requests...)
	for i := range s.Workload.Requests {
		r := &s.Workload.Requests[i]
		if r.Headers != nil {
			h := make(map[string]string, len(r.Headers))
			for k, v := range r.Headers {
				h[k] = v
			}
			r.Headers = h
		}
		if r.Want != nil {
			w := *r.Want
			if w.Length != nil {
				n := *w.Length
				w.Length = &n
			}
			r.Want = &w
		}
	}
	s.Expect = s.Expect.Clone()
	if s.Target != nil {
		t := *s.Target
		s.Target = &t
	}
	return s
}

// tiers names the tiers of a topology, client first: hop i goes from
// tiers[i] to tiers[i+1].
func (s Scenario) tiers() []string {
	switch s.Topology.Mode {
	case Direct:
		return []string{"client", "svc"}
	case Gateway:
		return []string{"client", "gw", "svc"}
	case Nested:
		return []string{"client", "outer", "gw", "inner"}
	}
	return nil
}

// layout renders the chain of a defaulted scenario for records and
// tables, e.g. "client-tcp>gw-unix>svc", "client-tcp-tls-h2>gw-unix>svc".
func (s Scenario) layout() string {
	tiers := s.tiers()
	if tiers == nil {
		return "?"
	}
	var b strings.Builder
	for i, h := range s.Topology.Hops {
		if i+1 >= len(tiers) {
			break
		}
		fmt.Fprintf(&b, "%s-%s>", tiers[i], h.Wire())
	}
	b.WriteString(tiers[len(tiers)-1])
	return b.String()
}

// Wire names how the hop carries HTTP, as layouts print it: the socket
// kind, then "-tls" for TLS, then "-h2" for HTTP/2 over TLS or "-h2c" for
// HTTP/2 in the clear; HTTP/1.1 adds nothing. E.g. "tcp", "unix-tls",
// "tcp-tls-h2", "tcp-h2c".
func (h Hop) Wire() string {
	w := string(h.Network)
	if w == "" {
		w = string(TCP)
	}
	if h.TLS {
		w += "-tls"
	}
	if h.Protocol == HTTP2 {
		if h.TLS {
			w += "-h2"
		} else {
			w += "-h2c"
		}
	}
	return w
}

// faults renders where each hop's faults sit, by the tier they wrap, in
// their canonical text: "svc listener: buffered-shutdown; client dialer:
// slow-read=4KiB/1ms". "" when the scenario injects nothing.
func (s Scenario) faults() string {
	tiers := s.tiers()
	var parts []string
	for i, h := range s.Topology.Hops {
		if i+1 >= len(tiers) {
			break
		}
		if !h.ServerFaults.IsZero() {
			parts = append(parts, tiers[i+1]+" listener: "+h.ServerFaults.String())
		}
		if !h.ClientFaults.IsZero() {
			parts = append(parts, tiers[i]+" dialer: "+h.ClientFaults.String())
		}
		if !h.StreamFaults.IsZero() {
			parts = append(parts, tiers[i+1]+" streams: "+h.StreamFaults.String())
		}
	}
	return strings.Join(parts, "; ")
}

// Limits on sizes a scenario may ask for, so a typo cannot exhaust the
// machine.
const (
	MaxConcurrency = 1024
	MaxWeight      = 1_000_000 // weights are summed; the bound keeps the sum far from overflowing
	MaxUpload      = 1 << 30
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// FieldError is a validation error naming where the problem is: the file
// (when loaded from one), the scenario, the field path in the file's
// spelling (e.g. topology.hops[1].server_faults), what was wrong and what
// is accepted.
type FieldError struct {
	File     string // "" for Go values
	Scenario string
	Path     string
	Problem  string
	Accepted string // "" when there is no short list
	Err      error  // the underlying error, if any (e.g. from transport.ParseFaults)
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	if e.Scenario != "" {
		fmt.Fprintf(&b, "scenario %q: ", e.Scenario)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Problem)
	if e.Accepted != "" {
		b.WriteString(" (accepted: " + e.Accepted + ")")
	}
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// Validate checks every field and returns the first problem as a
// *[FieldError]. Faults arrive typed (transport.Faults: already parsed);
// [Compile] calls it, and nothing after Compile does.
func (s Scenario) Validate() error {
	ferr := func(path, problem, accepted string) error {
		return &FieldError{Scenario: s.Name, Path: path, Problem: problem, Accepted: accepted}
	}
	if s.Target != nil && !s.TargetOnly {
		return ferr("target", "a target recipe belongs to a target-only scenario", "target_only: true with target")
	}
	if s.Target != nil && !nameRE.MatchString(s.Target.Server) {
		return ferr("target.server", fmt.Sprintf("invalid server name %q", s.Target.Server), "a name the runner knows, e.g. hyper-stock")
	}
	if s.TargetOnly && s.Quick {
		return ferr("quick", "a target-only scenario cannot be in the quick catalog (it needs an external server)", "quick: false with target_only: true")
	}
	if !nameRE.MatchString(s.Name) {
		return ferr("name", fmt.Sprintf("invalid name %q", s.Name), "1-64 lowercase letters, digits and dashes, starting with a letter or digit")
	}
	if s.Origin != "" && !nameRE.MatchString(s.Origin) {
		return ferr("origin", fmt.Sprintf("invalid origin name %q", s.Origin), "imagesvc, bodies, or another name the runner knows")
	}
	mode := s.Topology.Mode
	if mode == "" {
		mode = Direct
	}
	if mode.HopCount() == 0 {
		return ferr("topology.mode", fmt.Sprintf("unknown mode %q", s.Topology.Mode), "direct, gateway, nested")
	}
	switch s.Topology.Gateway {
	case "":
	case Proxy, Naive:
		if mode == Direct {
			return ferr("topology.gateway", "a gateway kind needs mode gateway or nested", "empty for direct")
		}
	default:
		return ferr("topology.gateway", fmt.Sprintf("unknown gateway kind %q", s.Topology.Gateway), "proxy, naive")
	}
	if n := len(s.Topology.Hops); n != 0 && n != mode.HopCount() {
		return ferr("topology.hops", fmt.Sprintf("%d hops for mode %s", n, mode),
			fmt.Sprintf("none (all tcp, no faults) or exactly %d, client first", mode.HopCount()))
	}
	for i, h := range s.Topology.Hops {
		p := fmt.Sprintf("topology.hops[%d]", i)
		switch h.Network {
		case "", TCP, Unix:
		default:
			return ferr(p+".network", fmt.Sprintf("unknown network %q", h.Network), "tcp, unix")
		}
		switch h.Protocol {
		case "", HTTP1, HTTP2:
		default:
			return ferr(p+".protocol", fmt.Sprintf("unknown protocol %q", h.Protocol), "http/1.1, h2 (HTTP/2: by ALPN with tls: true, else h2c with prior knowledge)")
		}
		if !h.StreamFaults.IsZero() && h.Protocol != HTTP2 {
			return ferr(p+".stream_faults", "stream faults act on HTTP/2 streams, and this hop speaks http/1.1", "protocol: h2 on this hop")
		}
		if !h.StreamFaults.IsZero() && s.TargetOnly {
			return ferr(p+".stream_faults", "stream faults act inside a server the harness runs, and a target-only scenario runs against a server of its own",
				"no stream_faults in a target-only scenario")
		}
	}
	if len(s.Workload.Requests) == 0 {
		return ferr("workload", "no requests", "at least one request with a path")
	}
	for i, r := range s.Workload.Requests {
		p := fmt.Sprintf("workload[%d]", i)
		switch r.Method {
		case "", http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut:
		default:
			return ferr(p+".method", fmt.Sprintf("unsupported method %q", r.Method), "GET, HEAD, POST, PUT")
		}
		if !strings.HasPrefix(r.Path, "/") || strings.HasPrefix(r.Path, "//") {
			return ferr(p+".path", fmt.Sprintf("path %q does not start with a single /", r.Path), "a path and query such as /images/photo-4mp?format=tiff")
		}
		if _, err := url.ParseRequestURI(r.Path); err != nil {
			return ferr(p+".path", fmt.Sprintf("path %q does not parse: %v", r.Path, err), "a path and query such as /images/photo-4mp?format=tiff")
		}
		if r.Weight < 0 || r.Weight > MaxWeight {
			return ferr(p+".weight", fmt.Sprintf("weight %d out of range", r.Weight), fmt.Sprintf("0 (=> 1) to %d", MaxWeight))
		}
		if r.Upload < 0 || r.Upload > MaxUpload {
			return ferr(p+".upload", fmt.Sprintf("upload size %d out of range", r.Upload), "0 to 1GiB")
		}
		if (r.Upload > 0 || r.UploadFile != "") && r.Method == http.MethodHead {
			return ferr(p+".upload", "a HEAD request carries no upload", "method: GET, POST or PUT")
		}
		if r.Upload > 0 && r.UploadFile != "" {
			return ferr(p+".upload", "both a size and a file", "one of them: a size such as 4MiB, or @file")
		}
		for name := range r.Headers {
			if err := checkHeader(name, r.Headers[name]); err != nil {
				return ferr(p+".headers."+name, err.Error(), "any header but Host, Content-Length, Transfer-Encoding, Connection, Expect, X-Request-Id (set by the harness)")
			}
		}
		if err := r.Want.validate(); err != nil {
			return &FieldError{Scenario: s.Name, Path: p + ".want." + err.Path, Problem: err.Problem, Accepted: err.Accepted}
		}
		if r.Expect100 && r.Upload == 0 && r.UploadFile == "" {
			return ferr(p+".expect_100", "Expect: 100-continue needs an upload", "upload > 0 or @file")
		}
	}
	if s.Concurrency < 0 || s.Concurrency > MaxConcurrency {
		return ferr("concurrency", fmt.Sprintf("concurrency %d out of range", s.Concurrency), fmt.Sprintf("0 (=> %d) to %d", DefaultConcurrency, MaxConcurrency))
	}
	if s.Count < 0 {
		return ferr("count", fmt.Sprintf("negative count %d", s.Count), ">= 0")
	}
	if s.Duration < 0 {
		return ferr("duration", fmt.Sprintf("negative duration %s", s.Duration), ">= 0")
	}
	if s.Count == 0 && s.Duration == 0 {
		return ferr("count", "neither count nor duration is set: the run would never end", "count > 0 and/or duration > 0")
	}
	if s.StallTimeout < 0 {
		return ferr("stall_timeout", fmt.Sprintf("negative stall timeout %s", s.StallTimeout), ">= 0 (0 => 10s)")
	}
	if s.Restarts.Every < 0 {
		return ferr("restarts.every", fmt.Sprintf("negative interval %s", s.Restarts.Every), ">= 0 (0 => no restarts)")
	}
	if s.Restarts.Grace < 0 {
		return ferr("restarts.grace", fmt.Sprintf("negative grace %s", s.Restarts.Grace), ">= 0 (0 => 5s)")
	}
	if s.Verify.ReferenceFetches < 0 || s.Verify.ReferenceFetches > MaxReferenceFetches {
		return ferr("verify.reference_fetches", fmt.Sprintf("%d reference fetches", s.Verify.ReferenceFetches), fmt.Sprintf("0 (=> 3) to %d", MaxReferenceFetches))
	}
	if err := s.Expect.Validate(); err != nil {
		if p, ok := err.(*results.FieldProblem); ok {
			return &FieldError{Scenario: s.Name, Path: "expect." + p.Path, Problem: p.Problem, Accepted: p.Accepted}
		}
		return &FieldError{Scenario: s.Name, Path: "expect", Problem: err.Error(), Err: err}
	}
	return nil
}

// MaxReferenceFetches bounds Verify.ReferenceFetches.
const MaxReferenceFetches = 16

// checkHeader refuses what the harness sets itself or what would change
// the framing under test.
func checkHeader(name, value string) error {
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Expect", "X-Request-Id", "Te", "Upgrade", "Trailer":
		return fmt.Errorf("header %q is set by the harness or changes the framing under test", name)
	}
	if name == "" || strings.ContainsAny(name, " :\r\n") {
		return fmt.Errorf("bad header name %q", name)
	}
	if strings.ContainsAny(value, "\r\n") {
		return fmt.Errorf("header %q: value has a line break", name)
	}
	return nil
}

func (w *Want) validate() *results.FieldProblem {
	if w == nil {
		return nil
	}
	if w.Length != nil && *w.Length < 0 {
		return &results.FieldProblem{Path: "length", Problem: fmt.Sprintf("negative length %d", *w.Length), Accepted: ">= 0 bytes"}
	}
	for _, d := range w.Digest {
		if !digest.Supported(d.Algorithm) {
			return &results.FieldProblem{Path: "digest", Problem: fmt.Sprintf("algorithm %q cannot be computed", d.Algorithm), Accepted: digest.SupportedNames()}
		}
	}
	if w.ReferenceURL != "" {
		u, err := url.Parse(w.ReferenceURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &results.FieldProblem{Path: "reference_url", Problem: fmt.Sprintf("%q is not an http(s) URL", w.ReferenceURL), Accepted: "http://127.0.0.1:PORT/path of a known-good copy"}
		}
	}
	if w.ReferenceURL != "" && w.ReferenceFile != "" {
		return &results.FieldProblem{Path: "reference_file", Problem: "both a reference URL and a reference file", Accepted: "one of them"}
	}
	return nil
}
