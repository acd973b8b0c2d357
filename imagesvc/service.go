package imagesvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Config tunes a Service. Every zero value is a sensible default.
type Config struct {
	MaxUploadBytes int64     // 0 => 64 MiB; a larger upload gets 413
	MaxPixels      int64     // 0 => 50_000_000; checked from the image header before decoding
	MaxOps         int       // 0 => 16 operations per chain
	Upstream       *Upstream // nil => the /fetch route answers 404
	MaxConcurrent  int       // 0 => GOMAXPROCS transforms at once; others wait (or give up with their context)
	MaxAccounts    int       // 0 => DefaultMaxAccounts records kept, oldest evicted first
	// CacheBytes bounds the cache of transformed built-in images (the same request
	// always gives the same bytes, and load tests repeat requests). 0 => 512 MiB;
	// negative => no cache.
	CacheBytes int64
	// StreamChunk is the size of each Write in stream mode. 0 => 256 KiB.
	StreamChunk int
}

// Upstream is the inner service the /fetch route reads from (nested pipelines).
type Upstream struct {
	Client  *http.Client // used for fetches from the inner service
	BaseURL string       // e.g. "http://inner" (the client's transport decides TCP/Unix)
}

// Service is the image-transform HTTP service. It is safe for concurrent use.
type Service struct {
	cfg     Config
	images  map[string]*builtin
	order   []string
	acc     *accounts
	sem     chan struct{}
	flight  singleflight.Group
	cache   *cache
	handler http.Handler
}

// New builds a Service. The built-in images are generated lazily, once each, on
// first use, so New itself is cheap.
func New(cfg Config) (*Service, error) {
	if cfg.MaxUploadBytes < 0 || cfg.MaxPixels < 0 || cfg.MaxOps < 0 || cfg.MaxConcurrent < 0 ||
		cfg.MaxAccounts < 0 || cfg.StreamChunk < 0 {
		return nil, errors.New("imagesvc: negative limit in Config (zero means default)")
	}
	if cfg.MaxUploadBytes == 0 {
		cfg.MaxUploadBytes = 64 << 20
	}
	if cfg.MaxPixels == 0 {
		cfg.MaxPixels = 50_000_000
	}
	if cfg.MaxOps == 0 {
		cfg.MaxOps = 16
	}
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxAccounts == 0 {
		cfg.MaxAccounts = DefaultMaxAccounts
	}
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = 512 << 20
	}
	if cfg.StreamChunk == 0 {
		cfg.StreamChunk = 256 << 10
	}
	if u := cfg.Upstream; u != nil {
		if u.Client == nil {
			return nil, errors.New("imagesvc: Config.Upstream.Client is nil")
		}
		if p, err := url.Parse(u.BaseURL); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("imagesvc: Config.Upstream.BaseURL %q: want http://host or https://host", u.BaseURL)
		}
	}
	warmVips()
	s := &Service{
		cfg:    cfg,
		images: make(map[string]*builtin),
		acc:    newAccounts(cfg.MaxAccounts),
		sem:    make(chan struct{}, cfg.MaxConcurrent),
		cache:  newCache(cfg.CacheBytes),
	}
	for _, sp := range builtinSpecs {
		s.images[sp.info.Name] = &builtin{info: sp.info, pixels: builtinPixels[sp.info.Name]}
		s.order = append(s.order, sp.info.Name)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /images", s.handleList)
	mux.HandleFunc("GET /images/{name}", s.wrap(s.serveBuiltin))
	mux.HandleFunc("POST /transform", s.wrap(s.serveUpload))
	mux.HandleFunc("GET /fetch", s.wrap(s.serveFetch))
	mux.HandleFunc("GET /accounts/{id}", s.handleAccount)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, &inputError{status: 404, msg: "no such route",
			accepted: "GET /images, GET /images/{name}, POST /transform, GET /fetch, GET /accounts/{id}"})
	})
	s.handler = mux
	return s, nil
}

// overlay is the image the overlay operation blends in.
func (s *Service) overlay() vipsImage { return s.images["logo"].pixels.image() }

// Handler returns the service's HTTP handler (routes in the package doc).
func (s *Service) Handler() http.Handler { return s.handler }

// Account returns the server-side account of a request id, if still kept.
func (s *Service) Account(requestID string) (Account, bool) { return s.acc.get(requestID) }

// WaitAccount returns a request's account once its handler has finished (or
// its current state when ctx ends first). A client can read a whole response
// before the handler's last Write returns, so checks right after a response
// should wait here rather than call Account.
func (s *Service) WaitAccount(ctx context.Context, requestID string) (Account, bool) {
	return s.acc.wait(ctx, requestID)
}

// Images lists the built-in images in size order.
func (s *Service) Images() []ImageInfo {
	out := make([]ImageInfo, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.images[n].info)
	}
	return out
}

// TransformPath runs a request path such as "/images/photo-4mp?ops=rotate:deg=90&format=png"
// in-process and returns the exact bytes GET would send: the harness's reference.
func (s *Service) TransformPath(ctx context.Context, pathAndQuery string) ([]byte, error) {
	u, err := url.Parse(pathAndQuery)
	if err != nil {
		return nil, fmt.Errorf("imagesvc: path %s: %w", quoteToken(pathAndQuery), ErrBadRequest)
	}
	name, ok := strings.CutPrefix(u.Path, "/images/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("imagesvc: path %s: want /images/{name}?...: %w", quoteToken(u.Path), ErrBadRequest)
	}
	q, err := parseRawQuery(u.RawQuery)
	if err != nil {
		return nil, err
	}
	res, _, err := s.builtinResult(ctx, name, q)
	if err != nil {
		return nil, err
	}
	return res.body, nil
}

// result is a finished body plus a memo of its digests (shared via the cache).
type result struct {
	body   []byte
	format Format
	mu     sync.Mutex
	digest map[DigestAlg]string
}

func (r *result) contentDigest(alg DigestAlg) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.digest[alg]; ok {
		return d
	}
	d := ContentDigest(alg, r.body)
	if r.digest == nil {
		r.digest = map[DigestAlg]string{}
	}
	r.digest[alg] = d
	return d
}

// request is what every transform route parses from its query.
type request struct {
	chain  chain
	out    output
	stream bool
}

func (s *Service) parseQuery(q url.Values, extra ...string) (request, error) {
	allowed := append([]string{"ops", "format", "quality", "speed", "stream"}, extra...)
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		if !known {
			return request{}, badInput(400, strings.Join(allowed, ", "), "unknown query parameter %s", quoteToken(k))
		}
		if len(q[k]) != 1 {
			return request{}, badInput(400, "each parameter once", "query parameter %s given %d times", quoteToken(k), len(q[k]))
		}
	}
	req := request{out: output{format: JPEG, quality: DefaultQuality, speed: DefaultSpeed}}
	var err error
	if req.chain, err = parseChain(q.Get("ops"), s.cfg.MaxOps); err != nil {
		return request{}, err
	}
	if v := q.Get("format"); v != "" {
		if req.out.format, err = parseFormat(v); err != nil {
			return request{}, err
		}
	}
	intq := func(k string, min, max int, dst *int) error {
		v, ok := q[k]
		if !ok {
			return nil
		}
		n, ok := parseBounded(v[0], min, max)
		if !ok {
			return badInput(400, fmt.Sprintf("%s: integer %d..%d", k, min, max), "bad value %s for %s", quoteToken(v[0]), k)
		}
		*dst = n
		return nil
	}
	if err := intq("quality", 1, 100, &req.out.quality); err != nil {
		return request{}, err
	}
	if err := intq("speed", 0, 9, &req.out.speed); err != nil {
		return request{}, err
	}
	switch v := q.Get("stream"); v {
	case "", "0", "false":
	case "1", "true":
		req.stream = true
	default:
		return request{}, badInput(400, "stream: 0, 1, true, false", "bad value %s for stream", quoteToken(v))
	}
	return req, nil
}

// builtinResult transforms a built-in image, through the cache: concurrent
// identical requests share one transform.
func (s *Service) builtinResult(ctx context.Context, name string, q url.Values) (*result, bool, error) {
	b, ok := s.images[name]
	if !ok {
		return nil, false, badInput(404, strings.Join(s.order, ", "), "no built-in image %s", quoteToken(name))
	}
	req, err := s.parseQuery(q)
	if err != nil {
		return nil, false, err
	}
	in := dims{b.info.Width, b.info.Height}
	p, err := s.planChain(req.chain, in, false)
	if err != nil {
		return nil, false, err
	}
	key := name + "?ops=" + req.chain.String() + "&" + req.out.String()
	if r := s.cache.get(key); r != nil {
		return r, req.stream, nil
	}
	v, err, _ := s.flight.Do(key, func() (any, error) {
		if r := s.cache.get(key); r != nil {
			return r, nil
		}
		// Detached from one caller's cancellation: the work is shared.
		ctx := context.WithoutCancel(ctx)
		body, err := s.transform(ctx, engineSource{image: b.pixels.image()}, p, req.out)
		if err != nil {
			return nil, err
		}
		r := &result{body: body, format: req.out.format}
		s.cache.put(key, r)
		return r, nil
	})
	if err != nil {
		return nil, false, err
	}
	return v.(*result), req.stream, nil
}

// handler is a route's body: it returns a result or an error; wrap does the writing.
type handlerFunc func(r *http.Request, id string) (*result, bool, error)

// wrap is the one place that writes transform responses: it validates the request
// id, keeps the account, and never ignores a Write error.
func (s *Service) wrap(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := requestID(r)
		if err != nil {
			writeJSONError(w, err)
			return
		}
		w.Header().Set("X-Request-Id", id)
		acc := s.acc.start(Account{
			RequestID: id, Method: r.Method, Path: r.URL.Path, ConnID: connID(r.Context()),
			Started: time.Now(), ContentLength: -1,
		})
		var res *result
		var stream bool
		err = safeCall(func() error {
			var err error
			res, stream, err = h(r, id)
			return err
		})
		var status int
		var n int64
		var werr error
		if err != nil {
			status, n, werr = writeJSONError(w, err)
			if cl, perr := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64); perr == nil {
				s.acc.update(acc, func(a *Account) { a.ContentLength = cl })
			}
		} else {
			status = http.StatusOK
			n, werr = s.writeBody(w, r, acc, res, stream)
		}
		s.acc.finish(acc, func(a *Account) {
			a.Status = status
			a.BytesWritten = n
			if werr != nil {
				a.WriteError = "write failed: " + werr.Error()
			}
			a.Complete = werr == nil && (a.ContentLength < 0 || n == a.ContentLength || r.Method == http.MethodHead)
			a.Finished = time.Now()
		})
	}
}

// writeBody sends a 200. Without stream the whole image goes to the HTTP layer in
// one Write (the shape of the bug class this project hunts); with stream it goes
// in StreamChunk pieces, chunked, with Content-Digest as a trailer.
func (s *Service) writeBody(w http.ResponseWriter, r *http.Request, acc *accountEntry, res *result, stream bool) (int64, error) {
	alg := chooseDigest(r.Header.Get("Want-Content-Digest"))
	h := w.Header()
	h.Set("Content-Type", res.format.ContentType())
	if !stream {
		h.Set("Content-Length", strconv.Itoa(len(res.body)))
		h.Set("Content-Digest", res.contentDigest(alg))
		s.acc.update(acc, func(a *Account) { a.ContentLength = int64(len(res.body)) })
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return 0, nil // head only: nothing promised beyond it
		}
		n, err := w.Write(res.body)
		return int64(n), err
	}
	h.Set("Trailer", "Content-Digest")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var total int64
	for off := 0; off < len(res.body); off += s.cfg.StreamChunk {
		end := min(off+s.cfg.StreamChunk, len(res.body))
		n, err := w.Write(res.body[off:end])
		total += int64(n)
		if err != nil {
			return total, err
		}
		if err := rc.Flush(); err != nil {
			return total, err
		}
	}
	h.Set("Content-Digest", res.contentDigest(alg))
	return total, nil
}

func (s *Service) serveBuiltin(r *http.Request, _ string) (*result, bool, error) {
	q, err := parseRawQuery(r.URL.RawQuery)
	if err != nil {
		return nil, false, err
	}
	return s.builtinResult(r.Context(), r.PathValue("name"), q)
}

// serveUpload and serveFetch live in upload.go.

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Images())
}

// maxAccountWait bounds GET /accounts/{id}?wait=D.
const maxAccountWait = 30 * time.Second

func (s *Service) handleAccount(w http.ResponseWriter, r *http.Request) {
	q, err := parseRawQuery(r.URL.RawQuery)
	if err == nil {
		for k := range q {
			if k != "wait" {
				err = badInput(400, "wait", "unknown query parameter %s", quoteToken(k))
			}
		}
	}
	var wait time.Duration
	if v := q.Get("wait"); err == nil && v != "" {
		wait, err = time.ParseDuration(v)
		if err != nil || wait < 0 || wait > maxAccountWait {
			err = badInput(400, "wait: a duration 0s..30s", "bad value %s for wait", quoteToken(v))
		}
	}
	if err != nil {
		writeJSONError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	a, ok := s.acc.wait(ctx, r.PathValue("id"))
	if !ok {
		writeJSONError(w, badInput(404, "a request id seen recently (the store keeps the last "+strconv.Itoa(s.cfg.MaxAccounts)+")",
			"no account for request id %s", quoteToken(r.PathValue("id"))))
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// requestID returns the caller's X-Request-Id when valid, a new one when absent.
func requestID(r *http.Request) (string, error) {
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		var b [12]byte
		rand.Read(b[:])
		return "isvc-" + hex.EncodeToString(b[:]), nil
	}
	if len(id) > 128 {
		return "", badInput(400, "1..128 characters of A-Z a-z 0-9 . _ : -", "X-Request-Id too long")
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return "", badInput(400, "1..128 characters of A-Z a-z 0-9 . _ : -", "X-Request-Id has a character outside the accepted set")
		}
	}
	return id, nil
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error    string `json:"error"`
	Accepted string `json:"accepted,omitempty"`
}

// writeJSONError maps err to a status and fixed wording, writes it, and reports
// what was written. Errors not from the caller get generic text: nothing from
// libvips or from inside the service leaks out.
func writeJSONError(w http.ResponseWriter, err error) (int, int64, error) {
	var ie *inputError
	var ue *upstreamError
	switch {
	case errors.As(err, &ie):
		// the message may be wrapped with its position ("operation 2: ...")
		msg := err.Error()
		if ie.accepted != "" {
			msg = strings.TrimSuffix(msg, " (accepted: "+ie.accepted+")")
		}
		return writeJSONStatus(w, ie.status, errorBody{Error: msg, Accepted: ie.accepted})
	case errors.As(err, &ue):
		return writeJSONStatus(w, http.StatusBadGateway, errorBody{Error: ue.Error()})
	case errors.Is(err, ErrPanic):
		return writeJSONStatus(w, http.StatusInternalServerError, errorBody{Error: ErrPanic.Error()})
	case errors.Is(err, ErrTransform):
		return writeJSONStatus(w, http.StatusUnprocessableEntity, errorBody{Error: ErrTransform.Error()})
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return writeJSONStatus(w, http.StatusServiceUnavailable, errorBody{Error: "request cancelled or timed out"})
	}
	return writeJSONStatus(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
}

func writeJSON(w http.ResponseWriter, status int, v any) (int, int64, error) {
	return writeJSONStatus(w, status, v)
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) (int, int64, error) {
	body, err := json.Marshal(v)
	if err != nil {
		body = []byte(`{"error":"internal error"}`)
		status = http.StatusInternalServerError
	}
	body = append(body, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	n, werr := w.Write(body)
	return status, int64(n), werr
}

// parseRawQuery splits a query on '&' only, so an unescaped ';' (the chain's
// operation separator) survives; url.ParseQuery rejects it.
func parseRawQuery(raw string) (url.Values, error) {
	q := url.Values{}
	if raw == "" {
		return q, nil
	}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		ku, err := url.QueryUnescape(k)
		if err != nil {
			return nil, badInput(400, "a URL-encoded query", "query parameter %s is not URL-encoded", quoteToken(k))
		}
		vu, err := url.QueryUnescape(v)
		if err != nil {
			return nil, badInput(400, "a URL-encoded query", "value of %s is not URL-encoded", quoteToken(ku))
		}
		q[ku] = append(q[ku], vu)
	}
	return q, nil
}
