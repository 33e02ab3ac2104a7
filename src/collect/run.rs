//! Running the configured checks in a worktree and turning their output into [`CheckRecord`]s.
//!
//! Each check runs with `sh -c` in the worktree; its combined stdout and stderr go to a log file
//! whose sha256 is recorded (the output itself never goes into the statement). Reports are parsed
//! after the command ends, each in one streaming pass that also hashes the file.

use super::{Parsed, ReportError, TestNames, TestTally};
use crate::collect::{CoverageCounts, LintCounts};
use crate::config::{CheckConfig, is_inside};
use crate::sandbox::{Bubblewrap, Seal};
use crate::statement::{CheckKind, CheckRecord, FileRecord, Outcome};
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Receives progress events; the CLI draws them, tests may record them.
pub trait Progress {
    /// A check is about to start.
    fn check_started(&mut self, index: usize, count: usize, name: &str);
    /// A check has finished.
    fn check_finished(&mut self, name: &str, outcome: Outcome, elapsed: Duration);
    /// The last line the running check has written so far (called a few times a second while it
    /// runs, only when the line changed). The line is the check's own output, so it is cleaned:
    /// control characters (terminal escapes) are dropped and it is at most
    /// [`MAX_PROGRESS_LINE_CHARS`] characters.
    fn check_output(&mut self, _last_line: &str) {}
}

/// Most characters of a check's output line that progress shows.
pub const MAX_PROGRESS_LINE_CHARS: usize = 160;

/// How long a check is polled every millisecond before the pause between polls grows.
const QUICK_CHECK: Duration = Duration::from_millis(100);

/// How often a running check's log is looked at for its last line.
const OUTPUT_POLL: Duration = Duration::from_millis(250);

/// The last non-empty line of the log's final bytes, cleaned for a terminal (see
/// [`Progress::check_output`]).
fn last_line(log: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(log).ok()?;
    let len = f.metadata().ok()?.len();
    let tail = len.min(4096);
    f.seek(SeekFrom::Start(len - tail)).ok()?;
    let mut buf = Vec::with_capacity(tail as usize);
    f.take(tail).read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    // A progress bar redraws with `\r`: what follows the last one is what a terminal shows.
    let line = text
        .split('\n')
        .map(|l| l.rsplit('\r').find(|s| !s.trim().is_empty()).unwrap_or(""))
        .rfind(|l| !l.trim().is_empty())?;
    let clean: String = strip_escapes(line)
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_PROGRESS_LINE_CHARS)
        .collect();
    let clean = clean.trim().to_string();
    (!clean.is_empty()).then_some(clean)
}

/// Drops ANSI escape sequences (`ESC [ ... final`, `ESC ] ... BEL/ST`, and two-byte `ESC x`).
fn strip_escapes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Progress that goes nowhere.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn check_started(&mut self, _: usize, _: usize, _: &str) {}
    fn check_finished(&mut self, _: &str, _: Outcome, _: Duration) {}
}

/// How the checks are sealed off from the signer's machine.
#[derive(Debug)]
pub struct Sealing<'a> {
    /// The sandbox and what it shows and hides; `None` runs checks as plain child processes.
    pub sandbox: Option<(&'a Bubblewrap, Seal)>,
    /// The whole environment of every check (an allow-list; see [`crate::sandbox::check_env`]).
    pub env: Vec<(OsString, OsString)>,
    /// Set (by the CLI's signal handler) when the user interrupts: the running check is killed.
    pub interrupted: &'a AtomicBool,
}

/// Why checks could not be run at all (a failing check is not an error: it is a result).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The user interrupted the run (Ctrl-C, SIGTERM); the running check was killed.
    #[error("interrupted: the running check was killed and nothing was signed")]
    Interrupted,
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

/// Runs every check in order in `worktree` (sealed as `sealing` says), writing logs into `log_dir`.
pub fn run_checks(
    checks: &[CheckConfig],
    worktree: &Path,
    log_dir: &Path,
    sealing: &Sealing<'_>,
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
        let (record, passed) = run_check(check, worktree, log_dir, sealing, progress)?;
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
    sealing: &Sealing<'_>,
    progress: &mut dyn Progress,
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
    let mut cmd = match &sealing.sandbox {
        Some((bwrap, seal)) => {
            let seal = Seal {
                network: check.network,
                ..seal.clone()
            };
            bwrap.command(&seal, &check.run)
        }
        None => {
            let mut cmd = Command::new("sh");
            cmd.arg("-c").arg(&check.run).current_dir(worktree);
            cmd
        }
    };
    cmd.env_clear()
        .envs(sealing.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_for_stderr);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let timeout = check.timeout_secs.map(Duration::from_secs);
    let deadline = timeout.map(|t| started + t);
    let status = match cmd.spawn() {
        Ok(child) => {
            let mut shown = String::new();
            let mut tail = || {
                if let Some(line) = last_line(&log_path) {
                    if line != shown {
                        progress.check_output(&line);
                        shown = line;
                    }
                }
            };
            wait(child, timeout, sealing.interrupted, &mut tail)
        }
        Err(e) => Err(Waited::Problem(format!("command could not start: {e}"))),
    };
    let status = match status {
        Err(Waited::Interrupted) => return Err(RunError::Interrupted),
        Err(Waited::Problem(p)) => Err(p),
        Ok(s) => Ok(s),
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

    let mut tests = TestTally::default();
    let mut coverage: Option<CoverageCounts> = None;
    let mut lint: Option<LintCounts> = None;
    let mut reports = Vec::new();
    let mut names = TestNames::default();
    for report in &check.reports {
        let label = report.path.display().to_string();
        let (root, relative) = report_location(worktree, &report.path, sealing);
        match parse_report(&root, &relative, report.format, deadline) {
            Ok((parsed, sha256)) => {
                match parsed {
                    Parsed::Tests(t) => {
                        tests.add(&t);
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
            // The statement says what and where, never what the report contained: a malformed
            // report may hold anything (a token on an LCOV line), and attestations are often public.
            Err(e) => problems.push(format!("report {label}: {}", e.without_content())),
        }
    }

    let tests = tests.finish();
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
            .map(|c| c.to_record()),
        lint: lint.filter(|_| check.kind == CheckKind::Lint),
        failed_tests,
        failed_tests_omitted,
        network: (!check.network).then_some(false),
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

/// Where ci-attest finds a report the checks wrote at `relative`: in the worktree, or, when the
/// path is inside a `[[cache]]` folder the sandbox mounted there, in that cache's own folder (which
/// the checks saw at that path). The report must then stay inside the cache.
fn report_location(worktree: &Path, relative: &Path, sealing: &Sealing<'_>) -> (PathBuf, PathBuf) {
    let plain: PathBuf = relative
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    if let Some((_, seal)) = &sealing.sandbox {
        for (source, target) in &seal.binds {
            let Ok(mount) = target.strip_prefix(&seal.repo_root) else {
                continue;
            };
            if let Ok(rest) = plain.strip_prefix(mount) {
                if !mount.as_os_str().is_empty() {
                    return (source.clone(), rest.to_path_buf());
                }
            }
        }
    }
    (worktree.to_path_buf(), relative.to_path_buf())
}

/// Resolves a report path inside the worktree and parses it, under the check's deadline.
///
/// The report must be a regular file whose real path is inside the worktree: a link out of it, a
/// FIFO, a device or a folder is refused before anything is read, and the file is opened without
/// following a final link and without blocking, then checked again on the open handle.
fn parse_report(
    worktree: &Path,
    relative: &Path,
    format: super::ReportFormat,
    deadline: Option<Instant>,
) -> Result<(Parsed, [u8; 32]), ReportError> {
    let io = |source| ReportError::Io { format, source };
    if !is_inside(relative) {
        return Err(io(std::io::Error::other("path leaves the worktree")));
    }
    let path: PathBuf = worktree.join(relative);
    if std::fs::symlink_metadata(&path).is_err() {
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
        return Err(io(std::io::Error::other(
            "expected a file inside the worktree, found a link that leads out of it",
        )));
    }
    let kind = |meta: &std::fs::Metadata| {
        let t = meta.file_type();
        if t.is_file() {
            None
        } else if t.is_dir() {
            Some("a folder")
        } else if t.is_symlink() {
            Some("a symbolic link")
        } else {
            Some("a FIFO, socket or device")
        }
    };
    let not_regular = |what: &str| {
        io(std::io::Error::other(format!(
            "expected a regular file, found {what}"
        )))
    };
    if let Some(what) = kind(&std::fs::symlink_metadata(&real).map_err(io)?) {
        return Err(not_regular(what));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOFOLLOW;
        options.custom_flags(flags.bits() as i32);
    }
    let file = options.open(&real).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if let Some(what) = kind(&meta) {
        return Err(not_regular(what));
    }
    if meta.len() > super::MAX_REPORT_BYTES {
        return Err(ReportError::TooLarge {
            format,
            what: format!("file of {} bytes", meta.len()),
            limit: super::MAX_REPORT_BYTES,
        });
    }
    super::parse_hashed(
        format,
        Deadline {
            inner: file,
            deadline,
        },
    )
}

/// A reader that fails once the check's deadline has passed.
struct Deadline<R> {
    inner: R,
    deadline: Option<Instant>,
}

impl<R: std::io::Read> std::io::Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.deadline.is_some_and(|d| Instant::now() > d) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the check's timeout passed while its report was being read",
            ));
        }
        self.inner.read(buf)
    }
}

enum Waited {
    Interrupted,
    Problem(String),
}

fn wait(
    mut child: std::process::Child,
    timeout: Option<Duration>,
    interrupted: &AtomicBool,
    on_output: &mut dyn FnMut(),
) -> Result<ExitStatus, Waited> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut pause = Duration::from_millis(1);
    let started = Instant::now();
    let mut next_look = started + OUTPUT_POLL;
    let result = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if interrupted.load(Ordering::SeqCst) => break Err(Waited::Interrupted),
            Ok(None) if deadline.is_some_and(|d| Instant::now() >= d) => {
                kill_group(&mut child);
                let _ = child.wait();
                break Err(Waited::Problem(format!(
                    "command timed out after {} s and was killed",
                    timeout.unwrap_or_default().as_secs()
                )));
            }
            Ok(None) => {
                if Instant::now() >= next_look {
                    on_output();
                    next_look = Instant::now() + OUTPUT_POLL;
                }
                std::thread::sleep(pause);
                // A quick check is seen to end within a millisecond; a long one is polled every
                // 20 ms (a `waitpid` each: nothing next to the check itself).
                if started.elapsed() > QUICK_CHECK {
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
            }
            Err(e) => break Err(Waited::Problem(format!("waiting for command: {e}"))),
        }
    };
    // Whatever happened, nothing the command started may outlive it: in a sandbox the PID
    // namespace dies with its first process; without one, the process group is killed.
    kill_group(&mut child);
    let _ = child.wait();
    result
}

fn kill_group(child: &mut std::process::Child) {
    // The command runs in its own process group: kill the whole group so grandchildren die too.
    let killed = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|pid| {
            rustix::process::kill_process_group(pid, rustix::process::Signal::KILL).is_ok()
        });
    if !killed {
        let _ = child.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[derive(Default)]
    struct Recorded {
        lines: Vec<String>,
        finished: Vec<(String, Outcome)>,
    }

    impl Progress for Recorded {
        fn check_started(&mut self, _: usize, _: usize, _: &str) {}
        fn check_finished(&mut self, name: &str, outcome: Outcome, _: Duration) {
            self.finished.push((name.to_string(), outcome));
        }
        fn check_output(&mut self, last_line: &str) {
            self.lines.push(last_line.to_string());
        }
    }

    #[test]
    fn the_last_line_is_what_a_terminal_would_show_without_its_escapes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("log");
        let cases: [(&[u8], Option<&str>); 6] = [
            (b"one\ntwo\n\n", Some("two")),
            (b"compiling 1/9\rcompiling 9/9\r", Some("compiling 9/9")),
            (
                b"\x1b[1;32m   Compiling\x1b[0m foo v0.1\n",
                Some("Compiling foo v0.1"),
            ),
            (b"\x1b]0;title\x07ok \x07\x08bell\n", Some("ok bell")),
            (b"\n \n\t\n", None),
            (b"", None),
        ];
        for (text, want) in cases {
            std::fs::write(&log, text).expect("write");
            assert_eq!(last_line(&log).as_deref(), want, "{text:?}");
        }
        std::fs::write(&log, "x".repeat(10_000)).expect("write");
        assert_eq!(
            last_line(&log).map(|l| l.chars().count()),
            Some(MAX_PROGRESS_LINE_CHARS)
        );
    }

    #[test]
    fn a_running_check_reports_its_latest_output_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config::parse(
            "[[check]]\nname = \"slow\"\nkind = \"custom\"\nrun = \"echo starting; sleep 0.6; echo halfway; sleep 0.6\"\n",
            "c.toml",
        )
        .expect("config");
        let interrupted = AtomicBool::new(false);
        let sealing = Sealing {
            sandbox: None,
            env: vec![("PATH".into(), std::env::var_os("PATH").unwrap_or_default())],
            interrupted: &interrupted,
        };
        let mut progress = Recorded::default();
        let runs = run_checks(
            &config.checks,
            dir.path(),
            &dir.path().join("logs"),
            &sealing,
            &mut progress,
        )
        .expect("runs");
        assert_eq!(runs.records[0].result, Outcome::Passed);
        // Each change is reported once, in order (under load a poll may miss "starting").
        assert_eq!(progress.lines.last().map(String::as_str), Some("halfway"));
        assert!(
            progress.lines == ["halfway"] || progress.lines == ["starting", "halfway"],
            "{:?}",
            progress.lines
        );
        assert_eq!(progress.finished, [("slow".to_string(), Outcome::Passed)]);
    }
}
