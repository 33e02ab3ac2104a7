//! The local run: a pristine worktree of the commit, the configured checks, and the statement.
//!
//! Signing and storing are separate steps (see [`crate::sign`] and [`crate::store`]), so the same
//! statement can be signed with a local key or keylessly.

use crate::collect::run::{PassedTests, Progress, RunError, Sealing, run_checks};
use crate::config::{CONFIG_FILE, Config, ConfigError, LOCAL_SETTINGS_FILE};
use crate::git::{CommitId, CommitInfo, GitError, Repo};
use crate::sandbox::{Bubblewrap, Seal, secret_paths};
use crate::statement::{
    ConfigRecord, ConfigSource, DIGEST_GIT_COMMIT, DIGEST_SHA256, Host, Isolation, IsolationMode,
    LocalRunPredicate, LocalRunStatement, Outcome, PREDICATE_TYPE, Repository, ResourceDescriptor,
    STATEMENT_TYPE, Source, Statement, Tool,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
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
    /// The commit's configuration (or the override) cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The commit has no `.ci-attest.toml`.
    #[error(
        "commit {commit} has no {CONFIG_FILE}: run `ci-attest init`, commit the file, then run again (or pass --config FILE, which the attestation records as an override)"
    )]
    NoConfig {
        /// The commit.
        commit: String,
    },
    /// The run folder could not be made.
    #[error("cannot create the run folder in {path}: {source}")]
    RunDir {
        /// The parent folder.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// How the checks of a run are isolated.
#[derive(Debug, Clone)]
pub enum IsolationChoice {
    /// Sealed in bubblewrap.
    Sandbox(Bubblewrap),
    /// Plain child processes (recorded as `isolation: none`).
    None,
}

/// Everything a run needs besides the repository.
pub struct RunOptions<'a> {
    /// The revision to attest.
    pub rev: &'a str,
    /// `run --config FILE`: replaces the commit's configuration (recorded as an override).
    pub config_override: Option<&'a Path>,
    /// Where check logs go.
    pub log_dir: &'a Path,
    /// Repository folders (the store) that do not count as uncommitted changes.
    pub ignore: &'a [&'a Path],
    /// Sandbox or none.
    pub isolation: IsolationChoice,
    /// Secrets to hide from checks besides the built-in list (key file or folder, password file,
    /// store, settings).
    pub hide: Vec<PathBuf>,
    /// The signer's home folder (for its credential folders).
    pub home: Option<PathBuf>,
    /// The signer's user id (for `/run/user/<uid>`).
    pub uid: u32,
    /// The environment of every check (see [`crate::sandbox::check_env`]).
    pub env: Vec<(OsString, OsString)>,
    /// Set when the user interrupts.
    pub interrupted: &'a AtomicBool,
    /// Folder under which the run's temporary checkout is made.
    pub run_root: PathBuf,
    /// The clock.
    pub now: &'a dyn Fn() -> SystemTime,
    /// Mount the configured `[[cache]]` folders (false: `run --no-cache`, a run from scratch).
    pub use_caches: bool,
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
    /// Things the signer should know (the working tree's config differs, ignored settings...).
    pub warnings: Vec<String>,
    /// The configuration that decided what ran.
    pub config: Config,
    /// The passed tests of each `tests` check, for [`crate::test_result::test_result_statement`]
    /// (not part of the signed local-run statement).
    pub passed_tests: Vec<PassedTests>,
}

/// Runs the commit's configured checks on a pristine checkout of `rev` and builds the statement.
pub fn run(
    repo: &Repo,
    options: &RunOptions<'_>,
    progress: &mut dyn Progress,
) -> Result<RunOutput, AttestError> {
    // A full commit id (as the CLI passes) needs no resolving: `cat-file` checks it is a commit.
    let id = match CommitId::parse(options.rev) {
        Some(id) => id,
        None => repo.resolve(options.rev)?,
    };
    // Only a sandbox hides the other worktrees, so only a sandboxed run lists them.
    let worktrees = match &options.isolation {
        IsolationChoice::Sandbox(_) => crate::git::Worktrees::Listed,
        IsolationChoice::None => crate::git::Worktrees::NotNeeded,
    };
    let path = options
        .env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_os_str());
    // The run folder and the pristine checkout of the commit (`git read-tree`).
    let run_root: &Path = &options.run_root;
    let id_ref = &id;
    let prepare = move |dirs: &crate::git::GitDirs| -> Result<_, AttestError> {
        remove_stale_runs(run_root);
        std::fs::create_dir_all(run_root).map_err(|source| AttestError::RunDir {
            path: run_root.display().to_string(),
            source,
        })?;
        let run_dir = tempfile::Builder::new()
            .prefix(&format!("{RUN_PREFIX}{}-", std::process::id()))
            .tempdir_in(run_root)
            .map_err(|source| AttestError::RunDir {
                path: run_root.display().to_string(),
                source,
            })?;
        let checkout = repo.pristine_checkout_with(dirs, id_ref, run_dir.path(), path)?;
        Ok((run_dir, checkout))
    };
    // With the git folders already known (the process that found the repository read them), the
    // checkout is made while the facts are read: `read-tree` beside `cat-file`, `status` and
    // `remote`, instead of after them. A facts error is reported first either way.
    let (facts, run_dir, checkout) = match repo.known_dirs() {
        Some(dirs) => {
            let (facts, prepared) = std::thread::scope(|s| {
                let prepared = s.spawn(|| prepare(dirs));
                let facts = repo.run_facts(&id, options.ignore, worktrees);
                (facts, prepared.join())
            });
            let facts = facts?;
            let (run_dir, checkout) = prepared.map_err(|_| AttestError::RunDir {
                path: run_root.display().to_string(),
                source: std::io::Error::other("the checkout thread panicked"),
            })??;
            (facts, run_dir, checkout)
        }
        None => {
            let facts = repo.run_facts(&id, options.ignore, worktrees)?;
            let (run_dir, checkout) = prepare(&facts.dirs)?;
            (facts, run_dir, checkout)
        }
    };
    let commit = facts.commit;
    let uncommitted = facts.uncommitted;
    let git_ref = if facts.head.as_ref() == Some(&id) {
        facts.head_ref
    } else {
        None
    };
    let repository_uri = facts.origin_url;

    let mut warnings = Vec::new();
    let (config, config_record) = load_config(
        repo,
        &checkout,
        options.config_override,
        &commit,
        &mut warnings,
    )?;
    if config.has_signer_settings {
        warnings.push(format!(
            "[signing] and [store] in {CONFIG_FILE} are ignored: a commit does not choose the key or the store; set them in {LOCAL_SETTINGS_FILE} (untracked) or ~/.config/ci-attest/config.toml, or pass --key"
        ));
    }

    let (sandbox, isolation) = match &options.isolation {
        IsolationChoice::Sandbox(bwrap) => {
            let objects_at = run_dir.path().join("objects");
            checkout.point_objects_at(&objects_at)?;
            let mut extra = options.hide.clone();
            extra.push(checkout.common_dir().to_path_buf());
            extra.extend(facts.worktrees.iter().cloned());
            let seal = Seal {
                repo_root: repo.root().to_path_buf(),
                checkout: checkout.path().to_path_buf(),
                objects: checkout.objects().to_path_buf(),
                objects_at,
                run_dir: run_dir.path().to_path_buf(),
                hide: secret_paths(options.home.as_deref(), options.uid, &extra),
                network: true,
                binds: Vec::new(),
            };
            (
                Some((bwrap, seal)),
                Isolation {
                    mode: IsolationMode::Sandbox,
                    mechanism: Some(bwrap.mechanism().to_string()),
                },
            )
        }
        IsolationChoice::None => (
            None,
            Isolation {
                mode: IsolationMode::None,
                mechanism: None,
            },
        ),
    };
    let mut sealing = Sealing {
        sandbox,
        env: options.env.clone(),
        interrupted: options.interrupted,
    };
    let probe_dir = sealing
        .sandbox
        .as_ref()
        .map_or(checkout.path(), |(_, seal)| seal.repo_root.as_path())
        .to_path_buf();
    // Caches are keyed by the toolchains, so with caches the probe runs first; without, beside
    // the checks.
    let (caches, early_toolchains) = if config.caches.is_empty() || !options.use_caches {
        (crate::cache::Caches::default(), None)
    } else if sealing.sandbox.is_none() {
        warnings.push(
            "the [[cache]] folders are not used: caches are mounted by the sandbox, and this run has none (isolation: none)".to_string(),
        );
        (crate::cache::Caches::default(), None)
    } else {
        let toolchains = detect_toolchains(checkout.path(), &probe_dir, &sealing);
        let caches = mount_caches(
            &config,
            &checkout,
            repo.root(),
            run_dir.path(),
            options.home.as_deref(),
            &toolchains,
            &mut warnings,
        );
        if let Some((_, seal)) = sealing.sandbox.as_mut() {
            seal.binds = caches.binds();
        }
        (caches, Some(toolchains))
    };
    let toolchains = std::thread::scope(|s| {
        let probe = early_toolchains
            .is_none()
            .then(|| s.spawn(|| detect_toolchains(checkout.path(), &probe_dir, &sealing)));
        let started = (options.now)();
        let checks = run_checks(
            &config.checks,
            checkout.path(),
            options.log_dir,
            &sealing,
            progress,
        );
        let finished = (options.now)();
        let toolchains = match probe {
            Some(p) => p.join().unwrap_or_default(),
            None => early_toolchains.clone().unwrap_or_default(),
        };
        checks.map(|c| (c, started, finished, toolchains))
    });
    let (runs, started, finished, toolchains) = toolchains?;
    let checks = runs.records;
    let passed_tests = runs.passed;
    drop(sealing);
    let cache_records = caches.records();
    drop(caches);
    drop(checkout);
    drop(run_dir);

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
        isolation: Some(isolation),
        config: Some(config_record),
        caches: cache_records,
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
        warnings,
        config,
        passed_tests,
    })
}

/// Name prefix of run folders: `ci-attest-run-<pid>-<random>`.
const RUN_PREFIX: &str = "ci-attest-run-";

/// Removes run folders left by a run that crashed (its process is gone).
fn remove_stale_runs(run_root: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(run_root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(RUN_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest
            .split('-')
            .next()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Prepares the configured caches for this run (see [`crate::cache::prepare`]) and gives the
/// checkout's unchanged files the times of the previous cached run; what cannot be done is said in
/// `warnings`.
fn mount_caches(
    config: &Config,
    checkout: &crate::git::Checkout,
    repo_root: &Path,
    run_dir: &Path,
    home: Option<&Path>,
    toolchains: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> crate::cache::Caches {
    let root = crate::cache::cache_root(checkout.common_dir());
    let caches = crate::cache::prepare(
        &config.caches,
        &crate::cache::CachePaths {
            root: &root,
            checkout: checkout.path(),
            repo_root,
            home,
            keep_visible: &[run_dir],
        },
        toolchains,
    );
    warnings.extend(caches.skipped.iter().cloned());
    if !caches.mounted.is_empty() {
        let kept = checkout
            .tracked_files()
            .map_err(|e| e.to_string())
            .and_then(|files| caches.restore_file_times(checkout.path(), &files));
        if let Err(why) = kept {
            warnings.push(format!(
                "the checkout's files keep fresh times (a full rebuild in the caches): {why}"
            ));
        }
    }
    caches
}

/// The commit's `.ci-attest.toml` (from the checkout), or the override; and its record.
fn load_config(
    repo: &Repo,
    checkout: &crate::git::Checkout,
    config_override: Option<&Path>,
    commit: &CommitInfo,
    warnings: &mut Vec<String>,
) -> Result<(Config, ConfigRecord), AttestError> {
    let committed_path = checkout.path().join(CONFIG_FILE);
    let committed = match std::fs::symlink_metadata(&committed_path) {
        Ok(m) if m.is_file() => {
            Some(
                std::fs::read(&committed_path).map_err(|source| ConfigError::Io {
                    path: CONFIG_FILE.to_string(),
                    source,
                })?,
            )
        }
        Ok(_) => {
            return Err(ConfigError::Invalid {
                path: format!("{CONFIG_FILE} in commit {}", commit.id),
                message: "expected a regular file, found a link or folder".into(),
            }
            .into());
        }
        Err(_) => None,
    };
    if let Some(path) = config_override {
        let text = std::fs::read(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if text.len() as u64 > crate::config::MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.display().to_string(),
                size: text.len() as u64,
            }
            .into());
        }
        let label = path.display().to_string();
        let utf8 = String::from_utf8(text.clone()).map_err(|_| ConfigError::Invalid {
            path: label.clone(),
            message: "expected UTF-8 text".into(),
        })?;
        let config = Config::parse(&utf8, &label)?;
        warnings.push(format!(
            "the configuration is {label}, not the commit's {CONFIG_FILE}: the attestation records it as an override, and policies can reject that"
        ));
        return Ok((
            config,
            ConfigRecord {
                source: ConfigSource::Override,
                path: label,
                sha256: hex::encode(Sha256::digest(&text)),
                content: Some(utf8),
            },
        ));
    }
    let Some(text) = committed else {
        return Err(AttestError::NoConfig {
            commit: commit.id.to_string(),
        });
    };
    if text.len() as u64 > crate::config::MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: CONFIG_FILE.to_string(),
            size: text.len() as u64,
        }
        .into());
    }
    let utf8 = String::from_utf8(text.clone()).map_err(|_| ConfigError::Invalid {
        path: CONFIG_FILE.to_string(),
        message: "expected UTF-8 text".into(),
    })?;
    let label = format!("{CONFIG_FILE} (commit {})", &commit.id.as_str()[..12]);
    let config = Config::parse(&utf8, &label)?;
    if let Ok(working) = std::fs::read(repo.root().join(CONFIG_FILE)) {
        if working != text {
            warnings.push(describe_difference(&working, &config));
        }
    }
    Ok((
        config,
        ConfigRecord {
            source: ConfigSource::Commit,
            path: CONFIG_FILE.to_string(),
            sha256: hex::encode(Sha256::digest(&text)),
            content: None,
        },
    ))
}

/// A warning naming how the working tree's config differs from the commit's (which is the one used).
fn describe_difference(working: &[u8], committed: &Config) -> String {
    let head = format!(
        "the working tree's {CONFIG_FILE} differs from the commit's and is NOT used (commit it to use it)"
    );
    let parsed = std::str::from_utf8(working)
        .ok()
        .and_then(|t| Config::parse(t, CONFIG_FILE).ok());
    let Some(working) = parsed else {
        return format!("{head}: the working tree's file does not parse");
    };
    let mut diffs = Vec::new();
    for w in &working.checks {
        match committed.checks.iter().find(|c| c.name == w.name) {
            None => diffs.push(format!("check {:?} only in the working tree", w.name)),
            Some(c) if c != w => {
                let mut fields = Vec::new();
                if c.run != w.run {
                    fields.push("run");
                }
                if c.kind != w.kind {
                    fields.push("kind");
                }
                if c.reports != w.reports {
                    fields.push("reports");
                }
                if c.timeout_secs != w.timeout_secs {
                    fields.push("timeout_secs");
                }
                if c.network != w.network {
                    fields.push("network");
                }
                diffs.push(format!("check {:?}: {} differ", w.name, fields.join(", ")));
            }
            Some(_) => {}
        }
    }
    for c in &committed.checks {
        if !working.checks.iter().any(|w| w.name == c.name) {
            diffs.push(format!("check {:?} only in the commit", c.name));
        }
    }
    if diffs.is_empty() {
        diffs.push("other settings or formatting differ".into());
    }
    format!("{head}: {}", diffs.join("; "))
}

/// Formats a time as RFC 3339 UTC with second precision.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Versions of the toolchains a project of this shape uses, probed in parallel with the checks.
///
/// The probes run sealed like the checks: a commit's `rust-toolchain.toml` or `.python-version`
/// chooses which program answers, so they are the commit's code too.
fn detect_toolchains(
    checkout: &Path,
    cwd: &Path,
    sealing: &Sealing<'_>,
) -> BTreeMap<String, String> {
    let has = |f: &str| checkout.join(f).exists();
    let mut probes: Vec<(&str, &str)> = Vec::new();
    if has("Cargo.toml") {
        probes.push(("rustc", "--version"));
        probes.push(("cargo", "--version"));
    }
    if has("package.json") {
        probes.push(("node", "--version"));
        probes.push(("npm", "--version"));
    }
    if has("pyproject.toml") || has("setup.py") || has("requirements.txt") {
        probes.push(("python3", "--version"));
    }
    if has("go.mod") {
        probes.push(("go", "version"));
    }
    let mut found = BTreeMap::new();
    if probes.is_empty() {
        return found;
    }
    // One shell runs every probe: `<tool>\t<first line>` per tool that answers.
    let script: String = probes
        .iter()
        .map(|(tool, arg)| {
            format!("v=$({tool} {arg} 2>/dev/null </dev/null | head -n 1) && [ -n \"$v\" ] && printf '{tool}\\t%s\\n' \"$v\"; ")
        })
        .collect();
    let mut cmd = match &sealing.sandbox {
        Some((bwrap, seal)) => bwrap.command(seal, &script),
        None => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(&script).current_dir(cwd);
            c
        }
    };
    let out = cmd
        .env_clear()
        .envs(sealing.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let Ok(out) = out else {
        return found;
    };
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .take(probes.len())
    {
        if let Some((tool, version)) = line.split_once('\t') {
            if probes.iter().any(|(t, _)| *t == tool) && !version.trim().is_empty() {
                let clean: String = version
                    .trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                found.insert(tool.to_string(), clean);
            }
        }
    }
    found
}
