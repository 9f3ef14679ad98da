"""An HTTP/1.1 keep-alive server that moves request bytes from the socket
with splice() (into a pipe, read from there), as proxies do with bodies:
the syscall never reaches sock_recvmsg. For the integration tests.

    splice_server.py PORT COUNTERS_FILE

Heads are read with recv() (exactly the head: its end is found with
MSG_PEEK), bodies of Content-Length N with splice(). `GET /arm?next=K`
makes the server read the next K bytes (the client's next request head,
whole) with splice() as well. Every request is answered with a
Content-Length body. On SIGUSR2 it writes its own counters as JSON to
COUNTERS_FILE ({"requests": {"<path> <status>": n}, "request_body": {path:
bytes}, "response_body": {path: bytes}, "spliced": bytes}) and prints
"counters written".
"""
import json
import os
import signal
import socket
import sys
import threading
import time

port = int(sys.argv[1])
counters_file = sys.argv[2]
lock = threading.Lock()
counters = {"requests": {}, "request_body": {}, "response_body": {}, "spliced": 0}


def dump(*_):
    with lock:
        with open(counters_file, "w") as f:
            json.dump(counters, f)
    print("counters written", flush=True)


signal.signal(signal.SIGUSR2, dump)


def splice_exactly(conn, n, pipe):
    """Moves n bytes from the socket through the pipe; returns them."""
    r, w = pipe
    out = b""
    while len(out) < n:
        moved = os.splice(conn.fileno(), w, min(n - len(out), 65536))
        if moved == 0:
            raise EOFError
        out += os.read(r, moved)
    with lock:
        counters["spliced"] += n
    return out


def recv_head(conn):
    """Reads exactly one head with recv(), finding its end by peeking."""
    while True:
        peek = conn.recv(65536, socket.MSG_PEEK)
        if not peek:
            raise EOFError
        end = peek.find(b"\r\n\r\n")
        if end >= 0:
            want, got = end + 4, b""
            while len(got) < want:
                got += conn.recv(want - len(got))
            return got
        if len(peek) > 60000:
            raise ValueError("head too long")
        time.sleep(0.001)  # the rest of the head is on its way: peek again


def parse(head):
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return method, target, headers


def serve(conn):
    pipe = os.pipe()
    splice_next = 0
    try:
        while True:
            if splice_next:
                head = splice_exactly(conn, splice_next, pipe)
                splice_next = 0
            else:
                head = recv_head(conn)
            method, target, headers = parse(head)
            path, _, query = target.partition("?")
            n = int(headers.get("content-length", "0"))
            if n:
                splice_exactly(conn, n, pipe)
            status = 200
            if path.startswith("/status/"):
                status = int(path[len("/status/"):])
            if path == "/arm":
                splice_next = int(query.split("next=")[1])
            body = f"{path} read {n}\n".encode()
            with lock:
                key = f"{path} {status}"
                counters["requests"][key] = counters["requests"].get(key, 0) + 1
                counters["request_body"][path] = counters["request_body"].get(path, 0) + n
                counters["response_body"][path] = counters["response_body"].get(path, 0) + len(body)
            conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    except (EOFError, ConnectionError):
        pass
    finally:
        os.close(pipe[0])
        os.close(pipe[1])
        conn.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(64)
print("listening", port, flush=True)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
