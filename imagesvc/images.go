package imagesvc

import (
	"image"
	"image/color"
	"maps"
	"math"
	"slices"
	"sync"
)

// ImageInfo describes one built-in image: what GET /images lists.
type ImageInfo struct {
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	// Kind is "photo" (a transform source) or "overlay" (for the overlay operation;
	// it can be transformed too).
	Kind string `json:"kind"`
}

// builtinSpecs is the built-in set: photo-like, deterministic (fixed seeds), sizes
// from a fast test image to 24 MP. Uncompressed TIFF at full size is 3 bytes a pixel.
var builtinSpecs = []struct {
	info ImageInfo
	seed uint64
}{
	{ImageInfo{"photo-small", 640, 480, "photo"}, 11},
	{ImageInfo{"photo-1mp", 1280, 800, "photo"}, 12},
	{ImageInfo{"photo-4mp", 2448, 1632, "photo"}, 13},
	{ImageInfo{"photo-12mp", 4240, 2832, "photo"}, 14},
	{ImageInfo{"photo-24mp", 6000, 4000, "photo"}, 15},
	{ImageInfo{"logo", 240, 96, "overlay"}, 16},
}

// overlayNames are the built-ins the overlay operation accepts.
var overlayNames = map[string]struct{}{"logo": {}}

func sortedOverlayNames() []string { return slices.Sorted(maps.Keys(overlayNames)) }

// builtin is one built-in image of a Service: what it lists, and the shared
// pixels.
type builtin struct {
	info   ImageInfo
	pixels *sharedPixels
}

// sharedPixels holds one built-in image in libvips memory, generated once per
// process on first use: the images are constants (fixed sizes and seeds), so
// every Service in the process reads the same pixels, and a test that never
// asks for photo-24mp never pays for it.
type sharedPixels struct {
	info ImageInfo
	seed uint64
	once sync.Once
	img  vipsImage
}

func (p *sharedPixels) image() vipsImage {
	p.once.Do(func() {
		if p.info.Kind == "overlay" {
			p.img = newVipsImage(generateLogo(p.info.Width, p.info.Height), p.info.Width, p.info.Height, 4)
			return
		}
		pix := make([]byte, p.info.Width*p.info.Height*3)
		fillPhoto(pix, p.info.Width, p.info.Height, p.seed)
		p.img = newVipsImage(pix, p.info.Width, p.info.Height, 3)
	})
	return p.img
}

// builtinPixels is the process-wide table behind every Service's built-ins;
// it is filled here once and never changes (each entry generates its pixels
// lazily, once).
var builtinPixels = func() map[string]*sharedPixels {
	m := make(map[string]*sharedPixels, len(builtinSpecs))
	for _, sp := range builtinSpecs {
		m[sp.info.Name] = &sharedPixels{info: sp.info, seed: sp.seed}
	}
	return m
}()

// fillPhoto writes w*h RGB pixels. Separable tables keep it to integer work per
// pixel; the noise is an xorshift stream, so the same seed gives the same bytes.
func fillPhoto(pix []byte, w, h int, seed uint64) {
	horizon := h * 3 / 5
	// hills: a height per column from a sum of sines, phase from the seed
	phase := float64(seed%97) / 97 * 2 * math.Pi
	hill := make([]int, w)
	for x := range hill {
		fx := float64(x) / float64(w)
		v := 0.06*math.Sin(fx*7+phase) + 0.03*math.Sin(fx*19+2*phase) + 0.015*math.Sin(fx*53+phase/3)
		hill[x] = horizon + int(v*float64(h))
	}
	sunX, sunY, sunR := w*7/10, h/4, h/9
	state := seed*0x9E3779B97F4A7C15 | 1
	row := make([]byte, w*3)
	for y := 0; y < h; y++ {
		fy := float64(y) / float64(h)
		// sky colour for this row (used above the hill line)
		skyR := 70 + int(120*fy)
		skyG := 120 + int(90*fy)
		skyB := 230 - int(40*fy)
		for x := 0; x < w; x++ {
			var r, g, b int
			if y < hill[x] {
				r, g, b = skyR, skyG, skyB
				dx, dy := x-sunX, y-sunY
				if d2 := dx*dx + dy*dy; d2 < sunR*sunR*4 {
					glow := 255 - 255*d2/(sunR*sunR*4)
					r += glow * 3 / 4
					g += glow * 2 / 3
					b += glow / 4
				}
			} else {
				depth := y - hill[x]
				shade := 255 * depth / (h - horizon/2 + 1)
				r = 60 + shade/3 + (x*40/w)%40
				g = 110 - shade/4 + (y*30/h)%30
				b = 40 + shade/6
			}
			state ^= state << 13
			state ^= state >> 7
			state ^= state << 17
			n := int(state&15) - 8 // film grain, -8..7
			row[3*x] = clamp8(r + n)
			row[3*x+1] = clamp8(g + int(state>>8&15) - 8)
			row[3*x+2] = clamp8(b + int(state>>16&15) - 8)
		}
		copy(pix[y*w*3:], row)
	}
}

func clamp8(v int) byte {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return byte(v)
}

// generateLogo renders the overlay: a half-transparent rounded badge with
// stripes, as non-premultiplied RGBA pixels, so the overlay operation blends
// through its alpha band.
func generateLogo(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := h / 3
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// rounded-rectangle mask
			cx, cy := x, y
			if cx < r {
				cx = r
			} else if cx > w-1-r {
				cx = w - 1 - r
			}
			if cy < r {
				cy = r
			} else if cy > h-1-r {
				cy = h - 1 - r
			}
			dx, dy := x-cx, y-cy
			if dx*dx+dy*dy > r*r {
				continue
			}
			c := color.NRGBA{R: 250, G: 250, B: 250, A: 170}
			if (x+y)/12%2 == 0 {
				c = color.NRGBA{R: 220, G: 40, B: 60, A: 200}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img.Pix
}
