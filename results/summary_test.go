package results

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sample is a small run: scenario "clean" all complete, "cut" with silent
// truncations and a reset.
func sample() []Record {
	var recs []Record
	for i := range int64(40) {
		recs = append(recs, rec("clean", i, Complete))
	}
	for i := range int64(20) {
		o := Complete
		switch {
		case i%5 == 0:
			o = Truncated
		case i == 7:
			o = Reset
		}
		recs = append(recs, rec("cut", 100+i, o))
	}
	return recs
}

func judged(recs []Record) *RunResult {
	rr := Summarize("r1", recs)
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		sr.Expect = ExpectComplete
		if sr.Scenario == "cut" {
			sr.Expect, sr.ExpectOutcome = ExpectDetect, Truncated
			sr.Faults = "buffered-shutdown,sndbuf=8KiB"
		}
		sr.Met, sr.Reason = Judge(sr)
	}
	rr.Created = t0
	return rr
}

func TestSummaryCounts(t *testing.T) {
	rr := judged(sample())
	require.Len(t, rr.Scenarios, 2)
	clean, cut := rr.Scenarios[0].Summary, rr.Scenarios[1].Summary

	assert.Equal(t, int64(40), clean.Requests)
	assert.Equal(t, int64(40), clean.Outcomes[Complete])
	assert.Zero(t, clean.Silent)
	assert.Zero(t, clean.Offsets.Count)
	assert.Empty(t, clean.Failures)
	assert.Equal(t, int64(40*3_300_000), clean.BytesVerified)

	assert.Equal(t, int64(20), cut.Requests)
	assert.Equal(t, int64(4), cut.Outcomes[Truncated])
	assert.Equal(t, int64(1), cut.Outcomes[Reset])
	assert.Equal(t, int64(15), cut.Outcomes[Complete])
	assert.Equal(t, int64(4), cut.Silent, "truncations are silent in the sample, the reset is not")
	assert.Equal(t, int64(5), cut.Offsets.Count)
	assert.Equal(t, int64(219_264+100), cut.Offsets.Min)
	assert.Equal(t, int64(219_264+115), cut.Offsets.Max)
	var inBuckets int64
	for _, b := range cut.Offsets.Buckets {
		inBuckets += b.Count
		assert.Less(t, b.From, b.To)
	}
	assert.Equal(t, cut.Offsets.Count, inBuckets)
	require.Len(t, cut.Failures, DefaultKeepFailures)
	assert.Equal(t, int64(100), cut.Failures[0].Seq, "first failures by start time")

	// Latency: 10..16ms, from the HDR histogram (within 0.1%).
	assert.InDelta(t, float64(16*time.Millisecond), float64(clean.Latency.Max), float64(20*time.Microsecond))
	assert.InDelta(t, float64(13*time.Millisecond), float64(clean.Latency.P50), float64(20*time.Microsecond))
	assert.Equal(t, int64(40), clean.Latency.Count)
	assert.Positive(t, clean.TTFB.P99)

	// Wall: 40 requests 50ms apart, the last taking 13ms.
	assert.Equal(t, 39*50*time.Millisecond+(10+39%7)*time.Millisecond, clean.Wall)
	assert.InDelta(t, float64(40*3_300_000)/1e6/clean.Wall.Seconds(), clean.VerifiedMBps, 1e-9)

	assert.True(t, rr.Scenarios[0].Met)
	assert.True(t, rr.Scenarios[1].Met, rr.Scenarios[1].Reason)
	assert.Equal(t, int64(60), rr.Total.Requests)
	assert.Equal(t, int64(4), rr.Total.Silent)
	assert.True(t, rr.Met())
}

func TestJudge(t *testing.T) {
	yes, no := true, false
	sum := func(recs ...Record) *Summary {
		s := NewSummary("x")
		for i := range recs {
			s.Add(&recs[i])
		}
		s.Close()
		return s
	}
	ok, trunc, reset := rec("x", 1, Complete), rec("x", 2, Truncated), rec("x", 3, Reset)
	tests := []struct {
		name       string
		give       ScenarioResult
		wantMet    bool
		wantReason string
	}{
		{"complete met", ScenarioResult{Expect: ExpectComplete, Summary: sum(ok, ok)}, true, "all 2 responses verified"},
		{"complete failed", ScenarioResult{Expect: ExpectComplete, Summary: sum(ok, trunc)}, false, "1 of 2 responses failed to verify (1 complete, 1 truncated), 1 silently"},
		{"detect any", ScenarioResult{Expect: ExpectDetect, Summary: sum(ok, reset)}, true, "defect detected"},
		{"detect missed", ScenarioResult{Expect: ExpectDetect, Summary: sum(ok, ok)}, false, "defect not detected"},
		{"detect wrong outcome", ScenarioResult{Expect: ExpectDetect, ExpectOutcome: Truncated, Summary: sum(reset)}, false, "no truncated response"},
		{"detect silent wanted", ScenarioResult{Expect: ExpectDetect, ExpectOutcome: Reset, ExpectSilent: &yes, Summary: sum(reset)}, false, "none was silent"},
		{"detect loud wanted", ScenarioResult{Expect: ExpectDetect, ExpectSilent: &no, Summary: sum(trunc)}, false, "1 failures were silent"},
		{"detect silent met", ScenarioResult{Expect: ExpectDetect, ExpectOutcome: Truncated, ExpectSilent: &yes, Summary: sum(ok, trunc)}, true, "1 of 2 truncated, 1 silent"},
		{"no requests", ScenarioResult{Expect: ExpectComplete, Summary: sum()}, false, "no requests"},
		{"unknown", ScenarioResult{Summary: sum(ok)}, false, "no expectation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			met, reason := Judge(&tt.give)
			assert.Equal(t, tt.wantMet, met, reason)
			assert.Contains(t, reason, tt.wantReason)
		})
	}
}

func TestSummaryJSONRoundTrip(t *testing.T) {
	rr := judged(sample())
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, rr))
	back, err := ReadJSON(&buf, "summary.json")
	require.NoError(t, err)

	var again bytes.Buffer
	require.NoError(t, WriteJSON(&again, back))
	var first bytes.Buffer
	require.NoError(t, WriteJSON(&first, rr))
	assert.JSONEq(t, first.String(), again.String())

	// Histograms came back whole: percentiles recomputed from them agree.
	cut := back.Scenarios[1].Summary
	p := cut.Latency
	cut.Close()
	assert.Equal(t, p, cut.Latency)
	assert.Equal(t, int64(20), cut.LatencyHist.Count())
}

func TestReadJSONErrors(t *testing.T) {
	tests := []struct{ name, give, want string }{
		{"not json", "nope", "bad summary JSON"},
		{"not ours", `{"a":1}`, "not a truncheck summary"},
		{"bad outcome key", `{"scenarios":[{"scenario":"x","summary":{"outcomes":{"fine":1}}}]}`, `unknown outcome "fine"`},
		{"bad expect", `{"scenarios":[{"scenario":"x","expect":"pass"}]}`, `unknown expectation "pass"`},
		{"bad histogram", `{"scenarios":[{"scenario":"x","summary":{"latency_hdr":"!!"}}]}`, "histogram"},
		{"nameless", `{"scenarios":[{"expect":"complete"}]}`, "scenario 0 has no name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadJSON(bytes.NewBufferString(tt.give), "b.json")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "b.json")
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestMergeEqualsWhole(t *testing.T) {
	recs := sample()
	whole := judged(recs)
	// Split like two runners would: alternate records.
	var a, b []Record
	for i, r := range recs {
		if i%2 == 0 {
			a = append(a, r)
		} else {
			b = append(b, r)
		}
	}
	// Through JSON, as stored files would be.
	var runs []*RunResult
	for _, part := range [][]Record{a, b} {
		var buf bytes.Buffer
		require.NoError(t, WriteJSON(&buf, judged(part)))
		rr, err := ReadJSON(&buf, "part.json")
		require.NoError(t, err)
		runs = append(runs, rr)
	}
	m := Merge(runs...)
	require.Len(t, m.Scenarios, 2)
	for i := range whole.Scenarios {
		w, g := whole.Scenarios[i].Summary, m.Scenarios[i].Summary
		assert.Equal(t, w.Requests, g.Requests)
		assert.Equal(t, w.Outcomes, g.Outcomes)
		assert.Equal(t, w.Silent, g.Silent)
		assert.Equal(t, w.Latency, g.Latency, "HDR merge is exact")
		assert.Equal(t, w.Offsets, g.Offsets)
		assert.Equal(t, w.Wall, g.Wall)
		assert.Equal(t, w.Series, g.Series)
		require.Equal(t, len(w.Failures), len(g.Failures))
		for j := range w.Failures {
			assert.Equal(t, w.Failures[j].Seq, g.Failures[j].Seq)
		}
	}
	assert.Equal(t, whole.Total.Requests, m.Total.Requests)
	assert.Equal(t, "r1", m.Run)
	assert.True(t, m.Met())

	// Verdicts combine conservatively.
	runs[1].Scenarios[0].Met, runs[1].Scenarios[0].Reason = false, "1 of 20 failed"
	m = Merge(runs...)
	assert.False(t, m.Scenarios[0].Met)
	assert.Contains(t, m.Scenarios[0].Reason, "1 of 20 failed")
	assert.False(t, m.Met())
}

func TestSeriesBounded(t *testing.T) {
	s := NewSummary("soak")
	// 8 hours at one request every 2 s: the series must stay bounded.
	start := t0
	for i := range int64(8 * 3600 / 2) {
		r := rec("soak", i, Complete)
		r.Start = start.Add(time.Duration(i) * 2 * time.Second)
		s.Add(&r)
	}
	s.Close()
	assert.LessOrEqual(t, len(s.Series.Bins), maxSeriesBins)
	var total int64
	for _, b := range s.Series.Bins {
		total += b[Complete]
	}
	assert.Equal(t, s.Requests, total)
	assert.Equal(t, int64(0), int64(s.Series.Width)%int64(seriesBaseWidth))
	// Out-of-order adds (concurrent workers) land in the right bins.
	s2 := NewSummary("x")
	for _, d := range []time.Duration{5 * time.Second, 0, 3 * time.Second, -2 * time.Second} {
		r := rec("x", 0, Reset)
		r.Start = t0.Add(d)
		s2.Add(&r)
	}
	var n int64
	for _, b := range s2.Series.Bins {
		n += b[Reset]
	}
	assert.Equal(t, int64(4), n)
	assert.Equal(t, t0.Add(-2*time.Second), s2.Series.BinStart(0))
}

func TestSummaryMemoryFlat(t *testing.T) {
	// Many failures: only KeepFailures are kept.
	s := NewSummary("x")
	s.KeepFailures = 3
	for i := range int64(10_000) {
		r := rec("x", i, Truncated)
		s.Add(&r)
	}
	assert.Len(t, s.Failures, 3)
	none := NewSummary("x")
	none.KeepFailures = -1
	r := rec("x", 1, Reset)
	none.Add(&r)
	assert.Empty(t, none.Failures)
}

func TestOutOfRangeValuesClamped(t *testing.T) {
	s := NewSummary("x")
	r := rec("x", 1, Stalled)
	r.Latency = 3 * time.Hour // beyond the histogram's hour
	s.Add(&r)
	s.Close()
	assert.Equal(t, int64(1), s.Latency.Count)
	assert.GreaterOrEqual(t, s.Latency.Max, 59*time.Minute)
}

func ExampleBytes() {
	fmt.Println(Bytes(512), Bytes(219_264), Bytes(3_300_000))
	// Output: 512B 214.1KiB 3.1MiB
}

func TestSummaryInvalidOutcome(t *testing.T) {
	s := NewSummary("x")
	r := rec("x", 1, "weird")
	s.Add(&r)
	s.Close()
	assert.Equal(t, int64(1), s.Invalid)
	assert.Equal(t, int64(1), s.Failed())
	rr := NewRunResult("r", []ScenarioResult{{Scenario: "x", Summary: s}})
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, rr))
	back, err := ReadJSON(&buf, "s.json")
	require.NoError(t, err, "a summary with a bad record stays readable")
	assert.Equal(t, int64(1), back.Total.Invalid)
}

func TestAggregatorConcurrent(t *testing.T) {
	a := NewAggregator(2)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range int64(250) {
				o := Complete
				if i%50 == 0 {
					o = Reset
				}
				r := rec(fmt.Sprintf("s%d", g%2), i, o)
				a.Add(&r)
			}
		}()
	}
	snaps := 0
	for left := 4; left > 0; {
		select {
		case <-done:
			left--
		default:
			snap := a.Snapshot("c") // concurrently with Add: the race detector watches
			_ = WriteText(io.Discard, snap)
			snaps++
		}
	}
	t.Logf("%d snapshots taken during the adds", snaps)
	rr := a.Close("c")
	require.Len(t, rr.Scenarios, 2)
	assert.Equal(t, int64(1000), rr.Total.Requests)
	assert.Equal(t, int64(20), rr.Total.Outcomes[Reset])
	for _, sr := range rr.Scenarios {
		assert.Len(t, sr.Summary.Failures, 2)
	}
}

func TestNiceScale(t *testing.T) {
	tests := []struct {
		give           float64
		wantTop, wantS float64
	}{
		{0, 1, 1}, {1, 1, 1}, {2, 2, 1}, {5, 5, 1}, {6, 6, 2}, {7, 8, 2}, {11, 15, 5}, {26, 30, 10},
		{1500, 1500, 500}, {1e18, 1e18, 5e17 / 2.5}, // 2e17
	}
	for _, tt := range tests {
		top, step := niceScale(tt.give)
		assert.Equal(t, tt.wantTop, top, "top for %v", tt.give)
		assert.Equal(t, tt.wantS, step, "step for %v", tt.give)
		assert.LessOrEqual(t, top/step, 5.0)
	}
}
