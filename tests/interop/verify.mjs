// Independent verifier for ci-attest's interop tests: verifies a key-signed sigstore bundle
// with the sigstore-js verifier (@sigstore/verify), not with any ci-attest code.
//
// Usage: node verify.mjs <bundle.json> <public-key.pem>
// Exit status: 0 and "VERIFIED" on stdout when the bundle verifies; 1 and "REJECTED: <reason>"
// when the verifier rejects it; 2 on a usage or environment error (e.g. packages not installed).
import { readFileSync } from 'node:fs';
import { createHash, createPublicKey } from 'node:crypto';

let sigstore;
try {
  const [bundle, verify, specs] = await Promise.all([
    import('@sigstore/bundle'),
    import('@sigstore/verify'),
    import('@sigstore/protobuf-specs'),
  ]);
  sigstore = { bundle, verify, specs };
} catch (err) {
  console.error(`cannot load the sigstore packages (run tests/interop/install.sh): ${err.message}`);
  process.exit(2);
}

const [bundlePath, keyPath] = process.argv.slice(2);
if (!bundlePath || !keyPath) {
  console.error('usage: node verify.mjs <bundle.json> <public-key.pem>');
  process.exit(2);
}

let bundleJSON;
let publicKey;
try {
  bundleJSON = JSON.parse(readFileSync(bundlePath, 'utf8'));
  publicKey = createPublicKey(readFileSync(keyPath, 'utf8'));
} catch (err) {
  console.error(`cannot read inputs: ${err.message}`);
  process.exit(2);
}

// ci-attest's key id: "sha256:" + hex(sha256(SPKI DER)), computed here independently.
const spki = publicKey.export({ type: 'spki', format: 'der' });
const expectedHint = 'sha256:' + createHash('sha256').update(spki).digest('hex');

try {
  const bundle = sigstore.bundle.bundleFromJSON(bundleJSON);
  const trustedRoot = sigstore.specs.TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  });
  const keyFinder = (hint) => {
    if (hint !== expectedHint) {
      throw new Error(`unknown key hint ${JSON.stringify(hint)}, expected ${expectedHint}`);
    }
    return { publicKey, validFor: () => true };
  };
  const trustMaterial = sigstore.verify.toTrustMaterial(trustedRoot, keyFinder);
  const verifier = new sigstore.verify.Verifier(trustMaterial, {
    tlogThreshold: 0,
    ctlogThreshold: 0,
    timestampThreshold: 0,
  });
  verifier.verify(sigstore.verify.toSignedEntity(bundle));
} catch (err) {
  console.log(`REJECTED: ${err.name}: ${err.message}`);
  process.exit(1);
}
console.log('VERIFIED');
