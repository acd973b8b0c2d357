package httpfuzz

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Target is where the service listens: a loopback TCP address or a Unix
// socket path.
type Target struct {
	Network string // "tcp" or "unix"
	Addr    string
}

// ParseTarget reads "tcp:127.0.0.1:8080" or "unix:/path/to/socket"; any
// other host than 127.0.0.1, ::1 or localhost is refused: the fuzzer never
// leaves the machine.
func ParseTarget(s string) (Target, error) {
	network, addr, ok := strings.Cut(s, ":")
	if !ok || addr == "" {
		return Target{}, fmt.Errorf("target %q: want tcp:127.0.0.1:PORT or unix:/path", s)
	}
	t := Target{Network: network, Addr: addr}
	return t, t.Validate()
}

// Validate refuses anything but loopback TCP and Unix sockets.
func (t Target) Validate() error {
	switch t.Network {
	case "unix":
		if t.Addr == "" {
			return fmt.Errorf("target: empty Unix socket path")
		}
		return nil
	case "tcp":
		host, _, err := net.SplitHostPort(t.Addr)
		if err != nil {
			return fmt.Errorf("target %q: want host:port: %w", t.Addr, err)
		}
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("target %q: only loopback addresses (127.0.0.1, ::1, localhost) or Unix sockets", t.Addr)
	}
	return fmt.Errorf("target network %q: want tcp or unix", t.Network)
}

func (t Target) String() string { return t.Network + ":" + t.Addr }

// dial opens a connection to the target.
func (t Target) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, t.Network, t.Addr)
}

// client is an ordinary HTTP client for the target (set-up requests).
func (t Target) client(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return t.dial(ctx) },
		},
	}
}
