package results

import (
	"fmt"
	"sort"
	"time"
)

// Tolerance bounds how much worse a run may be than its baseline before
// the gate fails. The complete-rate check is on by default; the latency and
// throughput checks are opt-in (timing on shared machines is noisy) and
// never fire on samples smaller than MinRequests. A negative value turns a
// check off.
type Tolerance struct {
	// CompleteRateDrop is the largest allowed drop of a scenario's
	// complete rate, as a fraction (0.01 = one percentage point).
	// 0 => 0.001. Applies to scenarios expecting "complete" (or unknown).
	CompleteRateDrop float64 `json:"complete_rate_drop"`
	// P99Ratio, when > 0, is the largest allowed run/baseline ratio of p99
	// latency; 0 => not checked.
	P99Ratio float64 `json:"p99_ratio,omitempty"`
	// P99Slack is added to the baseline p99 before the ratio is applied,
	// so microsecond jitter on tiny latencies does not fail the gate.
	// 0 => 5ms.
	P99Slack time.Duration `json:"p99_slack_ns,omitempty"`
	// ThroughputRatio, when > 0, is the smallest allowed run/baseline ratio
	// of verified MB/s; 0 => not checked.
	ThroughputRatio float64 `json:"throughput_ratio,omitempty"`
	// MinRequests: latency and throughput are compared only when both
	// sides have at least this many requests. 0 => 100 (a p99 of fewer
	// samples is one outlier).
	MinRequests int64 `json:"min_requests,omitempty"`
	// RequireAll makes a baseline scenario missing from the run fail the
	// gate; by default it is a note, so a gate can run a subset.
	RequireAll bool `json:"require_all,omitempty"`
}

// DefaultTolerance is the zero Tolerance with its defaults filled in.
func DefaultTolerance() Tolerance { return Tolerance{}.withDefaults() }

func (t Tolerance) withDefaults() Tolerance {
	if t.CompleteRateDrop == 0 {
		t.CompleteRateDrop = 0.001
	}
	if t.P99Slack == 0 {
		t.P99Slack = 5 * time.Millisecond
	}
	if t.MinRequests == 0 {
		t.MinRequests = 100
	}
	return t
}

// Check names what a finding is about.
type Check string

// The checks [Compare] makes.
const (
	CheckSilent       Check = "silent"      // a silent failure where none is expected
	CheckExpectation  Check = "expectation" // an expectation not met
	CheckCompleteRate Check = "complete-rate"
	CheckP99          Check = "p99-latency"
	CheckThroughput   Check = "throughput"
	CheckMissing      Check = "missing" // in the baseline, not in the run (fails with RequireAll)
	CheckEmpty        Check = "empty"   // the run made no requests at all
	CheckNew          Check = "new"     // in the run, not in the baseline (informational)
	// The harness's own findings about a scenario (ScenarioResult.Findings).
	CheckReference   Check = "reference"   // a clean reference fetch was cut, or reference fetches disagreed
	CheckInterrupted Check = "interrupted" // the run stopped before the scenario ended
)

// Finding is one thing the gate found. Fail findings fail the gate; the
// others are notes.
type Finding struct {
	Scenario string `json:"scenario"`
	Check    Check  `json:"check"`
	Fail     bool   `json:"fail"`
	Message  string `json:"message"`
}

// String renders "FAIL scenario: message" (or "note ...").
func (f Finding) String() string {
	w := "note"
	if f.Fail {
		w = "FAIL"
	}
	return fmt.Sprintf("%s %s [%s]: %s", w, f.Scenario, f.Check, f.Message)
}

// Failed reports whether any finding fails the gate.
func Failed(fs []Finding) bool {
	for _, f := range fs {
		if f.Fail {
			return true
		}
	}
	return false
}

// Compare gates run against baseline (which may be nil: then only the
// run's own checks apply). The gate fails on:
//   - a run with no requests at all;
//   - any silent failure in a scenario not expecting "detect" (a detect
//     scenario exists to produce silent truncations and catch them);
//   - any expectation not met;
//   - a scenario of the baseline missing from the run, with
//     [Tolerance.RequireAll] (a note otherwise);
//   - a regression beyond tol: complete-rate drop, and when enabled the p99
//     latency ratio and the verified-throughput ratio.
//
// Store the findings in the run (RunResult.Findings, Gated) so the verdict,
// summary.json, JUnit and HTML carry them.
//
// Findings come in scenario order of the run, then missing scenarios.
func Compare(run, baseline *RunResult, tol Tolerance) []Finding {
	tol = tol.withDefaults()
	var out []Finding
	base := map[string]*ScenarioResult{}
	if baseline != nil {
		for i := range baseline.Scenarios {
			base[baseline.Scenarios[i].Scenario] = &baseline.Scenarios[i]
		}
	}
	if run.Total == nil || run.Total.Requests == 0 {
		out = append(out, Finding{Scenario: "(run)", Check: CheckEmpty, Fail: true, Message: "the run made no requests"})
	}
	seen := map[string]bool{}
	for i := range run.Scenarios {
		sr := &run.Scenarios[i]
		seen[sr.Scenario] = true
		s := sr.Summary
		if s == nil {
			s = NewSummary(sr.Scenario)
		}
		add := func(c Check, fail bool, format string, args ...any) {
			out = append(out, Finding{Scenario: sr.Scenario, Check: c, Fail: fail, Message: fmt.Sprintf(format, args...)})
		}
		kind := sr.Expectation.Kind
		if s.Silent > 0 && kind != ExpectDetect {
			add(CheckSilent, true, "%d of %d responses failed silently (%s)", s.Silent, s.Requests, outcomeList(s))
		}
		if !sr.Met {
			add(CheckExpectation, true, "expected %s: %s", sr.Expectation, sr.Reason)
		}
		b, ok := base[sr.Scenario]
		if baseline == nil {
			continue
		}
		if !ok || b.Summary == nil {
			add(CheckNew, false, "not in the baseline; nothing to compare")
			continue
		}
		bs := b.Summary
		if tol.CompleteRateDrop >= 0 && kind != ExpectDetect && s.Requests > 0 && bs.Requests > 0 {
			if drop := bs.CompleteRate() - s.CompleteRate(); drop > tol.CompleteRateDrop {
				add(CheckCompleteRate, true, "complete rate %.2f%%, baseline %.2f%% (drop %.2f points, tolerance %.2f)",
					100*s.CompleteRate(), 100*bs.CompleteRate(), 100*drop, 100*tol.CompleteRateDrop)
			}
		}
		enough := s.Requests >= tol.MinRequests && bs.Requests >= tol.MinRequests
		if tol.P99Ratio > 0 && enough && bs.Latency.P99 > 0 {
			limit := time.Duration(float64(bs.Latency.P99+tol.P99Slack) * tol.P99Ratio)
			if s.Latency.P99 > limit {
				add(CheckP99, true, "p99 latency %s, baseline %s (ratio %.2f, tolerance %.2f plus %s)",
					roundDur(s.Latency.P99), roundDur(bs.Latency.P99),
					float64(s.Latency.P99)/float64(bs.Latency.P99), tol.P99Ratio, roundDur(tol.P99Slack))
			}
		}
		if tol.ThroughputRatio > 0 && enough && bs.VerifiedMBps > 0 && kind != ExpectDetect {
			if r := s.VerifiedMBps / bs.VerifiedMBps; r < tol.ThroughputRatio {
				add(CheckThroughput, true, "verified %.1f MB/s, baseline %.1f MB/s (ratio %.2f, tolerance %.2f)",
					s.VerifiedMBps, bs.VerifiedMBps, r, tol.ThroughputRatio)
			}
		}
	}
	var missing []string
	for name := range base {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	for _, name := range missing {
		out = append(out, Finding{Scenario: name, Check: CheckMissing, Fail: tol.RequireAll, Message: "in the baseline but not in this run"})
	}
	return out
}
