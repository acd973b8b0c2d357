package survey

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/results"
)

// TestPlanEveryCellHasItsControl: every cell's control is in the plan and
// runs before it on the same server, every scenario name is unique, and
// the grid has a cell, or a reason, for every server and condition.
func TestPlanEveryCellHasItsControl(t *testing.T) {
	p, err := NewPlan(PlanOptions{Servers: Servers(), Dir: "/survey"})
	require.NoError(t, err)
	require.NoError(t, p.Grid.Validate())
	assert.Len(t, p.Grid.Rows, len(Servers()))
	assert.Len(t, p.Grid.Columns, len(Conditions()))
	at := map[string]int{}
	for i, c := range p.Cells {
		_, dup := at[c.Name()]
		require.False(t, dup, "scenario %s twice", c.Name())
		at[c.Name()] = i
	}
	for i, c := range p.Cells {
		if c.Condition.Name == "baseline" {
			assert.Empty(t, c.Control)
			continue
		}
		require.NotEmpty(t, c.Control, c.Name())
		j, ok := at[c.Control]
		require.True(t, ok, "%s: control %s is in the plan", c.Name(), c.Control)
		assert.Less(t, j, i, "%s: its control runs first", c.Name())
		assert.Equal(t, c.Server.Name, p.Cells[j].Server.Name)
		s := c.Scenario.Scenario()
		assert.Positive(t, s.Seed)
		require.Len(t, s.Workload.Requests, 1)
		w := s.Workload.Requests[0].Want
		require.NotNil(t, w, "every response is held against the file, not the server's word")
		assert.Contains(t, w.ReferenceFile, "/survey/www/bytes/")
	}
	cell := func(server, cond string) results.GridCell {
		ci := slices.IndexFunc(p.Grid.Columns, func(c results.GridColumn) bool { return c.Name == cond })
		ri := slices.IndexFunc(p.Grid.Rows, func(r results.GridRow) bool { return r.Name == server })
		require.True(t, ci >= 0 && ri >= 0, "%s %s", server, cond)
		return p.Grid.Rows[ri].Cells[ci]
	}
	assert.Contains(t, cell("go", "reload").Skip, "no reload mechanism")
	assert.Contains(t, cell("go", "upstream-cut-cl").Skip, "no upstream")
	assert.Contains(t, cell("h2o", "send-timeout").Skip, "no send-timeout knob")
	assert.Contains(t, cell("haproxy", "proxied").Skip, "a pure proxy")
	assert.Equal(t, "haproxy-baseline", cell("haproxy", "upstream-cut-cl").Control, "a pure proxy's cut is compared with its baseline")
	assert.Equal(t, "nginx-proxied", cell("nginx", "upstream-cut-close").Control)
	assert.Equal(t, "nginx-stalled-reader", cell("nginx", "send-timeout").Control)
	assert.Equal(t, "nginx-slow-reader-64k", cell("nginx", "reload").Control)

	var sendTimeout []int
	for i, c := range p.Cells {
		if c.Condition.Config == ConfigSendTimeout && c.Server.Name == "nginx" {
			sendTimeout = append(sendTimeout, i)
		}
		if c.Server.Name == "nginx" && c.Condition.Name == "upstream-cut-cl" {
			assert.Equal(t, UpstreamPrefix+CutCLPrefix+BodyPath(Size16MiB), c.Scenario.Scenario().Workload.Requests[0].Path)
		}
		if c.Server.Name == "haproxy" && c.Condition.Name == "upstream-cut-cl" {
			assert.Equal(t, CutCLPrefix+BodyPath(Size16MiB), c.Scenario.Scenario().Workload.Requests[0].Path)
		}
	}
	require.Len(t, sendTimeout, 1)
	// The send-timeout instance's cells come after all of the default's:
	// one start of each configuration per server.
	for i, c := range p.Cells {
		if c.Server.Name == "nginx" && i != sendTimeout[0] {
			assert.Less(t, i, sendTimeout[0], c.Name())
			assert.Empty(t, c.Condition.Config)
		}
	}
}

func TestPlanSelection(t *testing.T) {
	servers, err := Select("nginx,haproxy,go")
	require.NoError(t, err)
	p, err := NewPlan(PlanOptions{Servers: servers, Dir: "/s",
		Conditions: []string{"nginx:reload", "haproxy:upstream-cut-cl", "go:send-timeout"}})
	require.NoError(t, err)
	var names []string
	for _, c := range p.Cells {
		names = append(names, c.Name())
	}
	assert.Equal(t, []string{
		"nginx-baseline", "nginx-slow-reader-64k", "nginx-reload",
		"haproxy-baseline", "haproxy-upstream-cut-cl",
		"go-baseline", "go-stalled-reader", "go-send-timeout",
	}, names, "one condition each with its controls, servers in the order given, conditions in the catalog's")
	require.NoError(t, p.Grid.Validate())

	bad := []struct {
		give []string
		want string
	}{
		{[]string{"nope"}, `condition "nope" (accepted: baseline, slow-reader-64k`},
		{[]string{"squid:reload"}, `names server "squid", which is not surveyed (surveyed: nginx, haproxy, go)`},
		{[]string{"nginx:nope"}, `condition "nope"`},
	}
	for _, b := range bad {
		_, err := NewPlan(PlanOptions{Servers: servers, Dir: "/s", Conditions: b.give})
		assert.ErrorContains(t, err, b.want)
	}
	_, err = NewPlan(PlanOptions{Servers: servers, Dir: "/s", Protocols: []Protocol{H2, H2}})
	assert.ErrorContains(t, err, "protocol h2 twice")
	_, err = NewPlan(PlanOptions{Servers: servers, Dir: "/s", Protocols: []Protocol{"spdy"}})
	assert.ErrorContains(t, err, "accepted: http/1.1, h2c, h2")

	// HTTP/2 rows: a server that speaks it gets cells named with the
	// protocol; one that does not has a row saying so.
	squid, _ := Lookup("squid")
	p2, err := NewPlan(PlanOptions{Servers: []Server{servers[0], squid}, Dir: "/s", Protocols: []Protocol{HTTP1, H2}, Conditions: []string{"reload"}})
	require.NoError(t, err)
	var h2Names []string
	for _, c := range p2.Cells {
		if c.Protocol == H2 {
			h2Names = append(h2Names, c.Name())
		}
	}
	assert.Equal(t, []string{"nginx-h2-baseline", "nginx-h2-slow-reader-64k", "nginx-h2-reload"}, h2Names)
	require.Len(t, p2.Grid.Rows, 4)
	assert.Equal(t, "squid h2", p2.Grid.Rows[3].Name)
	for _, cell := range p2.Grid.Rows[3].Cells {
		assert.Equal(t, "does not speak h2", cell.Skip)
	}
	_, err = NewPlan(PlanOptions{Servers: servers})
	assert.ErrorContains(t, err, "Dir is empty")
}

// TestUpstreamCuts: the cutting upstream promises what it says and stops
// where it says; its whole body is the files' bytes.
func TestUpstreamCuts(t *testing.T) {
	up, err := StartUpstream()
	require.NoError(t, err)
	defer func() { assert.NoError(t, up.Close()) }()
	const n = 1 << 20
	get := func(path string) (*http.Response, []byte, error) {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(up.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	want, _ := io.ReadAll(Body(n))

	resp, b, err := get(BodyPath(n))
	require.NoError(t, err)
	assert.Equal(t, int64(n), resp.ContentLength)
	assert.Equal(t, want, b)

	resp, b, err = get(CutCLPrefix + BodyPath(n))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "short of its Content-Length")
	assert.Equal(t, strconv.Itoa(n), resp.Header.Get("Content-Length"))
	assert.Equal(t, want[:CutAt(n)], b)

	resp, b, err = get(CutClosePrefix + BodyPath(n))
	require.NoError(t, err, "a close-delimited body that ends early looks whole")
	assert.Equal(t, int64(-1), resp.ContentLength)
	assert.Equal(t, want[:CutAt(n)], b)
}

// TestPlanHTTP2Rows: the default plan's HTTP/2 rows leave the slowest
// readers and the byte-level shapes to the HTTP/1.1 rows (saying so) and
// keep the rest; a condition selected by name runs on every row.
func TestPlanHTTP2Rows(t *testing.T) {
	nginx, err := Lookup("nginx")
	require.NoError(t, err)
	p, err := NewPlan(PlanOptions{Servers: []Server{nginx}, Dir: "/s", Protocols: []Protocol{HTTP1, H2}})
	require.NoError(t, err)
	require.Len(t, p.Grid.Rows, 2)
	h1, h2 := p.Grid.Rows[0], p.Grid.Rows[1]
	for i, col := range p.Grid.Columns {
		switch col.Name {
		case "slow-reader-16k", "slow-reader-4k", "small-buffers", "tiny-writes", "jitter":
			assert.NotEmpty(t, h1.Cells[i].Scenario, col.Name)
			assert.Equal(t, HTTP1OnlyByDefault, h2.Cells[i].Skip, col.Name)
		default:
			assert.Equal(t, h1.Cells[i].Skip == "", h2.Cells[i].Skip == "", "%s: the same cells on both rows", col.Name)
		}
	}
	sel, err := NewPlan(PlanOptions{Servers: []Server{nginx}, Dir: "/s", Protocols: []Protocol{H2}, Conditions: []string{"jitter"}})
	require.NoError(t, err)
	var names []string
	for _, c := range sel.Cells {
		names = append(names, c.Name())
	}
	assert.Equal(t, []string{"nginx-h2-baseline", "nginx-h2-jitter"}, names)
}
