//! The `dir` store: bundles as files `<commit>.<n>.sigstore.json` in a folder of the repository.
//!
//! Writes are atomic (temporary file + rename without replacing) and never overwrite: two runs for
//! one commit get `.1` and `.2`. Public keys that signed bundles are kept beside them under
//! `keys/sha256-<hex>.pub` so a policy that pins a key by fingerprint can find the key itself.

use super::{Fetched, Store, StoreError, StoredBundle};
use crate::bundle::MAX_BUNDLE_BYTES;
use crate::git::CommitId;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Suffix of bundle files.
pub const BUNDLE_SUFFIX: &str = ".sigstore.json";

/// A folder of bundles.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> DirStore {
        DirStore { root: root.into() }
    }

    /// The store's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// A new folder for the logs of one run of a commit (`logs/<commit>-<n>`), never reused.
    pub fn new_log_dir(&self, commit: &CommitId) -> Result<PathBuf, StoreError> {
        let logs = self.root.join("logs");
        std::fs::create_dir_all(&logs).map_err(Self::io(&logs))?;
        for n in 1.. {
            let dir = logs.join(format!("{commit}-{n}"));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Self::io(&dir)(e)),
            }
        }
        unreachable!("an unbounded range always yields a free name or an error")
    }

    /// Keeps a public key (PEM) under its fingerprint's hex, unless it is already there.
    pub fn put_public_key(&self, fingerprint_hex: &str, pem: &str) -> Result<PathBuf, StoreError> {
        let dir = self.root.join("keys");
        std::fs::create_dir_all(&dir).map_err(Self::io(&dir))?;
        let path = dir.join(format!("sha256-{fingerprint_hex}.pub"));
        if path.exists() {
            return Ok(path);
        }
        write_new(&dir, &path, pem.as_bytes())?;
        Ok(path)
    }

    /// A public key kept under this fingerprint's hex, if there is one.
    pub fn public_key(&self, fingerprint_hex: &str) -> Result<Option<String>, StoreError> {
        if !fingerprint_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let path = self
            .root
            .join("keys")
            .join(format!("sha256-{fingerprint_hex}.pub"));
        match std::fs::read(&path) {
            Ok(bytes) if bytes.len() <= 64 * 1024 => {
                Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
            }
            Ok(bytes) => Err(StoreError::TooLarge {
                path: path.display().to_string(),
                size: bytes.len() as u64,
                limit: 64 * 1024,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io(&path)(e)),
        }
    }

    fn bundle_index(commit: &CommitId, name: &str) -> Option<u64> {
        name.strip_prefix(commit.as_str())?
            .strip_prefix('.')?
            .strip_suffix(BUNDLE_SUFFIX)?
            .parse()
            .ok()
    }
}

/// Writes `bytes` to `path` atomically, failing if `path` exists.
fn write_new(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = DirStore::io(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(DirStore::io(dir))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(DirStore::io(path))?;
    tmp.persist_noclobber(path).map_err(|e| io(e.error))?;
    Ok(())
}

impl Store for DirStore {
    fn put(&self, commit: &CommitId, bundle_json: &[u8]) -> Result<String, StoreError> {
        std::fs::create_dir_all(&self.root).map_err(Self::io(&self.root))?;
        let next = self.fetch_names(commit)?.last().map_or(1, |(n, _)| n + 1);
        for n in next.. {
            let path = self.root.join(format!("{commit}.{n}{BUNDLE_SUFFIX}"));
            match write_new(&self.root, &path, bundle_json) {
                Ok(()) => return Ok(path.display().to_string()),
                Err(StoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("an unbounded range always yields a free name or an error")
    }

    fn fetch(&self, commit: &CommitId) -> Result<Fetched, StoreError> {
        let mut out = Vec::new();
        for (_, path) in self.fetch_names(commit)? {
            let size = std::fs::metadata(&path).map_err(Self::io(&path))?.len();
            if size > MAX_BUNDLE_BYTES as u64 {
                return Err(StoreError::TooLarge {
                    path: path.display().to_string(),
                    size,
                    limit: MAX_BUNDLE_BYTES as u64,
                });
            }
            let bytes = std::fs::read(&path).map_err(Self::io(&path))?;
            out.push(StoredBundle {
                location: path.display().to_string(),
                bytes,
            });
        }
        Ok(Fetched::of(out))
    }
}

impl DirStore {
    fn fetch_names(&self, commit: &CommitId) -> Result<Vec<(u64, PathBuf)>, StoreError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Self::io(&self.root)(e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(Self::io(&self.root))?;
            let name = entry.file_name();
            if let Some(n) = Self::bundle_index(commit, &name.to_string_lossy()) {
                found.push((n, entry.path()));
            }
        }
        found.sort();
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit() -> CommitId {
        CommitId::parse(&"ab".repeat(20)).expect("valid id")
    }

    #[test]
    fn never_overwrites_and_numbers_bundles_per_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DirStore::new(dir.path().join("store"));
        let a = store.put(&commit(), b"{\"a\":1}").expect("put");
        let b = store.put(&commit(), b"{\"b\":2}").expect("put");
        assert!(a.ends_with(".1.sigstore.json"), "{a}");
        assert!(b.ends_with(".2.sigstore.json"), "{b}");
        let got = store.fetch(&commit()).expect("fetch").bundles;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].bytes, b"{\"a\":1}");
        assert_eq!(got[1].bytes, b"{\"b\":2}");
    }

    #[test]
    fn other_commits_bundles_are_not_fetched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DirStore::new(dir.path());
        store.put(&commit(), b"{}").expect("put");
        let other = CommitId::parse(&"cd".repeat(20)).expect("valid id");
        assert!(store.fetch(&other).expect("fetch").bundles.is_empty());
    }

    #[test]
    fn a_missing_store_folder_holds_no_bundles() {
        let store = DirStore::new("/nonexistent/ci-attest-store");
        assert!(store.fetch(&commit()).expect("fetch").bundles.is_empty());
    }
}
