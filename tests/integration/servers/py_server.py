"""A Python http.server for the integration tests, speaking HTTP/1.0.

  GET /close-delimited?size=S  body of S bytes with no Content-Length: the
                                response ends when the server closes
  anything else                 SimpleHTTPRequestHandler (files in cwd)
"""
import http.server
import sys
import urllib.parse


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/close-delimited":
            size = int(urllib.parse.parse_qs(url.query).get("size", ["100"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(b"z" * size)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
