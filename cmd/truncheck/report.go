package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/truncheck/truncheck/results"
)

func reportCommand(stdout, stderr io.Writer) command {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	html := fs.String("html", "", "write the merged HTML report to this file")
	out := fs.String("out", "", "write summary.json, junit.xml and report.html of the merge into this directory")
	wait := fs.Duration("wait", 0, "for a sharded run's directory: wait until each of its shards has finished, at most this long,\n"+
		"then merge (a shard missing or unfinished then fails the verdict); e.g. a merge Job started with the shards")
	gf := gateFlags(fs)
	return command{fs: fs,
		summary:  "judge again and merge stored results (directories, .jsonl or summary .json)",
		synopsis: "truncheck report [flags] RESULTS...",
		about: "Judges stored results again from their records (a run killed before its summary included)\n" +
			"and merges several: the same run given twice counts once. A results directory's plan follows\n" +
			"the table: each scenario as it ran (faults, seed, expectation). A sharded run's directory (OUT of\n" +
			"run/soak/check --shard) stands for its shards: they must be shards of one run, each once; a\n" +
			"shard missing or killed before its summary fails the verdict. Exit 1 when the verdict is FAIL.",
		examples: []string{
			"truncheck report out/nightly",
			"truncheck report out/nightly --wait 10h --gate --out out/merged   # a merge job beside its shards",
			"truncheck report out/runner-a out/runner-b --out out/merged",
			"truncheck report out/nightly --html nightly.html",
		},
		fn: func(args []string) error {
			if len(args) == 0 {
				return usagef("give at least one results directory or file")
			}
			gate, err := gf.gate(stderr)
			if err != nil {
				return err
			}
			if *wait < 0 {
				return usagef("--wait %s: accepted: a positive duration, e.g. 10h", *wait)
			}
			if *wait > 0 {
				waitShards(args, *wait, stderr)
			}
			for _, a := range args {
				if _, err := os.Stat(a); err != nil {
					return usagef("results %q: %v", a, err)
				}
			}
			rr, warnings, err := results.MergeFiles(args...)
			if err != nil {
				return usagef("%v", err)
			}
			printWarnings(stderr, warnings)
			if gate != nil {
				gate(rr)
			}
			if err := printRun(stdout, rr, "", 0); err != nil {
				return err
			}
			if err := printPlans(stdout, args); err != nil {
				return err
			}
			if *html != "" {
				if err := results.WriteFileAtomic(*html, func(w io.Writer) error { return results.WriteHTML(w, rr) }); err != nil {
					return envError{err}
				}
				if _, err := fmt.Fprintf(stdout, "html report: %s\n", *html); err != nil {
					return envError{err}
				}
			}
			if *out != "" {
				if err := results.WriteReports(*out, rr); err != nil {
					return envError{err}
				}
				if _, err := fmt.Fprintf(stdout, "reports in %s\n", *out); err != nil {
					return envError{err}
				}
			}
			return verdictErr(rr)
		}}
}

// printPlans prints the plan of each results directory among args (a
// sharded run's directory: of its shards, as one): the scenarios as they
// ran, so a report says what was tested, not only how it went.
func printPlans(stdout io.Writer, args []string) error {
	dirs, err := results.ExpandDirs(args)
	if err != nil {
		return usageError{err}
	}
	var plans []*results.Plan
	for _, a := range dirs {
		if st, err := os.Stat(a); err != nil || !st.IsDir() {
			continue
		}
		plan, err := results.ReadPlan(a)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return usageError{err}
		}
		plans = append(plans, plan)
	}
	if err := results.WritePlansText(stdout, plans); err != nil {
		return envError{fmt.Errorf("writing the table: %w", err)}
	}
	return nil
}

// waitShards waits, at most d in all and less on SIGINT or SIGTERM, until
// the sharded runs among dirs have finished, saying on stderr how it went.
func waitShards(dirs []string, d time.Duration, stderr io.Writer) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	for _, dir := range dirs {
		if err := results.WaitShards(ctx, dir, 0); err != nil {
			fmt.Fprintf(stderr, "truncheck report: stopped waiting for the shards of %s after %s: merging what is there\n", dir, time.Since(start).Round(time.Second))
			return
		}
	}
	fmt.Fprintf(stderr, "truncheck report: every shard finished after %s\n", time.Since(start).Round(time.Second))
}
