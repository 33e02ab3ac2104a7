//! in-toto Statement v1 and the ci-attest `local-run` predicate.
//!
//! The statement's subject is the git commit (its sha1 id and the sha256 of the raw commit object);
//! the predicate records how the checks were run and what they found. Field names follow in-toto's
//! lowerCamelCase convention; the JSON Schema of the predicate is `docs/predicate.schema.json`.

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
    /// The `[[cache]]` folders mounted for the checks, and whether each held an earlier run's
    /// files. Empty for a run from scratch (`run --no-cache`, or no caches configured).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caches: Vec<CacheRecord>,
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

/// One `[[cache]]` folder of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CacheRecord {
    /// The folder as configured (`target`, `~/.cache/pip`).
    pub path: String,
    /// The cache key: sha256 (hex) of the key files as committed and the toolchain versions.
    pub key: String,
    /// True when the folder held files of an earlier run (a warm run); false when it started
    /// empty.
    pub restored: bool,
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
///
/// `covered` and `total` are the producer's own summary when the report carries one (LCOV
/// `LF`/`LH`, `BRF`/`BRH`, `FNF`/`FNH`; Cobertura's root `lines-covered`/`lines-valid`,
/// `branches-covered`/`branches-valid`): the figure the tool itself prints. Where a report has no
/// summary for the dimension they are counted from its detail entries. `source` says which, and
/// `detail` records the counted figure when it differs from the summary used.
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
    /// Where `covered` and `total` come from (revision 3; absent in older bundles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<CoverageSource>,
    /// What the report's detail entries give, when that differs from the summary used above
    /// (revision 3): the report disagrees with itself, and both figures are recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<CoverageDetail>,
}

impl Coverage {
    /// A figure with its percent computed, and no source or detail.
    pub fn of(ratio: Ratio) -> Self {
        Coverage {
            covered: ratio.covered,
            total: ratio.total,
            percent: ratio.percent(),
            source: None,
            detail: None,
        }
    }
}

impl From<Ratio> for Coverage {
    fn from(r: Ratio) -> Self {
        Coverage::of(r)
    }
}

/// `coverage.*.source`: where a coverage figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoverageSource {
    /// The producer's own summary (every report, or every LCOV record, had one).
    Summary,
    /// Counted from the detail entries (no report had a summary for the dimension).
    Detail,
    /// Summaries where a report or record had one, detail counts for the others.
    Mixed,
}

impl CoverageSource {
    /// The name used in the predicate.
    pub fn as_str(self) -> &'static str {
        match self {
            CoverageSource::Summary => "summary",
            CoverageSource::Detail => "detail",
            CoverageSource::Mixed => "mixed",
        }
    }
}

/// The coverage a report's detail entries give (LCOV `DA`/`BRDA`/`FN`+`FNDA`, Cobertura `<line>`
/// and `<method>` elements), recorded beside a summary it disagrees with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageDetail {
    /// Items covered.
    pub covered: u64,
    /// Items in all.
    pub total: u64,
    /// `covered / total` in percent; absent when `total` is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
}

impl From<Ratio> for CoverageDetail {
    fn from(r: Ratio) -> Self {
        CoverageDetail {
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

/// Why a statement time is not one [`parse_time`] accepts.
///
/// The messages never echo the input (it is untrusted and unbounded); callers show a clipped copy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The text does not have the shape `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    #[error("not an RFC 3339 time: expected {expected} at byte {position}")]
    Syntax {
        /// Byte offset of the first character that does not fit.
        position: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// The year is outside 1970..=9999.
    #[error("year {year} is outside 1970..=9999")]
    YearOutOfRange {
        /// The year as written.
        year: u32,
    },
    /// A month, day, hour, minute, second or offset field is outside its range (this includes
    /// February 30th and the leap second `:60`, which `SystemTime` cannot represent).
    #[error("{field} {value} is out of range")]
    FieldOutOfRange {
        /// `month`, `day`, `hour`, `minute`, `second`, `offset hour` or `offset minute`.
        field: &'static str,
        /// The value as written.
        value: u32,
    },
    /// The fraction of a second has more than nine digits (finer than a nanosecond).
    #[error("the fraction of a second has more than 9 digits")]
    FractionTooLong,
    /// With its offset applied the time is before 1970-01-01T00:00:00Z.
    #[error("the time is before 1970-01-01T00:00:00Z")]
    BeforeEpoch,
    /// The time cannot be represented as a `SystemTime` on this platform.
    #[error("the time cannot be represented on this platform")]
    Unrepresentable,
}

/// Parses a statement time: the one strict RFC 3339 parser for `startedOn` and `finishedOn`, used
/// by the verifier, bundle selection, `max_age` and the reports.
///
/// Accepts exactly `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`: four-digit year in
/// 1970..=9999, a real calendar date, hour 00-23, minute and second 00-59, an optional fraction of
/// 1 to 9 digits, and `Z` or a numeric offset (hours 00-23, minutes 00-59; `-00:00` is UTC). The
/// resulting instant must not be before the Unix epoch.
///
/// Deliberately stricter than RFC 3339: `T` and `Z` must be uppercase (the RFC also permits `t`,
/// `z`, and a space in place of `T`), the leap second `:60` is refused (`SystemTime` has no leap
/// seconds) and no surrounding whitespace is allowed. ci-attest writes `2026-11-02T10:00:00Z`, and
/// a verifier that accepts one spelling per instant cannot be made to disagree with another one
/// about which time a statement names.
///
/// Runs in time linear in the input (it looks at no more than 35 bytes) and never panics.
pub fn parse_time(text: &str) -> Result<std::time::SystemTime, TimeError> {
    let b = text.as_bytes();
    let syntax = |position: usize, expected: &'static str| TimeError::Syntax { position, expected };
    // Reads `n` ASCII digits starting at `at`.
    let digits = |at: usize, n: usize, expected: &'static str| -> Result<u32, TimeError> {
        let mut value = 0u32;
        for i in at..at + n {
            match b.get(i) {
                Some(c @ b'0'..=b'9') => value = value * 10 + u32::from(c - b'0'),
                _ => return Err(syntax(i, expected)),
            }
        }
        Ok(value)
    };
    let literal = |at: usize, c: u8, expected: &'static str| -> Result<(), TimeError> {
        if b.get(at) == Some(&c) {
            Ok(())
        } else {
            Err(syntax(at, expected))
        }
    };
    let year = digits(0, 4, "a four-digit year")?;
    literal(4, b'-', "'-' after the year")?;
    let month = digits(5, 2, "a two-digit month")?;
    literal(7, b'-', "'-' after the month")?;
    let day = digits(8, 2, "a two-digit day")?;
    literal(10, b'T', "an uppercase 'T' between date and time")?;
    let hour = digits(11, 2, "a two-digit hour")?;
    literal(13, b':', "':' after the hour")?;
    let minute = digits(14, 2, "a two-digit minute")?;
    literal(16, b':', "':' after the minute")?;
    let second = digits(17, 2, "two-digit seconds")?;
    let mut at = 19;
    let mut nanos = 0u32;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while let Some(c @ b'0'..=b'9') = b.get(at) {
            if at - start == 9 {
                return Err(TimeError::FractionTooLong);
            }
            nanos = nanos * 10 + u32::from(c - b'0');
            at += 1;
        }
        let len = at - start;
        if len == 0 {
            return Err(syntax(at, "a digit after '.'"));
        }
        // Scale to nanoseconds: at most 9 digits were read, so this cannot overflow.
        nanos *= 10u32.pow(9 - len as u32);
    }
    let offset_secs: i64 = match b.get(at) {
        Some(b'Z') => {
            at += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            let oh = digits(at + 1, 2, "a two-digit offset hour")?;
            literal(at + 3, b':', "':' in the offset")?;
            let om = digits(at + 4, 2, "two-digit offset minutes")?;
            if oh > 23 {
                return Err(TimeError::FieldOutOfRange {
                    field: "offset hour",
                    value: oh,
                });
            }
            if om > 59 {
                return Err(TimeError::FieldOutOfRange {
                    field: "offset minute",
                    value: om,
                });
            }
            let secs = i64::from(oh) * 3600 + i64::from(om) * 60;
            at += 6;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return Err(syntax(at, "'.', an uppercase 'Z', '+HH:MM' or '-HH:MM'")),
    };
    if at != b.len() {
        return Err(syntax(at, "the end of the time"));
    }
    if !(1970..=9999).contains(&year) {
        return Err(TimeError::YearOutOfRange { year });
    }
    let out_of_range =
        |field: &'static str, value: u32| TimeError::FieldOutOfRange { field, value };
    if !(1..=12).contains(&month) {
        return Err(out_of_range("month", month));
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day == 0 || day > month_days {
        return Err(out_of_range("day", day));
    }
    if hour > 23 {
        return Err(out_of_range("hour", hour));
    }
    if minute > 59 {
        return Err(out_of_range("minute", minute));
    }
    if second > 59 {
        return Err(out_of_range("second", second));
    }
    let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
    let local = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    let utc = local - offset_secs;
    let secs = u64::try_from(utc).map_err(|_| TimeError::BeforeEpoch)?;
    std::time::UNIX_EPOCH
        .checked_add(std::time::Duration::new(secs, nanos))
        .ok_or(TimeError::Unrepresentable)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's `days_from_civil`).
/// The caller keeps the inputs to years 1970..=9999, so nothing here can overflow.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Test counts from a test report. `failed` includes errored tests.
///
/// The four counts are always the test cases counted one by one; a report's own summary (JUnit
/// `tests`, `failures`, `errors`, `skipped` attributes; libtest's suite results) never changes them, since a report
/// can claim `tests="1000"` over one test case. The summary is recorded beside them in `reported`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestCounts {
    /// All test cases seen.
    pub total: u64,
    /// Test cases that passed.
    pub passed: u64,
    /// Test cases that failed or errored.
    pub failed: u64,
    /// Test cases that were skipped or ignored.
    pub skipped: u64,
    /// What the reports' own summaries claim, summed, when every report of the check has one
    /// (revision 3; absent in older bundles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<ReportedTests>,
    /// True when some report's summary disagrees with its own test cases (revision 3): `total`
    /// differs from `tests`, `failed` from `failures + errors`, or `skipped` from `skipped`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reported_mismatch: bool,
}

impl TestCounts {
    /// Counts with no summary recorded.
    pub fn new(total: u64, passed: u64, failed: u64, skipped: u64) -> Self {
        TestCounts {
            total,
            passed,
            failed,
            skipped,
            reported: None,
            reported_mismatch: false,
        }
    }

    /// Adds another report's counts to these (saturating: a crafted report cannot overflow them).
    /// Only the four counts are added; `reported` is left as it is (see
    /// [`crate::collect::TestTally`], which knows whether every report had a summary).
    pub fn add(&mut self, other: &TestCounts) {
        self.total = self.total.saturating_add(other.total);
        self.passed = self.passed.saturating_add(other.passed);
        self.failed = self.failed.saturating_add(other.failed);
        self.skipped = self.skipped.saturating_add(other.skipped);
        self.reported_mismatch |= other.reported_mismatch;
    }
}

/// A test report's own summary: the JUnit `tests`, `failures`, `errors` and `skipped` attributes,
/// or libtest's suite results (`tests` = passed + failed + ignored, `failures` = failed, `errors`
/// = 0, `skipped` = ignored).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedTests {
    /// Tests the report says it ran.
    pub tests: u64,
    /// Tests it says failed an assertion.
    pub failures: u64,
    /// Tests it says errored.
    pub errors: u64,
    /// Tests it says were skipped.
    pub skipped: u64,
}

impl ReportedTests {
    /// Adds another summary (saturating).
    pub fn add(&mut self, other: &ReportedTests) {
        self.tests = self.tests.saturating_add(other.tests);
        self.failures = self.failures.saturating_add(other.failures);
        self.errors = self.errors.saturating_add(other.errors);
        self.skipped = self.skipped.saturating_add(other.skipped);
    }

    /// True when the summary says what the counted test cases say: `tests = total`,
    /// `failures + errors = failed` and `skipped = skipped`.
    pub fn agrees_with(&self, counts: &TestCounts) -> bool {
        self.tests == counts.total
            && u128::from(self.failures) + u128::from(self.errors) == u128::from(counts.failed)
            && self.skipped == counts.skipped
    }
}

/// Covered out of total for one coverage dimension.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ratio {
    /// Items covered.
    pub covered: u64,
    /// Items in all.
    pub total: u64,
}

impl Ratio {
    /// Percentage covered; `None` when there is nothing to cover.
    pub fn percent(&self) -> Option<f64> {
        if self.total == 0 {
            None
        } else {
            Some(self.covered as f64 * 100.0 / self.total as f64)
        }
    }

    /// Adds another ratio's counts to this one (saturating).
    pub fn add(&mut self, other: &Ratio) {
        self.covered = self.covered.saturating_add(other.covered);
        self.total = self.total.saturating_add(other.total);
    }
}

/// Diagnostic counts from a lint report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintCounts {
    /// Diagnostics at error level.
    pub errors: u64,
    /// Diagnostics at warning level.
    pub warnings: u64,
    /// Diagnostics at note / help / info level.
    pub notes: u64,
}

impl LintCounts {
    /// Adds another report's counts to these (saturating).
    pub fn add(&mut self, other: &LintCounts) {
        self.errors = self.errors.saturating_add(other.errors);
        self.warnings = self.warnings.saturating_add(other.warnings);
        self.notes = self.notes.saturating_add(other.notes);
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
            tests: Some(TestCounts::new(10, 8, 1, 1)),
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

    fn at(secs: u64, nanos: u32) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos)
    }

    #[test]
    fn parse_time_reads_what_ci_attest_writes() {
        // 2026-11-01T12:00:00Z, as `date -u -d ... +%s` gives it.
        let t = at(1_793_534_400, 0);
        assert_eq!(parse_time("2026-11-01T12:00:00Z"), Ok(t));
        assert_eq!(
            parse_time(&humantime::format_rfc3339_seconds(t).to_string()),
            Ok(t)
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(at(0, 0)));
        assert_eq!(
            parse_time("9999-12-31T23:59:59.999999999Z"),
            Ok(at(253_402_300_799, 999_999_999))
        );
        assert_eq!(parse_time("2024-02-29T00:00:00Z"), Ok(at(1_709_164_800, 0)));
    }

    #[test]
    fn parse_time_applies_fractions_and_offsets() {
        let t = at(1_793_534_400, 0);
        assert_eq!(
            parse_time("2026-11-01T12:00:00.5Z"),
            Ok(at(1_793_534_400, 500_000_000))
        );
        assert_eq!(
            parse_time("2026-11-01T12:00:00.000000001Z"),
            Ok(at(1_793_534_400, 1))
        );
        assert_eq!(parse_time("2026-11-01T12:00:00+00:00"), Ok(t));
        assert_eq!(parse_time("2026-11-01T12:00:00-00:00"), Ok(t));
        assert_eq!(parse_time("2026-11-01T21:00:00+09:00"), Ok(t));
        assert_eq!(parse_time("2026-11-01T06:30:00-05:30"), Ok(t));
        // The spelling a loose parser misreads: the offset after a fraction is applied, not dropped.
        assert_eq!(parse_time("2026-11-01T21:00:00.0+09:00"), Ok(t));
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00"), Ok(at(0, 0)));
    }

    #[test]
    fn parse_time_refuses_other_spellings() {
        use TimeError::*;
        let syntax = |r: Result<std::time::SystemTime, TimeError>| matches!(r, Err(Syntax { .. }));
        for bad in [
            "",
            "yesterday",
            "2026-11-01",
            "2026-11-01T12:00:00",
            "2026-11-01 12:00:00Z",
            "2026-11-01t12:00:00Z",
            "2026-11-01T12:00:00z",
            " 2026-11-01T12:00:00Z",
            "2026-11-01T12:00:00Z ",
            "2026-11-01T12:00:00Z\n",
            "2026-11-01T12:00Z",
            "2026-11-01T12:00:00.Z",
            "2026-11-01T12:00:00+0900",
            "2026-11-01T12:00:00+09",
            "2026-11-01T12:00:00UTC",
            "+2026-11-01T12:00:00Z",
            "26-11-01T12:00:00Z",
            "2026-1-01T12:00:00Z",
            "2026-11-01T12:00:00ZZ",
            "2026-11-01T12:00:00+09:00Z",
            "２026-11-01T12:00:00Z",
            "2026-11-01T12:00:0٣Z",
        ] {
            assert!(syntax(parse_time(bad)), "{bad:?}: {:?}", parse_time(bad));
        }
        assert_eq!(
            parse_time("2026-11-01T12:00:00.1234567891Z"),
            Err(FractionTooLong)
        );
        assert_eq!(
            parse_time("1969-12-31T23:59:59Z"),
            Err(YearOutOfRange { year: 1969 })
        );
        assert_eq!(
            parse_time("0000-01-01T00:00:00Z"),
            Err(YearOutOfRange { year: 0 })
        );
        assert_eq!(parse_time("1970-01-01T00:30:00+01:00"), Err(BeforeEpoch));
        let field = |f: &'static str, v: u32| Err(FieldOutOfRange { field: f, value: v });
        assert_eq!(parse_time("2026-13-01T12:00:00Z"), field("month", 13));
        assert_eq!(parse_time("2026-00-01T12:00:00Z"), field("month", 0));
        assert_eq!(parse_time("2026-02-29T12:00:00Z"), field("day", 29));
        assert_eq!(parse_time("2100-02-29T12:00:00Z"), field("day", 29));
        assert_eq!(parse_time("2026-04-31T12:00:00Z"), field("day", 31));
        assert_eq!(parse_time("2026-04-00T12:00:00Z"), field("day", 0));
        assert_eq!(parse_time("2026-11-01T24:00:00Z"), field("hour", 24));
        assert_eq!(parse_time("2026-11-01T12:60:00Z"), field("minute", 60));
        assert_eq!(parse_time("2016-12-31T23:59:60Z"), field("second", 60));
        assert_eq!(
            parse_time("2026-11-01T12:00:00+24:00"),
            field("offset hour", 24)
        );
        assert_eq!(
            parse_time("2026-11-01T12:00:00+01:60"),
            field("offset minute", 60)
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_time_never_panics(text in "\\PC{0,40}") {
            let _ = parse_time(&text);
        }

        #[test]
        fn parse_time_never_panics_on_near_misses(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?([Zz]|[+-][0-9]{2}:[0-9]{2})?.{0,2}") {
            let _ = parse_time(&text);
        }

        #[test]
        fn parse_time_round_trips_humantime(secs in 0u64..253_402_300_800, nanos in 0u32..1_000_000_000) {
            let t = at(secs, nanos);
            let whole = at(secs, 0);
            proptest::prop_assert_eq!(parse_time(&humantime::format_rfc3339(t).to_string()), Ok(t));
            proptest::prop_assert_eq!(parse_time(&humantime::format_rfc3339_nanos(t).to_string()), Ok(t));
            proptest::prop_assert_eq!(parse_time(&humantime::format_rfc3339_seconds(t).to_string()), Ok(whole));
            proptest::prop_assert_eq!(
                parse_time(&humantime::format_rfc3339_millis(t).to_string()),
                Ok(at(secs, nanos / 1_000_000 * 1_000_000))
            );
        }

        #[test]
        fn parse_time_applies_any_offset(secs in 86_400u64..253_402_214_400, offset_min in -1439i64..=1439) {
            // The same instant written as local time at an offset names the same instant.
            let t = at(secs, 0);
            let local_secs = secs.checked_add_signed(offset_min * 60).expect("within range");
            let local = humantime::format_rfc3339_seconds(at(local_secs, 0)).to_string();
            let sign = if offset_min < 0 { '-' } else { '+' };
            let m = offset_min.unsigned_abs();
            let text = format!("{}{sign}{:02}:{:02}", local.trim_end_matches('Z'), m / 60, m % 60);
            proptest::prop_assert_eq!(parse_time(&text), Ok(t), "{}", text);
        }
    }
}
