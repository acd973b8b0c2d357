package imagesvc

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCalibrateCosts measures what cost.go's constants stand for on this
// machine: nanoseconds of wall time per pixel for each decoder, operation and
// encoder, one transform at a time (libvips' own threads as configured).
// Gated: TRUNCHECK_CALIBRATE=1 go test -run TestCalibrateCosts -v ./imagesvc
// Rerun it on a new kind of machine and compare with costModel.
func TestCalibrateCosts(t *testing.T) {
	if os.Getenv("TRUNCHECK_CALIBRATE") == "" {
		t.Skip("set TRUNCHECK_CALIBRATE=1")
	}
	svc, err := New(Config{CacheBytes: -1})
	require.NoError(t, err)
	photo := svc.images["photo-4mp"]
	in := dims{photo.info.Width, photo.info.Height}
	px := float64(in.w * in.h)
	mem := engineSource{builtin: photo.pixels}
	best := func(reps int, fn func()) time.Duration {
		b := time.Duration(1 << 62)
		for range reps {
			start := time.Now()
			fn()
			b = min(b, time.Since(start))
		}
		return b
	}
	run := func(src engineSource, chain string, out output) {
		c, err := parseChain(chain, 16)
		require.NoError(t, err)
		p, err := svc.planChain(c, in, false)
		require.NoError(t, err)
		if src.encoded != nil {
			src.shrink = shrinkOnLoad(src.format, p)
		}
		_, err = runEngine(t.Context(), src, p, out, svc.overlay(), 1)
		require.NoError(t, err)
	}
	tiff := output{format: TIFF}
	base := best(5, func() { run(mem, "", tiff) })
	fmt.Printf("CALIBRATE base (memory -> tiff) %.2f ns/px\n", float64(base)/px)
	for _, f := range []Format{JPEG, PNG, WEBP, AVIF, TIFF} {
		out := output{format: f, quality: DefaultQuality, speed: DefaultSpeed}
		enc := best(3, func() { run(mem, "", out) })
		fmt.Printf("CALIBRATE encode %-5s %.2f ns/px\n", f, float64(enc-base)/px)
		body, err := svc.TransformPath(t.Context(), "/images/photo-4mp?format="+string(f))
		require.NoError(t, err)
		dec := best(3, func() { require.NoError(t, checkDecode(t.Context(), body, f)) })
		fmt.Printf("CALIBRATE decode %-5s %.2f ns/px\n", f, float64(dec)/px)
		if f == JPEG || f == WEBP {
			for _, w := range []int{1224, 612, 306} {
				src := engineSource{encoded: body, format: f}
				d := best(3, func() { run(src, fmt.Sprintf("resize:w=%d", w), tiff) })
				fmt.Printf("CALIBRATE decode+resize %-5s to w=%d %.2f ns/source px\n", f, w, float64(d)/px)
			}
		}
	}
	for _, chain := range []string{"resize:w=2000", "resize:w=1224", "resize:w=300", "resize:w=4896", "blur:sigma=1", "blur:sigma=5", "blur:sigma=20",
		"overlay:x=10,y=10", "crop:x=0,y=0,w=1000,h=1000", "rotate:deg=90", "flip"} {
		d := best(3, func() { run(mem, chain, tiff) })
		fmt.Printf("CALIBRATE op %-28s %.2f ns/px over base\n", chain, float64(d-base)/px)
	}
	small := svc.images["photo-small"]
	spx := float64(small.info.Width * small.info.Height)
	for _, speed := range []int{9, 8, 6, 4, 2} {
		out := output{format: AVIF, quality: DefaultQuality, speed: speed}
		d := best(2, func() {
			_, err := runEngine(t.Context(), engineSource{builtin: small.pixels}, plan{in: dims{small.info.Width, small.info.Height}}, out, svc.overlay(), 1)
			require.NoError(t, err)
		})
		fmt.Printf("CALIBRATE avif speed %d %.1f ns/px (640x480)\n", speed, float64(d)/spx)
	}
}
