package results

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes the terminal table: one row per scenario and a total,
// then the reason of every scenario that did not meet its expectation.
//
//	SCENARIO  REQUESTS  COMPLETE  TRUNCATED  SILENT  RESET  CORRUPT  OTHER  OFFSETS          WALL   VERDICT
//	direct    40        40        0          0       0      0        0      -                1.2s   PASS complete
func WriteText(w io.Writer, rr *RunResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tREQUESTS\tCOMPLETE\tTRUNCATED\tSILENT\tRESET\tCORRUPT\tOTHER\tOFFSETS\tWALL\tVERDICT")
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		row(tw, sr.Scenario, sr.Summary, verdictWord(sr))
	}
	if rr.Total != nil && len(rr.Scenarios) != 1 {
		v := "PASS"
		if !rr.Met() {
			v = "FAIL"
		}
		row(tw, "TOTAL", rr.Total, v)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("results: write table: %w", err)
	}
	var b strings.Builder
	if t := rr.Total; t != nil && t.Requests > 0 {
		fmt.Fprintf(&b, "\nlatency p50 %s p99 %s max %s; ttfb p50 %s p99 %s; verified %s at %.1f MB/s\n",
			roundDur(t.Latency.P50), roundDur(t.Latency.P99), roundDur(t.Latency.Max),
			roundDur(t.TTFB.P50), roundDur(t.TTFB.P99), Bytes(t.BytesVerified), t.VerifiedMBps)
	}
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		if sr.Expect != "" && !sr.Met {
			fmt.Fprintf(&b, "FAIL %s: %s\n", sr.Scenario, sr.Reason)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func row(w io.Writer, name string, s *Summary, verdict string) {
	if s == nil {
		s = NewSummary(name)
	}
	other := s.Requests - s.Outcomes[Complete] - s.Outcomes[Truncated] - s.Outcomes[Reset] - s.Outcomes[Corrupt]
	fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", name, s.Requests,
		s.Outcomes[Complete], s.Outcomes[Truncated], s.Silent, s.Outcomes[Reset], s.Outcomes[Corrupt],
		other, offsetRange(s), roundDur(s.Wall), verdict)
}

func verdictWord(sr *ScenarioResult) string {
	switch {
	case sr.Expect == "":
		return "-"
	case sr.Met:
		return "PASS " + string(sr.Expect)
	}
	return "FAIL " + string(sr.Expect)
}

func offsetRange(s *Summary) string {
	switch {
	case s.Offsets.Count == 0:
		return "-"
	case s.Offsets.Min == s.Offsets.Max:
		return Bytes(s.Offsets.Min)
	case Bytes(s.Offsets.Min) == Bytes(s.Offsets.Max):
		return fmt.Sprintf("%d-%d", s.Offsets.Min, s.Offsets.Max) // close together: exact
	}
	return Bytes(s.Offsets.Min) + "-" + Bytes(s.Offsets.Max)
}

// roundDur shortens a duration for tables: 3 significant digits.
func roundDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d >= 100*time.Second:
		return d.Round(time.Second).String()
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// Bytes formats a byte count with binary units: 219264 -> "214.1KiB".
// Counts under 1 KiB are exact ("512B").
func Bytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%dB", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= unit
		if f < unit && f > -unit || u == "TiB" {
			return fmt.Sprintf("%.1f%s", f, u)
		}
	}
	return fmt.Sprintf("%dB", n)
}
