package deploy

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImage reads the image back as a registry client would: an OCI
// layout with one image, tagged; one layer and no other (no base image);
// the binary at its path, executable, byte for byte the one built; the
// entrypoint, user and working directory. The binary taken out of the
// layer runs.
func TestImage(t *testing.T) {
	bin := cgoFreeBinary(t)
	want, err := os.ReadFile(bin)
	require.NoError(t, err)
	img, err := Image(Config{Binary: bin, Version: "v-test"})
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "oci")
	require.NoError(t, WriteLayout(dir, img, "v-test"))

	// The layout's own files, read as plain JSON.
	var marker struct {
		Version string `json:"imageLayoutVersion"`
	}
	readJSON(t, filepath.Join(dir, "oci-layout"), &marker)
	assert.Equal(t, "1.0.0", marker.Version)
	var index struct {
		MediaType string `json:"mediaType"`
		Manifests []struct {
			MediaType   string            `json:"mediaType"`
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	readJSON(t, filepath.Join(dir, "index.json"), &index)
	assert.Equal(t, string(types.OCIImageIndex), index.MediaType)
	require.Len(t, index.Manifests, 1)
	assert.Equal(t, string(types.OCIManifestSchema1), index.Manifests[0].MediaType)
	assert.Equal(t, "v-test", index.Manifests[0].Annotations["org.opencontainers.image.ref.name"])

	// The image, through the layout reader.
	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	ii, err := p.ImageIndex()
	require.NoError(t, err)
	im, err := ii.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 1)
	got, err := ii.Image(im.Manifests[0].Digest)
	require.NoError(t, err)
	digest, err := img.Digest()
	require.NoError(t, err)
	assert.Equal(t, digest, im.Manifests[0].Digest)

	m, err := got.Manifest()
	require.NoError(t, err)
	require.Len(t, m.Layers, 1, "one layer: ours, no base image under it")
	assert.Equal(t, types.OCILayer, m.Layers[0].MediaType)
	assert.Empty(t, m.Layers[0].URLs, "no foreign layer to fetch from elsewhere")
	cf, err := got.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, []string{BinaryPath}, cf.Config.Entrypoint)
	assert.Equal(t, []string{"help"}, cf.Config.Cmd)
	assert.Equal(t, User, cf.Config.User)
	assert.Equal(t, WorkDir, cf.Config.WorkingDir)
	assert.Equal(t, "linux", cf.OS)
	assert.Equal(t, runtime.GOARCH, cf.Architecture)
	assert.Equal(t, "v-test", cf.Config.Labels["org.opencontainers.image.version"])
	require.Len(t, cf.RootFS.DiffIDs, 1)
	assert.Zero(t, cf.Created.Unix(), "dated the epoch: the image depends on the binary alone")

	layers, err := got.Layers()
	require.NoError(t, err)
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	files := map[string]*tar.Header{}
	var shipped []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		files[h.Name] = h
		if h.Name == BinaryPath[1:] {
			shipped, err = io.ReadAll(tr)
			require.NoError(t, err)
		}
	}
	assert.Len(t, files, 2, "the binary and the working directory, nothing else")
	h := files[BinaryPath[1:]]
	require.NotNil(t, h, "the binary at %s", BinaryPath)
	assert.Equal(t, byte(tar.TypeReg), h.Typeflag)
	assert.Equal(t, int64(0o755), h.Mode, "executable")
	assert.Equal(t, sha256.Sum256(want), sha256.Sum256(shipped), "the very binary built")
	tmp := files[WorkDir[1:]+"/"]
	require.NotNil(t, tmp)
	assert.Equal(t, int64(0o1777), tmp.Mode)

	// The binary, taken out of the image with the mode the layer gives it, runs.
	out := filepath.Join(t.TempDir(), "from-image")
	require.NoError(t, os.WriteFile(out, shipped, os.FileMode(h.Mode)))
	listed, err := exec.Command(out, "list").CombinedOutput()
	require.NoError(t, err, string(listed))
	assert.Contains(t, string(listed), "buffered-shutdown ")

	// The archive for docker/podman load holds the same image.
	arch := filepath.Join(t.TempDir(), "truncheck.tar")
	require.NoError(t, WriteTarball(arch, img, "truncheck:v-test"))
	fromTar, err := tarball.ImageFromPath(arch, nil)
	require.NoError(t, err)
	tarCfg, err := fromTar.ConfigName()
	require.NoError(t, err)
	imgCfg, err := img.ConfigName()
	require.NoError(t, err)
	assert.Equal(t, imgCfg, tarCfg)
}

// TestImageRefusesWhatCannotRun: a binary that needs a dynamic loader (one
// built with cgo), a file that is not an executable, another architecture.
func TestImageRefusesWhatCannotRun(t *testing.T) {
	ls, err := exec.LookPath("ls") // Debian's ls: a dynamically linked executable of this machine
	require.NoError(t, err)
	if f, err := elf.Open(ls); err != nil || !slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		t.Skipf("%s is not a dynamically linked ELF here", ls)
	} else {
		f.Close()
	}
	_, err = Image(Config{Binary: ls})
	assert.ErrorContains(t, err, "is dynamically linked (it needs a loader and a C library the image does not have): build it with CGO_ENABLED=0")

	notELF := filepath.Join(t.TempDir(), "script")
	require.NoError(t, os.WriteFile(notELF, []byte("#!/bin/sh\necho hi\n"), 0o755))
	_, err = Image(Config{Binary: notELF})
	assert.ErrorContains(t, err, "is not a Linux executable")

	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	_, err = Image(Config{Binary: ls, Arch: other})
	assert.ErrorContains(t, err, "build it with GOARCH="+other)
	_, err = Image(Config{Binary: ls, Arch: "mips"})
	assert.ErrorContains(t, err, `architecture "mips" (accepted: amd64, arm64`)

	_, err = Image(Config{Binary: filepath.Join(t.TempDir(), "missing")})
	assert.ErrorContains(t, err, "no such file")
}

// TestImageIsReproducible: the same binary makes the same image, digest
// and all; another date makes another one. (A tiny ELF header stands for
// the binary: the layer is compressed twice here, under the race detector.)
func TestImageIsReproducible(t *testing.T) {
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if machine == 0 {
		t.Skipf("no tiny ELF for %s", runtime.GOARCH)
	}
	h := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT), Ehsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	var b bytes.Buffer
	require.NoError(t, binary.Write(&b, binary.LittleEndian, h))
	bin := filepath.Join(t.TempDir(), "tiny")
	require.NoError(t, os.WriteFile(bin, b.Bytes(), 0o755))

	digest := func(c Config) string {
		img, err := Image(c)
		require.NoError(t, err)
		d, err := img.Digest()
		require.NoError(t, err)
		return d.String()
	}
	first := digest(Config{Binary: bin})
	assert.Equal(t, first, digest(Config{Binary: bin}))
	assert.NotEqual(t, first, digest(Config{Binary: bin, Created: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)}))
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}
