package main

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// address is where a server listens or is reached. Every command writes
// addresses one way, as URLs: http://HOST:PORT is TCP, unix:/PATH (or
// unix:///PATH) a Unix socket, https://HOST:PORT where TLS applies. A URL
// says in one token what a host:port leaves to guess (TCP? TLS? a path?),
// and it is what a user copies from a server's log.
type address struct {
	scheme  string // http, https or unix
	network string // tcp or unix
	addr    string // host:port, or the socket's path
}

func (a address) String() string {
	if a.scheme == "unix" {
		return "unix:" + a.addr
	}
	return a.scheme + "://" + a.addr
}

// isLoopback reports whether a TCP address's host is a loopback address
// (a Unix socket is always local).
func (a address) isLoopback() bool {
	if a.network == "unix" {
		return true
	}
	host, _, err := net.SplitHostPort(a.addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseAddress reads flag's value as an address with one of schemes
// (default http and unix). The error names the flag, the value, what is
// accepted and, for the forms other tools use (host:port, tcp:host:port,
// a bare path), the URL that was probably meant.
func parseAddress(flag, s string, schemes ...string) (address, error) {
	if len(schemes) == 0 {
		schemes = []string{"http", "unix"}
	}
	accepted := acceptedAddresses(schemes)
	if len(schemes) > 2 {
		accepted = strings.Replace(accepted, " or ", ", ", len(schemes)-2)
	}
	bad := func(problem string) error {
		return usagef("--%s %q: %s (accepted: %s)", flag, s, problem, accepted)
	}
	if s == "" {
		return address{}, bad("empty")
	}
	if p, ok := strings.CutPrefix(s, "unix:"); ok && slices.Contains(schemes, "unix") {
		p = strings.TrimPrefix(p, "//") // unix:///run/app.sock
		if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, ".") {
			return address{}, bad("the socket path must be absolute or start with ./")
		}
		return address{scheme: "unix", network: "unix", addr: p}, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return address{}, bad("not a URL" + guess(s, schemes))
	}
	if !slices.Contains(schemes, u.Scheme) {
		return address{}, bad(fmt.Sprintf("scheme %q", u.Scheme))
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return address{}, bad("an address has no path, query or user")
	}
	host := u.Host
	if u.Port() == "" { // the scheme's own port, as a browser would
		host = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	return address{scheme: u.Scheme, network: "tcp", addr: host}, nil
}

// guess suggests the URL meant by an address written another tool's way.
func guess(s string, schemes []string) string {
	switch {
	case strings.HasPrefix(s, "tcp:"):
		return "; did you mean " + schemes[0] + "://" + strings.TrimPrefix(strings.TrimPrefix(s, "tcp:"), "//") + "?"
	case strings.HasPrefix(s, "/") && slices.Contains(schemes, "unix"):
		return "; did you mean unix:" + s + "?"
	}
	if _, _, err := net.SplitHostPort(s); err == nil {
		return "; did you mean " + schemes[0] + "://" + s + "?"
	}
	return ""
}

func acceptedAddresses(schemes []string) string {
	var forms []string
	for _, sc := range schemes {
		if sc == "unix" {
			forms = append(forms, "unix:/PATH")
		} else {
			forms = append(forms, sc+"://HOST:PORT")
		}
	}
	return strings.Join(forms, " or ")
}
