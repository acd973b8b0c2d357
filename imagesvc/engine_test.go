package imagesvc

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEngineThreadsGiveTheSameBytes: the number of libvips threads a
// transform gets (ticket.threads) changes how fast it runs, never what it
// writes: the same bytes for an upload and a built-in, through a resize, a
// turn evaluated into memory, and a whole-image encoder; and the shared
// built-in is left as it was (a later one-thread run still matches).
func TestEngineThreadsGiveTheSameBytes(t *testing.T) {
	svc, err := New(Config{CacheBytes: -1})
	require.NoError(t, err)
	photo := svc.images["photo-4mp"]
	in := dims{photo.info.Width, photo.info.Height}
	jpeg, err := svc.TransformPath(t.Context(), "/images/photo-4mp?format=jpeg&quality=90")
	require.NoError(t, err)
	tests := []struct {
		name  string
		src   engineSource
		chain string
		out   output
	}{
		{"upload, resize", engineSource{encoded: jpeg, format: JPEG}, "resize:w=700", output{format: JPEG, quality: 80}},
		{"upload, rotate and resize", engineSource{encoded: jpeg, format: JPEG}, "rotate:deg=90;resize:w=700", output{format: JPEG, quality: 80}},
		{"built-in, resize to webp", engineSource{builtin: photo.pixels}, "resize:w=700", output{format: WEBP, quality: 80}},
		{"built-in, resize and blur", engineSource{builtin: photo.pixels}, "resize:w=1000;blur:sigma=1.5", output{format: PNG}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseChain(tt.chain, 16)
			require.NoError(t, err)
			p, err := svc.planChain(c, in, false)
			require.NoError(t, err)
			if tt.src.encoded != nil {
				tt.src.shrink = shrinkOnLoad(tt.src.format, p) // as uploads are decoded
			}
			one, err := runEngine(t.Context(), tt.src, p, tt.out, svc.overlay(), 1)
			require.NoError(t, err)
			for _, threads := range []int{2, 4, 1} {
				got, err := runEngine(t.Context(), tt.src, p, tt.out, svc.overlay(), threads)
				require.NoError(t, err)
				assert.Equal(t, one, got, "%d threads", threads)
			}
		})
	}
}
