//! Reproduction: an independent re-run of an attested commit, compared figure by figure with what
//! the attestation claims, and a deterministic sample of commits for ongoing spot checks.
//!
//! A signature proves who claims the results, not that the tests ran. [`compare`] puts an attested
//! predicate beside one re-run from the same commit and configuration and yields a
//! [`Code::ReproductionMismatch`] finding for every figure that differs: each check's result, its
//! test counts (total, passed, failed, skipped) and failing test names, its coverage (within a
//! tolerance in percentage points, because coverage tools can vary by a line with timing), and its
//! lint counts. Durations, times, hosts and log digests are expected to differ and are not compared.
//!
//! [`sample`] picks a share of a range's commits from the commit ids and a seed: the same seed picks
//! the same commits, and a seed drawn at run time (and recorded) means a signer cannot predict which
//! commits will be re-run.

use crate::finding::{Code, Finding, Origin};
use crate::git::CommitId;
use crate::statement::{CheckRecord, Coverage, LocalRunPredicate, Outcome};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// The coverage tolerance when the policy sets none: percentage points either way.
pub const DEFAULT_COVERAGE_TOLERANCE: f64 = 0.0;

/// How close a reproduction must come to the attestation.
#[derive(Debug, Clone, PartialEq)]
pub struct Tolerance {
    /// Largest accepted difference of a coverage percentage, in percentage points.
    pub coverage_points: f64,
    /// Where the tolerance was set (`[reproduce] coverage_tolerance` in the policy).
    pub origin: Option<Origin>,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            coverage_points: DEFAULT_COVERAGE_TOLERANCE,
            origin: None,
        }
    }
}

/// Compares an attested run with its reproduction; one finding per figure that differs (empty
/// when they agree). `expected` is always the attested figure, `found` the reproduced one.
pub fn compare(
    attested: &LocalRunPredicate,
    reproduced: &LocalRunPredicate,
    tolerance: &Tolerance,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if attested.source.commit != reproduced.source.commit {
        out.push(mismatch(
            "the reproduction ran another commit",
            "source.commit",
            &attested.source.commit,
            &reproduced.source.commit,
        ));
    }
    for a in &attested.checks {
        match reproduced.checks.iter().find(|r| r.name == a.name) {
            Some(r) => check(a, r, tolerance, &mut out),
            None => out.push(mismatch(
                format!(
                    "check {} is attested but did not run in the reproduction",
                    a.name
                ),
                &a.name,
                "the check",
                "no such check",
            )),
        }
    }
    for r in &reproduced.checks {
        if !attested.checks.iter().any(|a| a.name == r.name) {
            out.push(mismatch(
                format!(
                    "check {} ran in the reproduction but the attestation does not list it",
                    r.name
                ),
                &r.name,
                "no such check",
                "the check",
            ));
        }
    }
    if out.is_empty() && attested.result != reproduced.result {
        out.push(mismatch(
            "the run's overall result differs",
            "result",
            outcome(attested.result),
            outcome(reproduced.result),
        ));
    }
    out
}

fn check(a: &CheckRecord, r: &CheckRecord, tolerance: &Tolerance, out: &mut Vec<Finding>) {
    let name = &a.name;
    if a.result != r.result {
        out.push(mismatch(
            format!("check {name}'s result differs"),
            format!("{name}.result"),
            outcome(a.result),
            outcome(r.result),
        ));
    }
    if a.exit_code != r.exit_code {
        out.push(mismatch(
            format!("check {name}'s exit code differs"),
            format!("{name}.exit_code"),
            code_text(a.exit_code),
            code_text(r.exit_code),
        ));
    }
    match (&a.tests, &r.tests) {
        (Some(at), Some(rt)) => {
            counts(
                name,
                "tests",
                &[
                    ("total", at.total, rt.total),
                    ("passed", at.passed, rt.passed),
                    ("failed", at.failed, rt.failed),
                    ("skipped", at.skipped, rt.skipped),
                ],
                out,
            );
            failing_names(a, r, out);
        }
        (None, None) => {}
        (x, y) => out.push(presence(name, "tests", x.is_some(), y.is_some())),
    }
    match (&a.coverage, &r.coverage) {
        (Some(ac), Some(rc)) => {
            for (metric, x, y) in [
                ("lines", ac.lines, rc.lines),
                ("branches", ac.branches, rc.branches),
                ("functions", ac.functions, rc.functions),
            ] {
                coverage(name, metric, x, y, tolerance, out);
            }
        }
        (None, None) => {}
        (x, y) => out.push(presence(name, "coverage", x.is_some(), y.is_some())),
    }
    match (&a.lint, &r.lint) {
        (Some(al), Some(rl)) => {
            counts(
                name,
                "lint",
                &[
                    ("errors", al.errors, rl.errors),
                    ("warnings", al.warnings, rl.warnings),
                    ("notes", al.notes, rl.notes),
                ],
                out,
            );
        }
        (None, None) => {}
        (x, y) => out.push(presence(name, "lint", x.is_some(), y.is_some())),
    }
}

/// Counts that must be equal: `(metric, attested, reproduced)` of one group (`tests`, `lint`).
fn counts(name: &str, group: &str, figures: &[(&str, u64, u64)], out: &mut Vec<Finding>) {
    for (metric, x, y) in figures {
        if x != y {
            out.push(mismatch(
                format!("check {name}: {group} {metric} differ"),
                format!("{name}.{group}.{metric}"),
                x.to_string(),
                y.to_string(),
            ));
        }
    }
}

/// The failing test names, compared as sets when both lists are complete.
fn failing_names(a: &CheckRecord, r: &CheckRecord, out: &mut Vec<Finding>) {
    let name = &a.name;
    let ids = |c: &CheckRecord| {
        c.failed_tests
            .iter()
            .map(|t| t.id())
            .collect::<BTreeSet<_>>()
    };
    let (x, y) = (ids(a), ids(r));
    // A list cut at MAX_FAILED_TESTS names only some: only names missing from a complete list count.
    let only_attested: Vec<&String> = if r.failed_tests_omitted == 0 {
        x.difference(&y).collect()
    } else {
        Vec::new()
    };
    let only_reproduced: Vec<&String> = if a.failed_tests_omitted == 0 {
        y.difference(&x).collect()
    } else {
        Vec::new()
    };
    if !only_attested.is_empty() || !only_reproduced.is_empty() {
        let list = |v: &[&String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            }
        };
        out.push(mismatch(
            format!("check {name}: the failing tests differ"),
            format!("{name}.failed_tests"),
            format!("failing only as attested: {}", list(&only_attested)),
            format!(
                "failing only in the reproduction: {}",
                list(&only_reproduced)
            ),
        ));
    }
}

fn coverage(
    name: &str,
    metric: &str,
    attested: Option<Coverage>,
    reproduced: Option<Coverage>,
    tolerance: &Tolerance,
    out: &mut Vec<Finding>,
) {
    let shown = |c: &Coverage| match c.percent {
        Some(p) => format!("{p:.2} % ({} of {})", c.covered, c.total),
        None => format!("{} of {}", c.covered, c.total),
    };
    match (attested, reproduced) {
        (Some(a), Some(r)) => {
            let differ = match (a.percent, r.percent) {
                (Some(x), Some(y)) => (x - y).abs() > tolerance.coverage_points + 1e-9,
                (x, y) => x.is_some() != y.is_some(),
            };
            if differ {
                out.push(
                    mismatch(
                        format!(
                            "check {name}: {metric} coverage differs by more than {} percentage points",
                            tolerance.coverage_points
                        ),
                        format!("{name}.coverage.{metric}"),
                        shown(&a),
                        shown(&r),
                    )
                    .origin(tolerance.origin.clone()),
                );
            }
        }
        (None, None) => {}
        (a, r) => out.push(presence(
            name,
            &format!("coverage.{metric}"),
            a.is_some(),
            r.is_some(),
        )),
    }
}

fn presence(name: &str, what: &str, attested: bool, reproduced: bool) -> Finding {
    let has = |b: bool| if b { "present" } else { "absent" };
    mismatch(
        format!("check {name}: {what} figures are in one run only"),
        format!("{name}.{what}"),
        has(attested),
        has(reproduced),
    )
}

fn mismatch(
    message: impl Into<String>,
    figure: impl AsRef<str>,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> Finding {
    Finding::error(
        Code::ReproductionMismatch,
        format!("{} [{}]", message.into(), figure.as_ref()),
    )
    .expected_found(
        format!("as attested: {}", expected.into()),
        format!("reproduced: {}", found.into()),
    )
    .hint(
        "a re-run of the same commit and configuration got another figure: a flaky check, a machine-dependent one, or a claim that does not hold; re-run both and ask the signer",
    )
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "PASSED",
        Outcome::Warned => "WARNED",
        Outcome::Failed => "FAILED",
    }
}

fn code_text(c: Option<i32>) -> String {
    c.map_or_else(|| "none (killed or not started)".into(), |c| c.to_string())
}

/// The schema URI of the reproduction report.
pub const REPRODUCTION_SCHEMA: &str = "https://ci-attest.dev/reproduction-report/v1";

/// How one commit's reproduction came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Agreement {
    /// Every compared figure is the same (coverage within the tolerance).
    Agrees,
    /// At least one figure differs: see the findings.
    Differs,
    /// No trusted attestation to compare with, or the checks could not be re-run.
    NotReproduced,
}

/// One commit's reproduction.
#[derive(Debug, Clone, Serialize)]
pub struct CommitReproduction {
    /// The commit.
    pub commit: String,
    /// The outcome.
    pub agreement: Agreement,
    /// The attestation compared with (store location), if any.
    pub bundle: Option<String>,
    /// Who signed it.
    pub signer: Option<String>,
    /// The reproduction's own log folder.
    pub logs: Option<String>,
    /// Each figure that differs, or why there was nothing to compare.
    pub findings: Vec<Finding>,
}

/// The sample a reproduction (or an audit) drew.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SampleRecord {
    /// The share, in percent.
    pub percent: f64,
    /// The seed, hex: pass it as `--seed` to draw the same commits.
    pub seed: String,
    /// How many commits the range holds.
    pub of: usize,
}

/// Every reproduction of a `reproduce` command.
#[derive(Debug, Clone, Serialize)]
pub struct ReproductionReport {
    /// [`REPRODUCTION_SCHEMA`].
    pub schema: &'static str,
    /// The policy that named the trusted signers and the tolerance.
    pub policy: String,
    /// The verification time used to select the attestations (RFC 3339).
    pub at: String,
    /// The sample, when one was drawn.
    pub sample: Option<SampleRecord>,
    /// Commits that agree.
    pub agreed: usize,
    /// Commits that do not (or could not be reproduced).
    pub disagreed: usize,
    /// Per commit, in range order.
    pub commits: Vec<CommitReproduction>,
}

impl ReproductionReport {
    /// Builds the report and its counts.
    pub fn new(
        policy: String,
        at: String,
        sample: Option<SampleRecord>,
        commits: Vec<CommitReproduction>,
    ) -> ReproductionReport {
        let agreed = commits
            .iter()
            .filter(|c| c.agreement == Agreement::Agrees)
            .count();
        ReproductionReport {
            schema: REPRODUCTION_SCHEMA,
            policy,
            at,
            sample,
            agreed,
            disagreed: commits.len() - agreed,
            commits,
        }
    }

    /// Sorted, pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).expect("report types always serialise");
        let mut s = serde_json::to_string_pretty(&value).expect("a Value always serialises");
        s.push('\n');
        s
    }

    /// For a person at a terminal: every string from a bundle is cleaned.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let c = |s: &str| crate::report::clean(s, 400);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "ci-attest reproduce: {} of {} commit(s) agree with their attestation",
            self.agreed,
            self.commits.len()
        );
        if let Some(sample) = &self.sample {
            let _ = writeln!(
                s,
                "  sample  {} % of {} commit(s), seed {} (pass --seed to draw the same commits)",
                sample.percent, sample.of, sample.seed
            );
        }
        for r in &self.commits {
            let verdict = match r.agreement {
                Agreement::Agrees => "AGREES",
                Agreement::Differs => "DIFFERS",
                Agreement::NotReproduced => "NOT REPRODUCED",
            };
            let _ = writeln!(s, "\n  commit  {}  {verdict}", r.commit);
            if let Some(b) = &r.bundle {
                let _ = writeln!(s, "          attested in {}", c(b));
            }
            if let Some(signer) = &r.signer {
                let _ = writeln!(s, "          signed by {}", c(signer));
            }
            if let Some(l) = &r.logs {
                let _ = writeln!(s, "          logs {}", c(l));
            }
            for f in &r.findings {
                let _ = writeln!(s, "    ✗ {}: {}", f.code, c(&f.message));
                if let Some(e) = &f.expected {
                    let _ = writeln!(s, "        expected: {}", c(e));
                }
                if let Some(x) = &f.found {
                    let _ = writeln!(s, "        found:    {}", c(x));
                }
                if let Some(o) = &f.origin {
                    let _ = writeln!(s, "        rule:     {o}");
                }
            }
        }
        s
    }
}

/// Why a sample cannot be drawn.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum SampleError {
    /// The share is not a percentage above 0 and at most 100.
    #[error(
        "--sample: expected a percentage above 0 and at most 100 (e.g. 10 or 10%), found {0:?}"
    )]
    Share(String),
    /// The seed is not 64 hex digits.
    #[error("--seed: expected 64 hex digits (32 bytes), found {0:?}")]
    Seed(String),
}

/// A sample's share of the range, in percent (0 < p <= 100).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share(f64);

impl Share {
    /// Parses `10`, `10%` or `2.5 %`.
    pub fn parse(text: &str) -> Result<Share, SampleError> {
        let t = text.trim();
        let t = t.strip_suffix('%').unwrap_or(t).trim();
        match t.parse::<f64>() {
            Ok(p) if p.is_finite() && p > 0.0 && p <= 100.0 => Ok(Share(p)),
            _ => Err(SampleError::Share(text.to_string())),
        }
    }

    /// The percentage.
    pub fn percent(self) -> f64 {
        self.0
    }

    /// How many of `n` commits the sample holds: the share rounded up, at least one of a
    /// non-empty range.
    pub fn count(self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let k = (n as f64 * self.0 / 100.0).ceil() as usize;
        k.clamp(1, n)
    }
}

/// The seed of a sample: 32 bytes, shown as hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub [u8; 32]);

impl Seed {
    /// Parses 64 hex digits.
    pub fn parse(text: &str) -> Result<Seed, SampleError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut out)
            .map_err(|_| SampleError::Seed(text.to_string()))?;
        Ok(Seed(out))
    }

    /// The seed as 64 lowercase hex digits.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

/// The commits of a sample, in the order of `commits`: the `share.count(n)` commits whose
/// `sha256(seed || commit id)` is smallest. The same commits and seed always give the same sample;
/// without the seed the sample cannot be foreseen.
pub fn sample(commits: &[CommitId], share: Share, seed: Seed) -> Vec<CommitId> {
    let k = share.count(commits.len());
    let mut ranked: Vec<([u8; 32], usize)> = commits
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut h = Sha256::new();
            h.update(seed.0);
            h.update(c.as_str().as_bytes());
            (h.finalize().into(), i)
        })
        .collect();
    ranked.sort_unstable();
    let mut picked: Vec<usize> = ranked.into_iter().take(k).map(|(_, i)| i).collect();
    picked.sort_unstable();
    picked.into_iter().map(|i| commits[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::FailedTest;

    fn id(n: u32) -> CommitId {
        CommitId::parse(&format!("{n:040x}")).expect("valid id")
    }

    #[test]
    fn the_same_seed_picks_the_same_commits_and_another_seed_others() {
        let commits: Vec<CommitId> = (1..=200).map(id).collect();
        let share = Share::parse("10%").expect("share");
        let a = sample(&commits, share, Seed([7; 32]));
        let b = sample(&commits, share, Seed([7; 32]));
        let c = sample(&commits, share, Seed([8; 32]));
        assert_eq!(a.len(), 20);
        assert_eq!(a, b);
        assert_ne!(a, c);
        // In range order.
        let pos = |x: &CommitId| commits.iter().position(|c| c == x).expect("in range");
        assert!(a.windows(2).all(|w| pos(&w[0]) < pos(&w[1])));
    }

    #[test]
    fn a_share_rounds_up_and_takes_at_least_one() {
        let s = Share::parse("1").expect("share");
        assert_eq!(s.count(5), 1);
        assert_eq!(s.count(0), 0);
        assert_eq!(Share::parse("100").expect("share").count(7), 7);
        assert_eq!(Share::parse("34 %").expect("share").count(3), 2);
        for bad in ["0", "-1", "101", "NaN", "ten", "inf"] {
            assert!(Share::parse(bad).is_err(), "{bad}");
        }
        assert!(Seed::parse("ab").is_err());
        assert_eq!(
            Seed::parse(&"0f".repeat(32)).expect("seed").to_hex(),
            "0f".repeat(32)
        );
    }

    use crate::policy::test_support as ts;

    fn predicate(checks: Vec<CheckRecord>) -> LocalRunPredicate {
        ts::predicate(checks)
    }

    /// A tests check of `total` tests, `failing` of them failing.
    fn tests_check(total: u64, failing: &[&str]) -> CheckRecord {
        let failed = failing.len() as u64;
        let mut c = ts::tests_check(total - failed, failed, 0);
        c.failed_tests = failing
            .iter()
            .map(|n| FailedTest {
                suite: None,
                name: n.to_string(),
                error: false,
            })
            .collect();
        c
    }

    fn figures(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| {
                assert_eq!(f.code, Code::ReproductionMismatch);
                let m = &f.message;
                m[m.rfind('[').expect("figure") + 1..m.len() - 1].to_string()
            })
            .collect()
    }

    #[test]
    fn identical_runs_agree() {
        let p = predicate(vec![tests_check(10, &["a"])]);
        assert!(compare(&p, &p.clone(), &Tolerance::default()).is_empty());
    }

    #[test]
    fn a_claim_of_fewer_failures_is_a_mismatch_per_figure_and_names_the_tests() {
        let attested = predicate(vec![tests_check(10, &[])]);
        let reproduced = predicate(vec![tests_check(10, &["x", "y"])]);
        let f = compare(&attested, &reproduced, &Tolerance::default());
        assert_eq!(
            figures(&f),
            [
                "tests.result",
                "tests.tests.passed",
                "tests.tests.failed",
                "tests.failed_tests"
            ]
        );
        let failed = &f[2];
        assert_eq!(failed.expected.as_deref(), Some("as attested: 0"));
        assert_eq!(failed.found.as_deref(), Some("reproduced: 2"));
        assert!(
            f[3].found.as_deref().unwrap_or("").contains("x, y"),
            "{f:?}"
        );
    }

    #[test]
    fn coverage_within_the_tolerance_agrees_and_beyond_it_does_not() {
        let cov = |covered: u64| predicate(vec![ts::coverage_check(covered, 1000)]);
        let tol = Tolerance {
            coverage_points: 0.5,
            origin: None,
        };
        assert!(compare(&cov(900), &cov(896), &tol).is_empty());
        let f = compare(&cov(900), &cov(890), &tol);
        assert_eq!(figures(&f), ["coverage.coverage.lines"]);
        assert!(f[0].expected.as_deref().unwrap_or("").contains("90.00 %"));
        assert!(f[0].found.as_deref().unwrap_or("").contains("89.00 %"));
        assert_eq!(
            figures(&compare(&cov(900), &cov(896), &Tolerance::default())),
            ["coverage.coverage.lines"]
        );
    }

    #[test]
    fn lint_counts_and_missing_or_extra_checks_are_mismatches() {
        let lint = |errors: u64| ts::lint_check(errors, 3);
        let f = compare(
            &predicate(vec![lint(0), tests_check(1, &[])]),
            &predicate(vec![
                lint(4),
                ts::check("extra", crate::statement::CheckKind::Custom),
            ]),
            &Tolerance::default(),
        );
        assert_eq!(figures(&f), ["lint.lint.errors", "tests", "extra"]);
    }

    #[test]
    fn the_policy_sets_the_coverage_tolerance_with_its_position() {
        let p = ts::policy("[reproduce]\ncoverage_tolerance = 0.5\n");
        let (v, at) = p.reproduce.coverage_tolerance.expect("set");
        assert_eq!(v, 0.5);
        assert_eq!((at.line, at.column), (6, 22));
        let text = format!(
            "[[signer]]\nname = \"a\"\nfingerprint = \"{}\"\n[reproduce]\ncoverage_tolerance = -1\n",
            ts::FP
        );
        let e = ts::parse(&text).expect_err("negative");
        assert_eq!(e.line, 5);
        assert!(e.message.contains("from 0 to 100"), "{e}");
        let e =
            ts::parse(&text.replace("coverage_tolerance = -1", "coverage = 1")).expect_err("key");
        assert!(e.message.contains("coverage_tolerance"), "{e}");
    }
}
