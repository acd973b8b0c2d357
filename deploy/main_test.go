package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// binDir holds the truncheck binary the tests build once and share.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
	binOut   []byte
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if binDir != "" {
			_ = os.RemoveAll(binDir)
		}
	}))
}

// cgoFreeBinary builds truncheck the way make image does, but for
// -trimpath (make image's binary does not depend on where it was built):
// the tests share the build cache of the command's own cgo-free tests.
func cgoFreeBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found: cannot build the binary")
	}
	binOnce.Do(func() {
		if binDir, binError = os.MkdirTemp("", "deploy-test-"); binError != nil {
			return
		}
		binPath = filepath.Join(binDir, "truncheck")
		cmd := exec.Command(gobin, "build", "-o", binPath, "../cmd/truncheck")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		binOut, binError = cmd.CombinedOutput()
	})
	if binError != nil {
		t.Fatalf("building truncheck: %v\n%s", binError, binOut)
	}
	return binPath
}
