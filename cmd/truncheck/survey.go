package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/targets/survey"
)

// SurveyTable is the Markdown table a survey writes next to its results.
const surveyTable = "survey.md"

func surveyCommand(stdout, stderr io.Writer) command {
	fs := flag.NewFlagSet("survey", flag.ContinueOnError)
	servers := fs.String("servers", "", "servers to survey, comma-separated (default: all: "+serverNames()+")")
	conds := fs.String("conditions", "", "conditions to run, comma-separated: NAME for every server, SERVER:NAME for one\n"+
		"(default: all; each brings its control along)")
	protocols := fs.String("protocols", "http/1.1,h2", "protocol rows per server, comma-separated: http/1.1, h2c (HTTP/2 in the clear,\n"+
		"prior knowledge), h2 (HTTP/2 over TLS by ALPN); a server that does not speak one says so in its row")
	out := fs.String("out", "", "results directory (records.jsonl, run.json, summary.json, junit.xml, report.html, "+surveyTable+");\ndefault out/survey-<timestamp>")
	dir := fs.String("dir", "", "where the servers' configurations, files and logs go (default: a temporary directory,\nremoved at the end unless --keep)")
	keep := fs.Bool("keep", false, "keep the servers' directory (configurations and logs) and say where it is")
	noInstall := fs.Bool("no-install", false, "do not install missing packages (apt-get); their rows say what is missing")
	require := fs.String("require", "", "servers that must run: one whose package is missing or that does not start fails the survey (exit 1)")
	verbose := fs.Bool("v", false, "harness events and each server's start and stop to stderr")
	return command{fs: fs,
		summary:  "the field survey: real servers from Debian's packages under the conditions that cut large responses",
		synopsis: "truncheck survey [--servers LIST] [--conditions LIST] [flags]",
		about: "Installs what is missing (apt-get, as root), starts each server from its package in a\n" +
			"configuration written under a temporary directory (loopback only), runs every condition against\n" +
			"it with its control (the same server without the condition), reloads and restarts it by its own\n" +
			"mechanisms, reads its access log as its account of every failed response (silence is claimed\n" +
			"only where the log proves it), stops it, and writes the results directory and a Markdown table:\n" +
			"servers by conditions, each cell the outcomes with offsets. A server that cannot be installed or\n" +
			"started is a row that says why. Findings are the table; exit 1 only when the survey itself could\n" +
			"not show them: a control that did not pass (its cells say nothing), or a --require'd server that\n" +
			"did not run.\n\n" + surveyConditionList(),
		examples: []string{
			"truncheck survey                                         # every server, every condition, HTTP/1.1 and h2 rows (about 35 minutes)",
			"truncheck survey --servers nginx,go --conditions reload  # two servers, one condition and its control",
			"truncheck survey --conditions nginx:reload,haproxy:upstream-cut-cl,go:send-timeout --servers nginx,haproxy,go",
		},
		fn: func(args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q (servers and conditions are flags: --servers, --conditions)", args)
			}
			started := time.Now()
			list, err := survey.Select(*servers)
			if err != nil {
				return usagef("--servers: %v", err)
			}
			required, err := survey.Select(*require)
			if err != nil {
				return usagef("--require: %v", err)
			}
			if *require == "" {
				required = nil
			}
			for _, r := range required {
				if !containsServer(list, r.Name) {
					return usagef("--require %s: not among the surveyed servers (--servers %s)", r.Name, *servers)
				}
			}
			var protos []survey.Protocol
			for _, p := range splitList(*protocols) {
				pr, err := survey.ParseProtocol(p)
				if err != nil {
					return usagef("--protocols: %v", err)
				}
				if slices.Contains(protos, pr) {
					return usagef("--protocols: %s twice (accepted: each of http/1.1, h2c, h2 once)", pr)
				}
				protos = append(protos, pr)
			}
			workDir, cleanup, err := surveyDir(*dir, *keep, stderr)
			if err != nil {
				return err
			}
			defer cleanup()
			plan, err := survey.NewPlan(survey.PlanOptions{Servers: list, Protocols: protos, Conditions: splitList(*conds), Dir: workDir})
			if err != nil {
				return usagef("--conditions: %v", err)
			}
			ctx := context.Background()
			problems := map[string]string{}
			if !*noInstall {
				reports, _ := survey.Install(ctx, list...)
				for _, r := range reports {
					if len(r.Installed) > 0 {
						fmt.Fprintf(stderr, "survey: %s: installed %s\n", r.Server, strings.Join(r.Installed, " "))
					}
					if r.Err != nil {
						problems[r.Server] = r.Err.Error()
					}
				}
			}
			for _, s := range list {
				if _, ok := problems[s.Name]; !ok && !s.Installed() {
					problems[s.Name] = fmt.Sprintf("%s is not installed (packages: %s; make survey-setup SURVEY_SERVERS=%s)", s.Binary, strings.Join(s.Packages, " "), s.Name)
				}
			}
			for i := range plan.Grid.Rows {
				row := &plan.Grid.Rows[i]
				s, _ := survey.Lookup(serverOfRow(plan, i))
				row.About = serverVersion(ctx, s)
				if p, ok := problems[s.Name]; ok {
					row.Problem = p
				}
			}
			up, err := survey.StartUpstream()
			if err != nil {
				return envError{err}
			}
			defer up.Close()
			scs := make([]scenarios.Compiled, len(plan.Cells))
			for i, c := range plan.Cells {
				scs[i] = c.Scenario
			}
			sess, err := startSession("survey", *out, scs, stderr, *verbose)
			if err != nil {
				return err
			}
			sess.grid = plan.Grid
			if err := sess.replan(scs); err != nil {
				sess.close()
				return err
			}
			runner := &survey.Runner{Dir: workDir, Upstream: up.URL}
			if *verbose {
				runner.Logf = func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
			}
			err = sess.runAll(scs, func(ctx context.Context, i int, sc scenarios.Compiled) error {
				cell := plan.Cells[i]
				if p, ok := problems[cell.Server.Name]; ok {
					sess.notRun(sc, "not run: "+firstLine(p))
					return nil
				}
				t, err := runner.Target(ctx, cell)
				if err != nil {
					if ctx.Err() != nil {
						return err
					}
					if markProblem(plan.Grid, cell, err) {
						fmt.Fprintf(stderr, "survey: %s did not start: %s\n", cell.Server.Name, firstLine(err.Error()))
						if err := sess.replan(scs); err != nil {
							return err
						}
					}
					sess.notRun(sc, "not run: "+firstLine(err.Error()))
					return nil
				}
				o := sess.options()
				o.Target = t
				if _, err := sess.runOne(ctx, sc, o); err != nil {
					if ctx.Err() != nil {
						return err
					}
					if !sess.has(sc.Name()) {
						sess.notRun(sc, "could not run: "+firstLine(err.Error()))
					}
				}
				return nil
			})
			runner.Close(ctx)
			if err != nil {
				return envError{err}
			}
			plan.Grid.Notes = append(surveyNotes(), runner.Notes()...)
			wall := time.Since(started).Round(time.Second)
			rr := sess.result()
			if err := sess.finish(io.Discard, rr, nil); err != nil {
				return err
			}
			if err := writeSurveyTable(stdout, sess, rr, wall); err != nil {
				return err
			}
			if sess.stopped {
				return errInterrupted
			}
			return surveyVerdict(stdout, rr, plan, required)
		}}
}

// surveyConditionList is the conditions for the help.
func surveyConditionList() string {
	var b strings.Builder
	b.WriteString("The conditions (columns):")
	for _, c := range survey.Conditions() {
		fmt.Fprintf(&b, "\n  %-18s %s", c.Name, c.About)
	}
	return b.String()
}

func serverNames() string {
	var names []string
	for _, s := range survey.Servers() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ",")
}

func containsServer(list []survey.Server, name string) bool {
	return slices.ContainsFunc(list, func(s survey.Server) bool { return s.Name == name })
}

// serverOfRow is the server of grid row i (rows are servers, in the
// plan's order, one per protocol).
func serverOfRow(p *survey.Plan, i int) string {
	name, _, _ := strings.Cut(p.Grid.Rows[i].Name, " ")
	return name
}

// serverVersion is the row's version: the server's own word and its
// Debian package's.
func serverVersion(ctx context.Context, s survey.Server) string {
	v, err := s.Version(ctx)
	if err != nil {
		return "version unknown"
	}
	if pv, err := s.PackageVersion(ctx); err == nil && pv != "" {
		return v + " (" + pv + ")"
	}
	return v
}

// markProblem sets the problem of the cell's row, once; it reports
// whether it was new.
func markProblem(g *results.Grid, c survey.Cell, err error) bool {
	for i := range g.Rows {
		r := &g.Rows[i]
		for _, gc := range r.Cells {
			if gc.Scenario == c.Name() {
				if r.Problem != "" {
					return false
				}
				r.Problem = err.Error()
				return true
			}
		}
	}
	return false
}

// has reports whether the session kept a report of the scenario.
func (s *session) has(name string) bool {
	for _, r := range s.reports {
		if r.Scenario == name {
			return true
		}
	}
	return false
}

// surveyDir is where the servers run: dir, or a fresh temporary directory
// that servers dropping to their own user can read.
func surveyDir(dir string, keep bool, stderr io.Writer) (string, func(), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, usagef("--dir: %v", err)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", nil, usagef("--dir: %v", err)
		}
		return abs, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "truncheck-survey-")
	if err != nil {
		return "", nil, envError{err}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", nil, envError{err}
	}
	return tmp, func() {
		if keep {
			fmt.Fprintf(stderr, "survey: servers' configurations and logs kept in %s\n", tmp)
			return
		}
		os.RemoveAll(tmp)
	}, nil
}

// surveyNotes are what a reader of the table must know.
func surveyNotes() []string {
	return []string{
		"Offsets over loopback TCP depend on the kernel's socket buffers (net.ipv4.tcp_rmem/tcp_wmem, autotuning): " +
			"a cut lands where the server's writes stopped plus what the buffers held, so offsets move between runs and machines; " +
			"the counts of the timing conditions (reload, restart, stalled reader, send timeout) can too.",
		"Silence comes from each server's access log, read right after each failed response (waiting up to 2 s for the line; " +
			"6 s for lighttpd, which writes its log every 4 s, and 4 s for trafficserver): " +
			"silent = the log says it sent everything; noticed = its log says it did not; silent? = no line, or a line that cannot say (no completion state and no length to hold its byte count against).",
	}
}

// writeSurveyTable prints the survey's table and writes it beside the
// results.
func writeSurveyTable(stdout io.Writer, sess *session, rr *results.RunResult, wall time.Duration) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", rr.Grid.Title)
	fmt.Fprintf(&b, "Run %s, %s, truncheck %s; wall time %s.\n\n", rr.Run, time.Now().UTC().Format("2006-01-02"), rr.Version, wall)
	if err := results.WriteGridMarkdown(&b, rr); err != nil {
		return envError{err}
	}
	path := filepath.Join(sess.dir, surveyTable)
	if err := results.WriteFileAtomic(path, func(w io.Writer) error { _, err := io.WriteString(w, b.String()); return err }); err != nil {
		return envError{fmt.Errorf("writing %s: %w", path, err)}
	}
	ew := &errorWriter{w: stdout}
	fmt.Fprint(ew, b.String())
	fmt.Fprintf(ew, "\ntable:   %s\nrecords: %s (%d)\nreport:  %s\njunit:   %s\nwall time: %s\n", path,
		filepath.Join(sess.dir, results.RecordsFile), sess.w.Count(),
		filepath.Join(sess.dir, results.HTMLFile), filepath.Join(sess.dir, results.JUnitFile), wall)
	if ew.err != nil {
		return envError{fmt.Errorf("writing the table: %w", ew.err)}
	}
	return nil
}

// surveyVerdict is the survey's exit: findings are the table; it fails
// only when it could not show them (a control that did not pass, a
// required server that did not run).
func surveyVerdict(stdout io.Writer, rr *results.RunResult, plan *survey.Plan, required []survey.Server) error {
	met := map[string]bool{}
	ran := map[string]bool{}
	for _, sr := range rr.Scenarios {
		met[sr.Scenario] = sr.Met
		ran[sr.Scenario] = sr.Summary != nil && sr.Summary.Requests > 0
	}
	var why []string
	controls := map[string]bool{}
	for _, c := range plan.Cells {
		if c.Control != "" {
			controls[c.Control] = true
		}
	}
	for _, c := range plan.Cells {
		if controls[c.Name()] && ran[c.Name()] && !met[c.Name()] {
			why = append(why, fmt.Sprintf("control %s did not pass: the cells compared with it say nothing", c.Name()))
		}
	}
	for i, r := range plan.Grid.Rows {
		if r.Problem == "" {
			continue
		}
		if containsServer(required, serverOfRow(plan, i)) {
			why = append(why, fmt.Sprintf("%s did not run, and it is required: %s", r.Name, firstLine(r.Problem)))
		}
	}
	ew := &errorWriter{w: stdout}
	if len(why) == 0 {
		fmt.Fprintln(ew, "survey: every control passed; the table's cells are the findings")
	} else {
		fmt.Fprintf(ew, "survey: FAIL:\n  %s\n", strings.Join(why, "\n  "))
	}
	if ew.err != nil {
		return envError{fmt.Errorf("writing the verdict: %w", ew.err)}
	}
	if len(why) > 0 {
		return errExpectation
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
