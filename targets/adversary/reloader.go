package adversary

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"github.com/truncheck/truncheck/harness/origin"
)

// ReloadMode is what a server does with the responses in flight when it
// is told to reload.
type ReloadMode string

// The reload modes.
const (
	// ReloadCareless closes every connection serving a response: a reload
	// that drops what was being sent.
	ReloadCareless ReloadMode = "cut"
	// ReloadGraceful leaves them be: a reload done right.
	ReloadGraceful ReloadMode = "graceful"
)

// ServeReloading serves the bodies origin on the Unix socket sock, the
// way nginx and Apache run: SIGHUP reloads (in mode), SIGTERM shuts down
// gracefully; when pidfile is set, the process's pid goes there first (a
// reload command reads it, like `nginx -s reload`). It returns the
// process's exit code. Tests run it in a child process to check a
// harness that restarts and reloads servers.
func ServeReloading(sock string, mode ReloadMode, pidfile string) int {
	if pidfile != "" {
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return 1
		}
	}
	term, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	l, err := net.Listen("unix", sock)
	if err != nil {
		return 1
	}
	o := origin.Bodies()
	var mu sync.Mutex
	active := map[net.Conn]bool{} // serving a response now
	hs := &http.Server{Handler: o.Handler, ConnContext: o.ConnContext,
		ConnState: func(c net.Conn, st http.ConnState) {
			mu.Lock()
			defer mu.Unlock()
			if st == http.StateActive {
				active[c] = true
			} else {
				delete(active, c)
			}
		}}
	go func() { _ = hs.Serve(l) }()
	for {
		select {
		case <-term.Done():
			_ = hs.Shutdown(context.Background())
			return 0
		case <-hup:
			if mode == ReloadCareless {
				mu.Lock()
				for c := range active {
					c.Close()
				}
				mu.Unlock()
			}
		}
	}
}
