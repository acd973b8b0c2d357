package imagesvc

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness/account"
)

func get(t testing.TB, c *http.Client, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

func TestTransformOverTCPAndUnix(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	tests := []struct {
		name        string
		give        string
		wantType    string
		wantW       int
		wantH       int
		decodeCheck bool // Go can decode jpeg and png configs
	}{
		{"jpeg as is", "/images/photo-small", "image/jpeg", 640, 480, true},
		{"resize contain", "/images/photo-1mp?ops=resize:w=300,h=300&format=png", "image/png", 300, 188, true},
		{"resize cover", "/images/photo-1mp?ops=resize:w=300,h=300,fit=cover&format=png", "image/png", 300, 300, true},
		{"resize fill", "/images/photo-small?ops=resize:w=100,h=300,fit=fill", "image/jpeg", 100, 300, true},
		{"rotate swaps", "/images/photo-small?ops=rotate:deg=90", "image/jpeg", 480, 640, true},
		{"crop then rotate", "/images/photo-small?ops=crop:x=10,y=20,w=100,h=50;rotate:deg=270&format=png", "image/png", 50, 100, true},
		{"all ops", "/images/photo-small?ops=resize:w=400;rotate:deg=180;flip;flop;crop:x=0,y=0,w=300,h=200;blur:sigma=1.5;overlay:name=logo,x=10,y=10&format=png",
			"image/png", 300, 200, true},
		{"webp", "/images/photo-small?format=webp&quality=60", "image/webp", 0, 0, false},
		{"avif", "/images/photo-small?ops=resize:w=200&format=avif", "image/avif", 0, 0, false},
		{"tiff", "/images/photo-small?format=tiff", "image/tiff", 0, 0, false},
		{"overlay image as source", "/images/logo?format=png", "image/png", 240, 96, true},
	}
	for _, client := range []struct {
		name string
		c    *http.Client
		base string
	}{{"tcp", e.tcp, e.tcpBase}, {"unix", e.unix, e.unixBase}} {
		for _, tt := range tests {
			t.Run(client.name+"/"+tt.name, func(t *testing.T) {
				resp, body := get(t, client.c, client.base+tt.give, nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
				assert.Equal(t, tt.wantType, resp.Header.Get("Content-Type"))
				assert.Equal(t, int64(len(body)), resp.ContentLength)
				assert.Equal(t, ContentDigest(SHA256, body), resp.Header.Get("Content-Digest"))
				assert.NotEmpty(t, resp.Header.Get("X-Request-Id"))
				if tt.decodeCheck {
					cfg, _, err := image.DecodeConfig(bytes.NewReader(body))
					require.NoError(t, err)
					assert.Equal(t, tt.wantW, cfg.Width)
					assert.Equal(t, tt.wantH, cfg.Height)
				}
				// the in-process reference gives the same bytes
				ref, err := e.svc.TransformPath(t.Context(), tt.give)
				require.NoError(t, err)
				assert.True(t, bytes.Equal(ref, body))
			})
		}
	}
}

func TestWantContentDigest(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	tests := []struct {
		name string
		give string
		want DigestAlg
	}{
		{"harness preference", "crc32c=9, sha-256=1", CRC32C},
		{"sha-512", "sha-512=3, sha-256=2", SHA512},
		{"unsupported only", "md5=9", SHA256},
		{"zero weight refused", "crc32c=0, sha-512=1", SHA512},
		{"garbage", "%%%", SHA256},
		{"absent", "", SHA256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.give != "" {
				hdr["Want-Content-Digest"] = tt.give
			}
			resp, body := get(t, e.unix, e.unixBase+"/images/photo-small?ops=resize:w=320", hdr)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, ContentDigest(tt.want, body), resp.Header.Get("Content-Digest"))
			sums := ParseContentDigest(resp.Header.Get("Content-Digest"))
			h := NewHash(tt.want)
			h.Write(body)
			assert.Equal(t, h.Sum(nil), sums[tt.want])
		})
	}
	// crc32c is the 4-byte big-endian Castagnoli CRC
	assert.Equal(t, crc32cSum([]byte("123456789")), []byte{0xe3, 0x06, 0x92, 0x83})
	assert.Equal(t, "crc32c=:4waSgw==:", ContentDigest(CRC32C, []byte("123456789")))
}

func TestStreamTrailerDigest(t *testing.T) {
	e := newEnv(t, Config{StreamChunk: 64 << 10}, ServerConfig{})
	for _, client := range []struct {
		name string
		c    *http.Client
		base string
	}{{"tcp", e.tcp, e.tcpBase}, {"unix", e.unix, e.unixBase}} {
		t.Run(client.name, func(t *testing.T) {
			id := "stream-" + client.name
			resp, body := get(t, client.c, client.base+"/images/photo-1mp?format=tiff&stream=1",
				map[string]string{"X-Request-Id": id, "Want-Content-Digest": "crc32c=9, sha-256=1"})
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, int64(-1), resp.ContentLength)
			assert.Equal(t, []string{"chunked"}, resp.TransferEncoding)
			assert.Empty(t, resp.Header.Get("Content-Digest"))
			assert.Equal(t, ContentDigest(CRC32C, body), resp.Trailer.Get("Content-Digest"))
			assert.Greater(t, len(body), 3_000_000)
			acc, ok := e.svc.WaitAccount(t.Context(), id)
			require.True(t, ok)
			assert.Equal(t, int64(-1), acc.ContentLength)
			assert.Equal(t, int64(len(body)), acc.BytesWritten)
			assert.True(t, acc.Complete)
		})
	}
}

func TestAccount(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	resp, body := get(t, e.tcp, e.tcpBase+"/images/photo-small?ops=flip", map[string]string{"X-Request-Id": "acct-1"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "acct-1", resp.Header.Get("X-Request-Id"))

	acc, ok := e.svc.WaitAccount(t.Context(), "acct-1")
	require.True(t, ok)
	assert.Equal(t, "acct-1", acc.RequestID)
	assert.Equal(t, "GET", acc.Method)
	assert.Equal(t, "/images/photo-small", acc.Path)
	assert.Equal(t, 200, acc.Status)
	assert.Equal(t, int64(len(body)), acc.ContentLength)
	assert.Equal(t, int64(len(body)), acc.BytesWritten)
	assert.True(t, acc.Complete)
	assert.Empty(t, acc.WriteError)
	assert.True(t, acc.Finished)
	assert.False(t, acc.Ended.Before(acc.Started))

	// over HTTP too
	resp, js := get(t, e.tcp, e.tcpBase+"/accounts/acct-1?wait=5s", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got Account
	require.NoError(t, json.Unmarshal(js, &got))
	assert.Equal(t, acc.BytesWritten, got.BytesWritten)
	assert.True(t, got.Complete)

	resp, js = get(t, e.tcp, e.tcpBase+"/accounts/nope", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, string(js))

	// HEAD: the head with its length and digest, no body, an honest account
	req, err := http.NewRequest(http.MethodHead, e.tcpBase+"/images/photo-small?ops=flip", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "acct-head")
	hresp, err := e.tcp.Do(req)
	require.NoError(t, err)
	hresp.Body.Close()
	assert.Equal(t, http.StatusOK, hresp.StatusCode)
	assert.Equal(t, int64(len(body)), hresp.ContentLength)
	assert.Equal(t, ContentDigest(SHA256, body), hresp.Header.Get("Content-Digest"))
	acc, ok = e.svc.WaitAccount(t.Context(), "acct-head")
	require.True(t, ok)
	assert.True(t, acc.Complete)
	assert.Zero(t, acc.BytesWritten)

	// a failed request has an account too
	resp, _ = get(t, e.tcp, e.tcpBase+"/images/photo-small?ops=sharpen", map[string]string{"X-Request-Id": "acct-2"})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	acc, ok = e.svc.WaitAccount(t.Context(), "acct-2")
	require.True(t, ok)
	assert.Equal(t, 400, acc.Status)
	assert.Positive(t, acc.ContentLength)
	assert.Equal(t, acc.ContentLength, acc.BytesWritten)
	assert.True(t, acc.Complete)
}

// TestAccountConforms: the image service publishes its accounts by the
// account protocol the harness documents, checked by the same checker as
// every origin.
func TestAccountConforms(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	assert.NoError(t, account.Conform(t.Context(), e.tcp, e.tcpBase, "/images/photo-small?format=png", "/accounts/{id}"))
}

func TestAccountStoreBounded(t *testing.T) {
	a := newAccounts(3)
	for i := range 5 {
		a.start(Account{RequestID: fmt.Sprint(i)})
	}
	for i, want := range []bool{false, false, true, true, true} {
		_, ok := a.get(fmt.Sprint(i))
		assert.Equal(t, want, ok, "id %d", i)
	}
}

func TestImagesList(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	resp, body := get(t, e.unix, e.unixBase+"/images", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list []ImageInfo
	require.NoError(t, json.Unmarshal(body, &list))
	assert.Equal(t, e.svc.Images(), list)
	names := map[string]bool{}
	for _, i := range list {
		names[i.Name] = true
	}
	for _, n := range []string{"photo-1mp", "photo-4mp", "photo-12mp", "photo-24mp", "logo"} {
		assert.True(t, names[n], n)
	}
}

// TestDeterminism: the same request gives the same bytes and digest, across
// goroutines and across services (no cache shared), over both sockets.
func TestDeterminism(t *testing.T) {
	e := newEnv(t, Config{CacheBytes: -1}, ServerConfig{})
	other, err := New(Config{CacheBytes: -1})
	require.NoError(t, err)
	const path = "/images/photo-1mp?ops=resize:w=500;blur:sigma=1;overlay:x=5,y=5&format=jpeg&quality=90"
	ref, err := other.TransformPath(t.Context(), path)
	require.NoError(t, err)
	want := fmt.Sprintf("sha-256=:%s:", b64(sha256.Sum256(ref)))

	var wg sync.WaitGroup
	bodies := make([][]byte, 6)
	digests := make([]string, 6)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, base := e.tcp, e.tcpBase
			if i%2 == 1 {
				c, base = e.unix, e.unixBase
			}
			resp, err := c.Get(base + path)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			bodies[i], _ = io.ReadAll(resp.Body)
			digests[i] = resp.Header.Get("Content-Digest")
		}()
	}
	wg.Wait()
	for i := range bodies {
		assert.True(t, bytes.Equal(ref, bodies[i]), "body %d differs", i)
		assert.Equal(t, want, digests[i])
	}
}
