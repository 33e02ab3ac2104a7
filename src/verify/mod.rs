//! Verification: the ordered checks of DESIGN.md, producing findings, never printing.
//!
//! For each bundle: (1) parse with size limits, media type, one-signature envelope, payload type,
//! statement type and predicate type; (2) verification material: the key must be one the policy
//! trusts; (3) transparency log: recorded as skipped for key-signed bundles without an entry;
//! (4) the DSSE signature over PAE; (5) the subject must be this commit (id and commit-object
//! sha256). Only a bundle that passes all of these becomes a [`VerifiedStatement`], which
//! [`crate::policy::evaluate`] then judges. Every step either runs or leaves a finding saying it
//! did not.

pub mod cert;
pub mod pki;
pub mod sigstore;
pub mod tlog;
pub mod tsa;

use crate::bundle::{Bundle, BundleError, KeyMaterial};
use crate::dsse::IN_TOTO_PAYLOAD_TYPE;
use crate::finding::{Code, Finding};
use crate::git::CommitInfo;
use crate::policy::Policy;
use crate::report::{BundleReport, CheckSummary, REPORT_SCHEMA, Report, Verdict};
use crate::sign::key::PublicKey;
use crate::statement::{
    DIGEST_GIT_COMMIT, DIGEST_SHA256, LocalRunPredicate, LocalRunStatement, PREDICATE_TYPE,
    STATEMENT_TYPE, Statement,
};
use crate::store::{Fetched, RejectedItem};
use std::time::SystemTime;

/// A statement whose envelope signature, signer and subject have been verified.
///
/// Only the verifier constructs one, so [`crate::policy::evaluate`] can only ever judge statements
/// that passed verification.
#[derive(Debug, Clone)]
pub struct VerifiedStatement {
    statement: LocalRunStatement,
    signer: String,
}

impl VerifiedStatement {
    /// Wraps a statement that passed verification, with the name of the signer that signed it.
    pub(crate) fn new(statement: LocalRunStatement, signer: String) -> VerifiedStatement {
        VerifiedStatement { statement, signer }
    }

    /// The verified statement.
    pub fn statement(&self) -> &LocalRunStatement {
        &self.statement
    }

    /// Its predicate.
    pub fn predicate(&self) -> &LocalRunPredicate {
        &self.statement.predicate
    }

    /// The policy name of the signer whose signature verified.
    pub fn signer(&self) -> &str {
        &self.signer
    }
}

/// Finds public keys for fingerprints the policy pins without giving the key itself.
pub trait KeySource {
    /// The PEM of the key with this fingerprint hex, if known. The caller checks the fingerprint.
    fn public_key_pem(&self, fingerprint_hex: &str) -> Option<String>;
}

/// A key source that knows no keys.
#[derive(Debug, Default)]
pub struct NoKeys;

impl KeySource for NoKeys {
    fn public_key_pem(&self, _: &str) -> Option<String> {
        None
    }
}

impl KeySource for crate::store::dir::DirStore {
    fn public_key_pem(&self, fingerprint_hex: &str) -> Option<String> {
        self.public_key(fingerprint_hex).ok().flatten()
    }
}

/// What verification needs besides the bundles.
pub struct Context<'a> {
    /// The commit under verification, as recomputed from the repository.
    pub commit: &'a CommitInfo,
    /// The policy.
    pub policy: &'a Policy,
    /// Where keys pinned only by fingerprint are found.
    pub keys: &'a dyn KeySource,
    /// The verification time (now, or the auditor's replay time).
    pub at: SystemTime,
    /// Trust material for keyless bundles (Fulcio CAs, CT logs, Rekor logs, TSAs).
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
    /// The key id the bundle names.
    pub key_id: Option<String>,
}

/// Runs the ordered verification steps on one bundle's bytes.
pub fn verify_bundle(bytes: &[u8], ctx: &Context<'_>) -> BundleVerification {
    let mut out = BundleVerification {
        findings: Vec::new(),
        verified: None,
        parsed: None,
        key_id: None,
    };
    // 1. Parse.
    let bundle = match Bundle::from_slice(bytes) {
        Ok(b) => b,
        Err(e) => {
            let (code, expected, found) = match &e {
                BundleError::Invalid { message, .. }
                    if message.starts_with("unknown bundle media type") =>
                {
                    (
                        Code::BundleMediaTypeUnsupported,
                        "a sigstore bundle media type v0.1, v0.2 or v0.3".to_string(),
                        message.clone(),
                    )
                }
                BundleError::TooLarge { max, found } => (
                    Code::BundleMalformed,
                    format!("at most {max} bytes"),
                    format!("{found} bytes or more"),
                ),
                other => (
                    Code::BundleMalformed,
                    "sigstore bundle JSON".to_string(),
                    other.to_string(),
                ),
            };
            out.findings.push(
                Finding::error(code, "the bundle cannot be read")
                    .expected_found(expected, found)
                    .hint("the file is not a sigstore bundle ci-attest can read; sign again with `ci-attest run`"),
            );
            return out;
        }
    };
    let envelope = match bundle.single_signature_envelope() {
        Ok(env) => env,
        Err(e) => {
            out.findings.push(
                Finding::error(
                    Code::EnvelopeMalformed,
                    "the bundle does not hold a usable DSSE envelope",
                )
                .expected_found("a DSSE envelope with exactly one signature", e.to_string())
                .hint("ci-attest bundles hold one DSSE envelope with one signature"),
            );
            return out;
        }
    };
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        out.findings.push(
            Finding::error(
                Code::PayloadTypeUnsupported,
                "the envelope does not carry an in-toto statement",
            )
            .expected_found(IN_TOTO_PAYLOAD_TYPE, &envelope.payload_type),
        );
    }
    let statement = parse_statement(&envelope.payload, &mut out.findings);

    // 2. Verification material. A certificate (keyless) bundle goes through the full sigstore
    // verification (chain, SCT, log proofs, timestamps, signature, identity) for each keyless
    // signer of the policy; the commit binding is checked in step 5 below.
    if public_key_hint(&bundle).is_none() {
        let signer = verify_keyless(bytes, ctx, &mut out.findings);
        if let Some(st) = &statement {
            check_subject(&st.subject, ctx.commit, &mut out.findings);
        }
        out.parsed = statement.clone();
        if let (Some(st), Some(name)) = (statement, signer) {
            if !out.findings.iter().any(Finding::is_error) {
                out.verified = Some(VerifiedStatement::new(st, name));
            }
        }
        return out;
    }
    let key_hint = public_key_hint(&bundle).map(str::to_string);
    out.key_id = key_hint.clone();
    let candidates = trusted_keys(ctx, key_hint.as_deref(), &mut out.findings);
    if ctx.policy.require.tlog.as_ref().is_some_and(|(t, _)| *t) {
        out.findings.push(
            Finding::error(
                Code::TlogEntryMissing,
                "the policy requires a transparency-log entry, and key-signed bundles carry none",
            )
            .expected_found(
                "a bundle logged in Rekor (keyless signing)",
                "a key-signed bundle",
            )
            .origin(ctx.policy.require.tlog.as_ref().map(|(_, o)| o.clone()))
            .hint("sign with `ci-attest run --keyless`, or drop `tlog = true` from the policy"),
        );
    }

    // 3. Transparency log.
    if bundle.verification_material.tlog_entries.is_empty() {
        out.findings.push(
            Finding::info(
                Code::CheckSkipped,
                "transparency log: not checked, the key-signed bundle has no log entry",
            )
            .hint(
                "the signing time comes from the statement alone; keyless signing adds a log entry",
            ),
        );
    }
    // A key-signed bundle that does carry log entries has them verified (step 4, once the key is
    // known) like any sigstore bundle: body, SET, inclusion proof and checkpoint.

    // 4. Signature.
    let mut signer = None;
    if public_key_hint(&bundle).is_some() {
        let ordered = {
            // The hint is untrusted: try the key it names first, then every other trusted key.
            let mut keys = candidates;
            keys.sort_by_key(|(_, fp, _)| Some(fp.as_str()) != key_hint.as_deref());
            keys
        };
        if ordered.is_empty() {
            // No trusted key: nothing to verify the signature with; say why.
        } else if let Some((name, fp, key)) = ordered
            .iter()
            .find(|(_, _, key)| crate::sign::verify_envelope_signature(envelope, key).is_ok())
        {
            signer = Some(name.clone());
            out.key_id = Some(fp.clone());
            if !bundle.verification_material.tlog_entries.is_empty() {
                verify_key_bundle_log(bytes, ctx, key, &mut out.findings);
            }
        } else if ordered
            .iter()
            .any(|(_, fp, _)| Some(fp.as_str()) == key_hint.as_deref())
        {
            out.findings.push(
                Finding::error(
                    Code::SignatureInvalid,
                    "the DSSE signature does not verify with the key the bundle names",
                )
                .expected_found(
                    format!("a signature by {}", key_hint.as_deref().unwrap_or("?")),
                    "a signature that does not verify over PAE(payloadType, payload)",
                )
                .hint("the payload or the signature was altered after signing; do not trust this bundle"),
            );
        }
        if signer.is_none()
            && !out
                .findings
                .iter()
                .any(|f| f.code == Code::SignatureInvalid)
        {
            let trusted: Vec<String> = ctx
                .policy
                .signers
                .iter()
                .map(|s| format!("{} ({})", s.name, s.fingerprint().unwrap_or("keyless")))
                .collect();
            out.findings.push(
                Finding::error(
                    Code::SignerUntrusted,
                    "the bundle is signed by a key the policy does not trust",
                )
                .expected_found(
                    format!("a signature by one of: {}", trusted.join(", ")),
                    format!("key {}", key_hint.as_deref().unwrap_or("(no hint)")),
                )
                .origin(ctx.policy.signers.first().map(|s| s.origin.clone()))
                .hint(
                    "add the signer's public key to the policy's [[signer]] list if you trust it",
                ),
            );
        }
    }

    // 5. Subject.
    if let Some(st) = &statement {
        check_subject(&st.subject, ctx.commit, &mut out.findings);
    }

    out.parsed = statement.clone();
    if let (Some(st), Some(name)) = (statement, signer) {
        if !out.findings.iter().any(Finding::is_error) {
            out.verified = Some(VerifiedStatement::new(st, name));
        }
    }
    out
}

/// Verifies the log entries of a key-signed bundle through the sigstore path (the signature itself
/// was already verified by the caller).
fn verify_key_bundle_log(
    bytes: &[u8],
    ctx: &Context<'_>,
    key: &PublicKey,
    findings: &mut Vec<Finding>,
) {
    let spki = key.to_spki_der();
    let vk = match crate::verify::pki::VerifyingKey::from_spki_der(spki) {
        Ok(vk) => vk,
        Err(e) => {
            // Fail closed: a log entry that cannot be checked does not count as checked.
            findings.push(
                Finding::error(
                    Code::TlogEntryMalformed,
                    "the log entries cannot be checked",
                )
                .expected_found("a signer key usable for log verification", e.to_string()),
            );
            return;
        }
    };
    let artifact = hex::decode(&ctx.commit.sha256).ok().map(|digest| {
        crate::verify::sigstore::Artifact::Digest {
            algorithm: "sha256".into(),
            digest,
        }
    });
    if let Err(fs) = crate::verify::sigstore::verify(
        bytes,
        ctx.trusted_root,
        &crate::verify::sigstore::Signer::Key(&vk, spki),
        artifact.as_ref(),
    ) {
        findings.extend(fs);
    }
}

/// Verifies a certificate bundle against each keyless signer of the policy; returns the name of
/// the signer it verified for, or records why it did not.
fn verify_keyless(bytes: &[u8], ctx: &Context<'_>, findings: &mut Vec<Finding>) -> Option<String> {
    use crate::policy::{KeylessIdentity, SignerIdentity};
    use crate::verify::cert::{IdentityMatcher, SanRegex};
    let keyless: Vec<_> = ctx
        .policy
        .signers
        .iter()
        .filter_map(|s| match &s.identity {
            SignerIdentity::Keyless { issuer, identity } => Some((s, issuer, identity)),
            _ => None,
        })
        .collect();
    if keyless.is_empty() {
        findings.push(
            Finding::error(
                Code::VerificationMaterialUnsupported,
                "the bundle is signed keylessly, and the policy lists no keyless signer",
            )
            .expected_found(
                "verificationMaterial.publicKey (the policy trusts keys only)",
                "a certificate",
            )
            .origin(ctx.policy.signers.first().map(|s| s.origin.clone()))
            .hint("add a [[signer]] with `issuer` and `identity` (or `identity_regex`) to trust keyless signers"),
        );
        return None;
    }
    // The commit binding: the subject's sha256 of the commit object.
    let artifact = hex::decode(&ctx.commit.sha256).ok().map(|digest| {
        crate::verify::sigstore::Artifact::Digest {
            algorithm: "sha256".into(),
            digest,
        }
    });
    let mut best: Option<(Vec<Finding>, &crate::policy::Signer)> = None;
    for (signer, issuer, identity) in keyless {
        let matcher = match identity {
            KeylessIdentity::Exact(id) => IdentityMatcher::Exact(id.clone()),
            KeylessIdentity::Regex(re) => match SanRegex::new(re) {
                Ok(r) => IdentityMatcher::Regex(r),
                Err(_) => continue, // checked when the policy loaded
            },
        };
        let result = crate::verify::sigstore::verify(
            bytes,
            ctx.trusted_root,
            &crate::verify::sigstore::Signer::Keyless {
                issuer,
                identity: &matcher,
            },
            artifact.as_ref(),
        );
        match result {
            Ok(_) => return Some(signer.name.clone()),
            Err(fs) => {
                if best.as_ref().is_none_or(|(b, _)| fs.len() < b.len()) {
                    best = Some((fs, signer));
                }
            }
        }
    }
    if let Some((fs, signer)) = best {
        findings.extend(
            fs.into_iter()
                .map(|f| f.origin(Some(signer.origin.clone()))),
        );
    }
    None
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

/// The policy's key signers with their parsed keys: (name, fingerprint, key).
///
/// A key the bundle names (`hint`) that cannot be had or read is recorded, so a
/// `signer-untrusted` verdict does not hide that the policy does trust that fingerprint.
fn trusted_keys(
    ctx: &Context<'_>,
    hint: Option<&str>,
    findings: &mut Vec<Finding>,
) -> Vec<(String, String, PublicKey)> {
    let mut keys = Vec::new();
    for s in &ctx.policy.signers {
        let Some(fingerprint) = s.fingerprint() else {
            continue;
        };
        let hex = fingerprint.strip_prefix("sha256:").unwrap_or(fingerprint);
        let pem = s
            .public_key_pem()
            .map(str::to_string)
            .or_else(|| ctx.keys.public_key_pem(hex));
        let named = hint == Some(fingerprint);
        let Some(pem) = pem else {
            if named {
                findings.push(
                    Finding::info(
                        Code::SignerUntrusted,
                        format!("the policy pins signer {} by fingerprint, but its key is not in the store", s.name),
                    )
                    .expected_found(
                        format!("keys/sha256-{hex}.pub in the store"),
                        "no such key",
                    )
                    .origin(Some(s.origin.clone()))
                    .hint("give the signer as `key = \"<file>\"` in the policy, or fetch the store's keys/ folder"),
                );
            }
            continue;
        };
        match PublicKey::from_pem(pem.as_bytes()) {
            Ok(key) if key.key_id().to_string() == fingerprint => {
                keys.push((s.name.clone(), fingerprint.to_string(), key));
            }
            Ok(key) => findings.push(
                Finding::info(
                    Code::SignerUntrusted,
                    format!(
                        "a stored key for signer {} does not match its fingerprint",
                        s.name
                    ),
                )
                .expected_found(fingerprint, key.key_id().to_string())
                .origin(Some(s.origin.clone())),
            ),
            Err(e) => findings.push(
                Finding::info(
                    Code::SignerUntrusted,
                    format!("the key for signer {} cannot be read", s.name),
                )
                .expected_found("a P-256 public key PEM", e.to_string())
                .origin(Some(s.origin.clone())),
            ),
        }
    }
    keys
}

/// Parses a DSSE payload as a local-run statement, recording why it is not one in `findings`.
pub fn parse_statement(payload: &[u8], findings: &mut Vec<Finding>) -> Option<LocalRunStatement> {
    let value: Statement<serde_json::Value> = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => {
            findings.push(
                Finding::error(
                    Code::StatementMalformed,
                    "the payload is not an in-toto statement",
                )
                .expected_found("an in-toto Statement v1 JSON object", e.to_string()),
            );
            return None;
        }
    };
    let mut ok = true;
    if value.statement_type != STATEMENT_TYPE {
        findings.push(
            Finding::error(
                Code::StatementMalformed,
                "the statement is not an in-toto Statement v1",
            )
            .expected_found(STATEMENT_TYPE, &value.statement_type),
        );
        ok = false;
    }
    if value.predicate_type != PREDICATE_TYPE {
        findings.push(
            Finding::error(
                Code::PredicateTypeUnsupported,
                "the statement's predicate is not a ci-attest local-run predicate",
            )
            .expected_found(PREDICATE_TYPE, &value.predicate_type),
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    match serde_json::from_value::<LocalRunPredicate>(value.predicate) {
        Ok(predicate) => Some(Statement {
            statement_type: value.statement_type,
            subject: value.subject,
            predicate_type: value.predicate_type,
            predicate,
        }),
        Err(e) => {
            findings.push(
                Finding::error(
                    Code::StatementMalformed,
                    "the predicate does not match its schema",
                )
                .expected_found(
                    format!("a predicate following {PREDICATE_TYPE} (docs/predicate.schema.json)"),
                    e.to_string(),
                ),
            );
            None
        }
    }
}

fn check_subject(
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
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "predicateType")]
        predicate_type: String,
    }
    let bundle = Bundle::from_slice(bytes).ok()?;
    let envelope = bundle.single_signature_envelope().ok()?;
    serde_json::from_slice::<Head>(&envelope.payload)
        .ok()
        .map(|h| h.predicate_type)
}

/// True for a bundle that claims to carry an in-toto test-result statement.
pub fn is_test_result_bundle(bytes: &[u8]) -> bool {
    predicate_type_of(bytes).as_deref() == Some(crate::test_result::TEST_RESULT_PREDICATE_TYPE)
}

/// The report line of a store item that was not taken as a bundle.
fn rejected_report(item: &RejectedItem) -> BundleReport {
    BundleReport {
        location: item.location.clone(),
        signer: None,
        key_id: None,
        finished_on: None,
        selected: false,
        checks: Vec::new(),
        findings: vec![
            Finding::error(
                Code::StoreItemInvalid,
                "a store item is not a bundle that can be judged; the other bundles were judged without it",
            )
            .expected_found(
                "a regular file (or git blob) holding one bundle within the limits of docs/limits.md",
                item.problem.to_string(),
            ),
        ],
    }
}

/// Verifies every bundle for a commit, picks the newest verified one and judges it with the policy.
///
/// Test-result bundles (stored beside local-run bundles) are listed with an informational
/// finding and otherwise ignored: the policy judges local-run statements only.
pub fn verify_commit(fetched: &Fetched, ctx: &Context<'_>) -> Report {
    let bundles = &fetched.bundles;
    let mut reports = Vec::with_capacity(bundles.len() + fetched.rejected.len());
    let mut verified = Vec::new();
    for (i, b) in bundles.iter().enumerate() {
        if is_test_result_bundle(&b.bytes) {
            reports.push(BundleReport {
                location: b.location.clone(),
                signer: None,
                key_id: None,
                finished_on: None,
                selected: false,
                checks: Vec::new(),
                findings: vec![
                    Finding::info(
                        Code::PredicateTypeUnsupported,
                        "an in-toto test-result statement: listed, not judged by the policy",
                    )
                    .expected_found(
                        PREDICATE_TYPE,
                        crate::test_result::TEST_RESULT_PREDICATE_TYPE,
                    )
                    .hint("`ci-attest inspect` shows its result and failing tests"),
                ],
            });
            continue;
        }
        let v = verify_bundle(&b.bytes, ctx);
        let parsed = v
            .verified
            .as_ref()
            .map(|s| s.statement())
            .or(v.parsed.as_ref());
        reports.push(BundleReport {
            location: b.location.clone(),
            signer: v.verified.as_ref().map(|s| s.signer().to_string()),
            key_id: v.key_id.clone(),
            finished_on: parsed.map(|s| s.predicate.finished_on.clone()),
            selected: false,
            checks: parsed
                .map(|s| s.predicate.checks.iter().map(CheckSummary::of).collect())
                .unwrap_or_default(),
            findings: v.findings,
        });
        if let Some(s) = v.verified {
            verified.push((i, s));
        }
    }
    reports.extend(fetched.rejected.iter().map(rejected_report));
    // Newest first by the statement's finish time; ties keep store order (later wins).
    let newest = verified.into_iter().max_by(|(ia, a), (ib, b)| {
        let ta = humantime::parse_rfc3339_weak(&a.predicate().finished_on).ok();
        let tb = humantime::parse_rfc3339_weak(&b.predicate().finished_on).ok();
        ta.cmp(&tb).then(ia.cmp(ib))
    });
    let findings = match newest {
        Some((i, statement)) => {
            let mut findings = reports[i].findings.clone();
            findings.extend(crate::policy::evaluate(ctx.policy, &statement, ctx.at));
            reports[i].selected = true;
            reports[i].findings = findings.clone();
            findings
        }
        None => {
            let mut findings: Vec<Finding> = reports
                .iter()
                .flat_map(|r| r.findings.iter().filter(|f| f.is_error()).cloned())
                .collect();
            findings.push(
                Finding::error(
                    Code::NoAttestation,
                    "no attestation for this commit verified",
                )
                .expected_found(
                    format!(
                        "a bundle for commit {} signed by a trusted signer",
                        ctx.commit.id
                    ),
                    format!("{} bundle(s), none verified", bundles.len()),
                )
                .hint(
                    "run `ci-attest run` on this commit (or fetch its bundles), then verify again",
                ),
            );
            findings
        }
    };
    let verdict = if findings.iter().any(Finding::is_error) {
        Verdict::Rejected
    } else {
        Verdict::Accepted
    };
    Report {
        schema: REPORT_SCHEMA,
        commit: ctx.commit.id.to_string(),
        policy: ctx.policy.file.clone(),
        verdict,
        bundles: reports,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::key::SigningKey;
    use crate::test_result::{TEST_RESULT_PREDICATE_TYPE, TestResultPredicate};

    fn signed(statement_json: &[u8]) -> Vec<u8> {
        let key = SigningKey::generate().expect("the system RNG works in tests");
        crate::sign::sign_statement(statement_json, &key)
            .to_json()
            .into_bytes()
    }

    fn test_result_bundle() -> Vec<u8> {
        let st = Statement {
            statement_type: STATEMENT_TYPE.to_string(),
            subject: vec![],
            predicate_type: TEST_RESULT_PREDICATE_TYPE.to_string(),
            predicate: TestResultPredicate {
                result: crate::statement::Outcome::Failed,
                configuration: vec![],
                url: None,
                passed_tests: vec![],
                warned_tests: vec![],
                failed_tests: vec!["s::t".into()],
            },
        };
        signed(&st.to_json())
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

    #[test]
    fn verify_commit_lists_a_test_result_bundle_without_rejecting_for_it() {
        let commit = CommitInfo {
            id: crate::git::CommitId::parse(&"ab".repeat(20)).expect("valid id"),
            sha256: "cd".repeat(32),
            tree: "ef".repeat(20),
        };
        let policy = crate::policy::test_support::policy("");
        let root = crate::trust::TrustedRoot::production();
        let ctx = Context {
            commit: &commit,
            policy: &policy,
            keys: &NoKeys,
            at: crate::policy::test_support::at("2026-11-02T00:00:00Z"),
            trusted_root: &root,
        };
        let bundles = [crate::store::StoredBundle {
            location: "tr.sigstore.json".into(),
            bytes: test_result_bundle(),
        }];
        let report = verify_commit(&Fetched::of(bundles.to_vec()), &ctx);
        assert_eq!(report.bundles.len(), 1);
        let listed = &report.bundles[0];
        assert!(!listed.selected);
        assert_eq!(listed.findings.len(), 1);
        assert_eq!(listed.findings[0].code, Code::PredicateTypeUnsupported);
        assert!(!listed.findings[0].is_error());
        // No local-run bundle: rejected for that reason alone.
        let errors: Vec<Code> = report
            .findings
            .iter()
            .filter(|f| f.is_error())
            .map(|f| f.code)
            .collect();
        assert_eq!(errors, [Code::NoAttestation]);
    }
}
