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
	"strings"
	"sync"
	"syscall"
	"time"

	"truncheck/results"
	"truncheck/scenarios"
	"truncheck/transport"
)

// Target is an external server the scenarios run against (`truncheck
// check`): one we did not write, in any language. The scenario must be
// direct; its hop 0 client faults apply to the harness's connections (the
// target decides its own socket kind: URL's scheme). Server-side faults
// cannot be injected into a process we do not own and are refused (put a
// `truncheck proxy` in front instead).
type Target struct {
	// URL is "http://127.0.0.1:PORT" (loopback) or "unix:/path/to.sock".
	URL string
	// Exec, when set, is the command that runs the server: the harness
	// starts it, waits until it answers, restarts it during the run (SIGTERM,
	// wait for exit, start again) and stops it at the end.
	Exec []string
	Dir  string   // working directory for Exec; "" => the current one
	Env  []string // extra environment for Exec ("K=V")
	// RestartEvery restarts the Exec'd process this often; 0 => the
	// scenario's Restarts.Every (0 there too => never).
	RestartEvery time.Duration
	// StartTimeout bounds the wait until the server answers; 0 => 20s.
	StartTimeout time.Duration
	// StopTimeout is how long a SIGTERM'd process may take to exit before
	// it is killed; 0 => the scenario's Restarts.Grace, else 10s.
	StopTimeout time.Duration
	// ReadyPath is requested until the server answers (any status); "" => "/".
	ReadyPath string
	// AccountPath, when set, is where the server publishes its account of
	// a request: "{id}" is replaced by the request id, e.g.
	// "/accounts/{id}". The body is a JSON object with at least
	// "complete" (bool) and "bytes_written" (number); "write_error",
	// "status", "content_length" and "conn_id" are read when present.
	// Without it, silence cannot be established and is never claimed.
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

func (t *Target) hops(s scenarios.Scenario) string {
	n, _, _ := t.network()
	if n == "" {
		n = "?"
	}
	if len(s.Topology.Hops) > 0 && s.Topology.Hops[0].ServerFaults != "" {
		return "client-" + n + ">proxy-" + n + ">target"
	}
	return "client-" + n + ">target"
}

// remote is the env of a Target.
type remote struct {
	t       *Target
	s       scenarios.Scenario
	network string
	addr    string
	cl      *http.Client
	cldial  dialFunc
	cleanCl *http.Client
	clDial0 dialFunc
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

func startTarget(ctx context.Context, t *Target, s scenarios.Scenario, record int, logf func(string, ...any)) (env, error) {
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
	r.cleanCl = &http.Client{Transport: newTransport(r.clDial0, 4, false), Timeout: time.Minute}
	if len(t.Exec) > 0 {
		if err := r.start(ctx); err != nil {
			r.close()
			return nil, err
		}
	} else if err := r.waitReady(ctx, 2*time.Second); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *remote) client() *http.Client { return r.cl }
func (r *remote) dial() dialFunc       { return r.cldial }
func (r *remote) baseURL() string      { return "http://target" }
func (r *remote) clean() (*http.Client, dialFunc, string) {
	return r.cleanCl, r.clDial0, "http://target"
}

func (r *remote) start(ctx context.Context) error {
	cmd := exec.Command(r.t.Exec[0], r.t.Exec[1:]...)
	cmd.Dir = r.t.Dir
	if len(r.t.Env) > 0 {
		cmd.Env = append(cmd.Environ(), r.t.Env...)
	}
	cmd.Stdout, cmd.Stderr = r.t.Stdout, r.t.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("target: start %q: %w", strings.Join(r.t.Exec, " "), err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	r.mu.Lock()
	r.proc = p
	r.mu.Unlock()
	wait := r.t.StartTimeout
	if wait <= 0 {
		wait = 20 * time.Second
	}
	if err := r.waitReady(ctx, wait, p); err != nil {
		return err
	}
	return nil
}

// waitReady polls ReadyPath until the server answers with any status.
func (r *remote) waitReady(ctx context.Context, wait time.Duration, p ...*process) error {
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
		if len(p) > 0 {
			select {
			case <-p[0].done:
				return fmt.Errorf("target: %q exited before answering: %v", strings.Join(r.t.Exec, " "), p[0].err)
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

func (r *remote) stopTimeout() time.Duration {
	switch {
	case r.t.StopTimeout > 0:
		return r.t.StopTimeout
	case r.s.Restarts.Grace > 0:
		return r.s.Restarts.Grace
	}
	return 10 * time.Second
}

// stop sends SIGTERM and waits; after the stop timeout, SIGKILL.
func (r *remote) stop() error {
	r.mu.Lock()
	p := r.proc
	r.proc = nil
	r.mu.Unlock()
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
	err := r.stop()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(err, r.start(ctx))
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

// fetchAccount reads one account; finished is false while the server
// says the response is still being written (a "finished" field that is
// empty), true otherwise.
func (r *remote) fetchAccount(ctx context.Context, path string) (*results.Account, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://target"+path, nil)
	if err != nil {
		return nil, false
	}
	resp, err := r.cleanCl.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false
	}
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&raw); err != nil {
		return nil, false
	}
	get := func(dst any, names ...string) bool {
		for k, v := range raw {
			norm := strings.ToLower(strings.ReplaceAll(k, "_", ""))
			for _, n := range names {
				if norm == n && json.Unmarshal(v, dst) == nil {
					return true
				}
			}
		}
		return false
	}
	acc := &results.Account{}
	if !get(&acc.Complete, "complete") {
		return nil, false
	}
	get(&acc.BytesWritten, "byteswritten")
	get(&acc.WriteError, "writeerror")
	get(&acc.Status, "status")
	get(&acc.ContentLength, "contentlength")
	get(&acc.ConnID, "connid")
	// imagesvc's shape: "started" always, "finished" once the handler returned.
	var fin, started string
	finished := !get(&started, "started")
	if get(&fin, "finished") {
		finished = fin != "" && !strings.HasPrefix(fin, "0001-01-01")
	}
	return acc, finished
}

func (r *remote) close() error {
	err := r.stop()
	if r.cl != nil {
		r.cl.CloseIdleConnections()
		r.cleanCl.CloseIdleConnections()
	}
	if r.proxy != nil {
		err = errors.Join(err, r.proxy.Close())
	}
	if r.dir != "" {
		err = errors.Join(err, os.RemoveAll(r.dir))
	}
	return err
}
