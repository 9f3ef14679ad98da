"""An HTTP/1.0 server that answers requests at once after its listen():
right after binding it sends itself N GETs (from its own process, while a
thread serves them), so those requests reach the server before any outside
check of the new listener could have run. Then it serves on.

    answer_at_once_server.py PORT N

Prints "self requests: N answered, B body bytes" once they are done.
"""
import http.server
import sys
import threading
import urllib.request

BODY = b"a" * 123


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


port, n = int(sys.argv[1]), int(sys.argv[2])
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
got = 0
for _ in range(n):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/at-once", timeout=5) as r:
        got += len(r.read())
print(f"self requests: {n} answered, {got} body bytes", flush=True)
threading.Event().wait()
