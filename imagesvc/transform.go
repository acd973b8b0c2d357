package imagesvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // header-only DecodeConfig for the pixel limit
	_ "image/png"
	"math"
	"os"
	"sync"

	"github.com/h2non/bimg"
)

// Errors of the transform step. Their text is fixed: libvips' own error text is
// process-global and mixes between goroutines, so it never reaches a client.
var (
	// ErrTransform: libvips refused the image or an operation.
	ErrTransform = errors.New("image could not be decoded or transformed")
	// ErrPanic: bimg panicked; the panic was recovered for this request only.
	ErrPanic = errors.New("internal error while transforming the image")
)

func init() {
	// Quiets libvips' stderr warnings (it reads the variable when it warns); the
	// Makefile exports it too, because bimg initialises libvips in its own init.
	if os.Getenv("VIPS_WARNING") == "" {
		os.Setenv("VIPS_WARNING", "0")
	}
}

var warmOnce sync.Once

// warmVips runs once before the first transform: bimg v1.1.9 fills its table of
// supported types lazily and races when the first lookups are concurrent, and the
// libvips operation cache only costs memory here (every request differs or is
// served from our own cache). Never VipsCacheDropAll or Shutdown: both crash the
// next operation.
func warmVips() {
	warmOnce.Do(func() {
		quietVips()
		bimg.VipsCacheSetMax(0)
		for t := range bimg.ImageTypes {
			bimg.IsTypeSupported(t)
			bimg.IsTypeSupportedSave(t)
		}
	})
}

// Format is an output (or accepted input) image format.
type Format string

// Output formats the service encodes to.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	WEBP Format = "webp"
	AVIF Format = "avif"
	TIFF Format = "tiff"
)

const acceptedFormats = "jpeg (jpg), png, webp, avif, tiff (tif)"

var formatTypes = map[Format]bimg.ImageType{JPEG: bimg.JPEG, PNG: bimg.PNG, WEBP: bimg.WEBP, AVIF: bimg.AVIF, TIFF: bimg.TIFF}

// ContentType is the media type sent with an image of this format.
func (f Format) ContentType() string {
	if f == "" {
		return "application/octet-stream"
	}
	return "image/" + string(f)
}

func parseFormat(s string) (Format, error) {
	switch s {
	case "jpeg", "jpg":
		return JPEG, nil
	case "png":
		return PNG, nil
	case "webp":
		return WEBP, nil
	case "avif":
		return AVIF, nil
	case "tiff", "tif":
		return TIFF, nil
	}
	return "", badInput(400, acceptedFormats, "unsupported output format %s", quoteToken(s))
}

// Output defaults. AVIF at libvips' default effort takes ~20 s for a 12 MP image on
// these machines; speed 8 (the fastest useful AV1 setting) brings it to about a second.
const (
	DefaultQuality = 80
	DefaultSpeed   = 8
)

// output is the encoding step of a request.
type output struct {
	format  Format
	quality int // 1..100
	speed   int // 0..9, AVIF encoder speed (9 - libvips effort)
}

func (o output) String() string {
	return fmt.Sprintf("format=%s&quality=%d&speed=%d", o.format, o.quality, o.speed)
}

// dims is an image size in pixels.
type dims struct{ w, h int }

// sniff identifies an input image from its first bytes and reads its size from
// the header only (no pixel decoding), so the pixel limit is enforced before
// libvips allocates anything. Only formats the service also writes are accepted.
func sniff(buf []byte, maxPixels int64) (Format, dims, error) {
	if len(buf) == 0 {
		return "", dims{}, badInput(400, "a jpeg, png, webp, avif or tiff image", "empty image body")
	}
	var f Format
	switch bimg.DetermineImageType(buf) {
	case bimg.JPEG:
		f = JPEG
	case bimg.PNG:
		f = PNG
	case bimg.WEBP:
		f = WEBP
	case bimg.AVIF:
		f = AVIF
	case bimg.TIFF:
		f = TIFF
	default:
		return "", dims{}, badInput(415, "jpeg, png, webp, avif, tiff", "body is not a supported image")
	}
	var d dims
	switch f {
	case JPEG, PNG:
		// Go's decoders read only the header for DecodeConfig.
		cfg, _, err := image.DecodeConfig(bytes.NewReader(buf))
		if err != nil {
			return "", dims{}, badInput(422, "a well-formed image", "image header could not be read")
		}
		d = dims{cfg.Width, cfg.Height}
	default:
		// libvips opens lazily: this reads the header, not the pixels.
		var size bimg.ImageSize
		err := safeCall(func() error {
			var err error
			size, err = bimg.Size(buf)
			return err
		})
		if err != nil {
			return "", dims{}, badInput(422, "a well-formed image", "image header could not be read")
		}
		d = dims{size.Width, size.Height}
	}
	if d.w <= 0 || d.h <= 0 {
		return "", dims{}, badInput(422, "a well-formed image", "image header has no size")
	}
	if int64(d.w)*int64(d.h) > maxPixels {
		return "", dims{}, badInput(422, fmt.Sprintf("at most %d pixels", maxPixels), "image too large: %dx%d pixels", d.w, d.h)
	}
	return f, d, nil
}

// safeCall runs fn, turning a panic into ErrPanic.
func safeCall(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = ErrPanic
		}
	}()
	return fn()
}

// prim is one primitive bimg step; a caller's op becomes one or two (cover = resize + extract).
type prim struct {
	stage      int // position in bimg's fixed internal order, see plan
	rotate     bimg.Angle
	w, h       int // resize target / extract size
	x, y       int // extract / overlay position
	sigma      float64
	overlayBuf []byte
}

// bimg applies one call's options in a fixed order; these are our primitives'
// positions in it. A run of primitives with strictly increasing stages becomes one
// bimg call, which keeps the caller's order exact and saves encode/decode passes.
const (
	stageRotate  = 0
	stageMirror  = 1 // bimg Flip: left-right mirror (our "flop")
	stageUpDown  = 2 // bimg Flop: top-bottom mirror (our "flip")
	stageResize  = 3
	stageExtract = 4
	stageBlur    = 5
	stageOverlay = 6
)

// plan turns a chain into primitives, checking each step against the running
// image size: crop and overlay inside the image, no step over maxPixels.
func (s *Service) plan(c chain, in dims) ([]prim, dims, error) {
	var ps []prim
	cur := in
	for i, o := range c {
		n := i + 1
		switch o.kind {
		case opResize:
			var t dims
			switch {
			case o.fit == fitFill:
				t = dims{o.w, o.h}
			case o.fit == fitCover:
				sc := math.Max(float64(o.w)/float64(cur.w), float64(o.h)/float64(cur.h))
				rw := max(o.w, int(math.Round(float64(cur.w)*sc)))
				rh := max(o.h, int(math.Round(float64(cur.h)*sc)))
				if int64(rw)*int64(rh) > s.cfg.MaxPixels {
					return nil, dims{}, tooManyPixels(n, rw, rh, s.cfg.MaxPixels)
				}
				ps = append(ps, prim{stage: stageResize, w: rw, h: rh})
				ps = append(ps, prim{stage: stageExtract, x: (rw - o.w) / 2, y: (rh - o.h) / 2, w: o.w, h: o.h})
				cur = dims{o.w, o.h}
				continue
			case o.w > 0 && o.h > 0:
				sc := math.Min(float64(o.w)/float64(cur.w), float64(o.h)/float64(cur.h))
				t = dims{int(math.Round(float64(cur.w) * sc)), int(math.Round(float64(cur.h) * sc))}
			case o.w > 0:
				t = dims{o.w, int(math.Round(float64(cur.h) * float64(o.w) / float64(cur.w)))}
			default:
				t = dims{int(math.Round(float64(cur.w) * float64(o.h) / float64(cur.h))), o.h}
			}
			t.w, t.h = max(t.w, 1), max(t.h, 1)
			if int64(t.w)*int64(t.h) > s.cfg.MaxPixels {
				return nil, dims{}, tooManyPixels(n, t.w, t.h, s.cfg.MaxPixels)
			}
			ps = append(ps, prim{stage: stageResize, w: t.w, h: t.h})
			cur = t
		case opRotate:
			ps = append(ps, prim{stage: stageRotate, rotate: bimg.Angle(o.deg)})
			if o.deg != 180 {
				cur = dims{cur.h, cur.w}
			}
		case opFlip:
			ps = append(ps, prim{stage: stageUpDown})
		case opFlop:
			ps = append(ps, prim{stage: stageMirror})
		case opCrop:
			if o.x+o.w > cur.w || o.y+o.h > cur.h {
				return nil, dims{}, badInput(400, fmt.Sprintf("x+w <= %d and y+h <= %d at that step", cur.w, cur.h),
					"operation %d: crop area %dx%d at %d,%d is outside the %dx%d image", n, o.w, o.h, o.x, o.y, cur.w, cur.h)
			}
			ps = append(ps, prim{stage: stageExtract, x: o.x, y: o.y, w: o.w, h: o.h})
			cur = dims{o.w, o.h}
		case opBlur:
			ps = append(ps, prim{stage: stageBlur, sigma: o.sigma})
		case opOverlay:
			b := s.images[o.overlayRef]
			ov := dims{b.info.Width, b.info.Height}
			if o.x+ov.w > cur.w || o.y+ov.h > cur.h {
				return nil, dims{}, badInput(400, fmt.Sprintf("x+%d <= %d and y+%d <= %d at that step", ov.w, cur.w, ov.h, cur.h),
					"operation %d: overlay %s (%dx%d) at %d,%d does not fit the %dx%d image", n, o.overlayRef, ov.w, ov.h, o.x, o.y, cur.w, cur.h)
			}
			ps = append(ps, prim{stage: stageOverlay, x: o.x, y: o.y, overlayBuf: b.bytes()})
		}
	}
	return ps, cur, nil
}

func tooManyPixels(n, w, h int, limit int64) error {
	return badInput(400, fmt.Sprintf("at most %d pixels", limit), "operation %d: result of %dx%d pixels is over the limit", n, w, h)
}

// segments groups primitives into bimg calls: a new call starts whenever a stage
// does not come strictly after the previous one. A JPEG or WebP input is never
// rotated and resized in one call: bimg v1.1.9's shrink-on-load then rereads
// the unrotated buffer.
func segments(ps []prim, in Format) [][]prim {
	var out [][]prim
	var cur []prim
	for _, p := range ps {
		split := len(cur) > 0 && p.stage <= cur[len(cur)-1].stage
		if !split && len(out) == 0 && len(cur) > 0 && p.stage == stageResize && (in == JPEG || in == WEBP) &&
			cur[0].stage <= stageUpDown {
			split = true
		}
		if split {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, p)
	}
	if len(cur) > 0 || len(out) == 0 {
		out = append(out, cur)
	}
	return out
}

// options builds one bimg call from a segment.
func segmentOptions(seg []prim) bimg.Options {
	o := bimg.Options{NoAutoRotate: true, StripMetadata: true}
	for _, p := range seg {
		switch p.stage {
		case stageRotate:
			o.Rotate = p.rotate
		case stageMirror:
			o.Flip = true
		case stageUpDown:
			o.Flop = true
		case stageResize:
			o.Width, o.Height, o.Force = p.w, p.h, true
		case stageExtract:
			o.Left, o.Top, o.AreaWidth, o.AreaHeight = p.x, p.y, p.w, p.h
		case stageBlur:
			o.GaussianBlur = bimg.GaussianBlur{Sigma: p.sigma}
		case stageOverlay:
			o.WatermarkImage = bimg.WatermarkImage{Left: p.x, Top: p.y, Buf: p.overlayBuf, Opacity: 1}
		}
	}
	return o
}

// transform runs the primitives on src and encodes the result. Intermediate
// results between bimg calls are uncompressed TIFF: lossless and cheap.
func (s *Service) transform(ctx context.Context, src []byte, in Format, ps []prim, out output) ([]byte, error) {
	warmVips()
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()
	segs := segments(ps, in)
	buf := src
	for i, seg := range segs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o := segmentOptions(seg)
		o.Type = bimg.TIFF
		if i == len(segs)-1 {
			o.Type = formatTypes[out.format]
			o.Quality = out.quality
			o.Speed = out.speed
		}
		var next []byte
		err := safeCall(func() error {
			var err error
			next, err = bimg.Resize(buf, o)
			return err
		})
		if errors.Is(err, ErrPanic) {
			return nil, err
		}
		if err != nil || len(next) == 0 {
			return nil, ErrTransform
		}
		buf = next
	}
	return buf, nil
}
