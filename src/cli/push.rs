//! `ci-attest push`.

use super::stores::{self, StoreKind, dir_store, github_client, github_failure, store_failure};
use super::{CmdResult, EXIT_OK, Failure};
use ci_attest::git::{CommitId, Repo};
use ci_attest::judge::MAX_AUDIT_COMMITS;
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
    #[arg(long, default_value = "HEAD", value_name = "REV", conflicts_with_all = ["range", "all"])]
    commit: String,
    /// Push the bundles of every commit of a range instead: `A..B`, or a revision for all its
    /// ancestors (as `audit --range`). Commits without a local bundle are named and counted.
    #[arg(long, value_name = "RANGE", conflicts_with = "all")]
    range: Option<String>,
    /// Push the bundles of every commit that has bundles in the local `dir` store.
    #[arg(long)]
    all: bool,
    /// Where to push the bundles of the local `dir` store.
    #[arg(long, value_enum, default_value_t = RemoteStore::Git)]
    to: RemoteStore,
    /// The git remote of the `git` store.
    #[arg(long, default_value = "origin", value_name = "REMOTE")]
    remote: String,
    /// Then send a `repository_dispatch` (event type `ci-attest`, payload {"sha": commit}) so the
    /// verifier workflow runs (needs GITHUB_TOKEN with `contents: write`); with --range, for the
    /// newest commit pushed.
    #[arg(long, conflicts_with = "all")]
    notify: bool,
}

/// Which commits a push is about.
enum Selection {
    /// One revision: no bundle is an error.
    One(CommitId),
    /// A range: commits without a bundle are named and counted.
    Range(String, Vec<CommitId>),
    /// Every commit of the local store.
    All(Vec<CommitId>),
}

/// Pushes the bundles of one commit, a range or every commit from the `dir` store to a remote
/// store, in one `git push` where the store is git.
pub fn run(repo_dir: &Path, args: Args) -> CmdResult {
    let repo = Repo::discover(repo_dir).map_err(Failure::usage)?;
    let local = dir_store(&repo)?;
    let selection = if args.all {
        let commits = local.commits(MAX_AUDIT_COMMITS).map_err(Failure::usage)?;
        if commits.is_empty() {
            return Err(Failure::usage(anyhow::anyhow!(
                "--all: expected bundles in {}, found none: run `ci-attest run` first",
                local.root().display()
            )));
        }
        Selection::All(commits)
    } else if let Some(range) = &args.range {
        let commits = repo
            .rev_list(range, MAX_AUDIT_COMMITS)
            .map_err(Failure::usage)?;
        if commits.is_empty() {
            return Err(Failure::usage(anyhow::anyhow!(
                "--range {range:?}: expected at least one commit (e.g. `main~10..main`, or a revision for all its ancestors), found none"
            )));
        }
        Selection::Range(range.clone(), commits)
    } else {
        Selection::One(repo.resolve(&args.commit).map_err(Failure::usage)?)
    };
    let commits: &[CommitId] = match &selection {
        Selection::One(id) => std::slice::from_ref(id),
        Selection::Range(_, c) | Selection::All(c) => c,
    };

    // Which commits have bundles, before anything is set up or sent.
    let mut with_bundles = Vec::new();
    let mut without = Vec::new();
    for id in commits {
        let fetched = local.fetch(id).map_err(store_failure)?;
        for item in &fetched.rejected {
            eprintln!("{}: not pushed: {}", item.location, item.problem);
        }
        if fetched.bundles.is_empty() {
            without.push(id.clone());
        } else {
            with_bundles.push(id.clone());
        }
    }
    if with_bundles.is_empty() {
        return Err(Failure::usage(match &selection {
            Selection::One(id) => anyhow::anyhow!(
                "no bundles for commit {id} in {}: run `ci-attest run --commit {id}` first",
                local.root().display()
            ),
            _ => anyhow::anyhow!(
                "--range {:?}: expected bundles in {} for at least one of its {} commit(s), found none: run `ci-attest run --commit <rev>` first",
                args.range.as_deref().unwrap_or_default(),
                local.root().display(),
                commits.len()
            ),
        }));
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
    let mut first_failure = None;
    let mut bundles = 0usize;
    for id in &with_bundles {
        // One commit's bundles at a time: at most one commit's bundles are held at once.
        let fetched = local.fetch(id).map_err(store_failure)?;
        let bytes: Vec<&[u8]> = fetched.bundles.iter().map(|b| b.bytes.as_slice()).collect();
        for (b, stored) in fetched.bundles.iter().zip(target.put_many(id, &bytes)) {
            match stored {
                Ok(location) => {
                    bundles += 1;
                    println!("{}: stored as {location}", b.location);
                }
                Err(e) => {
                    eprintln!("{}: not stored: {e}", b.location);
                    first_failure.get_or_insert(e);
                }
            }
        }
    }
    if let Some(e) = first_failure {
        return Err(store_failure(e));
    }
    let published = target.publish(&with_bundles).map_err(store_failure)?;
    let counts = if published == Published::default() {
        String::new()
    } else {
        format!(
            ": {} new, {} already there, in {} `git push` run(s)",
            published.created.len(),
            published.up_to_date.len(),
            published.attempts
        )
    };
    match &selection {
        Selection::One(id) => println!(
            "pushed {bundles} bundle(s) of {id} to {}{counts}",
            target.describe()
        ),
        _ => println!(
            "pushed {bundles} bundle(s) for {} commit(s) to {}{counts}",
            with_bundles.len(),
            target.describe()
        ),
    }
    if !matches!(selection, Selection::One(_)) {
        for id in &without {
            println!("{id}: no bundle in {}, not pushed", local.root().display());
        }
        if !without.is_empty() {
            let of = match &selection {
                Selection::Range(range, _) => format!("of {range}"),
                _ => format!("named in {}", local.root().display()),
            };
            println!(
                "{} of the {} commit(s) {of} have no bundle in {}: not attested; run `ci-attest run --commit <rev>` for them",
                without.len(),
                commits.len(),
                local.root().display()
            );
        }
    }
    if let Some(gh) = github.as_ref().filter(|_| args.notify) {
        // The newest commit pushed (ranges are oldest first).
        let id = with_bundles
            .last()
            .expect("at least one commit has bundles");
        gh.repository_dispatch(id.as_str())
            .map_err(github_failure)?;
        println!(
            "sent repository_dispatch `ci-attest` for {id} to {}",
            gh.config().repository
        );
    }
    Ok(EXIT_OK)
}
