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

	"github.com/truncheck/truncheck/harness/digest"
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

// TestVerifierAgainstExpected: the same bodies judged against each kind of
// independent evidence: what the user stated (length, digest, bytes),
// agreeing fetches (consistency: a strict prefix is a cut, anything else
// proves nothing), and framing only with end-to-end evidence required.
func TestVerifierAgainstExpected(t *testing.T) {
	const n = 5*BlockSize + 777
	body := testBody(n)
	ref := FingerprintBytes(body)
	longer := append(append([]byte(nil), body...), testBody(2*BlockSize)...)
	other := testBody(n)
	other[0] ^= 1
	routes := map[string][]byte{
		"/whole": body, "/prefix": body[:2*BlockSize+10], "/prefix-aligned": body[:3*BlockSize],
		"/longer": longer, "/other": other, "/short-other": other[:BlockSize*2],
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := routes[r.URL.Path]
		if r.URL.Query().Get("digest") == "1" {
			w.Header().Set("Content-Digest", crcDigest(b))
		}
		_, _ = w.Write(b) // chunked: framing is the last chunk, a laundered cut looks whole
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	nn := int64(n)
	stated := func(e Expected) *Expected { e.Source = results.EvidenceExpectation; return &e }
	sum := digest.Sum(digest.SHA256, body)
	agreeing := &Expected{Source: results.AgreeingFetches(3), Ref: &ref, Length: ref.Length}
	tests := []struct {
		name    string
		path    string
		want    *Expected
		e2e     bool
		outcome results.Outcome
		offset  int64
		first   results.Evidence
	}{
		{"stated length, whole", "/whole", stated(Expected{Length: nn}), false, results.Complete, n, results.EvidenceExpectation},
		{"stated length, cut", "/prefix", stated(Expected{Length: nn}), false, results.Truncated, 2*BlockSize + 10, results.EvidenceExpectation},
		{"stated length, longer", "/longer", stated(Expected{Length: nn}), false, results.Overlong, n, results.EvidenceExpectation},
		{"stated digest, whole", "/whole", stated(Expected{Length: -1, Digests: []digest.Digest{{Algorithm: digest.SHA256, Value: sum}}}), false, results.Complete, n, results.EvidenceExpectation},
		{"stated digest, other bytes", "/other", stated(Expected{Length: -1, Digests: []digest.Digest{{Algorithm: digest.SHA256, Value: sum}}}), false, results.Corrupt, n, results.EvidenceExpectation},
		{"stated bytes, other bytes", "/other", stated(Expected{Ref: &ref, Length: nn}), false, results.Corrupt, 0, results.EvidenceExpectation},
		{"agreeing fetches, whole", "/whole", agreeing, false, results.Complete, n, results.AgreeingFetches(3)},
		{"agreeing fetches, strict prefix", "/prefix", agreeing, false, results.Truncated, 2*BlockSize + 10, results.AgreeingFetches(3)},
		{"agreeing fetches, prefix on a block boundary", "/prefix-aligned", agreeing, false, results.Truncated, 3 * BlockSize, results.AgreeingFetches(3)},
		{"agreeing fetches, other bytes", "/other", agreeing, false, results.Unverified, 0, results.AgreeingFetches(3)},
		{"agreeing fetches, shorter other bytes", "/short-other", agreeing, false, results.Unverified, 0, results.AgreeingFetches(3)},
		{"agreeing fetches, extended: the fetches were cut", "/longer", agreeing, false, results.Unverified, n, results.AgreeingFetches(3)},
		{"agreeing fetches, extended, but its own digest vouches", "/longer?digest=1", agreeing, false, results.Complete, int64(len(longer)), results.DigestEvidence(digest.CRC32C)},
		{"framing only", "/whole", nil, false, results.Complete, n, results.EvidenceChunked},
		{"framing only, end to end required", "/whole", nil, true, results.Unverified, n, results.EvidenceChunked},
		{"digest, end to end required", "/whole?digest=1", nil, true, results.Complete, n, results.DigestEvidence(digest.CRC32C)},
		{"unverifiable kind", "/whole", &Expected{Length: -1, Unverifiable: "reference fetches disagree"}, false, results.Unverified, n, results.EvidenceChunked},
		{"unverifiable kind, own digest", "/whole?digest=1", &Expected{Length: -1, Unverifiable: "reference fetches disagree"}, false, results.Complete, n, results.DigestEvidence(digest.CRC32C)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
			require.NoError(t, err)
			vd := NewVerifier(5*time.Second, DefaultWantDigest).Verify(context.Background(), client.Do, req, Check{Want: tt.want, RequireEndToEnd: tt.e2e})
			assert.Equal(t, tt.outcome, vd.Outcome, "err: %v", vd.Err)
			assert.Equal(t, tt.offset, vd.Offset)
			require.NotEmpty(t, vd.CheckedBy)
			assert.Equal(t, tt.first, vd.CheckedBy[0], vd.CheckedBy)
			if tt.outcome == results.Complete {
				assert.NoError(t, vd.Err)
			} else {
				assert.Error(t, vd.Err)
			}
		})
	}
}

// TestVerifierDigestsItCannotCheck: an unknown or malformed digest is
// recorded and is not evidence; a sha-512 trailer is checked like a header.
func TestVerifierDigestsItCannotCheck(t *testing.T) {
	body := testBody(100_000)
	corrupt := append([]byte(nil), body...)
	corrupt[50_000] ^= 1
	sha512 := digest.Digest{Algorithm: digest.SHA512, Value: digest.Sum(digest.SHA512, body)}.String()
	tests := []struct {
		name, header, trailer string
		send                  []byte
		want                  results.Outcome
		digestErr             string
		first                 results.Evidence
	}{
		{name: "sha-384", header: "sha-384=:AAAA:", send: body, want: results.Complete, digestErr: "no algorithm that can be computed (sent: sha-384", first: results.EvidenceChunked},
		{name: "md5 and sha-384", header: "md5=:AAAA:, sha-384=:AAAA:", send: body, want: results.Complete, digestErr: "sent: md5, sha-384", first: results.EvidenceChunked},
		{name: "malformed", header: "sha-256=abc", send: body, want: results.Complete, digestErr: "malformed digest field", first: results.EvidenceChunked},
		{name: "sha-512 trailer, whole", trailer: sha512, send: body, want: results.Complete, first: results.DigestEvidence(digest.SHA512)},
		{name: "sha-512 trailer, corrupt", trailer: sha512, send: corrupt, want: results.Corrupt, first: results.DigestEvidence(digest.SHA512)},
		{name: "sha-384 trailer", trailer: "sha-384=:AAAA:", send: body, want: results.Complete, digestErr: "no algorithm", first: results.EvidenceChunked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Content-Digest", tt.header)
				}
				if tt.trailer != "" {
					w.Header().Set("Trailer", "Content-Digest")
				}
				_, _ = w.Write(tt.send)
				if tt.trailer != "" {
					w.Header().Set("Content-Digest", tt.trailer)
				}
			}))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			vd := NewVerifier(5*time.Second, DefaultWantDigest).Verify(context.Background(), srv.Client().Do, req, Check{})
			assert.Equal(t, tt.want, vd.Outcome, "err: %v", vd.Err)
			assert.Equal(t, tt.first, vd.CheckedBy[0])
			if tt.digestErr == "" {
				assert.Empty(t, vd.DigestError)
			} else {
				assert.Contains(t, vd.DigestError, tt.digestErr)
			}
		})
	}
}
