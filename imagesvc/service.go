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
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
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
	// RequestBudget is the time a request's transform may take, from when
	// its image is in hand (a built-in, or an upload's or a fetch's body fully
	// read) to the encoded result, queue wait included. A chain whose cost
	// estimate alone exceeds it is refused up front (422), a request that
	// would wait too long for a worker is shed (503 with Retry-After), and
	// one that runs out of it is answered 504. 0 => DefaultRequestBudget;
	// negative => no budget (and no shedding by expected wait).
	RequestBudget time.Duration
	// MaxQueue bounds the transforms waiting for a worker slot; a request
	// beyond it is shed (503). It bounds memory and goroutines; the expected
	// wait against the budget is what normally sheds. 0 => 32 per slot.
	MaxQueue int
	// MaxUploadBytesInFlight bounds the bytes of upload bodies held at once
	// (reserved from Content-Length before reading; MaxUploadBytes for a
	// chunked body); an upload beyond it is shed (503) before its body is
	// read. 0 => 4 x MaxUploadBytes.
	MaxUploadBytesInFlight int64
	// MallocArenas caps glibc's malloc arenas for the process (libvips
	// allocates through malloc on many threads; see memory.go). 0 => 2;
	// negative => glibc's default (8 per core). MALLOC_ARENA_MAX in the
	// environment wins. Applied once per process, by the first New.
	MallocArenas int
	// MallocMmapThreshold fixes the size from which glibc maps a block on
	// its own (returned to the system when freed) instead of carving it from
	// an arena. 0 => 1 MiB; negative => glibc's adaptive default (it rises
	// to 32 MiB). MALLOC_MMAP_THRESHOLD_ in the environment wins. Applied
	// once per process, by the first New.
	MallocMmapThreshold int64
	// MallocTrimInterval is how often at most, after a transform, the free
	// pages inside glibc's arenas are handed back to the system
	// (malloc_trim; see memory.go). 0 => 2s; negative => never.
	MallocTrimInterval time.Duration
}

// DefaultRequestBudget is Config.RequestBudget's default: enough for the
// built-in chains the harness uses on 24 MP (a few seconds each on one core)
// with room for queueing, short enough that a client is not kept waiting
// for minutes by a blur it should not have asked for.
const DefaultRequestBudget = 20 * time.Second

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
	adm     *admission
	flight  *flight
	uploads *semaphore.Weighted // upload body bytes held at once
	cache   *cache
	metrics *metrics
	trimmer *mallocTrimmer
	handler http.Handler

	// testHookWork, set by tests only, runs in a worker slot before the
	// engine: a stand-in for a transform that takes as long as a test needs.
	testHookWork func(ctx context.Context, src engineSource)
}

// New builds a Service. The built-in images are generated lazily, once each, on
// first use, so New itself is cheap.
func New(cfg Config) (*Service, error) {
	if cfg.MaxUploadBytes < 0 || cfg.MaxPixels < 0 || cfg.MaxOps < 0 || cfg.MaxConcurrent < 0 ||
		cfg.MaxAccounts < 0 || cfg.StreamChunk < 0 || cfg.MaxQueue < 0 || cfg.MaxUploadBytesInFlight < 0 {
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
	switch {
	case cfg.RequestBudget == 0:
		cfg.RequestBudget = DefaultRequestBudget
	case cfg.RequestBudget < 0:
		cfg.RequestBudget = 0
	}
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = 32 * cfg.MaxConcurrent
	}
	if cfg.MaxUploadBytesInFlight == 0 {
		cfg.MaxUploadBytesInFlight = 4 * cfg.MaxUploadBytes
	}
	if cfg.MaxUploadBytesInFlight < cfg.MaxUploadBytes {
		return nil, fmt.Errorf("imagesvc: Config.MaxUploadBytesInFlight %d is below MaxUploadBytes %d: the largest upload could never be read",
			cfg.MaxUploadBytesInFlight, cfg.MaxUploadBytes)
	}
	if u := cfg.Upstream; u != nil {
		if u.Client == nil {
			return nil, errors.New("imagesvc: Config.Upstream.Client is nil")
		}
		if p, err := url.Parse(u.BaseURL); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("imagesvc: Config.Upstream.BaseURL %q: want http://host or https://host", u.BaseURL)
		}
	}
	arenas, threshold := cfg.MallocArenas, cfg.MallocMmapThreshold
	if arenas == 0 {
		arenas = 2
	}
	if threshold == 0 {
		threshold = 1 << 20
	}
	tuneMalloc(arenas, threshold)
	if cfg.MallocTrimInterval == 0 {
		cfg.MallocTrimInterval = 2 * time.Second
	}
	warmVips()
	s := &Service{
		cfg:     cfg,
		images:  make(map[string]*builtin),
		acc:     newAccounts(cfg.MaxAccounts),
		adm:     newAdmission(cfg.MaxConcurrent, cfg.MaxQueue),
		flight:  newFlight(),
		uploads: semaphore.NewWeighted(cfg.MaxUploadBytesInFlight),
		cache:   newCache(cfg.CacheBytes),
		trimmer: &mallocTrimmer{interval: cfg.MallocTrimInterval},
	}
	s.metrics = newMetrics(s)
	for _, sp := range builtinSpecs {
		s.images[sp.info.Name] = &builtin{info: sp.info, pixels: builtinPixels[sp.info.Name]}
		s.order = append(s.order, sp.info.Name)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /images", s.handleList)
	mux.HandleFunc("GET /images/{name}", s.wrap("image", s.serveBuiltin))
	mux.HandleFunc("POST /transform", s.wrap("transform", s.serveUpload))
	mux.HandleFunc("GET /fetch", s.wrap("fetch", s.serveFetch))
	mux.HandleFunc("GET /accounts/{id}", s.handleAccount)
	mux.Handle("GET /metrics", s.metrics.handler())
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, &inputError{status: 404, msg: "no such route",
			accepted: "GET /images, GET /images/{name}, POST /transform, GET /fetch, GET /accounts/{id}, GET /metrics"})
	}
	mux.HandleFunc("/", notFound)
	// The mux answers a path it would clean ("//images", "/a/../images")
	// with a redirect of its own in HTML; the service answers in JSON.
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" || !cleanPath(r.URL.Path) {
			notFound(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	return s, nil
}

// overlay is the image the overlay operation blends in.
func (s *Service) overlay() vipsImage { return s.images["logo"].pixels.image() }

// cleanPath says whether the mux would serve p as it is (it redirects a path
// with "//", "." or ".." segments to its clean form).
func cleanPath(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

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
	res, _, err := s.builtinResult(ctx, name, q, inProcess)
	if err != nil {
		return nil, err
	}
	return res.body, nil
}

// Stats reports the admission control's counters and state (also on GET
// /metrics).
func (s *Service) Stats() AdmissionStats { return s.adm.snapshot() }

// caller says who asks for a transform: an HTTP request (budget, shedding)
// or an in-process caller such as TransformPath (it waits for a slot as long
// as its context allows: a reference must not be shed).
type caller int

const (
	fromRequest caller = iota
	inProcess
)

// errBudget is the cause of a request context whose budget ran out (504).
type errBudget struct{ budget time.Duration }

func (e *errBudget) Error() string {
	return fmt.Sprintf("the transform did not finish within the %v time budget", e.budget)
}

// budgeted gives a request's transform its time budget.
func (s *Service) budgeted(ctx context.Context, who caller) (context.Context, context.CancelFunc) {
	if who != fromRequest || s.cfg.RequestBudget <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, s.cfg.RequestBudget, &errBudget{s.cfg.RequestBudget})
}

// run estimates a plan, refuses it when the estimate alone is over the
// budget, then runs it on the flight (shared under key when key is not
// ""), through the admission control.
func (s *Service) run(ctx context.Context, who caller, key string, c chain, src engineSource, p plan, out output) (*result, error) {
	est := estimateCost(c, src, p, out)
	if who == fromRequest {
		if err := overBudget(est, s.cfg.RequestBudget); err != nil {
			s.adm.count(func(st *AdmissionStats) { st.RejectedCost++ })
			return nil, err
		}
	}
	ctx, cancel := s.budgeted(ctx, who)
	defer cancel()
	var shedBy time.Time // the deadline the admission control sheds by
	if d, ok := ctx.Deadline(); ok && who == fromRequest {
		shedBy = d
	}
	res, err := s.flight.do(ctx, key, func(wctx context.Context) (*result, error) {
		if key != "" {
			if r := s.cache.get(key); r != nil {
				return r, nil
			}
		}
		body, err := s.transform(wctx, src, p, out, est.total, who == fromRequest, shedBy)
		if err != nil {
			return nil, err
		}
		r := &result{body: body, format: out.format}
		if key != "" {
			s.cache.put(key, r)
		}
		return r, nil
	})
	var eb *errBudget
	if errors.As(err, &eb) {
		s.adm.count(func(st *AdmissionStats) { st.BudgetExpired++ })
	}
	return res, err
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
func (s *Service) builtinResult(ctx context.Context, name string, q url.Values, who caller) (*result, bool, error) {
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
	if err := checkOutputSize(p.out, req.out.format); err != nil {
		return nil, false, err
	}
	key := name + "?ops=" + req.chain.String() + "&" + req.out.String()
	if r := s.cache.get(key); r != nil {
		return r, req.stream, nil
	}
	res, err := s.run(ctx, who, key, req.chain, engineSource{builtin: b.pixels}, p, req.out)
	if err != nil {
		return nil, false, err
	}
	return res, req.stream, nil
}

// handler is a route's body: it returns a result or an error; wrap does the writing.
type handlerFunc func(r *http.Request, id string) (*result, bool, error)

// wrap is the one place that writes transform responses: it validates the request
// id, keeps the account, and never ignores a Write error.
func (s *Service) wrap(route string, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id, err := requestID(r)
		if err != nil {
			status, _, _ := writeJSONError(w, err)
			s.metrics.observe(route, status, time.Since(start))
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
		var why string
		if err != nil {
			status, n, werr = writeJSONError(w, err)
			why = publicError(err).Error
			if cl, perr := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64); perr == nil {
				s.acc.update(acc, func(a *Account) { a.ContentLength = cl })
			}
		} else {
			status = http.StatusOK
			n, werr = s.writeBody(w, r, acc, res, stream)
		}
		s.metrics.observe(route, status, time.Since(start))
		s.acc.finish(acc, func(a *Account) {
			a.Status = status
			a.Error = why
			a.BytesWritten = n
			if werr != nil {
				a.WriteError = "write failed: " + werr.Error()
			}
			a.Complete = werr == nil && (a.ContentLength < 0 || n == a.ContentLength || r.Method == http.MethodHead)
			a.Finished, a.Ended = true, time.Now().UTC()
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
	return s.builtinResult(r.Context(), r.PathValue("name"), q, fromRequest)
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

// publicErr is an error as the client sees it: status, fixed wording, and
// for a 503 when to retry.
type publicErr struct {
	Status     int
	Error      string
	Accepted   string
	RetryAfter time.Duration
}

// publicError maps err to a status and fixed wording. Errors not from the
// caller get generic text: nothing from libvips or from inside the service
// leaks out.
func publicError(err error) publicErr {
	var ie *inputError
	var ue *upstreamError
	var over *errOverloaded
	var eb *errBudget
	switch {
	case errors.As(err, &ie):
		// the message may be wrapped with its position ("operation 2: ...")
		msg := err.Error()
		if ie.accepted != "" {
			msg = strings.TrimSuffix(msg, " (accepted: "+ie.accepted+")")
		}
		return publicErr{Status: ie.status, Error: msg, Accepted: ie.accepted}
	case errors.As(err, &ue):
		return publicErr{Status: http.StatusBadGateway, Error: ue.Error()}
	case errors.As(err, &over):
		return publicErr{Status: http.StatusServiceUnavailable, Error: over.reason,
			Accepted: "the same request after Retry-After seconds", RetryAfter: over.retryAfter}
	case errors.As(err, &eb):
		return publicErr{Status: http.StatusGatewayTimeout, Error: eb.Error(),
			Accepted: fmt.Sprintf("transforms that finish within %v: a smaller image first, fewer or smaller blurs, a faster format or AVIF speed", eb.budget)}
	case errors.Is(err, ErrPanic):
		return publicErr{Status: http.StatusInternalServerError, Error: ErrPanic.Error()}
	case errors.Is(err, ErrTransform):
		return publicErr{Status: http.StatusUnprocessableEntity, Error: ErrTransform.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return publicErr{Status: http.StatusServiceUnavailable, Error: "request cancelled before its transform finished"}
	}
	return publicErr{Status: http.StatusInternalServerError, Error: "internal error"}
}

// writeJSONError writes err as the client sees it (see publicError) and
// reports what was written.
func writeJSONError(w http.ResponseWriter, err error) (int, int64, error) {
	pe := publicError(err)
	if pe.RetryAfter > 0 || pe.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(pe.RetryAfter)))
	}
	return writeJSONStatus(w, pe.Status, errorBody{Error: pe.Error, Accepted: pe.Accepted})
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
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
