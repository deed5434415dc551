#!/usr/bin/env python3
"""Echo app for testing Palisade (Python standard library only).

Answers every request with JSON describing what it received: method, path, query, headers,
body length and sha256. Special paths exercise the proxy:

  /sleep?ms=N            answer after N milliseconds
  /stream?n=N&ms=M       Server-Sent Events: N events, M ms apart, each flushed at once
  /big?bytes=N           N bytes of response body
  /status?code=N         answer with status N
  /crash                 the process dies mid-request (os._exit(3))
  /crash-after-headers   sends headers, then the process dies
  /hang                  never answers
  /ws                    WebSocket upgrade; echoes text and binary frames

Listens on 0.0.0.0:$PORT (HOST overrides the address). On SIGTERM it stops accepting, closes
idle keep-alive connections, lets in-flight requests finish, and exits 0 -- what Heroku expects
of a web process.
"""

import base64
import hashlib
import json
import os
import select
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body leave in separate writes; without TCP_NODELAY the body waits for
        # the peer's delayed ACK (~40 ms) on every reused keep-alive connection. Production
        # servers (gunicorn, puma, node) set it too.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    server_version = "python-echo"

    def handle_one_request(self):
        # Between requests a kept-alive connection is idle. Wait for the next request in short
        # steps so that a stopping server closes idle connections at once (as gunicorn and node
        # do) instead of holding SIGTERM until the client hangs up; a request already under way
        # is finished first.
        while not self.server.stopping.is_set():
            try:
                readable, _, _ = select.select([self.connection], [], [], 0.05)
            except (OSError, ValueError):
                break
            if readable:
                super().handle_one_request()
                return
        self.close_connection = True

    def log_message(self, fmt, *args):  # keep stdout for the proxy's audit lines
        sys.stderr.write("python-echo: " + (fmt % args) + "\n")

    # -- request body -------------------------------------------------------------------------
    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                line = self.rfile.readline(1024).strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status, obj, extra_headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def describe(self, body):
        url = urlsplit(self.path)
        return {
            "method": self.command,
            "version": self.request_version,
            "path": url.path,
            "query": parse_qs(url.query, keep_blank_values=True),
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_length": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "pid": os.getpid(),
        }

    # -- dispatch -----------------------------------------------------------------------------
    def handle_any(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        arg = lambda name, default: int(q.get(name, [default])[0])
        if url.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        body = self.read_body()
        # What arrived, for tests that check what the proxy let through (lengths only, no data).
        sys.stderr.write("python-echo: received %s %s body_length=%d\n" % (self.command, url.path, len(body)))
        if url.path == "/sleep":
            time.sleep(arg("ms", 1000) / 1000.0)
        elif url.path == "/stream":
            return self.stream(arg("n", 5), arg("ms", 200))
        elif url.path == "/big":
            n = arg("bytes", 1 << 20)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = b"x" * 65536
            while n > 0:
                self.wfile.write(block[: min(n, len(block))])
                n -= len(block)
            return
        elif url.path == "/status":
            return self.send_json(arg("code", 200), self.describe(body))
        elif url.path == "/crash":
            os._exit(3)
        elif url.path == "/crash-after-headers":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"partial")
            self.wfile.flush()
            os._exit(3)
        elif url.path == "/hang":
            time.sleep(3600)
        self.send_json(200, self.describe(body), [("X-Powered-By", "python-echo")])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = handle_any

    def stream(self, n, ms):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(n):
            event = ("id: %d\ndata: {\"seq\": %d, \"t\": %.3f}\n\n" % (i, i, time.time())).encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            time.sleep(ms / 1000.0)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- WebSocket (RFC 6455), enough for an echo --------------------------------------------
    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            masked = head[1] & 0x80
            if length == 126:
                length = struct.unpack(">H", self.rfile.read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if masked else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 8:  # close
                self.wfile.write(b"\x88\x00")
                self.wfile.flush()
                self.close_connection = True
                return
            reply = bytes([0x80 | opcode])
            if len(payload) < 126:
                reply += bytes([len(payload)])
            elif len(payload) < 65536:
                reply += bytes([126]) + struct.pack(">H", len(payload))
            else:
                reply += bytes([127]) + struct.pack(">Q", len(payload))
            self.wfile.write(reply + payload)
            self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = False  # join request threads on shutdown: in-flight requests finish
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stopping = threading.Event()


def main():
    port = int(os.environ.get("PORT", "5000"))
    host = os.environ.get("HOST", "0.0.0.0")
    httpd = Server((host, port), Handler)

    def on_term(signum, _frame):
        sys.stderr.write("python-echo: signal %d, draining\n" % signum)
        httpd.stopping.set()
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    sys.stderr.write("python-echo: listening on %s:%d\n" % (host, port))
    httpd.serve_forever(poll_interval=0.05)
    httpd.server_close()  # waits for in-flight request threads
    sys.stderr.write("python-echo: stopped\n")


if __name__ == "__main__":
    main()
