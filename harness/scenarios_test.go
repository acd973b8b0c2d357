package harness

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"truncheck/results"
	"truncheck/scenarios"
)

// TestQuickCatalog runs every quick scenario through Run: each one's
// expectation must hold (a detect scenario fails if its defect goes
// undetected).
func TestQuickCatalog(t *testing.T) {
	for _, s := range scenarios.Builtin().Quick() {
		t.Run(s.Name, func(t *testing.T) {
			Run(t, s)
		})
	}
}

// TestDetectFailsWithoutItsFault proves a detect scenario can fail: the
// buffered-shutdown scenario with its fault removed must report its
// expectation as not met.
func TestDetectFailsWithoutItsFault(t *testing.T) {
	s, err := scenarios.Builtin().Get("buffered-shutdown")
	require.NoError(t, err)
	s.Topology.Hops[0].ServerFaults = ""
	rep, err := RunScenario(t.Context(), s, Options{})
	require.NoError(t, err)
	assert.False(t, rep.Met, rep.Details())
	assert.Contains(t, rep.Reason, "defect not detected")
	assert.Equal(t, int64(s.Count), rep.Summary.Outcomes[results.Complete])
}

func TestOutcomeVocabulariesAgree(t *testing.T) {
	var want []string
	for _, o := range results.Outcomes() {
		if o != results.Complete {
			want = append(want, string(o))
		}
	}
	assert.Equal(t, want, scenarios.FailureOutcomes())
}
