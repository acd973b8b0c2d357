// Package adversary is a set of loopback HTTP servers that each cut or
// mislabel responses in a known way, written to check that a verifier
// says what happened and nothing more: the harness's own tests run
// against them, and a new user can try `truncheck check` on them.
//
//	client ──> Gateway (cuts 1 in N upstream bodies, re-frames them chunked,
//	   │         ends cleanly, no digest: a laundered cut)
//	   v
//	Origin ── /file               the body, Content-Length, ETag (HEAD, Range → 206, If-None-Match → 304)
//	          /close-delimited    the body, no length, then a FIN (nothing can check it)
//	          /digest/{alg}       the body with a Content-Digest of sha-384 or md5 (not computable), or malformed
//	          /trailer/sha-512    a corrupt body, the original's sha-512 in a trailer
//	          /no-content         a raw 204 claiming Content-Length: 100
//	          /not-modified       a raw 304 claiming the body's length
//
// The body is deterministic from its size ([Body]), so a test knows every
// byte a response should have.
package adversary
