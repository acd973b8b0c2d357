package harness

import (
	"slices"
	"sync"
	"testing"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

// Run runs one scenario from a Go test and fails the test with a readable
// account (the table row, the notes, the first failing requests with
// offsets, server accounts and timelines) when the expectation is not met.
// A detect scenario whose defect goes undetected fails. The report is
// returned for further checks. Run uses t.Context(), so the run stops when
// the test ends.
//
// A Go value is compiled here (scenarios.Compile), so a test can pass the
// scenario it wrote; a catalog's or a file's scenarios are compiled
// already.
func Run[S scenarios.Scenario | scenarios.Compiled](t testing.TB, s S, opts ...Options) Report {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	var c scenarios.Compiled
	switch v := any(s).(type) {
	case scenarios.Compiled:
		c = v
	case scenarios.Scenario:
		var err error
		if c, err = scenarios.Compile(v); err != nil {
			t.Fatalf("scenario: %v", err)
			return Report{}
		}
	}
	rep, err := RunScenario(t.Context(), c, o)
	if err != nil {
		t.Fatalf("scenario %s could not run: %v\n%s", c.Name(), err, rep.Text())
		return rep
	}
	if !rep.Met {
		t.Errorf("scenario %s: expectation %s not met\n%s", c.Name(), rep.Expectation, rep.Text())
	} else {
		t.Logf("%s: %s", c.Name(), rep.Reason)
	}
	return rep
}

// Records keeps a run's records in memory, in the order they were
// written: the RecordWriter of a test that looks at each response.
// The zero value is ready to use.
type Records struct {
	mu   sync.Mutex
	list []results.Record
}

// Write keeps a copy of rec.
func (k *Records) Write(rec *results.Record) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.list = append(k.list, *rec)
	return nil
}

// All returns the records kept so far.
func (k *Records) All() []results.Record {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.list)
}
