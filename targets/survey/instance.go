package survey

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Logs are the files an instance writes; all of them outlive the process,
// so they can be read as evidence after Stop.
type Logs struct {
	Access []string // access logs, one line per request
	Error  []string // error logs
	Stdout string   // the process's standard output and error
	Stderr string
}

// Instance is one running server, started by Start. Its methods are safe
// for concurrent use; Stop must be called.
type Instance struct {
	// Server is the recipe it was started from.
	Server Server
	// Config is the configuration with its defaults filled in.
	Config Config

	p *plan

	mu      sync.Mutex
	main    *proc
	side    []*proc
	stopped bool
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once Wait returned
	err  error
}

// Start configures s under cfg.Dir and runs it in the foreground as a child
// process (its own process group) until it answers, bounded by
// cfg.StartTimeout. A server that does not answer is stopped, and the error
// carries the end of its output.
func Start(ctx context.Context, s Server, cfg Config) (*Instance, error) {
	if s.prepare == nil {
		return nil, fmt.Errorf("server %q: not a recipe from Servers()", s.Name)
	}
	c, err := cfg.normalize(s)
	if err != nil {
		return nil, err
	}
	if !s.Installed() {
		return nil, fmt.Errorf("%s: %s: %w (packages: %s; run Install or apt-get install them)", s.Name, s.Binary, ErrNotInstalled, strings.Join(s.Packages, " "))
	}
	if c.Network == "tcp" && c.Port == 0 {
		if c.Port, err = freePort(); err != nil {
			return nil, fmt.Errorf("%s: free port: %w", s.Name, err)
		}
	}
	p := newPlan(s, c)
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	if err := writeBodies(p.Docroot, c.Files); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	if p.TLS {
		if err := writeCert(p.Cert, p.Key); err != nil {
			return nil, fmt.Errorf("%s: certificate: %w", s.Name, err)
		}
	}
	if err := s.prepare(p); err != nil {
		return nil, fmt.Errorf("%s: configure: %w", s.Name, err)
	}
	if err := p.chown(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	in := &Instance{Server: s, Config: c, p: p}
	if err := in.launch(ctx); err != nil {
		return nil, err
	}
	return in, nil
}

// Network is "tcp" or "unix".
func (in *Instance) Network() string { return in.Config.Network }

// Addr is "127.0.0.1:PORT" or the socket path.
func (in *Instance) Addr() string { return in.p.Listen() }

// URL is the instance in the harness's target form: "http://127.0.0.1:PORT",
// "https://127.0.0.1:PORT" with H2, or "unix:/path/to.sock".
func (in *Instance) URL() string {
	if in.p.Socket != "" {
		return "unix:" + in.p.Socket
	}
	return in.scheme() + "://" + in.p.Listen()
}

func (in *Instance) scheme() string {
	if in.p.TLS {
		return "https"
	}
	return "http"
}

// URLFor is the URL of path for an http.Client from [Instance.Client]:
// with a Unix socket the host is a placeholder, the client dials the socket.
func (in *Instance) URLFor(path string) string {
	if in.p.Socket != "" {
		return "http://localhost" + path
	}
	return in.scheme() + "://" + in.p.Listen() + path
}

// UpstreamPath is the path on this instance that forwards to path on
// Config.Upstream: path itself on a pure proxy, UpstreamPrefix+path on a
// file server that proxies; "" without an upstream.
func (in *Instance) UpstreamPath(path string) string {
	switch {
	case in.Config.Upstream == "":
		return ""
	case in.Server.Proxy:
		return path
	}
	return UpstreamPrefix + path
}

// CertFile is the PEM certificate an H2 instance serves (self-signed for
// 127.0.0.1, ::1 and localhost: trust it as its own CA); "" in the clear.
func (in *Instance) CertFile() string {
	if !in.p.TLS {
		return ""
	}
	return in.p.Cert
}

// Early reports whether POST EarlyPath is configured on this instance.
func (in *Instance) Early() bool { return in.p.early }

// Dial connects to the instance whatever the network; it fits
// http.Transport.DialContext (the network and address asked for are ignored).
func (in *Instance) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, in.Config.Network, in.p.Listen())
}

// Client returns an http.Client for this instance's protocol: it dials
// the instance (TCP or Unix), trusts its certificate with H2 and speaks
// HTTP/2 with prior knowledge with H2C. timeout 0 means none.
func (in *Instance) Client(timeout time.Duration) (*http.Client, error) {
	switch {
	case in.p.H2C:
		t := &http.Transport{DialContext: in.Dial, Protocols: new(http.Protocols)}
		t.Protocols.SetUnencryptedHTTP2(true)
		return &http.Client{Timeout: timeout, Transport: t}, nil
	case in.p.TLS:
		pem, err := os.ReadFile(in.p.Cert)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		return &http.Client{Timeout: timeout, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}}, ForceAttemptHTTP2: true,
		}}, nil
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: in.Dial}}, nil
}

// Pid is the server's main process id; 0 when it is not running
// (stopped, or exited by itself).
func (in *Instance) Pid() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.main == nil {
		return 0
	}
	select {
	case <-in.main.done:
		return 0
	default:
		return in.main.cmd.Process.Pid
	}
}

// Logs are the instance's log files.
func (in *Instance) Logs() Logs { return in.p.logs }

// Reload reloads the server by its own mechanism ([Server.Reload]) and
// waits until it answers again. Transfers in flight are left to the
// server: whether they finish is what the survey observes.
func (in *Instance) Reload(ctx context.Context) error {
	if in.p.reload == nil {
		return fmt.Errorf("%s: %w (restart it instead)", in.Server.Name, ErrNoReload)
	}
	if in.Pid() == 0 {
		return fmt.Errorf("%s: reload: not running", in.Server.Name)
	}
	if err := in.p.reload(ctx, in); err != nil {
		return fmt.Errorf("%s: reload: %w", in.Server.Name, err)
	}
	in.mu.Lock()
	main := in.main
	in.mu.Unlock()
	return in.waitReady(ctx, main)
}

// Restart stops the server (gracefully, as Stop) and starts it again
// with the same configuration and address.
func (in *Instance) Restart(ctx context.Context) error {
	err := in.stopAll(ctx)
	in.mu.Lock()
	stopped := in.stopped
	in.mu.Unlock()
	if stopped {
		return fmt.Errorf("%s: restart after Stop", in.Server.Name)
	}
	if err := in.launch(ctx); err != nil {
		return errors.Join(err, in.stopAll(ctx))
	}
	return err
}

// Stop stops the server by its graceful stop ([Server.Stop]); after
// Config.StopTimeout its whole process group is killed. It returns an
// error when the server had to be killed or left processes behind (they
// are killed too). Later calls do nothing.
func (in *Instance) Stop(ctx context.Context) error {
	in.mu.Lock()
	in.stopped = true
	in.mu.Unlock()
	return in.stopAll(ctx)
}

func (in *Instance) stopAll(ctx context.Context) error {
	in.mu.Lock()
	main, side := in.main, in.side
	in.main, in.side = nil, nil
	in.mu.Unlock()
	if len(side) > 0 && main != nil {
		// A log reader (varnishncsa) reads the server's shared memory a
		// little behind; once the server is gone the rest is lost.
		time.Sleep(300 * time.Millisecond)
	}
	err := in.stopProc(ctx, main, in.p.stop)
	for _, sp := range side {
		err = errors.Join(err, in.stopProc(ctx, sp, syscall.SIGTERM))
	}
	return err
}

// stopProc signals p, waits, then kills its process group and anything
// left in it.
func (in *Instance) stopProc(ctx context.Context, p *proc, sig syscall.Signal) error {
	if p == nil {
		return nil
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(pid, sig)
	var err error
	t := time.NewTimer(in.Config.StopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		err = fmt.Errorf("%s: pid %d did not exit within %s of %s; killed", in.Server.Name, pid, in.Config.StopTimeout, sig)
	case <-ctx.Done():
		err = fmt.Errorf("%s: stop of pid %d: %w; killed", in.Server.Name, pid, ctx.Err())
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-p.done
	if left := killGroup(pid); len(left) > 0 {
		err = errors.Join(err, fmt.Errorf("%s: processes %v of group %d outlived the server; killed", in.Server.Name, left, pid))
	}
	return err
}

// killGroup kills what is left of process group pgid (members that are
// not zombies) and waits, bounded, until none is; it returns who was
// there. Helpers that end on their own once the server is gone (h2o's
// backtrace annotator reads the worker's stderr until EOF) get a second.
func killGroup(pgid int) []int {
	left := groupMembers(pgid)
	for i := 0; i < 50 && len(left) > 0; i++ {
		time.Sleep(20 * time.Millisecond)
		left = groupMembers(pgid)
	}
	if len(left) == 0 {
		return nil
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	for i := 0; i < 100 && len(groupMembers(pgid)) > 0; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	return left
}

// groupMembers lists the live (not zombie) processes of group pgid, from /proc.
func groupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// launch starts the main process, waits until it answers, then starts the sidecars.
func (in *Instance) launch(ctx context.Context) error {
	p, err := in.spawn(in.p.argv)
	if err != nil {
		return err
	}
	in.mu.Lock()
	stopped := in.stopped
	in.main = p
	in.mu.Unlock()
	if stopped { // Stop came while Restart was on its way
		return errors.Join(fmt.Errorf("%s: stopped during a restart", in.Server.Name), in.stopAll(ctx))
	}
	if err := in.waitReady(ctx, p); err != nil {
		return errors.Join(err, in.stopAll(ctx))
	}
	for _, argv := range in.p.sidecars {
		sp, err := in.spawn(argv)
		if err != nil {
			return errors.Join(err, in.stopAll(ctx))
		}
		in.mu.Lock()
		in.side = append(in.side, sp)
		in.mu.Unlock()
	}
	return nil
}

func (in *Instance) spawn(argv []string) (*proc, error) {
	open := func(path string) (*os.File, error) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		// Start at the end too: a server that sets its stdout non-blocking
		// with fcntl(F_SETFL) clears O_APPEND with it (haproxy logging to
		// stdout does), and would then write over the file from offset 0,
		// the lines of earlier runs and restarts with it.
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	stdout, err := open(in.p.logs.Stdout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Server.Name, err)
	}
	defer stdout.Close()
	stderr, err := open(in.p.logs.Stderr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Server.Name, err)
	}
	defer stderr.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = in.p.Dir
	cmd.Env = append(os.Environ(), in.p.env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", in.Server.Name, strings.Join(argv, " "), err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls GET / until the server answers with any status, p
// exits, or Config.StartTimeout passes.
func (in *Instance) waitReady(ctx context.Context, p *proc) error {
	c, err := in.Client(2 * time.Second)
	if err != nil {
		return fmt.Errorf("%s: %w", in.Server.Name, err)
	}
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(in.Config.StartTimeout)
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.URLFor("/"), nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if in.p.settled == nil {
				return nil
			}
			if err = in.p.settled(); err == nil {
				return nil
			}
		}
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("%s: exited before answering (%v)%s", in.Server.Name, p.err, in.tail())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: did not answer on %s within %s: %v%s", in.Server.Name, in.URL(), in.Config.StartTimeout, last, in.tail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for it to answer: %w", in.Server.Name, ctx.Err())
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tail is the end of the server's stderr and error log, for start errors.
func (in *Instance) tail() string {
	var b strings.Builder
	for _, f := range append([]string{in.p.logs.Stderr, in.p.logs.Stdout}, in.p.logs.Error...) {
		data, err := os.ReadFile(f)
		if err != nil || len(strings.TrimSpace(string(data))) == 0 {
			continue
		}
		if len(data) > 1500 {
			data = data[len(data)-1500:]
		}
		fmt.Fprintf(&b, "\n--- %s:\n%s", f, strings.TrimSpace(string(data)))
	}
	return b.String()
}
