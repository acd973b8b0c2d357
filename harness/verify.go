package harness

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
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
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/truncheck/truncheck/results"
)

// BlockSize is the granularity of a [Reference]'s block checksums: a
// corrupt body's first bad byte is located to within one block.
const BlockSize = 64 << 10

// bufSize is the verifier's read buffer, reused for every request.
const bufSize = 64 << 10

// overlongSlack is how far past the expected length the verifier keeps
// reading before it stops and reports overlong (bounded work on a runaway
// body).
const overlongSlack = 1 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Reference is the fingerprint of the bytes a request must produce: its
// length, the CRC-32C of the whole body and of every [BlockSize] block.
// It is end to end: computed from a fetch without faults (or the transform
// run in-process), never from the response under test, so a tier that
// turns a cut into a shorter well-formed response is caught.
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

// Verdict is the verifier's account of one request.
type Verdict struct {
	Outcome  results.Outcome
	Status   int
	Expected int64 // reference length, else Content-Length, else -1
	Received int64 // body bytes read
	// Offset is where the body ended (truncated, reset, stalled, overlong) or
	// the start of the first block that differs from the reference (corrupt).
	Offset     int64
	Framing    string // "content-length", "chunked" or "close" (how the body was delimited)
	DigestWant string // the server's Content-Digest (header or trailer), as sent
	DigestGot  string // the same algorithm over the bytes received
	RequestID  string // X-Request-Id of the response (or the request's)
	Err        error  // what ended the request, nil when complete
	TTFB       time.Duration
	Latency    time.Duration
	Conn       net.Conn // the client connection used (httptrace.GotConn), for its timeline
	// Fingerprint is the reference of the bytes received, filled only when
	// the verifier was asked to record one (reference fetches).
	Fingerprint *Reference
	// Aborted is set when the caller's context ended the request: it says
	// nothing about the server and is not counted.
	Aborted bool
}

// Verifier streams response bodies through checksums in constant memory:
// one reused buffer, CRC-32C always, SHA-256/512 only when the response's
// digest uses them. It classifies each request into a [results.Outcome]
// with errors.Is on the errors Go's client returns, never by matching
// error text. A Verifier is used by one goroutine at a time.
type Verifier struct {
	// Stall is how long a request may make no progress (no head, no body
	// bytes) before it is cancelled and classified stalled; 0 => 10s.
	Stall time.Duration
	// WantDigest is sent as Want-Content-Digest; "" => none.
	WantDigest string

	buf    []byte
	sha256 hash.Hash
	sha512 hash.Hash
}

// NewVerifier returns a verifier with its buffer allocated.
func NewVerifier(stall time.Duration, wantDigest string) *Verifier {
	return &Verifier{Stall: stall, WantDigest: wantDigest, buf: make([]byte, bufSize)}
}

// DefaultWantDigest prefers CRC-32C (fast, enough against accidental
// damage) over SHA-256 (about 200 MB/s on the machines this runs on).
const DefaultWantDigest = "crc32c=9, sha-256=1"

// errStalled is the cause the watchdog cancels a request with.
var errStalled = errors.New("no progress within the stall timeout")

// Do sends req with client and verifies the response against ref (nil:
// only against the response's own Content-Length, framing and digest).
// When record is true the verdict carries the fingerprint of the bytes
// received, for use as a reference.
func (v *Verifier) Do(ctx context.Context, client *http.Client, req *http.Request, ref *Reference, record bool) Verdict {
	return v.DoWith(ctx, client.Do, req, ref, record)
}

// DoWith is [Verifier.Do] with any round trip, e.g. [ExpectContinue]'s
// minimal client. The round trip must honour the request's context and
// its httptrace hooks (GotConn, GotFirstResponseByte) for timelines and
// time to first byte.
func (v *Verifier) DoWith(ctx context.Context, roundTrip func(*http.Request) (*http.Response, error), req *http.Request, ref *Reference, record bool) (vd Verdict) {
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

	var conn atomic.Pointer[net.Conn]
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			c := info.Conn
			conn.Store(&c)
		},
		GotFirstResponseByte: func() { ttfb.Store(int64(time.Since(start))) },
	}
	req = req.WithContext(httptrace.WithClientTrace(rctx, trace))
	if v.WantDigest != "" && req.Header.Get("Want-Content-Digest") == "" {
		req.Header.Set("Want-Content-Digest", v.WantDigest)
	}
	vd.RequestID = req.Header.Get("X-Request-Id")

	resp, err := roundTrip(req)
	if c := conn.Load(); c != nil {
		vd.Conn = *c
	}
	if err != nil {
		vd.Err = err
		switch {
		case stalled.Load():
			vd.Outcome, vd.Err = results.Stalled, fmt.Errorf("no response head within %s: %w", stall, err)
		case ctx.Err() != nil:
			vd.Aborted, vd.Outcome = true, results.TransportError
		default:
			vd.Outcome = results.TransportError
		}
		return vd
	}
	defer resp.Body.Close()
	watchdog.Reset(stall)
	vd.Status = resp.StatusCode
	if id := resp.Header.Get("X-Request-Id"); id != "" {
		vd.RequestID = id
	}
	switch {
	case resp.ContentLength >= 0:
		vd.Framing = "content-length"
	case len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked":
		vd.Framing = "chunked"
	default:
		vd.Framing = "close"
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		vd.Outcome = results.HTTPError
		n, _ := io.ReadFull(io.LimitReader(resp.Body, 512), v.buf[:512])
		vd.Received = int64(n)
		vd.Err = fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(v.buf[:n])))
		return vd
	}

	// Which digests to compute: the header's algorithms; for a trailer,
	// whose algorithm is known only at the end, SHA-256 as well (a server
	// may ignore Want-Content-Digest and send its default). CRC-32C is
	// always computed (references, and the crc32c digest we ask for).
	header := resp.Header.Get("Content-Digest")
	algos := digestAlgos(header)
	if header == "" && announcesTrailer(resp) {
		algos = []string{"sha-256"}
	}
	var sha hash.Hash
	var shaName string
	for _, a := range algos {
		switch a {
		case "sha-256":
			if v.sha256 == nil {
				v.sha256 = sha256.New()
			}
			sha, shaName = v.sha256, a
		case "sha-512":
			if v.sha512 == nil {
				v.sha512 = sha512.New()
			}
			sha, shaName = v.sha512, a
		}
		if sha != nil {
			break
		}
	}
	if sha != nil && slices.Contains(algos, "crc32c") {
		sha, shaName = nil, "" // CRC-32C suffices when offered
	}
	if sha != nil {
		sha.Reset()
	}

	vd.Expected = resp.ContentLength
	if ref != nil && ref.Length >= 0 {
		vd.Expected = ref.Length
	}
	var fp *Reference
	if record {
		fp = &Reference{}
	}
	var (
		n        int64
		crc      uint32
		blockCRC uint32
		blockN   int
		badBlock int64 = -1
		readErr  error
	)
	endBlock := func() {
		idx := int((n - 1) / BlockSize)
		// Hash once: the whole body's CRC is folded from the block CRCs
		// (a 32-bit multiply per block) instead of a second pass over the bytes.
		crc = crc32cCombine(crc, blockCRC, int64(blockN))
		if fp != nil {
			fp.Blocks = append(fp.Blocks, blockCRC)
		}
		if ref != nil && badBlock < 0 && ref.Blocks != nil && (idx >= len(ref.Blocks) || ref.Blocks[idx] != blockCRC) {
			badBlock = int64(idx) * BlockSize
		}
		blockCRC, blockN = 0, 0
	}
	limit := int64(-1)
	if vd.Expected >= 0 {
		limit = vd.Expected + overlongSlack
	}
	for {
		m, err := resp.Body.Read(v.buf)
		if m > 0 {
			watchdog.Reset(stall)
			p := v.buf[:m]
			if sha != nil {
				sha.Write(p)
			}
			for len(p) > 0 {
				take := min(len(p), BlockSize-blockN)
				blockCRC = crc32.Update(blockCRC, castagnoli, p[:take])
				blockN += take
				n += int64(take)
				p = p[take:]
				if blockN == BlockSize {
					endBlock()
				}
			}
			if limit >= 0 && n > limit {
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
	if blockN > 0 {
		endBlock()
	}
	vd.Received, vd.Offset = n, n
	if fp != nil {
		fp.Length, fp.CRC32C = n, crc
	}

	if readErr != nil {
		vd.Err = readErr
		switch {
		case errors.Is(readErr, errOverlong):
			vd.Outcome = results.Overlong
			vd.Err = fmt.Errorf("more than %d bytes past the expected %d", overlongSlack, vd.Expected)
		case stalled.Load():
			vd.Outcome = results.Stalled
			vd.Err = fmt.Errorf("body stalled at byte %d for %s: %w", n, stall, readErr)
		case errors.Is(readErr, syscall.ECONNRESET):
			vd.Outcome = results.Reset
		case errors.Is(readErr, io.ErrUnexpectedEOF):
			vd.Outcome = results.Truncated
		case ctx.Err() != nil:
			vd.Aborted, vd.Outcome = true, results.TransportError
		default:
			vd.Outcome = results.TransportError
		}
		return vd
	}

	// A clean end: the framing says the body is whole. Now the length and
	// the bytes, end to end.
	digest := header
	if digest == "" {
		digest = resp.Trailer.Get("Content-Digest")
	}
	wantAlgo, want, got := "", "", ""
	if digest != "" {
		dg := parseDigest(digest)
		switch {
		case dg["crc32c"] != "":
			wantAlgo = "crc32c"
			var b [4]byte
			b[0], b[1], b[2], b[3] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
			got = base64.StdEncoding.EncodeToString(b[:])
		case sha != nil && dg[shaName] != "":
			wantAlgo = shaName
			got = base64.StdEncoding.EncodeToString(sha.Sum(nil))
		}
		if wantAlgo != "" {
			want = dg[wantAlgo]
			vd.DigestWant = wantAlgo + "=:" + want + ":"
			vd.DigestGot = wantAlgo + "=:" + got + ":"
		}
	}
	digestBad := wantAlgo != "" && want != got
	refChecked := ref != nil && ref.Length >= 0
	switch {
	case vd.Expected >= 0 && n < vd.Expected:
		vd.Outcome = results.Truncated
		vd.Err = fmt.Errorf("body ended cleanly (%s) at %d of %d bytes", vd.Framing, n, vd.Expected)
	case vd.Expected >= 0 && n > vd.Expected:
		vd.Outcome = results.Overlong
		vd.Offset = vd.Expected
		vd.Err = fmt.Errorf("body of %d bytes, %d expected", n, vd.Expected)
	case digestBad:
		vd.Outcome = results.Corrupt
		vd.Err = fmt.Errorf("content-digest mismatch: server sent %s, body has %s", vd.DigestWant, vd.DigestGot)
		if badBlock >= 0 {
			vd.Offset = badBlock
		}
	case refChecked && crc != ref.CRC32C:
		vd.Outcome = results.Corrupt
		vd.Err = fmt.Errorf("body differs from the reference (crc32c %08x, reference %08x)", crc, ref.CRC32C)
		if badBlock >= 0 {
			vd.Offset = badBlock
		}
	case digest == "" && announcesTrailer(resp) && !refChecked:
		// The digest the server promised never came and no reference vouches
		// for the bytes: whatever ended this body, it is not shown whole.
		vd.Outcome = results.Corrupt
		vd.Err = fmt.Errorf("Content-Digest trailer announced but not sent after %d bytes (%s), and no reference to check against", n, vd.Framing)
	default:
		vd.Outcome = results.Complete
	}
	if vd.Outcome == results.Complete && fp != nil {
		vd.Fingerprint = fp
	}
	return vd
}

var errOverlong = errors.New("overlong body")

// announcesTrailer reports whether the response declared a Content-Digest
// trailer (`Trailer: Content-Digest`).
func announcesTrailer(resp *http.Response) bool {
	_, ok := resp.Trailer["Content-Digest"]
	return ok
}

// parseDigest reads an RFC 9530 Content-Digest or Want-Content-Digest
// field: `alg=:base64:, alg2=:base64:` (or `alg=weight`). Keys are
// lowercased; values are the base64 text without colons. Malformed members
// are skipped: the digest then cannot be checked, which is not an outcome.
func parseDigest(field string) map[string]string {
	out := make(map[string]string, 2)
	for _, m := range strings.Split(field, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(m), "=")
		if !ok {
			continue
		}
		val, _, _ = strings.Cut(val, ";")
		out[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(val), ":")
	}
	return out
}

// digestAlgos lists the algorithm names of a digest field in order.
func digestAlgos(field string) []string {
	var out []string
	for _, m := range strings.Split(field, ",") {
		k, _, ok := strings.Cut(strings.TrimSpace(m), "=")
		if ok {
			out = append(out, strings.ToLower(strings.TrimSpace(k)))
		}
	}
	return out
}
