#!/usr/bin/python3
"""Times a kmipd start: from exec until its log shows a line and until it answers a request.

Runs COMMAND (a kmipd in the foreground) with its stderr in LOG, then measures, from just before the exec:
  log      the first line of LOG that matches --line (default: kmipd's "store ...: N objects" line, logged
           once the store is open and its keyring unwrapped, before "listening on")
  request  the first KMIP Discover Versions (1.4) answered with Success over mutual TLS on 127.0.0.1:PORT,
           retried every 2 ms while the port refuses; it includes the probe's own TLS handshake
With --evict FILE (any number), the pages of FILE are dropped from the page cache first (posix_fadvise
DONTNEED, this file's clean pages only), so that the start reads what it needs from disk, as after a reboot.
Then stops the server (SIGTERM, then SIGKILL after 10 s) and prints "log=SECONDS request=SECONDS".
Exit status 1 when the server exits or does not answer within --timeout seconds.

Usage: ready.py --certs DIR --port N --log FILE [--line REGEX] [--evict FILE] [--timeout S] -- COMMAND...
"""
import argparse
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time


def item(tag, typ, value):
    """One TTLV item: tag, type, length, value padded to 8 bytes."""
    return struct.pack(">I", tag)[1:] + bytes([typ]) + struct.pack(">I", len(value)) + value + \
        b"\0" * (-len(value) % 8)


def discover_versions():
    """A KMIP 1.4 Request Message with one Discover Versions batch item."""
    def integer(tag, v):
        return item(tag, 0x02, struct.pack(">i", v))

    def structure(tag, *children):
        return item(tag, 0x01, b"".join(children))

    version = structure(0x420069, integer(0x42006A, 1), integer(0x42006B, 4))
    header = structure(0x420077, version, integer(0x42000D, 1))
    operation = item(0x42005C, 0x05, struct.pack(">I", 0x1E))
    return structure(0x420078, header, structure(0x42000F, operation, structure(0x420079)))


# Result Status Success: tag 42007F, Enumeration, length 4, value 0.
SUCCESS = bytes.fromhex("42007f0500000004" "0000000000000000")


def read_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise ConnectionError("closed")
        b += chunk
    return b


def probe(ctx, port, request, deadline):
    """Sends request once the server accepts; True when the response says Success."""
    while time.monotonic() < deadline:
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=max(deadline - time.monotonic(), 0.1))
        except OSError:
            time.sleep(0.002)
            continue
        with ctx.wrap_socket(raw) as s:
            s.sendall(request)
            head = read_exact(s, 8)
            body = read_exact(s, struct.unpack(">I", head[4:])[0])
            return SUCCESS in body
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--certs", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--line", default=r"store .*: [0-9]+ objects")
    ap.add_argument("--evict", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("command", nargs="+")
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(a.certs + "/ca.crt")
    ctx.load_cert_chain(a.certs + "/client.crt", a.certs + "/client.key")
    request = discover_versions()
    line = re.compile(a.line.encode())
    found = {}
    for path in a.evict:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    log = open(a.log, "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen(a.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    deadline = t0 + a.timeout
    done = threading.Event()

    def watch():
        seen = b""
        with open(a.log, "rb") as f:
            while not done.is_set() and time.monotonic() < deadline:
                seen += f.read()
                if line.search(seen):
                    found["log"] = time.monotonic() - t0
                    return
                time.sleep(0.001)

    w = threading.Thread(target=watch)
    w.start()
    ok = False
    try:
        ok = probe(ctx, a.port, request, deadline)
        if ok:
            found["request"] = time.monotonic() - t0
    except (OSError, ssl.SSLError, ConnectionError) as e:
        print("ready: %s" % e, file=sys.stderr)
    w.join(max(deadline - time.monotonic(), 0))
    done.set()
    alive = proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    if not ok or "log" not in found or not alive:
        print("ready: the server %s" % ("exited" if not alive else "did not answer in time"), file=sys.stderr)
        sys.exit(1)
    print("log=%.4f request=%.4f" % (found["log"], found["request"]))


if __name__ == "__main__":
    main()
