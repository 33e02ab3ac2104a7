//! sigstore bundle (JSON) read and write: media types v0.1, v0.2 and v0.3.
//!
//! A [sigstore bundle] carries everything needed to verify one signature offline: the signed content
//! (a DSSE envelope or a message signature), the verification material (a public key hint, a
//! certificate or a certificate chain), transparency log entries and RFC 3161 timestamps. This module
//! is a typed serde model of its protobuf-JSON encoding (camelCase names, bytes as standard base64,
//! int64 as decimal strings), written by hand and proved by round-tripping real bundles.
//!
//! Parsing is strict where it matters and lenient where protobuf-JSON requires it: unknown fields are
//! ignored (newer versions may add some) and `null` means "absent", but a oneof with both or neither
//! alternative, an unknown media type, invalid base64, a negative log index or a missing required
//! message is an error, reported with serde_json's line and column. Checks that a verifier makes on
//! a parsed bundle, such as [`check_single_signature`], return typed [`BundleError`]s.
//!
//! [sigstore bundle]: https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_bundle.proto

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::dsse::{Envelope, base64_bytes};
use crate::keyid::KeyId;

/// Largest bundle [`Bundle::from_slice`] accepts, checked before parsing: 16 MiB.
pub const MAX_BUNDLE_BYTES: usize = 16 * 1024 * 1024;

/// Errors from reading and checking bundles.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The input is larger than [`MAX_BUNDLE_BYTES`].
    #[error("bundle too large: expected at most {max} bytes, found {found}")]
    TooLarge {
        /// The limit.
        max: usize,
        /// The input's size.
        found: usize,
    },
    /// The input is not a well-formed bundle (JSON syntax, types, or the model's rules).
    #[error("invalid sigstore bundle at line {line}, column {column}: {message}")]
    Invalid {
        /// 1-based line of the error (0 if unknown).
        line: usize,
        /// 1-based column of the error (0 if unknown).
        column: usize,
        /// What was expected and what was found.
        message: String,
    },
    /// The bundle's `mediaType` is not one of the sigstore bundle media types.
    #[error("unknown bundle media type {found:?}: expected one of {expected}")]
    UnknownMediaType {
        /// The media type found (clipped to 200 characters).
        found: String,
        /// The known media types.
        expected: String,
    },
    /// A DSSE envelope in a bundle must carry exactly one signature.
    #[error("expected exactly one signature in the bundle's DSSE envelope, found {found}")]
    DsseSignatureCount {
        /// The number of signatures found.
        found: usize,
    },
    /// The bundle's content is not the kind the caller needs.
    #[error("expected a bundle with {expected}, found one with {found}")]
    UnexpectedContent {
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
}

impl From<serde_json::Error> for BundleError {
    fn from(e: serde_json::Error) -> Self {
        let (line, column) = (e.line(), e.column());
        // serde_json appends " at line L column C" to its Display; we report the position in our
        // own fields, so strip it from the message.
        let mut message = e.to_string();
        let suffix = format!(" at line {line} column {column}");
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_owned();
        }
        Self::Invalid {
            line,
            column,
            message,
        }
    }
}

/// The bundle media types this crate reads; [`MediaType::V03`] is the one it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `application/vnd.dev.sigstore.bundle+json;version=0.1`
    V01,
    /// `application/vnd.dev.sigstore.bundle+json;version=0.2`
    V02,
    /// `application/vnd.dev.sigstore.bundle+json;version=0.3` (the older spelling of v0.3)
    V03Legacy,
    /// `application/vnd.dev.sigstore.bundle.v0.3+json`
    V03,
}

impl MediaType {
    const ALL: [MediaType; 4] = [Self::V01, Self::V02, Self::V03Legacy, Self::V03];

    /// The media type string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V01 => "application/vnd.dev.sigstore.bundle+json;version=0.1",
            Self::V02 => "application/vnd.dev.sigstore.bundle+json;version=0.2",
            Self::V03Legacy => "application/vnd.dev.sigstore.bundle+json;version=0.3",
            Self::V03 => "application/vnd.dev.sigstore.bundle.v0.3+json",
        }
    }

    /// Parses a media type string; `None` if it is not one of the known ones.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether this is a v0.3 media type (either spelling).
    #[must_use]
    pub fn is_v03(self) -> bool {
        matches!(self, Self::V03 | Self::V03Legacy)
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sigstore bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The bundle's media type (its format version).
    pub media_type: MediaType,
    /// The key or certificate, log entries and timestamps.
    pub verification_material: VerificationMaterial,
    /// What was signed.
    pub content: Content,
}

/// The `content` oneof of a bundle: what was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// `dsseEnvelope`: a DSSE envelope (for us, an in-toto Statement).
    DsseEnvelope(Envelope),
    /// `messageSignature`: a signature over an artifact's digest.
    MessageSignature(MessageSignature),
}

/// `verificationMaterial`: how to verify the signature and when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationMaterial {
    /// The `content` oneof: the key or certificate(s).
    pub key_material: KeyMaterial,
    /// `tlogEntries`: transparency log entries (may be empty).
    pub tlog_entries: Vec<TransparencyLogEntry>,
    /// `timestampVerificationData`: RFC 3161 timestamps, if any.
    pub timestamp_verification_data: Option<TimestampVerificationData>,
}

/// The `content` oneof of `verificationMaterial`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// `publicKey`: a hint naming a key the verifier already has.
    PublicKey {
        /// `hint`: for ci-attest, the [`KeyId`] string.
        hint: String,
    },
    /// `x509CertificateChain`: DER certificates, leaf first (v0.1 / v0.2 only).
    X509CertificateChain(Vec<Vec<u8>>),
    /// `certificate`: the DER leaf certificate (v0.3).
    Certificate(Vec<u8>),
}

/// `messageSignature`: a signature over an artifact digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSignature {
    /// `messageDigest`: the digest that was signed.
    pub message_digest: HashOutput,
    /// `signature`: the raw signature bytes.
    #[serde(with = "base64_bytes")]
    pub signature: Vec<u8>,
}

/// `HashOutput`: a digest and its algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HashOutput {
    /// `algorithm`, e.g. `SHA2_256`.
    pub algorithm: HashAlgorithm,
    /// `digest`: the raw digest bytes.
    #[serde(with = "base64_bytes")]
    pub digest: Vec<u8>,
}

/// The sigstore `HashAlgorithm` enum, by its protobuf-JSON name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// `SHA2_256`
    Sha2_256,
    /// `SHA2_384`
    Sha2_384,
    /// `SHA2_512`
    Sha2_512,
    /// `SHA3_256`
    Sha3_256,
    /// `SHA3_384`
    Sha3_384,
    /// Any other name (e.g. `HASH_ALGORITHM_UNSPECIFIED` or one added later); kept verbatim so that
    /// a verifier can reject it with a precise message.
    Other(String),
}

impl HashAlgorithm {
    /// The protobuf-JSON name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sha2_256 => "SHA2_256",
            Self::Sha2_384 => "SHA2_384",
            Self::Sha2_512 => "SHA2_512",
            Self::Sha3_256 => "SHA3_256",
            Self::Sha3_384 => "SHA3_384",
            Self::Other(s) => s,
        }
    }
}

impl Serialize for HashAlgorithm {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for HashAlgorithm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(match name.as_str() {
            "SHA2_256" => Self::Sha2_256,
            "SHA2_384" => Self::Sha2_384,
            "SHA2_512" => Self::Sha2_512,
            "SHA3_256" => Self::Sha3_256,
            "SHA3_384" => Self::Sha3_384,
            _ => Self::Other(name),
        })
    }
}

/// `TransparencyLogEntry`: a Rekor entry with its proofs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawTlogEntry")]
pub struct TransparencyLogEntry {
    /// `logIndex` (non-negative).
    #[serde(with = "int64")]
    pub log_index: i64,
    /// `logId`: which log.
    pub log_id: LogId,
    /// `kindVersion`: the entry type, e.g. `dsse` / `0.0.1`.
    pub kind_version: KindVersion,
    /// `integratedTime`: seconds since the epoch (0 when the log gives none, as Rekor v2).
    #[serde(with = "int64", skip_serializing_if = "is_zero")]
    pub integrated_time: i64,
    /// `inclusionPromise`: the signed entry timestamp (SET), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inclusion_promise: Option<InclusionPromise>,
    /// `inclusionProof`: the Merkle inclusion proof, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProof>,
    /// `canonicalizedBody`: the entry body as the log stored it.
    #[serde(with = "base64_bytes")]
    pub canonicalized_body: Vec<u8>,
}

/// `LogId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogId {
    /// `keyId`: SHA-256 of the log's public key (Rekor v1) or its checkpoint key id.
    #[serde(with = "base64_bytes")]
    pub key_id: Vec<u8>,
}

/// `KindVersion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindVersion {
    /// `kind`, e.g. `hashedrekord`, `dsse`, `intoto`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// `version`, e.g. `0.0.1`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub version: String,
}

/// `InclusionPromise`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionPromise {
    /// `signedEntryTimestamp`: the log's signature over the entry (SET).
    #[serde(with = "base64_bytes")]
    pub signed_entry_timestamp: Vec<u8>,
}

/// `InclusionProof`: an RFC 6962 inclusion proof and the checkpoint it is against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawInclusionProof")]
pub struct InclusionProof {
    /// `logIndex`: the entry's index in the (sharded) tree (non-negative).
    #[serde(with = "int64")]
    pub log_index: i64,
    /// `rootHash`.
    #[serde(with = "base64_bytes")]
    pub root_hash: Vec<u8>,
    /// `treeSize` (non-negative).
    #[serde(with = "int64")]
    pub tree_size: i64,
    /// `hashes`: the audit path.
    #[serde(with = "base64_vec")]
    pub hashes: Vec<Vec<u8>>,
    /// `checkpoint`: the signed note, if given (required from v0.2 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

/// `Checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// `envelope`: the signed note text.
    #[serde(default, deserialize_with = "null_as_default")]
    pub envelope: String,
}

/// `TimestampVerificationData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimestampVerificationData {
    /// `rfc3161Timestamps`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub rfc3161_timestamps: Vec<Rfc3161SignedTimestamp>,
}

/// `RFC3161SignedTimestamp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rfc3161SignedTimestamp {
    /// `signedTimestamp`: the DER `TimeStampResp`/`TimeStampToken`.
    #[serde(with = "base64_bytes")]
    pub signed_timestamp: Vec<u8>,
}

impl Bundle {
    /// The v0.3 bundle for an envelope signed with a local key: `publicKey.hint` = the key id, no log
    /// entries, no timestamps.
    #[must_use]
    pub fn for_key_signed_envelope(envelope: Envelope, key_id: &KeyId) -> Self {
        Self {
            media_type: MediaType::V03,
            verification_material: VerificationMaterial {
                key_material: KeyMaterial::PublicKey {
                    hint: key_id.to_string(),
                },
                tlog_entries: Vec::new(),
                timestamp_verification_data: None,
            },
            content: Content::DsseEnvelope(envelope),
        }
    }

    /// Parses a bundle from JSON bytes, rejecting inputs over [`MAX_BUNDLE_BYTES`] before parsing.
    ///
    /// # Errors
    /// [`BundleError::TooLarge`], or [`BundleError::Invalid`] with the line and column of the first
    /// problem.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge {
                max: MAX_BUNDLE_BYTES,
                found: bytes.len(),
            });
        }
        let raw: RawBundle = serde_json::from_slice(bytes)?;
        bundle_from_raw(raw).map_err(|e| match e {
            ModelError::MediaType(found) => BundleError::UnknownMediaType {
                found: found.chars().take(200).collect(),
                expected: MediaType::ALL.map(MediaType::as_str).join(", "),
            },
            ModelError::Invalid(message) => {
                // The model's rules are checked once the object is read: report its end.
                let end = bytes.trim_ascii_end();
                let line = 1 + end.iter().filter(|&&b| b == b'\n').count();
                let column = end.len() - end.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                BundleError::Invalid {
                    line,
                    column,
                    message,
                }
            }
        })
    }

    /// The bundle as pretty-printed JSON, fields in protobuf field-number order (the order
    /// protobuf's own JSON printers use), with a trailing newline.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).expect(
            "invariant: a bundle has only string keys and finite values, so it always serialises",
        );
        out.push('\n');
        out
    }

    /// The DSSE envelope, if the bundle carries one.
    #[must_use]
    pub fn dsse_envelope(&self) -> Option<&Envelope> {
        match &self.content {
            Content::DsseEnvelope(e) => Some(e),
            Content::MessageSignature(_) => None,
        }
    }

    /// The DSSE envelope and its single signature, as a verifier needs them.
    ///
    /// # Errors
    /// [`BundleError::UnexpectedContent`] for a message-signature bundle,
    /// [`BundleError::DsseSignatureCount`] unless the envelope has exactly one signature.
    pub fn single_signature_envelope(&self) -> Result<&Envelope, BundleError> {
        let envelope = self.dsse_envelope().ok_or(BundleError::UnexpectedContent {
            expected: "a DSSE envelope",
            found: "a message signature",
        })?;
        check_single_signature(envelope)?;
        Ok(envelope)
    }
}

/// Checks that a DSSE envelope taken from a bundle carries exactly one signature, as the bundle
/// specification requires (a verifier must not pick "any valid one" of several).
///
/// # Errors
/// [`BundleError::DsseSignatureCount`] with the number found.
pub fn check_single_signature(envelope: &Envelope) -> Result<(), BundleError> {
    match envelope.signatures.len() {
        1 => Ok(()),
        found => Err(BundleError::DsseSignatureCount { found }),
    }
}

// ---------------------------------------------------------------------------------------------
// Serde plumbing. Oneofs are read as separate optional fields and then checked, so that "both" and
// "neither" are errors; they are written from borrowed views so that writing never clones.

impl Serialize for Bundle {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct View<'a> {
            media_type: &'static str,
            verification_material: &'a VerificationMaterial,
            #[serde(skip_serializing_if = "Option::is_none")]
            message_signature: Option<&'a MessageSignature>,
            #[serde(skip_serializing_if = "Option::is_none")]
            dsse_envelope: Option<&'a Envelope>,
        }
        let (message_signature, dsse_envelope) = match &self.content {
            Content::MessageSignature(m) => (Some(m), None),
            Content::DsseEnvelope(e) => (None, Some(e)),
        };
        View {
            media_type: self.media_type.as_str(),
            verification_material: &self.verification_material,
            message_signature,
            dsse_envelope,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Bundle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Read and check inside a map visitor, so that serde_json attaches a line and column (the
        // end of the bundle object) to the errors raised by the checks below.
        struct BundleVisitor;
        impl<'de> serde::de::Visitor<'de> for BundleVisitor {
            type Value = Bundle;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sigstore bundle (a JSON object)")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Bundle, A::Error> {
                let raw =
                    RawBundle::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                bundle_from_raw(raw).map_err(|e| A::Error::custom(e.to_string()))
            }
        }
        d.deserialize_map(BundleVisitor)
    }
}

/// Why the protobuf-JSON form of a bundle breaks the model's rules.
enum ModelError {
    /// An unknown `mediaType`.
    MediaType(String),
    /// Any other rule.
    Invalid(String),
}

impl From<String> for ModelError {
    fn from(message: String) -> Self {
        ModelError::Invalid(message)
    }
}

impl From<&str> for ModelError {
    fn from(message: &str) -> Self {
        ModelError::Invalid(message.to_string())
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::MediaType(m) => write!(
                f,
                "unknown bundle media type {m:?}: expected one of {}",
                MediaType::ALL.map(MediaType::as_str).join(", ")
            ),
            ModelError::Invalid(message) => f.write_str(message),
        }
    }
}

/// Checks and converts the protobuf-JSON form of a bundle.
fn bundle_from_raw(raw: RawBundle) -> Result<Bundle, ModelError> {
    let media_type = match raw.media_type.as_deref() {
        None | Some("") => return Err("missing field `mediaType`".into()),
        Some(m) => MediaType::parse(m).ok_or_else(|| ModelError::MediaType(m.to_string()))?,
    };
    let verification_material = raw
        .verification_material
        .ok_or("missing field `verificationMaterial`")?;
    let content = match (raw.message_signature, raw.dsse_envelope) {
        (Some(m), None) => Content::MessageSignature(m),
        (None, Some(e)) => Content::DsseEnvelope(e),
        (Some(_), Some(_)) => {
            return Err("expected one of `messageSignature` or `dsseEnvelope`, found both".into());
        }
        (None, None) => {
            return Err(
                "expected one of `messageSignature` or `dsseEnvelope`, found neither".into(),
            );
        }
    };
    check_content(&content)?;
    check_version_rules(media_type, &verification_material)?;
    Ok(Bundle {
        media_type,
        verification_material,
        content,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    verification_material: Option<VerificationMaterial>,
    #[serde(default)]
    message_signature: Option<MessageSignature>,
    #[serde(default)]
    dsse_envelope: Option<Envelope>,
}

/// Required parts of the signed content (as sigstore clients check them).
fn check_content(content: &Content) -> Result<(), String> {
    match content {
        Content::MessageSignature(m) => {
            if m.message_digest.digest.is_empty() {
                return Err("`messageSignature.messageDigest.digest` is empty".into());
            }
            if m.signature.is_empty() {
                return Err("`messageSignature.signature` is empty".into());
            }
        }
        Content::DsseEnvelope(e) => {
            if e.payload.is_empty() {
                return Err("`dsseEnvelope.payload` is empty".into());
            }
            if e.signatures.iter().any(|s| s.sig.is_empty()) {
                return Err("a `dsseEnvelope` signature is empty".into());
            }
        }
    }
    Ok(())
}

/// The per-version rules of the bundle specification.
fn check_version_rules(media_type: MediaType, vm: &VerificationMaterial) -> Result<(), String> {
    if media_type.is_v03() && matches!(vm.key_material, KeyMaterial::X509CertificateChain(_)) {
        return Err(format!(
            "a {media_type} bundle must use `certificate`, found `x509CertificateChain`"
        ));
    }
    for (i, entry) in vm.tlog_entries.iter().enumerate() {
        if media_type == MediaType::V01 {
            if entry.inclusion_promise.is_none() {
                return Err(format!(
                    "a v0.1 bundle needs `inclusionPromise` in every log entry; entry {i} has none"
                ));
            }
        } else {
            match &entry.inclusion_proof {
                None => {
                    return Err(format!(
                        "a {media_type} bundle needs `inclusionProof` in every log entry; entry {i} has none"
                    ));
                }
                Some(p) if p.checkpoint.as_ref().is_none_or(|c| c.envelope.is_empty()) => {
                    return Err(format!(
                        "a {media_type} bundle needs `inclusionProof.checkpoint` in every log entry; entry {i} has none"
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

impl Serialize for VerificationMaterial {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct PublicKeyView<'a> {
            hint: &'a str,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct CertView<'a> {
            #[serde(with = "base64_bytes")]
            raw_bytes: &'a [u8],
        }
        #[derive(Serialize)]
        struct ChainView<'a> {
            certificates: Vec<CertView<'a>>,
        }
        // Field-number order: publicKey = 1, x509CertificateChain = 2, tlogEntries = 3,
        // timestampVerificationData = 4, certificate = 5.
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct View<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            public_key: Option<PublicKeyView<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            x509_certificate_chain: Option<ChainView<'a>>,
            tlog_entries: &'a [TransparencyLogEntry],
            #[serde(skip_serializing_if = "Option::is_none")]
            timestamp_verification_data: Option<&'a TimestampVerificationData>,
            #[serde(skip_serializing_if = "Option::is_none")]
            certificate: Option<CertView<'a>>,
        }
        let mut view = View {
            public_key: None,
            x509_certificate_chain: None,
            tlog_entries: &self.tlog_entries,
            timestamp_verification_data: self.timestamp_verification_data.as_ref(),
            certificate: None,
        };
        match &self.key_material {
            KeyMaterial::PublicKey { hint } => view.public_key = Some(PublicKeyView { hint }),
            KeyMaterial::X509CertificateChain(chain) => {
                view.x509_certificate_chain = Some(ChainView {
                    certificates: chain.iter().map(|c| CertView { raw_bytes: c }).collect(),
                });
            }
            KeyMaterial::Certificate(c) => view.certificate = Some(CertView { raw_bytes: c }),
        }
        view.serialize(s)
    }
}

impl<'de> Deserialize<'de> for VerificationMaterial {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct PublicKeyRaw {
            #[serde(default, deserialize_with = "null_as_default")]
            hint: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct CertRaw {
            #[serde(with = "base64_bytes")]
            raw_bytes: Vec<u8>,
        }
        #[derive(Deserialize)]
        struct ChainRaw {
            #[serde(default, deserialize_with = "null_as_default")]
            certificates: Vec<CertRaw>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            #[serde(default)]
            public_key: Option<PublicKeyRaw>,
            #[serde(default)]
            x509_certificate_chain: Option<ChainRaw>,
            #[serde(default)]
            certificate: Option<CertRaw>,
            #[serde(default, deserialize_with = "null_as_default")]
            tlog_entries: Vec<TransparencyLogEntry>,
            #[serde(default)]
            timestamp_verification_data: Option<TimestampVerificationData>,
        }
        let raw = Raw::deserialize(d)?;
        let key_material = match (raw.public_key, raw.x509_certificate_chain, raw.certificate) {
            (Some(pk), None, None) => KeyMaterial::PublicKey { hint: pk.hint },
            (None, Some(chain), None) => {
                if chain.certificates.is_empty() {
                    return Err(D::Error::custom(
                        "expected at least one certificate in `x509CertificateChain`, found none",
                    ));
                }
                if chain.certificates.iter().any(|c| c.raw_bytes.is_empty()) {
                    return Err(D::Error::custom(
                        "a certificate in `x509CertificateChain` has empty `rawBytes`",
                    ));
                }
                KeyMaterial::X509CertificateChain(
                    chain
                        .certificates
                        .into_iter()
                        .map(|c| c.raw_bytes)
                        .collect(),
                )
            }
            (None, None, Some(cert)) => {
                if cert.raw_bytes.is_empty() {
                    return Err(D::Error::custom("`certificate.rawBytes` is empty"));
                }
                KeyMaterial::Certificate(cert.raw_bytes)
            }
            (None, None, None) => {
                return Err(D::Error::custom(
                    "expected one of `publicKey`, `x509CertificateChain` or `certificate` in `verificationMaterial`, found none",
                ));
            }
            _ => {
                return Err(D::Error::custom(
                    "expected one of `publicKey`, `x509CertificateChain` or `certificate` in `verificationMaterial`, found several",
                ));
            }
        };
        Ok(Self {
            key_material,
            tlog_entries: raw.tlog_entries,
            timestamp_verification_data: raw.timestamp_verification_data,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlogEntry {
    #[serde(default, with = "int64")]
    log_index: i64,
    #[serde(default)]
    log_id: Option<LogId>,
    #[serde(default)]
    kind_version: Option<KindVersion>,
    #[serde(default, with = "int64")]
    integrated_time: i64,
    #[serde(default)]
    inclusion_promise: Option<InclusionPromise>,
    #[serde(default)]
    inclusion_proof: Option<InclusionProof>,
    #[serde(default, with = "base64_bytes")]
    canonicalized_body: Vec<u8>,
}

impl TryFrom<RawTlogEntry> for TransparencyLogEntry {
    type Error = String;

    fn try_from(raw: RawTlogEntry) -> Result<Self, Self::Error> {
        if raw.log_index < 0 {
            return Err(format!(
                "expected a non-negative `logIndex` in a log entry, found {}",
                raw.log_index
            ));
        }
        if raw.integrated_time < 0 {
            return Err(format!(
                "expected a non-negative `integratedTime` in a log entry, found {}",
                raw.integrated_time
            ));
        }
        Ok(Self {
            log_index: raw.log_index,
            log_id: raw.log_id.ok_or("missing field `logId` in a log entry")?,
            kind_version: raw
                .kind_version
                .ok_or("missing field `kindVersion` in a log entry")?,
            integrated_time: raw.integrated_time,
            inclusion_promise: raw.inclusion_promise,
            inclusion_proof: raw.inclusion_proof,
            canonicalized_body: raw.canonicalized_body,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInclusionProof {
    #[serde(default, with = "int64")]
    log_index: i64,
    #[serde(default, with = "base64_bytes")]
    root_hash: Vec<u8>,
    #[serde(default, with = "int64")]
    tree_size: i64,
    #[serde(default, with = "base64_vec")]
    hashes: Vec<Vec<u8>>,
    #[serde(default)]
    checkpoint: Option<Checkpoint>,
}

impl TryFrom<RawInclusionProof> for InclusionProof {
    type Error = String;

    fn try_from(raw: RawInclusionProof) -> Result<Self, Self::Error> {
        if raw.log_index < 0 || raw.tree_size < 0 {
            return Err(format!(
                "expected a non-negative `logIndex` and `treeSize` in an inclusion proof, found {} and {}",
                raw.log_index, raw.tree_size
            ));
        }
        Ok(Self {
            log_index: raw.log_index,
            root_hash: raw.root_hash,
            tree_size: raw.tree_size,
            hashes: raw.hashes,
            checkpoint: raw.checkpoint,
        })
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// Protobuf-JSON: `null` stands for the field's default value.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Protobuf-JSON int64: written as a decimal string; read from a decimal string or a JSON integer.
mod int64 {
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` passes a reference
    pub(super) fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = i64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an int64 as a decimal string or an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
                Ok(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
                i64::try_from(v).map_err(|_| E::custom(format_args!("int64 out of range: {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
                let digits = v.strip_prefix('-').unwrap_or(v);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(E::custom(format_args!(
                        "expected an int64 as a decimal string, found {v:?}"
                    )));
                }
                v.parse()
                    .map_err(|_| E::custom(format_args!("int64 out of range: {v:?}")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<i64, E> {
                Ok(0) // null: the default value
            }
        }
        d.deserialize_any(V)
    }
}

/// `repeated bytes`: a list of standard base64 strings.
mod base64_vec {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::ser::SerializeSeq as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for item in v {
            seq.serialize_element(&STANDARD.encode(item))?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let items = Option::<Vec<String>>::deserialize(d)?.unwrap_or_default();
        items
            .iter()
            .map(|t| crate::dsse::base64_bytes::decode(t).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsse::{IN_TOTO_PAYLOAD_TYPE, Signature};

    fn envelope(signatures: usize) -> Envelope {
        Envelope {
            payload: br#"{"_type":"https://in-toto.io/Statement/v1"}"#.to_vec(),
            payload_type: IN_TOTO_PAYLOAD_TYPE.into(),
            signatures: (0..signatures)
                .map(|i| Signature {
                    keyid: String::new(),
                    sig: vec![0x30, u8::try_from(i).expect("few signatures")],
                })
                .collect(),
        }
    }

    fn key_id() -> KeyId {
        format!("sha256:{}", "ab".repeat(32))
            .parse()
            .expect("well-formed key id")
    }

    fn parse(json: &str) -> Result<Bundle, BundleError> {
        Bundle::from_slice(json.as_bytes())
    }

    const MINIMAL_KEY_BUNDLE: &str = r#"{
      "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
      "verificationMaterial": {"publicKey": {"hint": "k"}, "tlogEntries": []},
      "dsseEnvelope": {"payload": "e30=", "payloadType": "application/vnd.in-toto+json",
                       "signatures": [{"sig": "MAA="}]}
    }"#;

    #[test]
    fn key_signed_bundle_has_the_documented_shape() {
        let bundle = Bundle::for_key_signed_envelope(envelope(1), &key_id());
        let json: serde_json::Value =
            serde_json::from_str(&bundle.to_json()).expect("to_json writes JSON");
        assert_eq!(
            json["mediaType"],
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        assert_eq!(
            json["verificationMaterial"],
            serde_json::json!({"publicKey": {"hint": key_id().to_string()}, "tlogEntries": []})
        );
        assert_eq!(json["dsseEnvelope"]["payloadType"], IN_TOTO_PAYLOAD_TYPE);
        assert!(json.get("messageSignature").is_none());
    }

    #[test]
    fn to_json_uses_protobuf_field_order() {
        let text = Bundle::for_key_signed_envelope(envelope(1), &key_id()).to_json();
        let pos = |needle: &str| text.find(needle).expect(needle);
        assert!(pos("\"mediaType\"") < pos("\"verificationMaterial\""));
        assert!(pos("\"verificationMaterial\"") < pos("\"dsseEnvelope\""));
        assert!(pos("\"publicKey\"") < pos("\"tlogEntries\""));
        assert!(pos("\"payload\"") < pos("\"payloadType\""));
        assert!(pos("\"payloadType\"") < pos("\"signatures\""));
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn round_trips_through_json() {
        let bundle = Bundle::for_key_signed_envelope(envelope(1), &key_id());
        let back = Bundle::from_slice(bundle.to_json().as_bytes()).expect("parse our own output");
        assert_eq!(back, bundle);
    }

    #[test]
    fn parses_a_minimal_key_bundle() {
        let b = parse(MINIMAL_KEY_BUNDLE).expect("valid");
        assert_eq!(b.media_type, MediaType::V03);
        assert_eq!(
            b.verification_material.key_material,
            KeyMaterial::PublicKey { hint: "k".into() }
        );
        assert_eq!(b.dsse_envelope().expect("dsse").payload, b"{}");
    }

    #[test]
    fn ignores_unknown_fields() {
        let json = MINIMAL_KEY_BUNDLE.replacen(
            "\"mediaType\"",
            "\"futureField\": {\"x\": 1}, \"mediaType\"",
            1,
        );
        parse(&json).expect("unknown fields are allowed by protobuf-JSON");
    }

    #[test]
    fn rejects_unknown_media_type() {
        let json = MINIMAL_KEY_BUNDLE.replace("bundle.v0.3+json", "bundle+json;version=99.9");
        let err = parse(&json).expect_err("unknown version");
        assert!(
            err.to_string().contains("unknown bundle media type"),
            "{err}"
        );
    }

    #[test]
    fn rejects_bundle_with_both_contents() {
        let json = MINIMAL_KEY_BUNDLE.replacen(
            "\"dsseEnvelope\"",
            "\"messageSignature\": {\"messageDigest\": {\"algorithm\": \"SHA2_256\", \"digest\": \"AA==\"}, \"signature\": \"AA==\"}, \"dsseEnvelope\"",
            1,
        );
        let err = parse(&json).expect_err("both");
        assert!(err.to_string().contains("found both"), "{err}");
    }

    #[test]
    fn rejects_bundle_without_content() {
        let json = r#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                       "verificationMaterial": {"publicKey": {"hint": "k"}}}"#;
        let err = parse(json).expect_err("neither");
        assert!(err.to_string().contains("found neither"), "{err}");
    }

    #[test]
    fn rejects_verification_material_with_two_keys() {
        let json = MINIMAL_KEY_BUNDLE.replace(
            "{\"publicKey\": {\"hint\": \"k\"},",
            "{\"publicKey\": {\"hint\": \"k\"}, \"certificate\": {\"rawBytes\": \"AA==\"},",
        );
        let err = parse(&json).expect_err("two keys");
        assert!(err.to_string().contains("found several"), "{err}");
    }

    #[test]
    fn rejects_verification_material_without_key() {
        let json = MINIMAL_KEY_BUNDLE.replace("\"publicKey\": {\"hint\": \"k\"},", "");
        let err = parse(&json).expect_err("no key");
        assert!(err.to_string().contains("found none"), "{err}");
    }

    #[test]
    fn rejects_envelope_with_two_signatures() {
        let bundle = Bundle::for_key_signed_envelope(envelope(2), &key_id());
        let err = bundle
            .single_signature_envelope()
            .expect_err("two signatures");
        assert!(
            matches!(err, BundleError::DsseSignatureCount { found: 2 }),
            "{err:?}"
        );
        assert!(matches!(
            check_single_signature(&envelope(0)),
            Err(BundleError::DsseSignatureCount { found: 0 })
        ));
        check_single_signature(&envelope(1)).expect("one signature is right");
    }

    #[test]
    fn errors_carry_line_and_column() {
        let err = parse("{\n  \"mediaType\": 5\n}").expect_err("wrong type");
        match err {
            BundleError::Invalid { line, column, .. } => assert_eq!((line, column), (2, 16)),
            other => panic!("expected Invalid, found {other:?}"),
        }
        let shown = parse("{\n  \"mediaType\": 5\n}")
            .expect_err("wrong type")
            .to_string();
        assert!(
            shown.starts_with("invalid sigstore bundle at line 2, column 16: "),
            "{shown}"
        );
    }

    #[test]
    fn rejects_oversized_input_before_parsing() {
        let big = vec![b' '; MAX_BUNDLE_BYTES + 1];
        let err = Bundle::from_slice(&big).expect_err("too large");
        assert!(matches!(err, BundleError::TooLarge { .. }), "{err:?}");
    }

    #[test]
    fn int64_fields_are_strings_and_must_be_non_negative() {
        let entry = |index: &str| {
            format!(
                r#"{{"mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
                 "verificationMaterial": {{"publicKey": {{"hint": "k"}}, "tlogEntries": [{{
                   "logIndex": {index}, "logId": {{"keyId": "AA=="}},
                   "kindVersion": {{"kind": "dsse", "version": "0.0.1"}}, "integratedTime": "7",
                   "inclusionPromise": {{"signedEntryTimestamp": "AA=="}}, "canonicalizedBody": "AA=="}}]}},
                 "dsseEnvelope": {{"payload": "e30=", "payloadType": "t", "signatures": [{{"sig": "MAA="}}]}}}}"#
            )
        };
        let b = parse(&entry("\"42\"")).expect("string int64");
        let e = &b.verification_material.tlog_entries[0];
        assert_eq!((e.log_index, e.integrated_time), (42, 7));
        assert!(b.to_json().contains("\"logIndex\": \"42\""));
        parse(&entry("42")).expect("protobuf-JSON parsers also accept numbers");
        let err = parse(&entry("\"-1\"")).expect_err("negative");
        assert!(err.to_string().contains("non-negative `logIndex`"), "{err}");
        let err = parse(&entry("\"4x\"")).expect_err("not decimal");
        assert!(err.to_string().contains("decimal string"), "{err}");
    }

    #[test]
    fn rejects_invalid_base64() {
        let json = MINIMAL_KEY_BUNDLE.replace("\"MAA=\"", "\"INVALID!!!BASE64\"");
        let err = parse(&json).expect_err("bad base64");
        assert!(
            err.to_string().contains("expected standard base64"),
            "{err}"
        );
    }

    #[test]
    fn v03_bundle_must_not_use_a_certificate_chain() {
        let json = MINIMAL_KEY_BUNDLE.replace(
            "\"publicKey\": {\"hint\": \"k\"}",
            "\"x509CertificateChain\": {\"certificates\": [{\"rawBytes\": \"AA==\"}]}",
        );
        let err = parse(&json).expect_err("chain in v0.3");
        assert!(err.to_string().contains("must use `certificate`"), "{err}");
    }

    #[test]
    fn null_means_absent() {
        let json = MINIMAL_KEY_BUNDLE.replace(
            "\"tlogEntries\": []",
            "\"tlogEntries\": null, \"timestampVerificationData\": null",
        );
        let b = parse(&json).expect("nulls are defaults");
        assert!(b.verification_material.tlog_entries.is_empty());
        assert!(
            b.verification_material
                .timestamp_verification_data
                .is_none()
        );
    }
}
