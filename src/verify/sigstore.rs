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
use crate::finding::{Code, Finding, clip};
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

/// Who must have signed (the sigstore-conformance form: one key or one identity).
pub enum Signer<'a> {
    /// A keyless signer: the certificate's OIDC issuer and SAN.
    Keyless {
        /// The OIDC issuer, exactly.
        issuer: &'a str,
        /// The SAN, exactly or by anchored regex.
        identity: &'a IdentityMatcher,
    },
    /// A public key the verifier holds, with its SubjectPublicKeyInfo DER.
    Key(&'a VerifyingKey, &'a [u8]),
}

/// What a successful [`verify`] established.
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

/// A key the verifier trusts, under the name reports use.
#[derive(Clone)]
pub struct TrustedKey {
    /// The signer's name (e.g. the policy's `[[signer]] name`).
    pub name: String,
    /// `sha256:<hex>` of the SubjectPublicKeyInfo DER.
    pub fingerprint: String,
    /// The key.
    pub key: VerifyingKey,
    /// Its SubjectPublicKeyInfo DER (log entry bodies name it).
    pub spki: Vec<u8>,
}

impl TrustedKey {
    /// A trusted key from its SubjectPublicKeyInfo DER.
    pub fn from_spki_der(
        name: impl Into<String>,
        spki: &[u8],
    ) -> Result<TrustedKey, super::pki::PkiError> {
        Ok(TrustedKey {
            name: name.into(),
            fingerprint: fingerprint_of(spki),
            key: VerifyingKey::from_spki_der(spki)?,
            spki: spki.to_vec(),
        })
    }
}

/// `sha256:<hex>` of a SubjectPublicKeyInfo DER: the key id ci-attest bundles name.
fn fingerprint_of(spki: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(spki)))
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedKey")
            .field("name", &self.name)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// A keyless identity the verifier trusts: OIDC issuer (exact) and SAN.
#[derive(Debug, Clone)]
pub struct TrustedIdentity {
    /// The signer's name (e.g. the policy's `[[signer]] name`).
    pub name: String,
    /// The OIDC issuer, compared exactly.
    pub issuer: String,
    /// The SAN, exactly or by an anchored regex.
    pub identity: IdentityMatcher,
}

/// Everyone whose signature counts: the caller's trust list (ci-attest builds it from a policy).
#[derive(Debug, Clone, Default)]
pub struct Signers {
    /// Trusted keys, for `publicKey` bundles.
    pub keys: Vec<TrustedKey>,
    /// Trusted keyless identities, for certificate bundles.
    pub identities: Vec<TrustedIdentity>,
}

/// What a key-signed bundle needs for its signing time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTime {
    /// A verified log time or timestamp is required (sigstore's rule for every bundle).
    Verified,
    /// Without a log entry or timestamp, the signing time is the signed statement's own claim,
    /// which the caller reads (ci-attest's `finishedOn`).
    SignerClaimAllowed,
}

/// The trust material of one verification.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// Fulcio CAs, CT logs, Rekor logs and TSAs.
    pub root: &'a TrustedRoot,
    /// Whose signatures count.
    pub signers: &'a Signers,
    /// Whether key-signed bundles need a verified time.
    pub key_time: KeyTime,
}

/// The verified signer of a [`CheckedBundle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifiedSigner {
    /// A trusted key signed.
    Key {
        /// The trusted key's name.
        name: String,
        /// Its fingerprint, `sha256:<hex>`.
        fingerprint: String,
    },
    /// A trusted keyless identity signed.
    Keyless {
        /// The trusted identity's name.
        name: String,
        /// The certificate's OIDC issuer.
        issuer: String,
        /// The certificate's SAN.
        san: String,
    },
}

impl VerifiedSigner {
    /// The trust list's name of the signer.
    pub fn name(&self) -> &str {
        match self {
            VerifiedSigner::Key { name, .. } | VerifiedSigner::Keyless { name, .. } => name,
        }
    }
}

/// Where a verified signing time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeSource {
    /// A transparency log's integrated time, signed by the log (SET).
    TransparencyLog,
    /// An RFC 3161 timestamp from a trusted TSA.
    Timestamp,
    /// The signed statement's own time: the signer's claim (key-only bundles).
    SignerClaim,
}

impl TimeSource {
    /// The kebab-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeSource::TransparencyLog => "transparency-log",
            TimeSource::Timestamp => "timestamp",
            TimeSource::SignerClaim => "signer-claim",
        }
    }
}

/// A bundle parsed with its size limit and the model's rules: stage 1 of the pipeline.
#[derive(Debug, Clone)]
pub struct ParsedBundle {
    bundle: Bundle,
}

impl ParsedBundle {
    /// Parses a bundle's bytes; the error is the finding that rejects it.
    pub fn parse(bytes: &[u8]) -> Result<ParsedBundle, Box<Finding>> {
        Bundle::from_slice(bytes)
            .map(|bundle| ParsedBundle { bundle })
            .map_err(|e| Box::new(bundle_finding(&e)))
    }

    /// The bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The DSSE envelope, when the bundle holds one with exactly one signature.
    pub fn envelope(&self) -> Result<&crate::dsse::Envelope, Box<Finding>> {
        self.bundle
            .single_signature_envelope()
            .map_err(|e| Box::new(bundle_finding(&e)))
    }

    /// The key id a key-signed bundle names (`publicKey.hint`; unverified).
    pub fn key_hint(&self) -> Option<&str> {
        super::public_key_hint(&self.bundle)
    }
}

/// The finding for a bundle that cannot be read, by error kind (exhaustive: a new kind must be
/// given its code here).
pub fn bundle_finding(e: &BundleError) -> Finding {
    let (code, message, expected) = match e {
        BundleError::TooLarge { max, .. } => (
            Code::BundleMalformed,
            "the bundle is larger than the size limit",
            format!("a sigstore bundle of at most {max} bytes"),
        ),
        BundleError::Invalid { .. } => (
            Code::BundleMalformed,
            "the bundle cannot be read",
            "a sigstore bundle v0.1, v0.2 or v0.3".to_string(),
        ),
        BundleError::UnknownMediaType { expected, .. } => (
            Code::BundleMediaTypeUnsupported,
            "the bundle's media type is not a sigstore bundle media type",
            format!("one of {expected}"),
        ),
        BundleError::DsseSignatureCount { .. } | BundleError::UnexpectedContent { .. } => (
            Code::EnvelopeMalformed,
            "the bundle does not hold a usable DSSE envelope",
            "a DSSE envelope with exactly one signature".to_string(),
        ),
    };
    finding(code, message, expected, e.to_string())
}

/// The code of a log entry error (exhaustive).
pub fn tlog_code(e: &TlogError) -> Code {
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
        TlogError::EntryMalformed { .. }
        | TlogError::UnsupportedKind { .. }
        | TlogError::KindVersionMismatch { .. }
        | TlogError::BodyMalformed { .. }
        | TlogError::ContentUnsupported { .. }
        | TlogError::MaterialMalformed { .. } => Code::TlogEntryMalformed,
    }
}

/// The code of a certificate error (exhaustive).
pub fn cert_code(e: &cert::CertError) -> Code {
    use cert::CertError as E;
    match e {
        E::SctMalformed { .. } | E::NoValidSct { .. } => Code::CertificateSctInvalid,
        E::IdentityMismatch { .. } | E::BadPattern { .. } => Code::IdentityMismatch,
        E::Malformed { .. }
        | E::NotValidAt { .. }
        | E::AuthorityNotValidAt { .. }
        | E::UntrustedIssuer { .. }
        | E::BadSignature { .. }
        | E::UnsupportedAlgorithm { .. }
        | E::NotCa { .. }
        | E::PathLength { .. }
        | E::Usage { .. }
        | E::UnknownCriticalExtension { .. }
        | E::ExtraCertificate { .. }
        | E::San { .. } => Code::CertificateInvalid,
    }
}

/// The code of an RFC 3161 timestamp error (exhaustive).
pub fn tsa_code(e: &tsa::TsaError) -> Code {
    use tsa::TsaError as E;
    match e {
        E::Malformed { .. }
        | E::Status { .. }
        | E::UnsupportedAlgorithm { .. }
        | E::ImprintMismatch { .. }
        | E::SignedAttribute { .. }
        | E::SignerNotFound { .. }
        | E::BadSignature { .. }
        | E::Certificate { .. } => Code::TimestampInvalid,
    }
}

/// The code of a signature error (exhaustive).
pub fn pki_code(e: &super::pki::PkiError) -> Code {
    use super::pki::PkiError as E;
    match e {
        E::Key(_) => Code::VerificationMaterialUnsupported,
        E::BadSignature(_) | E::MalformedSignature(_) | E::PrehashUnsupported(_) => {
            Code::SignatureInvalid
        }
    }
}

/// Stage 2 of the pipeline: a bundle whose trust material, log proofs, timestamps, signature and
/// signer have all been verified.
#[derive(Debug, Clone)]
pub struct CheckedBundle {
    /// Who signed, from the trust list.
    pub signer: VerifiedSigner,
    /// Integrated times of the verified log entries that have one (SET-backed).
    pub log_times: Vec<SystemTime>,
    /// Verified RFC 3161 timestamp times.
    pub timestamp_times: Vec<SystemTime>,
    /// How many log entries verified.
    pub verified_log_entries: usize,
}

impl CheckedBundle {
    /// The verified signing time: the earliest log time or timestamp, with its source; `None`
    /// for a key-signed bundle that carries neither (its time is then the signer's claim).
    pub fn signing_time(&self) -> Option<(SystemTime, TimeSource)> {
        let log = self
            .log_times
            .iter()
            .map(|t| (*t, TimeSource::TransparencyLog));
        let tsa = self
            .timestamp_times
            .iter()
            .map(|t| (*t, TimeSource::Timestamp));
        log.chain(tsa).min()
    }

    fn signing_times(&self) -> Vec<SystemTime> {
        let mut t = self.log_times.clone();
        t.extend(&self.timestamp_times);
        t
    }
}

/// The signature bytes of the bundle's content.
fn signature_of(bundle: &Bundle) -> Result<Vec<u8>, Box<Finding>> {
    match &bundle.content {
        Content::DsseEnvelope(_) => bundle
            .single_signature_envelope()
            .map(|env| {
                env.signatures
                    .first()
                    .map(|s| s.sig.clone())
                    .unwrap_or_default()
            })
            .map_err(|e| Box::new(bundle_finding(&e))),
        Content::MessageSignature(m) => Ok(m.signature.clone()),
    }
}

/// Verifies the signature over PAE(payloadType, payload) or the message digest: the one place a
/// bundle's signature is checked.
fn verify_signature(
    bundle: &Bundle,
    key: &VerifyingKey,
    signature: &[u8],
    artifact: Option<&Artifact>,
) -> Result<(), super::pki::PkiError> {
    match &bundle.content {
        Content::DsseEnvelope(env) => key.verify(&env.pae(), signature, key.default_hash()),
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
                    key.verify(bytes, signature, h)
                }
                (Some(h), _) => key.verify_prehashed(&m.message_digest.digest, signature, h),
                (None, _) => Err(super::pki::PkiError::MalformedSignature(
                    "message digest algorithm",
                )),
            }
        }
    }
}

/// The log and timestamp part of stage 2: verified entries and times.
struct Times {
    entries: Vec<tlog::VerifiedEntry>,
    log_times: Vec<SystemTime>,
    tsa_times: Vec<SystemTime>,
    tsa_errors: Vec<tsa::TsaError>,
}

fn verify_times(
    bundle: &Bundle,
    root: &TrustedRoot,
    key_spki: Option<&[u8]>,
    signature: &[u8],
    findings: &mut Vec<Finding>,
) -> Times {
    let mut entries = Vec::new();
    match SignedContent::from_bundle(bundle, key_spki) {
        Ok(content) => {
            for entry in &bundle.verification_material.tlog_entries {
                match tlog::verify_bundle_entry(entry, bundle.media_type, root, &content) {
                    Ok(v) => entries.push(v),
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
            match tsa::verify_timestamp(&ts.signed_timestamp, signature, root) {
                Ok(t) => tsa_times.push(t),
                Err(e) => tsa_errors.push(e),
            }
        }
    }
    // A Rekor v2 entry gives no time of its own: a timestamp must fall within the log key's validity.
    for v in entries.iter().filter(|v| v.integrated_time.is_none()) {
        if !tsa_times.iter().any(|t| v.log_validity.contains(*t)) {
            findings.push(finding(
                Code::SigningTimeUnverified,
                "a log entry without an integrated time needs a timestamp within the log key's validity",
                format!("an RFC 3161 timestamp within the validity of {}", v.log_base_url),
                if tsa_times.is_empty() { "no verified timestamp" } else { "timestamps outside it" },
            ));
        }
    }
    let log_times = entries.iter().filter_map(|v| v.integrated_time).collect();
    Times {
        entries,
        log_times,
        tsa_times,
        tsa_errors,
    }
}

/// The finding that no verified signing time exists (and why), if none does.
fn no_time_finding(times: &Times) -> Option<Finding> {
    if !times.log_times.is_empty() || !times.tsa_times.is_empty() {
        return None;
    }
    Some(match times.tsa_errors.first() {
        None => finding(
            Code::SigningTimeUnverified,
            "no verified signing time",
            "a verified log integrated time or RFC 3161 timestamp",
            "no signed entry timestamp and no RFC 3161 timestamp",
        ),
        Some(first) => {
            let found: Vec<String> = times.tsa_errors.iter().map(ToString::to_string).collect();
            finding(
                tsa_code(first),
                "no verified signing time",
                "a verified log integrated time or RFC 3161 timestamp",
                format!("timestamps that do not verify: {}", found.join("; ")),
            )
        }
    })
}

/// Stage 2: checks trust material, chain, SCT, log proofs, timestamps, the signature and the
/// signer against `trust`; `Ok` only when every step passed, otherwise every finding.
///
/// `artifact`, when given, must be what the signature binds (a statement subject digest or the
/// message digest); ci-attest passes `None` and checks the commit subject on the parsed statement.
pub fn check(
    parsed: &ParsedBundle,
    trust: &Trust<'_>,
    artifact: Option<&Artifact>,
) -> Result<CheckedBundle, Vec<Finding>> {
    let bundle = &parsed.bundle;
    let signature = signature_of(bundle).map_err(|f| vec![*f])?;
    let mut findings = Vec::new();
    let checked = match &bundle.verification_material.key_material {
        KeyMaterial::PublicKey { hint } => {
            check_key(bundle, hint, &signature, trust, artifact, &mut findings)
        }
        KeyMaterial::Certificate(der) => {
            check_keyless(bundle, der, &[], &signature, trust, artifact, &mut findings)
        }
        KeyMaterial::X509CertificateChain(chain) => match chain.split_first() {
            Some((leaf, rest)) => check_keyless(
                bundle,
                leaf,
                rest,
                &signature,
                trust,
                artifact,
                &mut findings,
            ),
            None => {
                findings.push(finding(
                    Code::CertificateInvalid,
                    "the certificate chain is empty",
                    "a leaf certificate",
                    "an empty x509CertificateChain",
                ));
                None
            }
        },
    };
    check_artifact(bundle, artifact, &mut findings);
    match checked {
        Some(c) if findings.is_empty() => Ok(c),
        _ => Err(findings),
    }
}

fn check_key(
    bundle: &Bundle,
    hint: &str,
    signature: &[u8],
    trust: &Trust<'_>,
    artifact: Option<&Artifact>,
    findings: &mut Vec<Finding>,
) -> Option<CheckedBundle> {
    let keys = &trust.signers.keys;
    if keys.is_empty() && !trust.signers.identities.is_empty() {
        findings.push(finding(
            Code::VerificationMaterialUnsupported,
            "a keyless signer was expected but the bundle carries a public key",
            "verificationMaterial.certificate or x509CertificateChain (only keyless signers are trusted)",
            "verificationMaterial.publicKey",
        ));
        return None;
    }
    if keys.is_empty() {
        findings.push(
            finding(
                Code::SignerUntrusted,
                "the bundle is signed with a key, and no trusted key is available",
                "a signature by a trusted key (none is usable) or a keyless signature",
                format!(
                    "key {}",
                    if hint.is_empty() {
                        "(no hint)".to_string()
                    } else {
                        clip(hint)
                    }
                ),
            )
            .hint("add the signer's public key to the policy's [[signer]] list if you trust it"),
        );
        return None;
    }
    // The hint is unsigned: try the key it names first, then every other trusted key.
    let named = keys.iter().filter(|k| k.fingerprint == hint);
    let others = keys.iter().filter(|k| k.fingerprint != hint);
    let Some(key) = named
        .chain(others)
        .find(|k| verify_signature(bundle, &k.key, signature, artifact).is_ok())
    else {
        if keys.iter().any(|k| k.fingerprint == hint) {
            findings.push(
                finding(
                    Code::SignatureInvalid,
                    "the DSSE signature does not verify with the key the bundle names",
                    format!("a signature by {}", clip(hint)),
                    "a signature that does not verify over PAE(payloadType, payload)",
                )
                .hint("the payload or the signature was altered after signing; do not trust this bundle"),
            );
        } else {
            let trusted: Vec<String> = keys
                .iter()
                .map(|k| format!("{} ({})", k.name, k.fingerprint))
                .collect();
            let named = if hint.is_empty() {
                "(no hint)".to_string()
            } else {
                clip(hint)
            };
            findings.push(
                finding(
                    Code::SignerUntrusted,
                    "the bundle is signed by a key the policy does not trust",
                    format!("a signature by one of: {}", trusted.join(", ")),
                    format!("key {named}"),
                )
                .hint(
                    "add the signer's public key to the policy's [[signer]] list if you trust it",
                ),
            );
        }
        return None;
    };
    let times = verify_times(bundle, trust.root, Some(&key.spki), signature, findings);
    match trust.key_time {
        KeyTime::Verified => findings.extend(no_time_finding(&times)),
        // A timestamp that is there must verify, even where the signer's claim may serve instead.
        KeyTime::SignerClaimAllowed if !times.tsa_errors.is_empty() => {
            findings.extend(no_time_finding(&times))
        }
        KeyTime::SignerClaimAllowed => {}
    }
    Some(CheckedBundle {
        signer: VerifiedSigner::Key {
            name: key.name.clone(),
            fingerprint: key.fingerprint.clone(),
        },
        log_times: times.log_times,
        timestamp_times: times.tsa_times,
        verified_log_entries: times.entries.len(),
    })
}

#[allow(clippy::too_many_arguments)]
fn check_keyless(
    bundle: &Bundle,
    leaf: &[u8],
    extra: &[Vec<u8>],
    signature: &[u8],
    trust: &Trust<'_>,
    artifact: Option<&Artifact>,
    findings: &mut Vec<Finding>,
) -> Option<CheckedBundle> {
    let identities = &trust.signers.identities;
    if identities.is_empty() {
        findings.push(finding(
            Code::VerificationMaterialUnsupported,
            "the bundle is signed keylessly, and the policy lists no keyless signer",
            "verificationMaterial.publicKey (only keys are trusted)",
            "a certificate",
        ));
        return None;
    }
    let times = verify_times(bundle, trust.root, None, signature, findings);
    if bundle.verification_material.tlog_entries.is_empty() {
        findings.push(finding(
            Code::TlogEntryMissing,
            "a keyless bundle must be logged in a transparency log",
            "at least one tlog entry",
            "none",
        ));
    }
    findings.extend(no_time_finding(&times));
    let mut signing_times = times.log_times.clone();
    signing_times.extend(&times.tsa_times);
    // Without a verified time the bundle is already rejected; the certificate is still checked at
    // the times the entries claim (those that are representable), so the report names every problem.
    let claimed: Vec<SystemTime> = bundle
        .verification_material
        .tlog_entries
        .iter()
        .filter_map(tlog::claimed_integrated_time)
        .collect();
    let check_at = if signing_times.is_empty() {
        &claimed
    } else {
        &signing_times
    };
    let mut verified_cert: Option<VerifiedCert> = None;
    for t in check_at {
        match cert::verify_chain(leaf, extra, trust.root, *t) {
            Ok(c) => verified_cert = Some(c),
            Err(e) => {
                findings.push(finding(
                    cert_code(&e),
                    "the certificate does not verify at a signing time",
                    "a certificate chaining to a trusted Fulcio CA, valid at the signing time",
                    e.to_string(),
                ));
                verified_cert = None;
                break;
            }
        }
    }
    let cert = verified_cert?;
    if !trust.root.ctlogs.is_empty() {
        if let Err(e) = cert::verify_embedded_scts(&cert, trust.root) {
            findings.push(finding(
                cert_code(&e),
                "the certificate's SCT does not verify",
                "an SCT from a trusted CT log",
                e.to_string(),
            ));
        }
    }
    if let Err(e) = verify_signature(bundle, cert.key(), signature, artifact) {
        findings.push(finding(
            pki_code(&e),
            "the signature does not verify",
            "a signature by the signer's key over the signed content",
            e.to_string(),
        ));
    }
    let mut mismatches = Vec::new();
    let signer = identities.iter().find(|id| {
        match cert::identity_matches(&cert, &id.issuer, &id.identity) {
            Ok(()) => true,
            Err(e) => {
                mismatches.push((*id, e));
                false
            }
        }
    });
    let Some(id) = signer else {
        let expected: Vec<String> = mismatches
            .iter()
            .map(|(id, _)| format!("issuer {}, identity {}", id.issuer, id.identity))
            .collect();
        let found: Vec<String> = mismatches.iter().map(|(_, e)| e.to_string()).collect();
        findings.push(finding(
            Code::IdentityMismatch,
            "the certificate's identity is not the expected one",
            expected.join("; or "),
            found.join("; "),
        ));
        return None;
    };
    Some(CheckedBundle {
        signer: VerifiedSigner::Keyless {
            name: id.name.clone(),
            issuer: cert.oidc_issuer().unwrap_or_default().to_string(),
            san: cert
                .subject_alternative_name()
                .map(|s| s.value().to_string())
                .unwrap_or_default(),
        },
        log_times: times.log_times,
        timestamp_times: times.tsa_times,
        verified_log_entries: times.entries.len(),
    })
}

/// Step 6: the signature binds the artifact (when the caller names one).
fn check_artifact(bundle: &Bundle, artifact: Option<&Artifact>, findings: &mut Vec<Finding>) {
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
}

/// Verifies a sigstore bundle for one expected signer (the sigstore-conformance entry point):
/// parse, then [`check`] with a trust list of that one signer, requiring a verified signing time.
/// `Ok` only when every step passed; otherwise every finding.
pub fn verify(
    bytes: &[u8],
    root: &TrustedRoot,
    signer: &Signer<'_>,
    artifact: Option<&Artifact>,
) -> Result<Verified, Vec<Finding>> {
    let parsed = ParsedBundle::parse(bytes).map_err(|f| vec![*f])?;
    let signers = match signer {
        Signer::Key(key, spki) => Signers {
            keys: vec![TrustedKey {
                name: "key".into(),
                fingerprint: fingerprint_of(spki),
                key: (*key).clone(),
                spki: spki.to_vec(),
            }],
            identities: Vec::new(),
        },
        Signer::Keyless { issuer, identity } => Signers {
            keys: Vec::new(),
            identities: vec![TrustedIdentity {
                name: "identity".into(),
                issuer: issuer.to_string(),
                identity: (*identity).clone(),
            }],
        },
    };
    let trust = Trust {
        root,
        signers: &signers,
        key_time: KeyTime::Verified,
    };
    let checked = check(&parsed, &trust, artifact)?;
    let identity = match &checked.signer {
        VerifiedSigner::Keyless { issuer, san, .. } => Some((san.clone(), issuer.clone())),
        VerifiedSigner::Key { .. } => None,
    };
    let dsse_payload = match &parsed.bundle.content {
        Content::DsseEnvelope(env) => Some((env.payload_type.clone(), env.payload.clone())),
        Content::MessageSignature(_) => None,
    };
    Ok(Verified {
        signing_times: checked.signing_times(),
        dsse_payload,
        identity,
        verified_log_entries: checked.verified_log_entries,
    })
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
