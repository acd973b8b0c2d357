package transport

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const answerSize = 64 << 10

// answering serves every conn at once: it waits for one byte, then writes answerSize
// bytes and closes. A conn dialed but not yet asked stays open, holding the faults it
// was accepted with.
func answering(t *testing.T, l net.Listener, wrap func(net.Conn) net.Conn) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				if _, err := c.Read(make([]byte, 1)); err != nil {
					return
				}
				_, _ = c.Write(body(answerSize))
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })
}

// ask sends the byte that makes the server answer, reads the answer to its end and
// closes the conn.
func ask(t *testing.T, c net.Conn) int {
	t.Helper()
	defer c.Close()
	_, err := c.Write([]byte{1})
	require.NoError(t, err)
	n, _ := io.Copy(io.Discard, c) // a cut ends in EOF or a reset: the count is the point
	return int(n)
}

// eventually polls cond every 5ms for at most 5s.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

// TestProxySetFaults: a change acts on the conns accepted after it; an open conn keeps
// the faults it started with and is counted stale; removing the fault makes the next
// conn whole. The stats count bytes, conns and the fault that fired.
func TestProxySetFaults(t *testing.T) {
	up := listen(t, "tcp")
	answering(t, up, nil)
	p, _ := startProxy(t, "tcp", up, ProxyConfig{})

	before := dialProxy(t, p) // accepted with no faults
	eventually(t, func() bool { return p.Stats().Active == 1 }, "the first conn is open")
	p.SetFaults(Faults{}, mustFaults(t, "close-after=1000"))
	_, toClient := p.Faults()
	assert.Equal(t, "close-after=1kB", toClient.String())
	assert.Equal(t, int64(1), p.Stats().Stale, "the open conn runs the older faults")

	assert.Equal(t, 1000, ask(t, dialProxy(t, p)), "a conn accepted after the change is cut")
	assert.Equal(t, answerSize, ask(t, before), "the conn accepted before keeps its chain")

	p.SetFaults(Faults{}, Faults{})
	assert.Equal(t, answerSize, ask(t, dialProxy(t, p)), "once removed, the next conn is whole")

	eventually(t, func() bool { return p.Stats().Active == 0 }, "every conn ended")
	s := p.Stats()
	assert.Equal(t, uint64(3), s.Conns)
	assert.Equal(t, int64(2*answerSize+1000), s.ToClient)
	assert.Equal(t, int64(3), s.ToUpstream)
	assert.Equal(t, map[string]uint64{"close-after": 1}, s.Fired)
	assert.Zero(t, s.Stale)
}

// TestListenerSetFaults: the same on a server's own listener, with the per-direction
// form a control API speaks.
func TestListenerSetFaults(t *testing.T) {
	wl := WrapListener(listen(t, "tcp"), Options{})
	answering(t, wl, nil)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", wl.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
		return c
	}
	before := dial()
	eventually(t, func() bool { return wl.Stats().Active == 1 }, "the first conn is accepted")
	f, err := ListenerFaults(Faults{}, mustFaults(t, "close-after=1000"))
	require.NoError(t, err)
	wl.SetFaults(f)
	assert.Equal(t, f.String(), wl.Faults().String())
	assert.Equal(t, int64(1), wl.Stats().Stale)

	assert.Equal(t, 1000, ask(t, dial()))
	assert.Equal(t, answerSize, ask(t, before))
	wl.SetFaults(Faults{})
	assert.Equal(t, answerSize, ask(t, dial()))

	// A cut conn is closed (and no longer active) before the Write that cut it returns
	// and counts its bytes: wait for both.
	eventually(t, func() bool { s := wl.Stats(); return s.Active == 0 && s.ToClient >= 2*answerSize+1000 }, "every conn closed and counted")
	s := wl.Stats()
	assert.Equal(t, uint64(3), s.Conns)
	assert.Equal(t, int64(2*answerSize+1000), s.ToClient, "what the server wrote")
	assert.Equal(t, int64(3), s.ToUpstream, "what the server read")
	assert.Equal(t, map[string]uint64{"close-after": 1}, s.Fired)
}

func TestListenerFaults(t *testing.T) {
	tests := []struct {
		name                 string
		toUpstream, toClient string
		want                 string // the listener's chain, or the error's text
		err                  bool
	}{
		{name: "writes to the client", toClient: "close-after=300KiB,sndbuf=8KiB", want: "close-after=300KiB,sndbuf=8KiB"},
		{name: "reads from the client", toUpstream: "slow-read=16KiB/5ms,close-after=1KiB", want: "close-after=1KiB@dir=read,slow-read=16KiB/5ms"},
		{name: "latency each way", toUpstream: "latency=5ms", toClient: "latency=7ms", want: "latency=7ms@dir=write,latency=5ms@dir=read"},
		{name: "a read fault to the client", toClient: "slow-read=16KiB/5ms", err: true,
			want: `to_client: fault "slow-read=16KiB/5ms": slow-read acts on read only (on a listener, to_client takes faults that act on writes, to_upstream faults that act on reads)`},
		{name: "a write fault from the client", toUpstream: "buffered-shutdown", err: true, want: "buffered-shutdown acts on write only"},
		{name: "dir both", toClient: "close-after=1KiB@dir=both", err: true, want: "give the fault in each direction"},
		{name: "dir against the direction", toClient: "latency=5ms@dir=read", err: true, want: "@dir=read cannot act on this direction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ListenerFaults(mustFaults(t, tt.toUpstream), mustFaults(t, tt.toClient))
			if tt.err {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.String())
			up, down, err := f.Directions()
			require.NoError(t, err)
			assert.Equal(t, mustFaults(t, tt.toUpstream).String(), up.String(), "Directions gives the directions back")
			assert.Equal(t, mustFaults(t, tt.toClient).String(), down.String())
		})
	}
}

func TestDirections(t *testing.T) {
	up, down, err := mustFaults(t, "latency=5ms,slow-read=1KiB/1ms,buffered-shutdown").Directions()
	require.NoError(t, err)
	assert.Equal(t, "slow-read=1KiB/1ms,latency=5ms", up.String())
	assert.Equal(t, "latency=5ms,buffered-shutdown", down.String())

	_, _, err = mustFaults(t, "close-after=1KiB@dir=both").Directions()
	assert.ErrorContains(t, err, "shares one budget")
}

func TestJoin(t *testing.T) {
	f, err := Join(mustFaults(t, "latency=5ms"), mustFaults(t, "close-after=1KiB"))
	require.NoError(t, err)
	assert.Equal(t, "close-after=1KiB,latency=5ms", f.String(), "in chain order")
	assert.Equal(t, []string{"close-after", "latency"}, f.Kinds())
	_, err = Join(mustFaults(t, "close-after=2KiB"), mustFaults(t, "close-after=1KiB"))
	assert.ErrorContains(t, err, `"close-after" already given`)
	f, err = Join(Faults{}, Faults{})
	require.NoError(t, err)
	assert.True(t, f.IsZero())
}
