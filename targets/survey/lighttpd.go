package survey

import (
	"syscall"
	"time"
)

// lighttpd: one process, as root, foreground (-D). A reload is SIGUSR1,
// its graceful restart: with server.graceful-restart-bg a forked child
// keeps serving the connections in flight while the server re-reads its
// configuration. A stop is SIGINT (graceful, bounded by
// server.graceful-shutdown-timeout 5).
func lighttpd() Server {
	return Server{
		Name:        "lighttpd",
		Packages:    []string{"lighttpd"},
		logLag:      4 * time.Second,
		Forwards:    true,
		Binary:      "/usr/sbin/lighttpd",
		Reload:      "SIGUSR1 (graceful restart; graceful-restart-bg: the old connections finish in a forked child)",
		Stop:        "SIGINT (graceful shutdown, server.graceful-shutdown-timeout 5)",
		Unix:        true,
		HTTP2:       []Protocol{H2C},
		EarlyAnswer: `$HTTP["url"] == "/early" { server.max-request-size = 1 }: 413 from the Content-Length alone, body unread`,
		Timeout:     "server.max-write-idle, server.max-read-idle (whole seconds)",
		BytesField:  "%b body bytes and %O bytes sent; %X is X when the connection was aborted before the response completed",
		Services:    []string{"lighttpd"},
		Note:        "h2 over TLS needs the separate package lighttpd-mod-openssl; not configured here",
		version:     []string{"/usr/sbin/lighttpd", "-v"},
		versionRe:   mustRe(`(lighttpd/\S+)`),
		parse:       tsvLog{end: apacheEnd}.parse,
		errorRe:     mustRe(`(?i)timeout|timed out|reset by peer|broken pipe|abort|write failed|connection closed`),
		prepare: func(p *plan) error {
			conf, err := p.render("lighttpd.conf", "lighttpd.conf")
			if err != nil {
				return err
			}
			p.argv = []string{"/usr/sbin/lighttpd", "-D", "-f", conf}
			p.stop = syscall.SIGINT
			p.reload = signalReload(syscall.SIGUSR1)
			p.early = true
			return nil
		},
	}
}
