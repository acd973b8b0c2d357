package control

import (
	"context"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truncheck/truncheck/transport/transporttest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bodySize is what the upstream of these tests writes on every conn.
const bodySize = 64 << 10

// upstreamServer listens on loopback; every conn it accepts gets bodySize bytes, then
// a FIN.
func upstreamServer(t *testing.T) net.Listener { return transporttest.Upstream(t, bodySize) }

// startServer starts an API on loopback and a client of it.
func startServer(t *testing.T, cfg Config) (*Server, *Client) {
	t.Helper()
	s := New(cfg)
	require.NoError(t, s.Start("tcp", "127.0.0.1:0"))
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	c, err := NewClient("http://" + s.Addr().String())
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return s, c
}

// fetch dials addr (the API's form: HOST:PORT or unix:/PATH), reads to the end and
// says how many bytes came.
func fetch(t *testing.T, addr string) int {
	t.Helper()
	network := "tcp"
	if len(addr) > 5 && addr[:5] == "unix:" {
		network, addr = "unix", addr[5:]
	}
	c, err := net.Dial(network, addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	n, _ := io.Copy(io.Discard, c) // a cut ends in EOF or a reset: the count is the point
	return int(n)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// shortDir is a directory whose path fits a Unix socket's.
func shortDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "tcc")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
