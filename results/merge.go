package results

import (
	"fmt"
	"slices"
	"strings"
)

// Merge combines runs (from several runners or machines, or a run killed
// before its summary and one that finished) into one. Scenarios with the
// same name merge their summaries exactly (histograms, series, failures)
// and are then judged again from the merged counts ([RunResult.Rejudge]):
// a verdict recorded by one source never hides a failure another source
// holds. A scenario's expectation is the first one recorded; sources that
// disagree about it make a failing finding. A run given twice (the same run
// id, and the same shard of it) is counted once, with a warning; the
// shards of one run share its id and are each counted ([MergeFiles]
// checks that they belong together). The gate's findings of the sources
// are not carried over: gate the merge itself. The inputs are not modified.
func Merge(runs ...*RunResult) (*RunResult, []Warning) {
	out := &RunResult{}
	var warns []Warning
	idx := map[string]int{}
	seen := map[string]string{} // run id (and shard) -> its first source
	var runIDs []string
	for _, rr := range runs {
		if rr == nil {
			continue
		}
		src := strings.Join(rr.Sources, ",")
		if rr.Run != "" {
			key, what := rr.Run, "run "+rr.Run
			if !rr.Shard.IsZero() {
				key += "\x00" + rr.Shard.String()
				what += " shard " + rr.Shard.String()
			}
			if first, dup := seen[key]; dup {
				warns = append(warns, Warning{File: src, Msg: fmt.Sprintf("%s was already merged from %s: counted once", what, first)})
				continue
			}
			seen[key] = src
			if !slices.Contains(runIDs, rr.Run) {
				runIDs = append(runIDs, rr.Run)
			}
		}
		if out.Version == "" {
			out.Version = rr.Version
		}
		out.Sources = append(out.Sources, rr.Sources...)
		for i := range rr.Scenarios {
			s := &rr.Scenarios[i]
			j, ok := idx[s.Scenario]
			if !ok {
				c := *s
				c.Expectation = s.Expectation.Clone()
				c.Notes = slices.Clone(s.Notes)
				c.Findings = slices.Clone(s.Findings)
				c.Summary = NewSummary(s.Scenario)
				c.Summary.KeepFailures = keepOf(s.Summary)
				if s.Summary != nil {
					c.Summary.Merge(s.Summary)
				}
				idx[s.Scenario] = len(out.Scenarios)
				out.Scenarios = append(out.Scenarios, c)
				continue
			}
			dst := &out.Scenarios[j]
			if s.Summary != nil {
				dst.Summary.Merge(s.Summary)
			}
			dst.Restarts += s.Restarts
			dst.Aborted += s.Aborted
			for _, n := range s.Notes {
				if !slices.Contains(dst.Notes, n) {
					dst.Notes = append(dst.Notes, n)
				}
			}
			for _, f := range s.Findings {
				if !slices.Contains(dst.Findings, f) {
					dst.Findings = append(dst.Findings, f)
				}
			}
			switch {
			case s.Expectation.Kind == "":
			case dst.Expectation.Kind == "":
				dst.Expectation = s.Expectation.Clone()
			case !dst.Expectation.Equal(s.Expectation):
				f := Finding{Scenario: s.Scenario, Check: CheckExpectation, Fail: true,
					Message: fmt.Sprintf("the merged sources expect different things (%s; %s)", dst.Expectation, s.Expectation)}
				if !slices.Contains(dst.Findings, f) {
					dst.Findings = append(dst.Findings, f)
				}
			}
		}
	}
	out.Run = strings.Join(runIDs, "+")
	out.Rejudge()
	return out, warns
}

func keepOf(s *Summary) int {
	if s == nil {
		return 0
	}
	return s.KeepFailures
}
