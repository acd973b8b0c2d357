package imagesvc

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEngineStopsWhenCancelled: a transform whose context ends while libvips
// is computing stops with the context's error instead of finishing (a
// blur of sigma 40 on 4 MP runs for seconds; cancelled after 200 ms it must
// not produce a body). For a built-in source, an upload, and a plan that
// turns the image at the end (evaluated into memory first).
func TestEngineStopsWhenCancelled(t *testing.T) {
	svc, err := New(Config{CacheBytes: -1})
	require.NoError(t, err)
	photo := svc.images["photo-4mp"]
	in := dims{photo.info.Width, photo.info.Height}
	jpeg, err := svc.TransformPath(t.Context(), "/images/photo-4mp?format=jpeg")
	require.NoError(t, err)
	tests := []struct {
		name  string
		src   engineSource
		chain string
	}{
		{"built-in", engineSource{builtin: photo.pixels}, "blur:sigma=40"},
		{"upload", engineSource{encoded: jpeg, format: JPEG}, "blur:sigma=40"},
		{"turned last", engineSource{builtin: photo.pixels}, "blur:sigma=40;rotate:deg=90"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseChain(tt.chain, 16)
			require.NoError(t, err)
			p, err := svc.planChain(c, in, false)
			require.NoError(t, err)
			// a neighbour reading the same source is not disturbed
			c2, err := parseChain("blur:sigma=2;resize:w=300", 16)
			require.NoError(t, err)
			p2, err := svc.planChain(c2, in, false)
			require.NoError(t, err)
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
