//! Signed verdicts: the verifier's decision as a SLSA Verification Summary Attestation (VSA) v1.
//!
//! `verify --attest-verdict` and `audit --attest-verdict` turn a [`Report`] into an in-toto
//! Statement v1 with predicate type [`VSA_PREDICATE_TYPE`] ([`verdict_statement`]), which the CLI
//! signs like `run` signs its statement and stores beside the local-run bundles. The statement
//! follows the SLSA VSA v1 field rules:
//!
//! - `subject`: the commit, exactly as `run` names it (`<repository>@<commit>`, digests `gitCommit`
//!   and `sha256` of the raw commit object);
//! - `verifier.id` (required): a URI naming the verifier ([`DEFAULT_VERIFIER_ID`] unless the
//!   caller names its own), `verifier.version`: `{"ci-attest": <version>}`;
//! - `timeVerified`: the verification time (`--at`), passed in, never read from the clock here;
//! - `resourceUri` (required): the repository (canonical remote URL, or a `file://` path);
//! - `policy` (required): `{uri, digest: {sha256}}` of the policy file's bytes;
//! - `inputAttestations`: every bundle judged, `{uri: store location, digest: {sha256}}`;
//! - `verificationResult` (required): `PASSED` or `FAILED`;
//! - `verifiedLevels` (required): [`LEVEL_POLICY_PASSED`], or [`LEVEL_FAILED`] (custom values do
//!   not start with `SLSA_`, as the spec asks: ci-attest verifies a policy, not a SLSA track);
//! - the figures (signer, per-check results and metrics, finding codes, counts) in the extension
//!   field [`DETAILS_FIELD`], a URI-named field that other consumers ignore.
//!
//! `dependencyLevels` and `slsaVersion` are optional in the spec and never written (no SLSA level is
//! evaluated). The JSON Schema is `docs/vsa.schema.json`.
//!
//! `verify --verdict` judges a commit's VSA bundles instead ([`judge_verdicts`]): each must verify
//! (signature, log, timestamp, signer) through the same pipeline as local-run bundles, be for this
//! commit (digests recomputed from the repository), and come from a (signer, `verifier.id`) pair
//! the policy's `[[verifier]]` list names. The newest such verdict signed no later than the
//! verification time decides; a `FAILED` verdict rejects, and so does a policy digest other than
//! the one a `[[verifier]] policy_sha256` requires.

use crate::finding::{Code, Finding, Origin, Severity, clip};
use crate::git::CommitInfo;
use crate::policy::{CLOCK_SKEW, Policy, TrustedVerifier};
use crate::report::{BundleReport, Report, Verdict};
use crate::statement::{
    DIGEST_GIT_COMMIT, DIGEST_SHA256, ResourceDescriptor, STATEMENT_TYPE, Statement,
};
use crate::store::Fetched;
use crate::trust::TrustedRoot;
use crate::verify::sigstore::{self, KeyTime, Trust};
use crate::verify::{ParsedBundle, Signers, TimeSource, VerifiedSigner, predicate_type_of_payload};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Predicate type of the SLSA Verification Summary Attestation, version 1.
pub const VSA_PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";

/// The `verifier.id` ci-attest writes unless the caller names its own verifier.
pub const DEFAULT_VERIFIER_ID: &str = "https://ci-attest.dev/verifier";

/// The extension field holding ci-attest's figures of the verification.
pub const DETAILS_FIELD: &str = "https://ci-attest.dev/verification-details/v1";

/// The `verifiedLevels` entry of a passing verdict: the policy was met (not a SLSA level).
pub const LEVEL_POLICY_PASSED: &str = "CI_ATTEST_POLICY_PASSED";

/// The `verifiedLevels` entry of a failing verdict, as the spec names it.
pub const LEVEL_FAILED: &str = "FAILED";

/// The `verifier.version` key naming ci-attest's version.
pub const VERSION_COMPONENT: &str = "ci-attest";

/// The outcome a VSA records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerificationResult {
    /// The policy was met.
    Passed,
    /// It was not.
    Failed,
}

impl VerificationResult {
    /// The spec's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationResult::Passed => "PASSED",
            VerificationResult::Failed => "FAILED",
        }
    }
}

/// `verifier` of a VSA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VsaVerifier {
    /// URI naming the verifier.
    pub id: String,
    /// Component name -> version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
}

/// One check of the judged statement, as the verdict records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckFigures {
    /// The check's name.
    pub name: String,
    /// `tests`, `coverage`, `lint` or `custom`.
    pub kind: String,
    /// `PASSED`, `WARNED` or `FAILED`.
    pub result: String,
    /// Metric name -> value, as the report shows them.
    pub metrics: BTreeMap<String, f64>,
}

/// One finding of the verification, by code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingCode {
    /// The stable finding code.
    pub code: String,
    /// `error` or `info`.
    pub severity: String,
}

/// Counts of the verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerdictCounts {
    /// Bundles judged (the `inputAttestations`).
    pub bundles: u64,
    /// Rejecting findings.
    pub errors: u64,
    /// Findings recorded for the reader.
    pub infos: u64,
}

/// ci-attest's figures of the verification, under [`DETAILS_FIELD`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerdictDetails {
    /// Who signs the verdict: `sha256:<key fingerprint>`, or `<identity> (<OIDC issuer>)`.
    pub signer: String,
    /// `accepted` or `rejected`, as the report says.
    pub verdict: String,
    /// The store location of the bundle that decided, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_bundle: Option<String>,
    /// The decisive statement's checks.
    pub checks: Vec<CheckFigures>,
    /// Every verdict finding, in report order.
    pub findings: Vec<FindingCode>,
    /// Counts.
    pub counts: VerdictCounts,
    /// The sample the commit was drawn in (`reproduce`/`audit --sample`): share, seed and range
    /// size, so whoever checks the verdict can draw the same sample again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<crate::reproduce::SampleRecord>,
}

/// The VSA v1 predicate, with the spec's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VsaPredicate {
    /// Who verified.
    pub verifier: VsaVerifier,
    /// When (RFC 3339).
    pub time_verified: String,
    /// What was verified: the repository.
    pub resource_uri: String,
    /// The policy applied.
    pub policy: ResourceDescriptor,
    /// The attestations judged.
    #[serde(default)]
    pub input_attestations: Vec<ResourceDescriptor>,
    /// `PASSED` or `FAILED`.
    pub verification_result: VerificationResult,
    /// [`LEVEL_POLICY_PASSED`] or [`LEVEL_FAILED`] (other producers may write SLSA levels).
    pub verified_levels: Vec<String>,
    /// ci-attest's figures.
    #[serde(
        rename = "https://ci-attest.dev/verification-details/v1",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub details: Option<VerdictDetails>,
}

/// A VSA statement.
pub type VsaStatement = Statement<VsaPredicate>;

impl VsaStatement {
    /// Serialises the statement as compact JSON (the DSSE payload); field order is fixed by the
    /// types and every map is sorted, so equal verdicts give equal bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("statement types always serialise")
    }
}

/// What a verdict records besides the report.
#[derive(Debug, Clone)]
pub struct VerdictInput<'a> {
    /// The commit, as recomputed from the repository.
    pub commit: &'a CommitInfo,
    /// The repository as `run` names it in the subject: canonical remote URL, else its path.
    pub repository: &'a str,
    /// `resourceUri`: the canonical remote URL, else a `file://` URL of the path.
    pub resource_uri: &'a str,
    /// The policy file as named (`policy.uri`).
    pub policy_uri: &'a str,
    /// Lowercase hex sha256 of the policy file's bytes.
    pub policy_sha256: &'a str,
    /// `verifier.id`.
    pub verifier_id: &'a str,
    /// Who signs the verdict ([`VerdictDetails::signer`]).
    pub signer: &'a str,
    /// The verification time.
    pub at: SystemTime,
    /// The sample the commit was drawn in, if any.
    pub sample: Option<&'a crate::reproduce::SampleRecord>,
}

/// The bundles a verdict names as its inputs: `(location, sha256 hex)` of every fetched bundle
/// the report judged, leaving out those it only listed as of another known predicate type
/// (test-result statements and verdicts: one info `predicate-type-unsupported` finding), so the
/// bundles are not parsed a second time.
pub fn judged_inputs(report: &Report, fetched: &Fetched) -> Vec<(String, String)> {
    use sha2::Digest;
    let listed = |location: &str| {
        report.bundles.iter().any(|l| {
            l.location == location
                && matches!(l.findings.as_slice(),
                    [f] if f.code == Code::PredicateTypeUnsupported && !f.is_error())
        })
    };
    fetched
        .bundles
        .iter()
        .filter(|b| !listed(&b.location))
        .map(|b| {
            (
                b.location.clone(),
                hex::encode(sha2::Sha256::digest(&b.bytes)),
            )
        })
        .collect()
}

/// The VSA of one verification: `report` as judged from the bundles `inputs` (see
/// [`judged_inputs`]).
pub fn verdict_statement(
    report: &Report,
    inputs: &[(String, String)],
    input: &VerdictInput<'_>,
) -> VsaStatement {
    let passed = report.verdict == Verdict::Accepted;
    let selected = report.bundles.iter().find(|b| b.selected);
    let checks = selected
        .map(|b| {
            b.checks
                .iter()
                .map(|c| CheckFigures {
                    name: c.name.clone(),
                    kind: c.kind.as_str().to_string(),
                    result: serde_json::to_value(c.result)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    metrics: c.metrics.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let errors = report.findings.iter().filter(|f| f.is_error()).count() as u64;
    let details = VerdictDetails {
        signer: input.signer.to_string(),
        verdict: if passed { "accepted" } else { "rejected" }.to_string(),
        selected_bundle: selected.map(|b| b.location.clone()),
        checks,
        findings: report
            .findings
            .iter()
            .map(|f| FindingCode {
                code: f.code.as_str().to_string(),
                severity: match f.severity {
                    Severity::Error => "error",
                    Severity::Info => "info",
                }
                .to_string(),
            })
            .collect(),
        counts: VerdictCounts {
            bundles: inputs.len() as u64,
            errors,
            infos: report.findings.len() as u64 - errors,
        },
        sample: input.sample.cloned(),
    };
    let digest = |sha: &str| BTreeMap::from([(DIGEST_SHA256.to_string(), sha.to_string())]);
    Statement {
        statement_type: STATEMENT_TYPE.to_string(),
        subject: vec![ResourceDescriptor {
            name: Some(format!("{}@{}", input.repository, input.commit.id)),
            uri: None,
            digest: BTreeMap::from([
                (DIGEST_GIT_COMMIT.to_string(), input.commit.id.to_string()),
                (DIGEST_SHA256.to_string(), input.commit.sha256.clone()),
            ]),
        }],
        predicate_type: VSA_PREDICATE_TYPE.to_string(),
        predicate: VsaPredicate {
            verifier: VsaVerifier {
                id: input.verifier_id.to_string(),
                version: BTreeMap::from([(
                    VERSION_COMPONENT.to_string(),
                    crate::attest::TOOL_VERSION.to_string(),
                )]),
            },
            time_verified: crate::attest::rfc3339(input.at),
            resource_uri: input.resource_uri.to_string(),
            policy: ResourceDescriptor {
                name: None,
                uri: Some(input.policy_uri.to_string()),
                digest: digest(input.policy_sha256),
            },
            input_attestations: inputs
                .iter()
                .map(|(location, sha)| ResourceDescriptor {
                    name: None,
                    uri: Some(location.clone()),
                    digest: digest(sha),
                })
                .collect(),
            verification_result: if passed {
                VerificationResult::Passed
            } else {
                VerificationResult::Failed
            },
            verified_levels: vec![
                if passed {
                    LEVEL_POLICY_PASSED
                } else {
                    LEVEL_FAILED
                }
                .to_string(),
            ],
            details: Some(details),
        },
    }
}

/// Parses a DSSE payload as a VSA v1 statement: size and duplicate keys as for local-run
/// statements, `_type`, predicate type, the spec's required fields, a `timeVerified` that is a
/// time, and `verifiedLevels` that agree with `verificationResult` (`FAILED` exactly when failed).
/// Fields the spec does not name are ignored, as it asks of consumers.
pub fn parse_vsa(payload: &[u8]) -> Result<(VsaStatement, SystemTime), Vec<Finding>> {
    use crate::verify::statement::{JsonShapeError, MAX_STATEMENT_BYTES, check_json_shape};
    let malformed = |message: &str, expected: &str, found: String| {
        vec![
            Finding::error(Code::StatementMalformed, message.to_string())
                .expected_found(expected, found)
                .hint("ci-attest writes verdicts with `verify --attest-verdict`; this one is not such a statement"),
        ]
    };
    if payload.len() > MAX_STATEMENT_BYTES {
        return Err(malformed(
            "the verdict is too large",
            &format!("at most {MAX_STATEMENT_BYTES} bytes"),
            format!("{} bytes", payload.len()),
        ));
    }
    if let Err(e) = check_json_shape(payload) {
        return Err(match e {
            JsonShapeError::DuplicateKey { key, path } => vec![
                Finding::error(
                    Code::StatementDuplicateKey,
                    format!("the verdict's JSON holds the key {key} twice in one object"),
                )
                .expected_found(
                    "every key at most once in each JSON object",
                    format!("{key} again at {path}"),
                ),
            ],
            other => malformed(
                "the verdict is not JSON ci-attest can read",
                "a JSON object",
                other.to_string(),
            ),
        });
    }
    let statement: VsaStatement = serde_json::from_slice(payload).map_err(|e| {
        malformed(
            "the verdict does not follow SLSA VSA v1",
            "an in-toto Statement v1 with verifier.id, resourceUri, policy, verificationResult and verifiedLevels",
            clip(&e.to_string()),
        )
    })?;
    if statement.statement_type != STATEMENT_TYPE {
        return Err(malformed(
            "the verdict is not an in-toto Statement v1",
            STATEMENT_TYPE,
            clip(&statement.statement_type),
        ));
    }
    if statement.predicate_type != VSA_PREDICATE_TYPE {
        return Err(vec![
            Finding::error(
                Code::PredicateTypeUnsupported,
                "the statement is not a verdict",
            )
            .expected_found(VSA_PREDICATE_TYPE, clip(&statement.predicate_type)),
        ]);
    }
    let p = &statement.predicate;
    let at = crate::statement::parse_time(&p.time_verified).map_err(|e| {
        vec![
            Finding::error(
                Code::StatementTimeInvalid,
                "the verdict's timeVerified is not a time",
            )
            .expected_found(
                "timeVerified as an RFC 3339 time, e.g. 2026-11-01T12:00:00Z",
                format!("{:?} ({e})", clip(&p.time_verified)),
            ),
        ]
    })?;
    let says_failed = p.verified_levels.iter().any(|l| l == LEVEL_FAILED);
    let failed = p.verification_result == VerificationResult::Failed;
    if p.verifier.id.is_empty() || p.resource_uri.is_empty() || says_failed != failed {
        return Err(malformed(
            "the verdict contradicts itself or lacks a required value",
            "a non-empty verifier.id and resourceUri, and verifiedLevels holding FAILED exactly when verificationResult is FAILED",
            format!(
                "verifier.id {:?}, resourceUri {:?}, verificationResult {}, verifiedLevels {:?}",
                clip(&p.verifier.id),
                clip(&p.resource_uri),
                p.verification_result.as_str(),
                p.verified_levels
                    .iter()
                    .map(|l| clip(l))
                    .collect::<Vec<_>>()
            ),
        ));
    }
    Ok((statement, at))
}

/// A verified verdict that may decide.
struct Candidate {
    line: usize,
    statement: VsaStatement,
    signed_at: SystemTime,
    verifier: TrustedVerifier,
}

/// Judges a commit's verdicts (`verify --verdict`) against the policy's `[[verifier]]` list;
/// `signers` is the trust list built from the policy's `[[signer]]` entries.
pub fn judge_verdicts(
    policy: &Policy,
    signers: &Signers,
    root: &TrustedRoot,
    at: SystemTime,
    commit: &CommitInfo,
    fetched: &Fetched,
) -> Report {
    let first_verifier = policy.verifiers.first().map(|v| v.origin.clone());
    let mut lines: Vec<BundleReport> = Vec::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    for b in &fetched.bundles {
        let mut line = BundleReport::unverified(b.location.clone(), Vec::new());
        if let Some(c) = judge_one(policy, signers, root, commit, b, &mut line) {
            candidates.push(Candidate {
                line: lines.len(),
                ..c
            });
        }
        for f in &mut line.findings {
            if f.origin.is_none()
                && matches!(f.code, Code::SignerUntrusted | Code::IdentityMismatch)
            {
                f.origin = first_verifier.clone();
            }
        }
        lines.push(line);
    }
    for item in &fetched.rejected {
        lines.push(BundleReport::unverified(
            item.location.clone(),
            vec![
                Finding::error(
                    Code::StoreItemInvalid,
                    "a store item is not a bundle that can be judged; the other bundles were judged without it",
                )
                .expected_found(
                    "a regular file (or git blob) holding one bundle within the limits of docs/limits.md",
                    item.problem.to_string(),
                ),
            ],
        ));
    }

    let limit = at.checked_add(CLOCK_SKEW);
    let in_time = |t: SystemTime| limit.is_none_or(|l| t <= l);
    for c in candidates.iter().filter(|c| !in_time(c.signed_at)) {
        lines[c.line].findings.push(
            Finding::info(
                Code::AttestationFromFuture,
                "a verdict signed after the verification time: not considered at that time",
            )
            .expected_found(
                format!("signed no later than {}", crate::attest::rfc3339(at)),
                format!("signed at {}", crate::attest::rfc3339(c.signed_at)),
            ),
        );
    }
    let newest = candidates
        .iter()
        .filter(|c| in_time(c.signed_at))
        .max_by_key(|c| (c.signed_at, c.line));
    let findings = match newest {
        Some(c) => {
            lines[c.line].selected = true;
            let mut findings = lines[c.line].findings.clone();
            findings.extend(decide(c, policy));
            lines[c.line].findings = findings.clone();
            findings
        }
        None => {
            let mut findings: Vec<Finding> = lines
                .iter()
                .flat_map(|l| l.findings.iter().filter(|f| f.is_error()).cloned())
                .collect();
            let verdicts = fetched
                .bundles
                .iter()
                .filter(|b| {
                    crate::verify::predicate_type_of(&b.bytes).as_deref()
                        == Some(VSA_PREDICATE_TYPE)
                })
                .count();
            findings.push(
                Finding::error(Code::NoAttestation, "no verdict for this commit verified")
                    .expected_found(
                        format!(
                            "a SLSA VSA for commit {} signed by a trusted verifier no later than {}",
                            commit.id,
                            crate::attest::rfc3339(at)
                        ),
                        format!(
                            "{verdicts} verdict bundle(s) among {} bundle(s), none trusted and in time",
                            fetched.bundles.len()
                        ),
                    )
                    .origin(first_verifier)
                    .hint("run `ci-attest verify --attest-verdict` on this commit as a trusted verifier, then verify again"),
            );
            findings
        }
    };
    Report::judged(commit.id.to_string(), policy.file.clone(), lines, findings)
}

/// The findings of the decisive verdict: its result, the policy digest a verifier entry
/// requires, and the repository `[require] repository` names (compared with `resourceUri`).
fn decide(c: &Candidate, policy: &Policy) -> Vec<Finding> {
    use crate::policy::normalise_repository;
    let p = &c.statement.predicate;
    let mut findings = Vec::new();
    if let Some((wanted, origin)) = &policy.require.repository {
        if normalise_repository(&p.resource_uri) != normalise_repository(wanted) {
            findings.push(
                Finding::error(
                    Code::RepositoryMismatch,
                    "the verdict is for another repository than the one the policy names",
                )
                .expected_found(
                    format!("resourceUri = {wanted}"),
                    format!("resourceUri = {}", clip(&p.resource_uri)),
                )
                .origin(Some(origin.clone()))
                .hint("a verdict counts only for the repository it was given in (a fork or mirror shares commits, not verdicts)"),
            );
        }
    }
    if p.verification_result == VerificationResult::Failed {
        let codes: Vec<String> = p
            .details
            .iter()
            .flat_map(|d| d.findings.iter())
            .filter(|f| f.severity == "error")
            .map(|f| clip(&f.code))
            .collect();
        findings.push(
            Finding::error(
                Code::VerdictFailed,
                "the newest trusted verdict rejected the commit",
            )
            .expected_found(
                "verificationResult PASSED",
                format!(
                    "verificationResult FAILED from {} at {}{}",
                    clip(&p.verifier.id),
                    clip(&p.time_verified),
                    if codes.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", codes.join(", "))
                    }
                ),
            )
            .origin(Some(c.verifier.origin.clone()))
            .hint(Code::VerdictFailed.default_hint()),
        );
    }
    if let Some(required) = &c.verifier.policy_sha256 {
        let found = p.policy.digest.get(DIGEST_SHA256);
        if found != Some(required) {
            findings.push(
                Finding::error(
                    Code::VerdictPolicyMismatch,
                    "the trusted verdict applied another policy than the one required",
                )
                .expected_found(
                    format!("policy sha256 {required}"),
                    format!(
                        "policy {} sha256 {}",
                        clip(p.policy.uri.as_deref().unwrap_or("(no uri)")),
                        found.map_or("(absent)".to_string(), |s| clip(s))
                    ),
                )
                .origin(Some(c.verifier.origin.clone()))
                .hint(Code::VerdictPolicyMismatch.default_hint()),
            );
        }
    }
    findings
}

/// Verifies one bundle as a verdict, filling its report line; the candidate when it may decide.
fn judge_one(
    policy: &Policy,
    signers: &Signers,
    root: &TrustedRoot,
    commit: &CommitInfo,
    b: &crate::store::StoredBundle,
    line: &mut BundleReport,
) -> Option<Candidate> {
    let parsed = match ParsedBundle::parse(&b.bytes) {
        Ok(p) => p,
        Err(f) => {
            line.findings.push(*f);
            return None;
        }
    };
    let envelope = match parsed.envelope() {
        Ok(e) => e,
        Err(f) => {
            line.findings.push(*f);
            return None;
        }
    };
    let claimed = predicate_type_of_payload(&envelope.payload);
    if claimed.as_deref() != Some(VSA_PREDICATE_TYPE) {
        line.findings.push(
            Finding::info(
                Code::PredicateTypeUnsupported,
                "not a verdict: listed, not judged by `verify --verdict`",
            )
            .expected_found(
                VSA_PREDICATE_TYPE,
                claimed.map_or("(no predicateType)".to_string(), |t| clip(&t)),
            )
            .hint("`ci-attest verify` without --verdict judges local-run bundles"),
        );
        return None;
    }
    line.key_id = parsed.key_hint().map(str::to_string);
    if envelope.payload_type != crate::dsse::IN_TOTO_PAYLOAD_TYPE {
        line.findings.push(
            Finding::error(
                Code::PayloadTypeUnsupported,
                "the envelope does not carry an in-toto statement",
            )
            .expected_found(
                crate::dsse::IN_TOTO_PAYLOAD_TYPE,
                clip(&envelope.payload_type),
            ),
        );
    }
    let statement = match parse_vsa(&envelope.payload) {
        Ok(s) => Some(s),
        Err(f) => {
            line.findings.extend(f);
            None
        }
    };
    if let Some((s, _)) = &statement {
        crate::verify::check_subject(&s.subject, commit, &mut line.findings);
    }
    let trust = Trust {
        root,
        signers,
        key_time: KeyTime::SignerClaimAllowed,
    };
    let checked = match sigstore::check(&parsed, &trust, None) {
        Ok(c) => Some(c),
        Err(f) => {
            line.findings.extend(f);
            None
        }
    };
    let (Some((statement, claimed_at)), Some(checked)) = (statement, checked) else {
        return None;
    };
    if let VerifiedSigner::Key { fingerprint, .. } = &checked.signer {
        line.key_id = Some(fingerprint.clone());
    }
    line.signer = Some(checked.signer.name().to_string());
    let (signed_at, source) = checked
        .signing_time()
        .unwrap_or((claimed_at, TimeSource::SignerClaim));
    line.signed_at = Some(crate::attest::rfc3339(signed_at));
    line.time_source = Some(source.as_str());
    let id = &statement.predicate.verifier.id;
    let pair = policy
        .verifiers
        .iter()
        .find(|v| v.signer == checked.signer.name() && &v.id == id);
    let Some(verifier) = pair else {
        let named: Vec<String> = policy
            .verifiers
            .iter()
            .filter(|v| v.signer == checked.signer.name())
            .map(|v| v.id.clone())
            .collect();
        let origin: Option<Origin> = policy
            .verifiers
            .iter()
            .find(|v| v.signer == checked.signer.name())
            .or(policy.verifiers.first())
            .map(|v| v.origin.clone());
        line.findings.push(
            Finding::error(
                Code::VerifierUntrusted,
                "the verdict's signer and verifier.id are not a pair the policy trusts",
            )
            .expected_found(
                if named.is_empty() {
                    format!(
                        "a `[[verifier]]` entry for signer {}",
                        checked.signer.name()
                    )
                } else {
                    format!(
                        "verifier.id {} for signer {}",
                        named.join(" or "),
                        checked.signer.name()
                    )
                },
                format!(
                    "verifier.id {} signed by {}",
                    clip(id),
                    checked.signer.name()
                ),
            )
            .origin(origin)
            .hint(Code::VerifierUntrusted.default_hint()),
        );
        return None;
    };
    if line.findings.iter().any(Finding::is_error) {
        return None;
    }
    Some(Candidate {
        line: 0,
        statement,
        signed_at,
        verifier: verifier.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::CommitId;
    use crate::report::{CheckSummary, REPORT_SCHEMA};
    use crate::statement::{CheckKind, Outcome};

    fn commit() -> CommitInfo {
        CommitInfo {
            id: CommitId::parse(&"ab".repeat(20)).expect("valid id"),
            sha256: "cd".repeat(32),
            tree: "ef".repeat(20),
        }
    }

    fn report(verdict: Verdict) -> Report {
        Report {
            schema: REPORT_SCHEMA,
            commit: "ab".repeat(20),
            policy: "policies/default.toml".into(),
            verdict,
            bundles: vec![BundleReport {
                selected: true,
                checks: vec![CheckSummary {
                    name: "tests".into(),
                    kind: CheckKind::Tests,
                    result: Outcome::Passed,
                    metrics: BTreeMap::from([("tests.total".to_string(), 3.0)]),
                    failed_tests: vec![],
                    failed_tests_omitted: 0,
                }],
                ..BundleReport::unverified(".ci-attest/x.1.sigstore.json".into(), vec![])
            }],
            findings: match verdict {
                Verdict::Accepted => vec![],
                Verdict::Rejected => vec![Finding::error(Code::ThresholdNotMet, "low")],
            },
        }
    }

    fn statement(verdict: Verdict) -> VsaStatement {
        let c = commit();
        let input = VerdictInput {
            commit: &c,
            repository: "https://example.com/o/r",
            resource_uri: "https://example.com/o/r",
            policy_uri: "policies/default.toml",
            policy_sha256: &"12".repeat(32),
            verifier_id: DEFAULT_VERIFIER_ID,
            signer: "sha256:00",
            at: crate::policy::test_support::at("2026-11-02T00:00:00Z"),
            sample: None,
        };
        let inputs = [(".ci-attest/x.1.sigstore.json".to_string(), "34".repeat(32))];
        verdict_statement(&report(verdict), &inputs, &input)
    }

    #[test]
    fn a_passing_verdict_has_every_required_vsa_field() {
        let s = statement(Verdict::Accepted);
        let v: serde_json::Value = serde_json::from_slice(&s.to_json()).expect("JSON");
        assert_eq!(v["_type"], STATEMENT_TYPE);
        assert_eq!(v["predicateType"], VSA_PREDICATE_TYPE);
        assert_eq!(v["subject"][0]["digest"]["gitCommit"], "ab".repeat(20));
        assert_eq!(v["subject"][0]["digest"]["sha256"], "cd".repeat(32));
        let p = &v["predicate"];
        assert_eq!(p["verifier"]["id"], DEFAULT_VERIFIER_ID);
        assert_eq!(p["timeVerified"], "2026-11-02T00:00:00Z");
        assert_eq!(p["resourceUri"], "https://example.com/o/r");
        assert_eq!(p["policy"]["digest"]["sha256"], "12".repeat(32));
        assert_eq!(
            p["inputAttestations"][0]["digest"]["sha256"],
            "34".repeat(32)
        );
        assert_eq!(p["verificationResult"], "PASSED");
        assert_eq!(
            p["verifiedLevels"],
            serde_json::json!([LEVEL_POLICY_PASSED])
        );
        assert_eq!(p[DETAILS_FIELD]["checks"][0]["metrics"]["tests.total"], 3.0);
        assert!(parse_vsa(&s.to_json()).is_ok());
    }

    #[test]
    fn a_failing_verdict_says_failed_and_names_its_finding_codes() {
        let s = statement(Verdict::Rejected);
        assert_eq!(s.predicate.verification_result, VerificationResult::Failed);
        assert_eq!(s.predicate.verified_levels, [LEVEL_FAILED]);
        let d = s.predicate.details.as_ref().expect("details");
        assert_eq!(d.findings[0].code, "threshold-not-met");
        assert_eq!(d.counts.errors, 1);
        assert_eq!(statement(Verdict::Rejected).to_json(), s.to_json());
    }

    #[test]
    fn a_verdict_whose_levels_contradict_its_result_does_not_parse() {
        let mut s = statement(Verdict::Accepted);
        s.predicate.verified_levels = vec![LEVEL_FAILED.into()];
        let e = parse_vsa(&s.to_json()).expect_err("contradiction");
        assert_eq!(e[0].code, Code::StatementMalformed);
        let mut v: serde_json::Value =
            serde_json::from_slice(&statement(Verdict::Accepted).to_json()).expect("JSON");
        v["predicate"]
            .as_object_mut()
            .expect("object")
            .remove("verifiedLevels");
        let e = parse_vsa(&serde_json::to_vec(&v).expect("JSON")).expect_err("required");
        assert_eq!(e[0].code, Code::StatementMalformed);
    }

    #[test]
    fn unknown_vsa_fields_are_ignored_as_the_spec_asks() {
        let mut v: serde_json::Value =
            serde_json::from_slice(&statement(Verdict::Accepted).to_json()).expect("JSON");
        v["predicate"]["slsaVersion"] = "1.0".into();
        v["predicate"]["dependencyLevels"] = serde_json::json!({"SLSA_BUILD_LEVEL_3": 1});
        assert!(parse_vsa(&serde_json::to_vec(&v).expect("JSON")).is_ok());
    }
}
