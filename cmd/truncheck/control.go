package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/transport"
	"github.com/truncheck/truncheck/transport/control"
)

// The control API (transport/control) on proxy, serve and check: off unless --control
// names where it listens.

const controlUsage = "open the control API here: http://127.0.0.1:PORT or unix:/PATH (loopback only; off by default).\n" +
	"Toxiproxy's API shapes and ours: faults changed at run time act on the connections accepted after the change"

// controlAddress reads --control; ok is false when it is off.
func controlAddress(s string) (a address, ok bool, err error) {
	if s == "" {
		return address{}, false, nil
	}
	if a, err = parseAddress("control", s); err != nil {
		return address{}, false, err
	}
	if !a.isLoopback() {
		return address{}, false, usagef("--control %q: not a loopback address (accepted: http://127.0.0.1:PORT, http://[::1]:PORT, "+
			"http://localhost:PORT or unix:/PATH; the API changes what this machine's connections do)", s)
	}
	return a, true, nil
}

// startControl serves srv's API at a and says where on stdout; the caller closes it. A
// port in use is the environment's (exit 3).
func startControl(stdout io.Writer, mu *sync.Mutex, at address, srv *control.Server) error {
	if err := srv.Start(at.network, at.addr); err != nil {
		return envError{err}
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(stdout, "control %s\n", listening(srv.Addr()))
	return nil
}

// proxyWithControl is `truncheck proxy --control`: a registry of proxies under the API,
// with the flags' proxy in it as "main" when --upstream was given (without it the
// registry starts empty, like toxiproxy-server), until ctx ends.
func proxyWithControl(ctx context.Context, stdout io.Writer, mu *sync.Mutex, at address, cfg transport.ProxyConfig, withMain bool) error {
	srv := control.New(control.Config{Version: version(), Create: true, Seed: cfg.Seed, Record: cfg.Record, OnConnEnd: cfg.OnConnEnd})
	defer srv.Close()
	if withMain {
		cfg.Name = "main"
		p, err := srv.AddProxy(cfg)
		if err != nil {
			return envError{err}
		}
		mu.Lock()
		fmt.Fprintf(stdout, "proxy %s -> %s (main)\n", apiAddress(p.Listen), apiAddress(p.Upstream))
		mu.Unlock()
	}
	if err := startControl(stdout, mu, at, srv); err != nil {
		return err
	}
	<-ctx.Done()
	return errInterrupted
}

// apiAddress renders an address the API shows (HOST:PORT or unix:/PATH) in the
// command line's syntax.
func apiAddress(s string) string {
	if strings.HasPrefix(s, "unix:") {
		return s
	}
	return "http://" + s
}

// serveControl registers serve's listeners as "serve" and serves the API at at.
func serveControl(stdout io.Writer, at address, ls []*transport.Listener) (*control.Server, error) {
	srv := control.New(control.Config{Version: version()})
	if _, err := srv.AddListeners("serve", ls...); err != nil {
		return nil, usagef("--faults with --control: %v", err)
	}
	var mu sync.Mutex
	if err := startControl(stdout, &mu, at, srv); err != nil {
		return nil, err
	}
	return srv, nil
}

// checkControl serves /metrics and /version for check; count is the session's
// record hook that counts each outcome as it arrives.
func checkControl(stderr io.Writer, at address) (srv *control.Server, count func(*results.Record), err error) {
	srv = control.New(control.Config{Version: version()})
	var mu sync.Mutex
	// check's stdout is its table: where the API listens goes with the progress.
	if err := startControl(stderr, &mu, at, srv); err != nil {
		return nil, nil, err
	}
	return srv, func(r *results.Record) { srv.RecordOutcome(r.Scenario, string(r.Outcome), r.Silent()) }, nil
}

// controlFlag adds --control to fs.
func controlFlag(fs *flag.FlagSet) *string { return fs.String("control", "", controlUsage) }
