#!/usr/bin/env python3
"""A DNS server on loopback for benchmarks with the inbound checks on.

Publishes what the load's sender needs so that SPF, DKIM and DMARC are
really evaluated (and pass): SPF for the MAIL FROM domain and the HELO name,
a DMARC policy for the From: domain, and with --dkim the DKIM key that
bench/signed_load.py wrote. Every other name gets NXDOMAIN. Runs until
killed. Needs dnslib (pip install dnslib).

  bench/dns.py --port 25353 --domain example.test --helo loadgen.example.test [--dkim key.json]
"""
import argparse
import json

from dnslib import QTYPE, RCODE, RR, SOA, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class Records(BaseResolver):
    def __init__(self, domain, helo, dkim=None):
        self.txt = {
            f"{domain}.": ["v=spf1 ip4:127.0.0.0/8 -all"],
            f"{helo}.": ["v=spf1 ip4:127.0.0.0/8 -all"],
            f"_dmarc.{domain}.": ["v=DMARC1; p=reject; aspf=r; adkim=r"],
        }
        # The From: domain exists (DMARC's np= asks), as a real sender's does.
        self.a = {f"{helo}.": "127.0.0.1", f"{domain}.": "127.0.0.1"}
        for key in dkim or []:
            # A TXT string holds at most 255 octets; a 2048-bit key needs two.
            r = key["record"]
            chunks = [r[i:i + 255] for i in range(0, len(r), 255)]
            self.txt[f"{key['selector']}._domainkey.{key['domain']}."] = [chunks]

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
        if not reply.rr:
            # A real server's negative answer carries the zone's SOA, whose
            # minimum lets resolvers cache it (RFC 2308); without it every
            # message would ask again for names such as _dmarc.test.
            soa = SOA("ns.test.", "hostmaster.test.", (1, 3600, 600, 86400, 300))
            reply.add_auth(RR("test.", QTYPE.SOA, rdata=soa, ttl=300))
        return reply


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=25353)
    ap.add_argument("--domain", default="example.test")
    ap.add_argument("--helo", default="loadgen.example.test")
    ap.add_argument("--dkim", action="append", help="JSON key file written by bench/signed_load.py (repeatable)")
    a = ap.parse_args()
    dkim = [json.load(open(f)) for f in a.dkim or []]
    quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
    server = DNSServer(Records(a.domain, a.helo, dkim), port=a.port, address="127.0.0.1", logger=quiet)
    server.start()


if __name__ == "__main__":
    main()
