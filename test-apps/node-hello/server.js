// node-hello: the smallest Node web app a Palisade user would deploy on Heroku (standard library
// only). Every request is answered with JSON describing what reached the app, so tests can tell
// what Palisade let through: method, path, header names (never values: they may carry PHI or
// credentials), body length and the body's sha256.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');

// palisade sets PORT to the app's private port; without palisade (or with the kill switch) it is
// the public port Heroku assigned.
const port = Number.parseInt(process.env.PORT || '5000', 10);
// All interfaces by default, as Heroku apps must when they serve the router directly (kill switch).
const host = process.env.HOST || '0.0.0.0';

const server = http.createServer((req, res) => {
  const hash = crypto.createHash('sha256');
  let length = 0;
  req.on('data', (chunk) => {
    length += chunk.length;
    hash.update(chunk);
  });
  req.on('end', () => {
    const url = new URL(req.url, 'http://app.invalid');
    const body = JSON.stringify({
      app: 'node-hello',
      method: req.method,
      path: url.pathname,
      header_names: Object.keys(req.headers).sort(),
      body_length: length,
      body_sha256: hash.digest('hex'),
    });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  req.on('error', () => {
    res.statusCode = 400;
    res.end();
  });
});

server.listen(port, host, () => {
  console.log(`node-hello listening on ${host}:${port}`);
});

// Heroku sends SIGTERM and SIGKILLs 30 s later: finish in-flight requests, then exit.
process.on('SIGTERM', () => {
  console.log('node-hello: SIGTERM, closing');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 10000).unref();
});
