package imagesvc

/*
#cgo pkg-config: vips
#include <stdlib.h>
#include "pipeline.h"
*/
import "C"

import (
	"context"
	"errors"
	"unsafe"
)

// engineFormats numbers the formats as pipeline.h does.
var engineFormats = map[Format]C.int{JPEG: C.TC_JPEG, PNG: C.TC_PNG, WEBP: C.TC_WEBP, AVIF: C.TC_AVIF, TIFF: C.TC_TIFF}

// vipsImage is an in-memory libvips image shared by every pipeline that reads
// it (built-in sources, the overlay). It is never modified and never freed.
type vipsImage struct{ p *C.VipsImage }

// newVipsImage copies 8-bit sRGB pixels (3 or 4 bands, rows top to bottom)
// into libvips memory.
func newVipsImage(pix []byte, w, h, bands int) vipsImage {
	if len(pix) != w*h*bands {
		panic("imagesvc: pixel buffer does not match its size") // the generators make them
	}
	p := C.tc_image_from_pixels(unsafe.Pointer(&pix[0]), C.int(w), C.int(h), C.int(bands))
	if p == nil {
		panic("imagesvc: libvips could not allocate a built-in image")
	}
	return vipsImage{p}
}

// engineSource is what a pipeline reads: encoded bytes, or a built-in's
// shared pixels (generated on first use: by the engine, so that a request
// refused before it runs never pays for them).
type engineSource struct {
	encoded []byte
	format  Format // of encoded
	shrink  int    // shrink-on-load factor for JPEG and WebP: 1, 2, 4 or 8
	builtin *sharedPixels
}

// Errors of the engine, before they are turned into responses.
var (
	errLoad   = errors.New("image header could not be read")
	errFailed = errors.New("libvips failed")
)

// runEngine runs one plan in libvips on the calling goroutine, with at most
// threads libvips worker threads (at least 1). When ctx ends
// the job's kill flag stops libvips within a tile, and the ctx's error is
// returned; encoders that work on a whole image at once (AVIF) only stop at
// their end.
func runEngine(ctx context.Context, src engineSource, p plan, out output, overlay vipsImage, threads int) ([]byte, error) {
	ops := make([]C.tc_op, len(p.steps))
	for i, st := range p.steps {
		ops[i] = C.tc_op{
			kind: C.int(st.kind), x: C.int(st.r.x), y: C.int(st.r.y), w: C.int(st.r.w), h: C.int(st.r.h),
			sigma: C.double(st.sigma), orient: C.int(st.orient),
		}
	}
	var opsPtr *C.tc_op
	if len(ops) > 0 {
		opsPtr = &ops[0]
	}
	var buf unsafe.Pointer
	if len(src.encoded) > 0 {
		buf = unsafe.Pointer(&src.encoded[0])
	}
	var image vipsImage
	if src.builtin != nil {
		image = src.builtin.image()
	}
	var res unsafe.Pointer
	var resLen C.size_t
	status := withJob(ctx, func(job *C.tc_job) C.int {
		return C.tc_run(job, buf, C.size_t(len(src.encoded)), engineFormats[src.format], C.int(max(src.shrink, 1)), image.p,
			opsPtr, C.int(len(ops)), C.int(p.orient), overlay.p,
			engineFormats[out.format], C.int(out.quality), C.int(out.speed), C.int(threads),
			&res, &resLen)
	})
	switch status {
	case C.TC_OK:
		defer C.g_free(C.gpointer(res))
		if resLen == 0 {
			return nil, errFailed
		}
		return C.GoBytes(res, C.int(resLen)), nil
	case C.TC_CANCELLED:
		if err := context.Cause(ctx); err != nil {
			return nil, err
		}
		return nil, context.Canceled
	case C.TC_LOAD_FAILED:
		return nil, errLoad
	}
	return nil, errFailed
}

// checkDecode decodes every pixel of an encoded image with fail-on-error:
// nil only for complete, undamaged data.
func checkDecode(ctx context.Context, encoded []byte, f Format) error {
	if len(encoded) == 0 {
		return errLoad
	}
	status := withJob(ctx, func(job *C.tc_job) C.int {
		return C.tc_check_decode(job, unsafe.Pointer(&encoded[0]), C.size_t(len(encoded)), engineFormats[f])
	})
	switch status {
	case C.TC_OK:
		return nil
	case C.TC_CANCELLED:
		if err := context.Cause(ctx); err != nil {
			return err
		}
		return context.Canceled
	case C.TC_LOAD_FAILED:
		return errLoad
	}
	return errFailed
}

// withJob runs fn with a job that ctx's end cancels, and frees the job only
// once the canceller can no longer touch it.
func withJob(ctx context.Context, fn func(*C.tc_job) C.int) C.int {
	if ctx.Err() != nil {
		// Already abandoned: libvips never starts. (The kill flag below is set
		// by a goroutine of its own; a small job could finish before it.)
		return C.TC_CANCELLED
	}
	job := C.tc_job_new()
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		C.tc_job_cancel(job)
		close(cancelled)
	})
	status := fn(job)
	if !stop() {
		<-cancelled
	}
	C.tc_job_free(job)
	return status
}

// imageSize reads an encoded image's size from its header, without decoding
// pixels.
func imageSize(encoded []byte, f Format) (dims, error) {
	if len(encoded) == 0 {
		return dims{}, errLoad
	}
	var w, h C.int
	if C.tc_image_size(unsafe.Pointer(&encoded[0]), C.size_t(len(encoded)), engineFormats[f], &w, &h) != 0 {
		return dims{}, errLoad
	}
	return dims{int(w), int(h)}, nil
}
