"""An HTTP/1.1 server that writes a whole chunked response in one write,
as servers that render a response before sending it do: the chunks past
the probes' copied head are found only by the boundary walker.

  GET /one-write?sizes=A,B,...   chunks of A, B, ... bytes; head and body
                                 go out in one sendall()
  GET /totals                    body bytes this server sent in chunks so
                                 far (its own counter, the test's truth)
"""
import socket
import socketserver
import sys
import threading
import urllib.parse

sent_lock = threading.Lock()
sent = 0


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        global sent
        while True:
            line = self.rfile.readline()
            if not line:
                return
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            target = line.split()[1].decode()
            url = urllib.parse.urlsplit(target)
            if url.path == "/one-write":
                sizes = [int(x) for x in urllib.parse.parse_qs(url.query)["sizes"][0].split(",")]
                out = [b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n"]
                for i, n in enumerate(sizes):
                    out.append(b"%x\r\n" % n + bytes([97 + i % 26]) * n + b"\r\n")
                out.append(b"0\r\n\r\n")
                with sent_lock:
                    sent += sum(sizes)
                self.connection.sendall(b"".join(out))
            else:
                with sent_lock:
                    body = str(sent).encode()
                self.connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    srv = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    srv.serve_forever()
