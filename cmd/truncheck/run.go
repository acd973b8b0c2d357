package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

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
	replay := fs.String("replay", "", "an earlier run's results directory: run again exactly the scenarios it ran, as they were\n"+
		"compiled (faults, seeds, counts, expectations, from its run.json), or its records.jsonl (the catalog's\n"+
		"scenarios with the records' seeds and request counts). The same request sequence and seeded fault\n"+
		"choices; timing, and so which connection serves which request, may differ: a timing-dependent cut\n"+
		"may land elsewhere or not recur (run it a few times)")
	requireE2E := fs.Bool("require-e2e", false, "a response whose only evidence is its hop's framing is unverified, not complete")
	gf := gateFlags(fs)
	sf := shardFlags(fs)
	verbose := fs.Bool("v", false, "log references, restarts and other harness events to stderr")
	return command{fs: fs,
		summary:  "run scenarios, print the table, write results (exit 1 if an expectation fails)",
		synopsis: "truncheck run [flags] [scenario...|all]",
		about: "Runs scenarios in-process (default: the --scenarios files' scenarios, else the quick catalog),\n" +
			"a line per scenario on stderr as it ends, then the table on stdout, and writes the results\n" +
			"directory. Exit 1 when an expectation (or, with --gate, the gate) fails. With --shard K/N it\n" +
			"runs its part of the run; truncheck report merges the parts into one verdict.",
		examples: []string{
			"truncheck run                                  # the quick catalog",
			"truncheck run buffered-shutdown --out out/bs   # one scenario",
			"truncheck run --gate --baseline out/last-good  # the CI gate",
			"truncheck run --replay out/bs                  # the same scenarios, as they ran",
			"truncheck run --shard 0/3 --run-id nightly-42 --out out/nightly   # a third of the run",
		},
		fn: func(args []string) error {
			if *count < 0 || *duration < 0 {
				return usagef("--count and --duration must not be negative")
			}
			gate, err := gf.gate(stderr)
			if err != nil {
				return err
			}
			st, err := sf.stamp(os.Getenv)
			if err != nil {
				return err
			}
			cat, err := loadCatalog(files)
			if err != nil {
				return err
			}
			var list []scenarios.Compiled
			if *replay != "" {
				if flagSet(fs, "seed") || *count != 0 || *duration != 0 {
					return usagef("--replay runs the scenarios as they ran: drop --seed, --count and --duration")
				}
				if list, err = replayList(*replay, cat, args, stderr); err != nil {
					return err
				}
				// A shard's directory replays that shard: the requests it sent.
				if sh := replayedShard(*replay); !sh.IsZero() {
					if !st.shard.IsZero() {
						return usagef("--replay %s replays shard %s as it ran: drop --shard and --shards", *replay, sh)
					}
					st.shard, st.replay = sh, true
				}
			} else {
				if list, err = pick(cat, args); err != nil {
					return err
				}
				list = inProcess(list, args)
				if err := requireInProcess(list, "run"); err != nil {
					return err
				}
			}
			// What the flags change is compiled into the scenarios, so the plan
			// keeps each one exactly as it runs.
			for i := range list {
				sc := list[i].Scenario()
				if flagSet(fs, "seed") {
					sc.Seed = *seed
				}
				if *count > 0 || *duration > 0 {
					sc.Count, sc.Duration = *count, *duration
				}
				if *requireE2E {
					sc.Verify.RequireEndToEnd = true
				}
				if list[i], err = scenarios.Compile(sc); err != nil {
					return usageError{err}
				}
			}

			if err = st.check(); err == nil {
				err = st.gate(gate != nil, *out)
			}
			if err != nil {
				return err
			}
			mine := share(list, st.shard)
			sess, err := startPart("run", *out, st, list, mine, stderr, *verbose)
			if err != nil {
				return err
			}
			err = sess.runAll(mine, func(ctx context.Context, _ int, sc scenarios.Compiled) error {
				_, err := sess.runOne(ctx, sc, sess.options())
				return err
			})
			if err != nil {
				return err
			}
			rr := sess.result()
			if err := sess.finish(stdout, rr, gate); err != nil {
				return err
			}
			return sess.exit(rr)
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

// replayList is what --replay runs: from a results directory's plan, its
// scenarios exactly as compiled then; from a records file (or a directory
// without a plan), the catalog's scenarios with the seeds and request
// counts the records show. only, when given, keeps the named scenarios.
func replayList(path string, cat catalog, only []string, stderr io.Writer) ([]scenarios.Compiled, error) {
	keep := func(name string) bool { return len(only) == 0 || slices.Contains(only, name) }
	var list []scenarios.Compiled
	if st, err := os.Stat(path); err != nil {
		return nil, usagef("--replay: %v", err)
	} else if st.IsDir() {
		plan, err := results.ReadPlan(path)
		switch {
		case err == nil:
			for _, p := range plan.Scenarios {
				if !keep(p.Name) {
					continue
				}
				var c scenarios.Compiled
				if err := json.Unmarshal(p.Spec, &c); err != nil {
					return nil, usagef("--replay %s: scenario %q: %v", path, p.Name, err)
				}
				list = append(list, c)
			}
			if len(list) == 0 {
				return nil, usagef("--replay %s: no scenarios to replay (of %q)", path, only)
			}
			return list, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, usagef("--replay: %v", err)
		}
		path = filepath.Join(path, results.RecordsFile)
	}
	type play struct {
		scenario string
		seed     int64
		count    int64 // highest seq + 1: the same request sequence
	}
	var plays []play
	index := map[[2]any]int{}
	warnings, err := results.ScanFile(path, func(r *results.Record) error {
		k := [2]any{r.Scenario, r.Seed}
		i, ok := index[k]
		if !ok {
			i = len(plays)
			index[k] = i
			plays = append(plays, play{scenario: r.Scenario, seed: r.Seed})
		}
		plays[i].count = max(plays[i].count, r.Seq+1)
		return nil
	})
	printWarnings(stderr, warnings)
	if err != nil {
		return nil, usagef("--replay: %v", err)
	}
	for _, p := range plays {
		if !keep(p.scenario) {
			continue
		}
		c, err := cat.Get(p.scenario)
		if err != nil {
			return nil, usagef("--replay %s: %v (add its file with --scenarios)", path, err)
		}
		sc := c.Scenario()
		sc.Seed, sc.Count, sc.Duration = p.seed, int(p.count), 0
		if c, err = scenarios.Compile(sc); err != nil {
			return nil, usageError{err}
		}
		list = append(list, c)
	}
	if len(list) == 0 {
		return nil, usagef("--replay %s: no records to replay (of scenarios %q)", path, only)
	}
	return list, nil
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
