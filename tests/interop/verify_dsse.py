#!/usr/bin/env python3
"""Independent DSSE verifier for ci-attest's interop tests.

Reads a sigstore bundle, recomputes the DSSE pre-authentication encoding itself, and verifies the
envelope's single ECDSA P-256 / SHA-256 signature with the `cryptography` package. It also checks
that the bundle's key hint and the signature's keyid are "sha256:" + hex(sha256(SPKI DER)) of the key.

Usage: python3 verify_dsse.py <bundle.json> <public-key.pem>
Exit status: 0 and "VERIFIED" when the signature verifies; 1 and "REJECTED: <reason>" when it does
not; 2 on a usage or environment error (e.g. `cryptography` not installed).
"""

import base64
import binascii
import hashlib
import json
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
except ImportError as err:  # pragma: no cover - environment problem
    print(f"cannot import cryptography (run tests/interop/install.sh): {err}", file=sys.stderr)
    sys.exit(2)


def pae(payload_type: bytes, payload: bytes) -> bytes:
    """DSSE v1 PAE, written from the spec: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body."""
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(payload), payload)


class Rejected(Exception):
    pass


def b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise Rejected(f"invalid base64: {err}") from err


def verify(bundle: dict, key: ec.EllipticCurvePublicKey) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise Rejected(f"expected a P-256 key, got {key.curve.name}")
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_id = "sha256:" + hashlib.sha256(spki).hexdigest()

    if bundle.get("mediaType") != "application/vnd.dev.sigstore.bundle.v0.3+json":
        raise Rejected(f"unexpected mediaType {bundle.get('mediaType')!r}")
    hint = bundle.get("verificationMaterial", {}).get("publicKey", {}).get("hint")
    if hint != key_id:
        raise Rejected(f"publicKey.hint {hint!r} is not the key's id {key_id}")
    env = bundle.get("dsseEnvelope")
    if not isinstance(env, dict):
        raise Rejected("no dsseEnvelope")
    sigs = env.get("signatures", [])
    if len(sigs) != 1:
        raise Rejected(f"expected exactly one signature, found {len(sigs)}")
    if sigs[0].get("keyid", "") not in ("", key_id):
        raise Rejected(f"signature keyid {sigs[0].get('keyid')!r} is not {key_id}")
    payload = b64(env.get("payload", ""))
    payload_type = env.get("payloadType", "").encode("utf-8")
    if payload_type != b"application/vnd.in-toto+json":
        raise Rejected(f"unexpected payloadType {payload_type!r}")
    signature = b64(sigs[0].get("sig", ""))
    try:
        key.verify(signature, pae(payload_type, payload), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as err:
        raise Rejected("signature does not verify") from err
    statement = json.loads(payload)
    if statement.get("_type") != "https://in-toto.io/Statement/v1":
        raise Rejected("payload is not an in-toto Statement v1")


def main(argv: list) -> int:
    if len(argv) != 3:
        print("usage: verify_dsse.py <bundle.json> <public-key.pem>", file=sys.stderr)
        return 2
    try:
        with open(argv[1], "rb") as f:
            bundle = json.load(f)
        with open(argv[2], "rb") as f:
            key = serialization.load_pem_public_key(f.read())
    except (OSError, ValueError) as err:
        print(f"cannot read inputs: {err}", file=sys.stderr)
        return 2
    try:
        verify(bundle, key)
    except (Rejected, ValueError, TypeError, AttributeError) as err:
        print(f"REJECTED: {err}")
        return 1
    print("VERIFIED")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
