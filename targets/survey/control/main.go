// Command control is the survey's control server: Go's net/http serving
// the static files with Content-Length, the early-answer route, an access
// log in the survey's TSV shape, and a graceful http.Server.Shutdown on
// SIGTERM. It uses the standard library only: the survey builds it from
// this one file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

func main() {
	network := flag.String("network", "tcp", "tcp or unix")
	addr := flag.String("listen", "127.0.0.1:8080", "address or socket path")
	root := flag.String("root", ".", "docroot: bytes/{n} are served")
	access := flag.String("access", "", "access log")
	writeTimeout := flag.Duration("write-timeout", 0, "http.Server.WriteTimeout")
	cert := flag.String("cert", "", "TLS certificate (h2)")
	key := flag.String("key", "", "TLS key")
	h2c := flag.Bool("h2c", false, "HTTP/2 with prior knowledge in cleartext")
	flag.Parse()
	if err := run(*network, *addr, *root, *access, *writeTimeout, *cert, *key, *h2c); err != nil {
		fmt.Fprintln(os.Stderr, "control:", err)
		os.Exit(1)
	}
}

func run(network, addr, root, access string, writeTimeout time.Duration, cert, key string, h2c bool) error {
	logw := io.Discard
	if access != "" {
		f, err := os.OpenFile(access, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = f
	}
	if network == "unix" {
		_ = os.Remove(addr)
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	l := &logger{w: logw}
	srv := &http.Server{Handler: handler(root, l), WriteTimeout: writeTimeout, ReadHeaderTimeout: 10 * time.Second}
	if h2c {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		if cert != "" {
			errc <- srv.ServeTLS(ln, cert, key)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(os.Stderr, "control: SIGTERM: graceful shutdown")
	sctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func handler(root string, l *logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "size: a whole number of bytes", http.StatusBadRequest)
			return
		}
		f, err := os.Open(filepath.Join(root, "bytes", strconv.FormatInt(n, 10)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", fi.ModTime(), f)
	})
	// The answer goes out before the request body is read.
	mux.HandleFunc("POST /early", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "6")
		io.WriteString(w, "early\n")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "control\n")
	})
	return l.wrap(mux)
}

// logger writes one TSV line per request: id, status, body bytes, "-",
// method, target, complete|cut, microseconds.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

type recorder struct {
	http.ResponseWriter
	status int
	n      int64
	err    error
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.n += int64(n)
	if err != nil && r.err == nil {
		r.err = err
	}
	return n, err
}

// ReadFrom keeps sendfile out, so every byte passes Write and is counted.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{r}, src)
}

func (l *logger) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		state := "complete"
		if rec.err != nil || r.Context().Err() != nil && !errors.Is(r.Context().Err(), context.Canceled) {
			state = "cut"
		}
		if cl := w.Header().Get("Content-Length"); cl != "" && cl != strconv.FormatInt(rec.n, 10) && r.Method != http.MethodHead {
			state = "cut"
		}
		id := r.Header.Get("X-Request-Id")
		if id == "" {
			id = "-"
		}
		if state == "cut" {
			fmt.Fprintf(os.Stderr, "control: response cut: id %s %s after %d body bytes: %v\n", id, r.URL.RequestURI(), rec.n, rec.err)
		}
		l.mu.Lock()
		fmt.Fprintf(l.w, "%s\t%d\t%d\t-\t%s\t%s\t%s\t%d\n", id, rec.status, rec.n, r.Method, r.URL.RequestURI(), state, time.Since(start).Microseconds())
		l.mu.Unlock()
	})
}
