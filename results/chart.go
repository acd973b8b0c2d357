package results

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
	"time"
)

// Charts are drawn here as inline SVG, so the HTML report needs no script
// and no network. Each chart is also kept as data ([chartSpec]) and
// embedded in the report as JSON for tools and tests.

// outcomeColors gives each outcome a fixed colour across every chart.
var outcomeColors = map[Outcome]string{
	Complete:       "#2e7d32",
	Unverified:     "#9e9d24",
	Truncated:      "#c62828",
	Reset:          "#ef6c00",
	Corrupt:        "#6a1b9a",
	Overlong:       "#8d6e63",
	Stalled:        "#1565c0",
	HTTPError:      "#f9a825",
	TransportError: "#37474f",
}

type chartSpec struct {
	ID     string       `json:"id"`
	Title  string       `json:"title"`
	XLabel string       `json:"x_label"`
	YLabel string       `json:"y_label"`
	Bars   []chartBar   `json:"bars"`
	Legend []legendItem `json:"legend,omitempty"`
}

type chartBar struct {
	Label string     `json:"label"`
	Segs  []chartSeg `json:"segs"`
}

type chartSeg struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Color string  `json:"-"`
}

type legendItem struct {
	Name  string `json:"name"`
	Color string `json:"color"`
}

func (c *chartSpec) empty() bool {
	for _, b := range c.Bars {
		for _, s := range b.Segs {
			if s.Value > 0 {
				return false
			}
		}
	}
	return true
}

// outcomesChart: requests started per time bin, stacked by outcome.
func outcomesChart(id string, s *Summary) chartSpec {
	c := chartSpec{ID: id, Title: "Outcomes over time", XLabel: "time since start", YLabel: "requests"}
	used := map[Outcome]bool{}
	var origin time.Time
	if len(s.Series.Bins) > 0 {
		origin = s.Series.BinStart(0)
	}
	for i, bin := range s.Series.Bins {
		b := chartBar{Label: "+" + roundDur(s.Series.BinStart(i).Sub(origin))}
		if i == 0 {
			b.Label = "+0"
		}
		for _, o := range allOutcomes {
			if n := bin[o]; n > 0 {
				b.Segs = append(b.Segs, chartSeg{Name: string(o), Value: float64(n), Color: outcomeColors[o]})
				used[o] = true
			}
		}
		c.Bars = append(c.Bars, b)
	}
	for _, o := range allOutcomes {
		if used[o] {
			c.Legend = append(c.Legend, legendItem{Name: string(o), Color: outcomeColors[o]})
		}
	}
	if s.Series.Width > 0 {
		c.XLabel += fmt.Sprintf(" (bins of %s)", roundDur(s.Series.Width))
	}
	return c
}

// offsetsChart: where failed bodies ended, linear buckets between the
// smallest and largest offset.
func offsetsChart(id string, s *Summary) chartSpec {
	c := chartSpec{ID: id, Title: "Failure offsets (where bodies ended)", XLabel: "offset in body", YLabel: "requests"}
	label := Bytes
	if bs := s.Offsets.Buckets; len(bs) > 0 && bs[0].To-bs[0].From < 1024 {
		label = exactBytes // bars narrower than a KiB: "219.3KiB" would repeat
	}
	for _, b := range s.Offsets.Buckets {
		c.Bars = append(c.Bars, chartBar{
			Label: label(b.From),
			Segs:  []chartSeg{{Name: label(b.From) + "–" + label(b.To), Value: float64(b.Count), Color: outcomeColors[Truncated]}},
		})
	}
	return c
}

// latencyChart: the latency distribution in log-spaced bins.
func latencyChart(id string, s *Summary) chartSpec {
	c := chartSpec{ID: id, Title: "Latency distribution", XLabel: "latency (log scale)", YLabel: "requests"}
	bars := s.LatencyHist.Bars()
	if len(bars) == 0 {
		return c
	}
	lo := float64(max(bars[0].From, 1))
	hi := float64(max(bars[len(bars)-1].To, bars[0].From+1))
	const n = 30
	ratio := math.Pow(hi/lo, 1.0/n)
	if ratio <= 1 {
		ratio = 1.0001
	}
	counts := make([]float64, n)
	for _, b := range bars {
		mid := float64(b.From + (b.To-b.From)/2)
		i := 0
		if mid > lo {
			i = int(math.Log(mid/lo) / math.Log(ratio))
		}
		counts[min(max(i, 0), n-1)] += float64(b.Count)
	}
	for i := range n {
		from := time.Duration(lo * math.Pow(ratio, float64(i)))
		to := time.Duration(lo * math.Pow(ratio, float64(i+1)))
		c.Bars = append(c.Bars, chartBar{
			Label: roundDur(from),
			Segs:  []chartSeg{{Name: roundDur(from) + "–" + roundDur(to), Value: counts[i], Color: "#1565c0"}},
		})
	}
	return c
}

// svg draws the chart as a stacked bar chart.
func (c *chartSpec) svg() template.HTML {
	const (
		W, H                 = 720, 260
		left, right, top, bo = 56, 12, 28, 44
	)
	pw, ph := float64(W-left-right), float64(H-top-bo)
	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="%s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		esc(c.ID), W, H, W, H, esc(c.Title))
	fmt.Fprintf(&b, `<text x="%d" y="16" class="title">%s</text>`, left, esc(c.Title))
	if c.empty() {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="nodata">no data</text></svg>`, W/2-24, H/2)
		return template.HTML(b.String()) // #nosec: every text is escaped above
	}
	ymax := 0.0
	for _, bar := range c.Bars {
		sum := 0.0
		for _, s := range bar.Segs {
			sum += s.Value
		}
		ymax = max(ymax, sum)
	}
	ymax, ystep := niceScale(ymax)
	// Axes and y ticks.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, left, top, left, H-bo)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, left, H-bo, W-right, H-bo)
	for i := 0; i <= 5 && float64(i)*ystep <= ymax; i++ {
		v := float64(i) * ystep
		y := float64(H-bo) - ph*v/ymax
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="grid"/>`, left, y, W-right, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="ytick">%s</text>`, left-6, y+4, fmtCount(v))
	}
	// Bars.
	n := len(c.Bars)
	slot := pw / float64(n)
	bw := math.Max(slot*0.85, 1)
	every := max(1, (n+7)/8)
	for i, bar := range c.Bars {
		x := float64(left) + slot*float64(i) + (slot-bw)/2
		y := float64(H - bo)
		for _, s := range bar.Segs {
			if s.Value <= 0 {
				continue
			}
			h := ph * s.Value / ymax
			y -= h
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
				x, y, bw, h, esc(s.Color), esc(bar.Label), esc(s.Name), fmtCount(s.Value))
		}
		if i%every == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="xtick">%s</text>`, x+bw/2, H-bo+14, esc(bar.Label))
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="xlabel">%s</text>`, left+int(pw/2), H-6, esc(c.XLabel))
	fmt.Fprintf(&b, `<text x="12" y="%d" class="ylabel" transform="rotate(-90 12 %d)">%s</text>`, top+int(ph/2), top+int(ph/2), esc(c.YLabel))
	// Legend, top right.
	lx := W - right
	for i := len(c.Legend) - 1; i >= 0; i-- {
		l := c.Legend[i]
		lx -= 14 + 7*len(l.Name) + 10
		fmt.Fprintf(&b, `<rect x="%d" y="7" width="10" height="10" fill="%s"/><text x="%d" y="16" class="legend">%s</text>`,
			lx, esc(l.Color), lx+14, esc(l.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: every text is escaped above
}

// niceScale picks an axis top and tick step for counts up to v: the
// step is 1, 2 or 5 times a power of ten (at least 1), at most 5 ticks.
func niceScale(v float64) (top, step float64) {
	if !(v > 1) || math.IsInf(v, 0) { // also NaN
		return 1, 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v/5)))
	step = 10 * p
	for _, m := range []float64{1, 2, 5} {
		if math.Ceil(v/(m*p)) <= 5 {
			step = m * p
			break
		}
	}
	step = math.Max(step, 1)
	return math.Max(step, step*math.Ceil(v/step)), step
}

func fmtCount(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// exactBytes formats a byte count in full with thin groups: "219 264".
func exactBytes(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune('\u202f')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
