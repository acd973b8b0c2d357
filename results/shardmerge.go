package results

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// CheckShards is what a merge of a sharded run finds about its shards: a
// shard missing or unfinished (failing), and the shards merged (a note).
const CheckShards Check = "shards"

// checkShards checks, from their plans alone, that sharded sources are
// the shards of one run, each once: sources without a shard among them,
// or none sharded at all, are whole runs with nothing to check. It sorts
// the shards by index, so a merge reads them in the run's order whatever
// order they were given in.
func checkShards(srcs []*source) ([]Warning, error) {
	first := firstShard(srcs)
	if first == nil {
		return nil, nil
	}
	fp := first.plan
	var warns []Warning
	by := map[int]*source{}
	for _, s := range srcs {
		p := s.plan
		if p == nil || p.Shard.IsZero() {
			return nil, fmt.Errorf("results: %s is not a shard's results directory (no shard in a %s) but %s is shard %s of run %q: "+
				"a run's shards merge from their directories only (accepted: DIR/shard-K-of-N, or the run's directory holding them; or whole runs only)",
				s.path, PlanFile, first.path, fp.Shard, fp.Run)
		}
		switch {
		case p.Run != fp.Run:
			return nil, fmt.Errorf("results: shards of two runs: %s is shard %s of run %q, %s is shard %s of run %q "+
				"(accepted: the shards of one run; report each run on its own)", first.path, fp.Shard, fp.Run, s.path, p.Shard, p.Run)
		case p.Shard.Count != fp.Shard.Count:
			return nil, fmt.Errorf("results: run %q split two ways: %s is shard %s, %s is shard %s "+
				"(accepted: every shard of a run with the same count)", fp.Run, first.path, fp.Shard, s.path, p.Shard)
		case p.Command != fp.Command:
			return nil, fmt.Errorf("results: run %q: %s ran %q, %s ran %q (accepted: every shard of a run the same command)",
				fp.Run, first.path, fp.Command, s.path, p.Command)
		case p.ScenarioSet != fp.ScenarioSet:
			return nil, fmt.Errorf("results: run %q: shards %s (%s) and %s (%s) ran different scenario sets (%s, %s): "+
				"their scenarios, seeds, counts or flags differ (accepted: every shard with the same scenarios and flags)",
				fp.Run, fp.Shard, first.path, p.Shard, s.path, orNone(fp.ScenarioSet), orNone(p.ScenarioSet))
		}
		if p.Version != fp.Version {
			warns = append(warns, Warning{File: s.path, Msg: fmt.Sprintf("shard %s ran truncheck %s, shard %s ran %s", p.Shard, p.Version, fp.Shard, fp.Version)})
		}
		if prev, dup := by[p.Shard.Index]; dup {
			if !sameFile(prev.path, s.path) {
				return nil, fmt.Errorf("results: shard %s of run %q given twice: %s and %s "+
					"(accepted: each shard once; a shard run again rewrites its own directory)", p.Shard, p.Run, prev.path, s.path)
			}
			continue // the same directory twice: Merge counts it once, with a warning
		}
		by[p.Shard.Index] = s
	}
	slices.SortStableFunc(srcs, func(a, b *source) int { return a.plan.Shard.Index - b.plan.Shard.Index })
	return warns, nil
}

func firstShard(srcs []*source) *source {
	for _, s := range srcs {
		if s.plan != nil && !s.plan.Shard.IsZero() {
			return s
		}
	}
	return nil
}

// shardFindings says which shards of the loaded shards of one run
// (checkShards passed) are missing or unfinished, and which were merged.
func shardFindings(srcs []*source) []Finding {
	first := firstShard(srcs)
	if first == nil {
		return nil
	}
	fp := first.plan
	n := fp.Shard.Count
	by := map[int]*source{}
	for _, s := range srcs {
		if _, dup := by[s.plan.Shard.Index]; !dup {
			by[s.plan.Shard.Index] = s
		}
	}
	var out []Finding
	var missing []string
	for i := range n {
		if by[i] == nil {
			missing = append(missing, Shard{Index: i, Count: n}.String())
		}
	}
	if len(missing) > 0 {
		out = append(out, Finding{Scenario: "(run)", Check: CheckShards, Fail: true,
			Message: fmt.Sprintf("%d of %d shards of run %s missing (%s): the verdict needs every shard; a missing one is not a smaller sample",
				len(missing), n, fp.Run, strings.Join(missing, ", "))})
	}
	for i := range n {
		s := by[i]
		if s == nil || s.finished {
			continue
		}
		out = append(out, Finding{Scenario: "(run)", Check: CheckShards, Fail: true,
			Message: fmt.Sprintf("shard %s did not finish: %s has no %s (killed, or still running); its %d requests are merged, the rest of its part is missing",
				s.plan.Shard, s.path, SummaryFile, s.rr.Total.Requests)})
	}
	return append(out, Finding{Scenario: "(run)", Check: CheckShards,
		Message: fmt.Sprintf("%d of %d shards of run %s merged (%s, scenario set %s)", len(by), n, fp.Run, fp.Command, orNone(fp.ScenarioSet))})
}

// sameFile says whether two paths name the same file or directory.
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}
