"""Verifies a keyless DSSE bundle with sigstore-python's API (sigstore 4.5.1), offline.

    python verify_dsse.py TRUST_CONFIG BUNDLE IDENTITY ISSUER

Unlike `sigstore verify identity`, this does not parse the in-toto statement (sigstore-python's
statement model rejects `gitCommit` subject digests, which ci-attest's statements carry): it checks
the certificate chain, SCT, Rekor entry (SET, inclusion proof, checkpoint), timestamps, identity
and the DSSE signature. Prints VERIFIED (exit 0) or REJECTED: <reason> (exit 1).
"""
import sys

from sigstore.errors import VerificationError
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.verify import Verifier, policy

trust_config, bundle_path, identity, issuer = sys.argv[1:5]
config = ClientTrustConfig.from_json(open(trust_config).read())
verifier = Verifier(trusted_root=config.trusted_root)
try:
    bundle = Bundle.from_json(open(bundle_path, "rb").read())
    payload_type, payload = verifier.verify_dsse(bundle, policy.Identity(identity=identity, issuer=issuer))
except (VerificationError, ValueError) as e:
    print(f"REJECTED: {e}")
    sys.exit(1)
print("VERIFIED")
