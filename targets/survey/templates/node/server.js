// The survey's Node.js server: node's http module serving the static files
// with Content-Length, POST /early answered without reading the body, one
// TSV access-log line per response, and server.close() on SIGTERM.
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');

const [listen, root, accessLog, timeoutMs] = process.argv.slice(2);
const log = fs.createWriteStream(accessLog, { flags: 'a' });

const server = http.createServer((req, res) => {
  const start = process.hrtime.bigint();
  let body = 0;
  let finished = false;
  res.on('finish', () => { finished = true; });
  res.on('close', () => {
    const us = (process.hrtime.bigint() - start) / 1000n;
    const state = finished ? 'complete' : 'cut';
    const id = req.headers['x-request-id'] || '-';
    log.write(`${id}\t${res.statusCode}\t${body}\t-\t${req.method}\t${req.url}\t${state}\t${us}\n`);
    if (!finished) {
      process.stderr.write(`node: response cut: id ${id} ${req.url} after ${body} body bytes\n`);
    }
  });
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
  server.close(() => log.end(() => process.exit(0)));
});
