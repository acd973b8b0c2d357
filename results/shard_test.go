package results

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseShard(t *testing.T) {
	tests := []struct {
		give    string
		want    Shard
		wantErr string
	}{
		{give: "0/4", want: Shard{0, 4}},
		{give: " 3/4 ", want: Shard{3, 4}},
		{give: "0/1", want: Shard{0, 1}},
		{give: "3/2", wantErr: `shard "3/2": shard index 3 of 2 (accepted: 0 to 1; shards are counted from 0`},
		{give: "4/4", wantErr: "accepted: 0 to 3"},
		{give: "-1/4", wantErr: "shard index -1 of 4"},
		{give: "0/0", wantErr: "shard count 0 (accepted: 1 to 1000)"},
		{give: "0/1001", wantErr: "shard count 1001"},
		{give: "x", wantErr: `shard "x": want K/N, shard K of N counted from 0, e.g. 0/4 to 3/4`},
		{give: "1", wantErr: "want K/N"},
		{give: "1/x", wantErr: "want K/N"},
		{give: "", wantErr: "want K/N"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := ParseShard(tt.give)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, fmt.Sprintf("%d/%d", tt.want.Index, tt.want.Count), got.String())
		})
	}
	assert.Empty(t, Shard{}.String())
	assert.Empty(t, Shard{}.Dir())
	assert.Equal(t, "shard-2-of-5", Shard{2, 5}.Dir())
}

// TestShardsPartitionTheWork: for any count, every request sequence
// number belongs to exactly one shard, Share counts what Owns gives, and
// the shards' shares differ by at most one; soak rounds are dealt out the
// same way.
func TestShardsPartitionTheWork(t *testing.T) {
	spread := map[int]bool{} // which shard gets the extra request of a 10-request scenario on 3 shards
	for _, name := range []string{"baseline", "buffered-shutdown", "shard-cut", "x"} {
		for n := 1; n <= 7; n++ {
			for count := 0; count <= 25; count++ {
				owners := make([]int, count)
				shares := make([]int, n)
				for k := range n {
					sh := Shard{Index: k, Count: n}
					for seq := range count {
						if sh.Owns(name, int64(seq)) {
							owners[seq]++
							shares[k]++
						}
					}
					require.Equal(t, shares[k], sh.Share(name, count), "%s count %d shard %s", name, count, sh)
				}
				for seq, o := range owners {
					require.Equal(t, 1, o, "%s: seq %d of %d has %d owners among %d shards", name, seq, count, o, n)
				}
				assert.LessOrEqual(t, maxInt(shares)-minInt(shares), 1, "%s count %d on %d shards: %v", name, count, n, shares)
				if n == 3 && count == 10 {
					for k, s := range shares {
						if s == 4 {
							spread[k] = true
						}
					}
				}
			}
			rounds := map[int]int{}
			for k := range n {
				for i := range 10 {
					rounds[Shard{Index: k, Count: n}.Round(i)]++
				}
			}
			for r := range 10 * n {
				require.Equal(t, 1, rounds[r], "round %d on %d shards", r, n)
			}
		}
	}
	assert.Greater(t, len(spread), 1, "the rotation by name gives the extra request to different shards")
	assert.True(t, Shard{}.Owns("any", 12345))
	assert.Equal(t, 7, Shard{}.Share("any", 7))
	assert.Equal(t, 4, Shard{}.Round(4))
}

func maxInt(xs []int) int {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func minInt(xs []int) int {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func TestFingerprint(t *testing.T) {
	ps := samplePlan("r", Shard{}).Scenarios
	fp := Fingerprint(ps)
	assert.Len(t, fp, 16)
	assert.Equal(t, fp, Fingerprint(samplePlan("other-run", Shard{1, 3}).Scenarios), "the run and the shard are not part of the set")
	ps[1].Seed++
	assert.NotEqual(t, fp, Fingerprint(ps), "another seed is another set")
	ps = samplePlan("r", Shard{}).Scenarios
	ps[0].Spec = json.RawMessage(`{"count":41}`)
	assert.NotEqual(t, fp, Fingerprint(ps), "another count is another set")
	assert.NotEqual(t, fp, Fingerprint(ps[:1]))
}

// TestPlanShardFields: plans round-trip their shard and scenario set; a
// plan written before shards existed loads as a whole run; a bad shard is
// an error naming it.
func TestPlanShardFields(t *testing.T) {
	dir := t.TempDir()
	p := samplePlan("nightly", Shard{2, 3})
	require.NoError(t, WritePlan(dir, p))
	got, err := ReadPlan(dir)
	require.NoError(t, err)
	assert.Equal(t, Shard{2, 3}, got.Shard)
	assert.Equal(t, p.ScenarioSet, got.ScenarioSet)

	require.NoError(t, os.WriteFile(filepath.Join(dir, PlanFile), []byte(`{"run":"old","command":"run","scenarios":[{"name":"clean","expectation":{"kind":"complete"},"seed":1}]}`), 0o644))
	got, err = ReadPlan(dir)
	require.NoError(t, err)
	assert.True(t, got.Shard.IsZero())
	assert.Empty(t, got.ScenarioSet)
	b, err := json.Marshal(got)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "shard", "a whole run's plan says nothing of shards")

	require.NoError(t, os.WriteFile(filepath.Join(dir, PlanFile), []byte(`{"run":"bad","shard":{"index":3,"count":2},"scenarios":[]}`), 0o644))
	_, err = ReadPlan(dir)
	assert.ErrorContains(t, err, "shard index 3 of 2")
}

// samplePlan is the plan of sample()'s two scenarios.
// (judged() sets the same expectations.)
func samplePlan(run string, sh Shard) *Plan {
	p := &Plan{Run: run, Version: "test", Command: "run", Shard: sh, Scenarios: []PlannedScenario{
		{Name: "clean", Expectation: Expectation{Kind: ExpectComplete}, Seed: 42},
		{Name: "cut", Seed: 42, Faults: "buffered-shutdown,sndbuf=8KiB",
			Expectation: Expectation{Kind: ExpectDetect, Outcomes: []Outcome{Truncated}, Silent: SilentRequired, Tolerate: []Outcome{Reset}}},
	}}
	p.ScenarioSet = Fingerprint(p.Scenarios)
	return p
}

// writeShard writes shard sh of run into root/shard-K-of-N the way a
// sharded truncheck does: the plan, the records it owns, and (finished)
// its summary.
func writeShard(t *testing.T, root, run string, sh Shard, finished bool) string {
	t.Helper()
	dir := filepath.Join(root, sh.Dir())
	require.NoError(t, PrepareDir(dir))
	require.NoError(t, WritePlan(dir, samplePlan(run, sh)))
	w, err := NewWriter(filepath.Join(dir, RecordsFile), WriterConfig{})
	require.NoError(t, err)
	var mine []Record
	for _, r := range sample() {
		if sh.Owns(r.Scenario, r.Seq) {
			r.Run = run
			require.NoError(t, w.Write(&r))
			mine = append(mine, r)
		}
	}
	require.NoError(t, w.Close())
	if finished {
		rr := judged(mine)
		rr.Run, rr.Shard = run, sh
		require.NoError(t, WriteReports(dir, rr))
	}
	return dir
}

// TestMergeShards: the merge of a run's shards equals the whole run; a
// missing or unfinished shard fails it; shards of two runs, a shard given
// twice, a set that differs and a whole run among shards are errors that
// name the sources.
func TestMergeShards(t *testing.T) {
	whole := judged(sample())
	root := t.TempDir()
	var dirs []string
	for k := range 3 {
		dirs = append(dirs, writeShard(t, root, "nightly", Shard{k, 3}, true))
	}

	t.Run("complete", func(t *testing.T) {
		rr, warns, err := MergeFiles(root) // the run's directory stands for its shards
		require.NoError(t, err)
		assert.Empty(t, warns)
		assert.Equal(t, "PASS", rr.Verdict)
		assert.Equal(t, "nightly", rr.Run)
		assert.True(t, rr.Shard.IsZero())
		require.Len(t, rr.Scenarios, 2)
		for i, sr := range rr.Scenarios {
			assert.Equal(t, whole.Scenarios[i].Summary.Outcomes, sr.Summary.Outcomes, sr.Scenario)
			assert.Equal(t, whole.Scenarios[i].Summary.Silent, sr.Summary.Silent, sr.Scenario)
		}
		assert.Equal(t, whole.Total.Requests, rr.Total.Requests)
		require.Len(t, rr.Findings, 1)
		assert.False(t, rr.Findings[0].Fail)
		assert.Contains(t, rr.Findings[0].Message, "3 of 3 shards of run nightly merged (run, scenario set ")

		// Given in any order, the shards are read in theirs; the same
		// directory twice counts once.
		rev, warns, err := MergeFiles(dirs[2], dirs[1], dirs[0], dirs[1])
		require.NoError(t, err)
		assert.Equal(t, rr.Total.Outcomes, rev.Total.Outcomes)
		assert.Equal(t, whole.Total.Requests, rev.Total.Requests)
		assert.Equal(t, filepath.Join(dirs[0], RecordsFile), rev.Sources[0])
		require.Len(t, warns, 1)
		assert.Contains(t, warns[0].Msg, "run nightly shard 1/3 was already merged")

		var junit, text bytes.Buffer
		require.NoError(t, WriteJUnit(&junit, rr))
		require.NoError(t, WriteText(&text, rr))
		var suites JUnitSuites
		require.NoError(t, xml.Unmarshal(junit.Bytes(), &suites))
		assert.Zero(t, suites.Failures)
		assert.Contains(t, text.String(), "gate: note (run) [shards]: 3 of 3 shards of run nightly merged")
	})

	t.Run("missing", func(t *testing.T) {
		rr, _, err := MergeFiles(dirs[0], dirs[2])
		require.NoError(t, err)
		assert.Equal(t, "FAIL", rr.Verdict, "a missing shard fails the merge, whatever the counts say")
		assert.True(t, rr.Scenarios[0].Met, "the scenarios themselves pass: only the shard check fails")
		require.True(t, Failed(rr.Findings))
		assert.Contains(t, rr.Findings[0].Message, "1 of 3 shards of run nightly missing (1/3)")
		var junit bytes.Buffer
		require.NoError(t, WriteJUnit(&junit, rr))
		var suites JUnitSuites
		require.NoError(t, xml.Unmarshal(junit.Bytes(), &suites))
		assert.Equal(t, 1, suites.Failures, "JUnit fails on the missing shard")

		one, _, err := MergeFiles(dirs[1])
		require.NoError(t, err)
		assert.Equal(t, "FAIL", one.Verdict, "one shard alone is not the run")
		assert.Contains(t, one.Findings[0].Message, "2 of 3 shards of run nightly missing (0/3, 2/3)")
	})

	t.Run("unfinished", func(t *testing.T) {
		root := t.TempDir()
		writeShard(t, root, "killed", Shard{0, 2}, true)
		cut := writeShard(t, root, "killed", Shard{1, 2}, false)
		rr, _, err := MergeFiles(root)
		require.NoError(t, err)
		assert.Equal(t, "FAIL", rr.Verdict)
		require.True(t, Failed(rr.Findings))
		assert.Contains(t, rr.Findings[0].Message, "shard 1/2 did not finish: "+cut+" has no summary.json (killed, or still running)")
	})

	errs := []struct {
		name    string
		prepare func(t *testing.T) []string
		want    string
	}{
		{"two runs", func(t *testing.T) []string {
			other := writeShard(t, t.TempDir(), "yesterday", Shard{1, 3}, false)
			return []string{dirs[0], other, dirs[2]}
		}, `shards of two runs: ` + dirs[0] + ` is shard 0/3 of run "nightly", `},
		{"duplicate shard", func(t *testing.T) []string {
			copyDir := writeShard(t, t.TempDir(), "nightly", Shard{1, 3}, false)
			return []string{dirs[0], dirs[1], copyDir, dirs[2]}
		}, `shard 1/3 of run "nightly" given twice: ` + dirs[1] + ` and `},
		{"split two ways", func(t *testing.T) []string {
			return []string{dirs[0], writeShard(t, t.TempDir(), "nightly", Shard{1, 4}, false)}
		}, `run "nightly" split two ways`},
		{"another scenario set", func(t *testing.T) []string {
			d := writeShard(t, t.TempDir(), "nightly", Shard{1, 3}, false)
			p, err := ReadPlan(d)
			require.NoError(t, err)
			p.Scenarios[0].Seed = 7
			p.ScenarioSet = Fingerprint(p.Scenarios)
			require.NoError(t, WritePlan(d, p))
			return []string{dirs[0], d, dirs[2]}
		}, "ran different scenario sets"},
		{"another command", func(t *testing.T) []string {
			d := writeShard(t, t.TempDir(), "nightly", Shard{1, 3}, false)
			p, err := ReadPlan(d)
			require.NoError(t, err)
			p.Command = "soak"
			require.NoError(t, WritePlan(d, p))
			return []string{dirs[0], d}
		}, `ran "run", `},
		{"a whole run among shards", func(t *testing.T) []string {
			d := t.TempDir()
			require.NoError(t, WritePlan(d, samplePlan("nightly", Shard{})))
			return []string{dirs[0], d}
		}, "is not a shard's results directory"},
		{"records without their plan", func(t *testing.T) []string {
			return []string{dirs[0], filepath.Join(dirs[1], RecordsFile)}
		}, "is not a shard's results directory"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := MergeFiles(tt.prepare(t)...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "accepted")
		})
	}
}

func TestWritePlansText(t *testing.T) {
	a, b := samplePlan("nightly", Shard{0, 2}), samplePlan("nightly", Shard{1, 2})
	b.Scenarios = b.Scenarios[1:] // shard 1 had no part of the first scenario
	whole := samplePlan("other", Shard{})
	var buf bytes.Buffer
	require.NoError(t, WritePlansText(&buf, []*Plan{a, whole, b}))
	out := buf.String()
	assert.Equal(t, 2, bytes.Count(buf.Bytes(), []byte("as run: ")), out)
	assert.Contains(t, out, "\nas run: nightly (run, truncheck test)\n  shards 0/2, 1/2 of a run split 2 ways, scenario set "+a.ScenarioSet+"\n")
	assert.Equal(t, 2, bytes.Count(buf.Bytes(), []byte("  clean ")), "each scenario once per run:\n%s", out)

	buf.Reset()
	require.NoError(t, WritePlanText(&buf, b))
	assert.Contains(t, buf.String(), "  shard 1/2 of a run split 2 ways")
}

// TestWaitShards: a wait ends once every shard has its summary, and not
// before: not while one is missing, not while one is still running.
func TestWaitShards(t *testing.T) {
	root := filepath.Join(t.TempDir(), "run")
	short := func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		return WaitShards(ctx, root, 10*time.Millisecond)
	}
	assert.ErrorIs(t, short(), context.DeadlineExceeded, "no directory yet: the shards have not started")
	writeShard(t, root, "w", Shard{0, 2}, true)
	assert.ErrorIs(t, short(), context.DeadlineExceeded, "shard 1/2 missing")
	running := writeShard(t, root, "w", Shard{1, 2}, false)
	assert.ErrorIs(t, short(), context.DeadlineExceeded, "shard 1/2 still running")

	done := make(chan error, 1)
	go func() { done <- WaitShards(t.Context(), root, 10*time.Millisecond) }()
	require.NoError(t, WriteReports(running, judged(sample())))
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end once every shard had finished")
	}
	assert.NoError(t, WaitShards(t.Context(), running, 0), "one shard's own directory: finished once its summary is there")
	assert.NoError(t, WaitShards(t.Context(), filepath.Join(running, RecordsFile), 0), "a file: nothing to wait for")
}
