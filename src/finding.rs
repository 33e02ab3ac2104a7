//! Findings: what verification and policy evaluation found, as data.
//!
//! Every check the verifier runs yields findings instead of returning early, so a reviewer sees all
//! the reasons at once. Each finding has a stable kebab-case [`Code`] (documented in
//! `docs/findings.md`), what was expected, what was found, where the expectation came from (a policy
//! `file:line:column`) and a hint.

use serde::Serialize;
use std::fmt;

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)*) => {
        /// A stable finding code. Codes are never renamed; new ones may be added.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable kebab-case name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// One line on what the code means.
            pub fn description(self) -> &'static str {
                match self {
                    $(Code::$variant => concat!($($doc),*).trim_ascii(),)*
                }
            }
        }
    };
}

codes! {
    /// The bundle is not valid sigstore bundle JSON, or is larger than the size limit.
    BundleMalformed = "bundle-malformed",
    /// The bundle's media type is not one ci-attest understands.
    BundleMediaTypeUnsupported = "bundle-media-type-unsupported",
    /// The bundle does not hold a DSSE envelope with exactly one signature.
    EnvelopeMalformed = "envelope-malformed",
    /// The envelope's payload type is not `application/vnd.in-toto+json`.
    PayloadTypeUnsupported = "payload-type-unsupported",
    /// The payload is not an in-toto Statement v1 with a well-formed ci-attest predicate.
    StatementMalformed = "statement-malformed",
    /// The statement's `predicateType` is not one ci-attest accepts.
    PredicateTypeUnsupported = "predicate-type-unsupported",
    /// The bundle's verification material is of a kind this verifier cannot check here.
    VerificationMaterialUnsupported = "verification-material-unsupported",
    /// The signing key is not one the policy trusts.
    SignerUntrusted = "signer-untrusted",
    /// The DSSE signature does not verify over PAE(payloadType, payload).
    SignatureInvalid = "signature-invalid",
    /// No subject of the statement names the commit under verification.
    SubjectCommitMismatch = "subject-commit-mismatch",
    /// The subject's sha256 differs from the digest of the commit object recomputed from the repository.
    SubjectDigestMismatch = "subject-digest-mismatch",
    /// The repository recorded in the predicate is not the one the policy names.
    RepositoryMismatch = "repository-mismatch",
    /// A verification step did not run (e.g. the transparency-log check for a key-signed bundle).
    CheckSkipped = "check-skipped",
    /// A check the policy requires is not in the statement.
    CheckMissing = "check-missing",
    /// A threshold names a metric the statement's check does not have.
    MetricMissing = "metric-missing",
    /// A metric is outside the bounds a threshold sets.
    ThresholdNotMet = "threshold-not-met",
    /// The attestation is older than the policy's `max_age`.
    AttestationTooOld = "attestation-too-old",
    /// The attestation's time is later than the verification time.
    AttestationFromFuture = "attestation-from-future",
    /// The checks did not run on a pristine checkout, and the policy requires one.
    CheckoutNotPristine = "checkout-not-pristine",
    /// The checks did not run in a sandbox (or the bundle does not say), and the policy requires one.
    IsolationNotMet = "isolation-not-met",
    /// The checks were decided by a `run --config` override, not the commit's own `.ci-attest.toml`.
    ConfigNotFromCommit = "config-not-from-commit",
    /// The checks found an earlier run's files in a `[[cache]]` folder, and the policy requires a
    /// run from scratch.
    RunNotFromScratch = "run-not-from-scratch",
    /// A check in the statement itself failed (its command exited non-zero or its report was unusable).
    CheckFailed = "check-failed",
    /// No attestation for the commit was found, or none from a trusted signer verified.
    NoAttestation = "no-attestation",
    /// The signing certificate does not chain to a trusted Fulcio CA, or is not valid at the signing time.
    CertificateInvalid = "certificate-invalid",
    /// The certificate carries no valid SCT from a trusted CT log.
    CertificateSctInvalid = "certificate-sct-invalid",
    /// The certificate's OIDC issuer or SAN is not the identity the policy expects.
    IdentityMismatch = "identity-mismatch",
    /// A keyless bundle has no transparency-log entry, or the policy requires one and there is none.
    TlogEntryMissing = "tlog-entry-missing",
    /// A log entry names a log the trusted root does not hold, or whose key is not valid then.
    TlogLogUntrusted = "tlog-log-untrusted",
    /// A log entry's body is not for this signature, key and content.
    TlogEntryMismatch = "tlog-entry-mismatch",
    /// A log entry is malformed or of an unsupported kind.
    TlogEntryMalformed = "tlog-entry-malformed",
    /// A log entry's inclusion proof is missing or does not lead to its checkpoint's root.
    TlogInclusionProofInvalid = "tlog-inclusion-proof-invalid",
    /// A checkpoint is malformed or not signed by the log's key.
    TlogCheckpointInvalid = "tlog-checkpoint-invalid",
    /// A signed entry timestamp (SET) does not verify with the log's key.
    TlogSetInvalid = "tlog-set-invalid",
    /// An RFC 3161 timestamp does not verify.
    TimestampInvalid = "timestamp-invalid",
    /// No verified signing time: no SET-backed log time and no valid timestamp.
    SigningTimeUnverified = "signing-time-unverified",
    /// The signature is valid but for another artifact (subject or message digest).
    ArtifactMismatch = "artifact-mismatch",
    /// A store item is not a readable bundle: not a regular file or blob, too large, beyond the
    /// per-commit limits, unreadable, or not matching its name.
    StoreItemInvalid = "store-item-invalid",
    /// The statement's JSON holds the same key twice in one object (anywhere in the payload).
    StatementDuplicateKey = "statement-duplicate-key",
    /// A time in the statement is not an RFC 3339 time within the representable range.
    StatementTimeInvalid = "statement-time-invalid",
    /// A check's test counts do not add up (passed + failed + skipped must equal total).
    TestCountsInconsistent = "test-counts-inconsistent",
    /// A coverage figure claims more covered items than its total.
    CoverageCountsInconsistent = "coverage-counts-inconsistent",
    /// A coverage percentage differs from covered / total beyond rounding.
    CoveragePercentInconsistent = "coverage-percent-inconsistent",
    /// Two checks of the statement share one name.
    CheckNameDuplicate = "check-name-duplicate",
    /// A policy `[[rule]]` (a CEL expression over the statement) is false.
    RuleFailed = "rule-failed",
    /// A policy `[[rule]]` could not be evaluated on the statement (a field it lacks, a type
    /// error) or did not give a bool; an error is never a pass.
    RuleError = "rule-error",
    /// Fewer distinct verified signers than `[require] signers` have a passing bundle for the
    /// commit.
    SignersThresholdNotMet = "signers-threshold-not-met",
    /// An independent re-run of the commit (`ci-attest reproduce`) got another figure than the
    /// attestation claims.
    ReproductionMismatch = "reproduction-mismatch",
    /// A verdict (SLSA VSA) is signed by a signer and `verifier.id` pair the policy's
    /// `[[verifier]]` list does not name.
    VerifierUntrusted = "verifier-untrusted",
    /// The newest trusted verdict for the commit says `FAILED`.
    VerdictFailed = "verdict-failed",
    /// The trusted verdict applied another policy than the `[[verifier]] policy_sha256` requires.
    VerdictPolicyMismatch = "verdict-policy-mismatch",
    /// An auditor's package (`audit --export`) does not match its manifest: a file changed, added,
    /// removed or not a regular file, or a commit object that does not hash to its id.
    PackageTampered = "package-tampered",
}

impl Code {
    /// What to do about a finding of this code, when the check that raised it gives no better hint.
    pub fn default_hint(self) -> &'static str {
        match self {
            Code::BundleMalformed | Code::BundleMediaTypeUnsupported | Code::EnvelopeMalformed => {
                "the file is not a bundle ci-attest can verify; sign again with `ci-attest run`"
            }
            Code::PayloadTypeUnsupported
            | Code::StatementMalformed
            | Code::PredicateTypeUnsupported => {
                "only ci-attest local-run statements count as runs; sign again with `ci-attest run`"
            }
            Code::VerificationMaterialUnsupported => {
                "list a signer of the bundle's kind (key or keyless) in the policy"
            }
            Code::SignerUntrusted => {
                "add the signer to the policy's [[signer]] list if you trust it"
            }
            Code::SignatureInvalid | Code::TlogEntryMismatch | Code::ArtifactMismatch => {
                "the bundle was altered or belongs to something else: do not trust it"
            }
            Code::SubjectCommitMismatch | Code::SubjectDigestMismatch | Code::NoAttestation => {
                "run `ci-attest run` on this commit, then verify again"
            }
            Code::RepositoryMismatch => {
                "attestations count only for the repository the policy names"
            }
            Code::CheckSkipped => "nothing to do: the report records that this step did not apply",
            Code::CheckMissing | Code::MetricMissing => {
                "configure the check (and its report) in .ci-attest.toml, or change the policy"
            }
            Code::ThresholdNotMet | Code::CheckFailed => {
                "fix the code so the check meets the policy, commit, and run `ci-attest run` again"
            }
            Code::AttestationTooOld => "run `ci-attest run` again on this commit",
            Code::AttestationFromFuture => "check the signer's clock and the verifier's `--at`",
            Code::CheckoutNotPristine => {
                "run `ci-attest run`, which always uses a pristine worktree"
            }
            Code::IsolationNotMet => {
                "re-run `ci-attest run` without --no-sandbox on a machine where bubblewrap works"
            }
            Code::ConfigNotFromCommit => {
                "commit the configuration as .ci-attest.toml and run `ci-attest run` without --config"
            }
            Code::RunNotFromScratch => "run `ci-attest run --no-cache` on the commit",
            Code::ReproductionMismatch => {
                "re-run both (`ci-attest reproduce` and `ci-attest run`) and ask the signer why the figures differ"
            }
            Code::CertificateInvalid
            | Code::CertificateSctInvalid
            | Code::TlogLogUntrusted
            | Code::TlogInclusionProofInvalid
            | Code::TlogCheckpointInvalid
            | Code::TlogSetInvalid
            | Code::TimestampInvalid
            | Code::SigningTimeUnverified
            | Code::TlogEntryMalformed => {
                "check that --trusted-root is the root of the sigstore instance that signed; otherwise do not trust the bundle"
            }
            Code::IdentityMismatch => {
                "the bundle was signed by another identity; add it to the policy only if you trust it"
            }
            Code::TlogEntryMissing => {
                "sign keylessly (`ci-attest run --keyless`) so the bundle is logged"
            }
            Code::StoreItemInvalid => {
                "remove the item from the store; the other bundles of the commit were judged without it"
            }
            Code::StatementDuplicateKey
            | Code::StatementTimeInvalid
            | Code::TestCountsInconsistent
            | Code::CoverageCountsInconsistent
            | Code::CoveragePercentInconsistent
            | Code::CheckNameDuplicate => {
                "ci-attest never writes such a statement: the signer's tool or key is not to be trusted"
            }
            Code::PackageTampered => {
                "ask whoever exported the package for a fresh copy (`ci-attest audit --export`); do not trust this one"
            }
            Code::RuleFailed => {
                "fix what the rule checks and run `ci-attest run` again, or change the rule"
            }
            Code::RuleError => {
                "make the rule guard what a statement may lack (`has(...)`, `\"name\" in checks`), or fix the rule"
            }
            Code::SignersThresholdNotMet => {
                "have more of the trusted signers run `ci-attest run` on this commit, each with their own key or identity"
            }
            Code::VerifierUntrusted => {
                "add a `[[verifier]]` entry (signer and id) to the policy only if you trust that verifier"
            }
            Code::VerdictFailed => {
                "the verifier rejected the commit: see its local-run bundles with `ci-attest verify`"
            }
            Code::VerdictPolicyMismatch => {
                "verify the commit again under the required policy with `ci-attest verify --attest-verdict`"
            }
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// How much a finding weighs in the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Recorded for the reader; does not change the verdict.
    Info,
    /// Rejects the attestation.
    Error,
}

/// Where a requirement came from: a position in a policy file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Origin {
    /// The policy file as the user named it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One thing verification or policy evaluation found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The stable code.
    pub code: Code,
    /// Whether it rejects.
    pub severity: Severity,
    /// One line saying what happened.
    pub message: String,
    /// What was required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    /// Where the requirement came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Finding {
    /// A rejecting finding, with the code's default hint (replace it with [`Finding::hint`]).
    pub fn error(code: Code, message: impl Into<String>) -> Finding {
        Finding {
            code,
            severity: Severity::Error,
            message: message.into(),
            expected: None,
            found: None,
            origin: None,
            hint: Some(code.default_hint().to_string()),
        }
    }

    /// A finding recorded for information only.
    pub fn info(code: Code, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Info,
            ..Finding::error(code, message)
        }
    }

    /// Sets what was expected and what was found.
    pub fn expected_found(
        mut self,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Finding {
        self.expected = Some(expected.into());
        self.found = Some(found.into());
        self
    }

    /// Sets where the requirement came from.
    pub fn origin(mut self, origin: Option<Origin>) -> Finding {
        self.origin = origin;
        self
    }

    /// Sets the hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Finding {
        self.hint = Some(hint.into());
        self
    }

    /// True when this finding rejects.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Caps unsigned text quoted in a finding (a statement's or bundle's own words) at 200
/// characters, marking the cut with `…`.
pub fn clip(s: &str) -> String {
    if s.chars().count() <= 200 {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(200).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case_and_described() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "duplicate code {name}");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{name} is not kebab-case"
            );
            assert!(!code.description().is_empty(), "{name} has no description");
            assert!(!code.default_hint().is_empty(), "{name} has no hint");
        }
    }
}
