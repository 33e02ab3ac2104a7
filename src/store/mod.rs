//! Stores: where bundles go after signing and where the verifier finds them.
//!
//! Every backend is reached through [`Store`]; `dir` (a folder in the repository) is the default
//! and works offline.
//!
//! Store items are written by whoever can push to the store, so every backend reads them as hostile
//! input: only regular files (dir) or blobs (git) are read, never more than the limits below, never
//! blocking, and a bad item becomes a [`RejectedItem`] that names it instead of stopping the fetch.
//! `docs/limits.md` lists every limit, where it is enforced and what happens at it.

pub mod dir;
pub mod git;
pub mod github;

use crate::git::CommitId;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Most items of one commit a store examines (opens, or looks up in git), in store order; the
/// items after them are [`ItemProblem::OverLimit`], named but never opened or read.
///
/// Each `ci-attest run` stores two bundles (local run and test result), so this is 32 runs of one
/// commit.
pub const MAX_ITEMS_PER_COMMIT: usize = 64;

/// Most bytes a store reads for one commit, over all its items. An item that does not fit in what
/// is left is [`ItemProblem::OverLimit`] and is not read; later, smaller items may still fit. Each
/// item is also bounded by [`crate::bundle::MAX_BUNDLE_BYTES`].
pub const MAX_BYTES_PER_COMMIT: u64 = 64 * 1024 * 1024;

/// Most items of one commit a store lists by name (the first ones in store order). Items past it
/// are not named one by one: a single [`ItemProblem::OverLimit`] item, located at the store's
/// folder or ref prefix, says the listing stopped.
pub const MAX_LISTED_ITEMS_PER_COMMIT: usize = 1024;

/// Largest public key file read from the dir store's `keys/` folder.
pub const MAX_PUBLIC_KEY_BYTES: u64 = 64 * 1024;

/// Highest bundle number of the dir store (`<commit>.<n>.sigstore.json`, `n` from 1). Numbers are
/// never wrapped: past it, `put` takes the lowest free number; a name with a larger number (or
/// `0`, or leading zeros) is rejected as [`ItemProblem::BadName`].
pub const MAX_BUNDLE_NUMBER: u64 = u32::MAX as u64;

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
    #[error("expected a readable item, found an error: {message}")]
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
    /// Skipped unread because the commit's items exceed a count or total-size limit.
    #[error("skipped unread: expected {limit}, found {found}")]
    OverLimit {
        /// Which limit, e.g. `at most 64 items per commit`.
        limit: String,
        /// What went past it, e.g. `item 65 of the commit`.
        found: String,
    },
    /// Fetching it from a remote failed, or the remote rewrote it.
    #[error("expected the remote's ref to fetch without forcing, found: {message}")]
    FetchFailed {
        /// Why.
        message: String,
    },
    /// Its name has the store's shape but not a name the store ever writes (dir store: a bundle
    /// number of 0, with leading zeros, or over [`MAX_BUNDLE_NUMBER`]).
    #[error("expected {expected}, found {found}")]
    BadName {
        /// The names the store writes.
        expected: String,
        /// The name part found.
        found: String,
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
    /// A store item that cannot be used (e.g. a key file that is a FIFO or a symbolic link).
    #[error("{location}: {problem}")]
    Item {
        /// Where it is.
        location: String,
        /// What is wrong with it.
        problem: ItemProblem,
    },
    /// Every bundle number of the dir store is taken (see [`MAX_BUNDLE_NUMBER`]).
    #[error("{path}: expected a free bundle number from 1 to {limit}, found none")]
    NoFreeNumber {
        /// The store's folder.
        path: String,
        /// The highest bundle number.
        limit: u64,
    },
    /// A store holds more of something than a command takes at once.
    #[error("{path}: expected at most {limit} {what}, found more")]
    TooMany {
        /// The store.
        path: String,
        /// What there is too much of.
        what: String,
        /// The limit.
        limit: usize,
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

/// What [`Store::publish`] did, item by item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// Items others could not see before and now can (git: refs created on the remote).
    pub created: Vec<String>,
    /// Items others could already see with the same bundle (nothing sent).
    pub up_to_date: Vec<String>,
    /// How many sends it took (git: `git push` runs; 0 when there was nothing to send).
    pub attempts: u32,
}

/// What [`Store::pull`] brought within reach of [`Store::fetch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pulled {
    /// Items others published for the asked commits that this side did not have and now has (git:
    /// refs fetched).
    pub fetched: usize,
    /// Items others published for the asked commits that this side already had, unchanged (git:
    /// refs this clone held with the same object).
    pub present: usize,
    /// How many of the asked commits have at least one item on the other side.
    pub commits: usize,
    /// How many items the other side holds in the store's whole namespace, when it was listed
    /// whole (git: refs under `refs/ci-attest/`), else only those of the asked commits.
    pub listed: usize,
    /// Items of the asked commits that were not taken, each with its reason, by commit.
    pub rejected: BTreeMap<CommitId, Vec<RejectedItem>>,
    /// Items that belong to none of the asked commits and were not taken: names the store never
    /// writes, refs outside its namespace, or a listing cut at its limit.
    pub stray: Vec<RejectedItem>,
}

impl Pulled {
    /// Every rejected item, of the asked commits and stray.
    pub fn rejected_count(&self) -> usize {
        self.rejected.values().map(Vec::len).sum::<usize>() + self.stray.len()
    }
}

/// A place bundles are kept, keyed by commit. Every command reads and writes bundles through it:
/// `run` puts, `push` puts and publishes, `verify` pulls and fetches, `audit` fetches many.
pub trait Store {
    /// Stores a bundle for a commit without touching any bundle already stored; returns its location.
    fn put(&self, commit: &CommitId, bundle_json: &[u8]) -> Result<String, StoreError>;

    /// [`Store::put`] of each bundle of `commit`, in the same order. A backend whose writes can
    /// overlap (the GitHub API) sends them side by side; the default writes one after another.
    fn put_many(&self, commit: &CommitId, bundles: &[&[u8]]) -> Vec<Result<String, StoreError>> {
        bundles.iter().map(|b| self.put(commit, b)).collect()
    }

    /// Every bundle stored for a commit, oldest first, and every item that could not be taken.
    ///
    /// An `Err` means the store as a whole could not be read; a bad item is a [`RejectedItem`].
    fn fetch(&self, commit: &CommitId) -> Result<Fetched, StoreError>;

    /// [`Store::fetch`] of each commit, in the same order. A backend whose reads can overlap (the
    /// GitHub API) runs them side by side; the default reads one commit after another.
    fn fetch_many(&self, commits: &[CommitId]) -> Vec<Result<Fetched, StoreError>> {
        commits.iter().map(|c| self.fetch(c)).collect()
    }

    /// Prepares reading the bundles of many `commits` (an audit's range): a backend whose
    /// [`Store::fetch`] lists the whole store (dir) lists it once here and keeps each asked
    /// commit's items, so the range costs one listing instead of one per commit. The items are
    /// then read, commit by commit, by [`StoreIndex::fetch_many`], with the same limits and the
    /// same results as [`Store::fetch`]. An `Err` means the store could not be listed. The
    /// default keeps nothing and reads through [`Store::fetch_many`].
    fn index<'s>(&'s self, commits: &[CommitId]) -> Result<Box<dyn StoreIndex + 's>, StoreError> {
        let _ = commits;
        Ok(Box::new(Unindexed(self)))
    }

    /// Brings what others published for `commits` within reach of [`Store::fetch`] (git: fetches
    /// their refs from the remote, never forcing) and says what it brought and which items it did
    /// not take, each with its reason; an `Err` means the store could not be reached at all. The
    /// default has nothing to bring (`fetch` already reads the shared store): `None`.
    fn pull(&self, commits: &[CommitId]) -> Result<Option<Pulled>, StoreError> {
        let _ = commits;
        Ok(None)
    }

    /// Makes what [`Store::put`] stored for `commits` visible to others (git: pushes their refs,
    /// never forcing). The default has nothing to send: `put` already wrote the shared store.
    fn publish(&self, commits: &[CommitId]) -> Result<Published, StoreError> {
        let _ = commits;
        Ok(Published::default())
    }

    /// The store, for messages (e.g. `git remote origin`, `GitHub attestations of acme/app`).
    fn describe(&self) -> String;
}

/// The bundles of the commits a [`Store::index`] listed, read on demand.
pub trait StoreIndex {
    /// [`Store::fetch`] of each commit, in the same order, from the listing (a commit that was
    /// not asked for when indexing is fetched from the store itself).
    fn fetch_many(&self, commits: &[CommitId]) -> Vec<Result<Fetched, StoreError>>;
}

/// The default [`Store::index`]: nothing listed ahead, every read goes to the store.
struct Unindexed<'s, S: ?Sized>(&'s S);

impl<S: Store + ?Sized> StoreIndex for Unindexed<'_, S> {
    fn fetch_many(&self, commits: &[CommitId]) -> Vec<Result<Fetched, StoreError>> {
        self.0.fetch_many(commits)
    }
}

/// The per-commit limits ([`MAX_ITEMS_PER_COMMIT`], [`MAX_BYTES_PER_COMMIT`]), spent item by item
/// in store order.
#[derive(Debug, Clone)]
struct Budget {
    items: usize,
    bytes: u64,
    max_items: usize,
    max_bytes: u64,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new(MAX_ITEMS_PER_COMMIT, MAX_BYTES_PER_COMMIT)
    }
}

impl Budget {
    fn new(max_items: usize, max_bytes: u64) -> Budget {
        Budget {
            items: 0,
            bytes: 0,
            max_items,
            max_bytes,
        }
    }

    /// Counts one more item examined, or says it is past the count limit.
    fn take_item(&mut self) -> Result<(), ItemProblem> {
        self.items = self.items.saturating_add(1);
        if self.items > self.max_items {
            return Err(ItemProblem::OverLimit {
                limit: format!("at most {} items per commit", self.max_items),
                found: format!("item {} of the commit", self.items),
            });
        }
        Ok(())
    }

    /// Checks `size` more bytes fit in what is left of the total, without spending them.
    fn check_bytes(&self, size: u64) -> Result<(), ItemProblem> {
        if size > self.max_bytes - self.bytes {
            return Err(ItemProblem::OverLimit {
                limit: format!("at most {} bytes read per commit", self.max_bytes),
                found: format!(
                    "{} bytes already read and this item of {size} bytes",
                    self.bytes
                ),
            });
        }
        Ok(())
    }

    /// Spends `size` bytes, or says they do not fit.
    fn take_bytes(&mut self, size: u64) -> Result<(), ItemProblem> {
        self.check_bytes(size)?;
        self.bytes += size;
        Ok(())
    }
}

/// The one-item summary of items past [`MAX_LISTED_ITEMS_PER_COMMIT`].
fn listing_stopped(location: String, found: String) -> RejectedItem {
    RejectedItem {
        location,
        problem: ItemProblem::OverLimit {
            limit: format!("at most {MAX_LISTED_ITEMS_PER_COMMIT} items listed per commit"),
            found,
        },
    }
}

/// What a file that is not a regular file is, for [`ItemProblem::NotAFile`]; `None` for a regular
/// file.
fn non_regular_kind(file_type: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    Some(if file_type.is_file() {
        return None;
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_dir() {
        "a folder"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else {
        "something that is not a regular file"
    })
}

/// Opens a store file the safe way: only a regular file, without following a symbolic link in its
/// last component and without blocking (a FIFO opens at once and is then refused by `fstat`).
/// Returns the file and the size `fstat` gave.
fn open_regular(path: &Path) -> Result<(std::fs::File, u64), ItemProblem> {
    use std::os::unix::fs::OpenOptionsExt;
    let unreadable = |e: std::io::Error| ItemProblem::Unreadable {
        message: e.to_string(),
    };
    let not_a_file = |kind: &str| ItemProblem::NotAFile {
        found: kind.to_string(),
    };
    // A first look that never opens: a FIFO or device is refused without being touched.
    let meta = std::fs::symlink_metadata(path).map_err(unreadable)?;
    if let Some(kind) = non_regular_kind(meta.file_type()) {
        return Err(not_a_file(kind));
    }
    // The item may be swapped between the look and the open: the flags and `fstat` decide.
    let flags =
        rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NOCTTY;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                not_a_file("a symbolic link")
            } else {
                unreadable(e)
            }
        })?;
    let meta = file.metadata().map_err(unreadable)?;
    if let Some(kind) = non_regular_kind(meta.file_type()) {
        return Err(not_a_file(kind));
    }
    Ok((file, meta.len()))
}

/// Reads at most `limit` bytes of `reader`; more is [`ItemProblem::TooLarge`] (with `limit + 1` as
/// the lower bound of the size), and nothing past `limit + 1` is ever read.
fn read_at_most(reader: impl Read, limit: u64) -> Result<Vec<u8>, ItemProblem> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ItemProblem::Unreadable {
            message: e.to_string(),
        })?;
    if bytes.len() as u64 > limit {
        return Err(ItemProblem::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// Opens and reads a regular file of at most `limit` bytes, never following a symbolic link nor
/// blocking on a FIFO.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ItemProblem> {
    let (file, size) = open_regular(path)?;
    if size > limit {
        return Err(ItemProblem::TooLarge { size, limit });
    }
    read_at_most(file, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_limit_refuses_items_past_it_and_says_which() {
        let mut budget = Budget::new(2, 100);
        assert!(budget.take_item().is_ok());
        assert!(budget.take_item().is_ok());
        let third = budget.take_item().expect_err("past the count");
        assert_eq!(
            third.to_string(),
            "skipped unread: expected at most 2 items per commit, found item 3 of the commit"
        );
        let fourth = budget.take_item().expect_err("still past it");
        assert!(fourth.to_string().contains("found item 4"), "{fourth}");
    }

    #[test]
    fn the_total_limit_takes_what_fits_and_refuses_the_rest() {
        let mut budget = Budget::new(10, 100);
        budget.take_bytes(60).expect("fits");
        let err = budget.take_bytes(41).expect_err("does not fit");
        assert_eq!(
            err.to_string(),
            "skipped unread: expected at most 100 bytes read per commit, found 60 bytes already read and this item of 41 bytes"
        );
        // A smaller item still fits, exactly up to the limit.
        budget.check_bytes(40).expect("fits");
        budget.take_bytes(40).expect("fits");
        assert!(budget.take_bytes(1).is_err());
        assert!(budget.take_bytes(0).is_ok());
    }

    #[test]
    fn the_default_budget_is_the_documented_limits() {
        let b = Budget::default();
        assert_eq!((b.max_items, b.max_bytes), (64, 64 * 1024 * 1024));
        assert_eq!(MAX_LISTED_ITEMS_PER_COMMIT, 1024);
        assert_eq!(MAX_BUNDLE_NUMBER, 4_294_967_295);
    }

    #[test]
    fn reads_are_bounded_and_say_expected_and_found() {
        assert_eq!(read_at_most(&b"abc"[..], 3).expect("fits"), b"abc");
        let err = read_at_most(std::io::repeat(0), 10).expect_err("endless");
        assert_eq!(
            err,
            ItemProblem::TooLarge {
                size: 11,
                limit: 10
            }
        );
        assert_eq!(err.to_string(), "expected at most 10 bytes, found 11 bytes");
    }

    #[test]
    fn only_regular_files_are_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        std::fs::write(&file, b"key").expect("write");
        assert_eq!(read_regular(&file, 3).expect("regular"), b"key");
        assert!(matches!(
            read_regular(&file, 2),
            Err(ItemProblem::TooLarge { size: 3, limit: 2 })
        ));
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&file, &link).expect("symlink");
        let err = read_regular(&link, 100).expect_err("a link");
        assert_eq!(
            err.to_string(),
            "expected a regular file or blob, found a symbolic link"
        );
        let err = read_regular(dir.path(), 100).expect_err("a folder");
        assert!(err.to_string().ends_with("found a folder"), "{err}");
        let err = read_regular(Path::new("/dev/null"), 100).expect_err("a device");
        assert!(err.to_string().ends_with("found a device"), "{err}");
        let err = read_regular(&dir.path().join("none"), 100).expect_err("missing");
        assert!(matches!(err, ItemProblem::Unreadable { .. }), "{err}");
    }
}
