package survey

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Protocol is how a client speaks to an instance. The zero value is
// HTTP/1.1 in cleartext.
type Protocol string

// The protocols an instance can be started with.
const (
	HTTP1 Protocol = ""    // HTTP/1.1 in cleartext
	H2C   Protocol = "h2c" // HTTP/2 in cleartext with prior knowledge (RFC 9113 3.3)
	H2    Protocol = "h2"  // HTTP/2 over TLS (ALPN h2), a self-signed certificate made under Config.Dir
)

// String names the protocol as ALPN does ("http/1.1" for the zero value),
// the form ParseProtocol reads back.
func (p Protocol) String() string {
	if p == HTTP1 {
		return "http/1.1"
	}
	return string(p)
}

// ParseProtocol reads "http/1.1" (or ""), "h2c" or "h2".
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToLower(s) {
	case "", "http/1.1", "http1", "h1":
		return HTTP1, nil
	case "h2c":
		return H2C, nil
	case "h2":
		return H2, nil
	}
	return "", fmt.Errorf("protocol %q (accepted: http/1.1, h2c, h2)", s)
}

// Server is the recipe of one real server: which Debian packages bring it,
// how it is configured, started, reloaded and stopped, and how its logs
// are read. The exported fields are plain data for reports and tables;
// the behaviour lives in unexported functions, one file per server.
type Server struct {
	// Name is the survey's name for the server ("nginx", "apache2", ...).
	Name string
	// Packages are the Debian packages that bring the server.
	Packages []string
	// Binary is the program whose presence means the server is installed.
	Binary string
	// Proxy reports that the server only forwards: it needs Config.Upstream.
	// Servers that serve files and can also proxy have Proxy false and
	// forward under [UpstreamPrefix] when Config.Upstream is set.
	Proxy bool
	// Forwards reports that a server that serves files also forwards
	// [UpstreamPrefix] to Config.Upstream (a pure proxy forwards
	// everything: see Proxy).
	Forwards bool
	// Reload names the server's own reload mechanism; "" when it has none
	// ([Instance.Reload] then returns [ErrNoReload]).
	Reload string
	// Stop names the graceful stop that [Instance.Stop] uses.
	Stop string
	// Unix reports that the server can listen on a Unix socket.
	Unix bool
	// HTTP2 lists the HTTP/2 modes Start can configure for this server.
	HTTP2 []Protocol
	// EarlyAnswer says what POST [EarlyPath] does without reading the
	// request body; "" when the server cannot express such a route.
	EarlyAnswer string
	// Timeout names the knobs Config.SendTimeout sets.
	Timeout string
	// BytesField says what the access log's byte count means.
	BytesField string
	// Services are the init scripts Debian's packages may start on
	// install; Install stops them again.
	Services []string
	// Note is anything else a reader of the survey must know.
	Note string

	noTimeout bool           // Config.SendTimeout has no knob to set
	logLag    time.Duration  // how long after a response its access-log line may appear, beyond the usual
	version   []string       // command that prints the version
	versionRe *regexp.Regexp // its first group is the version
	prepare   func(*plan) error
	parse     func(line string) (Request, bool)
	errorRe   *regexp.Regexp // error-log lines that show the server knew a response was cut
}

// ErrNotInstalled is returned (wrapped) by Start when the server's binary is absent.
var ErrNotInstalled = errors.New("not installed")

// ErrNoReload is returned (wrapped) by Instance.Reload for a server without a reload mechanism.
var ErrNoReload = errors.New("no reload mechanism")

// ErrUnsupported is returned (wrapped) by Start for a setting the server cannot express.
var ErrUnsupported = errors.New("not supported by this server")

// Servers returns the catalog, a fresh slice on every call, in the order of
// the survey's table: the control first.
func Servers() []Server {
	return []Server{
		goControl(), nginx(), apache2(), haproxy(), lighttpd(), caddy(), h2o(),
		varnish(), squid(), trafficserver(), nodeHTTP(), gunicorn(),
	}
}

// Lookup returns the recipe called name.
func Lookup(name string) (Server, error) {
	all := Servers()
	var names []string
	for _, s := range all {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Server{}, fmt.Errorf("server %q (accepted: %s)", name, strings.Join(names, ", "))
}

// Select returns the recipes named in a comma- or space-separated list;
// "" or "all" selects the whole catalog.
func Select(list string) ([]Server, error) {
	list = strings.TrimSpace(list)
	if list == "" || list == "all" {
		return Servers(), nil
	}
	var out []Server
	for _, name := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		s, err := Lookup(name)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(o Server) bool { return o.Name == name }) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Installed reports whether the server's binary is there.
func (s Server) Installed() bool {
	fi, err := os.Stat(s.Binary)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// CanProxy reports whether the server forwards to Config.Upstream: a
// pure proxy, or a file server that forwards [UpstreamPrefix].
func (s Server) CanProxy() bool { return s.Proxy || s.Forwards }

// HasSendTimeout reports whether Config.SendTimeout sets one of the
// server's own knobs ([Server.Timeout] names them).
func (s Server) HasSendTimeout() bool { return !s.noTimeout }

// AccountWait is how long to wait for a response's access-log line
// (see [LogAccounts]): two seconds, more for a server that writes its log
// in batches (lighttpd flushes every four seconds; trafficserver's log
// buffers are flushed every second by a task that runs every second).
func (s Server) AccountWait() time.Duration { return 2*time.Second + s.logLag }

// Speaks reports whether Start can configure the server for p.
func (s Server) Speaks(p Protocol) bool { return p == HTTP1 || slices.Contains(s.HTTP2, p) }

// Version runs the server's own version command and returns its version
// line, e.g. "nginx/1.22.1".
func (s Server) Version(ctx context.Context) (string, error) {
	if len(s.version) == 0 {
		return "", fmt.Errorf("%s: no version command", s.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.version[0], s.version[1:]...).CombinedOutput()
	text := string(out)
	if m := s.versionRe.FindStringSubmatch(text); m != nil {
		return m[1], nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %s: %w", s.Name, strings.Join(s.version, " "), err)
	}
	return "", fmt.Errorf("%s: %s printed no version: %.200q", s.Name, strings.Join(s.version, " "), text)
}

// PackageVersion returns the Debian version of each of the server's
// packages as installed, "name=version" joined by spaces.
func (s Server) PackageVersion(ctx context.Context) (string, error) {
	var parts []string
	for _, p := range s.Packages {
		v, ok := dpkgInstalled(ctx, p)
		if !ok {
			return "", fmt.Errorf("%s: package %s is not installed", s.Name, p)
		}
		parts = append(parts, p+"="+v)
	}
	return strings.Join(parts, " "), nil
}
