#!/usr/bin/env python3
"""A DNS server on loopback for benchmarks with the inbound checks on.

Publishes what the load's sender needs so that SPF, DKIM and DMARC are
really evaluated (and pass): SPF for the MAIL FROM domain and the HELO name,
a DMARC policy for the From: domain. Every other name gets NXDOMAIN. Runs
until killed. Needs dnslib (pip install dnslib).

  bench/dns.py --port 25353 --domain example.test --helo loadgen.example.test
"""
import argparse

from dnslib import QTYPE, RCODE, RR, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class Records(BaseResolver):
    def __init__(self, domain, helo):
        self.txt = {
            f"{domain}.": ["v=spf1 ip4:127.0.0.0/8 -all"],
            f"{helo}.": ["v=spf1 ip4:127.0.0.0/8 -all"],
            f"_dmarc.{domain}.": ["v=DMARC1; p=reject; aspf=r; adkim=r"],
        }
        self.a = {f"{helo}.": "127.0.0.1"}

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        if qtype == "TXT" and name in self.txt:
            for t in self.txt[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(t), ttl=300))
        elif qtype == "A" and name in self.a:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(self.a[name]), ttl=300))
        elif name not in self.txt and name not in self.a:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=25353)
    ap.add_argument("--domain", default="example.test")
    ap.add_argument("--helo", default="loadgen.example.test")
    a = ap.parse_args()
    quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
    server = DNSServer(Records(a.domain, a.helo), port=a.port, address="127.0.0.1", logger=quiet)
    server.start()


if __name__ == "__main__":
    main()
