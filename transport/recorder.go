package transport

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EventKind names what happened on a conn.
type EventKind uint8

// The event kinds a flight recorder keeps.
const (
	EventAccept       EventKind = iota + 1 // the listener accepted the conn
	EventDial                              // the dialer connected it
	EventRead                              // Read returned N bytes
	EventWrite                             // N bytes went to the socket (or into the buffer of buffered-shutdown)
	EventPartialWrite                      // a socket write took N of Of bytes
	EventWouldBlock                        // a non-blocking write found the socket buffer full (EAGAIN)
	EventCloseWrite                        // shutdown(SHUT_WR) sent a FIN; N = bytes left unsent
	EventClose                             // the conn was closed; N = bytes left unsent
	EventPeerFIN                           // Read returned io.EOF: the peer half-closed
	EventRST                               // an operation failed with ECONNRESET
	EventFault                             // a fault fired (Note names it, N its byte count)
	EventError                             // any other error (Note holds it)

	// Events above the bytes: the TLS session and the HTTP/2 frames carried
	// on the conn (added by [Annotate] and [RecordHTTP2]; under TLS the
	// byte events of the same conn count ciphertext).
	EventTLSHandshake     // the TLS handshake finished (Note: version, ALPN protocol)
	EventTLSCloseNotify   // the peer's close_notify alert arrived before its FIN
	EventTLSNoCloseNotify // the peer's FIN arrived with no close_notify before it
	EventH2Headers        // an HTTP/2 HEADERS frame on Stream (Note: sent or received, end-stream)
	EventH2Data           // an HTTP/2 DATA frame of N bytes on Stream (Note: sent or received, end-stream)
	EventH2RSTStream      // an HTTP/2 RST_STREAM on Stream (Note: sent or received, its error code)
	EventH2GoAway         // an HTTP/2 GOAWAY; Stream is its last stream id (Note: sent or received, its error code)
	EventH2WindowUpdate   // an HTTP/2 WINDOW_UPDATE of N bytes on Stream (0: the connection)
)

var eventNames = [...]string{
	EventAccept: "accept", EventDial: "dial", EventRead: "read", EventWrite: "write",
	EventPartialWrite: "partial-write", EventWouldBlock: "would-block",
	EventCloseWrite: "close-write", EventClose: "close", EventPeerFIN: "peer-fin",
	EventRST: "rst", EventFault: "fault", EventError: "error",
	EventTLSHandshake: "tls-handshake", EventTLSCloseNotify: "tls-close-notify", EventTLSNoCloseNotify: "tls-no-close-notify",
	EventH2Headers: "h2-headers", EventH2Data: "h2-data", EventH2RSTStream: "h2-rst-stream",
	EventH2GoAway: "h2-goaway", EventH2WindowUpdate: "h2-window-update",
}

// String returns the kind's name as used in timelines and result files.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText writes the kind's name so JSON results stay readable.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText accepts the names String produces.
func (k *EventKind) UnmarshalText(b []byte) error {
	for i, n := range eventNames {
		if n != "" && n == string(b) {
			*k = EventKind(i)
			return nil
		}
	}
	return fmt.Errorf("unknown event kind %q; accepted: %s", b, strings.Join(eventNames[1:], ", "))
}

// Event is one entry of a flight recorder. It is the one timeline type:
// results files keep these events as they were recorded.
type Event struct {
	At   time.Duration `json:"at_ns"`          // monotonic, since the conn was created
	Conn string        `json:"conn,omitempty"` // the conn's ID, set when the timeline is copied out
	Kind EventKind     `json:"kind"`
	N    int64         `json:"n,omitempty"`    // bytes
	Of   int64         `json:"of,omitempty"`   // for partial writes: bytes asked
	Note string        `json:"note,omitempty"` // e.g. the fault's name, an error
	// Stream is the HTTP/2 stream of a frame event (for a GOAWAY, its last
	// stream id); 0 for the connection and for every other event.
	Stream uint32 `json:"stream,omitempty"`
}

// String formats an event the way strace would make you read it:
// "write 1024", "partial-write 219264 of 4194425", "fault close-after 307200".
func (e Event) String() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	switch e.Kind {
	case EventH2GoAway:
		fmt.Fprintf(&b, " last-stream=%d", e.Stream)
		return withNote(&b, e.Note)
	case EventH2Headers, EventH2RSTStream:
		fmt.Fprintf(&b, " stream=%d", e.Stream)
		return withNote(&b, e.Note)
	case EventH2Data, EventH2WindowUpdate:
		fmt.Fprintf(&b, " %d stream=%d", e.N, e.Stream)
		return withNote(&b, e.Note)
	}
	if e.Kind == EventFault {
		if e.Note != "" {
			b.WriteString(" " + e.Note)
		}
		if e.N != 0 {
			b.WriteString(" " + strconv.FormatInt(e.N, 10))
		}
		return b.String()
	}
	if e.N != 0 || e.Kind == EventRead || e.Kind == EventWrite || e.Kind == EventPartialWrite {
		b.WriteString(" " + strconv.FormatInt(e.N, 10))
	}
	if e.Of != 0 {
		b.WriteString(" of " + strconv.FormatInt(e.Of, 10))
	}
	if e.Note != "" {
		b.WriteString(" " + e.Note)
	}
	return b.String()
}

func withNote(b *strings.Builder, note string) string {
	if note != "" {
		b.WriteString(" " + note)
	}
	return b.String()
}

// Stamped is the event with its offset and conn, as timelines print it:
// "+12.345ms svc-3 write 1024".
func (e Event) Stamped() string {
	s := fmt.Sprintf("+%.3fms ", float64(e.At)/float64(time.Millisecond))
	if e.Conn != "" {
		s += e.Conn + " "
	}
	return s + e.String()
}

// Timeline is a conn's recorded events, oldest first.
type Timeline []Event

// String prints one stamped event per line.
func (t Timeline) String() string {
	var b strings.Builder
	for _, e := range t {
		b.WriteString(e.Stamped())
		b.WriteByte('\n')
	}
	return b.String()
}

// recorder is a bounded ring of events. A nil *recorder records nothing, so a conn
// without a recorder pays one nil check per call.
type recorder struct {
	start time.Time
	conn  string
	mu    sync.Mutex
	buf   []Event
	next  int
	full  bool
}

func newRecorder(capacity int, start time.Time, conn string) *recorder {
	if capacity <= 0 {
		return nil
	}
	return &recorder{start: start, conn: conn, buf: make([]Event, capacity)}
}

func (r *recorder) add(k EventKind, n, of int64, note string) {
	r.addEvent(Event{Kind: k, N: n, Of: of, Note: note})
}

// addEvent stamps e with the time since the conn was created and keeps it.
func (r *recorder) addEvent(e Event) {
	if r == nil {
		return
	}
	e.At = time.Since(r.start)
	r.mu.Lock()
	r.buf[r.next] = e
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

// timeline copies the events out, oldest first.
func (r *recorder) timeline() Timeline {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	var t Timeline
	if !r.full {
		t = append(t, r.buf[:r.next]...)
	} else {
		t = make(Timeline, 0, len(r.buf))
		t = append(t, r.buf[r.next:]...)
		t = append(t, r.buf[:r.next]...)
	}
	r.mu.Unlock()
	for i := range t {
		t[i].Conn = r.conn
	}
	return t
}

// history keeps the most recent conns of a listener so that a timeline, or
// the fault that cut a conn, can be found by conn ID or by the peer's
// address after the conn closed. Bounded: the oldest entry goes first.
type history struct {
	mu     sync.Mutex
	max    int
	byID   map[string]*conn
	byPeer map[string]string // peer address -> conn ID
	order  []string          // ring of IDs
	next   int
}

func newHistory(max int) *history {
	return &history{max: max, byID: make(map[string]*conn), byPeer: make(map[string]string)}
}

func (h *history) add(c *conn) {
	if h == nil {
		return
	}
	peer := peerOf(c.Conn)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.order) < h.max {
		h.order = append(h.order, c.id)
	} else {
		old := h.byID[h.order[h.next]]
		delete(h.byID, h.order[h.next])
		if old != nil && h.byPeer[peerOf(old.Conn)] == old.id {
			delete(h.byPeer, peerOf(old.Conn))
		}
		h.order[h.next] = c.id
		h.next = (h.next + 1) % h.max
	}
	h.byID[c.id] = c
	if peer != "" {
		h.byPeer[peer] = c.id
	}
}

func (h *history) get(id string) (*conn, bool) {
	if h == nil {
		return nil, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.byID[id]
	return c, ok
}

func (h *history) fromPeer(peer string) (*conn, bool) {
	if h == nil || peer == "" {
		return nil, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.byID[h.byPeer[peer]]
	return c, ok
}

// peerOf is a conn's remote address as a lookup key; "" for an unnamed
// Unix peer (a client that did not bind: it cannot be told apart).
func peerOf(c net.Conn) string {
	a := c.RemoteAddr()
	if a == nil || a.String() == "" || a.String() == "@" {
		return ""
	}
	return a.Network() + ":" + a.String()
}

// ConnInfo is what a listener remembers of one accepted conn.
type ConnInfo struct {
	ID       string
	Peer     string   // the peer's address, network:address
	Fired    string   // the fault that cut or stopped it (canonical spec), "" if none
	Timeline Timeline // nil when recording is off
}

func (c *conn) info() ConnInfo {
	f, _ := c.firedFault()
	return ConnInfo{ID: c.id, Peer: peerOf(c.Conn), Fired: f, Timeline: c.Timeline()}
}
