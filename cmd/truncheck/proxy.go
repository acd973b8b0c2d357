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
	ctl := controlFlag(fs)
	return command{fs: fs, summary: "the fault-injecting TCP/Unix proxy alone, faults per direction",
		synopsis: "truncheck proxy --upstream ADDRESS [--listen ADDRESS] [--faults SPEC] [--faults-up SPEC] [--control ADDRESS] [flags]\n" +
			"       truncheck proxy --control ADDRESS [flags]",
		about: "Forwards bytes between a listener and an upstream server in any language, with faults on\n" +
			"each direction, until SIGINT or SIGTERM (exit 130). It forwards bytes, not requests: TLS passes\n" +
			"through it untouched (give the upstream's TCP address as http://HOST:PORT). One line per\n" +
			"connection as it ends: bytes each way, how each direction ended.\n\n" +
			"With --control it opens a control API on loopback (Toxiproxy's HTTP API shapes and a native one):\n" +
			"proxies created and deleted, faults and toxics added, changed and removed while traffic flows,\n" +
			"/metrics for Prometheus. The flags' proxy is named main; without --upstream the registry starts\n" +
			"empty. A change acts on the connections accepted after it: close a keep-alive client's idle\n" +
			"connections after a change.",
		examples: []string{
			"truncheck proxy --upstream http://127.0.0.1:8080 --listen http://127.0.0.1:9000 --faults 'slow-read=16KiB/5ms'",
			"truncheck proxy --upstream unix:/run/app.sock --faults 'close-after=300KiB@p=0.5' --record 64",
			"truncheck proxy --upstream http://127.0.0.1:8080 --listen http://127.0.0.1:9000 --control http://127.0.0.1:8474",
			"curl -s -d '{\"type\":\"limit_data\",\"attributes\":{\"bytes\":300000}}' http://127.0.0.1:8474/proxies/main/toxics",
			"curl -s -d '{\"to_client\":\"close-after=300KiB@p=0.5\"}' http://127.0.0.1:8474/proxies/main/faults   # the native shape",
			"truncheck proxy --control http://127.0.0.1:8474        # an empty registry, like toxiproxy-server",
		},
		fn: func(args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q", args)
			}
			ca, controlled, err := controlAddress(*ctl)
			if err != nil {
				return err
			}
			if *upstream == "" && !controlled {
				return usagef("--upstream is required (accepted: http://HOST:PORT or unix:/PATH), or --control alone for an empty registry")
			}
			la, err := parseAddress("listen", *listen)
			if err != nil {
				return err
			}
			var ua address
			if *upstream != "" {
				if ua, err = parseAddress("upstream", *upstream); err != nil {
					return err
				}
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
			cfg := transport.ProxyConfig{
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
			}
			if controlled {
				return proxyWithControl(ctx, stdout, &mu, ca, cfg, *upstream != "")
			}
			p, err := transport.NewProxy(cfg)
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
