package survey

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/truncheck/truncheck/scenarios"

	"github.com/truncheck/truncheck/harness"
)

// Runner keeps the right server running for each cell of a plan, in the
// plan's order: it starts a server from its package under Dir when its
// first cell comes, starts it again with its send timeouts set for the
// send-timeout cells, stops it when the next server's cells begin, and
// hands each cell a harness.Target whose restarts, reloads and accounts
// are the server's own (Instance.Restart, Instance.Reload, its access
// log). The caller runs the scenario (so records go where its other runs
// go) and calls Close at the end:
//
//	for each cell:  t, err := r.Target(ctx, cell)   // starts/stops servers as needed
//	                err != nil: the cell does not run (RowProblem says why, for the table)
//	                harness.RunScenario(ctx, cell.Scenario, Options{Target: t})
//	r.Close(ctx)                                    // stops the last server
//
// A Runner is used by one goroutine.
type Runner struct {
	// Dir is where the servers' configurations, files and logs go (see
	// Config.Dir); Upstream the origin proxies forward to (StartUpstream).
	Dir      string
	Upstream string
	// StartTimeout and StopTimeout bound a server's start and graceful
	// stop (Config); 0 => Config's (20s and 10s). A graceful stop given
	// less than 10s is cut by us, not by the server: Go's Shutdown alone
	// waits up to 5s for a connection that has not sent its request yet.
	StartTimeout, StopTimeout time.Duration
	// Logf, when set, gets a line per server started, stopped or failed.
	Logf func(format string, args ...any)

	cur          *Instance
	curKey       string
	errorsBefore int              // error-log lines already there when cur started
	problems     map[string]error // row (server, protocol) -> why it could not run
	notes        []string
	// actions counts each cell's restarts or reloads and their failures.
	actions     map[string]*actionCount
	actionOrder []string
	mu          sync.Mutex
}

// Target makes sure the cell's server runs in the cell's configuration
// and returns the target to run the cell's scenario against. An error
// means the cell cannot run: the server's package is missing or it would
// not start (RowProblem keeps the first such error per row, and later
// cells of that row fail fast with it; a server whose TLS instance would
// not start keeps its HTTP/1.1 row).
func (r *Runner) Target(ctx context.Context, c Cell) (*harness.Target, error) {
	row := rowName(c.Server, c.Protocol)
	if err := r.problem(row); err != nil {
		return nil, err
	}
	key := c.Server.Name + "/" + string(c.Protocol) + "/" + c.Condition.Config
	if r.cur != nil && r.curKey == key && r.cur.Pid() == 0 {
		r.note(fmt.Sprintf("%s: the server was not running when %s began (it exited by itself, or its last restart failed); started again", c.Server.Name, c.Name()))
		r.stopCurrent(ctx)
	}
	if r.cur == nil || r.curKey != key {
		r.stopCurrent(ctx)
		cfg := Config{Dir: r.Dir, Network: "tcp", Protocol: c.Protocol, Files: Sizes(),
			StartTimeout: r.StartTimeout, StopTimeout: r.StopTimeout}
		if c.Server.CanProxy() {
			cfg.Upstream = r.Upstream
		}
		if c.Condition.Config == ConfigSendTimeout {
			cfg.SendTimeout = SendTimeout
		}
		in, err := Start(ctx, c.Server, cfg)
		if err != nil {
			if ctx.Err() == nil {
				r.setProblem(row, err)
			}
			return nil, err
		}
		r.cur, r.curKey = in, key
		r.errorsBefore = 0
		if ev, err := in.Evidence(); err == nil {
			r.errorsBefore = len(ev.Errors) // the logs of earlier instances of the server
		}
		r.logf("survey: %s started at %s (%s)", c.Server.Name, in.URL(), orDefault(c.Condition.Config))
	}
	in := r.cur
	t := &harness.Target{
		URL:          in.URL(),
		ReadyPath:    "/",
		Accounts:     in.Accounts(),
		AccountWait:  c.Server.AccountWait(),
		Restart:      r.whole(in, c.Name(), "restart", in.Restart),
		StartTimeout: 20 * time.Second,
	}
	if c.Server.Reload != "" {
		t.Reload = harness.Reload{Func: r.whole(in, c.Name(), "reload", in.Reload)}
	}
	switch c.Protocol {
	case H2C:
		t.Protocol = scenarios.HTTP2 // prior knowledge over http://
	case H2:
		// https:// and ALPN h2, the instance's own certificate trusted.
		t.Protocol = scenarios.HTTP2
		t.TLS = &harness.TargetTLS{CAFile: in.CertFile()}
	}
	return t, nil
}

// whole runs a restart or reload to its end even when the scenario ends
// during it (the harness cancels its context then): one cut short would
// leave the server stopped, or half reloaded, for the next cell. It is
// bounded by the server's own start and stop bounds. A failure (a stop
// that needed a kill, a reload command that failed) is kept for the
// notes: it explains the cell.
func (r *Runner) whole(in *Instance, cell, what string, f func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.Config.StartTimeout+in.Config.StopTimeout+10*time.Second)
		defer cancel()
		err := f(ctx)
		r.count(cell+": "+what, err)
		return err
	}
}

// count keeps how many restarts or reloads of a cell there were and the
// first error among them.
func (r *Runner) count(key string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.actions == nil {
		r.actions = map[string]*actionCount{}
	}
	a := r.actions[key]
	if a == nil {
		a = &actionCount{}
		r.actions[key] = a
		r.actionOrder = append(r.actionOrder, key)
	}
	a.n++
	if err != nil {
		a.failed++
		if a.first == "" {
			a.first = firstLine(err.Error())
		}
	}
}

type actionCount struct {
	n, failed int
	first     string
}

func orDefault(s string) string {
	if s == "" {
		return "configuration as shipped"
	}
	return s
}

// Close stops the server that runs, if any.
func (r *Runner) Close(ctx context.Context) {
	r.stopCurrent(ctx)
}

// stopCurrent stops the running server and keeps what its logs say it
// knew of cuts (its error log: timeouts, resets, "prematurely closed").
func (r *Runner) stopCurrent(ctx context.Context) {
	in := r.cur
	if in == nil {
		return
	}
	r.cur, r.curKey = nil, ""
	// A stop must happen even after an interrupt: a fresh bound of its own.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*in.Config.StopTimeout+5*time.Second)
	defer cancel()
	if err := in.Stop(sctx); err != nil {
		r.note(fmt.Sprintf("%s: stop: %v", in.Server.Name, firstLine(err.Error())))
	}
	r.logf("survey: %s stopped", in.Server.Name)
	ev, err := in.Evidence()
	if err != nil {
		r.note(fmt.Sprintf("%s: reading its logs: %v", in.Server.Name, err))
	}
	if n := len(ev.Errors) - r.errorsBefore; n > 0 {
		r.note(fmt.Sprintf("%s (%s): %d lines of its error log and output match its recipe's pattern for trouble (timeouts, resets, premature closes, error levels; not every one is about a response), e.g. %s",
			in.Server.Name, orDefault(in.Config.sendTimeoutName()), n, clip(ev.Errors[r.errorsBefore].Line, 200)))
	}
}

func (c Config) sendTimeoutName() string {
	if c.SendTimeout > 0 {
		return ConfigSendTimeout
	}
	return ""
}

// RowProblem is why a row's server could not run (its package, its
// start), or nil. row is the table's row name: the server's name, and its
// protocol for an HTTP/2 row ("nginx h2").
func (r *Runner) RowProblem(row string) error { return r.problem(row) }

// Notes are what the runner saw beside the verdicts: servers that exited
// by themselves, stops that needed a kill, restarts and reloads that
// failed, error-log lines that show a server knew it cut a response.
func (r *Runner) Notes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.notes)
	for _, k := range r.actionOrder {
		if a := r.actions[k]; a.failed > 0 {
			out = append(out, fmt.Sprintf("%s: %d of %d failed, e.g. %s", k, a.failed, a.n, clip(a.first, 200)))
		}
	}
	return out
}

func (r *Runner) problem(row string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.problems[row]
}

func (r *Runner) setProblem(row string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.problems == nil {
		r.problems = map[string]error{}
	}
	if r.problems[row] == nil {
		r.problems[row] = err
	}
}

func (r *Runner) note(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, s)
}

func (r *Runner) logf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
