// Package origin is the seam between the harness and the service at the
// end of an in-process topology, the way net/http/httptest takes a
// handler: an [Origin] is an http.Handler plus, optionally, its own
// account of each request (what makes silence provable), and how to build
// the outer tier of a nested pipeline from it.
//
//	harness stack:  client ─faults─> [gateway] ─faults─> Origin.Handler
//	                                                        │ Accounts.Wait(id)
//	                clean twin:  reference client ─────────> Origin.Handler (no faults)
//	                nested:      client ─> Origin.Outer(upstream client) ─> gateway ─> Origin
//
// The seam is a package of its own, pure Go, so that the harness, the
// results, the transport and the command line build with CGO_ENABLED=0:
// the image service (bimg on libvips) is one origin among others and
// implements this seam in its own package; nothing here imports it.
// [Bodies] is the fast pure-Go origin most tests use; [Handler] puts
// anyone's handler behind the account middleware.
package origin
