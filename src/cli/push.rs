//! `ci-attest push`.

use super::stores::{self, StoreKind, dir_store, github_client, github_failure, store_failure};
use super::{CmdResult, EXIT_OK, Failure};
use ci_attest::git::Repo;
use ci_attest::store::{Published, Store};
use clap::ValueEnum;
use std::path::Path;

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

/// Pushes the commit's bundles from the `dir` store to a remote store.
pub fn run(repo_dir: &Path, args: Args) -> CmdResult {
    let repo = Repo::discover(repo_dir).map_err(Failure::usage)?;
    let id = repo.resolve(&args.commit).map_err(Failure::usage)?;
    let local = dir_store(&repo)?;
    let bundles = local.fetch(&id).map_err(store_failure)?.bundles;
    if bundles.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no bundles for commit {id} in {}: run `ci-attest run --commit {id}` first",
            local.root().display()
        )));
    }
    let kind = match args.to {
        RemoteStore::Git => StoreKind::Git,
        RemoteStore::Github => StoreKind::Github,
    };
    // Set up GitHub before pushing anything, so a missing token fails before half the work.
    let github = if kind.is_github() || args.notify {
        Some(github_client(&repo)?)
    } else {
        None
    };
    let target = stores::open(kind, &repo, &args.remote, github.as_ref())?;
    let bytes: Vec<&[u8]> = bundles.iter().map(|b| b.bytes.as_slice()).collect();
    let mut first_failure = None;
    for (b, stored) in bundles.iter().zip(target.put_many(&id, &bytes)) {
        match stored {
            Ok(location) => println!("{}: stored as {location}", b.location),
            Err(e) => {
                eprintln!("{}: not stored: {e}", b.location);
                first_failure.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_failure {
        return Err(store_failure(e));
    }
    let published = target
        .publish(std::slice::from_ref(&id))
        .map_err(store_failure)?;
    let counts = if published == Published::default() {
        String::new()
    } else {
        format!(
            ": {} new, {} already there",
            published.created.len(),
            published.up_to_date.len()
        )
    };
    println!(
        "pushed {} bundle(s) of {id} to {}{counts}",
        bundles.len(),
        target.describe()
    );
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
