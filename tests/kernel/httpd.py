#!/usr/bin/env python3
"""Tiny HTTP(S) server for the kernel scenarios (runs inside a real's netns).

usage: httpd.py NAME ADDR PORT [CERT KEY]

  GET /            -> "NAME\n"
  GET /check.html  -> the content of DIR/check.html while it exists, else 404
                      (DIR = $KT_SRVDIR, default /tmp)
  GET /hold        -> streams 1 KiB chunks every 0.1 s until DIR/release exists
                      (at most 120 s), then "END NAME\n"; used to keep one TCP
                      connection open through the VIP across a director restart.
Writes "ready" to stdout once listening.
"""
import http.server
import os
import socket
import ssl
import sys
import time

NAME, ADDR, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
CERT = sys.argv[4] if len(sys.argv) > 5 else None
KEY = sys.argv[5] if len(sys.argv) > 5 else None
SRVDIR = os.environ.get("KT_SRVDIR", "/tmp")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):  # quiet: one line per request on stderr
        sys.stderr.write("%s %s\n" % (NAME, fmt % args))

    def _send(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/check.html":
            try:
                with open(os.path.join(SRVDIR, "check.html")) as f:
                    self._send(200, f.read())
            except OSError:
                self._send(404, "not found\n")
        elif path == "/hold":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            deadline = time.monotonic() + 120
            chunk = (b"x" * 1023) + b"\n"
            while time.monotonic() < deadline:
                if os.path.exists(os.path.join(SRVDIR, "release")):
                    break
                self.wfile.write(chunk)
                self.wfile.flush()
                time.sleep(0.1)
            self.wfile.write(("END %s\n" % NAME).encode())
        else:
            self._send(200, NAME + "\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    address_family = socket.AF_INET6 if ":" in ADDR else socket.AF_INET


srv = Server((ADDR, PORT), Handler)
if CERT:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.serve_forever()
