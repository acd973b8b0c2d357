package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/truncheck/truncheck/transport"
)

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// dialRetry bounds how long a dial keeps retrying "connection refused" /
// "no such socket" while a restarting service is down, and "connection
// reset" (a listener closed while our connection waited in its queue);
// all three fail before any byte of the request is sent, so a retry is
// safe whatever the request.
const dialRetry = 10 * time.Second

// unixNames numbers the names the harness's Unix clients bind.
var unixNames atomic.Uint64

// dialNamed dials like a net.Dialer, but a Unix client first binds a name
// of its own in the abstract namespace (no file, gone with the socket):
// the server then sees a peer address, so the harness can find the
// server's side of its own connection (which fault, if any, cut it). An
// unnamed Unix client cannot be told apart from the others.
func dialNamed(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if network == "unix" {
		d.LocalAddr = &net.UnixAddr{Net: "unix", Name: fmt.Sprintf("@truncheck-%d-%d", os.Getpid(), unixNames.Add(1))}
	}
	return d.DialContext(ctx, network, addr)
}

// hopDialer returns a DialContext that always dials network/addr (the
// http.Transport's own address is a placeholder host), wraps the conn with
// the hop's client-side faults and recorder, and retries while the peer
// is down (a restart in progress).
func hopDialer(o transport.Options, network, addr string) dialFunc {
	dial := transport.DialerFunc(o, dialNamed)
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		deadline := time.Now().Add(dialRetry)
		for {
			c, err := dial(ctx, network, addr)
			if err == nil || !(errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNRESET)) || time.Now().After(deadline) {
				return c, err
			}
			select {
			case <-ctx.Done():
				return nil, err
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

// newTransport is the http.Transport of one hop: the given dial, no
// compression (bytes are compared as sent), no response-header timeout
// (the verifier's stall watchdog bounds it), Expect: 100-continue waited
// for a second as Go's client does.
func newTransport(dial dialFunc, conns int, keepAlivesOff bool) *http.Transport {
	return &http.Transport{
		DialContext:           dial,
		DisableCompression:    true,
		DisableKeepAlives:     keepAlivesOff,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       30 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 0,
	}
}
