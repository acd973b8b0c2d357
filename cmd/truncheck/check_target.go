package main

import (
	"flag"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/truncheck/truncheck/harness"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

// plannedTLS is what the plan keeps of a target's TLS settings.
func plannedTLS(t *harness.TargetTLS) *results.PlannedTLS {
	if t == nil {
		return nil
	}
	return &results.PlannedTLS{CAFile: t.CAFile, ClientCert: t.CertFile, ServerName: t.ServerName, Insecure: t.Insecure}
}

// targetFlags are check's flags for reaching the target the way it is
// deployed: TLS (its roots, a client certificate, or an explicit insecure
// switch), the HTTP version, and whether a host beyond this machine may be
// used at all.
type targetFlags struct {
	caFile, clientCert, clientKey, serverName *string
	insecure, http1, http2, h2c, allowRemote  *bool
}

func addTargetFlags(fs *flag.FlagSet) targetFlags {
	return targetFlags{
		caFile:      fs.String("ca-file", "", "https:// target: PEM certificates its chain is checked against (default: the system's roots)"),
		clientCert:  fs.String("client-cert", "", "https:// target: a PEM client certificate, for a server that asks for one (with --client-key)"),
		clientKey:   fs.String("client-key", "", "https:// target: the PEM key of --client-cert"),
		serverName:  fs.String("server-name", "", "https:// target: the name its certificate must carry and the SNI sent (default: the URL's host)"),
		insecure:    fs.Bool("insecure", false, "https:// target: do not check its certificate at all (a test server's self-signed one)"),
		http1:       fs.Bool("http1", false, "speak HTTP/1.1 only (over https://: offer only http/1.1 by ALPN)"),
		http2:       fs.Bool("http2", false, "https:// target: speak HTTP/2, which the server must choose by ALPN\n(default over https://: HTTP/2 when the server offers it, else HTTP/1.1)"),
		h2c:         fs.Bool("h2c", false, "http:// or unix: target: speak HTTP/2 in the clear with prior knowledge"),
		allowRemote: fs.Bool("allow-remote", false, "allow a --target host that is not loopback (the harness is a load generator:\naim it at another machine only on purpose)"),
	}
}

// apply checks the flags against the target's URL and sets them on t;
// every error names the flag and what is accepted.
func (f targetFlags) apply(t *harness.Target) error {
	const accepted = "accepted: http://127.0.0.1:PORT, https://127.0.0.1:PORT or unix:/path/to.sock"
	https := strings.HasPrefix(t.URL, "https://")
	switch {
	case strings.HasPrefix(t.URL, "unix:"), strings.HasPrefix(t.URL, "http://"), https:
	default:
		return usagef("--target %q: %s", t.URL, accepted)
	}
	if !strings.HasPrefix(t.URL, "unix:") {
		u, err := url.Parse(t.URL)
		if err != nil || u.Host == "" {
			return usagef("--target %q: %s", t.URL, accepted)
		}
		host := u.Hostname()
		if ip := net.ParseIP(host); !*f.allowRemote && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return usagef("--target %q: host %q is not loopback (accepted: 127.0.0.1, ::1, localhost; another host only with --allow-remote)", t.URL, host)
		}
	}
	t.AllowRemote = *f.allowRemote

	tlsSet := *f.caFile != "" || *f.clientCert != "" || *f.clientKey != "" || *f.serverName != "" || *f.insecure
	switch {
	case tlsSet && !https:
		return usagef("--ca-file, --client-cert, --client-key, --server-name and --insecure are for an https:// --target")
	case (*f.clientCert == "") != (*f.clientKey == ""):
		return usagef("--client-cert and --client-key go together")
	case *f.insecure && *f.caFile != "":
		return usagef("--insecure checks nothing, --ca-file checks against its roots: give one of them")
	}
	for _, file := range []struct{ flag, path string }{{"--ca-file", *f.caFile}, {"--client-cert", *f.clientCert}, {"--client-key", *f.clientKey}} {
		if file.path == "" {
			continue
		}
		if _, err := os.Stat(file.path); err != nil {
			return usagef("%s: %v", file.flag, err)
		}
	}
	if https {
		t.TLS = &harness.TargetTLS{CAFile: *f.caFile, CertFile: *f.clientCert, KeyFile: *f.clientKey, ServerName: *f.serverName, Insecure: *f.insecure}
	}

	n := 0
	for _, b := range []bool{*f.http1, *f.http2, *f.h2c} {
		if b {
			n++
		}
	}
	switch {
	case n > 1:
		return usagef("--http1, --http2 and --h2c exclude each other")
	case *f.http2 && !https:
		return usagef("--http2 negotiates HTTP/2 by ALPN over an https:// --target (in the clear: --h2c)")
	case *f.h2c && https:
		return usagef("--h2c is HTTP/2 in the clear, for an http:// or unix: --target (over https://: --http2)")
	case *f.http1:
		t.Protocol = scenarios.HTTP1
	case *f.http2, *f.h2c:
		t.Protocol = scenarios.HTTP2
	}
	return nil
}
