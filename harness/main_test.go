package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/truncheck/truncheck/harness/origin"
)

// serveEnv makes the test binary an external server for the Target tests:
// TRUNCHECK_TEST_SERVE=/path/to.sock serves the bodies origin on that
// socket (refusing one already there) until SIGTERM, then shuts down
// gracefully, like a deployed service.
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
	l, err := net.Listen("unix", sock) // a live socket there: EADDRINUSE, the start fails
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	o := origin.Bodies()
	srv := &http.Server{Handler: o.Handler, ConnContext: o.ConnContext}
	go func() { _ = srv.Serve(l) }()
	<-ctx.Done()
	if err := srv.Shutdown(context.Background()); err != nil {
		return 1
	}
	return 0
}
