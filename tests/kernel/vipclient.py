#!/usr/bin/env python3
"""A client requesting a URL every 0.1 s, for the kernel scenarios (runs in the
client's netns), and a listener for systemd's readiness datagrams.

usage: vipclient.py URL OUT NOTIFY_SOCKET SECONDS

  Every 0.1 s (or right after a request that took longer), GET URL with a
  0.5 s timeout; append "EPOCH_MS BODY" to OUT per request, BODY being the
  answer's first line or "ERR:<why>". Datagrams arriving on the unix socket
  NOTIFY_SOCKET (bound here; "-" for none) are appended as
  "EPOCH_MS notify:<text>". Stops after SECONDS, or as soon as OUT.stop
  exists. Writes "ready" to stdout once it runs.
"""
import os
import socket
import sys
import time
import urllib.request

URL, OUT, NOTIFY, SECONDS = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])

sock = None
if NOTIFY != "-":
    try:
        os.unlink(NOTIFY)
    except OSError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(NOTIFY)
    os.chmod(NOTIFY, 0o666)
    sock.setblocking(False)

opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
out = open(OUT, "a", buffering=1)
print("ready", flush=True)
end = time.time() + SECONDS
nxt = time.time()
while time.time() < end and not os.path.exists(OUT + ".stop"):
    if sock is not None:
        while True:
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                break
            text = data.decode(errors="replace").replace("\n", " ")
            out.write("%d notify:%s\n" % (time.time() * 1000, text))
    t = time.time()
    try:
        with opener.open(URL, timeout=0.5) as r:
            body = r.read().decode(errors="replace").strip().split("\n")[0] or "EMPTY"
    except Exception as e:  # noqa: BLE001 - every failure is one ERR line
        body = "ERR:" + type(e).__name__
    out.write("%d %s\n" % (t * 1000, body))
    nxt += 0.1
    now = time.time()
    if nxt > now:
        time.sleep(nxt - now)
    else:
        nxt = now
