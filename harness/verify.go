package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/truncheck/truncheck/harness/digest"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/transport"
)

// BlockSize is the granularity of a [Reference]'s block checksums: a
// corrupt body's first bad byte is located to within one block, and a
// shorter body is recognised as a prefix block by block.
const BlockSize = 64 << 10

// bufSize is the verifier's read buffer, reused for every request.
const bufSize = 64 << 10

// overlongSlack is how far past the expected length the verifier keeps
// reading before it stops and reports overlong (bounded work on a runaway
// body).
const overlongSlack = 1 << 20

var castagnoli = digest.Castagnoli

// Reference is the fingerprint of a body: its length, the CRC-32C of the
// whole body and of every [BlockSize] block. The verifier compares a
// response with it while the response streams, in constant memory.
type Reference struct {
	Length int64 // -1 unknown
	CRC32C uint32
	Blocks []uint32 // CRC-32C per BlockSize bytes; the last block may be short
}

// FingerprintBytes returns the reference of a body held in memory. It
// computes the whole-body CRC directly, not folded from the blocks as the
// verifier does, so tests use it as an independent oracle; it is not on
// the request path.
func FingerprintBytes(b []byte) Reference {
	ref := Reference{Length: int64(len(b)), CRC32C: crc32.Checksum(b, castagnoli)}
	for off := 0; off < len(b); off += BlockSize {
		end := min(off+BlockSize, len(b))
		ref.Blocks = append(ref.Blocks, crc32.Checksum(b[off:end], castagnoli))
	}
	return ref
}

// Expected is what a response must be, from a source independent of the
// response under test (see [results.Evidence]):
//
//   - [results.EvidenceExpectation]: what the user stated (a length, a
//     digest, the bytes of a reference file or known-good URL);
//   - [results.EvidenceReference]: our own origin's answer over a clean path;
//   - agreeing-fetches:k: k clean fetches from the target agreed. That is
//     consistency, not proof: it makes a strict prefix truncated and never
//     makes a response complete on its own.
type Expected struct {
	Source  results.Evidence
	Ref     *Reference      // the bytes' fingerprint; nil when only a length or digests are known
	Length  int64           // -1 unknown; Ref.Length when Ref is set
	Digests []digest.Digest // digests the user stated
	// Unverifiable, when set, says why nothing short of end-to-end evidence
	// can verify this request kind (e.g. reference fetches that disagree):
	// a response without it is unverified with this reason.
	Unverifiable string
}

// endToEnd reports whether the expectation proves bytes (not consistency).
func (e *Expected) endToEnd() bool { return e != nil && e.Source.Class() == results.EndToEnd }

// Check says what one response is verified against, and what the verifier
// should keep of it.
type Check struct {
	Want *Expected // nil: only the response's own framing and digest
	// RequireEndToEnd makes a response whose only evidence is its hop's
	// framing (or agreeing fetches) unverified instead of complete.
	RequireEndToEnd bool
	// Fingerprint asks for the [Reference] of the bytes received (every
	// outcome), for reference fetches.
	Fingerprint bool
	// Copy, when set, receives every body byte as it is read (reference
	// fetches keep their bodies to compare them byte for byte).
	Copy io.Writer
}

// Verdict is the verifier's account of one request.
type Verdict struct {
	Outcome  results.Outcome
	Status   int
	Expected int64 // expected length (stated, reference, Content-Length or Content-Range), -1 unknown
	Received int64 // body bytes read
	// Offset is where the body ended (truncated, reset, stalled), the start
	// of the first block that differs from the reference (corrupt), or where
	// the excess began (overlong).
	Offset     int64
	Framing    string             // content-length, chunked, end-stream (HTTP/2), close, none
	CheckedBy  []results.Evidence // strongest first
	DigestWant string             // the server's Content-Digest member that was checked, as sent
	DigestGot  string             // the same algorithm over the bytes received
	// DigestError says why a digest the response carried was not checked
	// (unknown algorithm, malformed field, not computed).
	DigestError string
	RequestID   string // X-Request-Id of the response (or the request's)
	Err         error  // what ended the request or why it is not complete; nil when complete
	TTFB        time.Duration
	Latency     time.Duration
	Conn        net.Conn // the client connection used (httptrace.GotConn), for its timeline
	// Proto is the response's protocol ("HTTP/1.1", "HTTP/2.0"); TLS the
	// version of its TLS session ("TLS 1.3"), "" in the clear.
	Proto string
	TLS   string
	// Attempts counts the connections the request was sent on: more than
	// one when the client sent it again (after a GOAWAY that did not cover
	// its stream, a refused stream, a kept-alive connection that was gone).
	Attempts int
	// H2 is how an HTTP/2 request ended when that says more than the
	// outcome: a stream reset, a GOAWAY (retried, or lost).
	H2 H2Detail
	// Fingerprint is the reference of the bytes received, when asked for.
	Fingerprint *Reference
	// Aborted is set when the caller's context ended the request: it says
	// nothing about the server and is not counted.
	Aborted bool
}

// Verifier streams response bodies through checksums in constant memory:
// one reused buffer, CRC-32C always (per block and whole), SHA-256/512
// only when a digest to check uses them. It classifies each request into a
// [results.Outcome] with errors.Is on the errors Go's client returns, never
// by matching error text, and says what evidence the verdict rests on. A
// Verifier is used by one goroutine at a time.
type Verifier struct {
	// Stall is how long a request may make no progress (no head, no body
	// bytes) before it is cancelled and classified stalled; 0 => 10s.
	Stall time.Duration
	// WantDigest is sent as Want-Content-Digest; "" => none.
	WantDigest string

	buf    []byte
	hashes map[string]hash.Hash
	// crc32c is the read loop's CRC-32C update; nil => crc32cUpdate, the
	// fastest this CPU has. Tests set hash/crc32's portable one to hold
	// both to the same verdicts.
	crc32c func(crc uint32, p []byte) uint32
}

// NewVerifier returns a verifier with its buffer allocated.
func NewVerifier(stall time.Duration, wantDigest string) *Verifier {
	return &Verifier{Stall: stall, WantDigest: wantDigest, buf: make([]byte, bufSize)}
}

// DefaultWantDigest prefers CRC-32C (an order of magnitude faster than
// SHA-256, ample against accidental damage) and accepts SHA-256 from
// servers that follow the registry, where crc32c is deprecated.
const DefaultWantDigest = "crc32c=9, sha-256=1"

// errStalled is the cause the watchdog cancels a request with.
var errStalled = errors.New("no progress within the stall timeout")

// RoundTrip is a function that sends one request; http.Client.Do is one,
// [ExpectContinue] another.
type RoundTrip = func(*http.Request) (*http.Response, error)

// Do sends req with client and verifies the response against ref (nil:
// only against the response's own framing and digest), as an
// [results.EvidenceReference]. When record is true the verdict carries the
// fingerprint of the bytes received.
func (v *Verifier) Do(ctx context.Context, client *http.Client, req *http.Request, ref *Reference, record bool) Verdict {
	c := Check{Fingerprint: record}
	if ref != nil {
		c.Want = &Expected{Source: results.EvidenceReference, Ref: ref, Length: ref.Length}
	}
	return v.Verify(ctx, client.Do, req, c)
}

// bodyState is what the read loop learns of a body.
type bodyState struct {
	n        int64
	crc      uint32   // CRC-32C of the whole body so far (folded from the blocks)
	blocks   []uint32 // when a fingerprint is recorded
	blockCRC uint32
	blockN   int
	badFull  int64 // start of the first whole block that differs from Want.Ref; -1 none
	badAny   int64 // the same counting a short last block; -1 none

	update func(crc uint32, p []byte) uint32 // CRC-32C: Verifier.crc32c or crc32cUpdate
}

// Verify sends req with roundTrip and verifies the response as c says.
// The round trip must honour the request's context and its httptrace hooks
// (GotConn, GotFirstResponseByte) for timelines and time to first byte.
func (v *Verifier) Verify(ctx context.Context, roundTrip RoundTrip, req *http.Request, c Check) (vd Verdict) {
	if v.buf == nil {
		v.buf = make([]byte, bufSize)
	}
	stall := v.Stall
	if stall <= 0 {
		stall = 10 * time.Second
	}
	vd.Expected = -1
	start := time.Now()
	// TTFB is written by net/http's read loop, which can still be running
	// when a stalled round trip returns: keep it atomic, copy it at the end.
	var ttfb atomic.Int64
	defer func() {
		vd.Latency = time.Since(start)
		vd.TTFB = time.Duration(ttfb.Load())
	}()

	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var stalled atomic.Bool
	watchdog := time.AfterFunc(stall, func() {
		stalled.Store(true)
		cancel(errStalled)
	})
	defer watchdog.Stop()

	var conn, firstConn atomic.Pointer[net.Conn]
	var attempts atomic.Int32
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			c := info.Conn
			conn.Store(&c)
			firstConn.CompareAndSwap(nil, &c)
			attempts.Add(1)
		},
		GotFirstResponseByte: func() { ttfb.Store(int64(time.Since(start))) },
	}
	req = req.WithContext(httptrace.WithClientTrace(rctx, trace))
	if v.WantDigest != "" && req.Header.Get("Want-Content-Digest") == "" {
		req.Header.Set("Want-Content-Digest", v.WantDigest)
	}
	vd.RequestID = req.Header.Get("X-Request-Id")

	resp, err := roundTrip(req)
	if cn := conn.Load(); cn != nil {
		vd.Conn = *cn
	}
	var first net.Conn
	if cn := firstConn.Load(); cn != nil {
		first = *cn
	}
	vd.Attempts = int(attempts.Load())
	vd.H2 = retriedAfterGoAway(vd.Attempts, first)
	if err != nil {
		vd.Err = err
		switch {
		case stalled.Load():
			vd.Outcome, vd.Err = results.Stalled, fmt.Errorf("no response head within %s: %w", stall, err)
		case ctx.Err() != nil:
			vd.Aborted, vd.Outcome = true, results.TransportError
		default:
			vd.Outcome = results.TransportError
			if d, ok := h2Ended(err, vd.Conn); ok {
				vd.H2, vd.Err = d, fmt.Errorf("%s before the response head: %w", d, err)
			}
		}
		return vd
	}
	defer resp.Body.Close()
	watchdog.Reset(stall)
	vd.Status = resp.StatusCode
	vd.Proto = resp.Proto
	if resp.TLS != nil {
		vd.TLS = tls.VersionName(resp.TLS.Version)
	}
	if id := resp.Header.Get("X-Request-Id"); id != "" {
		vd.RequestID = id
	}
	noBody := req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified
	switch {
	case noBody:
		vd.Framing = "none"
	case resp.ContentLength >= 0:
		vd.Framing = "content-length"
	case resp.ProtoMajor == 2:
		// An HTTP/2 stream without a length ends with END_STREAM, its own
		// promise of the end (a connection's end never delimits a body).
		vd.Framing = "end-stream"
	case len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked":
		vd.Framing = "chunked"
	default:
		vd.Framing = "close"
	}
	if (resp.StatusCode < 200 || resp.StatusCode > 299) && resp.StatusCode != http.StatusNotModified {
		vd.Outcome = results.HTTPError
		n, _ := io.ReadFull(io.LimitReader(resp.Body, 512), v.buf[:512])
		vd.Received = int64(n)
		vd.Err = fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(v.buf[:n])))
		return vd
	}

	// What the body must be: a 206 answers for its Content-Range only; a
	// stated or reference length wins over the hop's own promise.
	want := c.Want
	partial := resp.StatusCode == http.StatusPartialContent
	vd.Expected = resp.ContentLength
	if partial {
		want = nil // a whole-body reference says nothing of one range
		n, err := contentRangeLength(resp.Header.Get("Content-Range"))
		if err != nil {
			vd.Outcome, vd.Err = results.Corrupt, fmt.Errorf("206 without a usable Content-Range: %w", err)
			return vd
		}
		if resp.ContentLength >= 0 && resp.ContentLength != n {
			vd.Outcome, vd.Err = results.Corrupt, fmt.Errorf("206 Content-Length %d disagrees with Content-Range (%d bytes)", resp.ContentLength, n)
			return vd
		}
		vd.Expected = n
	}
	if noBody {
		want = nil // no body to hold against anything: the protocol says so
		vd.Expected = 0
	} else if want.endToEnd() && want.Length >= 0 {
		vd.Expected = want.Length
	}

	// Which digests to compute: the header's; for a trailer, whose algorithm
	// is known only at the end, every supported one but CRC-32C's twin; the
	// user's stated ones. CRC-32C is always computed.
	header, headerErr := parseDigestField(resp.Header.Values("Content-Digest"))
	need := map[string]bool{}
	if len(header) > 0 {
		if pick := chooseChecked(header); pick != "" && pick != digest.CRC32C {
			need[pick] = true
		}
	} else if headerErr == nil && announcesTrailer(resp) {
		need[digest.SHA256], need[digest.SHA512] = true, true
	}
	if want != nil {
		for _, d := range want.Digests {
			if d.Algorithm != digest.CRC32C {
				need[d.Algorithm] = true
			}
		}
	}
	hs := v.hashesFor(need)

	st := newBodyState(v.crc32c)
	if c.Fingerprint {
		st.blocks = []uint32{}
	}
	var ref *Reference
	if want != nil {
		ref = want.Ref
	}
	limit := int64(-1)
	if vd.Expected >= 0 {
		limit = vd.Expected + overlongSlack
	}
	var readErr error
	for {
		m, err := resp.Body.Read(v.buf)
		if m > 0 {
			watchdog.Reset(stall)
			p := v.buf[:m]
			for _, h := range hs {
				h.Write(p)
			}
			if c.Copy != nil {
				if _, werr := c.Copy.Write(p); werr != nil {
					readErr = fmt.Errorf("keeping the body: %w", werr)
					break
				}
			}
			st.add(p, ref)
			if limit >= 0 && st.n > limit {
				readErr = errOverlong
				break
			}
		}
		if err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
	}
	st.finish(ref)
	vd.Received, vd.Offset = st.n, st.n
	if c.Fingerprint {
		vd.Fingerprint = &Reference{Length: st.n, CRC32C: st.crc, Blocks: st.blocks}
	}

	if readErr != nil && resp.ProtoMajor == 2 && vd.Expected >= 0 && st.n == vd.Expected &&
		!stalled.Load() && ctx.Err() == nil && !errors.Is(readErr, errOverlong) {
		// Every promised byte arrived, and then the stream failed to close
		// (its connection went, or a RST_STREAM came, before END_STREAM):
		// the body is whole if its checks say so, and they decide.
		readErr = nil
	}
	if readErr != nil {
		vd.Err = readErr
		// What the cut body was held against: the hop's promise it broke,
		// and the reference it fell short of.
		var ev []results.Evidence
		switch vd.Framing {
		case "content-length":
			ev = append(ev, results.EvidenceContentLength)
		case "chunked":
			ev = append(ev, results.EvidenceChunked)
		case "end-stream":
			ev = append(ev, results.EvidenceEndStream)
		}
		if want != nil && want.Source != "" {
			ev = append(ev, want.Source)
		}
		vd.CheckedBy = results.SortEvidence(ev)
		h2, isH2 := h2Ended(readErr, vd.Conn)
		switch {
		case errors.Is(readErr, errOverlong):
			vd.Outcome, vd.Offset = results.Overlong, vd.Expected
			vd.Err = fmt.Errorf("more than %d bytes past the expected %d", overlongSlack, vd.Expected)
		case stalled.Load():
			vd.Outcome = results.Stalled
			vd.Err = fmt.Errorf("body stalled at byte %d for %s%s: %w", st.n, stall, h2Flow(vd.Conn), readErr)
		case isH2:
			// How the last attempt ended is the request's fate; Attempts
			// still counts the retries before it.
			vd.H2, vd.Outcome = h2, h2.outcome
			vd.Err = fmt.Errorf("%s at byte %d of the body: %w", h2, st.n, readErr)
		case errors.Is(readErr, io.ErrUnexpectedEOF):
			// A clean FIN before the promised length or the last chunk (over
			// TLS: a FIN in the middle of a record, with no close_notify), or
			// on HTTP/2 an END_STREAM before the promised Content-Length or a
			// connection that ended mid-stream.
			vd.Outcome = results.Truncated
			if why := endedMidBody(vd.Conn); why != "" {
				vd.Err = fmt.Errorf("%s at byte %d of the body: %w", why, st.n, readErr)
			}
		case ctx.Err() != nil:
			vd.Aborted, vd.Outcome = true, results.TransportError
		default:
			// Any other failure after the head (ECONNRESET, a broken chunk,
			// a closed connection): the client saw it, the body is cut at
			// st.n. Not a clean end, so never silent.
			vd.Outcome = results.Reset
			if !errors.Is(readErr, syscall.ECONNRESET) {
				vd.Err = fmt.Errorf("connection failed mid-body: %w", readErr)
			}
		}
		return vd
	}
	v.judgeCleanEnd(&vd, resp, c, want, header, headerErr, &st, hs)
	return vd
}

// closeEnd is what the end of a close-delimited body over TLS says: the
// peer's close_notify makes its end the hop's own promise (evidence
// tls-close-notify); a FIN without it cannot be told from a cut at a
// record boundary (the classic TLS truncation). isTLS is false in the
// clear, or on a connection the harness did not make.
func closeEnd(c net.Conn) (isTLS, notified bool) {
	isTLS, fin := tlsEnd(c)
	return isTLS, isTLS && !fin
}

// newBodyState starts a body's state; update is the CRC-32C to use, nil
// for the portable one.
func newBodyState(update func(crc uint32, p []byte) uint32) bodyState {
	if update == nil {
		update = crc32cUpdate
	}
	return bodyState{badFull: -1, badAny: -1, update: update}
}

// add hashes p into the block CRCs and compares finished blocks with ref.
func (st *bodyState) add(p []byte, ref *Reference) {
	for len(p) > 0 {
		take := min(len(p), BlockSize-st.blockN)
		st.blockCRC = st.update(st.blockCRC, p[:take])
		st.blockN += take
		st.n += int64(take)
		p = p[take:]
		if st.blockN == BlockSize {
			st.endBlock(ref)
		}
	}
}

// finish closes the last, short block.
func (st *bodyState) finish(ref *Reference) {
	if st.blockN > 0 {
		st.endBlock(ref)
	}
}

func (st *bodyState) endBlock(ref *Reference) {
	idx := int((st.n - 1) / BlockSize)
	// Hash once: the whole body's CRC is folded from the block CRCs (a
	// 32-bit multiply per block) instead of a second pass over the bytes.
	st.crc = crc32cCombine(st.crc, st.blockCRC, int64(st.blockN))
	if st.blocks != nil {
		st.blocks = append(st.blocks, st.blockCRC)
	}
	if ref != nil && ref.Blocks != nil && st.badAny < 0 && (idx >= len(ref.Blocks) || ref.Blocks[idx] != st.blockCRC) {
		st.badAny = int64(idx) * BlockSize
		if st.blockN == BlockSize {
			st.badFull = st.badAny
		}
	}
	st.blockCRC, st.blockN = 0, 0
}

// judgeCleanEnd decides a body whose framing said it was whole: the length
// and the bytes, end to end, strongest evidence first.
func (v *Verifier) judgeCleanEnd(vd *Verdict, resp *http.Response, c Check, want *Expected,
	header []digest.Digest, headerErr error, st *bodyState, hs map[string]hash.Hash) {
	var ev []results.Evidence
	// Several checks can fail at once (a cut body also fails its digest):
	// the most specific finding wins, a wrong length before wrong bytes.
	rank := map[results.Outcome]int{results.Truncated: 1, results.Overlong: 2, results.Corrupt: 3, results.Unverified: 4}
	fail := func(o results.Outcome, offset int64, format string, args ...any) {
		if vd.Outcome == "" || rank[o] < rank[vd.Outcome] {
			vd.Outcome, vd.Offset, vd.Err = o, offset, fmt.Errorf(format, args...)
		}
	}
	n := st.n
	// Where a wrong body first differs: the first block that differs from the
	// reference, else (no reference to locate it) the body's end.
	badAt := st.n
	if st.badAny >= 0 {
		badAt = st.badAny
	}
	promisedDigestMissing := false

	// The hop's own framing.
	tlsNoNotify := false
	switch vd.Framing {
	case "none":
		ev = append(ev, results.EvidenceNoBody)
		if n > 0 {
			fail(results.Overlong, 0, "%d body bytes where the protocol allows none", n)
		}
	case "content-length":
		ev = append(ev, results.EvidenceContentLength)
		if resp.ContentLength >= 0 && n < resp.ContentLength {
			// HTTP/1.1 clients refuse this themselves; an HTTP/2 stream can
			// end (END_STREAM) before the length its head promised.
			fail(results.Truncated, n, "body ended cleanly at %d of the %d bytes its Content-Length promised", n, resp.ContentLength)
		}
	case "chunked":
		ev = append(ev, results.EvidenceChunked)
	case "end-stream":
		ev = append(ev, results.EvidenceEndStream)
	case "close":
		switch isTLS, notified := closeEnd(vd.Conn); {
		case notified:
			ev = append(ev, results.EvidenceCloseNotify)
			transport.Annotate(vd.Conn, transport.EventTLSCloseNotify, 0, "")
		case isTLS:
			tlsNoNotify = true
		}
	}

	// The origin's digest, header or trailer alike.
	fields, derr := header, headerErr
	if len(fields) == 0 && derr == nil {
		if tv := resp.Trailer.Values("Content-Digest"); len(tv) > 0 {
			fields, derr = parseDigestField(tv)
		}
	}
	switch {
	case derr != nil:
		vd.DigestError = derr.Error()
	case len(fields) > 0:
		alg := chooseChecked(fields)
		if alg == "" {
			vd.DigestError = fmt.Sprintf("no algorithm that can be computed (sent: %s; accepted: %s)", algNames(fields), digest.SupportedNames())
			break
		}
		sent := fieldValue(fields, alg)
		got := sumOf(alg, st.crc, hs)
		if got == nil {
			vd.DigestError = fmt.Sprintf("%s digest arrived in an unannounced trailer and was not computed", alg)
			break
		}
		vd.DigestWant = digest.Digest{Algorithm: alg, Value: sent}.String()
		vd.DigestGot = digest.Digest{Algorithm: alg, Value: got}.String()
		ev = append(ev, results.DigestEvidence(alg))
		if !bytes.Equal(sent, got) {
			fail(results.Corrupt, badAt, "content-digest mismatch: server sent %s, body has %s", vd.DigestWant, vd.DigestGot)
		}
	case announcesTrailer(resp):
		vd.DigestError = "a Content-Digest trailer was announced but not sent"
		promisedDigestMissing = true
	}
	digestMatched := vd.DigestWant != "" && vd.DigestWant == vd.DigestGot

	// What the body must be, from a source independent of it.
	if want != nil {
		if want.Source != "" {
			ev = append(ev, want.Source)
		}
		switch {
		case want.endToEnd():
			v.checkEndToEnd(vd, want, st, hs, badAt, fail)
		case want.Ref != nil:
			checkConsistency(vd, want, st, digestMatched, fail)
		}
	}
	vd.CheckedBy = results.SortEvidence(ev)
	if vd.Outcome != "" {
		return
	}
	switch strongest := results.Strongest(vd.CheckedBy); {
	case strongest.Class() == results.EndToEnd:
		vd.Outcome = results.Complete
	case tlsNoNotify:
		// Nothing end to end vouches for these bytes, and their end was a
		// FIN with no close_notify: over TLS that is how a cut looks.
		vd.Outcome, vd.Offset = results.Truncated, n
		vd.Err = fmt.Errorf("close-delimited body over TLS ended at %d bytes by a FIN with no close_notify before it: a cut cannot be told from its end", n)
	case want != nil && want.Unverifiable != "":
		vd.Outcome, vd.Err = results.Unverified, errors.New(want.Unverifiable)
	case promisedDigestMissing:
		// The server promised end-to-end evidence and it did not arrive: a
		// tier in between dropped it, or cut and re-framed the body.
		vd.Outcome = results.Unverified
		vd.Err = fmt.Errorf("%s body of %d bytes ended without the Content-Digest trailer it announced, and nothing else vouches for it", vd.Framing, n)
	case vd.Framing == "none":
		vd.Outcome = results.Complete // nothing to verify: the protocol says so
	case strongest.Class() == results.NoEvidence || (strongest.Class() == results.Consistency && vd.Framing == "close" && !slices.Contains(ev, results.EvidenceCloseNotify)):
		// A close-delimited end is no promise unless TLS authenticated it.
		vd.Outcome = results.Unverified
		vd.Err = fmt.Errorf("%s body of %d bytes with no usable digest, no expectation and no reference: nothing could check it", vd.Framing, n)
		if vd.DigestError != "" {
			vd.Err = fmt.Errorf("%s body of %d bytes: its digest could not be checked (%s), and no expectation or reference", vd.Framing, n, vd.DigestError)
		}
	case c.RequireEndToEnd:
		vd.Outcome = results.Unverified
		vd.Err = fmt.Errorf("only the hop's own framing (%s) vouches for these %d bytes, and end-to-end evidence is required", vd.Framing, n)
	default:
		vd.Outcome = results.Complete
	}
}

// checkEndToEnd compares the body with a stated expectation or our own
// reference: a shorter body is truncated, a longer one overlong, other
// bytes corrupt.
func (v *Verifier) checkEndToEnd(vd *Verdict, want *Expected, st *bodyState, hs map[string]hash.Hash, badAt int64, fail func(results.Outcome, int64, string, ...any)) {
	n := st.n
	if want.Length >= 0 {
		switch {
		case n < want.Length:
			fail(results.Truncated, n, "body ended cleanly (%s) at %d of %d bytes (%s)", vd.Framing, n, want.Length, want.Source)
		case n > want.Length:
			fail(results.Overlong, want.Length, "body of %d bytes, %d expected (%s)", n, want.Length, want.Source)
		}
	}
	if want.Ref != nil && st.crc != want.Ref.CRC32C {
		fail(results.Corrupt, badAt, "body differs from the %s (crc32c %08x, expected %08x)", want.Source, st.crc, want.Ref.CRC32C)
	}
	for _, d := range want.Digests {
		got := sumOf(d.Algorithm, st.crc, hs)
		if !bytes.Equal(got, d.Value) {
			fail(results.Corrupt, badAt, "body's %s is %s, the expectation says %s",
				d.Algorithm, base64.StdEncoding.EncodeToString(got), base64.StdEncoding.EncodeToString(d.Value))
		}
	}
}

// checkConsistency compares the body with agreeing reference fetches: a
// strict prefix of them is truncated; any other difference proves nothing
// about which side is right, so the response is unverified, unless its own
// digest vouches for it.
func checkConsistency(vd *Verdict, want *Expected, st *bodyState, digestMatched bool, fail func(results.Outcome, int64, string, ...any)) {
	ref, n := want.Ref, st.n
	switch {
	case n < ref.Length && st.badFull < 0:
		fail(results.Truncated, n, "body ended cleanly (%s) at %d bytes, a strict prefix of the %d bytes %s returned",
			vd.Framing, n, ref.Length, want.Source)
	case digestMatched:
		// The origin's own digest vouches for these bytes: the fetches may
		// have been cut or the content may vary.
	case n < ref.Length:
		fail(results.Unverified, st.badFull, "body of %d bytes differs from the %d bytes %s returned (first at block %d), and is not a prefix of them",
			n, ref.Length, want.Source, st.badFull/BlockSize)
	case n > ref.Length && blocksMatchBelow(st, ref):
		fail(results.Unverified, ref.Length, "body of %d bytes is longer than every reference fetch (%d bytes, %s) and extends them: the reference fetches were cut",
			n, ref.Length, want.Source)
	case n != ref.Length || st.crc != ref.CRC32C:
		at := st.n
		if st.badAny >= 0 {
			at = st.badAny
		}
		fail(results.Unverified, at, "body of %d bytes differs from the %d bytes %s returned", n, ref.Length, want.Source)
	}
}

// blocksMatchBelow reports whether the first difference lies at or past
// the reference's end (every block of the reference that is whole matched).
func blocksMatchBelow(st *bodyState, ref *Reference) bool {
	return st.badAny < 0 || st.badAny >= ref.Length/BlockSize*BlockSize
}

var errOverlong = errors.New("overlong body")

// hashesFor returns the verifier's reusable hashes for the algorithms in
// need, reset.
func (v *Verifier) hashesFor(need map[string]bool) map[string]hash.Hash {
	if len(need) == 0 {
		return nil
	}
	if v.hashes == nil {
		v.hashes = map[string]hash.Hash{}
	}
	out := make(map[string]hash.Hash, len(need))
	for alg := range need {
		h := v.hashes[alg]
		if h == nil {
			if h = digest.NewHash(alg); h == nil {
				continue
			}
			v.hashes[alg] = h
		}
		h.Reset()
		out[alg] = h
	}
	return out
}

// sumOf is the body's digest with alg: CRC-32C from the folded block
// CRCs, the others from their hashes; nil when alg was not computed.
func sumOf(alg string, crc uint32, hs map[string]hash.Hash) []byte {
	if alg == digest.CRC32C {
		return digest.CRC32CBytes(crc)
	}
	if h := hs[alg]; h != nil {
		return h.Sum(nil)
	}
	return nil
}

// parseDigestField parses every line of a Content-Digest field; nil, nil
// when there is none.
func parseDigestField(lines []string) ([]digest.Digest, error) {
	if len(lines) == 0 {
		return nil, nil
	}
	return digest.ParseValues(lines)
}

// chooseChecked picks the algorithm to check among a field's members: the
// cheapest one that can be computed (any of them proves the bytes against
// accidental damage). "" when none can.
func chooseChecked(ds []digest.Digest) string {
	for _, alg := range []string{digest.CRC32C, digest.SHA256, digest.SHA512} {
		for _, d := range ds {
			if d.Algorithm == alg {
				return alg
			}
		}
	}
	return ""
}

func fieldValue(ds []digest.Digest, alg string) []byte {
	for _, d := range ds {
		if d.Algorithm == alg {
			return d.Value
		}
	}
	return nil
}

func algNames(ds []digest.Digest) string {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Algorithm
	}
	return strings.Join(names, ", ")
}

// announcesTrailer reports whether the response declared a Content-Digest
// trailer (`Trailer: Content-Digest`).
func announcesTrailer(resp *http.Response) bool {
	_, ok := resp.Trailer["Content-Digest"]
	return ok
}

// contentRangeLength returns the length a 206's Content-Range promises
// ("bytes FIRST-LAST/COMPLETE" or ".../*").
func contentRangeLength(cr string) (int64, error) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, fmt.Errorf("Content-Range %q (accepted: bytes FIRST-LAST/LENGTH)", cr)
	}
	span, _, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, fmt.Errorf("Content-Range %q has no /LENGTH", cr)
	}
	a, b, ok := strings.Cut(span, "-")
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, fmt.Errorf("Content-Range %q: bad range (accepted: bytes FIRST-LAST/LENGTH)", cr)
	}
	return last - first + 1, nil
}
