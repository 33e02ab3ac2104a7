//! Transparency log (Rekor) entry verification: the entry is in a trusted log, and it records
//! exactly what the bundle signed.
//!
//! [`verify_entry`] checks one `TransparencyLogEntry` of a bundle against the trusted root and the
//! bundle's signed content, failing closed with a typed [`TlogError`] that says what was expected
//! and what was found:
//!
//! 1. **Log.** The entry's `logId` must name a log of the trusted root (Rekor v1: SHA-256 of the
//!    log key's DER; Rekor v2: the C2SP signed-note key id, the SHA-256 whose first 4 bytes are the
//!    checkpoint key hint). The log key must parse and have a validity start.
//! 2. **Body.** `canonicalizedBody` must be of the entry's `kindVersion` and record this content,
//!    signature and verification material (see [`body`] for the supported kinds and fields).
//! 3. **SET** (inclusion promise), when present (Rekor v1 only): the log's signature over the
//!    canonical JSON `{"body":…,"integratedTime":…,"logID":…,"logIndex":…}`, with the log key
//!    valid at the integrated time.
//! 4. **Inclusion proof**, when present: RFC 9162 audit path from `SHA-256(0x00 || body)` to the
//!    root hash (see [`merkle`]), and a checkpoint signed by the log key for the same tree size
//!    and root hash (see [`checkpoint`]). Rekor v2 entries must have one.
//! 5. **Time.** Only a verified SET makes the integrated time trustworthy: sigstore's rule (as in
//!    sigstore-go) is that an inclusion proof alone does not sign the time, so an entry verified
//!    only by its proof, and every Rekor v2 entry, reports `integrated_time: None` and the caller
//!    must take the signing time from an RFC 3161 timestamp and check it against
//!    [`VerifiedEntry::log_validity`]. When the entry carries a non-zero integrated time and the
//!    bundle a certificate, that time must lie within the certificate's validity (as sigstore-go).
//!
//! [`verify_bundle_entry`] adds the bundle media-type rules: a v0.1 bundle's entry needs an
//! inclusion promise, a v0.2 or v0.3 bundle's entry an inclusion proof (with checkpoint).

pub mod body;
pub mod checkpoint;
pub mod merkle;

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::bundle::{
    Bundle, Content, KeyMaterial, MediaType, MessageSignature, TransparencyLogEntry,
};
use crate::dsse::Envelope;
use crate::trust::{LogInstance, TrustedRoot, Validity};
use crate::verify::cert::{MAX_UNIX_SECONDS, fmt_time, unix_seconds};
use crate::verify::pki::{HashAlg, VerifyingKey};

pub use body::EntryKind;

/// Largest `canonicalizedBody` accepted.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Largest signed entry timestamp accepted (an RSA-4096 signature is 512 bytes).
pub const MAX_SET_BYTES: usize = 1024;

/// Why a transparency log entry does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogError {
    /// The entry names a log the trusted root does not have.
    #[error(
        "unknown transparency log: expected a log id of the trusted root ({expected}), found {found}"
    )]
    UnknownLog {
        /// The trusted root's log ids (hex).
        expected: String,
        /// The entry's log id (hex).
        found: String,
    },
    /// The trusted root's entry for the log cannot be used.
    #[error("trusted root log {log}: expected {expected}, found {found}")]
    LogUnusable {
        /// The log's base URL.
        log: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The log key was not valid at the entry's integrated time.
    #[error(
        "log key of {log} not valid at the integrated time: expected a time within {expected}, found {found}"
    )]
    LogKeyNotValidAt {
        /// The log's base URL.
        log: String,
        /// The key's validity window.
        expected: String,
        /// The integrated time.
        found: String,
    },
    /// A field of the entry is out of range or too large.
    #[error("malformed log entry field {field}: expected {expected}, found {found}")]
    EntryMalformed {
        /// The field.
        field: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The entry's kind/version is not one this verifier supports.
    #[error(
        "unsupported log entry kind: expected hashedrekord/0.0.1, dsse/0.0.1, intoto/0.0.2, hashedrekord/0.0.2 or dsse/0.0.2, found {found}"
    )]
    UnsupportedKind {
        /// The entry's kind/version.
        found: String,
    },
    /// The body's kind/apiVersion differs from the entry's kindVersion.
    #[error("log entry kind mismatch: expected {expected}, found {found}")]
    KindVersionMismatch {
        /// The entry's kindVersion.
        expected: String,
        /// The body's kind/apiVersion.
        found: String,
    },
    /// The body is not a well-formed entry of its kind.
    #[error("malformed log entry body at {field}: expected {expected}, found {found}")]
    BodyMalformed {
        /// The field.
        field: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The body records other content, another signature or another key than the bundle's.
    #[error("log entry does not match the bundle at {field}: expected {expected}, found {found}")]
    BodyMismatch {
        /// The body field.
        field: String,
        /// The bundle's value.
        expected: String,
        /// The body's value.
        found: String,
    },
    /// The bundle's content cannot be checked against a log entry.
    #[error("signed content: expected {expected}, found {found}")]
    ContentUnsupported {
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The bundle's certificate or key cannot be read.
    #[error("verification material: expected {expected}, found {found}")]
    MaterialMalformed {
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The entry carries neither a promise nor a proof, or lacks one its log or bundle requires.
    #[error("log entry proof: expected {expected}, found {found}")]
    ProofMissing {
        /// What was required.
        expected: String,
        /// What the entry has.
        found: String,
    },
    /// The signed entry timestamp does not verify.
    #[error("signed entry timestamp: expected {expected}, found {found}")]
    SetInvalid {
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The inclusion proof does not verify.
    #[error("inclusion proof: {0}")]
    InclusionProofInvalid(#[from] merkle::MerkleError),
    /// The inclusion proof's fields are inconsistent.
    #[error("inclusion proof: expected {expected}, found {found}")]
    InclusionProofMalformed {
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The checkpoint is malformed or not signed by the log.
    #[error("checkpoint: {0}")]
    CheckpointInvalid(#[from] checkpoint::CheckpointError),
    /// The checkpoint is for another tree than the inclusion proof.
    #[error(
        "checkpoint does not match the inclusion proof: expected {field} {expected}, found {found}"
    )]
    CheckpointMismatch {
        /// `tree size` or `root hash`.
        field: &'static str,
        /// The proof's value.
        expected: String,
        /// The checkpoint's value.
        found: String,
    },
    /// The integrated time lies outside the signing certificate's validity.
    #[error(
        "integrated time outside the signing certificate's validity: expected a time within {expected}, found {found}"
    )]
    IntegratedTimeOutsideCertificate {
        /// The certificate's validity.
        expected: String,
        /// The integrated time.
        found: String,
    },
}

/// What the bundle signed.
#[derive(Debug, Clone, Copy)]
pub enum SignedPayload<'a> {
    /// A DSSE envelope (exactly one signature).
    Dsse(&'a Envelope),
    /// A message signature: digest and signature.
    MessageSignature(&'a MessageSignature),
}

/// The key the bundle's signature is checked with.
#[derive(Debug, Clone, Copy)]
pub enum SigningMaterial<'a> {
    /// The DER leaf certificate (keyless bundles).
    Certificate(&'a [u8]),
    /// The DER SubjectPublicKeyInfo of the key (key-signed bundles; the caller resolves the hint).
    PublicKey(&'a [u8]),
}

/// What a bundle signed and with what: the content a log entry must record.
#[derive(Debug, Clone, Copy)]
pub struct SignedContent<'a> {
    /// The signed content.
    pub payload: SignedPayload<'a>,
    /// The certificate or key.
    pub material: SigningMaterial<'a>,
}

impl<'a> SignedContent<'a> {
    /// The signed content of `bundle`: its content, and its leaf certificate, or `public_key`
    /// (DER SPKI, resolved by the caller from the bundle's key hint) for a key-signed bundle.
    ///
    /// # Errors
    /// [`TlogError::MaterialMalformed`] for an empty certificate chain or a key-signed bundle
    /// without `public_key`.
    pub fn from_bundle(
        bundle: &'a Bundle,
        public_key: Option<&'a [u8]>,
    ) -> Result<Self, TlogError> {
        let payload = match &bundle.content {
            Content::DsseEnvelope(e) => SignedPayload::Dsse(e),
            Content::MessageSignature(m) => SignedPayload::MessageSignature(m),
        };
        let material = match (&bundle.verification_material.key_material, public_key) {
            (KeyMaterial::Certificate(c), _) => SigningMaterial::Certificate(c),
            (KeyMaterial::X509CertificateChain(chain), _) => match chain.first() {
                Some(c) => SigningMaterial::Certificate(c),
                None => {
                    return Err(TlogError::MaterialMalformed {
                        expected: "a leaf certificate in x509CertificateChain".into(),
                        found: "an empty chain".into(),
                    });
                }
            },
            (KeyMaterial::PublicKey { .. }, Some(k)) => SigningMaterial::PublicKey(k),
            (KeyMaterial::PublicKey { hint }, None) => {
                return Err(TlogError::MaterialMalformed {
                    expected: "the public key the bundle's hint names".into(),
                    found: format!("no key for hint {hint:?}"),
                });
            }
        };
        Ok(SignedContent { payload, material })
    }
}

/// A log entry that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEntry {
    /// The integrated time, only when a verified SET signs it (Rekor v1); `None` otherwise.
    pub integrated_time: Option<SystemTime>,
    /// The entry's log index (the global index for Rekor v1).
    pub log_index: i64,
    /// Whether an inclusion proof and its checkpoint verified.
    pub has_verified_inclusion_proof: bool,
    /// Whether a signed entry timestamp verified.
    pub has_verified_set: bool,
    /// The entry's kind and version.
    pub kind: EntryKind,
    /// The log's base URL from the trusted root.
    pub log_base_url: String,
    /// The log key's validity: a signing time from a timestamp authority must lie within it.
    pub log_validity: Validity,
}

fn entry_malformed(field: &str, expected: impl Into<String>, found: impl ToString) -> TlogError {
    TlogError::EntryMalformed {
        field: field.to_string(),
        expected: expected.into(),
        found: found.to_string(),
    }
}

fn describe_validity(v: &Validity) -> String {
    let t = |t: Option<SystemTime>, none: &str| t.map_or(none.to_string(), fmt_time);
    format!("[{}, {}]", t(v.start, "no start"), t(v.end, "open end"))
}

/// The entry's `integratedTime` as a time: positive and no later than 9999-12-31T23:59:59Z
/// (checked arithmetic; an out-of-range value is a malformed entry, never a panic).
fn checked_integrated_time(entry: &TransparencyLogEntry) -> Result<SystemTime, TlogError> {
    unix_seconds(entry.integrated_time)
        .filter(|_| entry.integrated_time > 0)
        .ok_or_else(|| {
            entry_malformed(
                "integratedTime",
                format!(
                    "a positive Unix time in seconds, at most {MAX_UNIX_SECONDS} (9999-12-31T23:59:59Z)"
                ),
                entry.integrated_time,
            )
        })
}

/// The time an entry claims it was integrated at, unverified: `None` when it claims none (zero) or
/// the value is out of range (see `checked_integrated_time`). For reports and for checking a
/// certificate at the claimed time when no verified time exists; never a verified signing time.
#[must_use]
pub fn claimed_integrated_time(entry: &TransparencyLogEntry) -> Option<SystemTime> {
    checked_integrated_time(entry).ok()
}

/// The hash a log key signs with, from its `keyDetails` (default: the key type's own).
fn log_hash(log: &LogInstance, key: &VerifyingKey) -> HashAlg {
    let d = log.key_details.as_str();
    if d.ends_with("SHA_384") {
        HashAlg::Sha384
    } else if d.ends_with("SHA_512") {
        HashAlg::Sha512
    } else if d.ends_with("SHA_256") {
        HashAlg::Sha256
    } else {
        key.default_hash()
    }
}

/// Finds the entry's log in the trusted root.
fn find_log<'r>(
    entry: &TransparencyLogEntry,
    root: &'r TrustedRoot,
) -> Result<&'r LogInstance, TlogError> {
    let id = &entry.log_id.key_id;
    root.tlogs
        .iter()
        .find(|l| !id.is_empty() && l.log_id == *id)
        .ok_or_else(|| TlogError::UnknownLog {
            expected: root
                .tlogs
                .iter()
                .map(|l| hex::encode(&l.log_id))
                .collect::<Vec<_>>()
                .join(", "),
            found: hex::encode(id),
        })
}

/// Verifies one transparency log entry of a bundle: the log is trusted, the body records the
/// signed content, and the SET and/or inclusion proof (with checkpoint) verify.
///
/// # Errors
/// A [`TlogError`] naming the first check that failed.
pub fn verify_entry(
    entry: &TransparencyLogEntry,
    root: &TrustedRoot,
    signed: &SignedContent<'_>,
) -> Result<VerifiedEntry, TlogError> {
    // 1. The log.
    let log = find_log(entry, root)?;
    let unusable = |expected: &str, found: String| TlogError::LogUnusable {
        log: log.base_url.clone(),
        expected: expected.to_string(),
        found,
    };
    if log.valid_for.start.is_none() {
        return Err(unusable("a log key with a validFor.start", "none".into()));
    }
    let key = VerifyingKey::from_trusted_spki_der(&log.public_key)
        .map_err(|e| unusable("a supported log key", e.to_string()))?;
    let hash = log_hash(log, &key);

    // 2. The body.
    if entry.log_index < 0 {
        return Err(entry_malformed(
            "logIndex",
            "a non-negative index",
            entry.log_index,
        ));
    }
    if entry.canonicalized_body.len() > MAX_BODY_BYTES {
        return Err(entry_malformed(
            "canonicalizedBody",
            format!("at most {MAX_BODY_BYTES} bytes"),
            format!("{} bytes", entry.canonicalized_body.len()),
        ));
    }
    let kv = &entry.kind_version;
    let kind = EntryKind::from_kind_version(&kv.kind, &kv.version).ok_or_else(|| {
        TlogError::UnsupportedKind {
            found: format!("{}/{}", kv.kind, kv.version),
        }
    })?;
    body::check_body(kind, &entry.canonicalized_body, signed)?;

    if entry.inclusion_promise.is_none() && entry.inclusion_proof.is_none() {
        return Err(TlogError::ProofMissing {
            expected: "an inclusion promise (SET) or an inclusion proof".into(),
            found: "neither".into(),
        });
    }

    // 3. The SET.
    let mut integrated_time = None;
    let mut has_verified_set = false;
    if let Some(promise) = &entry.inclusion_promise {
        if kind.is_rekor_v2() {
            return Err(TlogError::SetInvalid {
                expected:
                    "no inclusion promise on a Rekor v2 entry (v2 logs sign checkpoints only)"
                        .into(),
                found: "an inclusion promise".into(),
            });
        }
        let set = &promise.signed_entry_timestamp;
        if set.is_empty() || set.len() > MAX_SET_BYTES {
            return Err(TlogError::SetInvalid {
                expected: format!("a signature of 1 to {MAX_SET_BYTES} bytes"),
                found: format!("{} bytes", set.len()),
            });
        }
        let time = checked_integrated_time(entry)?;
        if !log.valid_for.contains(time) {
            return Err(TlogError::LogKeyNotValidAt {
                log: log.base_url.clone(),
                expected: describe_validity(&log.valid_for),
                found: fmt_time(time),
            });
        }
        let payload = set_payload(entry);
        key.verify(payload.as_bytes(), set, hash)
            .map_err(|e| TlogError::SetInvalid {
                expected: format!(
                    "a signature by the log key of {} over {}",
                    log.base_url,
                    shorten(&payload)
                ),
                found: e.to_string(),
            })?;
        integrated_time = Some(time);
        has_verified_set = true;
    }

    // 4. The inclusion proof and checkpoint.
    let mut has_verified_inclusion_proof = false;
    if let Some(proof) = &entry.inclusion_proof {
        verify_inclusion_proof(entry, kind, proof, log, &key, hash)?;
        has_verified_inclusion_proof = true;
    } else if kind.is_rekor_v2() {
        return Err(TlogError::ProofMissing {
            expected: "an inclusion proof (Rekor v2 entries are proved by checkpoints only)".into(),
            found: "none".into(),
        });
    }

    // 5. Integrated time against the certificate (sigstore-go does this whenever it is set).
    if !kind.is_rekor_v2() && entry.integrated_time != 0 {
        if let SigningMaterial::Certificate(der) = signed.material {
            let t = checked_integrated_time(entry)?;
            check_certificate_time(der, t)?;
        }
    }

    Ok(VerifiedEntry {
        integrated_time,
        log_index: entry.log_index,
        has_verified_inclusion_proof,
        has_verified_set,
        kind,
        log_base_url: log.base_url.clone(),
        log_validity: log.valid_for,
    })
}

/// As [`verify_entry`], after the bundle media type's requirements on the entry: v0.1 needs an
/// inclusion promise, v0.2 and v0.3 an inclusion proof with a checkpoint.
///
/// # Errors
/// [`TlogError::ProofMissing`], or any error of [`verify_entry`].
pub fn verify_bundle_entry(
    entry: &TransparencyLogEntry,
    media_type: MediaType,
    root: &TrustedRoot,
    signed: &SignedContent<'_>,
) -> Result<VerifiedEntry, TlogError> {
    match media_type {
        MediaType::V01 => {
            if entry.inclusion_promise.is_none() {
                return Err(TlogError::ProofMissing {
                    expected: "an inclusion promise (required in v0.1 bundles)".into(),
                    found: "none".into(),
                });
            }
        }
        MediaType::V02 | MediaType::V03 | MediaType::V03Legacy => {
            if entry.inclusion_proof.is_none() {
                return Err(TlogError::ProofMissing {
                    expected: format!(
                        "an inclusion proof (required from bundle v0.2 on; this is {media_type})"
                    ),
                    found: "none".into(),
                });
            }
        }
    }
    verify_entry(entry, root, signed)
}

/// The canonical (RFC 8785) JSON a SET signs: keys sorted, no whitespace.
fn set_payload(entry: &TransparencyLogEntry) -> String {
    format!(
        r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
        STANDARD.encode(&entry.canonicalized_body),
        entry.integrated_time,
        hex::encode(&entry.log_id.key_id),
        entry.log_index
    )
}

fn shorten(s: &str) -> String {
    if s.len() > 60 {
        let head: String = s.chars().take(60).collect();
        format!("{head}…")
    } else {
        s.to_string()
    }
}

fn verify_inclusion_proof(
    entry: &TransparencyLogEntry,
    kind: EntryKind,
    proof: &crate::bundle::InclusionProof,
    log: &LogInstance,
    key: &VerifyingKey,
    hash: HashAlg,
) -> Result<(), TlogError> {
    let bad =
        |expected: String, found: String| TlogError::InclusionProofMalformed { expected, found };
    let index = u64::try_from(proof.log_index).map_err(|_| {
        bad(
            "a non-negative logIndex".into(),
            proof.log_index.to_string(),
        )
    })?;
    let size = u64::try_from(proof.tree_size).map_err(|_| {
        bad(
            "a non-negative treeSize".into(),
            proof.tree_size.to_string(),
        )
    })?;
    if proof.hashes.len() > merkle::MAX_PROOF_HASHES {
        return Err(bad(
            format!("at most {} hashes", merkle::MAX_PROOF_HASHES),
            proof.hashes.len().to_string(),
        ));
    }
    if kind.is_rekor_v2() && proof.log_index != entry.log_index {
        return Err(bad(
            format!(
                "the proof's logIndex to equal the entry's {} (Rekor v2 logs are not sharded)",
                entry.log_index
            ),
            proof.log_index.to_string(),
        ));
    }
    let Some(cp) = &proof.checkpoint else {
        return Err(TlogError::ProofMissing {
            expected: "a checkpoint in the inclusion proof".into(),
            found: "none".into(),
        });
    };
    if cp.envelope.is_empty() {
        return Err(TlogError::ProofMissing {
            expected: "a checkpoint in the inclusion proof".into(),
            found: "an empty checkpoint envelope".into(),
        });
    }
    let leaf = merkle::leaf_hash(&entry.canonicalized_body);
    merkle::verify_inclusion(index, size, &leaf, &proof.hashes, &proof.root_hash)?;

    let checkpoint = checkpoint::Checkpoint::parse(&cp.envelope)?;
    checkpoint.verify_signature(key, &log.public_key, &log.log_id, hash)?;
    if checkpoint.size != size {
        return Err(TlogError::CheckpointMismatch {
            field: "tree size",
            expected: size.to_string(),
            found: checkpoint.size.to_string(),
        });
    }
    if checkpoint.root_hash != proof.root_hash {
        return Err(TlogError::CheckpointMismatch {
            field: "root hash",
            expected: hex::encode(&proof.root_hash),
            found: hex::encode(&checkpoint.root_hash),
        });
    }
    Ok(())
}

fn check_certificate_time(der: &[u8], t: SystemTime) -> Result<(), TlogError> {
    use x509_cert::der::Decode as _;
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| TlogError::MaterialMalformed {
        expected: "a DER X.509 leaf certificate".into(),
        found: e.to_string(),
    })?;
    let v = cert.tbs_certificate().validity();
    let (nb, na) = (v.not_before.to_system_time(), v.not_after.to_system_time());
    if t < nb || t > na {
        return Err(TlogError::IntegratedTimeOutsideCertificate {
            expected: format!("[{}, {}]", fmt_time(nb), fmt_time(na)),
            found: fmt_time(t),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{KindVersion, LogId};

    #[test]
    fn the_set_payload_is_canonical_json_with_sorted_keys_and_hex_log_id() {
        let entry = TransparencyLogEntry {
            log_index: 42,
            log_id: LogId {
                key_id: vec![0xab, 0x01],
            },
            kind_version: KindVersion {
                kind: "hashedrekord".into(),
                version: "0.0.1".into(),
            },
            integrated_time: 1_700_000_000,
            inclusion_promise: None,
            inclusion_proof: None,
            canonicalized_body: b"{}".to_vec(),
        };
        assert_eq!(
            set_payload(&entry),
            r#"{"body":"e30=","integratedTime":1700000000,"logID":"ab01","logIndex":42}"#
        );
    }

    #[test]
    fn log_hash_follows_key_details() {
        let key = VerifyingKey::from_spki_der(&TrustedRoot::production().tlogs[0].public_key)
            .expect("production log key");
        let mut log = TrustedRoot::production().tlogs[0].clone();
        assert_eq!(log_hash(&log, &key), HashAlg::Sha256);
        log.key_details = "PKIX_ECDSA_P384_SHA_384".into();
        assert_eq!(log_hash(&log, &key), HashAlg::Sha384);
    }
}
