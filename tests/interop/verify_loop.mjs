// The peer figure for benches/audit.rs: verifies every key-signed bundle of a folder in one loop
// with the sigstore-js verifier (@sigstore/verify), in-process, one Verifier for all.
//
// Usage: node verify_loop.mjs <public-key.pem> <folder of *.sigstore.json>
// Prints {"bundles": n, "loop_ms": t} (the loop alone: reading, parsing, verifying); exits 1 when
// a bundle does not verify, 2 on a usage or environment error.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
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

const [keyPath, folder] = process.argv.slice(2);
if (!keyPath || !folder) {
  console.error('usage: node verify_loop.mjs <public-key.pem> <folder>');
  process.exit(2);
}
const publicKey = createPublicKey(readFileSync(keyPath, 'utf8'));
const spki = publicKey.export({ type: 'spki', format: 'der' });
const expectedHint = 'sha256:' + createHash('sha256').update(spki).digest('hex');
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
const verifier = new sigstore.verify.Verifier(sigstore.verify.toTrustMaterial(trustedRoot, keyFinder), {
  tlogThreshold: 0,
  ctlogThreshold: 0,
  timestampThreshold: 0,
});
const files = readdirSync(folder).filter((f) => f.endsWith('.sigstore.json'));
const start = process.hrtime.bigint();
for (const f of files) {
  const bundle = sigstore.bundle.bundleFromJSON(JSON.parse(readFileSync(join(folder, f), 'utf8')));
  try {
    verifier.verify(sigstore.verify.toSignedEntity(bundle));
  } catch (err) {
    console.log(`REJECTED ${f}: ${err.name}: ${err.message}`);
    process.exit(1);
  }
}
const loopMs = Number(process.hrtime.bigint() - start) / 1e6;
console.log(JSON.stringify({ bundles: files.length, loop_ms: loopMs }));
