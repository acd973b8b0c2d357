package survey

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/truncheck/truncheck/harness/origin"
)

// Body sizes the survey serves by default: one body that fits in no
// socket buffer on Unix, one past 16 MiB for TCP, where the kernel alone
// holds ~4 MB.
const (
	Size16MiB int64 = 16 << 20
	Size64MiB int64 = 64 << 20
)

// MaxFileSize bounds a generated file: a typo in a size must not fill the disk.
const MaxFileSize int64 = 4 << 30

// Body returns a reader of the deterministic body of n bytes: the
// harness's bodies origin formula (origin.Body), the hyper target's
// /bytes/{n}, so a file served here and a body from that origin are byte
// for byte the same, and a client can check every byte without fetching a
// reference from the server under test.
func Body(n int64) io.Reader { return origin.Body(n) }

// BodySHA256 returns the sha-256 of Body(n), the reference a download is
// checked against.
func BodySHA256(n int64) [32]byte {
	h := sha256.New()
	_, _ = io.Copy(h, Body(n))
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// BodyPath is the URL path of the n-byte file on every server here: the
// same shape as the hyper target's route.
func BodyPath(n int64) string { return "/bytes/" + strconv.FormatInt(n, 10) }

// writeBodies makes docroot/bytes/{n} for each size; a file that already
// has the right size is kept (it was written by this code: contents
// follow from the size).
func writeBodies(docroot string, sizes []int64) error {
	dir := filepath.Join(docroot, "bytes")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range sizes {
		p := filepath.Join(dir, strconv.FormatInt(n, 10))
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == n {
			continue
		}
		if err := writeBody(p, n); err != nil {
			return fmt.Errorf("file %s: %w", p, err)
		}
	}
	return nil
}

func writeBody(path string, n int64) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = io.Copy(w, Body(n))
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
