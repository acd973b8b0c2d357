package imagesvc

import (
	"context"
	"net"
	"sync"
	"time"
)

// Account is the server's own record of one response: what the handler promised,
// what its Writes reported, and whether it believes it sent everything. A client
// that got fewer bytes while Complete is true has found a silent truncation below
// the handler (HTTP library, kernel, a proxy).
type Account struct {
	RequestID     string    `json:"request_id"`
	Method        string    `json:"method"`
	Path          string    `json:"path"`
	Status        int       `json:"status"`
	Error         string    `json:"error,omitempty"` // the error answered, for a non-2xx (as in its JSON body)
	ContentLength int64     `json:"content_length"`  // promised in the head; -1 when streamed (chunked)
	BytesWritten  int64     `json:"bytes_written"`   // sum of what the handler's Writes returned
	WriteError    string    `json:"write_error,omitempty"`
	Complete      bool      `json:"complete"` // every body byte written without error
	ConnID        string    `json:"conn_id,omitempty"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished,omitzero"`
}

// DefaultMaxAccounts bounds the account store when Config.MaxAccounts is 0.
const DefaultMaxAccounts = 100_000

// accounts is a bounded store: a ring of ids evicts the oldest record first.
type accounts struct {
	mu   sync.Mutex
	byID map[string]*accountEntry
	ring []string
	next int
}

// accountEntry is a record plus a channel closed when the handler has finished.
type accountEntry struct {
	acc  Account
	done chan struct{}
}

func newAccounts(n int) *accounts {
	return &accounts{byID: make(map[string]*accountEntry), ring: make([]string, n)}
}

// start registers a new record (replacing an older one with the same id).
func (a *accounts) start(acc Account) *accountEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := &accountEntry{acc: acc, done: make(chan struct{})}
	if _, exists := a.byID[acc.RequestID]; !exists {
		if old := a.ring[a.next]; old != "" {
			delete(a.byID, old)
		}
		a.ring[a.next] = acc.RequestID
		a.next = (a.next + 1) % len(a.ring)
	}
	a.byID[acc.RequestID] = e
	return e
}

// update applies fn to the record under the store's lock.
func (a *accounts) update(e *accountEntry, fn func(*Account)) {
	a.mu.Lock()
	fn(&e.acc)
	a.mu.Unlock()
}

// finish applies fn and marks the record final.
func (a *accounts) finish(e *accountEntry, fn func(*Account)) {
	a.update(e, fn)
	close(e.done)
}

func (a *accounts) get(id string) (Account, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.byID[id]
	if !ok {
		return Account{}, false
	}
	return e.acc, true
}

// wait returns the record once its handler has finished, or its state when ctx
// ends first.
func (a *accounts) wait(ctx context.Context, id string) (Account, bool) {
	a.mu.Lock()
	e, ok := a.byID[id]
	a.mu.Unlock()
	if !ok {
		return Account{}, false
	}
	select {
	case <-e.done:
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return e.acc, true
}

type connKey struct{}

// ConnContext stores the accepted connection in the request context; use it as
// http.Server.ConnContext (NewServer does) so accounts carry the conn's ID.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// connID returns the ID of the request's connection when it has one (transport's
// wrapped conns implement ID() string).
func connID(ctx context.Context) string {
	c, _ := ctx.Value(connKey{}).(net.Conn)
	if idc, ok := c.(interface{ ID() string }); ok {
		return idc.ID()
	}
	return ""
}
