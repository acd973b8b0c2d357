package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

// serveEnv makes the test binary an external server for the Target tests:
// TRUNCHECK_TEST_SERVE=/path/to.sock (or tcp:127.0.0.1:PORT) serves the
// bodies origin there (refusing an address in use) until SIGTERM, then
// shuts down gracefully, like a deployed service. With serveTLSEnv=DIR it
// serves TLS with DIR/cert.pem and DIR/key.pem, HTTP/2 offered by ALPN.
const (
	serveEnv    = "TRUNCHECK_TEST_SERVE"
	serveTLSEnv = "TRUNCHECK_TEST_SERVE_TLS"
)

// compile compiles a scenario a test wrote.
func compile(t testing.TB, s scenarios.Scenario) scenarios.Compiled {
	t.Helper()
	c, err := scenarios.Compile(s)
	require.NoError(t, err)
	return c
}

// mustFaults parses a fault spec a test wrote.
func mustFaults(spec string) transport.Faults {
	f, err := transport.ParseFaults(spec)
	if err != nil {
		panic(err)
	}
	return f
}

// minimal completes a scenario a test gives only its topology and client:
// one request, one of them, expecting complete.
func minimal(s scenarios.Scenario) scenarios.Scenario {
	s.Workload = scenarios.Workload{Requests: []scenarios.Request{{Path: "/bytes/1"}}}
	s.Count = 1
	s.Expect = results.Expectation{Kind: results.ExpectComplete}
	return s
}

func TestMain(m *testing.M) {
	if sock := os.Getenv(serveEnv); sock != "" {
		os.Exit(serveForTest(sock))
	}
	goleak.VerifyTestMain(m)
}

func serveForTest(sock string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	network, addr := "unix", sock
	if a, ok := strings.CutPrefix(sock, "tcp:"); ok {
		network, addr = "tcp", a
	}
	l, err := net.Listen(network, addr) // a live socket there: EADDRINUSE, the start fails
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	o := origin.Bodies()
	srv := &http.Server{Handler: o.Handler, ConnContext: o.ConnContext}
	if dir := os.Getenv(serveTLSEnv); dir != "" {
		go func() { _ = srv.ServeTLS(l, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")) }()
	} else {
		go func() { _ = srv.Serve(l) }()
	}
	<-ctx.Done()
	if err := srv.Shutdown(context.Background()); err != nil {
		return 1
	}
	return 0
}
