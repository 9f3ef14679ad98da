// A Node.js http server for the integration tests. Every route's response
// body is known exactly, so the test can compare byte sums.
//   GET  /chunked?n=K&size=S   K chunks of S bytes each (Transfer-Encoding: chunked)
//   GET  /fixed/<id>           Content-Length body of 100 bytes
//   POST /echo-size            reads the request body, answers its length as text
//   GET  /proxy?port=P         makes its own outgoing request to 127.0.0.1:P/upstream
//   GET  /status/<code>        empty body with that status
//   GET  /parts/<name>?sizes=A,B,..[&status=C][&spread=1]
//                              one res.write() per size, then res.end(); all in one tick
//                              (Node sends the head and every chunk as ONE writev, four
//                              iovecs per chunk), or each in its own tick with spread=1
// With a third argument FILE, SIGUSR2 writes the server's own counters of
// /parts there as JSON: {"requests": {"<path> <status>": n}, "body": {"<path>": bytes}},
// then "counters written" on stdout.
'use strict';
const fs = require('fs');
const http = require('http');
const port = parseInt(process.argv[2], 10);
const countersFile = process.argv[3];
const counters = { requests: {}, body: {} };

function parts(url, res) {
  const sizes = (url.searchParams.get('sizes') || '').split(',').filter((x) => x).map((x) => parseInt(x, 10));
  const status = parseInt(url.searchParams.get('status') || '200', 10);
  const spread = url.searchParams.get('spread') === '1';
  const key = `${url.pathname} ${status}`;
  counters.requests[key] = (counters.requests[key] || 0) + 1;
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  let i = 0;
  const next = () => {
    while (i < sizes.length) {
      const n = sizes[i++];
      res.write('p'.repeat(n));
      counters.body[url.pathname] = (counters.body[url.pathname] || 0) + n;
      if (spread) {
        setImmediate(next);
        return;
      }
    }
    res.end();
  };
  next();
}

if (countersFile) {
  process.on('SIGUSR2', () => {
    fs.writeFileSync(countersFile, JSON.stringify(counters));
    console.log('counters written');
  });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname.startsWith('/parts/')) {
    parts(url, res);
  } else if (url.pathname === '/chunked') {
    const n = parseInt(url.searchParams.get('n') || '3', 10);
    const size = parseInt(url.searchParams.get('size') || '10', 10);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    let i = 0;
    const next = () => {
      if (i++ < n) {
        res.write('x'.repeat(size));
        setImmediate(next);
      } else {
        res.end();
      }
    };
    next();
  } else if (url.pathname.startsWith('/fixed/')) {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 100 });
    res.end('y'.repeat(100));
  } else if (url.pathname === '/echo-size' && req.method === 'POST') {
    let total = 0;
    req.on('data', (d) => { total += d.length; });
    req.on('end', () => {
      const body = String(total);
      res.writeHead(200, { 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  } else if (url.pathname === '/proxy') {
    const upstream = parseInt(url.searchParams.get('port'), 10);
    http.get({ host: '127.0.0.1', port: upstream, path: '/upstream', agent: false }, (up) => {
      up.resume();
      up.on('end', () => {
        res.writeHead(200, { 'Content-Length': 2 });
        res.end('ok');
      });
    }).on('error', () => { res.writeHead(502); res.end(); });
  } else if (url.pathname.startsWith('/status/')) {
    res.writeHead(parseInt(url.pathname.slice(8), 10) || 500, { 'Content-Length': 0 });
    res.end();
  } else {
    res.writeHead(404, { 'Content-Length': 9 });
    res.end('not found');
  }
});
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => console.log('listening ' + port));
