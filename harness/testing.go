package harness

import (
	"testing"

	"github.com/truncheck/truncheck/scenarios"
)

// Run runs one scenario from a Go test and fails the test with a readable
// account (the table row, the notes, the first failing requests with
// offsets, server accounts and timelines) when the expectation is not met.
// A detect scenario whose defect goes undetected fails. The report is
// returned for further checks. Run uses t.Context(), so the run stops when
// the test ends.
func Run(t testing.TB, s scenarios.Scenario, opts ...Options) Report {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	rep, err := RunScenario(t.Context(), s, o)
	if err != nil {
		t.Fatalf("scenario %s could not run: %v\n%s", s.Name, err, rep.Text())
		return rep
	}
	if !rep.Met {
		t.Errorf("scenario %s: expectation %s not met\n%s", s.Name, s.Expect, rep.Text())
	} else {
		t.Logf("%s: %s", s.Name, rep.Reason)
	}
	return rep
}
