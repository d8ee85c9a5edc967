#!/usr/bin/env python3
# A feed server for tests/test_feeds.sh: serves the files of ROOT over HTTP
# or HTTPS with ETag and Last-Modified, answers conditional requests with
# 304, and misbehaves on demand. ROOT/NAME.mode (read at each request)
# says how NAME is served:
#   ok       200, Content-Length (the default)
#   gzip     Content-Encoding: gzip when the client accepts it
#   500      an HTTP error
#   cut      Content-Length of the whole body, half of it sent, closed
#   gzcut    gzip Content-Encoding, no length, the stream cut, closed
#   slow     the headers, then nothing for 5 s before the body
#   chunked  Transfer-Encoding: chunked (no length known in advance)
# One line a request goes to LOG: "PATH STATUS IF-NONE-MATCH".
import argparse
import email.utils
import gzip
import hashlib
import http.server
import os
import ssl
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--root", required=True)
ap.add_argument("--bind", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--log", required=True)
args = ap.parse_args()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def note(self, status):
        with open(args.log, "a") as f:
            f.write("%s %d %s\n" % (self.path, status, self.headers.get("If-None-Match", "-")))

    def do_GET(self):
        self.close_connection = True
        name = os.path.basename(self.path.split("?")[0])
        path = os.path.join(args.root, name)
        if not name or not os.path.isfile(path):
            return self.simple(404)
        mode = "ok"
        if os.path.exists(path + ".mode"):
            mode = open(path + ".mode").read().strip()
        if mode == "500":
            return self.simple(500)
        body = open(path, "rb").read()
        mtime = int(os.stat(path).st_mtime)
        etag = '"%s"' % hashlib.sha1(body).hexdigest()[:16]
        lm = email.utils.formatdate(mtime, usegmt=True)
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        fresh = False
        if inm is not None:
            fresh = inm == etag
        elif ims is not None:
            t = email.utils.parsedate_to_datetime(ims).timestamp()
            fresh = mtime <= t
        if fresh:
            self.note(304)
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", lm)
            self.send_header("Connection", "close")
            self.end_headers()
            return
        self.note(200)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", lm)
        self.send_header("Connection", "close")
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if mode in ("gzip", "gzcut") and accepts_gzip:
            body = gzip.compress(body)
            self.send_header("Content-Encoding", "gzip")
        if mode == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 1024):
                part = body[i:i + 1024]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if mode == "gzcut":
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "cut":
            self.wfile.write(body[: len(body) // 2])
            return
        if mode == "slow":
            self.wfile.flush()
            time.sleep(5)
        self.wfile.write(body)

    def simple(self, code):
        self.note(code)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()


srv = http.server.ThreadingHTTPServer((args.bind, args.port), Handler)
if args.cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("listening", flush=True)
sys.stdout.flush()
srv.serve_forever()
