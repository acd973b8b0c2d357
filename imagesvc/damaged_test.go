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
