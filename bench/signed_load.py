#!/usr/bin/env python3
"""SMTP load with DKIM-signed messages, for the cost of DKIM verification.

smtp-source (the peers' load generator) cannot send a signed message, so this
client sends one message file, signed once by dkimpy, over S concurrent
sessions, one message per connection (as bench/run.sh drives smtp-source).
It works against any SMTP server on loopback (praisani, Postfix).

  bench/signed_load.py 127.0.0.1:22525 --sign rsa --key-out /tmp/k.json \
      -s 20 -m 5000 -l 4096 -f a@example.test -t u1@example.test [--pid PID]

--sign none|rsa|ed25519: the same 4 KiB message unsigned, signed rsa-sha256
(2048 bits) or ed25519-sha256 by --selector (`bench`) of the sender's domain. The
public key is written to --key-out (JSON: selector, record) for bench/dns.py's
--dkim option. With --pid, the server's CPU (all threads, /proc/PID/stat) over
the run is reported per message. Prints one JSON line.
"""
import argparse
import asyncio
import json
import os
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    v = s[s.rindex(")") + 2:].split()
    return (int(v[11]) + int(v[12])) / HZ


def make_message(sender, rcpt, length, sign, key_out, a_selector):
    domain = sender.rsplit("@", 1)[1]
    head = (
        f"From: Load <{sender}>\r\nTo: <{rcpt}>\r\nSubject: signed load\r\n"
        f"Date: Thu, 03 Dec 2026 12:00:00 +0000\r\nMessage-ID: <load@{domain}>\r\n\r\n"
    )
    line = ("x" * 70) + "\r\n"
    body = line * max(1, (length - len(head)) // len(line))
    msg = (head + body).encode()
    if sign == "none":
        return msg
    import dkim

    if sign == "rsa":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        public = k.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        import base64

        record = "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()
        sig = dkim.sign(msg, a_selector.encode(), domain.encode(), private,
                        canonicalize=(b"relaxed", b"relaxed"))
    else:
        import base64
        import nacl.signing

        sk = nacl.signing.SigningKey.generate()
        record = "v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(sk.verify_key)).decode()
        sig = dkim.sign(msg, a_selector.encode(), domain.encode(), base64.b64encode(bytes(sk)),
                        signature_algorithm=b"ed25519-sha256",
                        canonicalize=(b"relaxed", b"relaxed"))
    if key_out:
        with open(key_out, "w") as f:
            json.dump({"selector": a_selector, "domain": domain, "record": record}, f)
    return sig + msg


async def expect(reader, code):
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            if not line.startswith(code):
                raise RuntimeError(line.decode(errors="replace").strip())
            return


async def one(host, port, sender, rcpt, data):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        await expect(reader, b"220")
        writer.write(b"EHLO loadgen.example.test\r\n")
        await expect(reader, b"250")
        writer.write(f"MAIL FROM:<{sender}>\r\n".encode())
        await expect(reader, b"250")
        writer.write(f"RCPT TO:<{rcpt}>\r\n".encode())
        await expect(reader, b"250")
        writer.write(b"DATA\r\n")
        await expect(reader, b"354")
        writer.write(data)
        await expect(reader, b"250")
        writer.write(b"QUIT\r\n")
        await writer.drain()
    finally:
        writer.close()


async def run(a, data):
    host, port = a.target.rsplit(":", 1)
    left = a.messages
    failures = []

    async def worker():
        nonlocal left
        while left > 0:
            left -= 1
            try:
                await one(host, int(port), a.sender, a.rcpt, data)
            except Exception as e:  # counted, the run goes on
                failures.append(str(e))

    await asyncio.gather(*(worker() for _ in range(a.sessions)))
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("--sign", choices=["none", "rsa", "ed25519"], default="rsa")
    ap.add_argument("--key-out")
    ap.add_argument("--selector", default="bench")
    ap.add_argument("--make-key-only", action="store_true",
                    help="write --key-out and the message, then exit")
    ap.add_argument("--message-file", help="send this file instead of making one")
    ap.add_argument("-s", "--sessions", type=int, default=20)
    ap.add_argument("-m", "--messages", type=int, default=5000)
    ap.add_argument("-l", "--length", type=int, default=4096)
    ap.add_argument("-f", "--sender", default="a@example.test")
    ap.add_argument("-t", "--rcpt", default="u1@example.test")
    ap.add_argument("--pid", type=int)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    host = a.target.rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("loopback targets only")
    if a.message_file:
        msg = open(a.message_file, "rb").read()
    else:
        msg = make_message(a.sender, a.rcpt, a.length, a.sign, a.key_out, a.selector)
    if a.make_key_only:
        sys.stdout.buffer.write(msg)
        return
    dotted = msg.replace(b"\r\n.", b"\r\n..")
    data = dotted + (b"" if dotted.endswith(b"\r\n") else b"\r\n") + b".\r\n"
    c0 = proc_cpu_s(a.pid) if a.pid else None
    t0 = time.monotonic()
    failures = asyncio.run(run(a, data))
    wall = time.monotonic() - t0
    out = {
        "label": a.label or f"signed-{a.sign}",
        "sign": "file" if a.message_file else a.sign,
        "messages": a.messages,
        "failures": len(failures),
        "first_failure": failures[0] if failures else None,
        "wall_s": round(wall, 3),
        "msgs_per_s": round((a.messages - len(failures)) / wall, 1),
    }
    if a.pid:
        srv = proc_cpu_s(a.pid) - c0
        out["server_cpu_s"] = round(srv, 3)
        out["server_cpu_ms_per_msg"] = round(1000 * srv / a.messages, 4)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
