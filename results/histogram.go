package results

import (
	"encoding/json"
	"fmt"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram is an HDR histogram that travels in summary JSON in the
// standard V2 compressed base64 form, so summaries from several machines
// merge exactly (not by averaging percentiles). Memory is fixed by its
// range and precision, never by the number of values.
type Histogram struct {
	h *hdrhistogram.Histogram
}

// Histogram ranges. Latency in nanoseconds with 1µs resolution up to an
// hour at 3 significant digits (~0.1%); offsets in bytes up to 1 TiB at 3
// significant digits.
const (
	latencyLowest  = int64(time.Microsecond)
	latencyHighest = int64(time.Hour)
	offsetHighest  = int64(1) << 40
	histDigits     = 3
)

func newLatencyHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(latencyLowest, latencyHighest, histDigits)}
}

func newOffsetHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(1, offsetHighest, histDigits)}
}

// record clamps v into the histogram's range: a value off the scale is
// still counted, at the edge, rather than dropped.
func (x *Histogram) record(v int64) {
	v = min(max(v, 0), x.h.HighestTrackableValue())
	_ = x.h.RecordValue(v) // cannot fail after clamping
}

// merge adds o's counts to x.
func (x *Histogram) merge(o *Histogram) {
	if o == nil || o.h == nil {
		return
	}
	x.h.Merge(o.h)
}

// Count returns the number of recorded values.
func (x *Histogram) Count() int64 {
	if x == nil || x.h == nil {
		return 0
	}
	return x.h.TotalCount()
}

// Quantile returns the value at percentile q in [0, 100], 0 when empty.
func (x *Histogram) Quantile(q float64) int64 {
	if x.Count() == 0 {
		return 0
	}
	return x.h.ValueAtQuantile(q)
}

// Bars returns the non-empty buckets of the distribution in value order,
// each [From, To) at the histogram's resolution.
func (x *Histogram) Bars() []Bucket {
	if x.Count() == 0 {
		return nil
	}
	var out []Bucket
	for _, b := range x.h.Distribution() {
		if b.Count > 0 {
			out = append(out, Bucket{From: b.From, To: b.To + 1, Count: b.Count})
		}
	}
	return out
}

// MarshalJSON writes the V2 compressed base64 encoding as a JSON string.
func (x *Histogram) MarshalJSON() ([]byte, error) {
	if x == nil || x.h == nil {
		return []byte("null"), nil
	}
	b, err := x.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("encode histogram: %w", err)
	}
	return json.Marshal(string(b))
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (x *Histogram) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("histogram: want a base64 string: %w", err)
	}
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return fmt.Errorf("histogram: %w", err)
	}
	x.h = h
	return nil
}
