package survey

import "strings"

// squid: Squid as a reverse proxy (http_port ... accel, the origin a
// cache_peer) in the foreground (-N, no kids), dropping to the user
// proxy (Dir/squid is given to it). Nothing is cached. A reload is
// `squid -k reconfigure`; a stop is SIGTERM, bounded by
// shutdown_lifetime 2 seconds.
func squid() Server {
	return Server{
		Name:        "squid",
		Packages:    []string{"squid"},
		Binary:      "/usr/sbin/squid",
		Proxy:       true,
		Reload:      "squid -k reconfigure",
		Stop:        "SIGTERM (shutdown_lifetime 2 seconds, then open connections are closed)",
		EarlyAnswer: "http_access deny on /early: 403 from the request head",
		Timeout:     "read_timeout, write_timeout (whole seconds)",
		BytesField:  "%<st bytes sent to the client, head included; %Ss has _ABORTED or _TIMEDOUT for some unfinished transfers, but a write_timeout cut is logged as plain TCP_MISS (only the short %<st tells)",
		Services:    []string{"squid"},
		Note:        "no Unix-socket listener; HTTP/2 not spoken by Squid 5",
		version:     []string{"/usr/sbin/squid", "-v"},
		versionRe:   mustRe(`Squid Cache: Version (\S+)`),
		parse:       tsvLog{end: squidEnd}.parse,
		errorRe:     mustRe(`(?i)timeout|timed out|reset by peer|broken pipe|aborted|premature|ERR_READ|ERR_WRITE|ERR_ZERO_SIZE`),
		prepare: func(p *plan) error {
			conf, err := p.render("squid.conf", "squid.conf")
			if err != nil {
				return err
			}
			p.argv = []string{"/usr/sbin/squid", "-N", "-f", conf}
			p.reload = commandReload("/usr/sbin/squid", "-f", conf, "-k", "reconfigure")
			p.owner = "proxy"
			p.early = true
			return nil
		},
	}
}

// squidEnd reads %Ss: a code with _ABORTED or _TIMEDOUT did not finish.
// Any other code says nothing about the end: a response cut by
// write_timeout is logged TCP_MISS with the short byte count.
func squidEnd(state string, _ int) End {
	if strings.Contains(state, "ABORTED") || strings.Contains(state, "TIMEDOUT") {
		return EndCut
	}
	return EndUnknown
}
