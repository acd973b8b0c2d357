package survey

import (
	"syscall"
	"time"
)

// h2o: h2o 2.2 under its bundled server starter (-m master), as root.
// A reload is SIGHUP to the starter: it starts a new h2o on the same
// sockets and sends the old one SIGTERM. A stop is SIGTERM to the starter.
func h2o() Server {
	return Server{
		Name:       "h2o",
		Packages:   []string{"h2o"},
		Forwards:   true,
		noTimeout:  true,
		Binary:     "/usr/bin/h2o",
		Reload:     "SIGHUP to the server starter (h2o -m master): new h2o on the same sockets, SIGTERM to the old one",
		Stop:       "SIGTERM to the server starter (passed on to h2o)",
		Unix:       true,
		HTTP2:      []Protocol{H2C, H2},
		Timeout:    "none: h2o 2.2 has no send/write timeout knob (its I/O timeout is fixed)",
		BytesField: "%b body bytes sent; no completion status (2.2 has no %{error}x)",
		Services:   []string{"h2o"},
		Note:       "no early answer: h2o 2.2 reads the whole request body before any handler runs; h2c needs no configuration (prior knowledge and Upgrade are on)",
		version:    []string{"/usr/bin/h2o", "--version"},
		versionRe:  mustRe(`h2o version (\S+)`),
		parse:      tsvLog{unit: time.Second}.parse,
		errorRe:    mustRe(`(?i)timeout|timed out|reset|broken pipe|closed prematurely|\[error\]`),
		prepare: func(p *plan) error {
			conf, err := p.render("h2o.conf", "h2o.conf")
			if err != nil {
				return err
			}
			p.argv = []string{"/usr/bin/h2o", "-m", "master", "-c", conf}
			p.reload = signalReload(syscall.SIGHUP)
			return nil
		},
	}
}
