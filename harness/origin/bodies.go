package origin

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/truncheck/truncheck/harness/account"
	"github.com/truncheck/truncheck/harness/digest"
	"github.com/truncheck/truncheck/transport"
)

// MaxBodySize bounds what [Bodies] serves: a typo in a size must not
// exhaust the machine.
const MaxBodySize int64 = 4 << 30

// Body returns a reader of the deterministic body of n bytes: 8-byte
// little-endian blocks, block k = SplitMix64's finaliser of
// n*0x9E3779B97F4A7C15 + k, cut to n bytes. The hyper target's /bytes/{n}
// and the survey's files are the same bytes, so a client can check every
// byte of any of them without a reference from the server under test.
func Body(n int64) io.Reader {
	return &bodyReader{n: n, base: uint64(n) * 0x9E3779B97F4A7C15}
}

type bodyReader struct {
	n, off int64
	base   uint64
	block  [8]byte
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.off >= b.n {
		return 0, io.EOF
	}
	if rest := b.n - b.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	done := 0
	for done < len(p) {
		z := blockValue(b.base, uint64(b.off/8))
		if b.off%8 == 0 && len(p)-done >= 8 {
			// Whole blocks go straight into p: most of a large read.
			binary.LittleEndian.PutUint64(p[done:], z)
			done += 8
			b.off += 8
			continue
		}
		binary.LittleEndian.PutUint64(b.block[:], z)
		c := copy(p[done:], b.block[b.off%8:])
		done += c
		b.off += int64(c)
	}
	return done, nil
}

// blockValue is block k of the body whose base is base: SplitMix64's
// finaliser of base + k.
func blockValue(base, k uint64) uint64 {
	z := base + k
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// BodyDigest is the digest of Body(n) with alg.
func BodyDigest(alg string, n int64) []byte {
	h := digest.NewHash(alg)
	if h == nil {
		return nil
	}
	_, _ = io.Copy(h, Body(n))
	return h.Sum(nil)
}

// Bodies is a fast, pure-Go origin of large deterministic bodies:
//
//	GET /bytes/{size}              Body(size), Content-Length, Content-Digest (the
//	                               Want-Content-Digest choice, sha-256 by default)
//	GET /bytes/{size}?stream=1     chunked, the digest as a trailer
//	GET /bytes/{size}?digest=0     no digest (framing only)
//	GET /bytes/{size}?framing=close  no Content-Length, close-delimited on HTTP/1.1
//	                               (Transfer-Encoding: identity, Go's way to ask for it)
//	GET /fetch?src=/bytes/{size}   (the outer tier of a nested pipeline)
//
// {size} is in truncheck's size grammar ("3300000", "16MiB"). Every
// answer has an account (Accounts, and GET /accounts/{id}); its bytes are
// right by construction, so its clean twin is the reference (Trusted).
func Bodies() Origin {
	st := account.NewStore(0)
	mux := http.NewServeMux()
	mux.Handle("GET /accounts/", st.Handler())
	mux.Handle("GET /bytes/{size}", st.Wrap(&bodyServer{digests: map[digestKey][]byte{}}))
	o := Origin{Name: "bodies", Handler: mux, Accounts: st, ConnContext: account.ConnContext, Trusted: true}
	o.Outer = func(upstream *http.Client, base string) (Origin, error) { return fetchThrough(upstream, base), nil }
	return o
}

// sizeOf reads {size}; the error is the answer's text.
func sizeOf(s string) (int64, error) {
	n, err := transport.ParseSize(s)
	if err != nil || n > MaxBodySize {
		return 0, fmt.Errorf("bad size %q (accepted: 0 to 4GiB, e.g. 3300000 or 16MiB)", s)
	}
	return n, nil
}

// bodyServer serves Body(n); the digests of the sizes asked for are kept
// (the bodies never change), so a digest costs one pass over a size, not
// one per request.
type bodyServer struct {
	mu      sync.Mutex
	digests map[digestKey][]byte
}

type digestKey struct {
	alg string
	n   int64
}

// maxDigests bounds the digests kept: a run asks for a few sizes.
const maxDigests = 256

func (b *bodyServer) digest(alg string, n int64) []byte {
	k := digestKey{alg, n}
	b.mu.Lock()
	d, ok := b.digests[k]
	b.mu.Unlock()
	if ok {
		return d
	}
	d = BodyDigest(alg, n)
	b.mu.Lock()
	if len(b.digests) >= maxDigests {
		clear(b.digests)
	}
	b.digests[k] = d
	b.mu.Unlock()
	return d
}

func (b *bodyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, err := sizeOf(r.PathValue("size"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	stream, noDigest, closeDelimited := q.Get("stream") == "1", q.Get("digest") == "0", q.Get("framing") == "close"
	alg := digest.Choose(r.Header.Get("Want-Content-Digest"), digest.SHA256)
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if !stream {
		if closeDelimited {
			h.Set("Transfer-Encoding", "identity")
		} else {
			h.Set("Content-Length", strconv.FormatInt(n, 10))
		}
		if !noDigest {
			h.Set("Content-Digest", digest.Digest{Algorithm: alg, Value: b.digest(alg, n)}.String())
		}
		if r.Method != http.MethodHead {
			_, _ = io.Copy(w, Body(n))
		}
		return
	}
	if !noDigest {
		h.Set("Trailer", "Content-Digest")
	}
	var sum hash.Hash
	var dst io.Writer = w
	if !noDigest {
		sum = digest.NewHash(alg)
		dst = io.MultiWriter(w, sum)
	}
	if _, err := io.Copy(dst, Body(n)); err != nil || sum == nil {
		return
	}
	h.Set("Content-Digest", digest.Digest{Algorithm: alg, Value: sum.Sum(nil)}.String())
}

// fetchThrough is the outer tier of a nested pipeline over [Bodies]:
// GET /fetch?src=PATH reads PATH from base through upstream, whole or not
// at all (its Content-Length and digest checked), then serves it. A cut
// upstream body is a 502: the shape of a pipeline that will not launder.
func fetchThrough(upstream *http.Client, base string) Origin {
	st := account.NewStore(0)
	mux := http.NewServeMux()
	mux.Handle("GET /accounts/", st.Handler())
	mux.Handle("GET /fetch", st.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src := r.URL.Query().Get("src")
		if !strings.HasPrefix(src, "/") {
			http.Error(w, "missing src (accepted: a path of the upstream, e.g. /bytes/3MB)", http.StatusBadRequest)
			return
		}
		body, err := fetchWhole(r.Context(), upstream, base+src)
		if err != nil {
			http.Error(w, "upstream body incomplete: "+err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("Content-Digest", digest.Digest{Algorithm: digest.SHA256, Value: digest.Sum(digest.SHA256, body)}.String())
		_, _ = w.Write(body)
	})))
	return Origin{Name: "bodies-outer", Handler: mux, Accounts: st, ConnContext: account.ConnContext, Trusted: true}
}

// fetchWhole reads a body and checks its length and digest.
func fetchWhole(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize))
	if err != nil {
		return nil, err
	}
	if resp.ContentLength >= 0 && int64(len(body)) != resp.ContentLength {
		return nil, fmt.Errorf("%d of %d bytes", len(body), resp.ContentLength)
	}
	if f := resp.Header.Get("Content-Digest"); f != "" {
		ds, err := digest.Parse(f)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if got := digest.Sum(d.Algorithm, body); got != nil && string(got) != string(d.Value) {
				return nil, errors.New("digest mismatch")
			}
		}
	}
	return body, nil
}
