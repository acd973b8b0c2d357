//go:build cgo

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

	"github.com/truncheck/truncheck/imagesvc"
	"github.com/truncheck/truncheck/transport"
)

func serveCommand(stdout, _ io.Writer) command {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f := serveFlags(fs)
	faults, seed, writeTimeout, noKeepAlive, grace := f.faults, f.seed, f.writeTimeout, f.noKeepAlive, f.grace
	return command{fs: fs, summary: "the image service alone (TCP and/or Unix socket), optional faults",
		synopsis: serveSynopsis, about: serveAbout, examples: serveExamples,
		fn: func(args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q", args)
			}
			tcp, unix, err := f.addresses()
			if err != nil {
				return err
			}
			// Signals are caught before anything listens: one that comes as
			// soon as the address is printed must still stop it cleanly.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fl, err := transport.ParseFaults(*faults)
			if err != nil {
				return usagef("--faults: %v", err)
			}
			ca, controlled, err := controlAddress(*f.control)
			if err != nil {
				return err
			}
			if *f.maxConcurrent < 0 || *f.maxQueue < 0 {
				return usagef("--max-concurrent and --max-queue: 0 (default) or more")
			}
			svc, err := imagesvc.New(imagesvc.Config{
				RequestBudget: *f.budget, MaxConcurrent: *f.maxConcurrent, MaxQueue: *f.maxQueue,
				CacheBytes: *f.cacheMiB << 20, MallocArenas: *f.arenas, MallocMmapThreshold: *f.mmapKiB << 10, MallocTrimInterval: *f.trimEvery,
			})
			if err != nil {
				return err
			}
			cfg := imagesvc.ServerConfig{TCPAddr: tcp, UnixPath: unix, WriteTimeout: *writeTimeout, DisableKeepAlives: *noKeepAlive}
			var wrapped []*transport.Listener // the control API changes their faults
			if !fl.IsZero() || controlled {
				cfg.WrapListener = func(l net.Listener) net.Listener {
					wl := transport.WrapListener(l, transport.Options{Faults: fl, Seed: *seed, Name: "svc"})
					wrapped = append(wrapped, wl)
					return wl
				}
			}
			srv := imagesvc.NewServer(svc, cfg)
			if err := srv.Start(); err != nil {
				return envError{err}
			}
			if a := srv.TCPAddr(); a != "" {
				fmt.Fprintf(stdout, "listening http://%s\n", a)
			}
			if p := srv.UnixPath(); p != "" {
				fmt.Fprintf(stdout, "listening unix:%s\n", p)
			}
			if !fl.IsZero() {
				fmt.Fprintf(stdout, "faults %s (seed %d)\n", fl, *seed)
			}
			if controlled {
				ctl, err := serveControl(stdout, ca, wrapped)
				if err != nil {
					_ = srv.Close()
					return err
				}
				defer ctl.Close()
			}
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), *grace)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				_ = srv.Close()
				return fmt.Errorf("graceful shutdown within %s: %w", *grace, err)
			}
			return errInterrupted
		}}
}
