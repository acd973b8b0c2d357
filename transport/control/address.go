package control

import (
	"net"
	"strings"
)

// addr is where a proxy listens or forwards to.
type addr struct {
	network string // tcp or unix
	address string // host:port or the socket's path
}

// String is the address as the API shows it: Toxiproxy's HOST:PORT, or unix:/PATH.
func (a addr) String() string {
	if a.network == "unix" {
		return "unix:" + a.address
	}
	return a.address
}

const acceptedAddresses = "HOST:PORT or http://HOST:PORT with HOST a loopback address (127.0.0.1, [::1], localhost), or unix:/PATH"

// parseAddr reads an address in Toxiproxy's form (HOST:PORT) or truncheck's (a URL:
// http://HOST:PORT, unix:/PATH). Only loopback hosts and Unix sockets are accepted: a
// proxy made through the API listens and dials on this machine only, so a local process
// that can reach the API cannot turn it into a way out or a way in.
func parseAddr(field, s string) (addr, error) {
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		p = strings.TrimPrefix(p, "//")
		if !strings.HasPrefix(p, "/") {
			return addr{}, badRequest("%s %q: the socket path must be absolute (accepted: %s)", field, s, acceptedAddresses)
		}
		return addr{"unix", p}, nil
	}
	hostport := strings.TrimPrefix(s, "http://")
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || port == "" || strings.Contains(hostport, "/") {
		return addr{}, badRequest("%s %q: not an address (accepted: %s)", field, s, acceptedAddresses)
	}
	if !isLoopback(host) {
		return addr{}, badRequest("%s %q: not a loopback address (accepted: %s)", field, s, acceptedAddresses)
	}
	return addr{"tcp", hostport}, nil
}

// isLoopback reports whether host is "localhost" or a loopback IP literal; an empty
// host (":8474", every interface) is not.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
