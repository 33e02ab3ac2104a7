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

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{BufRead, Read};
use std::path::Path;

/// Longest single line (LCOV, JSON streams) or XML token a parser accepts: a longer one is malformed
/// input, not something to buffer.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024 * 1024;

/// Largest report file accepted at all.
pub const MAX_REPORT_BYTES: u64 = 8 * 1024 * 1024 * 1024;

/// The report formats ci-attest can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportFormat {
    /// JUnit XML (pytest, Maven Surefire, nextest, jest-junit...).
    Junit,
    /// LCOV tracefile (`genhtml` input; cargo-llvm-cov, c8, coverage.py `lcov`).
    Lcov,
    /// Cobertura XML (coverage.py `xml`, cargo-llvm-cov `--cobertura`, jest).
    Cobertura,
    /// SARIF 2.1.0 (static analysers).
    Sarif,
    /// cargo's `--message-format=json` stream from `cargo clippy`.
    Clippy,
    /// libtest's JSON event stream (`--format json`, also nextest's libtest-json output).
    LibtestJson,
}

impl ReportFormat {
    /// The name used in `.ci-attest.toml` and in the predicate.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Junit => "junit",
            ReportFormat::Lcov => "lcov",
            ReportFormat::Cobertura => "cobertura",
            ReportFormat::Sarif => "sarif",
            ReportFormat::Clippy => "clippy",
            ReportFormat::LibtestJson => "libtest-json",
        }
    }
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Test counts from a test report. `failed` includes errored tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCounts {
    /// All test cases seen.
    pub total: u64,
    /// Test cases that passed.
    pub passed: u64,
    /// Test cases that failed or errored.
    pub failed: u64,
    /// Test cases that were skipped or ignored.
    pub skipped: u64,
}

impl TestCounts {
    /// Adds another report's counts to these (saturating: a crafted report cannot overflow them).
    pub fn add(&mut self, other: &TestCounts) {
        self.total = self.total.saturating_add(other.total);
        self.passed = self.passed.saturating_add(other.passed);
        self.failed = self.failed.saturating_add(other.failed);
        self.skipped = self.skipped.saturating_add(other.skipped);
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

/// Coverage counts from a coverage report; a dimension the report does not give is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageCounts {
    /// Lines covered / lines instrumented.
    pub lines: Option<Ratio>,
    /// Branches covered / branches found.
    pub branches: Option<Ratio>,
    /// Functions hit / functions found.
    pub functions: Option<Ratio>,
}

impl CoverageCounts {
    /// Adds another report's counts to these (a dimension present in either is present in the sum).
    pub fn add(&mut self, other: &CoverageCounts) {
        fn merge(a: &mut Option<Ratio>, b: &Option<Ratio>) {
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

/// What one parsed report says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Parsed {
    /// A test report.
    Tests(TestCounts),
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
    use super::ReportError;

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
        assert!(matches!(parsed, Parsed::Tests(TestCounts { total: 7, .. })));
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
