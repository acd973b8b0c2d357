package harness

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

// frameServer speaks HTTP/2 in the clear frame by frame, with x/net's own
// Framer and HPACK, to make the shapes Go's server never makes on purpose:
// a GOAWAY whose last stream id is below a stream it received, an
// END_STREAM before the promised length, a connection dropped between DATA
// frames. Each connection's frames go to script, in order.
type frameServer struct {
	l     net.Listener
	conns atomic.Int32
	wg    sync.WaitGroup
}

// h2conn is one connection of a frameServer: its framer and HPACK state.
type h2conn struct {
	c   net.Conn
	fr  *http2.Framer
	n   int // the connection's number, from 1
	enc *hpack.Encoder
	buf bytes.Buffer
}

// nextRequest reads frames (acknowledging SETTINGS) until a request's
// HEADERS, and returns its stream id.
func (h *h2conn) nextRequest() (uint32, error) {
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return 0, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := h.fr.WriteSettingsAck(); err != nil {
					return 0, err
				}
			}
		case *http2.MetaHeadersFrame:
			return f.StreamID, nil
		}
	}
}

// end ends the connection with a clean FIN: a half-close, then the
// client's last frames read and dropped (closing with them unread would
// send an RST, another shape).
func (h *h2conn) end() error {
	_ = h.c.(*net.TCPConn).CloseWrite()
	_ = h.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.Copy(io.Discard, h.c)
	return nil
}

// head writes a 200 response head promising length bytes.
func (h *h2conn) head(stream uint32, length int) error {
	h.buf.Reset()
	_ = h.enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	_ = h.enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(length)})
	return h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: h.buf.Bytes(), EndHeaders: true})
}

// data writes n body bytes on stream in frames of at most 16 KiB.
func (h *h2conn) data(stream uint32, n int, end bool) error {
	chunk := make([]byte, 16<<10)
	for n > 0 || end {
		k := min(n, len(chunk))
		n -= k
		last := n == 0 && end
		if err := h.fr.WriteData(stream, last, chunk[:k]); err != nil {
			return err
		}
		if last || n == 0 {
			return nil
		}
	}
	return nil
}

func startFrameServer(t *testing.T, script func(h *h2conn) error) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &frameServer{l: l}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				preface := make([]byte, len(http2.ClientPreface))
				if _, err := io.ReadFull(c, preface); err != nil {
					return
				}
				h := &h2conn{c: c, fr: http2.NewFramer(c, c), n: int(s.conns.Add(1))}
				h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
				h.enc = hpack.NewEncoder(&h.buf)
				if h.fr.WriteSettings() != nil {
					return
				}
				_ = script(h)
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); s.wg.Wait() })
	return l.Addr().String()
}

// h2cClient is the harness's own HTTP/2 client of a hop in the clear,
// frames recorded, to addr.
func h2cClient(t *testing.T, addr string) *http.Client {
	dial := hopDialer(transport.Options{Record: 256, Name: "client"}, "tcp", addr)
	tr := hopTransport(dial, wire{proto: scenarios.HTTP2}, 4, false)
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func verify(t *testing.T, c *http.Client, want int64) Verdict {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://h2/x", nil)
	require.NoError(t, err)
	ref := FingerprintBytes(make([]byte, want))
	return NewVerifier(2*time.Second, "").Do(context.Background(), c, req, &ref, false)
}

// TestGoAwayRetryIsNotALoss: the server takes stream 1, answers it whole,
// and sends GOAWAY with last stream 1 while stream 3 waits: the client
// sends stream 3 again on a new connection, which answers it whole. Both
// are complete; the second says it was retried after a GOAWAY. The same
// GOAWAY then a closed connection with stream 1 unanswered makes stream 1
// lost.
func TestGoAwayRetryIsNotALoss(t *testing.T) {
	const size = 100_000
	addr := startFrameServer(t, func(h *h2conn) error {
		if h.n > 1 { // the new connection answers whatever comes
			for {
				s, err := h.nextRequest()
				if err != nil {
					return err
				}
				if err := h.head(s, size); err != nil {
					return err
				}
				if err := h.data(s, size, true); err != nil {
					return err
				}
			}
		}
		first, err := h.nextRequest()
		if err != nil {
			return err
		}
		if _, err := h.nextRequest(); err != nil {
			return err
		}
		if err := h.head(first, size); err != nil {
			return err
		}
		if err := h.data(first, size, true); err != nil {
			return err
		}
		if err := h.fr.WriteGoAway(first, http2.ErrCodeNo, nil); err != nil {
			return err
		}
		return h.end()
	})
	c := h2cClient(t, addr)
	var wg sync.WaitGroup
	vds := make([]Verdict, 2)
	for i := range vds {
		wg.Go(func() { vds[i] = verify(t, c, size) })
	}
	wg.Wait()
	retried := 0
	for _, vd := range vds {
		assert.Equal(t, results.Complete, vd.Outcome, "%v", vd.Err)
		assert.Equal(t, "HTTP/2.0", vd.Proto)
		if vd.Attempts == 2 {
			retried++
			assert.Equal(t, "retried", vd.H2.GoAway)
			assert.EqualValues(t, 1, vd.H2.GoAwayLastStream)
			assert.Equal(t, "NO_ERROR", vd.H2.GoAwayCode)
		}
	}
	assert.Equal(t, 1, retried, "exactly the stream above the GOAWAY's last id was sent again")
}

// TestHTTP2Ends: each HTTP/2 shape of a cut gets its outcome and its words.
func TestHTTP2Ends(t *testing.T) {
	const size = 1000
	tests := []struct {
		name    string
		script  func(h *h2conn, stream uint32) error
		outcome results.Outcome
		detail  string
		check   func(t *testing.T, vd Verdict)
	}{
		{"END_STREAM before the length", func(h *h2conn, s uint32) error {
			if err := h.head(s, size); err != nil {
				return err
			}
			if err := h.data(s, size/2, true); err != nil {
				return err
			}
			_, err := h.nextRequest() // keep the connection open
			return err
		}, results.Truncated, "HTTP/2 stream ended (END_STREAM) before the length its head promised", nil},
		{"connection lost between DATA frames", func(h *h2conn, s uint32) error {
			if err := h.head(s, size); err != nil {
				return err
			}
			if err := h.data(s, size/2, false); err != nil {
				return err
			}
			return h.end()
		}, results.Truncated, "HTTP/2 connection ended mid-stream, with no GOAWAY received", nil},
		{"RST_STREAM", func(h *h2conn, s uint32) error {
			if err := h.head(s, size); err != nil {
				return err
			}
			if err := h.data(s, size/2, false); err != nil {
				return err
			}
			if err := h.fr.WriteRSTStream(s, http2.ErrCodeCancel); err != nil {
				return err
			}
			_, err := h.nextRequest()
			return err
		}, results.Reset, "HTTP/2 stream 1 reset (RST_STREAM CANCEL)", func(t *testing.T, vd Verdict) {
			assert.Equal(t, "CANCEL", vd.H2.RSTStream)
		}},
		{"GOAWAY that took the stream, then the end", func(h *h2conn, s uint32) error {
			if err := h.head(s, size); err != nil {
				return err
			}
			if err := h.data(s, size/2, false); err != nil {
				return err
			}
			if err := h.fr.WriteGoAway(s, http2.ErrCodeNo, nil); err != nil {
				return err
			}
			return h.end()
		}, results.Truncated, "HTTP/2 connection ended after a GOAWAY (last stream 1, NO_ERROR) that had taken this stream", func(t *testing.T, vd Verdict) {
			assert.Equal(t, "lost", vd.H2.GoAway)
			assert.EqualValues(t, 1, vd.H2.GoAwayLastStream)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startFrameServer(t, func(h *h2conn) error {
				s, err := h.nextRequest()
				if err != nil {
					return err
				}
				return tt.script(h, s)
			})
			vd := verify(t, h2cClient(t, addr), size)
			assert.Equal(t, tt.outcome, vd.Outcome, "%v", vd.Err)
			assert.EqualValues(t, size/2, vd.Offset)
			require.Error(t, vd.Err)
			assert.Contains(t, vd.Err.Error(), tt.detail)
			if tt.check != nil {
				tt.check(t, vd)
			}
			tl, ok := transport.TimelineOf(vd.Conn)
			require.True(t, ok)
			assert.Contains(t, tl.String(), "h2-headers stream=1 received", "the frames are on the timeline")
		})
	}
}

// TestHTTP2WholeBodyWithoutEndStream: every promised byte arrived, then the
// connection ended before END_STREAM: the bytes decide, and they are whole
// (an HTTP/1.1 client would have stopped at the length too).
func TestHTTP2WholeBodyWithoutEndStream(t *testing.T) {
	const size = 100_000
	addr := startFrameServer(t, func(h *h2conn) error {
		s, err := h.nextRequest()
		if err != nil {
			return err
		}
		if err := h.head(s, size); err != nil {
			return err
		}
		if err := h.data(s, size, false); err != nil {
			return err
		}
		if err := h.fr.WriteGoAway(s, http2.ErrCodeNo, nil); err != nil {
			return err
		}
		return h.end()
	})
	vd := verify(t, h2cClient(t, addr), size)
	assert.Equal(t, results.Complete, vd.Outcome, "%v", vd.Err)
	assert.EqualValues(t, size, vd.Received)
	assert.Empty(t, vd.H2.GoAway, "nothing was lost")
}
