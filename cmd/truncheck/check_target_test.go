package main

import (
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness/origin"
)

// bodiesFile is a scenario file for the bodies origin's API.
func bodiesFile(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "bodies.yaml")
	require.NoError(t, os.WriteFile(f, []byte(`name: bodies-1mb
workload: [{path: /bytes/1MB}, {path: "/bytes/1MB?stream=1"}]
concurrency: 2
count: 6
expect: {kind: complete}
`), 0o600))
	return f
}

func TestCheckTargetFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		give []string
		want string
	}{
		{"bad scheme", []string{"--target", "ftp://127.0.0.1:1"}, "accepted: http://HOST:PORT, https://HOST:PORT or unix:/PATH"},
		{"remote without the flag", []string{"--target", "https://192.0.2.1"}, `host "192.0.2.1" is not loopback (accepted: 127.0.0.1, ::1, localhost; another host only with --allow-remote)`},
		{"TLS flags in the clear", []string{"--target", "http://127.0.0.1:1", "--insecure"}, "are for an https:// --target"},
		{"half a client certificate", []string{"--target", "https://127.0.0.1:1", "--client-cert", "c.pem"}, "--client-cert and --client-key go together"},
		{"insecure and a CA", []string{"--target", "https://127.0.0.1:1", "--insecure", "--ca-file", "ca.pem"}, "give one of them"},
		{"missing CA file", []string{"--target", "https://127.0.0.1:1", "--ca-file", filepath.Join(dir, "none.pem")}, "--ca-file: stat"},
		{"two protocols", []string{"--target", "https://127.0.0.1:1", "--http1", "--http2"}, "--http1, --http2 and --h2c exclude each other"},
		{"http2 in the clear", []string{"--target", "unix:/x.sock", "--http2"}, "--http2 negotiates HTTP/2 by ALPN over an https:// --target (in the clear: --h2c)"},
		{"h2c over TLS", []string{"--target", "https://127.0.0.1:1", "--h2c"}, "--h2c is HTTP/2 in the clear"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := truncheck(t, append([]string{"check", "--out", dir}, tt.give...)...)
			assert.Equal(t, exitUsage, code)
			oneLine(t, stderr, tt.want)
		})
	}
}

// TestCheckHTTPS checks a TLS server by its CA file: HTTP/2 when it offers
// it by ALPN, HTTP/1.1 when --http1 says so.
func TestCheckHTTPS(t *testing.T) {
	o := origin.Bodies()
	srv := httptest.NewUnstartedServer(o.Handler)
	srv.EnableHTTP2 = true
	srv.Config.ConnContext = o.ConnContext
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	file := bodiesFile(t)
	for _, tc := range []struct {
		name   string
		flags  []string
		layout string
	}{
		{"alpn", nil, "client-tcp-tls-h2>target"},
		{"http1", []string{"--http1"}, "client-tcp-tls>target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"check", "--target", srv.URL, "--ca-file", ca, "--scenarios", file, "--ready-path", "/bytes/1",
				"--account-path", "/accounts/{id}", "--out", out}, tc.flags...)
			code, stdout, stderr := truncheck(t, args...)
			require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			assert.Contains(t, stdout, "all 6 responses verified")
			recs := readRecords(t, out)
			assert.Contains(t, recs, `"layout":"`+tc.layout+`"`)
			assert.Contains(t, recs, `"tls":"TLS 1.3"`)
			plan, err := os.ReadFile(filepath.Join(out, "run.json"))
			require.NoError(t, err)
			assert.Contains(t, string(plan), `"ca_file": "`+ca+`"`, "the plan says how the target was trusted")
		})
	}
	// Without the CA the certificate is not trusted: the environment's fault, exit 3.
	code, _, stderr := truncheck(t, "check", "--target", srv.URL, "--scenarios", file, "--out", t.TempDir())
	assert.Equal(t, exitEnv, code)
	assert.Contains(t, stderr, "certificate signed by unknown authority")
}

// TestCheckH2C checks a server speaking HTTP/2 in the clear on a Unix socket.
func TestCheckH2C(t *testing.T) {
	o := origin.Bodies()
	dir, err := os.MkdirTemp("", "tc")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "h2c.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	hs := &http.Server{Handler: o.Handler, ConnContext: o.ConnContext, ErrorLog: log.New(io.Discard, "", 0)}
	hs.Protocols = new(http.Protocols)
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetUnencryptedHTTP2(true)
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(l) }()
	t.Cleanup(func() { hs.Close(); <-done })

	out := t.TempDir()
	code, stdout, stderr := truncheck(t, "check", "--target", "unix:"+sock, "--h2c", "--scenarios", bodiesFile(t),
		"--ready-path", "/bytes/1", "--account-path", "/accounts/{id}", "--out", out)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	recs := readRecords(t, out)
	assert.Contains(t, recs, `"layout":"client-unix-h2c>target"`)
	assert.Contains(t, recs, `"proto":"HTTP/2.0"`)
	assert.Contains(t, recs, `"framing":"end-stream"`, "a streamed HTTP/2 body ends with END_STREAM")
}

// readRecords is a results directory's records.jsonl, with JSON's escape of
// ">" undone so layouts read as printed.
func readRecords(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "records.jsonl"))
	require.NoError(t, err)
	return strings.ReplaceAll(string(b), `\u003e`, ">")
}
