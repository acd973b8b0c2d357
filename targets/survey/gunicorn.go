package survey

import (
	"strconv"
	"syscall"
)

// gunicorn: Debian's python3-gunicorn (run as /usr/bin/python3 -m
// gunicorn) serving templates/gunicorn/app.py with two sync workers. A
// reload is SIGHUP to the arbiter (new workers, the old ones shut down
// gracefully); a stop is SIGTERM (graceful, --graceful-timeout 5).
// Its --timeout is the worker timeout: a sync worker busy longer than
// that (one slow download) is killed by the arbiter.
func gunicorn() Server {
	return Server{
		Name:        "gunicorn",
		Packages:    []string{"python3-gunicorn"},
		Binary:      "/usr/bin/python3",
		Reload:      "SIGHUP to the arbiter (new workers; the old ones finish gracefully)",
		Stop:        "SIGTERM (graceful, --graceful-timeout 5)",
		Unix:        true,
		EarlyAnswer: `POST /early: the app answers "early\n" without reading wsgi.input`,
		Timeout:     "--timeout (the sync worker's timeout: the arbiter kills a worker busy that long)",
		BytesField:  "%(B)s body bytes gunicorn sent (resp.sent); a killed worker logs no line",
		Note:        "Debian's package (no PyPI), run by Debian's python3; --no-sendfile, because with sendfile gunicorn 20.1 logs 0 body bytes for every file response",
		version:     []string{"/usr/bin/python3", "-m", "gunicorn", "--version"},
		versionRe:   mustRe(`version (\S+)\)`),
		parse:       tsvLog{}.parse,
		errorRe:     mustRe(`WORKER TIMEOUT|Broken pipe|reset by peer|\[ERROR\]|\[CRITICAL\]`),
		prepare: func(p *plan) error {
			if _, err := p.copyFile("templates/gunicorn/app.py", "app.py"); err != nil {
				return err
			}
			bind := p.Listen()
			if p.Socket != "" {
				bind = "unix:" + p.Socket
			}
			p.argv = []string{"/usr/bin/python3", "-m", "gunicorn", "--chdir", p.Dir, "--bind", bind,
				"--workers", "2", "--worker-class", "sync", "--no-sendfile", "--graceful-timeout", "5", "--pid", p.Pid,
				"--access-logfile", p.Access, "--error-logfile", p.Error,
				"--access-logformat", "%({x-request-id}i)s\t%(s)s\t%(B)s\t-\t%(m)s\t%(U)s\t-\t%(D)s"}
			if p.Timeout > 0 {
				p.argv = append(p.argv, "--timeout", strconv.Itoa(p.Secs()))
			}
			p.argv = append(p.argv, "app:app")
			p.env = []string{"SURVEY_ROOT=" + p.Docroot, "PYTHONDONTWRITEBYTECODE=1"}
			p.reload = signalReload(syscall.SIGHUP)
			p.early = true
			return nil
		},
	}
}
