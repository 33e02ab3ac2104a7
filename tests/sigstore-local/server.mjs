// A local sigstore (Fulcio + CT log, Rekor v1, RFC 3161 TSA) for ci-attest's keyless tests.
//
//   node server.mjs --dir OUT
//
// Listens on 127.0.0.1 on a random port, writes OUT/trusted_root.json, OUT/signing_config.json and
// OUT/trust_config.json (a sigstore ClientTrustConfig wrapping both) for its fresh keys, then prints
// one line of JSON on stdout: {"url", "fulcio", "rekor", "tsa", "trusted_root", "signing_config",
// "trust_config"}. It exits when its standard input closes (so it dies with the test process).
//
// Built on @sigstore/mock's CA, CT log and TSA handlers, with adapters so that it accepts what real
// clients send:
//   - Fulcio v2: the token in `Authorization: Bearer` (or `credentials.oidcIdentityToken`), a
//     `publicKeyRequest` (PEM key + proof of possession over the token's `email`/`sub`, checked) or a
//     base64 PEM `certificateSigningRequest` (its signature checked); expired tokens are refused.
//     Token signatures are NOT checked (the mock has no issuer keys).
//   - TSA: DER `application/timestamp-query` requests (and the mock's JSON form).
//   - Rekor v1: real canonicalisation of `dsse` 0.0.1 ({envelopeHash, payloadHash, signatures},
//     signatures checked against the verifiers) and `hashedrekord` 0.0.1 entries (signature not checked), an in-memory
//     RFC 6962 Merkle tree (so inclusion proofs have hashes once there are several entries), a
//     signed checkpoint and a signed entry timestamp.
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const require = createRequire(import.meta.url);
const mock = require('@sigstore/mock');
const canonicalize = require('canonicalize');
const asn1js = require('asn1js');
const pkijs = require('pkijs');
const x509 = require('@peculiar/x509');
const jose = require('jose');

const MAX_BODY = 1024 * 1024;

function arg(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const outDir = arg('--dir');
if (!outDir) {
  console.error('usage: node server.mjs --dir OUT');
  process.exit(2);
}

const sha256 = (data) => crypto.createHash('sha256').update(data).digest();
const spkiDer = (keyObject) => keyObject.export({ format: 'der', type: 'spki' });

// ---------- Fulcio ----------
const caKeys = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ctKeys = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ctlog = await mock.initializeCTLog(ctKeys);
const ca = await mock.initializeCA(caKeys, ctlog);
const fulcio = mock.fulcioHandler(ca, { subjectClaim: 'sub' });

function verifyProofOfPossession(pem, proofB64, claims) {
  const key = crypto.createPublicKey(pem);
  const proof = Buffer.from(proofB64 || '', 'base64');
  for (const challenge of [claims.email, claims.sub]) {
    if (typeof challenge === 'string' && crypto.verify('sha256', Buffer.from(challenge), key, proof)) {
      return true;
    }
  }
  return false;
}

async function handleFulcio(req, body) {
  const json = JSON.parse(body.toString());
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization || '')?.[1];
  const inBody = json.credentials?.oidcIdentityToken;
  if (bearer && inBody && bearer !== inBody) return [400, 'text/plain', 'two different identity tokens'];
  const token = bearer || inBody;
  if (!token) return [401, 'text/plain', 'missing identity token'];
  let claims;
  try {
    claims = jose.decodeJwt(token);
  } catch (e) {
    return [401, 'text/plain', `invalid identity token: ${e.message}`];
  }
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) {
    return [401, 'text/plain', 'identity token expired'];
  }
  const normalised = { credentials: { oidcIdentityToken: token } };
  if (json.publicKeyRequest) {
    const pem = json.publicKeyRequest.publicKey?.content;
    if (!verifyProofOfPossession(pem, json.publicKeyRequest.proofOfPossession, claims)) {
      return [400, 'text/plain', 'proof of possession does not verify'];
    }
    normalised.publicKeyRequest = { publicKey: { content: pem } };
  } else if (json.certificateSigningRequest) {
    let csrPem = json.certificateSigningRequest;
    if (!csrPem.includes('-----BEGIN')) csrPem = Buffer.from(csrPem, 'base64').toString();
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    if (!(await csr.verify())) return [400, 'text/plain', 'CSR signature does not verify'];
    normalised.certificateSigningRequest = csrPem;
  } else {
    return [400, 'text/plain', 'expected publicKeyRequest or certificateSigningRequest'];
  }
  const r = await fulcio.fn(JSON.stringify(normalised));
  return [r.statusCode, r.contentType || 'text/plain', r.response];
}

// ---------- TSA ----------
const tsaKeys = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const tsa = await mock.initializeTSA(tsaKeys);
// The mock encodes the nonce from a JS number; real clients send 64-bit nonces, carried here as
// the DER integer's content bytes (hex) and put back verbatim.
const originalTstInfo = tsa.tstInfo.bind(tsa);
tsa.tstInfo = (req) => {
  const info = originalTstInfo({ ...req, nonce: 1 });
  if (typeof req.nonce === 'string') {
    info.nonce = new asn1js.Integer({ valueHex: Buffer.from(req.nonce, 'hex') });
  } else {
    info.nonce = new asn1js.Integer({ value: req.nonce });
  }
  return info;
};
const tsaHandler = mock.tsaHandler(tsa);
const HASH_NAMES = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

async function handleTsa(req, body) {
  let json;
  if ((req.headers['content-type'] || '').startsWith('application/timestamp-query')) {
    const asn = asn1js.fromBER(new Uint8Array(body).buffer);
    if (asn.offset === -1) return [400, 'text/plain', 'malformed TimeStampReq'];
    const tsq = new pkijs.TimeStampReq({ schema: asn.result });
    const algorithm = HASH_NAMES[tsq.messageImprint.hashAlgorithm.algorithmId];
    if (!algorithm) return [400, 'text/plain', 'unsupported hash algorithm'];
    json = {
      artifactHash: Buffer.from(tsq.messageImprint.hashedMessage.valueBlock.valueHexView).toString('base64'),
      hashAlgorithm: algorithm,
      certificates: tsq.certReq ?? false,
    };
    if (tsq.nonce) json.nonce = Buffer.from(tsq.nonce.valueBlock.valueHexView).toString('hex');
  } else {
    json = JSON.parse(body.toString());
  }
  const r = await tsaHandler.fn(Buffer.from(JSON.stringify(json)));
  return [r.statusCode, r.contentType || 'text/plain', r.response];
}

// ---------- Rekor (v1 API) with a real RFC 6962 Merkle tree ----------
const rekorKeys = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rekorPublicDer = spkiDer(rekorKeys.publicKey);
const rekorLogId = sha256(rekorPublicDer);
const treeId = crypto.randomInt(2 ** 48 - 1);
const leaves = []; // leaf hashes

const leafHash = (data) => sha256(Buffer.concat([Buffer.from([0]), data]));
const nodeHash = (l, r) => sha256(Buffer.concat([Buffer.from([1]), l, r]));
const split = (n) => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
function mth(hashes) {
  if (hashes.length === 0) return sha256(Buffer.alloc(0));
  if (hashes.length === 1) return hashes[0];
  const k = split(hashes.length);
  return nodeHash(mth(hashes.slice(0, k)), mth(hashes.slice(k)));
}
function auditPath(m, hashes) {
  if (hashes.length <= 1) return [];
  const k = split(hashes.length);
  return m < k
    ? [...auditPath(m, hashes.slice(0, k)), mth(hashes.slice(k))]
    : [...auditPath(m - k, hashes.slice(k)), mth(hashes.slice(0, k))];
}

let origin = 'rekor.local';
function checkpoint(size, root) {
  const note = `${origin} - ${treeId}\n${size}\n${root.toString('base64')}\n`;
  const sig = crypto.sign('sha256', Buffer.from(note), rekorKeys.privateKey);
  const hintAndSig = Buffer.concat([rekorLogId.subarray(0, 4), sig]);
  return `${note}\n\u2014 ${origin} ${hintAndSig.toString('base64')}\n`;
}

// Real Rekor stores verifiers re-encoded as PEM (64-character lines), as Go's encoder writes them.
function canonicalVerifier(b64) {
  const pem = Buffer.from(b64, 'base64').toString();
  if (pem.includes('CERTIFICATE')) {
    const cert = new crypto.X509Certificate(pem);
    return { key: cert.publicKey, pem: cert.toString() };
  }
  const key = crypto.createPublicKey(pem);
  return { key, pem: key.export({ format: 'pem', type: 'spki' }).toString() };
}

const pae = (type, payload) =>
  Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `),
    payload,
  ]);

function canonicalBody(proposed) {
  if (proposed.kind === 'dsse' && proposed.apiVersion === '0.0.1') {
    const content = proposed.spec?.proposedContent;
    if (typeof content?.envelope !== 'string') throw new Error('missing proposedContent.envelope');
    const envelope = JSON.parse(content.envelope);
    const payload = Buffer.from(envelope.payload || '', 'base64');
    const verifiers = (content.verifiers || []).map(canonicalVerifier);
    if (verifiers.length === 0) throw new Error('missing verifiers');
    const message = pae(envelope.payloadType, payload);
    const signatures = (envelope.signatures || []).map((s) => {
      const v = verifiers.find((v) => crypto.verify('sha256', message, v.key, Buffer.from(s.sig, 'base64')));
      if (!v) throw new Error('DSSE signature does not verify with any verifier');
      return { signature: s.sig, verifier: Buffer.from(v.pem).toString('base64') };
    });
    if (signatures.length === 0) throw new Error('envelope has no signatures');
    return {
      apiVersion: '0.0.1',
      kind: 'dsse',
      spec: {
        envelopeHash: { algorithm: 'sha256', value: sha256(content.envelope).toString('hex') },
        payloadHash: { algorithm: 'sha256', value: sha256(payload).toString('hex') },
        signatures,
      },
    };
  }
  if (proposed.kind === 'hashedrekord' && proposed.apiVersion === '0.0.1') {
    const spec = proposed.spec;
    const hash = spec?.data?.hash;
    if (hash?.algorithm !== 'sha256' || !/^[0-9a-f]{64}$/.test(hash.value)) throw new Error('expected a sha256 hash');
    const v = canonicalVerifier(spec.signature.publicKey.content);
    // `null` = the data is already a digest: OpenSSL verifies it as such for EC keys.
    // Node cannot verify ECDSA over a precomputed digest, so the signature is not checked here
    // (sigstore-python, verifying the bundle, does check it).
    return {
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: { hash: { algorithm: 'sha256', value: hash.value } },
        signature: { content: spec.signature.content, publicKey: { content: Buffer.from(v.pem).toString('base64') } },
      },
    };
  }
  throw new Error(`unsupported entry kind ${proposed.kind} ${proposed.apiVersion}`);
}

const merkleLog = {
  async log(proposed) {
    const body = Buffer.from(canonicalize(canonicalBody(proposed)));
    const logIndex = leaves.length;
    leaves.push(leafHash(body));
    const integratedTime = Math.floor(Date.now() / 1000);
    const setData = {
      body: body.toString('base64'),
      integratedTime,
      logIndex,
      logID: rekorLogId.toString('hex'),
    };
    const set = crypto.sign('sha256', Buffer.from(canonicalize(setData)), rekorKeys.privateKey);
    const root = mth(leaves);
    const uuid = leaves[logIndex].toString('hex');
    return {
      [uuid]: {
        body: body.toString('base64'),
        integratedTime,
        logID: rekorLogId.toString('hex'),
        logIndex,
        verification: {
          inclusionProof: {
            checkpoint: checkpoint(leaves.length, root),
            hashes: auditPath(logIndex, leaves).map((h) => h.toString('hex')),
            logIndex,
            rootHash: root.toString('hex'),
            treeSize: leaves.length,
          },
          signedEntryTimestamp: set.toString('base64'),
        },
      },
    };
  },
};
const rekor = mock.rekorHandler(merkleLog);

async function handleRekor(_req, body) {
  const r = await rekor.fn(body.toString());
  return [r.statusCode, r.contentType || 'text/plain', r.response];
}

// ---------- HTTP ----------
const routes = {
  'POST /api/v2/signingCert': handleFulcio,
  'POST /api/v1/log/entries': handleRekor,
  'POST /api/v1/timestamp': handleTsa,
  'GET /api/v1/log': async () => [
    200,
    'application/json',
    JSON.stringify({ treeSize: leaves.length, rootHash: mth(leaves).toString('hex'), treeID: String(treeId) }),
  ],
};

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) {
      res.writeHead(413).end('request too large');
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', async () => {
    if (res.headersSent) return;
    const route = routes[`${req.method} ${req.url.split('?')[0]}`];
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    try {
      const [status, type, body] = await route(req, Buffer.concat(chunks));
      res.writeHead(status, { 'Content-Type': type }).end(body);
    } catch (e) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end(String(e?.message || e));
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  origin = `127.0.0.1:${server.address().port}`;
  const start = new Date(Date.now() - 60_000).toISOString();
  const b64 = (b) => Buffer.from(b).toString('base64');
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(rekorPublicDer), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: b64(rekorLogId) },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: url,
        certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
        validFor: { start },
      },
    ],
    ctlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(ctlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: b64(ctlog.logID) },
      },
    ],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        uri: `${url}/api/v1/timestamp`,
        certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
        validFor: { start },
      },
    ],
  };
  const service = (u) => ({ url: u, majorApiVersion: 1, validFor: { start }, operator: 'sigstore.mock' });
  const signingConfig = {
    mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
    caUrls: [service(url)],
    oidcUrls: [],
    rekorTlogUrls: [service(url)],
    tsaUrls: [service(`${url}/api/v1/timestamp`)],
    rekorTlogConfig: { selector: 'ANY' },
    tsaConfig: { selector: 'ANY' },
  };
  const trustConfig = {
    mediaType: 'application/vnd.dev.sigstore.clienttrustconfig.v0.1+json',
    trustedRoot,
    signingConfig,
  };
  fs.mkdirSync(outDir, { recursive: true });
  const files = {
    trusted_root: path.join(outDir, 'trusted_root.json'),
    signing_config: path.join(outDir, 'signing_config.json'),
    trust_config: path.join(outDir, 'trust_config.json'),
  };
  fs.writeFileSync(files.trusted_root, JSON.stringify(trustedRoot, null, 2));
  fs.writeFileSync(files.signing_config, JSON.stringify(signingConfig, null, 2));
  fs.writeFileSync(files.trust_config, JSON.stringify(trustConfig, null, 2));
  process.stdout.write(
    JSON.stringify({ url, fulcio: url, rekor: url, tsa: `${url}/api/v1/timestamp`, ...files }) + '\n',
  );
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
