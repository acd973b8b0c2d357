package transport

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// sizedBody answers /N with N bytes and a Content-Length.
var sizedBody = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Path[1:])
	w.Header().Set("Content-Length", strconv.Itoa(n))
	_, _ = w.Write(make([]byte, n))
})

// fetch GETs url through tr and returns the body's length and the conn
// the request went over.
func fetch(t *testing.T, tr http.RoundTripper, url string) (int, net.Conn) {
	t.Helper()
	var got net.Conn
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { got = i.Conn }})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return len(b), got
}

// TestRecordHTTP2Cleartext: an h2c client's frames land on the timeline of
// the wrapped conn beneath, in both directions, and HTTP2Of sums them.
func TestRecordHTTP2Cleartext(t *testing.T) {
	srv := &http.Server{Handler: sizedBody, ErrorLog: log.New(io.Discard, "", 0)}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetUnencryptedHTTP2(true)
	l := listen(t, "tcp")
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })

	dial := Dialer(Options{Record: 512, Name: "client"}, nil)
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return RecordHTTP2(c, true), nil
	}}
	t.Cleanup(tr.CloseIdleConnections)
	n, c := fetch(t, tr, "http://"+l.Addr().String()+"/100000")
	assert.Equal(t, 100000, n)
	_, isTLS := c.(connectionStater)
	assert.False(t, isTLS, "no TLS session to report in the clear")

	tl, ok := TimelineOf(c)
	require.True(t, ok, "the timeline is found through the frame recorder")
	text := tl.String()
	assert.Contains(t, text, "h2-headers stream=1 sent end-stream")
	assert.Contains(t, text, "h2-headers stream=1 received")
	assert.Contains(t, text, " stream=1 received end-stream", "the last DATA frame ends the stream")
	assert.Regexp(t, `h2-window-update \d+ stream=0 sent`, text)
	seen, ok := HTTP2Of(c)
	require.True(t, ok)
	assert.EqualValues(t, 100000, seen.DataReceived)
	assert.Positive(t, seen.ConnWindowSent, "the client opens its connection window")
	assert.False(t, seen.GoAway)
	assert.Equal(t, ConnID(c), strings.SplitN(strings.Fields(text)[1], " ", 2)[0])
}

// TestLayersBeneathTLS: faults and the recorder sit beneath TLS; every
// lookup finds the wrapped conn through the *tls.Conn (and a frame
// recorder over it), and a fault's cut is still named.
func TestLayersBeneathTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(sizedBody)
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.ServerName, cfg.NextProtos = "example.com", []string{"h2"}
	dial := Dialer(Options{Faults: mustFaults(t, "close-after=64KiB@dir=read"), Record: 512, Name: "client"}, nil)
	tr := &http2.Transport{DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, err
		}
		Annotate(tc, EventTLSHandshake, 0, tls.VersionName(tc.ConnectionState().Version)+" "+tc.ConnectionState().NegotiatedProtocol)
		return RecordHTTP2(tc, true), nil
	}}
	t.Cleanup(tr.CloseIdleConnections)

	var got net.Conn
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { got = i.Conn }})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/1000000", nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	require.NotNil(t, resp.TLS, "the session is reported through the frame recorder")
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.ErrorIs(t, err, ErrInjected, "the cut beneath TLS ends the stream, its error kept")

	assert.Regexp(t, `^client-\d+$`, ConnID(got))
	f, ok := Fired(got)
	assert.True(t, ok)
	assert.Equal(t, "close-after=64KiB@dir=read", f)
	tl, ok := TimelineOf(got)
	require.True(t, ok)
	assert.Contains(t, tl.String(), "tls-handshake TLS 1.3 h2")
	assert.False(t, Annotate(&net.TCPConn{}, EventTLSHandshake, 0, ""), "not one of ours")
}
