package survey

import (
	"syscall"
	"time"
)

// nginx: one master, two workers, as root (no user switch), foreground.
// A reload is `nginx -s reload` (SIGHUP to the master: new workers, old
// ones finish their connections); a stop is SIGQUIT (graceful).
func nginx() Server {
	return Server{
		Name:        "nginx",
		Packages:    []string{"nginx"},
		Forwards:    true,
		Binary:      "/usr/sbin/nginx",
		Reload:      "nginx -s reload (SIGHUP to the master; old workers finish their connections)",
		Stop:        "SIGQUIT (graceful shutdown)",
		Unix:        true,
		HTTP2:       []Protocol{H2C, H2},
		EarlyAnswer: `location = /early { return 200 "early\n"; } (nginx reads and drops the body after answering)`,
		Timeout:     "send_timeout, client_body_timeout, proxy_send_timeout, proxy_read_timeout",
		BytesField:  "$body_bytes_sent (body bytes written to the socket) and $bytes_sent; $request_completion is OK only for a finished response",
		Services:    []string{"nginx"},
		version:     []string{"/usr/sbin/nginx", "-v"},
		versionRe:   mustRe(`nginx version: (nginx/\S+)`),
		parse:       tsvLog{end: nginxEnd, unit: time.Second}.parse,
		errorRe:     mustRe(`timed out|prematurely closed|\[crit\]|\[alert\]|failed \(\d+:|reset by peer|Broken pipe|while sending`),
		prepare: func(p *plan) error {
			conf, err := p.render("nginx.conf", "nginx.conf")
			if err != nil {
				return err
			}
			p.argv = []string{"/usr/sbin/nginx", "-e", p.Error, "-c", conf}
			p.stop = syscall.SIGQUIT
			p.reload = commandReload("/usr/sbin/nginx", "-e", p.Error, "-c", conf, "-s", "reload")
			p.early = true
			return nil
		},
	}
}

// nginxEnd: $request_completion is "OK" when the response was finished,
// empty otherwise.
func nginxEnd(state string, _ int) End {
	if state == "OK" {
		return EndComplete
	}
	return EndCut
}
