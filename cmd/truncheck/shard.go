package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

// indexEnv is the variable a Kubernetes Indexed Job sets in each pod: the
// pod's completion index, from 0.
const indexEnv = "JOB_COMPLETION_INDEX"

// shardOptions are the flags that make run, soak or check one shard of a
// run split across processes or machines. What each shard does is
// results.Shard's to say; this only reads the flags and the environment.
type shardOptions struct {
	shard  *string
	shards *int
	runID  *string
}

func shardFlags(fs *flag.FlagSet) shardOptions {
	return shardOptions{
		shard: fs.String("shard", "", "be shard K of N of the run, e.g. 1/4 (K from 0, like "+indexEnv+"): a deterministic, disjoint part of\n"+
			"the work; N shards given the same scenarios, flags and --run-id do together what one run does, each part once.\n"+
			"Needs --run-id. Results go to OUT/shard-K-of-N (--out is the run's directory, shared by its shards);\n"+
			"truncheck report OUT merges them into one verdict. Without --shard: "+indexEnv+" with --shards"),
		shards: fs.Int("shards", 0, "the shard count when the shard's index comes from "+indexEnv+" (a Kubernetes Indexed Job: its completions)"),
		runID: fs.String("run-id", "", "the run's id, the same for all of its shards (needed with a shard: e.g. the Job's uid, the CI run's id);\n"+
			"1 to 128 of A-Z a-z 0-9 . _ - (default: <command>-<UTC time>)"),
	}
}

// stamp names the run an invocation belongs to and the part of it that it
// does: the zero stamp is a whole run with an id made from the time.
type stamp struct {
	run   string
	shard results.Shard
	// replay: a replay of one shard's directory, which reproduces that
	// shard alone and needs no run id shared with other shards.
	replay bool
}

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// stamp reads --shard, or JOB_COMPLETION_INDEX (through getenv) with
// --shards, and --run-id.
func (o shardOptions) stamp(getenv func(string) string) (stamp, error) {
	st := stamp{run: *o.runID}
	if st.run != "" && !runIDPattern.MatchString(st.run) {
		return stamp{}, usagef("--run-id %q: accepted: 1 to 128 of A-Z a-z 0-9 . _ - , not starting with . or - (it names directories)", st.run)
	}
	if *o.shards < 0 {
		return stamp{}, usagef("--shards %d: accepted: 1 to %d", *o.shards, results.MaxShards)
	}
	switch index := getenv(indexEnv); {
	case *o.shard != "":
		if *o.shards != 0 {
			return stamp{}, usagef("--shard %s already says how many shards: drop --shards (it goes with %s)", *o.shard, indexEnv)
		}
		sh, err := results.ParseShard(*o.shard)
		if err != nil {
			return stamp{}, usagef("--%v", err)
		}
		st.shard = sh
	case index != "":
		if *o.shards == 0 {
			return stamp{}, usagef("%s=%s is set (a pod of a Kubernetes Indexed Job) but not the shard count: add --shards N (the Job's completions), or give --shard K/N", indexEnv, index)
		}
		k, err := strconv.Atoi(index)
		if err != nil {
			return stamp{}, usagef("%s=%q: not a shard index (accepted: 0 to %d)", indexEnv, index, *o.shards-1)
		}
		st.shard = results.Shard{Index: k, Count: *o.shards}
		if err := st.shard.Validate(); err != nil {
			return stamp{}, usagef("%s=%s with --shards %d: %v", indexEnv, index, *o.shards, err)
		}
	case *o.shards != 0:
		return stamp{}, usagef("--shards %d needs %s (set in the pods of a Kubernetes Indexed Job); elsewhere give --shard K/N", *o.shards, indexEnv)
	}
	return st, nil
}

// check refuses a fresh shard without a run id: the merge tells one run's
// shards from another's by it.
func (st stamp) check() error {
	if !st.shard.IsZero() && st.run == "" && !st.replay {
		return usagef("--shard %s needs --run-id: every shard of one run carries the same id (e.g. the Job's uid, the CI run's id), so that the merge can tell its shards from another run's", st.shard)
	}
	return nil
}

// dir is the invocation's results directory: a shard writes into its own
// directory inside the run's (out, or out/<run id>).
func (st stamp) dir(out, run string) string {
	if out == "" {
		out = filepath.Join("out", run)
	}
	if st.shard.IsZero() {
		return out
	}
	return filepath.Join(out, st.shard.Dir())
}

// share is the part of list this shard sends requests of. A scenario
// bounded by its count whose sequence numbers all belong to other shards
// (fewer requests than shards) is left out: it would judge an empty run
// here, and the shards that own its requests judge them. One bounded by
// time alone runs on every shard, each with its own sequence numbers.
func share(list []scenarios.Compiled, sh results.Shard) []scenarios.Compiled {
	if sh.IsZero() {
		return list
	}
	var out []scenarios.Compiled
	for _, c := range list {
		if n := c.Scenario().Count; n == 0 || sh.Share(c.Name(), n) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// replayedShard is the shard a results directory's plan says it was; zero
// for a whole run, a records file or a directory without a plan.
func replayedShard(path string) results.Shard {
	plan, err := results.ReadPlan(path)
	if err != nil {
		return results.Shard{}
	}
	return plan.Shard
}

// gate refuses --gate on a shard (out is --out): the gate judges a
// whole run.
func (st stamp) gate(on bool, out string) error {
	if on && !st.shard.IsZero() && !st.replay {
		return usagef("--gate judges a whole run, not shard %s: gate the merge (truncheck report --gate %s)", st.shard, filepath.Dir(st.dir(out, st.run)))
	}
	return nil
}

// exit is the exit of an invocation whose run is rr (one a signal stopped
// exits 130 before this is asked): a whole run and the replay of a shard
// exit by their verdict; a shard that did its part exits 0 whatever its
// part shows. A part is judged alone for its reader, and a detect
// scenario's part may hold none of the defect the whole run shows; the
// run's verdict, and its exit 1, are the merge's (truncheck report). So a
// scheduler retries a shard only when its part is not done, and never
// rewrites a finished part's evidence.
func (st stamp) exit(rr *results.RunResult) error {
	if st.shard.IsZero() || st.replay {
		return verdictErr(rr)
	}
	return nil
}

// shardNote says, after a shard's table, what the table is and where the
// run's verdict comes from.
func shardNote(st stamp, dir string) string {
	if st.shard.IsZero() {
		return ""
	}
	return fmt.Sprintf("shard %s of run %s: this table judges its part alone (a detect scenario's part may not show the defect);\n"+
		"the run's verdict: truncheck report %s\n", st.shard, st.run, filepath.Dir(dir))
}
