package results

import (
	"context"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHTMLInChromium renders the report in headless Chromium (Debian's
// package, when installed; skipped otherwise and with -short) and checks
// the screenshot has charts drawn: a good share of coloured pixels. The
// report is opened from disk; Chromium is told to use no proxy and the
// page references nothing, so nothing is fetched.
func TestHTMLInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no browser")
	}
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("no chromium on PATH (apt-get install chromium to run this check)")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, HTMLFile)
	require.NoError(t, WriteFileAtomic(page, func(w io.Writer) error { return WriteHTML(w, judged(sample())) }))
	shot := filepath.Join(dir, "shot.png")

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--no-proxy-server", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--window-size=1280,1400", "--screenshot="+shot, "file://"+page)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "chromium: %s", out)

	f, err := os.Open(shot)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	colored, total := 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			total++
			// Saturated pixels: the bars (green, red, orange, blue), not text or grey.
			hi, lo := max(r, g, bl), min(r, g, bl)
			if hi-lo > 0x4000 {
				colored++
			}
		}
	}
	share := float64(colored) / float64(total)
	t.Logf("coloured pixels: %.1f%% of the first screen", 100*share)
	assert.Greater(t, share, 0.03, "the charts should be drawn")
}
