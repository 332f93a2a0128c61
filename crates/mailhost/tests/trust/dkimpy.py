"""Independent signer for the trust tests: dkimpy signs DKIM and seals ARC,
authres parses our Authentication-Results. One JSON request on stdin, one
JSON answer on stdout."""
import base64
import json
import sys

import authres
import dkim
import nacl.signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


def ed25519_key():
    key = nacl.signing.SigningKey.generate()
    return (
        base64.b64encode(bytes(key)).decode(),
        base64.b64encode(bytes(key.verify_key)).decode(),
    )


def main():
    req = json.load(sys.stdin)
    op = req["op"]
    if op == "keys":
        rsa_private, rsa_public = rsa_key()
        other_private, _ = rsa_key()
        ed_private, ed_public = ed25519_key()
        out = {
            "rsa_private": rsa_private,
            "rsa_public": rsa_public,
            "other_rsa_private": other_private,
            "ed_private": ed_private,
            "ed_public": ed_public,
        }
    elif op == "sign":
        canon = tuple(c.encode() for c in req.get("canon", "relaxed/relaxed").split("/"))
        header = dkim.sign(
            req["message"].encode(),
            req["selector"].encode(),
            req["domain"].encode(),
            req["key"].encode(),
            canonicalize=canon,
            signature_algorithm=req.get("algo", "rsa-sha256").encode(),
            include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
        )
        out = {"header": header.decode()}
    elif op == "arc":
        headers = dkim.arc_sign(
            req["message"].encode(),
            req["selector"].encode(),
            req["domain"].encode(),
            req["key"].encode(),
            req["srv_id"].encode(),
            include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
        )
        out = {"headers": b"".join(headers).decode()}
    elif op == "parse_ar":
        field = req["field"].rstrip("\r\n").replace("\r\n", "")
        parsed = authres.AuthenticationResultsHeader.parse(field)
        out = {
            "authserv_id": parsed.authserv_id,
            "results": [[r.method, r.result] for r in parsed.results],
        }
    else:
        raise SystemExit("unknown op " + op)
    json.dump(out, sys.stdout)


main()
