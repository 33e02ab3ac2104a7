//! Reports: a verification's verdict and findings as text, JSON or markdown.
//!
//! The JSON form has a versioned schema (`docs/report.schema.json`) and sorted keys, so two runs on
//! the same input are byte-identical. The text form ends with the next thing to do.

use crate::collect::clean_name;
use crate::finding::{Finding, Severity};
use crate::statement::{CheckKind, CheckRecord, FailedTest, MAX_FAILED_TESTS, Outcome};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Schema URI of the JSON verification report.
pub const REPORT_SCHEMA: &str = "https://ci-attest.dev/verify-report/v1";

/// The verdict on a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The policy accepts the commit.
    Accepted,
    /// It does not.
    Rejected,
}

/// One check's figures as the report shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckSummary {
    /// The check's name.
    pub name: String,
    /// Its kind.
    pub kind: CheckKind,
    /// Its outcome in the statement.
    pub result: Outcome,
    /// Metric name -> value, for every metric the check has.
    pub metrics: BTreeMap<String, f64>,
    /// Ids of the check's failing tests, cleaned for display (no control characters, capped), at
    /// most [`MAX_FAILED_TESTS`]. Shown in the text and markdown reports; not part of the JSON
    /// report, whose schema (`docs/report.schema.json`) has no such field.
    #[serde(skip)]
    pub failed_tests: Vec<String>,
    /// How many failing tests there were beyond `failed_tests`.
    #[serde(skip)]
    pub failed_tests_omitted: u64,
}

/// How many failing test ids the text and markdown reports show per check before "and N more".
pub const SHOWN_FAILED_TESTS: usize = 10;

impl CheckSummary {
    /// The failing test ids a report shows (at most [`SHOWN_FAILED_TESTS`]) and how many more
    /// there were.
    pub fn shown_failed_tests(&self) -> (&[String], u64) {
        let shown = &self.failed_tests[..self.failed_tests.len().min(SHOWN_FAILED_TESTS)];
        let more = ((self.failed_tests.len() - shown.len()) as u64)
            .saturating_add(self.failed_tests_omitted);
        (shown, more)
    }

    /// Summarises a check record.
    pub fn of(check: &CheckRecord) -> CheckSummary {
        let metrics = crate::statement::METRICS
            .iter()
            .filter_map(|(m, _)| check.metric(m).map(|v| (m.to_string(), v)))
            .collect();
        // The statement's names came from reports the checked code wrote: clean them again, since a
        // statement need not have been made by this version of ci-attest.
        let failed_tests: Vec<String> = check
            .failed_tests
            .iter()
            .take(MAX_FAILED_TESTS)
            .map(|t| {
                FailedTest {
                    suite: t.suite.as_deref().map(clean_name),
                    name: clean_name(&t.name),
                    error: t.error,
                }
                .id()
            })
            .collect();
        let beyond = check.failed_tests.len().saturating_sub(failed_tests.len()) as u64;
        CheckSummary {
            name: check.name.clone(),
            kind: check.kind,
            result: check.result,
            metrics,
            failed_tests,
            failed_tests_omitted: check.failed_tests_omitted.saturating_add(beyond),
        }
    }
}

/// What was found about one bundle.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleReport {
    /// Where the bundle came from.
    pub location: String,
    /// The policy name of the signer whose signature verified, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The key id the bundle names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// When the run finished, per the statement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<String>,
    /// The signing time bundle selection and `max_age` use (RFC 3339), for a verified bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<String>,
    /// Where `signed_at` comes from: `transparency-log`, `timestamp` or `signer-claim`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_source: Option<&'static str>,
    /// True for the bundle the verdict is based on.
    pub selected: bool,
    /// The checks the statement reports.
    pub checks: Vec<CheckSummary>,
    /// Findings of verifying this bundle (and, for the selected one, of the policy).
    pub findings: Vec<Finding>,
}

/// A verification report for one commit.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub schema: &'static str,
    /// The commit verified.
    pub commit: String,
    /// The policy file used.
    pub policy: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Every bundle considered.
    pub bundles: Vec<BundleReport>,
    /// The findings that decide the verdict (those of the selected bundle, or why none was).
    pub findings: Vec<Finding>,
}

impl Report {
    /// The report as pretty JSON with sorted keys and a trailing newline.
    pub fn to_json(&self) -> String {
        // Going through `Value` sorts object keys (serde_json's map is a BTreeMap).
        let value = serde_json::to_value(self).expect("report types always serialise");
        let mut s = serde_json::to_string_pretty(&value).expect("a Value always serialises");
        s.push('\n');
        s
    }

    /// The report for a person at a terminal.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let verdict = match self.verdict {
            Verdict::Accepted => "ACCEPTED",
            Verdict::Rejected => "REJECTED",
        };
        let _ = writeln!(s, "ci-attest verify: {verdict}");
        let _ = writeln!(s, "  commit  {}", self.commit);
        let _ = writeln!(s, "  policy  {}", self.policy);
        for b in &self.bundles {
            let _ = writeln!(
                s,
                "  bundle  {}{}",
                b.location,
                if b.selected { "  (selected)" } else { "" }
            );
            if let Some(signer) = &b.signer {
                let _ = writeln!(
                    s,
                    "          signed by {signer}{}",
                    b.key_id
                        .as_deref()
                        .map(|k| format!(" ({k})"))
                        .unwrap_or_default()
                );
            }
            if let Some(t) = &b.finished_on {
                let _ = writeln!(s, "          run finished {t}");
            }
            if let (Some(t), Some(source)) = (&b.signed_at, b.time_source) {
                let _ = writeln!(s, "          signed at {t} ({source})");
            }
            for c in &b.checks {
                let _ = writeln!(
                    s,
                    "          {:<12} {:<8} {}",
                    c.name,
                    outcome_str(c.result),
                    metrics_line(&c.metrics)
                );
                let (shown, more) = c.shown_failed_tests();
                for id in shown {
                    let _ = writeln!(s, "          {:<12} ✗ {id}", "");
                }
                if more > 0 {
                    let _ = writeln!(s, "          {:<12}   and {more} more", "");
                }
            }
            if !b.selected {
                for f in &b.findings {
                    let _ = writeln!(s, "          {} {}: {}", mark(f), f.code, f.message);
                }
            }
        }
        if self.findings.is_empty() {
            let _ = writeln!(s, "\nno findings: every rule of the policy holds");
        } else {
            let _ = writeln!(s, "\nfindings:");
            for f in &self.findings {
                let _ = writeln!(s, "  {} {}: {}", mark(f), f.code, f.message);
                if let Some(e) = &f.expected {
                    let _ = writeln!(s, "      expected: {e}");
                }
                if let Some(x) = &f.found {
                    let _ = writeln!(s, "      found:    {x}");
                }
                if let Some(o) = &f.origin {
                    let _ = writeln!(s, "      rule:     {o}");
                }
                if let Some(h) = &f.hint {
                    let _ = writeln!(s, "      hint:     {h}");
                }
            }
        }
        let next = match self.verdict {
            Verdict::Accepted => "nothing: the commit may merge",
            Verdict::Rejected if self.bundles.is_empty() => {
                "run `ci-attest run` on this commit, then verify again"
            }
            Verdict::Rejected => {
                "fix what the findings name, commit, run `ci-attest run`, then verify again"
            }
        };
        let _ = writeln!(s, "\nnext: {next}");
        s
    }

    /// The report as GitHub-flavoured markdown (check-run summaries, job summaries).
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let icon = match self.verdict {
            Verdict::Accepted => "✅ accepted",
            Verdict::Rejected => "❌ rejected",
        };
        let _ = writeln!(s, "## ci-attest: {icon}\n");
        let _ = writeln!(
            s,
            "Commit `{}` against policy `{}`.\n",
            self.commit,
            md_escape(&self.policy)
        );
        if let Some(b) = self.bundles.iter().find(|b| b.selected) {
            let _ = writeln!(
                s,
                "Attestation `{}` signed by **{}**, run finished {}.\n",
                md_escape(&b.location),
                md_escape(b.signer.as_deref().unwrap_or("unknown")),
                b.finished_on.as_deref().unwrap_or("at an unknown time")
            );
            let _ = writeln!(s, "| check | kind | result | figures |\n|---|---|---|---|");
            for c in &b.checks {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    md_escape(&c.name),
                    c.kind.as_str(),
                    outcome_str(c.result),
                    md_escape(&metrics_line(&c.metrics))
                );
            }
            s.push('\n');
            for c in &b.checks {
                let (shown, more) = c.shown_failed_tests();
                if shown.is_empty() && more == 0 {
                    continue;
                }
                let _ = writeln!(s, "Failing tests of **{}**:\n", md_escape_text(&c.name));
                for id in shown {
                    let _ = writeln!(s, "- {}", md_escape_text(id));
                }
                if more > 0 {
                    let _ = writeln!(s, "- and {more} more");
                }
                s.push('\n');
            }
        } else {
            let _ = writeln!(
                s,
                "No attestation for this commit verified ({} considered).\n",
                self.bundles.len()
            );
        }
        if self.findings.is_empty() {
            let _ = writeln!(s, "Every rule of the policy holds.");
        } else {
            let _ = writeln!(
                s,
                "| finding | expected | found | rule | hint |\n|---|---|---|---|---|"
            );
            for f in &self.findings {
                let _ = writeln!(
                    s,
                    "| {} `{}` {} | {} | {} | {} | {} |",
                    mark(f),
                    f.code,
                    md_escape(&f.message),
                    md_escape(f.expected.as_deref().unwrap_or("")),
                    md_escape(f.found.as_deref().unwrap_or("")),
                    f.origin.as_ref().map(|o| o.to_string()).unwrap_or_default(),
                    md_escape(f.hint.as_deref().unwrap_or(""))
                );
            }
        }
        s
    }
}

/// Schema URI of the JSON audit report.
pub const AUDIT_SCHEMA: &str = "https://ci-attest.dev/audit-report/v1";

/// An audit: one verdict per commit, replayed offline with one policy and one trust root.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    /// Always [`AUDIT_SCHEMA`].
    pub schema: &'static str,
    /// The revision range audited.
    pub range: String,
    /// The policy file used.
    pub policy: String,
    /// The verification time used (RFC 3339).
    pub at: String,
    /// Commits accepted.
    pub accepted: usize,
    /// Commits rejected.
    pub rejected: usize,
    /// One report per commit, oldest first.
    pub commits: Vec<Report>,
}

impl AuditReport {
    /// Pretty JSON with sorted keys and a trailing newline (byte-stable for the same inputs).
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).expect("report types always serialise");
        let mut s = serde_json::to_string_pretty(&value).expect("a Value always serialises");
        s.push('\n');
        s
    }

    /// A markdown summary table, then each rejected commit's findings.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# ci-attest audit\n\nRange `{}`, policy `{}`, as of {}: **{} accepted, {} rejected**.\n",
            md_escape(&self.range),
            md_escape(&self.policy),
            self.at,
            self.accepted,
            self.rejected
        );
        let _ = writeln!(
            s,
            "| commit | verdict | signer | run finished | findings |\n|---|---|---|---|---|"
        );
        for r in &self.commits {
            let selected = r.bundles.iter().find(|b| b.selected);
            let errors: Vec<String> = r
                .findings
                .iter()
                .filter(|f| f.is_error())
                .map(|f| format!("`{}`", f.code))
                .collect();
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} | {} |",
                r.commit,
                match r.verdict {
                    Verdict::Accepted => "accepted",
                    Verdict::Rejected => "**rejected**",
                },
                md_escape(selected.and_then(|b| b.signer.as_deref()).unwrap_or("-")),
                selected
                    .and_then(|b| b.finished_on.as_deref())
                    .unwrap_or("-"),
                errors.join(" ")
            );
        }
        for r in self
            .commits
            .iter()
            .filter(|r| r.verdict == Verdict::Rejected)
        {
            let _ = writeln!(s, "\n## `{}`\n", r.commit);
            for f in r.findings.iter().filter(|f| f.is_error()) {
                let _ = writeln!(
                    s,
                    "- `{}`: {} (expected {}; found {})",
                    f.code,
                    md_escape(&f.message),
                    md_escape(f.expected.as_deref().unwrap_or("-")),
                    md_escape(f.found.as_deref().unwrap_or("-"))
                );
            }
        }
        s
    }

    /// One line per commit, for a terminal.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for r in &self.commits {
            let codes: Vec<String> = r
                .findings
                .iter()
                .filter(|f| f.is_error())
                .map(|f| f.code.to_string())
                .collect();
            let _ = writeln!(
                s,
                "{}  {:<8}  {}",
                r.commit,
                match r.verdict {
                    Verdict::Accepted => "ACCEPTED",
                    Verdict::Rejected => "REJECTED",
                },
                codes.join(", ")
            );
        }
        let _ = writeln!(
            s,
            "\n{} commit(s): {} accepted, {} rejected (policy {}, as of {})",
            self.commits.len(),
            self.accepted,
            self.rejected,
            self.policy,
            self.at
        );
        s
    }
}

fn mark(f: &Finding) -> &'static str {
    match f.severity {
        Severity::Error => "✗",
        Severity::Info => "·",
    }
}

/// The outcome as in-toto spells it.
pub fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "PASSED",
        Outcome::Warned => "WARNED",
        Outcome::Failed => "FAILED",
    }
}

/// Formats a metric value: integers without decimals, others with at most two.
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn metrics_line(metrics: &BTreeMap<String, f64>) -> String {
    // Show in the documented metric order, not alphabetically.
    crate::statement::METRICS
        .iter()
        .filter(|(m, _)| *m != "duration_ms")
        .filter_map(|(m, _)| {
            metrics.get(*m).map(|v| {
                let pct = matches!(*m, "lines" | "branches" | "functions" | "pass_rate");
                format!("{m} {}{}", format_number(*v), if pct { "%" } else { "" })
            })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Escapes untrusted text (a test name) for markdown, in a table cell or a list item: no code
/// spans, emphasis, links or HTML can start, no table cell or line can end, no control character
/// is left.
fn md_escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '|' | '*' | '_' | '[' | ']' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failing_check(names: &[&str], omitted: u64) -> CheckRecord {
        CheckRecord {
            name: "unit".into(),
            kind: CheckKind::Tests,
            command: "cargo test".into(),
            exit_code: Some(101),
            duration_ms: 5,
            result: Outcome::Failed,
            tests: None,
            coverage: None,
            lint: None,
            failed_tests: names
                .iter()
                .map(|n| FailedTest {
                    suite: Some("s".into()),
                    name: n.to_string(),
                    error: false,
                })
                .collect(),
            failed_tests_omitted: omitted,
            network: None,
            reports: vec![],
            log: None,
            problems: vec![],
        }
    }

    fn report_of(check: &CheckRecord) -> Report {
        Report {
            schema: REPORT_SCHEMA,
            commit: "ab".repeat(20),
            policy: ".ci-attest/policy.toml".into(),
            verdict: Verdict::Rejected,
            bundles: vec![BundleReport {
                location: "b.sigstore.json".into(),
                signer: Some("dev".into()),
                key_id: None,
                finished_on: None,
                signed_at: None,
                time_source: None,
                selected: true,
                checks: vec![CheckSummary::of(check)],
                findings: vec![],
            }],
            findings: vec![],
        }
    }

    #[test]
    fn text_report_lists_failing_tests_without_control_characters() {
        let check = failing_check(&["\u{1b}[2Jwipe\u{1b}]0;title\u{7}", "plain"], 0);
        let text = report_of(&check).to_text();
        assert!(text.contains("✗ s::wipe\n"), "{text}");
        assert!(text.contains("✗ s::plain\n"), "{text}");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text}"
        );
        assert!(!text.contains("more"), "{text}");
    }

    #[test]
    fn text_report_bounds_the_list_and_counts_the_rest() {
        let names: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let text = report_of(&failing_check(&names, 30)).to_text();
        assert!(text.contains("✗ s::t9\n"), "{text}");
        assert!(!text.contains("s::t10"), "{text}");
        assert!(text.contains("and 32 more"), "{text}");
    }

    #[test]
    fn markdown_report_escapes_failing_test_names() {
        let check = failing_check(&["a`b|c<script>\nd*e_[x](y)"], 4);
        let md = report_of(&check).to_markdown();
        assert!(md.contains("Failing tests of **unit**:"), "{md}");
        assert!(
            md.contains("- s::a\\`b\\|c&lt;script&gt; d\\*e\\_\\[x\\](y)\n"),
            "{md}"
        );
        assert!(md.contains("- and 4 more"), "{md}");
        assert!(!md.contains("<script>"), "{md}");
    }

    #[test]
    fn failing_tests_stay_out_of_the_json_report() {
        let json = report_of(&failing_check(&["x"], 1)).to_json();
        assert!(
            !json.contains("failedTests") && !json.contains("s::x"),
            "{json}"
        );
    }

    #[test]
    fn numbers_print_without_noise() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(85.5), "85.5");
        assert_eq!(format_number(88.888_88), "88.89");
    }
}
