package imagesvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/truncheck/truncheck/harness/digest"
)

// serveUpload is POST /transform: the body is the image. It is read strictly:
// a body shorter than its Content-Length, or a chunked body without its last
// chunk, is refused, because libvips would happily decode half a JPEG.
func (s *Service) serveUpload(r *http.Request, _ string) (*result, bool, error) {
	q, err := parseRawQuery(r.URL.RawQuery)
	if err != nil {
		return nil, false, err
	}
	req, err := s.parseQuery(q)
	if err != nil {
		return nil, false, err
	}
	limit := s.cfg.MaxUploadBytes
	tooLarge := badInput(413, fmt.Sprintf("at most %d bytes", limit), "upload too large")
	if r.ContentLength > limit {
		return nil, false, tooLarge
	}
	// Hold room for the body before reading it: bodies waiting for a worker
	// are memory too.
	reserve := limit
	if r.ContentLength >= 0 {
		reserve = max(r.ContentLength, 1)
	}
	if !s.uploads.TryAcquire(reserve) {
		s.adm.count(func(st *AdmissionStats) { st.RejectedUploads++ })
		return nil, false, &errOverloaded{reason: fmt.Sprintf("the service is busy: more than %d bytes of uploads are in flight", s.cfg.MaxUploadBytesInFlight),
			retryAfter: time.Second}
	}
	defer s.uploads.Release(reserve)
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, false, tooLarge
		case errors.Is(err, io.ErrUnexpectedEOF) && r.ContentLength >= 0:
			return nil, false, badInput(400, "a complete body", "upload body incomplete: got %d of %d bytes", len(body), r.ContentLength)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, false, badInput(400, "a complete body", "upload body incomplete: chunked body ended without its last chunk after %d bytes", len(body))
		default:
			return nil, false, badInput(400, "a complete body", "upload body could not be read after %d bytes", len(body))
		}
	}
	if r.ContentLength >= 0 && int64(len(body)) != r.ContentLength {
		return nil, false, badInput(400, "a complete body", "upload body incomplete: got %d of %d bytes", len(body), r.ContentLength)
	}
	res, err := s.transformBytes(r.Context(), body, req)
	return res, req.stream, err
}

// transformBytes checks an image's header against the limits, then transforms it.
func (s *Service) transformBytes(ctx context.Context, body []byte, req request) (*result, error) {
	f, d, err := sniff(body, s.cfg.MaxPixels)
	if err != nil {
		return nil, err
	}
	p, err := s.planChain(req.chain, d, false)
	if err != nil {
		return nil, err
	}
	if err := checkOutputSize(p.out, req.out.format); err != nil {
		return nil, err
	}
	src := engineSource{encoded: body, format: f, shrink: shrinkOnLoad(f, p)}
	return s.run(ctx, fromRequest, "", req.chain, src, p, req.out)
}

// upstreamError is a failed fetch from the inner service: answered with 502.
// Its text is ours (counts and statuses), never the upstream's body.
type upstreamError struct{ msg string }

func (e *upstreamError) Error() string { return e.msg }

func upstreamf(format string, args ...any) error {
	return &upstreamError{msg: fmt.Sprintf(format, args...)}
}

// serveFetch is GET /fetch?src=/images/...: the nested pipeline. The inner body
// is read strictly (exactly Content-Length bytes, a chunked body must end
// properly, Content-Digest verified when present) and a failure is a 502: a cut
// upstream body is never transformed into a well-formed shorter answer.
func (s *Service) serveFetch(r *http.Request, id string) (*result, bool, error) {
	up := s.cfg.Upstream
	if up == nil {
		return nil, false, badInput(404, "configure Config.Upstream to enable /fetch", "no upstream configured")
	}
	q, err := parseRawQuery(r.URL.RawQuery)
	if err != nil {
		return nil, false, err
	}
	if len(q["src"]) != 1 {
		return nil, false, badInput(400, "src=/images/{name}?... (URL-escaped), once", "query parameter \"src\" given %d times", len(q["src"]))
	}
	src := q.Get("src")
	q.Del("src")
	req, err := s.parseQuery(q)
	if err != nil {
		return nil, false, err
	}
	if !strings.HasPrefix(src, "/images/") || strings.Contains(src, "://") || strings.Contains(src, "..") {
		return nil, false, badInput(400, "src=/images/{name}?... (URL-escaped)", "bad value %s for src", quoteToken(src))
	}
	body, err := s.fetch(r.Context(), up, src, id)
	if err != nil {
		return nil, false, err
	}
	res, err := s.transformBytes(r.Context(), body, req)
	return res, req.stream, err
}

// UpstreamRequestIDSuffix is appended to the request id for the inner request,
// so the inner service's account can be looked up as ID+suffix.
const UpstreamRequestIDSuffix = ".up"

func (s *Service) fetch(ctx context.Context, up *Upstream, src, id string) ([]byte, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(up.BaseURL, "/")+src, nil)
	if err != nil {
		return nil, badInput(400, "src=/images/{name}?... (URL-escaped)", "bad value %s for src", quoteToken(src))
	}
	upID := id + UpstreamRequestIDSuffix
	if len(upID) > 128 {
		upID = id
	}
	hreq.Header.Set("X-Request-Id", upID)
	hreq.Header.Set("Want-Content-Digest", "crc32c=9, sha-256=1")
	resp, err := up.Client.Do(hreq)
	if err != nil {
		return nil, upstreamf("upstream request failed before a response")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, upstreamf("upstream answered status %d", resp.StatusCode)
	}
	limit := s.cfg.MaxUploadBytes
	if resp.ContentLength > limit {
		return nil, upstreamf("upstream body too large: %d bytes, limit %d", resp.ContentLength, limit)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, limit+1))
	switch {
	case n > limit:
		return nil, upstreamf("upstream body too large: over %d bytes", limit)
	case err != nil && resp.ContentLength >= 0:
		return nil, upstreamf("upstream body incomplete: got %d of %d bytes", n, resp.ContentLength)
	case err != nil:
		return nil, upstreamf("upstream body incomplete: chunked body ended without its last chunk after %d bytes", n)
	case resp.ContentLength >= 0 && n != resp.ContentLength:
		return nil, upstreamf("upstream body incomplete: got %d of %d bytes", n, resp.ContentLength)
	}
	body := buf.Bytes()
	field := resp.Header.Get("Content-Digest")
	if field == "" {
		field = resp.Trailer.Get("Content-Digest")
	}
	if field != "" {
		sums := ParseContentDigest(field)
		if len(sums) == 0 {
			return nil, upstreamf("upstream Content-Digest %q is malformed or has no supported algorithm (accepted: %s as alg=:base64:)", field, digest.SupportedNames())
		}
		for alg, want := range sums {
			h := NewHash(alg)
			h.Write(body)
			if !bytes.Equal(h.Sum(nil), want) {
				return nil, upstreamf("upstream body digest mismatch (%s) over %d bytes", alg, n)
			}
		}
	}
	if len(body) == 0 {
		return nil, upstreamf("upstream body empty")
	}
	return body, nil
}
