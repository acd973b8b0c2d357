//go:build cgo

package main

import (
	"errors"

	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/imagesvc"
)

// accountsKept bounds the image service's account store in-process: the
// harness reads a request's account right after its response, so a few
// thousand suffice (the service's own default of 100,000 made hour-long
// soaks look like leaks).
const accountsKept = 8192

// addImageOrigin adds the image service (bimg on libvips): this binary was
// built with cgo.
func addImageOrigin(m map[string]originMaker) {
	m["imagesvc"] = func() (origin.Origin, error) { return imagesvc.NewOrigin(imagesvc.Config{MaxAccounts: accountsKept}) }
}

// errNoImageService is never returned by a cgo build (the origin exists).
var errNoImageService = errors.New("the image service is built in")
