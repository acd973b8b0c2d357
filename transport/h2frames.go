package transport

import (
	"bytes"
	"crypto/tls"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// RecordHTTP2 wraps c, the plaintext side of an HTTP/2 connection (the
// *tls.Conn over a conn made by this package, or that conn itself for h2c),
// so that the frames read and written through it go onto the flight
// recorder of the conn beneath: HEADERS, DATA with its size, END_STREAM,
// RST_STREAM and GOAWAY with their error codes (and the GOAWAY's last
// stream id), WINDOW_UPDATE. Under TLS the byte events of that conn count
// ciphertext; the frame events are what the HTTP/2 layer sent and received.
// client says which end c is (a client's first bytes are the connection
// preface, not a frame). The wrapper changes no byte and no error; it keeps
// what [HTTP2Of] reports. When c is a *tls.Conn the wrapper also reports its
// ConnectionState, so an HTTP/2 client still knows the session.
func RecordHTTP2(c net.Conn, client bool) net.Conn {
	h := &h2Conn{Conn: c}
	h.under, _ = ours(c)
	h.rd = frameParser{dir: "received", h: h}
	h.wr = frameParser{dir: "sent", h: h}
	if client {
		h.wr.skip = len(http2.ClientPreface)
	} else {
		h.rd.skip = len(http2.ClientPreface)
	}
	if _, ok := c.(connectionStater); ok {
		return &h2TLSConn{h}
	}
	return h
}

// HTTP2Seen is what a [RecordHTTP2] conn saw of its connection: how it
// ended for the streams on it and how much flowed.
type HTTP2Seen struct {
	// GoAway: a GOAWAY was received, with its last stream id (streams above
	// it were not processed: a client may send them again) and error code.
	GoAway           bool
	GoAwayLastStream uint32
	GoAwayCode       string
	// RSTStreams counts RST_STREAM frames received; LastRSTCode is the
	// error code of the latest one.
	RSTStreams  int
	LastRSTCode string
	// DataReceived is the DATA payload received, LastData when the last
	// DATA frame began (since the conn beneath was created; 0 without one).
	DataReceived int64
	LastData     time.Duration
	// StreamWindowSent and ConnWindowSent sum the WINDOW_UPDATE increments
	// sent for streams and for the connection (a client's first one opens
	// its whole connection window): what the reader handed back.
	StreamWindowSent int64
	ConnWindowSent   int64
	// ReadEnded: a read of the connection failed or met its end (EOF, a
	// reset, a cut): the connection is gone for every stream on it.
	ReadEnded bool
}

// HTTP2Of returns what the [RecordHTTP2] conn at or beneath c saw; false when
// there is none.
func HTTP2Of(c net.Conn) (HTTP2Seen, bool) {
	for range maxLayers {
		switch x := c.(type) {
		case *h2Conn:
			return x.seen(), true
		case *h2TLSConn:
			return x.seen(), true
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return HTTP2Seen{}, false
		}
	}
	return HTTP2Seen{}, false
}

type connectionStater interface {
	ConnectionState() tls.ConnectionState
}

type h2Conn struct {
	net.Conn
	under *conn // the conn made here beneath c, nil when there is none

	rmu sync.Mutex
	rd  frameParser // guarded by rmu
	wmu sync.Mutex
	wr  frameParser // guarded by wmu

	smu   sync.Mutex
	state HTTP2Seen // guarded by smu
}

// h2TLSConn is an h2Conn over a TLS session, which it reports.
type h2TLSConn struct{ *h2Conn }

func (h *h2TLSConn) ConnectionState() tls.ConnectionState {
	return h.Conn.(connectionStater).ConnectionState()
}

func (h *h2Conn) Read(p []byte) (int, error) {
	n, err := h.Conn.Read(p)
	if n > 0 {
		h.rmu.Lock()
		h.rd.feed(p[:n])
		h.rmu.Unlock()
	}
	if err != nil {
		h.smu.Lock()
		h.state.ReadEnded = true
		h.smu.Unlock()
	}
	return n, err
}

func (h *h2Conn) Write(p []byte) (int, error) {
	n, err := h.Conn.Write(p)
	if n > 0 {
		h.wmu.Lock()
		h.wr.feed(p[:n])
		h.wmu.Unlock()
	}
	return n, err
}

// NetConn returns the wrapped conn.
func (h *h2Conn) NetConn() net.Conn { return h.Conn }

func (h *h2Conn) seen() HTTP2Seen {
	h.smu.Lock()
	defer h.smu.Unlock()
	return h.state
}

// since is the time since the conn beneath was created, the timeline's clock.
func (h *h2Conn) since() time.Duration {
	if h.under == nil {
		return 0
	}
	return time.Since(h.under.start)
}

// frame notes one frame: on the timeline, and in the state when received.
func (h *h2Conn) frame(dir string, fh http2.FrameHeader, f http2.Frame) {
	e := Event{Stream: fh.StreamID, Note: dir}
	received := dir == "received"
	h.smu.Lock()
	switch fh.Type {
	case http2.FrameHeaders:
		e.Kind = EventH2Headers
		if fh.Flags.Has(http2.FlagHeadersEndStream) {
			e.Note += " end-stream"
		}
	case http2.FrameData:
		e.Kind, e.N = EventH2Data, int64(fh.Length)
		if fh.Flags.Has(http2.FlagDataEndStream) {
			e.Note += " end-stream"
		}
		if received {
			h.state.DataReceived += int64(fh.Length)
			h.state.LastData = h.since()
		}
	case http2.FrameRSTStream:
		e.Kind = EventH2RSTStream
		if rst, ok := f.(*http2.RSTStreamFrame); ok {
			e.Note += " " + rst.ErrCode.String()
			if received {
				h.state.RSTStreams++
				h.state.LastRSTCode = rst.ErrCode.String()
			}
		}
	case http2.FrameGoAway:
		e.Kind = EventH2GoAway
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			e.Stream = ga.LastStreamID
			e.Note += " " + ga.ErrCode.String()
			if received {
				h.state.GoAway, h.state.GoAwayLastStream, h.state.GoAwayCode = true, ga.LastStreamID, ga.ErrCode.String()
			}
		}
	case http2.FrameWindowUpdate:
		e.Kind = EventH2WindowUpdate
		if wu, ok := f.(*http2.WindowUpdateFrame); ok {
			e.N = int64(wu.Increment)
			switch {
			case received:
			case fh.StreamID == 0:
				h.state.ConnWindowSent += int64(wu.Increment)
			default:
				h.state.StreamWindowSent += int64(wu.Increment)
			}
		}
	}
	h.smu.Unlock()
	if e.Kind != 0 && h.under != nil && h.under.rec != nil {
		h.under.rec.addEvent(e)
	}
}

// maxControlFrame bounds the control frames kept whole to be decoded (RST_STREAM,
// GOAWAY, WINDOW_UPDATE are 4 to 8 bytes, a GOAWAY's debug data aside).
const maxControlFrame = 16 << 10

// frameParser follows one direction of an HTTP/2 byte stream, however the
// reads or writes cut it, and hands each frame to h.frame: DATA and HEADERS as
// soon as their header is in (only the header matters), the control frames
// once whole, decoded by http2's own Framer.
type frameParser struct {
	dir  string
	h    *h2Conn
	skip int // preface bytes still to pass over

	hdr     [9]byte // RFC 9113 4.1: every frame starts with nine bytes
	hn      int
	inFrame bool
	fh      http2.FrameHeader
	left    uint32 // payload bytes of the current frame not seen yet
	keep    []byte // the whole control frame being collected
	keeping bool
	hr      bytes.Reader
	ctrl    bytes.Reader  // what fr reads: one whole control frame at a time
	fr      *http2.Framer // made on first use, then reused
}

func (fp *frameParser) feed(p []byte) {
	for len(p) > 0 {
		if fp.skip > 0 {
			k := min(fp.skip, len(p))
			fp.skip -= k
			p = p[k:]
			continue
		}
		if !fp.inFrame {
			k := copy(fp.hdr[fp.hn:], p)
			fp.hn += k
			p = p[k:]
			if fp.hn < len(fp.hdr) {
				return
			}
			fp.hn = 0
			fp.hr.Reset(fp.hdr[:])
			fh, err := http2.ReadFrameHeader(&fp.hr)
			if err != nil {
				return // nine bytes are always a header; nothing else can fail
			}
			fp.fh, fp.left, fp.inFrame = fh, fh.Length, true
			fp.keeping = false
			switch fh.Type {
			case http2.FrameData, http2.FrameHeaders:
				fp.h.frame(fp.dir, fh, nil)
			case http2.FrameRSTStream, http2.FrameGoAway, http2.FrameWindowUpdate:
				if fh.Length <= maxControlFrame {
					fp.keep = append(fp.keep[:0], fp.hdr[:]...)
					fp.keeping = true
				}
			}
		}
		k := min(int(fp.left), len(p))
		if fp.keeping {
			fp.keep = append(fp.keep, p[:k]...)
		}
		fp.left -= uint32(k)
		p = p[k:]
		if fp.left == 0 {
			fp.inFrame = false
			if fp.keeping {
				if fp.fr == nil {
					fp.fr = http2.NewFramer(nil, &fp.ctrl)
				}
				fp.ctrl.Reset(fp.keep)
				f, err := fp.fr.ReadFrame()
				if err == nil {
					fp.h.frame(fp.dir, fp.fh, f)
				}
			}
		}
	}
}
