//! Reports: a verification's verdict and findings as text, JSON or markdown.
//!
//! The JSON form has a versioned schema (`docs/report.schema.json`) and sorted keys, so two runs on
//! the same input are byte-identical. The text form ends with the next thing to do.
//!
//! # Untrusted strings
//!
//! Most strings in a report came from a bundle that may be hostile: key hints, payload types,
//! check names and commands, statement times, store locations, and the found-values of findings,
//! even of statements whose signature did not verify. The JSON report carries them exactly
//! (serde escapes them). The text and markdown reports render them through one place,
//! [`Report::cleaned`] / [`AuditReport::cleaned`], which every string field passes through
//! (exhaustive destructuring: a new field does not compile until it is handled):
//!
//! - **Control and direction characters** are replaced by a visible escape (`\u{1b}`, `\n`):
//!   C0 controls (newline and tab included: a field never starts a line of its own), DEL, C1
//!   controls, the bidirectional overrides and isolates U+202A–U+202E and U+2066–U+2069, the marks
//!   U+200E, U+200F and U+061C, and the separators U+2028 and U+2029. No terminal escape sequence
//!   and no reordered text can come out of a report. The finished text is checked once more as a
//!   whole, so even a string that bypassed the cleaning cannot carry such a character.
//! - **Long values are cut** after a per-field number of characters, with a visible
//!   `…[N more characters]` marker: names (signer, check, failing test id, metric) after
//!   [`MAX_NAME_CHARS`]; locations, paths, key ids, commit ids, ranges and times after
//!   [`MAX_LOCATION_CHARS`]; finding messages and hints after [`MAX_MESSAGE_CHARS`]; finding
//!   expected and found values after [`MAX_VALUE_CHARS`].
//! - **Markdown** (GitHub check runs and job summaries) also escapes everything GitHub would
//!   render: the backslash, the backtick and `* _ ~ [ ] ( ) ! | $ # @` are backslash-escaped (no code span, emphasis,
//!   strike-through, link, image, math, table cell break or heading can start), `< > &` become
//!   entities (no raw HTML, no `<https://…>` autolink), and `@name` and `#123` get a zero-width
//!   space after the sign so that no user is mentioned and no issue linked. A bare `https://…` URL
//!   is left as text GitHub may link: it shows exactly where it leads.
//!
//! GitHub's own size limits on a check run's summary and text are applied where the request is
//! made (`github::truncate_markdown`), after these per-field cuts.

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

/// Whether a verdict blocks (`verify --mode enforce`, the default) or is only reported
/// (`--mode advisory`, for a team that runs ci-attest beside its hosted CI before relying on it).
///
/// The mode changes how a rejection is presented and what it does (exit code, check-run
/// conclusion), never the verdict or the findings: an advisory report has the same verdict and
/// findings an enforcing one would have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A rejection fails: exit 1, check run `failure`.
    #[default]
    Enforce,
    /// A rejection is reported only: exit 0, check run `neutral`.
    Advisory,
}

impl Mode {
    /// `enforce` or `advisory`, as on the command line and in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Advisory => "advisory",
        }
    }
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
    /// The report of `commit` under `policy`: rejected when any finding is an error.
    pub fn judged(
        commit: String,
        policy: String,
        bundles: Vec<BundleReport>,
        findings: Vec<Finding>,
    ) -> Report {
        let verdict = if findings.iter().any(Finding::is_error) {
            Verdict::Rejected
        } else {
            Verdict::Accepted
        };
        Report {
            schema: REPORT_SCHEMA,
            commit,
            policy,
            verdict,
            bundles,
            findings,
        }
    }

    /// The report as pretty JSON with sorted keys and a trailing newline.
    pub fn to_json(&self) -> String {
        self.to_json_as(Mode::Enforce)
    }

    /// The JSON report in `mode`: an advisory report has `"mode": "advisory"`; an enforcing one
    /// has no `mode` key (so enforcing reports stay byte-identical to those of earlier versions).
    pub fn to_json_as(&self, mode: Mode) -> String {
        // Going through `Value` sorts object keys (serde_json's map is a BTreeMap).
        let mut value = serde_json::to_value(self).expect("report types always serialise");
        if let (Mode::Advisory, Some(object)) = (mode, value.as_object_mut()) {
            object.insert("mode".into(), mode.as_str().into());
        }
        let mut s = serde_json::to_string_pretty(&value).expect("a Value always serialises");
        s.push('\n');
        s
    }

    /// A copy for display: every string cleaned and cut (see the module doc). The text and
    /// markdown reports render this copy; the JSON report never does.
    pub fn cleaned(&self) -> Report {
        let Report {
            schema,
            commit,
            policy,
            verdict,
            bundles,
            findings,
        } = self;
        Report {
            schema,
            commit: clean(commit, MAX_LOCATION_CHARS),
            policy: clean(policy, MAX_LOCATION_CHARS),
            verdict: *verdict,
            bundles: bundles.iter().map(BundleReport::cleaned).collect(),
            findings: findings.iter().map(clean_finding).collect(),
        }
    }

    /// The report for a person at a terminal. Strings from the bundle are cleaned (module doc).
    pub fn to_text(&self) -> String {
        self.to_text_as(Mode::Enforce)
    }

    /// The text report in `mode`: an advisory one says so on its first and last lines.
    pub fn to_text_as(&self, mode: Mode) -> String {
        terminal_safe(self.cleaned().render_text(mode))
    }

    fn render_text(&self, mode: Mode) -> String {
        let mut s = String::new();
        let verdict = match self.verdict {
            Verdict::Accepted => "ACCEPTED",
            Verdict::Rejected => "REJECTED",
        };
        let advisory = match mode {
            Mode::Enforce => "",
            Mode::Advisory => " (advisory: reported, not enforced)",
        };
        let _ = writeln!(s, "ci-attest verify: {verdict}{advisory}");
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
        if mode == Mode::Advisory {
            let _ = writeln!(
                s,
                "mode: advisory: the verdict does not fail this command (exit 0); `--mode enforce` makes it count"
            );
        }
        s
    }

    /// The report as GitHub-flavoured markdown (check-run summaries, job summaries). Strings from
    /// the bundle are cleaned and escaped so that GitHub renders them as plain text (module doc).
    pub fn to_markdown(&self) -> String {
        self.to_markdown_as(Mode::Enforce)
    }

    /// The markdown report in `mode`: an advisory one says so under its heading.
    pub fn to_markdown_as(&self, mode: Mode) -> String {
        terminal_safe(self.cleaned().render_markdown(mode))
    }

    fn render_markdown(&self, mode: Mode) -> String {
        let mut s = String::new();
        let icon = match (self.verdict, mode) {
            (Verdict::Accepted, _) => "✅ accepted",
            (Verdict::Rejected, Mode::Enforce) => "❌ rejected",
            (Verdict::Rejected, Mode::Advisory) => "⚠️ rejected (advisory)",
        };
        let _ = writeln!(s, "## ci-attest: {icon}\n");
        if mode == Mode::Advisory {
            let _ = writeln!(
                s,
                "> **Advisory mode**: this verdict is reported, not enforced (a rejection concludes `neutral`). Switch the verifier's `mode` to `enforce` to make it count.\n"
            );
        }
        let _ = writeln!(
            s,
            "Commit {} against policy {}.\n",
            md_code(&self.commit),
            md_code(&self.policy)
        );
        if let Some(b) = self.bundles.iter().find(|b| b.selected) {
            let _ = writeln!(
                s,
                "Attestation {} signed by **{}**, run finished {}.\n",
                md_code(&b.location),
                md(b.signer.as_deref().unwrap_or("unknown")),
                b.finished_on
                    .as_deref()
                    .map_or_else(|| "at an unknown time".to_string(), md)
            );
            let _ = writeln!(s, "| check | kind | result | figures |\n|---|---|---|---|");
            for c in &b.checks {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    md(&c.name),
                    c.kind.as_str(),
                    outcome_str(c.result),
                    md(&metrics_line(&c.metrics))
                );
            }
            s.push('\n');
            for c in &b.checks {
                let (shown, more) = c.shown_failed_tests();
                if shown.is_empty() && more == 0 {
                    continue;
                }
                let _ = writeln!(s, "Failing tests of **{}**:\n", md(&c.name));
                for id in shown {
                    let _ = writeln!(s, "- {}", md(id));
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
                    md(&f.message),
                    md(f.expected.as_deref().unwrap_or("")),
                    md(f.found.as_deref().unwrap_or("")),
                    f.origin
                        .as_ref()
                        .map(|o| md(&o.to_string()))
                        .unwrap_or_default(),
                    md(f.hint.as_deref().unwrap_or(""))
                );
            }
        }
        s
    }
}

impl BundleReport {
    /// The line of an item that never reached a statement (unreadable, listed only, or not a
    /// bundle): where it is and why.
    pub fn unverified(location: String, findings: Vec<Finding>) -> BundleReport {
        BundleReport {
            location,
            signer: None,
            key_id: None,
            finished_on: None,
            signed_at: None,
            time_source: None,
            selected: false,
            checks: Vec::new(),
            findings,
        }
    }

    /// A copy for display with every string cleaned and cut (see the module doc).
    pub fn cleaned(&self) -> BundleReport {
        let BundleReport {
            location,
            signer,
            key_id,
            finished_on,
            signed_at,
            time_source,
            selected,
            checks,
            findings,
        } = self;
        BundleReport {
            location: clean(location, MAX_LOCATION_CHARS),
            signer: signer.as_deref().map(|s| clean(s, MAX_NAME_CHARS)),
            key_id: key_id.as_deref().map(|s| clean(s, MAX_LOCATION_CHARS)),
            finished_on: finished_on.as_deref().map(|s| clean(s, MAX_LOCATION_CHARS)),
            // Made by the verifier from a verified time and a fixed name: nothing to clean.
            signed_at: signed_at.clone(),
            time_source: *time_source,
            selected: *selected,
            checks: checks.iter().map(CheckSummary::cleaned).collect(),
            findings: findings.iter().map(clean_finding).collect(),
        }
    }
}

impl CheckSummary {
    /// A copy for display with every string cleaned and cut (see the module doc).
    pub fn cleaned(&self) -> CheckSummary {
        let CheckSummary {
            name,
            kind,
            result,
            metrics,
            failed_tests,
            failed_tests_omitted,
        } = self;
        CheckSummary {
            name: clean(name, MAX_NAME_CHARS),
            kind: *kind,
            result: *result,
            metrics: metrics
                .iter()
                .map(|(m, v)| (clean(m, MAX_NAME_CHARS), *v))
                .collect(),
            failed_tests: failed_tests
                .iter()
                .map(|t| clean(t, MAX_NAME_CHARS))
                .collect(),
            failed_tests_omitted: *failed_tests_omitted,
        }
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
    /// Commits of the range for which the store held no bundle at all (each is also rejected,
    /// with `no-attestation`).
    pub unattested: usize,
    /// One report per commit, oldest first.
    pub commits: Vec<Report>,
    /// When only a sample of the range was audited (`audit --sample`): its share, seed and the
    /// number of commits the range holds. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<crate::reproduce::SampleRecord>,
}

impl AuditReport {
    /// Pretty JSON with sorted keys and a trailing newline (byte-stable for the same inputs).
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).expect("report types always serialise");
        let mut s = serde_json::to_string_pretty(&value).expect("a Value always serialises");
        s.push('\n');
        s
    }

    /// A copy for display: every string cleaned and cut (see the module doc).
    pub fn cleaned(&self) -> AuditReport {
        let AuditReport {
            schema,
            range,
            policy,
            at,
            accepted,
            rejected,
            unattested,
            commits,
            sample,
        } = self;
        AuditReport {
            schema,
            range: clean(range, MAX_LOCATION_CHARS),
            policy: clean(policy, MAX_LOCATION_CHARS),
            at: clean(at, MAX_LOCATION_CHARS),
            accepted: *accepted,
            rejected: *rejected,
            unattested: *unattested,
            commits: commits.iter().map(Report::cleaned).collect(),
            sample: sample.clone(),
        }
    }

    /// A markdown summary table, then each rejected commit's findings (strings cleaned and
    /// escaped, see the module doc).
    pub fn to_markdown(&self) -> String {
        terminal_safe(self.cleaned().render_markdown())
    }

    fn render_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# ci-attest audit\n\nRange {}, policy {}, as of {}: **{} accepted, {} rejected**, {} without any bundle.\n",
            md_code(&self.range),
            md_code(&self.policy),
            md(&self.at),
            self.accepted,
            self.rejected,
            self.unattested
        );
        if let Some(sample) = &self.sample {
            let _ = writeln!(
                s,
                "A sample: {} of the range's {} commits ({} %), seed `{}`.\n",
                self.commits.len(),
                sample.of,
                sample.percent,
                sample.seed
            );
        }
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
                "| {} | {} | {} | {} | {} |",
                md_code(&r.commit),
                match r.verdict {
                    Verdict::Accepted => "accepted",
                    Verdict::Rejected => "**rejected**",
                },
                md(selected.and_then(|b| b.signer.as_deref()).unwrap_or("-")),
                md(selected
                    .and_then(|b| b.finished_on.as_deref())
                    .unwrap_or("-")),
                errors.join(" ")
            );
        }
        for r in self
            .commits
            .iter()
            .filter(|r| r.verdict == Verdict::Rejected)
        {
            let _ = writeln!(s, "\n## {}\n", md_code(&r.commit));
            for f in r.findings.iter().filter(|f| f.is_error()) {
                let _ = writeln!(
                    s,
                    "- `{}`: {} (expected {}; found {})",
                    f.code,
                    md(&f.message),
                    md(f.expected.as_deref().unwrap_or("-")),
                    md(f.found.as_deref().unwrap_or("-"))
                );
            }
        }
        s
    }

    /// One line per commit, for a terminal (strings cleaned, see the module doc).
    pub fn to_text(&self) -> String {
        terminal_safe(self.cleaned().render_text())
    }

    fn render_text(&self) -> String {
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
            "\n{} commit(s): {} accepted, {} rejected, {} without any bundle (policy {}, as of {})",
            self.commits.len(),
            self.accepted,
            self.rejected,
            self.unattested,
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

/// Most characters of a name (signer, check, failing test id, metric) the text and markdown
/// reports show.
pub const MAX_NAME_CHARS: usize = 120;
/// Most characters of a location, path, key id, commit id, range or time shown.
pub const MAX_LOCATION_CHARS: usize = 256;
/// Most characters of a finding's message or hint shown.
pub const MAX_MESSAGE_CHARS: usize = 500;
/// Most characters of a finding's expected or found value shown.
pub const MAX_VALUE_CHARS: usize = 1000;

/// True for a character no report may print raw: C0 and C1 controls, DEL, bidirectional
/// overrides, isolates and marks, and the Unicode line and paragraph separators.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

/// `s` for display: unsafe characters as visible escapes, cut after `max` characters with a
/// marker saying how many more there were.
pub fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max.saturating_mul(4)));
    for (shown, (i, c)) in s.char_indices().enumerate() {
        if shown == max {
            let more = s[i..].chars().count();
            let _ = write!(out, "…[{more} more characters]");
            break;
        }
        if is_unsafe(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

fn clean_finding(f: &Finding) -> Finding {
    let Finding {
        code,
        severity,
        message,
        expected,
        found,
        origin,
        hint,
    } = f;
    Finding {
        code: *code,
        severity: *severity,
        message: clean(message, MAX_MESSAGE_CHARS),
        expected: expected.as_deref().map(|s| clean(s, MAX_VALUE_CHARS)),
        found: found.as_deref().map(|s| clean(s, MAX_VALUE_CHARS)),
        origin: origin.as_ref().map(|o| crate::finding::Origin {
            file: clean(&o.file, MAX_LOCATION_CHARS),
            line: o.line,
            column: o.column,
        }),
        hint: hint.as_deref().map(|s| clean(s, MAX_MESSAGE_CHARS)),
    }
}

/// The last line of defence, over a whole rendered report: no unsafe character other than the
/// report's own newlines survives, whatever a renderer forgot.
fn terminal_safe(report: String) -> String {
    if !report.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return report;
    }
    let mut out = String::with_capacity(report.len());
    for c in report.chars() {
        if c != '\n' && is_unsafe(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Escapes (cleaned) text for GitHub markdown, in a table cell, a list item or a sentence: no
/// code span, emphasis, strike-through, link, image, math, raw HTML, heading, table cell break,
/// mention or issue reference can start, and no line can end.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '|' | '*' | '_' | '[' | ']' | '(' | ')' | '~' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '@' | '#' => {
                out.push('\\');
                out.push(c);
                // A zero-width space keeps `@name` from mentioning and `#123` from linking.
                if chars.peek().is_some_and(|n| n.is_alphanumeric()) {
                    out.push('\u{200b}');
                }
            }
            c if is_unsafe(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A value shown as code when it is a plain identifier or path (commit ids, policy paths, bundle
/// locations), else escaped as text: a code span cannot be broken out of if it holds no backtick.
/// `s` escaped for GitHub markdown as the reports escape every untrusted string (see the module
/// doc); clean it first with [`clean`].
pub fn markdown_escape(s: &str) -> String {
    md(s)
}

fn md_code(s: &str) -> String {
    if !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '+' | '~' | '^')
        })
    {
        format!("`{s}`")
    } else {
        md(s)
    }
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
            md.contains("- s::a\\`b\\|c&lt;script&gt; d\\*e\\_\\[x\\]\\(y\\)\n"),
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

    fn hostile_report() -> Report {
        let evil = "\u{1b}[31mred\u{1b}[0m \u{202e}txt.exe\u{2066} \u{9b}2J\u{7f}\nline2 [click](https://evil) <img src=x> @admin #123 *b* _i_ ~s~ `c` $x$ | !";
        let mut check = failing_check(&["ok"], 0);
        check.name = evil.to_string();
        let mut r = report_of(&check);
        r.bundles[0].location = evil.to_string();
        r.bundles[0].signer = Some(evil.to_string());
        r.bundles[0].key_id = Some(evil.to_string());
        r.bundles[0].finished_on = Some(evil.to_string());
        r.findings = vec![
            Finding::error(crate::finding::Code::SignatureInvalid, evil)
                .expected_found(evil, evil)
                .hint(evil),
        ];
        r
    }

    fn assert_no_unsafe(out: &str) {
        for c in out.chars() {
            assert!(c == '\n' || !is_unsafe(c), "{c:?} in {out}");
        }
    }

    #[test]
    fn text_report_escapes_control_and_bidi_characters_from_every_field() {
        let text = hostile_report().to_text();
        assert_no_unsafe(&text);
        assert!(text.contains("\\u{1b}[31mred"), "{text}");
        assert!(text.contains("\\u{202e}txt.exe\\u{2066}"), "{text}");
        assert!(text.contains("\\u{9b}2J\\u{7f}\\nline2"), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("line2")), "{text}");
    }

    #[test]
    fn markdown_report_renders_hostile_strings_as_plain_text() {
        let md = hostile_report().to_markdown();
        assert_no_unsafe(&md);
        for raw in [
            "[click](https://evil)",
            "<img",
            "@admin",
            "#123",
            "*b*",
            "_i_",
            "~s~",
            "`c`",
            "$x$",
        ] {
            assert!(!md.contains(raw), "{raw} in {md}");
        }
        assert!(md.contains("\\[click\\]\\(https://evil\\)"), "{md}");
        assert!(md.contains("&lt;img src=x&gt;"), "{md}");
        assert!(md.contains("\\@\u{200b}admin \\#\u{200b}123"), "{md}");
        // Every table row keeps its columns: no raw `|` and no line break from a value.
        for line in md.lines().filter(|l| l.starts_with("| ✗")) {
            assert_eq!(line.matches(" | ").count(), 4, "{line}");
        }
    }

    #[test]
    fn long_values_are_cut_with_a_visible_marker_and_json_stays_exact() {
        let mut r = report_of(&failing_check(&["ok"], 0));
        let long = "x".repeat(MAX_VALUE_CHARS + 5);
        r.findings = vec![
            Finding::error(crate::finding::Code::SignatureInvalid, "m")
                .expected_found("e", long.clone()),
        ];
        let text = r.to_text();
        assert!(
            text.contains(&format!(
                "{}…[5 more characters]",
                "x".repeat(MAX_VALUE_CHARS)
            )),
            "{text}"
        );
        assert!(r.to_markdown().contains("…\\[5 more characters\\]"));
        let json = r.to_json();
        assert!(json.contains(&long), "JSON is never cut");
        let evil = hostile_report();
        let json: serde_json::Value = serde_json::from_str(&evil.to_json()).expect("json");
        assert_eq!(
            json["bundles"][0]["keyId"].as_str(),
            evil.bundles[0].key_id.as_deref(),
            "JSON is exact"
        );
    }

    #[test]
    fn clean_counts_characters_not_bytes() {
        assert_eq!(clean("ééé", 2), "éé…[1 more characters]");
        assert_eq!(clean("abc", 3), "abc");
        assert_eq!(clean("a\u{0}b", 10), "a\\u{0}b");
    }
}
