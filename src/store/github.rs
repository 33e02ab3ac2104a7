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
use crate::github::{GitHub, GitHubError};

/// Bundles kept as GitHub artifact attestations of one repository.
#[derive(Debug)]
pub struct GitHubStore {
    github: GitHub,
    repo: Repo,
}

impl GitHubStore {
    /// A store over `github`'s repository; `repo` is the local clone, used to recompute a commit's
    /// sha256 digest.
    pub fn new(github: GitHub, repo: Repo) -> GitHubStore {
        GitHubStore { github, repo }
    }

    /// The client.
    pub fn github(&self) -> &GitHub {
        &self.github
    }

    /// Uploads one bundle; returns where it went (`github:owner/name attestation <id>`).
    pub fn upload(&self, bundle_json: &[u8]) -> Result<String, GitHubError> {
        let id = self.github.upload_attestation(bundle_json)?;
        let repository = &self.github.config().repository;
        Ok(match id {
            Some(id) => format!("github:{repository} attestation {id}"),
            None => format!("github:{repository} (already stored)"),
        })
    }

    /// The bundles GitHub lists for the commit-object digest `sha256_hex` (see [`fetch_attestations`]).
    pub fn fetch_digest(&self, sha256_hex: &str) -> Result<Fetched, GitHubError> {
        fetch_attestations(&self.github, sha256_hex)
    }
}

/// The bundles GitHub lists for the commit-object digest `sha256_hex`, each entry taken on its own:
/// an entry without a bundle, a `bundle_url` that cannot be downloaded, a bundle over
/// [`MAX_BUNDLE_BYTES`] or past the per-commit limits ([`super::MAX_ITEMS_PER_COMMIT`],
/// [`super::MAX_BYTES_PER_COMMIT`]) is a [`RejectedItem`] and never stops the others. Only a listing
/// that fails as a whole is an error.
pub fn fetch_attestations(github: &GitHub, sha256_hex: &str) -> Result<Fetched, GitHubError> {
    let listed = github.list_attestation_entries(sha256_hex)?;
    let total = listed.len();
    let mut budget = Budget::default();
    let mut out = Fetched::default();
    for (i, entry) in listed.into_iter().enumerate() {
        if i >= MAX_LISTED_ITEMS_PER_COMMIT {
            out.rejected.push(listing_stopped(
                entry.location,
                format!("{} more attestations listed", total - i),
            ));
            break;
        }
        let counted = budget.take_item();
        let (location, bytes) = match (entry.bundle, entry.bundle_url) {
            (Some(bundle), _) => (entry.location, counted.map(|()| bundle)),
            (None, Some(url)) => {
                let location = crate::github::strip_query(&url).to_string();
                // Past the count limit, a bundle_url is not even downloaded.
                let bytes = counted.and_then(|()| {
                    github
                        .fetch_bundle_url(&url)
                        .map_err(|e| ItemProblem::FetchFailed {
                            message: e.to_string(),
                        })
                });
                (location, bytes)
            }
            (None, None) => (
                entry.location,
                Err(ItemProblem::NotAFile {
                    found: "an attestation with neither `bundle` nor `bundle_url`".into(),
                }),
            ),
        };
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
    Ok(out)
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

impl Store for GitHubStore {
    fn put(&self, _commit: &CommitId, bundle_json: &[u8]) -> Result<String, StoreError> {
        self.upload(bundle_json)
            .map_err(|e| store_error("github attestations", e))
    }

    fn fetch(&self, commit: &CommitId) -> Result<Fetched, StoreError> {
        let info = self.repo.commit_info(commit).map_err(|e| StoreError::Git {
            command: format!("cat-file commit {commit}"),
            expected: "the commit object, to compute its sha256 digest".into(),
            found: e.to_string(),
        })?;
        self.fetch_digest(&info.sha256)
            .map_err(|e| store_error("github attestations", e))
    }
}
