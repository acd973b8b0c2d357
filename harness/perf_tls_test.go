package harness

// The verifier's throughput over TLS and HTTP/2, as ratios against a plain
// client of the same protocol measured in the same run. Both sides use the
// same http.Client (the harness's own wire: TLS over the raw conn, x/net's
// HTTP/2 client over the frame recorder, no faults, no recording) and read
// with the same 64 KiB buffer; only the verifier's work differs (CRC-32C of
// every block and of the whole body, the reference's blocks, the
// Content-Digest). h2-tls/plain-bare is x/net's client without the frame
// recorder: plain/plain-bare is what recording frames costs. Run with
//
//	go test -run '^$' -bench '^BenchmarkPerfVerifyWire$' -count 5 ./harness
//
// and compare medians of interleaved runs; nothing here asserts a timing.

import (
	"context"
	"crypto/tls"
	"hash/crc32"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/truncheck/truncheck/harness/digest"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

// staticBodies serves /N as the first N bytes of body with Content-Length
// and a CRC-32C Content-Digest computed once (the harness asks for crc32c):
// the server's work per request is writing the bytes, nothing more.
func staticBodies(body []byte, sizes ...int) http.Handler {
	digests := map[int]string{}
	for _, n := range sizes {
		digests[n] = digest.Digest{Algorithm: digest.CRC32C, Value: digest.CRC32CBytes(crc32.Checksum(body[:n], castagnoli))}.String()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Path[1:])
		d, ok := digests[n]
		if err != nil || !ok {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Header().Set("Content-Digest", d)
		_, _ = w.Write(body[:n])
	})
}

func BenchmarkPerfVerifyWire(b *testing.B) {
	const n = 16 << 20
	body := testBody(n)
	ref := FingerprintBytes(body)
	h := staticBodies(body, n)

	tlsSrv := httptest.NewUnstartedServer(h)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	b.Cleanup(tlsSrv.Close)
	cfg := tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	tlsAddr := tlsSrv.Listener.Addr().String()

	h2c := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	h2cL, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	serveWire(h2c, h2cL, scenarios.Hop{Protocol: scenarios.HTTP2}, nil)
	go func() { _ = h2c.Serve(h2cL) }()
	b.Cleanup(func() { h2c.Close() })

	dialTo := func(addr string) dialFunc { return hopDialer(transport.Options{}, "tcp", addr) }
	withALPN := func(proto scenarios.Protocol) *tls.Config {
		c := cfg.Clone()
		c.NextProtos, c.ServerName = alpnOffer(proto, false), "127.0.0.1"
		return c
	}
	for _, p := range []struct {
		name string
		tr   roundTripper
		url  string
	}{
		{"h1-tls", hopTransport(dialTo(tlsAddr), wire{tls: withALPN(scenarios.HTTP1), proto: scenarios.HTTP1}, 4, false), "https://" + tlsAddr},
		{"h2-tls", hopTransport(dialTo(tlsAddr), wire{tls: withALPN(scenarios.HTTP2), proto: scenarios.HTTP2}, 4, false), "https://" + tlsAddr},
		{"h2c", hopTransport(dialTo(h2cL.Addr().String()), wire{proto: scenarios.HTTP2}, 4, false), "http://" + h2cL.Addr().String()},
	} {
		c := &http.Client{Transport: p.tr}
		b.Cleanup(p.tr.CloseIdleConnections)
		url := p.url + "/" + strconv.Itoa(n)
		b.Run(p.name+"/plain", func(b *testing.B) { plainReads(b, c, url, n) })
		if p.name == "h2-tls" {
			bare := &http2.Transport{TLSClientConfig: withALPN(scenarios.HTTP2), DisableCompression: true}
			b.Cleanup(bare.CloseIdleConnections)
			b.Run(p.name+"/plain-bare", func(b *testing.B) { plainReads(b, &http.Client{Transport: bare}, url, n) })
		}
		b.Run(p.name+"/verifier", func(b *testing.B) {
			v := NewVerifier(time.Minute, DefaultWantDigest)
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				req, err := http.NewRequest(http.MethodGet, url, nil)
				require.NoError(b, err)
				vd := v.Do(context.Background(), c, req, &ref, false)
				require.Equal(b, results.Complete, vd.Outcome, "%v", vd.Err)
				require.NotEmpty(b, vd.DigestWant, "the digest was not checked")
			}
		})
	}
}

// plainReads fetches url with c and reads each body with a 64 KiB buffer,
// the verifier's own, asking for the same digest header the verifier asks
// for (so the server does the same work), checking nothing.
func plainReads(b *testing.B, c *http.Client, url string, n int64) {
	buf := make([]byte, bufSize)
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(b, err)
		req.Header.Set("Want-Content-Digest", DefaultWantDigest)
		resp, err := c.Do(req)
		require.NoError(b, err)
		var got int64
		for {
			m, err := resp.Body.Read(buf)
			got += int64(m)
			if err == io.EOF {
				break
			}
			require.NoError(b, err)
		}
		resp.Body.Close()
		require.Equal(b, n, got)
	}
}
