package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/truncheck/truncheck/harness"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

// session is one invocation's results directory (run, check, soak,
// realworld): a plan (run.json) written before the first request, records
// appended to records.jsonl as requests finish, the reports written at the
// end. It only wires harness to results; the deciding is theirs.
type session struct {
	kind    string
	dir     string
	run     string
	started time.Time
	w       *results.Writer
	origins *originSet
	reports []harness.Report
	planned []scenarios.Compiled
	meter   *meter
	stopped bool                   // SIGINT or SIGTERM ended the run: exit 130 once all is written
	target  *results.PlannedTarget // check's server, kept in the plan
	grid    *results.Grid          // survey's table, kept in the plan and the summary
	stamp   stamp                  // the shard of a run split across processes (zero: a whole run)
	set     string                 // the fingerprint of the whole run's scenarios, the same in every shard
	stderr  io.Writer
	verbose bool
}

// startSession opens the results directory of a `kind` invocation: out, or
// out/<kind>-<timestamp> when out is "". The files of an earlier run there
// are removed first, so a run killed before its end never leaves another
// run's summary looking current; the plan (every scenario with its
// expectation and seed) is written before the first request, so the
// records alone can be judged after a kill.
func startSession(kind, out string, planned []scenarios.Compiled, stderr io.Writer, verbose bool) (*session, error) {
	return startPart(kind, out, stamp{}, planned, planned, stderr, verbose)
}

// startPart is startSession for one part of a run: st names the run and
// the shard (its directory is out/shard-K-of-N), all is the whole run's
// scenario set, whose fingerprint every shard's plan carries, and planned
// the scenarios this part runs.
func startPart(kind, out string, st stamp, all, planned []scenarios.Compiled, stderr io.Writer, verbose bool) (*session, error) {
	start := time.Now()
	run := st.run
	if run == "" {
		run = runID(kind, start)
	}
	out = st.dir(out, run)
	if err := results.PrepareDir(out); err != nil {
		return nil, envError{fmt.Errorf("--out %s: %w", out, err)}
	}
	width := 0
	for _, c := range planned {
		width = max(width, len(c.Name()))
	}
	s := &session{kind: kind, dir: out, run: run, started: start, stderr: stderr, verbose: verbose, origins: newOriginSet(), stamp: st,
		meter: newMeter(stderr, len(planned), width)}
	ps := make([]results.PlannedScenario, len(all))
	for i, c := range all {
		ps[i] = plannedScenario(c)
	}
	s.set = results.Fingerprint(ps)
	if err := s.replan(planned); err != nil {
		return nil, err
	}
	w, err := results.NewWriter(filepath.Join(out, results.RecordsFile), results.WriterConfig{})
	if err != nil {
		return nil, envError{fmt.Errorf("--out %s: %w", out, err)}
	}
	s.w = w
	return s, nil
}

// replan writes the plan: the session's scenarios with their expectations
// (and the external target, once check has set it).
func (s *session) replan(planned []scenarios.Compiled) error {
	s.planned = planned
	plan := &results.Plan{Run: s.run, Version: version(), Created: s.started.UTC(), Command: s.kind, Target: s.target,
		Shard: s.stamp.shard, ScenarioSet: s.set, Grid: s.grid.Clone()}
	for _, sc := range planned {
		plan.Scenarios = append(plan.Scenarios, plannedScenario(sc))
	}
	if err := results.WritePlan(s.dir, plan); err != nil {
		return envError{fmt.Errorf("--out %s: %w", s.dir, err)}
	}
	return nil
}

// plannedScenario is what the plan keeps of a scenario: its expectation
// and seed for judging, and the compiled scenario itself for a replay.
func plannedScenario(c scenarios.Compiled) results.PlannedScenario {
	spec, _ := json.Marshal(c) // plain data: it always marshals
	s := c.Scenario()
	return results.PlannedScenario{Name: s.Name, Expectation: s.Expect.Clone(), Seed: s.Seed, Layout: c.Layout(), Faults: c.Faults(), Spec: spec}
}

// runAll runs each scenario of list with run, under a context that SIGINT
// and SIGTERM cancel. An interrupt stops the loop and keeps the scenarios
// not reached as not run (finish still writes everything, and the run
// fails); any other error closes the session and is returned.
func (s *session) runAll(list []scenarios.Compiled, run func(ctx context.Context, i int, sc scenarios.Compiled) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s.meter.start(0, 20*time.Second)
	defer s.meter.end()
	for i, sc := range list {
		if ctx.Err() != nil { // the signal came between two scenarios
			s.meter.end()
			s.interrupted(list[i:])
			s.stopped = true
			return nil
		}
		if err := run(ctx, i, sc); err != nil {
			if ctx.Err() != nil {
				s.meter.end()
				fmt.Fprintf(s.stderr, "truncheck %s: interrupted during %s; writing what was run\n", s.kind, sc.Name())
				s.interrupted(list[i+1:])
				s.stopped = true
				return nil
			}
			s.close()
			return err
		}
	}
	return nil
}

// options are the harness options every scenario of the session shares.
func (s *session) options() harness.Options {
	o := harness.Options{Writer: s.w, Run: s.run, Shard: s.stamp.shard}
	if s.verbose {
		o.Logf = func(format string, args ...any) { fmt.Fprintf(s.stderr, format+"\n", args...) }
	}
	return o
}

// runOne runs one scenario and keeps its report. A scenario that could not
// start at all (no summary: a bad scenario, a target that never answered)
// is returned as the error; one that started and was cut short (ctx ended)
// is kept with a failing finding, and the error returned too.
func (s *session) runOne(ctx context.Context, sc scenarios.Compiled, opts harness.Options) (harness.Report, error) {
	s.meter.begin(sc.Name(), sc.Scenario().Expect)
	if on := opts.OnRecord; on != nil {
		opts.OnRecord = func(r *results.Record) { s.meter.add(r); on(r) }
	} else {
		opts.OnRecord = s.meter.add
	}
	if opts.Target == nil && opts.Origin == nil {
		o, err := s.origins.get(sc.Scenario().Origin)
		if err != nil {
			return harness.Report{}, err
		}
		opts.Origin = o
	}
	rep, err := harness.RunScenario(ctx, sc, opts)
	if err != nil && rep.Summary == nil {
		if ctx.Err() != nil {
			// Interrupted before it could start: it still counts, as not met,
			// so an interrupted gate can never pass on the scenarios it ran.
			s.notRun(sc, fmt.Sprintf("interrupted before it started: %v", err))
		}
		return rep, err
	}
	if err != nil {
		rep.Findings = append(rep.Findings, results.Finding{Scenario: sc.Name(), Check: results.CheckInterrupted, Fail: true,
			Message: fmt.Sprintf("run cut short after %d requests: %v", rep.Summary.Requests, err)})
		rep.Judge()
	}
	s.reports = append(s.reports, rep)
	s.meter.finished(&rep.ScenarioResult, rep.Wall)
	return rep, err
}

// notRun keeps a scenario the session planned but did not run (the run was
// interrupted) as not met, so the table, JUnit and the exit code show it.
func (s *session) notRun(c scenarios.Compiled, reason string) {
	sc := c.Scenario()
	var rep harness.Report
	rep.Scenario, rep.Seed, rep.Layout = sc.Name, sc.Seed, c.Layout()
	rep.Expectation = sc.Expect.Clone()
	rep.Summary = results.NewSummary(sc.Name)
	rep.Findings = []results.Finding{{Scenario: sc.Name, Check: results.CheckInterrupted, Fail: true, Message: reason}}
	rep.Judge()
	s.reports = append(s.reports, rep)
}

// interrupted keeps every scenario of rest as not run.
func (s *session) interrupted(rest []scenarios.Compiled) {
	for _, sc := range rest {
		s.notRun(sc, "not run: the run was interrupted")
	}
}

// result is the run as results judges it, from the session's reports.
func (s *session) result() *results.RunResult {
	srs := make([]results.ScenarioResult, len(s.reports))
	for i, r := range s.reports {
		srs[i] = r.ScenarioResult
	}
	rr := results.NewRunResult(s.run, srs)
	rr.Version = version()
	rr.Grid = s.grid.Clone()
	return rr
}

// finish closes the records file, gates the run when gate is set, writes
// summary, JUnit and HTML, and prints the table, the details of every
// scenario that did not meet its expectation and the report paths. A
// table that cannot be printed is an error (exit 3), never a silent 0.
func (s *session) finish(stdout io.Writer, rr *results.RunResult, gate func(*results.RunResult)) error {
	werr := s.w.Close()
	s.origins.close()
	rr.Shard = s.stamp.shard // the summary says which part of the run it judges
	if gate != nil {
		gate(rr)
	}
	rr.Created = time.Now().UTC()
	if err := results.WriteReports(s.dir, rr); err != nil {
		return envError{fmt.Errorf("writing reports: %w", err)}
	}
	if werr != nil {
		return envError{fmt.Errorf("writing records: %w", werr)}
	}
	if err := printRun(stdout, rr, s.dir, s.w.Count()); err != nil {
		return err
	}
	if _, err := io.WriteString(stdout, shardNote(s.stamp, s.dir)); err != nil {
		return envError{fmt.Errorf("writing the table: %w", err)}
	}
	return nil
}

// printRun prints the table, the failing scenarios' details and where the
// files are.
func printRun(stdout io.Writer, rr *results.RunResult, dir string, records int64) error {
	err := results.WriteText(stdout, rr)
	if err == nil {
		err = results.WriteDetails(stdout, rr, 3)
	}
	if err == nil && dir != "" {
		_, err = fmt.Fprintf(stdout, "\nrecords: %s (%d)\nreport:  %s\njunit:   %s\n",
			filepath.Join(dir, results.RecordsFile), records,
			filepath.Join(dir, results.HTMLFile), filepath.Join(dir, results.JUnitFile))
	}
	if err != nil {
		return envError{fmt.Errorf("writing the table: %w", err)}
	}
	return nil
}

// setTarget records check's external server in the plan.
func (s *session) setTarget(t *harness.Target) error {
	s.target = &results.PlannedTarget{URL: t.URL, Exec: t.Exec, RestartEvery: t.RestartEvery,
		Overlap: t.Overlap, ReadyPath: t.ReadyPath, AccountPath: t.AccountPath,
		Protocol: string(t.Protocol), AllowRemote: t.AllowRemote, TLS: plannedTLS(t.TLS)}
	return s.replan(s.planned)
}

// close releases the records file and the origins; finish calls it too.
func (s *session) close() {
	_ = s.w.Close()
	s.origins.close()
}

// isTerminal says whether w is a terminal (progress bars, start notes).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// runID names a run after its start time, like its default directory.
func runID(kind string, t time.Time) string {
	return kind + "-" + t.UTC().Format("20060102-150405")
}

// verdictErr maps a run's verdict to the exit code's error.
// exit is the error a session's command ends with: interrupted (exit
// 130) when a signal stopped it, else what its stamp says (a whole run
// exits by its verdict, a shard that did its part with 0).
func (s *session) exit(rr *results.RunResult) error {
	if s.stopped {
		return errInterrupted
	}
	return s.stamp.exit(rr)
}

func verdictErr(rr *results.RunResult) error {
	if rr.Met() {
		return nil
	}
	return errExpectation
}

// gateWith returns the gate of a run against base (nil: the run's own
// checks only) with tol, storing its findings in the run.
func gateWith(base *results.RunResult, tol results.Tolerance) func(*results.RunResult) {
	return func(rr *results.RunResult) {
		rr.Gated = true
		// A merge's own findings (a shard missing) stay: the gate adds its own.
		rr.Findings = append(rr.Findings, results.Compare(rr, base, tol)...)
		rr.Rejudge()
	}
}
