"""An aiohttp server (Debian's python3-aiohttp) that counts its own body
bytes: every request appends "METHOD PATH STATUS REQUEST_BYTES
RESPONSE_BYTES" to TRUTHFILE once its handler has returned.

    aiohttp_server.py PORT TRUTHFILE

  GET  /fixed?size=S          S bytes with Content-Length
  GET  /stream?n=K&size=S     StreamResponse: K writes of S bytes (chunked)
  POST /upload                reads the body piece by piece, answers "read N"
  anything else               404 (aiohttp's own answer)
"""
import sys

from aiohttp import web


def main():
    port, truth = int(sys.argv[1]), sys.argv[2]

    @web.middleware
    async def count(request, handler):
        # What the handler read and wrote, as it says; aiohttp's own 404 is
        # an exception whose text is its body.
        request["read"] = 0
        request["wrote"] = 0
        try:
            resp = await handler(request)
        except web.HTTPException as e:
            resp = e
        if isinstance(resp, web.Response) and not request["wrote"]:
            request["wrote"] = len(resp.body or b"")
        with open(truth, "a") as f:
            f.write(f"{request.method} {request.path} {resp.status} {request['read']} {request['wrote']}\n")
        return resp

    async def fixed(request):
        return web.Response(body=b"f" * int(request.query.get("size", "100")))

    async def stream(request):
        n, size = int(request.query.get("n", "3")), int(request.query.get("size", "10"))
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(n):
            await resp.write(b"a" * size)
            request["wrote"] += size
        await resp.write_eof()
        return resp

    async def upload(request):
        async for piece in request.content.iter_any():
            request["read"] += len(piece)
        return web.Response(text=f"read {request['read']}")

    app = web.Application(middlewares=[count], client_max_size=64 << 20)
    app.router.add_get("/fixed", fixed)
    app.router.add_get("/stream", stream)
    app.router.add_post("/upload", upload)
    web.run_app(app, host="127.0.0.1", port=port, print=lambda *a: None, access_log=None)


if __name__ == "__main__":
    main()
