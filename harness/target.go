package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

// Target is an external server the scenarios run against (`truncheck
// check`): one we did not write, in any language. The scenario must be
// direct; its hop 0 client faults apply to the harness's connections (the
// target decides its own socket kind, TLS and protocol: the URL's scheme
// and Protocol; the hop's own settings for them are not used). Server-side
// faults cannot be injected into a process we do not own: the harness
// puts a transport.Proxy in front of the target and applies them there
// (beneath TLS: the proxy relays the ciphertext); HTTP/2 stream faults
// need a server the harness runs and are refused.
type Target struct {
	// URL is "http://127.0.0.1:PORT", "https://127.0.0.1:PORT" (loopback,
	// unless AllowRemote) or "unix:/path/to.sock".
	URL string
	// TLS tunes an https:// target's TLS: roots, a client certificate, or
	// an explicit insecure switch; nil => the system's roots.
	TLS *TargetTLS
	// Protocol is the HTTP version to speak: "" => for https:// what the
	// server picks by ALPN (h2 when it offers it), HTTP/1.1 otherwise;
	// scenarios.HTTP2 => HTTP/2 (by ALPN over https://, which the server
	// must accept; h2c with prior knowledge over http:// and unix:);
	// scenarios.HTTP1 => HTTP/1.1 only.
	Protocol scenarios.Protocol
	// AllowRemote lets URL name a host that is not loopback. The harness is
	// a load generator: aiming it at another machine is a decision to make
	// explicitly.
	AllowRemote bool
	// Exec, when set, is the command that runs the server: the harness
	// starts it, waits until it answers, restarts it during the run (SIGTERM,
	// wait for exit, start again; see Overlap) and stops it at the end.
	Exec []string
	Dir  string   // working directory for Exec; "" => the current one
	Env  []string // extra environment for Exec ("K=V")
	// Overlap makes a restart a zero-downtime deploy: the new process starts
	// while the old one still serves; once the new one has taken the
	// address (Unix: the socket path names a new socket; TCP on Linux: one
	// more listening socket on the port) and answers ReadyPath, the old one
	// gets SIGTERM and is waited for. Without it there is a moment with no
	// server: dials refused then are retried, but connections the old
	// process had queued but not accepted are reset. It needs a server that
	// can listen while the old one still runs: SO_REUSEPORT on a fixed TCP
	// port (the hyper target's --reuse-port), or one that replaces the
	// Unix socket file (the hyper target's --unix). With any other, the new
	// process fails to start, the restart reports it and the old one goes
	// on serving. On TCP, connections still queued on the old process's
	// listener when it closes are reset unless the kernel migrates them
	// (Linux >= 5.14, sysctl net.ipv4.tcp_migrate_req=1).
	Overlap bool
	// RestartEvery restarts the Exec'd process this often; 0 => the
	// scenario's Restarts.Every (0 there too => never).
	RestartEvery time.Duration
	// Reload is how the server reloads its configuration in place, for
	// scenarios whose restarts are reloads (scenarios.Restarts.Reload):
	// nginx, Apache and HAProxy reload rather than restart, and a reload
	// can cut responses in flight the way a restart does.
	Reload Reload
	// StartTimeout bounds the wait until the server answers; 0 => 20s for
	// an Exec'd server, 2s for one already running.
	StartTimeout time.Duration
	// StopTimeout is how long a SIGTERM'd process may take to exit before
	// it is killed; 0 => the scenario's Restarts.Grace, else 10s.
	StopTimeout time.Duration
	// ReadyPath is requested until the server answers (any status); "" => "/".
	ReadyPath string
	// AccountPath, when set, is where the server publishes its account of
	// a request: "{id}" is replaced by the request id, e.g.
	// "/accounts/{id}?wait=2s". The answer follows the account protocol
	// (package harness/account documents it; its Store implements it for
	// any Go handler). Without it, silence cannot be established and is
	// never claimed: it is shown as unknown.
	AccountPath string
	// Accounts, when set, reads the server's account of a request from
	// somewhere other than the server itself, such as its access log (see
	// [AccountSource]): a real server publishes no account, but its log
	// says what it believed it sent. At most one of AccountPath and
	// Accounts.
	Accounts AccountSource
	// AccountWait is how long the harness waits for the account of a
	// failed response; 0 => 2s. A server that writes its log lines in
	// batches (lighttpd flushes every four seconds) needs longer.
	AccountWait time.Duration
	// Restart, when set, restarts a server the caller supervises (its
	// own stop and start, e.g. a packaged server's) for scenarios whose
	// restarts are not reloads, instead of the harness's SIGTERM and start
	// of Exec; the harness then waits until it answers ReadyPath. It
	// cannot be combined with Exec.
	Restart func(ctx context.Context) error
	// Stdout and Stderr receive the process's output; nil => discarded.
	Stdout, Stderr io.Writer
}

// Reload is a server's own way to reload: a signal to the process the
// harness started (SIGHUP for nginx and Apache's graceful restart,
// SIGUSR2 for HAProxy's master), a command that does it (`nginx -s
// reload`, `apachectl graceful`), which works on a server the harness did
// not start, or a function of the caller's (several commands, an admin
// API). Give one. After any of them, the harness waits until the server
// answers ReadyPath again.
type Reload struct {
	Signal  syscall.Signal
	Command []string
	Func    func(ctx context.Context) error
}

// IsZero reports whether no reload is set.
func (r Reload) IsZero() bool { return r.Signal == 0 && len(r.Command) == 0 && r.Func == nil }

// ways counts the ways of reloading that are set.
func (r Reload) ways() int {
	n := 0
	for _, set := range []bool{r.Signal != 0, len(r.Command) > 0, r.Func != nil} {
		if set {
			n++
		}
	}
	return n
}

// AccountSource reads a server's account of one request from somewhere
// other than the server's own account endpoint, typically its access log.
// The harness calls it once the client has seen a failed response end,
// with the request's X-Request-Id, and calls it again every 20ms, for up
// to two seconds in all, while it returns no account or one not Finished:
// a server writes its log line when it is done, often a little after the
// client saw the end. Still no account then leaves silence unknown, never
// zero; an error ends the wait the same way (the harness logs it).
//
// The account then goes where an AccountPath account goes: into the
// record, and into the one rule that decides silence (an account that says
// complete makes a cut the client saw end cleanly silent; one that says
// the server wrote less, or failed, makes it noticed). Log evidence is not
// a second judge: it is one more way to fetch the account.
type AccountSource func(ctx context.Context, requestID string) (*results.Account, error)

// external is the system under test of a Target: a server running on
// its own, maybe started and restarted by the harness.
type external struct {
	t       *Target
	s       scenarios.Scenario
	network string
	addr    string
	base    string // scheme://host[:port] of request URLs
	w       wire
	cl      *http.Client
	cldial  dialFunc
	cleanCl *http.Client
	clDial0 dialFunc
	acctCl  *http.Client
	logf    func(string, ...any)

	proxy *transport.Proxy // server-side faults, when the scenario has them
	dir   string           // the proxy's socket directory

	mu   sync.Mutex
	proc *process
}

func startTarget(ctx context.Context, t *Target, s scenarios.Scenario, record int, logf func(string, ...any)) (systemUnderTest, error) {
	if s.Topology.Mode != scenarios.Direct {
		return nil, fmt.Errorf("target: scenario topology %s (accepted: direct, the target is the one server)", s.Topology.Mode)
	}
	if !s.Topology.Hops[0].StreamFaults.IsZero() {
		return nil, errors.New("target: HTTP/2 stream faults act inside a server the harness runs (accepted: no stream_faults against a target)")
	}
	tu, err := t.parse()
	if err != nil {
		return nil, err
	}
	switch {
	case t.AccountPath != "" && t.Accounts != nil:
		return nil, errors.New("target: AccountPath and Accounts both set (accepted: one source of accounts)")
	case t.Restart != nil && len(t.Exec) > 0:
		return nil, errors.New("target: Restart and Exec both set (accepted: the harness restarts what it started, or the caller's Restart does)")
	case t.Reload.ways() > 1:
		return nil, errors.New("target: Reload has more than one of Signal, Command and Func (accepted: one way to reload)")
	}
	f := s.Topology.Hops[0].ClientFaults
	r := &external{t: t, s: s, network: tu.network, addr: tu.addr, base: tu.base, logf: logf}
	// Server-side faults: a proxy in front of the target.
	cnet, caddr := tu.network, tu.addr
	if sf := s.Topology.Hops[0].ServerFaults; !sf.IsZero() {
		cfg := transport.ProxyConfig{ListenNetwork: "tcp", ListenAddr: "127.0.0.1:0", UpstreamNetwork: tu.network, UpstreamAddr: tu.addr,
			ToClient: sf, Seed: s.Seed, Record: record, Name: "proxy"}
		if tu.network == "unix" {
			if r.dir, err = os.MkdirTemp("", "tc"); err != nil {
				return nil, err
			}
			cfg.ListenNetwork, cfg.ListenAddr = "unix", filepath.Join(r.dir, "proxy.sock")
		}
		if r.proxy, err = transport.NewProxy(cfg); err == nil {
			err = r.proxy.Start()
		}
		if err != nil {
			r.proxy = nil
			r.close()
			return nil, fmt.Errorf("target: fault proxy: %w", err)
		}
		cnet, caddr = r.proxy.Addr().Network(), r.proxy.Addr().String()
	}
	// Which protocol a TLS server speaks is known only once it answers: an
	// exec'd server is started (and polled over HTTP/1.1, or the protocol
	// asked for) before the one handshake that decides.
	exec := len(t.Exec) > 0
	if exec {
		r.w, err = t.readinessWire(tu)
	} else {
		r.w, err = t.wire(ctx, tu)
	}
	if err != nil {
		r.close()
		return nil, err
	}
	if exec {
		p, err := r.start(ctx, nil)
		if err != nil {
			r.close()
			return nil, err
		}
		r.proc = p
		if r.w, err = t.wire(ctx, tu); err != nil {
			r.close()
			return nil, err
		}
	} else {
		wait := 2 * time.Second
		if t.StartTimeout > 0 {
			wait = t.StartTimeout
		}
		if err := r.waitReady(ctx, wait, nil, nil); err != nil {
			r.close()
			return nil, err
		}
	}
	r.clients(tu, f, cnet, caddr, record)
	return r, nil
}

// clients makes the target's clients over its wire: the faulty one for
// the scenario's requests (to the proxy, when there is one), the clean one
// for references, the one for accounts.
func (r *external) clients(tu targetURL, f transport.Faults, cnet, caddr string, record int) {
	s := r.s
	r.cldial = hopDialer(transport.Options{Faults: f, Seed: s.Seed, Record: record, Name: "client"}, cnet, caddr)
	r.cl = &http.Client{Transport: hopTransport(r.cldial, r.w, s.Concurrency, s.Client.ConnectionClose)}
	ref := hopDialer(transport.Options{Name: "ref"}, tu.network, tu.addr)
	r.clDial0 = ref
	if cfg := r.w.tls; cfg != nil {
		// Expect: 100-continue uploads take the harness's own client over these dials.
		raw := r.cldial
		r.cldial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialTLS(ctx, raw, network, addr, cfg)
		}
		r.clDial0 = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialTLS(ctx, ref, network, addr, cfg)
		}
	}
	r.cleanCl = &http.Client{Transport: hopTransport(ref, r.w, 4, true)}
	r.acctCl = &http.Client{Transport: hopTransport(hopDialer(transport.Options{Name: "acct"}, tu.network, tu.addr), r.w, 4, false), Timeout: time.Minute}
}

func (r *external) client() *http.Client { return r.cl }
func (r *external) dial() dialFunc       { return r.cldial }
func (r *external) baseURL() string      { return r.base }

// clean is the target itself without faults, a fresh connection per fetch:
// its answers are the suspect's own, so agreeing fetches are consistency.
func (r *external) clean() cleanPath {
	return cleanPath{client: r.cleanCl, dial: r.clDial0, base: r.base}
}

func (r *external) layout(string) string {
	wire := r.w.hop(r.network).Wire()
	if r.proxy != nil {
		return "client-" + wire + ">proxy-" + wire + ">target"
	}
	return "client-" + wire + ">target"
}

func (r *external) notes() []string {
	if r.proxy == nil {
		return nil
	}
	return []string{"server faults run in a transport proxy the harness put in front of the target (" + r.proxy.Addr().String() +
		"): it adds a second pair of kernel socket buffers between client and server, which can hide or change the cut under test; " +
		"cuts it injects are attributed to it, not to the target"}
}

// cutBy: the client's own faults, then the proxy's, found by the client's
// address. Both are outside the target: its account cannot see them.
func (r *external) cutBy(conn net.Conn, _ string, _ *results.Account) (string, string, bool) {
	if conn == nil {
		return "", "", false
	}
	if f, ok := transport.Fired(conn); ok {
		return f, "hop0-client", false
	}
	if r.proxy != nil {
		if rep, ok := r.proxy.ConnFrom(transport.PeerKey(conn)); ok && rep.Fired != "" {
			return rep.Fired, "proxy", false
		}
	}
	return "", "", false
}

func (r *external) close() error {
	err := r.stop()
	for _, c := range []*http.Client{r.cl, r.cleanCl, r.acctCl} {
		if c != nil {
			c.CloseIdleConnections()
		}
	}
	if r.proxy != nil {
		err = errors.Join(err, r.proxy.Close())
	}
	if r.dir != "" {
		err = errors.Join(err, os.RemoveAll(r.dir))
	}
	return err
}
