package results

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOutcomeText(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    Outcome
		wantErr string
	}{
		{name: "complete", give: "complete", want: Complete},
		{name: "dash", give: "http-error", want: HTTPError},
		{name: "transport", give: "transport-error", want: TransportError},
		{name: "case matters", give: "Complete", wantErr: `unknown outcome "Complete" (accepted: complete, unverified, truncated, reset, corrupt, overlong, stalled, http-error, transport-error)`},
		{name: "empty", give: "", wantErr: `unknown outcome ""`},
		{name: "typo", give: "trunctated", wantErr: `"trunctated"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Outcome
			err := o.UnmarshalText([]byte(tt.give))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, o)
			b, err := o.MarshalText()
			require.NoError(t, err)
			assert.Equal(t, tt.give, string(b))
		})
	}
}

func TestOutcomeJSONStrict(t *testing.T) {
	var r Record
	err := json.Unmarshal([]byte(`{"scenario":"s","outcome":"fine"}`), &r)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown outcome "fine"`)

	_, err = json.Marshal(Record{Scenario: "s", Outcome: "bogus"})
	require.Error(t, err, "an invalid outcome must not be written")

	var m map[Outcome]int
	require.Error(t, json.Unmarshal([]byte(`{"nope":1}`), &m), "map keys are strict too")
	require.NoError(t, json.Unmarshal([]byte(`{"reset":1}`), &m))
	assert.Equal(t, 1, m[Reset])
}

func TestOutcomesOrderAndCopy(t *testing.T) {
	os := Outcomes()
	require.Len(t, os, 9)
	assert.Equal(t, Complete, os[0])
	os[0] = "x"
	assert.Equal(t, Complete, Outcomes()[0], "Outcomes returns a copy")
	assert.False(t, Complete.Failed())
	assert.True(t, Truncated.Failed())
}

func TestExpectText(t *testing.T) {
	var e Expect
	require.NoError(t, e.UnmarshalText([]byte("detect")))
	assert.Equal(t, ExpectDetect, e)
	err := e.UnmarshalText([]byte("pass"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown expectation "pass" (accepted: complete, detect)`)
}
