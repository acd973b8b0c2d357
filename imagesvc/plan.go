package imagesvc

import (
	"fmt"
	"math"
)

// stepKind numbers the engine's operations as pipeline.h does.
type stepKind int

const (
	stepResize  stepKind = 1 // to exactly r.w x r.h
	stepCrop    stepKind = 2 // the area r
	stepBlur    stepKind = 3 // gaussian, sigma
	stepOverlay stepKind = 4 // the overlay turned by orient, blended at r.x, r.y
	stepOrient  stepKind = 5 // turn the whole image by orient now (literal plans only)
)

// step is one engine operation in the source's orientation.
type step struct {
	kind   stepKind
	r      rect
	sigma  float64
	orient orientation
	in     dims // image size before the step (for the cost estimate)
	op     int  // the chain operation it comes from, 1-based
}

// plan is a chain made ready for the engine. The caller's order is kept for
// every operation except rotations and mirrors: they are gathered into one
// orientation applied last, and the operations they used to precede get
// their coordinates transformed instead. A 90-degree turn of a 24 MP photo
// before a resize to 800 pixels then costs a turn of the small result, and
// the source can be decoded with shrink-on-load and read front to back in one
// pass; the pixels are the same up to resampling rounding (see
// TestReorderedChainsMatchLiteralOrder).
type plan struct {
	steps  []step
	orient orientation
	in     dims // source size
	out    dims // result size
}

// planChain checks a chain against a source of size in (crop and overlay
// inside the image at their step, no step over maxPixels) and plans it. A
// literal plan applies every rotation and mirror where the caller put it: the
// reference the reordered plans are tested against.
func (s *Service) planChain(c chain, in dims, literal bool) (plan, error) {
	p := plan{in: in}
	var turned orientation // source frame -> caller's frame so far
	cur := in              // size in the caller's frame
	srcSize := func() dims { return turned.inverse().size(cur) }
	opIndex := 0
	emit := func(st step) {
		st.in = srcSize()
		st.op = opIndex
		p.steps = append(p.steps, st)
	}
	// resizeTo resizes (and moves the orientation across it: a resize in the
	// caller's frame is the same resize with w and h swapped in the source's)
	resizeTo := func(t dims) {
		if turned != identity && (t.w > cur.w || t.h > cur.h) {
			// Enlarging samples on a grid that is not mirror-symmetric:
			// turning before or after it differs by a fraction of a pixel.
			// Turn first, as the caller asked (rare: a chain that enlarges).
			emit(step{kind: stepOrient, orient: turned})
			turned = identity
		}
		emit(step{kind: stepResize, r: rect{w: turned.inverse().size(t).w, h: turned.inverse().size(t).h}})
		cur = t
	}
	cropTo := func(r rect) {
		emit(step{kind: stepCrop, r: turned.inverse().mapRect(r, cur)})
		cur = dims{r.w, r.h}
	}
	for i, o := range c {
		n := i + 1
		opIndex = n
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
					return plan{}, tooManyPixels(n, rw, rh, s.cfg.MaxPixels)
				}
				resizeTo(dims{rw, rh})
				cropTo(rect{(rw - o.w) / 2, (rh - o.h) / 2, o.w, o.h})
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
				return plan{}, tooManyPixels(n, t.w, t.h, s.cfg.MaxPixels)
			}
			resizeTo(t)
		case opRotate, opFlip, opFlop:
			g := map[int]orientation{90: rotate90, 180: rotate180, 270: rotate270}[o.deg]
			switch o.kind {
			case opFlip:
				g = mirrorTB
			case opFlop:
				g = mirrorLR
			}
			if literal {
				emit(step{kind: stepOrient, orient: g})
			} else {
				turned = turned.then(g)
			}
			cur = g.size(cur)
		case opCrop:
			if o.x+o.w > cur.w || o.y+o.h > cur.h {
				return plan{}, badInput(400, fmt.Sprintf("x+w <= %d and y+h <= %d at that step", cur.w, cur.h),
					"operation %d: crop area %dx%d at %d,%d is outside the %dx%d image", n, o.w, o.h, o.x, o.y, cur.w, cur.h)
			}
			cropTo(rect{o.x, o.y, o.w, o.h})
		case opBlur:
			emit(step{kind: stepBlur, sigma: o.sigma})
		case opOverlay:
			b := s.images[o.overlayRef]
			ov := dims{b.info.Width, b.info.Height}
			if o.x+ov.w > cur.w || o.y+ov.h > cur.h {
				return plan{}, badInput(400, fmt.Sprintf("x+%d <= %d and y+%d <= %d at that step", ov.w, cur.w, ov.h, cur.h),
					"operation %d: overlay %s (%dx%d) at %d,%d does not fit the %dx%d image", n, o.overlayRef, ov.w, ov.h, o.x, o.y, cur.w, cur.h)
			}
			back := turned.inverse()
			emit(step{kind: stepOverlay, r: back.mapRect(rect{o.x, o.y, ov.w, ov.h}, cur), orient: back})
		}
	}
	p.orient = turned
	p.out = cur
	return p, nil
}

func tooManyPixels(n, w, h int, limit int64) error {
	return badInput(400, fmt.Sprintf("at most %d pixels", limit), "operation %d: result of %dx%d pixels is over the limit", n, w, h)
}

// shrinkOnLoad is the factor JPEG and WebP decoders can shrink by while
// decoding (JPEG in the DCT domain: far less work than decoding everything
// and resizing), when the plan starts by shrinking at least that much: the
// largest of 8, 4, 2 not above the first resize's factor. A decoder shrinks
// with a box-like filter; the resize after it keeps its lanczos quality.
func shrinkOnLoad(f Format, p plan) int {
	if (f != JPEG && f != WEBP) || len(p.steps) == 0 || p.steps[0].kind != stepResize {
		return 1
	}
	r := p.steps[0].r
	factor := math.Min(float64(p.in.w)/float64(r.w), float64(p.in.h)/float64(r.h))
	for _, s := range []int{8, 4, 2} {
		if factor >= float64(s) {
			return s
		}
	}
	return 1
}
