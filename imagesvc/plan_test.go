package imagesvc

import (
	"bytes"
	"image"
	"image/draw"
	"image/png"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOrientationAlgebra(t *testing.T) {
	for o := range orientation(8) {
		assert.Equal(t, identity, o.then(o.inverse()), "o then its inverse, o=%d", o)
		assert.Equal(t, identity, o.inverse().then(o), "inverse then o, o=%d", o)
	}
	assert.Equal(t, rotate180, rotate90.then(rotate90))
	assert.Equal(t, identity, rotate90.then(rotate270))
	assert.Equal(t, identity, mirrorTB.then(mirrorTB))
	assert.Equal(t, rotate180, mirrorTB.then(mirrorLR))
	// the top-left pixel of a 4x3 image after each elementary operation
	d := dims{4, 3}
	corner := rect{0, 0, 1, 1}
	assert.Equal(t, rect{2, 0, 1, 1}, rotate90.mapRect(corner, d), "clockwise: top-left goes top-right")
	assert.Equal(t, rect{0, 3, 1, 1}, rotate270.mapRect(corner, d))
	assert.Equal(t, rect{3, 2, 1, 1}, rotate180.mapRect(corner, d))
	assert.Equal(t, rect{3, 0, 1, 1}, mirrorLR.mapRect(corner, d))
	assert.Equal(t, rect{0, 2, 1, 1}, mirrorTB.mapRect(corner, d))
	// areas keep their size (turned) and come back where they were
	r := rect{1, 0, 2, 3}
	for o := range orientation(8) {
		m := o.mapRect(r, d)
		assert.Equal(t, o.size(dims{r.w, r.h}), dims{m.w, m.h})
		assert.Equal(t, r, o.inverse().mapRect(m, o.size(d)))
	}
}

// pixelDiff compares two images of the same size channel by channel (8-bit
// RGB): the largest difference and the mean.
func pixelDiff(t *testing.T, a, b image.Image) (maxDiff int, mean float64) {
	t.Helper()
	require.Equal(t, a.Bounds(), b.Bounds())
	pa, pb := toRGBA(a), toRGBA(b)
	var sum int
	for i := range pa.Pix {
		if i%4 == 3 {
			continue // alpha
		}
		d := int(pa.Pix[i]) - int(pb.Pix[i])
		d = max(d, -d)
		maxDiff = max(maxDiff, d)
		sum += d
	}
	return maxDiff, float64(sum) / float64(len(pa.Pix)/4*3)
}

func toRGBA(img image.Image) *image.RGBA {
	if r, ok := img.(*image.RGBA); ok {
		return r
	}
	r := image.NewRGBA(img.Bounds())
	draw.Draw(r, r.Bounds(), img, img.Bounds().Min, draw.Src)
	return r
}

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	return img
}

// TestReorderedChainsMatchLiteralOrder is the proof behind the planner's
// reordering: every chain, run with its rotations and mirrors moved to the
// end (and, for JPEG uploads, with shrink-on-load), gives the image the
// chain's literal order gives. Tolerances, 8-bit per channel:
//   - built-in sources: crops, overlays and pure turns are pixel-equal; with
//     a shrinking resize or a blur between turns, resampling rounds in
//     another order (the film grain makes every rounding visible): at most 4
//     levels apart, mean under 0.35. An enlarging resize is not moved (see
//     planChain).
//   - JPEG uploads: the decoder shrinks in the DCT domain before the resize
//     (the literal order cannot, the turn comes first): at most 40 levels
//     apart on the sharpest edges, mean under 1.0.
func TestReorderedChainsMatchLiteralOrder(t *testing.T) {
	svc, err := New(Config{CacheBytes: -1})
	require.NoError(t, err)
	chains := []struct {
		chain string
		exact bool // pixel-equal expected on built-ins
	}{
		{"rotate:deg=90;resize:w=400", false},
		{"rotate:deg=270;resize:w=300,h=300,fit=cover", false},
		{"flip;resize:w=200,h=500,fit=fill", false},
		{"rotate:deg=90;flop;crop:x=10,y=20,w=200,h=100", true},
		{"crop:x=5,y=7,w=300,h=200;rotate:deg=180;flip", true},
		{"rotate:deg=90;overlay:x=30,y=40;flop", true},
		{"flop;rotate:deg=270;overlay:x=0,y=500;crop:x=0,y=400,w=300,h=200", true},
		{"rotate:deg=90;blur:sigma=1.5;rotate:deg=90", false},
		{"resize:w=500;rotate:deg=90;crop:x=0,y=0,w=250,h=250;flip;overlay:x=5,y=5", false},
		{"rotate:deg=90;rotate:deg=270;flip;flip", true},
		{"rotate:deg=90;resize:w=700", false}, // enlarges: turned first, as asked
		{"rotate:deg=90;resize:w=30;flip", false},
	}
	run := func(src engineSource, in dims, chain string, literal bool) image.Image {
		c, err := parseChain(chain, 16)
		require.NoError(t, err)
		p, err := svc.planChain(c, in, literal)
		require.NoError(t, err)
		if src.encoded != nil && !literal {
			src.shrink = shrinkOnLoad(src.format, p)
		}
		body, err := svc.transform(t.Context(), src, p, output{format: PNG}, 0, false, time.Time{})
		require.NoError(t, err)
		img := decodePNG(t, body)
		require.Equal(t, image.Rect(0, 0, p.out.w, p.out.h), img.Bounds(), "planned size")
		return img
	}
	photo := svc.images["photo-small"]
	in := dims{photo.info.Width, photo.info.Height}
	t.Run("built-in", func(t *testing.T) {
		for _, tt := range chains {
			lit := run(engineSource{builtin: photo.pixels}, in, tt.chain, true)
			got := run(engineSource{builtin: photo.pixels}, in, tt.chain, false)
			maxDiff, mean := pixelDiff(t, lit, got)
			t.Logf("%-80s max %3d mean %.4f", tt.chain, maxDiff, mean)
			if tt.exact {
				assert.Zero(t, maxDiff, tt.chain)
			} else {
				assert.LessOrEqual(t, maxDiff, 4, tt.chain)
				assert.Less(t, mean, 0.35, tt.chain)
			}
		}
	})
	t.Run("jpeg upload", func(t *testing.T) {
		big := svc.images["photo-4mp"]
		bigIn := dims{big.info.Width, big.info.Height}
		jpeg, err := svc.TransformPath(t.Context(), "/images/photo-4mp?format=jpeg&quality=90")
		require.NoError(t, err)
		src := engineSource{encoded: jpeg, format: JPEG}
		for _, chain := range []string{"rotate:deg=90;resize:w=400", "rotate:deg=270;resize:w=600,h=600,fit=cover", "flip;flop;resize:h=300"} {
			lit := run(src, bigIn, chain, true)
			got := run(src, bigIn, chain, false)
			maxDiff, mean := pixelDiff(t, lit, got)
			t.Logf("%-80s max %3d mean %.4f", chain, maxDiff, mean)
			assert.LessOrEqual(t, maxDiff, 40, chain)
			assert.Less(t, mean, 1.0, chain)
		}
	})
}
