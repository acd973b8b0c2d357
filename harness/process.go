package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process supervision of a Target with Exec: start it, wait until it
// answers, restart it like a deploy (with Overlap, the new process first),
// stop it (SIGTERM, then SIGKILL after the stop timeout).

// process is one run of the Target's command.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when Wait returned
	err  error
}

// start runs Exec and waits until it answers ReadyPath (after taken
// reports true, when given); a process that does not is stopped.
func (r *external) start(ctx context.Context, taken func() bool) (*process, error) {
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
	if err := r.waitReady(ctx, r.startTimeout(), p, taken); err != nil {
		return nil, errors.Join(err, r.stopProc(p))
	}
	return p, nil
}

// waitReady polls ReadyPath until the server answers with any status. With
// p, it gives up when p exits; with taken, it polls only once taken
// reports that p holds the address (until then the old process answers).
func (r *external) waitReady(ctx context.Context, wait time.Duration, p *process, taken func() bool) error {
	path := r.t.ReadyPath
	if path == "" {
		path = "/"
	}
	deadline := time.Now().Add(wait)
	c := &http.Client{Transport: hopTransport(plainDial(r.network, r.addr), r.w, 1, true), Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	var last error
	for {
		if taken != nil && !taken() {
			last = fmt.Errorf("the new process has not taken %s %s yet", r.network, r.addr)
		} else {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
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
func (r *external) addressTaken() func() bool {
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

// startTimeout bounds the wait for a started or reloaded server to answer.
func (r *external) startTimeout() time.Duration {
	if r.t.StartTimeout > 0 {
		return r.t.StartTimeout
	}
	return 20 * time.Second
}

func (r *external) stopTimeout() time.Duration {
	switch {
	case r.t.StopTimeout > 0:
		return r.t.StopTimeout
	case r.s.Restarts.Grace > 0:
		return r.s.Restarts.Grace
	}
	return 10 * time.Second
}

// reload reloads the server in place (Target.Reload) and waits until it
// answers again.
func (r *external) reload(ctx context.Context) error {
	rl := r.t.Reload
	switch {
	case rl.IsZero():
		return errors.New("target: reloads need Target.Reload (a signal, a command or a function)")
	case rl.Func != nil:
		if err := rl.Func(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // the run is over
			}
			return fmt.Errorf("target: reload: %w", err)
		}
	case rl.Signal != 0:
		r.mu.Lock()
		p := r.proc
		r.mu.Unlock()
		if p == nil {
			return fmt.Errorf("target: reload by %s needs a process the harness started (Exec)", rl.Signal)
		}
		if err := p.cmd.Process.Signal(rl.Signal); err != nil {
			return fmt.Errorf("target: reload: %w", err)
		}
	default:
		cctx, cancel := context.WithTimeout(ctx, r.stopTimeout())
		defer cancel()
		cmd := exec.CommandContext(cctx, rl.Command[0], rl.Command[1:]...)
		cmd.Dir = r.t.Dir
		cmd.Stdout, cmd.Stderr = r.t.Stdout, r.t.Stderr
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return nil // the run is over
			}
			return fmt.Errorf("target: reload %q: %w", strings.Join(rl.Command, " "), err)
		}
	}
	if err := r.waitReady(ctx, r.startTimeout(), nil, nil); err != nil && ctx.Err() == nil {
		return fmt.Errorf("target: after reload: %w", err)
	}
	return nil
}

// stop stops the current process.
func (r *external) stop() error {
	r.mu.Lock()
	p := r.proc
	r.proc = nil
	r.mu.Unlock()
	return r.stopProc(p)
}

// stopProc sends SIGTERM and waits; after the stop timeout, SIGKILL.
func (r *external) stopProc(p *process) error {
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

func (r *external) restart(ctx context.Context, _ time.Duration) error {
	if r.s.Restarts.Reload {
		return r.reload(ctx)
	}
	if r.t.Restart != nil {
		if err := r.t.Restart(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // the run is over
			}
			return fmt.Errorf("target: restart: %w", err)
		}
		if err := r.waitReady(ctx, r.startTimeout(), nil, nil); err != nil && ctx.Err() == nil {
			return fmt.Errorf("target: after restart: %w", err)
		}
		return nil
	}
	if len(r.t.Exec) == 0 {
		return errors.New("target: restarts need Exec (or Target.Restart)")
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
