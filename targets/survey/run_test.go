package survey

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/truncheck/truncheck/results"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness"
	"github.com/truncheck/truncheck/scenarios"
)

// TestRunnerRunsCellsOnTheRealServer: the runner starts the Go control
// for its first cell, restarts it by its own stop and start during the
// restart cell (every response still verified against the file), starts
// it again with its send timeout for the send-timeout cell, and stops it
// at the end. A server that cannot start is a row problem, given again
// without a second try.
func TestRunnerRunsCellsOnTheRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Go control")
	}
	dir := surveyDir(t)
	p, err := NewPlan(PlanOptions{Servers: []Server{goControl()}, Dir: dir, Conditions: []string{"restart", "send-timeout"}})
	require.NoError(t, err)
	up, err := StartUpstream()
	require.NoError(t, err)
	defer up.Close()
	r := &Runner{Dir: dir, Upstream: up.URL, Logf: t.Logf}
	defer r.Close(context.Background())
	ctx := t.Context()
	urls := map[string]string{}
	for _, c := range p.Cells {
		tg, err := r.Target(ctx, c)
		require.NoError(t, err, c.Name())
		urls[c.Condition.Name] = tg.URL
		require.NotNil(t, tg.Accounts, "accounts come from the server's access log")
		require.NotNil(t, tg.Restart)
		switch c.Condition.Name {
		case "baseline", "restart":
			s := c.Scenario.Scenario()
			s.Count, s.Concurrency = 4, 2
			sc, err := scenarios.Compile(s)
			require.NoError(t, err)
			rep, err := harness.RunScenario(ctx, sc, harness.Options{Target: tg})
			require.NoError(t, err)
			assert.True(t, rep.Met, rep.Text())
			if c.Condition.Name == "restart" {
				assert.Positive(t, rep.Restarts, "restarted by its own stop and start")
			}
		}
	}
	assert.Equal(t, urls["baseline"], urls["restart"], "one instance for the configuration as shipped")
	assert.NotEqual(t, urls["baseline"], urls["send-timeout"], "another, with its send timeout set")
	r.Close(ctx)
	c := &http.Client{Timeout: time.Second}
	_, err = c.Get(urls["send-timeout"] + "/")
	assert.Error(t, err, "stopped at the end")

	broken := goControl()
	broken.Name, broken.Binary = "broken", "/nonexistent/go"
	bp, err := NewPlan(PlanOptions{Servers: []Server{broken}, Dir: dir, Conditions: []string{"baseline"}})
	require.NoError(t, err)
	_, err = r.Target(ctx, bp.Cells[0])
	require.ErrorIs(t, err, ErrNotInstalled)
	assert.ErrorIs(t, r.RowProblem("broken"), ErrNotInstalled)
	_, again := r.Target(ctx, bp.Cells[0])
	assert.True(t, errors.Is(again, ErrNotInstalled) && strings.Contains(again.Error(), "broken"))
}

// TestRunnerSpeaksHTTP2: an h2 row's cells reach the server over TLS by
// ALPN, trusting the instance's own certificate, and an h2c row's by prior
// knowledge; every response is verified against the file and every record
// says HTTP/2 carried it.
func TestRunnerSpeaksHTTP2(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Go control")
	}
	dir := surveyDir(t)
	p, err := NewPlan(PlanOptions{Servers: []Server{goControl()}, Dir: dir, Protocols: []Protocol{H2, H2C}, Conditions: []string{"baseline"}})
	require.NoError(t, err)
	require.Len(t, p.Cells, 2)
	r := &Runner{Dir: dir, Logf: t.Logf}
	defer r.Close(context.Background())
	for _, c := range p.Cells {
		tg, err := r.Target(t.Context(), c)
		require.NoError(t, err, c.Name())
		s := c.Scenario.Scenario()
		s.Count, s.Concurrency = 4, 2
		sc, err := scenarios.Compile(s)
		require.NoError(t, err)
		var kept harness.Records
		rep, err := harness.RunScenario(t.Context(), sc, harness.Options{Target: tg, Writer: &kept})
		require.NoError(t, err)
		assert.True(t, rep.Met, rep.Text())
		require.Len(t, kept.All(), 4)
		for _, rec := range kept.All() {
			assert.Equal(t, results.Complete, rec.Outcome, c.Name())
			assert.Equal(t, "HTTP/2.0", rec.Proto, c.Name())
			assert.Equal(t, c.Protocol == H2, rec.TLS != "", "%s: TLS %q", c.Name(), rec.TLS)
		}
	}
}
