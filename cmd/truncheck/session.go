package main

import (
	"context"
	"errors"
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

// session is one invocation's results directory (run, check, realworld):
// records appended to records.jsonl as requests finish, the reports
// written at the end. It only wires harness to results; the deciding is
// theirs.
type session struct {
	dir     string
	run     string
	w       *results.Writer
	reports []harness.Report
	stderr  io.Writer
	verbose bool
}

// openSession creates dir and a fresh records.jsonl in it: a results
// directory holds one run, so the files of an earlier run there are replaced.
func openSession(dir, run string, stderr io.Writer, verbose bool) (*session, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, usagef("--out %s: %v", dir, err)
	}
	path := filepath.Join(dir, results.RecordsFile)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, usagef("--out %s: %v", dir, err)
	}
	w, err := results.NewWriter(path, results.WriterConfig{})
	if err != nil {
		return nil, usagef("--out %s: %v", dir, err)
	}
	return &session{dir: dir, run: run, w: w, stderr: stderr, verbose: verbose}, nil
}

// startSession opens the results directory of a `kind` invocation (run,
// check, realworld): out, or out/<kind>-<timestamp> when out is "".
func startSession(kind, out string, stderr io.Writer, verbose bool) (*session, error) {
	start := time.Now()
	if out == "" {
		out = filepath.Join("out", runID(kind, start))
	}
	return openSession(out, runID(kind, start), stderr, verbose)
}

// runAll runs each scenario of list with run, under a context that SIGINT
// and SIGTERM cancel. An interrupt stops the loop and keeps the scenarios
// not reached as not run (finish still writes everything); any other error
// closes the session and is returned.
func (s *session) runAll(kind string, list []scenarios.Scenario, run func(ctx context.Context, i int, sc scenarios.Scenario) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for i, sc := range list {
		if err := run(ctx, i, sc); err != nil {
			if ctx.Err() != nil {
				fmt.Fprintf(s.stderr, "truncheck %s: interrupted during %s; writing what was run\n", kind, sc.Name)
				s.interrupted(list[i+1:])
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
	o := harness.Options{Writer: s.w, Run: s.run}
	if s.verbose {
		o.Logf = func(format string, args ...any) { fmt.Fprintf(s.stderr, format+"\n", args...) }
	}
	return o
}

// runOne runs one scenario and keeps its report. A scenario that could not
// start at all (no summary: a bad scenario, a target that never answered)
// is returned as the error; one that started and was cut short (ctx ended)
// is kept, not met, and the error returned too.
func (s *session) runOne(ctx context.Context, sc scenarios.Scenario, opts harness.Options) (harness.Report, error) {
	if isTerminal(s.stderr) {
		fmt.Fprintf(s.stderr, "running %s ...\n", sc.Name)
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
		rep.Met = false
		rep.Reason = fmt.Sprintf("run cut short after %d requests: %v", rep.Summary.Requests, err)
	}
	s.reports = append(s.reports, rep)
	return rep, err
}

// notRun keeps a scenario the session planned but did not run (the run was
// interrupted) as not met, so the table, JUnit and the exit code show it.
func (s *session) notRun(sc scenarios.Scenario, reason string) {
	var rep harness.Report
	rep.Scenario = sc.Name
	rep.Expect = results.Expect(sc.Expect.Kind)
	rep.Met = false
	rep.Reason = reason
	rep.Summary = results.NewSummary(sc.Name)
	s.reports = append(s.reports, rep)
}

// interrupted keeps every scenario of rest as not run.
func (s *session) interrupted(rest []scenarios.Scenario) {
	for _, sc := range rest {
		s.notRun(sc, "not run: the run was interrupted")
	}
}

// finish closes the records file, writes summary, JUnit and HTML, prints
// the table, the details of every scenario that did not meet its
// expectation and the report paths. It returns the run.
func (s *session) finish(stdout io.Writer) (*results.RunResult, error) {
	werr := s.w.Close()
	srs := make([]results.ScenarioResult, len(s.reports))
	for i, r := range s.reports {
		srs[i] = r.ScenarioResult
	}
	rr := results.NewRunResult(s.run, srs)
	fmt.Fprint(stdout, harness.Table(s.reports))
	for _, r := range s.reports {
		if !r.Met {
			fmt.Fprintf(stdout, "\n%s", r.Details())
		}
	}
	if err := results.WriteReports(s.dir, rr); err != nil {
		return rr, fmt.Errorf("writing reports: %w", err)
	}
	if werr != nil {
		return rr, fmt.Errorf("writing records: %w", werr)
	}
	fmt.Fprintf(stdout, "\nrecords: %s (%d)\nreport:  %s\njunit:   %s\n",
		filepath.Join(s.dir, results.RecordsFile), s.w.Count(),
		filepath.Join(s.dir, results.HTMLFile), filepath.Join(s.dir, results.JUnitFile))
	return rr, nil
}

// close releases the records file when finish was not reached.
func (s *session) close() { _ = s.w.Close() }

// isTerminal says whether w is a terminal (progress bars, start notes).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// runID names a run after its start time, like its default directory.
func runID(kind string, t time.Time) string {
	return kind + "-" + t.UTC().Format("20060102-150405")
}

// metOrErr maps a run's verdict to the exit code's error.
func metOrErr(rr *results.RunResult) error {
	if rr.Met() {
		return nil
	}
	return errExpectation
}
