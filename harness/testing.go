package harness

import (
	"testing"

	"github.com/truncheck/truncheck/scenarios"
)

// Run runs one scenario in-process from a Go test and fails the test with
// a readable summary (the table line, the first failing requests with
// offsets, server accounts and timelines) when the expectation is not
// met. A detect scenario whose defect goes undetected fails. The report
// is returned for further checks. Run uses t.Context(), so the run stops
// when the test ends.
func Run(t testing.TB, s scenarios.Scenario, opts ...Options) Report {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	rep, err := RunScenario(t.Context(), s, o)
	if err != nil {
		t.Fatalf("scenario %s could not run: %v\n%s", s.Name, err, rep.Details())
		return rep
	}
	t.Log(rep.Line())
	if !rep.Met {
		t.Errorf("scenario %s: expectation %s not met\n%s", s.Name, s.Expect.Kind, rep.Details())
	}
	return rep
}
