"""A pre-fork-per-request HTTP server: every connection is handled by a new
child process that exits afterwards (socketserver.ForkingMixIn). Used to
check that short-lived children of a watched server are watched from their
first byte and leave no state behind."""
import http.server
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"forked"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ForkingMixIn, http.server.HTTPServer):
    max_children = 1000


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
