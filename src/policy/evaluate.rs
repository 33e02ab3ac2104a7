//! Judging a verified statement against a policy.
//!
//! [`evaluate`] applies every rule and returns every finding; an empty list means the statement
//! meets the policy. A rule that cannot be evaluated (a missing check or metric, an unparsable
//! time) is a rejection, never a pass.

use super::{Policy, Threshold};
use crate::finding::{Code, Finding, clip};
use crate::statement::{CheckRecord, ConfigSource, LocalRunPredicate, METRICS, Outcome};
use crate::verify::{TimeSource, VerifiedStatement};
use std::time::{Duration, SystemTime};

/// How far in the future (relative to the verification time) a statement's `finishedOn` may be,
/// to allow for clocks that disagree: 5 minutes.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Judges `statement` against `policy` at verification time `now`.
///
/// Returns every finding, in the order: signing time (future, `max_age`; the verified time the
/// verifier attached, see [`VerifiedStatement::signed_at`]), transparency log, pristine checkout,
/// isolation, configuration source, repository, required checks (in policy order), thresholds (in
/// policy order), `[[rule]]`s (in policy order). The statement meets the policy when no finding is an error: the only
/// non-rejecting finding is the info-level `config-not-from-commit` that reports a `run --config`
/// override the policy does not forbid. Signer trust is not judged here: the verifier has already
/// matched the signer against [`Policy::signers`].
pub fn evaluate(policy: &Policy, statement: &VerifiedStatement, now: SystemTime) -> Vec<Finding> {
    let p = statement.predicate();
    let mut findings = Vec::new();
    time(policy, statement, now, &mut findings);
    tlog(policy, statement, &mut findings);
    pristine(policy, p, &mut findings);
    isolation(policy, p, &mut findings);
    config_source(policy, p, &mut findings);
    from_scratch(policy, p, &mut findings);
    repository(policy, p, &mut findings);
    required_checks(policy, p, &mut findings);
    for t in &policy.thresholds {
        threshold(t, p, &mut findings);
    }
    if !policy.rules.is_empty() {
        // One environment per statement, shared by its rules.
        let env = super::rules::Environment::of(statement);
        findings.extend(policy.rules.iter().filter_map(|r| r.judge(&env)));
    }
    findings
}

/// The signing time as findings show it: the time and where it comes from.
fn describe_signed_at(statement: &VerifiedStatement) -> String {
    let t = humantime::format_rfc3339_seconds(statement.signed_at());
    match statement.time_source() {
        TimeSource::TransparencyLog => format!("signed at {t} (transparency log time)"),
        TimeSource::Timestamp => format!("signed at {t} (RFC 3161 timestamp)"),
        TimeSource::SignerClaim => format!("finishedOn = {t} (the signer's claim)"),
    }
}

fn time(policy: &Policy, statement: &VerifiedStatement, now: SystemTime, out: &mut Vec<Finding>) {
    let max_age = policy.require.max_age.as_ref();
    let origin = max_age.map(|(_, o)| o.clone());
    let signed = statement.signed_at();
    if let Some(limit) = now.checked_add(CLOCK_SKEW) {
        if let Ok(ahead) = signed.duration_since(now) {
            if signed > limit {
                out.push(
                    Finding::error(
                        Code::AttestationFromFuture,
                        "the attestation's signing time is later than the verification time",
                    )
                    .expected_found(
                        format!(
                            "a signing time no later than {} (verification time + {} clock skew)",
                            humantime::format_rfc3339_seconds(now),
                            humantime::format_duration(CLOCK_SKEW)
                        ),
                        format!(
                            "{}, {} ahead",
                            describe_signed_at(statement),
                            humantime::format_duration(whole_seconds(ahead))
                        ),
                    )
                    .origin(origin.clone())
                    .hint(
                        "check the clocks of the machine that ran the checks and of the \
                         verifier; an attestation from the future is never accepted",
                    ),
                );
            }
        }
    }
    if let Some((max, max_origin)) = max_age {
        // A statement from (slightly) the future has age zero.
        let age = now.duration_since(signed).unwrap_or(Duration::ZERO);
        if age > *max {
            out.push(
                Finding::error(
                    Code::AttestationTooOld,
                    "the attestation is older than the policy's max_age",
                )
                .expected_found(
                    format!(
                        "signed at most {} before {}",
                        humantime::format_duration(*max),
                        humantime::format_rfc3339_seconds(now)
                    ),
                    format!(
                        "{}, {} old",
                        describe_signed_at(statement),
                        humantime::format_duration(whole_seconds(age))
                    ),
                )
                .origin(Some(max_origin.clone()))
                .hint("run `ci-attest run` again to make a fresh attestation of this commit"),
            );
        }
    }
}

/// `[require] tlog = true`: any verified log entry satisfies it, key-signed or keyless.
fn tlog(policy: &Policy, statement: &VerifiedStatement, out: &mut Vec<Finding>) {
    let Some((true, origin)) = &policy.require.tlog else {
        return;
    };
    if statement.log_entries() == 0 {
        out.push(
            Finding::error(
                Code::TlogEntryMissing,
                "the policy requires a transparency-log entry, and the bundle has none that verifies",
            )
            .expected_found("a bundle with a verified Rekor entry", "no log entry")
            .origin(Some(origin.clone()))
            .hint("sign with `ci-attest run --keyless` (which logs to Rekor), or drop `tlog = true` from the policy"),
        );
    }
}

fn pristine(policy: &Policy, p: &LocalRunPredicate, out: &mut Vec<Finding>) {
    let Some((true, origin)) = &policy.require.pristine else {
        return;
    };
    if !p.source.pristine {
        out.push(
            Finding::error(
                Code::CheckoutNotPristine,
                "the checks did not run on a pristine checkout of the commit",
            )
            .expected_found("source.pristine = true", "source.pristine = false")
            .origin(Some(origin.clone()))
            .hint(
                "run `ci-attest run`, which runs the checks in a fresh worktree of the commit, \
                 without options that reuse the working tree",
            ),
        );
    }
}

fn isolation(policy: &Policy, p: &LocalRunPredicate, out: &mut Vec<Finding>) {
    let Some((wanted, origin)) = &policy.require.isolation else {
        return;
    };
    let found = match &p.isolation {
        Some(i) if i.mode == *wanted => return,
        Some(i) => format!("isolation = {}", i.mode.as_str()),
        None => "isolation absent (bundle predates revision 2)".to_string(),
    };
    out.push(
        Finding::error(
            Code::IsolationNotMet,
            format!(
                "the checks did not run with the isolation the policy requires ({})",
                wanted.as_str()
            ),
        )
        .expected_found(format!("isolation = {}", wanted.as_str()), found)
        .origin(Some(origin.clone()))
        .hint(
            "re-run `ci-attest run` without --no-sandbox on a machine where bubblewrap works \
             (a bundle made before isolation was recorded never meets this rule)",
        ),
    );
}

fn config_source(policy: &Policy, p: &LocalRunPredicate, out: &mut Vec<Finding>) {
    let required = match &policy.require.config_from_commit {
        Some((true, origin)) => Some(origin),
        _ => None,
    };
    let expected = "config.source = commit (the commit's own .ci-attest.toml)";
    match (&p.config, required) {
        (Some(c), _) if c.source == ConfigSource::Commit => {}
        (None, None) => {}
        (None, Some(origin)) => out.push(
            Finding::error(
                Code::ConfigNotFromCommit,
                "the statement does not record which configuration decided the checks, and the \
                 policy requires the commit's own",
            )
            .expected_found(
                expected,
                "config record absent (bundle predates revision 2)",
            )
            .origin(Some(origin.clone()))
            .hint(
                "run `ci-attest run` again with this version (without `run --config`) so the \
                 bundle records the commit's .ci-attest.toml",
            ),
        ),
        (Some(c), required) => {
            let found = format!(
                "config.source = override: {} (sha256 {})",
                clip(&c.path),
                clip(&c.sha256)
            );
            let finding = match required {
                Some(origin) => Finding::error(
                    Code::ConfigNotFromCommit,
                    "the checks were decided by a `run --config` override, and the policy \
                     requires the commit's own .ci-attest.toml",
                )
                .origin(Some(origin.clone()))
                .hint(
                    "commit the configuration as .ci-attest.toml and run `ci-attest run` again \
                     without `run --config`",
                ),
                None => Finding::info(
                    Code::ConfigNotFromCommit,
                    "the checks were decided by a `run --config` override, not the commit's own \
                     .ci-attest.toml",
                )
                .origin(
                    policy
                        .require
                        .config_from_commit
                        .as_ref()
                        .map(|(_, o)| o.clone()),
                )
                .hint(
                    "review the override (the statement holds its text); set \
                     `config_from_commit = true` in the policy's [require] to reject runs made \
                     with `run --config`",
                ),
            };
            out.push(finding.expected_found(expected, found));
        }
    }
}

fn from_scratch(policy: &Policy, p: &LocalRunPredicate, out: &mut Vec<Finding>) {
    let Some((true, origin)) = &policy.require.from_scratch else {
        return;
    };
    let restored: Vec<String> = p
        .caches
        .iter()
        .filter(|c| c.restored)
        .map(|c| format!("{} (key {})", clip(&c.path), clip(&c.key)))
        .collect();
    if restored.is_empty() {
        return;
    }
    out.push(
        Finding::error(
            Code::RunNotFromScratch,
            "the checks started from files an earlier run left in a cache, and the policy \
             requires a run from scratch",
        )
        .expected_found(
            "no cache restored (a run from scratch)",
            format!("cache restored: {}", restored.join(", ")),
        )
        .origin(Some(origin.clone()))
        .hint("run `ci-attest run --no-cache` on the commit, then push and verify again"),
    );
}

fn repository(policy: &Policy, p: &LocalRunPredicate, out: &mut Vec<Finding>) {
    let Some((wanted, origin)) = &policy.require.repository else {
        return;
    };
    let found = p.repository.uri.as_deref();
    if found.is_some_and(|f| normalise_repository(f) == normalise_repository(wanted)) {
        return;
    }
    out.push(
        Finding::error(
            Code::RepositoryMismatch,
            "the statement is for another repository than the one the policy names",
        )
        .expected_found(
            format!("repository.uri = {wanted}"),
            match found {
                Some(f) => format!("repository.uri = {}", clip(f)),
                None => "no repository.uri (the repository had no remote)".to_string(),
            },
        )
        .origin(Some(origin.clone()))
        .hint(format!(
            "make the attestation in a clone of {wanted} (an attestation from a fork or mirror \
             never counts), or correct `repository` in the policy"
        )),
    );
}

fn required_checks(policy: &Policy, p: &LocalRunPredicate, out: &mut Vec<Finding>) {
    for (name, origin) in &policy.require.checks {
        let Some(check) = find_check(p, name) else {
            out.push(
                Finding::error(
                    Code::CheckMissing,
                    format!("required check `{name}` is not in the statement"),
                )
                .expected_found(format!("a check named `{name}`"), present_checks(p))
                .origin(Some(origin.clone()))
                .hint(format!(
                    "add a check named `{name}` to .ci-attest.toml and run `ci-attest run` again, \
                     or remove it from the policy's require.checks"
                )),
            );
            continue;
        };
        if check.result == Outcome::Failed {
            out.push(
                Finding::error(Code::CheckFailed, format!("required check `{name}` failed"))
                    .expected_found(
                        format!("check `{name}` PASSED or WARNED"),
                        describe_failure(check),
                    )
                    .origin(Some(origin.clone()))
                    .hint(format!(
                        "fix what made `{name}` fail (see its log), commit, and run `ci-attest \
                         run` again"
                    )),
            );
        }
    }
}

fn threshold(t: &Threshold, p: &LocalRunPredicate, out: &mut Vec<Finding>) {
    let key = t.key();
    let expected = describe_bounds(t);
    let origin = Some(t.origin.clone());
    let Some(check) = find_check(p, &t.check) else {
        out.push(
            Finding::error(
                Code::CheckMissing,
                format!(
                    "threshold `{key}` names check `{}`, which is not in the statement",
                    t.check
                ),
            )
            .expected_found(expected, present_checks(p))
            .origin(origin)
            .hint(format!(
                "add a check named `{}` to .ci-attest.toml and run `ci-attest run` again, or fix \
                 the check name in the threshold",
                t.check
            )),
        );
        return;
    };
    let Some(value) = check.metric(&t.metric) else {
        let about = METRICS
            .iter()
            .find(|(m, _)| *m == t.metric)
            .map_or("", |(_, d)| *d);
        out.push(
            Finding::error(
                Code::MetricMissing,
                format!("check `{}` has no value for metric `{}`", t.check, t.metric),
            )
            .expected_found(
                expected,
                format!(
                    "check `{}` (kind {}) without `{}`",
                    t.check,
                    check.kind.as_str(),
                    t.metric
                ),
            )
            .origin(origin)
            .hint(format!(
                "`{}` is {about}; make sure the check `{}` has that kind and its reports are \
                 configured and parsed, or fix the threshold",
                t.metric, t.check
            )),
        );
        return;
    };
    if !t.admits(value) {
        let bound = if t.min.is_some_and(|min| value.is_nan() || value < min) {
            t.min
        } else {
            t.max
        };
        out.push(
            Finding::error(
                Code::ThresholdNotMet,
                format!("threshold `{key}` is not met"),
            )
            .expected_found(expected, format!("{key} = {}", format_found(value, bound)))
            .origin(origin)
            .hint(format!(
                "improve `{key}` to within the bound and run `ci-attest run` again, or change \
                 the threshold in the policy"
            )),
        );
    }
}

fn find_check<'a>(p: &'a LocalRunPredicate, name: &str) -> Option<&'a CheckRecord> {
    p.checks.iter().find(|c| c.name == name)
}

fn present_checks(p: &LocalRunPredicate) -> String {
    if p.checks.is_empty() {
        "no checks".to_string()
    } else {
        let names: Vec<String> = p
            .checks
            .iter()
            .map(|c| format!("`{}`", clip(&c.name)))
            .collect();
        format!("checks {}", names.join(", "))
    }
}

fn describe_failure(check: &CheckRecord) -> String {
    let mut s = format!("check `{}` FAILED", check.name);
    match check.exit_code {
        Some(code) => s.push_str(&format!(", exit code {code}")),
        None => s.push_str(", no exit code (killed by a signal or not started)"),
    }
    if !check.problems.is_empty() {
        let problems: Vec<String> = check.problems.iter().map(|p| clip(p)).collect();
        s.push_str(&format!("; problems: {}", problems.join("; ")));
    }
    s
}

fn describe_bounds(t: &Threshold) -> String {
    let key = t.key();
    match (t.min, t.max) {
        (Some(lo), Some(hi)) if lo == hi => format!("{key} = {}", format_number(lo)),
        (Some(lo), Some(hi)) => format!("{} <= {key} <= {}", format_number(lo), format_number(hi)),
        (Some(lo), None) => format!("{key} >= {}", format_number(lo)),
        (None, Some(hi)) => format!("{key} <= {}", format_number(hi)),
        (None, None) => format!("{key} (any value)"),
    }
}

/// A number without noise: integers as integers, others with up to 2 decimals.
pub(crate) fn format_number(v: f64) -> String {
    format_with(v, 2)
}

fn format_with(v: f64, decimals: usize) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    if !v.is_finite() {
        return v.to_string();
    }
    let s = format!("{v:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A found value, with enough decimals that it does not print as the bound it violates
/// (84.999 against `min = 85` shows as `84.999`, not `85`).
fn format_found(v: f64, bound: Option<f64>) -> String {
    for decimals in 2..=10 {
        let s = format_with(v, decimals);
        let same_as_bound = bound.is_some_and(|b| s.parse::<f64>().is_ok_and(|x| x == b));
        if !same_as_bound {
            return s;
        }
    }
    v.to_string()
}

/// Repository URIs compared: trailing `/` and `.git` removed, scheme and host lowercased.
pub(crate) fn normalise_repository(uri: &str) -> String {
    let mut s = uri.trim().trim_end_matches('/');
    if s.len() >= 4
        && s.is_char_boundary(s.len() - 4)
        && s[s.len() - 4..].eq_ignore_ascii_case(".git")
    {
        s = &s[..s.len() - 4];
    }
    let s = s.trim_end_matches('/');
    match s.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let mut out = format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            );
            if !path.is_empty() {
                out.push('/');
                out.push_str(path);
            }
            out
        }
        None => s.to_string(),
    }
}

fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        FINISHED, FP, at, check, coverage_check, lint_check, parse, policy, predicate, tests_check,
        verified, verified_at,
    };
    use super::*;
    use crate::finding::Severity;
    use crate::statement::{CacheRecord, CheckKind, ConfigRecord, Isolation, IsolationMode};
    use proptest::prelude::*;

    fn now() -> SystemTime {
        at("2026-11-01T13:00:00Z")
    }

    fn all_green() -> LocalRunPredicate {
        predicate(vec![
            tests_check(10, 0, 1),
            coverage_check(90, 100),
            lint_check(0, 2),
        ])
    }

    const FULL: &str = r#"
[require]
checks = ["tests", "coverage"]
max_age = "30d"
pristine = true
repository = "https://github.com/acme/app"

[thresholds]
"tests.failed" = { max = 0 }
"coverage.lines" = { min = 85.0 }
"lint.errors" = { max = 0 }
"#;

    fn judge(rest: &str, p: LocalRunPredicate, now: SystemTime) -> Vec<Finding> {
        evaluate(&policy(rest), &verified(p), now)
    }

    fn codes(findings: &[Finding]) -> Vec<Code> {
        findings.iter().map(|f| f.code).collect()
    }

    /// Every finding is complete: rejecting, with expected, found, origin and hint.
    fn assert_complete(findings: &[Finding]) {
        for f in findings {
            assert_eq!(f.severity, Severity::Error, "{f:?}");
            assert!(f.expected.is_some() && f.found.is_some(), "{f:?}");
            assert!(f.hint.is_some(), "{f:?}");
        }
    }

    #[test]
    fn a_fully_passing_statement_has_no_findings() {
        assert_eq!(judge(FULL, all_green(), now()), vec![]);
    }

    #[test]
    fn all_findings_are_collected_not_just_the_first() {
        let mut p = predicate(vec![
            tests_check(7, 3, 0),
            coverage_check(80, 100),
            lint_check(2, 0),
        ]);
        p.source.pristine = false;
        p.repository.uri = Some("https://github.com/evil/app".into());
        let f = judge(FULL, p, at("2026-12-15T00:00:00Z"));
        assert_eq!(
            codes(&f),
            [
                Code::AttestationTooOld,
                Code::CheckoutNotPristine,
                Code::RepositoryMismatch,
                Code::CheckFailed,
                Code::ThresholdNotMet,
                Code::ThresholdNotMet,
                Code::ThresholdNotMet,
            ]
        );
        assert_complete(&f);
        assert!(f.iter().all(|f| f.origin.is_some()), "{f:?}");
    }

    #[test]
    fn required_check_missing_is_check_missing() {
        let f = judge(
            "[require]\nchecks = [\"tests\", \"e2e\"]\n",
            all_green(),
            now(),
        );
        assert_eq!(codes(&f), [Code::CheckMissing]);
        assert_complete(&f);
        let origin = f[0].origin.clone().expect("origin");
        assert_eq!(
            (origin.file.as_str(), origin.line, origin.column),
            ("policy.toml", 6, 20)
        );
        assert_eq!(f[0].expected.as_deref(), Some("a check named `e2e`"));
        assert!(
            f[0].found.as_deref().is_some_and(|s| s.contains("`tests`")),
            "{f:?}"
        );
    }

    #[test]
    fn required_check_that_failed_is_check_failed_with_its_problems() {
        let mut t = tests_check(5, 0, 0);
        t.result = Outcome::Failed;
        t.exit_code = Some(101);
        t.problems = vec!["report target/junit.xml not found".into()];
        let f = judge(
            "[require]\nchecks = [\"tests\"]\n",
            predicate(vec![t]),
            now(),
        );
        assert_eq!(codes(&f), [Code::CheckFailed]);
        assert_complete(&f);
        let found = f[0].found.clone().unwrap_or_default();
        assert!(found.contains("exit code 101"), "{found}");
        assert!(found.contains("target/junit.xml not found"), "{found}");
    }

    #[test]
    fn a_warned_required_check_passes() {
        let mut l = lint_check(0, 5);
        l.result = Outcome::Warned;
        assert_eq!(
            judge(
                "[require]\nchecks = [\"lint\"]\n",
                predicate(vec![l]),
                now()
            ),
            vec![]
        );
    }

    #[test]
    fn threshold_on_missing_check_rejects() {
        let f = judge(
            "[thresholds]\n\"e2e.failed\" = { max = 0 }\n",
            all_green(),
            now(),
        );
        assert_eq!(codes(&f), [Code::CheckMissing]);
        assert_complete(&f);
        assert_eq!(f[0].expected.as_deref(), Some("e2e.failed <= 0"));
    }

    #[test]
    fn threshold_on_missing_metric_rejects() {
        let f = judge(
            "[thresholds]\n\"tests.lines\" = { min = 80 }\n",
            all_green(),
            now(),
        );
        assert_eq!(codes(&f), [Code::MetricMissing]);
        assert_complete(&f);
        assert_eq!(f[0].origin.as_ref().map(|o| o.line), Some(6));
    }

    #[test]
    fn coverage_of_nothing_is_a_missing_metric_not_a_pass() {
        let f = judge(
            "[thresholds]\n\"coverage.lines\" = { min = 0 }\n",
            predicate(vec![coverage_check(0, 0)]),
            now(),
        );
        assert_eq!(codes(&f), [Code::MetricMissing]);
    }

    #[test]
    fn threshold_not_met_says_expected_and_found_without_noise() {
        let f = judge(
            "[thresholds]\n\"tests.failed\" = { max = 0 }\n\"coverage.lines\" = { min = 85.0 }\n",
            predicate(vec![tests_check(7, 3, 0), coverage_check(8437, 10000)]),
            now(),
        );
        assert_eq!(codes(&f), [Code::ThresholdNotMet, Code::ThresholdNotMet]);
        assert_complete(&f);
        assert_eq!(f[0].expected.as_deref(), Some("tests.failed <= 0"));
        assert_eq!(f[0].found.as_deref(), Some("tests.failed = 3"));
        assert_eq!(f[1].expected.as_deref(), Some("coverage.lines >= 85"));
        assert_eq!(f[1].found.as_deref(), Some("coverage.lines = 84.37"));
        assert_eq!(
            f[1].origin.as_ref().map(|o| (o.line, o.column)),
            Some((7, 1))
        );
    }

    #[test]
    fn a_value_just_below_the_bound_is_not_printed_as_the_bound() {
        let f = judge(
            "[thresholds]\n\"coverage.lines\" = { min = 85 }\n",
            predicate(vec![coverage_check(84999, 100000)]),
            now(),
        );
        assert_eq!(f[0].found.as_deref(), Some("coverage.lines = 84.999"));
    }

    #[test]
    fn threshold_bounds_are_inclusive() {
        let rules = "[thresholds]\n\"tests.failed\" = { min = 3, max = 3 }\n\"coverage.lines\" = { min = 85, max = 85 }\n";
        let p = predicate(vec![tests_check(7, 3, 0), coverage_check(85, 100)]);
        assert_eq!(judge(rules, p, now()), vec![]);
    }

    #[test]
    fn a_range_threshold_reports_the_range() {
        let f = judge(
            "[thresholds]\n\"tests.skipped\" = { min = 1, max = 2 }\n",
            predicate(vec![tests_check(1, 0, 5)]),
            now(),
        );
        assert_eq!(f[0].expected.as_deref(), Some("1 <= tests.skipped <= 2"));
        assert_eq!(f[0].found.as_deref(), Some("tests.skipped = 5"));
    }

    #[test]
    fn max_age_boundary_is_inclusive() {
        let rules = "[require]\nmax_age = \"1h\"\n";
        assert_eq!(
            judge(rules, all_green(), at("2026-11-01T13:00:00Z")),
            vec![]
        );
        let f = judge(rules, all_green(), at("2026-11-01T13:00:01Z"));
        assert_eq!(codes(&f), [Code::AttestationTooOld]);
        assert_complete(&f);
        assert_eq!(
            f[0].origin.as_ref().map(|o| (o.line, o.column)),
            Some((6, 11))
        );
    }

    #[test]
    fn without_max_age_any_age_is_accepted() {
        assert_eq!(judge("", all_green(), at("2036-11-01T13:00:00Z")), vec![]);
    }

    #[test]
    fn statement_from_the_future_is_rejected_beyond_the_clock_skew() {
        // Exactly 5 minutes ahead is within the allowance; one second more is not.
        assert_eq!(judge("", all_green(), at("2026-11-01T11:55:00Z")), vec![]);
        let f = judge("", all_green(), at("2026-11-01T11:54:59Z"));
        assert_eq!(codes(&f), [Code::AttestationFromFuture]);
        assert_complete(&f);
        // Checked with max_age too, which does not count a future statement as old.
        let f = judge(
            "[require]\nmax_age = \"1h\"\n",
            all_green(),
            at("2026-11-01T11:00:00Z"),
        );
        assert_eq!(codes(&f), [Code::AttestationFromFuture]);
    }

    #[test]
    fn max_age_and_the_future_use_the_verified_time_not_finished_on() {
        // The signer's clock says the run finished just now; the log says it was signed 31 days
        // before the verification time. The log decides.
        let mut p = all_green();
        p.finished_on = "2026-11-01T12:59:00Z".into();
        let logged = verified_at(
            p.clone(),
            at("2026-10-01T12:00:00Z"),
            TimeSource::TransparencyLog,
            1,
        );
        let policy = policy("[require]\nmax_age = \"30d\"\n");
        let f = evaluate(&policy, &logged, now());
        assert_eq!(codes(&f), [Code::AttestationTooOld]);
        assert_complete(&f);
        let found = f[0].found.as_deref().unwrap_or("");
        assert!(found.contains("transparency log time"), "{found}");
        // A finishedOn far in the future is not "from the future" when the log time is not.
        p.finished_on = "2099-01-01T00:00:00Z".into();
        let logged = verified_at(
            p,
            at("2026-11-01T12:00:00Z"),
            TimeSource::TransparencyLog,
            1,
        );
        assert_eq!(evaluate(&policy, &logged, now()), vec![]);
    }

    #[test]
    fn a_key_only_statement_is_judged_by_the_signers_claim() {
        let f = judge(
            "[require]\nmax_age = \"1h\"\n",
            all_green(),
            at("2026-11-01T14:00:00Z"),
        );
        assert_eq!(codes(&f), [Code::AttestationTooOld]);
        let found = f[0].found.as_deref().unwrap_or("");
        assert!(found.contains("the signer's claim"), "{found}");
    }

    #[test]
    fn tlog_is_satisfied_by_any_verified_log_entry() {
        let policy = policy("[require]\ntlog = true\n");
        let key_only = verified(all_green());
        let f = evaluate(&policy, &key_only, now());
        assert_eq!(codes(&f), [Code::TlogEntryMissing]);
        assert_complete(&f);
        let logged = verified_at(all_green(), at(FINISHED), TimeSource::TransparencyLog, 1);
        assert_eq!(evaluate(&policy, &logged, now()), vec![]);
    }

    #[test]
    fn pristine_required_but_not_pristine_is_rejected() {
        let mut p = all_green();
        p.source.pristine = false;
        let f = judge("[require]\npristine = true\n", p.clone(), now());
        assert_eq!(codes(&f), [Code::CheckoutNotPristine]);
        assert_complete(&f);
        assert_eq!(
            judge("[require]\npristine = false\n", p.clone(), now()),
            vec![]
        );
        assert_eq!(judge("", p, now()), vec![]);
    }

    fn isolated(mode: Option<IsolationMode>) -> LocalRunPredicate {
        let mut p = all_green();
        p.isolation = mode.map(|mode| Isolation {
            mode,
            mechanism: (mode == IsolationMode::Sandbox).then(|| "bubblewrap 0.8.0".into()),
        });
        p
    }

    fn configured(source: Option<ConfigSource>) -> LocalRunPredicate {
        let mut p = all_green();
        p.config = source.map(|source| ConfigRecord {
            source,
            path: match source {
                ConfigSource::Commit => ".ci-attest.toml".into(),
                ConfigSource::Override => "/tmp/lenient.toml".into(),
            },
            sha256: "ab".repeat(32),
            content: (source == ConfigSource::Override).then(|| "[[check]]\n".into()),
        });
        p
    }

    const SANDBOX: &str = "[require]\nisolation = \"sandbox\"\n";
    const FROM_COMMIT: &str = "[require]\nconfig_from_commit = true\n";

    #[test]
    fn sandbox_required_and_sandboxed_passes() {
        assert_eq!(
            judge(SANDBOX, isolated(Some(IsolationMode::Sandbox)), now()),
            vec![]
        );
    }

    #[test]
    fn sandbox_required_but_none_is_rejected() {
        let f = judge(SANDBOX, isolated(Some(IsolationMode::None)), now());
        assert_eq!(codes(&f), [Code::IsolationNotMet]);
        assert_complete(&f);
        assert_eq!(f[0].expected.as_deref(), Some("isolation = sandbox"));
        assert_eq!(f[0].found.as_deref(), Some("isolation = none"));
        assert_eq!(
            f[0].origin.as_ref().map(|o| (o.line, o.column)),
            Some((6, 13))
        );
        assert!(
            f[0].hint
                .as_deref()
                .is_some_and(|h| h.contains("--no-sandbox")),
            "{f:?}"
        );
    }

    #[test]
    fn sandbox_required_but_isolation_absent_is_rejected_not_passed() {
        let f = judge(SANDBOX, isolated(None), now());
        assert_eq!(codes(&f), [Code::IsolationNotMet]);
        assert_complete(&f);
        assert_eq!(
            f[0].found.as_deref(),
            Some("isolation absent (bundle predates revision 2)")
        );
    }

    #[test]
    fn without_an_isolation_rule_any_isolation_is_accepted() {
        for mode in [
            None,
            Some(IsolationMode::None),
            Some(IsolationMode::Sandbox),
        ] {
            assert_eq!(judge("", isolated(mode), now()), vec![], "{mode:?}");
        }
    }

    fn cached(restored: &[bool]) -> LocalRunPredicate {
        let mut p = all_green();
        p.caches = restored
            .iter()
            .enumerate()
            .map(|(i, &restored)| CacheRecord {
                path: format!("cache-{i}"),
                key: format!("{i}").repeat(64),
                restored,
            })
            .collect();
        p
    }

    const FROM_SCRATCH: &str = "[require]\nfrom_scratch = true\n";

    #[test]
    fn from_scratch_is_met_by_a_run_that_restored_no_cache() {
        for restored in [&[][..], &[false], &[false, false]] {
            assert_eq!(judge(FROM_SCRATCH, cached(restored), now()), vec![]);
        }
    }

    #[test]
    fn from_scratch_rejects_a_run_that_restored_a_cache_naming_it() {
        let f = judge(FROM_SCRATCH, cached(&[false, true]), now());
        assert_eq!(codes(&f), [Code::RunNotFromScratch]);
        assert_complete(&f);
        let found = f[0].found.clone().unwrap_or_default();
        assert!(found.contains("cache-1"), "{found}");
        assert!(!found.contains("cache-0"), "{found}");
        assert!(
            f[0].hint
                .as_deref()
                .is_some_and(|h| h.contains("--no-cache")),
            "{f:?}"
        );
        assert_eq!(
            f[0].origin.as_ref().map(|o| (o.line, o.column)),
            Some((6, 16))
        );
    }

    #[test]
    fn without_from_scratch_a_warm_run_is_accepted() {
        for rules in ["", "[require]\nfrom_scratch = false\n"] {
            assert_eq!(judge(rules, cached(&[true]), now()), vec![], "{rules}");
        }
    }

    #[test]
    fn config_from_commit_required_and_from_commit_passes() {
        assert_eq!(
            judge(FROM_COMMIT, configured(Some(ConfigSource::Commit)), now()),
            vec![]
        );
    }

    #[test]
    fn config_from_commit_required_but_override_is_rejected() {
        let f = judge(FROM_COMMIT, configured(Some(ConfigSource::Override)), now());
        assert_eq!(codes(&f), [Code::ConfigNotFromCommit]);
        assert_complete(&f);
        let found = f[0].found.clone().unwrap_or_default();
        assert!(found.contains("override"), "{found}");
        assert!(found.contains("/tmp/lenient.toml"), "{found}");
        assert!(found.contains(&"ab".repeat(32)), "{found}");
        assert_eq!(
            f[0].origin.as_ref().map(|o| (o.line, o.column)),
            Some((6, 22))
        );
        assert!(
            f[0].hint
                .as_deref()
                .is_some_and(|h| h.contains("run --config")),
            "{f:?}"
        );
    }

    #[test]
    fn config_from_commit_required_but_config_absent_is_rejected_not_passed() {
        let f = judge(FROM_COMMIT, configured(None), now());
        assert_eq!(codes(&f), [Code::ConfigNotFromCommit]);
        assert_complete(&f);
        assert!(
            f[0].found.as_deref().is_some_and(|s| s.contains("absent")),
            "{f:?}"
        );
    }

    #[test]
    fn an_override_the_policy_allows_is_reported_but_does_not_reject() {
        for rules in ["", "[require]\nconfig_from_commit = false\n"] {
            let f = judge(rules, configured(Some(ConfigSource::Override)), now());
            assert_eq!(codes(&f), [Code::ConfigNotFromCommit], "{rules}");
            assert_eq!(f[0].severity, Severity::Info);
            assert!(
                !f.iter().any(Finding::is_error),
                "the verdict accepts: {f:?}"
            );
            let found = f[0].found.clone().unwrap_or_default();
            assert!(found.contains("/tmp/lenient.toml"), "{found}");
            assert!(found.contains(&"ab".repeat(32)), "{found}");
            assert!(f[0].hint.is_some());
        }
        // Neither a commit config nor an old bundle without a record is worth a note.
        assert_eq!(
            judge("", configured(Some(ConfigSource::Commit)), now()),
            vec![]
        );
        assert_eq!(judge("", configured(None), now()), vec![]);
    }

    #[test]
    fn a_bad_isolation_value_is_a_load_error_with_line_and_column() {
        for bad in ["none", "bubblewrap", "Sandbox", ""] {
            let text = format!(
                "[[signer]]\nname = \"alice\"\nfingerprint = \"{FP}\"\n\n[require]\nisolation = \"{bad}\"\n"
            );
            let e = parse(&text).expect_err(bad);
            assert_eq!((e.line, e.column), (6, 13), "{e}");
            assert!(
                e.message.contains("\"sandbox\""),
                "lists the allowed values: {e}"
            );
            assert!(e.message.contains(&format!("`{bad}`")), "{e}");
        }
        let text = format!(
            "[[signer]]\nname = \"alice\"\nfingerprint = \"{FP}\"\n\n[require]\nconfig_from_commit = \"yes\"\n"
        );
        let e = parse(&text).expect_err("not a bool");
        assert_eq!((e.line, e.column), (6, 22), "{e}");
    }

    #[test]
    fn repository_is_compared_normalised() {
        let rules = "[require]\nrepository = \"https://github.com/acme/app\"\n";
        for same in [
            "https://github.com/acme/app",
            "https://github.com/acme/app/",
            "https://github.com/acme/app.git",
            "https://GitHub.com/acme/app.git/",
            "HTTPS://github.com/acme/app",
        ] {
            let mut p = all_green();
            p.repository.uri = Some(same.into());
            assert_eq!(judge(rules, p, now()), vec![], "{same}");
        }
        for other in [
            "https://github.com/acme/app-fork",
            "https://github.com/Acme/App",
            "https://gitlab.com/acme/app",
            "http://github.com/acme/app",
        ] {
            let mut p = all_green();
            p.repository.uri = Some(other.into());
            let f = judge(rules, p, now());
            assert_eq!(codes(&f), [Code::RepositoryMismatch], "{other}");
            assert_complete(&f);
        }
    }

    #[test]
    fn repository_required_but_not_recorded_is_a_mismatch() {
        let mut p = all_green();
        p.repository.uri = None;
        let f = judge(
            "[require]\nrepository = \"https://github.com/acme/app\"\n",
            p,
            now(),
        );
        assert_eq!(codes(&f), [Code::RepositoryMismatch]);
    }

    #[test]
    fn numbers_are_formatted_without_noise() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(85.0), "85");
        assert_eq!(format_number(84.371), "84.37");
        assert_eq!(format_number(84.5), "84.5");
        assert_eq!(format_number(-0.001), "0");
        assert_eq!(format_found(84.999, Some(85.0)), "84.999");
        assert_eq!(format_found(85.0001, Some(85.0)), "85.0001");
    }

    #[test]
    fn exit_code_and_duration_apply_to_any_check() {
        let mut c = check("build", CheckKind::Custom);
        c.exit_code = Some(2);
        let f = judge(
            "[thresholds]\n\"build.exit_code\" = { max = 0 }\n\"build.duration_ms\" = { max = 600000 }\n",
            predicate(vec![c]),
            now(),
        );
        assert_eq!(codes(&f), [Code::ThresholdNotMet]);
        assert_eq!(f[0].found.as_deref(), Some("build.exit_code = 2"));
    }

    // ---- truth table --------------------------------------------------------------------------

    /// A threshold in a generated policy: check index (3 = a check that is not in the statement),
    /// metric, bounds.
    #[derive(Debug, Clone)]
    struct Rule {
        check: &'static str,
        metric: &'static str,
        min: Option<u32>,
        max: Option<u32>,
    }

    fn rule() -> impl Strategy<Value = Rule> {
        let target = prop::sample::select(vec![
            ("tests", "failed"),
            ("tests", "passed"),
            ("tests", "skipped"),
            ("tests", "total"),
            ("tests", "lines"), // a metric the tests check never has
            ("lint", "errors"),
            ("lint", "warnings"),
            ("e2e", "failed"), // a check that is never in the statement
        ]);
        (target, 0u32..12, 0u32..12, 0u8..3).prop_map(|((check, metric), a, b, which)| {
            let (lo, hi) = (a.min(b), a.max(b));
            let (min, max) = match which {
                0 => (Some(lo), None),
                1 => (None, Some(hi)),
                _ => (Some(lo), Some(hi)),
            };
            Rule {
                check,
                metric,
                min,
                max,
            }
        })
    }

    /// The rules as policy thresholds, in the given order (duplicates kept).
    fn with_thresholds(rules: &[Rule]) -> Policy {
        let mut p = policy("");
        p.thresholds = rules
            .iter()
            .enumerate()
            .map(|(i, r)| Threshold {
                check: r.check.into(),
                metric: r.metric.into(),
                min: r.min.map(f64::from),
                max: r.max.map(f64::from),
                origin: crate::finding::Origin {
                    file: "generated".into(),
                    line: i + 1,
                    column: 1,
                },
            })
            .collect();
        p
    }

    /// The rules as TOML, first occurrence of each key only (TOML forbids repeating a key).
    fn as_toml(rules: &[Rule]) -> (String, Vec<Rule>) {
        let mut kept: Vec<Rule> = Vec::new();
        let mut s = String::from("[thresholds]\n");
        for r in rules {
            if kept
                .iter()
                .any(|k| k.check == r.check && k.metric == r.metric)
            {
                continue;
            }
            let mut bound = Vec::new();
            if let Some(min) = r.min {
                bound.push(format!("min = {min}"));
            }
            if let Some(max) = r.max {
                bound.push(format!("max = {max}"));
            }
            s.push_str(&format!(
                "\"{}.{}\" = {{ {} }}\n",
                r.check,
                r.metric,
                bound.join(", ")
            ));
            kept.push(r.clone());
        }
        (s, kept)
    }

    /// The oracle: the value of a metric in the generated statement, if it has one.
    fn value(r: &Rule, c: (u64, u64, u64, u64, u64)) -> Option<u64> {
        let (failed, passed, skipped, errors, warnings) = c;
        match (r.check, r.metric) {
            ("tests", "failed") => Some(failed),
            ("tests", "passed") => Some(passed),
            ("tests", "skipped") => Some(skipped),
            ("tests", "total") => Some(failed + passed + skipped),
            ("lint", "errors") => Some(errors),
            ("lint", "warnings") => Some(warnings),
            _ => None,
        }
    }

    /// The oracle's verdict: some threshold is violated or cannot be evaluated.
    fn violated(rules: &[Rule], c: (u64, u64, u64, u64, u64)) -> bool {
        rules.iter().any(|r| match value(r, c) {
            None => true,
            Some(v) => {
                r.min.is_some_and(|m| v < u64::from(m)) || r.max.is_some_and(|m| v > u64::from(m))
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn rejects_iff_some_threshold_is_violated_or_missing(
            c in (0u64..8, 0u64..8, 0u64..8, 0u64..8, 0u64..8),
            rules in prop::collection::vec(rule(), 0..8),
            seed in any::<usize>(),
        ) {
            let (failed, passed, skipped, errors, warnings) = c;
            let statement = verified(predicate(vec![
                tests_check(passed, failed, skipped),
                lint_check(errors, warnings),
            ]));
            let findings = evaluate(&with_thresholds(&rules), &statement, now());
            prop_assert_eq!(!findings.is_empty(), violated(&rules, c), "{:?}\n{:?}", rules, findings);
            prop_assert!(findings.iter().all(|f| matches!(
                f.code,
                Code::ThresholdNotMet | Code::MetricMissing | Code::CheckMissing
            )));

            // The same rules written as a policy file judge the same.
            let (text, kept) = as_toml(&rules);
            let from_file = evaluate(&policy(&text), &statement, now());
            prop_assert_eq!(from_file.is_empty(), !violated(&kept, c), "{}", text);

            // The verdict does not depend on threshold order.
            let mut shuffled = rules.clone();
            let n = shuffled.len();
            if n > 1 {
                shuffled.rotate_left(seed % n);
                shuffled.swap(0, (seed / 7) % n);
                shuffled.reverse();
            }
            let again = evaluate(&with_thresholds(&shuffled), &statement, now());
            prop_assert_eq!(again.is_empty(), findings.is_empty());

            // Duplicate thresholds behave like one.
            let mut doubled = rules.clone();
            doubled.extend(rules.iter().cloned());
            let twice = evaluate(&with_thresholds(&doubled), &statement, now());
            prop_assert_eq!(twice.is_empty(), findings.is_empty());
            prop_assert_eq!(twice.len(), 2 * findings.len());
        }

        #[test]
        fn no_thresholds_and_no_required_checks_accepts_any_counts(
            counts in (0u64..1000, 0u64..1000, 0u64..1000, 0u64..=1000),
        ) {
            let (failed, passed, errors, covered) = counts;
            let statement = verified(predicate(vec![
                tests_check(passed, failed, 0),
                lint_check(errors, 0),
                coverage_check(covered, 1000),
            ]));
            prop_assert_eq!(evaluate(&policy(""), &statement, now()), vec![]);
        }
    }
}
