package harness

import (
	"context"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/results"
)

// TestCRC32CCombine checks the combined CRC against hash/crc32 over the
// concatenation, for block-sized, short, empty and odd parts.
func TestCRC32CCombine(t *testing.T) {
	body := testBody(3*BlockSize + 1234)
	for _, tc := range []struct{ a, b int }{
		{0, 0}, {0, 1}, {1, 0}, {1, 1}, {BlockSize, BlockSize}, {BlockSize, 7},
		{2 * BlockSize, BlockSize}, {13, 3*BlockSize + 1000}, {BlockSize - 1, 2*BlockSize + 3},
	} {
		t.Run(strconv.Itoa(tc.a)+"+"+strconv.Itoa(tc.b), func(t *testing.T) {
			a, b := body[:tc.a], body[tc.a:tc.a+tc.b]
			want := crc32.Checksum(body[:tc.a+tc.b], castagnoli)
			got := crc32cCombine(crc32.Checksum(a, castagnoli), crc32.Checksum(b, castagnoli), int64(len(b)))
			assert.Equal(t, want, got)
		})
	}
}

// TestCRC32CBlockShiftTable holds the table that combines whole blocks to
// the multiplication it stands for, on random CRCs and on every single bit.
func TestCRC32CBlockShiftTable(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	crcs := []uint32{0, 0xffffffff}
	for i := range 32 {
		crcs = append(crcs, 1<<i)
	}
	for range 10_000 {
		crcs = append(crcs, r.Uint32())
	}
	for _, a := range crcs {
		b := r.Uint32()
		require.Equal(t, crc32cMulMod(crc32cBlockShift, a)^b, crc32cCombine(a, b, BlockSize), "crcA %08x", a)
	}
}

// TestCRC32CUpdate holds crc32cUpdate (the folding kernel where the CPU
// has one) to hash/crc32 for every length up to a few folding units, at
// every alignment mod 64, from random initial CRCs, and for lengths
// around the verifier's blocks; where the kernel runs it is also called
// directly, on every multiple of its unit.
func TestCRC32CUpdate(t *testing.T) {
	if !crc32cFoldOK {
		t.Log("no folding kernel on this CPU: crc32cUpdate is hash/crc32's (both sides below)")
	}
	buf := testBody(2*BlockSize + 4096)
	r := rand.New(rand.NewPCG(3, 4))
	check := func(n, off int) {
		t.Helper()
		p := buf[off : off+n]
		init := r.Uint32()
		want := crc32.Update(init, castagnoli, p)
		require.Equal(t, want, crc32cUpdate(init, p), "length %d at offset %d from %08x", n, off, init)
		if crc32cFoldOK && n > 0 && n%crc32cFoldUnit == 0 {
			require.Equal(t, want, crc32cFold(init, p), "kernel: length %d at offset %d from %08x", n, off, init)
		}
	}
	for n := 0; n <= 4*crc32cFoldMin+3; n++ {
		check(n, r.IntN(64))
	}
	for _, n := range []int{BlockSize - 1, BlockSize, BlockSize + 1, BlockSize + 255, 2*BlockSize - 17, 2 * BlockSize} {
		for off := range 64 {
			check(n, off)
		}
	}
	// A single flipped bit anywhere changes the CRC (the kernel reads every byte).
	p := append([]byte(nil), buf[:BlockSize]...)
	clean := crc32cUpdate(0, p)
	for _, i := range []int{0, 3, 4, 255, 256, 1000, BlockSize / 2, BlockSize - 257, BlockSize - 1} {
		p[i] ^= 0x10
		assert.NotEqual(t, clean, crc32cUpdate(0, p), "bit flipped at %d", i)
		assert.Equal(t, crc32.Checksum(p, castagnoli), crc32cUpdate(0, p), "bit flipped at %d", i)
		p[i] ^= 0x10
	}
}

// TestCRC32CXPow checks the exponentiation behind the folding keys and
// the CRC combination: x^a * x^b = x^(a+b) up to large exponents, and
// multiplying by x one step at a time.
func TestCRC32CXPow(t *testing.T) {
	for _, n := range []int64{0, 1, 7, 16, 64, 256, BlockSize, 1 << 40} {
		for _, a := range []int64{0, min(1, n), n / 3, n / 2} {
			assert.Equal(t, crc32cXPow(8*n), crc32cMulMod(crc32cXPow(8*a), crc32cXPow(8*(n-a))), "x^(8*%d) as x^(8*%d) x^(8*%d)", n, a, n-a)
		}
	}
	x := crc32cXPow(1)
	p := crc32cXPow(0)
	for e := range int64(300) {
		require.Equal(t, p, crc32cXPow(e), "x^%d", e)
		p = crc32cMulMod(x, p)
	}
}

// TestVerifierCRCPaths runs the same bodies through the verifier twice,
// once with crc32cUpdate (the folding kernel where the CPU has one) and
// once with hash/crc32, and wants the same verdicts: the fast path still
// catches a truncated, a corrupt (mid-block, near the end, in the four
// bytes the initial CRC enters) and an overlong body, and a digest that
// does not match. Which bytes fold depends on how the reads fall;
// TestCRC32CUpdate covers every split between folded and unfolded bytes.
func TestVerifierCRCPaths(t *testing.T) {
	const n = 3*BlockSize + 1300 // read whole, the last block folds 1280 bytes and leaves 20
	body := testBody(n)
	ref := FingerprintBytes(body)
	flip := func(i int) []byte {
		b := append([]byte(nil), body...)
		b[i] ^= 0x04
		return b
	}
	other := testBody(n + 1)[1:]
	done := make(chan struct{})
	defer close(done)
	tests := []struct {
		name       string
		handler    func(w http.ResponseWriter, r *http.Request)
		ref        *Reference
		want       results.Outcome
		wantOffset int64
	}{
		{"complete, crc32c digest and reference", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Digest", crcDigest(body))
			_, _ = w.Write(body)
		}, &ref, results.Complete, n},
		{"corrupt mid-block, digest of the original", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Digest", crcDigest(body))
			_, _ = w.Write(flip(BlockSize + 700))
		}, &ref, results.Corrupt, BlockSize},
		{"corrupt in the last bytes, reference only", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(flip(n - 5))
		}, &ref, results.Corrupt, 3 * BlockSize},
		{"corrupt in the first four bytes, digest only", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Digest", crcDigest(body))
			_, _ = w.Write(flip(2))
		}, nil, results.Corrupt, n},
		{"corrupt in the first four bytes, reference only", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(flip(2))
		}, &ref, results.Corrupt, 0},
		{"digest of other bytes", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Digest", crcDigest(other))
			_, _ = w.Write(body)
		}, nil, results.Corrupt, n},
		{"content-length cut by FIN", func(w http.ResponseWriter, r *http.Request) {
			hijackWrite(t, w, append(head(n, ""), body[:2*BlockSize+1500]...), "fin", done)
		}, &ref, results.Truncated, 2*BlockSize + 1500},
		{"shorter well-formed body against the reference", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(body[:BlockSize+3000])
		}, &ref, results.Truncated, BlockSize + 3000},
		{"overlong chunked body", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			_, _ = w.Write(body)
			_, _ = w.Write(body[:5000])
		}, &ref, results.Overlong, n},
	}
	paths := []struct {
		name string
		crc  func(uint32, []byte) uint32
	}{
		{"crc32cUpdate", nil},
		{"hash/crc32", func(crc uint32, p []byte) uint32 { return crc32.Update(crc, castagnoli, p) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(tt.handler))
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			defer client.CloseIdleConnections()
			var verdicts []Verdict
			for _, path := range paths {
				v := NewVerifier(5*time.Second, DefaultWantDigest)
				v.crc32c = path.crc
				req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
				require.NoError(t, err)
				vd := v.Verify(context.Background(), client.Do, req, Check{Want: expectedOf(tt.ref), Fingerprint: true})
				assert.Equal(t, tt.want, vd.Outcome, "%s: %v", path.name, vd.Err)
				assert.Equal(t, tt.wantOffset, vd.Offset, path.name)
				require.NotNil(t, vd.Fingerprint, path.name)
				received := body[:0]
				if vd.Received <= n {
					received = body[:vd.Received]
				}
				if tt.want != results.Corrupt && tt.want != results.Overlong {
					assert.Equal(t, FingerprintBytes(received), *vd.Fingerprint, "%s: fingerprint of the bytes received", path.name)
				}
				verdicts = append(verdicts, vd)
			}
			a, b := verdicts[0], verdicts[1]
			assert.Equal(t, b.Outcome, a.Outcome)
			assert.Equal(t, b.Offset, a.Offset)
			assert.Equal(t, b.Received, a.Received)
			assert.Equal(t, b.DigestWant, a.DigestWant)
			assert.Equal(t, b.DigestGot, a.DigestGot)
			assert.Equal(t, b.CheckedBy, a.CheckedBy)
			assert.Equal(t, b.Fingerprint, a.Fingerprint)
			assert.Equal(t, fmt.Sprint(b.Err), fmt.Sprint(a.Err))
		})
	}
}

// expectedOf is the expectation Verifier.Do builds from a reference.
func expectedOf(ref *Reference) *Expected {
	if ref == nil {
		return nil
	}
	return &Expected{Source: results.EvidenceReference, Ref: ref, Length: ref.Length}
}
