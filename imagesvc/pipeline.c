/* pipeline.c: see pipeline.h. Every image this file creates is registered
 * with its job, so tc_job_cancel can set libvips' kill flag on all of them:
 * the next region of any of them that a worker thread asks for fails, and
 * the whole evaluation stops within a tile. Shared images (built-ins, the
 * overlay) are never registered: killing them would stop other jobs. */
#include <pthread.h>
#include <string.h>
#include <vips/vips.h>

#include "pipeline.h"

struct tc_job {
	pthread_mutex_t mu;
	int cancelled;
	GPtrArray *live; /* images this job owns a reference to */
};

tc_job *
tc_job_new(void)
{
	tc_job *job = g_new0(tc_job, 1);

	pthread_mutex_init(&job->mu, NULL);
	job->live = g_ptr_array_new();
	return job;
}

void
tc_job_cancel(tc_job *job)
{
	guint i;

	pthread_mutex_lock(&job->mu);
	job->cancelled = 1;
	for (i = 0; i < job->live->len; i++)
		vips_image_set_kill(VIPS_IMAGE(g_ptr_array_index(job->live, i)), TRUE);
	pthread_mutex_unlock(&job->mu);
}

static int
tc_cancelled(tc_job *job)
{
	int c;

	pthread_mutex_lock(&job->mu);
	c = job->cancelled;
	pthread_mutex_unlock(&job->mu);
	return c;
}

/* tc_track takes over the caller's reference to im. */
static VipsImage *
tc_track(tc_job *job, VipsImage *im)
{
	pthread_mutex_lock(&job->mu);
	g_ptr_array_add(job->live, im);
	if (job->cancelled)
		vips_image_set_kill(im, TRUE);
	pthread_mutex_unlock(&job->mu);
	return im;
}

/* tc_release drops every image of the job (after its evaluation ended). */
static void
tc_release(tc_job *job)
{
	guint i;

	pthread_mutex_lock(&job->mu);
	for (i = 0; i < job->live->len; i++)
		g_object_unref(g_ptr_array_index(job->live, i));
	g_ptr_array_set_size(job->live, 0);
	pthread_mutex_unlock(&job->mu);
}

void
tc_job_free(tc_job *job)
{
	tc_release(job);
	g_ptr_array_free(job->live, TRUE);
	pthread_mutex_destroy(&job->mu);
	g_free(job);
}

/* tc_status_of turns a failed step into a status: a kill shows up as an
 * ordinary libvips error, the job's flag tells them apart. libvips' error
 * text is process-wide and never read here; it is cleared so that it does
 * not fill up. */
static int
tc_status_of(tc_job *job, int failed)
{
	vips_error_clear();
	if (tc_cancelled(job))
		return TC_CANCELLED;
	return failed;
}

static int
tc_free_copy(void *data, void *area)
{
	(void) area;
	g_free(data);
	return 0;
}

/* tc_load opens encoded bytes with the format's own loader (never a loader
 * chosen by sniffing). The bytes are copied into a blob that lives exactly as
 * long as libvips needs it. Damaged or truncated data fails the evaluation
 * (fail_on=error) instead of being filled with grey. */
static VipsImage *
tc_load(tc_job *job, const void *buf, size_t len, int format, int shrink,
	VipsAccess access)
{
	void *copy;
	VipsBlob *blob;
	VipsSource *source;
	VipsImage *out = NULL;
	int r = -1;

	if (!(copy = g_try_malloc(len ? len : 1)))
		return NULL;
	memcpy(copy, buf, len);
	blob = vips_blob_new(tc_free_copy, copy, len);
	source = vips_source_new_from_blob(blob);
	vips_area_unref(VIPS_AREA(blob));
	if (!source)
		return NULL;
	if (shrink < 1)
		shrink = 1;
	switch (format) {
	case TC_JPEG:
		r = vips_jpegload_source(source, &out, "access", access,
			"fail_on", VIPS_FAIL_ON_ERROR, "shrink", shrink, NULL);
		break;
	case TC_PNG:
		r = vips_pngload_source(source, &out, "access", access,
			"fail_on", VIPS_FAIL_ON_ERROR, NULL);
		break;
	case TC_WEBP:
		r = vips_webpload_source(source, &out, "access", access,
			"fail_on", VIPS_FAIL_ON_ERROR, "scale", 1.0 / shrink, NULL);
		break;
	case TC_AVIF:
		r = vips_heifload_source(source, &out, "access", access,
			"fail_on", VIPS_FAIL_ON_ERROR, NULL);
		break;
	case TC_TIFF:
		r = vips_tiffload_source(source, &out, "access", access,
			"fail_on", VIPS_FAIL_ON_ERROR, NULL);
		break;
	}
	g_object_unref(source);
	if (r)
		return NULL;
	return tc_track(job, out);
}

/* tc_srgb brings any decoded image to 8-bit sRGB (3 bands, or 4 with alpha),
 * the space every operation and encoder here works in. */
static VipsImage *
tc_srgb(tc_job *job, VipsImage *in)
{
	VipsImage *t;

	if (in->Type == VIPS_INTERPRETATION_sRGB &&
		in->BandFmt == VIPS_FORMAT_UCHAR &&
		(in->Bands == 3 || in->Bands == 4))
		return in;
	if (vips_colourspace(in, &t, VIPS_INTERPRETATION_sRGB, NULL))
		return NULL;
	in = tc_track(job, t);
	if (in->BandFmt != VIPS_FORMAT_UCHAR) {
		if (vips_cast_uchar(in, &t, NULL))
			return NULL;
		in = tc_track(job, t);
	}
	return in;
}

static VipsImage *
tc_resize(tc_job *job, VipsImage *in, int w, int h)
{
	VipsImage *t;

	if (in->Xsize == w && in->Ysize == h)
		return in;
	/* gap 0: lanczos all the way. libvips' default (a box shrink to within
	 * twice the size, then lanczos) measured 5 to 20 times slower here for
	 * factors of 4 to 14, the shrink and the reduce recomputing each
	 * other's lines; a pure reduce costs about the same per source pixel
	 * at any factor. */
	if (vips_resize(in, &t, (double) w / in->Xsize,
		"vscale", (double) h / in->Ysize, "gap", 0.0, NULL))
		return NULL;
	in = tc_track(job, t);
	/* The scale is exact in theory; rounding may leave a pixel more or
	 * less, and the planner promised exactly w x h. */
	if (in->Xsize != w || in->Ysize != h) {
		if (vips_embed(in, &t, 0, 0, w, h,
			"extend", VIPS_EXTEND_COPY, NULL))
			return NULL;
		in = tc_track(job, t);
	}
	return in;
}

/* tc_orient applies orientation o (see pipeline.h). In-memory images are
 * oriented directly; a pipeline is evaluated into memory first, because a
 * rotation reads its input out of order. */
static VipsImage *
tc_orient(tc_job *job, VipsImage *in, int o)
{
	static const VipsAngle angles[4] = {
		VIPS_ANGLE_D0, VIPS_ANGLE_D90, VIPS_ANGLE_D180, VIPS_ANGLE_D270
	};
	VipsImage *t;
	int k = o & 3;
	int mirror = (o >> 2) & 1;

	if (o == 0)
		return in;
	if (in->dtype != VIPS_IMAGE_SETBUF &&
		in->dtype != VIPS_IMAGE_SETBUF_FOREIGN) {
		if (!(t = vips_image_copy_memory(in)))
			return NULL;
		in = tc_track(job, t);
	}
	if (mirror) {
		if (vips_flip(in, &t, VIPS_DIRECTION_HORIZONTAL, NULL))
			return NULL;
		in = tc_track(job, t);
	}
	if (k) {
		if (vips_rot(in, &t, angles[k], NULL))
			return NULL;
		in = tc_track(job, t);
	}
	return in;
}

static VipsImage *
tc_overlay(tc_job *job, VipsImage *in, VipsImage *overlay, const tc_op *op)
{
	VipsImage *ov, *t;
	int bands = in->Bands;

	if (!overlay) {
		vips_error("tc", "no overlay");
		return NULL;
	}
	/* the shared overlay is read, never registered */
	ov = overlay;
	if (op->orient) {
		if (op->orient & 4) {
			if (vips_flip(ov, &t, VIPS_DIRECTION_HORIZONTAL, NULL))
				return NULL;
			ov = tc_track(job, t);
		}
		if (op->orient & 3) {
			static const VipsAngle angles[4] = {
				VIPS_ANGLE_D0, VIPS_ANGLE_D90,
				VIPS_ANGLE_D180, VIPS_ANGLE_D270
			};
			if (vips_rot(ov, &t, angles[op->orient & 3], NULL))
				return NULL;
			ov = tc_track(job, t);
		}
	}
	if (vips_composite2(in, ov, &t, VIPS_BLEND_MODE_OVER,
		"x", op->x, "y", op->y, NULL))
		return NULL;
	in = tc_track(job, t);
	if (in->BandFmt != VIPS_FORMAT_UCHAR) {
		if (vips_cast_uchar(in, &t, NULL))
			return NULL;
		in = tc_track(job, t);
	}
	/* an opaque image stays opaque: drop the alpha the blend added */
	if (in->Bands > bands) {
		if (vips_extract_band(in, &t, 0, "n", bands, NULL))
			return NULL;
		in = tc_track(job, t);
	}
	return in;
}

static int
tc_save(VipsImage *in, int format, int quality, int speed,
	void **out, size_t *out_len)
{
	switch (format) {
	case TC_JPEG:
		return vips_jpegsave_buffer(in, out, out_len, "strip", TRUE,
			"Q", quality, "optimize_coding", TRUE, NULL);
	case TC_PNG:
		return vips_pngsave_buffer(in, out, out_len, "strip", TRUE,
			"compression", 6, "filter", VIPS_FOREIGN_PNG_FILTER_ALL, NULL);
	case TC_WEBP:
		return vips_webpsave_buffer(in, out, out_len, "strip", TRUE,
			"Q", quality, NULL);
	case TC_AVIF:
		return vips_heifsave_buffer(in, out, out_len, "strip", TRUE,
			"Q", quality, "compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
			"effort", 9 - speed, NULL);
	case TC_TIFF:
		return vips_tiffsave_buffer(in, out, out_len, NULL);
	}
	vips_error("tc", "unknown output format");
	return -1;
}

int
tc_run(tc_job *job,
	const void *buf, size_t len, int format, int shrink, VipsImage *src,
	const tc_op *ops, int nops, int orient, VipsImage *overlay,
	int out_format, int quality, int speed, int threads,
	void **out, size_t *out_len)
{
	VipsImage *cur;
	int i;
	int status = TC_OK;

	*out = NULL;
	*out_len = 0;
	if (src)
		cur = src;
	else if (!(cur = tc_load(job, buf, len, format, shrink,
		VIPS_ACCESS_SEQUENTIAL))) {
		status = tc_status_of(job, TC_LOAD_FAILED);
		goto done;
	}
	if (!(cur = tc_srgb(job, cur)))
		goto failed;
	/* Every thread pool of this pipeline (the saver's, and a memory copy
	 * before a rotation or a whole-image encoder) sizes itself by this hint;
	 * it travels down the pipeline with the rest of the metadata. It is set
	 * on an image of our own: the shared source must never change (and an
	 * image of our own is what the job's kill reaches). */
	if (cur == src) {
		VipsImage *t;

		if (vips_copy(cur, &t, NULL))
			goto failed;
		cur = tc_track(job, t);
	}
	vips_image_set_int(cur, VIPS_META_CONCURRENCY, MAX(threads, 1));
	for (i = 0; i < nops; i++) {
		const tc_op *op = &ops[i];
		VipsImage *t;

		if (tc_cancelled(job))
			goto failed;
		switch (op->kind) {
		case TC_RESIZE:
			cur = tc_resize(job, cur, op->w, op->h);
			break;
		case TC_CROP:
			if (vips_extract_area(cur, &t, op->x, op->y, op->w, op->h, NULL))
				cur = NULL;
			else
				cur = tc_track(job, t);
			break;
		case TC_BLUR:
			if (vips_gaussblur(cur, &t, op->sigma, NULL))
				cur = NULL;
			else
				cur = tc_track(job, t);
			break;
		case TC_OVERLAY:
			cur = tc_overlay(job, cur, overlay, op);
			break;
		case TC_ORIENT:
			cur = tc_orient(job, cur, op->orient);
			break;
		default:
			vips_error("tc", "unknown operation");
			cur = NULL;
		}
		if (!cur)
			goto failed;
	}
	if (!(cur = tc_orient(job, cur, orient)))
		goto failed;
	if (tc_cancelled(job) ||
		tc_save(cur, out_format, quality, speed, out, out_len))
		goto failed;
	goto done;
failed:
	status = tc_status_of(job, TC_FAILED);
	if (*out) {
		g_free(*out);
		*out = NULL;
		*out_len = 0;
	}
done:
	tc_release(job);
	/* libvips keeps per-thread buffers for the calling thread; a Go
	 * thread may not call libvips again for a long time */
	vips_thread_shutdown();
	return status;
}

int
tc_check_decode(tc_job *job, const void *buf, size_t len, int format)
{
	VipsImage *im;
	double avg;
	int status = TC_OK;

	if (!(im = tc_load(job, buf, len, format, 1, VIPS_ACCESS_SEQUENTIAL)))
		status = tc_status_of(job, TC_LOAD_FAILED);
	else if (vips_avg(im, &avg, NULL))
		status = tc_status_of(job, TC_FAILED);
	tc_release(job);
	vips_thread_shutdown();
	return status;
}

VipsImage *
tc_image_from_pixels(const void *pix, int width, int height, int bands)
{
	VipsImage *im;

	im = vips_image_new_from_memory_copy(pix,
		(size_t) width * height * bands, width, height, bands,
		VIPS_FORMAT_UCHAR);
	if (!im)
		return NULL;
	im->Type = VIPS_INTERPRETATION_sRGB;
	return im;
}

int
tc_image_size(const void *buf, size_t len, int format, int *width, int *height)
{
	VipsSource *source;
	VipsImage *im = NULL;
	int r = -1;

	if (!(source = vips_source_new_from_memory(buf, len)))
		return -1;
	switch (format) {
	case TC_JPEG:
		r = vips_jpegload_source(source, &im, NULL);
		break;
	case TC_PNG:
		r = vips_pngload_source(source, &im, NULL);
		break;
	case TC_WEBP:
		r = vips_webpload_source(source, &im, NULL);
		break;
	case TC_AVIF:
		r = vips_heifload_source(source, &im, NULL);
		break;
	case TC_TIFF:
		r = vips_tiffload_source(source, &im, NULL);
		break;
	}
	if (!r) {
		*width = im->Xsize;
		*height = im->Ysize;
		g_object_unref(im);
	}
	g_object_unref(source);
	vips_error_clear();
	return r;
}
