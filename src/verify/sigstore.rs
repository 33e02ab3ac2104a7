//! Verifying any sigstore bundle (v0.1 to v0.3; DSSE or message signature; keyless or key) against
//! a trusted root, an expected signer and an artifact — the sigstore protocol, fail-closed.
//!
//! The order: (1) parse; (2) log entries (body bound to this content, SET, inclusion proof to a
//! signed checkpoint) and RFC 3161 timestamps, which give the verified signing times; (3) the
//! certificate chains to a trusted Fulcio CA at EVERY verified signing time and carries a valid SCT,
//! or the key is the expected one; (4) the signature over PAE(payloadType, payload) or the message
//! digest; (5) the identity (OIDC issuer exact, SAN exact or anchored regex); (6) the artifact binds
//! (a statement subject digest, or the message digest). Every failure is a [`Finding`] with a stable
//! code; verification collects them rather than stopping at the first.

use super::cert::{self, IdentityMatcher, VerifiedCert};
use super::pki::{HashAlg, VerifyingKey};
use super::tlog::{self, SignedContent, TlogError};
use super::tsa;
use crate::bundle::{Bundle, BundleError, Content, HashAlgorithm, KeyMaterial};
use crate::finding::{Code, Finding};
use crate::trust::TrustedRoot;
use std::time::SystemTime;

/// What the signature must bind to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Artifact {
    /// The artifact's bytes.
    Bytes(Vec<u8>),
    /// A digest of the artifact: algorithm name as in-toto spells it (`sha256`, `sha512`...) and bytes.
    Digest {
        /// `sha256`, `sha384` or `sha512`.
        algorithm: String,
        /// The raw digest.
        digest: Vec<u8>,
    },
}

impl Artifact {
    /// Parses `sha256:<hex>` (or sha384/sha512).
    pub fn parse_digest(text: &str) -> Option<Artifact> {
        let (alg, hex_digest) = text.split_once(':')?;
        let alg = alg.to_ascii_lowercase();
        let want = match alg.as_str() {
            "sha256" => 32,
            "sha384" => 48,
            "sha512" => 64,
            _ => return None,
        };
        let digest = hex::decode(hex_digest).ok().filter(|d| d.len() == want)?;
        Some(Artifact::Digest {
            algorithm: alg,
            digest,
        })
    }

    /// The artifact's digest with the given algorithm, if it can be had.
    fn digest(&self, algorithm: &str) -> Option<Vec<u8>> {
        match self {
            Artifact::Digest {
                algorithm: a,
                digest,
            } => (a == algorithm).then(|| digest.clone()),
            Artifact::Bytes(bytes) => hash_alg(algorithm).map(|h| h.digest(bytes)),
        }
    }
}

fn hash_alg(name: &str) -> Option<HashAlg> {
    match name {
        "sha256" => Some(HashAlg::Sha256),
        "sha384" => Some(HashAlg::Sha384),
        "sha512" => Some(HashAlg::Sha512),
        _ => None,
    }
}

/// Who must have signed.
pub enum Signer<'a> {
    /// A keyless signer: the certificate's OIDC issuer and SAN.
    Keyless {
        /// The OIDC issuer, exactly.
        issuer: &'a str,
        /// The SAN, exactly or by anchored regex.
        identity: &'a IdentityMatcher,
    },
    /// A public key the verifier holds.
    Key(&'a VerifyingKey, &'a [u8]),
}

/// What a successful verification established.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Every verified signing time (log integrated times and timestamp genTimes).
    pub signing_times: Vec<SystemTime>,
    /// The DSSE payload type and payload, for DSSE bundles.
    pub dsse_payload: Option<(String, Vec<u8>)>,
    /// The certificate's SAN and issuer, for keyless bundles.
    pub identity: Option<(String, String)>,
    /// How many log entries verified (with an inclusion proof or a SET).
    pub verified_log_entries: usize,
}

fn finding(
    code: Code,
    message: impl Into<String>,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> Finding {
    Finding::error(code, message).expected_found(expected, found)
}

fn tlog_code(e: &TlogError) -> Code {
    match e {
        TlogError::UnknownLog { .. }
        | TlogError::LogUnusable { .. }
        | TlogError::LogKeyNotValidAt { .. } => Code::TlogLogUntrusted,
        TlogError::BodyMismatch { .. } => Code::TlogEntryMismatch,
        TlogError::SetInvalid { .. } => Code::TlogSetInvalid,
        TlogError::ProofMissing { .. }
        | TlogError::InclusionProofInvalid(_)
        | TlogError::InclusionProofMalformed { .. } => Code::TlogInclusionProofInvalid,
        TlogError::CheckpointInvalid(_) | TlogError::CheckpointMismatch { .. } => {
            Code::TlogCheckpointInvalid
        }
        TlogError::IntegratedTimeOutsideCertificate { .. } => Code::CertificateInvalid,
        _ => Code::TlogEntryMalformed,
    }
}

fn cert_code(e: &cert::CertError) -> Code {
    match e {
        cert::CertError::SctMalformed { .. } | cert::CertError::NoValidSct { .. } => {
            Code::CertificateSctInvalid
        }
        cert::CertError::IdentityMismatch { .. } => Code::IdentityMismatch,
        _ => Code::CertificateInvalid,
    }
}

/// Verifies a sigstore bundle. `Ok` only when every step passed; otherwise every finding.
///
/// `artifact` is what the signature must bind to; `None` skips only that last step (for callers that
/// bind the payload themselves, like ci-attest's commit subject check).
pub fn verify(
    bytes: &[u8],
    root: &TrustedRoot,
    signer: &Signer<'_>,
    artifact: Option<&Artifact>,
) -> Result<Verified, Vec<Finding>> {
    let mut findings = Vec::new();
    // 1. Parse.
    let bundle = match Bundle::from_slice(bytes) {
        Ok(b) => b,
        Err(e) => {
            let code = match &e {
                BundleError::Invalid { message, .. }
                    if message.starts_with("unknown bundle media type") =>
                {
                    Code::BundleMediaTypeUnsupported
                }
                _ => Code::BundleMalformed,
            };
            return Err(vec![finding(
                code,
                "the bundle cannot be read",
                "a sigstore bundle v0.1, v0.2 or v0.3",
                e.to_string(),
            )]);
        }
    };
    let (signature, dsse_payload) = match &bundle.content {
        Content::DsseEnvelope(env) => match bundle.single_signature_envelope() {
            Ok(_) => (
                env.signatures
                    .first()
                    .map(|s| s.sig.clone())
                    .unwrap_or_default(),
                Some((env.payload_type.clone(), env.payload.clone())),
            ),
            Err(e) => {
                return Err(vec![finding(
                    Code::EnvelopeMalformed,
                    "the DSSE envelope cannot be verified",
                    "a DSSE envelope with exactly one signature",
                    e.to_string(),
                )]);
            }
        },
        Content::MessageSignature(m) => (m.signature.clone(), None),
    };

    // Material vs expected signer.
    let (leaf, extra): (Option<&[u8]>, &[Vec<u8>]) =
        match &bundle.verification_material.key_material {
            KeyMaterial::Certificate(der) => (Some(der), &[]),
            KeyMaterial::X509CertificateChain(chain) => match chain.split_first() {
                Some((leaf, rest)) => (Some(leaf), rest),
                None => (None, &[]),
            },
            KeyMaterial::PublicKey { .. } => (None, &[]),
        };
    let key_spki = match signer {
        Signer::Key(_, spki) => Some(*spki),
        Signer::Keyless { .. } => None,
    };
    match (signer, leaf) {
        (Signer::Keyless { .. }, None) => {
            return Err(vec![finding(
                Code::VerificationMaterialUnsupported,
                "a keyless signer was expected but the bundle carries no certificate",
                "verificationMaterial.certificate or x509CertificateChain",
                "a public key hint",
            )]);
        }
        (Signer::Key(..), Some(_)) => {
            return Err(vec![finding(
                Code::VerificationMaterialUnsupported,
                "a key signer was expected but the bundle carries a certificate",
                "verificationMaterial.publicKey",
                "a certificate",
            )]);
        }
        _ => {}
    }

    // 2. Log entries and timestamps: the verified signing times.
    let mut times = Vec::new();
    let mut verified_entries = Vec::new();
    match SignedContent::from_bundle(&bundle, key_spki) {
        Ok(content) => {
            for entry in &bundle.verification_material.tlog_entries {
                match tlog::verify_bundle_entry(entry, bundle.media_type, root, &content) {
                    Ok(v) => verified_entries.push(v),
                    Err(e) => findings.push(finding(
                        tlog_code(&e),
                        "a transparency log entry does not verify",
                        "a log entry for this signature, proven in a trusted log",
                        e.to_string(),
                    )),
                }
            }
        }
        Err(e) => findings.push(finding(
            tlog_code(&e),
            "the log entries cannot be checked",
            "usable verification material",
            e.to_string(),
        )),
    }
    let mut tsa_times = Vec::new();
    let mut tsa_errors = Vec::new();
    if let Some(tvd) = &bundle.verification_material.timestamp_verification_data {
        for ts in &tvd.rfc3161_timestamps {
            match tsa::verify_timestamp(&ts.signed_timestamp, &signature, root) {
                Ok(t) => tsa_times.push(t),
                Err(e) => tsa_errors.push(e.to_string()),
            }
        }
    }
    times.extend(verified_entries.iter().filter_map(|v| v.integrated_time));
    times.extend(tsa_times.iter().copied());
    if bundle.verification_material.tlog_entries.is_empty()
        && matches!(signer, Signer::Keyless { .. })
    {
        findings.push(finding(
            Code::TlogEntryMissing,
            "a keyless bundle must be logged in a transparency log",
            "at least one tlog entry",
            "none",
        ));
    }
    // A Rekor v2 entry gives no time of its own: a timestamp must fall within the log key's validity.
    for v in verified_entries
        .iter()
        .filter(|v| v.integrated_time.is_none())
    {
        if !tsa_times.iter().any(|t| v.log_validity.contains(*t)) {
            findings.push(finding(
                Code::SigningTimeUnverified,
                "a log entry without an integrated time needs a timestamp within the log key's validity",
                format!("an RFC 3161 timestamp within the validity of {}", v.log_base_url),
                if tsa_times.is_empty() { "no verified timestamp".to_string() } else { "timestamps outside it".to_string() },
            ));
        }
    }
    if times.is_empty() {
        let found = if tsa_errors.is_empty() {
            "no signed entry timestamp and no RFC 3161 timestamp".to_string()
        } else {
            format!("timestamps that do not verify: {}", tsa_errors.join("; "))
        };
        let code = if tsa_errors.is_empty() {
            Code::SigningTimeUnverified
        } else {
            Code::TimestampInvalid
        };
        findings.push(finding(
            code,
            "no verified signing time",
            "a verified log integrated time or RFC 3161 timestamp",
            found,
        ));
    }

    // 3. Certificate at every signing time, SCT; or the key.
    let mut verified_cert: Option<VerifiedCert> = None;
    let verifying_key: Option<VerifyingKey> = match (signer, leaf) {
        (Signer::Key(key, _), _) => Some((*key).clone()),
        (Signer::Keyless { .. }, Some(leaf)) => {
            // Without a verified time the bundle is already rejected; the certificate is still
            // checked at the times the entries claim, so the report names every problem.
            let claimed: Vec<SystemTime> = bundle
                .verification_material
                .tlog_entries
                .iter()
                .filter_map(|e| u64::try_from(e.integrated_time).ok().filter(|&t| t > 0))
                .map(|t| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(t))
                .collect();
            let check_at = if times.is_empty() { &claimed } else { &times };
            for t in check_at {
                match cert::verify_chain(leaf, extra, root, *t) {
                    Ok(c) => verified_cert = Some(c),
                    Err(e) => {
                        findings.push(finding(cert_code(&e), "the certificate does not verify at a signing time", "a certificate chaining to a trusted Fulcio CA, valid at the signing time", e.to_string()));
                        verified_cert = None;
                        break;
                    }
                }
            }
            if let Some(c) = &verified_cert {
                if !root.ctlogs.is_empty() {
                    if let Err(e) = cert::verify_embedded_scts(c, root) {
                        findings.push(finding(
                            cert_code(&e),
                            "the certificate's SCT does not verify",
                            "an SCT from a trusted CT log",
                            e.to_string(),
                        ));
                    }
                }
            }
            verified_cert.as_ref().map(|c| c.key().clone())
        }
        _ => None,
    };

    // 4. Signature.
    if let Some(key) = &verifying_key {
        let result = match &bundle.content {
            Content::DsseEnvelope(env) => key.verify(&env.pae(), &signature, key.default_hash()),
            Content::MessageSignature(m) => {
                let hash = match m.message_digest.algorithm {
                    HashAlgorithm::Sha2_256 => Some(HashAlg::Sha256),
                    HashAlgorithm::Sha2_384 => Some(HashAlg::Sha384),
                    HashAlgorithm::Sha2_512 => Some(HashAlg::Sha512),
                    _ => None,
                };
                match (hash, artifact) {
                    (Some(h), Some(Artifact::Bytes(bytes)))
                        if !matches!(key, VerifyingKey::Ed25519(_)) =>
                    {
                        key.verify(bytes, &signature, h)
                    }
                    (Some(h), _) => key.verify_prehashed(&m.message_digest.digest, &signature, h),
                    (None, _) => Err(super::pki::PkiError::MalformedSignature(
                        "message digest algorithm",
                    )),
                }
            }
        };
        if let Err(e) = result {
            findings.push(finding(
                Code::SignatureInvalid,
                "the signature does not verify",
                "a signature by the signer's key over the signed content",
                e.to_string(),
            ));
        }
    }

    // 5. Identity.
    let mut identity = None;
    if let (
        Signer::Keyless {
            issuer,
            identity: matcher,
        },
        Some(c),
    ) = (signer, &verified_cert)
    {
        match cert::identity_matches(c, issuer, matcher) {
            Ok(()) => {
                identity = Some((
                    c.subject_alternative_name()
                        .map(|s| s.value().to_string())
                        .unwrap_or_default(),
                    c.oidc_issuer().unwrap_or_default().to_string(),
                ))
            }
            Err(e) => findings.push(finding(
                Code::IdentityMismatch,
                "the certificate's identity is not the expected one",
                format!("issuer {issuer}, identity {matcher}"),
                e.to_string(),
            )),
        }
    }

    // 6. Artifact.
    match (artifact, &bundle.content) {
        (None, _) => {}
        (Some(artifact), Content::MessageSignature(m)) => {
            let alg = match m.message_digest.algorithm {
                HashAlgorithm::Sha2_256 => "sha256",
                HashAlgorithm::Sha2_384 => "sha384",
                HashAlgorithm::Sha2_512 => "sha512",
                _ => "unsupported",
            };
            if artifact.digest(alg).as_deref() != Some(m.message_digest.digest.as_slice()) {
                findings.push(finding(
                    Code::ArtifactMismatch,
                    "the bundle is for another artifact",
                    format!("messageDigest = {alg} of the artifact"),
                    format!("{alg}:{}", hex::encode(&m.message_digest.digest)),
                ));
            }
        }
        (Some(artifact), Content::DsseEnvelope(env)) => {
            if let Err(found) = subject_binds(&env.payload, artifact) {
                findings.push(finding(
                    Code::ArtifactMismatch,
                    "no statement subject is the artifact",
                    "an in-toto subject whose digest equals the artifact's",
                    found,
                ));
            }
        }
    }

    if findings.is_empty() {
        Ok(Verified {
            signing_times: times,
            dsse_payload,
            identity,
            verified_log_entries: verified_entries.len(),
        })
    } else {
        Err(findings)
    }
}

/// Checks that some subject of the in-toto statement has a digest equal to the artifact's.
fn subject_binds(payload: &[u8], artifact: &Artifact) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Subject {
        #[serde(default)]
        digest: std::collections::BTreeMap<String, String>,
    }
    #[derive(serde::Deserialize)]
    struct Statement {
        #[serde(rename = "_type")]
        statement_type: String,
        subject: Vec<Subject>,
    }
    let st: Statement = serde_json::from_slice(payload)
        .map_err(|e| format!("a payload that is not an in-toto statement ({e})"))?;
    if !st
        .statement_type
        .starts_with("https://in-toto.io/Statement/v")
    {
        return Err(format!("_type {:?}", st.statement_type));
    }
    for s in &st.subject {
        for (alg, value) in &s.digest {
            if let (Some(want), Ok(got)) = (artifact.digest(alg), hex::decode(value)) {
                if want == got {
                    return Ok(());
                }
            }
        }
    }
    Err(format!(
        "subjects {}",
        st.subject
            .iter()
            .flat_map(|s| s.digest.iter().map(|(a, v)| format!("{a}:{v}")))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
