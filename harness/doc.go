// Package harness runs truncheck's scenarios: it builds a scenario's
// topology in-process (or connects to an external [Target]), fires its
// requests with bounded concurrency, verifies every response body while
// it streams, classifies each request, and judges the scenario's
// expectation.
//
// Data path of one request (in-process, gateway topology):
//
//	RunScenario ── errgroup (SetLimit = concurrency), by count or duration
//	   │   X-Request-Id, Want-Content-Digest: crc32c=9, sha-256=1
//	   ▼
//	http.Client ── DialContext = transport.Dialer(hop 0 client faults, recorder)
//	   │                                           httptrace.GotConn ─► client timeline
//	   ▼
//	gateway (httputil.ReverseProxy | naive io.Copy)   listener: transport.WrapListener(hop 0 server faults)
//	   │  DialContext = transport.Dialer(hop 1 client faults)
//	   ▼
//	imagesvc.Server ── WrapListener = transport.WrapListener(hop 1 server faults, recorder)
//	   │                 Service.Account(id) ─► bytes written, complete?, conn id ─► server timeline
//	   ▼
//	Verifier: 64 KiB reused buffer ─► CRC-32C (+SHA-256/512 when that is the digest)
//	   ├─ framing: Content-Length / chunked end / close; io.ErrUnexpectedEOF, ECONNRESET (errors.Is)
//	   ├─ Content-Digest (header or trailer)
//	   └─ Reference (length, CRC-32C, per-64KiB-block CRCs) fetched first over a clean path
//	   ▼
//	results.Record ─► Options.Writer (JSONL as it goes) ─► results.Summary ─► Report (Met, Reason)
//
// Outcomes follow DESIGN.md: complete, truncated, reset, corrupt,
// overlong, stalled, http-error, transport-error. A failure whose client
// saw a clean end (truncated, corrupt, overlong) while the server's own
// account says it wrote everything is SILENT.
//
// Expectations: "complete" means every request verified. "detect" means
// at least one request had one of the expected outcomes (silent or not,
// as the scenario requires) and every other request was complete or had
// an outcome the scenario tolerates; anything else is unexplained and
// fails the run, so a detect scenario cannot pass by accident.
//
// External servers ([Target], for `truncheck check`): the harness dials
// the target's URL (http://127.0.0.1:PORT or unix:/path) with the
// scenario's hop-0 client faults; hop-0 server faults go into a
// transport.Proxy put in front of it. With Exec it starts the process,
// polls ReadyPath until it answers (bounded), restarts it every
// RestartEvery (SIGTERM, wait for exit up to StopTimeout, start again;
// with Overlap the new process starts first and the old one gets SIGTERM
// once the new one holds the address and answers) while requests are in
// flight, and stops it at the end. The in-process origin restarts the same
// way: its listening socket passes from one server generation to the next. References are
// fetched directly (no faults); when even those fail to verify, the run
// checks against Content-Length and Content-Digest only and says so in
// Report.Notes. With AccountPath ("/accounts/{id}") the target's own
// account decides silence; without it nothing is called silent.
//
// Uploads sent with Expect: 100-continue go through [ExpectContinue], a
// minimal client that stops sending after an early final answer (Go's own
// client would cut the response itself).
//
// [Run] is the go test entry point; [RunScenario] the library one (used
// by cmd/truncheck).
package harness
