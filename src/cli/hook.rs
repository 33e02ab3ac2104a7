//! `ci-attest hook`: install, remove and run the `pre-push` git hook.
//!
//! Before git sends a push, the hook finds the commits being pushed that the remote does not have
//! yet, runs `ci-attest run` for each one without a bundle from this signer in the local store (or
//! refuses the push, per `git config ci-attest.hook`), and pushes the commits' bundle refs to the
//! same remote first, so that the verifier the branch push triggers finds them. It never sends
//! `--notify`: the push event itself starts the verifier.
//!
//! Its settings are the signer's (git config, `.ci-attest.local.toml`, `~/.config/ci-attest/`),
//! never the commit's.

use super::stores::store_failure;
use super::{CmdResult, EXIT_OK, EXIT_REJECTED, Failure};
use ci_attest::config::{LOCAL_SETTINGS_FILE, SigningMethod};
use ci_attest::git::{CommitId, Repo};
use ci_attest::hook::{
    BACKUP_FILE, HOOK_FILE, Installed, PushUpdate, Signer, attested_by, classify, parse_pre_push,
    script,
};
use ci_attest::sign::key::{PublicKey, SigningKey};
use ci_attest::store::Store;
use ci_attest::store::dir::DirStore;
use ci_attest::store::git::GitStore;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How many commits one push may ask the hook to attest, unless `ci-attest.hookMaxCommits` says.
pub const DEFAULT_MAX_COMMITS: usize = 20;

/// How many commits of one push the hook looks at, at most.
const MAX_SCANNED: usize = 10_000;

/// Arguments of `hook`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: HookCommand,
}

#[derive(Debug, clap::Subcommand)]
enum HookCommand {
    /// Install the `pre-push` hook into this repository's hooks folder (`core.hooksPath` is
    /// respected). An existing hook is never replaced without --force, which keeps it as
    /// `pre-push.ci-attest-backup` (restored by `hook uninstall`).
    ///
    /// Example: ci-attest hook install
    Install {
        /// Replace an existing hook that ci-attest did not write (it is kept as a backup).
        #[arg(long)]
        force: bool,
    },
    /// Remove the `pre-push` hook `hook install` wrote (and restore the hook it replaced); any
    /// other hook, or one edited since, is left alone.
    ///
    /// Example: ci-attest hook uninstall
    Uninstall,
    /// What the installed hook runs: git's pre-push input on stdin (or the pre-commit framework's
    /// PRE_COMMIT_* variables).
    ///
    /// git config: `ci-attest.hook` = run (default: attest unattested commits) or refuse (stop
    /// the push and name them); `ci-attest.hookMaxCommits` (default 20); `ci-attest.hookScope` =
    /// all (default: every commit the remote lacks) or tips (only the pushed refs' commits).
    ///
    /// Example: git push (the hook runs `ci-attest hook pre-push origin <url>`)
    PrePush {
        /// The remote's name (or URL), as git passes it.
        remote: Option<String>,
        /// The remote's URL, as git passes it (unused).
        url: Option<String>,
    },
}

/// Runs a `hook` subcommand.
pub fn run(repo_dir: &Path, args: Args) -> CmdResult {
    let repo = Repo::discover(repo_dir).map_err(Failure::usage)?;
    match args.command {
        HookCommand::Install { force } => install(&repo, force),
        HookCommand::Uninstall => uninstall(&repo),
        HookCommand::PrePush { remote, .. } => pre_push(&repo, remote),
    }
}

/// `git` in the repository, with replace refs and grafts ignored; stdout trimmed.
fn git(repo: &Repo, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo.root())
        .env("GIT_NO_REPLACE_OBJECTS", "1")
        .env("GIT_GRAFT_FILE", ci_attest::git::NO_GRAFT_FILE)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    } else {
        Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A git config value of the repository, if set.
fn git_config(repo: &Repo, key: &str) -> Option<String> {
    git(repo, &["config", "--get", key])
        .ok()
        .filter(|v| !v.is_empty())
}

/// The repository's hooks folder, as git finds it (`core.hooksPath`, worktrees).
fn hooks_dir(repo: &Repo) -> Result<PathBuf, Failure> {
    let path = git(repo, &["rev-parse", "--git-path", "hooks"])
        .map_err(|e| Failure::unavailable(anyhow::anyhow!("cannot find the hooks folder: {e}")))?;
    Ok(repo.root().join(path))
}

fn io_failure(what: &str, path: &Path, e: std::io::Error) -> Failure {
    Failure::unavailable(anyhow::anyhow!("cannot {what} {}: {e}", path.display()))
}

/// Reads a hook file, `None` when there is none.
fn read_hook(path: &Path) -> Result<Option<String>, Failure> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_failure("read", path, e)),
        // A symlink (e.g. a hook manager's) is never ours: classify it as foreign.
        Ok(m) if !m.is_file() => Ok(Some(String::new())),
        Ok(_) => std::fs::read(path)
            .map(|b| Some(String::from_utf8_lossy(&b).into_owned()))
            .map_err(|e| io_failure("read", path, e)),
    }
}

/// Writes an executable hook file atomically (a temporary file in the folder, then a rename).
fn write_hook(path: &Path, text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_failure("create", dir, e))?;
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| io_failure("write in", dir, e))?;
    tmp.write_all(text.as_bytes())
        .map_err(|e| io_failure("write", tmp.path(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| io_failure("make executable", tmp.path(), e))?;
    }
    tmp.persist(path)
        .map_err(|e| io_failure("write", path, e.error))?;
    Ok(())
}

fn install(repo: &Repo, force: bool) -> CmdResult {
    let dir = hooks_dir(repo)?;
    let hook = dir.join(HOOK_FILE);
    let backup = dir.join(BACKUP_FILE);
    let binary = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| {
            Failure::unavailable(anyhow::anyhow!("cannot find this ci-attest binary: {e}"))
        })?;
    let binary = binary.to_str().ok_or_else(|| {
        Failure::usage(anyhow::anyhow!(
            "this ci-attest binary's path is not UTF-8: {}",
            binary.display()
        ))
    })?;
    let text = script(binary);
    match read_hook(&hook)?.as_deref().map(classify) {
        None => {}
        Some(Installed::Ours { .. }) => {
            write_hook(&hook, &text)?;
            println!("updated  {} (runs {binary})", hook.display());
            return Ok(EXIT_OK);
        }
        Some(other) if !force => {
            let what = if other == Installed::Edited {
                "a ci-attest hook edited since it was installed"
            } else {
                "a hook ci-attest did not write"
            };
            return Err(Failure::usage(anyhow::anyhow!(
                "{} exists ({what}): left alone; `ci-attest hook install --force` replaces it and keeps it as {BACKUP_FILE}, or call `ci-attest hook pre-push \"$@\"` from it yourself",
                hook.display()
            )));
        }
        Some(_) => {
            if read_hook(&backup)?.is_some() {
                return Err(Failure::usage(anyhow::anyhow!(
                    "{} exists already: move it away first, so that --force loses no hook",
                    backup.display()
                )));
            }
            std::fs::rename(&hook, &backup).map_err(|e| io_failure("back up", &hook, e))?;
            println!("moved    {} to {}", hook.display(), backup.display());
        }
    }
    write_hook(&hook, &text)?;
    println!("installed {} (runs {binary})", hook.display());
    let action = git_config(repo, "ci-attest.hook").unwrap_or_else(|| "run".into());
    println!(
        "before each `git push` it attests the pushed commits that have no bundle from your key (ci-attest.hook = {action}) and pushes their bundle refs first; `git push --no-verify` skips it once"
    );
    Ok(EXIT_OK)
}

fn uninstall(repo: &Repo) -> CmdResult {
    let dir = hooks_dir(repo)?;
    let hook = dir.join(HOOK_FILE);
    let backup = dir.join(BACKUP_FILE);
    match read_hook(&hook)?.as_deref().map(classify) {
        None => {
            println!("no {} hook: nothing to remove", hook.display());
            Ok(EXIT_OK)
        }
        Some(Installed::Ours { .. }) => {
            std::fs::remove_file(&hook).map_err(|e| io_failure("remove", &hook, e))?;
            println!("removed  {}", hook.display());
            if read_hook(&backup)?.is_some() {
                std::fs::rename(&backup, &hook).map_err(|e| io_failure("restore", &backup, e))?;
                println!("restored {} from {BACKUP_FILE}", hook.display());
            }
            Ok(EXIT_OK)
        }
        Some(other) => Err(Failure::usage(anyhow::anyhow!(
            "{} was {}: left alone",
            hook.display(),
            if other == Installed::Edited {
                "installed by ci-attest but edited since; remove it yourself"
            } else {
                "not installed by ci-attest"
            }
        ))),
    }
}

/// What to do with a pushed commit that has no bundle from this signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    Run,
    Refuse,
}

/// The updates of this push: git's stdin, or the pre-commit framework's variables (it runs hooks
/// with its own stdin and passes one update as PRE_COMMIT_FROM_REF / PRE_COMMIT_TO_REF).
fn updates() -> Result<Vec<PushUpdate>, Failure> {
    if let Some(to) = std::env::var("PRE_COMMIT_TO_REF")
        .ok()
        .filter(|t| !t.is_empty())
    {
        let from = std::env::var("PRE_COMMIT_FROM_REF").unwrap_or_default();
        let local_ref = std::env::var("PRE_COMMIT_LOCAL_BRANCH").unwrap_or_else(|_| "HEAD".into());
        let remote_ref =
            std::env::var("PRE_COMMIT_REMOTE_BRANCH").unwrap_or_else(|_| local_ref.clone());
        let zero = "0".repeat(to.len());
        let from = if CommitId::parse(&from).is_some() {
            from
        } else {
            zero
        };
        return parse_pre_push(&format!("{local_ref} {to} {remote_ref} {from}\n"))
            .map_err(Failure::usage);
    }
    let mut input = String::new();
    std::io::stdin()
        .take(1 << 20)
        .read_to_string(&mut input)
        .map_err(|e| Failure::usage(anyhow::anyhow!("cannot read git's pre-push input: {e}")))?;
    parse_pre_push(&input).map_err(Failure::usage)
}

/// The commits of `update` the remote does not have, oldest first.
fn pushed_commits(
    repo: &Repo,
    remote: &str,
    update: &PushUpdate,
    tips_only: bool,
) -> Result<Vec<CommitId>, Failure> {
    let Some(local) = &update.local else {
        return Ok(Vec::new());
    };
    // Only commits (and tags of commits) are attested.
    let peeled = format!("{local}^{{commit}}");
    let Ok(tip) = git(repo, &["rev-parse", "--verify", "--quiet", &peeled]) else {
        return Ok(Vec::new());
    };
    if tips_only {
        return Ok(CommitId::parse(&tip).into_iter().collect());
    }
    let max = MAX_SCANNED.to_string();
    let remotes = format!("--remotes={remote}");
    let mut args = vec![
        "rev-list",
        "--topo-order",
        "--reverse",
        "--max-count",
        &max,
        &tip,
        "--not",
        &remotes,
    ];
    // What the remote has at that ref now, where this clone has it (a forced push may not).
    let known = update
        .remote
        .as_ref()
        .filter(|r| git(repo, &["cat-file", "-e", &format!("{r}^{{commit}}")]).is_ok())
        .map(CommitId::to_string);
    if let Some(r) = &known {
        args.push(r);
    }
    let out = git(repo, &args).map_err(|e| Failure::unavailable(anyhow::anyhow!(e)))?;
    Ok(out.lines().filter_map(CommitId::parse).collect())
}

/// The signer the hook looks for: the configured key's public half (its `.pub` beside it, or the
/// key itself when unencrypted), or keyless.
fn signer(repo: &Repo) -> Result<Signer, Failure> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let (settings, _) = super::run::local_settings(repo, home.as_deref())?;
    let signing = settings.signing.unwrap_or_default();
    if signing.method == SigningMethod::Keyless {
        return Ok(Signer::Keyless);
    }
    let key = signing.key.map(|k| repo.root().join(k)).ok_or_else(|| {
        Failure::usage(anyhow::anyhow!(
            "the pre-push hook needs to know your signing key: set `[signing] key = \"keys/ci-attest.key\"` in {LOCAL_SETTINGS_FILE} (untracked) or ~/.config/ci-attest/config.toml, or `method = \"keyless\"`"
        ))
    })?;
    let public = key.with_extension("pub");
    if let Ok(pem) = std::fs::read(&public) {
        return PublicKey::from_pem(&pem)
            .map(Signer::Key)
            .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", public.display())));
    }
    let pem = std::fs::read(&key).map_err(|e| io_failure("read key", &key, e))?;
    if String::from_utf8_lossy(&pem).contains("ENCRYPTED") {
        return Err(Failure::usage(anyhow::anyhow!(
            "expected the public key of the encrypted key {} at {}, found none: the hook reads the public key to tell your bundles (copy the .pub `ci-attest keygen` wrote there)",
            key.display(),
            public.display()
        )));
    }
    SigningKey::from_pkcs8_pem(&pem, None)
        .map(|k| Signer::Key(k.public_key()))
        .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", key.display())))
}

/// The local store `run` writes to (the signer's `[store] dir`).
fn local_store(repo: &Repo) -> Result<DirStore, Failure> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let (settings, _) = super::run::local_settings(repo, home.as_deref())?;
    let dir = settings.store.unwrap_or_default().dir;
    Ok(DirStore::new(repo.root().join(dir)))
}

fn is_attested(store: &DirStore, commit: &CommitId, signer: &Signer) -> Result<bool, Failure> {
    let fetched = store.fetch(commit).map_err(store_failure)?;
    Ok(fetched
        .bundles
        .iter()
        .any(|b| attested_by(&b.bytes, commit, signer)))
}

fn pre_push(repo: &Repo, remote: Option<String>) -> CmdResult {
    let remote = remote
        .or_else(|| std::env::var("PRE_COMMIT_REMOTE_NAME").ok())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "origin".into());
    // The hook's own push of bundle refs comes through here again: nothing to do for those.
    let updates: Vec<PushUpdate> = updates()?
        .into_iter()
        .filter(|u| u.local.is_some() && !u.is_bundle_ref())
        .collect();
    if updates.is_empty() {
        return Ok(EXIT_OK);
    }
    let missing = match git_config(repo, "ci-attest.hook").as_deref() {
        None | Some("run") => Missing::Run,
        Some("refuse") => Missing::Refuse,
        Some(other) => {
            return Err(Failure::usage(anyhow::anyhow!(
                "git config ci-attest.hook: expected run or refuse, found {other:?}"
            )));
        }
    };
    let tips_only = match git_config(repo, "ci-attest.hookScope").as_deref() {
        None | Some("all") => false,
        Some("tips") => true,
        Some(other) => {
            return Err(Failure::usage(anyhow::anyhow!(
                "git config ci-attest.hookScope: expected all or tips, found {other:?}"
            )));
        }
    };
    let max = match git_config(repo, "ci-attest.hookMaxCommits") {
        None => DEFAULT_MAX_COMMITS,
        Some(v) => v.parse().map_err(|_| {
            Failure::usage(anyhow::anyhow!(
                "git config ci-attest.hookMaxCommits: expected a number, found {v:?}"
            ))
        })?,
    };

    let mut seen = HashSet::new();
    let mut commits = Vec::new();
    for u in &updates {
        for c in pushed_commits(repo, &remote, u, tips_only)? {
            if seen.insert(c.clone()) {
                commits.push(c);
            }
        }
    }
    if commits.is_empty() {
        return Ok(EXIT_OK);
    }
    let signer = signer(repo)?;
    let store = local_store(repo)?;
    let mut unattested = Vec::new();
    for c in &commits {
        if is_attested(&store, c, &signer)? {
            eprintln!("ci-attest: {c} already attested");
        } else {
            unattested.push(c.clone());
        }
    }
    if !unattested.is_empty() && missing == Missing::Refuse {
        let list: Vec<String> = unattested
            .iter()
            .map(|c| format!("  ci-attest run --commit {c}"))
            .collect();
        eprintln!(
            "ci-attest: push refused: {} of the {} commit(s) pushed to {remote} have no bundle from your key in {}; attest them first:\n{}\n(or `git config ci-attest.hook run` to let the hook run them; `git push --no-verify` skips the hook)",
            unattested.len(),
            commits.len(),
            store.root().display(),
            list.join("\n")
        );
        return Ok(EXIT_REJECTED);
    }
    if unattested.len() > max {
        eprintln!(
            "ci-attest: push refused: {} commit(s) pushed to {remote} have no bundle from your key, more than the hook attests in one push ({max}, git config ci-attest.hookMaxCommits); attest the ones that matter with `ci-attest run --commit <rev>`, or `git config ci-attest.hookScope tips` to attest only the pushed branch tips (`git push --no-verify` skips the hook)",
            unattested.len()
        );
        return Ok(EXIT_REJECTED);
    }
    let exe = std::env::current_exe().map_err(|e| {
        Failure::unavailable(anyhow::anyhow!("cannot find this ci-attest binary: {e}"))
    })?;
    for (i, c) in unattested.iter().enumerate() {
        eprintln!(
            "ci-attest: attesting {c} ({}/{}) before the push",
            i + 1,
            unattested.len()
        );
        // git gives the hook its ref list on stdin: `run` gets the terminal instead, where
        // there is one, for a key's password or a keyless login.
        let stdin = std::fs::File::open("/dev/tty").map_or_else(|_| Stdio::null(), Stdio::from);
        let status = Command::new(&exe)
            .arg("-C")
            .arg(repo.root())
            .args(["run", "--commit", c.as_str()])
            .stdin(stdin)
            .status()
            .map_err(|e| Failure::unavailable(anyhow::anyhow!("cannot run ci-attest run: {e}")))?;
        match status.code() {
            Some(0) => {}
            Some(1) => eprintln!(
                "ci-attest: a check of {c} failed: its failing result is signed and pushed as it is, and the verifier will reject the commit"
            ),
            code => {
                eprintln!(
                    "ci-attest: push refused: `ci-attest run --commit {c}` could not attest it ({}); fix that, or push with --no-verify",
                    code.map_or_else(|| "killed by a signal".into(), |n| format!("exit {n}"))
                );
                return Ok(EXIT_REJECTED);
            }
        }
        if !is_attested(&store, c, &signer)? {
            eprintln!(
                "ci-attest: push refused: after `ci-attest run --commit {c}`, {} still has no bundle of it from your key",
                store.root().display()
            );
            return Ok(EXIT_REJECTED);
        }
    }
    push_bundles(repo, &remote, &store, &commits)
}

/// Pushes the bundle refs of `commits` to `remote`, before git sends the branch.
fn push_bundles(repo: &Repo, remote: &str, store: &DirStore, commits: &[CommitId]) -> CmdResult {
    let target = GitStore::new(repo.root(), remote);
    let mut bundles = 0usize;
    for c in commits {
        let fetched = store.fetch(c).map_err(store_failure)?;
        let bytes: Vec<&[u8]> = fetched.bundles.iter().map(|b| b.bytes.as_slice()).collect();
        for (b, stored) in fetched.bundles.iter().zip(target.put_many(c, &bytes)) {
            match stored {
                Ok(_) => bundles += 1,
                Err(e) => {
                    eprintln!("ci-attest: push refused: {} not stored: {e}", b.location);
                    return Ok(EXIT_REJECTED);
                }
            }
        }
    }
    let published = match target.publish(commits) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "ci-attest: push refused: the bundle refs did not reach {remote}: {e} (the verifier would find no attestation; `git push --no-verify` skips the hook)"
            );
            return Ok(EXIT_REJECTED);
        }
    };
    eprintln!(
        "ci-attest: pushed {bundles} bundle(s) of {} commit(s) to {remote} before the branch: {} new ref(s), {} already there",
        commits.len(),
        published.created.len(),
        published.up_to_date.len()
    );
    Ok(EXIT_OK)
}
