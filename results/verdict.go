package results

import (
	"fmt"
	"sync"
	"time"
)

// ScenarioResult is one scenario's verdict with its summary. The harness
// decides Met and says why in Reason; results stores and renders it.
type ScenarioResult struct {
	Scenario string `json:"scenario"`
	Expect   Expect `json:"expect"` // "complete" | "detect" | "" (unknown, e.g. merged records)
	// ExpectOutcome, for "detect": the outcome the defect must show as
	// ("" = any failure).
	ExpectOutcome Outcome `json:"expect_outcome,omitempty"`
	// ExpectSilent, for "detect": whether the caught failures must be
	// silent (true), must not be (false), or either (nil).
	ExpectSilent *bool `json:"expect_silent,omitempty"`

	Met    bool   `json:"met"`
	Reason string `json:"reason,omitempty"` // in words: "3 of 40 responses truncated silently"

	Faults string `json:"faults,omitempty"` // the scenario's fault specs, for the reader
	Seed   int64  `json:"seed,omitempty"`

	Summary *Summary `json:"summary"`
}

// Judge is a default verdict the harness may use (it is free to decide
// otherwise): for "complete", every response verified; for "detect", at
// least one request failed, with the expected outcome and silence when
// those are set. It returns Met and the reason in words.
func Judge(sr *ScenarioResult) (bool, string) {
	s := sr.Summary
	if s == nil || s.Requests == 0 {
		return false, "no requests were made"
	}
	switch sr.Expect {
	case ExpectComplete:
		if f := s.Failed(); f > 0 {
			return false, fmt.Sprintf("%d of %d responses failed to verify (%s), %d silently",
				f, s.Requests, outcomeList(s), s.Silent)
		}
		return true, fmt.Sprintf("all %d responses verified", s.Requests)
	case ExpectDetect:
		want := s.Failed()
		what := "failed"
		if sr.ExpectOutcome != "" {
			want = s.Outcomes[sr.ExpectOutcome]
			what = string(sr.ExpectOutcome)
		}
		if want == 0 {
			return false, fmt.Sprintf("defect not detected: no %s response in %d (%s)", what, s.Requests, outcomeList(s))
		}
		if sr.ExpectSilent != nil {
			if *sr.ExpectSilent && s.Silent == 0 {
				return false, fmt.Sprintf("defect detected (%d %s) but none was silent", want, what)
			}
			if !*sr.ExpectSilent && s.Silent > 0 {
				return false, fmt.Sprintf("defect detected (%d %s) but %d failures were silent", want, what, s.Silent)
			}
		}
		return true, fmt.Sprintf("defect detected: %d of %d %s, %d silent", want, s.Requests, what, s.Silent)
	}
	return false, fmt.Sprintf("no expectation recorded (%s)", outcomeList(s))
}

func outcomeList(s *Summary) string {
	out := ""
	for _, o := range allOutcomes {
		if n := s.Outcomes[o]; n > 0 {
			if out != "" {
				out += ", "
			}
			out += fmt.Sprintf("%d %s", n, o)
		}
	}
	if out == "" {
		return "none"
	}
	return out
}

// RunResult is a whole run: every scenario's verdict and the total. It is
// what the summary JSON holds and what every encoder renders.
type RunResult struct {
	Run       string           `json:"run,omitempty"`     // run id
	Created   time.Time        `json:"created,omitzero"`  // when the summary was written
	Sources   []string         `json:"sources,omitempty"` // files merged into it, if any
	Scenarios []ScenarioResult `json:"scenarios"`
	Total     *Summary         `json:"total"`
}

// NewRunResult builds a run from its scenario results, closing each
// summary and merging them into the total.
func NewRunResult(run string, scenarios []ScenarioResult) *RunResult {
	rr := &RunResult{Run: run, Scenarios: scenarios}
	rr.Retotal()
	return rr
}

// Retotal recomputes Total from the scenario summaries.
func (rr *RunResult) Retotal() {
	total := NewSummary("")
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		if sr.Summary == nil {
			sr.Summary = NewSummary(sr.Scenario)
		}
		sr.Summary.Close()
		total.Merge(sr.Summary)
	}
	total.Scenario = ""
	total.Close()
	rr.Total = total
}

// Met reports whether every scenario met its expectation. A scenario with
// an unknown expectation ("", e.g. merged from records alone) counts
// against it only if it has silent failures: those are findings whatever
// the scenario meant to show.
func (rr *RunResult) Met() bool {
	for _, sr := range rr.Scenarios {
		switch {
		case sr.Expect == "" && sr.Summary != nil && sr.Summary.Silent > 0:
			return false
		case sr.Expect != "" && !sr.Met:
			return false
		}
	}
	return true
}

// Aggregator groups records by scenario into summaries. Unlike a bare
// [Summary] it is safe for concurrent use, so request goroutines can Add
// directly. Like Summary its memory does not grow with the number of
// records.
type Aggregator struct {
	mu    sync.Mutex
	keep  int
	order []string
	by    map[string]*Summary
}

// NewAggregator returns an aggregator keeping keepFailures failing records
// per scenario (0 => DefaultKeepFailures, < 0 => none).
func NewAggregator(keepFailures int) *Aggregator {
	return &Aggregator{keep: keepFailures, by: map[string]*Summary{}}
}

// Add counts one record in its scenario's summary.
func (a *Aggregator) Add(r *Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.by[r.Scenario]
	if !ok {
		s = NewSummary(r.Scenario)
		s.KeepFailures = a.keep
		a.by[r.Scenario] = s
		a.order = append(a.order, r.Scenario)
	}
	s.Add(r)
}

// Close returns the run, scenarios in first-seen order, with unknown
// expectations (records carry none): set Expect/Met/Reason on the result,
// or use [Judge], when the expectations are known.
func (a *Aggregator) Close(run string) *RunResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	srs := make([]ScenarioResult, 0, len(a.order))
	for _, name := range a.order {
		srs = append(srs, ScenarioResult{Scenario: name, Summary: a.by[name]})
	}
	return NewRunResult(run, srs)
}

// Snapshot returns a copy of the run so far, safe to read and render while
// Adds continue (for a soak's status line or a periodic report). The
// copies are deep: later Adds do not change them.
func (a *Aggregator) Snapshot(run string) *RunResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	srs := make([]ScenarioResult, 0, len(a.order))
	for _, name := range a.order {
		c := NewSummary(name)
		c.KeepFailures = a.keep
		c.Merge(a.by[name])
		srs = append(srs, ScenarioResult{Scenario: name, Summary: c})
	}
	return NewRunResult(run, srs)
}

// Summarize aggregates a slice of records (a convenience for tests and
// small files; stream with [Scan] and an [Aggregator] for large ones).
func Summarize(run string, records []Record) *RunResult {
	a := NewAggregator(0)
	for i := range records {
		a.Add(&records[i])
	}
	return a.Close(run)
}
