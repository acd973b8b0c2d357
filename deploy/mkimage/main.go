// Command mkimage builds truncheck's OCI image from a cgo-free binary,
// without a container daemon and without pulling a base image (make
// image runs it):
//
//	mkimage --binary out/image/truncheck --layout out/image/oci --tar out/image/truncheck.tar --tag truncheck:v1
//
// The layout directory is what skopeo, crane or oras copy to a registry;
// the tarball is what docker load and podman load read.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/truncheck/truncheck/deploy"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bin := fs.String("binary", "", "the truncheck binary, built with GOOS=linux CGO_ENABLED=0 (required)")
	arch := fs.String("arch", "", "the binary's GOARCH (default: this machine's)")
	dir := fs.String("layout", "", "write the image as an OCI layout directory here (replaced)")
	tarPath := fs.String("tar", "", "write the image as a docker/podman load archive here")
	tag := fs.String("tag", "truncheck:latest", "the image's NAME:TAG")
	version := fs.String("version", "", "the org.opencontainers.image.version label")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case *bin == "":
		return errors.New("--binary is required")
	case *dir == "" && *tarPath == "":
		return errors.New("nothing to write: give --layout DIR, --tar FILE or both")
	}
	_, tagOnly, ok := strings.Cut(*tag, ":")
	if !ok || tagOnly == "" || strings.Contains(tagOnly, "/") {
		return fmt.Errorf("--tag %q: accepted: NAME:TAG, e.g. truncheck:v1", *tag)
	}
	img, err := deploy.Image(deploy.Config{Binary: *bin, Arch: *arch, Version: *version})
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if *dir != "" {
		if err := deploy.WriteLayout(*dir, img, tagOnly); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "layout:  %s (tag %s)\n", *dir, tagOnly)
	}
	if *tarPath != "" {
		if err := deploy.WriteTarball(*tarPath, img, *tag); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "archive: %s (%s)\n", *tarPath, *tag)
	}
	fmt.Fprintf(stdout, "image:   %s, entrypoint %s\n", digest, deploy.BinaryPath)
	return nil
}
