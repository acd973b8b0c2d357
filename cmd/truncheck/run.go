package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/truncheck/truncheck/harness"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

func runCommand(stdout, stderr io.Writer) command {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var files stringList
	fs.Var(&files, "scenarios", "scenario file (YAML or JSON) to add to the catalog; repeatable")
	out := fs.String("out", "", "results directory (records.jsonl, summary.json, junit.xml, report.html; files of an earlier run there are replaced); default out/run-<timestamp>")
	seed := fs.Int64("seed", 0, "replace every scenario's seed (default: each scenario's own)")
	count := fs.Int("count", 0, "requests per scenario instead of the scenario's count (0: the scenario's)")
	duration := fs.Duration("duration", 0, "run each scenario this long instead of its count (0: the scenario's)")
	replay := fs.String("replay", "", "records.jsonl of an earlier run: rerun its scenarios with its seeds and request count.\n"+
		"Reproduces the same request sequence (which request each seq sends) and the same seeded fault choices;\n"+
		"timing, and so which connection serves which request, may differ: a timing-dependent cut may land\n"+
		"elsewhere or not recur (run it a few times)")
	requireE2E := fs.Bool("require-e2e", false, "a response whose only evidence is its hop's framing is unverified, not complete")
	gf := gateFlags(fs)
	verbose := fs.Bool("v", false, "log references, restarts and other harness events to stderr")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: truncheck run [flags] [scenario...|all]   (default: the --scenarios files' scenarios, else the quick catalog)")
		fs.PrintDefaults()
	}
	return command{fs: fs, summary: "run scenarios, print the table, write results (exit 1 if an expectation fails)", fn: func(args []string) error {
		if *count < 0 || *duration < 0 {
			return usagef("--count and --duration must not be negative")
		}
		gate, err := gf.gate(stderr)
		if err != nil {
			return err
		}
		cat, err := loadCatalog(files)
		if err != nil {
			return err
		}
		type job struct {
			s    scenarios.Scenario
			opts harness.Options
		}
		var jobs []job
		if *replay != "" {
			if flagSet(fs, "seed") || *count != 0 || *duration != 0 {
				return usagef("--replay takes its seeds and counts from the file: drop --seed, --count and --duration")
			}
			plays, err := replayPlan(*replay, stderr)
			if err != nil {
				return err
			}
			only := map[string]bool{}
			for _, a := range args {
				only[a] = true
			}
			for _, p := range plays {
				if len(only) > 0 && !only[p.scenario] {
					continue
				}
				s, err := cat.Get(p.scenario)
				if err != nil {
					return usagef("--replay %s: %v (add its file with --scenarios)", *replay, err)
				}
				jobs = append(jobs, job{s, harness.Options{Seed: &p.seed, Count: int(p.count)}})
			}
			if len(jobs) == 0 {
				return usagef("--replay %s: no records to replay (of scenarios %q)", *replay, args)
			}
		} else {
			list, err := pick(cat, args)
			if err != nil {
				return err
			}
			list = inProcess(list, args)
			if err := requireInProcess(list, "run"); err != nil {
				return err
			}
			for _, s := range list {
				o := harness.Options{Count: *count, Duration: *duration}
				if flagSet(fs, "seed") {
					o.Seed = seed
				}
				jobs = append(jobs, job{s, o})
			}
		}
		list := make([]scenarios.Scenario, len(jobs))
		for i := range jobs {
			if *requireE2E {
				jobs[i].s.Verify.RequireEndToEnd = true
			}
			list[i] = jobs[i].s
			if o := jobs[i].opts; o.Seed != nil {
				list[i].Seed = *o.Seed
			}
		}

		sess, err := startSession("run", *out, list, stderr, *verbose)
		if err != nil {
			return err
		}
		err = sess.runAll(list, func(ctx context.Context, i int, sc scenarios.Scenario) error {
			o := sess.options()
			o.Seed, o.Count, o.Duration = jobs[i].opts.Seed, jobs[i].opts.Count, jobs[i].opts.Duration
			_, err := sess.runOne(ctx, sc, o)
			return err
		})
		if err != nil {
			return err
		}
		rr := sess.result()
		if err := sess.finish(stdout, rr, gate); err != nil {
			return err
		}
		return verdictErr(rr)
	}}
}

// gateOptions are the --gate flags every gating subcommand shares.
type gateOptions struct {
	on              *bool
	baseline        *string
	p99, throughput *float64
	minRequests     *int64
	requireAll      *bool
}

func gateFlags(fs *flag.FlagSet) gateOptions {
	return gateOptions{
		on: fs.Bool("gate", false, "gate the run (results.Compare): fail on any silent failure, expectation not met, or a\n"+
			"regression against --baseline; the findings go into the table, summary.json, JUnit and HTML"),
		baseline:    fs.String("baseline", "", "baseline for --gate: a summary.json or a results directory (optional)"),
		p99:         fs.Float64("gate-p99", 0, "with --baseline: fail when p99 latency exceeds this ratio of the baseline's (0: not checked)"),
		throughput:  fs.Float64("gate-throughput", 0, "with --baseline: fail when verified MB/s falls below this ratio of the baseline's (0: not checked)"),
		minRequests: fs.Int64("gate-min-requests", 0, "latency and throughput are compared only with at least this many requests on both sides (0: 100)"),
		requireAll:  fs.Bool("gate-require-all", false, "fail when a baseline scenario is missing from the run"),
	}
}

// gate returns the gate these flags ask for (nil: none).
func (g gateOptions) gate(stderr io.Writer) (func(*results.RunResult), error) {
	if !*g.on {
		if *g.baseline != "" || *g.p99 != 0 || *g.throughput != 0 || *g.minRequests != 0 || *g.requireAll {
			return nil, usagef("--baseline and the --gate-* flags need --gate")
		}
		return nil, nil
	}
	if *g.p99 < 0 || *g.throughput < 0 || *g.minRequests < 0 {
		return nil, usagef("--gate-p99, --gate-throughput and --gate-min-requests must not be negative")
	}
	if (*g.p99 > 0 || *g.throughput > 0) && *g.baseline == "" {
		return nil, usagef("--gate-p99 and --gate-throughput compare with a baseline: add --baseline")
	}
	var base *results.RunResult
	if *g.baseline != "" {
		b, warnings, err := results.Load(*g.baseline)
		if err != nil {
			return nil, usagef("--baseline: %v", err)
		}
		printWarnings(stderr, warnings)
		base = b
	}
	tol := results.Tolerance{P99Ratio: *g.p99, ThroughputRatio: *g.throughput, MinRequests: *g.minRequests, RequireAll: *g.requireAll}
	return gateWith(base, tol), nil
}

// replay is one scenario run found in a records file.
type replay struct {
	scenario string
	seed     int64
	count    int64 // highest seq + 1: the same request sequence
}

// replayPlan scans a records file (constant memory) for its scenario runs,
// in the order they first appear.
func replayPlan(path string, stderr io.Writer) ([]replay, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, usagef("--replay: %v", err)
	}
	var plays []replay
	type key struct {
		scenario string
		seed     int64
	}
	index := map[key]int{}
	warnings, err := results.ScanFile(path, func(r *results.Record) error {
		k := key{r.Scenario, r.Seed}
		i, ok := index[k]
		if !ok {
			i = len(plays)
			index[k] = i
			plays = append(plays, replay{scenario: r.Scenario, seed: r.Seed})
		}
		if r.Seq+1 > plays[i].count {
			plays[i].count = r.Seq + 1
		}
		return nil
	})
	printWarnings(stderr, warnings)
	if err != nil {
		return nil, usagef("--replay: %v", err)
	}
	return plays, nil
}

func printWarnings(w io.Writer, warnings []results.Warning) {
	for _, wr := range warnings {
		fmt.Fprintf(w, "warning: %s\n", wr)
	}
}

// flagSet says whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
