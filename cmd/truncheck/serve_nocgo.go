//go:build !cgo

package main

import (
	"flag"
	"io"
)

// serveCommand without cgo: the image service is not in this binary; the
// command stays listed and says how to get it.
func serveCommand(_, _ io.Writer) command {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	serveFlags(fs)
	return command{fs: fs, summary: "the image service alone (needs a build with cgo and libvips)",
		synopsis: serveSynopsis, about: serveAbout, examples: serveExamples, fn: func([]string) error {
			return envError{errNoImageService}
		}}
}
