package results

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// JUnit XML, in the structure of the common Jenkins/Surefire schema
// (testsuites > testsuite > testcase > failure | skipped, system-out):
// one testsuite per run, one testcase per scenario (and one for the gate).
// A scenario that did not meet its expectation carries a <failure> whose
// text lists its first failing requests with offsets and flight-recorder
// timelines.

// JUnitSuites is the document root; exported so tests and tools can parse
// what [WriteJUnit] writes.
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     float64      `xml:"time,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one run.
type JUnitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       float64         `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []JUnitProperty `xml:"properties>property,omitempty"`
	Cases      []JUnitCase     `xml:"testcase"`
}

// JUnitProperty is a name/value pair of a suite.
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitCase is one scenario.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *JUnitFailure `xml:"failure,omitempty"`
	Skipped   *JUnitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// JUnitFailure says why a scenario failed; Text holds the failing requests.
type JUnitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnitSkipped marks a skipped testcase (kept for readers of older files;
// truncheck judges every scenario, an unknown expectation included).
type JUnitSkipped struct {
	Message string `xml:"message,attr"`
}

// JUnit converts a run to the JUnit document: a testcase per scenario
// (failed when its verdict is not met, with its first failing requests),
// and, when the run was gated, a testcase "gate" that fails with the
// gate's failing findings, so a CI job that exits 1 on the gate shows why.
func JUnit(rr *RunResult) JUnitSuites {
	name := "truncheck"
	if rr.Run != "" {
		name = "truncheck " + rr.Run
	}
	suite := JUnitSuite{Name: name}
	if rr.Total != nil {
		suite.Time = secs(rr.Total.Wall)
		if !rr.Total.Start.IsZero() {
			suite.Timestamp = rr.Total.Start.UTC().Format("2006-01-02T15:04:05")
		}
		suite.Properties = []JUnitProperty{
			{Name: "requests", Value: fmt.Sprint(rr.Total.Requests)},
			{Name: "silent", Value: SilentCell(rr.Total)},
			{Name: "evidence", Value: EvidenceCell(rr.Total)},
		}
	}
	for _, p := range [][2]string{{"run", rr.Run}, {"version", rr.Version}, {"verdict", verdictOf(rr)}} {
		if p[1] != "" {
			suite.Properties = append(suite.Properties, JUnitProperty{Name: p[0], Value: p[1]})
		}
	}
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		s := sr.Summary
		if s == nil {
			s = NewSummary(sr.Scenario)
		}
		tc := JUnitCase{Name: sr.Scenario, Classname: "truncheck." + string(orUnknown(sr.Expectation.Kind)), Time: secs(s.Wall)}
		tc.SystemOut = caseOut(sr, s)
		if !sr.Met {
			typ := "expect-" + string(orUnknown(sr.Expectation.Kind))
			if sr.Expectation.Kind == "" {
				typ = "silent"
			}
			tc.Failure = &JUnitFailure{Message: sr.Reason, Type: typ, Text: failureText(s)}
			suite.Failures++
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, tc)
	}
	if rr.Gated || len(rr.Findings) > 0 {
		tc := JUnitCase{Name: "gate", Classname: "truncheck.gate"}
		var all, failing []string
		for _, f := range rr.Findings {
			all = append(all, f.String())
			if f.Fail {
				failing = append(failing, f.String())
			}
		}
		tc.SystemOut = strings.Join(all, "\n")
		if len(failing) > 0 {
			tc.Failure = &JUnitFailure{Message: fmt.Sprintf("%d gate findings failed", len(failing)), Type: "gate", Text: strings.Join(failing, "\n")}
			suite.Failures++
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, tc)
	}
	return JUnitSuites{Name: name, Tests: suite.Tests, Failures: suite.Failures, Time: suite.Time, Suites: []JUnitSuite{suite}}
}

func secs(d time.Duration) float64 { return float64(d.Round(time.Millisecond)) / float64(time.Second) }

func caseOut(sr *ScenarioResult, s *Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "expect %s: %s\n", sr.Expectation, sr.Reason)
	if sr.Layout != "" {
		fmt.Fprintf(&b, "layout: %s\n", sr.Layout)
	}
	if sr.Faults != "" {
		fmt.Fprintf(&b, "faults: %s\n", sr.Faults)
	}
	fmt.Fprintf(&b, "seed: %d\n", sr.Seed)
	if sr.Restarts > 0 {
		fmt.Fprintf(&b, "restarts: %d\n", sr.Restarts)
	}
	fmt.Fprintf(&b, "requests %d: %s; silent %s; evidence %s\n", s.Requests, outcomeList(s), SilentCell(s), EvidenceCell(s))
	if s.Offsets.Count > 0 {
		fmt.Fprintf(&b, "failure offsets %s\n", offsetRange(s))
	}
	fmt.Fprintf(&b, "latency p50 %s p99 %s max %s; verified %s at %.1f MB/s\n",
		roundDur(s.Latency.P50), roundDur(s.Latency.P99), roundDur(s.Latency.Max), Bytes(s.BytesVerified), s.VerifiedMBps)
	for _, n := range scenarioNotes(sr) {
		b.WriteString(n + "\n")
	}
	return b.String()
}

// failureText lists the first failing requests, each with its offset,
// digests, server account and timeline.
func failureText(s *Summary) string {
	var b strings.Builder
	if len(s.Failures) == 0 {
		b.WriteString("no failing request recorded\n")
	}
	for i := range s.Failures {
		writeFailure(&b, &s.Failures[i], 0)
	}
	return b.String()
}

// writeFailure renders one failing request; maxEvents > 0 keeps only the
// end of its timeline (where the body stopped).
func writeFailure(b *strings.Builder, r *Record, maxEvents int) {
	fmt.Fprintf(b, "  #%d %s %s", r.Seq, r.Method, r.URL)
	if r.RequestID != "" {
		fmt.Fprintf(b, " id=%s", r.RequestID)
	}
	fmt.Fprintf(b, " status=%d: %s at offset %d of %d (received %d)", r.Status, r.Outcome, r.Offset, r.Expected, r.Received)
	if r.Silence != "" {
		fmt.Fprintf(b, " silence=%s", r.Silence)
	}
	b.WriteString("\n")
	if len(r.CheckedBy) > 0 || r.Framing != "" {
		fmt.Fprintf(b, "     checked by %s; framing %s", evidenceList(r.CheckedBy), orDash(r.Framing))
		if r.Cause != "" {
			fmt.Fprintf(b, "; cause %s", r.Cause)
		}
		if r.FramingWhole {
			b.WriteString("; its framing said whole (only end-to-end evidence caught the cut)")
		}
		b.WriteString("\n")
	}
	if r.Proto != "" || r.TLS != "" || r.Retries > 0 || r.RSTStream != "" || r.GoAway != "" {
		fmt.Fprintf(b, "     %s\n", protocolLine(r))
	}
	if r.DigestWant != "" || r.DigestGot != "" {
		fmt.Fprintf(b, "     digest sent %s, body has %s\n", r.DigestWant, r.DigestGot)
	}
	if r.DigestError != "" {
		fmt.Fprintf(b, "     digest not checked: %s\n", r.DigestError)
	}
	if r.Error != "" {
		fmt.Fprintf(b, "     error: %s\n", r.Error)
	}
	if a := r.ServerAccount; a != nil {
		fmt.Fprintf(b, "     server account: status %d, wrote %d of %d, complete=%v", a.Status, a.BytesWritten, a.ContentLength, a.Complete)
		if a.WriteError != "" {
			fmt.Fprintf(b, ", write error: %s", a.WriteError)
		}
		b.WriteString("\n")
		if a.Source != "" {
			fmt.Fprintf(b, "       from %s\n", a.Source)
		}
	} else if r.Outcome.CleanEnd() {
		b.WriteString("     server account: none (silence unknown)\n")
	}
	tl := r.Timeline
	if maxEvents > 0 && len(tl) > maxEvents {
		fmt.Fprintf(b, "     timeline (last %d of %d events):\n", maxEvents, len(tl))
		tl = tl[len(tl)-maxEvents:]
	} else if len(tl) > 0 {
		b.WriteString("     timeline:\n")
	}
	for _, e := range tl {
		b.WriteString("       " + e.Stamped() + "\n")
	}
}

// protocolLine says what carried a request and what HTTP/2 did to it:
// "HTTP/2.0 over TLS 1.3; RST_STREAM INTERNAL_ERROR", "HTTP/2.0 in the
// clear; GOAWAY last stream 7 NO_ERROR: lost", "...; retried 1 time".
func protocolLine(r *Record) string {
	proto := orDash(r.Proto)
	if r.Proto == "" {
		proto = "no response head"
	}
	parts := []string{proto}
	if r.TLS != "" {
		parts[0] += " over " + r.TLS
	} else if r.Proto != "" {
		parts[0] += " in the clear"
	}
	if r.RSTStream != "" {
		parts = append(parts, "RST_STREAM "+r.RSTStream)
	}
	if r.GoAway != "" {
		parts = append(parts, fmt.Sprintf("GOAWAY last stream %d %s: %s", r.GoAwayLastStream, orDash(r.GoAwayCode), r.GoAway))
	}
	if r.Retries > 0 {
		parts = append(parts, fmt.Sprintf("retried %d time(s)", r.Retries))
	}
	return strings.Join(parts, "; ")
}

func evidenceList(es []Evidence) string {
	if len(es) == 0 {
		return string(EvidenceNone)
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = string(e)
	}
	return strings.Join(parts, ", ")
}

// WriteJUnit writes the run as JUnit XML.
func WriteJUnit(w io.Writer, rr *RunResult) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("results: write JUnit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(JUnit(rr)); err != nil {
		return fmt.Errorf("results: write JUnit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("results: write JUnit: %w", err)
	}
	return nil
}
