package harness

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

// tlsTarget serves h over TLS on loopback with a certificate from a CA
// made for the test (HTTP/2 offered by ALPN when h2 is set), and returns
// its URL and the CA's PEM file.
func tlsTarget(t *testing.T, h http.Handler, h2 bool) (string, string) {
	t.Helper()
	ca, err := newRunCA()
	require.NoError(t, err)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.server.Certificate[1]}), 0o600))
	proto := scenarios.HTTP1
	if h2 {
		proto = scenarios.HTTP2
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: h, ErrorLog: quietLog, ConnContext: origin.Bodies().ConnContext}
	tl := serveWire(hs, l, scenarios.Hop{TLS: true, Protocol: proto}, ca)
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(tl) }()
	t.Cleanup(func() { hs.Close(); <-done })
	return "https://" + l.Addr().String(), caFile
}

func bodiesScenario(name, path string, count int) scenarios.Scenario {
	return scenarios.Scenario{Name: name, Workload: scenarios.Workload{Requests: []scenarios.Request{{Path: path}}},
		Concurrency: 2, Count: count, Seed: 1, Expect: results.Expectation{Kind: results.ExpectComplete}}
}

// TestTargetHTTPS checks a server over TLS the way it is deployed: HTTP/2
// when it offers it by ALPN, HTTP/1.1 when asked for; every record says
// which protocol and TLS version carried it.
func TestTargetHTTPS(t *testing.T) {
	o := origin.Bodies()
	url, caFile := tlsTarget(t, o.Handler, true)
	for _, tc := range []struct {
		name   string
		proto  scenarios.Protocol
		layout string
		want   string
	}{
		{"alpn", "", "client-tcp-tls-h2>target", "HTTP/2.0"},
		{"http1 forced", scenarios.HTTP1, "client-tcp-tls>target", "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w Records
			target := &Target{URL: url, TLS: &TargetTLS{CAFile: caFile, ServerName: tierName}, Protocol: tc.proto, AccountPath: "/accounts/{id}", ReadyPath: "/bytes/1"}
			rep, err := RunScenario(t.Context(), compile(t, bodiesScenario("https", "/bytes/1MB", 4)), Options{Target: target, Writer: &w})
			require.NoError(t, err)
			assert.True(t, rep.Met, rep.Text())
			assert.Equal(t, tc.layout, rep.Layout)
			require.Len(t, w.All(), 4)
			for _, r := range w.All() {
				assert.Equal(t, tc.want, r.Proto)
				assert.Equal(t, "TLS 1.3", r.TLS)
				assert.Contains(t, r.CheckedBy, results.DigestEvidence("crc32c"), "the origin's digest, end to end")
			}
		})
	}
}

// TestTargetH2C checks a server speaking HTTP/2 in the clear with prior
// knowledge over a Unix socket.
func TestTargetH2C(t *testing.T) {
	o := origin.Bodies()
	sock := filepath.Join(shortSockDir(t), "h2c.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	hs := &http.Server{Handler: o.Handler, ErrorLog: quietLog, ConnContext: o.ConnContext}
	ul := serveWire(hs, l, scenarios.Hop{Protocol: scenarios.HTTP2}, nil)
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ul) }()
	t.Cleanup(func() { hs.Close(); <-done })

	var w Records
	target := &Target{URL: "unix:" + sock, Protocol: scenarios.HTTP2, AccountPath: "/accounts/{id}", ReadyPath: "/bytes/1"}
	rep, err := RunScenario(t.Context(), compile(t, bodiesScenario("h2c", "/bytes/1MB?stream=1", 4)), Options{Target: target, Writer: &w})
	require.NoError(t, err)
	assert.True(t, rep.Met, rep.Text())
	assert.Equal(t, "client-unix-h2c>target", rep.Layout)
	for _, r := range w.All() {
		assert.Equal(t, "HTTP/2.0", r.Proto)
		assert.Empty(t, r.TLS)
	}
}

// closeDelimited answers GET /body with size bytes delimited by the end of
// the connection, then ends the TLS session with close_notify, or with a
// bare FIN beneath TLS when fin is set: the same bytes either way.
func closeDelimited(size int, fin bool) http.Handler {
	body := testBody(size)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\nX-Request-Id: " + r.Header.Get("X-Request-Id") + "\r\n\r\n")
		_, _ = buf.Write(body)
		_ = buf.Flush()
		tc := c.(*tls.Conn)
		if fin {
			// Every record is out (Write returned); closing the socket beneath
			// TLS ends the stream at a record boundary with no close_notify.
			_ = tc.NetConn().Close()
			return
		}
		_ = tc.Close()
	})
}

// TestTargetTLSCloseNotify: the same close-delimited body over TLS is
// complete when the server's close_notify ends it, and truncated when a
// bare FIN does (nothing else can tell that end from a cut at a record
// boundary); the twin is the control.
func TestTargetTLSCloseNotify(t *testing.T) {
	for _, tc := range []struct {
		name string
		fin  bool
		want results.Outcome
	}{{"close_notify", false, results.Complete}, {"bare FIN", true, results.Truncated}} {
		t.Run(tc.name, func(t *testing.T) {
			url, caFile := tlsTarget(t, closeDelimited(300_000, tc.fin), false)
			var w Records
			target := &Target{URL: url, TLS: &TargetTLS{CAFile: caFile, ServerName: tierName}, ReadyPath: "/ready"}
			_, err := RunScenario(t.Context(), compile(t, bodiesScenario("close", "/body", 3)), Options{Target: target, Writer: &w})
			require.NoError(t, err)
			require.Len(t, w.All(), 3)
			for _, r := range w.All() {
				assert.Equal(t, tc.want, r.Outcome, r.Error)
				assert.Equal(t, "close", r.Framing)
				assert.EqualValues(t, 300_000, r.Received, "every byte arrived either way")
				if tc.fin {
					assert.Contains(t, r.Error, "by a FIN with no close_notify before it")
					assert.Contains(t, r.Timeline.String(), "tls-no-close-notify")
				} else {
					assert.Contains(t, r.CheckedBy, results.EvidenceCloseNotify)
				}
			}
		})
	}
}

// TestTargetTLSBadInput: TLS settings are checked before the first request,
// each error naming what was wrong and what is accepted.
func TestTargetTLSBadInput(t *testing.T) {
	o := origin.Bodies()
	url, caFile := tlsTarget(t, o.Handler, false)
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	s := bodiesScenario("bad", "/bytes/1", 1)
	tests := []struct {
		name   string
		target Target
		want   string
	}{
		{"unknown authority", Target{URL: url}, "certificate signed by unknown authority"},
		{"no CA file", Target{URL: url, TLS: &TargetTLS{CAFile: "/nonexistent/ca.pem"}}, "target: CA file: open /nonexistent/ca.pem"},
		{"CA file not PEM", Target{URL: url, TLS: &TargetTLS{CAFile: notPEM}}, "holds no PEM certificate (accepted: one or more -----BEGIN CERTIFICATE----- blocks)"},
		{"half a client certificate", Target{URL: url, TLS: &TargetTLS{CAFile: caFile, CertFile: caFile}}, "a client certificate needs both its certificate and its key file"},
		{"TLS in the clear", Target{URL: "http://127.0.0.1:1", TLS: &TargetTLS{Insecure: true}}, "TLS settings for a target in the clear (accepted: an https:// URL)"},
		{"no HTTP/2 offered", Target{URL: url, TLS: &TargetTLS{CAFile: caFile, ServerName: tierName}, Protocol: scenarios.HTTP2},
			`the server does not offer HTTP/2 by ALPN (it chose http/1.1; accepted: a server that offers h2, or HTTP/1.1)`},
		{"unknown protocol", Target{URL: url, Protocol: "h3"}, `target: protocol "h3" (accepted: http/1.1, h2, or empty for the server's choice over https)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			target.StartTimeout = 300 * time.Millisecond
			_, err := RunScenario(t.Context(), compile(t, s), Options{Target: &target})
			assert.ErrorContains(t, err, tt.want)
		})
	}
	// Insecure is the explicit way past an unknown authority.
	rep, err := RunScenario(t.Context(), compile(t, s), Options{Target: &Target{URL: url, TLS: &TargetTLS{Insecure: true}}})
	require.NoError(t, err)
	assert.True(t, rep.Met, rep.Text())
}

// TestTargetRemote: a host that is not loopback needs AllowRemote (parsed
// only: tests talk to loopback alone).
func TestTargetRemote(t *testing.T) {
	_, err := (&Target{URL: "https://192.0.2.1"}).parse()
	assert.ErrorContains(t, err, "is not loopback")
	tu, err := (&Target{URL: "https://192.0.2.1", AllowRemote: true}).parse()
	require.NoError(t, err)
	assert.Equal(t, targetURL{network: "tcp", addr: "192.0.2.1:443", https: true, host: "192.0.2.1", base: "https://192.0.2.1"}, tu)
	tu, err = (&Target{URL: "http://[::1]:8080/"}).parse()
	require.NoError(t, err)
	assert.Equal(t, "[::1]:8080", tu.addr)
	assert.Equal(t, "http://[::1]:8080", tu.base)
}

// TestTargetExecTLS starts a TLS server itself (this test binary serving
// the bodies origin, HTTP/2 offered by ALPN): it is polled until it answers,
// and only then does a handshake choose the protocol.
func TestTargetExecTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ca, err := newRunCA()
	require.NoError(t, err)
	dir := t.TempDir()
	var chain []byte
	for _, der := range ca.server.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(ca.server.PrivateKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cert.pem"), chain, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600))
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.server.Certificate[1]}), 0o600))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // the exec'd server takes the port

	target := &Target{URL: "https://" + addr, TLS: &TargetTLS{CAFile: caFile, ServerName: tierName},
		Exec: []string{os.Args[0]}, Env: []string{serveEnv + "=tcp:" + addr, serveTLSEnv + "=" + dir},
		ReadyPath: "/bytes/1", AccountPath: "/accounts/{id}", StartTimeout: 10 * time.Second}
	var w Records
	rep, err := RunScenario(t.Context(), compile(t, bodiesScenario("exec-tls", "/bytes/1MB", 4)), Options{Target: target, Writer: &w})
	require.NoError(t, err)
	assert.True(t, rep.Met, rep.Text())
	assert.Equal(t, "client-tcp-tls-h2>target", rep.Layout)
	for _, r := range w.All() {
		assert.Equal(t, "HTTP/2.0", r.Proto)
	}
}
