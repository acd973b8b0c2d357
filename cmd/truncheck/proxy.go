package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/truncheck/truncheck/transport"
)

func proxyCommand(stdout, _ io.Writer) command {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	listen := fs.String("listen", "http://127.0.0.1:0", "where to listen: http://HOST:PORT (port 0: any) or unix:/PATH")
	upstream := fs.String("upstream", "", "where to forward: http://HOST:PORT or unix:/PATH (required)")
	toClient := fs.String("faults", "", "faults on the upstream->client direction (responses), e.g. 'slow-read=16KiB/5ms'")
	toUpstream := fs.String("faults-up", "", "faults on the client->upstream direction (requests)")
	seed := fs.Int64("seed", 1, "seed for the faults' randomness")
	record := fs.Int("record", 0, "flight-recorder events kept per conn (0: off); printed when a conn ends")
	return command{fs: fs, summary: "the fault-injecting TCP/Unix proxy alone, faults per direction",
		synopsis: "truncheck proxy --upstream ADDRESS [--listen ADDRESS] [--faults SPEC] [--faults-up SPEC] [flags]",
		about: "Forwards bytes between a listener and an upstream server in any language, with faults on\n" +
			"each direction, until SIGINT or SIGTERM (exit 130). It forwards bytes, not requests: TLS passes\n" +
			"through it untouched (give the upstream's TCP address as http://HOST:PORT). One line per\n" +
			"connection as it ends: bytes each way, how each direction ended.",
		examples: []string{
			"truncheck proxy --upstream http://127.0.0.1:8080 --listen http://127.0.0.1:9000 --faults 'slow-read=16KiB/5ms'",
			"truncheck proxy --upstream unix:/run/app.sock --faults 'close-after=300KiB@p=0.5' --record 64",
		},
		fn: func(args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q", args)
			}
			if *upstream == "" {
				return usagef("--upstream is required (accepted: http://HOST:PORT or unix:/PATH)")
			}
			la, err := parseAddress("listen", *listen)
			if err != nil {
				return err
			}
			ua, err := parseAddress("upstream", *upstream)
			if err != nil {
				return err
			}
			down, err := transport.ParseFaults(*toClient)
			if err != nil {
				return usagef("--faults: %v", err)
			}
			up, err := transport.ParseFaults(*toUpstream)
			if err != nil {
				return usagef("--faults-up: %v", err)
			}
			// Signals are caught before anything listens: one that comes as
			// soon as the address is printed must still stop it cleanly.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var mu sync.Mutex // conn reports arrive from the proxy's goroutines
			p, err := transport.NewProxy(transport.ProxyConfig{
				ListenNetwork: la.network, ListenAddr: la.addr, UpstreamNetwork: ua.network, UpstreamAddr: ua.addr,
				ToUpstream: up, ToClient: down, Seed: *seed, Record: *record,
				OnConnEnd: func(r transport.ProxyReport) {
					mu.Lock()
					defer mu.Unlock()
					fmt.Fprintf(stdout, "%s to-upstream %d bytes %s%s, to-client %d bytes %s%s, %s\n",
						r.ID, r.ToUpstream.Bytes, r.ToUpstream.End, errSuffix(r.ToUpstream.Err),
						r.ToClient.Bytes, r.ToClient.End, errSuffix(r.ToClient.Err), r.Duration.Round(1e5))
					if len(r.Client) > 0 {
						fmt.Fprintf(stdout, "%s client side:\n%s", r.ID, indent(r.Client.String()))
					}
				},
			})
			if err != nil {
				return usagef("%v", err)
			}
			if err := p.Start(); err != nil {
				return envError{err}
			}
			defer p.Close()
			mu.Lock()
			fmt.Fprintf(stdout, "proxy %s -> %s\n", listening(p.Addr()), ua)
			mu.Unlock()
			<-ctx.Done()
			return errInterrupted
		}}
}

// listening renders a listener's address in the address syntax.
func listening(a net.Addr) string {
	if a.Network() == "unix" {
		return "unix:" + a.String()
	}
	return "http://" + a.String()
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " (" + e + ")"
}

func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString("  " + l)
		}
	}
	return b.String()
}
