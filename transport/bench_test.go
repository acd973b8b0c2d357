package transport

import (
	"net"
	"testing"
)

// BenchmarkThroughput measures one stream on loopback in one process, a client writing
// 64 KiB chunks to a server that reads them with a 64 KiB buffer and discards them:
//
//	direct:  plain conns: the baseline of the others on the same kind of socket
//	wrapped: the server accepted through WrapListener, the client through WrapConn
//	         (no faults, no recorder): the cost of the wrapper itself
//	proxy:   the same through a Proxy with no faults (TCP on both sides)
//	proxy-recorded: through a Proxy with a flight recorder on both of its conns
//
// bench.sh runs each sub-benchmark in its own process, in an order that rotates per
// repetition, and prints wrapped/direct and proxy/direct.
func BenchmarkThroughput(b *testing.B) {
	for _, network := range []string{"tcp", "unix"} {
		b.Run(network+"/direct", func(b *testing.B) { benchStream(b, network, false, nil) })
		b.Run(network+"/wrapped", func(b *testing.B) { benchStream(b, network, true, nil) })
	}
	b.Run("tcp/proxy", func(b *testing.B) { benchStream(b, "tcp", false, &ProxyConfig{}) })
	b.Run("tcp/proxy-recorded", func(b *testing.B) { benchStream(b, "tcp", false, &ProxyConfig{Record: 64}) })
}

func benchStream(b *testing.B, network string, wrap bool, proxy *ProxyConfig) {
	l := listen(b, network)
	var ln net.Listener = l
	if wrap {
		ln = WrapListener(l, Options{})
	}
	done := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- 0
			return
		}
		buf := make([]byte, 64<<10)
		var n int64
		for {
			m, err := c.Read(buf)
			n += int64(m)
			if err != nil {
				break
			}
		}
		c.Close()
		done <- n
	}()
	addr := l.Addr()
	if proxy != nil {
		cfg := *proxy
		cfg.ListenNetwork, cfg.ListenAddr = "tcp", "127.0.0.1:0"
		cfg.UpstreamNetwork, cfg.UpstreamAddr = addr.Network(), addr.String()
		p, err := NewProxy(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		addr = p.Addr()
	}
	c, err := net.Dial(addr.Network(), addr.String())
	if err != nil {
		b.Fatal(err)
	}
	if wrap {
		c = WrapConn(c, Options{})
	}
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	if n := <-done; n != int64(b.N*len(chunk)) {
		b.Fatalf("server got %d of %d bytes", n, b.N*len(chunk))
	}
	b.StopTimer()
}
