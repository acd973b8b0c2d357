package account

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/truncheck/truncheck/results"
)

// DefaultMax is how many accounts a [Store] keeps when NewStore gets 0.
const DefaultMax = 8192

// MaxWait bounds GET {id}?wait=.
const MaxWait = 30 * time.Second

// Store keeps the accounts of the most recent requests, the oldest
// forgotten first. It is safe for concurrent use.
type Store struct {
	mu   sync.Mutex
	max  int
	byID map[string]*entry
	ring []string
	next int
}

// entry is an account plus a channel closed when its handler returned.
type entry struct {
	acc  results.Account
	conn *connState
	done chan struct{}
}

// NewStore returns a store keeping up to max accounts (0 => DefaultMax).
func NewStore(max int) *Store {
	if max <= 0 {
		max = DefaultMax
	}
	return &Store{max: max, byID: make(map[string]*entry), ring: make([]string, max)}
}

// Wrap returns h with every request accounted for: X-Request-Id read (or
// made up) and echoed, the response's status, promised length, accepted
// bytes and first write error recorded, the account finished when h
// returns. A bad X-Request-Id is answered 400 without calling h.
func (s *Store) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := requestID(r.Header.Get("X-Request-Id"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "1..128 characters of A-Z a-z 0-9 . _ : -")
			return
		}
		w.Header().Set("X-Request-Id", id)
		connID, tracked := connFrom(r.Context())
		e := s.start(results.Account{RequestID: id, Method: r.Method, Path: r.URL.RequestURI(), ContentLength: -1,
			ConnID: connID, Started: time.Now().UTC()}, tracked)
		aw := &writer{rw: w, s: s, e: e, noBody: r.Method == http.MethodHead}
		defer func() {
			p := recover()
			s.finish(e, func(a *results.Account) {
				aw.wroteHeader(http.StatusOK)
				a.Ended = time.Now().UTC()
				a.Finished = true
				if p != nil && a.WriteError == "" {
					a.WriteError = fmt.Sprintf("handler panicked: %v", p)
				}
				a.Complete = a.WriteError == "" && (a.ContentLength < 0 || a.BytesWritten == a.ContentLength)
			})
			if p != nil {
				panic(p)
			}
		}()
		h.ServeHTTP(aw, r)
	})
}

func (s *Store) start(a results.Account, c *connState) *entry {
	e := &entry{acc: a, conn: c, done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.byID[a.RequestID]; !exists {
		if old := s.ring[s.next]; old != "" {
			delete(s.byID, old)
		}
		s.ring[s.next] = a.RequestID
		s.next = (s.next + 1) % s.max
	}
	s.byID[a.RequestID] = e
	return e
}

func (s *Store) update(e *entry, fn func(*results.Account)) {
	s.mu.Lock()
	fn(&e.acc)
	s.mu.Unlock()
}

func (s *Store) finish(e *entry, fn func(*results.Account)) {
	s.update(e, fn)
	close(e.done)
}

// Account returns the account of a request id as it stands.
func (s *Store) Account(id string) (results.Account, bool) {
	s.mu.Lock()
	e, ok := s.byID[id]
	s.mu.Unlock()
	if !ok {
		return results.Account{}, false
	}
	return s.read(e), true
}

// Wait returns the account of a request id once its handler returned, or
// as it stands when ctx ends first.
func (s *Store) Wait(ctx context.Context, id string) (results.Account, bool) {
	s.mu.Lock()
	e, ok := s.byID[id]
	s.mu.Unlock()
	if !ok {
		return results.Account{}, false
	}
	select {
	case <-e.done:
	case <-ctx.Done():
	}
	return s.read(e), true
}

func (s *Store) read(e *entry) results.Account {
	s.mu.Lock()
	a := e.acc
	s.mu.Unlock()
	if e.conn != nil {
		a.ConnEnd = e.conn.end()
	}
	return a
}

// Handler serves GET .../{id}[?wait=DURATION]: the id is the last element
// of the path, so mount it at any prefix, e.g.
// mux.Handle("GET /accounts/", store.Handler()).
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed", "GET")
			return
		}
		id := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		var wait time.Duration
		if v := r.URL.Query().Get("wait"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > MaxWait {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("bad wait %q", v), "a duration from 0s to 30s, e.g. 2s")
				return
			}
			wait = d
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		a, ok := s.Wait(ctx, id)
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no account for request id %q", id),
				"a request id this server answered recently (it keeps the last "+strconv.Itoa(s.max)+")")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a)
	})
}

func writeError(w http.ResponseWriter, status int, msg, accepted string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error    string `json:"error"`
		Accepted string `json:"accepted,omitempty"`
	}{msg, accepted})
}

// requestID validates the caller's id, or makes one up.
func requestID(id string) (string, error) {
	if id == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		return "acct-" + hex.EncodeToString(b[:]), nil
	}
	if len(id) > 128 {
		return "", errors.New("X-Request-Id longer than 128 characters")
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return "", errors.New("X-Request-Id has a character outside the accepted set")
		}
	}
	return id, nil
}

// writer records what the handler writes. It keeps the wrapped writer's
// abilities: Flush, and through Unwrap everything http.ResponseController
// reaches (Hijack, deadlines).
type writer struct {
	rw     http.ResponseWriter
	s      *Store
	e      *entry
	noBody bool
	header bool // WriteHeader called (guarded by s.mu through update)
}

// wroteHeader records the status and promised length once; s.mu is held
// by the caller (inside update/finish) or taken here.
func (w *writer) wroteHeader(status int) {
	if w.header {
		return
	}
	w.header = true
	w.e.acc.Status = status
	if status == http.StatusNoContent || status == http.StatusNotModified || w.noBody || (status >= 100 && status < 200) {
		w.e.acc.ContentLength = 0
		return
	}
	if cl, err := strconv.ParseInt(w.rw.Header().Get("Content-Length"), 10, 64); err == nil && cl >= 0 {
		w.e.acc.ContentLength = cl
	}
}

func (w *writer) Header() http.Header { return w.rw.Header() }

func (w *writer) WriteHeader(status int) {
	w.s.update(w.e, func(*results.Account) {
		if status >= 200 {
			w.wroteHeader(status)
		}
	})
	w.rw.WriteHeader(status)
}

func (w *writer) Write(p []byte) (int, error) {
	w.s.update(w.e, func(*results.Account) { w.wroteHeader(http.StatusOK) })
	n, err := w.rw.Write(p)
	w.s.update(w.e, func(a *results.Account) {
		if !w.noBody {
			a.BytesWritten += int64(n)
		}
		if err != nil && a.WriteError == "" {
			a.WriteError = err.Error()
		}
	})
	return n, err
}

// Flush sends what is buffered; a failure is the response's write error.
func (w *writer) Flush() {
	if err := http.NewResponseController(w.rw).Flush(); err != nil {
		w.s.update(w.e, func(a *results.Account) {
			if a.WriteError == "" {
				a.WriteError = err.Error()
			}
		})
	}
}

// Unwrap lets http.ResponseController reach the server's own writer.
func (w *writer) Unwrap() http.ResponseWriter { return w.rw }

// Listener wraps a server's listener so that accounts know each request's
// connection: its id (conn_id) and how it ended (conn_end), including a
// socket write that failed below the handler (after the handler's writes
// were buffered and accepted). Use it with [ConnContext] as the server's
// ConnContext.
func Listener(l net.Listener) net.Listener { return &listener{Listener: l} }

type listener struct {
	net.Listener
	seq uint64
	mu  sync.Mutex
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.seq++
	n := l.seq
	l.mu.Unlock()
	id := fmt.Sprintf("conn-%d", n)
	if named, ok := c.(interface{ ID() string }); ok {
		id = named.ID()
	}
	return &conn{Conn: c, st: &connState{id: id}}, nil
}

// connState is what a tracked connection knows of its end.
type connState struct {
	id     string
	mu     sync.Mutex
	err    string
	closed bool
}

func (c *connState) end() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.err != "":
		return "error: " + c.err
	case c.closed:
		return "closed"
	}
	return "open"
}

type conn struct {
	net.Conn
	st *connState
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		c.st.mu.Lock()
		if c.st.err == "" {
			c.st.err = err.Error()
		}
		c.st.mu.Unlock()
	}
	return n, err
}

func (c *conn) Close() error {
	c.st.mu.Lock()
	c.st.closed = true
	c.st.mu.Unlock()
	return c.Conn.Close()
}

// CloseWrite half-closes when the wrapped conn can (net/http uses it).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// ID is the connection's id.
func (c *conn) ID() string { return c.st.id }

type connKey struct{}

// ConnContext puts the accepted connection in the request context; use it
// as http.Server.ConnContext so accounts carry the connection's id (any
// conn with an ID() string method, e.g. one wrapped by the harness's
// transport or by [Listener]) and, with [Listener], how it ended.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// connFrom returns the request's connection id, and its state when
// [Listener] tracks it. Over TLS the server's conn is a *tls.Conn: the id
// is found on the conn beneath it (NetConn), where the tracking sits.
func connFrom(ctx context.Context) (string, *connState) {
	c, _ := ctx.Value(connKey{}).(net.Conn)
	for range maxLayers {
		switch x := c.(type) {
		case *conn:
			return x.st.id, x.st
		case interface{ ID() string }:
			return x.ID(), nil
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return "", nil
		}
	}
	return "", nil
}

// maxLayers bounds the walk down a chain of conn wrappers.
const maxLayers = 16
