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
// one testsuite per run, one testcase per scenario. A scenario that did
// not meet its expectation carries a <failure> whose text lists its first
// failing requests with offsets and flight-recorder timelines; one with no
// recorded expectation is <skipped>.

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

// JUnitSkipped marks a scenario with no recorded expectation.
type JUnitSkipped struct {
	Message string `xml:"message,attr"`
}

// JUnit converts a run to the JUnit document.
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
			{Name: "silent", Value: fmt.Sprint(rr.Total.Silent)},
		}
	}
	if rr.Run != "" {
		suite.Properties = append(suite.Properties, JUnitProperty{Name: "run", Value: rr.Run})
	}
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		s := sr.Summary
		if s == nil {
			s = NewSummary(sr.Scenario)
		}
		tc := JUnitCase{Name: sr.Scenario, Classname: "truncheck." + string(orDash(sr.Expect)), Time: secs(s.Wall)}
		tc.SystemOut = caseOut(sr, s)
		switch {
		case sr.Expect == "" && s.Silent > 0:
			// Merged records carry no expectation, but a silent failure is a
			// finding whatever the scenario meant to show: never "skipped".
			tc.Failure = &JUnitFailure{Message: fmt.Sprintf("%d silent failures (no expectation recorded)", s.Silent), Type: "silent", Text: failureText(s)}
			suite.Failures++
		case sr.Expect == "":
			tc.Skipped = &JUnitSkipped{Message: "no expectation recorded"}
			suite.Skipped++
		case !sr.Met:
			tc.Failure = &JUnitFailure{Message: sr.Reason, Type: "expect-" + string(sr.Expect), Text: failureText(s)}
			suite.Failures++
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, tc)
	}
	return JUnitSuites{Name: name, Tests: suite.Tests, Failures: suite.Failures, Time: suite.Time, Suites: []JUnitSuite{suite}}
}

func orDash(e Expect) Expect {
	if e == "" {
		return "unknown"
	}
	return e
}

func secs(d time.Duration) float64 { return float64(d.Round(time.Millisecond)) / float64(time.Second) }

func caseOut(sr *ScenarioResult, s *Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "expect %s", orDash(sr.Expect))
	if sr.ExpectOutcome != "" {
		fmt.Fprintf(&b, " (%s", sr.ExpectOutcome)
		if sr.ExpectSilent != nil {
			fmt.Fprintf(&b, ", silent=%v", *sr.ExpectSilent)
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ": %s\n", sr.Reason)
	if sr.Faults != "" {
		fmt.Fprintf(&b, "faults: %s\n", sr.Faults)
	}
	if sr.Seed != 0 {
		fmt.Fprintf(&b, "seed: %d\n", sr.Seed)
	}
	fmt.Fprintf(&b, "requests %d: %s; silent %d\n", s.Requests, outcomeList(s), s.Silent)
	if s.Offsets.Count > 0 {
		fmt.Fprintf(&b, "failure offsets %s\n", offsetRange(s))
	}
	fmt.Fprintf(&b, "latency p50 %s p99 %s max %s; verified %s at %.1f MB/s\n",
		roundDur(s.Latency.P50), roundDur(s.Latency.P99), roundDur(s.Latency.Max), Bytes(s.BytesVerified), s.VerifiedMBps)
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
		writeFailure(&b, &s.Failures[i])
	}
	return b.String()
}

func writeFailure(b *strings.Builder, r *Record) {
	fmt.Fprintf(b, "request #%d %s %s", r.Seq, r.Method, r.URL)
	if r.RequestID != "" {
		fmt.Fprintf(b, " id=%s", r.RequestID)
	}
	fmt.Fprintf(b, "\n  outcome %s", r.Outcome)
	if r.Silent {
		b.WriteString(" (SILENT)")
	}
	fmt.Fprintf(b, " status %d: got %d of %d bytes, offset %d\n", r.Status, r.Received, r.Expected, r.Offset)
	if r.Key != "" || r.Hops != "" {
		fmt.Fprintf(b, "  key %s hops %s seed %d\n", r.Key, r.Hops, r.Seed)
	}
	if r.DigestWant != "" || r.DigestGot != "" {
		fmt.Fprintf(b, "  digest want %s got %s\n", r.DigestWant, r.DigestGot)
	}
	if r.Error != "" {
		fmt.Fprintf(b, "  error: %s\n", r.Error)
	}
	if a := r.ServerAccount; a != nil {
		fmt.Fprintf(b, "  server: wrote %d bytes, complete=%v", a.BytesWritten, a.Complete)
		if a.WriteError != "" {
			fmt.Fprintf(b, ", write error: %s", a.WriteError)
		}
		b.WriteString("\n")
	}
	if len(r.Timeline) > 0 {
		fmt.Fprintf(b, "  timeline (conn %s):\n", r.ConnID)
		for _, e := range r.Timeline {
			b.WriteString("    " + e.String() + "\n")
		}
	}
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
