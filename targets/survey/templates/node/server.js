// The survey's Node.js server: node's http module serving the static files
// with Content-Length, POST /early answered without reading the body, one
// TSV access-log line per response, and server.close() on SIGTERM.
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');

const [listen, root, accessLog, timeoutMs] = process.argv.slice(2);
// Written synchronously, line by line: nothing is lost when the process exits.
const logFd = fs.openSync(accessLog, 'a');

const server = http.createServer((req, res) => {
  const start = process.hrtime.bigint();
  let body = 0;
  let logged = false;
  const record = () => {
    if (logged) return;
    logged = true;
    const us = (process.hrtime.bigint() - start) / 1000n;
    // finished: every byte was flushed to the socket; fewer body bytes
    // handed over than promised: cut; all handed over but not flushed
    // (the socket closed first, also after a peer that read everything
    // and hung up): unflushed, which proves nothing either way.
    const promised = Number(res.getHeader('content-length'));
    const state = res.writableFinished ? 'complete' : (body < promised ? 'cut' : 'unflushed');
    const id = req.headers['x-request-id'] || '-';
    fs.writeSync(logFd, `${id}\t${res.statusCode}\t${body}\t-\t${req.method}\t${req.url}\t${state}\t${us}\n`);
    if (state === 'cut') {
      process.stderr.write(`node: response cut: id ${id} ${req.url} after ${body} body bytes\n`);
    }
  };
  // 'finish': every byte flushed; 'close' first: it was not.
  res.on('finish', record);
  res.on('close', record);
  const send = (status, text) => {
    body = Buffer.byteLength(text);
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': body });
    res.end(text);
  };
  if (req.method === 'POST' && req.url === '/early') {
    return send(200, 'early\n'); // the request body is never read
  }
  const m = /^\/bytes\/(\d+)$/.exec(req.url);
  if (req.method === 'GET' && m) {
    const file = path.join(root, 'bytes', m[1]);
    return fs.stat(file, (err, st) => {
      if (err) return send(404, 'not found\n');
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': st.size });
      const rs = fs.createReadStream(file, { highWaterMark: 1 << 20 });
      rs.on('data', (chunk) => { body += chunk.length; });
      rs.on('error', () => res.destroy());
      rs.pipe(res);
    });
  }
  send(req.url === '/' ? 200 : 404, 'node\n');
});

if (Number(timeoutMs) > 0) {
  server.timeout = Number(timeoutMs); // socket inactivity: destroyed after this long
}
if (listen.startsWith('/')) {
  try { fs.unlinkSync(listen); } catch (e) { /* not there */ }
}
server.listen(/^\d+$/.test(listen) ? { host: '127.0.0.1', port: Number(listen) } : { path: listen });

process.on('SIGTERM', () => {
  process.stderr.write('node: SIGTERM: server.close()\n');
  // No process.exit: node ends once nothing is pending, after the last
  // responses and their log lines.
  server.close();
});
