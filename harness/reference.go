package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

// References: what each request kind's responses must be, from a source
// independent of the response under test, strongest first:
//
//	the user's statement (Request.Want)     expectation        length, digest, a file, a known-good URL
//	our own origin over a clean path        reference          one fetch that verifies by its own framing and digest
//	the target itself over a clean path     agreeing-fetches:k k fresh-connection fetches, kept byte for byte:
//	                                                           a strict prefix of the longest is a cut (a finding),
//	                                                           any other disagreement leaves the kind unverified
//
// One fetch from the server under test is never taken as ground truth: it
// may have been cut itself (a poisoned reference inverts every verdict).

// referenceSet is the outcome of preparing references for a scenario.
type referenceSet struct {
	want     []*Expected // per workload request; nil: only each response's own framing and digest
	notes    []string
	findings []results.Finding
}

// DefaultReferenceFetches is how many clean fetches make an external
// target's reference when nothing better is known.
const DefaultReferenceFetches = 3

// maxReferenceBytes caps a reference body (a file, a known-good URL, a
// clean fetch kept on disk to be compared byte for byte).
const maxReferenceBytes = 4 << 30

// prepareReferences builds the references of every request kind of s.
func prepareReferences(ctx context.Context, s scenarios.Scenario, sut systemUnderTest, logf func(string, ...any)) (referenceSet, error) {
	var set referenceSet
	set.want = make([]*Expected, len(s.Workload.Requests))
	clean := sut.clean()
	v := NewVerifier(s.StallTimeout, DefaultWantDigest)
	dir, err := os.MkdirTemp("", "tc-ref")
	if err != nil {
		return set, fmt.Errorf("reference directory: %w", err)
	}
	defer os.RemoveAll(dir)
	for i, r := range s.Workload.Requests {
		key := requestKey(r)
		rt := clean.client.Do
		if r.Expect100 {
			rt = ExpectContinue(clean.dial)
		}
		newReq := func() (*http.Request, error) { return newRequest(ctx, clean.base, r, "") }
		switch {
		case !r.Want.IsZero():
			w, err := statedExpectation(ctx, v, r)
			if err != nil {
				return set, fmt.Errorf("%s: %w", key, err)
			}
			set.want[i] = w
			logf("%s: expectation for %s: %s", s.Name, key, describeExpected(w))
		case clean.trusted:
			ref, err := trustedReference(ctx, v, rt, newReq)
			if err != nil {
				return set, fmt.Errorf("%s: %w", key, err)
			}
			set.want[i] = &Expected{Source: results.EvidenceReference, Ref: &ref, Length: ref.Length}
			logf("%s: reference %s: %d bytes, crc32c %08x", s.Name, key, ref.Length, ref.CRC32C)
		default:
			k := s.Verify.ReferenceFetches
			if k <= 0 {
				k = DefaultReferenceFetches
			}
			w, notes, findings, err := agreeingFetches(ctx, v, rt, newReq, k, filepath.Join(dir, fmt.Sprint(i)))
			if err != nil {
				return set, fmt.Errorf("%s: %w", key, err)
			}
			set.want[i] = w
			for _, n := range notes {
				set.notes = append(set.notes, key+": "+n)
			}
			for _, f := range findings {
				set.findings = append(set.findings, results.Finding{Scenario: s.Name, Check: results.CheckReference,
					Fail: s.Expect.Kind == results.ExpectComplete, Message: key + ": " + f})
			}
			if w != nil {
				logf("%s: reference %s: %s", s.Name, key, describeExpected(w))
			}
		}
	}
	return set, nil
}

func describeExpected(w *Expected) string {
	switch {
	case w == nil:
		return "none"
	case w.Unverifiable != "":
		return "unverifiable: " + w.Unverifiable
	case w.Ref != nil:
		return fmt.Sprintf("%s, %d bytes, crc32c %08x", w.Source, w.Ref.Length, w.Ref.CRC32C)
	}
	return fmt.Sprintf("%s, length %d, %d digests", w.Source, w.Length, len(w.Digests))
}

// trustedReference fetches our own origin's answer over the clean path
// until one verifies against its own framing and digest (three tries).
func trustedReference(ctx context.Context, v *Verifier, rt RoundTrip, newReq func() (*http.Request, error)) (Reference, error) {
	var last Verdict
	for try := 0; try < 3; try++ {
		req, err := newReq()
		if err != nil {
			return Reference{}, err
		}
		last = v.Verify(ctx, rt, req, Check{Fingerprint: true})
		// Unverified is a body nothing could check, not a cut one (a
		// close-delimited answer without a digest): from our own origin over
		// a clean path it is the reference.
		if (last.Outcome == results.Complete || last.Outcome == results.Unverified) && last.Fingerprint != nil {
			return *last.Fingerprint, nil
		}
		if ctx.Err() != nil {
			return Reference{}, ctx.Err()
		}
	}
	return Reference{}, fmt.Errorf("reference fetch without faults: %s after %d bytes: %v", last.Outcome, last.Received, last.Err)
}

// cleanFetch is one reference fetch from the target, its body on disk.
type cleanFetch struct {
	n    int // 1-based
	vd   Verdict
	path string
}

// body reports whether the fetch got a 2xx head (its body, whole or cut,
// is on disk).
func (f cleanFetch) body() bool {
	return f.vd.Status >= 200 && f.vd.Status <= 299 && f.vd.Outcome != results.TransportError || f.vd.Status == http.StatusNotModified
}

// agreeingFetches fetches a request kind k times (more while they
// disagree by prefix, up to 3k) on fresh connections without faults, keeps
// every body and compares them byte for byte. The longest body whose every
// other body is a prefix is the reference, as agreeing-fetches:j (j fetches
// returned exactly it); a strict prefix is a finding (the target cut a
// clean fetch); any other disagreement leaves the kind unverifiable.
func agreeingFetches(ctx context.Context, v *Verifier, rt RoundTrip, newReq func() (*http.Request, error), k int, dir string) (*Expected, []string, []string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("reference directory: %w", err)
	}
	var fetches []cleanFetch
	for len(fetches) < 3*k {
		req, err := newReq()
		if err != nil {
			return nil, nil, nil, err
		}
		f := cleanFetch{n: len(fetches) + 1, path: filepath.Join(dir, fmt.Sprint(len(fetches)+1))}
		file, err := os.Create(f.path)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("reference body: %w", err)
		}
		f.vd = v.Verify(ctx, rt, req, Check{Fingerprint: true, Copy: &capWriter{w: file, left: maxReferenceBytes}})
		if err := file.Close(); err != nil {
			return nil, nil, nil, fmt.Errorf("reference body: %w", err)
		}
		if ctx.Err() != nil {
			return nil, nil, nil, ctx.Err()
		}
		fetches = append(fetches, f)
		if len(fetches) >= k && settled(fetches) {
			break
		}
	}
	return judgeFetches(fetches)
}

// settled reports whether the fetches so far agree, or disagree only by
// prefix with the longest seen at least twice.
func settled(fs []cleanFetch) bool {
	var longest int64 = -1
	count := 0
	lengths := map[int64]bool{}
	for _, f := range fs {
		if !f.body() {
			continue
		}
		lengths[f.vd.Received] = true
		switch {
		case f.vd.Received > longest:
			longest, count = f.vd.Received, 1
		case f.vd.Received == longest:
			count++
		}
	}
	return longest >= 0 && (len(lengths) == 1 || count >= 2)
}

func judgeFetches(fs []cleanFetch) (*Expected, []string, []string, error) {
	var notes, findings []string
	var withBody []cleanFetch
	for _, f := range fs {
		if f.body() {
			withBody = append(withBody, f)
		}
	}
	if len(withBody) == 0 {
		last := fs[len(fs)-1].vd
		notes = append(notes, fmt.Sprintf("no reference: %d clean fetches failed (%s: %v): checked against each response's own framing and digest only",
			len(fs), last.Outcome, last.Err))
		return nil, notes, findings, nil
	}
	longest := withBody[0]
	for _, f := range withBody[1:] {
		if f.vd.Received > longest.vd.Received {
			longest = f
		}
	}
	agree := 0
	var cut []cleanFetch
	for _, f := range withBody {
		switch rel, err := relation(f.path, longest.path); {
		case err != nil:
			return nil, nil, nil, err
		case rel == same:
			agree++
		case rel == prefix:
			cut = append(cut, f)
		default:
			reason := fmt.Sprintf("clean reference fetches disagree: fetch %d returned %d bytes that are not a prefix of fetch %d's %d bytes; "+
				"the content is not stable, so only end-to-end evidence (a digest, an expectation) can verify it", f.n, f.vd.Received, longest.n, longest.vd.Received)
			notes = append(notes, reason)
			return &Expected{Length: -1, Unverifiable: reason}, notes, findings, nil
		}
	}
	if len(cut) > 0 {
		lo, hi := cut[0].vd.Received, cut[0].vd.Received
		for _, f := range cut {
			lo, hi = min(lo, f.vd.Received), max(hi, f.vd.Received)
		}
		span := fmt.Sprint(lo)
		if hi != lo {
			span = fmt.Sprintf("%d..%d", lo, hi)
		}
		findings = append(findings, fmt.Sprintf("%d of %d clean reference fetches were cut by the target with no fault injected: strict prefixes (%s bytes) of the %d bytes fetch %d returned (%s by their own framing)",
			len(cut), len(fs), span, longest.vd.Received, longest.n, cut[0].vd.Outcome))
	}
	// The longest must stand by its own promise: a cut one is no reference.
	if o := longest.vd.Outcome; o != results.Complete && o != results.Unverified {
		findings = append(findings, fmt.Sprintf("the longest clean reference fetch (%d, %d bytes) failed its own check: %s (%v)", longest.n, longest.vd.Received, o, longest.vd.Err))
		notes = append(notes, "no reference: every clean fetch was cut; checked against each response's own framing and digest only")
		return nil, notes, findings, nil
	}
	if agree == 1 && len(withBody) > 1 {
		notes = append(notes, fmt.Sprintf("only one of %d clean fetches returned all %d bytes: the reference rests on it", len(fs), longest.vd.Received))
	}
	ref := longest.vd.Fingerprint
	return &Expected{Source: results.AgreeingFetches(agree), Ref: ref, Length: ref.Length}, notes, findings, nil
}

type bodyRelation int

const (
	differ bodyRelation = iota
	same
	prefix // strictly shorter and equal on every byte it has
)

// relation compares file a with file b byte for byte: the same bytes, a
// strict prefix of b, or neither.
func relation(a, b string) (bodyRelation, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return differ, fmt.Errorf("reference body: %w", err)
	}
	sb, err := os.Stat(b)
	if err != nil {
		return differ, fmt.Errorf("reference body: %w", err)
	}
	if sa.Size() > sb.Size() {
		return differ, nil
	}
	fa, err := os.Open(a)
	if err != nil {
		return differ, fmt.Errorf("reference body: %w", err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return differ, fmt.Errorf("reference body: %w", err)
	}
	defer fb.Close()
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for left := sa.Size(); left > 0; {
		n := int(min(left, int64(len(ba))))
		if _, err := io.ReadFull(fa, ba[:n]); err != nil {
			return differ, fmt.Errorf("reference body: %w", err)
		}
		if _, err := io.ReadFull(fb, bb[:n]); err != nil {
			return differ, fmt.Errorf("reference body: %w", err)
		}
		if !bytes.Equal(ba[:n], bb[:n]) {
			return differ, nil
		}
		left -= int64(n)
	}
	if sa.Size() == sb.Size() {
		return same, nil
	}
	return prefix, nil
}

// capWriter writes at most left bytes, then fails (a runaway reference).
type capWriter struct {
	w    io.Writer
	left int64
}

func (c *capWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		return 0, fmt.Errorf("reference body over %d bytes", maxReferenceBytes)
	}
	c.left -= int64(len(p))
	return c.w.Write(p)
}

// statedExpectation turns what the user stated for a request kind into an
// [Expected]: a length, digests, the fingerprint of a reference file or
// of a known-good server's answer.
func statedExpectation(ctx context.Context, v *Verifier, r scenarios.Request) (*Expected, error) {
	w := r.Want
	e := &Expected{Source: results.EvidenceExpectation, Length: -1}
	if w.Length != nil {
		e.Length = *w.Length
	}
	e.Digests = w.Digest
	var ref *Reference
	var err error
	switch {
	case w.ReferenceFile != "":
		ref, err = fingerprintFile(w.ReferenceFile)
	case w.ReferenceURL != "":
		ref, err = fetchKnownGood(ctx, v, r, w.ReferenceURL)
	}
	if err != nil {
		return nil, err
	}
	if ref != nil {
		if e.Length >= 0 && e.Length != ref.Length {
			return nil, fmt.Errorf("want.length %d disagrees with the reference's %d bytes", e.Length, ref.Length)
		}
		e.Ref, e.Length = ref, ref.Length
	}
	return e, nil
}

// fingerprintFile fingerprints a reference file.
func fingerprintFile(path string) (*Reference, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("want.reference_file: %w", err)
	}
	defer f.Close()
	st := newBodyState(nil)
	st.blocks = []uint32{}
	buf := make([]byte, bufSize)
	for {
		n, err := f.Read(buf)
		st.add(buf[:n], nil)
		if st.n > maxReferenceBytes {
			return nil, fmt.Errorf("want.reference_file %s: over %d bytes", path, int64(maxReferenceBytes))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("want.reference_file: %w", err)
		}
	}
	st.finish(nil)
	return &Reference{Length: st.n, CRC32C: st.crc, Blocks: st.blocks}, nil
}

// fetchKnownGood fetches the user's known-good copy (loopback only: the
// harness talks to nothing else) and fingerprints it; it must verify by its
// own framing and digest.
func fetchKnownGood(ctx context.Context, v *Verifier, r scenarios.Request, raw string) (*Reference, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("want.reference_url %q: %w", raw, err)
	}
	if err := requireLoopback(u.Hostname()); err != nil {
		return nil, fmt.Errorf("want.reference_url %q: %w", raw, err)
	}
	tr := &http.Transport{DisableCompression: true, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, r.Method, raw, nil)
	if err != nil {
		return nil, fmt.Errorf("want.reference_url: %w", err)
	}
	for k, val := range r.Headers {
		req.Header.Set(k, val)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	vd := v.Verify(cctx, (&http.Client{Transport: tr}).Do, req, Check{Fingerprint: true})
	if vd.Outcome != results.Complete && vd.Outcome != results.Unverified {
		return nil, fmt.Errorf("want.reference_url %s did not answer whole: %s after %d bytes: %v", raw, vd.Outcome, vd.Received, vd.Err)
	}
	return vd.Fingerprint, nil
}

// requireLoopback refuses a host that is not a loopback address: the
// harness is a load generator and talks to this machine only.
func requireLoopback(host string) error {
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("host %q is not loopback (accepted: 127.0.0.1, ::1, localhost)", host)
}
