package results

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes the table every subcommand prints (run, check, soak,
// report): one row per scenario and a total, each with its outcomes, proven
// silent failures ("?" where the server kept no account), failure offsets,
// the evidence mix and the verdict with its reason; then the notes a reader
// needs to trust the numbers, and the gate's findings.
//
//	SCENARIO  REQUESTS  OUTCOMES     SILENT  OFFSETS  EVIDENCE  WALL   VERDICT
//	baseline  24        24 complete  0       -        e2e 24    410ms  PASS: all 24 responses verified
func WriteText(w io.Writer, rr *RunResult) error {
	ew := &errWriter{w: w}
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tREQUESTS\tOUTCOMES\tSILENT\tOFFSETS\tEVIDENCE\tWALL\tVERDICT")
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		row(tw, sr.Scenario, sr.Summary, verdictWord(sr)+": "+sr.Reason)
	}
	if rr.Total != nil && len(rr.Scenarios) != 1 {
		row(tw, "TOTAL", rr.Total, verdictOf(rr))
	}
	_ = tw.Flush()
	var b strings.Builder
	if t := rr.Total; t != nil && t.Requests > 0 {
		fmt.Fprintf(&b, "\nlatency p50 %s p99 %s max %s; ttfb p50 %s p99 %s; verified %s at %.1f MB/s\n",
			roundDur(t.Latency.P50), roundDur(t.Latency.P99), roundDur(t.Latency.Max),
			roundDur(t.TTFB.P50), roundDur(t.TTFB.P99), Bytes(t.BytesVerified), t.VerifiedMBps)
	}
	notes := false
	for i := range rr.Scenarios {
		for _, n := range scenarioNotes(&rr.Scenarios[i]) {
			if !notes {
				b.WriteString("\n")
				notes = true
			}
			fmt.Fprintf(&b, "%s: %s\n", rr.Scenarios[i].Scenario, n)
		}
	}
	if rr.Gated || len(rr.Findings) > 0 {
		b.WriteString("\n")
		if len(rr.Findings) == 0 {
			b.WriteString("gate: no findings\n")
		}
		for _, f := range rr.Findings {
			fmt.Fprintf(&b, "gate: %s\n", f)
		}
		if Failed(rr.Findings) {
			b.WriteString("gate: FAIL\n")
		} else {
			b.WriteString("gate: pass\n")
		}
	}
	_, _ = io.WriteString(ew, b.String())
	if ew.err != nil {
		return fmt.Errorf("results: write table: %w", ew.err)
	}
	return nil
}

// errWriter keeps the first write error, so a table written to a closed
// stdout is an error the caller sees rather than a silent exit 0.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

func row(w io.Writer, name string, s *Summary, verdict string) {
	if s == nil {
		s = NewSummary(name)
	}
	fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", name, s.Requests, outcomeList(s), SilentCell(s),
		offsetRange(s), EvidenceCell(s), roundDur(s.Wall), verdict)
}

// SilentCell renders the silent count for tables: "3", "0", "?" (failures
// the client saw end cleanly, none with a server account), "3+?2".
func SilentCell(s *Summary) string {
	switch {
	case s.SilenceUnknown > 0 && s.Silent == 0:
		return "?"
	case s.SilenceUnknown > 0:
		return fmt.Sprintf("%d+?%d", s.Silent, s.SilenceUnknown)
	}
	return fmt.Sprint(s.Silent)
}

// EvidenceCell renders the evidence mix: "e2e 20, framing 4".
func EvidenceCell(s *Summary) string {
	mix := s.EvidenceMix()
	short := map[EvidenceClass]string{EndToEnd: "e2e", Consistency: "fetches", Framing: "framing", NoEvidence: "none"}
	var parts []string
	for _, c := range EvidenceClasses() {
		if n := mix[c]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", short[c], n))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// scenarioNotes is what a reader must know besides the row: the harness's
// notes and findings, framing-only and unknown-silence warnings.
func scenarioNotes(sr *ScenarioResult) []string {
	var out []string
	for _, n := range sr.Notes {
		out = append(out, "note: "+n)
	}
	for _, f := range sr.Findings {
		out = append(out, "finding: "+f.Message)
	}
	s := sr.Summary
	if s == nil {
		return out
	}
	if s.FramingOnly > 0 {
		out = append(out, fmt.Sprintf("framing only: %d complete responses were checked only against their hop's own framing "+
			"(Content-Length, last chunk); a gateway in the path can launder a cut into a well-framed shorter response "+
			"(give an expectation or a reference, or require end-to-end evidence)", s.FramingOnly))
	}
	if s.SilenceUnknown > 0 {
		out = append(out, fmt.Sprintf("silent=?: %d failures ended cleanly but the server kept no account, so whether it knew is unknown "+
			"(publish one: the account protocol in the README)", s.SilenceUnknown))
	}
	if s.Injected > 0 {
		out = append(out, fmt.Sprintf("%d failures were cut by our own injected faults outside the server: not the server's silence", s.Injected))
	}
	if s.Retried > 0 {
		out = append(out, fmt.Sprintf("retried: the client sent %d requests again (a GOAWAY that did not cover their stream, a connection that was gone); "+
			"%d of them then verified complete, and a retry that verifies is not a loss", s.Retried, s.RetriedComplete))
	}
	return out
}

func verdictWord(sr *ScenarioResult) string {
	if sr.Met {
		return "PASS " + string(orUnknown(sr.Expectation.Kind))
	}
	return "FAIL " + string(orUnknown(sr.Expectation.Kind))
}

func verdictOf(rr *RunResult) string {
	if rr.Met() {
		return "PASS"
	}
	return "FAIL"
}

func orUnknown(e Expect) Expect {
	if e == "" {
		return "unknown"
	}
	return e
}

// WriteDetails writes, for every scenario that did not meet its
// expectation, its first failing requests: offsets, digests, the server's
// account and the flight recorder's timeline (the end of it: where the
// body stopped). It is what a failing test or CI log shows.
func WriteDetails(w io.Writer, rr *RunResult, perScenario int) error {
	var b strings.Builder
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		if sr.Met || sr.Summary == nil {
			continue
		}
		fmt.Fprintf(&b, "\n%s: %s\n", sr.Scenario, sr.Reason)
		fmt.Fprintf(&b, "  layout %s; faults: %s; seed %d; restarts %d; aborted %d; expect %s\n",
			orDash(sr.Layout), orNone(sr.Faults), sr.Seed, sr.Restarts, sr.Aborted, sr.Expectation)
		for j := range sr.Summary.Failures {
			if j == perScenario {
				fmt.Fprintf(&b, "  ... %d more failing requests kept in the summary\n", len(sr.Summary.Failures)-j)
				break
			}
			writeFailure(&b, &sr.Summary.Failures[j], 24)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func offsetRange(s *Summary) string {
	switch {
	case s.Offsets.Count == 0:
		return "-"
	case s.Offsets.Min == s.Offsets.Max:
		return fmt.Sprint(s.Offsets.Min)
	}
	return fmt.Sprintf("%d..%d", s.Offsets.Min, s.Offsets.Max)
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

// WritePlanText renders a run's plan: each scenario as it ran (layout,
// seed, faults in their canonical text, expectation), the shard it is of
// a sharded run, and the external target, if any.
func WritePlanText(w io.Writer, p *Plan) error {
	var shards []Shard
	if !p.Shard.IsZero() {
		shards = []Shard{p.Shard}
	}
	return writePlan(w, p, shards)
}

// WritePlansText renders several plans, a blank line before each; the
// shards of one run (the same run id, shard count and scenario set) are
// rendered as one plan: the shards given and every scenario any of them
// ran, once.
func WritePlansText(w io.Writer, plans []*Plan) error {
	type group struct {
		plan   Plan
		shards []Shard
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, p := range plans {
		if p == nil {
			continue
		}
		if p.Shard.IsZero() {
			groups = append(groups, &group{plan: *p})
			continue
		}
		key := fmt.Sprintf("%s\x00%d\x00%s", p.Run, p.Shard.Count, p.ScenarioSet)
		g, ok := byKey[key]
		if !ok {
			g = &group{plan: *p}
			g.plan.Scenarios = nil
			byKey[key] = g
			groups = append(groups, g)
		}
		g.shards = append(g.shards, p.Shard)
		for _, sc := range p.Scenarios {
			if !slices.ContainsFunc(g.plan.Scenarios, func(x PlannedScenario) bool { return x.Name == sc.Name }) {
				g.plan.Scenarios = append(g.plan.Scenarios, sc)
			}
		}
	}
	for _, g := range groups {
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
		if err := writePlan(w, &g.plan, g.shards); err != nil {
			return err
		}
	}
	return nil
}

func writePlan(w io.Writer, p *Plan, shards []Shard) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "as run: %s (%s, truncheck %s)\n", p.Run, p.Command, p.Version)
	if len(shards) > 0 {
		names := make([]string, len(shards))
		for i, sh := range shards {
			names[i] = sh.String()
		}
		word := "shard"
		if len(shards) > 1 {
			word = "shards"
		}
		fmt.Fprintf(ew, "  %s %s of a run split %d ways, scenario set %s\n", word, strings.Join(names, ", "), shards[0].Count, orNone(p.ScenarioSet))
	}
	if t := p.Target; t != nil {
		fmt.Fprintf(ew, "  target %s", t.URL)
		if len(t.Exec) > 0 {
			fmt.Fprintf(ew, ", started as %q", t.Exec)
		}
		if t.RestartEvery > 0 {
			fmt.Fprintf(ew, ", restarted every %s", t.RestartEvery)
			if t.Overlap {
				fmt.Fprint(ew, " (overlapping)")
			}
		}
		switch t.Protocol {
		case "h2":
			fmt.Fprint(ew, ", HTTP/2")
		case "http/1.1":
			fmt.Fprint(ew, ", HTTP/1.1 only")
		}
		if tl := t.TLS; tl != nil {
			switch {
			case tl.Insecure:
				fmt.Fprint(ew, ", its certificate not checked (--insecure)")
			case tl.CAFile != "":
				fmt.Fprintf(ew, ", its certificate checked against %s", tl.CAFile)
			}
			if tl.ClientCert != "" {
				fmt.Fprintf(ew, ", client certificate %s", tl.ClientCert)
			}
		}
		if t.AccountPath != "" {
			fmt.Fprintf(ew, ", accounts at %s", t.AccountPath)
		} else {
			fmt.Fprint(ew, ", no account (silence unknown)")
		}
		fmt.Fprintln(ew)
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, sc := range p.Scenarios {
		faults := sc.Faults
		if faults == "" {
			faults = "no faults"
		}
		fmt.Fprintf(tw, "  %s\t%s\tseed %d\t%s\texpect %s\n", sc.Name, sc.Layout, sc.Seed, faults, sc.Expectation)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return ew.err
}
