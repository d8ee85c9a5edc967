#!/usr/bin/env python3
"""A small authoritative DNS server for tests/test_dnsbl.sh: DNSBL and DNSWL
zones over UDP, each query logged, exact TTLs, and zones that never answer.

  dnsbl-dns.py --listen 127.0.0.1 --log FILE --zone bl.test --zone wl.test
               --record 20.100.51.198.bl.test=127.0.0.4/300 ...
               --neg-ttl 60 --blackhole slow.test

--record NAME=IP[,IP...]/TTL  A records of NAME with that TTL.
A name in a zone without a record: NXDOMAIN with the zone's SOA in the
authority section (TTL and MINIMUM = --neg-ttl: the negative TTL of RFC 2308).
Names under a --blackhole zone get no answer at all. Anything else: REFUSED.
The log gets one line per query: "QNAME QTYPE".
"""
import argparse
import socket
import struct


def parse_name(buf, off):
    labels = []
    while True:
        n = buf[off]
        if n == 0:
            return ".".join(labels).lower(), off + 1
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(buf[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def encode_name(name):
    out = b""
    for label in name.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def within(name, zone):
    return name == zone or name.endswith("." + zone)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--log", required=True)
    ap.add_argument("--zone", action="append", default=[])
    ap.add_argument("--blackhole", action="append", default=[])
    ap.add_argument("--record", action="append", default=[])
    ap.add_argument("--neg-ttl", type=int, default=60)
    a = ap.parse_args()

    records = {}
    for r in a.record:
        name, rest = r.split("=", 1)
        ips, ttl = rest.rsplit("/", 1)
        records[name.lower()] = ([socket.inet_aton(ip) for ip in ips.split(",")], int(ttl))

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.listen, a.port))
    log = open(a.log, "a", buffering=1)
    while True:
        buf, peer = s.recvfrom(4096)
        try:
            qid, flags, qd = struct.unpack("!HHH", buf[:6])
            name, off = parse_name(buf, 12)
            qtype, qclass = struct.unpack("!HH", buf[off:off + 4])
        except (ValueError, IndexError, struct.error):
            continue
        question = buf[12:off + 4]
        log.write("%s %d\n" % (name, qtype))
        if any(within(name, z) for z in a.blackhole):
            continue
        zone = next((z for z in a.zone if within(name, z)), None)
        rd = flags & 0x0100
        answers, authority, rcode = [], [], 0
        if zone is None:
            rcode = 5  # REFUSED
        elif name in records and qtype in (1, 255):
            ips, ttl = records[name]
            for ip in ips:
                answers.append(b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, ttl, 4) + ip)
        else:
            if name not in records:
                rcode = 3  # NXDOMAIN
            soa = (encode_name("ns." + zone) + encode_name("hostmaster." + zone) +
                   struct.pack("!IIIII", 1, 3600, 600, 86400, a.neg_ttl))
            authority.append(encode_name(zone) +
                             struct.pack("!HHIH", 6, 1, a.neg_ttl, len(soa)) + soa)
        head = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | rcode, 1, len(answers),
                           len(authority), 0)
        s.sendto(head + question + b"".join(answers) + b"".join(authority), peer)


if __name__ == "__main__":
    main()
