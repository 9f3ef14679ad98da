"""Python's http.server wrapped in the ssl module (whose _ssl calls OpenSSL's
SSL_read_ex/SSL_write_ex), HTTP/1.1 keep-alive, keeping its own counters of
what it answered: one line per response, "METHOD PATH STATUS BODY_BYTES",
appended to the truth file.

    py_tls_server.py --cert C --key K --truth FILE (--tls-port P | --plain-port P) [...]

  --plain-port P   also serve plain HTTP on P
  --late-ssl P     listen on P with the bare socket module and import nothing that
                   loads ssl (http.server does) until a client connects to P and sends
                   "load\n"; then serve TLS on --tls-port (a library loaded after start)
  GET /bytes/N     N bytes (Content-Length)
  POST /echo       reads the body, answers its length in a body of that many bytes
  GET /call?url=U  makes an outgoing HTTPS GET to U (certificate not checked), answers 200
  anything else    404
"""
import argparse
import socket
import sys
import threading

lock = threading.Lock()
args = None


def record(method, path, status, size):
    with lock, open(args.truth, "a") as f:
        f.write(f"{method} {path} {status} {size}\n")


def make_handler():
    import http.server
    import urllib.parse
    return type("Handler", (Handler, http.server.BaseHTTPRequestHandler), {})


class Handler:
    protocol_version = "HTTP/1.1"

    def answer(self, status, body):
        import urllib.parse
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        record(self.command, urllib.parse.urlsplit(self.path).path, status, len(body))

    def do_GET(self):
        import urllib.parse
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/bytes/"):
            self.answer(200, b"b" * int(url.path.rsplit("/", 1)[1]))
        elif url.path == "/call":
            import ssl
            import urllib.request
            target = urllib.parse.parse_qs(url.query)["url"][0]
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with urllib.request.urlopen(target, context=ctx, timeout=10) as r:
                r.read()
            self.answer(200, b"called")
        else:
            self.answer(404, b"not here")

    def do_POST(self):
        import urllib.parse
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if urllib.parse.urlsplit(self.path).path == "/echo":
            self.answer(200, b"e" * len(body))
        else:
            self.answer(404, b"not here")

    def log_message(self, *a):
        pass


def wait_for_load(port):
    # Kept open afterwards: the listener is what selects this process.
    global late_listener
    late_listener = socket.socket()
    late_listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    late_listener.bind(("127.0.0.1", port))
    late_listener.listen()
    while True:
        c, _ = late_listener.accept()
        with c:
            if c.makefile("rb").readline().strip() == b"load":
                start_tls()
                c.sendall(b"loaded\n")
                return


def start_tls():
    import http.server
    import ssl  # loads _ssl, and with it libssl.so.3, now
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.tls_port), make_handler())
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def main():
    global args
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--truth", required=True)
    ap.add_argument("--tls-port", type=int)
    ap.add_argument("--plain-port", type=int)
    ap.add_argument("--late-ssl", type=int)
    args = ap.parse_args()
    if args.late_ssl:
        wait_for_load(args.late_ssl)
    elif args.tls_port:
        start_tls()
    if args.plain_port:
        import http.server
        http.server.ThreadingHTTPServer(("127.0.0.1", args.plain_port), make_handler()).serve_forever()
    else:
        threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
