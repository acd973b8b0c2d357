package h2fault

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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/net/http2"

	"github.com/truncheck/truncheck/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bodyHandler answers /N with N bytes and a Content-Length, in 32 KiB writes.
func bodyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Path[1:])
		if err != nil {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		chunk := make([]byte, 32<<10)
		for n > 0 {
			k := min(n, len(chunk))
			if _, err := w.Write(chunk[:k]); err != nil {
				return
			}
			n -= k
		}
	})
}

// h2Server is Go's own HTTP/2 server over TLS on loopback, with the
// injector on its handler and its connections.
func h2Server(t *testing.T, in *Injector) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(in.Wrap(bodyHandler()))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.ConnContext = in.ConnContext
	srv.StartTLS()
	t.Cleanup(func() {
		srv.Close()
		in.Close()
	})
	return srv
}

// h2Client is x/net's HTTP/2 client over conns made by package transport,
// frames recorded; opts tunes the conns (a slow reader).
func h2Client(t *testing.T, srv *httptest.Server, o transport.Options) *http2.Transport {
	t.Helper()
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"h2"}
	cfg.ServerName = "example.com" // httptest's certificate names it
	dial := transport.Dialer(o, nil)
	tr := &http2.Transport{DisableCompression: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return transport.RecordHTTP2(tc, true), nil
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// get fetches path with a request id and reads the body whole; it returns
// the bytes read, the read error and the conns the request used.
func get(t *testing.T, tr http.RoundTripper, base, path, id string) (int64, error, []net.Conn) {
	t.Helper()
	var conns []net.Conn
	ctx := httptraceWithConns(t.Context(), &conns)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", id)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, err, conns
	}
	defer resp.Body.Close()
	require.Equal(t, "HTTP/2.0", resp.Proto)
	n, err := io.Copy(io.Discard, resp.Body)
	return n, err, conns
}

func TestParse(t *testing.T) {
	tests := []struct{ give, want, err string }{
		{give: "", want: ""},
		{give: "reset-after=300KiB", want: "reset-after=300KiB"},
		{give: "goaway-after=4/20ms@p=0.5, reset-after=307200@every=3", want: "reset-after=300KiB@every=3,goaway-after=4/20ms@p=0.5"},
		{give: "goaway-after=2", want: "goaway-after=2"},
		{give: "reset-after", err: `fault "reset-after": missing size (usage: reset-after=SIZE, e.g. reset-after=300KiB)`},
		{give: "goaway-after=0", err: `fault "goaway-after=0": stream count "0": want a whole number >= 1 (usage: goaway-after=N[/DRAIN], e.g. goaway-after=4 or goaway-after=4/20ms)`},
		{give: "goaway-after=3/soon", err: `fault "goaway-after=3/soon": drain "soon": want a positive Go duration such as 20ms (usage: goaway-after=N[/DRAIN], e.g. goaway-after=4 or goaway-after=4/20ms)`},
		{give: "reset-after=1KiB@dir=read", err: `fault "reset-after=1KiB@dir=read": reset-after takes no @dir (it acts on responses)`},
		{give: "close-after=1KiB", err: `fault "close-after=1KiB": unknown stream fault "close-after"; accepted: reset-after, goaway-after`},
		{give: "reset-after=1KiB,reset-after=2KiB", err: `fault "reset-after=2KiB": reset-after already given (each fault at most once)`},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			f, err := Parse(tt.give)
			if tt.err != "" {
				assert.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.String())
			back, err := Parse(f.String())
			require.NoError(t, err)
			assert.Equal(t, f, back, "the canonical text round-trips")
		})
	}
	assert.Equal(t, "reset-after=300KiB@p=0.5,goaway-after=4/20ms", Must(GoAwayAfter(4).WithDrain(20*time.Millisecond), ResetAfter(300<<10).WithProbability(0.5)).String())
}

// TestResetAfter: Go's HTTP/2 server resets the stream exactly after the
// budget, with INTERNAL_ERROR, seen by the client as an http2.StreamError;
// the connection goes on. Without the fault the same request is whole.
func TestResetAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults Faults
	}{{"fault", Must(ResetAfter(300 << 10))}, {"without it", Faults{}}} {
		t.Run(tc.name, func(t *testing.T) {
			in := NewInjector(tc.faults, 1)
			srv := h2Server(t, in)
			tr := h2Client(t, srv, transport.Options{Record: 256, Name: "client"})
			n, err, conns := get(t, tr, srv.URL, "/1048576", "r1")
			if tc.faults.IsZero() {
				require.NoError(t, err)
				assert.EqualValues(t, 1<<20, n)
				_, fired := in.Fired("r1")
				assert.False(t, fired)
				return
			}
			var se http2.StreamError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, http2.ErrCodeInternal, se.Code)
			assert.EqualValues(t, 300<<10, n, "cut exactly at the budget")
			f, ok := in.Fired("r1")
			assert.True(t, ok)
			assert.Equal(t, "reset-after=300KiB", f)
			require.Len(t, conns, 1)
			seen, ok := transport.HTTP2Of(conns[0])
			require.True(t, ok)
			assert.Equal(t, 1, seen.RSTStreams)
			assert.Equal(t, "INTERNAL_ERROR", seen.LastRSTCode)
			tl, ok := transport.TimelineOf(conns[0])
			require.True(t, ok)
			assert.Contains(t, tl.String(), "h2-rst-stream stream=1 received INTERNAL_ERROR")

			// The connection is still good: the next stream on it is whole.
			n, err, conns2 := get(t, tr, srv.URL, "/1000", "r2")
			require.NoError(t, err)
			assert.EqualValues(t, 1000, n)
			assert.Same(t, conns[0], conns2[0], "the same connection")
		})
	}
}

// TestGoAwayAfterIsGraceful: the second stream of a connection makes Go's
// server send GOAWAY naming it; it finishes whole, and the next request
// goes to a new connection.
func TestGoAwayAfterIsGraceful(t *testing.T) {
	in := NewInjector(Must(GoAwayAfter(2)), 1)
	srv := h2Server(t, in)
	tr := h2Client(t, srv, transport.Options{Record: 256, Name: "client"})
	_, err, first := get(t, tr, srv.URL, "/1000", "r1")
	require.NoError(t, err)
	n, err, second := get(t, tr, srv.URL, "/1048576", "r2")
	require.NoError(t, err)
	assert.EqualValues(t, 1<<20, n)
	require.Equal(t, first[0], second[0])
	seen, _ := transport.HTTP2Of(second[0])
	assert.True(t, seen.GoAway)
	assert.EqualValues(t, 3, seen.GoAwayLastStream, "the stream that asked for the close is the last one")
	assert.Equal(t, "NO_ERROR", seen.GoAwayCode)
	_, err, third := get(t, tr, srv.URL, "/1000", "r3")
	require.NoError(t, err)
	assert.NotSame(t, first[0], third[0], "a new connection after the GOAWAY")
}

// TestGoAwayDrainCuts: with a drain shorter than a slow reader needs, the
// stream the GOAWAY promised to finish is cut: the client's error is an
// http2.GoAwayError naming the last stream.
func TestGoAwayDrainCuts(t *testing.T) {
	in := NewInjector(Must(GoAwayAfter(1).WithDrain(20*time.Millisecond)), 1)
	srv := h2Server(t, in)
	slow := transport.MustFaults(transport.SlowRead(16<<10, 5*time.Millisecond))
	tr := h2Client(t, srv, transport.Options{Faults: slow, Record: 256, Name: "client"})
	n, err, _ := get(t, tr, srv.URL, "/4194304", "r1")
	var ga http2.GoAwayError
	require.ErrorAs(t, err, &ga, "got %v after %d bytes", err, n)
	assert.EqualValues(t, 1, ga.LastStreamID)
	assert.Less(t, n, int64(4<<20))
	f, ok := in.Fired("r1")
	assert.True(t, ok)
	assert.Equal(t, "goaway-after=1/20ms", f)
}

// TestConnsSelected: @every picks connections for goaway-after.
func TestConnsSelected(t *testing.T) {
	var picked atomic.Int64
	in := NewInjector(Must(GoAwayAfter(1).OnEvery(2)), 1)
	for range 4 {
		ctx := in.ConnContext(context.Background(), nil)
		if cs := ctx.Value(connKey{}).(*connState); cs.selected {
			picked.Add(1)
		}
	}
	assert.EqualValues(t, 2, picked.Load())
	in.Close()
}

func TestFiredIsBounded(t *testing.T) {
	in := NewInjector(Faults{}, 1)
	for i := range firedHistory + 10 {
		in.note(strconv.Itoa(i), "reset-after=1KiB")
	}
	_, ok := in.Fired("0")
	assert.False(t, ok, "the oldest is forgotten")
	_, ok = in.Fired(strconv.Itoa(firedHistory + 9))
	assert.True(t, ok)
	assert.Len(t, in.fired, firedHistory)
	in.Close()
}

// httptraceWithConns collects the conns a request gets (one per attempt).
func httptraceWithConns(ctx context.Context, conns *[]net.Conn) context.Context {
	var mu sync.Mutex
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		mu.Lock()
		*conns = append(*conns, info.Conn)
		mu.Unlock()
	}})
}
