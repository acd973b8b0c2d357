package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/truncheck/truncheck/transport"
)

func proxyCommand(stdout, _ io.Writer) command {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "where to listen: host:port or unix:/path")
	upstream := fs.String("upstream", "", "where to forward: host:port or unix:/path (required)")
	toClient := fs.String("faults", "", "faults on the upstream->client direction (responses), e.g. 'slow-read=16KiB/5ms'")
	toUpstream := fs.String("faults-up", "", "faults on the client->upstream direction (requests)")
	seed := fs.Int64("seed", 1, "seed for the faults' randomness")
	record := fs.Int("record", 0, "flight-recorder events kept per conn (0: off); printed when a conn ends")
	return command{fs: fs, summary: "the fault-injecting TCP/Unix proxy alone, faults per direction", fn: func(args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		if *upstream == "" {
			return usagef("--upstream is required (host:port or unix:/path)")
		}
		down, err := transport.ParseFaults(*toClient)
		if err != nil {
			return usagef("--faults: %v", err)
		}
		up, err := transport.ParseFaults(*toUpstream)
		if err != nil {
			return usagef("--faults-up: %v", err)
		}
		ln, la := splitAddr(*listen)
		un, ua := splitAddr(*upstream)
		var mu sync.Mutex // conn reports arrive from the proxy's goroutines
		p, err := transport.NewProxy(transport.ProxyConfig{
			ListenNetwork: ln, ListenAddr: la, UpstreamNetwork: un, UpstreamAddr: ua,
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
			return err
		}
		defer p.Close()
		mu.Lock()
		fmt.Fprintf(stdout, "proxy %s %s -> %s %s\n", p.Addr().Network(), p.Addr(), un, ua)
		mu.Unlock()
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		<-ctx.Done()
		return nil
	}}
}

// splitAddr maps "unix:/path" to ("unix", "/path") and anything else to TCP.
func splitAddr(s string) (network, addr string) {
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		return "unix", p
	}
	return "tcp", s
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
