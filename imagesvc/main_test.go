package imagesvc

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testEnv is a Service behind a real Server on loopback TCP and a Unix socket,
// with a client for each.
type testEnv struct {
	svc        *Service
	srv        *Server
	tcp, unix  *http.Client
	tcpBase    string
	unixBase   string
	socketPath string
}

// shortSocketPath returns a socket path well under the 108-byte sun_path limit.
func shortSocketPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tc")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s.sock")
}

func newEnv(t testing.TB, cfg Config, scfg ServerConfig) *testEnv {
	t.Helper()
	svc, err := New(cfg)
	require.NoError(t, err)
	if scfg.TCPAddr == "" {
		scfg.TCPAddr = "127.0.0.1:0"
	}
	if scfg.UnixPath == "" {
		scfg.UnixPath = shortSocketPath(t)
	}
	srv := NewServer(svc, scfg)
	require.NoError(t, srv.Start())
	e := &testEnv{svc: svc, srv: srv, socketPath: srv.UnixPath()}
	e.tcp = &http.Client{Transport: &http.Transport{}, Timeout: 2 * time.Minute}
	e.unix = unixClient(e.socketPath)
	e.tcpBase = "http://" + srv.TCPAddr()
	e.unixBase = "http://unix"
	t.Cleanup(func() {
		e.tcp.CloseIdleConnections()
		e.unix.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
	})
	return e
}

func unixClient(path string) *http.Client {
	return &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}},
	}
}
