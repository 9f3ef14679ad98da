// A tiny stand-in for the product's API with a known object count, for the
// business-gauge tests.
//   POST   /v1/agents                201 {"id": N}   creates an agent
//   DELETE /v1/agents/<id>           204, or 404 if there is no such agent
//   GET    /v1/agents                200 {"count": N}
//   POST   /v1/sessions              201 {"id": N}
//   DELETE /v1/sessions/<id>         204 or 404
//   GET    /v1/sessions              200 {"count": N}
//   POST   /v1/workflows/<id>/run    held open until POST /v1/workflows/release
//   POST   /v1/workflows/release     200 {"released": N}: answers every held run
//   GET    /v1/workflows/held        200 {"count": N}: runs held right now
'use strict';
const http = require('http');
const port = parseInt(process.argv[2], 10);

const stores = { agents: new Map(), sessions: new Map() };
let nextId = 1;
const held = [];

function json(res, status, obj) {
  const body = obj === undefined ? '' : JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  // Read (and ignore) any body before answering.
  req.resume();
  req.on('end', () => {
    const parts = new URL(req.url, 'http://x').pathname.split('/').filter((s) => s.length > 0);
    if (parts[0] !== 'v1') return json(res, 404);
    const kind = parts[1];
    if (stores[kind]) {
      const store = stores[kind];
      if (parts.length === 2 && req.method === 'POST') {
        const id = String(nextId++);
        store.set(id, true);
        return json(res, 201, { id });
      }
      if (parts.length === 2 && req.method === 'GET') return json(res, 200, { count: store.size });
      if (parts.length === 3 && req.method === 'DELETE') return json(res, store.delete(parts[2]) ? 204 : 404);
      return json(res, 405);
    }
    if (kind === 'workflows') {
      if (parts.length === 4 && parts[3] === 'run' && req.method === 'POST') return held.push(res);
      if (parts.length === 3 && parts[2] === 'release' && req.method === 'POST') {
        const n = held.length;
        while (held.length) json(held.shift(), 200, { done: true });
        return json(res, 200, { released: n });
      }
      if (parts.length === 3 && parts[2] === 'held') return json(res, 200, { count: held.length });
    }
    return json(res, 404);
  });
});
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1');
