package harness

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/results"
)

func testBody(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func crcDigest(b []byte) string {
	var x [4]byte
	binary.BigEndian.PutUint32(x[:], crc32.Checksum(b, castagnoli))
	return "crc32c=:" + base64.StdEncoding.EncodeToString(x[:]) + ":"
}

// hijackWrite sends a raw response (head + part of the body) and ends the
// connection the way end says: "fin" (close), "rst" (linger 0) or "hang"
// (wait until the client goes away).
func hijackWrite(t *testing.T, w http.ResponseWriter, raw []byte, end string, done <-chan struct{}) {
	hj, ok := w.(http.Hijacker)
	require.True(t, ok)
	c, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = buf.Write(raw)
	_ = buf.Flush()
	switch end {
	case "rst":
		time.Sleep(20 * time.Millisecond) // let the bytes leave before the RST
		_ = c.(*net.TCPConn).SetLinger(0)
	case "hang":
		one := make([]byte, 1)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Read(one) // returns when the client closes
		select {
		case <-done:
		default:
		}
	}
}

func head(cl int, extra string) []byte {
	h := "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
	if cl >= 0 {
		h += "Content-Length: " + strconv.Itoa(cl) + "\r\n"
	}
	return []byte(h + extra + "\r\n")
}

func TestVerifierOutcomes(t *testing.T) {
	const n = 300_000
	body := testBody(n)
	ref := FingerprintBytes(body)
	corrupt := append([]byte(nil), body...)
	corrupt[200_000] ^= 0xff
	done := make(chan struct{})
	defer close(done)

	tests := []struct {
		name       string
		handler    func(w http.ResponseWriter, r *http.Request)
		ref        *Reference
		want       results.Outcome
		wantOffset int64
	}{
		{
			name: "complete with digest",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Digest", crcDigest(body))
				_, _ = w.Write(body)
			},
			ref: &ref, want: results.Complete, wantOffset: n,
		},
		{
			name: "complete without reference",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write(body)
			},
			want: results.Complete, wantOffset: n,
		},
		{
			name: "content-length cut by FIN",
			handler: func(w http.ResponseWriter, r *http.Request) {
				hijackWrite(t, w, append(head(n, ""), body[:100_000]...), "fin", done)
			},
			want: results.Truncated, wantOffset: 100_000,
		},
		{
			name: "chunked without its last chunk",
			handler: func(w http.ResponseWriter, r *http.Request) {
				raw := append(head(-1, "Transfer-Encoding: chunked\r\n"), []byte("186a0\r\n")...)
				raw = append(raw, body[:100_000]...)
				raw = append(raw, "\r\n"...)
				hijackWrite(t, w, raw, "fin", done)
			},
			ref: &ref, want: results.Truncated, wantOffset: 100_000,
		},
		{
			name: "shorter well-formed body (laundered cut) against the reference",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write(body[:150_000])
			},
			ref: &ref, want: results.Truncated, wantOffset: 150_000,
		},
		{
			name: "close-delimited body ended early, digest of the whole",
			handler: func(w http.ResponseWriter, r *http.Request) {
				raw := append(head(-1, "Connection: close\r\nContent-Digest: "+crcDigest(body)+"\r\n"), body[:120_000]...)
				hijackWrite(t, w, raw, "fin", done)
			},
			want: results.Corrupt, wantOffset: 120_000,
		},
		{
			name: "reset mid-body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				hijackWrite(t, w, append(head(n, ""), body[:50_000]...), "rst", done)
			},
			ref: &ref, want: results.Reset, wantOffset: 50_000,
		},
		{
			name: "corrupt byte, digest of the original",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Digest", crcDigest(body))
				_, _ = w.Write(corrupt)
			},
			ref: &ref, want: results.Corrupt, wantOffset: 3 * BlockSize,
		},
		{
			name: "corrupt byte, no digest: the reference catches it",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write(corrupt)
			},
			ref: &ref, want: results.Corrupt, wantOffset: 3 * BlockSize,
		},
		{
			name: "bad trailer digest",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "Content-Digest")
				_, _ = w.Write(corrupt)
				w.Header().Set("Content-Digest", crcDigest(body))
			},
			want: results.Corrupt, wantOffset: n,
		},
		{
			name: "sha-256 trailer (the server ignored Want-Content-Digest), corrupt body, no reference",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "Content-Digest")
				_, _ = w.Write(corrupt)
				sum := sha256.Sum256(body)
				w.Header().Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
			},
			want: results.Corrupt, wantOffset: n,
		},
		{
			name: "sha-256 header digest, corrupt body, no reference",
			handler: func(w http.ResponseWriter, r *http.Request) {
				sum := sha256.Sum256(body)
				w.Header().Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
				_, _ = w.Write(corrupt)
			},
			want: results.Corrupt, wantOffset: n, // no reference blocks to locate the bad byte
		},
		{
			name: "announced trailer never sent, no reference",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "Content-Digest")
				_, _ = w.Write(body[:100_000]) // a clean chunked end, no digest
			},
			want: results.Unverified, wantOffset: 100_000,
		},
		{
			name: "announced trailer never sent, the reference vouches",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "Content-Digest")
				_, _ = w.Write(body)
			},
			ref: &ref, want: results.Complete, wantOffset: n,
		},
		{
			name: "overlong chunked body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.(http.Flusher).Flush()
				_, _ = w.Write(body)
				_, _ = w.Write(body[:1000])
			},
			ref: &ref, want: results.Overlong, wantOffset: n,
		},
		{
			name: "stall mid-body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				hijackWrite(t, w, append(head(n, ""), body[:70_000]...), "hang", done)
			},
			want: results.Stalled, wantOffset: 70_000,
		},
		{
			name: "stall before the head",
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-done:
				}
			},
			want: results.Stalled, wantOffset: 0,
		},
		{
			name: "http error",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, `{"error":"upstream body incomplete"}`, http.StatusBadGateway)
			},
			want: results.HTTPError, wantOffset: 0,
		},
		{
			name: "closed before the head",
			handler: func(w http.ResponseWriter, r *http.Request) {
				hijackWrite(t, w, nil, "fin", done)
			},
			want: results.TransportError, wantOffset: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(tt.handler))
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			defer client.CloseIdleConnections()
			v := NewVerifier(300*time.Millisecond, DefaultWantDigest)
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
			require.NoError(t, err)
			vd := v.Do(context.Background(), client, req, tt.ref, false)
			assert.Equal(t, tt.want, vd.Outcome, "err: %v", vd.Err)
			assert.Equal(t, tt.wantOffset, vd.Offset)
			assert.False(t, vd.Aborted)
			if tt.want == results.Complete {
				assert.NoError(t, vd.Err)
			} else {
				assert.Error(t, vd.Err)
			}
		})
	}
}

func TestVerifierFingerprintMatchesBytes(t *testing.T) {
	body := testBody(3*BlockSize + 123)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	vd := NewVerifier(time.Second, "").Do(context.Background(), client, req, nil, true)
	require.Equal(t, results.Complete, vd.Outcome)
	require.NotNil(t, vd.Fingerprint)
	assert.Equal(t, FingerprintBytes(body), *vd.Fingerprint)
}

func TestVerifierAbortedByCaller(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	vd := NewVerifier(10*time.Second, "").Do(ctx, client, req, nil, false)
	assert.True(t, vd.Aborted)
}
