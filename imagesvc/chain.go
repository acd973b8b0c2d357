package imagesvc

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// opKind names one operation of a chain; the parser and the executor share it.
type opKind int

const (
	opResize opKind = iota + 1
	opRotate
	opFlip
	opFlop
	opCrop
	opBlur
	opOverlay
)

// acceptedOps lists the operation names for error messages and docs, in doc order.
const acceptedOps = "resize, rotate, flip, flop, crop (alias extract), blur, overlay"

// Limits of the chain grammar: they bound the parser's work and the pixels an
// operation may ask for before any image is touched.
const (
	maxChainBytes = 4096
	maxDimension  = 32768
	maxSigma      = 100.0
)

// fitMode says how resize maps the image into the w x h box.
type fitMode int

const (
	fitContain fitMode = iota // keep aspect ratio, fit inside the box (default)
	fitCover                  // keep aspect ratio, fill the box, crop the centre
	fitFill                   // ignore aspect ratio, exactly w x h
)

func (f fitMode) String() string {
	switch f {
	case fitCover:
		return "cover"
	case fitFill:
		return "fill"
	default:
		return "contain"
	}
}

// op is one parsed operation; only the fields of its kind are meaningful.
type op struct {
	kind       opKind
	w, h       int     // resize (0 = auto), crop
	x, y       int     // crop, overlay
	fit        fitMode // resize
	deg        int     // rotate
	sigma      float64 // blur
	overlayRef string  // overlay: built-in image name
}

// String renders the op in canonical chain syntax: parse(String()) gives the op back.
func (o op) String() string {
	switch o.kind {
	case opResize:
		var parts []string
		if o.w > 0 {
			parts = append(parts, "w="+strconv.Itoa(o.w))
		}
		if o.h > 0 {
			parts = append(parts, "h="+strconv.Itoa(o.h))
		}
		parts = append(parts, "fit="+o.fit.String())
		return "resize:" + strings.Join(parts, ",")
	case opRotate:
		return "rotate:deg=" + strconv.Itoa(o.deg)
	case opFlip:
		return "flip"
	case opFlop:
		return "flop"
	case opCrop:
		return fmt.Sprintf("crop:x=%d,y=%d,w=%d,h=%d", o.x, o.y, o.w, o.h)
	case opBlur:
		return "blur:sigma=" + strconv.FormatFloat(o.sigma, 'g', -1, 64)
	case opOverlay:
		return fmt.Sprintf("overlay:name=%s,x=%d,y=%d", o.overlayRef, o.x, o.y)
	}
	return "invalid"
}

// chain is a parsed operation list, applied in the order given.
type chain []op

// String is the canonical form, used as a cache key and in logs.
func (c chain) String() string {
	parts := make([]string, len(c))
	for i, o := range c {
		parts[i] = o.String()
	}
	return strings.Join(parts, ";")
}

// ErrBadRequest marks every error caused by the caller's input (chain, parameters,
// body); the handler maps it to a 4xx. Use errors.Is.
var ErrBadRequest = errors.New("bad request")

// inputError is a caller error with fixed wording plus what is accepted.
type inputError struct {
	status   int
	msg      string
	accepted string
	kind     error // a sentinel it also matches (ErrDamaged), or nil
}

func (e *inputError) Error() string {
	if e.accepted == "" {
		return e.msg
	}
	return e.msg + " (accepted: " + e.accepted + ")"
}

func (e *inputError) Is(target error) bool {
	return target == ErrBadRequest || (e.kind != nil && target == e.kind)
}

func badInput(status int, accepted, format string, args ...any) error {
	return &inputError{status: status, msg: fmt.Sprintf(format, args...), accepted: accepted}
}

// quoteToken quotes caller text for an error message, cut to a sane length.
func quoteToken(s string) string {
	const max = 48
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strconv.Quote(s)
}

// parseChain parses CHAIN := OP (';' OP)*, OP := NAME [':' KEY '=' VALUE (',' KEY '=' VALUE)*].
// Empty input is the empty chain. Every error names the offending token and lists
// what is accepted; maxOps bounds the number of operations.
func parseChain(s string, maxOps int) (chain, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > maxChainBytes {
		return nil, badInput(400, fmt.Sprintf("at most %d bytes", maxChainBytes), "operation chain too long: %d bytes", len(s))
	}
	items := strings.Split(s, ";")
	if len(items) > maxOps {
		return nil, badInput(400, fmt.Sprintf("at most %d operations", maxOps), "too many operations: %d", len(items))
	}
	c := make(chain, 0, len(items))
	for i, item := range items {
		o, err := parseOp(item)
		if err != nil {
			return nil, fmt.Errorf("operation %d: %w", i+1, err)
		}
		c = append(c, o)
	}
	return c, nil
}

// opSpec describes an operation's parameters: name -> required.
type opSpec struct {
	kind   opKind
	params []string
	need   []string
}

var opSpecs = map[string]opSpec{
	"resize":  {opResize, []string{"w", "h", "fit"}, nil},
	"rotate":  {opRotate, []string{"deg"}, []string{"deg"}},
	"flip":    {opFlip, nil, nil},
	"flop":    {opFlop, nil, nil},
	"crop":    {opCrop, []string{"x", "y", "w", "h"}, []string{"w", "h"}},
	"extract": {opCrop, []string{"x", "y", "w", "h"}, []string{"w", "h"}},
	"blur":    {opBlur, []string{"sigma"}, []string{"sigma"}},
	"overlay": {opOverlay, []string{"name", "x", "y"}, nil},
}

func parseOp(item string) (op, error) {
	name, args, hasArgs := strings.Cut(item, ":")
	spec, ok := opSpecs[name]
	if !ok {
		if name == "" {
			return op{}, badInput(400, acceptedOps, "empty operation")
		}
		return op{}, badInput(400, acceptedOps, "unknown operation %s", quoteToken(name))
	}
	accepted := name + " takes no parameters"
	if len(spec.params) > 0 {
		accepted = name + " parameters: " + strings.Join(spec.params, ", ")
	}
	vals := map[string]string{}
	if hasArgs {
		if args == "" {
			return op{}, badInput(400, accepted, "%s: empty parameter list after ':'", name)
		}
		for _, kv := range strings.Split(args, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return op{}, badInput(400, accepted+" as key=value", "%s: parameter %s is not key=value", name, quoteToken(kv))
			}
			known := false
			for _, p := range spec.params {
				known = known || p == k
			}
			if !known {
				return op{}, badInput(400, accepted, "%s: unknown parameter %s", name, quoteToken(k))
			}
			if _, dup := vals[k]; dup {
				return op{}, badInput(400, accepted, "%s: parameter %s given twice", name, quoteToken(k))
			}
			vals[k] = v
		}
	}
	for _, k := range spec.need {
		if _, ok := vals[k]; !ok {
			return op{}, badInput(400, accepted, "%s: missing parameter %s", name, k)
		}
	}
	o := op{kind: spec.kind}
	var err error
	intParam := func(k string, min, max int, dst *int) {
		v, ok := vals[k]
		if !ok || err != nil {
			return
		}
		n, ok := parseBounded(v, min, max)
		if !ok {
			err = badInput(400, fmt.Sprintf("%s: integer %d..%d", k, min, max), "%s: bad value %s for %s", name, quoteToken(v), k)
			return
		}
		*dst = n
	}
	switch spec.kind {
	case opResize:
		intParam("w", 1, maxDimension, &o.w)
		intParam("h", 1, maxDimension, &o.h)
		if err != nil {
			return op{}, err
		}
		if o.w == 0 && o.h == 0 {
			return op{}, badInput(400, "w and/or h", "resize: needs w or h")
		}
		if f, ok := vals["fit"]; ok {
			switch f {
			case "contain", "inside":
				o.fit = fitContain
			case "cover":
				o.fit = fitCover
			case "fill":
				o.fit = fitFill
			default:
				return op{}, badInput(400, "fit: contain, cover, fill", "resize: bad value %s for fit", quoteToken(f))
			}
			if o.fit != fitContain && (o.w == 0 || o.h == 0) {
				return op{}, badInput(400, "both w and h with fit=cover or fit=fill", "resize: fit=%s needs both w and h", o.fit)
			}
		}
	case opRotate:
		switch vals["deg"] {
		case "90":
			o.deg = 90
		case "180":
			o.deg = 180
		case "270":
			o.deg = 270
		default:
			return op{}, badInput(400, "deg: 90, 180, 270", "rotate: bad value %s for deg", quoteToken(vals["deg"]))
		}
	case opCrop:
		o.kind = opCrop
		intParam("x", 0, maxDimension, &o.x)
		intParam("y", 0, maxDimension, &o.y)
		intParam("w", 1, maxDimension, &o.w)
		intParam("h", 1, maxDimension, &o.h)
	case opBlur:
		v := vals["sigma"]
		f, perr := strconv.ParseFloat(v, 64)
		if perr != nil || math.IsNaN(f) || f < 0.1 || f > maxSigma || strings.ContainsAny(v, "xXpPiInN_") {
			return op{}, badInput(400, fmt.Sprintf("sigma: number 0.1..%g", maxSigma), "blur: bad value %s for sigma", quoteToken(v))
		}
		o.sigma = f
	case opOverlay:
		o.overlayRef = "logo"
		if v, ok := vals["name"]; ok {
			if _, known := overlayNames[v]; !known {
				return op{}, badInput(400, "name: "+strings.Join(sortedOverlayNames(), ", "), "overlay: unknown overlay %s", quoteToken(v))
			}
			o.overlayRef = v
		}
		intParam("x", 0, maxDimension, &o.x)
		intParam("y", 0, maxDimension, &o.y)
	}
	if err != nil {
		return op{}, err
	}
	return o, nil
}

// parseBounded parses a plain decimal integer in [min, max]; a leading "+"
// is refused so that every accepted value has one spelling.
func parseBounded(v string, min, max int) (int, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max || strings.HasPrefix(v, "+") {
		return 0, false
	}
	return n, true
}
