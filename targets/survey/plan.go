package survey

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

//go:embed templates control/main.go
var files embed.FS

// plan is one server's start-up: the template data (exported fields) and
// what its recipe's prepare filled in (unexported ones).
type plan struct {
	Name     string
	Dir      string // Config.Dir/NAME: configuration, pid, logs, sockets
	Docroot  string // Config.Dir/www: bytes/{n}
	Host     string // 127.0.0.1
	Port     int    // TCP port; 0 with a Unix socket
	Socket   string // the Unix socket path; "" with TCP
	TLS, H2C bool
	Cert     string // PEM certificate and key, with TLS
	Key      string
	Upstream string // origin "127.0.0.1:PORT"; "" without one
	UpHost   string
	UpPort   int
	Prefix   string // UpstreamPrefix
	Early    string // EarlyPath
	Timeout  time.Duration
	Access   string // access log
	Error    string // error log
	Pid      string // pid file
	Files    []int64

	argv     []string
	env      []string
	stop     syscall.Signal
	reload   func(ctx context.Context, in *Instance) error
	sidecars [][]string // long-running helpers started once the server answers (a log reader)
	logs     Logs
	settled  func() error // nil, or a check that must pass too before the server counts as ready
	owner    string       // user that must own Dir (the server drops to it)
	early    bool         // EarlyPath is configured
}

func newPlan(s Server, c Config) *plan {
	dir := filepath.Join(c.Dir, s.Name)
	p := &plan{
		Name: s.Name, Dir: dir, Docroot: filepath.Join(c.Dir, "www"), Host: "127.0.0.1", Port: c.Port,
		TLS: c.Protocol == H2, H2C: c.Protocol == H2C, Prefix: UpstreamPrefix, Early: EarlyPath,
		Timeout: c.SendTimeout, Access: filepath.Join(dir, "access.log"), Error: filepath.Join(dir, "error.log"),
		Pid: filepath.Join(dir, s.Name+".pid"), Files: c.Files, stop: syscall.SIGTERM,
	}
	if c.Network == "unix" {
		p.Socket = filepath.Join(dir, s.Name+".sock")
	}
	if c.Upstream != "" {
		p.UpHost, p.UpPort, _ = upstreamAddr(c.Upstream)
		p.Upstream = p.UpHost + ":" + strconv.Itoa(p.UpPort)
	}
	if p.TLS {
		p.Cert, p.Key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	}
	p.logs = Logs{Access: []string{p.Access}, Error: []string{p.Error},
		Stdout: filepath.Join(dir, "stdout.log"), Stderr: filepath.Join(dir, "stderr.log")}
	return p
}

// Listen is "127.0.0.1:PORT" or the socket path.
func (p *plan) Listen() string {
	if p.Socket != "" {
		return p.Socket
	}
	return p.Host + ":" + strconv.Itoa(p.Port)
}

// Secs is the send timeout in whole seconds, rounded up, at least 1.
func (p *plan) Secs() int { return int(math.Max(1, math.Ceil(p.Timeout.Seconds()))) }

// Millis is the send timeout in milliseconds.
func (p *plan) Millis() int64 { return p.Timeout.Milliseconds() }

// render writes templates/NAME/tmpl (text/template, the plan as data) to Dir/out.
func (p *plan) render(tmpl, out string) (string, error) {
	src, err := files.ReadFile("templates/" + p.Name + "/" + tmpl)
	if err != nil {
		return "", err
	}
	t, err := template.New(tmpl).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return "", fmt.Errorf("template %s: %w", tmpl, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		return "", fmt.Errorf("template %s: %w", tmpl, err)
	}
	path := filepath.Join(p.Dir, out)
	return path, os.WriteFile(path, b.Bytes(), 0o644)
}

// copyFile writes an embedded file (a script) to Dir/out.
func (p *plan) copyFile(src, out string) (string, error) {
	b, err := files.ReadFile(src)
	if err != nil {
		return "", err
	}
	path := filepath.Join(p.Dir, out)
	return path, os.WriteFile(path, b, 0o644)
}

// chown gives Dir (recursively) to the user the server drops to.
func (p *plan) chown() error {
	if p.owner == "" {
		return nil
	}
	u, err := user.Lookup(p.owner)
	if err != nil {
		return fmt.Errorf("user %s (the server runs as it): %w", p.owner, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(p.Dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// signalReload reloads by sending sig to the server's main process.
func signalReload(sig syscall.Signal) func(context.Context, *Instance) error {
	return func(_ context.Context, in *Instance) error {
		pid := in.Pid()
		if pid == 0 {
			return fmt.Errorf("%s: not running", in.Server.Name)
		}
		return syscall.Kill(pid, sig)
	}
}

// commandReload reloads by running the server's own control command.
func commandReload(argv ...string) func(context.Context, *Instance) error {
	return func(ctx context.Context, in *Instance) error {
		return runControl(ctx, argv, in.p.env)
	}
}

// runControl runs a server's control command, bounded, and returns its
// output with the error.
func runControl(ctx context.Context, argv []string, env []string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
