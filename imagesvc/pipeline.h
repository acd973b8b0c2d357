/* pipeline.h: one transform from source to encoded bytes in a single libvips
 * pipeline, with a job handle that can kill it from another thread. The Go
 * side (pipeline.go) plans the operations; this file only executes them. */
#ifndef TRUNCHECK_PIPELINE_H
#define TRUNCHECK_PIPELINE_H

#include <stddef.h>
#include <vips/vips.h>

/* Formats, in the numbering pipeline.go uses. */
enum tc_format { TC_JPEG = 1, TC_PNG = 2, TC_WEBP = 3, TC_AVIF = 4, TC_TIFF = 5 };

/* Operations in the source's orientation (the planner moved rotations and
 * mirrors to the end, except in literal mode where TC_ORIENT appears in place). */
enum tc_op_kind {
	TC_RESIZE = 1,  /* to exactly w x h */
	TC_CROP = 2,    /* the area x, y, w, h */
	TC_BLUR = 3,    /* gaussian, sigma */
	TC_OVERLAY = 4, /* the overlay, oriented by orient, alpha-blended at x, y */
	TC_ORIENT = 5   /* orient the whole image now (materialises it in memory) */
};

/* An orientation is k + 4*m: mirror left-right when m, then rotate k x 90
 * degrees clockwise. */
typedef struct {
	int kind;
	int x, y, w, h;
	double sigma;
	int orient;
} tc_op;

/* Outcomes of tc_run and tc_check_decode. */
enum tc_status {
	TC_OK = 0,
	TC_LOAD_FAILED = 1, /* the header could not be read */
	TC_FAILED = 2,      /* decoding, an operation or the encoder failed */
	TC_CANCELLED = 3    /* tc_job_cancel was called */
};

typedef struct tc_job tc_job;

tc_job *tc_job_new(void);
/* tc_job_cancel may be called from any thread, any number of times, until
 * tc_job_free. */
void tc_job_cancel(tc_job *job);
void tc_job_free(tc_job *job);

/* tc_run transforms one image. The source is either encoded bytes (buf, len,
 * format; copied, so the caller's buffer is not retained) decoded with
 * shrink-on-load factor shrink (JPEG, WebP), or a shared in-memory image
 * (src, never modified nor killed), with at most threads worker threads
 * (at least 1). On TC_OK *out is a g_malloc'd buffer of *out_len
 * bytes. */
int tc_run(tc_job *job,
	const void *buf, size_t len, int format, int shrink, VipsImage *src,
	const tc_op *ops, int nops, int orient, VipsImage *overlay,
	int out_format, int quality, int speed, int threads,
	void **out, size_t *out_len);

/* tc_check_decode decodes every pixel of an encoded image with libvips'
 * fail-on-error setting: TC_OK only for complete, undamaged data. */
int tc_check_decode(tc_job *job, const void *buf, size_t len, int format);

/* tc_image_from_pixels copies 8-bit sRGB pixels (3 or 4 bands) into a new
 * in-memory image owned by the caller. */
VipsImage *tc_image_from_pixels(const void *pix, int width, int height, int bands);

/* tc_image_size reads an encoded image's header (no pixel decoding). */
int tc_image_size(const void *buf, size_t len, int format, int *width, int *height);

#endif
