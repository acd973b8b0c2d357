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
	gate := fs.Bool("gate", false, "also gate the run (results.Compare): fail on any silent failure, expectation not met,\n"+
		"or regression against --baseline beyond the default tolerance")
	baseline := fs.String("baseline", "", "baseline for --gate: a summary.json or a results directory (optional)")
	verbose := fs.Bool("v", false, "log references, restarts and other harness events to stderr")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: truncheck run [flags] [scenario...|all]   (default: the quick catalog)")
		fs.PrintDefaults()
	}
	return command{fs: fs, summary: "run scenarios, print the table, write results (exit 1 if an expectation fails)", fn: func(args []string) error {
		if *baseline != "" && !*gate {
			return usagef("--baseline needs --gate")
		}
		if *count < 0 || *duration < 0 {
			return usagef("--count and --duration must not be negative")
		}
		cat, err := loadCatalog(files)
		if err != nil {
			return err
		}
		var base *results.RunResult
		if *baseline != "" {
			b, warnings, err := results.Load(*baseline)
			if err != nil {
				return usagef("--baseline: %v", err)
			}
			printWarnings(stderr, warnings)
			base = b
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

		sess, err := startSession("run", *out, stderr, *verbose)
		if err != nil {
			return err
		}
		list := make([]scenarios.Scenario, len(jobs))
		for i, j := range jobs {
			list[i] = j.s
		}
		err = sess.runAll("run", list, func(ctx context.Context, i int, sc scenarios.Scenario) error {
			o := sess.options()
			o.Seed, o.Count, o.Duration = jobs[i].opts.Seed, jobs[i].opts.Count, jobs[i].opts.Duration
			_, err := sess.runOne(ctx, sc, o)
			return err
		})
		if err != nil {
			return err
		}
		rr, err := sess.finish(stdout)
		if err != nil {
			return err
		}
		if *gate {
			findings := results.Compare(rr, base, results.DefaultTolerance())
			fmt.Fprintln(stdout)
			if len(findings) == 0 {
				fmt.Fprintln(stdout, "gate: no findings")
			}
			for _, f := range findings {
				fmt.Fprintf(stdout, "gate: %s\n", f)
			}
			if results.Failed(findings) {
				fmt.Fprintln(stdout, "gate: FAIL")
				return errExpectation
			}
			fmt.Fprintln(stdout, "gate: pass")
			return nil
		}
		return metOrErr(rr)
	}}
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
