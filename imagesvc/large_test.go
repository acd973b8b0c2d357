package imagesvc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	_ "image/png"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLargeTIFFOverUnix is the curl check in Go: a multi-megabyte body over the
// Unix socket whose sha-256 matches its Content-Digest.
func TestLargeTIFFOverUnix(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	resp, body := get(t, e.unix, e.unixBase+"/images/photo-4mp?format=tiff", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Greater(t, len(body), 10<<20)
	assert.Equal(t, int64(len(body)), resp.ContentLength)
	assert.Equal(t, fmt.Sprintf("sha-256=:%s:", b64(sha256.Sum256(body))), resp.Header.Get("Content-Digest"))
}

// Test24MP: the largest built-in transforms (kept to a small output so the
// test stays quick; full-size output is in the benchmarks).
func Test24MP(t *testing.T) {
	svc, err := New(Config{CacheBytes: -1})
	require.NoError(t, err)
	body, err := svc.TransformPath(t.Context(), "/images/photo-24mp?ops=resize:w=600,h=400,fit=cover;rotate:deg=90&format=jpeg")
	require.NoError(t, err)
	cfg, _, err := image.DecodeConfig(bytes.NewReader(body))
	require.NoError(t, err)
	assert.Equal(t, [2]int{400, 600}, [2]int{cfg.Width, cfg.Height})
}

// TestWriteFailureAccounted: when the client goes away mid-body, or reads too
// slowly for the WriteTimeout, the handler's Write fails and the account says
// so: not Complete, fewer bytes than promised, the error recorded.
func TestWriteFailureAccounted(t *testing.T) {
	tests := []struct {
		name    string
		network string
		scfg    ServerConfig
		readN   int           // bytes read before stopping
		hold    time.Duration // time to hold the conn without reading before closing
	}{
		{"peer closes early over tcp", "tcp", ServerConfig{}, 64 << 10, 0},
		{"peer closes early over unix", "unix", ServerConfig{}, 64 << 10, 0},
		{"write timeout on a stalled reader", "unix", ServerConfig{WriteTimeout: 300 * time.Millisecond}, 16 << 10, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{}, tt.scfg)
			// produce and cache the body first, so the write starts at once
			_, err := e.svc.TransformPath(t.Context(), "/images/photo-4mp?format=tiff")
			require.NoError(t, err)
			addr := e.srv.TCPAddr()
			if tt.network == "unix" {
				addr = e.socketPath
			}
			c, err := net.Dial(tt.network, addr)
			require.NoError(t, err)
			id := "wf-" + tt.network
			_, err = fmt.Fprintf(c, "GET /images/photo-4mp?format=tiff HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\n\r\n", id)
			require.NoError(t, err)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			_, err = io.CopyN(io.Discard, resp.Body, int64(tt.readN))
			require.NoError(t, err)
			time.Sleep(tt.hold)
			require.NoError(t, c.Close())

			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			acc, ok := e.svc.WaitAccount(ctx, id)
			require.True(t, ok)
			require.True(t, acc.Finished, "handler finished")
			assert.False(t, acc.Complete)
			assert.Equal(t, resp.ContentLength, acc.ContentLength)
			assert.Less(t, acc.BytesWritten, acc.ContentLength)
			assert.NotEmpty(t, acc.WriteError)
			t.Logf("account: wrote %d of %d: %s", acc.BytesWritten, acc.ContentLength, acc.WriteError)
		})
	}
}

// TestGracefulShutdown: a request in flight when Shutdown starts completes.
func TestGracefulShutdown(t *testing.T) {
	svc, err := New(Config{})
	require.NoError(t, err)
	srv := NewServer(svc, ServerConfig{UnixPath: shortSocketPath(t)})
	require.NoError(t, srv.Start())
	c := unixClient(srv.UnixPath())
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://unix/images/photo-1mp?format=tiff&stream=1")
	require.NoError(t, err)
	defer resp.Body.Close()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, ContentDigest(SHA256, body), resp.Trailer.Get("Content-Digest"))
	require.NoError(t, <-done)
	_, err = c.Get("http://unix/images")
	assert.Error(t, err, "no longer serving")
}

// TestUploadRotateThenResize guards the segment split for JPEG and WebP inputs:
// in one bimg call, shrink-on-load would resize the unrotated buffer (and Force
// would hide it in the dimensions), so the pixels are compared with a PNG input.
func TestUploadRotateThenResize(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	post := func(src []byte) image.Image {
		resp, err := e.tcp.Post(e.tcpBase+"/transform?ops=rotate:deg=90;resize:w=200&format=png", "image/x", bytes.NewReader(src))
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		img, _, err := image.Decode(bytes.NewReader(body))
		require.NoError(t, err)
		require.Equal(t, image.Rect(0, 0, 200, 320), img.Bounds())
		return img
	}
	pngSrc, err := e.svc.TransformPath(t.Context(), "/images/photo-1mp?format=png")
	require.NoError(t, err)
	want := post(pngSrc)
	for _, give := range []string{"jpeg", "webp"} {
		t.Run(give, func(t *testing.T) {
			src, err := e.svc.TransformPath(t.Context(), "/images/photo-1mp?format="+give+"&quality=95")
			require.NoError(t, err)
			got := post(src)
			var diff, n float64
			for y := 0; y < 320; y += 4 {
				for x := 0; x < 200; x += 4 {
					r1, g1, b1, _ := want.At(x, y).RGBA()
					r2, g2, b2, _ := got.At(x, y).RGBA()
					diff += absDiff(r1, r2) + absDiff(g1, g2) + absDiff(b1, b2)
					n += 3
				}
			}
			mean := diff / n / 257 // 8-bit units
			assert.Less(t, mean, 8.0, "mean abs difference to the PNG-input result")
		})
	}
}

func absDiff(a, b uint32) float64 {
	if a > b {
		return float64(a - b)
	}
	return float64(b - a)
}
