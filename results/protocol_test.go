package results

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolDetail: what carried a request and what HTTP/2 did to it
// reach every report through the failure text, round-trip through JSON,
// and are validated.
func TestProtocolDetail(t *testing.T) {
	lost := rec("h2", 1, Truncated)
	lost.Proto, lost.TLS = "HTTP/2.0", "TLS 1.3"
	lost.GoAway, lost.GoAwayLastStream, lost.GoAwayCode = GoAwayLost, 7, "NO_ERROR"
	reset := rec("h2", 2, Reset)
	reset.Proto, reset.RSTStream = "HTTP/2.0", "INTERNAL_ERROR"
	retried := rec("h2", 3, Complete)
	retried.Proto, retried.TLS, retried.Retries, retried.GoAway, retried.GoAwayLastStream = "HTTP/2.0", "TLS 1.3", 1, GoAwayRetried, 5
	plain := rec("h2", 4, Truncated)

	for _, tt := range []struct {
		r    Record
		want string
	}{
		{lost, "HTTP/2.0 over TLS 1.3; GOAWAY last stream 7 NO_ERROR: lost"},
		{reset, "HTTP/2.0 in the clear; RST_STREAM INTERNAL_ERROR"},
		{retried, "HTTP/2.0 over TLS 1.3; GOAWAY last stream 5 -: retried; retried 1 time(s)"},
	} {
		var b strings.Builder
		writeFailure(&b, &tt.r, 0)
		assert.Contains(t, b.String(), "\n     "+tt.want+"\n")
	}
	var b strings.Builder
	writeFailure(&b, &plain, 0)
	assert.NotContains(t, b.String(), "in the clear", "no protocol line without protocol facts")

	j, err := json.Marshal(lost)
	require.NoError(t, err)
	assert.Contains(t, string(j), `"proto":"HTTP/2.0","tls":"TLS 1.3"`)
	assert.Contains(t, string(j), `"goaway":"lost","goaway_last_stream":7,"goaway_code":"NO_ERROR"`)
	var back Record
	require.NoError(t, json.Unmarshal(j, &back))
	assert.Equal(t, lost.GoAway, back.GoAway)
	assert.Equal(t, lost.GoAwayLastStream, back.GoAwayLastStream)

	bad := lost
	bad.GoAway = "maybe"
	assert.EqualError(t, bad.Validate(), `record 1: unknown goaway "maybe" (accepted: retried, lost, or none)`)
	bad = lost
	bad.Retries = -1
	assert.EqualError(t, bad.Validate(), "record 1: -1 retries (accepted: >= 0)")

	// Retries are counted, and merge exactly.
	a, c := NewSummary("h2"), NewSummary("h2")
	for _, r := range []Record{lost, reset, retried} {
		a.Add(&r)
	}
	failedRetry := rec("h2", 5, Reset)
	failedRetry.Retries = 2
	c.Add(&failedRetry)
	a.Merge(c)
	assert.EqualValues(t, 2, a.Retried)
	assert.EqualValues(t, 1, a.RetriedComplete)
	sr := ScenarioResult{Scenario: "h2", Summary: a}
	assert.Contains(t, strings.Join(scenarioNotes(&sr), "\n"),
		"retried: the client sent 2 requests again (a GOAWAY that did not cover their stream, a connection that was gone); 1 of them then verified complete, and a retry that verifies is not a loss")
}
