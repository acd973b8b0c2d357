// Package digest reads and writes the integrity fields of RFC 9530:
// Content-Digest (and Repr-Digest), whose value is a structured-field
// dictionary of algorithm = byte sequence, and Want-Content-Digest, a
// dictionary of algorithm = preference weight (0..10). Both are RFC 9651
// structured fields; parsing is strict (github.com/dunglas/httpsfv), so a
// malformed field is an error that names what was wrong instead of a value
// that silently checks nothing.
//
// Three algorithms are computed here: sha-256 and sha-512 (the registry's
// standard ones) and crc32c (4-byte big-endian Castagnoli CRC, deprecated in
// the registry because it is no defence against an adversary, ample against
// accidental truncation, and an order of magnitude faster). Any other name
// parses but is not [Supported]: a verifier records it as unchecked evidence.
//
// One parser serves headers and trailers alike; the harness's verifier, the
// image service and the account middleware all use this package.
//
//	client ── Want-Content-Digest: crc32c=9, sha-256=1 (FormatWant) ──> server
//	server:  ParseWant, Choose an algorithm, NewHash over the body it sends,
//	         Format ─> Content-Digest (header, or a trailer after the last chunk)
//	client:  ParseValues (strict; the error names the member) ─> []Digest
//	         NewHash hashes the body as it streams; compared with the field
//	         └─ an algorithm not Supported is unchecked evidence, never a pass
package digest
