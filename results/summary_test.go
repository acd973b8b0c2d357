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
		sr.Expectation = Expectation{Kind: ExpectComplete}
		if sr.Scenario == "cut" {
			sr.Expectation = Expectation{Kind: ExpectDetect, Outcomes: []Outcome{Truncated}, Silent: SilentRequired, Tolerate: []Outcome{Reset}}
			sr.Faults = "buffered-shutdown,sndbuf=8KiB"
		}
	}
	rr.Rejudge()
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
	sum := func(recs ...Record) *Summary {
		s := NewSummary("x")
		for i := range recs {
			s.Add(&recs[i])
		}
		s.Close()
		return s
	}
	with := func(r Record, f func(*Record)) Record { f(&r); return r }
	ok, trunc, reset := rec("x", 1, Complete), rec("x", 2, Truncated), rec("x", 3, Reset)
	loud := with(trunc, func(r *Record) { r.Silence = SilenceNoticed })
	unknown := with(trunc, func(r *Record) { r.Silence, r.ServerAccount = SilenceUnknown, nil })
	ours := with(trunc, func(r *Record) { r.Silence, r.Cause = SilenceInjected, InjectedCause("close-after=300KiB", "proxy") })
	unver := rec("x", 4, Unverified)
	complete := Expectation{Kind: ExpectComplete}
	detect := func(silent SilentRule, tolerate ...Outcome) Expectation {
		return Expectation{Kind: ExpectDetect, Outcomes: []Outcome{Truncated}, Silent: silent, Tolerate: tolerate}
	}
	tests := []struct {
		name       string
		give       Expectation
		recs       []Record
		findings   []Finding
		wantMet    bool
		wantReason string
	}{
		{"complete met", complete, []Record{ok, ok}, nil, true, "all 2 responses verified"},
		{"complete failed", complete, []Record{ok, trunc}, nil, false, "1 of 2 responses did not verify (1 complete, 1 truncated; 1 silent)"},
		{"complete with unverified fails", complete, []Record{ok, unver}, nil, false, "1 of 2 responses did not verify"},
		{"complete allowing unverified", Expectation{Kind: ExpectComplete, AllowUnverified: true}, []Record{ok, unver}, nil, true, "1 unverified, allowed"},
		{"complete with a failing finding", complete, []Record{ok}, []Finding{{Check: "reference", Fail: true, Message: "a clean reference fetch was cut"}}, false, "a clean reference fetch was cut"},
		{"complete with a note finding", complete, []Record{ok}, []Finding{{Check: "reference", Message: "fyi"}}, true, "all 1 responses verified"},
		{"detect met", detect(SilentRequired), []Record{ok, trunc}, nil, true, "1 of 2 truncated, 1 silent"},
		{"detect missed", detect(""), []Record{ok, ok}, nil, false, "defect not detected"},
		{"detect wrong outcome", detect(""), []Record{reset}, nil, false, "no truncated response"},
		{"detect unexplained", detect(""), []Record{trunc, reset}, nil, false, "unexplained outcomes (1 reset)"},
		{"detect tolerated", detect("", Reset), []Record{trunc, reset}, nil, true, "defect detected"},
		{"detect unverified is unexplained", detect(""), []Record{trunc, unver}, nil, false, "unexplained outcomes (1 unverified)"},
		{"silent wanted, server knew", detect(SilentRequired), []Record{loud}, nil, false, "none was silent"},
		{"silent wanted, no account", detect(SilentRequired), []Record{unknown}, nil, false, "silence is unknown"},
		{"silent wanted, our fault cut it", detect(SilentRequired), []Record{ours}, nil, false, "none was silent"},
		{"loud wanted, silent", detect(SilentForbidden), []Record{trunc}, nil, false, "1 were silent"},
		{"loud wanted, no account", detect(SilentForbidden), []Record{unknown}, nil, false, "cannot show it knew"},
		{"loud wanted, loud", detect(SilentForbidden), []Record{loud, ok}, nil, true, "0 silent"},
		{"no requests", complete, nil, nil, false, "no requests"},
		{"unknown expectation, clean", Expectation{}, []Record{ok}, nil, true, "no expectation recorded"},
		{"unknown expectation, silent", Expectation{}, []Record{trunc}, nil, false, "no expectation recorded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sr := ScenarioResult{Scenario: "x", Expectation: tt.give, Summary: sum(tt.recs...), Findings: tt.findings}
			j := sr.Judge()
			assert.Equal(t, tt.wantMet, j.Met, j.Reason)
			assert.Equal(t, tt.wantMet, sr.Met)
			assert.Contains(t, j.Reason, tt.wantReason)
		})
	}
}

func TestExpectationValidate(t *testing.T) {
	tests := []struct {
		name string
		give Expectation
		want string // "" => valid
	}{
		{"complete", Expectation{Kind: ExpectComplete}, ""},
		{"complete allowing unverified", Expectation{Kind: ExpectComplete, AllowUnverified: true}, ""},
		{"complete with outcomes", Expectation{Kind: ExpectComplete, Outcomes: []Outcome{Truncated}}, "kind: outcomes, tolerate and silent belong to kind detect"},
		{"unknown kind", Expectation{Kind: "pass"}, `kind: unknown expectation "pass"`},
		{"detect without outcomes", Expectation{Kind: ExpectDetect}, "outcomes: a detect expectation names no outcome"},
		{"detect complete", Expectation{Kind: ExpectDetect, Outcomes: []Outcome{Complete}}, `outcomes[0]: unknown outcome "complete"`},
		{"bad tolerate", Expectation{Kind: ExpectDetect, Outcomes: []Outcome{Reset}, Tolerate: []Outcome{"meh"}}, `tolerate[0]: unknown outcome "meh"`},
		{"bad silence", Expectation{Kind: ExpectDetect, Outcomes: []Outcome{Reset}, Silent: "maybe"}, "silent: unknown silence rule"},
		{"detect unverified", Expectation{Kind: ExpectDetect, Outcomes: []Outcome{Unverified}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give.Validate()
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "accepted")
		})
	}
}

func TestEvidence(t *testing.T) {
	for _, tt := range []struct {
		give  Evidence
		class EvidenceClass
		valid bool
	}{
		{EvidenceExpectation, EndToEnd, true},
		{DigestEvidence("sha-256"), EndToEnd, true},
		{EvidenceReference, EndToEnd, true},
		{AgreeingFetches(3), Consistency, true},
		{EvidenceContentLength, Framing, true},
		{EvidenceChunked, Framing, true},
		{EvidenceEndStream, Framing, true},
		{EvidenceCloseNotify, Framing, true},
		{EvidenceNoBody, Framing, true},
		{EvidenceNone, NoEvidence, true},
		{"content-digest:", NoEvidence, false},
		{"agreeing-fetches:0", NoEvidence, false},
		{"agreeing-fetches:03", NoEvidence, false},
		{"vibes", NoEvidence, false},
	} {
		assert.Equal(t, tt.valid, tt.give.Valid(), tt.give)
		assert.Equal(t, tt.class, tt.give.Class(), tt.give)
	}
	list := []Evidence{EvidenceContentLength, AgreeingFetches(3), DigestEvidence("crc32c"), EvidenceContentLength}
	assert.Equal(t, []Evidence{DigestEvidence("crc32c"), AgreeingFetches(3), EvidenceContentLength}, SortEvidence(list))
	assert.Equal(t, DigestEvidence("crc32c"), Strongest(list))
	assert.Equal(t, EvidenceNone, Strongest(nil))
	assert.True(t, EndToEndIn(list))
	assert.False(t, EndToEndIn([]Evidence{AgreeingFetches(3), EvidenceChunked}))

	s := NewSummary("x")
	for _, r := range []Record{
		{Scenario: "x", Outcome: Complete, CheckedBy: []Evidence{DigestEvidence("crc32c"), EvidenceContentLength}},
		{Scenario: "x", Outcome: Complete, CheckedBy: []Evidence{EvidenceChunked}},
		{Scenario: "x", Outcome: Complete, CheckedBy: []Evidence{AgreeingFetches(3), EvidenceContentLength}},
		{Scenario: "x", Outcome: Unverified},
	} {
		s.Add(&r)
	}
	assert.Equal(t, int64(2), s.FramingOnly, "complete without end-to-end evidence")
	assert.Equal(t, map[EvidenceClass]int64{EndToEnd: 1, Consistency: 1, Framing: 1, NoEvidence: 1}, s.EvidenceMix())
	assert.Equal(t, "e2e 1, fetches 1, framing 1, none 1", EvidenceCell(s))
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
		{"bad expect", `{"scenarios":[{"scenario":"x","expectation":{"kind":"pass"}}]}`, `unknown expectation "pass"`},
		{"bad histogram", `{"scenarios":[{"scenario":"x","summary":{"latency_hdr":"!!"}}]}`, "histogram"},
		{"nameless", `{"scenarios":[{"expectation":{"kind":"complete"}}]}`, "scenario 0 has no name"},
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
	for i, part := range [][]Record{a, b} {
		var buf bytes.Buffer
		j := judged(part)
		j.Run = fmt.Sprintf("r1-part%d", i)
		require.NoError(t, WriteJSON(&buf, j))
		rr, err := ReadJSON(&buf, "part.json")
		require.NoError(t, err)
		runs = append(runs, rr)
	}
	m, warns := Merge(runs...)
	assert.Empty(t, warns)
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
	assert.Equal(t, "r1-part0+r1-part1", m.Run)
	assert.True(t, m.Met())

	// A recorded verdict never survives a merge on its own: the merge is
	// judged again from the counts, so a part whose records hold a silent
	// truncation fails the merged scenario whatever "met" it says.
	bad := rec("clean", 999, Truncated)
	runs[1].Scenarios[0].Summary.Add(&bad)
	runs[1].Scenarios[0].Met, runs[1].Scenarios[0].Reason = true, "recorded as met"
	m, _ = Merge(runs...)
	assert.False(t, m.Scenarios[0].Met)
	assert.Contains(t, m.Scenarios[0].Reason, "did not verify")
	assert.False(t, m.Met())
	assert.Equal(t, "FAIL", m.Verdict)

	// The same run given twice is counted once, with a warning.
	m, warns = Merge(runs[0], runs[0])
	require.Len(t, warns, 1)
	assert.Contains(t, warns[0].Msg, "counted once")
	assert.Equal(t, runs[0].Total.Requests, m.Total.Requests)

	// Sources that disagree about an expectation fail it.
	runs[1].Scenarios[0].Expectation = Expectation{Kind: ExpectDetect, Outcomes: []Outcome{Truncated}}
	m, _ = Merge(runs...)
	assert.False(t, m.Scenarios[0].Met)
	assert.Contains(t, m.Scenarios[0].Reason, "expect different things")
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

// TestExplains: what a live display counts as an expected detection.
func TestExplains(t *testing.T) {
	detect := Expectation{Kind: ExpectDetect, Outcomes: []Outcome{Truncated}, Tolerate: []Outcome{Reset}}
	complete := Expectation{Kind: ExpectComplete}
	assert.True(t, detect.Explains(Truncated))
	assert.True(t, detect.Explains(Reset), "tolerated")
	assert.False(t, detect.Explains(Corrupt))
	assert.True(t, complete.Explains(Complete))
	assert.False(t, complete.Explains(Truncated))
	assert.False(t, complete.Explains(Unverified))
	complete.AllowUnverified = true
	assert.True(t, complete.Explains(Unverified))
}
