package results

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// run builds a one-scenario run with n requests of which bad are
// truncated (silent or not), each taking lat.
func run(name string, expect Expect, n, bad int64, silent bool, lat time.Duration) *RunResult {
	s := NewSummary(name)
	for i := range n {
		o := Complete
		if i < bad {
			o = Truncated
		}
		r := rec(name, i, o)
		if o == Truncated {
			r.Silence = SilenceNoticed
			if silent {
				r.Silence = SilenceSilent
			}
		}
		r.Latency = lat
		s.Add(&r)
	}
	s.Close()
	sr := ScenarioResult{Scenario: name, Expectation: Expectation{Kind: expect}, Summary: s}
	if expect == ExpectDetect {
		sr.Expectation.Outcomes = []Outcome{Truncated}
	}
	return NewRunResult("r", []ScenarioResult{sr})
}

func TestCompare(t *testing.T) {
	ms := time.Millisecond
	base := run("a", ExpectComplete, 100, 0, false, 20*ms)
	tests := []struct {
		name      string
		run       *RunResult
		baseline  *RunResult
		tol       Tolerance
		wantFail  bool
		wantCheck []Check
	}{
		{name: "same as baseline", run: run("a", ExpectComplete, 100, 0, false, 20*ms), baseline: base},
		{name: "no baseline, clean", run: run("a", ExpectComplete, 100, 0, false, 20*ms)},
		{name: "silent truncation fails even without baseline", run: run("a", ExpectComplete, 100, 1, true, 20*ms),
			wantFail: true, wantCheck: []Check{CheckSilent, CheckExpectation}},
		{name: "loud truncation: expectation and complete rate", run: run("a", ExpectComplete, 100, 1, false, 20*ms), baseline: base,
			wantFail: true, wantCheck: []Check{CheckExpectation, CheckCompleteRate}},
		{name: "complete-rate drop within tolerance", run: run("a", "", 100, 1, false, 20*ms), baseline: base,
			tol: Tolerance{CompleteRateDrop: 0.02}},
		{name: "complete-rate check off", run: run("a", "", 100, 1, false, 20*ms), baseline: base,
			tol: Tolerance{CompleteRateDrop: -1}},
		{name: "detect scenario's silent truncations are its point", run: run("d", ExpectDetect, 50, 10, true, 20*ms),
			baseline: run("d", ExpectDetect, 50, 10, true, 20*ms)},
		{name: "detect scenario that caught nothing", run: run("d", ExpectDetect, 50, 0, false, 20*ms),
			baseline: run("d", ExpectDetect, 50, 10, true, 20*ms), wantFail: true, wantCheck: []Check{CheckExpectation}},
		{name: "p99 not checked unless asked", run: run("a", ExpectComplete, 100, 0, false, 60*ms), baseline: base},
		{name: "p99 regression", run: run("a", ExpectComplete, 100, 0, false, 60*ms), baseline: base,
			tol: Tolerance{P99Ratio: 1.5}, wantFail: true, wantCheck: []Check{CheckP99}},
		{name: "p99 within ratio", run: run("a", ExpectComplete, 100, 0, false, 30*ms), baseline: base, tol: Tolerance{P99Ratio: 1.5}},
		{name: "p99 loose tolerance", run: run("a", ExpectComplete, 100, 0, false, 60*ms), baseline: base,
			tol: Tolerance{P99Ratio: 3}},
		{name: "too few requests for latency", run: run("a", ExpectComplete, 99, 0, false, 60*ms),
			baseline: run("a", ExpectComplete, 99, 0, false, 20*ms), tol: Tolerance{P99Ratio: 1.5, ThroughputRatio: 0.9}},
		{name: "empty run fails", run: NewRunResult("r", nil), baseline: base,
			wantFail: true, wantCheck: []Check{CheckEmpty, CheckMissing}},
		{name: "new scenario is a note", run: run("b", ExpectComplete, 100, 0, false, 20*ms), baseline: base,
			wantCheck: []Check{CheckNew, CheckMissing}},
		{name: "missing scenario fails with RequireAll", run: run("b", ExpectComplete, 100, 0, false, 20*ms), baseline: base,
			tol: Tolerance{RequireAll: true}, wantFail: true, wantCheck: []Check{CheckNew, CheckMissing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Compare(tt.run, tt.baseline, tt.tol)
			var checks []Check
			for _, f := range fs {
				checks = append(checks, f.Check)
				assert.NotEmpty(t, f.Message)
				assert.Contains(t, f.String(), string(f.Check))
			}
			assert.Equal(t, tt.wantCheck, checks, "%v", fs)
			assert.Equal(t, tt.wantFail, Failed(fs), "%v", fs)
		})
	}
}

func TestCompareThroughput(t *testing.T) {
	base := run("a", ExpectComplete, 100, 0, false, 20*time.Millisecond)
	slow := run("a", ExpectComplete, 100, 0, false, 20*time.Millisecond)
	slow.Scenarios[0].Summary.VerifiedMBps = base.Scenarios[0].Summary.VerifiedMBps / 3
	fs := Compare(slow, base, Tolerance{ThroughputRatio: 0.5})
	require.Len(t, fs, 1)
	assert.Equal(t, CheckThroughput, fs[0].Check)
	assert.Contains(t, fs[0].Message, "ratio 0.33")
	assert.Empty(t, Compare(slow, base, Tolerance{}), "throughput is not checked unless asked")
}

func TestDefaultTolerance(t *testing.T) {
	d := DefaultTolerance()
	assert.Equal(t, 0.001, d.CompleteRateDrop)
	assert.Zero(t, d.P99Ratio, "latency gate is opt-in")
	assert.Equal(t, 5*time.Millisecond, d.P99Slack)
	assert.Zero(t, d.ThroughputRatio, "throughput gate is opt-in")
	assert.Equal(t, int64(100), d.MinRequests)
}
