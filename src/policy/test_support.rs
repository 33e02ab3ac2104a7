//! Builders shared by the policy tests: policies from TOML text, statements, key files.

use super::Policy;
use crate::collect::{LintCounts, TestCounts};
use crate::statement::{
    CheckKind, CheckRecord, Coverage, CoverageRecord, Host, LocalRunPredicate, LocalRunStatement,
    Outcome, PREDICATE_TYPE, Repository, STATEMENT_TYPE, Source, Statement, Tool,
};
use crate::verify::{TimeSource, VerifiedSigner, VerifiedStatement};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{EncodePublicKey, LineEnding};
use std::path::Path;
use std::time::SystemTime;

/// A well-formed fingerprint, for policies that need a signer but no key file.
pub const FP: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// The statement's `finishedOn`.
pub const FINISHED: &str = "2026-11-01T12:00:00Z";

/// The signer table [`policy`] starts with (four lines, the last one empty).
pub const SIGNER_TOML: &str = "[[signer]]\nname = \"alice\"\nfingerprint = \"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n\n";

/// Parses policy text as `policy.toml` in the current directory.
pub fn parse(text: &str) -> Result<Policy, super::PolicyError> {
    Policy::parse(text, "policy.toml", Path::new("."))
}

/// A policy with one fingerprint signer and `rest` appended.
pub fn policy(rest: &str) -> Policy {
    let text = format!("[[signer]]\nname = \"alice\"\nfingerprint = \"{FP}\"\n\n{rest}");
    match parse(&text) {
        Ok(p) => p,
        Err(e) => panic!("test policy does not load: {e}\n{text}"),
    }
}

/// A time in RFC 3339.
pub fn at(s: &str) -> SystemTime {
    humantime::parse_rfc3339(s).expect("test time parses")
}

/// A check record with no metrics beyond exit code and duration.
pub fn check(name: &str, kind: CheckKind) -> CheckRecord {
    CheckRecord {
        name: name.into(),
        kind,
        command: "true".into(),
        exit_code: Some(0),
        duration_ms: 1000,
        result: Outcome::Passed,
        tests: None,
        coverage: None,
        lint: None,
        failed_tests: vec![],
        failed_tests_omitted: 0,
        network: None,
        reports: vec![],
        log: None,
        problems: vec![],
    }
}

/// A tests check with these counts.
pub fn tests_check(passed: u64, failed: u64, skipped: u64) -> CheckRecord {
    CheckRecord {
        tests: Some(TestCounts::new(
            passed + failed + skipped,
            passed,
            failed,
            skipped,
        )),
        result: if failed > 0 {
            Outcome::Failed
        } else {
            Outcome::Passed
        },
        ..check("tests", CheckKind::Tests)
    }
}

/// A coverage check with `covered` of `total` lines covered.
pub fn coverage_check(covered: u64, total: u64) -> CheckRecord {
    CheckRecord {
        coverage: Some(CoverageRecord {
            lines: Some(Coverage::of(crate::statement::Ratio { covered, total })),
            branches: None,
            functions: None,
        }),
        ..check("coverage", CheckKind::Coverage)
    }
}

/// A lint check with these counts.
pub fn lint_check(errors: u64, warnings: u64) -> CheckRecord {
    CheckRecord {
        lint: Some(LintCounts {
            errors,
            warnings,
            notes: 0,
        }),
        ..check("lint", CheckKind::Lint)
    }
}

/// A predicate for a pristine run of `https://github.com/acme/app` finished at [`FINISHED`].
pub fn predicate(checks: Vec<CheckRecord>) -> LocalRunPredicate {
    LocalRunPredicate {
        tool: Tool {
            name: "ci-attest".into(),
            version: "0.1.0".into(),
        },
        host: Host {
            os: "linux".into(),
            arch: "x86_64".into(),
            toolchains: Default::default(),
        },
        started_on: "2026-11-01T11:58:00Z".into(),
        finished_on: FINISHED.into(),
        source: Source {
            commit: "0".repeat(40),
            tree: "1".repeat(40),
            git_ref: Some("refs/heads/main".into()),
            pristine: true,
            uncommitted_changes_ignored: false,
        },
        repository: Repository {
            uri: Some("https://github.com/acme/app".into()),
            forge_id: None,
        },
        result: checks
            .iter()
            .fold(Outcome::Passed, |acc, c| acc.worst(c.result)),
        checks,
        isolation: None,
        config: None,
        caches: Vec::new(),
    }
}

/// Wraps a predicate as a verified statement signed by `alice`'s key, whose signing time is its
/// `finishedOn` (the signer's claim, as for a key-only bundle).
pub fn verified(predicate: LocalRunPredicate) -> VerifiedStatement {
    let t = at(&predicate.finished_on);
    verified_at(predicate, t, TimeSource::SignerClaim, 0)
}

/// Wraps a predicate as a verified statement with this signing time and number of log entries.
pub fn verified_at(
    predicate: LocalRunPredicate,
    signed_at: SystemTime,
    source: TimeSource,
    log_entries: usize,
) -> VerifiedStatement {
    let statement: LocalRunStatement = Statement {
        statement_type: STATEMENT_TYPE.into(),
        subject: vec![],
        predicate_type: PREDICATE_TYPE.into(),
        predicate,
    };
    let signer = VerifiedSigner::Key {
        name: "alice".into(),
        fingerprint: FP.into(),
    };
    VerifiedStatement::new(statement, signer, (signed_at, source), log_entries)
}

/// A fresh P-256 public key as SubjectPublicKeyInfo PEM, with its SPKI DER.
pub fn public_key_pem() -> (String, Vec<u8>) {
    let secret = p256::SecretKey::try_generate().expect("system RNG works");
    let public = secret.public_key();
    let pem = public
        .to_public_key_pem(LineEnding::LF)
        .expect("key encodes");
    let der = public.to_public_key_der().expect("key encodes");
    (pem, der.as_bytes().to_vec())
}
