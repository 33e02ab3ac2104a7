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
    /// Every bundle stored for a commit, oldest first.
    fn fetch(&self, commit: &CommitId) -> Result<Vec<StoredBundle>, StoreError>;
}
