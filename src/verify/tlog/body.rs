//! Rekor entry bodies (`canonicalizedBody`) and their comparison with the bundle's content.
//!
//! Supported kinds: Rekor v1 `hashedrekord` 0.0.1, `dsse` 0.0.1 and `intoto` 0.0.2; Rekor v2
//! `hashedrekord` 0.0.2 and `dsse` 0.0.2. Bodies are parsed strictly (unknown fields are errors:
//! Rekor writes canonical bodies with known fields only) and every field that names the signed
//! content, the signature or the verification material must equal the bundle's.
//!
//! Not compared, as in sigstore-go: the `dsse` 0.0.1 `envelopeHash` and the `intoto` 0.0.2
//! `hash`, which are hashes of the envelope JSON as the submitting client serialised it (a
//! verifier cannot reproduce those bytes). The payload hash, the payload type (intoto), the
//! signature and the verifier bind the entry to the envelope: the signature covers
//! PAE(payloadType, payload).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::fmt;

use super::{SignedContent, SignedPayload, SigningMaterial, TlogError};
use crate::bundle::HashAlgorithm;
use crate::verify::pki::VerifyingKey;

/// The entry kinds this verifier understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// Rekor v1 `hashedrekord` 0.0.1 (a message signature).
    HashedRekordV001,
    /// Rekor v1 `dsse` 0.0.1.
    DsseV001,
    /// Rekor v1 `intoto` 0.0.2.
    IntotoV002,
    /// Rekor v2 `hashedrekord` 0.0.2 (a message signature, or a DSSE envelope as Hash(PAE)).
    HashedRekordV002,
    /// Rekor v2 `dsse` 0.0.2.
    DsseV002,
}

impl EntryKind {
    /// The kind and version for a `kindVersion` pair, if supported.
    #[must_use]
    pub fn from_kind_version(kind: &str, version: &str) -> Option<EntryKind> {
        Some(match (kind, version) {
            ("hashedrekord", "0.0.1") => EntryKind::HashedRekordV001,
            ("dsse", "0.0.1") => EntryKind::DsseV001,
            ("intoto", "0.0.2") => EntryKind::IntotoV002,
            ("hashedrekord", "0.0.2") => EntryKind::HashedRekordV002,
            ("dsse", "0.0.2") => EntryKind::DsseV002,
            _ => return None,
        })
    }

    /// `kind` and `version` strings.
    #[must_use]
    pub fn kind_version(self) -> (&'static str, &'static str) {
        match self {
            EntryKind::HashedRekordV001 => ("hashedrekord", "0.0.1"),
            EntryKind::DsseV001 => ("dsse", "0.0.1"),
            EntryKind::IntotoV002 => ("intoto", "0.0.2"),
            EntryKind::HashedRekordV002 => ("hashedrekord", "0.0.2"),
            EntryKind::DsseV002 => ("dsse", "0.0.2"),
        }
    }

    /// True for the kinds only Rekor v2 (tile-based, checkpoint-only) logs write.
    #[must_use]
    pub fn is_rekor_v2(self) -> bool {
        matches!(self, EntryKind::HashedRekordV002 | EntryKind::DsseV002)
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (k, v) = self.kind_version();
        write!(f, "{k}/{v}")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Top {
    api_version: String,
    kind: String,
    spec: serde_json::Value,
}

// --- Rekor v1 -----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HexHash {
    algorithm: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HashedRekordV001 {
    data: HrData,
    signature: HrSignature,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HrData {
    hash: HexHash,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HrSignature {
    content: String,
    public_key: HrPublicKey,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HrPublicKey {
    content: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DsseV001 {
    #[allow(dead_code)]
    envelope_hash: Option<HexHash>,
    payload_hash: HexHash,
    signatures: Vec<DsseV001Signature>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DsseV001Signature {
    signature: String,
    verifier: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntotoV002 {
    content: IntotoContent,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IntotoContent {
    envelope: IntotoEnvelope,
    #[allow(dead_code)]
    hash: Option<HexHash>,
    payload_hash: HexHash,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IntotoEnvelope {
    payload: Option<String>,
    payload_type: String,
    signatures: Vec<IntotoSignature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IntotoSignature {
    #[allow(dead_code)]
    keyid: Option<String>,
    public_key: String,
    sig: String,
}

// --- Rekor v2 -----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HashedRekordV002Spec {
    hashed_rekord_v002: HashedRekordV002,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HashedRekordV002 {
    data: V2Hash,
    signature: V2Signature,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DsseV002Spec {
    dsse_v002: DsseV002,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DsseV002 {
    payload_hash: V2Hash,
    signatures: Vec<V2Signature>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V2Hash {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V2Signature {
    content: String,
    verifier: V2Verifier,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct V2Verifier {
    key_details: String,
    public_key: Option<RawBytes>,
    x509_certificate: Option<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawBytes {
    raw_bytes: String,
}

// --- helpers ------------------------------------------------------------------------------

fn malformed(field: &str, expected: &str, found: impl fmt::Display) -> TlogError {
    TlogError::BodyMalformed {
        field: field.to_string(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

fn mismatch(field: &str, expected: impl Into<String>, found: impl Into<String>) -> TlogError {
    TlogError::BodyMismatch {
        field: field.to_string(),
        expected: expected.into(),
        found: found.into(),
    }
}

fn b64(field: &str, text: &str) -> Result<Vec<u8>, TlogError> {
    STANDARD
        .decode(text)
        .map_err(|e| malformed(field, "standard base64", e))
}

fn hexdec(field: &str, text: &str) -> Result<Vec<u8>, TlogError> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(malformed(field, "lowercase hex", text));
    }
    hex::decode(text).map_err(|e| malformed(field, "lowercase hex", e))
}

fn spec<T: for<'de> Deserialize<'de>>(
    kind: EntryKind,
    v: serde_json::Value,
) -> Result<T, TlogError> {
    serde_json::from_value(v).map_err(|e| malformed("spec", &format!("a {kind} spec"), e))
}

/// Most bytes of PEM text accepted.
const MAX_PEM_BYTES: usize = 64 * 1024;

/// Decodes the first PEM block of `pem`: its label and DER bytes.
///
/// The block is decoded by `pem-rfc7468` (RFC 7468), with the base64 line width detected from the
/// block rather than fixed at 64, `\n` or `\r\n` endings; text before the BEGIN line and after the
/// END line is ignored (as Go's `encoding/pem`, which writes Rekor bodies, does). Headers, a
/// missing or mismatched END line, invalid base64 and an empty block are errors (`None`).
#[must_use]
pub fn decode_pem(pem: &[u8]) -> Option<(String, Vec<u8>)> {
    const BEGIN: &str = "-----BEGIN ";
    if pem.len() > MAX_PEM_BYTES {
        return None;
    }
    let text = std::str::from_utf8(pem).ok()?;
    let block = &text[text.find(BEGIN)?..];
    let label = block.get(BEGIN.len()..)?.split("-----").next()?;
    let end = format!("-----END {label}-----");
    let stop = block.find(&end)? + end.len();
    let mut decoder = pem_rfc7468::Decoder::new_detect_wrap(block.get(..stop)?.as_bytes()).ok()?;
    let label = decoder.type_label().to_string();
    let mut der = Vec::new();
    decoder.decode_to_end(&mut der).ok()?;
    (!der.is_empty()).then_some((label, der))
}

/// A DER block from PEM text (`CERTIFICATE` or `PUBLIC KEY`).
fn pem_der(field: &str, pem_bytes: &[u8]) -> Result<(String, Vec<u8>), TlogError> {
    decode_pem(pem_bytes).ok_or_else(|| {
        malformed(
            field,
            "a PEM certificate or public key",
            format!("{} bytes that are not one", pem_bytes.len()),
        )
    })
}

/// Compares a PEM verifier in a v1 body with the bundle's verification material.
fn check_pem_verifier(
    field: &str,
    pem_b64: &str,
    material: &SigningMaterial<'_>,
) -> Result<(), TlogError> {
    let pem = b64(field, pem_b64)?;
    let (label, der) = pem_der(field, &pem)?;
    let (want_label, want) = match material {
        SigningMaterial::Certificate(d) => ("CERTIFICATE", *d),
        SigningMaterial::PublicKey(d) => ("PUBLIC KEY", *d),
    };
    if label != want_label {
        return Err(mismatch(
            field,
            format!("a {want_label} PEM (the bundle's verification material)"),
            format!("a {label} PEM"),
        ));
    }
    if der != want {
        return Err(mismatch(
            field,
            format!(
                "the bundle's {} (sha256 {})",
                want_label.to_lowercase(),
                hex::encode(Sha256::digest(want))
            ),
            format!(
                "another {} (sha256 {})",
                label.to_lowercase(),
                hex::encode(Sha256::digest(&der))
            ),
        ));
    }
    Ok(())
}

fn check_signature(field: &str, found: &[u8], ours: &[u8]) -> Result<(), TlogError> {
    if found != ours {
        return Err(mismatch(
            field,
            format!("the bundle's signature {}", STANDARD.encode(ours)),
            STANDARD.encode(found),
        ));
    }
    Ok(())
}

fn check_digest(field: &str, found: &[u8], ours: &[u8]) -> Result<(), TlogError> {
    if found != ours {
        return Err(mismatch(field, hex::encode(ours), hex::encode(found)));
    }
    Ok(())
}

/// Maps a Rekor v1 hash algorithm name to the protobuf one.
fn v1_alg(name: &str) -> Option<HashAlgorithm> {
    Some(match name {
        "sha256" => HashAlgorithm::Sha2_256,
        "sha384" => HashAlgorithm::Sha2_384,
        "sha512" => HashAlgorithm::Sha2_512,
        _ => return None,
    })
}

fn v2_alg(name: &str) -> Option<HashAlgorithm> {
    Some(match name {
        "SHA2_256" => HashAlgorithm::Sha2_256,
        "SHA2_384" => HashAlgorithm::Sha2_384,
        "SHA2_512" => HashAlgorithm::Sha2_512,
        _ => return None,
    })
}

fn sha2(alg: &HashAlgorithm, data: &[u8]) -> Option<Vec<u8>> {
    Some(match alg {
        HashAlgorithm::Sha2_256 => Sha256::digest(data).to_vec(),
        HashAlgorithm::Sha2_384 => Sha384::digest(data).to_vec(),
        HashAlgorithm::Sha2_512 => Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

/// The one signature of the DSSE envelope (bundles require exactly one).
fn dsse_signature(env: &crate::dsse::Envelope) -> Result<&[u8], TlogError> {
    match env.signatures.as_slice() {
        [one] => Ok(&one.sig),
        other => Err(TlogError::ContentUnsupported {
            expected: "a DSSE envelope with exactly one signature".into(),
            found: format!("{} signatures", other.len()),
        }),
    }
}

fn one<'a, T>(field: &str, items: &'a [T]) -> Result<&'a T, TlogError> {
    match items {
        [one] => Ok(one),
        other => Err(mismatch(
            field,
            "exactly one signature (the bundle's)",
            format!("{} signatures", other.len()),
        )),
    }
}

/// The SubjectPublicKeyInfo DER of the verification material.
fn material_spki(material: &SigningMaterial<'_>) -> Result<Vec<u8>, TlogError> {
    match material {
        SigningMaterial::PublicKey(d) => Ok(d.to_vec()),
        SigningMaterial::Certificate(d) => {
            use x509_cert::der::{Decode as _, Encode as _};
            let cert =
                x509_cert::Certificate::from_der(d).map_err(|e| TlogError::MaterialMalformed {
                    expected: "a DER X.509 leaf certificate".into(),
                    found: e.to_string(),
                })?;
            cert.tbs_certificate()
                .subject_public_key_info()
                .to_der()
                .map_err(|e| TlogError::MaterialMalformed {
                    expected: "an encodable SubjectPublicKeyInfo".into(),
                    found: e.to_string(),
                })
        }
    }
}

/// Compares a Rekor v2 verifier with the bundle's material (raw bytes and key details).
fn check_v2_verifier(
    field: &str,
    v: &V2Verifier,
    material: &SigningMaterial<'_>,
) -> Result<(), TlogError> {
    let (found_kind, raw) = match (&v.public_key, &v.x509_certificate) {
        (Some(k), None) => ("publicKey", b64(field, &k.raw_bytes)?),
        (None, Some(c)) => ("x509Certificate", b64(field, &c.raw_bytes)?),
        _ => {
            return Err(malformed(
                field,
                "exactly one of publicKey and x509Certificate",
                "both or neither",
            ));
        }
    };
    let (want_kind, want) = match material {
        SigningMaterial::Certificate(d) => ("x509Certificate", *d),
        SigningMaterial::PublicKey(d) => ("publicKey", *d),
    };
    if found_kind != want_kind || raw != want {
        return Err(mismatch(
            field,
            format!(
                "{want_kind} = the bundle's (sha256 {})",
                hex::encode(Sha256::digest(want))
            ),
            format!(
                "{found_kind} with sha256 {}",
                hex::encode(Sha256::digest(&raw))
            ),
        ));
    }
    let spki = material_spki(material)?;
    let key = VerifyingKey::from_spki_der(&spki).map_err(|e| TlogError::MaterialMalformed {
        expected: "a supported signing key".into(),
        found: e.to_string(),
    })?;
    let ok = match &key {
        VerifyingKey::P256(_) => v.key_details == "PKIX_ECDSA_P256_SHA_256",
        VerifyingKey::P384(_) => v.key_details == "PKIX_ECDSA_P384_SHA_384",
        VerifyingKey::Ed25519(_) => {
            matches!(v.key_details.as_str(), "PKIX_ED25519" | "PKIX_ED25519_PH")
        }
        VerifyingKey::Rsa(_) => v.key_details.starts_with("PKIX_RSA_"),
    };
    if !ok {
        return Err(mismatch(
            &format!("{field}.keyDetails"),
            format!("key details for the bundle's {} key", key.kind()),
            v.key_details.clone(),
        ));
    }
    Ok(())
}

/// Parses `body`, checks it is of `kind` (the entry's `kindVersion`) and that it records the
/// signed content.
///
/// # Errors
/// [`TlogError::BodyMalformed`], [`TlogError::KindVersionMismatch`], [`TlogError::BodyMismatch`],
/// [`TlogError::ContentUnsupported`], [`TlogError::MaterialMalformed`].
pub fn check_body(
    kind: EntryKind,
    body: &[u8],
    signed: &SignedContent<'_>,
) -> Result<(), TlogError> {
    let top: Top = serde_json::from_slice(body)
        .map_err(|e| malformed("canonicalizedBody", "a Rekor entry JSON object", e))?;
    let (k, v) = kind.kind_version();
    if top.kind != k || top.api_version != v {
        return Err(TlogError::KindVersionMismatch {
            expected: format!("{k}/{v} (the entry's kindVersion)"),
            found: format!(
                "{}/{} (the body's kind/apiVersion)",
                top.kind, top.api_version
            ),
        });
    }
    let material = &signed.material;
    match kind {
        EntryKind::HashedRekordV001 => {
            let s: HashedRekordV001 = spec(kind, top.spec)?;
            let SignedPayload::MessageSignature(ms) = &signed.payload else {
                return Err(mismatch(
                    "kind",
                    "a dsse or intoto entry for a DSSE envelope",
                    "a hashedrekord 0.0.1 entry (for message signatures)",
                ));
            };
            let alg = v1_alg(&s.data.hash.algorithm).ok_or_else(|| {
                malformed(
                    "spec.data.hash.algorithm",
                    "sha256, sha384 or sha512",
                    &s.data.hash.algorithm,
                )
            })?;
            if alg != ms.message_digest.algorithm {
                return Err(mismatch(
                    "spec.data.hash.algorithm",
                    ms.message_digest.algorithm.as_str(),
                    s.data.hash.algorithm.as_str(),
                ));
            }
            check_digest(
                "spec.data.hash.value",
                &hexdec("spec.data.hash.value", &s.data.hash.value)?,
                &ms.message_digest.digest,
            )?;
            check_signature(
                "spec.signature.content",
                &b64("spec.signature.content", &s.signature.content)?,
                &ms.signature,
            )?;
            check_pem_verifier(
                "spec.signature.publicKey.content",
                &s.signature.public_key.content,
                material,
            )
        }
        EntryKind::DsseV001 => {
            let s: DsseV001 = spec(kind, top.spec)?;
            let env = dsse_envelope(signed, kind)?;
            let ours = dsse_signature(env)?;
            if s.payload_hash.algorithm != "sha256" {
                return Err(malformed(
                    "spec.payloadHash.algorithm",
                    "sha256",
                    &s.payload_hash.algorithm,
                ));
            }
            check_digest(
                "spec.payloadHash.value",
                &hexdec("spec.payloadHash.value", &s.payload_hash.value)?,
                &Sha256::digest(&env.payload),
            )?;
            let sig = one("spec.signatures", &s.signatures)?;
            check_signature(
                "spec.signatures[0].signature",
                &b64("spec.signatures[0].signature", &sig.signature)?,
                ours,
            )?;
            check_pem_verifier("spec.signatures[0].verifier", &sig.verifier, material)
        }
        EntryKind::IntotoV002 => {
            let s: IntotoV002 = spec(kind, top.spec)?;
            let env = dsse_envelope(signed, kind)?;
            let ours = dsse_signature(env)?;
            let c = &s.content;
            if c.payload_hash.algorithm != "sha256" {
                return Err(malformed(
                    "spec.content.payloadHash.algorithm",
                    "sha256",
                    &c.payload_hash.algorithm,
                ));
            }
            check_digest(
                "spec.content.payloadHash.value",
                &hexdec("spec.content.payloadHash.value", &c.payload_hash.value)?,
                &Sha256::digest(&env.payload),
            )?;
            if c.envelope.payload_type != env.payload_type {
                return Err(mismatch(
                    "spec.content.envelope.payloadType",
                    env.payload_type.clone(),
                    c.envelope.payload_type.clone(),
                ));
            }
            if let Some(p) = &c.envelope.payload {
                // Stored base64-encoded twice (the field is bytes holding the envelope's base64).
                let once = b64("spec.content.envelope.payload", p)?;
                let text = std::str::from_utf8(&once).map_err(|e| {
                    malformed("spec.content.envelope.payload", "base64 of base64", e)
                })?;
                if b64("spec.content.envelope.payload", text)? != env.payload {
                    return Err(mismatch(
                        "spec.content.envelope.payload",
                        "the bundle's payload",
                        "another payload",
                    ));
                }
            }
            let sig = one("spec.content.envelope.signatures", &c.envelope.signatures)?;
            // `sig` is base64 of the base64 signature text (intoto 0.0.2 quirk).
            let field = "spec.content.envelope.signatures[0].sig";
            let once = b64(field, &sig.sig)?;
            let found = std::str::from_utf8(&once)
                .ok()
                .and_then(|text| STANDARD.decode(text).ok())
                .ok_or_else(|| {
                    mismatch(
                        field,
                        format!("base64 of the bundle's signature {}", STANDARD.encode(ours)),
                        format!("{} bytes that are not base64 text", once.len()),
                    )
                })?;
            check_signature(field, &found, ours)?;
            check_pem_verifier(
                "spec.content.envelope.signatures[0].publicKey",
                &sig.public_key,
                material,
            )
        }
        EntryKind::HashedRekordV002 => {
            let s: HashedRekordV002Spec = spec(kind, top.spec)?;
            let h = &s.hashed_rekord_v002;
            let alg = v2_alg(&h.data.algorithm).ok_or_else(|| {
                malformed(
                    "spec.hashedRekordV002.data.algorithm",
                    "SHA2_256, SHA2_384 or SHA2_512",
                    &h.data.algorithm,
                )
            })?;
            let found = b64("spec.hashedRekordV002.data.digest", &h.data.digest)?;
            match &signed.payload {
                SignedPayload::MessageSignature(ms) => {
                    if alg != ms.message_digest.algorithm {
                        return Err(mismatch(
                            "spec.hashedRekordV002.data.algorithm",
                            ms.message_digest.algorithm.as_str(),
                            h.data.algorithm.as_str(),
                        ));
                    }
                    check_digest(
                        "spec.hashedRekordV002.data.digest",
                        &found,
                        &ms.message_digest.digest,
                    )?;
                    check_signature(
                        "spec.hashedRekordV002.signature.content",
                        &b64(
                            "spec.hashedRekordV002.signature.content",
                            &h.signature.content,
                        )?,
                        &ms.signature,
                    )?;
                }
                SignedPayload::Dsse(env) => {
                    // Rekor v2 logs a DSSE envelope as a hashedrekord over Hash(PAE(type, payload)).
                    let ours = dsse_signature(env)?;
                    let want = sha2(&alg, &env.pae()).ok_or_else(|| {
                        malformed(
                            "spec.hashedRekordV002.data.algorithm",
                            "a SHA-2 algorithm",
                            &h.data.algorithm,
                        )
                    })?;
                    check_digest(
                        "spec.hashedRekordV002.data.digest (Hash(PAE(payloadType, payload)))",
                        &found,
                        &want,
                    )?;
                    check_signature(
                        "spec.hashedRekordV002.signature.content",
                        &b64(
                            "spec.hashedRekordV002.signature.content",
                            &h.signature.content,
                        )?,
                        ours,
                    )?;
                }
            }
            check_v2_verifier(
                "spec.hashedRekordV002.signature.verifier",
                &h.signature.verifier,
                material,
            )
        }
        EntryKind::DsseV002 => {
            let s: DsseV002Spec = spec(kind, top.spec)?;
            let d = &s.dsse_v002;
            let env = dsse_envelope(signed, kind)?;
            let ours = dsse_signature(env)?;
            let alg = v2_alg(&d.payload_hash.algorithm).ok_or_else(|| {
                malformed(
                    "spec.dsseV002.payloadHash.algorithm",
                    "SHA2_256, SHA2_384 or SHA2_512",
                    &d.payload_hash.algorithm,
                )
            })?;
            let want = sha2(&alg, &env.payload).ok_or_else(|| {
                malformed(
                    "spec.dsseV002.payloadHash.algorithm",
                    "a SHA-2 algorithm",
                    &d.payload_hash.algorithm,
                )
            })?;
            check_digest(
                "spec.dsseV002.payloadHash.digest",
                &b64("spec.dsseV002.payloadHash.digest", &d.payload_hash.digest)?,
                &want,
            )?;
            let sig = one("spec.dsseV002.signatures", &d.signatures)?;
            check_signature(
                "spec.dsseV002.signatures[0].content",
                &b64("spec.dsseV002.signatures[0].content", &sig.content)?,
                ours,
            )?;
            check_v2_verifier(
                "spec.dsseV002.signatures[0].verifier",
                &sig.verifier,
                material,
            )
        }
    }
}

fn dsse_envelope<'a>(
    signed: &SignedContent<'a>,
    kind: EntryKind,
) -> Result<&'a crate::dsse::Envelope, TlogError> {
    match signed.payload {
        SignedPayload::Dsse(env) => Ok(env),
        SignedPayload::MessageSignature(_) => Err(mismatch(
            "kind",
            "a hashedrekord entry for a message signature",
            format!("a {kind} entry (for DSSE envelopes)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(der: &[u8], width: usize, eol: &str) -> String {
        let b64 = STANDARD.encode(der);
        let mut out = format!("-----BEGIN PUBLIC KEY-----{eol}");
        for chunk in b64.as_bytes().chunks(width) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push_str(eol);
        }
        out.push_str(&format!("-----END PUBLIC KEY-----{eol}"));
        out
    }

    #[test]
    fn decode_pem_detects_line_width_and_ignores_surrounding_text() {
        let der: Vec<u8> = (0..=200).collect();
        for (width, eol) in [(64, "\n"), (76, "\n"), (64, "\r\n"), (1000, "\n")] {
            let text = format!("before\n{}after", pem(&der, width, eol));
            assert_eq!(
                decode_pem(text.as_bytes()),
                Some(("PUBLIC KEY".to_string(), der.clone())),
                "{width} {eol:?}"
            );
        }
        let good = pem(&der, 64, "\n");
        let header = good.replacen("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1);
        let mismatched = good.replace("END PUBLIC KEY", "END CERTIFICATE");
        let bad_b64 = good.replacen("-----\n", "-----\n!!!!", 1);
        let empty = "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n";
        for bad in [header.as_str(), &mismatched, &bad_b64, empty, "no PEM", ""] {
            assert_eq!(decode_pem(bad.as_bytes()), None, "{bad:?}");
        }
    }
}
