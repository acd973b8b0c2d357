package origin

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/truncheck/truncheck/harness/account"
	"github.com/truncheck/truncheck/harness/digest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestBodyFormula: the documented formula, computed here independently,
// read in odd-sized pieces.
func TestBodyFormula(t *testing.T) {
	for _, n := range []int64{0, 1, 7, 8, 9, 1000, 65537} {
		want := make([]byte, (n+7)/8*8)
		for k := uint64(0); int64(k*8) < n; k++ {
			z := uint64(n)*0x9E3779B97F4A7C15 + k
			z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
			z = (z ^ (z >> 27)) * 0x94D049BB133111EB
			z ^= z >> 31
			binary.LittleEndian.PutUint64(want[k*8:], z)
		}
		var got bytes.Buffer
		buf := make([]byte, 3)
		r := Body(n)
		for {
			m, err := r.Read(buf)
			got.Write(buf[:m])
			if err == io.EOF {
				break
			}
		}
		assert.Equal(t, want[:n], append([]byte{}, got.Bytes()...), "n=%d", n)
	}
	sum := sha256.Sum256(mustRead(t, Body(1<<20)))
	assert.Equal(t, sum[:], BodyDigest(digest.SHA256, 1<<20))
}

func mustRead(t *testing.T, r io.Reader) []byte {
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return b
}

func TestBodies(t *testing.T) {
	o := Bodies()
	assert.True(t, o.Trusted)
	srv := httptest.NewServer(o.Handler)
	defer srv.Close()
	c := srv.Client()

	get := func(path string, hdr ...string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		return resp, mustRead(t, resp.Body)
	}
	resp, body := get("/bytes/3MB", "Want-Content-Digest", "crc32c=9, sha-256=1")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int64(3_000_000), resp.ContentLength)
	assert.Equal(t, mustRead(t, Body(3_000_000)), body)
	assert.Equal(t, digest.Digest{Algorithm: digest.CRC32C, Value: digest.Sum(digest.CRC32C, body)}.String(), resp.Header.Get("Content-Digest"))

	resp, body = get("/bytes/1MiB?stream=1")
	assert.Equal(t, int64(-1), resp.ContentLength)
	assert.Len(t, body, 1<<20)
	assert.Equal(t, digest.Digest{Algorithm: digest.SHA256, Value: digest.Sum(digest.SHA256, body)}.String(), resp.Trailer.Get("Content-Digest"))

	resp, _ = get("/bytes/10?digest=0")
	assert.Empty(t, resp.Header.Get("Content-Digest"))

	resp, body = get("/bytes/100kB?framing=close&digest=0")
	assert.Equal(t, int64(-1), resp.ContentLength)
	assert.Empty(t, resp.TransferEncoding, "close-delimited: neither a length nor chunks")
	assert.True(t, resp.Close)
	assert.Equal(t, mustRead(t, Body(100_000)), body)

	for _, bad := range []string{"/bytes/lots", "/bytes/5GiB", "/bytes/-1"} {
		resp, _ := get(bad)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}
	assert.NoError(t, account.Conform(t.Context(), c, srv.URL, "/bytes/256KiB", "/accounts/{id}"))
}

// TestBodiesOuter: the outer tier serves what it fetched whole, and a cut
// upstream body is a 502, never a shorter body.
func TestBodiesOuter(t *testing.T) {
	inner := httptest.NewServer(Bodies().Handler)
	defer inner.Close()
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write(make([]byte, 10))
	}))
	defer cut.Close()
	for _, tt := range []struct {
		name     string
		upstream string
		status   int
	}{{"whole", inner.URL, 200}, {"cut upstream", cut.URL, 502}} {
		t.Run(tt.name, func(t *testing.T) {
			outer, err := Bodies().Outer(inner.Client(), tt.upstream)
			require.NoError(t, err)
			srv := httptest.NewServer(outer.Handler)
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL + "/fetch?src=/bytes/200000")
			require.NoError(t, err)
			body := mustRead(t, resp.Body)
			resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode, string(body))
			if tt.status == 200 {
				assert.Equal(t, mustRead(t, Body(200_000)), body)
				assert.Equal(t, strconv.Itoa(200_000), resp.Header.Get("Content-Length"))
			}
		})
	}
	inner.Client().CloseIdleConnections()
}

// TestHandlerOrigin: anyone's handler, behind the account middleware.
func TestHandlerOrigin(t *testing.T) {
	o := Handler("mine", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello"))
	}))
	assert.False(t, o.Trusted, "someone else's handler: consistency, not proof")
	srv := httptest.NewServer(o.Handler)
	defer srv.Close()
	assert.NoError(t, account.Conform(t.Context(), srv.Client(), srv.URL, "/x", "/accounts/{id}"))
	a, ok := o.Accounts.Wait(t.Context(), "nobody")
	assert.False(t, ok)
	assert.Empty(t, a.RequestID)
}

// TestBodyBytes holds Body to its formula byte by byte, read in pieces of
// every alignment: byte i of Body(n) is byte i%8 (little-endian) of
// SplitMix64's finaliser of n*0x9E3779B97F4A7C15 + i/8.
func TestBodyBytes(t *testing.T) {
	const n = 100_003
	want := make([]byte, n)
	size, golden := uint64(n), uint64(0x9E3779B97F4A7C15)
	for i := range want {
		z := size*golden + uint64(i/8)
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		want[i] = byte(z >> (8 * (i % 8)))
	}
	for _, piece := range []int{1, 3, 7, 8, 13, 4096, n + 10} {
		r := Body(n)
		var got []byte
		buf := make([]byte, piece)
		for {
			k, err := r.Read(buf)
			got = append(got, buf[:k]...)
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
		require.Equal(t, want, got, "read %d bytes at a time", piece)
	}
}
