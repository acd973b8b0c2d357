package control

import (
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/transport"
)

// TestToxicCutsNewConns: a limit_data toxic cuts the next conn at its byte count, and
// its removal makes the next conn whole; the native shape does the same; the stats and
// /metrics count the bytes and the faults that fired.
func TestToxicCutsNewConns(t *testing.T) {
	up := upstreamServer(t)
	_, c := startServer(t, Config{Create: true})
	p, err := c.CreateProxy(ctx(t), NewProxy{Name: "p", Upstream: up.Addr().String()})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(p.Listen, "127.0.0.1:") && !strings.HasSuffix(p.Listen, ":0"), "the port it got: %s", p.Listen)
	assert.Equal(t, bodySize, fetch(t, p.Listen), "no faults: whole")

	tx, err := c.AddToxic(ctx(t), "p", Toxic{Type: "limit_data", Attributes: map[string]int64{"bytes": 1000}})
	require.NoError(t, err)
	assert.Equal(t, Toxic{Name: "limit_data_downstream", Type: "limit_data", Stream: "downstream", Toxicity: 1,
		Attributes: map[string]int64{"bytes": 1000}, Fault: "close-after=1kB"}, tx)
	assert.Equal(t, 1000, fetch(t, p.Listen), "cut at the toxic's bytes")
	require.NoError(t, c.RemoveToxic(ctx(t), "p", "limit_data_downstream"))
	assert.Equal(t, bodySize, fetch(t, p.Listen), "whole again once removed")

	got, err := c.SetFaults(ctx(t), "p", Faults{ToClient: "close-after=2000"})
	require.NoError(t, err)
	assert.Equal(t, Faults{ToClient: "close-after=2kB"}, got.Faults)
	assert.Equal(t, 2000, fetch(t, p.Listen), "cut by the native fault")
	_, err = c.SetFaults(ctx(t), "p", Faults{})
	require.NoError(t, err)
	assert.Equal(t, bodySize, fetch(t, p.Listen))

	var last Proxy
	require.Eventually(t, func() bool {
		last, err = c.Proxy(ctx(t), "p")
		return err == nil && last.Stats.ActiveConnections == 0 && last.Stats.BytesToClient == 3*bodySize+3000
	}, 10*time.Second, 10*time.Millisecond, "every conn ended: %+v", last.Stats)
	assert.Equal(t, Stats{Connections: 5, BytesToClient: 3*bodySize + 3000, FaultsFired: map[string]uint64{"close-after": 2}}, last.Stats)
	m, err := c.Metrics(ctx(t))
	require.NoError(t, err)
	for _, want := range []string{
		`truncheck_proxy_bytes_total{direction="to_client",proxy="p"} 199608`,
		`truncheck_proxy_connections_total{proxy="p"} 5`,
		`truncheck_proxy_faults_fired_total{fault="close-after",proxy="p"} 2`,
	} {
		assert.Contains(t, m, want)
	}
}

// TestChangesActOnNewConns: a conn open when the faults change keeps the faults it
// started with, counted stale until it ends; WaitFresh waits for that.
func TestChangesActOnNewConns(t *testing.T) {
	// An upstream that answers only once asked, so a conn can stay open and unread.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	wl := transport.WrapListener(l, transport.Options{})
	s, c := startServer(t, Config{Create: true})
	_ = s
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := wl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
				if _, err := conn.Read(make([]byte, 1)); err == nil {
					_, _ = conn.Write(make([]byte, bodySize))
				}
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })

	p, err := c.CreateProxy(ctx(t), NewProxy{Name: "p", Upstream: l.Addr().String()})
	require.NoError(t, err)
	ask := func(conn net.Conn) int {
		defer conn.Close()
		_, err := conn.Write([]byte{1})
		require.NoError(t, err)
		buf := make([]byte, 4096)
		n := 0
		for {
			k, err := conn.Read(buf)
			n += k
			if err != nil {
				return n
			}
		}
	}
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", p.Listen)
		require.NoError(t, err)
		require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
		return conn
	}
	open := dial()
	require.Eventually(t, func() bool { q, _ := c.Proxy(ctx(t), "p"); return q.Stats.ActiveConnections == 1 }, 5*time.Second, 5*time.Millisecond)
	_, err = c.AddToxic(ctx(t), "p", Toxic{Type: "limit_data", Attributes: map[string]int64{"bytes": 100}})
	require.NoError(t, err)
	q, err := c.Proxy(ctx(t), "p")
	require.NoError(t, err)
	assert.Equal(t, int64(1), q.Stats.StaleConnections)

	assert.Equal(t, 100, ask(dial()), "a new conn gets the toxic")
	assert.Equal(t, bodySize, ask(open), "the conn open before it does not")
	require.NoError(t, c.WaitFresh(ctx(t), "p"))
}

// TestBadInput: every refusal is a 4xx in Toxiproxy's error shape whose message names
// what was wrong and what is accepted.
func TestBadInput(t *testing.T) {
	up := upstreamServer(t)
	_, c := startServer(t, Config{Create: true})
	_, err := c.CreateProxy(ctx(t), NewProxy{Name: "p", Upstream: up.Addr().String(), Faults: &Faults{ToClient: "latency=1ms"}})
	require.NoError(t, err)
	_, err = c.AddToxic(ctx(t), "p", Toxic{Name: "cut", Type: "limit_data", Stream: "upstream", Attributes: map[string]int64{"bytes": 10}})
	require.NoError(t, err)
	upAddr := up.Addr().String()
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"bad JSON", "POST", "/proxies", `{"name":`, 400, "bad request body: proxy"},
		{"unknown proxy field", "POST", "/proxies", `{"name":"q","upstream":"` + upAddr + `","lissen":"x"}`, 400, `unknown field "lissen"; accepted: name, listen, upstream, enabled, toxics, faults, seed`},
		{"missing upstream", "POST", "/proxies", `{"name":"q"}`, 400, "missing required field: upstream"},
		{"non-loopback listen", "POST", "/proxies", `{"name":"q","listen":"0.0.0.0:0","upstream":"` + upAddr + `"}`, 400, `listen "0.0.0.0:0": not a loopback address (accepted: HOST:PORT or http://HOST:PORT with HOST a loopback address`},
		{"every interface", "POST", "/proxies", `{"name":"q","listen":":0","upstream":"` + upAddr + `"}`, 400, "not a loopback address"},
		{"non-loopback upstream", "POST", "/proxies", `{"name":"q","upstream":"10.0.0.1:6379"}`, 400, `upstream "10.0.0.1:6379": not a loopback address`},
		{"bad name", "POST", "/proxies", `{"name":"a b","upstream":"` + upAddr + `"}`, 400, `proxy name "a b"; accepted: 1 to 64 of A-Z a-z 0-9 _ . -`},
		{"duplicate proxy", "POST", "/proxies", `{"name":"p","upstream":"` + upAddr + `"}`, 409, `proxy "p" already exists`},
		{"bad native fault", "POST", "/proxies/p/faults", `{"to_client":"latncy=5ms"}`, 400, `faults: to_client: fault "latncy=5ms": unknown fault "latncy"; accepted: latency, bandwidth`},
		{"unknown faults field", "POST", "/proxies/p/faults", `{"to_server":""}`, 400, `unknown field "to_server"; accepted: to_client, to_upstream`},
		{"unknown proxy", "GET", "/proxies/nope", "", 404, `proxy "nope" not found (proxies: p)`},
		{"unknown toxic type", "POST", "/proxies/p/toxics", `{"type":"latncy"}`, 400, `unknown toxic type "latncy"; accepted: latency, bandwidth, timeout, slicer, limit_data, reset_peer`},
		{"slow_close", "POST", "/proxies/p/toxics", `{"type":"slow_close","attributes":{"delay":10}}`, 400, `toxic type "slow_close" has no counterpart`},
		{"missing type", "POST", "/proxies/p/toxics", `{"name":"x"}`, 400, "missing required field: type"},
		{"unknown attribute", "POST", "/proxies/p/toxics", `{"type":"latency","attributes":{"latency":5,"jiter":1}}`, 400, `unknown attribute "jiter"; accepted: latency, jitter`},
		{"fractional attribute", "POST", "/proxies/p/toxics", `{"type":"latency","attributes":{"latency":5.5}}`, 400, "5.5 is not a whole number"},
		{"negative attribute", "POST", "/proxies/p/toxics", `{"type":"limit_data","attributes":{"bytes":-1}}`, 400, "accepted: 0 or more"},
		{"bad stream", "POST", "/proxies/p/toxics", `{"type":"latency","stream":"down"}`, 400, `stream "down"; accepted: downstream`},
		{"bad toxicity", "POST", "/proxies/p/toxics", `{"type":"latency","toxicity":1.5}`, 400, "toxicity 1.5; accepted: 0 to 1"},
		{"timeout after a time", "POST", "/proxies/p/toxics", `{"type":"timeout","attributes":{"timeout":100}}`, 400, "accepted: timeout 0"},
		{"reset after a time", "POST", "/proxies/p/toxics", `{"type":"reset_peer","attributes":{"timeout":100}}`, 400, "accepted: timeout 0, a reset at once"},
		{"varying slices", "POST", "/proxies/p/toxics", `{"type":"slicer","attributes":{"average_size":100,"size_variation":10}}`, 400, "accepted: size_variation 0"},
		{"slicer delay with toxicity", "POST", "/proxies/p/toxics", `{"type":"slicer","toxicity":0.5,"attributes":{"average_size":100,"delay":10}}`, 400, "accepted: toxicity 1 or 0, or delay 0"},
		{"toxic over a native fault", "POST", "/proxies/p/toxics", `{"type":"latency","attributes":{"latency":5}}`, 409, `to_client: the native faults (latency=1ms) and toxic "latency_downstream" (latency=5ms) both set latency`},
		{"native over a toxic", "POST", "/proxies/p/faults", `{"to_upstream":"close-after=1KiB"}`, 409, `to_upstream: the native faults (close-after=1KiB) and toxic "cut" (close-after=10) both set close-after`},
		{"duplicate toxic", "POST", "/proxies/p/toxics", `{"name":"cut","type":"limit_data"}`, 409, `toxic "cut" already exists`},
		{"unknown toxic", "DELETE", "/proxies/p/toxics/nope", "", 404, `toxic "nope" not found on proxy "p"`},
		{"toxic's type fixed", "POST", "/proxies/p/toxics/cut", `{"type":"latency"}`, 400, `a toxic's type is fixed (accepted: "limit_data" or absent)`},
		{"rename", "POST", "/proxies/p", `{"name":"q"}`, 400, "renamed by deleting it"},
		{"method", "PUT", "/proxies", `{}`, 405, "method PUT on /proxies; accepted: GET, POST"},
		{"no endpoint", "GET", "/proxy", "", 404, "no endpoint GET /proxy; accepted: GET /version"},
		{"body too large", "POST", "/proxies", `{"name":"` + strings.Repeat("x", maxBody) + `"}`, 413, "request body over 262144 bytes"},
		{"populate not an array", "POST", "/populate", `{"name":"q"}`, 400, "want a JSON array of proxies"},
		{"populate checks all first", "POST", "/populate", `[{"name":"q","upstream":"` + upAddr + `"},{"name":"r"}]`, 400, `proxy 2: proxy "r": missing required field: upstream`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			status, got, err := c.Do(ctx(t), tt.method, tt.path, body)
			require.NoError(t, err)
			assert.Equal(t, tt.status, status, string(got))
			var ae APIError
			require.NoError(t, json.Unmarshal(got, &ae), "Toxiproxy's error shape: %s", got)
			assert.Contains(t, ae.Message, tt.want)
			assert.Equal(t, tt.status, ae.Status)
		})
	}
	ps, err := c.Proxies(ctx(t))
	require.NoError(t, err)
	assert.Len(t, ps, 1, "nothing was created by a refused request")
	assert.Equal(t, "latency=1ms", ps["p"].ActiveFaults.ToClient, "nor changed")
	assert.Equal(t, "close-after=10", ps["p"].ActiveFaults.ToUpstream)
}

// TestGuard: a request a web page could send is refused, and the API listens on
// loopback only.
func TestGuard(t *testing.T) {
	s, _ := startServer(t, Config{})
	for _, h := range []struct {
		name, key, value, want string
	}{
		{"origin", "Origin", "http://example.test", "Origin header"},
		{"host", "Host", "attacker.test:8474", `Host "attacker.test:8474" is refused`},
	} {
		t.Run(h.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx(t), "POST", "http://"+s.Addr().String()+"/reset", nil)
			require.NoError(t, err)
			if h.key == "Host" {
				req.Host = h.value
			} else {
				req.Header.Set(h.key, h.value)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		})
	}
	http.DefaultClient.CloseIdleConnections()
	err := New(Config{}).Start("tcp", "0.0.0.0:0")
	assert.ErrorContains(t, err, `listen "0.0.0.0:0": not a loopback address`)
}

// TestDisableDeleteClose: disabling a proxy closes its listener and enabling it opens
// the same address again; deleting it closes it for good; Close closes every proxy.
func TestDisableDeleteClose(t *testing.T) {
	up := upstreamServer(t)
	s, c := startServer(t, Config{Create: true})
	p, err := c.CreateProxy(ctx(t), NewProxy{Name: "p", Upstream: "http://" + up.Addr().String()})
	require.NoError(t, err)
	refused := func(addr string) bool {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil
	}
	q, err := c.SetEnabled(ctx(t), "p", false)
	require.NoError(t, err)
	assert.False(t, q.Enabled)
	assert.True(t, refused(p.Listen), "disabled: nothing listens")
	q, err = c.SetEnabled(ctx(t), "p", true)
	require.NoError(t, err)
	assert.Equal(t, p.Listen, q.Listen, "the same address again")
	assert.Equal(t, bodySize, fetch(t, q.Listen))

	require.NoError(t, c.DeleteProxy(ctx(t), "p"))
	assert.True(t, refused(p.Listen), "deleted: the listener is closed")
	assert.True(t, IsStatus(c.DeleteProxy(ctx(t), "p"), http.StatusNotFound))

	sock := filepath.Join(shortDir(t), "p.sock")
	u, err := c.CreateProxy(ctx(t), NewProxy{Name: "u", Listen: "unix:" + sock, Upstream: up.Addr().String()})
	require.NoError(t, err)
	assert.Equal(t, "unix:"+sock, u.Listen)
	assert.Equal(t, bodySize, fetch(t, u.Listen))
	require.NoError(t, s.Close())
	_, err = net.Dial("unix", sock)
	assert.Error(t, err, "Close closed the proxies it ran")
}

// TestListeners: a command's own listeners take faults per direction through the
// API, but are never disabled, moved or deleted by it; without Create nothing is
// created.
func TestListeners(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	wl := transport.WrapListener(l, transport.Options{Faults: transport.MustFaults(transport.Latency(time.Millisecond, 0))})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := wl.Accept()
			if err != nil {
				return
			}
			_, _ = conn.Write(make([]byte, bodySize))
			conn.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	s, c := startServer(t, Config{})
	p, err := s.AddListeners("serve", wl)
	require.NoError(t, err)
	assert.Equal(t, Faults{ToClient: "latency=1ms", ToUpstream: "latency=1ms"}, p.Faults, "a fault acting both ways shows in each direction")
	assert.Equal(t, "", p.Upstream)

	_, err = c.AddToxic(ctx(t), "serve", Toxic{Type: "limit_data", Attributes: map[string]int64{"bytes": 500}})
	require.NoError(t, err)
	assert.Equal(t, 500, fetch(t, p.Listen))
	require.NoError(t, c.Reset(ctx(t)))
	assert.Equal(t, bodySize, fetch(t, p.Listen))
	q, err := c.Proxy(ctx(t), "serve")
	require.NoError(t, err)
	assert.Equal(t, Faults{}, q.ActiveFaults, "reset removes the flags' faults too")

	_, err = c.SetFaults(ctx(t), "serve", Faults{ToClient: "slow-read=1KiB/1ms"})
	assert.True(t, IsStatus(err, 400), "%v", err)
	assert.ErrorContains(t, err, "slow-read acts on read only")
	_, err = c.AddToxic(ctx(t), "serve", Toxic{Type: "slicer", Attributes: map[string]int64{"average_size": 100, "delay": 10}})
	assert.ErrorContains(t, err, "slow-read acts on read only", "a slicer's pauses need an upstream to read from")
	_, err = c.SetEnabled(ctx(t), "serve", false)
	assert.True(t, IsStatus(err, 403), "%v", err)
	assert.True(t, IsStatus(c.DeleteProxy(ctx(t), "serve"), 403))
	_, err = c.CreateProxy(ctx(t), NewProxy{Name: "x", Upstream: "127.0.0.1:1"})
	assert.True(t, IsStatus(err, 403), "%v", err)
	assert.ErrorContains(t, err, "truncheck proxy --control creates and deletes proxies")
}

// TestOutcomes: check's outcomes and silent failures show in /metrics.
func TestOutcomes(t *testing.T) {
	s, c := startServer(t, Config{Version: "v9"})
	s.RecordOutcome("baseline", "complete", false)
	s.RecordOutcome("slow-reader-4k", "truncated", true)
	s.RecordOutcome("slow-reader-4k", "truncated", true)
	m, err := c.Metrics(ctx(t))
	require.NoError(t, err)
	assert.Contains(t, m, `truncheck_check_responses_total{outcome="complete",scenario="baseline"} 1`)
	assert.Contains(t, m, `truncheck_check_responses_total{outcome="truncated",scenario="slow-reader-4k"} 2`)
	assert.Contains(t, m, `truncheck_check_silent_total{scenario="slow-reader-4k"} 2`)
	v, err := c.Version(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "v9", v)
}

// TestUnixSocketAPI: the API on a Unix socket, the client dialing it; Close removes
// the socket.
func TestUnixSocketAPI(t *testing.T) {
	sock := filepath.Join(shortDir(t), "api.sock")
	s := New(Config{Version: "v2"})
	require.NoError(t, s.Start("unix", sock))
	c, err := NewClient("unix:" + sock)
	require.NoError(t, err)
	defer c.Close()
	v, err := c.Version(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "v2", v)
	require.NoError(t, s.Close())
	_, err = net.Dial("unix", sock)
	assert.Error(t, err)
}
