//! Policy files (`policies/*.toml`): trusted signers, required checks and thresholds.
//!
//! A policy is what the verifier judges a verified local-run statement against: which signers are
//! trusted (by public key file or key fingerprint), which checks must be present, how old an
//! attestation may be, whether the checkout must have been pristine, which repository it must be
//! for, and threshold bounds on the checks' metrics (`tests.failed <= 0`, `coverage.lines >= 85`).
//!
//! Loading ([`Policy::load`], [`Policy::parse`]) is strict: every unknown key, malformed value or
//! inconsistent rule is a [`PolicyError`] carrying the policy file's `line:column`, because a security
//! policy that silently ignores a misspelt rule is a hole. Evaluation ([`evaluate`]) never stops at the
//! first problem: it returns every [`Finding`](crate::finding::Finding), each pointing back at the
//! policy line that required it. `[[rule]]` entries add CEL expressions over the statement
//! ([`Rule`]). The file format is documented in `docs/policy.md`.

mod evaluate;
mod file;
mod rules;

pub(crate) use evaluate::normalise_repository;
pub use evaluate::{CLOCK_SKEW, evaluate};
pub use file::{MAX_KEY_FILE_SIZE, MAX_POLICY_SIZE};
pub use rules::{MAX_RULE_EXPR_CHARS, MAX_RULES, Rule, VARIABLES};

use crate::finding::Origin;
use crate::statement::IsolationMode;
use std::time::Duration;

/// The only policy format version this build understands.
pub const POLICY_VERSION: i64 = 1;

/// A loaded, validated policy.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Policy {
    /// The policy file as the user named it (the `file` of every [`Origin`]).
    pub file: String,
    /// The trusted signers, in file order; never empty.
    pub signers: Vec<Signer>,
    /// What the statement must contain.
    pub require: Require,
    /// Threshold bounds on check metrics, in file order.
    pub thresholds: Vec<Threshold>,
    /// `[[rule]]` CEL expressions, in file order (each compiled and checked when loaded).
    pub rules: Vec<Rule>,
    /// How `ci-attest reproduce` compares a re-run with the attestation.
    pub reproduce: Reproduce,
    /// Trusted verifiers of `verify --verdict`: (signer, `verifier.id`) pairs, in file order.
    pub verifiers: Vec<TrustedVerifier>,
    /// Lowercase hex sha256 of the policy text as loaded (a VSA records it as `policy.digest`).
    pub sha256: String,
}

/// The `[reproduce]` table: how close a re-run must come to the attested figures.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Reproduce {
    /// Largest accepted difference of a coverage percentage, in percentage points (default 0).
    pub coverage_tolerance: Option<(f64, Origin)>,
}

/// A `[[verifier]]` entry: a verdict (SLSA VSA) counts only when signed by `signer` and naming
/// `id` as its `verifier.id`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrustedVerifier {
    /// The name of the `[[signer]]` whose signature a verdict must carry.
    pub signer: String,
    /// The `verifier.id` the verdict must name, compared exactly.
    pub id: String,
    /// When given, the sha256 (lowercase hex) of the policy file the verdict must have applied.
    pub policy_sha256: Option<String>,
    /// Where the entry is.
    pub origin: Origin,
}

impl Policy {
    /// The trusted signer whose key has this fingerprint (`sha256:<lowercase hex>`; the comparison
    /// ignores the case of the hex digits).
    pub fn signer_by_fingerprint(&self, fingerprint: &str) -> Option<&Signer> {
        self.signers.iter().find(|s| {
            s.fingerprint()
                .is_some_and(|f| f.eq_ignore_ascii_case(fingerprint))
        })
    }

    /// The trusted signer with this name.
    pub fn signer_by_name(&self, name: &str) -> Option<&Signer> {
        self.signers.iter().find(|s| s.name == name)
    }
}

/// A signer the policy trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Signer {
    /// The signer's unique name in the policy (shown in reports).
    pub name: String,
    /// How the signer is recognised.
    pub identity: SignerIdentity,
    /// Where the signer is declared (its `name` key).
    pub origin: Origin,
}

impl Signer {
    /// The key fingerprint (`sha256:<lowercase hex>` of the SPKI DER), for key signers.
    pub fn fingerprint(&self) -> Option<&str> {
        match &self.identity {
            SignerIdentity::Key { fingerprint, .. } => Some(fingerprint),
            SignerIdentity::Keyless { .. } => None,
        }
    }

    /// The public key as SubjectPublicKeyInfo PEM, when the policy gave it as a key file.
    pub fn public_key_pem(&self) -> Option<&str> {
        match &self.identity {
            SignerIdentity::Key { public_key_pem, .. } => public_key_pem.as_deref(),
            SignerIdentity::Keyless { .. } => None,
        }
    }
}

/// How a trusted signer is recognised.
///
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignerIdentity {
    /// A P-256 public key.
    Key {
        /// `sha256:<lowercase hex>` of the key's SubjectPublicKeyInfo DER.
        fingerprint: String,
        /// The key as SubjectPublicKeyInfo PEM, when given by `key = "<file>"`; `None` when the
        /// policy gives only a `fingerprint`.
        public_key_pem: Option<String>,
    },
    /// A keyless (Fulcio certificate) identity: the OIDC issuer, exactly, and the certificate's SAN.
    Keyless {
        /// The OIDC issuer URL, compared exactly.
        issuer: String,
        /// The SAN, exactly or by a regex that is always anchored at both ends.
        identity: KeylessIdentity,
    },
}

/// How a keyless signer's certificate SAN is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeylessIdentity {
    /// The SAN equals this string.
    Exact(String),
    /// The SAN matches this regex, anchored as `^(?:...)$` (checked to compile when the policy loads).
    Regex(String),
}

/// The `[require]` table: what the statement must contain.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Require {
    /// Checks that must be present (and must not have failed), each with its position in the file.
    pub checks: Vec<(String, Origin)>,
    /// The oldest a statement (`finishedOn`) may be at verification time, inclusive.
    pub max_age: Option<(Duration, Origin)>,
    /// When `Some(true)`, the checks must have run on a pristine checkout.
    pub pristine: Option<(bool, Origin)>,
    /// The repository URI the statement must name (compared normalised).
    pub repository: Option<(String, Origin)>,
    /// When `Some(true)`, the bundle must carry a transparency-log entry that verifies.
    pub tlog: Option<(bool, Origin)>,
    /// When set, the predicate's `isolation.mode` must be this mode (the only value a policy can
    /// give is [`IsolationMode::Sandbox`]); a bundle without an isolation record does not meet it.
    pub isolation: Option<(IsolationMode, Origin)>,
    /// When `Some(true)`, the checks must have been decided by the commit's own `.ci-attest.toml`
    /// (`config.source = commit`), not by `run --config`; a bundle without a config record does not
    /// meet it.
    pub config_from_commit: Option<(bool, Origin)>,
    /// When `Some(true)`, no `[[cache]]` folder may have held an earlier run's files (the run was
    /// made from scratch, e.g. with `run --no-cache`).
    pub from_scratch: Option<(bool, Origin)>,
    /// `signers = k`: at least k distinct verified identities (key fingerprints, or keyless
    /// issuer + SAN) must each have a passing bundle for the commit. `None`: the newest bundle
    /// decides, whoever signed it.
    pub signers: Option<(usize, Origin)>,
    /// Which of a commit's trusted, verified, in-time bundles are judged.
    pub select: Option<(Select, Origin)>,
}

impl Require {
    /// The selection rule (`newest` when the policy does not say).
    pub fn selection(&self) -> Select {
        self.select.as_ref().map_or(Select::Newest, |(s, _)| *s)
    }
}

/// `[require] select`: which of a commit's bundles must pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Select {
    /// The newest bundle decides (per signer, when `signers` is set).
    #[default]
    Newest,
    /// Every trusted, verified bundle signed no later than the verification time must pass: a
    /// signer cannot hide a failing run by signing a newer passing one.
    All,
}

impl Select {
    /// The name policies use.
    pub fn as_str(self) -> &'static str {
        match self {
            Select::Newest => "newest",
            Select::All => "all",
        }
    }
}

/// A bound on one metric of one check: `min <= value <= max`, both inclusive.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Threshold {
    /// The check's name.
    pub check: String,
    /// The metric's name, one of [`crate::statement::METRICS`].
    pub metric: String,
    /// The smallest allowed value, inclusive.
    pub min: Option<f64>,
    /// The largest allowed value, inclusive.
    pub max: Option<f64>,
    /// Where the threshold's key is in the policy file.
    pub origin: Origin,
}

impl Threshold {
    /// The threshold's key as written in policies: `<check>.<metric>`.
    pub fn key(&self) -> String {
        format!("{}.{}", self.check, self.metric)
    }

    /// True when `value` is within the bounds (a NaN never is).
    pub fn admits(&self, value: f64) -> bool {
        !value.is_nan()
            && self.min.is_none_or(|min| value >= min)
            && self.max.is_none_or(|max| value <= max)
    }
}

/// A policy file that could not be loaded: `file:line:column: message`.
///
/// Shown as `file:line:column: message`, or `file: message` when the error is about the file as a
/// whole (it cannot be read, is too large or is not UTF-8: `line` and `column` are then 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", position(*line, *column))]
#[non_exhaustive]
pub struct PolicyError {
    /// The policy file as the user named it.
    pub file: String,
    /// 1-based line of the offending text; 0 for the file as a whole.
    pub line: usize,
    /// 1-based column (in characters) of the offending text; 0 for the file as a whole.
    pub column: usize,
    /// What was wrong: what was expected and what was found.
    pub message: String,
}

/// `:line:column`, or nothing for an error about the whole file.
fn position(line: usize, column: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}:{column}")
    }
}

impl PolicyError {
    /// The error's position as an [`Origin`].
    pub fn origin(&self) -> Origin {
        Origin {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support;
