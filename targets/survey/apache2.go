package survey

import (
	"strings"
	"syscall"
)

// apache2: Apache httpd with the event MPM, root parent, workers as
// www-data, foreground (-DFOREGROUND). A reload is `apache2 -k graceful`
// (SIGUSR1 to the parent: new children, old ones finish their
// requests); a stop is `graceful-stop` (SIGWINCH, bounded by
// GracefulShutdownTimeout 5).
func apache2() Server {
	return Server{
		Name:        "apache2",
		Packages:    []string{"apache2"},
		Forwards:    true,
		Binary:      "/usr/sbin/apache2",
		Reload:      "apachectl graceful (apache2 -k graceful: SIGUSR1 to the parent)",
		Stop:        "apache2 -k graceful-stop (SIGWINCH), GracefulShutdownTimeout 5",
		HTTP2:       []Protocol{H2C, H2},
		EarlyAnswer: "<Location /early> LimitRequestBody 1: 413 from the Content-Length alone, body unread",
		Timeout:     "Timeout, ProxyTimeout (whole seconds)",
		BytesField:  "%O bytes sent, head included (mod_logio); %X is X when the connection was aborted before the response completed. Not %B: it logged the whole 64 MiB for a response cut at 4.7 MB",
		Services:    []string{"apache2", "apache-htcacheclean"},
		Note:        "no Unix-socket listener in httpd",
		version:     []string{"/usr/sbin/apache2", "-v"},
		versionRe:   mustRe(`Server version: (Apache/\S+)`),
		parse:       tsvLog{end: apacheEnd}.parse,
		errorRe:     mustRe(`(?i)timeout|timed out|aborted|reset by peer|broken pipe|AH01102|AH00574|AH01110|error reading|writing to the client`),
		prepare: func(p *plan) error {
			conf, err := p.render("apache2.conf", "apache2.conf")
			if err != nil {
				return err
			}
			p.argv = []string{"/usr/sbin/apache2", "-d", p.Dir, "-f", conf, "-DFOREGROUND"}
			p.stop = syscall.SIGWINCH
			p.reload = commandReload("/usr/sbin/apache2", "-d", p.Dir, "-f", conf, "-k", "graceful")
			p.early = true
			return nil
		},
	}
}

// apacheEnd reads %X: "X" aborted before the response completed; "+"
// and "-" completed (kept alive or closed).
func apacheEnd(state string, _ int) End {
	switch strings.TrimSpace(state) {
	case "X":
		return EndCut
	case "+", "":
		return EndComplete
	}
	return EndUnknown
}
