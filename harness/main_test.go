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

	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

// serveEnv makes the test binary an external server for the Target tests:
// TRUNCHECK_TEST_SERVE=/path/to.sock serves the bodies origin on that
// socket (refusing one already there) until SIGTERM, then shuts down
// gracefully, like a deployed service.
const serveEnv = "TRUNCHECK_TEST_SERVE"

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
