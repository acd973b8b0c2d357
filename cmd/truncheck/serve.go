package main

import (
	"flag"
	"time"
)

// serveOptions are serve's flags, the same in every build (a binary built
// without cgo answers them with how to get the image service).
type serveOptions struct {
	tcp, unix, faults *string
	seed              *int64
	writeTimeout      *time.Duration
	noKeepAlive       *bool
	grace             *time.Duration
}

func serveFlags(fs *flag.FlagSet) serveOptions {
	return serveOptions{
		tcp:          fs.String("tcp", "127.0.0.1:8080", `TCP address to listen on ("" for none)`),
		unix:         fs.String("unix", "", "Unix socket path to listen on (optional)"),
		faults:       fs.String("faults", "", "fault spec applied to every accepted conn, e.g. 'buffered-shutdown,sndbuf=8KiB'"),
		seed:         fs.Int64("seed", 1, "seed for the faults' randomness"),
		writeTimeout: fs.Duration("write-timeout", 0, "http.Server WriteTimeout (0: the service's default; negative: none)"),
		noKeepAlive:  fs.Bool("no-keepalive", false, "close every connection after one response"),
		grace:        fs.Duration("grace", 10*time.Second, "graceful shutdown deadline on SIGINT/SIGTERM"),
	}
}
