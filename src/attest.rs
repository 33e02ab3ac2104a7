//! The local run: a pristine worktree of the commit, the configured checks, and the statement.
//!
//! Signing and storing are separate steps (see [`crate::sign`] and [`crate::store`]), so the same
//! statement can be signed with a local key or keylessly.

use crate::collect::run::{PassedTests, Progress, RunError, run_checks};
use crate::config::Config;
use crate::git::{CommitInfo, GitError, Repo};
use crate::statement::{
    DIGEST_GIT_COMMIT, DIGEST_SHA256, Host, LocalRunPredicate, LocalRunStatement, Outcome,
    PREDICATE_TYPE, Repository, ResourceDescriptor, STATEMENT_TYPE, Source, Statement, Tool,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::SystemTime;

/// The tool's name in the predicate.
pub const TOOL_NAME: &str = "ci-attest";
/// The tool's version in the predicate.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why a run could not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    /// A git operation failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The checks could not be started.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The statement to sign.
    pub statement: LocalRunStatement,
    /// The commit it is about.
    pub commit: CommitInfo,
    /// Paths with uncommitted changes in the developer's tree (not included in the run).
    pub uncommitted: Vec<String>,
    /// The passed tests of each `tests` check, for [`crate::test_result::test_result_statement`]
    /// (not part of the signed local-run statement).
    pub passed_tests: Vec<PassedTests>,
}

/// Runs the configured checks on a pristine worktree of `rev` and builds the statement.
///
/// `ignore` lists repository folders (the store) that do not count as uncommitted changes.
pub fn run(
    repo: &Repo,
    config: &Config,
    rev: &str,
    log_dir: &Path,
    ignore: &[&Path],
    progress: &mut dyn Progress,
) -> Result<RunOutput, AttestError> {
    let id = repo.resolve(rev)?;
    let commit = repo.commit_info(&id)?;
    let uncommitted = repo.uncommitted_changes(ignore)?;
    let head = repo.resolve("HEAD").ok();
    let git_ref = if head.as_ref() == Some(&id) {
        repo.head_ref()
    } else {
        None
    };
    let repository_uri = repo.origin_url();

    let worktree = repo.pristine_worktree(&id)?;
    let toolchains = std::thread::scope(|s| {
        let probe = s.spawn(|| detect_toolchains(worktree.path()));
        let started = SystemTime::now();
        let checks = run_checks(&config.checks, worktree.path(), log_dir, progress);
        let finished = SystemTime::now();
        let toolchains = probe.join().unwrap_or_default();
        checks.map(|c| (c, started, finished, toolchains))
    });
    let (runs, started, finished, toolchains) = toolchains?;
    let checks = runs.records;
    let passed_tests = runs.passed;
    drop(worktree);

    let result = checks
        .iter()
        .fold(Outcome::Passed, |acc, c| acc.worst(c.result));
    let subject_name = format!(
        "{}@{}",
        repository_uri
            .clone()
            .unwrap_or_else(|| repo.root().display().to_string()),
        commit.id
    );
    let predicate = LocalRunPredicate {
        tool: Tool {
            name: TOOL_NAME.to_string(),
            version: TOOL_VERSION.to_string(),
        },
        host: Host {
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            toolchains,
        },
        started_on: rfc3339(started),
        finished_on: rfc3339(finished),
        source: Source {
            commit: commit.id.to_string(),
            tree: commit.tree.clone(),
            git_ref,
            pristine: true,
            uncommitted_changes_ignored: !uncommitted.is_empty(),
        },
        repository: Repository {
            uri: repository_uri,
            forge_id: None,
        },
        checks,
        result,
        isolation: None,
        config: None,
    };
    let statement = Statement {
        statement_type: STATEMENT_TYPE.to_string(),
        subject: vec![ResourceDescriptor {
            name: Some(subject_name),
            uri: None,
            digest: BTreeMap::from([
                (DIGEST_GIT_COMMIT.to_string(), commit.id.to_string()),
                (DIGEST_SHA256.to_string(), commit.sha256.clone()),
            ]),
        }],
        predicate_type: PREDICATE_TYPE.to_string(),
        predicate,
    };
    Ok(RunOutput {
        statement,
        commit,
        uncommitted,
        passed_tests,
    })
}

/// Formats a time as RFC 3339 UTC with second precision.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Versions of the toolchains a project of this shape uses, probed in parallel with the checks.
fn detect_toolchains(worktree: &Path) -> BTreeMap<String, String> {
    let has = |f: &str| worktree.join(f).exists();
    let mut probes: Vec<(&str, &[&str])> = Vec::new();
    if has("Cargo.toml") {
        probes.push(("rustc", &["--version"]));
        probes.push(("cargo", &["--version"]));
    }
    if has("package.json") {
        probes.push(("node", &["--version"]));
        probes.push(("npm", &["--version"]));
    }
    if has("pyproject.toml") || has("setup.py") || has("requirements.txt") {
        probes.push(("python3", &["--version"]));
    }
    if has("go.mod") {
        probes.push(("go", &["version"]));
    }
    let mut found = BTreeMap::new();
    for (tool, args) in probes {
        let out = Command::new(tool)
            .args(args)
            .current_dir(worktree)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        if let Some(out) = out.ok().filter(|o| o.status.success()) {
            let line = String::from_utf8_lossy(&out.stdout);
            let line = line.lines().next().unwrap_or("").trim();
            if !line.is_empty() {
                found.insert(tool.to_string(), line.chars().take(200).collect());
            }
        }
    }
    found
}
