package scenarios

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestBuiltinValid(t *testing.T) {
	c := Builtin()
	require.NotZero(t, c.Len())
	for _, c := range c.All() {
		s := c.Scenario()
		assert.NoError(t, s.Validate(), s.Name)
		assert.NotEmpty(t, s.Description, s.Name)
		assert.Len(t, s.Topology.Hops, s.Topology.Mode.HopCount(), s.Name)
		if s.TargetOnly {
			require.NotNil(t, s.Target, s.Name)
			assert.Contains(t, []string{"hyper-stock", "hyper-fixed"}, s.Target.Server)
		}
	}
	for _, name := range []string{
		"baseline", "slow-reader-unix", "tiny-writes", "latency-jitter", "small-socket-buffers",
		"buffered-shutdown", "buffered-shutdown-fixed", "close-after", "reset-after", "stall",
		"write-timeout", "graceful-restart", "graceful-restart-cut", "nested-pipeline", "close-delimited-gateway", "gateway-baseline",
		"tls-baseline", "h2-baseline", "h2c-baseline", "h2-gateway", "tls-close-delimited-cut", "tls-buffered-shutdown",
		"h2-stream-reset", "h2-goaway-graceful", "h2-goaway-drain", "h2-window-stall",
		"tls-graceful-restart", "h2-graceful-shutdown",
	} {
		s, err := c.Get(name)
		require.NoError(t, err)
		assert.True(t, s.Scenario().Quick, name)
	}
	assert.Len(t, c.Quick(), 28)
}

func TestCatalogIsolation(t *testing.T) {
	a, b := Builtin(), Builtin()
	c, err := a.Get("baseline")
	require.NoError(t, err)
	s := c.Scenario()
	s.Workload.Requests[0].Path = "/changed"
	s2, err := a.Get("baseline")
	require.NoError(t, err)
	assert.NotEqual(t, "/changed", s2.Scenario().Workload.Requests[0].Path, "compiled scenarios hand out copies")

	require.NoError(t, a.Add(MustCompile(Scenario{Name: "extra", Workload: Workload{Requests: []Request{{Path: "/"}}}, Count: 1, Expect: results.Expectation{Kind: results.ExpectComplete}})))
	_, err = b.Get("extra")
	assert.Error(t, err, "catalogs share no state")

	err = a.Add(s2)
	assert.ErrorContains(t, err, `scenario "baseline": name already in the catalog`)
	_, err = a.Get("nope")
	assert.ErrorContains(t, err, `unknown scenario "nope" (accepted: baseline,`)
}

func TestCompileFillsDefaults(t *testing.T) {
	s := Scenario{Name: "x", Topology: Topology{Mode: Nested}, Workload: Workload{Requests: []Request{{Path: "/a"}}}, Count: 1,
		Restarts: Restarts{Every: time.Second}, Expect: results.Expectation{Kind: results.ExpectComplete}}
	c, err := Compile(s)
	require.NoError(t, err)
	d := c.Scenario()
	assert.Equal(t, Proxy, d.Topology.Gateway)
	assert.Equal(t, []Hop{{Network: TCP, Protocol: HTTP1}, {Network: TCP, Protocol: HTTP1}, {Network: TCP, Protocol: HTTP1}}, d.Topology.Hops)
	assert.Equal(t, "GET", d.Workload.Requests[0].Method)
	assert.Equal(t, 1, d.Workload.Requests[0].Weight)
	assert.Equal(t, DefaultConcurrency, d.Concurrency)
	assert.Equal(t, DefaultStallTimeout, d.StallTimeout)
	assert.Equal(t, DefaultGrace, d.Restarts.Grace)
	assert.Equal(t, DefaultOrigin, d.Origin)
	assert.Empty(t, s.Topology.Hops, "Compile must not change its argument")
	assert.Equal(t, "client-tcp>outer-tcp>gw-tcp>inner", c.Layout())
	assert.Empty(t, c.Faults())

	s.Topology.Hops = []Hop{{ClientFaults: transport.MustFaults(transport.SlowRead(4096, time.Millisecond))}, {}, {ServerFaults: transport.MustFaults(transport.CloseAfter(300_000))}}
	f, err := Compile(s)
	require.NoError(t, err)
	assert.Equal(t, "client dialer: slow-read=4KiB/1ms; inner listener: close-after=300kB", f.Faults())

	// A compiled scenario round-trips through its JSON (a plan's replay).
	b, err := c.MarshalJSON()
	require.NoError(t, err)
	var back Compiled
	require.NoError(t, back.UnmarshalJSON(b))
	assert.Equal(t, d, back.Scenario())
	g, err := Builtin().Get("close-after")
	require.NoError(t, err)
	b, err = g.MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(b), `"ServerFaults":"close-after=300KiB@p=0.5"`, "faults stored as canonical text")
	require.NoError(t, back.UnmarshalJSON(b))
	assert.Equal(t, g.Scenario(), back.Scenario())

	_, err = Compile(Scenario{Name: "Bad Name"})
	assert.ErrorContains(t, err, "invalid name")
	assert.Panics(t, func() { MustCompile(Scenario{}) })
}

func TestLoadGood(t *testing.T) {
	list, err := Load("testdata/good.yaml")
	require.NoError(t, err)
	require.Len(t, list, 1)
	s := list[0].Scenario()
	assert.Equal(t, "my-gateway", s.Name)
	assert.Equal(t, Gateway, s.Topology.Mode)
	assert.Equal(t, Naive, s.Topology.Gateway)
	assert.Equal(t, "buffered-shutdown", s.Topology.Hops[1].ServerFaults.String())
	assert.Equal(t, Request{Method: "POST", Path: "/upload", Weight: 1, Upload: 1 << 20, Expect100: true}, s.Workload.Requests[1], "defaults applied as loaded")
	assert.Equal(t, 30*time.Second, s.Duration)
	assert.Equal(t, 2*time.Second, s.StallTimeout)
	assert.Equal(t, time.Second, s.Service.WriteTimeout)
	assert.Equal(t, Restarts{Every: 500 * time.Millisecond, Grace: 2 * time.Second}, s.Restarts)
	assert.Equal(t, detect(results.Truncated, results.SilentRequired, results.Reset), s.Expect)
	assert.Equal(t, int64(DefaultSeed), s.Seed)

	list, err = Load("testdata/good.json")
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, int64(0), list[1].Scenario().Seed, "an explicit seed 0 is kept")
	assert.Equal(t, 2*time.Second, list[1].Scenario().Duration)

	c := Builtin()
	require.NoError(t, c.Add(list...))
	_, err = c.Get("json-two")
	assert.NoError(t, err)
}

// TestParseTLSAndHTTP2: a hop's TLS, protocol and stream faults, read from
// a file, show in the layout and the faults' text and survive the plan's
// JSON.
func TestParseTLSAndHTTP2(t *testing.T) {
	list, err := Parse("h2.yaml", []byte(`
name: h2-gw
topology:
  mode: gateway
  hops:
    - {network: tcp, tls: true, protocol: h2, stream_faults: "goaway-after=4/20ms,reset-after=300KiB@p=0.5", client_faults: slow-read=64KiB/2ms}
    - {network: unix}
workload: [{path: /bytes/3MB}]
count: 4
expect: {kind: complete}
`))
	require.NoError(t, err)
	c := list[0]
	s := c.Scenario()
	assert.Equal(t, Hop{Network: Unix, Protocol: HTTP1}, s.Topology.Hops[1])
	assert.True(t, s.Topology.Hops[0].TLS)
	assert.Equal(t, HTTP2, s.Topology.Hops[0].Protocol)
	assert.Equal(t, "client-tcp-tls-h2>gw-unix>svc", c.Layout())
	assert.Equal(t, "client dialer: slow-read=64KiB/2ms; gw streams: reset-after=300KiB@p=0.5,goaway-after=4/20ms", c.Faults())
	b, err := c.MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(b), `"StreamFaults":"reset-after=300KiB@p=0.5,goaway-after=4/20ms"`)
	var back Compiled
	require.NoError(t, back.UnmarshalJSON(b))
	assert.Equal(t, s, back.Scenario())

	for _, tc := range []struct {
		hop  Hop
		want string
	}{
		{Hop{Network: TCP}, "tcp"},
		{Hop{Network: Unix, TLS: true}, "unix-tls"},
		{Hop{Network: TCP, Protocol: HTTP2}, "tcp-h2c"},
		{Hop{TLS: true, Protocol: HTTP2}, "tcp-tls-h2"},
	} {
		assert.Equal(t, tc.want, tc.hop.Wire())
	}
}

// TestParseStatedExpectations: a file states what a response must be, the
// headers it carries, and the evidence it requires.
func TestParseStatedExpectations(t *testing.T) {
	list, err := Parse("s.yaml", []byte(`
name: mine
workload:
  - path: /big.bin
    method: HEAD
  - path: /big.bin
    headers: {Range: bytes=0-99, Accept-Encoding: identity}
    want: {length: 3MB, digest: "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"}
  - path: /other
    want: {reference_url: "http://127.0.0.1:9/other"}
count: 3
verify: {require_end_to_end: true, reference_fetches: 5}
expect: {kind: complete, allow_unverified: true}
`))
	require.NoError(t, err)
	require.Len(t, list, 1)
	s := list[0].Scenario()
	require.Len(t, s.Workload.Requests, 3)
	assert.Equal(t, "HEAD", s.Workload.Requests[0].Method)
	r := s.Workload.Requests[1]
	assert.Equal(t, map[string]string{"Range": "bytes=0-99", "Accept-Encoding": "identity"}, r.Headers)
	require.NotNil(t, r.Want)
	require.NotNil(t, r.Want.Length)
	assert.Equal(t, int64(3_000_000), *r.Want.Length)
	assert.Equal(t, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:", r.Want.Digest.String())
	assert.Equal(t, "http://127.0.0.1:9/other", s.Workload.Requests[2].Want.ReferenceURL)
	assert.Equal(t, Verify{RequireEndToEnd: true, ReferenceFetches: 5}, s.Verify)
	assert.True(t, s.Expect.AllowUnverified)
	// A clone shares nothing with the original.
	c := s.Clone()
	*c.Workload.Requests[1].Want.Length = 1
	c.Workload.Requests[1].Headers["Range"] = "x"
	assert.Equal(t, int64(3_000_000), *s.Workload.Requests[1].Want.Length)
	assert.Equal(t, "bytes=0-99", s.Workload.Requests[1].Headers["Range"])
}

// TestUploads: an upload is a size or @file, with GET (the early-answer
// probe), POST or PUT; never both, never with HEAD.
func TestUploads(t *testing.T) {
	list, err := Parse("a.yaml", []byte("name: x\nworkload: [{path: /u, upload: '@body.bin'}, {method: PUT, path: /v, upload: 1.5MB}]\ncount: 1\nexpect: {kind: complete}\n"))
	require.NoError(t, err)
	reqs := list[0].Scenario().Workload.Requests
	assert.Equal(t, "body.bin", reqs[0].UploadFile)
	assert.Equal(t, "GET", reqs[0].Method, "a GET may carry an upload")
	assert.Equal(t, int64(1_500_000), reqs[1].Upload)

	s := Scenario{Name: "x", Count: 1, Expect: results.Expectation{Kind: results.ExpectComplete},
		Workload: Workload{Requests: []Request{{Method: "POST", Path: "/u", Upload: 10, UploadFile: "f"}}}}
	_, err = Compile(s)
	assert.ErrorContains(t, err, "workload[0].upload: both a size and a file")
}

func TestParseErrors(t *testing.T) {
	const base = "workload: [{path: /images/photo-small}]\ncount: 1\nexpect: {kind: complete}\n"
	tests := []struct {
		name string
		file string
		give string
		want string
	}{
		{"unknown top-level field", "a.yaml", "name: x\ncolour: red\n" + base,
			`a.yaml: colour: unknown field "colour" (accepted: name, description, quick, target_only, origin, target, topology, workload, concurrency, count, duration, seed, client, service, restarts, stall_timeout, verify, expect)`},
		{"unknown nested field", "a.yaml", "name: x\ntopology: {mode: direct, hops: [{network: tcp, server_fault: x}]}\n" + base,
			`a.yaml: topology.hops[0].server_fault: unknown field "server_fault" (accepted: network, tls, protocol, server_faults, client_faults, stream_faults)`},
		{"unknown protocol", "a.yaml", "name: x\ntopology: {hops: [{protocol: h3}]}\n" + base,
			`a.yaml: scenario "x": topology.hops[0].protocol: unknown protocol "h3" (accepted: http/1.1, h2 (HTTP/2: by ALPN with tls: true, else h2c with prior knowledge))`},
		{"tls not a boolean", "a.yaml", "name: x\ntopology: {hops: [{tls: yes please}]}\n" + base,
			`a.yaml: topology.hops[0].tls: got the string "yes please", want a boolean (accepted: true, false)`},
		{"stream faults on http/1.1", "a.yaml", "name: x\ntopology: {hops: [{tls: true, stream_faults: reset-after=1KiB}]}\n" + base,
			`a.yaml: scenario "x": topology.hops[0].stream_faults: stream faults act on HTTP/2 streams, and this hop speaks http/1.1 (accepted: protocol: h2 on this hop)`},
		{"unknown stream fault", "a.yaml", "name: x\ntopology: {hops: [{protocol: h2, stream_faults: close-after=1KiB}]}\n" + base,
			`a.yaml: scenario "x": topology.hops[0].stream_faults: fault "close-after=1KiB": unknown stream fault "close-after"; accepted: reset-after, goaway-after`},
		{"unknown field in JSON", "a.json", `{"name": "x", "workload": [{"path": "/", "wieght": 2}], "count": 1, "expect": {"kind": "complete"}}`,
			`a.json: workload[0].wieght: unknown field "wieght" (accepted: method, path, weight, headers, upload, expect_100, want)`},
		{"bad duration", "a.yaml", "name: x\nduration: 5 seconds\n" + base,
			`a.yaml: scenario "x": duration: bad duration "5 seconds" (accepted: Go durations such as 250ms, 2s, 1m30s; 0 or empty for the default)`},
		{"duration without unit", "a.yaml", "name: x\nstall_timeout: 5\n" + base,
			`a.yaml: scenario "x": stall_timeout: bad duration "5"`},
		{"bad size", "a.yaml", "name: x\nworkload: [{method: POST, path: /u, upload: 3 parsecs}]\ncount: 1\nexpect: {kind: complete}\n",
			`a.yaml: scenario "x": workload[0].upload: bad size "3 parsecs" (accepted: a byte count or a size such as 512, 64KiB`},
		{"unknown fault", "a.yaml", "name: x\ntopology: {hops: [{server_faults: explode=1}]}\n" + base,
			`a.yaml: scenario "x": topology.hops[0].server_faults: fault "explode=1": unknown fault "explode"; accepted: latency, bandwidth`},
		{"bad fault value", "a.yaml", "name: x\ntopology: {hops: [{client_faults: slow-read=fast}]}\n" + base,
			`a.yaml: scenario "x": topology.hops[0].client_faults: fault "slow-read=fast"`},
		{"negative stated length", "a.yaml", "name: x\nworkload: [{path: /f, want: {length: -5}}]\ncount: 1\nexpect: {kind: complete}\n",
			`a.yaml: scenario "x": workload[0].want.length: bad size "-5"`},
		{"stated digest not computable", "a.yaml", "name: x\nworkload: [{path: /f, want: {digest: 'md5=:AAAA:'}}]\ncount: 1\nexpect: {kind: complete}\n",
			`a.yaml: scenario "x": workload[0].want.digest: algorithm "md5" cannot be computed (accepted: crc32c, sha-256, sha-512)`},
		{"stated digest malformed", "a.yaml", "name: x\nworkload: [{path: /f, want: {digest: 'sha-256=abc'}}]\ncount: 1\nexpect: {kind: complete}\n",
			`a.yaml: scenario "x": workload[0].want.digest: malformed digest field`},
		{"reference url not http", "a.yaml", "name: x\nworkload: [{path: /f, want: {reference_url: 'ftp://127.0.0.1/f'}}]\ncount: 1\nexpect: {kind: complete}\n",
			`a.yaml: scenario "x": workload[0].want.reference_url: "ftp://127.0.0.1/f" is not an http(s) URL`},
		{"reference url and file", "a.yaml", "name: x\nworkload: [{path: /f, want: {reference_url: 'http://127.0.0.1/f', reference_file: f.bin}}]\ncount: 1\nexpect: {kind: complete}\n",
			`a.yaml: scenario "x": workload[0].want.reference_file: both a reference URL and a reference file (accepted: one of them)`},
		{"header the harness sets", "a.yaml", "name: x\nworkload: [{path: /f, headers: {Content-Length: '5'}}]\ncount: 1\nexpect: {kind: complete}\n",
			`a.yaml: scenario "x": workload[0].headers.Content-Length: header "Content-Length" is set by the harness or changes the framing under test`},
		{"headers not a mapping", "a.yaml", "name: x\nworkload: [{path: /f, headers: [a, b]}]\ncount: 1\nexpect: {kind: complete}\n",
			`a.yaml: workload[0].headers: got a list, want a mapping of names to values`},
		{"too many reference fetches", "a.yaml", "name: x\nverify: {reference_fetches: 99}\n" + base,
			`a.yaml: scenario "x": verify.reference_fetches: 99 reference fetches (accepted: 0 (=> 3) to 16)`},
		{"unknown verify field", "a.yaml", "name: x\nverify: {end_to_end: true}\n" + base,
			`a.yaml: verify.end_to_end: unknown field "end_to_end" (accepted: require_end_to_end, reference_fetches)`},
		{"unknown mode", "a.yaml", "name: x\ntopology: {mode: mesh}\n" + base,
			`a.yaml: scenario "x": topology.mode: unknown mode "mesh" (accepted: direct, gateway, nested)`},
		{"wrong hop count", "a.yaml", "name: x\ntopology: {mode: gateway, hops: [{network: tcp}]}\n" + base,
			`a.yaml: scenario "x": topology.hops: 1 hops for mode gateway (accepted: none (all tcp, no faults) or exactly 2, client first)`},
		{"unknown network", "a.yaml", "name: x\ntopology: {hops: [{network: udp}]}\n" + base,
			`a.yaml: scenario "x": topology.hops[0].network: unknown network "udp" (accepted: tcp, unix)`},
		{"gateway kind on direct", "a.yaml", "name: x\ntopology: {gateway: naive}\n" + base,
			`a.yaml: scenario "x": topology.gateway: a gateway kind needs mode gateway or nested (accepted: empty for direct)`},
		{"unknown expectation", "a.yaml", "name: x\nworkload: [{path: /}]\ncount: 1\nexpect: {kind: maybe}\n",
			`a.yaml: scenario "x": expect.kind: unknown expectation "maybe" (accepted: complete, detect)`},
		{"unknown outcome", "a.yaml", "name: x\nworkload: [{path: /}]\ncount: 1\nexpect: {kind: detect, outcomes: [cut]}\n",
			`a.yaml: scenario "x": expect.outcomes[0]: unknown outcome "cut" (accepted: unverified, truncated, reset, corrupt, overlong, stalled, http-error, transport-error)`},
		{"detect without outcomes", "a.yaml", "name: x\nworkload: [{path: /}]\ncount: 1\nexpect: {kind: detect}\n",
			`a.yaml: scenario "x": expect.outcomes: a detect expectation names no outcome`},
		{"never ends", "a.yaml", "name: x\nworkload: [{path: /}]\nexpect: {kind: complete}\n",
			`a.yaml: scenario "x": count: neither count nor duration is set: the run would never end (accepted: count > 0 and/or duration > 0)`},
		{"bad name", "a.yaml", "name: My Test\n" + base,
			`a.yaml: scenario "My Test": name: invalid name "My Test" (accepted: 1-64 lowercase letters, digits and dashes`},
		{"bad path", "a.yaml", "name: x\nworkload: [{path: images/x}]\ncount: 1\nexpect: {kind: complete}\n",
			`a.yaml: scenario "x": workload[0].path: path "images/x" does not start with a single /`},
		{"upload with HEAD", "a.yaml", "name: x\nworkload: [{method: HEAD, path: /u, upload: 10}]\ncount: 1\nexpect: {kind: complete}\n",
			`a.yaml: scenario "x": workload[0].upload: a HEAD request carries no upload (accepted: method: GET, POST or PUT)`},
		{"upload bad size", "a.yaml", "name: x\nworkload: [{method: POST, path: /u, upload: 10XB}]\ncount: 1\nexpect: {kind: complete}\n",
			`a.yaml: scenario "x": workload[0].upload: bad size "10XB"`},
		{"wrong type", "a.yaml", "name: x\ncount: many\n" + "workload: [{path: /}]\nexpect: {kind: complete}\n",
			`a.yaml: count: got the string "many", want an integer`},
		{"wrong type in JSON", "a.json", `{"name": "x", "quick": "yes", "workload": [{"path": "/"}], "count": 1, "expect": {"kind": "complete"}}`,
			`a.json: quick: got the string "yes", want a boolean (accepted: true, false)`},
		{"list where a mapping goes", "a.yaml", "name: x\ntopology: [direct]\n" + base,
			`a.yaml: topology: got a list, want a mapping (accepted: mode, gateway, hops)`},
		{"negative concurrency", "a.yaml", "name: x\nconcurrency: -1\n" + base,
			`a.yaml: scenario "x": concurrency: concurrency -1 out of range (accepted: 0 (=> 4) to 1024)`},
		{"empty file", "a.yaml", "  \n", `a.yaml: empty file (accepted: one scenario, or a list under ` + "`scenarios:`)"},
		{"not a mapping", "a.yaml", "- a\n- b\n", `a.yaml: top level is a list (accepted: a mapping`},
		{"broken YAML", "a.yaml", "name: [x\n", `a.yaml: invalid YAML: yaml:`},
		{"broken JSON", "a.json", `{"name": `, `a.json: invalid JSON: unexpected EOF`},
		{"trailing JSON", "a.json", `{"name": "x"} {}`, `a.json: invalid JSON: data after the top-level value`},
		{"huge weight", "a.yaml", "name: x\nworkload: [{path: /a, weight: 9223372036854775807}, {path: /b, weight: 9223372036854775807}]\ncount: 1\nexpect: {kind: complete}\n",
			`a.yaml: scenario "x": workload[0].weight: weight 9223372036854775807 out of range (accepted: 0 (=> 1) to 1000000)`},
		{"two YAML documents", "a.yaml", "name: x\n---\nname: y\n", `a.yaml: invalid YAML: more than one document`},
		{"empty list", "a.yaml", "scenarios: []\n", `a.yaml: scenarios: empty list (accepted: at least one scenario)`},
		{"error in list names the index", "a.yaml", "scenarios:\n  - name: a\n    workload: [{path: /}]\n    count: 1\n    expect: {kind: complete}\n  - name: b\n    workload: [{path: /}]\n    expect: {kind: complete}\n",
			`a.yaml: scenario "b": scenarios[1].count: neither count nor duration`},
		{"duplicate in list", "a.yaml", "scenarios:\n  - name: a\n    workload: [{path: /}]\n    count: 1\n    expect: {kind: complete}\n  - name: a\n    workload: [{path: /}]\n    count: 1\n    expect: {kind: complete}\n",
			`a.yaml: scenarios[1].name: duplicate scenario name "a" (accepted: unique names)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.file, []byte(tt.give))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			var ferr *FieldError
			assert.True(t, errors.As(err, &ferr), "a *FieldError: %v", err)
		})
	}
}

// TestLoadEndlessFile: a file that never ends is refused at the size cap,
// not read whole.
func TestLoadEndlessFile(t *testing.T) {
	_, err := Load("/dev/zero")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/dev/zero: file of more than 1048576 bytes is too large (accepted: up to 1MiB)")
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/nope.yaml")
	assert.ErrorContains(t, err, "testdata/nope.yaml")
}

func TestParseSize(t *testing.T) {
	for give, want := range map[string]int64{"": 0, "512": 512, "64KiB": 64 << 10, "1.5MB": 1_500_000, "3MiB": 3 << 20, " 2GiB ": 2 << 30, "10B": 10, "1.5MiB": 3 << 19} {
		got, err := parseSize(give)
		require.NoError(t, err, give)
		assert.Equal(t, want, got, give)
	}
	for _, bad := range []string{"KiB", "-1", "1.2.3", "5 parsecs", "1e3", "3k", "3mib", "2 GiB", "1.5B"} {
		_, err := parseSize(bad)
		assert.Error(t, err, bad)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("a.yaml", "name: x\nworkload: [{path: /}]\ncount: 1\nexpect: {kind: complete}\n")
	f.Add("a.json", `{"name":"x","workload":[{"path":"/"}],"count":1,"expect":{"kind":"complete"}}`)
	f.Fuzz(func(t *testing.T, name, data string) {
		list, err := Parse(name, []byte(data))
		if err == nil {
			for _, c := range list {
				if verr := c.Scenario().Validate(); verr != nil {
					t.Fatalf("Parse accepted an invalid scenario: %v", verr)
				}
			}
		}
	})
}

func TestLoadBadFiles(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"testdata/bad-fault.yaml", `testdata/bad-fault.yaml: scenario "bad-fault": topology.hops[1].server_faults: fault "close-after=lots": close-after:`},
		{"testdata/bad-field.json", `testdata/bad-field.json: restarts.grace_period: unknown field "grace_period" (accepted: every, grace, reload)`},
		{"testdata/bad-duration.yaml", `testdata/bad-duration.yaml: scenario "bad-duration": duration: bad duration "10 minutes" (accepted: Go durations such as 250ms`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(tt.file)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestHunt: the hunting set sends the user's requests under every
// condition that applies, says why the others were left out, and keeps
// restarts to the restart and reload conditions.
func TestHunt(t *testing.T) {
	h := Hunt{Requests: []Request{{Path: "/big.iso", Headers: map[string]string{"Accept": "*/*"}}}, Network: Unix}
	list, skipped, err := h.Scenarios()
	require.NoError(t, err)
	var names []string
	for _, c := range list {
		names = append(names, c.Name())
		s := c.Scenario()
		assert.Equal(t, "/big.iso", s.Workload.Requests[0].Path)
		assert.Equal(t, results.ExpectComplete, s.Expect.Kind)
		assert.Zero(t, s.Restarts.Every, "%s restarts only in the restart and reload conditions", s.Name)
		assert.Equal(t, "client-unix>svc", c.Layout())
	}
	assert.Equal(t, []string{"hunt-baseline", "hunt-slow-reader-64k", "hunt-slow-reader-16k", "hunt-slow-reader-4k",
		"hunt-small-buffers", "hunt-tiny-writes", "hunt-jitter", "hunt-early-answer"}, names)
	require.Len(t, skipped, 2)
	assert.Equal(t, "restart", skipped[0].Condition)
	assert.Contains(t, skipped[1].String(), "reload (needs a way to reload")
	early := list[7].Scenario().Workload.Requests[0]
	assert.Equal(t, int64(EarlyAnswerUpload), early.Upload, "a GET with a body nobody reads")
	assert.Zero(t, list[0].Scenario().Workload.Requests[0].Upload)

	h.CanRestart, h.CanReload, h.RestartEvery, h.Only = true, true, 300*time.Millisecond, []string{"reload", "restart"}
	list, skipped, err = h.Scenarios()
	require.NoError(t, err)
	assert.Empty(t, skipped)
	require.Len(t, list, 2, "Only keeps the named conditions, in the set's order")
	restart, reload := list[0].Scenario(), list[1].Scenario()
	assert.Equal(t, Restarts{Every: 300 * time.Millisecond, Grace: DefaultGrace}, restart.Restarts)
	assert.True(t, reload.Restarts.Reload)
	assert.Equal(t, "client dialer: slow-read=64KiB/5ms", list[1].Faults())

	h.Only = []string{"slow-reader-1k"}
	_, _, err = h.Scenarios()
	assert.ErrorContains(t, err, `unknown condition "slow-reader-1k" (accepted: baseline, slow-reader-64k`)

	h = Hunt{Requests: []Request{{Method: "HEAD", Path: "/f"}}}
	_, skipped, err = h.Scenarios()
	require.NoError(t, err)
	assert.Equal(t, "early-answer", skipped[0].Condition, "a HEAD carries no upload")
}
