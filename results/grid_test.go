package results

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gridRun is a small survey: two servers, three conditions. srv-a's
// baseline passes, its slow reader found noticed truncations and its
// upstream cut was laundered silently; srv-b's baseline failed (so its
// other cells are not comparable), its upstream cut does not apply, and
// srv-c did not start.
func gridRun() *RunResult {
	var recs []Record
	add := func(scenario string, n int, o Outcome, edit func(*Record)) {
		for i := range n {
			r := rec(scenario, int64(len(recs)), o)
			if edit != nil {
				edit(&r)
			}
			recs = append(recs, r)
			_ = i
		}
	}
	noticed := func(r *Record) {
		r.Silence = SilenceNoticed
		r.ServerAccount.Complete = false
	}
	add("a-baseline", 4, Complete, nil)
	add("a-slow", 2, Complete, nil)
	add("a-slow", 2, Truncated, noticed)
	add("a-cut", 3, Truncated, func(r *Record) { r.FramingWhole = true })
	add("a-cut", 1, Reset, nil)
	add("b-baseline", 2, Truncated, func(r *Record) { r.Silence, r.ServerAccount = SilenceUnknown, nil })
	add("b-slow", 4, Complete, nil)
	add("b-slow", 1, HTTPError, func(r *Record) { r.Status, r.Silence, r.ServerAccount = 413, "", nil })
	rr := Summarize("grid", recs)
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		sr.Expectation = Expectation{Kind: ExpectComplete}
		if strings.HasSuffix(sr.Scenario, "-cut") {
			sr.Expectation = Expectation{Kind: ExpectDetect, Outcomes: []Outcome{Truncated, Reset}}
		}
	}
	rr.Scenarios = append(rr.Scenarios, ScenarioResult{Scenario: "c-baseline", Expectation: Expectation{Kind: ExpectComplete}})
	rr.Grid = &Grid{Title: "survey", Columns: []GridColumn{{"baseline", "no fault"}, {"slow", "a slow reader"}, {"cut", "an upstream that cuts"}},
		Rows: []GridRow{
			{Name: "srv-a", About: "a/1.0", Cells: []GridCell{{Scenario: "a-baseline"}, {Scenario: "a-slow", Control: "a-baseline"}, {Scenario: "a-cut", Control: "a-baseline"}}},
			{Name: "srv-b", About: "b/2.0", Cells: []GridCell{{Scenario: "b-baseline"}, {Scenario: "b-slow", Control: "b-baseline"}, {Skip: "not a proxy"}}},
			{Name: "srv-c", Problem: "srv-c: did not answer within 20s\n--- stderr:\nbind failed", Cells: []GridCell{{Scenario: "c-baseline"}, {Skip: "not a proxy"}, {Skip: "not a proxy"}}},
		},
		Notes: []string{"offsets over TCP depend on the kernel's socket buffers"}}
	rr.Rejudge()
	return rr
}

func TestGridView(t *testing.T) {
	rr := gridRun()
	require.NoError(t, rr.Grid.Validate())
	v := rr.GridView()
	require.Len(t, v, 3)
	tests := []struct {
		name      string
		got       CellView
		text      string
		class     string
		ctlFailed bool
	}{
		{"all verified", v[0][0], "4 ok", CellPass, false},
		{"noticed cut", v[0][1], "2 ok, 2 truncated @219K (noticed 2)", CellFail, false},
		{"laundered cut", v[0][2], "3 truncated, 1 reset @219K (laundered 3, silent 3)", CellSilent, false},
		{"unknown silence", v[1][0], "2 truncated @219K (silent? 2)", CellUnknown, false},
		{"control failed", v[1][1], "4 ok, 1 http-error 413", CellFail, true},
		{"skipped", v[1][2], "n/a", CellSkip, false},
		{"did not start", v[2][0], "not run", CellNotRun, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.text, tt.got.Text)
			assert.Equal(t, tt.class, tt.got.Class)
			assert.Equal(t, tt.ctlFailed, tt.got.ControlFailed)
		})
	}
	assert.Contains(t, v[2][0].Reason, "did not answer", "a row that did not run says why")

	// The laundering count comes from the records alone: without
	// FramingWhole the same cut is an honest one.
	for i := range rr.Scenarios {
		if rr.Scenarios[i].Scenario == "a-cut" {
			rr.Scenarios[i].Summary.FramedWhole = 0
			rr.Scenarios[i].Summary.Silent = 0
		}
	}
	assert.Equal(t, CellPass, rr.GridView()[0][2].Class, "a detected cut shown honestly passes")
}

func TestGridMarkdownAndHTML(t *testing.T) {
	rr := gridRun()
	rr.Grid.Rows = append(rr.Grid.Rows, GridRow{Name: "srv-a h2", Cells: []GridCell{{Skip: "does not speak h2"}, {Skip: "does not speak h2"}, {Skip: "does not speak h2"}}})
	var md bytes.Buffer
	require.NoError(t, WriteGridMarkdown(&md, rr))
	out := md.String()
	for _, want := range []string{
		"| server | version | baseline | slow | cut |",
		"| **srv-a** | a/1.0 | 4 ok | 2 ok, 2 truncated @219K (noticed 2) | **3 truncated, 1 reset @219K (laundered 3, silent 3)** |",
		"| **srv-b** | b/2.0 | 2 truncated @219K (silent? 2) | 4 ok, 1 http-error 413 † | n/a |",
		"**did not run**: srv-c: did not answer within 20s |",
		"- `slow`: a slow reader",
		"n/a:\n- not a proxy: srv-b cut, srv-c slow, srv-c cut\n- does not speak h2: srv-a h2 (every column)\n",
		"| **srv-a h2** |  | n/a | n/a | n/a |",
		"- offsets over TCP depend",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "bind failed", "the table keeps a problem's first line")
	assert.Error(t, WriteGridMarkdown(failingWriter{}, rr))

	var h bytes.Buffer
	require.NoError(t, WriteHTML(&h, rr))
	html := h.String()
	ids := map[string]string{}
	for i, sr := range rr.Scenarios {
		ids[sr.Scenario] = "s" + string(rune('0'+i))
	}
	assert.Contains(t, html, `<a href="#`+ids["a-slow"]+`-f0">2 ok, 2 truncated @219K (noticed 2)</a>`, "a failing cell links to its first failure's timeline")
	assert.Contains(t, html, `<pre id="`+ids["a-slow"]+`-f0">`, "and the timeline is there")
	assert.Contains(t, html, `<a href="#`+ids["a-baseline"]+`">4 ok</a>`, "a passing cell links to its scenario")
	assert.Contains(t, html, `class="cell silent"`)
	assert.Contains(t, html, "bind failed", "the report keeps the whole problem")

	// Without a grid, nothing changes.
	rr.Grid = nil
	md.Reset()
	require.NoError(t, WriteGridMarkdown(&md, rr))
	assert.Empty(t, md.String())
}

// TestGridTravelsWithThePlan: the plan carries the grid, so records of a
// run killed before its summary render the table again; the summary's
// grid (written last, with the rows that could not run) wins when it is
// the same run's.
func TestGridTravelsWithThePlan(t *testing.T) {
	dir := t.TempDir()
	rr := gridRun()
	plan := &Plan{Run: "grid", Grid: rr.Grid.Clone()}
	plan.Grid.Rows[2].Problem = ""
	for _, sr := range rr.Scenarios {
		plan.Scenarios = append(plan.Scenarios, PlannedScenario{Name: sr.Scenario, Expectation: sr.Expectation})
	}
	require.NoError(t, WritePlan(dir, plan))
	w, err := NewWriter(filepath.Join(dir, RecordsFile), WriterConfig{})
	require.NoError(t, err)
	for _, sr := range rr.Scenarios {
		for _, f := range sr.Summary.Failures {
			f.Run = "grid"
			require.NoError(t, w.Write(&f))
		}
	}
	require.NoError(t, w.Close())

	got, _, err := Load(dir)
	require.NoError(t, err)
	require.NotNil(t, got.Grid, "killed before its summary: the plan's grid")
	assert.Empty(t, got.Grid.Rows[2].Problem)

	require.NoError(t, WriteReports(dir, rr))
	got, _, err = Load(dir)
	require.NoError(t, err)
	assert.Contains(t, got.Grid.Rows[2].Problem, "did not answer", "the summary's grid knows which rows could not run")

	bad := rr.Grid.Clone()
	bad.Rows[0].Cells = bad.Rows[0].Cells[:2]
	assert.ErrorContains(t, bad.Validate(), `row "srv-a" has 2 cells for 3 columns`)
	bad = rr.Grid.Clone()
	bad.Rows[1].Cells[2].Skip = ""
	assert.ErrorContains(t, bad.Validate(), "neither a scenario nor a reason")
	_, err = os.Stat(filepath.Join(dir, HTMLFile))
	assert.NoError(t, err)
}
