// Package httpfuzz is a grammar-aware HTTP fuzzer and load generator for the
// image service, black-box: it speaks raw HTTP/1.1 over its own connections
// (so it can send what no client library would: a cut body, a dribbled
// header, a request line of another protocol) and knows the service only by
// its API.
//
//	Options ──> Run ──> workers (Concurrency) ──> probe: generate by class
//	                        │                        │ raw bytes, paced writes,
//	                        │                        │ half-close or hang-up
//	                        v                        v
//	                     Report <── outcome + checks (status, JSON error shape,
//	                     per class   Content-Length, Content-Digest, latency)
//
// Classes of input (Class): valid chains on the built-in images, valid
// uploads, bad chains (grammar mutations), bombs (pixel, blur, encoder and
// chain-length bombs), truncated uploads (image files cut at a random point,
// framing intact, every format), cut framing (a body shorter than its
// Content-Length, a chunked body without its last chunk), slowloris (headers
// dribbled, or left unfinished), oversized headers, malformed requests (bad
// request lines, versions, transfer codings, no Host), and abandoned
// requests (the client hangs up while the service works).
//
// Workers behave as polite clients: after a 503 they wait its Retry-After (at
// most 30s, never past the run's end) before their next probe, so shedding is
// measured as clients that listen to it see it, not as a retry storm that
// takes the cores from the service. Every loop is bounded in count and time
// and stops by itself; targets are
// 127.0.0.1 / ::1 addresses or Unix sockets only. Process runs a service as a
// child process and samples its RSS and CPU time from /proc, for the soak and
// the cancellation measurements.
package httpfuzz
