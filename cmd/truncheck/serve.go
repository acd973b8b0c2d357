package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/truncheck/truncheck/imagesvc"
	"github.com/truncheck/truncheck/transport"
)

func serveCommand(stdout, _ io.Writer) command {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	tcp := fs.String("tcp", "127.0.0.1:8080", `TCP address to listen on ("" for none)`)
	unix := fs.String("unix", "", "Unix socket path to listen on (optional)")
	faults := fs.String("faults", "", "fault spec applied to every accepted conn, e.g. 'buffered-shutdown,sndbuf=8KiB'")
	seed := fs.Int64("seed", 1, "seed for the faults' randomness")
	writeTimeout := fs.Duration("write-timeout", 0, "http.Server WriteTimeout (0: the service's default; negative: none)")
	noKeepAlive := fs.Bool("no-keepalive", false, "close every connection after one response")
	grace := fs.Duration("grace", 10*time.Second, "graceful shutdown deadline on SIGINT/SIGTERM")
	budget := fs.Duration("budget", 0, "time budget of a request's transform, queue wait included (0: the service's default, 20s; negative: none)")
	maxConcurrent := fs.Int("max-concurrent", 0, "transforms at once, one core each (0: GOMAXPROCS)")
	maxQueue := fs.Int("max-queue", 0, "transforms waiting for a slot before requests are shed with 503 (0: 32 per slot)")
	cacheMiB := fs.Int64("cache-mib", 0, "cache of transformed built-ins in MiB (0: 512; negative: no cache)")
	arenas := fs.Int("malloc-arenas", 0, "glibc malloc arenas for the process (0: 2; negative: glibc's default; MALLOC_ARENA_MAX wins)")
	mmapKiB := fs.Int64("malloc-mmap-threshold-kib", 0, "glibc malloc maps blocks from this size on their own (0: 1024; negative: glibc's adaptive default)")
	trimEvery := fs.Duration("malloc-trim", 0, "hand free malloc arena pages back at most this often, after transforms (0: 2s; negative: never)")
	return command{fs: fs, summary: "the image service alone (TCP and/or Unix socket), optional faults", fn: func(args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		if *tcp == "" && *unix == "" {
			return usagef("nothing to listen on: give --tcp and/or --unix")
		}
		f, err := transport.ParseFaults(*faults)
		if err != nil {
			return usagef("--faults: %v", err)
		}
		if *maxConcurrent < 0 || *maxQueue < 0 {
			return usagef("--max-concurrent and --max-queue: 0 (default) or more")
		}
		svc, err := imagesvc.New(imagesvc.Config{
			RequestBudget: *budget, MaxConcurrent: *maxConcurrent, MaxQueue: *maxQueue,
			CacheBytes: *cacheMiB << 20, MallocArenas: *arenas, MallocMmapThreshold: *mmapKiB << 10, MallocTrimInterval: *trimEvery,
		})
		if err != nil {
			return err
		}
		cfg := imagesvc.ServerConfig{TCPAddr: *tcp, UnixPath: *unix, WriteTimeout: *writeTimeout, DisableKeepAlives: *noKeepAlive}
		if !f.IsZero() {
			cfg.WrapListener = func(l net.Listener) net.Listener {
				return transport.WrapListener(l, transport.Options{Faults: f, Seed: *seed, Name: "svc"})
			}
		}
		srv := imagesvc.NewServer(svc, cfg)
		if err := srv.Start(); err != nil {
			return err
		}
		if a := srv.TCPAddr(); a != "" {
			fmt.Fprintf(stdout, "listening tcp %s\n", a)
		}
		if p := srv.UnixPath(); p != "" {
			fmt.Fprintf(stdout, "listening unix %s\n", p)
		}
		if !f.IsZero() {
			fmt.Fprintf(stdout, "faults %s (seed %d)\n", f, *seed)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), *grace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
			return fmt.Errorf("graceful shutdown within %s: %w", *grace, err)
		}
		return nil
	}}
}
