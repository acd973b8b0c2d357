package survey

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// haproxy: HAProxy in master-worker mode (-W), foreground (-db), a pure
// proxy in front of Config.Upstream. It logs to its stdout (log stdout
// format raw), which is the access log. A reload is SIGUSR2 to the
// master (new worker; the old one finishes its connections, bounded by
// hard-stop-after 30s); a stop is SIGUSR1 (soft stop).
func haproxy() Server {
	return Server{
		Name:        "haproxy",
		Packages:    []string{"haproxy"},
		Binary:      "/usr/sbin/haproxy",
		Proxy:       true,
		Reload:      "SIGUSR2 to the master (master-worker mode -W); hard-stop-after 30s bounds the old worker",
		Stop:        "SIGUSR1 to the master (soft stop)",
		Unix:        true,
		HTTP2:       []Protocol{H2C, H2},
		EarlyAnswer: `http-request return status 200 string "early" if { path /early } (answered from the head)`,
		Timeout:     "timeout client, timeout server",
		BytesField:  "%B bytes sent to the client, head included (no body-only count); %ts termination state: -- normal, ?D cut in the data phase",
		Services:    []string{"haproxy"},
		version:     []string{"/usr/sbin/haproxy", "-v"},
		versionRe:   mustRe(`HAProxy version (\S+)`),
		parse:       tsvLog{end: haproxyEnd}.parse,
		errorRe:     mustRe(`(?i)\t[CScsPIDKUR][DL]\t|alert|emerg`),
		prepare: func(p *plan) error {
			if p.TLS {
				cert, err := os.ReadFile(p.Cert)
				if err != nil {
					return err
				}
				key, err := os.ReadFile(p.Key)
				if err != nil {
					return err
				}
				if err := os.WriteFile(p.Dir+"/haproxy.pem", append(cert, key...), 0o600); err != nil {
					return err
				}
			}
			conf, err := p.render("haproxy.cfg", "haproxy.cfg")
			if err != nil {
				return err
			}
			master := p.Dir + "/master.sock"
			p.argv = []string{"/usr/sbin/haproxy", "-W", "-db", "-S", master, "-f", conf}
			// The worker answers before the master runs its loop; a signal
			// sent in between was seen to go unheeded (a soft stop that
			// never came). Ready means the master answers its CLI too.
			p.settled = func() error { return haproxyMaster(master) }
			p.stop = syscall.SIGUSR1
			p.reload = signalReload(syscall.SIGUSR2)
			p.logs.Access = []string{p.logs.Stdout}
			p.logs.Error = nil
			p.early = true
			return nil
		},
	}
}

// haproxyEnd reads the two-letter termination state: "--" a normal end;
// a second letter D (data phase) or L (last data) a cut; else unknown.
func haproxyEnd(state string, _ int) End {
	switch {
	case state == "--":
		return EndComplete
	case len(state) == 2 && strings.ContainsRune("DL", rune(state[1])):
		return EndCut
	}
	return EndUnknown
}

// haproxyMaster asks the master CLI for its processes: an answer means the
// master loop runs and handles signals.
func haproxyMaster(sock string) error {
	conn, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("show proc\n")); err != nil {
		return err
	}
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	if n > 0 && strings.Contains(string(buf[:n]), "master") {
		return nil
	}
	return fmt.Errorf("haproxy master CLI %s: %q, %v", sock, buf[:n], err)
}
