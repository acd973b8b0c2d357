// Command adversary serves the adversarial targets of package adversary on
// loopback until interrupted, and prints their addresses: an origin that
// publishes the account of every request, and a gateway in front of it
// that launders a cut in one response of N. Try truncheck on them:
//
//	go run ./targets/adversary/cmd/adversary --size 3MB --launder 3
//	truncheck check --target http://127.0.0.1:PORT --path /file ...
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/truncheck/truncheck/harness/account"
	"github.com/truncheck/truncheck/targets/adversary"
)

func main() {
	size := flag.Int("size", 3_300_000, "body size in bytes")
	seed := flag.Uint64("seed", 1, "seed of the gateway's cuts")
	every := flag.Int("launder", 3, "the gateway cuts one response in this many (1: every one)")
	flag.Parse()
	if *size < 2 || *every < 1 {
		fmt.Fprintln(os.Stderr, "adversary: --size must be at least 2 and --launder at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	store := account.NewStore(0)
	mux := http.NewServeMux()
	mux.Handle("GET /accounts/", store.Handler())
	mux.Handle("/", store.Wrap(adversary.NewOrigin(adversary.Body(*size)).Handler()))
	origin, err := serve(ctx, mux)
	if err != nil {
		fmt.Fprintln(os.Stderr, "adversary:", err)
		os.Exit(3)
	}
	gw, err := serve(ctx, &adversary.Gateway{Upstream: "http://" + origin, CutOneIn: *every, Seed: *seed})
	if err != nil {
		fmt.Fprintln(os.Stderr, "adversary:", err)
		os.Exit(3)
	}
	fmt.Printf("origin  http://%s  (accounts at /accounts/{id})\ngateway http://%s  (cuts 1 in %d, re-chunked, no digest)\n", origin, gw, *every)
	<-ctx.Done()
}

// serve runs h on a loopback port until ctx ends.
func serve(ctx context.Context, h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ConnContext: account.ConnContext}
	go func() { _ = srv.Serve(account.Listener(l)) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	return l.Addr().String(), nil
}
