package harness

import (
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/net/http2"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/transport"
)

// HTTP/2 shapes of a cut, mapped onto the outcome table. Decided with
// errors.As on x/net/http2's error types, never on error text, and with
// what the frame recorder saw on the connection:
//
//	http2.StreamError (RST_STREAM)          reset      rst_stream = its code
//	http2.GoAwayError, or a GOAWAY seen     truncated  goaway = lost: the GOAWAY covered the
//	  and the connection ended (a FIN)      (reset on an RST)  stream, which then never finished
//	http2.ConnectionError                   reset
//	io.ErrUnexpectedEOF, connection gone    truncated  a connection that ended mid-stream
//	io.ErrUnexpectedEOF, connection alive   truncated  END_STREAM before the promised length
//	no progress                             stalled    with the connection's DATA and WINDOW_UPDATE sums
//	sent again after a GOAWAY               complete   goaway = retried, retries = 1: not a loss

// H2Detail is how an HTTP/2 request ended, when that says more than its
// outcome.
type H2Detail struct {
	// RSTStream is the error code of the RST_STREAM that ended the stream,
	// e.g. "INTERNAL_ERROR".
	RSTStream string
	// GoAway is "retried" (a GOAWAY whose last stream id was below the
	// request's stream: not processed, sent again on a new connection) or
	// "lost" (the GOAWAY covered the stream, and the connection ended
	// before the stream did); GoAwayLastStream and GoAwayCode are the
	// GOAWAY's.
	GoAway           string
	GoAwayLastStream uint32
	GoAwayCode       string

	outcome results.Outcome // of the failure it describes
	what    string          // for the error text
}

func (d H2Detail) String() string { return d.what }

// h2Ended says how an HTTP/2 request ended from its error and from what
// the frame recorder saw on its connection: false when neither shows
// anything of HTTP/2's own. A GOAWAY followed by the connection's end
// makes the request lost whatever error the client reports (over TLS a
// close in the middle of a record is io.ErrUnexpectedEOF, not the
// http2.GoAwayError a clean FIN gives).
func h2Ended(err error, c net.Conn) (H2Detail, bool) {
	var se http2.StreamError
	var ga http2.GoAwayError
	var ce http2.ConnectionError
	seen, tapped := transport.HTTP2Of(c)
	switch {
	case errors.As(err, &se):
		return H2Detail{RSTStream: se.Code.String(), outcome: results.Reset,
			what: fmt.Sprintf("HTTP/2 stream %d reset (RST_STREAM %s)", se.StreamID, se.Code)}, true
	case errors.As(err, &ga):
		return lostAfterGoAway(ga.LastStreamID, ga.ErrCode.String(), c), true
	case tapped && seen.GoAway && seen.ReadEnded:
		return lostAfterGoAway(seen.GoAwayLastStream, seen.GoAwayCode, c), true
	case errors.As(err, &ce):
		return H2Detail{outcome: results.Reset, what: fmt.Sprintf("HTTP/2 connection error %s", http2.ErrCode(ce))}, true
	}
	return H2Detail{}, false
}

// lostAfterGoAway is the detail of a request whose connection ended after a
// GOAWAY that had taken its stream (a stream above the last id would have
// been sent again): truncated when the end was clean, reset on an RST.
func lostAfterGoAway(last uint32, code string, c net.Conn) H2Detail {
	d := H2Detail{GoAway: "lost", GoAwayLastStream: last, GoAwayCode: code, outcome: results.Truncated,
		what: fmt.Sprintf("HTTP/2 connection ended after a GOAWAY (last stream %d, %s) that had taken this stream", last, code)}
	if endedByRST(c) {
		d.outcome = results.Reset
		d.what += ", by a reset"
	}
	return d
}

// retriedAfterGoAway is the detail of a request sent more than once whose
// first connection received a GOAWAY: the client sent it again, safely.
func retriedAfterGoAway(attempts int, first net.Conn) H2Detail {
	if attempts < 2 || first == nil {
		return H2Detail{}
	}
	seen, ok := transport.HTTP2Of(first)
	if !ok || !seen.GoAway {
		return H2Detail{}
	}
	return H2Detail{GoAway: "retried", GoAwayLastStream: seen.GoAwayLastStream, GoAwayCode: seen.GoAwayCode,
		what: fmt.Sprintf("sent again after a GOAWAY (last stream %d, %s) that did not cover its stream", seen.GoAwayLastStream, seen.GoAwayCode)}
}

// endedMidBody says why a body read met io.ErrUnexpectedEOF, from what the
// layers beneath saw: "" when nothing more is known.
func endedMidBody(c net.Conn) string {
	if seen, ok := transport.HTTP2Of(c); ok {
		if seen.ReadEnded {
			return "HTTP/2 connection ended mid-stream, with no GOAWAY received"
		}
		return "HTTP/2 stream ended (END_STREAM) before the length its head promised"
	}
	if isTLS, fin := tlsEnd(c); isTLS && fin {
		return "TLS session ended by a FIN with no close_notify"
	}
	return ""
}

// h2Flow describes an HTTP/2 connection's flow for a stalled request: how
// much DATA came, when the last did, how much window the client handed
// back (a window that never reopens stalls the sender).
func h2Flow(c net.Conn) string {
	seen, ok := transport.HTTP2Of(c)
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (HTTP/2: %d bytes of DATA on the connection, the last at +%s; the client handed back %d bytes of stream window by WINDOW_UPDATE)",
		seen.DataReceived, seen.LastData.Round(time.Microsecond), seen.StreamWindowSent)
}

// endedByRST reports whether the connection beneath c was reset (its
// timeline has an rst).
func endedByRST(c net.Conn) bool {
	tl, ok := transport.TimelineOf(c)
	if !ok {
		return false
	}
	for _, e := range tl {
		if e.Kind == transport.EventRST {
			return true
		}
	}
	return false
}
