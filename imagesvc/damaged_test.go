package imagesvc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// postImage uploads body to /transform?QUERY over the env's TCP client.
func postImage(t *testing.T, e *testEnv, query string, body []byte) (int, errJSON) {
	t.Helper()
	resp, err := e.tcp.Post(e.tcpBase+"/transform?"+query, "application/octet-stream", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var ej errJSON
	if resp.StatusCode != http.StatusOK {
		require.NoError(t, json.Unmarshal(b, &ej), "error bodies are JSON: %q", b)
	}
	return resp.StatusCode, ej
}

// TestTruncatedImagesRefused cuts a valid image of every input format at
// random points (HTTP framing intact: the file itself is short) and uploads
// it: every cut is refused with 422 "image data is truncated or damaged",
// for a chain that reads the whole image and for one that crops the top
// rows (a crop reads only part of the source). The uncut file passes.
func TestTruncatedImagesRefused(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	const cutsPerFormat = 24
	chains := []string{"ops=resize:w=120", "ops=crop:x=0,y=0,w=64,h=16"}
	for _, f := range []Format{JPEG, PNG, WEBP, AVIF, TIFF} {
		t.Run(string(f), func(t *testing.T) {
			src, err := e.svc.TransformPath(t.Context(), "/images/photo-small?format="+string(f))
			require.NoError(t, err)
			for _, chain := range chains {
				status, ej := postImage(t, e, chain+"&format=png", src)
				require.Equal(t, http.StatusOK, status, "uncut %s with %s: %s", f, chain, ej.Error)
			}
			rng := rand.New(rand.NewPCG(7, uint64(len(src))))
			for i := range cutsPerFormat {
				// from just past the signature to one byte short; the last
				// cuts are the hardest (only a trailer missing)
				cut := 16 + rng.IntN(len(src)-16)
				if i < 3 {
					cut = len(src) - 1 - i
				}
				chain := chains[i%len(chains)]
				status, ej := postImage(t, e, chain+"&format=png", src[:cut])
				if assert.Equal(t, http.StatusUnprocessableEntity, status, "%s cut at %d of %d with %s", f, cut, len(src), chain) {
					assert.Equal(t, ErrDamaged.Error(), ej.Error)
					assert.Equal(t, acceptedImages, ej.Accepted)
				}
			}
		})
	}
}

// TestDamagedImageRefused: bytes overwritten in the middle of the data (the
// length intact) are refused too, where the format lets a decoder see it.
func TestDamagedImageRefused(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	src, err := e.svc.TransformPath(t.Context(), "/images/photo-small?format=png")
	require.NoError(t, err)
	bad := bytes.Clone(src)
	for i := len(bad) / 2; i < len(bad)/2+64; i++ {
		bad[i] ^= 0x5a
	}
	status, ej := postImage(t, e, "ops=resize:w=100", bad)
	require.Equal(t, http.StatusUnprocessableEntity, status, fmt.Sprint(ej))
	assert.Equal(t, ErrDamaged.Error(), ej.Error)
}

// TestJPEGHasEnd: a JPEG is whole only with its end marker after its first
// scan; the end marker of a thumbnail in a segment before the scan does not
// count, and neither cut is missed whichever libvips thread reads the last rows.
func TestJPEGHasEnd(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	src, err := e.svc.TransformPath(t.Context(), "/images/photo-small?format=jpeg")
	require.NoError(t, err)
	// an APP1 segment whose payload holds FF D9, as an EXIF thumbnail's does
	app1 := []byte{0xFF, 0xE1, 0x00, 0x08, 'E', 'x', 0xFF, 0xD9, 0x00, 0x00}
	withThumb := append(append(append([]byte{}, src[:2]...), app1...), src[2:]...)
	tests := []struct {
		name string
		give []byte
		want bool
	}{
		{"whole", src, true},
		{"last byte cut", src[:len(src)-1], false},
		{"end marker cut", src[:len(src)-2], false},
		{"cut in the scan", src[:len(src)/2], false},
		{"whole, thumbnail end marker before the scan", withThumb, true},
		{"last byte cut, thumbnail end marker before the scan", withThumb[:len(withThumb)-1], false},
		{"cut before the first scan", src[:20], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, jpegHasEnd(tt.give))
		})
	}
	status, ej := postImage(t, e, "ops=resize:w=120&format=png", withThumb[:len(withThumb)-1])
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, ErrDamaged.Error(), ej.Error)
}
