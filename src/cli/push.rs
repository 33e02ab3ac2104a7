//! `ci-attest push`.

use super::{CmdResult, EXIT_OK, Failure};
use ci_attest::config::{CONFIG_FILE, Config, DEFAULT_STORE_DIR};
use ci_attest::git::Repo;
use ci_attest::github::{GitHub, GitHubConfig, GitHubError};
use ci_attest::store::Store;
use ci_attest::store::dir::DirStore;
use ci_attest::store::git::GitStore;
use clap::ValueEnum;
use std::path::{Path, PathBuf};

/// Remote stores bundles can be pushed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RemoteStore {
    /// Git refs `refs/ci-attest/<commit>/<sha256>` pushed to the remote (any forge).
    Git,
    /// GitHub's artifact attestations API (needs GITHUB_TOKEN with `attestations: write`).
    Github,
}

/// Arguments of `push`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The commit whose bundles to push.
    #[arg(long, default_value = "HEAD", value_name = "REV")]
    commit: String,
    /// Where to push the bundles of the local `dir` store.
    #[arg(long, value_enum, default_value_t = RemoteStore::Git)]
    to: RemoteStore,
    /// The git remote of the `git` store.
    #[arg(long, default_value = "origin", value_name = "REMOTE")]
    remote: String,
    /// Then send a `repository_dispatch` (event type `ci-attest`, payload {"sha": commit}) so the
    /// verifier workflow runs (needs GITHUB_TOKEN with `contents: write`).
    #[arg(long)]
    notify: bool,
}

/// Maps a GitHub error to its exit code: configuration (2) or could not run (3).
pub fn github_failure(e: GitHubError) -> Failure {
    if e.is_config() {
        Failure::usage(e)
    } else {
        Failure::unavailable(e)
    }
}

/// A GitHub client configured from the environment and the repository's `origin`, reading the
/// system clock; build it once per process.
pub fn github_client(repo: &Repo) -> Result<GitHub, Failure> {
    let config = GitHubConfig::from_env(|k| std::env::var(k).ok(), repo.origin_url().as_deref())
        .map_err(github_failure)?;
    GitHub::new(config, std::time::SystemTime::now).map_err(github_failure)
}

/// The local `dir` store of the repository (per .ci-attest.toml, or the default folder).
pub fn dir_store(repo: &Repo) -> Result<DirStore, Failure> {
    let config_path = repo.root().join(CONFIG_FILE);
    let dir = if config_path.exists() {
        Config::load(&config_path)
            .map_err(Failure::usage)?
            .store
            .dir
    } else {
        PathBuf::from(DEFAULT_STORE_DIR)
    };
    Ok(DirStore::new(repo.root().join(dir)))
}

/// Pushes the commit's bundles from the `dir` store to a remote store.
pub fn run(repo_dir: &Path, args: Args) -> CmdResult {
    let repo = Repo::discover(repo_dir).map_err(Failure::usage)?;
    let id = repo.resolve(&args.commit).map_err(Failure::usage)?;
    let local = dir_store(&repo)?;
    let bundles = local.fetch(&id).map_err(Failure::unavailable)?.bundles;
    if bundles.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no bundles for commit {id} in {}: run `ci-attest run --commit {id}` first",
            local.root().display()
        )));
    }
    // Set up GitHub before pushing anything, so a missing token fails before half the work.
    let github = if args.to == RemoteStore::Github || args.notify {
        Some(github_client(&repo)?)
    } else {
        None
    };
    match &github {
        Some(gh) if args.to == RemoteStore::Github => {
            for b in &bundles {
                match gh.upload_attestation(&b.bytes).map_err(github_failure)? {
                    Some(n) => println!("{}: uploaded as attestation {n}", b.location),
                    None => println!("{}: already stored on GitHub", b.location),
                }
            }
            println!(
                "pushed {} bundle(s) of {id} to GitHub ({})",
                bundles.len(),
                gh.config().repository
            );
        }
        _ => {
            let store = GitStore::new(repo.root(), args.remote.clone());
            for b in &bundles {
                store.put(&id, &b.bytes).map_err(Failure::unavailable)?;
            }
            let summary = store.push(&id).map_err(Failure::unavailable)?;
            println!(
                "pushed {} bundle(s) of {id} to {}: {} new, {} already there",
                bundles.len(),
                store.remote(),
                summary.created.len(),
                summary.up_to_date.len()
            );
        }
    }
    if let Some(gh) = github.as_ref().filter(|_| args.notify) {
        gh.repository_dispatch(id.as_str())
            .map_err(github_failure)?;
        println!(
            "sent repository_dispatch `ci-attest` for {id} to {}",
            gh.config().repository
        );
    }
    Ok(EXIT_OK)
}
