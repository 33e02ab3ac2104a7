//! Collecting results: running the configured checks and parsing the reports they write.
//!
//! Every parser streams its input, so a report of a gigabyte is parsed in bounded memory, and every
//! parser turns malformed input into a [`ReportError`] that says what was expected and what was found.

pub mod clippy;
pub mod cobertura;
pub mod junit;
pub mod lcov;
pub mod libtest;
pub mod run;
pub mod sarif;

mod lines;
mod xml;

use crate::statement::{FailedTest, MAX_FAILED_TESTS};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Read};
use std::path::Path;

/// Longest single line (LCOV, JSON streams) or XML token a parser accepts: a longer one is malformed
/// input, not something to buffer.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024 * 1024;

/// Largest report file accepted at all.
pub const MAX_REPORT_BYTES: u64 = 8 * 1024 * 1024 * 1024;

pub use crate::config::ReportFormat;
use crate::statement::{Coverage, CoverageRecord, CoverageSource};
pub use crate::statement::{LintCounts, Ratio, ReportedTests, TestCounts};

/// Largest count a producer's summary may claim for one report (JUnit `tests=`, Cobertura
/// `lines-valid=`...): a trillion items is no real project. A larger claim is refused as
/// malformed rather than saturated into a figure nobody wrote.
pub const MAX_SUMMARY_COUNT: u64 = 1 << 40;

/// One coverage dimension of one or more reports: the figure ci-attest reports and the figure the
/// detail entries give.
///
/// A report part (an LCOV record, a Cobertura report) that carries the producer's summary for the
/// dimension adds the summary to `used` and its detail count to `counted`; a part without a
/// summary adds its detail count to both, and one with only a summary adds the summary to both.
/// So `used` is what the producing tool prints, and `counted` differs from it exactly when a
/// report disagrees with itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimension {
    /// Summary where there is one, detail count elsewhere: the figure recorded.
    pub used: Ratio,
    /// Detail count where there is one, summary elsewhere.
    pub counted: Ratio,
    /// Parts whose summary gave their share of `used`.
    pub from_summary: u64,
    /// Parts whose detail entries gave their share of `used`.
    pub from_detail: u64,
}

impl Dimension {
    /// A part that has a summary, detail entries, or both (`None` when neither: then the part
    /// does not have the dimension at all).
    pub fn of(summary: Option<Ratio>, detail: Option<Ratio>) -> Option<Dimension> {
        match (summary, detail) {
            (None, None) => None,
            (Some(s), d) => Some(Dimension {
                used: s,
                counted: d.unwrap_or(s),
                from_summary: 1,
                from_detail: 0,
            }),
            (None, Some(d)) => Some(Dimension {
                used: d,
                counted: d,
                from_summary: 0,
                from_detail: 1,
            }),
        }
    }

    /// Adds another part's figures (saturating).
    pub fn add(&mut self, other: &Dimension) {
        self.used.add(&other.used);
        self.counted.add(&other.counted);
        self.from_summary = self.from_summary.saturating_add(other.from_summary);
        self.from_detail = self.from_detail.saturating_add(other.from_detail);
    }

    /// Where `used` comes from.
    pub fn source(&self) -> CoverageSource {
        match (self.from_summary, self.from_detail) {
            (0, _) => CoverageSource::Detail,
            (_, 0) => CoverageSource::Summary,
            _ => CoverageSource::Mixed,
        }
    }

    /// The detail count, when it differs from the figure used.
    pub fn detail(&self) -> Option<Ratio> {
        (self.counted != self.used).then_some(self.counted)
    }

    /// The figure as the predicate records it.
    pub fn to_coverage(&self) -> Coverage {
        Coverage {
            source: Some(self.source()),
            detail: self.detail().map(Into::into),
            ..Coverage::of(self.used)
        }
    }
}

/// Coverage counts from a coverage report; a dimension the report does not give is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageCounts {
    /// Lines covered / lines instrumented.
    pub lines: Option<Dimension>,
    /// Branches covered / branches found.
    pub branches: Option<Dimension>,
    /// Functions hit / functions found.
    pub functions: Option<Dimension>,
}

impl CoverageCounts {
    /// Adds another report's counts to these (a dimension present in either is present in the sum).
    pub fn add(&mut self, other: &CoverageCounts) {
        fn merge(a: &mut Option<Dimension>, b: &Option<Dimension>) {
            match (a.as_mut(), b) {
                (Some(a), Some(b)) => a.add(b),
                (None, Some(b)) => *a = Some(*b),
                _ => {}
            }
        }
        merge(&mut self.lines, &other.lines);
        merge(&mut self.branches, &other.branches);
        merge(&mut self.functions, &other.functions);
    }

    /// The figures used for each dimension (summary where there is one), without their sources.
    pub fn used(&self) -> [Option<Ratio>; 3] {
        [self.lines, self.branches, self.functions].map(|d| d.map(|d| d.used))
    }

    /// The coverage record of the predicate.
    pub fn to_record(&self) -> CoverageRecord {
        CoverageRecord {
            lines: self.lines.map(|d| d.to_coverage()),
            branches: self.branches.map(|d| d.to_coverage()),
            functions: self.functions.map(|d| d.to_coverage()),
        }
    }
}

/// Test counts summed over the reports of one check, with their summaries.
///
/// The counts are the test cases counted; `reported` is the sum of the reports' summaries when
/// every report had one, and `reported_mismatch` is set when any report's summary disagrees with
/// its own test cases (see [`ReportedTests::agrees_with`]).
#[derive(Debug, Clone, Default)]
pub struct TestTally {
    counts: Option<TestCounts>,
    reported: Option<ReportedTests>,
    every_report_has_a_summary: bool,
}

impl TestTally {
    /// Adds one parsed test report.
    pub fn add(&mut self, report: &TestReport) {
        let first = self.counts.is_none();
        let counts = self.counts.get_or_insert_default();
        counts.add(&report.counts);
        if let Some(summary) = &report.summary {
            if !summary.agrees_with(&report.counts) {
                counts.reported_mismatch = true;
            }
        }
        match (first, report.summary) {
            (true, Some(summary)) => {
                self.every_report_has_a_summary = true;
                self.reported = Some(summary);
            }
            (false, Some(summary)) if self.every_report_has_a_summary => {
                self.reported.get_or_insert_default().add(&summary);
            }
            _ => {
                self.every_report_has_a_summary = false;
                self.reported = None;
            }
        }
    }

    /// The counts, with the summaries attached; `None` when no report was added.
    pub fn finish(self) -> Option<TestCounts> {
        self.counts.map(|counts| TestCounts {
            reported: self.reported,
            ..counts
        })
    }
}

/// How many passed test names a [`TestNames`] keeps; the rest are only counted.
pub const MAX_PASSED_TESTS: usize = 10_000;

/// Longest test name or suite name kept, in characters; a longer one is cut and ends with `…`.
pub const MAX_TEST_NAME_CHARS: usize = 200;

/// The names of the tests a report says failed or passed, in bounded memory.
///
/// Names come from reports the checked code wrote, so they are untrusted: every name and suite is
/// cleaned with [`clean_name`] (no control characters or terminal escapes, at most
/// [`MAX_TEST_NAME_CHARS`] characters). At most [`MAX_FAILED_TESTS`] failing tests and
/// [`MAX_PASSED_TESTS`] passing tests are named, in report order; the others are only counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestNames {
    failed: Vec<FailedTest>,
    failed_omitted: u64,
    passed: Vec<String>,
    passed_omitted: u64,
}

impl TestNames {
    /// Records a failing (or, with `error`, erroring) test.
    pub fn push_failed(&mut self, suite: Option<&str>, name: &str, error: bool) {
        if self.failed.len() >= MAX_FAILED_TESTS {
            self.failed_omitted = self.failed_omitted.saturating_add(1);
            return;
        }
        self.failed.push(FailedTest {
            suite: clean_suite(suite),
            name: clean_name(name),
            error,
        });
    }

    /// Records a passing test; it is kept as its id (`suite::name`, see [`FailedTest::id`]).
    pub fn push_passed(&mut self, suite: Option<&str>, name: &str) {
        if self.passed.len() >= MAX_PASSED_TESTS {
            self.passed_omitted = self.passed_omitted.saturating_add(1);
            return;
        }
        let id = FailedTest {
            suite: clean_suite(suite),
            name: clean_name(name),
            error: false,
        }
        .id();
        self.passed.push(id);
    }

    /// Appends another report's names, keeping the bounds: what does not fit is counted.
    pub fn merge(&mut self, other: TestNames) {
        let room = MAX_FAILED_TESTS.saturating_sub(self.failed.len());
        let overflow = other.failed.len().saturating_sub(room);
        self.failed.extend(other.failed.into_iter().take(room));
        self.failed_omitted = self
            .failed_omitted
            .saturating_add(other.failed_omitted)
            .saturating_add(overflow as u64);
        let room = MAX_PASSED_TESTS.saturating_sub(self.passed.len());
        let overflow = other.passed.len().saturating_sub(room);
        self.passed.extend(other.passed.into_iter().take(room));
        self.passed_omitted = self
            .passed_omitted
            .saturating_add(other.passed_omitted)
            .saturating_add(overflow as u64);
    }

    /// The failing tests named, at most [`MAX_FAILED_TESTS`].
    pub fn failed(&self) -> &[FailedTest] {
        &self.failed
    }

    /// How many failing tests there were beyond [`TestNames::failed`].
    pub fn failed_omitted(&self) -> u64 {
        self.failed_omitted
    }

    /// The ids of the passing tests named, at most [`MAX_PASSED_TESTS`].
    pub fn passed(&self) -> &[String] {
        &self.passed
    }

    /// How many passing tests there were beyond [`TestNames::passed`].
    pub fn passed_omitted(&self) -> u64 {
        self.passed_omitted
    }

    /// Splits into (failed, failed omitted, passed ids, passed omitted).
    pub fn into_parts(self) -> (Vec<FailedTest>, u64, Vec<String>, u64) {
        (
            self.failed,
            self.failed_omitted,
            self.passed,
            self.passed_omitted,
        )
    }
}

fn clean_suite(suite: Option<&str>) -> Option<String> {
    suite.map(clean_name).filter(|s| !s.is_empty())
}

/// Makes an untrusted test or suite name safe to store and print.
///
/// Drops terminal escape sequences (CSI `ESC [ ... final` and OSC `ESC ] ... BEL/ESC \`, and a
/// lone `ESC` with the character after it), every other control character (C0, DEL, C1; a newline
/// or tab becomes a space) and Unicode bidirectional controls, and cuts the result to
/// [`MAX_TEST_NAME_CHARS`] characters, the last of which is then `…`. Work is bounded by the input
/// length; nothing here can panic.
pub fn clean_name(raw: &str) -> String {
    let mut out = String::new();
    let mut kept = 0usize;
    let mut truncated = false;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        let keep = match c {
            '\u{1b}' => {
                match chars.next() {
                    // CSI: parameters and intermediates, then one final byte in @..~.
                    Some('[') => {
                        for c in chars.by_ref() {
                            if ('\u{40}'..='\u{7e}').contains(&c) {
                                break;
                            }
                        }
                    }
                    // OSC: up to BEL or ST (ESC \\).
                    Some(']') => {
                        while let Some(c) = chars.next() {
                            if c == '\u{7}' || c == '\u{9c}' {
                                break;
                            }
                            if c == '\u{1b}' {
                                chars.next_if_eq(&'\\');
                                break;
                            }
                        }
                    }
                    _ => {}
                }
                None
            }
            '\u{9b}' => {
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
                None
            }
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => None,
            c => Some(c),
        };
        let Some(c) = keep else { continue };
        if kept == MAX_TEST_NAME_CHARS {
            truncated = true;
            break;
        }
        out.push(c);
        kept += 1;
    }
    if truncated {
        // Make room for the mark: drop the last kept character.
        out.pop();
        out.push('…');
    }
    out
}

/// What a test report says: the counts, and the names of failing and passing tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestReport {
    /// The counts (never bounded: every test case is counted).
    pub counts: TestCounts,
    /// The report's own summary (JUnit `tests`, `failures`, `errors`, `skipped`; libtest's suite
    /// results), when it has one.
    /// It is recorded, never counted: see [`TestCounts`].
    pub summary: Option<ReportedTests>,
    /// The names, bounded as [`TestNames`] says.
    pub names: TestNames,
}

/// What one parsed report says.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A test report.
    Tests(TestReport),
    /// A coverage report.
    Coverage(CoverageCounts),
    /// A lint report.
    Lint(LintCounts),
}

/// Why a report could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The file could not be opened or read.
    #[error("cannot read {format} report: {source}")]
    Io {
        /// The report's format.
        format: ReportFormat,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The report does not have the shape its format requires.
    #[error("malformed {format} report{}: expected {expected}, found {found}", location.as_deref().map(|l| format!(" at {l}")).unwrap_or_default())]
    Malformed {
        /// The report's format.
        format: ReportFormat,
        /// Where in the input (e.g. `line 12` or `byte 4096`), when known.
        location: Option<String>,
        /// What the parser expected.
        expected: String,
        /// What it found instead.
        found: String,
    },
    /// The report (or one token in it) is larger than the limit.
    #[error("{format} report too large: {what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The report's format.
        format: ReportFormat,
        /// What was too large (`file`, `line 7`, ...).
        what: String,
        /// The limit in bytes.
        limit: u64,
    },
}

impl ReportError {
    /// The error without anything copied from the report (the `found` part of a malformed report
    /// can be any text of it): what the statement records. Says what was expected and where.
    pub fn without_content(&self) -> String {
        match self {
            ReportError::Malformed {
                format,
                location,
                expected,
                ..
            } => format!(
                "malformed {format} report{}: expected {}",
                location
                    .as_deref()
                    .map(|l| format!(" at {}", clean(l)))
                    .unwrap_or_default(),
                clean(expected)
            ),
            other => clean(&other.to_string()),
        }
    }
}

/// Drops control characters and caps the length of a message bound for the statement.
fn clean(text: &str) -> String {
    const MAX: usize = 300;
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(MAX).collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// Parses one report from a buffered reader.
pub fn parse_reader(format: ReportFormat, reader: impl BufRead) -> Result<Parsed, ReportError> {
    match format {
        ReportFormat::Junit => junit::parse(reader).map(Parsed::Tests),
        ReportFormat::LibtestJson => libtest::parse(reader).map(Parsed::Tests),
        ReportFormat::Lcov => lcov::parse(reader).map(Parsed::Coverage),
        ReportFormat::Cobertura => cobertura::parse(reader).map(Parsed::Coverage),
        ReportFormat::Sarif => sarif::parse(reader).map(Parsed::Lint),
        ReportFormat::Clippy => clippy::parse(reader).map(Parsed::Lint),
    }
}

/// Parses one report file, refusing files over [`MAX_REPORT_BYTES`].
pub fn parse_file(format: ReportFormat, path: &Path) -> Result<Parsed, ReportError> {
    parse_file_hashed(format, path).map(|(parsed, _)| parsed)
}

/// Parses one report file and returns it with the SHA-256 digest of the file's raw bytes.
///
/// The file is read once: the digest is computed over the bytes as the parser reads them, and if
/// the parser stops before the end of the file the rest is read and hashed too, so the digest is
/// always that of the whole file. Files over [`MAX_REPORT_BYTES`] are refused before parsing.
pub fn parse_file_hashed(
    format: ReportFormat,
    path: &Path,
) -> Result<(Parsed, [u8; 32]), ReportError> {
    let io = |source| ReportError::Io { format, source };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_REPORT_BYTES {
        return Err(ReportError::TooLarge {
            format,
            what: format!("file of {len} bytes"),
            limit: MAX_REPORT_BYTES,
        });
    }
    parse_hashed(format, file)
}

/// Parses a report from `source` while hashing every byte of it; see [`parse_file_hashed`].
pub(crate) fn parse_hashed(
    format: ReportFormat,
    source: impl Read,
) -> Result<(Parsed, [u8; 32]), ReportError> {
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, HashingReader::new(source));
    let parsed = parse_reader(format, &mut reader)?;
    // Bytes still in the BufReader's buffer were hashed when they were read from the source; only
    // what the source has not yielded yet is left to hash.
    let mut rest = reader.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink())
        .map_err(|source| ReportError::Io { format, source })?;
    Ok((parsed, rest.finish()))
}

/// A [`Read`] adapter that feeds every byte it yields into a SHA-256 digest.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
        }
    }

    fn finish(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n.min(buf.len())]);
        Ok(n)
    }
}

/// sha256 of a file's bytes, read in one streaming pass.
pub fn sha256_file(path: &Path) -> std::io::Result<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// Helpers shared by the parsers' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{CoverageCounts, Ratio, ReportError};

    /// One figure per dimension, for comparing in tests.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub(crate) struct Figures {
        pub(crate) lines: Option<Ratio>,
        pub(crate) branches: Option<Ratio>,
        pub(crate) functions: Option<Ratio>,
    }

    /// The figures ci-attest records (summary where there is one).
    pub(crate) fn used(c: &CoverageCounts) -> Figures {
        let [lines, branches, functions] = c.used();
        Figures {
            lines,
            branches,
            functions,
        }
    }

    /// The figures the detail entries give (summary where a part has no detail).
    pub(crate) fn counted(c: &CoverageCounts) -> Figures {
        let [lines, branches, functions] =
            [c.lines, c.branches, c.functions].map(|d| d.map(|d| d.counted));
        Figures {
            lines,
            branches,
            functions,
        }
    }

    /// The location, expected and found of a `Malformed` error; panics on anything else.
    pub(crate) fn malformed_parts<T: std::fmt::Debug>(
        result: Result<T, ReportError>,
    ) -> (Option<String>, String, String) {
        match result {
            Err(ReportError::Malformed {
                location,
                expected,
                found,
                ..
            }) => (location, expected, found),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYTEST: &[u8] = include_bytes!("../../tests/fixtures/reports/pytest-junit.xml");

    fn sha256(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    #[test]
    fn hashed_parse_digests_the_whole_file() {
        let (parsed, digest) = parse_hashed(ReportFormat::Junit, PYTEST).expect("valid report");
        assert!(matches!(
            parsed,
            Parsed::Tests(TestReport {
                counts: TestCounts { total: 7, .. },
                ..
            })
        ));
        assert_eq!(digest, sha256(PYTEST));
    }

    #[test]
    fn hashed_parse_includes_bytes_after_the_point_where_the_parser_stopped() {
        // The JUnit parser stops at Eof; trailing whitespace after the root and a large tail past
        // the BufReader's first buffer must still be in the digest.
        let mut data = PYTEST.to_vec();
        data.extend(std::iter::repeat_n(b' ', 600 * 1024));
        data.push(b'\n');
        let (_, digest) = parse_hashed(ReportFormat::Junit, &data[..]).expect("valid report");
        assert_eq!(digest, sha256(&data));
    }

    #[test]
    fn hashed_parse_of_a_file_matches_parse_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("junit.xml");
        std::fs::write(&path, PYTEST).expect("write fixture");
        let (parsed, digest) = parse_file_hashed(ReportFormat::Junit, &path).expect("valid report");
        assert_eq!(
            parsed,
            parse_file(ReportFormat::Junit, &path).expect("valid report")
        );
        assert_eq!(digest, sha256(PYTEST));
    }

    #[test]
    fn clean_name_drops_ansi_escapes_and_control_characters() {
        assert_eq!(clean_name("\u{1b}[31mred\u{1b}[0m"), "red");
        assert_eq!(clean_name("a\u{1b}]0;title\u{7}b"), "ab");
        assert_eq!(clean_name("a\u{1b}]8;;http://x\u{1b}\\b"), "ab");
        assert_eq!(clean_name("tab\there\nnl\u{0}\u{7f}\u{85}"), "tab here nl");
        assert_eq!(clean_name("\u{9b}2Jclear"), "clear");
        assert_eq!(clean_name("rtl\u{202e}txt"), "rtltxt");
        assert_eq!(clean_name("unterminated\u{1b}["), "unterminated");
        assert_eq!(clean_name("ünïcödé::ok"), "ünïcödé::ok");
    }

    #[test]
    fn clean_name_caps_at_the_limit_and_marks_the_cut() {
        let exact = "é".repeat(MAX_TEST_NAME_CHARS);
        assert_eq!(clean_name(&exact), exact);
        let long = clean_name(&"é".repeat(10 * 1024));
        assert_eq!(long.chars().count(), MAX_TEST_NAME_CHARS);
        assert!(long.ends_with("é…"));
    }

    #[test]
    fn test_names_keep_bounds_when_merged() {
        let mut a = TestNames::default();
        let mut b = TestNames::default();
        for i in 0..80 {
            a.push_failed(Some("s"), &format!("a{i}"), false);
            b.push_failed(None, &format!("b{i}"), i == 0);
        }
        b.push_passed(Some("s"), "ok");
        a.merge(b);
        assert_eq!(a.failed().len(), MAX_FAILED_TESTS);
        assert_eq!(a.failed()[80].id(), "b0");
        assert!(a.failed()[80].error);
        assert_eq!(a.failed_omitted(), 60);
        assert_eq!(a.passed(), ["s::ok"]);
    }

    fn tests_report(counts: TestCounts, summary: Option<ReportedTests>) -> TestReport {
        TestReport {
            counts,
            names: TestNames::default(),
            summary,
        }
    }

    /// A report's own test summary, as the parsers' tests write it.
    pub(crate) fn summary(tests: u64, failures: u64, errors: u64, skipped: u64) -> ReportedTests {
        ReportedTests {
            tests,
            failures,
            errors,
            skipped,
        }
    }

    #[test]
    fn a_tally_sums_the_summaries_when_every_report_has_one() {
        let mut tally = TestTally::default();
        tally.add(&tests_report(
            TestCounts::new(3, 2, 1, 0),
            Some(summary(3, 1, 0, 0)),
        ));
        tally.add(&tests_report(
            TestCounts::new(2, 1, 0, 1),
            Some(summary(2, 0, 0, 1)),
        ));
        let counts = tally.finish().expect("two reports");
        assert_eq!((counts.total, counts.passed, counts.failed), (5, 3, 1));
        assert_eq!(counts.reported, Some(summary(5, 1, 0, 1)));
        assert!(!counts.reported_mismatch);
    }

    #[test]
    fn a_tally_has_no_summary_when_one_report_lacks_it_but_still_flags_a_mismatch() {
        for order in [[0, 1], [1, 0]] {
            let reports = [
                tests_report(TestCounts::new(1, 1, 0, 0), Some(summary(1000, 0, 0, 0))),
                tests_report(TestCounts::new(2, 2, 0, 0), None),
            ];
            let mut tally = TestTally::default();
            for i in order {
                tally.add(&reports[i]);
            }
            let counts = tally.finish().expect("two reports");
            assert_eq!(counts.total, 3, "the summary never changes the counts");
            assert_eq!(counts.reported, None);
            assert!(counts.reported_mismatch);
        }
        assert_eq!(TestTally::default().finish(), None);
    }

    #[test]
    fn a_summary_agrees_when_failures_and_errors_make_the_failed_count() {
        let counts = TestCounts::new(7, 3, 2, 2);
        assert!(summary(7, 1, 1, 2).agrees_with(&counts));
        assert!(!summary(7, 2, 1, 2).agrees_with(&counts));
        assert!(!summary(8, 1, 1, 2).agrees_with(&counts));
        assert!(!summary(7, 1, 1, 1).agrees_with(&counts));
        assert!(!summary(7, u64::MAX, 3, 2).agrees_with(&counts));
    }

    #[test]
    fn coverage_figures_record_their_source_and_a_differing_detail() {
        let r = |covered, total| Ratio { covered, total };
        let mut lines = Dimension::of(Some(r(7, 10)), Some(r(8, 10))).expect("has data");
        let coverage = lines.to_coverage();
        assert_eq!((coverage.covered, coverage.total), (7, 10));
        assert_eq!(coverage.source, Some(CoverageSource::Summary));
        assert_eq!(
            coverage.detail.map(|d| (d.covered, d.total, d.percent)),
            Some((8, 10, Some(80.0)))
        );
        lines.add(&Dimension::of(None, Some(r(1, 2))).expect("has data"));
        assert_eq!(lines.source(), CoverageSource::Mixed);
        assert_eq!((lines.used, lines.counted), (r(8, 12), r(9, 12)));
        let same = Dimension::of(Some(r(1, 2)), Some(r(1, 2))).expect("has data");
        assert_eq!(same.to_coverage().detail, None);
        assert_eq!(Dimension::of(None, None), None);
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let err = parse_file_hashed(
            ReportFormat::Lcov,
            Path::new("/nonexistent/ci-attest/x.lcov"),
        )
        .expect_err("no such file");
        assert!(matches!(
            err,
            ReportError::Io {
                format: ReportFormat::Lcov,
                ..
            }
        ));
    }
}
