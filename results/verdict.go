package results

import (
	"strings"
	"sync"
	"time"
)

// ScenarioResult is one scenario's verdict with its summary. Its verdict
// (Met, Reason) is always [ScenarioResult.Judge] of its expectation, its
// summary and its findings: one judge for a run, a merge and a report.
type ScenarioResult struct {
	Scenario    string      `json:"scenario"`
	Expectation Expectation `json:"expectation"`

	Met    bool   `json:"met"`
	Reason string `json:"reason,omitempty"` // in words: "3 of 40 responses truncated silently"

	Faults string `json:"faults,omitempty"` // the scenario's faults per hop side, canonical
	Seed   int64  `json:"seed"`
	Layout string `json:"layout,omitempty"` // the chain of tiers, e.g. "client-tcp>proxy-tcp>target"
	// Restarts and Aborted: restarts made during the run, requests cut short
	// by the caller (not counted).
	Restarts int `json:"restarts,omitempty"`
	Aborted  int `json:"aborted,omitempty"`
	// Notes are what a reader must know to trust the numbers: a proxy put in
	// front of the target (it adds socket buffers), references that could
	// not be had, evidence that rests on framing only.
	Notes []string `json:"notes,omitempty"`
	// Findings are the harness's own findings about the scenario (a clean
	// reference fetch the target cut, a run interrupted before its end);
	// a failing one fails the scenario whatever its counts.
	Findings []Finding `json:"findings,omitempty"`

	Summary *Summary `json:"summary"`
}

// Judge sets Met and Reason from the expectation, the summary and the
// findings, and returns the judgement.
func (sr *ScenarioResult) Judge() Judgement {
	j := sr.Expectation.Judge(sr.Summary)
	for _, f := range sr.Findings {
		if f.Fail {
			if j.Met {
				j.Reason = f.Message
			} else if !strings.Contains(j.Reason, f.Message) {
				j.Reason += "; " + f.Message
			}
			j.Met = false
		}
	}
	sr.Met, sr.Reason = j.Met, j.Reason
	return j
}

func outcomeList(s *Summary) string {
	out := countList(s.Outcomes)
	if out == "" {
		return "none"
	}
	return out
}

// RunResult is a whole run: every scenario's verdict, the gate's findings
// and the total. It is what summary.json holds and what every encoder
// renders.
type RunResult struct {
	Run     string    `json:"run,omitempty"`     // run id
	Version string    `json:"version,omitempty"` // truncheck's version that made it
	Created time.Time `json:"created,omitzero"`  // when the summary was written
	Sources []string  `json:"sources,omitempty"` // files merged into it, if any
	// Shard is the part of a sharded run this result holds (a shard's own
	// summary); zero for a whole run and for the merge of a run's shards.
	Shard Shard `json:"shard,omitzero"`
	// Verdict is PASS or FAIL: every scenario met and no failing gate
	// finding. Set by [RunResult.Rejudge].
	Verdict   string           `json:"verdict,omitempty"`
	Scenarios []ScenarioResult `json:"scenarios"`
	// Gated says the run went through the gate ([Compare]); Findings are the
	// gate's, failing ones fail the run.
	Gated    bool      `json:"gated,omitempty"`
	Findings []Finding `json:"findings,omitempty"`
	Total    *Summary  `json:"total"`
	// Grid, when set, lays the scenarios out as rows by columns (the
	// field survey's servers by conditions); reports render it first.
	Grid *Grid `json:"grid,omitempty"`
}

// NewRunResult builds a run from its scenario results: each is judged and
// its summary closed and merged into the total.
func NewRunResult(run string, scenarios []ScenarioResult) *RunResult {
	rr := &RunResult{Run: run, Scenarios: scenarios}
	rr.Rejudge()
	return rr
}

// Rejudge judges every scenario again from its summary, recomputes the
// total and sets the verdict.
func (rr *RunResult) Rejudge() {
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		if sr.Summary == nil {
			sr.Summary = NewSummary(sr.Scenario)
		}
		sr.Summary.Close()
		sr.Judge()
	}
	rr.Retotal()
	rr.Verdict = "FAIL"
	if rr.Met() {
		rr.Verdict = "PASS"
	}
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

// Met reports whether every scenario met its expectation and no gate
// finding failed. A scenario with an unknown expectation (records merged
// without any) fails only on silent failures.
func (rr *RunResult) Met() bool {
	for _, sr := range rr.Scenarios {
		if !sr.Met {
			return false
		}
	}
	return !Failed(rr.Findings)
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
// expectations (records carry none): set each Expectation and call
// [RunResult.Rejudge] when they are known.
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
