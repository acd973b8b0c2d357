// Package scenarios is truncheck's catalog: each [Scenario] is plain data
// saying which tiers stand between the client and the origin, the socket
// kind and the faults of every hop, the requests, how many and how hard,
// and what a run must show ([Expectation]: complete, or detect a named
// outcome, silent or not).
//
// A scenario is compiled once and flows one way:
//
//	Go value ──Compile──┐
//	file ──Load/Parse───┴─> Compiled (validated, defaults filled in, faults
//	   (sizes and faults      typed transport.Faults, outcomes results')
//	    in transport's grammar)   │
//	                              ├─> Catalog ─> harness.RunScenario ─> records
//	                              └─> JSON (MarshalJSON) in the results' plan
//	                                    ─> report shows it, run --replay DIR runs it
//
// Nothing downstream parses or validates it again.
//
// Its topology (the harness builds it; faults sit on each side of each hop):
//
//	           hop 0                     hop 1                  hop 2
//	client ==============> [gateway] ==============> [outer] ...> service
//	 client_faults   server_faults  client_faults  server_faults
//	 (dialer)        (listener)     (dialer)       (listener)
//
//	direct:  client -> service
//	gateway: client -> gateway (proxy | naive) -> service
//	nested:  client -> outer service (/fetch) -> gateway -> inner service
//
// Each hop also says how it carries HTTP: TLS or not (a CA made per run; the
// faults stay beneath TLS, on the raw connection), HTTP/1.1 or h2 (ALPN over
// TLS, h2c with prior knowledge in the clear), and stream_faults for the
// HTTP/2 streams the tier it reaches serves (package transport/h2fault).
// Layouts print it per hop: client-tcp-tls-h2>gw-unix>svc.
//
// Built-ins are Go values returned fresh by [Builtin] (no package-level
// registry); users add scenarios from YAML or JSON files with [Load] or
// [Parse] and [Catalog.Add]. Files are validated strictly: an unknown
// field, a wrong type, a bad size or duration, an unknown fault or outcome
// is a [FieldError] naming the file, the field path (e.g.
// topology.hops[1].server_faults) and what is accepted. A file holds one
// scenario or a list under `scenarios:`; see testdata/good.yaml.
package scenarios
