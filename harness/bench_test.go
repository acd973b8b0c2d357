package harness

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/results"
)

// bodyServer serves /N as N deterministic bytes with Content-Length (from
// one shared buffer, so the server side allocates nothing per byte).
func bodyServer(t testing.TB, max int) (*httptest.Server, []byte) {
	body := testBody(max)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Path[1:])
		if err != nil || n > len(body) {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = w.Write(body[:n])
	}))
	t.Cleanup(srv.Close)
	return srv, body
}

// verifyOnce runs one verified request of n bytes against its reference.
func verifyOnce(t testing.TB, v *Verifier, c *http.Client, base string, n int, ref *Reference) {
	req, err := http.NewRequest(http.MethodGet, base+"/"+strconv.Itoa(n), nil)
	require.NoError(t, err)
	vd := v.Do(context.Background(), c, req, ref, false)
	require.Equal(t, results.Complete, vd.Outcome, "%v", vd.Err)
}

// TestVerifierMemoryFlat shows the verifier's cost per request does not
// grow with the body: the same number of allocations and far less memory
// than one body for 1 MB and 30 MB responses.
func TestVerifierMemoryFlat(t *testing.T) {
	const small, large = 1 << 20, 30 << 20
	srv, body := bodyServer(t, large)
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	v := NewVerifier(time.Minute, "")
	refSmall, refLarge := FingerprintBytes(body[:small]), FingerprintBytes(body[:large])
	measure := func(n int, ref *Reference) (allocs, bytes float64) {
		verifyOnce(t, v, c, srv.URL, n, ref) // warm the connection and the buffers
		const runs = 5
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range runs {
			verifyOnce(t, v, c, srv.URL, n, ref)
		}
		runtime.ReadMemStats(&after)
		return float64(after.Mallocs-before.Mallocs) / runs, float64(after.TotalAlloc-before.TotalAlloc) / runs
	}
	aSmall, bSmall := measure(small, &refSmall)
	aLarge, bLarge := measure(large, &refLarge)
	t.Logf("per request (client and server together): 1 MB body %.0f allocs %.0f bytes; 30 MB body %.0f allocs %.0f bytes", aSmall, bSmall, aLarge, bLarge)
	// Allocation counts are those of net/http's request machinery, not the
	// body: allow a little slack for runtime noise, never growth with size.
	assert.Less(t, aLarge, aSmall*1.5+50, "allocations grow with the body size")
	assert.Less(t, bLarge, float64(1<<20), "a 30 MB body must not cost a megabyte of allocations")
}

// BenchmarkVerifyAllocs reports the verifier's allocations per request
// for 1 MB and 30 MB bodies (run with -benchmem): they are the same.
func BenchmarkVerifyAllocs(b *testing.B) {
	srv, body := bodyServer(b, 30<<20)
	for _, n := range []int{1 << 20, 30 << 20} {
		b.Run(strconv.Itoa(n>>20)+"MB", func(b *testing.B) {
			c := &http.Client{Transport: &http.Transport{}}
			defer c.CloseIdleConnections()
			v := NewVerifier(time.Minute, "")
			ref := FingerprintBytes(body[:n])
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				verifyOnce(b, v, c, srv.URL, n, &ref)
			}
		})
	}
}

// BenchmarkVerifyThroughput compares the verifier (CRC-32C, block checks,
// framing) with a plain client reading with the same 64 KiB buffer on a
// 16 MB loopback body: the price of checking every byte.
func BenchmarkVerifyThroughput(b *testing.B) {
	const n = 16 << 20
	srv, body := bodyServer(b, n)
	ref := FingerprintBytes(body[:n])
	b.Run("verifier", func(b *testing.B) {
		c := &http.Client{Transport: &http.Transport{}}
		defer c.CloseIdleConnections()
		v := NewVerifier(time.Minute, "")
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			verifyOnce(b, v, c, srv.URL, n, &ref)
		}
	})
	b.Run("plain", func(b *testing.B) {
		c := &http.Client{Transport: &http.Transport{}}
		defer c.CloseIdleConnections()
		buf := make([]byte, bufSize)
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			got, err := plainGet(c, srv.URL+"/"+strconv.Itoa(n), "", buf)
			require.NoError(b, err)
			require.Equal(b, int64(n), got)
		}
	})
}
