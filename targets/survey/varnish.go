package survey

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
)

// varnish: varnishd in the foreground (-F) with its work directory under
// Dir (-n), no jail (-j none, everything as root), a VCL that passes every
// request to Config.Upstream. Its log lives in shared memory; a
// varnishncsa beside it writes the access log. A reload is what
// varnishreload does: vcl.load and vcl.use through varnishadm (CLI on a
// loopback port with a secret under Dir); in-flight transfers keep their
// VCL. A stop is SIGTERM.
func varnish() Server {
	return Server{
		Name:        "varnish",
		Packages:    []string{"varnish"},
		Binary:      "/usr/sbin/varnishd",
		Proxy:       true,
		Reload:      "varnishadm vcl.load + vcl.use (what varnishreload does)",
		Stop:        "SIGTERM to the manager (stops the child)",
		Unix:        true,
		HTTP2:       []Protocol{H2C},
		EarlyAnswer: `vcl_recv: if (req.url == "/early") { return (synth(200, "early")); } (body not fetched)`,
		Timeout:     "-p send_timeout, -p idle_send_timeout, backend .between_bytes_timeout",
		BytesField:  "varnishncsa %b body bytes and %O bytes sent (ReqAcct); state is %{Varnish:handling}x, not a completion",
		Services:    []string{"varnish", "varnishncsa"},
		Note:        "no TLS in Varnish itself; h2c via -p feature=+http2",
		version:     []string{"/usr/sbin/varnishd", "-V"},
		versionRe:   mustRe(`\((varnish-\S+)`),
		parse:       tsvLog{}.parse,
		errorRe:     mustRe(`(?i)timeout|reset|broken pipe|write error|Panic|child .* died|Child \(\d+\) (died|not responding)`),
		prepare:     prepareVarnish,
	}
}

func prepareVarnish(p *plan) error {
	vcl, err := p.render("default.vcl", "default.vcl")
	if err != nil {
		return err
	}
	work := filepath.Join(p.Dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	secretFile := filepath.Join(p.Dir, "secret")
	if err := os.WriteFile(secretFile, []byte(hex.EncodeToString(secret)+"\n"), 0o600); err != nil {
		return err
	}
	admin, err := freePort()
	if err != nil {
		return err
	}
	listen := p.Listen()
	if p.Socket != "" {
		listen += ",mode=0666"
	}
	p.argv = []string{"/usr/sbin/varnishd", "-F", "-n", work, "-j", "none", "-a", listen, "-f", vcl,
		"-T", "127.0.0.1:" + strconv.Itoa(admin), "-S", secretFile, "-s", "malloc,256m", "-P", p.Pid}
	if p.Timeout > 0 {
		secs := strconv.FormatFloat(p.Timeout.Seconds(), 'f', 3, 64)
		p.argv = append(p.argv, "-p", "send_timeout="+secs, "-p", "idle_send_timeout="+secs)
	}
	if p.H2C {
		p.argv = append(p.argv, "-p", "feature=+http2")
	}
	p.sidecars = [][]string{{"/usr/bin/varnishncsa", "-n", work, "-t", "off", "-w", p.Access,
		"-F", `%{X-Request-Id}i	%s	%b	%O	%m	%U%q	%{Varnish:handling}x	%D`}}
	p.logs.Error = nil
	var n atomic.Int64
	p.reload = func(ctx context.Context, in *Instance) error {
		name := fmt.Sprintf("reload%d", n.Add(1))
		adm := func(args ...string) error {
			return runControl(ctx, append([]string{"/usr/bin/varnishadm", "-n", work, "-t", "10"}, args...), nil)
		}
		if err := adm("vcl.load", name, vcl); err != nil {
			return err
		}
		return adm("vcl.use", name)
	}
	p.early = true
	return nil
}
