// Package survey runs real servers from Debian's packages on loopback, so
// the survey can ask each of them whether it cuts large responses: under
// slow readers, reloads, restarts, early answers to unread uploads, its
// own low timeouts and, for proxies, an upstream that cuts.
//
// It is the server layer only: a recipe per server ([Server], one file
// each), [Install] for what is missing, [Start] for a configuration written
// under a directory of the caller's, and an [Instance] to reload, restart,
// stop and read evidence from. Hunting scenarios and the results table
// live elsewhere.
//
// # The data path
//
//	client (harness, scenarios)            origin (ours: Config.Upstream)
//	     |  GET /bytes/N, X-Request-Id          ^
//	     v                                      | proxies, and /up/... on
//	[ loopback TCP 127.0.0.1:PORT | Unix socket | file servers that proxy
//	  | TLS (h2) | h2c ]                        |
//	     |                                      |
//	+----+--------------------------------------+----+   Dir/NAME/
//	| server from its Debian package, foreground,    |-> NAME.conf (text/template)
//	| own process group; Dir/www/bytes/N served      |-> access log: id status bytes state
//	| with Content-Length (Body(N): deterministic)   |-> error log, stdout, stderr
//	+------------------------------------------------+
//	     ^ Reload: the server's own (nginx -s reload, apache2 -k graceful,
//	     |         SIGUSR2 to haproxy's master, caddy reload, SIGHUP, ...)
//	     | Stop:   its graceful stop, then SIGKILL to the group after StopTimeout
//	Instance.Evidence: access-log lines read into one Request shape
//	(status, body/wire bytes, the server's own word on the end) and the
//	error-log lines that show the server knew a response was cut.
//
// Nothing listens beyond 127.0.0.1 or a Unix socket under Dir; admin
// interfaces are Unix sockets (caddy, haproxy) or loopback ports (the
// varnish CLI). Daemons a package starts on install are stopped again.
//
// # Evidence, not guesses
//
// A cut is "silent" only where a log proves the server believed it was
// done: nginx's $request_completion, apache's %X, haproxy's termination
// state, trafficserver's client finish status, caddy's size against its
// own Content-Length, our own servers' state column. Where a log cannot
// say (h2o 2.2, varnishncsa, gunicorn, squid's plain TCP_MISS) [Request.End]
// is [EndUnknown] and only the byte count speaks.
//
// # Our own servers
//
// Three rows are servers we write: the Go control (control/main.go, built
// with the local Go toolchain), Node.js's http module
// (templates/node/server.js) and a WSGI app under Debian's gunicorn
// (templates/gunicorn/app.py). They serve the same files and log in the
// same tab-separated shape as the configured servers.
package survey
