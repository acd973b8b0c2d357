package transport

import (
	"context"
	"net"
	"testing"

	"golang.org/x/net/nettest"
)

// TestConnConformance runs x/net/nettest's conformance suite on wrapped conns: accepted
// through WrapListener and dialed through Dialer, on TCP and Unix sockets, with no faults
// and with latency in the middle of chains of faults that keep the byte stream intact.
func TestConnConformance(t *testing.T) {
	specs := map[string]string{
		"no-faults":       "",
		"latency-slicing": "latency=50us~50us,write-slice=1500,read-slice=1000",
		// latency's delay lines with stages on both sides of them in each direction
		"latency-chain": "latency=2ms~2ms,bandwidth=64MiB,slow-read=64KiB/1ms,stall-after=1GiB",
	}
	for _, network := range networks {
		for name, s := range specs {
			o := Options{Faults: mustFaults(t, s), Seed: 1, Record: 32, Name: "nt"}
			t.Run(network+"/"+name+"/listener", func(t *testing.T) {
				t.Parallel()
				nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
					return listenerPipe(t, network, o)
				})
			})
			t.Run(network+"/"+name+"/dialer", func(t *testing.T) {
				t.Parallel()
				nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
					return dialerPipe(t, network, o)
				})
			})
		}
	}
}

// listenerPipe: c1 is the conn a wrapped listener accepted, c2 the raw client.
func listenerPipe(t *testing.T, network string, o Options) (net.Conn, net.Conn, func(), error) {
	l := listen(t, network)
	wl := WrapListener(l, o)
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := wl.Accept()
		ch <- c
	}()
	c2, err := net.Dial(network, l.Addr().String())
	if err != nil {
		return nil, nil, nil, err
	}
	c1 := <-ch
	stop := func() { c1.Close(); c2.Close(); l.Close() }
	return c1, c2, stop, nil
}

// dialerPipe: c1 is a conn from Dialer, c2 the raw accepted conn.
func dialerPipe(t *testing.T, network string, o Options) (net.Conn, net.Conn, func(), error) {
	l := listen(t, network)
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		ch <- c
	}()
	c1, err := Dialer(o, nil)(context.Background(), network, l.Addr().String())
	if err != nil {
		return nil, nil, nil, err
	}
	c2 := <-ch
	stop := func() { c1.Close(); c2.Close(); l.Close() }
	return c1, c2, stop, nil
}
