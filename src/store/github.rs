//! The `github` store: GitHub's artifact attestations REST API.
//!
//! [`Store::put`] uploads a bundle (`POST /repos/{owner}/{repo}/attestations`); GitHub indexes it
//! by the statement subject's digests. [`Store::fetch`] lists the attestations for the commit's
//! `sha256` subject digest (`GET /repos/{owner}/{repo}/attestations/sha256:<digest>`, the sha256 of
//! the raw commit object, recomputed from the repository), reading inline bundles and
//! `bundle_url`s alike.
//!
//! GitHub documents this API for bundles made by `actions/attest`; whether it stores key-signed
//! bundles is unconfirmed, so every error from it says so and points to the `git` store, which
//! works with any forge. Errors reach [`Store`] callers as [`StoreError::Io`] whose source is the
//! [`GitHubError`] (see [`github_error`]); the inherent methods return [`GitHubError`] directly.

use super::{
    Budget, Fetched, ItemProblem, MAX_LISTED_ITEMS_PER_COMMIT, RejectedItem, Store, StoreError,
    StoredBundle, listing_stopped,
};
use crate::bundle::MAX_BUNDLE_BYTES;
use crate::git::{CommitId, Repo};
use crate::github::{GitHub, GitHubError, ListedAttestation};
use futures_util::future::join_all;

/// Entries of one listing taken at a time: their `bundle_url`s download side by side before the
/// per-commit byte budget is looked at again (so a hostile listing holds at most this many
/// unchecked downloads in memory).
const DOWNLOAD_WAVE: usize = 8;

/// Bundles kept as GitHub artifact attestations of one repository.
#[derive(Debug)]
pub struct GitHubStore<'a> {
    github: &'a GitHub,
    repo: Repo,
}

impl<'a> GitHubStore<'a> {
    /// A store over `github`'s repository; `repo` is the local clone, used to recompute a commit's
    /// sha256 digest. The client is borrowed: one client per process serves the store and the
    /// check runs alike.
    pub fn new(github: &'a GitHub, repo: Repo) -> GitHubStore<'a> {
        GitHubStore { github, repo }
    }

    /// Uploads one bundle; returns where it went (`github:owner/name attestation <id>`).
    pub fn upload(&self, bundle_json: &[u8]) -> Result<String, GitHubError> {
        self.github.block_on(self.upload_async(bundle_json))
    }

    async fn upload_async(&self, bundle_json: &[u8]) -> Result<String, GitHubError> {
        let id = self.github.upload_attestation_async(bundle_json).await?;
        let repository = &self.github.config().repository;
        Ok(match id {
            Some(id) => format!("github:{repository} attestation {id}"),
            None => format!("github:{repository} (already stored)"),
        })
    }

    /// The bundles GitHub lists for the commit-object digest `sha256_hex` (see [`fetch_attestations`]).
    pub fn fetch_digest(&self, sha256_hex: &str) -> Result<Fetched, GitHubError> {
        fetch_attestations(self.github, sha256_hex)
    }

    /// The sha256 digest of the commit object, recomputed from the local clone.
    fn commit_digest(&self, commit: &CommitId) -> Result<String, StoreError> {
        let info = self.repo.commit_info(commit).map_err(|e| StoreError::Git {
            command: format!("cat-file commit {commit}"),
            expected: "the commit object, to compute its sha256 digest".into(),
            found: e.to_string(),
        })?;
        Ok(info.sha256)
    }
}

/// The bundles GitHub lists for the commit-object digest `sha256_hex`, each entry taken on its own:
/// an entry without a bundle, a `bundle_url` that cannot be downloaded, a bundle over
/// [`MAX_BUNDLE_BYTES`] or past the per-commit limits ([`super::MAX_ITEMS_PER_COMMIT`],
/// [`super::MAX_BYTES_PER_COMMIT`]) is a [`RejectedItem`] and never stops the others. Only a listing
/// that fails as a whole is an error.
///
/// The `bundle_url`s are downloaded side by side, [`DOWNLOAD_WAVE`] entries at a time; the result
/// is in listing order whatever order the downloads finish in.
pub fn fetch_attestations(github: &GitHub, sha256_hex: &str) -> Result<Fetched, GitHubError> {
    github.block_on(fetch_attestations_async(github, sha256_hex))
}

/// Where an entry's bundle comes from, once the count limit has been applied.
enum Source {
    /// The listing's inline `bundle`.
    Inline(Vec<u8>),
    /// A `bundle_url` to download.
    Url(String),
    /// Not taken, and why.
    Refused(ItemProblem),
}

impl Source {
    /// The bundle's bytes: inline, downloaded, or the reason there are none.
    async fn content(self, github: &GitHub) -> Result<Vec<u8>, ItemProblem> {
        match self {
            Source::Inline(bytes) => Ok(bytes),
            Source::Url(url) => {
                github
                    .fetch_bundle_url_async(&url)
                    .await
                    .map_err(|e| ItemProblem::FetchFailed {
                        message: e.to_string(),
                    })
            }
            Source::Refused(problem) => Err(problem),
        }
    }
}

async fn fetch_attestations_async(
    github: &GitHub,
    sha256_hex: &str,
) -> Result<Fetched, GitHubError> {
    let listed = github.list_attestation_entries_async(sha256_hex).await?;
    let total = listed.len();
    let mut budget = Budget::default();
    let mut out = Fetched::default();
    let mut entries = Vec::new();
    let mut stopped = None;
    for (i, entry) in listed.into_iter().enumerate() {
        if i >= MAX_LISTED_ITEMS_PER_COMMIT {
            stopped = Some(listing_stopped(
                entry.location,
                format!("{} more attestations listed", total - i),
            ));
            break;
        }
        entries.push(classify_entry(entry, budget.take_item()));
    }

    // A wave of entries at a time: their bundle_urls download side by side, then the byte budget
    // takes them in listing order before the next wave starts.
    let mut entries = entries.into_iter();
    loop {
        let wave: Vec<(String, Source)> = entries.by_ref().take(DOWNLOAD_WAVE).collect();
        if wave.is_empty() {
            break;
        }
        let contents = join_all(
            wave.into_iter()
                .map(|(location, source)| async move { (location, source.content(github).await) }),
        )
        .await;
        for (location, bytes) in contents {
            let taken = bytes.and_then(|bytes| {
                let size = bytes.len() as u64;
                if size > MAX_BUNDLE_BYTES as u64 {
                    return Err(ItemProblem::TooLarge {
                        size,
                        limit: MAX_BUNDLE_BYTES as u64,
                    });
                }
                budget.take_bytes(size)?;
                Ok(bytes)
            });
            match taken {
                Ok(bytes) => out.bundles.push(StoredBundle { location, bytes }),
                Err(problem) => out.rejected.push(RejectedItem { location, problem }),
            }
        }
    }
    out.rejected.extend(stopped);
    Ok(out)
}

/// An entry's location and where its bundle comes from; past the count limit (`counted` is an
/// error) a `bundle_url` is not even downloaded.
fn classify_entry(entry: ListedAttestation, counted: Result<(), ItemProblem>) -> (String, Source) {
    let ListedAttestation {
        location,
        bundle,
        bundle_url,
    } = entry;
    match (bundle, bundle_url) {
        (Some(bundle), _) => (
            location,
            match counted {
                Ok(()) => Source::Inline(bundle),
                Err(problem) => Source::Refused(problem),
            },
        ),
        (None, Some(url)) => (
            crate::github::strip_query(&url).to_string(),
            match counted {
                Ok(()) => Source::Url(url),
                Err(problem) => Source::Refused(problem),
            },
        ),
        (None, None) => (
            location,
            Source::Refused(ItemProblem::NotAFile {
                found: "an attestation with neither `bundle` nor `bundle_url`".into(),
            }),
        ),
    }
}

/// Wraps a [`GitHubError`] as a [`StoreError`] (its source stays reachable for callers).
fn store_error(what: &str, e: GitHubError) -> StoreError {
    StoreError::Io {
        path: what.to_string(),
        source: std::io::Error::other(e),
    }
}

/// The [`GitHubError`] inside a [`StoreError`] made by this store, if it is one.
pub fn github_error(e: &StoreError) -> Option<&GitHubError> {
    match e {
        StoreError::Io { source, .. } => source.get_ref()?.downcast_ref::<GitHubError>(),
        _ => None,
    }
}

impl Store for GitHubStore<'_> {
    fn put(&self, _commit: &CommitId, bundle_json: &[u8]) -> Result<String, StoreError> {
        self.upload(bundle_json)
            .map_err(|e| store_error("github attestations", e))
    }

    fn fetch(&self, commit: &CommitId) -> Result<Fetched, StoreError> {
        let digest = self.commit_digest(commit)?;
        self.fetch_digest(&digest)
            .map_err(|e| store_error("github attestations", e))
    }

    /// The uploads are sent side by side (at most the client's in-flight limit at once); results
    /// in the order of `bundles`.
    fn put_many(&self, _commit: &CommitId, bundles: &[&[u8]]) -> Vec<Result<String, StoreError>> {
        let uploads = bundles.iter().map(|bundle| async move {
            self.upload_async(bundle)
                .await
                .map_err(|e| store_error("github attestations", e))
        });
        self.github.block_on(join_all(uploads))
    }

    /// The commits' listings and `bundle_url` downloads overlap, at most the client's in-flight
    /// limit of requests at once; results in the order of `commits`.
    fn fetch_many(&self, commits: &[CommitId]) -> Vec<Result<Fetched, StoreError>> {
        let github = self.github;
        let work = commits.iter().map(|commit| {
            let digest = self.commit_digest(commit);
            async move {
                fetch_attestations_async(github, &digest?)
                    .await
                    .map_err(|e| store_error("github attestations", e))
            }
        });
        github.block_on(join_all(work))
    }

    fn describe(&self) -> String {
        format!("GitHub attestations of {}", self.github.config().repository)
    }
}
