package survey

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// trafficserver: Apache Traffic Server 9 as a reverse proxy (remap to
// Config.Upstream, caching off), from a runroot under Dir (its own
// runroot.yaml: configuration, logs, cache, sockets all there; the
// package's /etc/trafficserver is copied, then our files written over
// it). It runs as traffic_manager in the foreground, which starts and
// watches traffic_server; no user switch (user_id #-1). A reload is
// `traffic_ctl config reload` (through the manager's socket under Dir);
// a stop is SIGTERM to the manager.
func trafficserver() Server {
	return Server{
		Name:       "trafficserver",
		Packages:   []string{"trafficserver"},
		logLag:     2 * time.Second,
		Binary:     "/usr/bin/traffic_manager",
		Proxy:      true,
		Reload:     "traffic_ctl config reload (through traffic_manager)",
		Stop:       "SIGTERM to traffic_manager (stops traffic_server; proxy.config.stop.shutdown_timeout 2)",
		HTTP2:      []Protocol{H2},
		Timeout:    "proxy.config.http.transaction_no_activity_timeout_in/_out, proxy.config.net.default_inactivity_timeout (whole seconds)",
		BytesField: "%<pscl> body bytes sent to the client; %<cfsc> client finish status FIN, INTR or TIMEOUT",
		Services:   []string{"trafficserver"},
		Note:       "no early answer without a plugin; no Unix-socket listener in 9.2; h2 only over TLS",
		version:    []string{"/usr/bin/traffic_server", "-V"},
		versionRe:  mustRe(`Traffic Server (\S+)`),
		parse:      tsvLog{end: trafficserverEnd, unit: time.Millisecond}.parse,
		errorRe:    mustRe(`(?i)timeout|timed out|connection reset|broken pipe|abort|INTR|FATAL|write.*fail`),
		prepare:    prepareTrafficserver,
	}
}

func prepareTrafficserver(p *plan) error {
	etc := filepath.Join(p.Dir, "etc")
	if err := copyTree("/etc/trafficserver", etc); err != nil {
		return err
	}
	for _, d := range []string{"run", "log", "cache"} {
		if err := os.MkdirAll(filepath.Join(p.Dir, d), 0o755); err != nil {
			return err
		}
	}
	runroot, err := p.render("runroot.yaml", "runroot.yaml")
	if err != nil {
		return err
	}
	for _, f := range []string{"records.config", "remap.config", "logging.yaml", "storage.config", "ip_allow.yaml", "ssl_multicert.config"} {
		if _, err := p.render(f, filepath.Join("etc", f)); err != nil {
			return err
		}
	}
	// Nothing cached between starts: a reused cache would answer instead
	// of the origin.
	rr := "--run-root=" + runroot
	p.argv = []string{"/usr/bin/traffic_manager", "--nosyslog", rr}
	p.reload = commandReload("/usr/bin/traffic_ctl", rr, "config", "reload")
	p.stop = syscall.SIGTERM
	log := filepath.Join(p.Dir, "log")
	p.logs.Access = []string{filepath.Join(log, "access.log")}
	p.logs.Error = []string{filepath.Join(log, "diags.log"), filepath.Join(log, "traffic.out"), filepath.Join(log, "manager.log"), filepath.Join(log, "error.log")}
	return nil
}

// copyTree copies the regular files and directories under src to dst
// (symlinks are followed as files), keeping what dst already has.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if strings.HasSuffix(path, "~") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
}

// trafficserverEnd reads %<cfsc>, the client finish status: FIN finished,
// INTR (interrupted) and TIMEOUT did not.
func trafficserverEnd(state string, _ int) End {
	switch state {
	case "FIN":
		return EndComplete
	case "INTR", "TIMEOUT":
		return EndCut
	}
	return EndUnknown
}
