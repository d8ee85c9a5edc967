#!/usr/bin/env python3
"""Load a Postfix policy service the way an attacker and Postfix would.

    policy-load.py --connect unix:PATH|inet:HOST:PORT [--idle N] [--garbage M]
                   [--requests R] [--clients C] [--client-address A]
                   [--expect TEXT] [--think MS] [--churn RATE]

Opens N idle connections (never a byte) and M garbage connections held open
(slow drips without an end, over-long lines, NUL bytes, random bytes, lines
without the empty line; each reopened when the server closes it), then sends
R well-formed RCPT requests over C persistent connections, one at a time
per connection like Postfix's smtpd (--think MS between two), and times
each from its first byte to the end of its answer. An answer that does not
come (EOF, reset, 5 s) makes the client reconnect and ask again, once, as
Postfix does ("retried"); a second miss counts as failed. --churn RATE:
during the measurement, new idle connections at RATE a second (the oldest
of them closed beyond N), which makes the service evict at its limits;
with --churn-ask each asks once before it goes silent, as Postfix's do.

Prints one line: answered, failed, wrong (answer not starting with
--expect), retried, idle connections still open, latency p50/p99/max in
ms; exits 1 when a request failed or was answered wrongly.
"""
import argparse
import os
import resource
import selectors
import socket
import sys
import threading
import time

REQ = ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address={addr}\n"
       "sender=someone@sender.example\nrecipient=r{n}@corp.example\ninstance=load.{n}\n\n")


def connect(spec, timeout=5.0):
    kind, _, rest = spec.partition(":")
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(rest)
    else:
        host, _, port = rest.rpartition(":")
        host = host.strip("[]")
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((host, int(port)))
    return s


def open_idle(spec, n):
    conns = []
    for _ in range(n):
        try:
            conns.append(connect(spec))
        except OSError as e:
            print(f"idle connection {len(conns)}: {e}", file=sys.stderr)
            break
    return conns


def still_open(conns):
    """Idle connections the server has not closed (no EOF waiting)."""
    sel = selectors.DefaultSelector()
    for c in conns:
        c.setblocking(False)
        sel.register(c, selectors.EVENT_READ)
    closed = {key.fileobj for key, _ in sel.select(timeout=0.2)}
    sel.close()
    return len(conns) - len(closed)


GARBAGE = [
    lambda: b"x",                                   # a slow drip, never a newline
    lambda: b"request=smtpd_access_policy\n",       # lines, never the empty one
    lambda: b"A" * 8192,                            # an over-long line
    lambda: b"request=smtpd\0access\n\n",           # NUL bytes
    lambda: os.urandom(512),                        # random bytes
]


class Garbage(threading.Thread):
    """M connections sending garbage every 100 ms, reopened when closed."""

    def __init__(self, spec, m):
        super().__init__(daemon=True)
        self.spec, self.m, self.stop, self.reopened = spec, m, threading.Event(), 0
        self.conns = [None] * m

    def run(self):
        while not self.stop.is_set():
            for i in range(self.m):
                try:
                    if self.conns[i] is None:
                        self.conns[i] = connect(self.spec, 1.0)
                        self.conns[i].setblocking(False)
                        self.reopened += 1
                    self.conns[i].send(GARBAGE[i % len(GARBAGE)]())
                    try:
                        if self.conns[i].recv(4096) == b"":
                            raise ConnectionResetError
                    except BlockingIOError:
                        pass
                except OSError:
                    if self.conns[i] is not None:
                        self.conns[i].close()
                    self.conns[i] = None
            self.stop.wait(0.1)


class Churn(threading.Thread):
    """New idle connections at RATE a second, the own oldest closed beyond N."""

    def __init__(self, spec, rate, n, ask):
        super().__init__(daemon=True)
        self.spec, self.rate, self.n, self.stop, self.opened = spec, rate, n, threading.Event(), 0
        self.ask, self.conns = ask, []

    def run(self):
        t0 = time.perf_counter()
        while not self.stop.is_set():
            due = int((time.perf_counter() - t0) * self.rate) - self.opened
            for _ in range(max(0, min(due, 1000))):
                self.opened += 1
                try:
                    c = connect(self.spec, 1.0)
                    if self.ask:	# one request first, then silence
                        c.sendall(REQ.format(addr="192.0.2.1", n=0).encode())
                        c.recv(4096)
                    self.conns.append(c)
                except OSError:
                    pass
                if len(self.conns) > self.n:
                    self.conns.pop(0).close()
            self.stop.wait(0.005)
        for c in self.conns:
            c.close()


class Client(threading.Thread):
    def __init__(self, spec, n, first, addr, expect, think):
        super().__init__(daemon=True)
        self.spec, self.n, self.first, self.addr, self.expect = spec, n, first, addr, expect
        self.think = think
        self.lat, self.failed, self.wrong, self.errors, self.retried = [], 0, 0, [], 0

    def run(self):
        s = None
        for k in range(self.n):
            req = REQ.format(addr=self.addr, n=self.first + k).encode()
            if self.think:
                time.sleep(self.think)
            t0 = None	# a retried request's time includes its first attempt
            for attempt in (0, 1):	# Postfix retries once on a new connection
                try:
                    if s is None:
                        s = connect(self.spec)
                    if t0 is None:
                        t0 = time.perf_counter()
                    s.sendall(req)
                    buf = b""
                    while not buf.endswith(b"\n\n"):
                        d = s.recv(4096)
                        if not d:
                            raise ConnectionResetError("EOF")
                        buf += d
                    self.lat.append((time.perf_counter() - t0) * 1000)
                    if not buf.decode(errors="replace").startswith("action=" + self.expect):
                        self.wrong += 1
                        self.errors.append(buf[:80])
                    break
                except OSError as e:
                    if s is not None:
                        s.close()
                    s = None
                    self.retried += 1 - attempt
                    if attempt:
                        self.failed += 1
                        self.errors.append(str(e))
        if s is not None:
            s.close()


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True)
    ap.add_argument("--idle", type=int, default=2000)
    ap.add_argument("--garbage", type=int, default=10)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--client-address", default="192.0.2.99")
    ap.add_argument("--expect", default="DUNNO")
    ap.add_argument("--churn", type=float, default=0,
                    help="new idle connections a second during the measurement")
    ap.add_argument("--churn-ask", action="store_true",
                    help="each churned connection asks once before it goes silent")
    ap.add_argument("--think", type=float, default=0,
                    help="ms between two requests of a client (smtpd's pace)")
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.idle + a.garbage + a.clients + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))

    idle = open_idle(a.connect, a.idle)
    g = Garbage(a.connect, a.garbage)
    g.start()
    ch = Churn(a.connect, a.churn, a.idle, a.churn_ask)
    if a.churn:
        ch.start()
    time.sleep(0.5)		# the flood is on
    per = a.requests // a.clients
    cl = [Client(a.connect, per, i * per, a.client_address, a.expect, a.think / 1000)
          for i in range(a.clients)]
    t0 = time.perf_counter()
    for c in cl:
        c.start()
    for c in cl:
        c.join()
    wall = time.perf_counter() - t0
    g.stop.set()
    g.join()
    ch.stop.set()
    if a.churn:
        ch.join()
    lat = [x for c in cl for x in c.lat]
    failed = sum(c.failed for c in cl)
    wrong = sum(c.wrong for c in cl)
    alive = still_open(idle)
    retried = sum(c.retried for c in cl)
    print(f"answered={len(lat)} failed={failed} wrong={wrong} retried={retried} "
          f"idle_open={alive}/{len(idle)} garbage_reconnects={g.reopened} "
          f"churned={ch.opened} p50_ms={pct(lat, 50):.3f} p99_ms={pct(lat, 99):.3f} "
          f"max_ms={max(lat) if lat else float('nan'):.3f} req_per_s={len(lat) / wall:.0f}")
    for c in cl:
        for e in c.errors[:3]:
            print(f"  error: {e!r}", file=sys.stderr)
    for c in idle:
        c.close()
    sys.exit(1 if failed or wrong or len(lat) != per * a.clients else 0)


if __name__ == "__main__":
    main()
