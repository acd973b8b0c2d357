package results

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJUnit(t *testing.T) {
	rr := judged(sample())
	// Make "clean" fail and add a scenario with no expectation.
	rr.Scenarios[0].Met, rr.Scenarios[0].Reason = false, "p99 too high & <worse>"
	extra := rec("unjudged", 1, Complete)
	s := NewSummary("unjudged")
	s.Add(&extra)
	rr.Scenarios = append(rr.Scenarios, ScenarioResult{Scenario: "unjudged", Summary: s})
	rr.Scenarios[2].Judge()
	rr.Retotal()
	rr.Gated = true
	rr.Findings = []Finding{{Scenario: "clean", Check: CheckP99, Fail: true, Message: "p99 latency 30ms, baseline 20ms"}}

	var buf bytes.Buffer
	require.NoError(t, WriteJUnit(&buf, rr))
	assert.True(t, strings.HasPrefix(buf.String(), "<?xml"))

	// Parse into an independent mirror of the Surefire schema's structure.
	type failure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *failure `xml:"failure"`
		Skipped   *struct {
			Message string `xml:"message,attr"`
		} `xml:"skipped"`
		SystemOut string `xml:"system-out"`
	}
	type testsuite struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Skipped    int    `xml:"skipped,attr"`
		Time       string `xml:"time,attr"`
		Timestamp  string `xml:"timestamp,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []testcase `xml:"testcase"`
	}
	var doc struct {
		XMLName  xml.Name    `xml:"testsuites"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Suites   []testsuite `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	require.Len(t, doc.Suites, 1, "one testsuite per run")
	su := doc.Suites[0]
	assert.Equal(t, 4, doc.Tests)
	assert.Equal(t, 2, doc.Failures)
	assert.Equal(t, 4, su.Tests)
	assert.Equal(t, 2, su.Failures, "the failing scenario and the gate")
	assert.Equal(t, 0, su.Errors)
	assert.Equal(t, 0, su.Skipped)
	assert.Regexp(t, `^\d+\.\d+$|^\d+$`, su.Time)
	assert.Equal(t, "2026-11-27T02:00:00", su.Timestamp)
	require.Len(t, su.Cases, 4)
	props := map[string]string{}
	for _, p := range su.Properties {
		props[p.Name] = p.Value
	}
	assert.Equal(t, "FAIL", props["verdict"])
	assert.Equal(t, "4", props["silent"])
	assert.Equal(t, "e2e 61", props["evidence"])

	clean, cut, unjudged, gate := su.Cases[0], su.Cases[1], su.Cases[2], su.Cases[3]
	assert.Equal(t, "gate", gate.Name)
	require.NotNil(t, gate.Failure, "the gate's failing findings are in JUnit, not only on stdout")
	assert.Contains(t, gate.Failure.Text, "p99 latency 30ms")
	assert.Equal(t, "clean", clean.Name)
	require.NotNil(t, clean.Failure)
	assert.Equal(t, "p99 too high & <worse>", clean.Failure.Message, "escaped and back")
	assert.Equal(t, "expect-complete", clean.Failure.Type)
	assert.Nil(t, cut.Failure, "a detect scenario that caught its defect passes")
	assert.Contains(t, cut.SystemOut, "faults: buffered-shutdown,sndbuf=8KiB")
	assert.Contains(t, cut.SystemOut, "4 truncated")
	assert.Nil(t, unjudged.Skipped)
	assert.Nil(t, unjudged.Failure, "no expectation and no silent failure")

	// A failing scenario with failures lists them with offsets and timelines.
	rr.Scenarios[1].Met, rr.Scenarios[1].Reason = false, "no silent truncation"
	buf.Reset()
	require.NoError(t, WriteJUnit(&buf, rr))
	doc.Suites = nil
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	f := doc.Suites[0].Cases[1].Failure
	require.NotNil(t, f)
	assert.Contains(t, f.Text, "#100 GET")
	assert.Contains(t, f.Text, "status=200: truncated at offset 219364 of 3300000 (received 219364) silence=silent")
	assert.Contains(t, f.Text, "checked by content-digest:sha-256, reference, content-length; framing content-length; cause system-under-test")
	assert.Contains(t, f.Text, "server account: status 200, wrote 3300000 of 3300000, complete=true")
	assert.Contains(t, f.Text, "partial-write 219264 of 3300000")
	assert.Contains(t, f.Text, "close-write buffered-shutdown")
	assert.Equal(t, DefaultKeepFailures, strings.Count(f.Text, " GET http"))
}

func TestText(t *testing.T) {
	rr := judged(sample())
	var buf bytes.Buffer
	require.NoError(t, WriteText(&buf, rr))
	out := buf.String()
	lines := strings.Split(out, "\n")
	require.GreaterOrEqual(t, len(lines), 4)
	assert.Regexp(t, `^SCENARIO\s+REQUESTS\s+OUTCOMES\s+SILENT\s+OFFSETS\s+EVIDENCE\s+WALL\s+VERDICT`, lines[0])
	assert.Regexp(t, `^clean\s+40\s+40 complete\s+0\s+-\s+e2e 40\s+1\.96s\s+PASS complete: all 40 responses verified$`, lines[1])
	assert.Regexp(t, `^cut\s+20\s+15 complete, 4 truncated, 1 reset\s+4\s+219364\.\.219379\s+e2e 20\s+\S+\s+PASS detect: defect detected`, lines[2])
	assert.Regexp(t, `^TOTAL\s+60\s+55 complete, 4 truncated, 1 reset\s+4\s`, lines[3])
	assert.Contains(t, out, "latency p50")
	assert.NotContains(t, out, "framing only", "every response here rests on end-to-end evidence")

	// Silence unknown is shown as unknown, framing-only as a warning.
	rr2 := judged(sample())
	s := rr2.Scenarios[1].Summary
	for i := range int64(3) {
		r := rec("cut", 500+i, Truncated)
		r.Silence, r.ServerAccount = SilenceUnknown, nil
		s.Add(&r)
	}
	f := rec("cut", 600, Complete)
	f.CheckedBy = []Evidence{EvidenceChunked}
	s.Add(&f)
	rr2.Rejudge()
	buf.Reset()
	require.NoError(t, WriteText(&buf, rr2))
	assert.Regexp(t, `(?m)^cut\s+24\s+16 complete, 7 truncated, 1 reset\s+4\+\?3\s`, buf.String())
	assert.Contains(t, buf.String(), "cut: silent=?: 3 failures ended cleanly but the server kept no account")
	assert.Contains(t, buf.String(), "cut: framing only: 1 complete responses were checked only against their hop's own framing")

	rr.Scenarios[0].Met, rr.Scenarios[0].Reason = false, "3 of 40 failed"
	rr.Gated = true
	buf.Reset()
	require.NoError(t, WriteText(&buf, rr))
	assert.Contains(t, buf.String(), "FAIL complete: 3 of 40 failed")
	assert.Regexp(t, `(?m)^TOTAL.*FAIL$`, buf.String())
	assert.Contains(t, buf.String(), "gate: no findings\ngate: pass")

	// A table that cannot be written is an error, not a silent success.
	assert.Error(t, WriteText(failingWriter{}, rr))
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestHTML(t *testing.T) {
	rr := judged(sample())
	rr.Scenarios[1].Reason = `defect detected <script>alert(1)</script>`
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, rr))
	page := buf.String()

	// Self-contained: nothing fetched from anywhere.
	assert.NotRegexp(t, `(?i)(src|href)\s*=\s*"(https?:)?//`, page)
	assert.NotContains(t, page, "<link")
	assert.NotContains(t, page, "<script>alert", "reasons are escaped")
	assert.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;")

	// Charts drawn, with bars.
	assert.GreaterOrEqual(t, strings.Count(page, "<svg"), 8)
	for _, id := range []string{"total-outcomes", "total-offsets", "total-latency", "s1-offsets"} {
		assert.Contains(t, page, `id="`+id+`"`)
	}
	assert.Greater(t, strings.Count(page, "<rect"), 20)

	// The embedded chart data parses and has data.
	m := regexp.MustCompile(`(?s)<script type="application/json" id="truncheck-data">(.*?)</script>`).FindStringSubmatch(page)
	require.Len(t, m, 2)
	var data struct {
		Run    string `json:"run"`
		Charts []struct {
			ID   string `json:"id"`
			Bars []struct {
				Label string `json:"label"`
				Segs  []struct {
					Name  string  `json:"name"`
					Value float64 `json:"value"`
				} `json:"segs"`
			} `json:"bars"`
		} `json:"charts"`
	}
	require.NoError(t, json.Unmarshal([]byte(m[1]), &data))
	assert.Equal(t, "r1", data.Run)
	sums := map[string]float64{}
	for _, c := range data.Charts {
		for _, b := range c.Bars {
			for _, s := range b.Segs {
				sums[c.ID] += s.Value
			}
		}
	}
	assert.Equal(t, 60.0, sums["total-outcomes"])
	assert.Equal(t, 5.0, sums["total-offsets"])
	assert.Equal(t, 60.0, sums["total-latency"])
	assert.Equal(t, 5.0, sums["s1-offsets"])

	golden := filepath.Join("testdata", "report.golden.html")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -run TestHTML -update to create it")
	assert.Equal(t, string(want), page, "HTML changed; check it and refresh with -update")
}

func TestHTMLEmptyRun(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, NewRunResult("", nil)))
	assert.Contains(t, buf.String(), "no data")
}

func TestWriteReportsAndLoad(t *testing.T) {
	dir := t.TempDir()
	rr := judged(sample())
	require.NoError(t, WriteReports(dir, rr))
	for _, f := range []string{SummaryFile, JUnitFile, HTMLFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Positive(t, st.Size())
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	assert.Empty(t, leftovers)

	got, warns, err := Load(dir)
	require.NoError(t, err)
	assert.Empty(t, warns)
	assert.Equal(t, rr.Total.Requests, got.Total.Requests)
	assert.Equal(t, ExpectDetect, got.Scenarios[1].Expectation.Kind)

	// A directory with only records (a run killed before its summary).
	dir2 := t.TempDir()
	w, err := NewWriter(filepath.Join(dir2, RecordsFile), WriterConfig{})
	require.NoError(t, err)
	for _, r := range sample() {
		r.Run = "r2"
		require.NoError(t, w.Write(&r))
	}
	require.NoError(t, w.Close())
	got2, _, err := Load(dir2)
	require.NoError(t, err)
	assert.Equal(t, int64(60), got2.Total.Requests)
	assert.Equal(t, Expect(""), got2.Scenarios[0].Expectation.Kind)

	m, warns, err := MergeFiles(dir, filepath.Join(dir2, RecordsFile))
	assert.Empty(t, warns)
	require.NoError(t, err)
	assert.Equal(t, int64(120), m.Total.Requests)
	assert.Len(t, m.Sources, 2)
	assert.Equal(t, ExpectDetect, m.Scenarios[1].Expectation.Kind, "known expectations survive a merge with records")

	// The same run given twice is counted once.
	m, warns, err = MergeFiles(dir, dir)
	require.NoError(t, err)
	assert.Equal(t, int64(60), m.Total.Requests)
	require.Len(t, warns, 1)
	assert.Contains(t, warns[0].Msg, "counted once")

	_, _, err = Load(filepath.Join(dir, JUnitFile))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "accepted: a results directory")
	_, _, err = Load(t.TempDir())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "neither")
	_, _, err = MergeFiles()
	require.Error(t, err)
}

// TestUnjudgedSilentFails: records merged from runners carry no expectation;
// a silent truncation among them must still fail JUnit and Met.
func TestUnjudgedSilentFails(t *testing.T) {
	s := NewSummary("merged")
	ok := rec("merged", 1, Complete)
	cut := rec("merged", 2, Truncated) // silent: the server's account says complete
	s.Add(&ok)
	s.Add(&cut)
	rr := NewRunResult("r1", []ScenarioResult{{Scenario: "merged", Summary: s}})
	assert.False(t, rr.Met(), "a silent truncation with no expectation is still a failure")
	assert.Equal(t, "FAIL", rr.Verdict)

	j := JUnit(rr)
	require.Len(t, j.Suites, 1)
	require.Len(t, j.Suites[0].Cases, 1)
	c := j.Suites[0].Cases[0]
	require.NotNil(t, c.Failure)
	assert.Equal(t, "silent", c.Failure.Type)
	assert.Equal(t, 1, j.Failures)

	// Without the silent record it is judged by the only rule it has: pass.
	clean := NewSummary("merged")
	clean.Add(&ok)
	rr = NewRunResult("r1", []ScenarioResult{{Scenario: "merged", Summary: clean}})
	assert.True(t, rr.Met())
	assert.Nil(t, JUnit(rr).Suites[0].Cases[0].Failure)
}

// TestLoadJudgesRecordsWithThePlan: a run killed before its summary is
// judged from its records with its plan's expectations; a summary left by
// another run in the same directory is ignored (with a warning), never
// shown as this run's; a planned scenario with no record is not met.
func TestLoadJudgesRecordsWithThePlan(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, WriteReports(dir, judged(sample()))) // an earlier run's summary, run "r1"
	require.NoError(t, PrepareDir(dir))
	for _, f := range []string{SummaryFile, JUnitFile, HTMLFile} {
		_, err := os.Stat(filepath.Join(dir, f))
		assert.ErrorIs(t, err, os.ErrNotExist, "PrepareDir removed the earlier run's %s", f)
	}
	require.NoError(t, WriteReports(dir, judged(sample()))) // and again, as if left behind
	plan := &Plan{Run: "r2", Scenarios: []PlannedScenario{
		{Name: "clean", Expectation: Expectation{Kind: ExpectComplete}},
		{Name: "cut", Expectation: Expectation{Kind: ExpectComplete}}, // this run expects cut to be clean
		{Name: "never-ran", Expectation: Expectation{Kind: ExpectComplete}},
	}}
	require.NoError(t, WritePlan(dir, plan))
	w, err := NewWriter(filepath.Join(dir, RecordsFile), WriterConfig{})
	require.NoError(t, err)
	for _, r := range sample() {
		r.Run = "r2"
		require.NoError(t, w.Write(&r))
	}
	require.NoError(t, w.Close())

	rr, warns, err := Load(dir)
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Contains(t, warns[0].Msg, `summary of run "r1", records of run "r2": the summary is ignored`)
	assert.Equal(t, "r2", rr.Run)
	require.Len(t, rr.Scenarios, 3)
	assert.True(t, rr.Scenarios[0].Met, rr.Scenarios[0].Reason)
	assert.False(t, rr.Scenarios[1].Met, "judged with this run's expectation, from its records")
	assert.Contains(t, rr.Scenarios[1].Reason, "did not verify")
	assert.False(t, rr.Scenarios[2].Met)
	assert.Equal(t, "no requests were made", rr.Scenarios[2].Reason)
	assert.Equal(t, "FAIL", rr.Verdict)

	_, err = ReadPlan(t.TempDir())
	assert.ErrorIs(t, err, os.ErrNotExist)
}
