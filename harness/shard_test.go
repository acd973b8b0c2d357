package harness

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

// TestShardsSendWhatOneRunSends: three runs, each one shard of three,
// send together exactly the requests one run sends: every sequence number
// once, each with the request kind and (the cut deciding by the request
// alone) the outcome it has in the whole run.
func TestShardsSendWhatOneRunSends(t *testing.T) {
	o := origin.Bodies()
	// A connection per request and a cut every connection gets at the same
	// byte: a 1 MB body is always truncated, a 64 KiB one always complete,
	// whichever process sends it.
	c := compile(t, scenarios.Scenario{
		Name: "shard-cut", Origin: "bodies",
		Topology: scenarios.Topology{Mode: scenarios.Direct, Hops: []scenarios.Hop{
			{Network: scenarios.TCP, ServerFaults: mustFaults("close-after=256KiB")},
		}},
		Client:      scenarios.Client{ConnectionClose: true},
		Workload:    scenarios.Workload{Requests: []scenarios.Request{{Path: "/bytes/1MB"}, {Path: "/bytes/64KiB", Weight: 2}}},
		Concurrency: 3, Count: 14, Seed: 5,
		Expect: results.Expectation{Kind: results.ExpectDetect, Outcomes: []results.Outcome{results.Truncated}, Silent: results.SilentAny},
	})
	type sent struct {
		key     string
		outcome results.Outcome
	}
	collect := func(sh results.Shard) (map[int64]sent, results.ScenarioResult) {
		var mu sync.Mutex
		got := map[int64]sent{}
		rep, err := RunScenario(t.Context(), c, Options{Origin: &o, Shard: sh, OnRecord: func(r *results.Record) {
			mu.Lock()
			defer mu.Unlock()
			_, dup := got[r.Seq]
			assert.False(t, dup, "seq %d sent twice by shard %s", r.Seq, sh)
			got[r.Seq] = sent{r.Key, r.Outcome}
		}})
		require.NoError(t, err)
		return got, rep.ScenarioResult
	}

	whole, wholeRep := collect(results.Shard{})
	require.Len(t, whole, 14)
	require.True(t, wholeRep.Met, wholeRep.Reason)
	union := map[int64]sent{}
	merged := results.NewSummary(c.Name())
	for k := range 3 {
		sh := results.Shard{Index: k, Count: 3}
		part, rep := collect(sh)
		assert.Len(t, part, sh.Share(c.Name(), 14))
		for seq, s := range part {
			assert.True(t, sh.Owns(c.Name(), seq), "shard %s sent seq %d it does not own", sh, seq)
			_, dup := union[seq]
			assert.False(t, dup, "seq %d sent by two shards", seq)
			union[seq] = s
		}
		merged.Merge(rep.Summary)
	}
	assert.Equal(t, whole, union, "the shards send the whole run's requests, with its outcomes")
	merged.Close()
	assert.Equal(t, wholeRep.Summary.Outcomes, merged.Outcomes)

	_, err := RunScenario(t.Context(), c, Options{Origin: &o, Shard: results.Shard{Index: 3, Count: 2}})
	assert.ErrorContains(t, err, "Options.Shard: shard index 3 of 2")
}
