//! Stores: where bundles go after signing and where the verifier finds them.
//!
//! Every backend is reached through [`Store`]; `dir` (a folder in the repository) is the default
//! and works offline.

pub mod dir;
pub mod git;
pub mod github;

use crate::git::CommitId;

/// A bundle read back from a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBundle {
    /// Where it came from (a path, a ref, a URL), for reports.
    pub location: String,
    /// The bundle's JSON bytes.
    pub bytes: Vec<u8>,
}

/// A store item that was not taken as a bundle, and why.
///
/// Items of a store are written by whoever can push to it; a bad one is reported on its own and
/// never stops the other bundles of the commit from being judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedItem {
    /// Where it is (a path, a ref, a URL), for reports.
    pub location: String,
    /// What is wrong with it.
    pub problem: ItemProblem,
}

/// What is wrong with a store item (see `docs/limits.md` for the limits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ItemProblem {
    /// Not a regular file (a FIFO, socket, device, folder or symbolic link), or not a blob.
    #[error("expected a regular file or blob, found {found}")]
    NotAFile {
        /// What it is instead.
        found: String,
    },
    /// Larger than the per-item limit.
    #[error("expected at most {limit} bytes, found {size} bytes")]
    TooLarge {
        /// Its size (or a lower bound of it).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Reading it failed.
    #[error("cannot read it: {message}")]
    Unreadable {
        /// Why.
        message: String,
    },
    /// Its bytes do not match the digest its name promises (git store refs).
    #[error("expected sha256 {expected} (its name), found sha256 {found}")]
    DigestMismatch {
        /// The digest in the name.
        expected: String,
        /// The digest of the bytes.
        found: String,
    },
    /// Skipped because the commit's items exceed a count or total-size limit.
    #[error("skipped: {limit}")]
    OverLimit {
        /// Which limit, e.g. `at most 64 bundles per commit`.
        limit: String,
    },
    /// Fetching it from a remote failed, or the remote rewrote it.
    #[error("cannot fetch it: {message}")]
    FetchFailed {
        /// Why.
        message: String,
    },
}

/// What a store holds for one commit: the bundles it could read, and the items it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// Bundles read, oldest first (store order).
    pub bundles: Vec<StoredBundle>,
    /// Items that were not taken, each with its reason.
    pub rejected: Vec<RejectedItem>,
}

impl Fetched {
    /// Only bundles, nothing rejected.
    pub fn of(bundles: Vec<StoredBundle>) -> Fetched {
        Fetched {
            bundles,
            rejected: Vec::new(),
        }
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading or writing the store failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A stored item is larger than the limit.
    #[error("{path}: {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The item.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A `git` command of the `git` store failed or gave something unexpected (credentials in
    /// remote URLs are redacted).
    #[error("`git {command}`: expected {expected}, found {found}")]
    Git {
        /// The command (arguments after `git`).
        command: String,
        /// What was expected.
        expected: String,
        /// What was found, with git's stderr when it failed.
        found: String,
    },
}

/// A place bundles are kept, keyed by commit.
pub trait Store {
    /// Stores a bundle for a commit without touching any bundle already stored; returns its location.
    fn put(&self, commit: &CommitId, bundle_json: &[u8]) -> Result<String, StoreError>;
    /// Every bundle stored for a commit, oldest first, and every item that could not be taken.
    ///
    /// An `Err` means the store as a whole could not be read; a bad item is a [`RejectedItem`].
    fn fetch(&self, commit: &CommitId) -> Result<Fetched, StoreError>;
}
