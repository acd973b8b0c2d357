// Package h2fault injects the faults that exist only in HTTP/2, where one
// connection carries many streams: a stream reset in the middle of a
// response, and a GOAWAY with streams still in flight. The byte-level
// faults of package transport act beneath HTTP/2 (and beneath TLS); these
// act on streams, through Go's own HTTP/2 server, so what reaches the
// client is exactly what that server sends when it resets a stream or
// shuts a connection down:
//
//	client ══ TLS ══> http.Server (HTTP/2) ──> Injector.Wrap(handler) ──> handler
//	                        ▲                      │ reset-after: the handler's writes pass
//	                        │                      │   until SIZE bytes, then it is aborted
//	                        │                      │   (http.ErrAbortHandler): RST_STREAM
//	                        │                      │   INTERNAL_ERROR, other streams go on
//	  ConnContext: Injector.ConnContext            │ goaway-after: the Nth stream of a conn
//	  (per-connection state)                       │   answers with Connection: close; the
//	                                               │   server sends GOAWAY (last stream id),
//	                                               ▼   finishes what it took, then closes;
//	                                   with /DRAIN the conn is closed DRAIN later whatever is
//	                                   still in flight (a server or proxy that does not drain)
//
// A stream fault is the server's own doing, so the handler's account
// (package harness/account, wrapped inside) shows it: an aborted handler,
// writes that failed when the connection went. [Injector.Fired] names the
// fault that acted on a request, by its X-Request-Id, for attribution.
//
// # Fault specs
//
// The grammar is transport's (a comma-separated list, each fault at most
// once, @p=PROBABILITY and @every=N select; sizes and durations the same):
//
//	reset-after=SIZE          abort the handler after SIZE bytes of its response body;
//	                          @p and @every pick streams, numbered from 1 in arrival order
//	goaway-after=N[/DRAIN]    the Nth stream of each connection answers Connection: close
//	                          (Go's HTTP/2 server: GOAWAY, then a graceful close); with
//	                          /DRAIN the connection is closed DRAIN after that stream
//	                          began, streams in flight or not; @p and @every pick
//	                          connections, numbered from 1 in the order they arrive
//
// Example: "reset-after=300KiB@p=0.5,goaway-after=8/20ms".
//
// On HTTP/1.x the same actions close the connection (an aborted handler) or
// close it after the response (Connection: close); scenarios use them on
// HTTP/2 hops only.
package h2fault
