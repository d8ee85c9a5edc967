#!/usr/bin/env python3
# A stand-in for systemd-journald's socket (tests): each datagram of the
# native protocol, KEY=value lines or KEY\n<le64 size>value\n, becomes one
# JSON object a line in OUT. Usage: journal-listen.py SOCKET OUT
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        d, rec, i = s.recv(1 << 20), {}, 0
        while i < len(d):
            nl = d.index(b"\n", i)
            line = d[i:nl]
            if b"=" in line:
                k, v = line.split(b"=", 1)
                i = nl + 1
            else:
                k, n = line, struct.unpack("<Q", d[nl + 1:nl + 9])[0]
                v, i = d[nl + 9:nl + 9 + n], nl + 10 + n
            rec[k.decode()] = v.decode(errors="replace")
        f.write(json.dumps(rec) + "\n")
