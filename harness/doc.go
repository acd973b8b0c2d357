// Package harness runs truncheck's scenarios: it builds a scenario's
// topology in-process around an origin (or connects to an external
// [Target]), prepares an independent reference for every kind of request,
// fires the requests with bounded concurrency, verifies every response
// body while it streams, says what each verdict rests on, attributes each
// failure to one of our faults or to the system under test, and hands the
// records to results, whose one judge decides the expectation.
//
// Data path of one request (in-process, gateway topology):
//
//	RunScenario ── prepareReferences: what each request kind must be (reference.go)
//	   │             stated expectation | our origin's clean twin | k agreeing clean fetches
//	   │           errgroup (SetLimit = concurrency), by count or duration (workload.go),
//	   │           only the sequence numbers Options.Shard owns (one shard of a split run)
//	   │   X-Request-Id, Want-Content-Digest: crc32c=9, sha-256=1
//	   ▼
//	http.Client ── dial = transport.DialerFunc(hop 0 client faults, recorder)
//	   │  [TLS: tls.Client over the wrapped conn]   httptrace.GotConn ─► client timeline
//	   │  HTTP/1.1: net/http.Transport; h2, h2c: x/net/http2.Transport over
//	   │  transport.RecordHTTP2 (frames onto the timeline)                (wire.go)
//	   ▼
//	gateway (httputil.ReverseProxy | naive io.Copy)   listener: transport.WrapListener(hop 0 server faults)
//	   │  [TLS: tls.NewListener above the faults; Protocols per hop; h2fault stream faults]
//	   │  DialContext = transport.DialerFunc(hop 1 client faults), hop 1's own wire
//	   ▼
//	origin.Origin.Handler on a transport.Handover (restarts keep the socket)
//	   │  WrapListener(hop 1 server faults, recorder) [+ TLS, HTTP/2, stream faults];
//	   │  Accounts.Wait(id) ─► the server's account
//	   ▼
//	Verifier (verify.go): 64 KiB reused buffer ─► CRC-32C per block (+SHA-256/512 when a digest needs it)
//	   ├─ framing: Content-Length / last chunk / END_STREAM / close (over TLS: close_notify, or
//	   │  a FIN without it: truncated); io.ErrUnexpectedEOF, ECONNRESET (errors.Is);
//	   │  RST_STREAM, GOAWAY retried or lost, END_STREAM early (errors.As on x/net's
//	   │  http2 errors and the frame recorder's view; h2verdict.go)
//	   ├─ Content-Digest (header or trailer; harness/digest)
//	   └─ the reference: stated, ours, or agreeing fetches (a strict prefix of them is a cut)
//	   ▼  outcome + checked_by (the evidence, strongest first)
//	attribute: which of our faults cut it (transport's own reports) ─► cause; the account ─► silence
//	   │         (the account: origin.Accounts | Target.AccountPath | Target.Accounts, e.g. an access log)
//	   ▼
//	results.Record ─► Options.Writer (JSONL as it goes) ─► results.Summary ─► results' judge
//
// The system under test is a contract of its own (sut.go), with one file
// per responsibility: the in-process topology (inprocess.go; its gateway
// in gateway.go, the listener handover in package transport), an external
// [Target] (target.go; TLS and protocol choice in target_tls.go, process
// supervision in process.go, its accounts in accounts.go), dialing
// (dial.go), how a hop carries HTTP (wire.go: TLS over the faulty conn,
// HTTP/1.1 or HTTP/2; the run's CA in tlsca.go), references
// (reference.go), the request generator (workload.go) and the verifier
// (verify.go; its HTTP/2 vocabulary in h2verdict.go). Each system gives
// a faulty client path, a clean path for references, the server's account
// of a request, who cut a failure, restarts and teardown.
//
// A scenario reaches [RunScenario] compiled (scenarios.Compiled): defaults
// filled in, faults typed. Nothing here parses or validates it again.
//
// Outcomes and evidence are results' vocabulary: complete, unverified,
// truncated, reset, corrupt, overlong, stalled, http-error,
// transport-error; expectation, content-digest:<alg>, reference,
// agreeing-fetches:<k>, content-length, chunked-framing, end-stream,
// tls-close-notify, no-body, none. A
// failure the client saw end cleanly (truncated, corrupt, overlong) is
// silent only when the server's own account says it wrote everything and
// no fault of ours outside the server cut it; without an account its
// silence is unknown, never zero.
//
// External servers ([Target], for `truncheck check`): the harness dials
// the target's URL (http://127.0.0.1:PORT, https://127.0.0.1:PORT or
// unix:/path; TLS as [TargetTLS] says, HTTP/2 by ALPN or h2c when asked)
// with the scenario's hop-0 client faults; hop-0 server faults go into a
// transport.Proxy put in front of it (said in the report's notes: it adds
// socket buffers; its cuts are attributed to it). With Exec it starts the
// process, polls ReadyPath until it answers (bounded), restarts it every
// RestartEvery (SIGTERM, wait for exit up to StopTimeout, start again;
// with Overlap the new process starts first and the old one gets SIGTERM
// once the new one holds the address and answers) while requests are in
// flight, and stops it at the end. The in-process origin restarts the same
// way: its listening socket passes from one server generation to the
// next. With AccountPath the target's account (the account protocol,
// package harness/account) decides silence. A server someone else
// supervises (a packaged server with its own reload command) is
// restarted by Target.Restart and reloaded by Reload.Func instead.
//
// # Silence from a server's logs
//
// A real server publishes no account, but its access log says what it
// believed it sent: status, bytes, and often its own word on the end
// (nginx's $request_completion, HAProxy's termination state). That
// evidence reaches the verdict through [Target].Accounts, an
// [AccountSource] read right after each failed response with a bounded
// wait for the log line, and nowhere else: the record is whole when it
// is written (appended as the run goes, so a killed run keeps it), and
// the one rule in attribute decides silent, noticed or unknown from
// whichever account arrived. A pass after the run that re-judged records
// with log evidence attached was the alternative; it would have made a
// second flow (records rewritten after the fact, lost with a kill before
// it) and a second place where silence is decided.
//
// Uploads sent with Expect: 100-continue go through [ExpectContinue], a
// minimal client that waits a second for 100, then sends the body, and
// stops sending after an early final answer (Go's own client would cut the
// response itself).
//
// The package builds without cgo: origins plug in through package
// harness/origin ([Options].Origin), the image service among them. Its one
// piece of assembly, crc32c_amd64.s, is the CRC-32C every body byte goes
// through: hash/crc32 folds with AVX-512 carry-less multiplication for
// IEEE only, and its Castagnoli loop, a quarter as fast, was over a third
// of the verifier's CPU time on 16 MB bodies. The kernel is checked against hash/crc32 (crc32c_test.go), and
// other CPUs and the purego build tag use hash/crc32 itself.
// [Run] is the go test entry point; [RunScenario] the library one (used
// by cmd/truncheck).
package harness
