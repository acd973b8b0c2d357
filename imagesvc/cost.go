package imagesvc

import (
	"fmt"
	"time"
)

// costModel holds nanoseconds of work per pixel for each part of a
// transform: one transform on one core (libvips runs each pipeline on one
// thread here; bimg's set-up sets its concurrency to 1). The constants are the
// fast end of TestCalibrateCosts on a 2-core Xeon (the best of several runs on
// a shared machine), so estimates are lower bounds there: a chain refused
// for its estimate would not have finished in time, while an accepted one
// can still run out of its budget under load (504) or be shed (503).
var costModel = struct {
	overhead time.Duration // per request: parsing, set-up, a small encode

	memorySource float64 // reading a built-in's pixels, per source pixel
	decode       map[Format]float64
	jpegShrunk   float64 // JPEG decoded with shrink-on-load s: jpegShrunk + (decode - jpegShrunk)/s²
	webpShrunk   float64 // WebP with shrink-on-load s: webpShrunk + (decode - webpShrunk)/s

	resizeSource  float64 // per source pixel of a resize
	resizeShrunk  float64 // per result pixel, shrinking
	resizeEnlarge float64 // per result pixel, enlarging (resampled by interpolation)
	blurBase      float64 // gaussian blur: blurBase + blurSquare·sigma² per pixel; the mask
	blurSquare    float64 // grows with sigma and libvips' vertical pass re-reads it per tile
	overlay       float64 // per pixel of the image under the overlay
	crop          float64 // per result pixel
	orient        float64 // per pixel turned (in memory first)

	encode     map[Format]float64
	avifSpeeds [10]float64 // AVIF encoding by speed 0..9
}{
	overhead:     time.Millisecond,
	memorySource: 1.5,
	decode:       map[Format]float64{JPEG: 6.4, PNG: 26, WEBP: 23, AVIF: 51, TIFF: 3.4},
	jpegShrunk:   2.5,
	webpShrunk:   6,

	resizeSource:  4,
	resizeShrunk:  5,
	resizeEnlarge: 55,
	blurBase:      5,
	blurSquare:    0.2,
	overlay:       5,
	crop:          0.5,
	orient:        3.5,

	encode: map[Format]float64{JPEG: 3, PNG: 210, WEBP: 125, TIFF: 0.3},
	// speeds 0..9; measured on 640x480 and 1280x800 (speed 0 on 4 MP: 165 s)
	avifSpeeds: [10]float64{41000, 38000, 30000, 15000, 3500, 2500, 370, 350, 130, 110},
}

// costPart is one part of an estimate, named for the refusal message.
type costPart struct {
	what string
	ns   float64
}

// estimate is a plan's expected work on one core.
type estimate struct {
	total time.Duration
	parts []costPart
}

// largest is the part that costs most.
func (e estimate) largest() costPart {
	var best costPart
	for _, p := range e.parts {
		if p.ns > best.ns {
			best = p
		}
	}
	return best
}

// estimateCost prices a plan from the pixels each step reads and writes.
func estimateCost(c chain, src engineSource, p plan, out output) estimate {
	m := &costModel
	var e estimate
	px := func(d dims) float64 { return float64(d.w) * float64(d.h) }
	add := func(what string, ns float64) { e.parts = append(e.parts, costPart{what, ns}) }
	srcPx := px(p.in)
	switch {
	case src.encoded == nil:
		add("reading the source", m.memorySource*srcPx)
	case src.format == JPEG && src.shrink > 1:
		s := float64(src.shrink)
		add("decoding jpeg", (m.jpegShrunk+(m.decode[JPEG]-m.jpegShrunk)/(s*s))*srcPx)
	case src.format == WEBP && src.shrink > 1:
		add("decoding webp", (m.webpShrunk+(m.decode[WEBP]-m.webpShrunk)/float64(src.shrink))*srcPx)
	default:
		add("decoding "+string(src.format), m.decode[src.format]*srcPx)
	}
	opName := func(st step) string {
		if st.op >= 1 && st.op <= len(c) {
			return fmt.Sprintf("operation %d (%s)", st.op, c[st.op-1])
		}
		return "an operation"
	}
	for i, st := range p.steps {
		next := p.out
		if i+1 < len(p.steps) {
			next = p.steps[i+1].in
		} else {
			next = p.orient.inverse().size(p.out)
		}
		at := fmt.Sprintf(" at %dx%d", st.in.w, st.in.h)
		switch st.kind {
		case stepResize:
			per := m.resizeShrunk
			if next.w > st.in.w || next.h > st.in.h {
				per = m.resizeEnlarge
			}
			add(opName(st)+at, m.resizeSource*px(st.in)+per*px(next))
		case stepCrop:
			add(opName(st)+at, m.crop*px(next))
		case stepBlur:
			add(opName(st)+at, (m.blurBase+m.blurSquare*st.sigma*st.sigma)*px(st.in))
		case stepOverlay:
			add(opName(st)+at, m.overlay*px(st.in))
		case stepOrient:
			add(opName(st)+at, m.orient*px(st.in))
		}
	}
	if p.orient != identity {
		add(fmt.Sprintf("turning the %dx%d result", p.out.w, p.out.h), m.orient*px(p.out))
	}
	enc := m.encode[out.format]
	what := "encoding " + string(out.format)
	if out.format == AVIF {
		enc = m.avifSpeeds[min(max(out.speed, 0), 9)]
		what = fmt.Sprintf("encoding avif at speed %d", out.speed)
	}
	add(fmt.Sprintf("%s (%dx%d)", what, p.out.w, p.out.h), enc*px(p.out))
	var ns float64
	for _, part := range e.parts {
		ns += part.ns
	}
	e.total = m.overhead + time.Duration(ns)
	return e
}

// overBudget refuses a plan whose estimate alone exceeds the budget: it
// could not finish in time even on an idle service.
func overBudget(e estimate, budget time.Duration) error {
	if budget <= 0 || e.total <= budget {
		return nil
	}
	worst := e.largest()
	return badInput(422,
		fmt.Sprintf("chains estimated to finish within the %v time budget: a smaller image first, fewer or smaller blurs, a faster format or AVIF speed", budget),
		"the transform would take about %v, over the %v time budget (most of it %s: about %v)",
		e.total.Round(100*time.Millisecond), budget, worst.what, time.Duration(worst.ns).Round(100*time.Millisecond))
}
