package scenarios

import (
	"slices"
	"time"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/transport"
)

// Request paths used by the built-ins. Sizes are for the imagesvc
// built-in images: photo-small is 640x480, photo-1mp 1280x800, photo-4mp
// 2448x1632, photo-12mp 4240x2832; TIFF is uncompressed (3 bytes a pixel).
const (
	smallJPEG = "/images/photo-small?format=jpeg" // ~tens of KB
	smallPNG  = "/images/photo-small?format=png"  // ~hundreds of KB
	smallTIFF = "/images/photo-small?format=tiff" // ~900 KB
	// A raw ";" in a query makes Go's httputil.ReverseProxy drop the whole
	// parameter (Go 1.17+ treats it as unparsable), so the chain separator
	// is sent escaped: a gateway scenario caught the raw form as a different image.
	mp1WebP     = "/images/photo-1mp?ops=resize:w=800,h=600%3Brotate:deg=90&format=webp" // chained ops
	mp1TIFF     = "/images/photo-1mp?format=tiff"                                        // ~3 MB
	mp1Stream   = "/images/photo-1mp?format=tiff&stream=1"                               // ~3 MB, chunked, digest in the trailer
	mp4TIFF     = "/images/photo-4mp?format=tiff"                                        // ~12 MB
	mp4Stream   = "/images/photo-4mp?format=tiff&stream=1"                               // ~12 MB chunked
	mp12TIFF    = "/images/photo-12mp?format=tiff"                                       // ~36 MB
	nestedFetch = "/fetch?src=%2Fimages%2Fphoto-1mp%3Fformat%3Dtiff&ops=flip&format=png"
)

// mixed is the baseline's workload: tens of KB to ~12 MB, every framing.
var mixed = []Request{
	{Path: smallJPEG, Weight: 3},
	{Path: smallPNG, Weight: 2},
	{Path: mp1WebP, Weight: 2},
	{Path: mp1TIFF, Weight: 2},
	{Path: mp1Stream, Weight: 1},
	{Path: mp4TIFF, Weight: 1},
}

// The fault specs of the built-ins (transport syntax).
const (
	// slowReader is a reader a little slower than the writer: ~32 MB/s,
	// enough to keep the socket buffers full.
	slowReaderChunk, slowReaderPause = 64 << 10, 2 * time.Millisecond
	// verySlowReader is ~1.6 MB/s: a 3 MB body takes about two seconds.
	verySlowReaderChunk, verySlowReaderPause = 16 << 10, 10 * time.Millisecond
)

// Builtin returns a fresh catalog of the built-in scenarios. The quick
// ones run in seconds each and are what `go test` goes through.
func Builtin() *Catalog {
	c, err := NewCatalog(slices.Concat(builtins(), tlsAndHTTP2(), hyperScenarios())...)
	if err != nil {
		// The built-ins are constants of this package; TestBuiltinValid
		// keeps them valid.
		panic("scenarios: invalid built-in: " + err.Error())
	}
	return c
}

// detect is the expectation of a scenario whose defect must show as
// outcome, silent or not as the rule says, with other outcomes the defect
// may also cause tolerated.
func detect(outcome results.Outcome, silent results.SilentRule, tolerate ...results.Outcome) results.Expectation {
	return results.Expectation{Kind: results.ExpectDetect, Outcomes: []results.Outcome{outcome}, Silent: silent, Tolerate: tolerate}
}

func one(net Network, server, client transport.Faults) []Hop {
	return []Hop{{Network: net, ServerFaults: server, ClientFaults: client}}
}

// faults builds a chain of the catalog's own constants.
func faults(fs ...transport.Fault) transport.Faults { return transport.MustFaults(fs...) }

// The readers of the built-ins, and no faults.
var (
	slowReader     = faults(transport.SlowRead(slowReaderChunk, slowReaderPause))
	verySlowReader = faults(transport.SlowRead(verySlowReaderChunk, verySlowReaderPause))
	none           transport.Faults
)

func builtins() []Scenario {
	complete := results.Expectation{Kind: results.ExpectComplete}
	return []Scenario{
		{
			Name:        "baseline",
			Description: "no faults, TCP, mixed sizes and framings: every response verifies",
			Quick:       true,
			Topology:    Topology{Mode: Direct},
			Workload:    Workload{Requests: mixed},
			Concurrency: 4, Count: 24, Seed: 1,
			Expect: complete,
		},
		{
			Name:        "slow-reader-unix",
			Description: "a slow client over a Unix socket (the path change of the original report): Go's server stays correct",
			Quick:       true,
			Topology:    Topology{Mode: Direct, Hops: one(Unix, none, slowReader)},
			Workload:    Workload{Requests: []Request{{Path: mp1TIFF, Weight: 2}, {Path: mp1Stream}, {Path: smallPNG}}},
			Concurrency: 4, Count: 12, Seed: 2,
			Expect: complete,
		},
		{
			Name:        "tiny-writes",
			Description: "the service's socket takes 1 KiB per write, the client reads 512 bytes at a time: no false positives",
			Quick:       true,
			Topology:    Topology{Mode: Direct, Hops: one(TCP, faults(transport.WriteSlice(1<<10)), faults(transport.ReadSlice(512)))},
			Workload:    Workload{Requests: []Request{{Path: smallTIFF, Weight: 2}, {Path: smallPNG}, {Path: mp1Stream}}},
			Concurrency: 4, Count: 8, Seed: 3,
			Expect: complete,
		},
		{
			Name:        "latency-jitter",
			Description: "latency with jitter on both sides of the hop: every response verifies",
			Quick:       true,
			Topology:    Topology{Mode: Direct, Hops: one(TCP, faults(transport.Latency(2*time.Millisecond, time.Millisecond)), faults(transport.Latency(time.Millisecond, time.Millisecond)))},
			Workload:    Workload{Requests: []Request{{Path: smallTIFF}, {Path: smallJPEG}, {Path: mp1Stream}}},
			Concurrency: 4, Count: 8, Seed: 4,
			Expect: complete,
		},
		{
			Name:        "small-socket-buffers",
			Description: "8 KiB kernel socket buffers on both ends of a Unix socket: lots of partial writes, every response verifies",
			Quick:       true,
			Topology:    Topology{Mode: Direct, Hops: one(Unix, faults(transport.SndBuf(8<<10)), faults(transport.RcvBuf(8<<10)))},
			Workload:    Workload{Requests: []Request{{Path: mp1TIFF}, {Path: smallPNG}, {Path: mp1Stream}}},
			Concurrency: 4, Count: 10, Seed: 5,
			Expect: complete,
		},
		{
			Name:        "gateway-baseline",
			Description: "no faults through an httputil.ReverseProxy gateway (TCP, then a Unix socket to the service): every response verifies, end to end",
			Quick:       true,
			Topology:    Topology{Mode: Gateway, Gateway: Proxy, Hops: []Hop{{Network: TCP}, {Network: Unix}}},
			Workload:    Workload{Requests: mixed},
			Concurrency: 4, Count: 16, Seed: 15,
			Expect: complete,
		},
		{
			Name: "buffered-shutdown",
			Description: "hyper #4022: the server buffers the body in user space and shuts down without draining; " +
				"slow reader over a Unix socket, keep-alives off: silent truncations near the socket buffer sizes",
			Quick:       true,
			Topology:    Topology{Mode: Direct, Hops: one(Unix, faults(transport.BufferedShutdown()), slowReader)},
			Workload:    Workload{Requests: []Request{{Path: mp1TIFF}}},
			Concurrency: 4, Count: 12, Seed: 6,
			Service: Service{DisableKeepAlives: true},
			// When the drain had not begun at shutdown, the whole response is
			// lost: the client sees EOF before any head (transport-error).
			Expect: detect(results.Truncated, results.SilentRequired, results.TransportError),
		},
		{
			Name:        "buffered-shutdown-fixed",
			Description: "the same with the fix (hyper PR #4018: drain before shutdown): every response verifies",
			Quick:       true,
			Topology:    Topology{Mode: Direct, Hops: one(Unix, faults(transport.BufferedShutdownFixed()), slowReader)},
			Workload:    Workload{Requests: []Request{{Path: mp1TIFF}}},
			Concurrency: 4, Count: 12, Seed: 6,
			Service: Service{DisableKeepAlives: true},
			Expect:  complete,
		},
		{
			Name:        "close-after",
			Description: "half the service's connections close cleanly after 300 KiB: truncated, and the server's write failed (not silent)",
			Quick:       true,
			Topology:    Topology{Mode: Direct, Hops: one(TCP, faults(transport.CloseAfter(300<<10).WithProbability(0.5)), none)},
			Client:      Client{ConnectionClose: true}, // a connection per request: p=0.5 picks requests
			Workload:    Workload{Requests: []Request{{Path: mp1TIFF}, {Path: mp1Stream}}},
			Concurrency: 4, Count: 12, Seed: 7,
			Expect: detect(results.Truncated, results.SilentForbidden),
		},
		{
			Name:        "reset-after",
			Description: "half the service's TCP connections are reset (SO_LINGER 0) after 300 KiB: classified reset",
			Quick:       true,
			Topology:    Topology{Mode: Direct, Hops: one(TCP, faults(transport.ResetAfter(300<<10).WithProbability(0.5)), none)},
			Client:      Client{ConnectionClose: true}, // a connection per request: p=0.5 picks requests
			Workload:    Workload{Requests: []Request{{Path: mp1TIFF}, {Path: mp1Stream}}},
			Concurrency: 4, Count: 12, Seed: 8,
			Expect: detect(results.Reset, results.SilentAny),
		},
		{
			Name:        "stall",
			Description: "half the service's connections stop sending after 200 KiB and stay open: classified stalled after 1s",
			Quick:       true,
			Topology:    Topology{Mode: Direct, Hops: one(TCP, faults(transport.StallAfter(200<<10).WithProbability(0.5)), none)},
			Client:      Client{ConnectionClose: true}, // a connection per request: p=0.5 picks requests
			Workload:    Workload{Requests: []Request{{Path: mp1TIFF}}},
			Concurrency: 4, Count: 8, Seed: 9,
			StallTimeout: time.Second,
			Expect:       detect(results.Stalled, results.SilentAny),
		},
		{
			Name: "write-timeout",
			Description: "the service's http.Server.WriteTimeout (300ms) cuts bodies for a very slow reader: " +
				"truncations the server knows about (its write failed), never silent",
			Quick:       true,
			Topology:    Topology{Mode: Direct, Hops: one(Unix, none, verySlowReader)},
			Workload:    Workload{Requests: []Request{{Path: mp1TIFF}}},
			Concurrency: 4, Count: 6, Seed: 10,
			Service: Service{WriteTimeout: 300 * time.Millisecond},
			Expect:  detect(results.Truncated, results.SilentForbidden, results.Reset),
		},
		{
			Name:        "graceful-restart",
			Description: "the service restarts gracefully every 400ms (5s deadline) with large responses in flight: every response verifies",
			Quick:       true,
			Topology:    Topology{Mode: Direct, Hops: one(Unix, none, slowReader)},
			Workload:    Workload{Requests: []Request{{Path: mp1TIFF}, {Path: mp1Stream}}},
			Concurrency: 4, Count: 16, Seed: 11,
			Restarts: Restarts{Every: 400 * time.Millisecond, Grace: 5 * time.Second},
			Expect:   complete,
		},
		{
			Name: "graceful-restart-cut",
			Description: "the same with a 20ms shutdown deadline and a very slow reader: responses in flight are cut; " +
				"the server's writes fail, so the truncations are not silent",
			Quick:       true,
			Topology:    Topology{Mode: Direct, Hops: one(Unix, none, verySlowReader)},
			Workload:    Workload{Requests: []Request{{Path: mp1TIFF}}},
			Concurrency: 4, Count: 6, Seed: 12,
			Restarts: Restarts{Every: 300 * time.Millisecond, Grace: 20 * time.Millisecond},
			Expect:   detect(results.Truncated, results.SilentForbidden, results.Reset),
		},
		{
			Name: "nested-pipeline",
			Description: "client -> outer service -> gateway -> inner service with buffered-shutdown on the inner hop: " +
				"the outer tier's strict read answers 502, the client sees http-error, never a laundered image",
			Quick: true,
			Topology: Topology{Mode: Nested, Gateway: Proxy, Hops: []Hop{
				{Network: TCP},
				{Network: TCP},
				{Network: Unix, ServerFaults: faults(transport.BufferedShutdown()), ClientFaults: slowReader},
			}},
			Workload:    Workload{Requests: []Request{{Path: nestedFetch}}},
			Concurrency: 4, Count: 10, Seed: 13,
			Service: Service{DisableKeepAlives: true},
			Expect:  detect(results.HTTPError, results.SilentAny),
		},
		{
			Name: "close-delimited-gateway",
			Description: "a naive gateway (io.Copy, error ignored, no Content-Length) re-chunks a body cut by buffered-shutdown " +
				"and ends it cleanly: only the reference catches it, truncated and silent",
			Quick: true,
			Topology: Topology{Mode: Gateway, Gateway: Naive, Hops: []Hop{
				{Network: TCP},
				{Network: Unix, ServerFaults: faults(transport.BufferedShutdown()), ClientFaults: slowReader},
			}},
			Workload:    Workload{Requests: []Request{{Path: mp1TIFF}}},
			Concurrency: 4, Count: 10, Seed: 14,
			Service: Service{DisableKeepAlives: true},
			// When the upstream closes before its head, the gateway answers 502.
			Expect: detect(results.Truncated, results.SilentRequired, results.HTTPError),
		},
		// Longer ones: not in the quick catalog.
		{
			Name:        "large-bodies-unix",
			Description: "36 MB TIFFs and 12 MB chunked bodies over a Unix socket, slow reader: every response verifies",
			Topology:    Topology{Mode: Direct, Hops: one(Unix, none, slowReader)},
			Workload:    Workload{Requests: []Request{{Path: mp12TIFF}, {Path: mp4Stream}}},
			Concurrency: 4, Count: 16, Seed: 21,
			Expect: complete,
		},
		{
			Name:        "buffered-shutdown-tcp",
			Description: "hyper #4022 over TCP with 12 MB bodies (the kernel takes ~4 MB there): silent truncations",
			Topology:    Topology{Mode: Direct, Hops: one(TCP, faults(transport.BufferedShutdown()), slowReader)},
			Workload:    Workload{Requests: []Request{{Path: mp4TIFF}}},
			Concurrency: 4, Count: 12, Seed: 22,
			Service: Service{DisableKeepAlives: true},
			Expect:  detect(results.Truncated, results.SilentRequired, results.TransportError),
		},
		{
			Name:        "gateway-soak",
			Description: "a minute of mixed traffic through a ReverseProxy gateway over Unix and TCP with jitter: every response verifies",
			Topology: Topology{Mode: Gateway, Gateway: Proxy, Hops: []Hop{
				{Network: TCP, ClientFaults: faults(transport.Latency(time.Millisecond, time.Millisecond))},
				{Network: Unix, ServerFaults: faults(transport.WriteSlice(16 << 10)), ClientFaults: slowReader},
			}},
			Workload:    Workload{Requests: mixed},
			Concurrency: 8, Duration: time.Minute, Seed: 23,
			Expect: complete,
		},
	}
}

// Scenarios for the hyper 0.14.19 target (targets/hyper), run against it
// as an external target. Its API: GET /bytes/{n}, POST /bytes/{n}?early=1
// (answered without reading the upload), GET /accounts/{id}?wait=DUR. Each
// comes as the stock build's expectation (detect, silent) and the fixed
// build's (complete), the build named in its target recipe; the hop's
// network is the target's socket kind, and the TCP variants use 16 MiB
// bodies because the kernel takes ~4 MB on loopback TCP.
func hyperScenarios() []Scenario {
	var out []Scenario
	for _, v := range []struct {
		suffix string
		net    Network
		size   string
	}{{"", Unix, "3300000"}, {"-tcp", TCP, "16MiB"}} {
		early := Scenario{
			Name: "hyper-early-answer" + v.suffix,
			Description: "target: uploads with Expect: 100-continue answered without reading the body (" + v.size +
				" bytes), slow reader: hyper 0.14.19 shuts down with the response still buffered",
			TargetOnly:  true,
			Target:      &TargetRecipe{Server: "hyper-stock"},
			Topology:    Topology{Mode: Direct, Hops: one(v.net, none, slowReader)},
			Workload:    Workload{Requests: []Request{{Method: "POST", Path: "/bytes/" + v.size + "?early=1", Upload: 1 << 20, Expect100: true}}},
			Concurrency: 4, Count: 25, Seed: 31,
			Expect: detect(results.Truncated, results.SilentRequired, results.TransportError),
		}
		restart := Scenario{
			Name: "hyper-graceful-restart" + v.suffix,
			Description: "target: SIGTERM (graceful shutdown of every connection) and restart every second while " + v.size +
				"-byte responses with Connection: close are in flight to a slow reader",
			TargetOnly:  true,
			Target:      &TargetRecipe{Server: "hyper-stock"},
			Topology:    Topology{Mode: Direct, Hops: one(v.net, none, faults(transport.SlowRead(16<<10, 5*time.Millisecond)))},
			Workload:    Workload{Requests: []Request{{Path: "/bytes/" + v.size}}},
			Concurrency: 4, Count: 16, Seed: 32,
			Client:   Client{ConnectionClose: true},
			Restarts: Restarts{Every: time.Second, Grace: 10 * time.Second},
			Expect:   detect(results.Truncated, results.SilentRequired, results.TransportError),
		}
		earlyFixed, restartFixed := early.Clone(), restart.Clone()
		earlyFixed.Name, restartFixed.Name = early.Name+"-fixed", restart.Name+"-fixed"
		earlyFixed.Description = "target, fixed build: " + early.Description[len("target: "):] + "; every response verifies"
		restartFixed.Description = "target, fixed build: " + restart.Description[len("target: "):] + "; every response verifies"
		earlyFixed.Expect, restartFixed.Expect = results.Expectation{Kind: results.ExpectComplete}, results.Expectation{Kind: results.ExpectComplete}
		earlyFixed.Target, restartFixed.Target = &TargetRecipe{Server: "hyper-fixed"}, &TargetRecipe{Server: "hyper-fixed"}
		out = append(out, early, earlyFixed, restart, restartFixed)
	}
	return out
}
