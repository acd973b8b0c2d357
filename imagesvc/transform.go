package imagesvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // header-only DecodeConfig for the pixel limit
	_ "image/png"
	"os"
	"sync"
	"time"

	"github.com/h2non/bimg"
)

// Errors of the transform step. Their text is fixed: libvips' own error text is
// process-global and mixes between goroutines, so it never reaches a client.
var (
	// ErrTransform: libvips refused the image or an operation.
	ErrTransform = errors.New("image could not be decoded or transformed")
	// ErrPanic: bimg panicked; the panic was recovered for this request only.
	ErrPanic = errors.New("internal error while transforming the image")
	// ErrDamaged: an uploaded or fetched image is truncated or its data is
	// damaged. libvips would fill what is missing with grey and answer 200;
	// the service decodes with fail-on-error and refuses such images (422).
	ErrDamaged = errors.New("image data is truncated or damaged")
)

// acceptedImages is the "accepted" text of every refusal of an image's data.
const acceptedImages = "a complete, undamaged jpeg, png, webp, avif or tiff image"

// damaged is the refusal of a truncated or damaged image.
func damaged() error {
	return &inputError{status: 422, msg: ErrDamaged.Error(), accepted: acceptedImages, kind: ErrDamaged}
}

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

// maxOutputSide is the largest width or height each encoder writes; WebP's
// format stores sizes in 14 bits. A larger result is refused before any
// work, naming the limit, instead of failing in the encoder.
var maxOutputSide = map[Format]int{WEBP: 16383, JPEG: 65500}

// checkOutputSize refuses a result the output format cannot hold.
func checkOutputSize(d dims, f Format) error {
	limit, ok := maxOutputSide[f]
	if !ok || (d.w <= limit && d.h <= limit) {
		return nil
	}
	return badInput(400, fmt.Sprintf("%s results of at most %d pixels wide and high", f, limit),
		"the result would be %dx%d pixels: too large for %s", d.w, d.h, f)
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
			return "", dims{}, damaged()
		}
		d = dims{cfg.Width, cfg.Height}
	default:
		// libvips opens lazily: this reads the header, not the pixels.
		var err error
		if d, err = imageSize(buf, f); err != nil {
			return "", dims{}, damaged()
		}
	}
	if d.w <= 0 || d.h <= 0 {
		return "", dims{}, badInput(422, "a well-formed image", "image header has no size")
	}
	if int64(d.w)*int64(d.h) > maxPixels {
		return "", dims{}, badInput(422, fmt.Sprintf("at most %d pixels", maxPixels), "image too large: %dx%d pixels", d.w, d.h)
	}
	if f == PNG && !bytes.Contains(buf, pngEnd) {
		return "", dims{}, damaged()
	}
	if f == JPEG && !jpegHasEnd(buf) {
		return "", dims{}, damaged()
	}
	return f, d, nil
}

// jpegHasEnd reports whether a JPEG's end-of-image marker (FF D9) follows the
// start of its first scan. libjpeg can deliver every pixel of a file cut
// inside its last bytes without asking for the marker, so whether libvips
// notices the cut depends on which of its threads reads the last rows. The
// segments before the first scan are skipped by their lengths, so an EXIF
// thumbnail's own end marker does not count; inside and between scans FF D9
// can only be the end (entropy-coded data stuffs every FF). A file whose
// segments cannot be walked is left to the decoder.
func jpegHasEnd(buf []byte) bool {
	i := 2 // after SOI
	for i+4 <= len(buf) {
		if buf[i] != 0xFF {
			return true // not a marker: the decoder will say
		}
		m := buf[i+1]
		if m == 0xFF { // fill byte
			i++
			continue
		}
		if m == 0xDA { // start of scan
			return bytes.Contains(buf[i:], []byte{0xFF, 0xD9})
		}
		i += 2 + (int(buf[i+2])<<8 | int(buf[i+3]))
	}
	return false // the header ends before the first scan
}

// pngEnd is a PNG's closing IEND chunk (length 0, type, CRC). libpng stops
// reading after the last row of pixels, so a file cut inside this trailer
// would decode without complaint; the service wants the whole file.
var pngEnd = []byte("\x00\x00\x00\x00IEND\xaeB`\x82")

// safeCall runs fn, turning a panic into ErrPanic.
func safeCall(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = ErrPanic
		}
	}()
	return fn()
}

// transform runs a plan on src and encodes the result. An encoded source
// whose transform fails is decoded once more, every pixel, to tell damaged
// data (ErrDamaged) from an operation libvips refused (ErrTransform); a plan
// that crops reads only part of its source, so an upload that is cropped is
// checked that way before its transform.
//
// The work waits for a worker slot first (see admission; shed says whether
// it may be refused there, by the deadline shedBy) and holds it until libvips
// has returned, also when ctx ended early.
func (s *Service) transform(ctx context.Context, src engineSource, p plan, out output, cost time.Duration, shed bool, shedBy time.Time) (body []byte, err error) {
	warmVips()
	t, err := s.adm.acquire(ctx, cost, shed, shedBy)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && ctx.Err() != nil {
			s.adm.count(func(st *AdmissionStats) { st.Cancelled++ })
		}
		s.adm.release(t, err == nil)
		s.trimmer.maybe() // after the slot is free: nobody waits for it
	}()
	if s.testHookWork != nil {
		s.testHookWork(ctx, src)
	}
	if src.encoded != nil && readsPart(p) {
		if err := s.checkSource(ctx, src); err != nil {
			return nil, err
		}
	}
	err = safeCall(func() error {
		var err error
		body, err = runEngine(ctx, src, p, out, s.overlay(), t.threads)
		return err
	})
	switch {
	case err == nil:
		return body, nil
	case errors.Is(err, ErrPanic), ctx.Err() != nil:
		return nil, err
	case errors.Is(err, errLoad):
		return nil, damaged()
	case src.encoded != nil:
		if cerr := s.checkSource(ctx, src); cerr != nil {
			return nil, cerr
		}
	}
	return nil, ErrTransform
}

// checkSource decodes an encoded source in full with fail-on-error.
func (s *Service) checkSource(ctx context.Context, src engineSource) error {
	err := checkDecode(ctx, src.encoded, src.format)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return err
	}
	return damaged()
}

// readsPart says whether a plan may leave rows of its source unread (a crop
// does), so that a cut near the end would go unseen by the decoder.
func readsPart(p plan) bool {
	for _, st := range p.steps {
		if st.kind == stepCrop {
			return true
		}
	}
	return false
}
