package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBufferedShutdownHTTP serves a 4 MiB body through Go's net/http server with
// "Connection: close" over a Unix socket to a slow-reading client. With the hyper #4022
// defect most responses arrive short and end with a clean FIN; the fixed twin never cuts;
// the handler saw every Write succeed either way. (Go's server ends a "Connection: close"
// response with Close; it calls CloseWrite only when the request body was left unread.
// Both paths skip the drain; TestBufferedShutdownRaw covers CloseWrite.)
func TestBufferedShutdownHTTP(t *testing.T) {
	const size = 4 << 20
	const requests = 8
	payload := body(size)
	for _, spec := range []string{"buffered-shutdown", "buffered-shutdown-fixed"} {
		t.Run(spec, func(t *testing.T) {
			sock := filepath.Join(sockDir(t), "s")
			raw, err := net.Listen("unix", sock)
			require.NoError(t, err)
			ln := WrapListener(raw, Options{Faults: mustFaults(t, spec), Record: 4096, Name: "svc"})

			type account struct {
				conn    string
				written int
				err     error
			}
			var mu sync.Mutex
			accounts := map[string]account{} // by request number
			type connKey struct{}
			srv := &http.Server{
				ConnContext: func(ctx context.Context, c net.Conn) context.Context {
					return context.WithValue(ctx, connKey{}, ConnID(c))
				},
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Length", strconv.Itoa(size))
					a := account{conn: r.Context().Value(connKey{}).(string)}
					// The whole body in one Write, as hyper got the whole encoded image.
					a.written, a.err = w.Write(payload)
					mu.Lock()
					accounts[r.URL.Query().Get("n")] = a
					mu.Unlock()
				}),
			}
			served := make(chan struct{})
			go func() {
				defer close(served)
				_ = srv.Serve(ln)
			}()
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				require.NoError(t, srv.Shutdown(ctx))
				<-served
			}()

			dial := Dialer(Options{Faults: mustFaults(t, "slow-read=64KiB/2ms"), Record: 64, Name: "client"}, nil)
			tr := &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return dial(ctx, "unix", sock)
				},
				DisableKeepAlives: true,
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

			truncated := 0
			var offsets []int
			for i := range requests {
				req, err := http.NewRequest("GET", "http://svc/big?n="+strconv.Itoa(i), nil)
				require.NoError(t, err)
				req.Close = true // "Connection: close": the server half-closes after the response
				resp, err := client.Do(req)
				if err != nil && errors.Is(err, io.EOF) && spec == "buffered-shutdown" {
					// The cut came before even the head left the buffer.
					truncated++
					offsets = append(offsets, -1)
					time.Sleep(50 * time.Millisecond) // the handler has returned; let it file its account
					mu.Lock()
					a := accounts[strconv.Itoa(i)]
					mu.Unlock()
					assert.NoError(t, a.err, "the handler saw every Write succeed")
					continue
				}
				require.NoError(t, err)
				require.Equal(t, 200, resp.StatusCode)
				require.Equal(t, int64(size), resp.ContentLength)
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if len(got) < size {
					truncated++
					offsets = append(offsets, len(got))
					assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "a short body under Content-Length")
				} else {
					assert.NoError(t, err)
				}
				assert.Equal(t, payload[:len(got)], got, "the bytes that arrived are right")

				mu.Lock()
				a, ok := accounts[strconv.Itoa(i)]
				mu.Unlock()
				require.True(t, ok)
				assert.NoError(t, a.err, "the handler saw every Write succeed")
				assert.Equal(t, size, a.written)
				if len(got) < size && truncated == 1 {
					time.Sleep(50 * time.Millisecond) // let the server finish its close-write
					tl, ok := ln.Timeline(a.conn)
					require.True(t, ok)
					t.Logf("timeline of %s, the first truncated response:\n%s", a.conn, tail(tl, 8))
				}
			}
			t.Logf("%s: %d of %d responses truncated; body offsets where they ended (-1: before the head): %v", spec, truncated, requests, offsets)
			if spec == "buffered-shutdown" {
				assert.Greater(t, truncated, requests/2, "the defect truncates most responses")
			} else {
				assert.Zero(t, truncated, "the fix never truncates")
			}
		})
	}
}

func tail(tl Timeline, n int) Timeline {
	if len(tl) > n {
		return tl[len(tl)-n:]
	}
	return tl
}

// TestBufferedShutdownBufferBounded: a writer that stays ahead of the socket
// never lets the buffer empty; memory must still stay bounded (the bytes
// already sent are dropped from the front), not grow with all it wrote.
func TestBufferedShutdownBufferBounded(t *testing.T) {
	f, err := ParseFaults("buffered-shutdown-fixed")
	require.NoError(t, err)
	ln, err := net.Listen("unix", filepath.Join(sockDir(t), "b.sock"))
	require.NoError(t, err)
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		got <- n
	}()
	raw, err := net.Dial("unix", ln.Addr().String())
	require.NoError(t, err)
	c := WrapConn(raw, Options{Faults: f})
	wc, ok := c.(*conn)
	require.True(t, ok)

	const chunk, total = 1 << 20, 160 << 20
	p := make([]byte, chunk)
	maxCap := 0
	for written := 0; written < total; written += chunk {
		_, err := c.Write(p)
		require.NoError(t, err)
		wc.buf.mu.Lock()
		maxCap = max(maxCap, cap(wc.buf.data))
		wc.buf.mu.Unlock()
	}
	require.NoError(t, c.Close()) // the fixed twin drains first
	assert.Equal(t, int64(total), <-got)
	assert.LessOrEqual(t, maxCap, 2*shutdownBufferMax+2*chunk, "buffer capacity after writing %d MiB", total>>20)
	t.Logf("largest buffer capacity: %d MiB for %d MiB written", maxCap>>20, total>>20)
}
