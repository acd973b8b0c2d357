// Package survey runs real servers from Debian's packages on loopback, so
// the survey can ask each of them whether it cuts large responses: under
// slow readers, reloads, restarts, early answers to unread uploads, its
// own low timeouts and, for proxies, an upstream that cuts.
//
// The server layer: a recipe per server ([Server], one file each),
// [Install] for what is missing, [Start] for a configuration written
// under a directory of the caller's, and an [Instance] to reload, restart,
// stop and read evidence from. The survey on top of it (run*.go,
// conditions.go, account.go, upstream.go): [Conditions] are the table's
// columns (scenarios.Hunt's hunting set on large files, a stalled reader,
// the server's own send timeout, an upstream that cuts), [NewPlan] makes
// one scenario per server and condition with its control, a [Runner]
// keeps the right server running for each, and [LogAccounts] turns its
// access log into the account that decides silence. `truncheck survey`
// runs it and writes the results and the table.
//
//	NewPlan ──> cells (server × condition, each with its control) + results.Grid
//	  │ for each cell, in order (server by server; send-timeout last):
//	  v
//	Runner.Target ── Start / Stop the server (Config: Upstream, SendTimeout)
//	  │   harness.Target{URL, Restart: Instance.Restart, Reload.Func: Instance.Reload,
//	  │                  Accounts: LogAccounts(access log) ──> results.Account}
//	  v
//	harness.RunScenario ──> records (silent | noticed | silent?) ──> the grid's cell
//
//	Upstream (StartUpstream, in this process): /bytes/N (origin.Bodies),
//	  /cut-cl/bytes/N (Content-Length N, N/4 bytes, FIN), /cut-close/bytes/N (no length, N/4, FIN)
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
// is [EndUnknown] and only the byte count speaks. [Request.Account] is
// the rule in one place: a cut state or a count short of what the server
// was bound to send is noticed; its word that it finished, or a count
// that reaches the promise, is complete (silent, for a cut the client
// saw end cleanly); anything else is unknown.
//
// # Our own servers
//
// Three rows are servers we write: the Go control (control/main.go, built
// with the local Go toolchain), Node.js's http module
// (templates/node/server.js) and a WSGI app under Debian's gunicorn
// (templates/gunicorn/app.py). They serve the same files and log in the
// same tab-separated shape as the configured servers.
package survey
