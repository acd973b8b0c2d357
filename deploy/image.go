package deploy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where things are in the image and who runs them.
const (
	// BinaryPath is the binary's path in the image, its entrypoint.
	BinaryPath = "/truncheck"
	// User is the numeric user and group the container runs as: not root,
	// and numeric because the image has no /etc/passwd to look a name up in.
	User = "65532:65532"
	// WorkDir is the working directory: the default results directory
	// (out/...) lands there, so it is writable by anyone (mode 1777) and a
	// cluster may mount a scratch volume on it.
	WorkDir = "/tmp"
)

// Config says what the image holds besides the binary.
type Config struct {
	// Binary is the path of the truncheck binary to ship: built for linux
	// with CGO_ENABLED=0 (the image has no C library). Required.
	Binary string
	// Arch is the binary's GOARCH; "" => runtime.GOARCH. It must match
	// the binary's ELF machine.
	Arch string
	// Version labels the image (org.opencontainers.image.version); "" =>
	// no label.
	Version string
	// Created dates the image and every file in it; zero => the Unix
	// epoch, so that the same binary always makes the same image, digest
	// and all.
	Created time.Time
}

// Image builds the OCI image of a truncheck binary from nothing: one
// layer holding the binary and an empty WorkDir, a config whose
// entrypoint is the binary, no base image and so nothing pulled, and no
// container daemon: it is plain data, written out by [WriteLayout] or
// [WriteTarball].
func Image(cfg Config) (v1.Image, error) {
	if cfg.Arch == "" {
		cfg.Arch = runtime.GOARCH
	}
	bin, err := os.ReadFile(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if err := checkStatic(cfg.Binary, cfg.Arch); err != nil {
		return nil, err
	}
	created := cfg.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC()
	layerGz, err := rootfs(bin, created)
	if err != nil {
		return nil, err
	}
	// Handed over compressed, the layer is compressed once: writing the
	// layout and the archive copies these bytes instead of compressing the
	// binary again for each.
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerGz)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "truncheck deploy.Image: " + BinaryPath + " and " + WorkDir}})
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", cfg.Arch
	cf.Created = v1.Time{Time: created}
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.Cmd = []string{"help"}
	cf.Config.User = User
	cf.Config.WorkingDir = WorkDir
	cf.Config.Labels = map[string]string{"org.opencontainers.image.title": "truncheck"}
	if cfg.Version != "" {
		cf.Config.Labels["org.opencontainers.image.version"] = cfg.Version
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return img, nil
}

// rootfs is the layer, a gzipped tar: WorkDir, then the binary, owned by
// User, dated created. gzip with no name and no time in its header gives
// the same bytes for the same input. Its fastest level makes a layer of
// this binary about 5% larger than the default level and three times
// faster.
func rootfs(bin []byte, created time.Time) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	if err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	tw := tar.NewWriter(zw)
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: WorkDir[1:] + "/", Mode: 0o1777},
		{Typeflag: tar.TypeReg, Name: BinaryPath[1:], Mode: 0o755, Size: int64(len(bin))},
	} {
		h.ModTime, h.Uid, h.Gid, h.Format = created, 65532, 65532, tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("image: layer: %w", err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(bin); err != nil {
				return nil, fmt.Errorf("image: layer: %w", err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	return b.Bytes(), nil
}

// elfMachines maps a GOARCH to its ELF machine.
var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
	"ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV,
}

// checkStatic refuses what cannot run in an image with nothing else in
// it: a file that is not a Linux executable for arch, or one that needs
// a dynamic loader (a binary built with cgo).
func checkStatic(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("image: %s is not a Linux executable (%v): build it with GOOS=linux CGO_ENABLED=0", path, err)
	}
	defer f.Close()
	if want, ok := elfMachines[arch]; !ok {
		return fmt.Errorf("image: architecture %q (accepted: amd64, arm64, 386, arm, ppc64le, s390x, riscv64)", arch)
	} else if f.Machine != want {
		return fmt.Errorf("image: %s is built for %s, not %s: build it with GOARCH=%s", path, f.Machine, arch, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("image: %s is dynamically linked (it needs a loader and a C library the image does not have): build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}

// WriteLayout writes img as an OCI image layout directory (oci-layout,
// index.json, blobs/sha256/...), tagged tag in the index
// (org.opencontainers.image.ref.name), replacing what dir held: what
// skopeo, crane or oras copy to a registry as it is.
func WriteLayout(dir string, img v1.Image, tag string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return nil
}

// WriteTarball writes img as an image archive (the format `docker load`
// and `podman load` read) named ref, e.g. "truncheck:v1".
func WriteTarball(path string, img v1.Image, ref string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image: tag %q: %w (accepted: NAME:TAG, e.g. truncheck:v1)", ref, err)
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return nil
}
