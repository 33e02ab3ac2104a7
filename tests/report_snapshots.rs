//! Snapshots of the text, JSON and markdown reports for the main scenarios, built from the library
//! types with fixed commit ids, times and findings (no keys, no clock, no git), so they are
//! byte-stable. The snapshots live in `tests/snapshots/`.
//!
//! A missing or different snapshot fails `cargo test`: insta fails the assertion in every update
//! mode but `always`, and writes nothing under `CI=true` (its CI detection) or `INSTA_UPDATE=no`.
//! Locally it leaves a `.snap.new` beside the snapshot to review; accept one by renaming it (or
//! with `cargo insta review`, which is not needed to run the tests).

use ci_attest::finding::{Code, Finding, Origin};
use ci_attest::report::{
    AUDIT_SCHEMA, AuditReport, BundleReport, CheckSummary, REPORT_SCHEMA, Report, Verdict,
};
use ci_attest::statement::{CheckKind, Outcome};
use std::collections::BTreeMap;

const COMMIT: &str = "3f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
const OTHER_COMMIT: &str = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9";
const KEY: &str = "sha256:9c2b1e0d7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c";
const POLICY: &str = "policies/default.toml";
const FINISHED: &str = "2026-11-01T12:00:00Z";

/// Every string an attacker controls in a bundle, with a terminal escape, bidi override,
/// markdown and HTML in it.
const HOSTILE: &str = "\u{1b}[31mEVIL\u{1b}[0m \u{202e}exe.txt\u{202c} [click](https://evil) <img src=x> @admin #123 **bold** | `x`\nforged line";

fn origin(line: usize, column: usize) -> Option<Origin> {
    Some(Origin {
        file: POLICY.to_string(),
        line,
        column,
    })
}

fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn checks(coverage: f64) -> Vec<CheckSummary> {
    vec![
        CheckSummary {
            name: "tests".into(),
            kind: CheckKind::Tests,
            result: Outcome::Passed,
            metrics: metrics(&[("passed", 42.0), ("failed", 0.0), ("pass_rate", 100.0)]),
            failed_tests: vec![],
            failed_tests_omitted: 0,
        },
        CheckSummary {
            name: "coverage".into(),
            kind: CheckKind::Coverage,
            result: Outcome::Passed,
            metrics: metrics(&[("lines", coverage)]),
            failed_tests: vec![],
            failed_tests_omitted: 0,
        },
        CheckSummary {
            name: "lint".into(),
            kind: CheckKind::Lint,
            result: Outcome::Passed,
            metrics: metrics(&[("errors", 0.0), ("warnings", 3.0)]),
            failed_tests: vec![],
            failed_tests_omitted: 0,
        },
    ]
}

fn bundle(signer: Option<&str>, checks: Vec<CheckSummary>, findings: Vec<Finding>) -> BundleReport {
    BundleReport {
        location: format!(".ci-attest/{COMMIT}.sigstore.json"),
        signer: signer.map(str::to_string),
        key_id: Some(KEY.to_string()),
        finished_on: Some(FINISHED.to_string()),
        signed_at: signer.map(|_| FINISHED.to_string()),
        time_source: signer.map(|_| "signer-claim"),
        selected: true,
        checks,
        findings,
    }
}

fn report(verdict: Verdict, bundles: Vec<BundleReport>, findings: Vec<Finding>) -> Report {
    Report {
        schema: REPORT_SCHEMA,
        commit: COMMIT.to_string(),
        policy: POLICY.to_string(),
        verdict,
        bundles,
        findings,
    }
}

fn accepted() -> Report {
    report(
        Verdict::Accepted,
        vec![bundle(Some("alice"), checks(91.25), vec![])],
        vec![],
    )
}

fn rejected_by_threshold() -> Report {
    let threshold = Finding::error(
        Code::ThresholdNotMet,
        "coverage.lines is below the policy's minimum",
    )
    .expected_found("coverage.lines >= 85", "coverage.lines = 72.5")
    .origin(origin(12, 18))
    .hint("add tests for the uncovered lines, or lower the threshold in the policy");
    report(
        Verdict::Rejected,
        vec![bundle(Some("alice"), checks(72.5), vec![threshold.clone()])],
        vec![threshold],
    )
}

fn tampered_signature() -> Report {
    let bad = Finding::error(
        Code::SignatureInvalid,
        "the DSSE signature does not verify with the key the bundle names",
    )
    .expected_found(
        format!("a signature by {KEY}"),
        "a signature that does not verify over PAE(payloadType, payload)",
    )
    .hint("the payload or the signature was altered after signing; do not trust this bundle");
    let mut b = bundle(None, vec![], vec![bad.clone()]);
    b.finished_on = None;
    report(Verdict::Rejected, vec![b], vec![bad])
}

fn no_attestation() -> Report {
    let none = Finding::error(Code::NoAttestation, "no attestation names this commit")
        .expected_found(
            format!("a bundle whose subject is gitCommit:{COMMIT}"),
            "no bundle in .ci-attest/",
        )
        .hint("run `ci-attest run` on this commit, then verify again");
    report(Verdict::Rejected, vec![], vec![none])
}

fn hostile() -> Report {
    let found = Finding::error(
        Code::SignatureInvalid,
        "the DSSE signature does not verify with the key the bundle names",
    )
    .expected_found(format!("a signature by {KEY}"), format!("key {HOSTILE}"));
    let payload_type = Finding::error(
        Code::PayloadTypeUnsupported,
        "the envelope does not carry an in-toto statement",
    )
    .expected_found("application/vnd.in-toto+json", HOSTILE);
    let mut failing = checks(90.0);
    failing[0].name = HOSTILE.to_string();
    failing[0].result = Outcome::Failed;
    failing[0].failed_tests = vec![HOSTILE.to_string(), "a".repeat(200)];
    failing[0].failed_tests_omitted = 7;
    let b = BundleReport {
        location: HOSTILE.to_string(),
        signer: None,
        key_id: Some(HOSTILE.to_string()),
        finished_on: Some(HOSTILE.to_string()),
        signed_at: None,
        time_source: None,
        selected: true,
        checks: failing,
        findings: vec![found.clone(), payload_type.clone()],
    };
    let mut other = b.clone();
    other.selected = false;
    report(Verdict::Rejected, vec![b, other], vec![found, payload_type])
}

fn audit() -> AuditReport {
    let mut unattested = no_attestation();
    unattested.commit = OTHER_COMMIT.to_string();
    AuditReport {
        schema: AUDIT_SCHEMA,
        range: "v1.0..HEAD".into(),
        policy: POLICY.into(),
        at: "2026-11-01T13:00:00Z".into(),
        accepted: 1,
        rejected: 2,
        unattested: 1,
        commits: vec![accepted(), rejected_by_threshold(), unattested],
        sample: None,
    }
}

/// Snapshots of one report in its three forms.
fn snapshot_all(name: &str, r: &Report) {
    insta::assert_snapshot!(format!("{name}.text"), r.to_text());
    insta::assert_snapshot!(format!("{name}.json"), r.to_json());
    insta::assert_snapshot!(format!("{name}.markdown"), r.to_markdown());
}

#[test]
fn accepted_report() {
    snapshot_all("accepted", &accepted());
}

#[test]
fn report_rejected_by_a_threshold() {
    snapshot_all("rejected_threshold", &rejected_by_threshold());
}

#[test]
fn report_of_a_tampered_signature() {
    snapshot_all("tampered_signature", &tampered_signature());
}

#[test]
fn report_without_an_attestation() {
    snapshot_all("no_attestation", &no_attestation());
}

#[test]
fn audit_report() {
    let a = audit();
    insta::assert_snapshot!("audit.text", a.to_text());
    insta::assert_snapshot!("audit.json", a.to_json());
    insta::assert_snapshot!("audit.markdown", a.to_markdown());
}

#[test]
fn report_with_hostile_strings_escapes_them() {
    let r = hostile();
    snapshot_all("hostile", &r);
    // The snapshots are the record; these say what they must show.
    let text = r.to_text();
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("forged line")),
        "{text}"
    );
    let md = r.to_markdown();
    assert!(
        !md.contains("[click](https://evil)") && !md.contains("<img"),
        "{md}"
    );
    // JSON carries the strings exactly (escaped by serde, never altered).
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
    assert_eq!(json["bundles"][0]["keyId"], HOSTILE);
}
