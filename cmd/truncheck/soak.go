package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/truncheck/truncheck/harness"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

func soakCommand(stdout, stderr io.Writer) command {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	var files stringList
	fs.Var(&files, "scenarios", "scenario file (YAML or JSON) to add to the catalog; repeatable")
	duration := fs.Duration("duration", 0, "how long to soak, e.g. 8h or 2m (required)")
	out := fs.String("out", "", "results directory (records.jsonl appended as the soak goes, then summary.json, junit.xml,\n"+
		"report.html; files of an earlier run there are replaced); default out/soak-<timestamp>")
	sf := shardFlags(fs)
	verbose := fs.Bool("v", false, "log references, restarts and other harness events to stderr")
	return command{fs: fs,
		summary:  "loop a scenario mix until the time is up; results appended as it goes",
		synopsis: "truncheck soak --duration D [flags] [scenario...]",
		about: "Loops the scenarios round-robin until the time is up; round k of a scenario uses its seed + k\n" +
			"(records carry the seed, so run --replay reproduces any round). Default mix: the quick scenarios\n" +
			"expecting complete, plus buffered-shutdown. Progress on stderr separates expected detections from\n" +
			"failures. SIGINT/SIGTERM stop it cleanly: everything is written, exit 130. Shard K of N soaks for\n" +
			"the whole duration too, and runs rounds K, K+N, K+2N, ... of every scenario: no seed twice across\n" +
			"the shards, which together are one soak of N times the load.",
		examples: []string{
			"truncheck soak --duration 8h --out out/nightly",
			"truncheck soak --duration 10m baseline slow-reader-unix",
			"truncheck soak --duration 8h --shards 4 --run-id \"$RUN\" --out /results   # in a Kubernetes Indexed Job",
		},
		fn: func(args []string) error {
			if *duration <= 0 {
				return usagef("--duration is required and must be positive (e.g. 2m, 8h)")
			}
			stamp, err := sf.stamp(os.Getenv)
			if err == nil {
				err = stamp.check()
			}
			if err != nil {
				return err
			}
			cat, err := loadCatalog(files)
			if err != nil {
				return err
			}
			mix, err := soakMix(cat, args)
			if err != nil {
				return err
			}
			start := time.Now()
			// A soak keeps no reports (memory stays flat): the session is used
			// for its plan and records file only; summaries come from an
			// Aggregator, judged at the end with results' one judge.
			sess, err := startPart("soak", *out, stamp, mix, mix, stderr, *verbose)
			if err != nil {
				return err
			}
			defer sess.close()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()

			st := &soakState{agg: results.NewAggregator(0), info: map[string]*soakInfo{}, shard: stamp.shard, meter: sess.meter}
			names := make([]string, len(mix))
			for i, c := range mix {
				names[i] = c.Name()
			}
			fmt.Fprintf(stdout, "soak %s: %s\nrecords: %s\n", *duration, strings.Join(names, ", "), sess.w.Path())
			// A status line a minute in a log (duration/10 for short soaks, at
			// least 5 s apart): alive, without drowning the log.
			st.meter.start(*duration, min(time.Minute, max(5*time.Second, *duration/10)))

			deadline := start.Add(*duration)
			for round := 0; ctx.Err() == nil; round++ {
				remaining := time.Until(deadline)
				if remaining <= 0 {
					break
				}
				c := mix[round%len(mix)]
				s := c.Scenario()
				// This shard's k-th round of the scenario is round r of the
				// whole soak, the only one to run with seed + r.
				r := stamp.shard.Round(round / len(mix))
				seed := s.Seed + int64(r)
				opts := sess.options()
				opts.Shard = results.Shard{} // a shard's rounds are its own whole: every request of them
				opts.Seed = &seed
				opts.OnRecord = st.add
				opts.Count = s.Count
				// The last round stops sending with the soak; one cut short is
				// judged only on what cannot be explained (see soakState.judge).
				opts.Duration = remaining
				partial := true
				if s.Duration > 0 && s.Duration <= remaining {
					opts.Duration, partial = s.Duration, false
				}
				st.meter.begin(s.Name, s.Expect)
				o, err := sess.origins.get(s.Origin)
				if err != nil {
					return err
				}
				opts.Origin = o
				rep, err := harness.RunScenario(ctx, c, opts)
				if ctx.Err() != nil {
					partial = true
				}
				if rep.Summary != nil && s.Count > 0 && rep.Summary.Requests >= int64(s.Count) && ctx.Err() == nil {
					partial = false
				}
				st.round(c, r, rep, err, partial, ctx.Err() != nil)
				if err != nil && ctx.Err() == nil {
					fmt.Fprintf(stderr, "truncheck soak: %s round %d: %v\n", s.Name, r, err)
					if rep.Summary == nil {
						// It could not even start: do not spin on it.
						select {
						case <-ctx.Done():
						case <-time.After(time.Second):
						}
					}
				}
			}
			interrupted := ctx.Err() != nil && time.Now().Before(deadline)
			stop()
			st.meter.end()

			rr := st.result(sess.run)
			// The soak judges the scenarios it reached: the plan says so now
			// (killed before this, the plan still lists every scenario, and a
			// scenario never reached fails when the records are judged).
			if err := sess.replan(st.reached(mix)); err != nil {
				return err
			}
			fmt.Fprintln(stdout)
			if err := sess.finish(stdout, rr, nil); err != nil {
				return err
			}
			how := "time up"
			if interrupted {
				how = "stopped by signal"
			}
			if _, err := fmt.Fprintf(stdout, "\nsoak %s after %s (%s)\n", how, time.Since(start).Round(time.Second), *duration); err != nil {
				return envError{err}
			}
			if interrupted {
				return errInterrupted
			}
			return stamp.exit(rr)
		}}
}

// soakMix is the named scenarios, or the default mix: the quick in-process
// scenarios that expect every response to verify (a soak hunts for rare
// truncations where none should be), plus buffered-shutdown, whose
// detection must keep working for hours.
func soakMix(cat catalog, names []string) ([]scenarios.Compiled, error) {
	if len(names) == 0 && len(cat.fromFiles) > 0 {
		names = cat.fromFiles
	}
	if len(names) > 0 {
		list, err := pick(cat, names)
		if err != nil {
			return nil, err
		}
		list = inProcess(list, names)
		return list, requireInProcess(list, "soak")
	}
	var mix []scenarios.Compiled
	for _, c := range cat.Quick() {
		if s := c.Scenario(); s.Expect.Kind == results.ExpectComplete && !s.TargetOnly {
			mix = append(mix, c)
		}
	}
	if s, err := cat.Get("buffered-shutdown"); err == nil {
		mix = append(mix, s)
	}
	if len(mix) == 0 {
		return nil, usagef("no scenarios to soak: name some")
	}
	return mix, nil
}

// soakState is what a soak keeps: an aggregator (constant memory), what
// each scenario's rounds said besides their records, and the counters of
// the progress display.
type soakState struct {
	agg   *results.Aggregator
	meter *meter
	shard results.Shard // which rounds are this soak's (zero: all)

	mu   sync.Mutex
	info map[string]*soakInfo
}

// soakInfo is what a soak learns of a scenario beyond its records.
type soakInfo struct {
	c        scenarios.Compiled
	s        scenarios.Scenario
	rounds   int
	partial  int // rounds cut short (the last one, a signal)
	restarts int
	notes    []string
	findings []results.Finding
}

func (st *soakState) add(r *results.Record) {
	st.agg.Add(r)
	st.meter.add(r)
}

// round notes round k of a scenario (of the whole soak, when sharded). A round that could not start is a
// failing finding (unless the soak itself was stopping); one cut short by
// the soak's end is counted as such: the verdict over all rounds comes
// from the records, judged once at the end.
func (st *soakState) round(c scenarios.Compiled, k int, rep harness.Report, err error, partial, stopping bool) {
	s := c.Scenario()
	st.mu.Lock()
	defer st.mu.Unlock()
	if stopping && (rep.Summary == nil || rep.Summary.Requests == 0) {
		return // the soak ended before this round sent anything
	}
	in := st.info[s.Name]
	if in == nil {
		in = &soakInfo{c: c, s: s}
		st.info[s.Name] = in
	}
	switch {
	case err != nil && rep.Summary == nil:
		in.findings = append(in.findings, results.Finding{Scenario: s.Name, Check: results.CheckInterrupted, Fail: true,
			Message: fmt.Sprintf("round %d (seed %d) could not start: %v", k, s.Seed+int64(k), err)})
		return
	case partial:
		in.partial++
	default:
		in.rounds++
	}
	in.restarts += rep.Restarts
	for _, n := range rep.Notes {
		if !slices.Contains(in.notes, n) {
			in.notes = append(in.notes, n)
		}
	}
	for _, f := range rep.Findings {
		if f.Check != results.CheckInterrupted && !slices.Contains(in.findings, f) {
			in.findings = append(in.findings, f)
		}
	}
}

// reached is the part of the mix the soak ran.
func (st *soakState) reached(mix []scenarios.Compiled) []scenarios.Compiled {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []scenarios.Compiled
	for _, c := range mix {
		if st.info[c.Name()] != nil {
			out = append(out, c)
		}
	}
	return out
}

// result is the soak's run: the aggregator's summaries of every round,
// each judged with its scenario's expectation.
func (st *soakState) result(run string) *results.RunResult {
	rr := st.agg.Close(run)
	st.mu.Lock()
	defer st.mu.Unlock()
	seen := map[string]bool{}
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		seen[sr.Scenario] = true
		if in := st.info[sr.Scenario]; in != nil {
			in.apply(sr, st.shard)
		}
	}
	// A scenario whose rounds never started has no records, so the
	// aggregator does not know it; its verdict must still be reported.
	for _, name := range slices.Sorted(maps.Keys(st.info)) {
		if !seen[name] {
			sr := results.ScenarioResult{Scenario: name, Summary: results.NewSummary(name)}
			st.info[name].apply(&sr, st.shard)
			rr.Scenarios = append(rr.Scenarios, sr)
		}
	}
	rr.Version = version()
	rr.Rejudge()
	return rr
}

// apply writes what the rounds said into sr; sh is the soak's shard.
func (in *soakInfo) apply(sr *results.ScenarioResult, sh results.Shard) {
	sr.Expectation = in.s.Expect.Clone()
	sr.Seed, sr.Layout = in.s.Seed, in.c.Layout()
	sr.Restarts = in.restarts
	seeds := fmt.Sprintf("seeds from %d", in.s.Seed)
	if sh.Count > 1 {
		seeds = fmt.Sprintf("seeds %d + %d, %d, %d, ... (shard %s)", in.s.Seed, sh.Round(0), sh.Round(1), sh.Round(2), sh)
	}
	sr.Notes = append(slices.Clone(in.notes), fmt.Sprintf("%d rounds (%d cut short by the soak's end), %s", in.rounds+in.partial, in.partial, seeds))
	sr.Findings = slices.Clone(in.findings)
}
