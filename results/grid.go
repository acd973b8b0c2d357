package results

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Grid lays a run's scenarios out as a table: rows (the systems tested,
// e.g. servers) by columns (the conditions they were tested under), one
// scenario per cell, each with its control: the scenario of the same row
// without the condition, which must pass for the cell to say anything
// about the condition. The field survey is one. The plan carries it
// (run.json), so a run killed half way, or `truncheck report` later,
// renders the same table from the records.
//
// A grid only arranges verdicts: every cell's scenario is judged by its
// own expectation like any other ([Expectation.Judge]); the cell adds
// what the table needs beside the verdict (counts by outcome, offsets,
// proven silence, cuts laundered into whole framing).
type Grid struct {
	Title   string       `json:"title,omitempty"`
	Columns []GridColumn `json:"columns"`
	Rows    []GridRow    `json:"rows"`
	// Notes are printed under the table: what a reader must know to read
	// it (kernel buffers, timing).
	Notes []string `json:"notes,omitempty"`
}

// GridColumn is one condition.
type GridColumn struct {
	Name  string `json:"name"`
	About string `json:"about,omitempty"`
}

// GridRow is one system tested.
type GridRow struct {
	Name string `json:"name"`
	// About is shown next to the name, e.g. the server's version.
	About string `json:"about,omitempty"`
	// Problem, when set, says why the row has no results (a package that
	// is missing, a server that would not start): the row is shown with
	// the reason, never left out.
	Problem string     `json:"problem,omitempty"`
	Cells   []GridCell `json:"cells"` // one per column, in the columns' order
}

// GridCell is one scenario of the grid.
type GridCell struct {
	// Scenario is the cell's scenario; "" when the condition does not
	// apply to the row, and Skip says why.
	Scenario string `json:"scenario,omitempty"`
	// Control is the scenario the cell is compared with; "" when the cell
	// is a control itself (the baseline).
	Control string `json:"control,omitempty"`
	Skip    string `json:"skip,omitempty"`
}

// GridNotSelected is the Skip of a cell left out by the caller's
// selection (a column another row needed): rendered blank, with no
// footnote.
const GridNotSelected = "not selected"

// Validate checks the grid's shape: named columns and rows, one cell per
// column in every row, and a scenario or a reason in every cell.
func (g *Grid) Validate() error {
	if len(g.Columns) == 0 {
		return fmt.Errorf("results: grid %q has no columns", g.Title)
	}
	for i, c := range g.Columns {
		if c.Name == "" {
			return fmt.Errorf("results: grid %q: column %d has no name", g.Title, i)
		}
	}
	for _, r := range g.Rows {
		if r.Name == "" {
			return fmt.Errorf("results: grid %q: a row has no name", g.Title)
		}
		if len(r.Cells) != len(g.Columns) {
			return fmt.Errorf("results: grid %q: row %q has %d cells for %d columns", g.Title, r.Name, len(r.Cells), len(g.Columns))
		}
		for j, c := range r.Cells {
			if c.Scenario == "" && c.Skip == "" {
				return fmt.Errorf("results: grid %q: row %q, column %q: neither a scenario nor a reason", g.Title, r.Name, g.Columns[j].Name)
			}
		}
	}
	return nil
}

// Clone returns a deep copy.
func (g *Grid) Clone() *Grid {
	if g == nil {
		return nil
	}
	c := *g
	c.Columns = slices.Clone(g.Columns)
	c.Notes = slices.Clone(g.Notes)
	c.Rows = make([]GridRow, len(g.Rows))
	for i, r := range g.Rows {
		r.Cells = slices.Clone(r.Cells)
		c.Rows[i] = r
	}
	return &c
}

// The classes of a cell, for colour and for readers that sort cells.
const (
	CellPass    = "pass"    // every response verified (or, for a detect scenario, the cut was shown honestly)
	CellFail    = "fail"    // failures the server noticed, or that no framing showed (laundered)
	CellSilent  = "silent"  // at least one failure proven silent
	CellUnknown = "unknown" // failures whose silence is unknown (no account), none proven silent
	CellSkip    = "skip"    // the condition does not apply to the row
	CellNotRun  = "not-run" // planned, but no request was made (the row's problem, an interrupt)
)

// CellView is a cell as the reports show it.
type CellView struct {
	Scenario string // "" for a skipped cell
	Text     string // "16 ok", "4 truncated @9.53M-9.61M noticed 4", "n/a"
	Class    string // one of the Cell* classes
	// ControlFailed: the cell's control did not pass, so the cell says
	// nothing about its condition alone.
	ControlFailed bool
	Reason        string // the verdict's reason, the skip's, or why it did not run
}

// GridView renders every cell of rr's grid in rows and columns; nil
// without a grid.
func (rr *RunResult) GridView() [][]CellView {
	g := rr.Grid
	if g == nil {
		return nil
	}
	by := map[string]*ScenarioResult{}
	for i := range rr.Scenarios {
		by[rr.Scenarios[i].Scenario] = &rr.Scenarios[i]
	}
	out := make([][]CellView, len(g.Rows))
	for i, r := range g.Rows {
		out[i] = make([]CellView, len(r.Cells))
		for j, c := range r.Cells {
			out[i][j] = cellView(c, r, by)
		}
	}
	return out
}

func cellView(c GridCell, r GridRow, by map[string]*ScenarioResult) CellView {
	if c.Scenario == "" {
		return CellView{Text: "n/a", Class: CellSkip, Reason: c.Skip}
	}
	v := CellView{Scenario: c.Scenario}
	sr, ok := by[c.Scenario]
	if !ok || sr.Summary == nil || sr.Summary.Requests == 0 {
		v.Text, v.Class = "not run", CellNotRun
		switch {
		case r.Problem != "":
			v.Reason = r.Problem
		case ok && sr.Reason != "":
			v.Reason = sr.Reason
		default:
			v.Reason = "no request was made (the run ended before it)"
		}
		return v
	}
	if c.Control != "" {
		ctl, ok := by[c.Control]
		v.ControlFailed = !ok || !ctl.Met
	}
	v.Text, v.Class = cellText(sr)
	v.Reason = sr.Reason
	return v
}

// cellText is the cell's counts by outcome, where failed bodies ended,
// and what is proven about their silence.
func cellText(sr *ScenarioResult) (string, string) {
	s := sr.Summary
	failed := s.Failed()
	if failed == 0 {
		return fmt.Sprintf("%d ok", s.Requests), CellPass
	}
	var parts []string
	if n := s.Outcomes[Complete]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d ok", n))
	}
	for _, o := range allOutcomes[1:] {
		if n := s.Outcomes[o]; n > 0 {
			part := fmt.Sprintf("%d %s", n, o)
			if o == HTTPError {
				part += statusList(s)
			}
			parts = append(parts, part)
		}
	}
	text := strings.Join(parts, ", ")
	if s.Offsets.Count > 0 {
		text += " @" + shortBytes(s.Offsets.Min)
		if hi := shortBytes(s.Offsets.Max); hi != shortBytes(s.Offsets.Min) {
			text += "–" + hi
		}
	}
	var clean int64
	for _, o := range allOutcomes {
		if o.CleanEnd() {
			clean += s.Outcomes[o]
		}
	}
	noticed := clean - s.Silent - s.SilenceUnknown - s.Injected
	var tags []string
	if s.FramedWhole > 0 {
		tags = append(tags, fmt.Sprintf("laundered %d", s.FramedWhole))
	}
	if s.Silent > 0 {
		tags = append(tags, fmt.Sprintf("silent %d", s.Silent))
	}
	if s.SilenceUnknown > 0 {
		tags = append(tags, fmt.Sprintf("silent? %d", s.SilenceUnknown))
	}
	if noticed > 0 {
		tags = append(tags, fmt.Sprintf("noticed %d", noticed))
	}
	if s.Injected > 0 {
		tags = append(tags, fmt.Sprintf("injected %d", s.Injected))
	}
	if len(tags) > 0 {
		text += " (" + strings.Join(tags, ", ") + ")"
	}
	switch {
	case s.Silent > 0:
		return text, CellSilent
	case sr.Met && sr.Expectation.Kind == ExpectDetect && s.FramedWhole == 0:
		return text, CellPass // the cut was expected, and shown
	case s.SilenceUnknown > 0 && s.FramedWhole == 0 && noticed == 0:
		return text, CellUnknown
	}
	return text, CellFail
}

// statusList names the statuses of the http-error records the summary
// kept: " 413", " 502/503" ("" when none was kept).
func statusList(s *Summary) string {
	var seen []string
	for _, f := range s.Failures {
		if f.Outcome == HTTPError && f.Status > 0 {
			if st := fmt.Sprint(f.Status); !slices.Contains(seen, st) {
				seen = append(seen, st)
			}
		}
	}
	if len(seen) == 0 {
		return ""
	}
	return " " + strings.Join(seen, "/")
}

// shortBytes is a compact offset for cells: "219K", "9.53M" (decimal
// units, three significant digits).
func shortBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprint(n)
	case n < 1_000_000:
		return trimZeros(fmt.Sprintf("%.3g", float64(n)/1e3)) + "K"
	case n < 1_000_000_000:
		return trimZeros(fmt.Sprintf("%.3g", float64(n)/1e6)) + "M"
	}
	return trimZeros(fmt.Sprintf("%.3g", float64(n)/1e9)) + "G"
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") && !strings.Contains(s, "e") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// WriteGridMarkdown writes rr's grid as a Markdown table, rows by
// columns, with the conditions, the cells that do not apply and the
// notes under it. It writes nothing without a grid.
func WriteGridMarkdown(w io.Writer, rr *RunResult) error {
	g := rr.Grid
	if g == nil {
		return nil
	}
	ew := &errWriter{w: w}
	view := rr.GridView()
	esc := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	head := []string{"server", "version"}
	for _, c := range g.Columns {
		head = append(head, esc(c.Name))
	}
	fmt.Fprintf(ew, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	var reasons []string
	skips := map[string][]string{} // reason -> "row column"
	daggers := false
	for i, r := range g.Rows {
		about := esc(r.About)
		if r.Problem != "" {
			about = strings.TrimSpace(about + " **did not run**: " + esc(firstLine(r.Problem)))
		}
		cells := []string{"**" + esc(r.Name) + "**", about}
		// A row skipped whole for one reason (a server that does not speak
		// the row's protocol) is named once, not cell by cell.
		whole := ""
		if len(view[i]) > 0 && view[i][0].Class == CellSkip && view[i][0].Reason != GridNotSelected {
			whole = view[i][0].Reason
			for _, v := range view[i] {
				if v.Class != CellSkip || v.Reason != whole {
					whole = ""
					break
				}
			}
		}
		if whole != "" {
			if _, ok := skips[whole]; !ok {
				reasons = append(reasons, whole)
			}
			skips[whole] = append(skips[whole], r.Name+" (every column)")
		}
		for j, v := range view[i] {
			text := esc(v.Text)
			if v.Class == CellSilent {
				text = "**" + text + "**"
			}
			if v.ControlFailed {
				text += " †"
				daggers = true
			}
			if v.Class == CellSkip {
				if v.Reason == GridNotSelected {
					text = ""
				} else if whole == "" {
					if _, ok := skips[v.Reason]; !ok {
						reasons = append(reasons, v.Reason)
					}
					skips[v.Reason] = append(skips[v.Reason], r.Name+" "+g.Columns[j].Name)
				}
			}
			cells = append(cells, text)
		}
		fmt.Fprintf(ew, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintln(ew)
	if daggers {
		fmt.Fprintln(ew, "† the cell's control (the same server without the condition) did not pass either: the cell says nothing about the condition alone.")
		fmt.Fprintln(ew)
	}
	fmt.Fprintln(ew, "Conditions:")
	for _, c := range g.Columns {
		fmt.Fprintf(ew, "- `%s`: %s\n", c.Name, esc(c.About))
	}
	if len(reasons) > 0 {
		fmt.Fprintln(ew, "\nn/a:")
		for _, why := range reasons {
			fmt.Fprintf(ew, "- %s: %s\n", esc(why), strings.Join(skips[why], ", "))
		}
	}
	if len(g.Notes) > 0 {
		fmt.Fprintln(ew)
		for _, n := range g.Notes {
			fmt.Fprintf(ew, "- %s\n", esc(n))
		}
	}
	if ew.err != nil {
		return fmt.Errorf("results: write grid: %w", ew.err)
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
