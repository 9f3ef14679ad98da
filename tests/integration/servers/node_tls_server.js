// A Node.js https server (TLSWrap: OpenSSL writes into memory BIOs, the
// event loop sends the records later) for test_tls_node.py, HTTP/1.1
// keep-alive, keeping its own counters of what it answered: one line per
// response, "METHOD PATH STATUS BODY_BYTES REQUEST_BODY_BYTES", appended to
// the truth file when the response is finished.
//
//   node node_tls_server.js CERT KEY TRUTH PORT
//
//   GET  /bytes/N            N bytes (Content-Length), one write
//   GET  /chunked/K/S        K res.write() calls of S bytes each, a tick apart
//                            (Transfer-Encoding: chunked), then res.end()
//   POST /upload             reads the body, answers its length as text
//   GET  /call?url=U         makes an outgoing https.get to U (certificate not
//                            checked), answers "called"
//   anything else            404
'use strict';
const fs = require('fs');
const https = require('https');
const [cert, key, truth, port] = process.argv.slice(2);

function answer(req, res, status, body, received) {
  res.on('finish', () => {
    const path = new URL(req.url, 'https://x').pathname;
    fs.appendFileSync(truth, `${req.method} ${path} ${status} ${body} ${received}\n`);
  });
  res.statusCode = status;
}

function chunked(req, res, k, size) {
  answer(req, res, 200, k * size, 0);
  res.setHeader('Content-Type', 'application/octet-stream');
  let i = 0;
  const next = () => {
    if (i++ === k) return res.end();
    res.write(Buffer.alloc(size, 0x63));
    setImmediate(next);
  };
  next();
}

const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  const url = new URL(req.url, 'https://x');
  const parts = url.pathname.split('/');
  let received = 0;
  req.on('data', (d) => { received += d.length; });
  req.on('end', () => {
    if (req.method === 'GET' && parts[1] === 'bytes') {
      const body = Buffer.alloc(parseInt(parts[2], 10), 0x62);
      answer(req, res, 200, body.length, 0);
      res.setHeader('Content-Length', body.length);
      res.end(body);
    } else if (req.method === 'GET' && parts[1] === 'chunked') {
      chunked(req, res, parseInt(parts[2], 10), parseInt(parts[3], 10));
    } else if (req.method === 'POST' && url.pathname === '/upload') {
      const body = String(received);
      answer(req, res, 200, body.length, received);
      res.setHeader('Content-Length', body.length);
      res.end(body);
    } else if (req.method === 'GET' && url.pathname === '/call') {
      https.get(url.searchParams.get('url'), { rejectUnauthorized: false }, (up) => {
        up.resume();
        up.on('end', () => {
          answer(req, res, 200, 6, 0);
          res.setHeader('Content-Length', 6);
          res.end('called');
        });
      }).on('error', (e) => {
        answer(req, res, 502, 0, 0);
        res.end();
        console.error(e);
      });
    } else {
      answer(req, res, 404, 8, 0);
      res.setHeader('Content-Length', 8);
      res.end('not here');
    }
  });
});
server.keepAliveTimeout = 30000;
server.listen(parseInt(port, 10), '127.0.0.1', () => console.log('listening'));
