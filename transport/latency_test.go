package transport

import (
	"bytes"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a clock that moves only when the test says so: the latency tests check
// when bytes may leave without measuring how long anything took.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Timer(d time.Duration) (<-chan time.Time, func() bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch, func() bool { return false }
	}
	f.timers = append(f.timers, fakeTimer{at: f.now.Add(d), ch: ch})
	return ch, func() bool { return true }
}

// advance moves the clock by d and fires every timer that is due.
func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.timers[:0]
	for _, t := range f.timers {
		if t.at.After(f.now) {
			kept = append(kept, t)
			continue
		}
		t.ch <- f.now
	}
	f.timers = kept
}

// draws returns a draw func that hands out ds in order (then the last one again).
func draws(ds ...time.Duration) func() time.Duration {
	i := 0
	return func() time.Duration {
		d := ds[min(i, len(ds)-1)]
		i++
		return d
	}
}

// TestDelayLineSchedule checks the releases the line computes: each chunk leaves at its
// own arrival plus its delay, so chunks in flight overlap (the second of two chunks 1ms
// apart leaves at 6ms, not at 10ms), and a shorter jittered delay never overtakes.
func TestDelayLineSchedule(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := time.Millisecond
	tests := []struct {
		name    string
		delays  []time.Duration
		arrived []time.Duration // offsets from t0
		want    []time.Duration // releases, offsets from t0
	}{
		{"overlap", []time.Duration{5 * ms}, []time.Duration{0, 1 * ms}, []time.Duration{5 * ms, 6 * ms}},
		{"same arrival", []time.Duration{5 * ms}, []time.Duration{0, 0, 0}, []time.Duration{5 * ms, 5 * ms, 5 * ms}},
		{"apart", []time.Duration{5 * ms}, []time.Duration{0, 20 * ms}, []time.Duration{5 * ms, 25 * ms}},
		{"jitter cannot reorder", []time.Duration{7 * ms, 3 * ms, 6 * ms}, []time.Duration{0, 1 * ms, 2 * ms}, []time.Duration{7 * ms, 7 * ms, 8 * ms}},
		{"zero", []time.Duration{0}, []time.Duration{0, 3 * ms}, []time.Duration{0, 3 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newDelayLine(draws(tt.delays...), newFakeClock())
			var got []time.Duration
			l.mu.Lock()
			for _, a := range tt.arrived {
				got = append(got, l.schedule(t0.Add(a), 1).Sub(t0))
			}
			l.mu.Unlock()
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestDelayLineSeededJitter: the delays of a conn's line come from its seed, and
// whatever they are, releases never go back in time.
func TestDelayLineSeededJitter(t *testing.T) {
	releases := func(seed uint64) []time.Time {
		s := latencyKind
		f := faultSpec{kind: &s, dur: 5 * time.Millisecond, jitter: 4 * time.Millisecond}
		_, w := s.stages(f, seed)
		l := newDelayLine(w.(*latencyStage).delay, newFakeClock())
		t0 := time.Unix(1000, 0)
		var out []time.Time
		l.mu.Lock()
		defer l.mu.Unlock()
		for i := range 200 {
			arrived := t0.Add(time.Duration(i) * 100 * time.Microsecond)
			r := l.schedule(arrived, 1)
			assert.False(t, r.Before(arrived.Add(time.Millisecond)), "delay below latency-jitter")
			assert.False(t, r.After(arrived.Add(9*time.Millisecond)), "delay above latency+jitter")
			if len(out) > 0 {
				assert.False(t, r.Before(out[len(out)-1]), "chunk %d released before its predecessor", i)
			}
			out = append(out, r)
		}
		return out
	}
	assert.Equal(t, releases(7), releases(7))
	assert.NotEqual(t, releases(7), releases(8))
}

// TestDelayLinePop: the reader gets a chunk only once it is due, and a Read takes every
// chunk that is due, stopping before one that is not and before the stream's end.
func TestDelayLinePop(t *testing.T) {
	fc := newFakeClock()
	ms := time.Millisecond
	l := newDelayLine(draws(5*ms), fc)
	t0 := fc.Now()
	put := func(s string, at time.Duration, err error) {
		buf := lineBuffers.Get().(*[lineChunkSize]byte)
		l.pushRead(buf, copy(buf[:], s), err, t0.Add(at))
	}
	put("ab", 0, nil)
	put("cd", 1*ms, nil)
	put("ef", 3*ms, io.EOF)

	l.mu.Lock()
	ok, wake := l.due(t0.Add(5*ms - 1))
	l.mu.Unlock()
	assert.False(t, ok, "nothing is due before 5ms")
	assert.Equal(t, t0.Add(5*ms), wake)

	read := func() (string, error) {
		p := make([]byte, 10)
		n, err, w := l.pop(p, nil, nil)
		require.Equal(t, waitDone, w)
		return string(p[:n]), err
	}
	type result struct {
		s   string
		err error
	}
	got := make(chan result, 1)
	go func() {
		s, err := read()
		got <- result{s, err}
	}()
	// The reader waits on the clock: it can only have been woken by the advance to 6ms.
	fc.advance(6 * ms)
	r := <-got
	assert.Equal(t, result{"abcd", nil}, r, "at 6ms the first two chunks are due, the third (8ms) is not")
	fc.advance(2 * ms)
	s, err := read()
	assert.Equal(t, "ef", s)
	assert.NoError(t, err, "the bytes before the end come first")
	s, err = read()
	assert.Equal(t, "", s)
	assert.ErrorIs(t, err, io.EOF)
	s, err = read()
	assert.ErrorIs(t, err, io.EOF, "the end stays")
	assert.Equal(t, "", s)
}

// lineConn returns a wrapped server conn with spec whose delay lines run on fc, and its
// raw client.
func lineConn(t *testing.T, network, spec string, fc *fakeClock) (*conn, net.Conn) {
	t.Helper()
	s, c := pair(t, network, Options{Faults: mustFaults(t, spec), Record: 4096, Name: "svc", Seed: 3})
	for _, l := range []*delayLine{s.rline, s.wline} {
		if l != nil {
			l.clock = fc
		}
	}
	return s, c
}

// TestLatencyWritePipeline: ten 1 KiB chunks written at once all leave at arrival+20ms
// (the clock is frozen: the app's Write returns without paying the latency per chunk),
// none leaves before the clock reaches it, and the bytes arrive whole and in order, one
// socket write per chunk in the flight recorder.
func TestLatencyWritePipeline(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			fc := newFakeClock()
			s, c := lineConn(t, network, "latency=20ms,write-slice=1KiB", fc)
			type sched struct{ arrived, release time.Time }
			var mu sync.Mutex
			var got []sched
			s.wline.onSchedule = func(a, r time.Time, _ int) {
				mu.Lock()
				got = append(got, sched{a, r})
				mu.Unlock()
			}
			t0 := fc.Now()
			n, err := s.Write(body(10 << 10))
			require.NoError(t, err)
			require.Equal(t, 10<<10, n, "Write returned with the clock frozen: the chunks wait in the line")

			// Nothing may leave before its release: a read finds no bytes.
			require.NoError(t, c.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
			m, err := c.Read(make([]byte, 1))
			assert.Zero(t, m)
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded)

			mu.Lock()
			require.Len(t, got, 10)
			for i, g := range got {
				assert.Equal(t, t0, g.arrived, "chunk %d", i)
				assert.Equal(t, t0.Add(20*time.Millisecond), g.release, "chunk %d leaves 20ms after it arrived", i)
			}
			mu.Unlock()

			fc.advance(20 * time.Millisecond)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Second)))
			all := make([]byte, 10<<10)
			_, err = io.ReadFull(c, all)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(body(10<<10), all))
			require.NoError(t, s.Close())
			writes := 0
			for _, e := range s.Timeline() {
				if e.Kind == EventWrite {
					writes++
					assert.Equal(t, int64(1024), e.N)
				}
			}
			assert.Equal(t, 10, writes)
		})
	}
}

// TestLatencyReadPipeline: bytes that came off the socket are held until their release
// and then delivered together, and the peer's FIN comes after them.
func TestLatencyReadPipeline(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			fc := newFakeClock()
			s, c := lineConn(t, network, "latency=30ms@dir=read", fc)
			_, err := c.Write([]byte("hello"))
			require.NoError(t, err)
			require.NoError(t, c.(interface{ CloseWrite() error }).CloseWrite())

			require.NoError(t, s.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
			n, err := s.Read(make([]byte, 10))
			assert.Zero(t, n, "not due yet")
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded)

			// Wait until the reader goroutine has the bytes and the FIN (state, not time).
			require.Eventually(t, func() bool {
				s.rline.mu.Lock()
				defer s.rline.mu.Unlock()
				return len(s.rline.chunks) == 2
			}, 10*time.Second, time.Millisecond)
			fc.advance(30 * time.Millisecond)
			require.NoError(t, s.SetReadDeadline(time.Time{}))
			got, err := io.ReadAll(s)
			require.NoError(t, err)
			assert.Equal(t, "hello", string(got))
			assert.True(t, hasEvent(s.Timeline(), "read 5"), s.Timeline().String())
			assert.True(t, hasEvent(s.Timeline(), "peer-fin"), s.Timeline().String())
		})
	}
}

// TestLatencyBackpressure: a full line stops taking bytes, so a writer ahead of a slow
// wire blocks like on a full socket; the write deadline and Close end the wait.
func TestLatencyBackpressure(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			fc := newFakeClock()
			s, _ := lineConn(t, network, "latency=1h", fc)
			s.wline.limit = 4 * (lineChunkSize + chunkOverhead) // four 64 KiB chunks
			held := func() int {
				s.wline.mu.Lock()
				defer s.wline.mu.Unlock()
				return s.wline.held
			}
			type res struct {
				n   int
				err error
			}
			done := make(chan res, 1)
			go func() {
				n, err := s.Write(make([]byte, 1<<20))
				done <- res{n, err}
			}()
			require.Eventually(t, func() bool { return held() == 256<<10 }, 10*time.Second, time.Millisecond)
			require.NoError(t, s.SetWriteDeadline(time.Now().Add(-time.Second)))
			r := <-done
			assert.Equal(t, 256<<10, r.n, "the line took its limit and no more")
			var ne net.Error
			require.ErrorAs(t, r.err, &ne)
			assert.True(t, ne.Timeout())

			require.NoError(t, s.SetWriteDeadline(time.Time{}))
			go func() {
				n, err := s.Write(make([]byte, 1<<20))
				done <- res{n, err}
			}()
			// Close stops the line (the deadline is gone, but nothing is due for an hour and
			// the peer never reads): it must not wait for the hour.
			require.NoError(t, s.SetWriteDeadline(time.Now().Add(-time.Second)))
			require.NoError(t, s.Close())
			r = <-done
			assert.Error(t, r.err)
			var closeEv Event
			for _, e := range s.Timeline() {
				if e.Kind == EventClose {
					closeEv = e
				}
			}
			assert.Equal(t, int64(256<<10), closeEv.N, "the timeline counts what never left the line: %s", closeEv)
		})
	}
}

// TestLatencyCloseEndsWaits: a Read waiting for bytes that are due in an hour returns at
// Close; so does a Write waiting for room.
func TestLatencyCloseEndsWaits(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			s, c := pair(t, network, Options{Faults: mustFaults(t, "latency=1h@dir=read")})
			_, err := c.Write([]byte("late"))
			require.NoError(t, err)
			errc := make(chan error, 1)
			go func() {
				_, err := s.Read(make([]byte, 10))
				errc <- err
			}()
			require.Eventually(t, func() bool {
				s.rline.mu.Lock()
				defer s.rline.mu.Unlock()
				return s.rline.held == 4
			}, 10*time.Second, time.Millisecond)
			require.NoError(t, s.Close())
			assert.ErrorIs(t, <-errc, net.ErrClosed)
		})
	}
}

// TestLatencyCloseDelivers: bytes written before Close still reach the peer: a latency
// fault must never cut a body.
func TestLatencyCloseDelivers(t *testing.T) {
	for _, network := range networks {
		for _, spec := range []string{"latency=5ms~5ms", "latency=2ms,close-after=300KiB", "latency=2ms,half-close-after=100KiB"} {
			t.Run(network+"/"+spec, func(t *testing.T) {
				r := serve(t, network, spec, 1<<20)
				want := 1 << 20
				switch spec {
				case "latency=2ms,close-after=300KiB":
					want = 300 << 10
				case "latency=2ms,half-close-after=100KiB":
					want = 100 << 10
				}
				require.NoError(t, r.rerr)
				assert.Len(t, r.got, want)
				assert.True(t, bytes.Equal(body(want), r.got), "byte-exact")
			})
		}
	}
}

// TestDelayLineSmallChunks: one-byte writes cannot each pin a 64 KiB buffer: small chunks
// get storage of their own size, and the per-chunk overhead bounds how many wait.
func TestDelayLineSmallChunks(t *testing.T) {
	fc := newFakeClock()
	l := newDelayLine(draws(time.Hour), fc)
	var dl deadline
	dl.set(time.Now().Add(-time.Second)) // a full line returns at once instead of waiting
	pushed := 0
	for {
		n, w, err := l.push([]byte{'x'}, fc.Now(), &dl, nil)
		require.NoError(t, err)
		if w != waitDone {
			break
		}
		pushed += n
		require.Less(t, pushed, lineLimit, "the line never fills")
	}
	assert.Equal(t, lineLimit/(1+chunkOverhead), pushed)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range l.chunks {
		require.Nil(t, ch.buf)
		require.LessOrEqual(t, cap(ch.data), 16, "storage of its own size")
	}
	assert.LessOrEqual(t, l.load, lineLimit)
}

// TestLatencyCloseEndsAWriteLinePausedByDeadline: a write line whose socket write failed
// at a passed write deadline waits for the deadline to move; Close must end that wait
// whenever it comes, including while the releaser is between looking at the line and
// waiting on it (a stop in that gap once left Close waiting forever: a CI run hung in
// nettest's conformance suite). Many rounds, because the gap is a few instructions wide.
func TestLatencyCloseEndsAWriteLinePausedByDeadline(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			for round := range 300 {
				s, _ := pair(t, network, Options{Faults: mustFaults(t, "latency=1us@dir=write")})
				require.NoError(t, s.SetWriteDeadline(time.Now().Add(-time.Second)))
				s.wline.mu.Lock()
				s.wline.started = true // the releaser starts below, after the deadline passed
				s.wline.mu.Unlock()
				go s.releaseWrites()
				_, w, err := s.wline.push([]byte("paused"), time.Now(), nil, s.closed)
				require.NoError(t, err)
				require.Equal(t, waitDone, w)
				closed := make(chan error, 1)
				go func() { closed <- s.Close() }()
				select {
				case err := <-closed:
					require.NoError(t, err)
				case <-time.After(10 * time.Second):
					t.Fatalf("round %d: Close still waits for the write line's releaser after 10s", round)
				}
			}
		})
	}
}
