// Package account keeps a server's own account of every response it sends
// and publishes it: what makes a truncation provably silent. Put [Store.Wrap]
// around any http.Handler and mount [Store.Handler]; a client that got
// fewer bytes than promised while the account says the handler wrote them
// all has found a truncation below the handler (the HTTP library, the
// kernel, a proxy) that nobody noticed.
//
//	request (X-Request-Id) ──> Store.Wrap ──> your handler
//	                              │  status, Content-Length promised, bytes
//	                              │  each Write accepted, the first write
//	                              │  error, whether the handler finished
//	                              v
//	                    Store (bounded, newest kept) <── GET /accounts/{id}?wait=2s
//	            conn ID, conn end <── Listener (optional: socket-level writes)
//
// # The account protocol
//
// Any server, in any language, can publish accounts the harness reads
// (truncheck check --account-path, harness.Target.AccountPath):
//
//   - Every request may carry X-Request-Id: 1 to 128 characters of A-Z a-z
//     0-9 . _ : - (anything else: 400). The server echoes it in its
//     response, and makes one up when it is absent.
//   - GET {path}/{id}[?wait=DURATION] answers 200 with the account as a
//     JSON object, 404 for an id it does not know (it may forget the
//     oldest), 400 for a bad wait. With wait (a Go duration, at most 30s)
//     it answers once the handler finished or when the wait is up,
//     whichever comes first.
//
// The object's fields (snake_case; unknown ones are ignored, so a server
// may add its own):
//
//	request_id      string   the id
//	method, path    string   of the request
//	status          int      the status written (200 if the handler wrote a body first)
//	content_length  int      the length the head promised; -1 when it promised none
//	bytes_written   int      body bytes the handler's writes accepted
//	write_error     string   the first write error, "" when none
//	error           string   optional: the error answered, for a non-2xx
//	complete        bool     finished, and every promised byte (every written
//	                         byte, when none was promised) accepted without error
//	finished        bool     the handler returned (false: still running)
//	conn_id         string   the connection's id, when the server names them
//	conn_end        string   "open", "closed", "error: ..." (a socket write failed
//	                         below the handler), "" when not tracked
//	started, ended  string   RFC 3339 times
//
// A HEAD, 204 or 304 response promises no body: complete once the handler
// returned without a write error.
package account
