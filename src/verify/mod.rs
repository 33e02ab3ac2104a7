//! Verification: bytes to a verified statement, producing findings, never printing.
//!
//! One pipeline for every bundle, key-signed or keyless:
//! 1. **parse** ([`ParsedBundle`]): size limit, strict model, media type, one-signature envelope;
//!    then the payload type and the statement (strict: `_type`, predicate type, schema);
//! 2. **check** ([`sigstore::check`] → [`CheckedBundle`]): trust material, certificate chain and
//!    SCT, log proofs, timestamps, the signature (checked in one place) and the signer. Only the
//!    "who signed" step differs: a trusted key, or a trusted keyless identity;
//! 3. **bind** ([`VerifiedStatement`]): the subject must be this commit (id and commit-object
//!    sha256), and the statement carries the *verified* signing time: the log's integrated time or
//!    a TSA time for keyless and logged bundles; for key-only bundles the signed `finishedOn`
//!    (recorded as the signer's claim).
//!
//! This module knows nothing of policy files, stores or reports: the caller hands it a trust list
//! ([`Signers`]) and the trusted root. [`crate::judge`] is the orchestrator above it that fetches,
//! verifies, selects, evaluates the policy and builds the report. Every step either runs or leaves
//! a finding saying it did not.

pub mod cert;
pub mod pki;
pub mod sigstore;
pub mod statement;
pub mod tlog;
pub mod tsa;

pub use sigstore::{
    CheckedBundle, KeyTime, ParsedBundle, Signers, TimeSource, Trust, TrustedIdentity, TrustedKey,
    VerifiedSigner,
};

use crate::bundle::{Bundle, KeyMaterial};
use crate::dsse::IN_TOTO_PAYLOAD_TYPE;
use crate::finding::{Code, Finding, clip};
use crate::git::CommitInfo;
#[cfg(test)]
use crate::statement::PREDICATE_TYPE;
use crate::statement::{DIGEST_GIT_COMMIT, DIGEST_SHA256, LocalRunPredicate, LocalRunStatement};
use std::time::SystemTime;

/// A statement whose envelope signature, signer and subject have been verified, with its verified
/// signing time.
///
/// Only the verifier constructs one, so [`crate::policy::evaluate`] can only ever judge statements
/// that passed verification.
#[derive(Debug, Clone)]
pub struct VerifiedStatement {
    statement: LocalRunStatement,
    signer: VerifiedSigner,
    signed_at: SystemTime,
    time_source: TimeSource,
    log_entries: usize,
}

impl VerifiedStatement {
    /// Wraps a statement that passed verification.
    pub(crate) fn new(
        statement: LocalRunStatement,
        signer: VerifiedSigner,
        (signed_at, time_source): (SystemTime, TimeSource),
        log_entries: usize,
    ) -> VerifiedStatement {
        VerifiedStatement {
            statement,
            signer,
            signed_at,
            time_source,
            log_entries,
        }
    }

    /// The verified statement.
    pub fn statement(&self) -> &LocalRunStatement {
        &self.statement
    }

    /// Its predicate.
    pub fn predicate(&self) -> &LocalRunPredicate {
        &self.statement.predicate
    }

    /// The trust list's name of the signer whose signature verified.
    pub fn signer(&self) -> &str {
        self.signer.name()
    }

    /// The verified signer (key fingerprint, or certificate issuer and SAN).
    pub fn verified_signer(&self) -> &VerifiedSigner {
        &self.signer
    }

    /// The signing time: verified by a log or a TSA, or the signer's own claim
    /// ([`VerifiedStatement::time_source`] says which).
    pub fn signed_at(&self) -> SystemTime {
        self.signed_at
    }

    /// Where [`VerifiedStatement::signed_at`] comes from.
    pub fn time_source(&self) -> TimeSource {
        self.time_source
    }

    /// How many transparency-log entries of the bundle verified.
    pub fn log_entries(&self) -> usize {
        self.log_entries
    }
}

/// What verification of one commit's bundles needs.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The commit under verification, as recomputed from the repository.
    pub commit: &'a CommitInfo,
    /// Whose signatures count.
    pub signers: &'a Signers,
    /// Trust material for keyless and logged bundles (Fulcio CAs, CT logs, Rekor logs, TSAs).
    pub trusted_root: &'a crate::trust::TrustedRoot,
}

/// The result of verifying one bundle (before the policy).
#[derive(Debug)]
pub struct BundleVerification {
    /// Findings of the verification steps.
    pub findings: Vec<Finding>,
    /// The statement, when every step passed.
    pub verified: Option<VerifiedStatement>,
    /// The statement as parsed, even if unverified (for display only).
    pub parsed: Option<LocalRunStatement>,
    /// The verified key fingerprint, or else the (unverified) key id the bundle names.
    pub key_id: Option<String>,
}

impl BundleVerification {
    fn rejected(finding: Finding) -> BundleVerification {
        BundleVerification {
            findings: vec![finding],
            verified: None,
            parsed: None,
            key_id: None,
        }
    }
}

/// Runs the pipeline on one bundle's bytes.
pub fn verify_bundle(bytes: &[u8], ctx: &Context<'_>) -> BundleVerification {
    match ParsedBundle::parse(bytes) {
        Ok(parsed) => verify_parsed(&parsed, ctx),
        Err(finding) => BundleVerification::rejected(*finding),
    }
}

/// Runs the pipeline on a parsed bundle: envelope and statement, check, subject, signing time.
pub fn verify_parsed(parsed: &ParsedBundle, ctx: &Context<'_>) -> BundleVerification {
    let envelope = match parsed.envelope() {
        Ok(env) => env,
        Err(finding) => return BundleVerification::rejected(*finding),
    };
    let mut out = BundleVerification {
        findings: Vec::new(),
        verified: None,
        parsed: None,
        key_id: parsed.key_hint().map(str::to_string),
    };
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        out.findings.push(
            Finding::error(
                Code::PayloadTypeUnsupported,
                "the envelope does not carry an in-toto statement",
            )
            .expected_found(IN_TOTO_PAYLOAD_TYPE, clip(&envelope.payload_type)),
        );
    }
    let statement = parse_statement(&envelope.payload, &mut out.findings);

    let trust = Trust {
        root: ctx.trusted_root,
        signers: ctx.signers,
        key_time: KeyTime::SignerClaimAllowed,
    };
    let checked = match sigstore::check(parsed, &trust, None) {
        Ok(checked) => Some(checked),
        Err(findings) => {
            out.findings.extend(findings);
            None
        }
    };
    if let Some(VerifiedSigner::Key { fingerprint, .. }) = checked.as_ref().map(|c| &c.signer) {
        out.key_id = Some(fingerprint.clone());
    }
    if parsed.key_hint().is_some()
        && parsed
            .bundle()
            .verification_material
            .tlog_entries
            .is_empty()
    {
        out.findings.push(
            Finding::info(
                Code::CheckSkipped,
                "transparency log: not checked, the key-signed bundle has no log entry",
            )
            .expected_found(
                "a transparency-log entry (optional for key-signed bundles)",
                "none: the signing time is the signed finishedOn, the signer's claim",
            )
            .hint(
                "the signing time is the statement's own finishedOn (the signer's claim); \
                 keyless signing adds a log entry",
            ),
        );
    }
    if let Some(st) = &statement {
        check_subject(&st.subject, ctx.commit, &mut out.findings);
    }
    out.parsed = statement.clone();
    let (Some(statement), Some(checked)) = (statement, checked) else {
        return out;
    };
    let signed_at = match checked.signing_time() {
        Some(verified) => Some(verified),
        None => match claimed_time(&statement.predicate.finished_on) {
            Some(t) => Some((t, TimeSource::SignerClaim)),
            None => {
                out.findings.push(
                    Finding::error(
                        Code::StatementTimeInvalid,
                        "the statement's finishedOn is not a time, and the bundle has no verified time",
                    )
                    .expected_found(
                        "finishedOn as an RFC 3339 time, e.g. 2026-11-01T12:00:00Z",
                        format!("finishedOn = {:?}", clip(&statement.predicate.finished_on)),
                    ),
                );
                None
            }
        },
    };
    if let Some(signed_at) = signed_at {
        if !out.findings.iter().any(Finding::is_error) {
            out.verified = Some(VerifiedStatement::new(
                statement,
                checked.signer,
                signed_at,
                checked.verified_log_entries,
            ));
        }
    }
    out
}

/// The signer's own claim of the signing time: the statement's `finishedOn`, read by the one
/// time parser ([`crate::statement::parse_time`]) that also serves reports.
fn claimed_time(text: &str) -> Option<SystemTime> {
    crate::statement::parse_time(text).ok()
}

/// The key id a key-signed bundle names in `publicKey.hint`.
pub fn public_key_hint(bundle: &Bundle) -> Option<&str> {
    match &bundle.verification_material.key_material {
        KeyMaterial::PublicKey { hint } => Some(hint),
        _ => None,
    }
}

/// The protobuf-JSON name of the bundle's verification material.
pub fn material_kind(bundle: &Bundle) -> &'static str {
    match &bundle.verification_material.key_material {
        KeyMaterial::PublicKey { .. } => "verificationMaterial.publicKey",
        KeyMaterial::X509CertificateChain(_) => "verificationMaterial.x509CertificateChain",
        KeyMaterial::Certificate(_) => "verificationMaterial.certificate",
    }
}

/// Parses a DSSE payload as a local-run statement (strict, then self-consistent), recording why
/// it is not one in `findings`.
pub fn parse_statement(payload: &[u8], findings: &mut Vec<Finding>) -> Option<LocalRunStatement> {
    // Strict parsing (size, duplicate keys, types, schema, times), then self-consistency: a
    // statement whose figures contradict each other is returned for display but, carrying error
    // findings, never verifies.
    match statement::parse_local_run(payload) {
        Ok(parsed) => {
            findings.extend(statement::consistency(&parsed));
            Some(parsed)
        }
        Err(problems) => {
            findings.extend(problems);
            None
        }
    }
}

pub(crate) fn check_subject(
    subjects: &[crate::statement::ResourceDescriptor],
    commit: &CommitInfo,
    findings: &mut Vec<Finding>,
) {
    let ours = subjects
        .iter()
        .find(|s| s.digest.get(DIGEST_GIT_COMMIT).map(String::as_str) == Some(commit.id.as_str()));
    let Some(subject) = ours else {
        let found: Vec<&str> = subjects
            .iter()
            .filter_map(|s| s.digest.get(DIGEST_GIT_COMMIT).map(String::as_str))
            .collect();
        findings.push(
            Finding::error(Code::SubjectCommitMismatch, "the attestation is for another commit")
                .expected_found(
                    format!("gitCommit {}", commit.id),
                    if found.is_empty() {
                        "no gitCommit subject".to_string()
                    } else {
                        format!("gitCommit {}", found.join(", "))
                    },
                )
                .hint("an attestation only ever counts for the commit it names; run `ci-attest run` on this commit"),
        );
        return;
    };
    let sha = subject.digest.get(DIGEST_SHA256).map(String::as_str);
    if sha != Some(commit.sha256.as_str()) {
        findings.push(
            Finding::error(
                Code::SubjectDigestMismatch,
                "the subject's commit-object digest differs from the repository's",
            )
            .expected_found(
                format!("sha256 {}", commit.sha256),
                format!("sha256 {}", sha.unwrap_or("(absent)")),
            )
            .hint(
                "the commit object was rewritten, or the attestation was forged for this commit id",
            ),
        );
    }
}

/// The `predicateType` of the statement a bundle carries, without verifying anything.
///
/// `None` when the bytes are not a bundle with one DSSE envelope whose payload is a JSON object
/// with a string `predicateType`. Callers use it to tell bundles of other predicates (such as
/// [`crate::test_result::TEST_RESULT_PREDICATE_TYPE`]) apart from local-run bundles; a claim read
/// this way is only a label, never a verified fact.
pub fn predicate_type_of(bytes: &[u8]) -> Option<String> {
    let bundle = Bundle::from_slice(bytes).ok()?;
    let envelope = bundle.single_signature_envelope().ok()?;
    predicate_type_of_payload(&envelope.payload)
}

/// The `predicateType` a DSSE payload claims, without verifying anything (`None` unless the
/// payload is a JSON object with a string `predicateType`).
pub fn predicate_type_of_payload(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "predicateType")]
        predicate_type: String,
    }
    serde_json::from_slice::<Head>(payload)
        .ok()
        .map(|h| h.predicate_type)
}

/// True for a bundle that claims to carry an in-toto test-result statement.
pub fn is_test_result_bundle(bytes: &[u8]) -> bool {
    predicate_type_of(bytes).as_deref() == Some(crate::test_result::TEST_RESULT_PREDICATE_TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::key::SigningKey;
    use crate::test_result::TEST_RESULT_PREDICATE_TYPE;

    fn signed(statement_json: &[u8]) -> Vec<u8> {
        let key = SigningKey::generate().expect("the system RNG works in tests");
        crate::sign::sign_statement(statement_json, &key)
            .to_json()
            .into_bytes()
    }

    fn test_result_bundle() -> Vec<u8> {
        crate::test_result::signed_test_result_bundle()
    }

    #[test]
    fn predicate_type_of_names_the_statement_kind_without_verifying() {
        assert_eq!(
            predicate_type_of(&test_result_bundle()).as_deref(),
            Some(TEST_RESULT_PREDICATE_TYPE)
        );
        assert!(is_test_result_bundle(&test_result_bundle()));
        let other = signed(br#"{"_type":"x","subject":[],"predicateType":"https://ci-attest.dev/local-run/v1","predicate":{}}"#);
        assert_eq!(predicate_type_of(&other).as_deref(), Some(PREDICATE_TYPE));
        assert!(!is_test_result_bundle(&other));
        assert_eq!(predicate_type_of(b"not a bundle"), None);
        assert_eq!(predicate_type_of(&signed(b"[1]")), None);
    }
}
