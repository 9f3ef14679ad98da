"""An HTTP/1.1 server that accepts only when told: connections wait in the
listen backlog until the file GO exists, so a client can reset its
connection before the server has read a byte. The kernel keeps a reset
socket's received bytes readable, and this server then reads the request
from a socket already closed (TCP_CLOSE), as a busy server does after a
reset in its backlog. For the integration tests.

    late_accept_server.py PORT GO

Each time GO appears the server accepts every waiting connection, reads one
request head from each, answers `200` with a 2-byte body, closes it, prints
one line per connection ("read N bytes; answered" or "read N bytes; answer
failed: ERROR") and removes GO.
"""
import os
import select
import socket
import sys
import time

port = int(sys.argv[1])
go = sys.argv[2]
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(64)


def serve(conn):
    conn.settimeout(2)
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                break
            head += chunk
    except OSError as e:
        print(f"read {len(head)} bytes; read failed: {e}", flush=True)
        return
    if b"\r\n\r\n" not in head:
        print(f"read {len(head)} bytes; no request", flush=True)
        return
    try:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        print(f"read {len(head)} bytes; answered", flush=True)
    except OSError as e:
        print(f"read {len(head)} bytes; answer failed: {e}", flush=True)


while True:
    if not os.path.exists(go):
        time.sleep(0.02)
        continue
    while select.select([listener], [], [], 0)[0]:
        conn, _ = listener.accept()
        with conn:
            serve(conn)
    os.unlink(go)
    print("done", flush=True)
