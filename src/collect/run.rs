//! Running the configured checks in a worktree and turning their output into [`CheckRecord`]s.
//!
//! Each check runs with `sh -c` in the worktree; its combined stdout and stderr go to a log file
//! whose sha256 is recorded (the output itself never goes into the statement). Reports are parsed
//! after the command ends, each in one streaming pass that also hashes the file.

use super::{Parsed, ReportError, TestNames, parse_file_hashed};
use crate::collect::{CoverageCounts, LintCounts, TestCounts};
use crate::config::{CheckConfig, is_inside};
use crate::statement::{CheckKind, CheckRecord, CoverageRecord, FileRecord, Outcome};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Receives progress events; the CLI draws them, tests may record them.
pub trait Progress {
    /// A check is about to start.
    fn check_started(&mut self, index: usize, count: usize, name: &str);
    /// A check has finished.
    fn check_finished(&mut self, name: &str, outcome: Outcome, elapsed: Duration);
}

/// Progress that goes nowhere.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn check_started(&mut self, _: usize, _: usize, _: &str) {}
    fn check_finished(&mut self, _: &str, _: Outcome, _: Duration) {}
}

/// Why checks could not be run at all (a failing check is not an error: it is a result).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The log folder or a log file could not be created.
    #[error("cannot create log file {path}: {source}")]
    Log {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The names of the tests that passed in one `tests` check.
///
/// They are kept beside the check's [`CheckRecord`], not in it: the signed local-run predicate
/// names only failing tests, while the in-toto test-result statement
/// ([`crate::test_result`]) lists the passing ones too. At most
/// [`super::MAX_PASSED_TESTS`] ids are kept; `omitted` counts the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassedTests {
    /// The check's name (as in its [`CheckRecord`]).
    pub check: String,
    /// Ids (`suite::name`) of the tests that passed, in report order.
    pub names: Vec<String>,
    /// How many more tests passed than `names` lists.
    pub omitted: u64,
}

/// What [`run_checks`] produced: the records to sign and, beside them, the passed test names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckRuns {
    /// One record per check, in configuration order.
    pub records: Vec<CheckRecord>,
    /// One entry per `tests` check, in configuration order.
    pub passed: Vec<PassedTests>,
}

/// Runs every check in order in `worktree`, writing logs into `log_dir`.
pub fn run_checks(
    checks: &[CheckConfig],
    worktree: &Path,
    log_dir: &Path,
    progress: &mut dyn Progress,
) -> Result<CheckRuns, RunError> {
    std::fs::create_dir_all(log_dir).map_err(|source| RunError::Log {
        path: log_dir.display().to_string(),
        source,
    })?;
    let mut runs = CheckRuns {
        records: Vec::with_capacity(checks.len()),
        passed: Vec::new(),
    };
    for (i, check) in checks.iter().enumerate() {
        progress.check_started(i, checks.len(), &check.name);
        let (record, passed) = run_check(check, worktree, log_dir)?;
        progress.check_finished(
            &check.name,
            record.result,
            Duration::from_millis(record.duration_ms),
        );
        runs.records.push(record);
        runs.passed.extend(passed);
    }
    Ok(runs)
}

fn run_check(
    check: &CheckConfig,
    worktree: &Path,
    log_dir: &Path,
) -> Result<(CheckRecord, Option<PassedTests>), RunError> {
    let log_path = log_dir.join(format!("{}.log", check.name));
    let log_err = |source| RunError::Log {
        path: log_path.display().to_string(),
        source,
    };
    let log = File::create(&log_path).map_err(log_err)?;
    let log_for_stderr = log.try_clone().map_err(log_err)?;
    let started = Instant::now();
    let mut problems = Vec::new();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(&check.run)
        .current_dir(worktree)
        .env("CI_ATTEST", "1")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_for_stderr);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let status = match cmd.spawn() {
        Ok(child) => wait(child, check.timeout_secs.map(Duration::from_secs)),
        Err(e) => Err(format!("command could not start: {e}")),
    };
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let exit_code = match status {
        Ok(status) => {
            if !status.success() {
                problems.push(match status.code() {
                    Some(code) => format!("command exited with code {code}"),
                    None => "command was killed by a signal".to_string(),
                });
            }
            status.code()
        }
        Err(problem) => {
            problems.push(problem);
            None
        }
    };

    let mut tests: Option<TestCounts> = None;
    let mut coverage: Option<CoverageCounts> = None;
    let mut lint: Option<LintCounts> = None;
    let mut reports = Vec::new();
    let mut names = TestNames::default();
    for report in &check.reports {
        let label = report.path.display().to_string();
        match parse_report(worktree, &report.path, report.format) {
            Ok((parsed, sha256)) => {
                match parsed {
                    Parsed::Tests(t) => {
                        tests.get_or_insert_default().add(&t.counts);
                        names.merge(t.names);
                    }
                    Parsed::Coverage(c) => coverage.get_or_insert_default().add(&c),
                    Parsed::Lint(l) => lint.get_or_insert_default().add(&l),
                }
                reports.push(FileRecord {
                    path: label,
                    format: Some(report.format.to_string()),
                    sha256: hex::encode(sha256),
                });
            }
            Err(e) => problems.push(format!("report {label}: {e}")),
        }
    }

    let log_sha256 = super::sha256_file(&log_path).map_err(log_err)?;
    let mut result = if problems.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed
    };
    if let Some(t) = &tests {
        if t.failed > 0 {
            result = Outcome::Failed;
        }
    }
    if let Some(l) = &lint {
        if l.errors > 0 {
            result = Outcome::Failed;
        } else if l.warnings > 0 {
            result = result.worst(Outcome::Warned);
        }
    }
    // A check of a kind whose report could not be read has no counts for that kind: record the
    // absence rather than zeros, so a policy threshold on it is a missing metric, never a pass.
    // Test names are recorded for `tests` checks only, like their counts.
    let is_tests = check.kind == CheckKind::Tests;
    let (failed_tests, failed_tests_omitted, passed_names, passed_omitted) = if is_tests {
        names.into_parts()
    } else {
        TestNames::default().into_parts()
    };
    let record = CheckRecord {
        name: check.name.clone(),
        kind: check.kind,
        command: check.run.clone(),
        exit_code,
        duration_ms,
        result,
        tests: tests.filter(|_| check.kind == CheckKind::Tests),
        coverage: coverage
            .filter(|_| check.kind == CheckKind::Coverage)
            .map(|c| CoverageRecord {
                lines: c.lines.map(Into::into),
                branches: c.branches.map(Into::into),
                functions: c.functions.map(Into::into),
            }),
        lint: lint.filter(|_| check.kind == CheckKind::Lint),
        failed_tests,
        failed_tests_omitted,
        network: None,
        reports,
        log: Some(FileRecord {
            path: log_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            format: None,
            sha256: hex::encode(log_sha256),
        }),
        problems,
    };
    let passed = is_tests.then(|| PassedTests {
        check: check.name.clone(),
        names: passed_names,
        omitted: passed_omitted,
    });
    Ok((record, passed))
}

/// Resolves a report path inside the worktree (refusing symlinks that lead out of it) and parses it.
fn parse_report(
    worktree: &Path,
    relative: &Path,
    format: super::ReportFormat,
) -> Result<(Parsed, [u8; 32]), ReportError> {
    let io = |source| ReportError::Io { format, source };
    if !is_inside(relative) {
        return Err(io(std::io::Error::other("path leaves the worktree")));
    }
    let path: PathBuf = worktree.join(relative);
    if !path.exists() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "expected the command to write {}, found no such file",
                relative.display()
            ),
        )));
    }
    let real = path.canonicalize().map_err(io)?;
    let root = worktree.canonicalize().map_err(io)?;
    if !real.starts_with(&root) {
        return Err(io(std::io::Error::other(format!(
            "expected a file inside the worktree, found a link to {}",
            real.display()
        ))));
    }
    parse_file_hashed(format, &real)
}

fn wait(mut child: std::process::Child, timeout: Option<Duration>) -> Result<ExitStatus, String> {
    let Some(timeout) = timeout else {
        return child
            .wait()
            .map_err(|e| format!("waiting for command: {e}"));
    };
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                kill_group(&mut child);
                let _ = child.wait();
                return Err(format!(
                    "command timed out after {} s and was killed",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for command: {e}")),
        }
    }
}

fn kill_group(child: &mut std::process::Child) {
    // The command runs in its own process group: kill the whole group so grandchildren die too.
    let pgid = format!("-{}", child.id());
    let killed = Command::new("kill")
        .args(["-KILL", "--", &pgid])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !killed {
        let _ = child.kill();
    }
}
