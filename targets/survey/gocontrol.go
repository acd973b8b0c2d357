package survey

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// goControl is Go's net/http (control/main.go, built by the local Go
// toolchain into Dir/go): the survey's control row. http.Server.Shutdown
// on SIGTERM; no reload.
func goControl() Server {
	goBin := "/usr/local/go/bin/go"
	if p, err := exec.LookPath("go"); err == nil {
		goBin = p
	}
	return Server{
		Name:        "go",
		Binary:      goBin,
		Stop:        "SIGTERM (http.Server.Shutdown: waits for active connections)",
		Unix:        true,
		HTTP2:       []Protocol{H2C, H2},
		EarlyAnswer: `POST /early: the handler answers "early\n" and returns without reading the body`,
		Timeout:     "http.Server.WriteTimeout",
		BytesField:  "body bytes the handler's Write calls accepted; state cut when a Write failed or fewer bytes than Content-Length went out",
		Note:        "built from control/main.go with the Go toolchain; no Debian package",
		version:     []string{goBin, "version"},
		versionRe:   mustRe(`go version (go\S+)`),
		parse:       tsvLog{end: stateIs("complete", "cut")}.parse,
		errorRe:     mustRe(`control: response cut`),
		prepare: func(p *plan) error {
			bin, err := buildControl(p)
			if err != nil {
				return err
			}
			p.argv = []string{bin, "-root", p.Docroot, "-access", p.Access, "-listen", p.Listen(), "-network", "tcp"}
			if p.Socket != "" {
				p.argv[len(p.argv)-1] = "unix"
			}
			if p.Timeout > 0 {
				p.argv = append(p.argv, "-write-timeout", p.Timeout.String())
			}
			if p.TLS {
				p.argv = append(p.argv, "-cert", p.Cert, "-key", p.Key)
			}
			if p.H2C {
				p.argv = append(p.argv, "-h2c")
			}
			p.logs.Error = nil
			p.early = true
			return nil
		},
	}
}

// buildControl builds control/main.go into Dir/control, once per Dir.
func buildControl(p *plan) (string, error) {
	dir := filepath.Join(p.Dir, "build")
	bin := filepath.Join(p.Dir, "control")
	src, err := files.ReadFile("control/main.go")
	if err != nil {
		return "", err
	}
	if old, err := os.ReadFile(filepath.Join(dir, "main.go")); err == nil && string(old) == string(src) {
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module control\n\ngo 1.24\n"), 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goControl().Binary, "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build of the control: %w: %s", err, out)
	}
	return bin, nil
}
