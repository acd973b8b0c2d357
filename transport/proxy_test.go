package transport

import (
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upstream runs handle on every conn accepted on a fresh listener until the test ends.
func upstream(t *testing.T, network string, handle func(net.Conn)) net.Listener {
	t.Helper()
	l := listen(t, network)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			handle(c) // one at a time is enough here
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l
}

// startProxy starts a proxy from listenNet to up and returns it with a channel of reports.
func startProxy(t *testing.T, listenNet string, up net.Listener, cfg ProxyConfig) (*Proxy, chan ProxyReport) {
	t.Helper()
	cfg.ListenNetwork, cfg.ListenAddr = listenNet, "127.0.0.1:0"
	if listenNet == "unix" {
		cfg.ListenAddr = filepath.Join(sockDir(t), "p")
	}
	cfg.UpstreamNetwork, cfg.UpstreamAddr = up.Addr().Network(), up.Addr().String()
	reports := make(chan ProxyReport, 16)
	cfg.OnConnEnd = func(r ProxyReport) { reports <- r }
	p, err := NewProxy(cfg)
	require.NoError(t, err)
	require.NoError(t, p.Start())
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p, reports
}

func dialProxy(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial(p.Addr().Network(), p.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(60*time.Second)))
	return c
}

func closeWrite(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.(interface{ CloseWrite() error }).CloseWrite())
}

// TestProxyHalfClose: the client sends, half-closes, and still reads the answer the
// upstream sends only after it saw the FIN.
func TestProxyHalfClose(t *testing.T) {
	for _, hop := range [][2]string{{"tcp", "tcp"}, {"tcp", "unix"}, {"unix", "tcp"}, {"unix", "unix"}} {
		t.Run(hop[0]+"-to-"+hop[1], func(t *testing.T) {
			up := upstream(t, hop[1], func(c net.Conn) {
				n, err := io.Copy(io.Discard, c) // until the FIN
				if err == nil {
					c.Write([]byte("got " + itoa(n)))
				}
			})
			for _, record := range []int{0, 64} {
				p, reports := startProxy(t, hop[0], up, ProxyConfig{Record: record})
				c := dialProxy(t, p)
				_, err := c.Write(body(100_000))
				require.NoError(t, err)
				closeWrite(t, c)
				answer, err := io.ReadAll(c)
				require.NoError(t, err)
				assert.Equal(t, "got 100000", string(answer))
				r := report(t, reports)
				assert.Equal(t, DirectionReport{Bytes: 100_000, End: EndFIN}, r.ToUpstream)
				assert.Equal(t, DirectionReport{Bytes: 10, End: EndFIN}, r.ToClient)
				got, ok := p.Report(r.ID)
				assert.True(t, ok)
				assert.Equal(t, r.ToClient, got.ToClient)
				if record > 0 {
					assert.True(t, hasEvent(r.Client, "peer-fin"), r.Client.String())
					assert.True(t, hasEvent(r.Upstream, "close-write"), r.Upstream.String())
				}
			}
		})
	}
}

func itoa(n int64) string { return (Event{Kind: EventRead, N: n}).String()[len("read "):] }

// TestProxy64MiB: 64 MiB each way through the proxy, byte for byte, with and without a
// recorder and faults in the path.
func TestProxy64MiB(t *testing.T) {
	const size = 64 << 20
	for _, tc := range []struct {
		name string
		hop  [2]string
		cfg  ProxyConfig
	}{
		{"tcp-plain", [2]string{"tcp", "tcp"}, ProxyConfig{}},
		{"unix-to-tcp-faults", [2]string{"unix", "tcp"}, ProxyConfig{Record: 256,
			ToClient: mustFaults(t, "write-slice=100KiB"), ToUpstream: mustFaults(t, "read-slice=30000")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := upstream(t, tc.hop[1], func(c net.Conn) {
				io.Copy(c, c) // echo, then FIN
			})
			p, reports := startProxy(t, tc.hop[0], up, tc.cfg)
			c := dialProxy(t, p)
			sent := sha256.New()
			go func() {
				src := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{1}), size), sent)
				io.Copy(c, src)
				c.(interface{ CloseWrite() error }).CloseWrite()
			}()
			got := sha256.New()
			n, err := io.Copy(got, c)
			require.NoError(t, err)
			assert.Equal(t, int64(size), n)
			assert.Equal(t, sent.Sum(nil), got.Sum(nil), "byte-exact")
			r := report(t, reports)
			assert.Equal(t, DirectionReport{Bytes: size, End: EndFIN}, r.ToUpstream)
			assert.Equal(t, DirectionReport{Bytes: size, End: EndFIN}, r.ToClient)
		})
	}
}

func TestProxyFaultPerDirection(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			up := upstream(t, network, func(c net.Conn) { c.Write(body(1 << 20)) })
			p, reports := startProxy(t, network, up, ProxyConfig{Record: 64, ToClient: mustFaults(t, "close-after=100KiB")})
			c := dialProxy(t, p)
			got, err := io.ReadAll(c)
			require.NoError(t, err, "the client sees a clean FIN")
			assert.Len(t, got, 100<<10)
			r := report(t, reports)
			assert.Equal(t, EndFault, r.ToClient.End)
			assert.Equal(t, int64(100<<10), r.ToClient.Bytes)
			assert.ErrorContains(t, errString(r.ToClient.Err), "close-after 102400")
			assert.True(t, hasEvent(r.Client, "fault close-after 102400"), r.Client.String())
		})
	}
}

// TestProxyRST: an upstream reset reaches a TCP client as a reset.
func TestProxyRST(t *testing.T) {
	up := upstream(t, "tcp", func(c net.Conn) {
		c.Write(body(1000))
		time.Sleep(20 * time.Millisecond)
		c.(*net.TCPConn).SetLinger(0)
	})
	p, reports := startProxy(t, "tcp", up, ProxyConfig{})
	c := dialProxy(t, p)
	got, err := io.ReadAll(c)
	assert.ErrorIs(t, err, syscall.ECONNRESET)
	assert.LessOrEqual(t, len(got), 1000)
	r := report(t, reports)
	assert.Equal(t, EndRST, r.ToClient.End)
}

func TestProxyConfigErrors(t *testing.T) {
	_, err := NewProxy(ProxyConfig{ListenNetwork: "udp", ListenAddr: "x", UpstreamNetwork: "tcp", UpstreamAddr: "y"})
	assert.EqualError(t, err, `proxy: listen network "udp" not accepted; accepted: tcp, tcp4, tcp6, unix`)
	_, err = NewProxy(ProxyConfig{ListenNetwork: "tcp", ListenAddr: "127.0.0.1:0", UpstreamNetwork: "unix"})
	assert.EqualError(t, err, `proxy: upstream address is empty`)
}

// TestProxyCloseWithOpenConns: Close ends conns in flight and waits for every goroutine.
func TestProxyCloseWithOpenConns(t *testing.T) {
	up := upstream(t, "tcp", func(c net.Conn) {
		c.Write([]byte("stalls in the proxy"))
		io.Copy(io.Discard, c)
	})
	p, err := NewProxy(ProxyConfig{ListenNetwork: "tcp", ListenAddr: "127.0.0.1:0", UpstreamNetwork: "tcp",
		UpstreamAddr: up.Addr().String(), ToClient: mustFaults(t, "stall-after=0")})
	require.NoError(t, err)
	require.NoError(t, p.Start())
	c, err := net.Dial("tcp", p.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, p.Close()) // returns although a write to the client is stalled
	got, err := io.ReadAll(c)
	assert.NoError(t, err)
	assert.Empty(t, got, "stall-after=0: nothing reached the client")
	r, ok := p.Report("proxy-1")
	require.True(t, ok)
	assert.Equal(t, EndClosed, r.ToClient.End)
}

type errString string

func (e errString) Error() string { return string(e) }

// TestProxyBufferedShutdown puts the hyper #4022 defect in front of an upstream that
// sends 4 MiB and a FIN: the proxy's own writes all "succeed", the slow client gets less
// and a clean FIN. The report says the proxy forwarded everything: a silent truncation.
func TestProxyBufferedShutdown(t *testing.T) {
	const size = 4 << 20
	up := upstream(t, "unix", func(c net.Conn) { c.Write(body(size)) })
	p, reports := startProxy(t, "unix", up, ProxyConfig{Record: 256, ToClient: mustFaults(t, "buffered-shutdown")})
	c, err := Dialer(Options{Faults: mustFaults(t, "slow-read=64KiB/2ms")}, nil)(context.Background(), "unix", p.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	got, err := io.ReadAll(c)
	require.NoError(t, err, "a clean FIN")
	c.Close() // ends the other direction
	r := report(t, reports)
	t.Logf("client got %d of %d; proxy report: to-client %+v", len(got), size, r.ToClient)
	assert.Less(t, len(got), size)
	assert.Equal(t, body(size)[:len(got)], got)
	assert.Equal(t, DirectionReport{Bytes: size, End: EndFIN}, r.ToClient, "the proxy believes it sent everything")
}

// report waits for the next proxy report, failing the test instead of hanging.
func report(t *testing.T, reports chan ProxyReport) ProxyReport {
	t.Helper()
	select {
	case r := <-reports:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no proxy report within 30s")
		return ProxyReport{}
	}
}

// TestProxyKnowsWhichFaultCut: the proxy tells, by the client's own
// address, that its fault cut the conn: the upstream wrote everything and
// cannot know.
func TestProxyKnowsWhichFaultCut(t *testing.T) {
	f, err := ParseFaults("close-after=2KiB")
	require.NoError(t, err)
	up := upstream(t, "tcp", func(c net.Conn) { _, _ = c.Write(make([]byte, 64<<10)) })
	p, reports := startProxy(t, "tcp", up, ProxyConfig{ToClient: f})
	c := dialProxy(t, p)
	got, _ := io.ReadAll(c)
	assert.Len(t, got, 2048)
	r := <-reports
	assert.Equal(t, "close-after=2KiB", r.Fired)
	assert.Equal(t, PeerKey(c), r.Peer)
	byPeer, ok := p.ConnFrom(PeerKey(c))
	require.True(t, ok)
	assert.Equal(t, r.ID, byPeer.ID)
	assert.Equal(t, "close-after=2KiB", byPeer.Fired)
	_, ok = p.ConnFrom("tcp:127.0.0.1:1")
	assert.False(t, ok)
}
