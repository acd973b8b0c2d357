package survey

import (
	"strconv"
	"syscall"
)

// nodeHTTP: Node.js's http module (templates/node/server.js) serving the
// static files. No reload; a stop is SIGTERM, which calls server.close():
// no new connections, idle ones closed, the process exits once the
// responses in flight have ended.
func nodeHTTP() Server {
	return Server{
		Name:        "node",
		Packages:    []string{"nodejs"},
		Binary:      "/usr/bin/node",
		Stop:        "SIGTERM: server.close() (exits when the open responses end)",
		Unix:        true,
		EarlyAnswer: `POST /early: res.end("early\n") without reading the body`,
		Timeout:     "server.timeout (socket inactivity; the socket is destroyed)",
		BytesField:  "body bytes handed to the response; state complete when every byte was flushed (writableFinished), cut when node never got the whole body, unflushed (unknown) when the socket closed first",
		Services:    []string{},
		Note:        "the script is ours; HTTP/2 is node's separate http2 module, not the http server surveyed here",
		version:     []string{"/usr/bin/node", "--version"},
		versionRe:   mustRe(`(v\d+\.\S+)`),
		parse:       tsvLog{end: stateIs("complete", "cut")}.parse,
		errorRe:     mustRe(`node: response cut|Error|ECONNRESET|EPIPE`),
		prepare: func(p *plan) error {
			script, err := p.copyFile("templates/node/server.js", "server.js")
			if err != nil {
				return err
			}
			listen := strconv.Itoa(p.Port)
			if p.Socket != "" {
				listen = p.Socket
			}
			p.argv = []string{"/usr/bin/node", script, listen, p.Docroot, p.Access, strconv.FormatInt(p.Millis(), 10)}
			p.stop = syscall.SIGTERM
			p.logs.Error = nil
			p.early = true
			return nil
		},
	}
}
