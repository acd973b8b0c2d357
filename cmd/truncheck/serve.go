package main

import (
	"flag"
	"time"
)

// serveOptions are serve's flags, the same in every build (a binary built
// without cgo answers them with how to get the image service).
type serveOptions struct {
	listen       *stringList
	faults       *string
	seed         *int64
	writeTimeout *time.Duration
	noKeepAlive  *bool
	grace        *time.Duration
	control      *string
	// The image service's limits and memory settings.
	budget, trimEvery       *time.Duration
	maxConcurrent, maxQueue *int
	arenas                  *int
	cacheMiB, mmapKiB       *int64
}

func serveFlags(fs *flag.FlagSet) serveOptions {
	var listen stringList
	fs.Var(&listen, "listen", "where to listen: http://HOST:PORT and/or unix:/PATH, one of each at most; repeatable\n(default http://127.0.0.1:8080)")
	return serveOptions{
		listen:        &listen,
		faults:        fs.String("faults", "", "fault spec applied to every accepted conn, e.g. 'buffered-shutdown,sndbuf=8KiB'"),
		seed:          fs.Int64("seed", 1, "seed for the faults' randomness"),
		writeTimeout:  fs.Duration("write-timeout", 0, "http.Server WriteTimeout (0: the service's default; negative: none)"),
		noKeepAlive:   fs.Bool("no-keepalive", false, "close every connection after one response"),
		grace:         fs.Duration("grace", 10*time.Second, "graceful shutdown deadline on SIGINT/SIGTERM"),
		control:       controlFlag(fs),
		budget:        fs.Duration("budget", 0, "time budget of a request's transform, queue wait included (0: the service's default, 20s; negative: none)"),
		maxConcurrent: fs.Int("max-concurrent", 0, "transforms at once, one core each when all run (0: GOMAXPROCS)"),
		maxQueue:      fs.Int("max-queue", 0, "transforms waiting for a slot before requests are shed with 503 (0: 32 per slot)"),
		cacheMiB:      fs.Int64("cache-mib", 0, "cache of transformed built-ins in MiB (0: 512; negative: no cache)"),
		arenas:        fs.Int("malloc-arenas", 0, "glibc malloc arenas for the process (0: 2; negative: glibc's default; MALLOC_ARENA_MAX wins)"),
		mmapKiB:       fs.Int64("malloc-mmap-threshold-kib", 0, "glibc malloc maps blocks from this size on their own (0: 1024; negative: glibc's adaptive default)"),
		trimEvery:     fs.Duration("malloc-trim", 0, "hand free malloc arena pages back at most this often, after transforms (0: 2s; negative: never)"),
	}
}

const (
	serveSynopsis = "truncheck serve [--listen ADDRESS]... [--faults SPEC] [--control ADDRESS] [flags]"
	serveAbout    = "Runs the image service alone (bimg on libvips), optionally with faults on every accepted\n" +
		"connection, until SIGINT or SIGTERM (then a graceful shutdown; exit 130).\n\n" +
		"With --control its listeners are the proxy \"serve\" of a control API on loopback: faults and\n" +
		"toxics per direction (to_client: what the service writes; to_upstream: what it reads), changed\n" +
		"while it serves, for the connections accepted after each change; /metrics for Prometheus."
)

var serveExamples = []string{
	"truncheck serve                                             # http://127.0.0.1:8080",
	"truncheck serve --listen unix:/tmp/img.sock --faults buffered-shutdown --no-keepalive",
	"curl -o /dev/null 'http://127.0.0.1:8080/images/photo-4mp?format=png'",
	"truncheck serve --no-keepalive --control http://127.0.0.1:8474",
	"curl -s -d '{\"to_client\":\"buffered-shutdown\"}' http://127.0.0.1:8474/proxies/serve/faults",
}

// addresses reads --listen: one TCP address and one Unix path at most.
func (o serveOptions) addresses() (tcp, unix string, err error) {
	list := *o.listen
	if len(list) == 0 {
		list = stringList{"http://127.0.0.1:8080"}
	}
	for _, s := range list {
		a, err := parseAddress("listen", s)
		if err != nil {
			return "", "", err
		}
		switch {
		case a.network == "tcp" && tcp == "":
			tcp = a.addr
		case a.network == "unix" && unix == "":
			unix = a.addr
		default:
			return "", "", usagef("--listen %q: one %s address at most", s, a.scheme)
		}
	}
	return tcp, unix, nil
}
