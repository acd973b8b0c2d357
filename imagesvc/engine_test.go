package imagesvc

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEngineThreadsGiveTheSameBytes: the number of libvips threads a
// transform gets (ticket.threads) changes how fast it runs, never what it
// writes: the same bytes for an upload and a built-in, through a resize, a
// turn evaluated into memory, and a whole-image encoder; and the shared
// built-in is left as it was (a later one-thread run still matches).
func TestEngineThreadsGiveTheSameBytes(t *testing.T) {
	svc, in, builtin, upload := photoSources(t)
	tests := []struct {
		name  string
		src   engineSource
		chain string
		out   output
	}{
		{"upload, resize", upload, "resize:w=700", output{format: JPEG, quality: 80}},
		{"upload, rotate and resize", upload, "rotate:deg=90;resize:w=700", output{format: JPEG, quality: 80}},
		{"built-in, resize to webp", builtin, "resize:w=700", output{format: WEBP, quality: 80}},
		{"built-in, resize and blur", builtin, "resize:w=1000;blur:sigma=1.5", output{format: PNG}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planOf(t, svc, tt.chain, in)
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

// TestEngineStopsWhenCancelled: a transform whose context ends while libvips
// is computing stops with the context's error instead of finishing (a
// blur of sigma 40 on 4 MP runs for seconds; cancelled after 200 ms it must
// not produce a body). For a built-in source, an upload, and a plan that
// turns the image at the end (evaluated into memory first).
func TestEngineStopsWhenCancelled(t *testing.T) {
	svc, in, builtin, upload := photoSources(t)
	tests := []struct {
		name  string
		src   engineSource
		chain string
	}{
		{"built-in", builtin, "blur:sigma=40"},
		{"upload", upload, "blur:sigma=40"},
		{"turned last", builtin, "blur:sigma=40;rotate:deg=90"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planOf(t, svc, tt.chain, in)
			// a neighbour reading the same source is not disturbed
			p2 := planOf(t, svc, "blur:sigma=2;resize:w=300", in)
			neighbour := make(chan error, 1)
			go func() {
				_, err := runEngine(t.Context(), tt.src, p2, output{format: JPEG, quality: 80}, svc.overlay(), 1)
				neighbour <- err
			}()

			ctx, cancel := context.WithCancel(t.Context())
			timer := time.AfterFunc(200*time.Millisecond, cancel)
			defer timer.Stop()
			start := time.Now()
			body, err := runEngine(ctx, tt.src, p, output{format: JPEG, quality: 80}, svc.overlay(), 2) // a kill reaches every thread
			t.Logf("returned after %v", time.Since(start).Round(time.Millisecond))
			assert.Nil(t, body)
			assert.ErrorIs(t, err, context.Canceled)
			assert.NoError(t, <-neighbour, "the neighbour on the same source")
		})
	}
}

// photoSources is a service without a cache and the two ways its 4 MP photo
// reaches the engine: the shared built-in pixels and an uploaded JPEG.
func photoSources(t *testing.T) (svc *Service, in dims, builtin, upload engineSource) {
	t.Helper()
	svc, err := New(Config{CacheBytes: -1})
	require.NoError(t, err)
	photo := svc.images["photo-4mp"]
	jpeg, err := svc.TransformPath(t.Context(), "/images/photo-4mp?format=jpeg")
	require.NoError(t, err)
	return svc, dims{photo.info.Width, photo.info.Height}, engineSource{builtin: photo.pixels}, engineSource{encoded: jpeg, format: JPEG}
}

// planOf parses chain and plans it for a source of size in.
func planOf(t *testing.T, svc *Service, chain string, in dims) plan {
	t.Helper()
	c, err := parseChain(chain, 16)
	require.NoError(t, err)
	p, err := svc.planChain(c, in, false)
	require.NoError(t, err)
	return p
}
