//! Judging a verified statement against a policy.
//!
//! [`evaluate`] applies every rule and returns every finding; an empty list means the statement
//! meets the policy. A rule that cannot be evaluated (a missing check or metric, an unparsable
//! time) is a rejection, never a pass.

use super::{Policy, Threshold};
use crate::finding::{Code, Finding};
use crate::statement::{CheckRecord, LocalRunPredicate, METRICS, Outcome};
use crate::verify::VerifiedStatement;
use std::time::{Duration, SystemTime};

/// How far in the future (relative to the verification time) a statement's `finishedOn` may be,
/// to allow for clocks that disagree: 5 minutes.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Judges `statement` against `policy` at verification time `now`.
///
/// Returns every rejecting finding, in the order: statement time (future, `max_age`), pristine
/// checkout, repository, required checks (in policy order), thresholds (in policy order). An empty
/// list means the statement meets the policy. Signer trust is not judged here: the verifier has
/// already matched the signer against [`Policy::signers`].
pub fn evaluate(policy: &Policy, statement: &VerifiedStatement, now: SystemTime) -> Vec<Finding> {
    let p = statement.predicate();
    let mut findings = Vec::new();
    time(policy, p, now, &mut findings);
    pristine(policy, p, &mut findings);
    repository(policy, p, &mut findings);
    required_checks(policy, p, &mut findings);
    for t in &policy.thresholds {
        threshold(t, p, &mut findings);
    }
    findings
}

fn time(policy: &Policy, p: &LocalRunPredicate, now: SystemTime, out: &mut Vec<Finding>) {
    let max_age = policy.require.max_age.as_ref();
    let origin = max_age.map(|(_, o)| o.clone());
    let Some(finished) = parse_time(&p.finished_on) else {
        out.push(
            Finding::error(
                Code::StatementMalformed,
                "the statement's finishedOn is not an RFC 3339 UTC time",
            )
            .expected_found(
                "finishedOn as an RFC 3339 UTC time, e.g. 2026-11-01T12:00:00Z",
                format!("finishedOn = {:?}", clip(&p.finished_on)),
            )
            .origin(origin)
            .hint(
                "the attestation was not made by a conforming ci-attest; make a new one with \
                 `ci-attest run`",
            ),
        );
        return;
    };
    if let Some(limit) = now.checked_add(CLOCK_SKEW) {
        if let Ok(ahead) = finished.duration_since(now) {
            if finished > limit {
                out.push(
                    Finding::error(
                        Code::AttestationFromFuture,
                        "the attestation's finish time is later than the verification time",
                    )
                    .expected_found(
                        format!(
                            "finishedOn no later than {} (verification time + {} clock skew)",
                            humantime::format_rfc3339_seconds(now),
                            humantime::format_duration(CLOCK_SKEW)
                        ),
                        format!(
                            "finishedOn = {}, {} ahead",
                            p.finished_on,
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
        let age = now.duration_since(finished).unwrap_or(Duration::ZERO);
        if age > *max {
            out.push(
                Finding::error(
                    Code::AttestationTooOld,
                    "the attestation is older than the policy's max_age",
                )
                .expected_found(
                    format!(
                        "finished at most {} before {}",
                        humantime::format_duration(*max),
                        humantime::format_rfc3339_seconds(now)
                    ),
                    format!(
                        "finishedOn = {}, {} old",
                        p.finished_on,
                        humantime::format_duration(whole_seconds(age))
                    ),
                )
                .origin(Some(max_origin.clone()))
                .hint("run `ci-attest run` again to make a fresh attestation of this commit"),
            );
        }
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

/// Parses an RFC 3339 time in UTC (`Z`, or an explicit `+00:00`).
fn parse_time(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let utc = s
        .strip_suffix("+00:00")
        .map(|t| format!("{t}Z"))
        .unwrap_or_else(|| s.to_string());
    if !utc.ends_with('Z') && !utc.ends_with('z') {
        return None;
    }
    humantime::parse_rfc3339_weak(&utc).ok()
}

fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

/// Caps statement-derived text in findings at 200 characters.
fn clip(s: &str) -> String {
    if s.chars().count() <= 200 {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(200).collect();
        t.push('…');
        t
    }
}
