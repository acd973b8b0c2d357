package harness

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/imagesvc"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
	"github.com/truncheck/truncheck/transport/h2fault"
)

// TestQuickCatalog runs every quick scenario through Run: each one's
// expectation must hold (a detect scenario fails if its defect goes
// undetected).
func TestQuickCatalog(t *testing.T) {
	origins := catalogOrigins(t)
	for _, s := range scenarios.Builtin().Quick() {
		t.Run(s.Name(), func(t *testing.T) {
			Run(t, s, Options{Origin: origins(s)})
		})
	}
}

// catalogOrigins maps a catalog scenario to the origin it is written for:
// the image service, or the bodies origin.
func catalogOrigins(t testing.TB) func(scenarios.Compiled) *origin.Origin {
	img := imageOrigin(t)
	bodies := origin.Bodies()
	return func(c scenarios.Compiled) *origin.Origin {
		if c.Scenario().Origin == "bodies" {
			return &bodies
		}
		return img
	}
}

// imageOrigin is the image service as the catalog's origin: the quick
// catalog is written for its API.
func imageOrigin(t testing.TB) *origin.Origin {
	o, err := imagesvc.NewOrigin(imagesvc.Config{MaxAccounts: 8192})
	require.NoError(t, err)
	return &o
}

// TestNoOriginNoRun: an in-process run needs an origin, and says so.
func TestNoOriginNoRun(t *testing.T) {
	s, err := scenarios.Builtin().Get("baseline")
	require.NoError(t, err)
	_, err = RunScenario(t.Context(), s, Options{})
	assert.ErrorContains(t, err, "no origin to run in-process (accepted: harness.Options.Origin")
}

// TestDetectFailsWithoutItsFault proves every quick detect scenario can
// fail: with its faults, restarts and write timeout removed, each one
// must report its expectation as not met (the defect went undetected),
// every request complete.
func TestDetectFailsWithoutItsFault(t *testing.T) {
	origins := catalogOrigins(t)
	for _, c := range scenarios.Builtin().Quick() {
		s := c.Scenario()
		if s.Expect.Kind != results.ExpectDetect {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			for i := range s.Topology.Hops {
				s.Topology.Hops[i].ServerFaults, s.Topology.Hops[i].ClientFaults = transport.Faults{}, transport.Faults{}
				s.Topology.Hops[i].StreamFaults = h2fault.Faults{}
			}
			s.Restarts = scenarios.Restarts{}
			s.Service.WriteTimeout = 0
			rep, err := RunScenario(t.Context(), compile(t, s), Options{Origin: origins(c)})
			require.NoError(t, err)
			assert.False(t, rep.Met, rep.Text())
			assert.Contains(t, rep.Reason, "defect not detected")
			assert.Equal(t, int64(s.Count), rep.Summary.Outcomes[results.Complete], rep.Text())
		})
	}
}

// TestCancelStopsCleanly ends a long duration-bound run through its
// context: RunScenario returns promptly with the context's error and what
// it counted so far, and (TestMain's goleak) leaves no goroutine behind.
func TestCancelStopsCleanly(t *testing.T) {
	s, err := scenarios.Builtin().Get("graceful-restart")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	rep, err := RunScenario(ctx, s, Options{Origin: imageOrigin(t), Duration: time.Minute})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	if rep.Summary != nil { // nil when the deadline came before the first request
		assert.Zero(t, rep.Summary.Failed(), rep.Text())
	}
}

// TestRecordsWritten checks every request reaches the writer as a valid
// record, failures with the server's account and a timeline.
func TestRecordsWritten(t *testing.T) {
	s, err := scenarios.Builtin().Get("close-delimited-gateway")
	require.NoError(t, err)
	var w Records
	rep, err := RunScenario(t.Context(), s, Options{Writer: &w, Run: "r1", Origin: imageOrigin(t)})
	require.NoError(t, err)
	require.True(t, rep.Met, rep.Text()) // so the checks below have truncations to look at
	require.Len(t, w.All(), s.Scenario().Count)
	silent := 0
	for _, r := range w.All() {
		assert.NoError(t, r.Validate())
		assert.Equal(t, "r1", r.Run)
		assert.Equal(t, "client-tcp>gw-unix>svc", r.Layout)
		if r.Outcome == results.Truncated {
			require.NotNil(t, r.ServerAccount)
			assert.NotEmpty(t, r.Timeline)
			assert.Less(t, r.Offset, r.Expected)
			// The naive gateway re-chunks the cut body: the reference caught it.
			assert.Contains(t, r.CheckedBy, results.EvidenceReference)
			assert.Equal(t, "injected:buffered-shutdown at hop1-server", r.Cause)
			if r.Silent() {
				silent++
			}
		}
	}
	assert.Equal(t, rep.Summary.Silent, int64(silent))
}
