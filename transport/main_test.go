package transport

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sockDir returns a short directory for Unix sockets (sun_path is 108 bytes at most).
func sockDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "tc")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// listen opens a loopback TCP or a Unix listener.
func listen(t testing.TB, network string) net.Listener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(sockDir(t), "s")
	}
	l, err := net.Listen(network, addr)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// pair returns an accepted conn wrapped with o and the raw client conn dialed to it.
func pair(t testing.TB, network string, o Options) (server *conn, client net.Conn) {
	t.Helper()
	l := listen(t, network)
	wl := WrapListener(l, o)
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := wl.Accept()
		ch <- res{c, err}
	}()
	client, err := net.Dial(network, l.Addr().String())
	require.NoError(t, err)
	r := <-ch
	require.NoError(t, r.err)
	t.Cleanup(func() { r.c.Close(); client.Close() })
	return r.c.(*conn), client
}

func mustFaults(t testing.TB, s string) Faults {
	t.Helper()
	f, err := ParseFaults(s)
	require.NoError(t, err)
	return f
}

var networks = []string{"tcp", "unix"}
