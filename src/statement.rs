//! in-toto Statement v1 and the ci-attest `local-run` predicate.
//!
//! The statement's subject is the git commit (its sha1 id and the sha256 of the raw commit object);
//! the predicate records how the checks were run and what they found. Field names follow in-toto's
//! lowerCamelCase convention; the JSON Schema of the predicate is `docs/predicate.schema.json`.

use crate::collect::{LintCounts, Ratio, TestCounts};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// Predicate type of ci-attest's local-run predicate, version 1.
pub const PREDICATE_TYPE: &str = "https://ci-attest.dev/local-run/v1";
/// The digest algorithm name in-toto uses for a git commit id.
pub const DIGEST_GIT_COMMIT: &str = "gitCommit";
/// The digest algorithm name for the sha256 of the raw commit object.
pub const DIGEST_SHA256: &str = "sha256";

/// An in-toto Statement v1 with a predicate of type `P`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement<P> {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// What the statement is about.
    pub subject: Vec<ResourceDescriptor>,
    /// URI naming the predicate's schema.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The claim itself.
    pub predicate: P,
}

/// An in-toto ResourceDescriptor (the subset a subject uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    /// Human-readable name; optional in v1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// URI of the resource, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Algorithm name -> lowercase hex digest.
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
}

/// The outcome of a whole run or of one check, as in in-toto's test-result predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Everything passed.
    Passed,
    /// Passed, with warnings (e.g. lint warnings).
    Warned,
    /// Something failed.
    Failed,
}

impl Outcome {
    /// The worse of two outcomes.
    pub fn worst(self, other: Outcome) -> Outcome {
        self.max(other)
    }
}

impl PartialOrd for Outcome {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Outcome {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let rank = |o: &Outcome| match o {
            Outcome::Passed => 0,
            Outcome::Warned => 1,
            Outcome::Failed => 2,
        };
        rank(self).cmp(&rank(other))
    }
}

/// What kind of check a check is; decides which metrics it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// Runs tests; reports give test counts.
    Tests,
    /// Measures coverage; reports give coverage ratios.
    Coverage,
    /// Runs a linter; reports give diagnostic counts.
    Lint,
    /// Anything else; only exit code and duration.
    Custom,
}

impl CheckKind {
    /// The name used in config and predicate.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Tests => "tests",
            CheckKind::Coverage => "coverage",
            CheckKind::Lint => "lint",
            CheckKind::Custom => "custom",
        }
    }
}

/// The ci-attest local-run predicate (v1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalRunPredicate {
    /// The tool that made the attestation.
    pub tool: Tool,
    /// The machine the checks ran on.
    pub host: Host,
    /// When the run started (RFC 3339, UTC).
    pub started_on: String,
    /// When the run finished (RFC 3339, UTC); the attestation's time for `max_age`.
    pub finished_on: String,
    /// The commit that was checked out and how.
    pub source: Source,
    /// The repository's identity, so the attestation cannot be replayed into a fork or mirror.
    pub repository: Repository,
    /// One entry per configured check, in configuration order.
    pub checks: Vec<CheckRecord>,
    /// The worst outcome of all checks.
    pub result: Outcome,
    /// How the checks were isolated from the signer's machine (revision 2; absent in older bundles,
    /// which a policy requiring isolation rejects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Isolation>,
    /// The `.ci-attest.toml` that decided what ran (revision 2; absent in older bundles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigRecord>,
}

/// How the checks were isolated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Isolation {
    /// `sandbox` (checks sealed off from the working tree, secrets and ci-attest) or `none`.
    pub mode: IsolationMode,
    /// The mechanism, e.g. `bubblewrap 0.8.0`; absent for `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
}

/// `isolation.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IsolationMode {
    /// Each check ran in a sandbox.
    Sandbox,
    /// The checks ran as ordinary child processes.
    None,
}

impl IsolationMode {
    /// The name used in the predicate and in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            IsolationMode::Sandbox => "sandbox",
            IsolationMode::None => "none",
        }
    }
}

/// The configuration file that decided which checks ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigRecord {
    /// `commit` (the commit's own `.ci-attest.toml`) or `override` (`run --config FILE`).
    pub source: ConfigSource,
    /// Path: `.ci-attest.toml` inside the commit, or the override file as given.
    pub path: String,
    /// sha256 of the file's bytes (lowercase hex).
    pub sha256: String,
    /// The override's full text (only for `override`: the commit does not hold it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// `config.source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigSource {
    /// The commit's own `.ci-attest.toml`.
    Commit,
    /// A file given with `run --config`, not part of the commit.
    Override,
}

impl ConfigSource {
    /// The name used in the predicate and in findings.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigSource::Commit => "commit",
            ConfigSource::Override => "override",
        }
    }
}

/// A failing test, named as its report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailedTest {
    /// Suite, class or test binary (`classname` in JUnit), when the report gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    /// The test's name.
    pub name: String,
    /// True when the report says the test errored rather than failed an assertion.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub error: bool,
}

impl FailedTest {
    /// `suite::name`, or the name alone.
    pub fn id(&self) -> String {
        match &self.suite {
            Some(s) if !s.is_empty() => format!("{s}::{}", self.name),
            _ => self.name.clone(),
        }
    }
}

/// How many failing tests a check record names; the rest are counted in `failedTestsOmitted`.
pub const MAX_FAILED_TESTS: usize = 100;

/// The tool that made the attestation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// Always `ci-attest`.
    pub name: String,
    /// The tool's version.
    pub version: String,
}

/// The machine the checks ran on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// Operating system (`linux`, `macos`, `windows`...).
    pub os: String,
    /// CPU architecture (`x86_64`, `aarch64`...).
    pub arch: String,
    /// Toolchain name -> version line (`rustc`, `cargo`, `node`, `python3`...), for those found.
    #[serde(default)]
    pub toolchains: BTreeMap<String, String>,
}

/// The source that was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// The commit id (40 hex).
    pub commit: String,
    /// The commit's tree id.
    pub tree: String,
    /// The ref that pointed at the commit when the run started, if any (e.g. `refs/heads/main`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// True when the checks ran in a fresh worktree of the commit, with nothing else in it.
    pub pristine: bool,
    /// True when the developer's working tree had uncommitted changes (which were not included).
    pub uncommitted_changes_ignored: bool,
}

/// The repository's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Repository {
    /// Canonical remote URL (`https://host/owner/name`), when the repository has a remote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The forge's numeric repository id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge_id: Option<u64>,
}

/// Coverage of one dimension as recorded in the predicate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    /// Items covered.
    pub covered: u64,
    /// Items in all.
    pub total: u64,
    /// `covered / total` in percent; absent when `total` is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
}

impl From<Ratio> for Coverage {
    fn from(r: Ratio) -> Self {
        Coverage {
            covered: r.covered,
            total: r.total,
            percent: r.percent(),
        }
    }
}

/// Coverage figures of a coverage check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageRecord {
    /// Line coverage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Coverage>,
    /// Branch coverage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches: Option<Coverage>,
    /// Function coverage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<Coverage>,
}

/// A raw file the run produced, identified by its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    /// Path relative to the worktree (reports) or the log's file name.
    pub path: String,
    /// Report format, for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// sha256 of the file's bytes (lowercase hex).
    pub sha256: String,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckRecord {
    /// The check's unique name from `.ci-attest.toml`.
    pub name: String,
    /// The check's kind.
    pub kind: CheckKind,
    /// The shell command that ran.
    pub command: String,
    /// The command's exit code; absent when it was killed by a signal or could not start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Wall-clock duration in milliseconds.
    pub duration_ms: u64,
    /// The check's outcome.
    pub result: Outcome,
    /// Test counts (tests checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<TestCounts>,
    /// Coverage (coverage checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageRecord>,
    /// Diagnostic counts (lint checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint: Option<LintCounts>,
    /// The failing (and erroring) tests, at most [`MAX_FAILED_TESTS`] (tests checks; revision 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_tests: Vec<FailedTest>,
    /// How many more failing tests there were than `failedTests` lists.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_tests_omitted: u64,
    /// False when the check ran with its network cut (`network = false`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<bool>,
    /// Every report parsed, with its digest.
    #[serde(default)]
    pub reports: Vec<FileRecord>,
    /// The combined stdout/stderr log of the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<FileRecord>,
    /// Why the check failed when the reason is not in the counts (missing or malformed report,
    /// command not started).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The metrics a policy threshold can name.
pub const METRICS: &[(&str, &str)] = &[
    ("total", "tests: test cases run"),
    ("passed", "tests: test cases passed"),
    ("failed", "tests: test cases failed or errored"),
    ("skipped", "tests: test cases skipped"),
    ("pass_rate", "tests: passed / (passed + failed), in percent"),
    ("lines", "coverage: line coverage in percent"),
    ("branches", "coverage: branch coverage in percent"),
    ("functions", "coverage: function coverage in percent"),
    ("errors", "lint: diagnostics at error level"),
    ("warnings", "lint: diagnostics at warning level"),
    ("notes", "lint: diagnostics at note/help level"),
    ("exit_code", "any check: the command's exit code"),
    (
        "duration_ms",
        "any check: wall-clock duration in milliseconds",
    ),
];

impl CheckRecord {
    /// The value of a metric for this check, or `None` when the check does not have it.
    pub fn metric(&self, metric: &str) -> Option<f64> {
        let t = self.tests.as_ref();
        let c = self.coverage.as_ref();
        let l = self.lint.as_ref();
        let pct = |d: Option<Coverage>| d.and_then(|d| d.percent);
        match metric {
            "total" => t.map(|t| t.total as f64),
            "passed" => t.map(|t| t.passed as f64),
            "failed" => t.map(|t| t.failed as f64),
            "skipped" => t.map(|t| t.skipped as f64),
            "pass_rate" => t.and_then(|t| {
                let run = t.passed + t.failed;
                (run > 0).then(|| t.passed as f64 * 100.0 / run as f64)
            }),
            "lines" => c.and_then(|c| pct(c.lines)),
            "branches" => c.and_then(|c| pct(c.branches)),
            "functions" => c.and_then(|c| pct(c.functions)),
            "errors" => l.map(|l| l.errors as f64),
            "warnings" => l.map(|l| l.warnings as f64),
            "notes" => l.map(|l| l.notes as f64),
            "exit_code" => self.exit_code.map(f64::from),
            "duration_ms" => Some(self.duration_ms as f64),
            _ => None,
        }
    }
}

/// A local-run statement.
pub type LocalRunStatement = Statement<LocalRunPredicate>;

impl LocalRunStatement {
    /// Serialises the statement as compact JSON (the DSSE payload).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("statement types always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> CheckRecord {
        CheckRecord {
            name: "tests".into(),
            kind: CheckKind::Tests,
            command: "cargo test".into(),
            exit_code: Some(0),
            duration_ms: 1200,
            result: Outcome::Passed,
            tests: Some(TestCounts {
                total: 10,
                passed: 8,
                failed: 1,
                skipped: 1,
            }),
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

    #[test]
    fn pass_rate_ignores_skipped_tests() {
        let rate = check().metric("pass_rate").expect("tests have a pass rate");
        assert!((rate - 88.888).abs() < 0.01, "{rate}");
    }

    #[test]
    fn a_check_lacks_metrics_of_other_kinds() {
        assert_eq!(check().metric("lines"), None);
        assert_eq!(check().metric("errors"), None);
        assert_eq!(check().metric("no-such-metric"), None);
        assert_eq!(check().metric("duration_ms"), Some(1200.0));
    }

    #[test]
    fn outcome_order_is_passed_warned_failed() {
        assert_eq!(Outcome::Passed.worst(Outcome::Warned), Outcome::Warned);
        assert_eq!(Outcome::Failed.worst(Outcome::Warned), Outcome::Failed);
        assert_eq!(
            serde_json::to_string(&Outcome::Warned).expect("serialises"),
            "\"WARNED\""
        );
    }
}
