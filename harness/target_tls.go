package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/truncheck/truncheck/scenarios"
)

// TargetTLS is how the harness speaks TLS to an https:// [Target].
type TargetTLS struct {
	// CAFile holds the PEM certificates the server's chain is checked
	// against; "" => the system's roots.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for a
	// server that asks for one (both or neither).
	CertFile, KeyFile string
	// Insecure skips checking the server's certificate: what a test
	// server's self-signed certificate may need, never the default.
	Insecure bool
	// ServerName is the name the certificate must carry and the SNI sent;
	// "" => the URL's host.
	ServerName string
}

// targetURL is a Target's URL, understood: where to dial, the wire, the
// base of request URLs.
type targetURL struct {
	network, addr string
	https         bool
	host          string // the URL's host name ("" for unix:)
	// base is what request URLs start with: scheme://host[:port] as
	// given, so a server that routes by Host (virtual hosts: Caddy's site
	// addresses, Traffic Server's remap rules) sees the name it serves;
	// http://localhost on a Unix socket, as curl --unix-socket sends.
	base string
}

// parse checks the target's URL: http://HOST[:PORT], https://HOST[:PORT]
// or unix:/path; loopback hosts only unless AllowRemote.
func (t *Target) parse() (targetURL, error) {
	const accepted = "accepted: http://127.0.0.1:PORT, https://127.0.0.1:PORT or unix:/path/to.sock"
	if p, ok := strings.CutPrefix(t.URL, "unix:"); ok {
		if p == "" {
			return targetURL{}, fmt.Errorf("target %q: empty socket path (accepted: unix:/path/to.sock)", t.URL)
		}
		return targetURL{network: "unix", addr: p, base: "http://localhost"}, nil
	}
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return targetURL{}, fmt.Errorf("target %q: not a base URL (%s)", t.URL, accepted)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); !t.AllowRemote && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return targetURL{}, fmt.Errorf("target %q: host %q is not loopback (accepted: 127.0.0.1, ::1, localhost; "+
			"a remote host only with AllowRemote, the command line's --allow-remote: the harness is a load generator)", t.URL, host)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return targetURL{network: "tcp", addr: net.JoinHostPort(host, port), https: u.Scheme == "https", host: host, base: u.Scheme + "://" + u.Host}, nil
}

// wire decides how the harness speaks to the target: TLS for https://
// (checked as TLS says), and the protocol: the one asked for, or for
// https:// the server's choice by ALPN (h2 when it offers it), found by one
// handshake made here. HTTP/2 over http:// or unix: is h2c with prior
// knowledge, and only when asked for.
func (t *Target) wire(ctx context.Context, tu targetURL) (wire, error) {
	switch t.Protocol {
	case "", scenarios.HTTP1, scenarios.HTTP2:
	default:
		return wire{}, fmt.Errorf("target: protocol %q (accepted: http/1.1, h2, or empty for the server's choice over https)", t.Protocol)
	}
	if !tu.https {
		if t.TLS != nil {
			return wire{}, fmt.Errorf("target %q: TLS settings for a target in the clear (accepted: an https:// URL)", t.URL)
		}
		return wire{proto: orHTTP1(t.Protocol)}, nil
	}
	cfg, err := t.tlsConfig(tu.host)
	if err != nil {
		return wire{}, err
	}
	// One handshake first: a certificate problem is reported before the
	// first request, and so is a server that does not speak what was asked.
	chosen, err := negotiate(ctx, tu, cfg)
	if err != nil {
		return wire{}, err
	}
	proto := t.Protocol
	switch {
	case proto == "":
		proto = chosen
	case proto == scenarios.HTTP2 && chosen != scenarios.HTTP2:
		return wire{}, fmt.Errorf("target %q: the server does not offer HTTP/2 by ALPN (it chose %s; accepted: a server that offers h2, or HTTP/1.1)", t.URL, chosen)
	}
	cfg.NextProtos = alpnOffer(proto, false)
	return wire{tls: cfg, proto: proto}, nil
}

// readinessWire is how an exec'd target is polled until it answers, before
// any handshake could tell its protocol: HTTP/1.1 (by ALPN over https://),
// or the protocol asked for.
func (t *Target) readinessWire(tu targetURL) (wire, error) {
	proto := orHTTP1(t.Protocol)
	switch {
	case t.Protocol != "" && t.Protocol != scenarios.HTTP1 && t.Protocol != scenarios.HTTP2:
		return wire{}, fmt.Errorf("target: protocol %q (accepted: http/1.1, h2, or empty for the server's choice over https)", t.Protocol)
	case !tu.https && t.TLS != nil:
		return wire{}, fmt.Errorf("target %q: TLS settings for a target in the clear (accepted: an https:// URL)", t.URL)
	case !tu.https:
		return wire{proto: proto}, nil
	}
	cfg, err := t.tlsConfig(tu.host)
	if err != nil {
		return wire{}, err
	}
	cfg.NextProtos = alpnOffer(proto, false)
	return wire{tls: cfg, proto: proto}, nil
}

func orHTTP1(p scenarios.Protocol) scenarios.Protocol {
	if p == "" {
		return scenarios.HTTP1
	}
	return p
}

// tlsConfig is the client TLS configuration of an https:// target.
func (t *Target) tlsConfig(host string) (*tls.Config, error) {
	o := TargetTLS{}
	if t.TLS != nil {
		o = *t.TLS
	}
	cfg := &tls.Config{ServerName: host, InsecureSkipVerify: o.Insecure, MinVersion: tls.VersionTLS12}
	if o.ServerName != "" {
		cfg.ServerName = o.ServerName
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("target: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("target: CA file %s holds no PEM certificate (accepted: one or more -----BEGIN CERTIFICATE----- blocks)", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case o.CertFile != "" && o.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("target: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case o.CertFile != "" || o.KeyFile != "":
		return nil, errors.New("target: a client certificate needs both its certificate and its key file")
	}
	return cfg, nil
}

// negotiate makes one TLS handshake offering h2 and http/1.1 and returns
// what the server chose (no ALPN at all is HTTP/1.1).
func negotiate(ctx context.Context, tu targetURL, cfg *tls.Config) (scenarios.Protocol, error) {
	c := cfg.Clone()
	c.NextProtos = []string{"h2", "http/1.1"}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(hctx, tu.network, tu.addr)
	if err != nil {
		return "", fmt.Errorf("target: %w", err)
	}
	defer raw.Close()
	tc := tls.Client(raw, c)
	if err := tc.HandshakeContext(hctx); err != nil {
		return "", fmt.Errorf("target: TLS handshake: %w", err)
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		return scenarios.HTTP2, nil
	}
	return scenarios.HTTP1, nil
}

// hop is the target's side of hop 0 as a scenario would write it, for the
// layout ("tcp-tls-h2").
func (w wire) hop(network string) scenarios.Hop {
	return scenarios.Hop{Network: scenarios.Network(network), TLS: w.tls != nil, Protocol: w.proto}
}

// plainDial dials the target without faults, recording, or retries (the
// readiness poll: its failures are the answer).
func plainDial(network, addr string) dialFunc {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{Timeout: time.Second}).DialContext(ctx, network, addr)
	}
}
