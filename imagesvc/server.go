package imagesvc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ServerConfig says where and how a Server listens. Zero values are sane defaults.
type ServerConfig struct {
	// TCPAddr is "host:port"; "" => no TCP listener. An empty host (":8080") means
	// 127.0.0.1: the service binds loopback unless told otherwise.
	TCPAddr string
	// UnixPath is a socket path; "" => no Unix listener. The socket gets UnixMode
	// before it appears at the path (bound in a private directory, then renamed
	// into place); a stale socket file is removed only if it is a socket and
	// nothing answers on it.
	UnixPath string
	UnixMode fs.FileMode // 0 => 0600

	// Timeouts: 0 => ReadHeaderTimeout 10s, ReadTimeout 2m, WriteTimeout 10m,
	// IdleTimeout 2m. A negative value disables that timeout. A WriteTimeout cuts
	// slow readers mid-body (one of the truncation shapes the harness looks for),
	// hence the generous default.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	DisableKeepAlives                                         bool
	// WrapListener, when set, wraps each listener (transport.WrapListener goes here).
	WrapListener func(net.Listener) net.Listener
}

// maxHeaderBytes bounds a request's line and headers (net/http answers 431
// beyond it, in JSON through jsonErrorConn).
const maxHeaderBytes = 64 << 10

// Server runs a Service on TCP and/or a Unix socket.
type Server struct {
	svc *Service
	cfg ServerConfig
	hs  *http.Server

	mu       sync.Mutex
	started  bool
	tcpAddr  string
	unixPath string
	wg       sync.WaitGroup
	serveErr error
}

// NewServer prepares a Server; nothing listens until Start.
func NewServer(svc *Service, cfg ServerConfig) *Server {
	pick := func(v, def time.Duration) time.Duration {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return def
		}
		return v
	}
	hs := &http.Server{
		Handler:           svc.Handler(),
		ConnContext:       ConnContext,
		ReadHeaderTimeout: pick(cfg.ReadHeaderTimeout, 10*time.Second),
		ReadTimeout:       pick(cfg.ReadTimeout, 2*time.Minute),
		WriteTimeout:      pick(cfg.WriteTimeout, 10*time.Minute),
		IdleTimeout:       pick(cfg.IdleTimeout, 2*time.Minute),
		MaxHeaderBytes:    maxHeaderBytes,
	}
	hs.SetKeepAlivesEnabled(!cfg.DisableKeepAlives)
	if cfg.UnixMode == 0 {
		cfg.UnixMode = 0o600
	}
	return &Server{svc: svc, cfg: cfg, hs: hs}
}

// Start listens on the configured sockets and serves in background goroutines;
// Shutdown or Close waits for them.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("imagesvc: server already started")
	}
	if s.cfg.TCPAddr == "" && s.cfg.UnixPath == "" {
		return errors.New("imagesvc: ServerConfig needs TCPAddr and/or UnixPath")
	}
	var ls []net.Listener
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	if s.cfg.TCPAddr != "" {
		host, port, err := net.SplitHostPort(s.cfg.TCPAddr)
		if err != nil {
			return fmt.Errorf("imagesvc: TCPAddr %q: want host:port: %w", s.cfg.TCPAddr, err)
		}
		if host == "" {
			host = "127.0.0.1"
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, port))
		if err != nil {
			return fmt.Errorf("imagesvc: listen tcp: %w", err)
		}
		ls = append(ls, l)
		s.tcpAddr = l.Addr().String()
	}
	if s.cfg.UnixPath != "" {
		l, err := listenUnix(s.cfg.UnixPath, s.cfg.UnixMode)
		if err != nil {
			closeAll()
			return err
		}
		ls = append(ls, l)
		s.unixPath = s.cfg.UnixPath
	}
	s.started = true
	for _, l := range ls {
		if s.cfg.WrapListener != nil {
			l = s.cfg.WrapListener(l)
		}
		// outermost, so that the fault layer below sees the bytes as sent
		l = jsonErrorListener{Listener: l, maxHeaderBytes: s.hs.MaxHeaderBytes}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.mu.Lock()
				s.serveErr = errors.Join(s.serveErr, err)
				s.mu.Unlock()
			}
		}()
	}
	return nil
}

// listenUnix creates the socket, removing a stale socket file first (only a
// socket, and only when a dial finds nobody listening), then restricts its mode.
func listenUnix(path string, mode fs.FileMode) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("imagesvc: unix socket path %q exists and is not a socket", path)
		}
		c, err := net.DialTimeout("unix", path, 500*time.Millisecond)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("imagesvc: unix socket %q is in use by a live server", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("imagesvc: removing stale unix socket: %w", err)
		}
	}
	return listenPrivate(path, mode)
}

// listenPrivate binds the socket inside a fresh 0700 directory next to path,
// sets its mode, then renames it into place: nobody can connect to it before
// it has its final mode (a chmod after a plain listen leaves a window with the
// umask's mode). Paths too long for the detour (sun_path is 108 bytes) fall
// back to listen-then-chmod.
func listenPrivate(path string, mode fs.FileMode) (net.Listener, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".s")
	if err != nil || len(filepath.Join(dir, "s")) > 100 {
		if err == nil {
			os.Remove(dir)
		}
		return listenThenChmod(path, mode)
	}
	defer os.Remove(dir)
	tmp := filepath.Join(dir, "s")
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("imagesvc: listen unix: %w", err)
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // it will live at path, not tmp; see ownedSocket
	if err := os.Chmod(tmp, mode); err != nil {
		ul.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("imagesvc: chmod unix socket: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ul.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("imagesvc: placing unix socket at %q: %w", path, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		ul.Close()
		return nil, fmt.Errorf("imagesvc: unix socket %q: %w", path, err)
	}
	return &ownedSocket{UnixListener: ul, path: path, file: fi}, nil
}

func listenThenChmod(path string, mode fs.FileMode) (net.Listener, error) {
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("imagesvc: listen unix: %w", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		l.Close()
		return nil, fmt.Errorf("imagesvc: chmod unix socket: %w", err)
	}
	return l, nil
}

// ownedSocket removes its socket file on Close, as net.UnixListener does for
// the path it bound, but only while the file is still the one it created (a
// successor may already have replaced it).
type ownedSocket struct {
	*net.UnixListener
	path string
	file fs.FileInfo
	once sync.Once
}

func (o *ownedSocket) Close() error {
	err := o.UnixListener.Close()
	o.once.Do(func() {
		if fi, lerr := os.Lstat(o.path); lerr == nil && os.SameFile(fi, o.file) {
			os.Remove(o.path)
		}
	})
	return err
}

// TCPAddr is the bound "host:port" once started ("" without TCP).
func (s *Server) TCPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tcpAddr
}

// UnixPath is the socket path once started ("" without a Unix socket).
func (s *Server) UnixPath() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unixPath
}

// Shutdown stops accepting, lets in-flight requests finish until ctx ends, then
// closes what is left; it returns after every serving goroutine has exited.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.hs.Shutdown(ctx)
	if err != nil {
		s.hs.Close()
	}
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(err, s.serveErr)
}

// Close stops at once: listeners and connections closed, goroutines waited for.
func (s *Server) Close() error {
	err := s.hs.Close()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(err, s.serveErr)
}
