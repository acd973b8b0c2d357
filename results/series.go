package results

import (
	"fmt"
	"math"
	"time"
)

// Series counts outcomes per time bin for the "outcomes over time" chart.
// Its memory is bounded: when the span needs more than [maxSeriesBins]
// bins, the bin width doubles and neighbours merge. Bins are aligned to
// multiples of their width since the Unix epoch, and widths are
// [seriesBaseWidth] times a power of two, so series from several
// machines merge exactly.
type Series struct {
	Width time.Duration `json:"width_ns"`       // bin width; 0 when empty
	First int64         `json:"first_bin"`      // index of Bins[0]: start = First*Width since the epoch
	Bins  []OutcomeBin  `json:"bins,omitempty"` // consecutive bins from First
}

// OutcomeBin is the count per outcome in one time bin; only non-zero
// outcomes appear.
type OutcomeBin map[Outcome]int64

const (
	seriesBaseWidth = 100 * time.Millisecond
	maxSeriesBins   = 240
)

// BinStart returns the start time of bin i of Bins.
func (s *Series) BinStart(i int) time.Time {
	return time.Unix(0, (s.First+int64(i))*int64(s.Width)).UTC()
}

func (s *Series) add(t time.Time, o Outcome, n int64) {
	if s.Width == 0 {
		s.Width = seriesBaseWidth
	}
	for {
		idx := floorDiv(t.UnixNano(), int64(s.Width))
		if len(s.Bins) == 0 {
			s.First = idx
			s.Bins = append(s.Bins, OutcomeBin{})
		}
		lo, hi := min(s.First, idx), max(s.First+int64(len(s.Bins))-1, idx)
		if hi-lo+1 > maxSeriesBins {
			s.coarsen()
			continue
		}
		if idx < s.First {
			grow := make([]OutcomeBin, s.First-idx, int(s.First-idx)+len(s.Bins))
			s.Bins = append(grow, s.Bins...)
			s.First = idx
		}
		for int64(len(s.Bins)) <= idx-s.First {
			s.Bins = append(s.Bins, nil)
		}
		b := s.Bins[idx-s.First]
		if b == nil {
			b = OutcomeBin{}
			s.Bins[idx-s.First] = b
		}
		b[o] += n
		return
	}
}

// coarsen doubles the width, merging pairs of bins.
func (s *Series) coarsen() {
	s.setWidth(s.Width * 2)
}

// setWidth re-bins into a wider width (a power-of-two multiple of the
// current one).
func (s *Series) setWidth(w time.Duration) {
	if len(s.Bins) == 0 || s.Width <= 0 {
		s.Width, s.First, s.Bins = w, 0, nil
		return
	}
	if w <= s.Width {
		return
	}
	factor := int64(w / s.Width)
	first := floorDiv(s.First, factor)
	var bins []OutcomeBin
	for i, b := range s.Bins {
		j := floorDiv(s.First+int64(i), factor) - first
		for int64(len(bins)) <= j {
			bins = append(bins, nil)
		}
		if len(b) == 0 {
			continue
		}
		if bins[j] == nil {
			bins[j] = OutcomeBin{}
		}
		for o, n := range b {
			bins[j][o] += n
		}
	}
	s.Width, s.First, s.Bins = w, first, bins
}

// merge adds o's bins to s.
func (s *Series) merge(o *Series) {
	if len(o.Bins) == 0 {
		return
	}
	if len(s.Bins) == 0 {
		*s = o.clone()
		return
	}
	if s.Width < o.Width {
		s.setWidth(o.Width)
	}
	c := *o
	c.Bins = o.Bins
	if c.Width < s.Width {
		c = o.clone()
		c.setWidth(s.Width)
	}
	for i, b := range c.Bins {
		t := c.BinStart(i)
		for out, n := range b {
			s.add(t, out, n)
		}
	}
}

func (s *Series) clone() Series {
	c := Series{Width: s.Width, First: s.First, Bins: make([]OutcomeBin, len(s.Bins))}
	for i, b := range s.Bins {
		if b != nil {
			c.Bins[i] = OutcomeBin{}
			for o, n := range b {
				c.Bins[i][o] = n
			}
		}
	}
	return c
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// validate checks a series read from a file: the width must be the base
// width times a power of two, and the bins bounded, or merging would
// misalign bins.
func (s *Series) validate() error {
	if len(s.Bins) == 0 {
		return nil
	}
	w := s.Width
	if w < seriesBaseWidth || w%seriesBaseWidth != 0 {
		return fmt.Errorf("series width %v (accepted: %v times a power of two)", w, seriesBaseWidth)
	}
	if f := w / seriesBaseWidth; f&(f-1) != 0 || f > 1<<32 {
		return fmt.Errorf("series width %v (accepted: %v times a power of two)", w, seriesBaseWidth)
	}
	if s.First < 0 || s.First > math.MaxInt64/int64(w)-int64(len(s.Bins)) {
		return fmt.Errorf("series first bin %d out of range (accepted: bins between 1970 and 2262)", s.First)
	}
	if len(s.Bins) > maxSeriesBins {
		return fmt.Errorf("series has %d bins (accepted: at most %d)", len(s.Bins), maxSeriesBins)
	}
	for i, b := range s.Bins {
		for o, n := range b {
			if n < 0 {
				return fmt.Errorf("series bin %d: negative count %d for %s", i, n, o)
			}
		}
	}
	return nil
}
