package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
// target decides its own socket kind: URL's scheme). Server-side faults
// cannot be injected into a process we do not own: the harness puts a
// transport.Proxy in front of the target and applies them there.
type Target struct {
	// URL is "http://127.0.0.1:PORT" (loopback) or "unix:/path/to.sock".
	URL string
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
	// Stdout and Stderr receive the process's output; nil => discarded.
	Stdout, Stderr io.Writer
}

func (t *Target) network() (network, addr string, err error) {
	if p, ok := strings.CutPrefix(t.URL, "unix:"); ok {
		if p == "" {
			return "", "", fmt.Errorf("target %q: empty socket path (accepted: unix:/path/to.sock)", t.URL)
		}
		return "unix", p, nil
	}
	u, err := url.Parse(t.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", "", fmt.Errorf("target %q: not a base URL (accepted: http://127.0.0.1:PORT or unix:/path/to.sock)", t.URL)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", "", fmt.Errorf("target %q: host %q is not loopback (accepted: 127.0.0.1, ::1, localhost)", t.URL, host)
	}
	if u.Port() == "" {
		return "tcp", net.JoinHostPort(host, "80"), nil
	}
	return "tcp", u.Host, nil
}

// remote is the system under test of a Target.
type remote struct {
	t       *Target
	s       scenarios.Scenario
	network string
	addr    string
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

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when Wait returned
	err  error
}

func startTarget(ctx context.Context, t *Target, s scenarios.Scenario, record int, logf func(string, ...any)) (systemUnderTest, error) {
	if s.Topology.Mode != scenarios.Direct {
		return nil, fmt.Errorf("target: scenario topology %s (accepted: direct, the target is the one server)", s.Topology.Mode)
	}
	network, addr, err := t.network()
	if err != nil {
		return nil, err
	}
	f, err := transport.ParseFaults(s.Topology.Hops[0].ClientFaults)
	if err != nil {
		return nil, err
	}
	r := &remote{t: t, s: s, network: network, addr: addr, logf: logf}
	// Server-side faults: a proxy in front of the target.
	cnet, caddr := network, addr
	if spec := s.Topology.Hops[0].ServerFaults; spec != "" {
		sf, err := transport.ParseFaults(spec)
		if err != nil {
			return nil, err
		}
		cfg := transport.ProxyConfig{ListenNetwork: "tcp", ListenAddr: "127.0.0.1:0", UpstreamNetwork: network, UpstreamAddr: addr,
			ToClient: sf, Seed: s.Seed, Record: record, Name: "proxy"}
		if network == "unix" {
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
	r.cldial = hopDialer(transport.Options{Faults: f, Seed: s.Seed, Record: record, Name: "client"}, cnet, caddr)
	r.cl = &http.Client{Transport: newTransport(r.cldial, s.Concurrency, s.Service.ConnectionClose)}
	r.clDial0 = hopDialer(transport.Options{Name: "ref"}, network, addr)
	r.cleanCl = &http.Client{Transport: newTransport(r.clDial0, 4, true)}
	r.acctCl = &http.Client{Transport: newTransport(hopDialer(transport.Options{Name: "acct"}, network, addr), 4, false), Timeout: time.Minute}
	if len(t.Exec) > 0 {
		p, err := r.start(ctx, nil)
		if err != nil {
			r.close()
			return nil, err
		}
		r.proc = p
		return r, nil
	}
	wait := 2 * time.Second
	if t.StartTimeout > 0 {
		wait = t.StartTimeout
	}
	if err := r.waitReady(ctx, wait, nil, nil); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *remote) client() *http.Client { return r.cl }
func (r *remote) dial() dialFunc       { return r.cldial }
func (r *remote) baseURL() string      { return "http://target" }

// clean is the target itself without faults, a fresh connection per fetch:
// its answers are the suspect's own, so agreeing fetches are consistency.
func (r *remote) clean() cleanPath {
	return cleanPath{client: r.cleanCl, dial: r.clDial0, base: "http://target"}
}

func (r *remote) layout() string {
	if r.proxy != nil {
		return "client-" + r.network + ">proxy-" + r.network + ">target"
	}
	return "client-" + r.network + ">target"
}

func (r *remote) notes() []string {
	if r.proxy == nil {
		return nil
	}
	return []string{"server faults run in a transport proxy the harness put in front of the target (" + r.proxy.Addr().String() +
		"): it adds a second pair of kernel socket buffers between client and server, which can hide or change the cut under test; " +
		"cuts it injects are attributed to it, not to the target"}
}

// cutBy: the client's own faults, then the proxy's, found by the client's
// address. Both are outside the target: its account cannot see them.
func (r *remote) cutBy(conn net.Conn, _ *results.Account) (string, string, bool) {
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

// start runs Exec and waits until it answers ReadyPath (after taken
// reports true, when given); a process that does not is stopped.
func (r *remote) start(ctx context.Context, taken func() bool) (*process, error) {
	cmd := exec.Command(r.t.Exec[0], r.t.Exec[1:]...)
	cmd.Dir = r.t.Dir
	if len(r.t.Env) > 0 {
		cmd.Env = append(cmd.Environ(), r.t.Env...)
	}
	cmd.Stdout, cmd.Stderr = r.t.Stdout, r.t.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("target: start %q: %w", strings.Join(r.t.Exec, " "), err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	wait := r.t.StartTimeout
	if wait <= 0 {
		wait = 20 * time.Second
	}
	if err := r.waitReady(ctx, wait, p, taken); err != nil {
		return nil, errors.Join(err, r.stopProc(p))
	}
	return p, nil
}

// waitReady polls ReadyPath until the server answers with any status. With
// p, it gives up when p exits; with taken, it polls only once taken
// reports that p holds the address (until then the old process answers).
func (r *remote) waitReady(ctx context.Context, wait time.Duration, p *process, taken func() bool) error {
	path := r.t.ReadyPath
	if path == "" {
		path = "/"
	}
	deadline := time.Now().Add(wait)
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{Timeout: time.Second}).DialContext(ctx, r.network, r.addr)
	}, DisableKeepAlives: true}, Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	var last error
	for {
		if taken != nil && !taken() {
			last = fmt.Errorf("the new process has not taken %s %s yet", r.network, r.addr)
		} else {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://target"+path, nil)
			if err != nil {
				return fmt.Errorf("target: ready path %q: %w", path, err)
			}
			resp, err := c.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				return nil
			}
			last = err
		}
		if p != nil {
			select {
			case <-p.done:
				return fmt.Errorf("target: %q exited before answering: %v", strings.Join(r.t.Exec, " "), p.err)
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("target %s did not answer within %s: %w", r.t.URL, wait, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// addressTaken returns a check that reports whether a listener other than
// the ones there now holds the target's address: for Unix, the socket path
// names a different file; for TCP, /proc/net/tcp{,6} (Linux) lists more
// listening sockets on the port. Where that cannot be read it reports
// true: ReadyPath alone decides.
func (r *remote) addressTaken() func() bool {
	if r.network == "unix" {
		before, _ := os.Stat(r.addr)
		return func() bool {
			now, err := os.Stat(r.addr)
			return err == nil && (before == nil || !os.SameFile(before, now))
		}
	}
	_, port, _ := net.SplitHostPort(r.addr)
	before := tcpListeners(port)
	if before < 0 {
		return func() bool { return true }
	}
	return func() bool { return tcpListeners(port) > before }
}

// tcpListeners counts the listening TCP sockets on port in /proc/net/tcp
// and /proc/net/tcp6 (every SO_REUSEPORT socket is a line of its own);
// -1 when neither can be read.
func tcpListeners(port string) int {
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return -1
	}
	want := fmt.Sprintf(":%04X", p)
	n, read := 0, false
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		read = true
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st ...; st 0A is LISTEN.
			fields := strings.Fields(line)
			if len(fields) > 3 && strings.HasSuffix(fields[1], want) && fields[3] == "0A" {
				n++
			}
		}
	}
	if !read {
		return -1
	}
	return n
}

func (r *remote) stopTimeout() time.Duration {
	switch {
	case r.t.StopTimeout > 0:
		return r.t.StopTimeout
	case r.s.Restarts.Grace > 0:
		return r.s.Restarts.Grace
	}
	return 10 * time.Second
}

// stop stops the current process.
func (r *remote) stop() error {
	r.mu.Lock()
	p := r.proc
	r.proc = nil
	r.mu.Unlock()
	return r.stopProc(p)
}

// stopProc sends SIGTERM and waits; after the stop timeout, SIGKILL.
func (r *remote) stopProc(p *process) error {
	if p == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(r.stopTimeout()):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("target: %q did not exit within %s of SIGTERM; killed", strings.Join(r.t.Exec, " "), r.stopTimeout())
	}
}

func (r *remote) restart(ctx context.Context, _ time.Duration) error {
	if len(r.t.Exec) == 0 {
		return errors.New("target: restarts need Exec")
	}
	if r.t.Overlap {
		// The new process first; the old one serves until the new one has
		// the address and answers, and keeps serving if it never does.
		p, err := r.start(ctx, r.addressTaken())
		if err != nil {
			if ctx.Err() != nil {
				return nil // the run is over; teardown stops the old one
			}
			return err
		}
		r.mu.Lock()
		old := r.proc
		r.proc = p
		r.mu.Unlock()
		return r.stopProc(old)
	}
	err := r.stop()
	if ctx.Err() != nil {
		return nil
	}
	p, serr := r.start(ctx, nil)
	if serr == nil {
		r.mu.Lock()
		r.proc = p
		r.mu.Unlock()
	}
	return errors.Join(err, serr)
}

func (r *remote) account(ctx context.Context, id string, wait time.Duration) (*results.Account, []results.Event) {
	if r.t.AccountPath == "" || id == "" {
		return nil, nil
	}
	path := strings.ReplaceAll(r.t.AccountPath, "{id}", url.PathEscape(id))
	deadline := time.Now().Add(wait)
	for {
		acc, finished := r.fetchAccount(ctx, path)
		if (acc != nil && finished) || time.Now().After(deadline) || ctx.Err() != nil {
			return acc, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fetchAccount reads one account in the account protocol's JSON (package
// harness/account); finished is false while the server says the response
// is still being written.
func (r *remote) fetchAccount(ctx context.Context, path string) (*results.Account, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://target"+path, nil)
	if err != nil {
		return nil, false
	}
	resp, err := r.acctCl.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false
	}
	var acc results.Account
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&acc); err != nil || acc.RequestID == "" {
		return nil, false
	}
	return &acc, acc.Finished
}

func (r *remote) close() error {
	err := r.stop()
	if r.cl != nil {
		r.cl.CloseIdleConnections()
		r.cleanCl.CloseIdleConnections()
		r.acctCl.CloseIdleConnections()
	}
	if r.proxy != nil {
		err = errors.Join(err, r.proxy.Close())
	}
	if r.dir != "" {
		err = errors.Join(err, os.RemoveAll(r.dir))
	}
	return err
}
