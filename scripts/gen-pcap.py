#!/usr/bin/python3
"""Generate a replay pcap for mxshield, with the numbers it must produce.

    gen-pcap.py rules                       print the rule set as mxshield commands
    gen-pcap.py pcap DST_MAC OUT.pcap OUT.json

The expected counters are computed here, by an independent model of the
filter (longest match per list, trust > partner > block > default; SMTP
ports; fragments; non-IP; non-TCP; VLAN stacks; unparsed frames), not
copied from a run. Every generated
IP packet carries TTL/hop limit 77 and every ARP the sender 203.0.113.250,
so the test can count exactly what reaches the host.
Documentation addresses only.
"""
import ipaddress
import json
import random
import sys

RULES = [
    # (list, prefix, action)
    ("block", "198.51.100.0/25", "drop"),
    ("block", "198.51.100.128/26", "reject"),
    ("block", "198.51.100.192/27", "quarantine"),
    ("block", "198.51.100.224/27", "spam"),
    ("trust", "198.51.100.10/32", None),
    ("partner", "198.51.100.20/32", None),
    ("block", "2001:db8:66::/48", "drop"),
    ("block", "2001:db8:66:80::/57", "spam"),
    ("trust", "2001:db8:66::7/128", None),
]
SMTP_PORTS = (25, 465, 587)
MARK = 77
DST4 = "203.0.113.1"
DST6 = "2001:db8:1::1"


def commands():
    out = []
    for lst, pfx, act in RULES:
        if lst == "partner":
            out.append(f"partner add pcap --ip {pfx}")
        elif act:
            out.append(f"{lst} add {pfx} --action {act}")
        else:
            out.append(f"{lst} add {pfx}")
    return out


def classify(src):
    """(reason, action) of the model for a TCP packet to an SMTP port."""
    addr = ipaddress.ip_address(src)
    for lst in ("trust", "partner", "block"):
        best = None
        for l, pfx, act in RULES:
            net = ipaddress.ip_network(pfx)
            if l == lst and net.version == addr.version and addr in net:
                if best is None or net.prefixlen > best[0].prefixlen:
                    best = (net, act)
        if best:
            return (lst, best[1] or "pass")
    return ("default", "pass")


def main():
    if sys.argv[1:] == ["rules"]:
        print("\n".join(commands()))
        return
    if len(sys.argv) != 5 or sys.argv[1] != "pcap":
        sys.exit(__doc__)
    from scapy.all import (ARP, UDP, Dot1AD, Dot1Q, Ether, IP, IPv6, IPv6ExtHdrDestOpt,
                           IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, Raw, TCP, wrpcap)
    mac, out_pcap, out_json = sys.argv[2:]
    rnd = random.Random(2026)
    eth = Ether(dst=mac, src="02:00:00:00:77:01")
    pkts, verdicts, xdp = [], {}, {"pass": 0, "drop": 0}

    def add(pkt, reason, action):
        pkts.append(pkt)
        key = f"{reason}/{action}"
        verdicts[key] = verdicts.get(key, 0) + 1
        xdp["drop" if action == "drop" else "pass"] += 1

    v4_sources = [f"198.51.100.{i}" for i in range(0, 256, 3)] + \
        ["198.51.100.10", "198.51.100.20"] + [f"203.0.113.{i}" for i in range(100, 120)]
    v6_sources = ["2001:db8:66::%x" % rnd.randrange(1, 1 << 16) for _ in range(30)] + \
        ["2001:db8:66:80::%x" % rnd.randrange(1, 1 << 16) for _ in range(10)] + \
        ["2001:db8:66::7", "2001:db8:77::1", "2001:db8:77::2"]
    for src in v4_sources:
        for port in SMTP_PORTS:
            p = eth / IP(src=src, dst=DST4, ttl=MARK) / TCP(sport=rnd.randrange(1024, 65535),
                                                             dport=port, flags="S")
            add(p, *classify(src))
        # IPv4 options (IHL 6): still classified
        p = eth / IP(src=src, dst=DST4, ttl=MARK, options=b"\x01\x01\x01\x00") / \
            TCP(sport=40000, dport=25, flags="S")
        add(p, *classify(src))
        # not SMTP, not TCP
        add(eth / IP(src=src, dst=DST4, ttl=MARK) / TCP(sport=40001, dport=80, flags="S"),
            "not-smtp", "pass")
        add(eth / IP(src=src, dst=DST4, ttl=MARK) / UDP(sport=40002, dport=25),
            "not-tcp", "pass")
        # a non-first fragment passes (its first fragment is what counts)
        add(eth / IP(src=src, dst=DST4, ttl=MARK, proto=6, frag=64, flags=0) / (b"x" * 24),
            "fragment", "pass")
    for src in v6_sources:
        for port in SMTP_PORTS:
            p = eth / IPv6(src=src, dst=DST6, hlim=MARK) / TCP(sport=40003, dport=port, flags="S")
            add(p, *classify(src))
        p = eth / IPv6(src=src, dst=DST6, hlim=MARK) / IPv6ExtHdrHopByHop() / \
            IPv6ExtHdrDestOpt() / TCP(sport=40004, dport=25, flags="S")
        add(p, *classify(src))
        add(eth / IPv6(src=src, dst=DST6, hlim=MARK) / TCP(sport=40005, dport=443, flags="S"),
            "not-smtp", "pass")
        add(eth / IPv6(src=src, dst=DST6, hlim=MARK) /
            IPv6ExtHdrFragment(offset=8, m=0, id=7, nh=6) / (b"y" * 16), "fragment", "pass")
    # VLAN stacks, 802.1ad and 802.1Q mixed: up to 4 tags (MXS_MAX_VLANS)
    # are followed, so a blocked source behind them is dropped as if
    # untagged. One tag more, or headers cut short or malformed, and the
    # frame is "unparsed": dropped when enforcing, whatever its source
    # (docs/parser.md). Only drops here: a tagged frame that passed would
    # reach the host only as far as the kernel pops its tags, which the
    # test's nftables counters do not follow.
    def tagged(n, payload):
        p = eth
        for i in range(n):
            p = p / (Dot1AD(vlan=100 + i) if i % 2 == 0 else Dot1Q(vlan=100 + i))
        return p / payload

    def cut(ethertype, payload, n):
        return Ether(dst=mac, src="02:00:00:00:77:01", type=ethertype) / \
            Raw(bytes(payload)[:n])

    drop4 = [s for s in v4_sources if classify(s) == ("block", "drop")][:12]
    drop6 = [s for s in v6_sources if classify(s) == ("block", "drop")][:6]
    for n, src in enumerate(drop4):
        syn = IP(src=src, dst=DST4, ttl=MARK) / TCP(sport=40006, dport=25, flags="S")
        add(tagged(3 + n % 2, syn), "block", "drop")
        add(tagged(5, syn), "unparsed", "drop")
    for n, src in enumerate(drop6):
        syn = IPv6(src=src, dst=DST6, hlim=MARK) / TCP(sport=40007, dport=587, flags="S")
        add(tagged(3 + n % 2, syn), "block", "drop")
        add(tagged(5, syn), "unparsed", "drop")
    for src in ("198.51.100.10", "203.0.113.101"):      # trusted, unlisted
        syn = IP(src=src, dst=DST4, ttl=MARK) / TCP(sport=40008, dport=25, flags="S")
        add(tagged(5, syn), "unparsed", "drop")
        add(cut(0x0800, syn, 10), "unparsed", "drop")   # inside the IPv4 header
        add(cut(0x0800, syn, 20 + 10), "unparsed", "drop")  # inside the TCP header
        add(eth / IP(src=src, dst=DST4, ttl=MARK, ihl=4) / TCP(sport=40009, dport=25, flags="S"),
            "unparsed", "drop")
    for src in ("2001:db8:66::7", "2001:db8:77::1"):    # trusted, unlisted
        syn = IPv6(src=src, dst=DST6, hlim=MARK) / TCP(sport=40010, dport=25, flags="S")
        add(cut(0x86dd, syn, 30), "unparsed", "drop")   # inside the IPv6 header
        chain = IPv6(src=src, dst=DST6, hlim=MARK)
        for _ in range(9):                              # > MXS_MAX_IPV6_EXT
            chain = chain / IPv6ExtHdrDestOpt()
        add(eth / chain / TCP(sport=40011, dport=25, flags="S"), "unparsed", "drop")
    for i in range(5):
        add(eth / ARP(op=1, psrc="203.0.113.250", pdst=DST4, hwsrc="02:00:00:00:77:01"),
            "not-ip", "pass")
    rnd.shuffle(pkts)
    wrpcap(out_pcap, pkts)
    with open(out_json, "w") as f:
        json.dump({"packets": len(pkts), "verdicts": verdicts, "xdp": xdp,
                   "reach_host": xdp["pass"]}, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
