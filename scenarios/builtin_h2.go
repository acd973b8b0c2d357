package scenarios

import (
	"time"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/transport"
	"github.com/truncheck/truncheck/transport/h2fault"
)

// Request paths of the TLS and HTTP/2 built-ins, on the bodies origin
// (harness/origin.Bodies: deterministic bytes, a digest, an account).
const (
	bytes3MB        = "/bytes/3MB"
	bytes1MB        = "/bytes/1MB"
	bytes100kB      = "/bytes/100kB"
	bytes10kB       = "/bytes/10kB"
	bytes8MBNoProof = "/bytes/8MB?digest=0"               // its head goes out at once: no digest to compute first
	bytes3MBNoProof = "/bytes/3MB?digest=0"               // its head goes out at once
	bytes1MBStream  = "/bytes/1MB?stream=1"               // chunked on HTTP/1.1, the digest in a trailer
	bytes1MBClose   = "/bytes/1MB?framing=close&digest=0" // close-delimited on HTTP/1.1, no digest
	bytes2MBClose   = "/bytes/2MB?framing=close&digest=0"
	bytes2MB        = "/bytes/2MB"
	bytes1MBNoProof = "/bytes/1MB?digest=0" // framing only, as far as the hop goes
	originBodies    = "bodies"
)

// mixedBodies is the TLS baseline's workload: every HTTP/1.1 framing,
// close-delimited included (over TLS its end is the peer's close_notify).
var mixedBodies = []Request{
	{Path: bytes3MB},
	{Path: bytes1MBStream},
	{Path: bytes100kB, Weight: 2},
	{Path: bytes1MBClose},
}

// mixedH2 is the HTTP/2 baselines' workload (HTTP/2 has no close-delimited
// bodies: every stream ends with END_STREAM).
var mixedH2 = []Request{
	{Path: bytes3MB},
	{Path: bytes1MBStream},
	{Path: bytes100kB, Weight: 2},
	{Path: bytes1MBNoProof},
}

// tlsHop and h2Hop are a hop over TLS speaking HTTP/1.1 or HTTP/2 (ALPN
// h2); h2cHop speaks HTTP/2 in the clear with prior knowledge.
func tlsHop(net Network, server, client transport.Faults) Hop {
	return Hop{Network: net, TLS: true, Protocol: HTTP1, ServerFaults: server, ClientFaults: client}
}

func h2Hop(net Network, server, client transport.Faults, streams h2fault.Faults) Hop {
	return Hop{Network: net, TLS: true, Protocol: HTTP2, ServerFaults: server, ClientFaults: client, StreamFaults: streams}
}

// tlsAndHTTP2 are the scenarios that check servers the way they are
// deployed: behind TLS (with a CA made per run), speaking HTTP/2, the
// byte faults beneath TLS and the stream faults inside Go's own HTTP/2
// server. They run on the bodies origin.
func tlsAndHTTP2() []Scenario {
	complete := results.Expectation{Kind: results.ExpectComplete}
	var noStreams h2fault.Faults
	return []Scenario{
		{
			Name:        "tls-baseline",
			Description: "HTTP/1.1 over TLS, no faults, every framing (a close-delimited body ends with the server's close_notify): every response verifies",
			Quick:       true, Origin: originBodies,
			Topology:    Topology{Mode: Direct, Hops: []Hop{tlsHop(TCP, none, none)}},
			Workload:    Workload{Requests: mixedBodies},
			Concurrency: 4, Count: 12, Seed: 41,
			Expect: complete,
		},
		{
			Name:        "h2-baseline",
			Description: "HTTP/2 over TLS (ALPN h2), Go's own server and x/net's client, four streams on one connection: every response verifies",
			Quick:       true, Origin: originBodies,
			Topology:    Topology{Mode: Direct, Hops: []Hop{h2Hop(TCP, none, none, noStreams)}},
			Workload:    Workload{Requests: mixedH2},
			Concurrency: 4, Count: 12, Seed: 42,
			Expect: complete,
		},
		{
			Name:        "h2c-baseline",
			Description: "HTTP/2 in the clear with prior knowledge over a Unix socket, a slow reader: every response verifies",
			Quick:       true, Origin: originBodies,
			Topology:    Topology{Mode: Direct, Hops: []Hop{{Network: Unix, Protocol: HTTP2, ClientFaults: slowReader}}},
			Workload:    Workload{Requests: mixedH2},
			Concurrency: 4, Count: 8, Seed: 43,
			Expect: complete,
		},
		{
			Name: "h2-gateway",
			Description: "a ReverseProxy gateway speaking HTTP/2 over TLS to the client and HTTP/1.1 to the service over a Unix socket, " +
				"as deployed proxies do: every response verifies, end to end",
			Quick: true, Origin: originBodies,
			Topology: Topology{Mode: Gateway, Gateway: Proxy, Hops: []Hop{
				h2Hop(TCP, none, none, noStreams),
				{Network: Unix, Protocol: HTTP1},
			}},
			Workload:    Workload{Requests: mixedH2},
			Concurrency: 4, Count: 12, Seed: 44,
			Expect: complete,
		},
		{
			Name: "tls-close-delimited-cut",
			Description: "close-delimited bodies over TLS, half the server's connections closed beneath TLS after 1 MiB: " +
				"a FIN with no close_notify, truncated (the server's write failed: not silent); with close_notify the same body verifies",
			Quick: true, Origin: originBodies,
			Topology:    Topology{Mode: Direct, Hops: []Hop{tlsHop(TCP, faults(transport.CloseAfter(1<<20).WithProbability(0.5)), none)}},
			Workload:    Workload{Requests: []Request{{Path: bytes2MBClose}}},
			Concurrency: 4, Count: 8, Seed: 45,
			Expect: detect(results.Truncated, results.SilentForbidden),
		},
		{
			Name: "tls-buffered-shutdown",
			Description: "hyper #4022 beneath TLS: the server's socket buffers in user space; Go's server ends each response with " +
				"close_notify (crypto/tls then sets the write deadline to now) and closes, dropping what is still buffered: " +
				"silent truncations, no close_notify reaches the client",
			Quick: true, Origin: originBodies,
			Topology:    Topology{Mode: Direct, Hops: []Hop{tlsHop(Unix, faults(transport.BufferedShutdown()), slowReader)}},
			Workload:    Workload{Requests: []Request{{Path: bytes2MB}}},
			Concurrency: 4, Count: 8, Seed: 46,
			Service: Service{DisableKeepAlives: true},
			Expect:  detect(results.Truncated, results.SilentRequired, results.TransportError),
		},
		{
			Name: "h2-stream-reset",
			Description: "HTTP/2 over TLS, the server resets half the streams after 300 KiB (RST_STREAM INTERNAL_ERROR from Go's server, " +
				"the connection goes on): classified reset with the stream's error code",
			Quick: true, Origin: originBodies,
			Topology:    Topology{Mode: Direct, Hops: []Hop{h2Hop(TCP, none, none, h2fault.Must(h2fault.ResetAfter(300<<10).WithProbability(0.5)))}},
			Workload:    Workload{Requests: []Request{{Path: bytes1MB}}},
			Concurrency: 4, Count: 8, Seed: 47,
			Expect: detect(results.Reset, results.SilentAny),
		},
		{
			Name: "h2-goaway-graceful",
			Description: "HTTP/2 over TLS, every connection's second stream asks Go's server to close it (GOAWAY, streams taken finished): " +
				"streams that raced the GOAWAY are sent again by the client on a new connection and verify: retries, not losses",
			Quick: true, Origin: originBodies,
			Topology:    Topology{Mode: Direct, Hops: []Hop{h2Hop(TCP, none, slowReader, h2fault.Must(h2fault.GoAwayAfter(2)))}},
			Workload:    Workload{Requests: []Request{{Path: bytes1MB}, {Path: bytes10kB}}},
			Concurrency: 4, Count: 24, Seed: 48,
			Expect: complete,
		},
		{
			Name: "h2-goaway-drain",
			Description: "the same GOAWAY, but the connection is closed 100ms later whatever is in flight (a server or proxy that does not drain): " +
				"streams the GOAWAY had taken are lost (truncated or reset), at times silently (their handlers had finished, the data was still queued)",
			Quick: true, Origin: originBodies,
			Topology:    Topology{Mode: Direct, Hops: []Hop{h2Hop(TCP, none, slowReader, h2fault.Must(h2fault.GoAwayAfter(3).WithDrain(100*time.Millisecond)))}},
			Workload:    Workload{Requests: []Request{{Path: bytes3MBNoProof}, {Path: bytes10kB}}},
			Concurrency: 4, Count: 12, Seed: 49,
			// The connection ends with a FIN (truncated) or, when the client's
			// last frames are still unread in the server's socket, an RST
			// (reset): both are the lost streams.
			Expect: results.Expectation{Kind: results.ExpectDetect, Outcomes: []results.Outcome{results.Truncated, results.Reset},
				Silent: results.SilentAny, Tolerate: []results.Outcome{results.TransportError}},
		},
		{
			Name: "h2-window-stall",
			Description: "HTTP/2 over TLS, the server stops reading after 2 KiB, so the client's WINDOW_UPDATEs never reach it: " +
				"each 8 MB stream stops when its 4 MiB window is spent, classified stalled after 1s",
			Quick: true, Origin: originBodies,
			Topology:    Topology{Mode: Direct, Hops: []Hop{h2Hop(TCP, faults(transport.StallAfter(2<<10).InDirection(transport.Read)), none, noStreams)}},
			Workload:    Workload{Requests: []Request{{Path: bytes8MBNoProof}}},
			Concurrency: 2, Count: 2, Seed: 50,
			StallTimeout: time.Second,
			Expect:       detect(results.Stalled, results.SilentAny),
		},
		{
			Name: "tls-graceful-restart",
			Description: "HTTP/1.1 over TLS: the service restarts gracefully (2s deadline) with 1 MB responses in flight to very slow readers; " +
				"each response has its own connection and reader, and finishes within the deadline: every response verifies",
			Quick: true, Origin: originBodies,
			Topology:    Topology{Mode: Direct, Hops: []Hop{tlsHop(Unix, none, verySlowReader)}},
			Workload:    Workload{Requests: []Request{{Path: bytes1MB}}},
			Concurrency: 6, Count: 6, Seed: 51,
			Restarts: Restarts{Every: 300 * time.Millisecond, Grace: 2 * time.Second},
			Expect:   complete,
		},
		{
			Name: "h2-graceful-shutdown",
			Description: "measured: the same restart over HTTP/2. Go's server sends GOAWAY at once and keeps serving the six streams it took, " +
				"but they share one connection and its one slow reader (6 MB at about 1.6 MB/s), so the 2s deadline ends them mid-body: " +
				"truncated or reset (a FIN or an RST), GOAWAY lost; the handlers' writes fail when the server closes: noticed in every run measured",
			Quick: true, Origin: originBodies,
			Topology:    Topology{Mode: Direct, Hops: []Hop{h2Hop(Unix, none, verySlowReader, noStreams)}},
			Workload:    Workload{Requests: []Request{{Path: bytes1MB}}},
			Concurrency: 6, Count: 6, Seed: 52,
			Restarts: Restarts{Every: 300 * time.Millisecond, Grace: 2 * time.Second},
			// The close ends the connection with a FIN, or with an RST when the
			// client's last WINDOW_UPDATEs are still unread in the server's
			// socket: truncated or reset, both measured. Silence is left open:
			// after an RST, data a handler already handed over can be lost
			// with its account complete (not seen in the runs measured).
			Expect: results.Expectation{Kind: results.ExpectDetect, Outcomes: []results.Outcome{results.Truncated, results.Reset}, Silent: results.SilentAny},
		},
	}
}
