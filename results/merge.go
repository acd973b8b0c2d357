package results

import (
	"slices"
	"strings"
)

// Merge combines runs (from several runners or machines) into one.
// Scenarios with the same name merge their summaries exactly (histograms,
// series, failures); their verdicts combine conservatively: Met only if
// met everywhere it was judged, the expectation being the first one
// recorded, and the distinct reasons joined. The inputs are not modified.
func Merge(runs ...*RunResult) *RunResult {
	out := &RunResult{}
	idx := map[string]int{}
	var runIDs []string
	for _, rr := range runs {
		if rr == nil {
			continue
		}
		if rr.Run != "" && !slices.Contains(runIDs, rr.Run) {
			runIDs = append(runIDs, rr.Run)
		}
		out.Sources = append(out.Sources, rr.Sources...)
		for i := range rr.Scenarios {
			src := &rr.Scenarios[i]
			j, ok := idx[src.Scenario]
			if !ok {
				c := *src
				c.Summary = NewSummary(src.Scenario)
				c.Summary.KeepFailures = keepOf(src.Summary)
				if src.Summary != nil {
					c.Summary.Merge(src.Summary)
				}
				idx[src.Scenario] = len(out.Scenarios)
				out.Scenarios = append(out.Scenarios, c)
				continue
			}
			dst := &out.Scenarios[j]
			if src.Summary != nil {
				dst.Summary.Merge(src.Summary)
			}
			if dst.Expect == "" {
				dst.Expect, dst.ExpectOutcome, dst.ExpectSilent = src.Expect, src.ExpectOutcome, src.ExpectSilent
				dst.Met, dst.Reason = src.Met, src.Reason
				continue
			}
			if src.Expect == "" {
				continue
			}
			dst.Met = dst.Met && src.Met
			if src.Reason != "" && !strings.Contains(dst.Reason, src.Reason) {
				if dst.Reason != "" {
					dst.Reason += "; "
				}
				dst.Reason += src.Reason
			}
		}
	}
	out.Run = strings.Join(runIDs, "+")
	out.Retotal()
	return out
}

func keepOf(s *Summary) int {
	if s == nil {
		return 0
	}
	return s.KeepFailures
}
