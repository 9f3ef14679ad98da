// A Node.js http server that pipes files and takes uploads behind
// `Expect: 100-continue`, counting its own body bytes: every request
// appends "METHOD PATH STATUS REQUEST_BYTES RESPONSE_BYTES" to TRUTHFILE
// when its response closes (finished, or cut off by the client: a client
// that has every byte of a Content-Length body may hang up before the file
// stream has seen its end).
//   node_pipe_server.js PORT FILEDIR TRUTHFILE
//   GET  /pipe/NAME          fs.createReadStream(FILEDIR/NAME).pipe(res), chunked
//   GET  /pipe-sized/NAME    the same with Content-Length from stat()
//   POST /upload             reads the body, answers "read N"; after 100 Continue
//                            when the client asked for it (checkContinue)
//   POST /reject             refused with 417 before 100 Continue: the body is never read
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const [port, fileDir, truthFile] = [parseInt(process.argv[2], 10), process.argv[3], process.argv[4]];

function counted(req, res) {
  let wrote = 0;
  const write = res.write;
  const end = res.end;
  const size = (chunk) => (chunk && typeof chunk !== 'function' ? Buffer.byteLength(chunk) : 0);
  res.write = function (chunk, ...rest) {
    wrote += size(chunk);
    return write.call(this, chunk, ...rest);
  };
  res.end = function (chunk, ...rest) {
    wrote += size(chunk);
    return end.call(this, chunk, ...rest);
  };
  res.on('close', () => {
    const p = new URL(req.url, 'http://x').pathname;
    fs.appendFileSync(truthFile, `${req.method} ${p} ${res.statusCode} ${req.bodyBytes || 0} ${wrote}\n`);
  });
}

function handle(req, res) {
  counted(req, res);
  const p = new URL(req.url, 'http://x').pathname;
  if (p.startsWith('/pipe/') || p.startsWith('/pipe-sized/')) {
    const file = path.join(fileDir, path.basename(p));
    const headers = { 'Content-Type': 'application/octet-stream' };
    if (p.startsWith('/pipe-sized/')) headers['Content-Length'] = fs.statSync(file).size;
    res.writeHead(200, headers);
    fs.createReadStream(file).pipe(res);
  } else if (p === '/upload' && req.method === 'POST') {
    req.bodyBytes = 0;
    req.on('data', (d) => { req.bodyBytes += d.length; });
    req.on('end', () => {
      const body = `read ${req.bodyBytes}`;
      res.writeHead(200, { 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  } else {
    res.writeHead(404, { 'Content-Length': 9 });
    res.end('not found');
  }
}

const server = http.createServer(handle);
server.on('checkContinue', (req, res) => {
  if (req.url === '/reject') {
    counted(req, res);
    res.writeHead(417, { 'Content-Length': 7, Connection: 'close' });
    res.end('refused');
    return;
  }
  res.writeContinue();
  handle(req, res);
});
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => console.log('listening ' + port));
