package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/results"
)

// TestShardBadUsage: every way to ask for a shard wrongly is exit 2 and
// one line naming what was wrong and what is accepted.
func TestShardBadUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		index string // JOB_COMPLETION_INDEX, "" for unset
		give  []string
		want  string
	}{
		{"index not below count", "", []string{"run", "--shard", "3/2"}, `--shard "3/2": shard index 3 of 2 (accepted: 0 to 1; shards are counted from 0, like JOB_COMPLETION_INDEX)`},
		{"not K/N", "", []string{"run", "--shard", "x"}, `--shard "x": want K/N, shard K of N counted from 0, e.g. 0/4 to 3/4`},
		{"no shards", "", []string{"soak", "--duration", "1s", "--shard", "0/0"}, `shard count 0 (accepted: 1 to 1000)`},
		{"index without count", "2", []string{"run"}, "JOB_COMPLETION_INDEX=2 is set (a pod of a Kubernetes Indexed Job) but not the shard count: add --shards N"},
		{"index not a number", "two", []string{"check", "--target", "unix:/x.sock", "--path", "/f", "--shards", "3"}, `JOB_COMPLETION_INDEX="two": not a shard index (accepted: 0 to 2)`},
		{"index beyond count", "3", []string{"run", "--shards", "3", "--run-id", "r"}, "JOB_COMPLETION_INDEX=3 with --shards 3: shard index 3 of 3 (accepted: 0 to 2"},
		{"count without index", "", []string{"run", "--shards", "3"}, "--shards 3 needs JOB_COMPLETION_INDEX"},
		{"both", "", []string{"run", "--shard", "1/3", "--shards", "3"}, "--shard 1/3 already says how many shards: drop --shards"},
		{"negative count", "", []string{"run", "--shards", "-1"}, "--shards -1: accepted: 1 to 1000"},
		{"no run id", "", []string{"run", "--shard", "1/3", "--out", dir}, "--shard 1/3 needs --run-id: every shard of one run carries the same id"},
		{"no run id from the index", "1", []string{"soak", "--duration", "1s", "--shards", "3"}, "--shard 1/3 needs --run-id"},
		{"bad run id", "", []string{"run", "--run-id", "../up"}, `--run-id "../up": accepted: 1 to 128 of A-Z a-z 0-9 . _ -`},
		{"gate on a shard", "", []string{"run", "--gate", "--shard", "1/3", "--run-id", "r", "--out", dir}, "--gate judges a whole run, not shard 1/3: gate the merge (truncheck report --gate " + dir + ")"},
		{"negative wait", "", []string{"report", "--wait", "-1s", dir}, "--wait -1s: accepted: a positive duration"},
		{"gate on a check shard", "", []string{"check", "--target", "unix:/x.sock", "--gate", "--shard", "0/2", "--run-id", "r", "--path", "/f"}, "gate the merge (truncheck report --gate out/r)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.index != "" {
				t.Setenv(indexEnv, tt.index)
			}
			code, _, stderr := truncheck(t, tt.give...)
			assert.Equal(t, exitUsage, code, stderr)
			oneLine(t, stderr, tt.want)
		})
	}
}

func TestStamp(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == indexEnv {
				return v
			}
			return ""
		}
	}
	flags := func(shard string, shards int, run string) shardOptions {
		return shardOptions{shard: &shard, shards: &shards, runID: &run}
	}
	st, err := flags("", 4, "job-uid").stamp(env("3"))
	require.NoError(t, err)
	assert.Equal(t, stamp{run: "job-uid", shard: results.Shard{Index: 3, Count: 4}}, st)
	st, err = flags("0/2", 0, "r").stamp(env("3"))
	require.NoError(t, err)
	assert.Equal(t, results.Shard{Index: 0, Count: 2}, st.shard, "the flag wins over the environment")
	st, err = flags("", 0, "").stamp(env(""))
	require.NoError(t, err)
	assert.Equal(t, stamp{}, st, "no shard: a whole run")
	assert.NoError(t, st.check())
	assert.Equal(t, filepath.Join("out", "run-x"), st.dir("", "run-x"))
	sh := stamp{run: "r", shard: results.Shard{Index: 1, Count: 3}}
	assert.Equal(t, filepath.Join("res", "shard-1-of-3"), sh.dir("res", "r"))
	assert.Equal(t, filepath.Join("out", "r", "shard-1-of-3"), sh.dir("", "r"))
}

// TestShardedRunInProcess: two shards of run split the scenarios'
// requests; a shard with no part of a scenario leaves it out; a shard's
// directory replays that shard's requests; a sharded soak deals out its
// rounds, so no seed runs twice.
func TestShardedRunInProcess(t *testing.T) {
	root := filepath.Join(t.TempDir(), "nightly")
	seqs := map[string]int{}
	for k := range 2 {
		code, stdout, stderr := truncheck(t, "run", "--scenarios", "testdata/shards.yaml", "--shard", fmt.Sprintf("%d/2", k), "--run-id", "r1", "--out", root)
		require.Equal(t, exitOK, code, stdout+stderr)
		assert.Contains(t, stdout, fmt.Sprintf("shard %d/2 of run r1: this table judges its part alone", k))
		dir := filepath.Join(root, fmt.Sprintf("shard-%d-of-2", k))
		plan, err := results.ReadPlan(dir)
		require.NoError(t, err)
		assert.Equal(t, results.Shard{Index: k, Count: 2}, plan.Shard)
		assert.Equal(t, "r1", plan.Run)
		assert.Len(t, plan.ScenarioSet, 16)
		sum, err := results.ReadJSONFile(filepath.Join(dir, results.SummaryFile))
		require.NoError(t, err)
		assert.Equal(t, plan.Shard, sum.Shard)
		recs, _, err := results.ReadFile(filepath.Join(dir, results.RecordsFile))
		require.NoError(t, err)
		for _, r := range recs {
			seqs[fmt.Sprintf("%s/%d", r.Scenario, r.Seq)]++
			assert.True(t, plan.Shard.Owns(r.Scenario, r.Seq))
		}
	}
	assert.Len(t, seqs, 20+18, "every request of both scenarios")
	for k, n := range seqs {
		assert.Equal(t, 1, n, k)
	}
	code, stdout, stderr := truncheck(t, "report", root)
	require.Equal(t, exitOK, code, stdout+stderr)
	assert.Regexp(t, `(?m)^shard-clean\s+20\s+20 complete\s`, stdout)

	t.Run("replay a shard", func(t *testing.T) {
		shard1 := filepath.Join(root, "shard-1-of-2")
		again := filepath.Join(t.TempDir(), "again")
		code, stdout, stderr := truncheck(t, "run", "--replay", shard1, "--out", again)
		require.Equal(t, exitOK, code, stdout+stderr)
		plan, err := results.ReadPlan(filepath.Join(again, "shard-1-of-2"))
		require.NoError(t, err)
		assert.Equal(t, results.Shard{Index: 1, Count: 2}, plan.Shard)
		assert.NotEqual(t, "r1", plan.Run, "a replay is a run of its own")
		want, _, err := results.ReadFile(filepath.Join(shard1, results.RecordsFile))
		require.NoError(t, err)
		got, _, err := results.ReadFile(filepath.Join(again, "shard-1-of-2", results.RecordsFile))
		require.NoError(t, err)
		assert.ElementsMatch(t, seqKeys(want), seqKeys(got), "the shard's own requests, no others")

		code, _, stderr = truncheck(t, "run", "--replay", shard1, "--shard", "0/2", "--out", t.TempDir())
		assert.Equal(t, exitUsage, code)
		oneLine(t, stderr, "replays shard 1/2 as it ran: drop --shard and --shards")
	})

	t.Run("a scenario smaller than the shard count", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "two.yaml")
		require.NoError(t, os.WriteFile(file, []byte("name: two\norigin: bodies\nworkload: [{path: /bytes/1KiB}]\ncount: 2\nexpect: {kind: complete}\n"), 0o644))
		root := filepath.Join(t.TempDir(), "run")
		empty := 0
		for k := range 3 {
			code, stdout, stderr := truncheck(t, "run", "--scenarios", file, "--shard", fmt.Sprintf("%d/3", k), "--run-id", "r2", "--out", root)
			require.Equal(t, exitOK, code, stdout+stderr)
			plan, err := results.ReadPlan(filepath.Join(root, fmt.Sprintf("shard-%d-of-3", k)))
			require.NoError(t, err)
			if len(plan.Scenarios) == 0 {
				empty++
			}
		}
		assert.Equal(t, 1, empty, "the shard that owns none of its 2 requests does not run it")
		code, stdout, stderr := truncheck(t, "report", root)
		require.Equal(t, exitOK, code, stdout+stderr)
		assert.Regexp(t, `(?m)^two\s+2\s+2 complete\s`, stdout)
	})

	t.Run("soak", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "soak")
		seeds := map[int64]int{}
		for k := range 2 {
			code, stdout, stderr := truncheck(t, "soak", "--duration", "1s", "--scenarios", "testdata/shards.yaml", "shard-clean",
				"--shard", fmt.Sprintf("%d/2", k), "--run-id", "s1", "--out", root)
			require.Equal(t, exitOK, code, stdout+stderr)
			recs, _, err := results.ReadFile(filepath.Join(root, fmt.Sprintf("shard-%d-of-2", k), results.RecordsFile))
			require.NoError(t, err)
			mine := map[int64]bool{}
			for _, r := range recs {
				mine[r.Seed] = true
				assert.Equal(t, int64(k), (r.Seed-31)%2, "shard %d/2 runs rounds %d, %d, ... only", k, k, k+2)
			}
			for s := range mine {
				seeds[s]++
			}
		}
		for s, n := range seeds {
			assert.Equal(t, 1, n, "seed %d ran on both shards", s)
		}
		assert.Contains(t, seeds, int64(31))
		assert.Contains(t, seeds, int64(32))
		code, stdout, stderr := truncheck(t, "report", root)
		require.Equal(t, exitOK, code, stdout+stderr)
		assert.Contains(t, stdout, "2 of 2 shards of run s1 merged (soak, ")
	})
}

func seqKeys(recs []results.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = fmt.Sprintf("%s/%d/%s", r.Scenario, r.Seq, r.Key)
	}
	return out
}

// buildBinary builds truncheck without cgo: the binary the image ships,
// and the one a shard runs on a machine without libvips.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found: cannot build the binary")
	}
	bin := filepath.Join(t.TempDir(), "truncheck")
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// bodiesTarget serves the bodies origin (with its accounts) on loopback:
// the one server every shard checks.
func bodiesTarget(t *testing.T) *httptest.Server {
	o := origin.Bodies()
	srv := httptest.NewUnstartedServer(o.Handler)
	srv.Config.ConnContext = o.ConnContext
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// shardProc is one truncheck process, its output kept.
type shardProc struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

// startBin starts bin with args (and extra environment) under a two-minute
// bound: no shard of these tests may outlive it.
func startBin(t *testing.T, bin string, env []string, args ...string) *shardProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	p := &shardProc{cmd: exec.CommandContext(ctx, bin, args...)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	require.NoError(t, p.cmd.Start())
	return p
}

// wait waits for the process and returns its exit code.
func (p *shardProc) wait(t *testing.T) int {
	t.Helper()
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, err, p.out.String())
	return 0
}

// runBin runs bin to its end.
func runBin(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	p := startBin(t, bin, nil, args...)
	code := p.wait(t)
	return code, p.out.String()
}

// TestShardsOnOneTarget is a sharded nightly in small: three shard
// processes check one server on loopback at once (the third takes its
// index from JOB_COMPLETION_INDEX, as in a Kubernetes Indexed Job), and
// the merge of their directories equals one run with the same seeds:
// every request once, each with the kind and outcome it has in the one
// run, and the same counts per outcome. The scenarios are the ones whose
// outcome each request decides alone (testdata/shards.yaml says why).
// Then what the merge refuses or fails: a shard missing, one given twice,
// shards of two runs.
func TestShardsOnOneTarget(t *testing.T) {
	bin := buildBinary(t)
	target := bodiesTarget(t)
	tmp := t.TempDir()
	check := []string{"check", "--target", target.URL, "--account-path", "/accounts/{id}?wait=2s", "--scenarios", "testdata/shards.yaml"}

	single := filepath.Join(tmp, "single")
	code, out := runBin(t, bin, slices.Concat(check, []string{"--out", single})...)
	require.Equal(t, exitOK, code, out)
	t.Logf("one run:\n%s", out)

	root := filepath.Join(tmp, "nightly")
	merged := filepath.Join(tmp, "merged")
	// The merge starts with the shards and waits for them, like the merge
	// Job next to the Indexed Job.
	merge := startBin(t, bin, nil, "report", "--wait", "2m", root, "--out", merged)
	var procs []*shardProc
	for k := range 3 {
		args := slices.Concat(check, []string{"--run-id", "nightly-1", "--out", root})
		var env []string
		if k == 2 {
			env, args = []string{indexEnv + "=2"}, append(args, "--shards", "3")
		} else {
			args = append(args, "--shard", fmt.Sprintf("%d/3", k))
		}
		procs = append(procs, startBin(t, bin, env, args...))
	}
	for k, p := range procs {
		require.Equal(t, exitOK, p.wait(t), "shard %d/3:\n%s", k, p.out.String())
	}
	code = merge.wait(t)
	out = merge.out.String()
	require.Equal(t, exitOK, code, out)
	t.Logf("the merge of 3 shards:\n%s", out)
	assert.Contains(t, out, "truncheck report: every shard finished after ")
	assert.Contains(t, out, "gate: note (run) [shards]: 3 of 3 shards of run nightly-1 merged (check, scenario set ")

	one, err := results.ReadJSONFile(filepath.Join(single, results.SummaryFile))
	require.NoError(t, err)
	all, err := results.ReadJSONFile(filepath.Join(merged, results.SummaryFile))
	require.NoError(t, err)
	require.Len(t, all.Scenarios, len(one.Scenarios))
	for i, sr := range one.Scenarios {
		got := all.Scenarios[i]
		assert.Equal(t, sr.Scenario, got.Scenario)
		assert.Equal(t, sr.Summary.Requests, got.Summary.Requests, sr.Scenario)
		assert.Equal(t, sr.Summary.Outcomes, got.Summary.Outcomes, "%s: the same counts per outcome", sr.Scenario)
		assert.Equal(t, sr.Met, got.Met, sr.Scenario)
	}
	assert.Positive(t, one.Total.Outcomes[results.Truncated], "the set holds failures to count")

	type sent struct {
		key     string
		outcome results.Outcome
	}
	bySeq := func(paths ...string) map[string]sent {
		m := map[string]sent{}
		for _, p := range paths {
			recs, _, err := results.ReadFile(filepath.Join(p, results.RecordsFile))
			require.NoError(t, err)
			for _, r := range recs {
				k := fmt.Sprintf("%s/%d", r.Scenario, r.Seq)
				_, dup := m[k]
				require.False(t, dup, "%s sent twice", k)
				m[k] = sent{r.Key, r.Outcome}
			}
		}
		return m
	}
	shards := []string{filepath.Join(root, "shard-0-of-3"), filepath.Join(root, "shard-1-of-3"), filepath.Join(root, "shard-2-of-3")}
	assert.Equal(t, bySeq(single), bySeq(shards...), "request for request, the shards did what the one run did")

	t.Run("a shard missing fails the merge", func(t *testing.T) {
		code, out := runBin(t, bin, "report", shards[0], shards[2])
		assert.Equal(t, exitFailed, code, out)
		assert.Contains(t, out, "gate: FAIL (run) [shards]: 1 of 3 shards of run nightly-1 missing (1/3)")
	})
	t.Run("a shard given twice is refused", func(t *testing.T) {
		dup := filepath.Join(t.TempDir(), "shard-1-of-3")
		require.NoError(t, os.CopyFS(dup, os.DirFS(shards[1])))
		code, out := runBin(t, bin, "report", root, dup)
		assert.Equal(t, exitUsage, code, out)
		oneLine(t, out, `shard 1/3 of run "nightly-1" given twice: `+shards[1]+" and "+dup)
	})
	t.Run("shards of two runs are refused", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "nightly-2")
		code, out := runBin(t, bin, slices.Concat(check, []string{"--run-id", "nightly-2", "--shard", "1/3", "--out", other})...)
		require.Equal(t, exitOK, code, out)
		code, out = runBin(t, bin, "report", shards[0], filepath.Join(other, "shard-1-of-3"), shards[2])
		assert.Equal(t, exitUsage, code, out)
		oneLine(t, out, `shards of two runs: `+shards[0]+` is shard 0/3 of run "nightly-1", `)
	})
}

// TestShardKilledMidRun: of three shards checking one server, one is
// killed with SIGKILL mid-run. Its records so far survive, and the merge
// flags it: the verdict fails on the shard that did not finish, though
// every request it made verified.
func TestShardKilledMidRun(t *testing.T) {
	bin := buildBinary(t)
	target := bodiesTarget(t)
	root := filepath.Join(t.TempDir(), "nightly")
	var procs []*shardProc
	for k := range 3 {
		procs = append(procs, startBin(t, bin, nil, "check", "--target", target.URL, "--scenarios", "testdata/shard-slow.yaml",
			"--shard", fmt.Sprintf("%d/3", k), "--run-id", "killed-1", "--out", root))
	}
	victim := filepath.Join(root, "shard-1-of-3", results.RecordsFile)
	deadline := time.Now().Add(time.Minute)
	for countLines(victim) < 1 {
		require.True(t, time.Now().Before(deadline), "shard 1/3 wrote no record within a minute")
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, procs[1].cmd.Process.Kill())
	assert.Equal(t, -1, procs[1].wait(t), "killed by a signal")
	for _, k := range []int{0, 2} {
		require.Equal(t, exitOK, procs[k].wait(t), procs[k].out.String())
	}

	code, out := runBin(t, bin, "report", "--wait", "1s", root)
	t.Logf("the merge with shard 1/3 killed:\n%s", out)
	assert.Contains(t, out, "truncheck report: stopped waiting for the shards of "+root+" after ")
	assert.Equal(t, exitFailed, code, out)
	assert.Regexp(t, `(?m)^shard-slow\s+\d+\s+\d+ complete\s.*PASS complete: all \d+ responses verified$`, out,
		"what was recorded verified: only the shard check fails")
	assert.Contains(t, out, "gate: FAIL (run) [shards]: shard 1/3 did not finish: "+filepath.Join(root, "shard-1-of-3")+" has no summary.json (killed, or still running)")
	assert.Contains(t, out, "gate: FAIL\n")
}
