package transport

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// body is a recognisable payload: byte i is i mod 251.
func body(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// sent is the result of the wrapped server writing a body to a raw client that reads
// everything.
type sent struct {
	n    int   // what the server's Write returned
	werr error // and its error
	got  []byte
	rerr error // the client's error after its last byte (nil for a clean EOF)
	tl   Timeline
}

// serve makes the wrapped server write size bytes and close; the client reads to the end.
func serve(t *testing.T, network, spec string, size int) sent {
	t.Helper()
	s, c := pair(t, network, Options{Faults: mustFaults(t, spec), Record: 4096, Name: "svc"})
	require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Second)))
	var r sent
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.n, r.werr = s.Write(body(size))
		s.Close()
	}()
	r.got, r.rerr = io.ReadAll(c)
	<-done
	r.tl = s.Timeline()
	return r
}

func hasEvent(tl Timeline, want string) bool {
	for _, e := range tl {
		if e.String() == want {
			return true
		}
	}
	return false
}

func TestCloseAfter(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			r := serve(t, network, "close-after=300KiB", 1<<20)
			assert.Equal(t, 300<<10, len(r.got))
			assert.NoError(t, r.rerr, "the client sees a clean EOF")
			assert.True(t, bytes.Equal(body(300<<10), r.got))
			assert.Equal(t, 300<<10, r.n)
			assert.ErrorIs(t, r.werr, ErrInjected)
			assert.True(t, hasEvent(r.tl, "fault close-after 307200"), r.tl.String())
		})
	}
}

func TestCloseAfterRead(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			s, c := pair(t, network, Options{Faults: mustFaults(t, "close-after=1000@dir=read"), Record: 64})
			go c.Write(body(5000))
			got, err := io.ReadAll(s)
			assert.Len(t, got, 1000)
			assert.ErrorIs(t, err, ErrInjected)
		})
	}
}

func TestHalfCloseAfter(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			s, c := pair(t, network, Options{Faults: mustFaults(t, "half-close-after=64KiB"), Record: 64})
			werr := make(chan error, 1)
			go func() {
				_, err := s.Write(body(1 << 20))
				werr <- err
			}()
			got, err := io.ReadAll(c)
			require.NoError(t, err, "clean EOF")
			assert.Len(t, got, 64<<10)
			assert.ErrorIs(t, <-werr, ErrInjected)
			// The other direction still flows.
			_, err = c.Write([]byte("still here"))
			require.NoError(t, err)
			buf := make([]byte, 10)
			_, err = io.ReadFull(s, buf)
			require.NoError(t, err)
			assert.Equal(t, "still here", string(buf))
			assert.True(t, hasEvent(s.Timeline(), "fault half-close-after 65536"))
			assert.True(t, hasEvent(s.Timeline(), "close-write"))
		})
	}
}

func TestResetAfter(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			r := serve(t, network, "reset-after=100KiB", 1<<20)
			assert.ErrorIs(t, r.werr, ErrInjected)
			assert.True(t, hasEvent(r.tl, "fault reset-after 102400"))
			if network == "tcp" {
				assert.ErrorIs(t, r.rerr, syscall.ECONNRESET, "an RST on TCP")
				assert.LessOrEqual(t, len(r.got), 100<<10)
			} else {
				assert.NoError(t, r.rerr, "a Unix socket has no RST: plain close")
				assert.Len(t, r.got, 100<<10)
			}
		})
	}
}

func TestStallAfter(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			s, c := pair(t, network, Options{Faults: mustFaults(t, "stall-after=10KiB"), Record: 64})
			require.NoError(t, s.SetWriteDeadline(time.Now().Add(300*time.Millisecond)))
			n, err := s.Write(body(1 << 20))
			assert.Equal(t, 10<<10, n)
			var ne net.Error
			require.ErrorAs(t, err, &ne)
			assert.True(t, ne.Timeout(), "the stall ends at the deadline")
			require.NoError(t, c.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
			got, err := io.ReadAll(c)
			assert.Len(t, got, 10<<10)
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "the client sees silence, not an end")
			assert.True(t, hasEvent(s.Timeline(), "fault stall-after 10240"))

			// Close ends a stall with no deadline.
			require.NoError(t, s.SetWriteDeadline(time.Time{}))
			errc := make(chan error, 1)
			go func() {
				_, err := s.Write([]byte("x"))
				errc <- err
			}()
			time.Sleep(20 * time.Millisecond)
			s.Close()
			assert.ErrorIs(t, <-errc, net.ErrClosed)
		})
	}
}

// TestLatency: with jitter, a body written in 1 KiB slices arrives whole and in order,
// one socket write per slice. (When the bytes may leave is TestLatencyWritePipeline's.)
func TestLatency(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			r := serve(t, network, "latency=2ms~2ms,write-slice=1KiB", 100<<10)
			require.NoError(t, r.rerr)
			assert.True(t, bytes.Equal(body(100<<10), r.got), "byte-exact and in order")
			writes := 0
			for _, e := range r.tl {
				if e.Kind == EventWrite {
					writes++
				}
			}
			assert.Equal(t, 100, writes)
		})
	}
}

// TestBandwidth: the body arrives whole in calls of at most a hundredth of a second's
// worth, and the stage's schedule has paid for every byte: 512 KiB at 2 MiB/s put its
// next payment at least 250ms after the first byte moved (a computed time, not a measured one).
func TestBandwidth(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			s, c := pair(t, network, Options{Faults: mustFaults(t, "bandwidth=2MiB"), Record: 4096})
			require.Len(t, s.ws, 1)
			stage := s.ws[0].(*bandwidthStage)
			start := time.Now()
			go func() {
				s.Write(body(512 << 10))
				s.Close()
			}()
			got, err := io.ReadAll(c)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(body(512<<10), got))
			stage.mu.Lock()
			paid := stage.next.Sub(start)
			stage.mu.Unlock()
			assert.GreaterOrEqual(t, paid, 250*time.Millisecond, "the schedule covers 512 KiB at 2 MiB/s")
			for _, e := range s.Timeline() {
				if e.Kind == EventWrite {
					assert.LessOrEqual(t, e.N, int64(2<<20/100))
				}
			}
		})
	}
}

func TestWriteSlice(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			r := serve(t, network, "write-slice=1000", 10_500)
			require.NoError(t, r.rerr)
			assert.True(t, bytes.Equal(body(10_500), r.got))
			var sizes []int64
			for _, e := range r.tl {
				if e.Kind == EventWrite {
					sizes = append(sizes, e.N)
				}
			}
			assert.Equal(t, []int64{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 500}, sizes)
		})
	}
}

func TestReadSlice(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			s, c := pair(t, network, Options{Faults: mustFaults(t, "read-slice=100"), Record: 64})
			_, err := c.Write(body(1000))
			require.NoError(t, err)
			c.Close()
			buf := make([]byte, 4096)
			var got []byte
			for {
				n, err := s.Read(buf)
				assert.LessOrEqual(t, n, 100)
				got = append(got, buf[:n]...)
				if err != nil {
					assert.ErrorIs(t, err, io.EOF)
					break
				}
			}
			assert.True(t, bytes.Equal(body(1000), got))
			assert.True(t, hasEvent(s.Timeline(), "peer-fin"))
		})
	}
}

// acceptedUntilFull writes to a peer that never reads until the kernel takes nothing
// more for three tries 50 ms apart, and returns what it took. The writes are raw
// non-blocking syscalls: no deadline can expire before the first byte is tried, however
// loaded the machine, and the pauses let loopback's window settle.
func acceptedUntilFull(t *testing.T, w net.Conn) int {
	t.Helper()
	if u, ok := w.(interface{ NetConn() net.Conn }); ok {
		w = u.NetConn()
	}
	sc, ok := w.(syscall.Conn)
	require.True(t, ok, "%T has no file descriptor", w)
	rc, err := sc.SyscallConn()
	require.NoError(t, err)
	buf := make([]byte, 64<<10)
	total := 0
	for idle := 0; idle < 3; {
		took := 0
		var werr error
		require.NoError(t, rc.Write(func(fd uintptr) bool {
			for {
				n, err := syscall.Write(int(fd), buf)
				took += max(n, 0)
				if err != nil {
					werr = err
					return true
				}
			}
		}))
		require.ErrorIs(t, werr, syscall.EAGAIN)
		total += took
		if took == 0 {
			idle++
		} else {
			idle = 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	return total
}

func TestSndbuf(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			small, _ := pair(t, network, Options{Faults: mustFaults(t, "sndbuf=8KiB"), Record: 16})
			plain, _ := pair(t, network, Options{Record: 16})
			nSmall, nPlain := acceptedUntilFull(t, small), acceptedUntilFull(t, plain)
			t.Logf("%s: a non-reading peer took %d bytes with sndbuf=8KiB, %d by default", network, nSmall, nPlain)
			assert.Less(t, nSmall, nPlain/2)
			assert.True(t, hasEvent(small.Timeline(), "fault sndbuf 16384"), "Linux doubles the value: %s", small.Timeline())
		})
	}
}

func TestRcvbuf(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			l := listen(t, network)
			dial := func(spec string) (wrapped, server net.Conn) {
				ch := make(chan net.Conn, 1)
				go func() {
					c, _ := l.Accept()
					ch <- c
				}()
				c, err := Dialer(Options{Faults: mustFaults(t, spec), Record: 16}, nil)(context.Background(), network, l.Addr().String())
				require.NoError(t, err)
				s := <-ch
				t.Cleanup(func() { c.Close(); s.Close() })
				return c, s
			}
			small, smallSrv := dial("rcvbuf=8KiB")
			tl, ok := TimelineOf(small)
			require.True(t, ok)
			assert.True(t, hasEvent(tl, "fault rcvbuf 16384"), tl.String())
			if network == "tcp" {
				_, plainSrv := dial("")
				// Pin the writer's own buffer so what it can push is its buffer plus the
				// receiver's window.
				require.NoError(t, smallSrv.(*net.TCPConn).SetWriteBuffer(64<<10))
				require.NoError(t, plainSrv.(*net.TCPConn).SetWriteBuffer(64<<10))
				nSmall, nPlain := acceptedUntilFull(t, smallSrv), acceptedUntilFull(t, plainSrv)
				t.Logf("tcp: a writer to a non-reading client took %d bytes with rcvbuf=8KiB, %d by default", nSmall, nPlain)
				assert.Less(t, nSmall, nPlain)
			}
		})
	}
}

func TestSlowRead(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			l := listen(t, network)
			ch := make(chan net.Conn, 1)
			go func() {
				c, _ := l.Accept()
				ch <- c
			}()
			c, err := Dialer(Options{Faults: mustFaults(t, "slow-read=4KiB/2ms"), Record: 4096, Name: "client"}, nil)(context.Background(), network, l.Addr().String())
			require.NoError(t, err)
			srv := <-ch
			defer srv.Close()
			defer c.Close()
			const size = 256 << 10
			blocked := make(chan time.Duration, 1)
			go func() {
				start := time.Now()
				srv.Write(body(size))
				blocked <- time.Since(start)
				srv.Close()
			}()
			got, err := io.ReadAll(c)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(body(size), got))
			t.Logf("%s: the writer's Write of %d bytes blocked for %v", network, size, <-blocked)
			tl, _ := TimelineOf(c)
			reads := 0
			for _, e := range tl {
				if e.Kind == EventRead {
					reads++
					assert.LessOrEqual(t, e.N, int64(4096))
				}
			}
			assert.GreaterOrEqual(t, reads, size/4096, "every read at most 4 KiB: at least size/4KiB of them")
		})
	}
}

func TestBufferedShutdownRaw(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			for _, fixed := range []bool{false, true} {
				spec := "buffered-shutdown"
				if fixed {
					spec += "-fixed"
				}
				s, c := pair(t, network, Options{Faults: mustFaults(t, spec), Record: 4096})
				const size = 4 << 20
				n, err := s.Write(body(size)) // the peer is not reading: only a buffer can take it
				require.NoError(t, err)
				require.Equal(t, size, n)
				cw := make(chan error, 1)
				go func() { cw <- s.CloseWrite() }()
				if !fixed {
					require.NoError(t, <-cw) // returns at once, without the peer reading
				}
				got, err := io.ReadAll(c)
				require.NoError(t, err, "a clean FIN either way")
				if fixed {
					require.NoError(t, <-cw)
					assert.Equal(t, size, len(got))
				} else {
					assert.Less(t, len(got), size)
				}
				assert.True(t, bytes.Equal(body(size)[:len(got)], got))
				var closeWrite Event
				for _, e := range s.Timeline() {
					if e.Kind == EventCloseWrite {
						closeWrite = e
					}
				}
				t.Logf("%s %s: client got %d of %d; %s", network, spec, len(got), size, closeWrite)
				assert.Equal(t, int64(size-len(got)), closeWrite.N, "the timeline counts what was never sent")
				if !fixed && len(got) > 0 { // on a busy machine the cut can even come before the first write
					full := false
					for _, e := range s.Timeline() {
						full = full || e.Kind == EventWouldBlock || e.Kind == EventPartialWrite
					}
					assert.True(t, full, "the drainer met a full socket buffer: %s", s.Timeline())
				}
				require.NoError(t, s.Close())
			}
		})
	}
}
