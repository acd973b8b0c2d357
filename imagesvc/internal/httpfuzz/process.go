package httpfuzz

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a service running as a child process (for instance `truncheck
// serve`), so that its own RSS and CPU time can be read from /proc, apart
// from the load generator's.
type Process struct {
	Target Target
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	stderr bytes.Buffer
}

// StartProcess runs bin with args (it must listen on target) and returns
// once the service answers GET /images, within startTimeout.
func StartProcess(ctx context.Context, target Target, startTimeout time.Duration, bin string, args ...string) (*Process, error) {
	if err := target.Validate(); err != nil {
		return nil, err
	}
	p := &Process{Target: target, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout = io.Discard
	p.cmd.Stderr = &p.stderr
	p.cmd.Env = append(os.Environ(), "VIPS_WARNING=0")
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("httpfuzz: starting %s: %w", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	c := target.client(2 * time.Second)
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(startTimeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://imagesvc/images", nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("httpfuzz: %s exited before answering: %v: %s", bin, p.err, p.stderr.String())
		case <-ctx.Done():
			p.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("httpfuzz: %s did not answer on %s within %v", bin, target, startTimeout)
		}
	}
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop asks the child to shut down (SIGTERM), kills it after 15s, and waits.
func (p *Process) Stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return errors.New("httpfuzz: the service did not stop within 15s of SIGTERM; killed")
	}
	return nil
}

// Sample is one reading of a process's memory and CPU time.
type Sample struct {
	At  time.Time
	RSS int64         // resident bytes (VmRSS)
	HWM int64         // peak resident bytes so far (VmHWM)
	CPU time.Duration // user + system time so far
}

// ReadSample reads /proc/PID/status and /proc/PID/stat.
func ReadSample(pid int) (Sample, error) {
	s := Sample{At: time.Now()}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			s.RSS = kb << 10
		case "VmHWM":
			s.HWM = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// the command name may contain spaces: fields start after its ')'
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("httpfuzz: /proc/%d/stat: no ')'", pid)
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 13 {
		return s, fmt.Errorf("httpfuzz: /proc/%d/stat: %d fields", pid, len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("httpfuzz: /proc/%d/stat: utime %q stime %q", pid, fields[11], fields[12])
	}
	const ticks = 100 // USER_HZ on Linux
	s.CPU = time.Duration(utime+stime) * time.Second / ticks
	return s, nil
}

// Slope fits RSS = a + b·t by least squares over samples and returns b in
// bytes per minute.
func Slope(samples []Sample) float64 {
	if len(samples) < 2 {
		return 0
	}
	t0 := samples[0].At
	var n, sx, sy, sxx, sxy float64
	for _, s := range samples {
		x := s.At.Sub(t0).Minutes()
		y := float64(s.RSS)
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}
