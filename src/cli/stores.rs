//! The CLI's one door to the stores: every command opens the store it names here and then talks
//! to it only through [`Store`]; the GitHub client is built here, once per process.

use super::Failure;
use ci_attest::config::{CONFIG_FILE, Config, DEFAULT_STORE_DIR};
use ci_attest::git::CommitId;
use ci_attest::git::Repo;
use ci_attest::github::{GitHub, GitHubConfig, GitHubError};
use ci_attest::store::dir::DirStore;
use ci_attest::store::git::GitStore;
use ci_attest::store::github::{GitHubStore, github_error};
use ci_attest::store::{Fetched, Pulled, RejectedItem, Store, StoreError, StoreIndex};
use clap::ValueEnum;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The stores a command can name with `--from` / `--to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// The local folder (.ci-attest/ or [store] dir); never uses the network.
    Dir,
    /// Git refs `refs/ci-attest/<commit>/<sha256>`, shared through a git remote (any forge).
    Git,
    /// GitHub's artifact attestations API, by the commit object's sha256 (needs GITHUB_TOKEN).
    Github,
}

impl StoreKind {
    /// Whether the store is GitHub's API (so a client must be built for it).
    pub fn is_github(self) -> bool {
        self == StoreKind::Github
    }
}

/// Opens the store `kind` of `repo`: `remote` is the git store's remote, `github` the process's
/// client (required for [`StoreKind::Github`]).
pub fn open<'a>(
    kind: StoreKind,
    repo: &Repo,
    remote: &str,
    github: Option<&'a GitHub>,
) -> Result<Box<dyn Store + 'a>, Failure> {
    Ok(match kind {
        StoreKind::Dir => Box::new(dir_store(repo)?),
        StoreKind::Git => Box::new(GitStore::new(repo.root(), remote)),
        StoreKind::Github => match github {
            Some(gh) => Box::new(GitHubStore::new(gh, repo.clone())),
            None => {
                return Err(Failure::usage(anyhow::anyhow!(
                    "the github store needs a GitHub client (GITHUB_TOKEN, GITHUB_REPOSITORY)"
                )));
            }
        },
    })
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

/// A GitHub client configured from the environment and the repository's `origin`, reading the
/// system clock; build it once per process.
pub fn github_client(repo: &Repo) -> Result<GitHub, Failure> {
    let config = GitHubConfig::from_env(|k| std::env::var(k).ok(), repo.origin_url().as_deref())
        .map_err(github_failure)?;
    GitHub::new(config, std::time::SystemTime::now).map_err(github_failure)
}

/// Maps a GitHub error to its exit code: configuration (2) or could not run (3).
pub fn github_failure(e: GitHubError) -> Failure {
    if e.is_config() {
        Failure::usage(e)
    } else {
        Failure::unavailable(e)
    }
}

/// Maps a store error to its exit code: a GitHub configuration error (no token) is 2, anything
/// else could not run (3).
pub fn store_failure(e: StoreError) -> Failure {
    if github_error(&e).is_some_and(GitHubError::is_config) {
        Failure::usage(e)
    } else {
        Failure::unavailable(e)
    }
}

/// Pulls what `commits` need from `store` (git: fetches their refs from the remote) and says on
/// stderr how many bundles for how many commits it read and what it refused. Returns the store
/// with the refused items of each commit added to what it fetches for that commit (so they are
/// findings in the report), and the pull, if the store pulls at all.
pub fn pulled<'a>(
    store: &'a dyn Store,
    commits: &[CommitId],
) -> Result<(WithPulled<'a>, Option<Pulled>), Failure> {
    let pulled = store.pull(commits).map_err(store_failure)?;
    let mut rejected = BTreeMap::new();
    if let Some(p) = &pulled {
        let refused = p.rejected_count();
        eprintln!(
            "fetched {} bundle(s) for {} commit(s) from {} ({} new, {} already here{})",
            p.fetched + p.present,
            p.commits,
            store.describe(),
            p.fetched,
            p.present,
            if refused == 0 {
                String::new()
            } else {
                format!(", {refused} refused")
            }
        );
        for item in &p.stray {
            eprintln!("refused: {}: {}", item.location, item.problem);
        }
        rejected = p.rejected.clone();
    }
    Ok((WithPulled { store, rejected }, pulled))
}

/// A store whose fetches also carry the items its pull refused (see [`pulled`]).
pub struct WithPulled<'a> {
    store: &'a dyn Store,
    rejected: BTreeMap<CommitId, Vec<RejectedItem>>,
}

impl WithPulled<'_> {
    fn with_rejected(&self, commit: &CommitId, fetched: Fetched) -> Fetched {
        let mut fetched = fetched;
        if let Some(items) = self.rejected.get(commit) {
            fetched.rejected.extend(items.iter().cloned());
        }
        fetched
    }
}

impl Store for WithPulled<'_> {
    fn put(&self, commit: &CommitId, bundle_json: &[u8]) -> Result<String, StoreError> {
        self.store.put(commit, bundle_json)
    }

    fn fetch(&self, commit: &CommitId) -> Result<Fetched, StoreError> {
        Ok(self.with_rejected(commit, self.store.fetch(commit)?))
    }

    fn fetch_many(&self, commits: &[CommitId]) -> Vec<Result<Fetched, StoreError>> {
        commits
            .iter()
            .zip(self.store.fetch_many(commits))
            .map(|(c, f)| f.map(|f| self.with_rejected(c, f)))
            .collect()
    }

    fn index<'s>(&'s self, commits: &[CommitId]) -> Result<Box<dyn StoreIndex + 's>, StoreError> {
        Ok(Box::new(PulledIndex {
            with: self,
            index: self.store.index(commits)?,
        }))
    }

    fn describe(&self) -> String {
        self.store.describe()
    }
}

/// The inner store's index, its fetches carrying the items the pull refused.
struct PulledIndex<'s> {
    with: &'s WithPulled<'s>,
    index: Box<dyn StoreIndex + 's>,
}

impl StoreIndex for PulledIndex<'_> {
    fn fetch_many(&self, commits: &[CommitId]) -> Vec<Result<Fetched, StoreError>> {
        commits
            .iter()
            .zip(self.index.fetch_many(commits))
            .map(|(c, f)| f.map(|f| self.with.with_rejected(c, f)))
            .collect()
    }
}
