package results

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// WriteHTML writes a self-contained report: one HTML file with inline CSS
// and inline SVG charts (outcomes over time, failure offsets, latency
// distribution) for the run and for each scenario, and the first failing
// requests with their timelines. It loads nothing: it opens from disk
// with no network and needs no script. The chart data is also embedded as
// JSON in <script type="application/json" id="truncheck-data">.
func WriteHTML(w io.Writer, rr *RunResult) error {
	page := htmlPage{Run: rr, Total: rr.Total, Met: rr.Met(), Created: rr.Created}
	if page.Total == nil {
		page.Total = NewSummary("")
	}
	if page.Created.IsZero() {
		page.Created = page.Total.End
	}
	var data []chartSpec
	add := func(c chartSpec) template.HTML {
		data = append(data, c)
		return c.svg()
	}
	page.Charts = []template.HTML{
		add(outcomesChart("total-outcomes", page.Total)),
		add(offsetsChart("total-offsets", page.Total)),
		add(latencyChart("total-latency", page.Total)),
	}
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		s := sr.Summary
		if s == nil {
			s = NewSummary(sr.Scenario)
		}
		id := fmt.Sprintf("s%d", i)
		hs := htmlScenario{SR: sr, S: s, ID: id, Verdict: verdictWord(sr), Pass: sr.Met, Notes: scenarioNotes(sr)}
		hs.Charts = append(hs.Charts, add(outcomesChart(id+"-outcomes", s)))
		if s.Offsets.Count > 0 {
			hs.Charts = append(hs.Charts, add(offsetsChart(id+"-offsets", s)))
		}
		hs.Charts = append(hs.Charts, add(latencyChart(id+"-latency", s)))
		for j := range s.Failures {
			var b strings.Builder
			writeFailure(&b, &s.Failures[j], 0)
			hs.Failures = append(hs.Failures, b.String())
		}
		page.Scenarios = append(page.Scenarios, hs)
	}
	page.Grid = htmlGridOf(rr, page.Scenarios)
	js, err := json.Marshal(map[string]any{"run": rr.Run, "charts": data})
	if err != nil {
		return fmt.Errorf("results: HTML chart data: %w", err)
	}
	page.Data = template.JS(js) // json.Marshal escapes <, > and &: safe inside <script>
	if err := htmlTmpl.Execute(w, page); err != nil {
		return fmt.Errorf("results: write HTML: %w", err)
	}
	return nil
}

type htmlPage struct {
	Run       *RunResult
	Total     *Summary
	Met       bool
	Created   time.Time
	Charts    []template.HTML
	Scenarios []htmlScenario
	Grid      *htmlGrid
	Data      template.JS
}

// htmlGrid is the run's grid with every cell linked to its scenario: to
// the first failing request's timeline when one was kept, else to the
// scenario's section.
type htmlGrid struct {
	G    *Grid
	Rows []htmlGridRow
}

type htmlGridRow struct {
	Row   GridRow
	Cells []htmlGridCell
}

type htmlGridCell struct {
	CellView
	Href string
}

func htmlGridOf(rr *RunResult, scenarios []htmlScenario) *htmlGrid {
	view := rr.GridView()
	if view == nil {
		return nil
	}
	ids := map[string]htmlScenario{}
	for _, hs := range scenarios {
		ids[hs.SR.Scenario] = hs
	}
	g := &htmlGrid{G: rr.Grid}
	for i, r := range rr.Grid.Rows {
		row := htmlGridRow{Row: r}
		for _, v := range view[i] {
			c := htmlGridCell{CellView: v}
			if v.Class == CellSkip && v.Reason == GridNotSelected {
				c.Text = ""
			}
			if hs, ok := ids[v.Scenario]; ok {
				c.Href = "#" + hs.ID
				if len(hs.Failures) > 0 {
					c.Href = "#" + hs.ID + "-f0"
				}
			}
			row.Cells = append(row.Cells, c)
		}
		g.Rows = append(g.Rows, row)
	}
	return g
}

type htmlScenario struct {
	SR       *ScenarioResult
	S        *Summary
	ID       string
	Verdict  string
	Pass     bool
	Notes    []string
	Charts   []template.HTML
	Failures []string
}

var htmlFuncs = template.FuncMap{
	"bytes":    Bytes,
	"dur":      roundDur,
	"offsets":  offsetRange,
	"outcomes": func() []Outcome { return Outcomes() },
	"count":    func(s *Summary, o Outcome) int64 { return s.Outcomes[o] },
	"color":    func(o Outcome) string { return outcomeColors[o] },
	"silent":   SilentCell,
	"evidence": EvidenceCell,
	"pct":      func(s *Summary) string { return fmt.Sprintf("%.2f%%", 100*s.CompleteRate()) },
	"mbps":     func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"time":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}

var htmlTmpl = template.Must(template.New("report").Funcs(htmlFuncs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>truncheck report{{with .Run.Run}} {{.}}{{end}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#212121;max-width:1480px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 6px} h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0} th,td{padding:3px 9px;white-space:nowrap;border-bottom:1px solid #e0e0e0;text-align:right}
th:first-child,td:first-child{text-align:left} th{background:#f5f5f5}
.pass{color:#2e7d32;font-weight:600} .fail{color:#c62828;font-weight:600} .unknown{color:#757575}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.badge.pass{background:#2e7d32;color:#fff} .badge.fail{background:#c62828;color:#fff}
.headline{font-size:16px;margin:8px 0 16px} .silent{color:#c62828;font-weight:700}
.charts{display:flex;flex-wrap:wrap;gap:12px}
svg.chart{background:#fafafa;border:1px solid #e0e0e0;max-width:100%;height:auto}
svg .title{font-weight:600;font-size:13px} svg .axis{stroke:#616161} svg .grid{stroke:#e0e0e0}
svg text{font-size:11px;fill:#424242} svg .ytick{text-anchor:end} svg .xtick{text-anchor:middle}
svg .xlabel{text-anchor:middle} svg .ylabel{text-anchor:middle} svg .nodata{fill:#9e9e9e}
pre{background:#263238;color:#eceff1;padding:10px;overflow-x:auto;font-size:12px}
details{margin:6px 0} .reason{margin:4px 0}
table.grid td{text-align:left;font-size:12px;white-space:normal;min-width:70px;vertical-align:top}
td.cell.pass{background:#e8f5e9} td.cell.fail{background:#ffebee} td.cell.silent{background:#ffcdd2;font-weight:700}
td.cell.unknown{background:#eeeeee} td.cell.skip,td.cell.not-run{color:#9e9e9e}
</style>
</head>
<body>
<h1>truncheck report{{with .Run.Run}}: {{.}}{{end}}</h1>
<div>{{if .Met}}<span class="badge pass">PASS</span>{{else}}<span class="badge fail">FAIL</span>{{end}}
{{with .Total}} {{.Requests}} requests in {{dur .Wall}}{{if not .Start.IsZero}}, from {{time .Start}}{{end}}{{end}}</div>
<p class="headline">Silent failures: <span class="{{if .Total.Silent}}silent{{else if .Total.SilenceUnknown}}unknown{{else}}pass{{end}}">{{silent .Total}}</span>
{{if .Total.SilenceUnknown}}({{.Total.SilenceUnknown}} clean-ended failures with no server account: silence unknown){{end}}
&middot; complete {{pct .Total}} &middot; evidence {{evidence .Total}} &middot; verified {{bytes .Total.BytesVerified}} at {{mbps .Total.VerifiedMBps}} MB/s
&middot; latency p50 {{dur .Total.Latency.P50}}, p99 {{dur .Total.Latency.P99}}, max {{dur .Total.Latency.Max}}
&middot; TTFB p50 {{dur .Total.TTFB.P50}}, p99 {{dur .Total.TTFB.P99}}</p>
{{with .Run.Version}}<p>truncheck {{.}}</p>{{end}}
{{if or .Run.Gated .Run.Findings}}<h2>Gate</h2>{{if not .Run.Findings}}<p class="pass">no findings</p>{{end}}
<ul>{{range .Run.Findings}}<li class="{{if .Fail}}fail{{else}}unknown{{end}}">{{.}}</li>{{end}}</ul>{{end}}
{{with .Run.Sources}}<p>Merged from: {{range $i, $s := .}}{{if $i}}, {{end}}<code>{{$s}}</code>{{end}}</p>{{end}}
{{with .Grid}}
<h2 id="grid">{{with .G.Title}}{{.}}{{else}}Grid{{end}}</h2>
<table class="grid">
<tr><th>server</th><th>version</th>{{range .G.Columns}}<th title="{{.About}}">{{.Name}}</th>{{end}}</tr>
{{range .Rows}}<tr><td><b>{{.Row.Name}}</b></td><td>{{.Row.About}}{{with .Row.Problem}} <span class="fail" title="{{.}}">did not run</span>{{end}}</td>
{{range .Cells}}<td class="cell {{.Class}}" title="{{.Reason}}">{{if .Href}}<a href="{{.Href}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{if .ControlFailed}} &dagger;{{end}}</td>{{end}}</tr>
{{end}}</table>
<p>Each cell: responses by outcome, where failed bodies ended (@offset), and what the server's own account (its log) proves:
silent (it said it sent everything), noticed, silent? (no account: unknown), laundered (a cut whose framing said whole).
A failing cell links to its first failing request's flight-recorder timeline. &dagger;: the cell's control did not pass.</p>
<ul>{{range .G.Columns}}<li><code>{{.Name}}</code>: {{.About}}</li>{{end}}</ul>
{{with .G.Notes}}<ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{range .Rows}}{{if .Row.Problem}}<p><b>{{.Row.Name}}</b> <span class="fail">did not run</span>:</p><pre>{{.Row.Problem}}</pre>{{end}}{{end}}
{{end}}

<h2>Scenarios</h2>
<table>
<tr><th>scenario</th><th>expect</th><th>verdict</th><th>requests</th>{{range outcomes}}<th style="color:{{color .}}">{{.}}</th>{{end}}<th>silent</th><th>evidence</th><th>offsets</th><th>p99</th><th>wall</th></tr>
{{range .Scenarios}}<tr><td><a href="#{{.ID}}">{{.SR.Scenario}}</a></td><td>{{.SR.Expectation}}</td>
<td class="{{if .Pass}}pass{{else}}fail{{end}}">{{.Verdict}}</td><td>{{.S.Requests}}</td>
{{$s := .S}}{{range outcomes}}<td>{{count $s .}}</td>{{end}}
<td{{if .S.Silent}} class="silent"{{else if .S.SilenceUnknown}} class="unknown"{{end}}>{{silent .S}}</td><td>{{evidence .S}}</td><td>{{offsets .S}}</td><td>{{dur .S.Latency.P99}}</td><td>{{dur .S.Wall}}</td></tr>
{{end}}</table>

<h2>All scenarios</h2>
<div class="charts">{{range .Charts}}{{.}}{{end}}</div>

{{range .Scenarios}}
<h2 id="{{.ID}}">{{.SR.Scenario}} <span class="badge {{if .Pass}}pass{{else}}fail{{end}}">{{.Verdict}}</span></h2>
<p class="reason">{{.SR.Reason}} (expected: {{.SR.Expectation}})</p>
{{with .SR.Layout}}<p>Layout: <code>{{.}}</code></p>{{end}}
{{with .SR.Faults}}<p>Faults: <code>{{.}}</code></p>{{end}}
<p>Seed: <code>{{.SR.Seed}}</code>{{with .SR.Restarts}} &middot; restarts {{.}}{{end}}</p>
{{with .Notes}}<ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
<table>
<tr><th>requests</th><th>silent</th><th>evidence</th><th>complete</th><th>bytes verified</th><th>MB/s</th><th>latency p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>TTFB p50</th><th>TTFB p99</th></tr>
<tr><td>{{.S.Requests}}</td><td>{{silent .S}}</td><td>{{evidence .S}}</td><td>{{pct .S}}</td><td>{{bytes .S.BytesVerified}}</td><td>{{mbps .S.VerifiedMBps}}</td>
<td>{{dur .S.Latency.P50}}</td><td>{{dur .S.Latency.P90}}</td><td>{{dur .S.Latency.P99}}</td><td>{{dur .S.Latency.P999}}</td><td>{{dur .S.Latency.Max}}</td>
<td>{{dur .S.TTFB.P50}}</td><td>{{dur .S.TTFB.P99}}</td></tr>
</table>
<div class="charts">{{range .Charts}}{{.}}{{end}}</div>
{{if .Failures}}<h3>First failing requests</h3>
{{$id := .ID}}{{range $i, $f := .Failures}}<pre id="{{$id}}-f{{$i}}">{{$f}}</pre>
{{end}}{{end}}
{{end}}
<script type="application/json" id="truncheck-data">{{.Data}}</script>
</body>
</html>
`))
