package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

// How one hop carries HTTP: in the clear or over TLS, HTTP/1.1 or HTTP/2.
// The byte faults and the flight recorder wrap the raw connection, and TLS
// runs on top of the wrapped conn, so buffered-shutdown, close-after,
// sndbuf and slow readers act beneath TLS (the recorder counts ciphertext):
//
//	client: dial ─> transport conn (faults, recorder) ─> finWatch ─> tls.Client ─┬─> net/http (HTTP/1.1)
//	                                                                           └─> RecordHTTP2 ─> x/net/http2 (h2)
//	server: listener ─> transport.WrapListener (faults, recorder) ─> tls.NewListener ─> http.Server (Protocols)
//
// HTTP/2 clients are x/net/http2's Transport, whose dial hook takes any
// conn: the frame recorder sits between it and TLS and puts HEADERS, DATA,
// RST_STREAM, GOAWAY and WINDOW_UPDATE on the raw conn's timeline. h2c
// speaks HTTP/2 with prior knowledge. Servers are net/http's own, HTTP/2
// included, served the way deployments serve them.

// wire is how a hop carries HTTP, from the client's side.
type wire struct {
	tls   *tls.Config // nil: in the clear
	proto scenarios.Protocol
}

// scheme is the URL scheme of requests over w.
func (w wire) scheme() string {
	if w.tls != nil {
		return "https"
	}
	return "http"
}

// roundTripper is an HTTP client's transport the harness can also tidy.
type roundTripper interface {
	http.RoundTripper
	CloseIdleConnections()
}

// hopTransport is the client transport of one hop: dial makes the raw
// (faulty, recorded) conns; conns bounds the idle conns kept;
// keepAlivesOff uses a connection per request (HTTP/2: one stream per
// connection, as a request with Connection: close asks).
func hopTransport(dial dialFunc, w wire, conns int, keepAlivesOff bool) roundTripper {
	if w.proto != scenarios.HTTP2 {
		tr := newTransport(dial, conns, keepAlivesOff)
		if w.tls != nil {
			tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dialTLS(ctx, dial, network, addr, w.tls)
			}
			// HTTP/1.1 only: no ALPN upgrade to HTTP/2 behind the hop's back.
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		return tr
	}
	tr := &http2.Transport{
		DisableCompression: true,
		AllowHTTP:          w.tls == nil,
		IdleConnTimeout:    30 * time.Second,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			if w.tls == nil {
				c, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return transport.RecordHTTP2(c, true), nil
			}
			tc, err := dialTLS(ctx, dial, network, addr, w.tls)
			if err != nil {
				return nil, err
			}
			if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
				tc.Close()
				return nil, fmt.Errorf("the server did not agree to HTTP/2 by ALPN (it chose %q): %w", p, errNoH2)
			}
			return transport.RecordHTTP2(tc, true), nil
		},
	}
	if keepAlivesOff {
		return closingTransport{tr}
	}
	return tr
}

// errNoH2 is the dial error when a TLS server does not choose HTTP/2.
var errNoH2 = errors.New("no HTTP/2")

// closingTransport sends every request with Connection: close, which
// x/net's HTTP/2 client honours with a connection of its own.
type closingTransport struct{ *http2.Transport }

func (c closingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Close = true
	return c.Transport.RoundTrip(req)
}

// dialTLS dials the raw conn and runs a TLS client handshake over it,
// noting the session on the conn's timeline.
func dialTLS(ctx context.Context, dial dialFunc, network, addr string, cfg *tls.Config) (*tls.Conn, error) {
	raw, err := dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(&finWatch{Conn: raw}, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	st := tc.ConnectionState()
	transport.Annotate(raw, transport.EventTLSHandshake, 0, tls.VersionName(st.Version)+" "+orDash(st.NegotiatedProtocol))
	return tc, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// finWatch sits between a TLS session and its raw conn and notes when a
// read of the raw conn met the peer's FIN. TLS reads its raw conn up to the
// FIN only when no close_notify came first (after a close_notify it reads
// nothing more), so a session whose end went with a FIN seen here ended
// without close_notify: the classic TLS truncation, where a cut at a record
// boundary looks like the end of the data.
type finWatch struct {
	net.Conn
	fin atomic.Bool
}

func (w *finWatch) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if errors.Is(err, io.EOF) && w.fin.CompareAndSwap(false, true) {
		transport.Annotate(w.Conn, transport.EventTLSNoCloseNotify, 0, "")
	}
	return n, err
}

// NetConn returns the raw conn, so lookups reach the transport's conn.
func (w *finWatch) NetConn() net.Conn { return w.Conn }

// tlsEnd says how the TLS session beneath c ended: tls reports whether c
// is one of our TLS client conns; finWithoutNotify whether its raw conn met
// the peer's FIN with no close_notify before it.
func tlsEnd(c net.Conn) (isTLS, finWithoutNotify bool) {
	for range 16 {
		switch x := c.(type) {
		case *finWatch:
			return true, x.fin.Load()
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return false, false
		}
	}
	return false, false
}

// serveWire prepares hs and l for a hop as its server: TLS over the
// (wrapped) listener with the run's certificate, and the protocols the hop
// speaks (HTTP/2 over TLS by ALPN, h2c with prior knowledge; HTTP/1.1
// always, as deployed servers keep it).
func serveWire(hs *http.Server, l net.Listener, hop scenarios.Hop, ca *runCA) net.Listener {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	if hop.Protocol == scenarios.HTTP2 {
		if hop.TLS {
			p.SetHTTP2(true)
		} else {
			p.SetUnencryptedHTTP2(true)
		}
	}
	hs.Protocols = p
	if hop.TLS {
		return tls.NewListener(l, ca.serverConfig(hop.Protocol))
	}
	return l
}
