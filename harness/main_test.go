package harness

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/truncheck/truncheck/imagesvc"
)

// serveEnv makes the test binary an external image server for the Target
// tests: TRUNCHECK_TEST_SERVE=/path/to.sock runs imagesvc on that socket
// until SIGTERM, then shuts down gracefully, like a deployed service.
const serveEnv = "TRUNCHECK_TEST_SERVE"

func TestMain(m *testing.M) {
	if sock := os.Getenv(serveEnv); sock != "" {
		os.Exit(serveForTest(sock))
	}
	goleak.VerifyTestMain(m)
}

func serveForTest(sock string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	svc, err := imagesvc.New(imagesvc.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := imagesvc.NewServer(svc, imagesvc.ServerConfig{UnixPath: sock})
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	<-ctx.Done()
	if err := srv.Shutdown(context.Background()); err != nil {
		return 1
	}
	return 0
}
