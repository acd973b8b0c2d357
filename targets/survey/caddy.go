package survey

import (
	"encoding/json"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// caddy: Caddy 2 from a Caddyfile, foreground (`caddy run`), its admin
// API on a Unix socket under Dir (never a TCP port). A reload is `caddy
// reload` through that socket (a new config; the old servers close
// gracefully, bounded by grace_period 5s); a stop is SIGTERM (graceful).
func caddy() Server {
	return Server{
		Name:        "caddy",
		Packages:    []string{"caddy"},
		Forwards:    true,
		Binary:      "/usr/bin/caddy",
		Reload:      "caddy reload --address unix/DIR/admin.sock (admin API; old servers drain within grace_period 5s)",
		Stop:        "SIGTERM (graceful, grace_period 5s)",
		Unix:        true,
		HTTP2:       []Protocol{H2C, H2},
		EarlyAnswer: `handle /early { respond "early" 200 } (body unread)`,
		Timeout:     "servers { timeouts { write } }",
		BytesField:  `JSON "size": body bytes written; cut when it is short of the response's Content-Length`,
		Services:    []string{"caddy"},
		version:     []string{"/usr/bin/caddy", "version"},
		versionRe:   mustRe(`^(v?\d+\.\d+\.\d+\S*)`),
		parse:       parseCaddy,
		errorRe:     mustRe(`(?i)broken pipe|reset by peer|i/o timeout|"level":"error"|aborting with incomplete response`),
		prepare: func(p *plan) error {
			conf, err := p.render("Caddyfile", "Caddyfile")
			if err != nil {
				return err
			}
			admin := "unix/" + p.Dir + "/admin.sock"
			p.env = []string{"XDG_DATA_HOME=" + p.Dir + "/data", "XDG_CONFIG_HOME=" + p.Dir + "/config", "HOME=" + p.Dir}
			p.argv = []string{"/usr/bin/caddy", "run", "--config", conf, "--adapter", "caddyfile"}
			p.reload = commandReload("/usr/bin/caddy", "reload", "--config", conf, "--adapter", "caddyfile", "--address", admin, "--force")
			p.stop = syscall.SIGTERM
			p.early = true
			return nil
		},
	}
}

// parseCaddy reads one JSON access-log entry.
func parseCaddy(line string) (Request, bool) {
	var e struct {
		Msg     string  `json:"msg"`
		Status  int     `json:"status"`
		Size    *int64  `json:"size"`
		Dur     float64 `json:"duration"`
		Request struct {
			Method  string              `json:"method"`
			URI     string              `json:"uri"`
			Headers map[string][]string `json:"headers"`
		} `json:"request"`
		RespHeaders map[string][]string `json:"resp_headers"`
	}
	if err := json.Unmarshal([]byte(line), &e); err != nil || e.Request.Method == "" {
		return Request{}, false
	}
	r := Request{Method: e.Request.Method, Target: e.Request.URI, Status: e.Status, BodyBytes: -1, WireBytes: -1,
		Duration: time.Duration(e.Dur * float64(time.Second)), Line: line}
	for k, v := range e.Request.Headers {
		if strings.EqualFold(k, "X-Request-Id") && len(v) > 0 {
			r.ID = v[0]
		}
	}
	if e.Size != nil {
		r.BodyBytes = *e.Size
	}
	for k, v := range e.RespHeaders {
		if strings.EqualFold(k, "Content-Length") && len(v) > 0 && r.BodyBytes >= 0 {
			if cl, err := strconv.ParseInt(v[0], 10, 64); err == nil {
				r.State = "size " + strconv.FormatInt(r.BodyBytes, 10) + " of " + v[0]
				r.End = EndComplete
				if r.BodyBytes < cl {
					r.End = EndCut
				}
			}
		}
	}
	return r, true
}
