package adversary

import (
	"bytes"
	"crypto/md5"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/truncheck/truncheck/harness/origin"
)

// Body returns the deterministic body of size bytes (the bodies origin's
// formula, origin.Body), held in memory to be served and cut.
func Body(size int) []byte {
	b, _ := io.ReadAll(origin.Body(int64(size)))
	return b
}

// Origin serves one body in the misleading ways listed in the package doc.
type Origin struct {
	body []byte
	etag string
}

// NewOrigin returns an origin serving body.
func NewOrigin(body []byte) *Origin {
	return &Origin{body: body, etag: `"` + strconv.FormatUint(uint64(len(body)), 36) + `"`}
}

// Handler is the origin's routes.
func (o *Origin) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", o.etag)
		http.ServeContent(w, r, "file", time.Unix(1_700_000_000, 0), bytes.NewReader(o.body))
	})
	mux.HandleFunc("GET /close-delimited", func(w http.ResponseWriter, r *http.Request) {
		raw(w, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n", o.body)
	})
	mux.HandleFunc("GET /digest/{alg}", func(w http.ResponseWriter, r *http.Request) {
		var field string
		switch alg := r.PathValue("alg"); alg {
		case "sha-384":
			sum := sha512.Sum384(o.body)
			field = "sha-384=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
		case "md5":
			sum := md5.Sum(o.body)
			field = "md5=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
		case "malformed":
			field = "sha-256=not-a-byte-sequence"
		default:
			http.Error(w, "unknown algorithm (accepted: sha-384, md5, malformed)", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Digest", field)
		w.Header().Set("Content-Length", strconv.Itoa(len(o.body)))
		_, _ = w.Write(o.body)
	})
	mux.HandleFunc("GET /trailer/sha-512", func(w http.ResponseWriter, r *http.Request) {
		sum := sha512.Sum512(o.body)
		bad := bytes.Clone(o.body)
		bad[len(bad)/2] ^= 0xff
		w.Header().Set("Trailer", "Content-Digest")
		_, _ = w.Write(bad)
		w.Header().Set("Content-Digest", "sha-512=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
	})
	mux.HandleFunc("GET /no-content", func(w http.ResponseWriter, r *http.Request) {
		raw(w, "HTTP/1.1 204 No Content\r\nContent-Length: 100\r\nConnection: close\r\n\r\n", nil)
	})
	mux.HandleFunc("GET /not-modified", func(w http.ResponseWriter, r *http.Request) {
		raw(w, fmt.Sprintf("HTTP/1.1 304 Not Modified\r\nETag: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", o.etag, len(o.body)), nil)
	})
	return mux
}

// raw writes a response byte for byte on the hijacked connection and
// closes it: the shapes net/http's server would not send.
func raw(w http.ResponseWriter, head string, body []byte) {
	c, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	defer c.Close()
	_, _ = buf.WriteString(head)
	_, _ = buf.Write(body)
	_ = buf.Flush()
}

// Gateway relays to an upstream and launders cuts: for one request in
// CutOneIn (drawn from Seed) it copies only a random part of the upstream
// body, then ends its own response cleanly. It drops Content-Length and
// every digest, so Go's server re-chunks the body: a well-framed, shorter
// response, the proxy that io.Copies and ignores the error.
type Gateway struct {
	Upstream string // base URL, e.g. http://127.0.0.1:8080
	CutOneIn int    // 1 cuts every response
	Seed     uint64
	Client   *http.Client // nil => a client of its own

	once sync.Once
	mu   sync.Mutex
	rng  *rand.Rand
	cuts int
}

// Cuts returns how many responses the gateway has cut so far.
func (g *Gateway) Cuts() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cuts
}

// ServeHTTP relays r, cutting it when the draw says so.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.once.Do(func() {
		g.rng = rand.New(rand.NewPCG(g.Seed, 0x676174))
		if g.Client == nil {
			g.Client = &http.Client{Transport: &http.Transport{DisableCompression: true}}
		}
	})
	out, err := http.NewRequestWithContext(r.Context(), r.Method, g.Upstream+r.URL.RequestURI(), nil)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	resp, err := g.Client.Do(out)
	if err != nil {
		http.Error(w, "upstream unreachable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	var src io.Reader = resp.Body
	g.mu.Lock()
	n := g.CutOneIn
	cut := n > 0 && g.rng.IntN(n) == 0
	var keep int64
	if cut {
		g.cuts++
		if resp.ContentLength > 1 {
			keep = 1 + g.rng.Int64N(resp.ContentLength-1)
		}
	}
	g.mu.Unlock()
	if cut {
		src = io.LimitReader(resp.Body, keep)
	}
	for k, v := range resp.Header {
		if k == "Content-Length" || k == "Content-Digest" || k == "Repr-Digest" {
			continue
		}
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, src) // the laundering: whatever arrived, end cleanly
}
