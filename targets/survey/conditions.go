package survey

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

// Sizes the conditions use: Size16MiB for most (past the ~4 MB a
// loopback TCP connection's kernel buffers hold, so a cut is not hidden
// in them), StallSize for the stalled reader (it reads StallRead before
// each pause, and the server's buffers hold several MB more).
const (
	StallSize  = Size64MiB
	StallRead  = 16 << 20
	StallPause = 3 * time.Second
	// SendTimeout is what the send-timeout condition sets the server's own
	// send timeouts to: well under StallPause, even where the server counts
	// in whole seconds and checks its timers once a second.
	SendTimeout = time.Second
	// ReloadEvery is how often the reload and restart conditions reload or
	// restart the server while slow readers download.
	ReloadEvery = time.Second
)

// Condition is one column of the survey: a way of stressing a server,
// with the condition it is compared with (its control: the same server
// without this condition). The hunting set's conditions are built by
// scenarios.Hunt, the survey's own here.
type Condition struct {
	Name, About string
	// Control names the control condition; "" for the baseline, which is
	// its own.
	Control string
	// Config names the instance the condition runs on: "" the server as
	// configured by default, ConfigSendTimeout with SendTimeout set.
	Config string

	count, concurrency int
	size               int64
	hunt               string // the scenarios.Hunt condition it is, or ""
	faults             []transport.Fault
	path               func(s Server, size int64) string // nil: BodyPath(size)
	expect             results.Expectation
	skip               func(s Server) string
	// http1Only: in the default plan (no conditions selected) it runs on
	// HTTP/1.1 rows only, so a survey with HTTP/2 rows stays under an
	// hour; selected by name, it runs on every row.
	http1Only bool
}

// HTTP1OnlyByDefault is the reason an HTTP/2 row's cell of an http1Only
// condition gives.
const HTTP1OnlyByDefault = "HTTP/1.1 rows only unless selected (--conditions): the survey's time"

// ConfigSendTimeout is the instance configuration of the send-timeout
// condition.
const ConfigSendTimeout = "send-timeout"

// complete is what every condition but the upstream cuts expects.
var complete = results.Expectation{Kind: results.ExpectComplete}

// Conditions returns the survey's conditions, in the table's column
// order: the hunting set (scenarios.Hunt) on a 16 MiB file, then the
// stalled reader and the server's own send timeout, then, for servers
// that proxy, a proxied file and an upstream that cuts.
func Conditions() []Condition {
	hunt := map[string]scenarios.HuntCondition{}
	for _, h := range scenarios.HuntConditions() {
		hunt[h.Name] = h
	}
	fromHunt := func(name, control string, count int) Condition {
		return Condition{Name: name, About: hunt[name].About, Control: control, hunt: name, count: count, size: Size16MiB, expect: complete}
	}
	// The two slowest readers get smaller files, so the survey fits in
	// half an hour: 8 MiB at 200 KB/s still takes 40 s (past the 30 s
	// some servers allow a whole response), and a 4 KiB receive window
	// moved about 40 KB/s over loopback here.
	smaller := func(c Condition, size int64, count int) Condition {
		c.size, c.count, c.concurrency = size, count, count
		c.About += fmt.Sprintf(", on a file of %s", humanSize(size))
		return c
	}
	// The slowest readers and the byte-level shapes run on HTTP/1.1 rows;
	// an HTTP/2 row keeps the baseline, the 64 KiB reader, the early
	// answer, reloads and restarts, stalls, timeouts and the upstream
	// cuts, where HTTP/2's own ends (RST_STREAM, GOAWAY) differ.
	http1Only := func(c Condition) Condition {
		c.http1Only = true
		return c
	}
	noReload := func(s Server) string {
		if s.Reload == "" {
			return "no reload mechanism; the restart column is its deploy"
		}
		return ""
	}
	upstream := func(prefix string) func(Server, int64) string {
		return func(s Server, n int64) string {
			if s.Proxy {
				return prefix + BodyPath(n)
			}
			return UpstreamPrefix + prefix + BodyPath(n)
		}
	}
	proxyOnly := func(s Server) string {
		if !s.CanProxy() {
			return "serves files only; it has no upstream"
		}
		return ""
	}
	cutControl := "proxied"
	cutExpect := results.Expectation{Kind: results.ExpectDetect,
		Outcomes: []results.Outcome{results.Truncated, results.Reset, results.HTTPError}}
	stalled := []transport.Fault{transport.SlowRead(StallRead, StallPause)}
	return []Condition{
		fromHunt("baseline", "", 16),
		fromHunt("slow-reader-64k", "baseline", 8),
		http1Only(fromHunt("slow-reader-16k", "baseline", 4)),
		http1Only(smaller(fromHunt("slow-reader-4k", "baseline", 0), 8<<20, 2)),
		http1Only(smaller(fromHunt("small-buffers", "baseline", 0), 512<<10, 2)),
		http1Only(fromHunt("tiny-writes", "baseline", 8)),
		http1Only(fromHunt("jitter", "baseline", 8)),
		fromHunt("early-answer", "baseline", 8),
		func() Condition {
			c := fromHunt("reload", "slow-reader-64k", 16)
			c.About = fmt.Sprintf("the server reloaded by its own mechanism every %s while slow readers (64 KiB every 5 ms) download", ReloadEvery)
			c.skip = noReload
			return c
		}(),
		func() Condition {
			c := fromHunt("restart", "slow-reader-64k", 16)
			c.About = fmt.Sprintf("the server stopped gracefully by its own stop and started again every %s while slow readers download", ReloadEvery)
			return c
		}(),
		{Name: "stalled-reader", Control: "baseline", count: 2, concurrency: 2, size: StallSize, faults: stalled, expect: complete,
			About: fmt.Sprintf("a %s file read %s at a time with %s pauses, the server's timeouts as shipped",
				humanSize(StallSize), humanSize(StallRead), StallPause)},
		{Name: "send-timeout", Control: "stalled-reader", Config: ConfigSendTimeout, count: 2, concurrency: 2, size: StallSize, faults: stalled, expect: complete,
			About: fmt.Sprintf("the stalled reader with the server's own send timeouts set to %s (Server.Timeout): does the cut it makes show?", SendTimeout),
			skip: func(s Server) string {
				if !s.HasSendTimeout() {
					return "no send-timeout knob"
				}
				return ""
			}},
		{Name: "proxied", Control: "baseline", count: 8, size: Size16MiB, path: upstream(""), expect: complete,
			About: "the 16 MiB file from our origin through the server's proxy (" + UpstreamPrefix + "/...)",
			skip: func(s Server) string {
				if s.Proxy {
					return "a pure proxy: its baseline is proxied"
				}
				return proxyOnly(s)
			}},
		{Name: "upstream-cut-cl", Control: cutControl, count: 8, size: Size16MiB, path: upstream(CutCLPrefix), expect: cutExpect, skip: proxyOnly,
			About: "the origin promises 16 MiB by Content-Length and closes after 4 MiB: passed on honestly (reset, a body short of its length, an error) or laundered into a clean shorter response?"},
		{Name: "upstream-cut-close", Control: cutControl, count: 8, size: Size16MiB, path: upstream(CutClosePrefix), expect: cutExpect, skip: proxyOnly,
			About: "the origin sends a close-delimited body and closes after 4 MiB: no proxy can tell this from the end, so only an end-to-end check catches it"},
	}
}

func humanSize(n int64) string { return transport.FormatSize(n) }

// Sizes are the file sizes the conditions read: the files every instance
// serves (Config.Files).
func Sizes() []int64 {
	var out []int64
	for _, c := range Conditions() {
		if !slices.Contains(out, c.size) {
			out = append(out, c.size)
		}
	}
	slices.Sort(out)
	return out
}

// Cell is one scenario of the survey: a server, a protocol, a condition.
type Cell struct {
	Server    Server
	Protocol  Protocol
	Condition Condition
	// Scenario is the compiled scenario; Control the name of its control's
	// scenario ("" for a baseline).
	Scenario scenarios.Compiled
	Control  string
}

// Name is the cell's scenario name.
func (c Cell) Name() string { return c.Scenario.Name() }

// PlanOptions say which cells a survey has.
type PlanOptions struct {
	Servers []Server
	// Protocols are the protocol rows of each server; nil => HTTP/1.1.
	// A server that does not speak a protocol (Server.HTTP2) has its row,
	// every cell saying so.
	Protocols []Protocol
	// Conditions selects columns: a condition's name (every server) or
	// "server:condition" (that server only); nil => all. A selected
	// condition brings its control with it.
	Conditions []string
	// Dir is the survey's directory (Config.Dir of every instance): the
	// files served are Dir/www/bytes/N, the reference of every response.
	Dir string
	// Versions, when set, gives each server's version for the table.
	Versions func(Server) string
}

// Plan is a survey's cells in the order they run (server by server, the
// default instance's cells first) and the table they fill.
type Plan struct {
	Cells []Cell
	Grid  *results.Grid
}

// NewPlan builds the survey's cells. A bad selection is an error naming
// what was wrong and what is accepted.
func NewPlan(o PlanOptions) (*Plan, error) {
	if o.Dir == "" {
		return nil, fmt.Errorf("survey: PlanOptions.Dir is empty (accepted: the directory the servers are started under)")
	}
	protos := o.Protocols
	if len(protos) == 0 {
		protos = []Protocol{HTTP1}
	}
	for i, p := range protos {
		if _, err := ParseProtocol(string(p)); err != nil {
			return nil, err
		}
		if slices.Contains(protos[:i], p) {
			return nil, fmt.Errorf("protocol %s twice (accepted: each of http/1.1, h2c, h2 once)", p)
		}
	}
	conds := Conditions()
	sel, err := selectConditions(conds, o.Servers, o.Conditions)
	if err != nil {
		return nil, err
	}
	var cols []Condition
	for _, c := range conds {
		if sel.any(c.Name) {
			cols = append(cols, c)
		}
	}
	g := &results.Grid{Title: "Field survey: real servers under the conditions that cut large responses"}
	for _, c := range cols {
		g.Columns = append(g.Columns, results.GridColumn{Name: c.Name, About: c.About})
	}
	p := &Plan{Grid: g}
	for _, s := range o.Servers {
		for _, proto := range protos {
			row := results.GridRow{Name: rowName(s, proto)}
			if o.Versions != nil {
				row.About = o.Versions(s)
			}
			var later []Cell // the send-timeout instance's cells run after the default's
			for _, c := range cols {
				if !s.Speaks(proto) {
					row.Cells = append(row.Cells, results.GridCell{Skip: "does not speak " + proto.String()})
					continue
				}
				if !sel.has(s.Name, c.Name) {
					row.Cells = append(row.Cells, results.GridCell{Skip: results.GridNotSelected})
					continue
				}
				if proto != HTTP1 && c.http1Only && len(o.Conditions) == 0 {
					row.Cells = append(row.Cells, results.GridCell{Skip: HTTP1OnlyByDefault})
					continue
				}
				if c.skip != nil {
					if why := c.skip(s); why != "" {
						row.Cells = append(row.Cells, results.GridCell{Skip: why})
						continue
					}
				}
				cell, err := buildCell(s, proto, c, conds, o.Dir)
				if err != nil {
					return nil, err
				}
				row.Cells = append(row.Cells, results.GridCell{Scenario: cell.Name(), Control: cell.Control})
				if c.Config != "" {
					later = append(later, cell)
				} else {
					p.Cells = append(p.Cells, cell)
				}
			}
			p.Cells = append(p.Cells, later...)
			g.Rows = append(g.Rows, row)
		}
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func rowName(s Server, p Protocol) string {
	if p == HTTP1 {
		return s.Name
	}
	return s.Name + " " + p.String()
}

// scenarioName is "server-condition", with the protocol between them
// when it is not HTTP/1.1 ("nginx-h2c-reload").
func scenarioName(s Server, p Protocol, cond string) string {
	if p == HTTP1 {
		return s.Name + "-" + cond
	}
	return s.Name + "-" + string(p) + "-" + cond
}

// buildCell compiles one condition's scenario for s.
func buildCell(s Server, proto Protocol, c Condition, conds []Condition, dir string) (Cell, error) {
	seed := int64(slices.IndexFunc(conds, func(o Condition) bool { return o.Name == c.Name }) + 1)
	path := BodyPath(c.size)
	if c.path != nil {
		path = c.path(s, c.size)
	}
	// What every response must be: the file served, written from Body(n)
	// before the server starts; never a fetch from the server under test.
	want := &scenarios.Want{ReferenceFile: filepath.Join(dir, "www", "bytes", fmt.Sprint(c.size))}
	req := scenarios.Request{Path: path, Want: want}
	var sc scenarios.Scenario
	if c.hunt != "" {
		h := scenarios.Hunt{Requests: []scenarios.Request{req}, Count: c.count, Network: scenarios.TCP,
			RestartEvery: ReloadEvery, CanRestart: true, CanReload: s.Reload != "", Only: []string{c.hunt}}
		list, _, err := h.Scenarios()
		if err != nil {
			return Cell{}, fmt.Errorf("survey: condition %s: %w", c.Name, err)
		}
		if len(list) != 1 {
			return Cell{}, fmt.Errorf("survey: condition %s: the hunting set left it out", c.Name)
		}
		sc = list[0].Scenario()
	} else {
		sc = scenarios.Scenario{
			TargetOnly:  true,
			Topology:    scenarios.Topology{Mode: scenarios.Direct, Hops: []scenarios.Hop{{Network: scenarios.TCP}}},
			Workload:    scenarios.Workload{Requests: []scenarios.Request{req}},
			Concurrency: max(c.concurrency, 1),
			Count:       c.count,
			Duration:    time.Minute,
		}
		if len(c.faults) > 0 {
			sc.Topology.Hops[0].ClientFaults = transport.MustFaults(c.faults...)
		}
	}
	sc.Name = scenarioName(s, proto, c.Name)
	sc.Description = c.About
	sc.Seed = seed
	sc.Expect = c.expect.Clone()
	if c.concurrency > 0 {
		sc.Concurrency = c.concurrency
	}
	compiled, err := scenarios.Compile(sc)
	if err != nil {
		return Cell{}, fmt.Errorf("survey: %s: %w", sc.Name, err)
	}
	cell := Cell{Server: s, Protocol: proto, Condition: c, Scenario: compiled}
	if c.Control != "" {
		ctl := c.Control
		// A pure proxy's baseline is already proxied.
		if ctl == "proxied" && s.Proxy {
			ctl = "baseline"
		}
		cell.Control = scenarioName(s, proto, ctl)
	}
	return cell, nil
}

// selection is which conditions run on which server.
type selection struct {
	all     map[string]bool            // conditions for every server
	per     map[string]map[string]bool // server -> conditions
	servers map[string]bool
}

func (s selection) has(server, cond string) bool { return s.all[cond] || s.per[server][cond] }

func (s selection) any(cond string) bool {
	if s.all[cond] {
		return true
	}
	for srv, m := range s.per {
		if s.servers[srv] && m[cond] {
			return true
		}
	}
	return false
}

// selectConditions reads PlanOptions.Conditions and adds the controls
// (and their controls) of what was selected.
func selectConditions(conds []Condition, servers []Server, list []string) (selection, error) {
	sel := selection{all: map[string]bool{}, per: map[string]map[string]bool{}, servers: map[string]bool{}}
	byName := map[string]Condition{}
	var names []string
	for _, c := range conds {
		byName[c.Name] = c
		names = append(names, c.Name)
	}
	var serverNames []string
	for _, s := range servers {
		sel.servers[s.Name] = true
		serverNames = append(serverNames, s.Name)
	}
	add := func(m map[string]bool, name string) {
		for name != "" && !m[name] {
			m[name] = true
			name = byName[name].Control
		}
	}
	if len(list) == 0 {
		for _, n := range names {
			sel.all[n] = true
		}
		return sel, nil
	}
	for _, item := range list {
		item = strings.TrimSpace(item)
		srv, cond, pinned := strings.Cut(item, ":")
		if !pinned {
			cond, srv = srv, ""
		}
		if _, ok := byName[cond]; !ok {
			return sel, fmt.Errorf("condition %q (accepted: %s; or SERVER:CONDITION)", cond, strings.Join(names, ", "))
		}
		if !pinned {
			add(sel.all, cond)
			continue
		}
		if !sel.servers[srv] {
			return sel, fmt.Errorf("condition %q names server %q, which is not surveyed (surveyed: %s)", item, srv, strings.Join(serverNames, ", "))
		}
		if sel.per[srv] == nil {
			sel.per[srv] = map[string]bool{}
		}
		add(sel.per[srv], cond)
	}
	return sel, nil
}
