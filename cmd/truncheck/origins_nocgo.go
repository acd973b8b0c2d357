//go:build !cgo

package main

import "errors"

// addImageOrigin adds nothing: the image service (bimg on libvips) needs
// cgo, and this binary was built without it.
func addImageOrigin(map[string]originMaker) {}

// errNoImageService says how to get the image service.
var errNoImageService = errors.New("this truncheck was built without cgo, and the image service (bimg on libvips) needs it: " +
	"build with CGO_ENABLED=1 after `make setup` (libvips-dev, gcc), or run scenarios on the bodies origin (origin: bodies) " +
	"or against a server with `truncheck check`")
