package transport

import "net"

// A conn made by this package is often wrapped by the layers a real client
// or server puts on top of a socket: crypto/tls (faults sit beneath TLS, on
// the ciphertext), an HTTP/2 frame recorder ([RecordHTTP2]), a server's own
// connection tracking. [Fired], [TimelineOf], [ConnID] and [Annotate] look
// through every layer that hands out the conn beneath it with NetConn (as
// *tls.Conn does) until they find one of ours.

// maxLayers bounds the walk down a chain of wrappers (a cycle would be a bug
// in a wrapper, not a reason to hang).
const maxLayers = 16

// ours returns the conn made by this package at or beneath c.
func ours(c net.Conn) (*conn, bool) {
	for range maxLayers {
		switch x := c.(type) {
		case nil:
			return nil, false
		case *conn:
			return x, true
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil, false
		}
	}
	return nil, false
}

// Annotate adds an event of kind to the flight recorder of the conn made by
// this package at or beneath c: what a layer above the bytes saw (a TLS
// handshake and how the session ended, HTTP/2 frames), on the same timeline
// as the reads and writes beneath it. It reports false when there is no
// such conn or its recording is off.
func Annotate(c net.Conn, kind EventKind, n int64, note string) bool {
	return annotate(c, Event{Kind: kind, N: n, Note: note})
}

func annotate(c net.Conn, e Event) bool {
	w, ok := ours(c)
	if !ok || w.rec == nil {
		return false
	}
	w.rec.addEvent(e)
	return true
}
