package imagesvc

import (
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnixSocketFile(t *testing.T) {
	svc, err := New(Config{})
	require.NoError(t, err)

	t.Run("restrictive mode", func(t *testing.T) {
		e := newEnv(t, Config{}, ServerConfig{})
		fi, err := os.Stat(e.socketPath)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	})
	t.Run("stale socket removed", func(t *testing.T) {
		path := shortSocketPath(t)
		l, err := net.Listen("unix", path)
		require.NoError(t, err)
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		require.NoError(t, l.Close())
		srv := NewServer(svc, ServerConfig{UnixPath: path})
		require.NoError(t, srv.Start())
		require.NoError(t, srv.Close())
	})
	t.Run("live socket kept", func(t *testing.T) {
		path := shortSocketPath(t)
		l, err := net.Listen("unix", path)
		require.NoError(t, err)
		defer l.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		srv := NewServer(svc, ServerConfig{UnixPath: path})
		err = srv.Start()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "in use")
		l.Close()
		<-done
	})
	t.Run("regular file untouched", func(t *testing.T) {
		path := shortSocketPath(t)
		require.NoError(t, os.WriteFile(path, []byte("keep me"), 0o600))
		srv := NewServer(svc, ServerConfig{UnixPath: path})
		err := srv.Start()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not a socket")
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, "keep me", string(b))
	})
	t.Run("placed with its mode, removed on close, nothing left behind", func(t *testing.T) {
		path := shortSocketPath(t)
		srv := NewServer(svc, ServerConfig{UnixPath: path, UnixMode: 0o660})
		require.NoError(t, srv.Start())
		fi, err := os.Lstat(path)
		require.NoError(t, err)
		assert.Equal(t, fs.ModeSocket, fi.Mode().Type())
		assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm())
		c, err := net.Dial("unix", path)
		require.NoError(t, err, "the renamed socket still accepts")
		c.Close()
		require.NoError(t, srv.Close())
		_, err = os.Lstat(path)
		assert.ErrorIs(t, err, fs.ErrNotExist, "the socket file goes with the server")
		entries, err := os.ReadDir(filepath.Dir(path))
		require.NoError(t, err)
		assert.Empty(t, entries, "no private directory left next to the socket")
	})
	t.Run("nothing to listen on", func(t *testing.T) {
		assert.Error(t, NewServer(svc, ServerConfig{}).Start())
	})
}

func TestLoopbackDefault(t *testing.T) {
	svc, err := New(Config{})
	require.NoError(t, err)
	srv := NewServer(svc, ServerConfig{TCPAddr: ":0"})
	require.NoError(t, srv.Start())
	defer srv.Close()
	host, _, err := net.SplitHostPort(srv.TCPAddr())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
}

// idConn is a conn with an ID, like transport's wrapped conns.
type idConn struct {
	net.Conn
	id string
}

func (c idConn) ID() string { return c.id }

type idListener struct {
	net.Listener
	n atomic.Int64
}

func (l *idListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return idConn{c, "test-" + string(rune('a'+l.n.Add(1)-1))}, nil
}

func TestWrapListenerConnIDAndKeepAlives(t *testing.T) {
	wrapped := 0
	e := newEnv(t, Config{}, ServerConfig{
		DisableKeepAlives: true,
		WrapListener: func(l net.Listener) net.Listener {
			wrapped++
			return &idListener{Listener: l}
		},
	})
	assert.Equal(t, 2, wrapped, "TCP and Unix listeners are both wrapped")
	resp, _ := get(t, e.tcp, e.tcpBase+"/images/photo-small?ops=resize:w=50", map[string]string{"X-Request-Id": "conn-1"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, resp.Close, "keep-alives disabled: Connection: close")
	acc, ok := e.svc.WaitAccount(t.Context(), "conn-1")
	require.True(t, ok)
	assert.Equal(t, "test-a", acc.ConnID)
}
