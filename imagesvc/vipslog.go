package imagesvc

/*
#cgo pkg-config: vips
#include <glib.h>

static void truncheck_drop_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data) {}

// truncheck_quiet_vips drops libvips' warnings (domain "VIPS"), as libvips does itself
// when VIPS_WARNING is set at vips_init; bimg runs vips_init in its Go init, before
// any code of ours can set the variable.
static void truncheck_quiet_vips(void) {
	g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, truncheck_drop_log, NULL);
}
*/
import "C"

import "os"

// quietVips applies VIPS_WARNING after the fact: libvips' warnings are global,
// unattributable to a request, and often about the caller's own bad input.
func quietVips() {
	if v := os.Getenv("VIPS_WARNING"); v != "" {
		C.truncheck_quiet_vips()
	}
}
