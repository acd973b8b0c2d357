package results

import (
	"sort"
	"time"
)

// DefaultKeepFailures is how many failing records a [Summary] keeps for
// JUnit and HTML when [Summary.KeepFailures] is 0.
const DefaultKeepFailures = 5

// Summary aggregates the records of one scenario (or, with an empty
// Scenario, of a whole run). Add records as they come, then Close to
// compute the derived fields; Add after Close is allowed (Close again).
// Memory does not grow with the number of records: HDR histograms, a
// bounded time series, and the first few failing records are all it keeps,
// so an 8-hour soak summarises in constant space.
//
// Summaries round-trip through JSON, histograms included, so [Merge] of
// stored summaries is exact. A Summary is not safe for concurrent use:
// feed it from one goroutine, or use an [Aggregator].
type Summary struct {
	Scenario string `json:"scenario,omitempty"` // "" for a run total

	Requests int64             `json:"requests"`
	Outcomes map[Outcome]int64 `json:"outcomes"` // count per outcome; absent means 0
	// Silent counts proven silent failures (the server's account says it sent
	// everything, the client saw a clean end, none of our faults cut it): the
	// headline number. SilentBy splits it by outcome.
	Silent   int64             `json:"silent"`
	SilentBy map[Outcome]int64 `json:"silent_by,omitempty"`
	// SilenceUnknown counts failures the client saw end cleanly for which
	// the server kept no account: whether it knew cannot be said, and
	// reports show "silent=?" rather than a zero that reads as "it knew".
	SilenceUnknown   int64             `json:"silence_unknown,omitempty"`
	SilenceUnknownBy map[Outcome]int64 `json:"silence_unknown_by,omitempty"`
	// Injected counts failures one of our faults outside the server cut.
	Injected int64 `json:"injected,omitempty"`
	// Retried counts requests the client sent more than once (see
	// [Record.Retries]), whatever their outcome; RetriedComplete those of
	// them that then verified: retries done right, not losses.
	Retried         int64 `json:"retried,omitempty"`
	RetriedComplete int64 `json:"retried_complete,omitempty"`
	// Evidence counts requests by the strongest evidence their verdict rests
	// on ([Record.CheckedBy]); FramingOnly counts complete responses with no
	// end-to-end evidence (only their hop's framing, or consistency).
	Evidence    map[Evidence]int64 `json:"evidence,omitempty"`
	FramingOnly int64              `json:"framing_only,omitempty"`
	// FramedWhole counts truncated responses whose own framing said they
	// were whole ([Record.FramingWhole]): a cut laundered by a tier that
	// re-framed it, or a close-delimited body; only end-to-end evidence
	// caught them.
	FramedWhole int64 `json:"framed_whole,omitempty"`
	// Invalid counts records whose outcome was not a defined [Outcome]
	// (a harness bug): they count as requests and as failed, not in
	// Outcomes, so the summary stays writable and readable.
	Invalid int64 `json:"invalid,omitempty"`

	BytesExpected int64 `json:"bytes_expected"` // sum of known Expected
	BytesReceived int64 `json:"bytes_received"` // body bytes read
	BytesVerified int64 `json:"bytes_verified"` // bytes of responses that verified complete

	Start time.Time     `json:"start"`   // earliest request start
	End   time.Time     `json:"end"`     // latest request end
	Wall  time.Duration `json:"wall_ns"` // End - Start

	// VerifiedMBps is BytesVerified per second of wall time, in MB (1e6 bytes).
	VerifiedMBps float64 `json:"verified_mb_per_s"`

	Latency Percentiles `json:"latency"` // derived from LatencyHist by Close
	TTFB    Percentiles `json:"ttfb"`    // derived from TTFBHist by Close

	// Offsets describes where failed bodies ended (truncated, reset,
	// stalled, overlong) or first differed (corrupt).
	Offsets OffsetStats `json:"offsets"`

	Series Series `json:"series"` // outcomes over time

	// Failures holds the first KeepFailures failing records by start time.
	Failures []Record `json:"failures,omitempty"`
	// KeepFailures bounds Failures; 0 => DefaultKeepFailures, < 0 => none.
	KeepFailures int `json:"keep_failures,omitempty"`

	LatencyHist *Histogram `json:"latency_hdr"`
	TTFBHist    *Histogram `json:"ttfb_hdr"`
	OffsetHist  *Histogram `json:"offset_hdr"`
}

// Percentiles of a duration distribution, computed from an HDR histogram
// (values within 0.1%).
type Percentiles struct {
	Count int64         `json:"count"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P95   time.Duration `json:"p95_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
}

// OffsetStats summarises failure offsets: exact count and range, and a
// linear histogram over the range for charts.
type OffsetStats struct {
	Count   int64    `json:"count"`
	Min     int64    `json:"min"`
	Max     int64    `json:"max"`
	Buckets []Bucket `json:"buckets,omitempty"`
}

// Bucket is one bar of a histogram: Count values in [From, To).
type Bucket struct {
	From  int64 `json:"from"`
	To    int64 `json:"to"`
	Count int64 `json:"count"`
}

// offsetBuckets is the number of bars in [OffsetStats.Buckets].
const offsetBuckets = 24

// NewSummary returns an empty summary for a scenario ("" for a total).
func NewSummary(scenario string) *Summary {
	s := &Summary{Scenario: scenario}
	s.init()
	return s
}

func (s *Summary) init() {
	if s.Outcomes == nil {
		s.Outcomes = map[Outcome]int64{}
	}
	if s.SilentBy == nil {
		s.SilentBy = map[Outcome]int64{}
	}
	if s.SilenceUnknownBy == nil {
		s.SilenceUnknownBy = map[Outcome]int64{}
	}
	if s.Evidence == nil {
		s.Evidence = map[Evidence]int64{}
	}
	if s.LatencyHist == nil || s.LatencyHist.h == nil {
		s.LatencyHist = newLatencyHistogram()
	}
	if s.TTFBHist == nil || s.TTFBHist.h == nil {
		s.TTFBHist = newLatencyHistogram()
	}
	if s.OffsetHist == nil || s.OffsetHist.h == nil {
		s.OffsetHist = newOffsetHistogram()
	}
}

func (s *Summary) keep() int {
	switch {
	case s.KeepFailures == 0:
		return DefaultKeepFailures
	case s.KeepFailures < 0:
		return 0
	}
	return s.KeepFailures
}

// hasOffset says whether an outcome has a meaningful body offset.
func hasOffset(o Outcome) bool {
	switch o {
	case Truncated, Reset, Corrupt, Overlong, Stalled:
		return true
	}
	return false
}

// Add counts one record. It keeps a copy of r only if r failed and fewer
// than KeepFailures failures are kept (or r started before one of them).
func (s *Summary) Add(r *Record) {
	s.init()
	s.Requests++
	if r.Outcome.Valid() {
		s.Outcomes[r.Outcome]++
	} else {
		s.Invalid++
	}
	if r.Outcome.CleanEnd() {
		switch r.Silence {
		case SilenceSilent:
			s.Silent++
			s.SilentBy[r.Outcome]++
		case SilenceUnknown:
			s.SilenceUnknown++
			s.SilenceUnknownBy[r.Outcome]++
		case SilenceInjected:
			s.Injected++
		}
	}
	if r.Retries > 0 {
		s.Retried++
		if r.Outcome == Complete {
			s.RetriedComplete++
		}
	}
	strongest := Strongest(r.CheckedBy)
	s.Evidence[strongest]++
	if r.Outcome == Complete && strongest.Class() != EndToEnd {
		s.FramingOnly++
	}
	if r.Outcome == Truncated && r.FramingWhole {
		s.FramedWhole++
	}
	if r.Expected > 0 {
		s.BytesExpected += r.Expected
	}
	s.BytesReceived += r.Received
	if r.Outcome == Complete {
		s.BytesVerified += r.Received
	}
	if !r.Start.IsZero() {
		if s.Start.IsZero() || r.Start.Before(s.Start) {
			s.Start = r.Start
		}
		if end := r.End(); end.After(s.End) {
			s.End = end
		}
		if r.Outcome.Valid() {
			s.Series.add(r.Start, r.Outcome, 1)
		}
	}
	s.LatencyHist.record(int64(r.Latency))
	if r.TTFB > 0 {
		s.TTFBHist.record(int64(r.TTFB))
	}
	if hasOffset(r.Outcome) {
		if s.Offsets.Count == 0 || r.Offset < s.Offsets.Min {
			s.Offsets.Min = r.Offset
		}
		if s.Offsets.Count == 0 || r.Offset > s.Offsets.Max {
			s.Offsets.Max = r.Offset
		}
		s.Offsets.Count++
		s.OffsetHist.record(r.Offset)
	}
	if r.Outcome.Failed() && r.Outcome.Valid() {
		s.keepFailure(r)
	}
}

func (s *Summary) keepFailure(r *Record) {
	k := s.keep()
	if k == 0 {
		return
	}
	if len(s.Failures) >= k && !r.Start.Before(s.Failures[len(s.Failures)-1].Start) {
		return
	}
	c := *r
	c.Timeline = append([]Event(nil), r.Timeline...)
	c.CheckedBy = append([]Evidence(nil), r.CheckedBy...)
	if r.ServerAccount != nil {
		a := *r.ServerAccount
		c.ServerAccount = &a
	}
	i := sort.Search(len(s.Failures), func(i int) bool { return s.Failures[i].Start.After(c.Start) })
	s.Failures = append(s.Failures, Record{})
	copy(s.Failures[i+1:], s.Failures[i:])
	s.Failures[i] = c
	if len(s.Failures) > k {
		s.Failures = s.Failures[:k]
	}
}

// Failed returns the number of requests that did not verify (unverified
// ones included).
func (s *Summary) Failed() int64 { return s.Requests - s.Outcomes[Complete] }

// EvidenceMix counts requests by the class of their strongest evidence.
func (s *Summary) EvidenceMix() map[EvidenceClass]int64 {
	mix := map[EvidenceClass]int64{}
	for e, n := range s.Evidence {
		mix[e.Class()] += n
	}
	return mix
}

// CompleteRate is the fraction of requests that verified, 1 when empty.
func (s *Summary) CompleteRate() float64 {
	if s.Requests == 0 {
		return 1
	}
	return float64(s.Outcomes[Complete]) / float64(s.Requests)
}

// Close computes the derived fields (wall time, throughput, percentiles,
// offset buckets) from the counters and histograms. It never fails; the
// name follows the vegeta Add/Close aggregator shape.
func (s *Summary) Close() {
	s.init()
	s.Wall = 0
	if !s.Start.IsZero() && s.End.After(s.Start) {
		s.Wall = s.End.Sub(s.Start)
	}
	s.VerifiedMBps = 0
	if s.Wall > 0 {
		s.VerifiedMBps = float64(s.BytesVerified) / 1e6 / s.Wall.Seconds()
	}
	s.Latency = percentiles(s.LatencyHist)
	s.TTFB = percentiles(s.TTFBHist)
	s.Offsets.Buckets = linearBuckets(s.OffsetHist, s.Offsets.Min, s.Offsets.Max, offsetBuckets)
}

func percentiles(h *Histogram) Percentiles {
	if h.Count() == 0 {
		return Percentiles{}
	}
	q := func(p float64) time.Duration { return time.Duration(h.Quantile(p)) }
	return Percentiles{
		Count: h.Count(),
		Mean:  time.Duration(h.h.Mean()),
		P50:   q(50), P90: q(90), P95: q(95), P99: q(99), P999: q(99.9),
		Max: time.Duration(h.h.Max()),
	}
}

// linearBuckets spreads the histogram's counts over at most n equal bars
// between lo and hi (exact bounds kept by the caller); each HDR bucket
// lands in the bar holding its midpoint. Bars are never narrower than the
// histogram's resolution at hi, which would be false precision.
func linearBuckets(h *Histogram, lo, hi int64, n int) []Bucket {
	bars := h.Bars()
	if len(bars) == 0 || hi < lo || n <= 0 {
		return nil
	}
	last := bars[len(bars)-1]
	res := max(last.To-last.From, 1)
	width := (hi - lo + int64(n)) / int64(n) // ceil((hi-lo+1)/n)
	width = max(width, res, 1)
	out := make([]Bucket, 0, n)
	for i := 0; i < n && lo+int64(i)*width <= hi; i++ {
		out = append(out, Bucket{From: lo + int64(i)*width, To: lo + int64(i+1)*width})
	}
	for _, b := range bars {
		mid := b.From + (b.To-b.From)/2
		mid = min(max(mid, lo), hi)
		i := int((mid - lo) / width)
		i = min(i, len(out)-1)
		out[i].Count += b.Count
	}
	return out
}

// Merge adds o's counts, histograms, series and failures to s, then
// recomputes the derived fields. Merging summaries of different scenarios
// gives a total (the scenario name is kept only if both agree).
func (s *Summary) Merge(o *Summary) {
	s.init()
	if s.Requests == 0 && s.Scenario == "" {
		s.Scenario = o.Scenario
	} else if s.Scenario != o.Scenario {
		s.Scenario = ""
	}
	s.Requests += o.Requests
	for k, v := range o.Outcomes {
		s.Outcomes[k] += v
	}
	s.Silent += o.Silent
	s.SilenceUnknown += o.SilenceUnknown
	s.Injected += o.Injected
	s.Retried += o.Retried
	s.RetriedComplete += o.RetriedComplete
	s.FramingOnly += o.FramingOnly
	s.FramedWhole += o.FramedWhole
	for k, v := range o.SilentBy {
		s.SilentBy[k] += v
	}
	for k, v := range o.SilenceUnknownBy {
		s.SilenceUnknownBy[k] += v
	}
	for k, v := range o.Evidence {
		s.Evidence[k] += v
	}
	s.Invalid += o.Invalid
	s.BytesExpected += o.BytesExpected
	s.BytesReceived += o.BytesReceived
	s.BytesVerified += o.BytesVerified
	if !o.Start.IsZero() && (s.Start.IsZero() || o.Start.Before(s.Start)) {
		s.Start = o.Start
	}
	if o.End.After(s.End) {
		s.End = o.End
	}
	s.LatencyHist.merge(o.LatencyHist)
	s.TTFBHist.merge(o.TTFBHist)
	s.OffsetHist.merge(o.OffsetHist)
	if o.Offsets.Count > 0 {
		if s.Offsets.Count == 0 || o.Offsets.Min < s.Offsets.Min {
			s.Offsets.Min = o.Offsets.Min
		}
		if s.Offsets.Count == 0 || o.Offsets.Max > s.Offsets.Max {
			s.Offsets.Max = o.Offsets.Max
		}
		s.Offsets.Count += o.Offsets.Count
	}
	s.Series.merge(&o.Series)
	for i := range o.Failures {
		s.keepFailure(&o.Failures[i])
	}
	s.Close()
}
