package survey

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Paths every instance answers, whatever the server.
const (
	// EarlyPath answers a POST without reading its body, where the server
	// can express it ([Server.EarlyAnswer] says how).
	EarlyPath = "/early"
	// UpstreamPrefix is where a file server that can also proxy forwards
	// to Config.Upstream, with the prefix removed: /up/bytes/N is the
	// upstream's /bytes/N. A pure proxy forwards every path as it is.
	UpstreamPrefix = "/up"
)

// Config says how to start one server. Zero values are noted.
type Config struct {
	// Dir is where everything is written: the server's configuration, pid,
	// logs, sockets and the static files. Required. It and its ancestors
	// must be searchable by others (mode o+x): several servers drop to
	// their own user (apache2 to www-data, squid to proxy) and must still
	// read the files. os.MkdirTemp under os.TempDir, then chmod 0755, is.
	// Start writes under Dir/NAME (NAME the server's) and Dir/www.
	Dir string
	// Network is "tcp" or "unix"; "" => "tcp".
	Network string
	// Port is the TCP port on 127.0.0.1; 0 => a free one, picked by
	// Start and kept across restarts.
	Port int
	// Protocol: HTTP1 (zero), H2C or H2 (TLS with a self-signed certificate).
	Protocol Protocol
	// Files are the sizes of the static files, served at BodyPath(n);
	// nil => 16 MiB. Each at most MaxFileSize.
	Files []int64
	// Upstream is the origin a proxy forwards to, "http://127.0.0.1:PORT".
	// Required for a pure proxy; for a file server that can proxy it
	// enables UpstreamPrefix; "" => no forwarding.
	Upstream string
	// SendTimeout sets the server's own send/write timeout (the knobs in
	// [Server.Timeout]), so a stalled reader trips it within seconds;
	// 0 => the server's defaults, usually minutes. Servers that count in
	// whole seconds get it rounded up.
	SendTimeout time.Duration
	// StartTimeout bounds the wait until a started or restarted server
	// answers; 0 => 20s.
	StartTimeout time.Duration
	// StopTimeout is how long a graceful stop may take before the
	// process group is killed; 0 => 10s.
	StopTimeout time.Duration
}

func (c Config) normalize(s Server) (Config, error) {
	if c.Dir == "" {
		return c, fmt.Errorf("%s: Config.Dir is empty (accepted: an existing directory searchable by others, e.g. from os.MkdirTemp then chmod 0755)", s.Name)
	}
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return c, fmt.Errorf("%s: Config.Dir %q: %w", s.Name, c.Dir, err)
	}
	c.Dir = abs
	if fi, err := os.Stat(c.Dir); err != nil || !fi.IsDir() {
		return c, fmt.Errorf("%s: Config.Dir %q is not an existing directory", s.Name, c.Dir)
	}
	if err := searchable(c.Dir); err != nil {
		return c, fmt.Errorf("%s: Config.Dir: %w", s.Name, err)
	}
	switch c.Network {
	case "":
		c.Network = "tcp"
	case "tcp":
	case "unix":
		if !s.Unix {
			return c, fmt.Errorf("%s: Config.Network unix: %w (accepted: tcp)", s.Name, ErrUnsupported)
		}
		if c.Protocol == H2 {
			return c, fmt.Errorf("%s: Config.Protocol h2 over a Unix socket: %w (accepted: h2 with tcp, h2c or http/1.1 with unix)", s.Name, ErrUnsupported)
		}
	default:
		return c, fmt.Errorf("%s: Config.Network %q (accepted: tcp, unix)", s.Name, c.Network)
	}
	if c.Port < 0 || c.Port > 65535 || (c.Port != 0 && c.Network == "unix") {
		return c, fmt.Errorf("%s: Config.Port %d (accepted: 0 for a free port, 1-65535 with tcp)", s.Name, c.Port)
	}
	if _, err := ParseProtocol(string(c.Protocol)); err != nil {
		return c, fmt.Errorf("%s: Config.Protocol: %w", s.Name, err)
	}
	if !s.Speaks(c.Protocol) {
		return c, fmt.Errorf("%s: Config.Protocol %s: %w (accepted: %s)", s.Name, c.Protocol, ErrUnsupported, protocolList(s))
	}
	if len(c.Files) == 0 {
		c.Files = []int64{Size16MiB}
	}
	c.Files = slices.Clone(c.Files)
	for _, n := range c.Files {
		if n < 0 || n > MaxFileSize {
			return c, fmt.Errorf("%s: Config.Files: size %d (accepted: 0 to %d bytes)", s.Name, n, MaxFileSize)
		}
	}
	if c.Upstream != "" {
		if _, _, err := upstreamAddr(c.Upstream); err != nil {
			return c, fmt.Errorf("%s: Config.Upstream: %w", s.Name, err)
		}
	} else if s.Proxy {
		return c, fmt.Errorf("%s: Config.Upstream is empty; a proxy needs an origin (accepted: http://127.0.0.1:PORT)", s.Name)
	}
	if c.SendTimeout < 0 || (c.SendTimeout > 0 && c.SendTimeout < 100*time.Millisecond) || c.SendTimeout > time.Hour {
		return c, fmt.Errorf("%s: Config.SendTimeout %s (accepted: 0 for the server's default, or 100ms to 1h)", s.Name, c.SendTimeout)
	}
	if c.StartTimeout < 0 || c.StopTimeout < 0 {
		return c, fmt.Errorf("%s: negative StartTimeout/StopTimeout (accepted: 0 for the default, or a positive duration)", s.Name)
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 20 * time.Second
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 10 * time.Second
	}
	return c, nil
}

func protocolList(s Server) string {
	out := "http/1.1"
	for _, p := range s.HTTP2 {
		out += ", " + string(p)
	}
	return out
}

// upstreamAddr checks an origin URL: http, a loopback IP, a port, no path.
func upstreamAddr(raw string) (host string, port int, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", 0, fmt.Errorf("%q is not an origin URL (accepted: http://127.0.0.1:PORT)", raw)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		return "", 0, fmt.Errorf("%q: host %q is not a loopback IPv4 address (accepted: http://127.0.0.1:PORT)", raw, u.Hostname())
	}
	port, err = strconv.Atoi(u.Port())
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: port %q (accepted: 1-65535)", raw, u.Port())
	}
	return ip.String(), port, nil
}

// searchable checks that others can reach dir: every ancestor has o+x.
func searchable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%q: %q has mode %v, not searchable by others; servers that drop to their own user could not read it (accepted: a directory whose ancestors all have o+x, e.g. os.MkdirTemp(\"\", ...) then chmod 0755)", dir, d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before the server binds it; Start reports that as a failed start.
func freePort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
