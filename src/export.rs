//! The auditor's package: `audit --export DIR` writes everything a replay of the audit needs and
//! nothing else; `audit --import DIR` replays it on another machine, with no repository and no
//! network, at the recorded verification time, so the report is byte-identical.
//!
//! # Layout
//! ```text
//! DIR/MANIFEST.json              sha256 and size of every other file (the package's one root)
//! DIR/package.json               the index: range, exact `at`, policy label, where each input is
//! DIR/policy/policy.toml         the policy file, byte for byte
//! DIR/policy/keys/<n>.pub        each key file the policy names (`key = "..."`)
//! DIR/keys/sha256-<hex>.pub      each store key the policy pins by fingerprint and the audit used
//! DIR/trusted_root.json          the trusted root used, byte for byte
//! DIR/commits/<id>               each commit's raw object (what `git cat-file commit` prints)
//! DIR/bundles/<name>             each bundle, named store-relative (`<commit>.<n>.sigstore.json`)
//! DIR/report/audit.json, .md     the report the export run gave, for comparison
//! ```
//! The index keeps each bundle's original location string and each store item that was not
//! taken (with its reason), so the replayed report names them as the original did.
//!
//! # A package is hostile input
//! Reading one checks, before anything is judged: every path is relative, of plain components
//! (`[A-Za-z0-9._-]`, no `..`, no leading dot) and at most [`MAX_PATH_DEPTH`] deep; every entry
//! is a regular file or folder (never a symbolic link), read without following links or blocking,
//! within a per-kind size limit; the manifest lists every file and only files that exist, and
//! every file hashes to its manifest entry; a commit object hashes to the id it is filed under.
//! Any of these fails as a [`Code::PackageTampered`] finding naming the file; nothing is replayed.
//! The manifest itself can only be checked against a digest obtained out of band: export prints it.

use crate::finding::{Code, Finding};
use crate::git::{CommitId, CommitInfo, MAX_COMMIT_OBJECT_BYTES};
use crate::judge::{Judge, KeySource, MAX_AUDIT_COMMITS};
use crate::policy::{MAX_KEY_FILE_SIZE, MAX_POLICY_SIZE, Policy, PolicyError};
use crate::report::{AuditReport, Verdict};
use crate::store::{
    Fetched, ItemProblem, MAX_ITEMS_PER_COMMIT, MAX_PUBLIC_KEY_BYTES, Published, Pulled,
    RejectedItem, Store, StoreError, StoredBundle,
};
use crate::trust::{MAX_TRUSTED_ROOT_BYTES, TrustedRoot};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// Schema URI of `package.json` and `MANIFEST.json`.
pub const PACKAGE_SCHEMA: &str = "https://ci-attest.dev/audit-package/v1";
/// Schema URI of the JSON report on a package that cannot be replayed.
pub const PACKAGE_REPORT_SCHEMA: &str = "https://ci-attest.dev/audit-package-report/v1";
/// The manifest's file name.
pub const MANIFEST_FILE: &str = "MANIFEST.json";
/// The index's file name.
pub const INDEX_FILE: &str = "package.json";
/// Largest manifest or index read (each lists at most [`MAX_PACKAGE_FILES`] files).
pub const MAX_INDEX_BYTES: u64 = 512 * 1024 * 1024;
/// Most files a package holds: per commit its object and at most
/// [`MAX_ITEMS_PER_COMMIT`] bundles, over at most [`MAX_AUDIT_COMMITS`] commits, plus a few.
pub const MAX_PACKAGE_FILES: usize = MAX_AUDIT_COMMITS * (MAX_ITEMS_PER_COMMIT + 1) + 1024;
/// Deepest path in a package (`policy/keys/1.pub`).
pub const MAX_PATH_DEPTH: usize = 3;
/// Largest copy of the export run's own report kept in a package.
pub const MAX_REPORT_BYTES: u64 = 1024 * 1024 * 1024;

/// Why a package could not be written, or read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// The export folder already holds something.
    #[error(
        "{path}: expected a new (or empty) folder, found one with files in it: an export never overwrites; choose another folder"
    )]
    Exists {
        /// The folder.
        path: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A key the audit used could not be read from the store, so a replay could not use it either.
    #[error(
        "the store's key sha256-{fingerprint} could not be read ({message}): expected a readable key, so that the package replays the same verdict; fix or remove the key file"
    )]
    KeyUnreadable {
        /// The fingerprint hex.
        fingerprint: String,
        /// Why.
        message: String,
    },
    /// The policy file or a key file it names changed while the audit ran, or cannot be read.
    #[error("{path}: {message}")]
    Policy {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The policy in a package does not load (the package is intact: a version difference).
    #[error("the package's policy does not load: {0}")]
    PolicyInvalid(#[source] PolicyError),
    /// The trusted root in a package cannot be used.
    #[error("the package's trusted root cannot be used: {0}")]
    TrustedRoot(String),
    /// An audited commit's bundles were not seen by the recorder.
    #[error("commit {commit}: expected its store items to have been recorded, found none")]
    NotRecorded {
        /// The commit.
        commit: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PackageError + '_ {
    move |source| PackageError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Pretty JSON with sorted keys and a trailing newline.
fn sorted_json(value: &impl Serialize) -> Vec<u8> {
    let value = serde_json::to_value(value).expect("package types always serialise");
    let mut s = serde_json::to_string_pretty(&value).expect("a Value always serialises");
    s.push('\n');
    s.into_bytes()
}

// ---------------------------------------------------------------------------------------------
// The files' model.

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Manifest {
    schema: String,
    files: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileEntry {
    sha256: String,
    size: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Index {
    schema: String,
    range: String,
    /// The verification time to the nanosecond (RFC 3339), so the replay judges at the same instant.
    at: String,
    policy: PolicyEntry,
    trusted_root: String,
    /// Fingerprint hex -> package file, for every store key the audit looked up and found.
    keys: BTreeMap<String, String>,
    commits: Vec<CommitEntry>,
    /// The export run's own report files (not used by the replay).
    reports: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyEntry {
    /// The policy file as the user named it (every finding's origin names it).
    label: String,
    file: String,
    /// Key path as the policy writes it -> package file.
    key_files: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CommitEntry {
    id: String,
    object: String,
    bundles: Vec<BundleEntry>,
    rejected: Vec<RejectedEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BundleEntry {
    /// Where the store had it (as the report names it).
    location: String,
    file: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RejectedEntry {
    location: String,
    problem: Problem,
}

/// [`ItemProblem`] as package data (every variant, no wildcard: a new one must be mapped).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum Problem {
    NotAFile { found: String },
    TooLarge { size: u64, limit: u64 },
    Unreadable { message: String },
    DigestMismatch { expected: String, found: String },
    OverLimit { limit: String, found: String },
    FetchFailed { message: String },
    BadName { expected: String, found: String },
}

impl From<&ItemProblem> for Problem {
    fn from(p: &ItemProblem) -> Problem {
        match p.clone() {
            ItemProblem::NotAFile { found } => Problem::NotAFile { found },
            ItemProblem::TooLarge { size, limit } => Problem::TooLarge { size, limit },
            ItemProblem::Unreadable { message } => Problem::Unreadable { message },
            ItemProblem::DigestMismatch { expected, found } => {
                Problem::DigestMismatch { expected, found }
            }
            ItemProblem::OverLimit { limit, found } => Problem::OverLimit { limit, found },
            ItemProblem::FetchFailed { message } => Problem::FetchFailed { message },
            ItemProblem::BadName { expected, found } => Problem::BadName { expected, found },
        }
    }
}

impl From<Problem> for ItemProblem {
    fn from(p: Problem) -> ItemProblem {
        match p {
            Problem::NotAFile { found } => ItemProblem::NotAFile { found },
            Problem::TooLarge { size, limit } => ItemProblem::TooLarge { size, limit },
            Problem::Unreadable { message } => ItemProblem::Unreadable { message },
            Problem::DigestMismatch { expected, found } => {
                ItemProblem::DigestMismatch { expected, found }
            }
            Problem::OverLimit { limit, found } => ItemProblem::OverLimit { limit, found },
            Problem::FetchFailed { message } => ItemProblem::FetchFailed { message },
            Problem::BadName { expected, found } => ItemProblem::BadName { expected, found },
        }
    }
}

/// Whether `path` is a package path: relative, `/`-separated plain components of
/// `[A-Za-z0-9._-]` that do not start with a dot, at most [`MAX_PATH_DEPTH`] deep.
fn safe_path(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() <= MAX_PATH_DEPTH
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 255
                && !p.starts_with('.')
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

// ---------------------------------------------------------------------------------------------
// Export.

/// A package being written: files go into a temporary folder beside the export folder, which
/// [`Recorder::finish`] renames into place once everything is there.
struct PackageWriter {
    dir: PathBuf,
    tmp: tempfile::TempDir,
    files: BTreeMap<String, FileEntry>,
    used: BTreeSet<String>,
}

impl PackageWriter {
    fn create(dir: &Path) -> Result<PackageWriter, PackageError> {
        if let Ok(mut entries) = std::fs::read_dir(dir) {
            if entries.next().is_some() {
                return Err(PackageError::Exists {
                    path: dir.display().to_string(),
                });
            }
        }
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io_error(&parent))?;
        let tmp = tempfile::Builder::new()
            .prefix(".ci-attest-export-")
            .tempdir_in(&parent)
            .map_err(io_error(&parent))?;
        Ok(PackageWriter {
            dir: dir.to_path_buf(),
            tmp,
            files: BTreeMap::new(),
            used: BTreeSet::new(),
        })
    }

    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), PackageError> {
        debug_assert!(safe_path(name), "{name}");
        let path = self.tmp.path().join(name);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(io_error(p))?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, bytes))
            .map_err(io_error(&path))?;
        self.files.insert(
            name.to_string(),
            FileEntry {
                sha256: sha256_hex(bytes),
                size: bytes.len() as u64,
            },
        );
        Ok(())
    }

    /// Writes a commit's bundles; what the index says of its store items.
    fn items(&mut self, commit: &CommitId, fetched: &Fetched) -> Result<Items, PackageError> {
        let mut bundles = Vec::with_capacity(fetched.bundles.len());
        for (i, b) in fetched.bundles.iter().enumerate() {
            let name = bundle_name(&b.location, commit, i + 1, &self.used);
            self.put(&name, &b.bytes)?;
            self.used.insert(name.clone());
            bundles.push(BundleEntry {
                location: b.location.clone(),
                file: name,
            });
        }
        let rejected = fetched
            .rejected
            .iter()
            .map(|r| RejectedEntry {
                location: r.location.clone(),
                problem: Problem::from(&r.problem),
            })
            .collect();
        Ok((bundles, rejected))
    }
}

/// A commit's store items as the index lists them.
type Items = (Vec<BundleEntry>, Vec<RejectedEntry>);

struct Recorded {
    writer: PackageWriter,
    seen: BTreeMap<CommitId, Items>,
    /// The first write that failed (a store read cannot return it).
    failed: Option<PackageError>,
}

/// A store that passes everything through and writes what each commit's fetch returned into a
/// package as it goes, so an export holds exactly the items the audit judged and never more
/// than one fetch's bundles in memory.
pub struct Recorder<'a> {
    store: &'a dyn Store,
    state: Mutex<Recorded>,
}

impl<'a> Recorder<'a> {
    /// Records what `store` gives into a package for `dir`, which must be new or empty (checked
    /// now, before any audit work).
    pub fn new(store: &'a dyn Store, dir: &Path) -> Result<Recorder<'a>, PackageError> {
        Ok(Recorder {
            store,
            state: Mutex::new(Recorded {
                writer: PackageWriter::create(dir)?,
                seen: BTreeMap::new(),
                failed: None,
            }),
        })
    }

    fn keep(&self, commit: &CommitId, fetched: &Fetched) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.failed.is_some() || state.seen.contains_key(commit) {
            return;
        }
        match state.writer.items(commit, fetched) {
            Ok(items) => {
                state.seen.insert(commit.clone(), items);
            }
            Err(e) => state.failed = Some(e),
        }
    }
}

impl Store for Recorder<'_> {
    fn put(&self, commit: &CommitId, bundle_json: &[u8]) -> Result<String, StoreError> {
        self.store.put(commit, bundle_json)
    }

    fn fetch(&self, commit: &CommitId) -> Result<Fetched, StoreError> {
        let fetched = self.store.fetch(commit)?;
        self.keep(commit, &fetched);
        Ok(fetched)
    }

    fn fetch_many(&self, commits: &[CommitId]) -> Vec<Result<Fetched, StoreError>> {
        self.keep_all(commits, self.store.fetch_many(commits))
    }

    fn index<'s>(
        &'s self,
        commits: &[CommitId],
    ) -> Result<Box<dyn crate::store::StoreIndex + 's>, StoreError> {
        Ok(Box::new(RecordedIndex {
            recorder: self,
            index: self.store.index(commits)?,
        }))
    }

    fn pull(&self, commits: &[CommitId]) -> Result<Option<Pulled>, StoreError> {
        self.store.pull(commits)
    }

    fn publish(&self, commits: &[CommitId]) -> Result<Published, StoreError> {
        self.store.publish(commits)
    }

    fn describe(&self) -> String {
        self.store.describe()
    }
}

impl Recorder<'_> {
    /// Keeps what was fetched for each commit; passes the fetches on.
    fn keep_all(
        &self,
        commits: &[CommitId],
        all: Vec<Result<Fetched, StoreError>>,
    ) -> Vec<Result<Fetched, StoreError>> {
        for (c, f) in commits.iter().zip(&all) {
            if let Ok(f) = f {
                self.keep(c, f);
            }
        }
        all
    }
}

/// The inner store's index (one listing of the store), its reads kept for the package.
struct RecordedIndex<'s> {
    recorder: &'s Recorder<'s>,
    index: Box<dyn crate::store::StoreIndex + 's>,
}

impl crate::store::StoreIndex for RecordedIndex<'_> {
    fn fetch_many(&self, commits: &[CommitId]) -> Vec<Result<Fetched, StoreError>> {
        self.recorder
            .keep_all(commits, self.index.fetch_many(commits))
    }
}

/// A key source that passes lookups through and keeps what it answered.
pub struct RecordingKeys<'a> {
    keys: &'a dyn KeySource,
    seen: Mutex<BTreeMap<String, Result<Option<String>, String>>>,
}

impl<'a> RecordingKeys<'a> {
    /// Records what `keys` gives.
    pub fn new(keys: &'a dyn KeySource) -> RecordingKeys<'a> {
        RecordingKeys {
            keys,
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// The keys found, by fingerprint hex; a key that could not be read is an error, since a
    /// replay could not say why in the same words.
    pub fn into_keys(self) -> Result<BTreeMap<String, String>, PackageError> {
        let seen = self
            .seen
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut keys = BTreeMap::new();
        for (fingerprint, found) in seen {
            match found {
                Ok(Some(pem)) => {
                    keys.insert(fingerprint, pem);
                }
                Ok(None) => {}
                Err(message) => {
                    return Err(PackageError::KeyUnreadable {
                        fingerprint,
                        message,
                    });
                }
            }
        }
        Ok(keys)
    }
}

impl KeySource for RecordingKeys<'_> {
    fn public_key_pem(&self, fingerprint_hex: &str) -> Result<Option<String>, StoreError> {
        let found = self.keys.public_key_pem(fingerprint_hex);
        let kept = match &found {
            Ok(pem) => Ok(pem.clone()),
            Err(e) => Err(e.to_string()),
        };
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(fingerprint_hex.to_string(), kept);
        found
    }
}

/// Keys given by fingerprint hex (a package's `keys/`).
struct PackageKeys(BTreeMap<String, String>);

impl KeySource for PackageKeys {
    fn public_key_pem(&self, fingerprint_hex: &str) -> Result<Option<String>, StoreError> {
        Ok(self.0.get(fingerprint_hex).cloned())
    }
}

/// The policy file's text and the key files it names, as the audit loaded them.
#[derive(Debug, Clone)]
pub struct PolicySource {
    /// The policy as the user named it.
    pub label: String,
    /// Its text.
    pub text: String,
    /// Key path as the policy writes it -> the key file's text.
    pub key_files: BTreeMap<String, String>,
}

impl PolicySource {
    /// Reads the policy at `path` again with the key files it names, and checks it is the policy
    /// `loaded` (so a file changed while the audit ran is never exported).
    pub fn read(path: &Path, loaded: &Policy) -> Result<PolicySource, PackageError> {
        let bad = |p: &Path, message: String| PackageError::Policy {
            path: p.display().to_string(),
            message,
        };
        let text = read_text(path, MAX_POLICY_SIZE).map_err(|m| bad(path, m))?;
        let value: toml::Table =
            toml::from_str(&text).map_err(|e| bad(path, format!("not TOML: {}", e.message())))?;
        let base = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut key_files = BTreeMap::new();
        let signers = value.get("signer").and_then(toml::Value::as_array);
        for key in signers
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("key").and_then(toml::Value::as_str))
        {
            let file = base.join(key);
            let pem = read_text(&file, MAX_KEY_FILE_SIZE).map_err(|m| bad(&file, m))?;
            key_files.insert(key.to_string(), pem);
        }
        let source = PolicySource {
            label: loaded.file.clone(),
            text,
            key_files,
        };
        let again = Policy::parse_with_key_files(&source.text, &source.label, &source.key_files)
            .map_err(|e| bad(path, e.to_string()))?;
        if &again != loaded {
            return Err(bad(
                path,
                "expected the policy the audit loaded, found it (or a key file it names) changed since".into(),
            ));
        }
        Ok(source)
    }
}

fn read_text(path: &Path, limit: u64) -> Result<String, String> {
    let bytes = crate::store::read_regular(path, limit).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "expected UTF-8 text, found other bytes".into())
}

/// Everything an export writes besides the bundles the [`Recorder`] wrote.
#[derive(Debug)]
pub struct Export<'a> {
    /// The range as given.
    pub range: &'a str,
    /// The verification time.
    pub at: SystemTime,
    /// The policy.
    pub policy: &'a PolicySource,
    /// The trusted root's JSON, byte for byte.
    pub trusted_root_json: &'a [u8],
    /// Store keys the audit used, by fingerprint hex.
    pub keys: &'a BTreeMap<String, String>,
    /// The commits in report order, each with its raw object (what `git cat-file commit` prints).
    pub commits: &'a [(CommitId, Vec<u8>)],
    /// The export run's report files (name like `audit.json`, bytes).
    pub reports: &'a [(&'a str, &'a [u8])],
}

/// The name a bundle gets in the package: the last component of its store location when that is
/// a plain name not used yet, else `<commit>.<i>.sigstore.json`.
fn bundle_name(location: &str, commit: &CommitId, i: usize, used: &BTreeSet<String>) -> String {
    let last = location.rsplit(['/', '\\']).next().unwrap_or("");
    let candidate = format!("bundles/{last}");
    if safe_path(&candidate) && !used.contains(&candidate) {
        return candidate;
    }
    (i..)
        .map(|n| format!("bundles/{commit}.x{n}.sigstore.json"))
        .find(|c| !used.contains(c))
        .expect("an unbounded range always yields an unused name")
}

impl Recorder<'_> {
    /// Writes the rest of the package and renames it into place (rename(2) onto a folder works
    /// only while that folder is empty: nothing is ever overwritten, even if files appeared there
    /// since [`Recorder::new`]). Returns the sha256 of the manifest, which an auditor compares
    /// out of band.
    pub fn finish(self, export: &Export<'_>) -> Result<String, PackageError> {
        let Recorded {
            mut writer,
            mut seen,
            failed,
        } = self
            .state
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(e) = failed {
            return Err(e);
        }
        let mut put = |name: &str, bytes: &[u8]| writer.put(name, bytes);
        put("policy/policy.toml", export.policy.text.as_bytes())?;
        let mut key_files = BTreeMap::new();
        for (n, (written, pem)) in export.policy.key_files.iter().enumerate() {
            let name = format!("policy/keys/{}.pub", n + 1);
            put(&name, pem.as_bytes())?;
            key_files.insert(written.clone(), name);
        }
        put("trusted_root.json", export.trusted_root_json)?;
        let mut keys = BTreeMap::new();
        for (hex, pem) in export.keys {
            let name = format!("keys/sha256-{hex}.pub");
            if !safe_path(&name) {
                continue;
            }
            put(&name, pem.as_bytes())?;
            keys.insert(hex.clone(), name);
        }
        let mut commits = Vec::with_capacity(export.commits.len());
        for (id, object) in export.commits {
            let file = format!("commits/{id}");
            put(&file, object)?;
            let (bundles, rejected) = seen.remove(id).ok_or_else(|| PackageError::NotRecorded {
                commit: id.to_string(),
            })?;
            commits.push(CommitEntry {
                id: id.to_string(),
                object: file,
                bundles,
                rejected,
            });
        }
        let mut reports = Vec::new();
        for (name, bytes) in export.reports {
            let name = format!("report/{name}");
            if safe_path(&name) {
                put(&name, bytes)?;
                reports.push(name);
            }
        }
        let index = Index {
            schema: PACKAGE_SCHEMA.into(),
            range: export.range.to_string(),
            at: humantime::format_rfc3339_nanos(export.at).to_string(),
            policy: PolicyEntry {
                label: export.policy.label.clone(),
                file: "policy/policy.toml".into(),
                key_files,
            },
            trusted_root: "trusted_root.json".into(),
            keys,
            commits,
            reports,
        };
        put(INDEX_FILE, &sorted_json(&index))?;
        let manifest = sorted_json(&Manifest {
            schema: PACKAGE_SCHEMA.into(),
            files: std::mem::take(&mut writer.files),
        });
        let manifest_path = writer.tmp.path().join(MANIFEST_FILE);
        std::fs::write(&manifest_path, &manifest).map_err(io_error(&manifest_path))?;
        let dir = writer.dir.clone();
        let tmp = writer.tmp.keep();
        if let Err(e) = std::fs::rename(&tmp, &dir) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(match e.raw_os_error() {
                Some(code)
                    if code == rustix::io::Errno::NOTEMPTY.raw_os_error()
                        || code == rustix::io::Errno::EXIST.raw_os_error() =>
                {
                    PackageError::Exists {
                        path: dir.display().to_string(),
                    }
                }
                _ => io_error(&dir)(e),
            });
        }
        Ok(sha256_hex(&manifest))
    }
}

// ---------------------------------------------------------------------------------------------
// Import.

/// The report on a package that cannot be replayed: why, file by file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackageReport {
    /// Always [`PACKAGE_REPORT_SCHEMA`].
    pub schema: &'static str,
    /// The package folder as given.
    pub package: String,
    /// Always rejected.
    pub verdict: Verdict,
    /// One [`Code::PackageTampered`] finding per problem, naming the file.
    pub findings: Vec<Finding>,
}

impl PackageReport {
    /// Pretty JSON with sorted keys and a trailing newline.
    pub fn to_json(&self) -> String {
        String::from_utf8(sorted_json(self)).expect("JSON is UTF-8")
    }

    /// For a terminal: every string cleaned (no control characters, cut).
    pub fn to_text(&self) -> String {
        use crate::report::{MAX_LOCATION_CHARS, MAX_MESSAGE_CHARS, MAX_VALUE_CHARS, clean};
        let mut s = format!(
            "package {}: REJECTED, not replayed\n",
            clean(&self.package, MAX_LOCATION_CHARS)
        );
        for f in &self.findings {
            s.push_str(&format!(
                "  ✗ {}: {} (expected {}; found {})\n",
                f.code,
                clean(&f.message, MAX_MESSAGE_CHARS),
                clean(f.expected.as_deref().unwrap_or("-"), MAX_VALUE_CHARS),
                clean(f.found.as_deref().unwrap_or("-"), MAX_VALUE_CHARS),
            ));
        }
        s.push_str(&format!("\n{}\n", Code::PackageTampered.default_hint()));
        s
    }

    /// Markdown: every string cleaned and escaped.
    pub fn to_markdown(&self) -> String {
        use crate::report::{
            MAX_LOCATION_CHARS, MAX_MESSAGE_CHARS, MAX_VALUE_CHARS, clean, markdown_escape,
        };
        let mut s = format!(
            "# ci-attest audit package\n\nPackage {}: **rejected**, not replayed.\n\n",
            markdown_escape(&clean(&self.package, MAX_LOCATION_CHARS))
        );
        for f in &self.findings {
            s.push_str(&format!(
                "- `{}`: {} (expected {}; found {})\n",
                f.code,
                markdown_escape(&clean(&f.message, MAX_MESSAGE_CHARS)),
                markdown_escape(&clean(
                    f.expected.as_deref().unwrap_or("-"),
                    MAX_VALUE_CHARS
                )),
                markdown_escape(&clean(f.found.as_deref().unwrap_or("-"), MAX_VALUE_CHARS)),
            ));
        }
        s
    }
}

/// What importing a package gave.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Imported {
    /// The package is intact: the replayed audit.
    Replayed(AuditReport),
    /// It is not: why (nothing was replayed).
    Tampered(PackageReport),
}

fn tampered(
    file: &str,
    message: &str,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> Finding {
    Finding::error(Code::PackageTampered, format!("{file}: {message}"))
        .expected_found(expected, found)
        .hint(Code::PackageTampered.default_hint())
}

/// Reads package files, each checked against the manifest, collecting every problem.
struct Reader<'a> {
    dir: &'a Path,
    files: BTreeMap<String, FileEntry>,
    read: BTreeSet<String>,
    findings: Vec<Finding>,
}

impl Reader<'_> {
    /// The file's bytes if it is listed, safe, a regular file within `limit` and hashes to its
    /// entry; else a finding and `None`.
    fn file(&mut self, name: &str, limit: u64) -> Option<Vec<u8>> {
        if !safe_path(name) {
            self.findings.push(tampered(
                name,
                "the index names a path outside the package's shape",
                "a relative path of plain components (no `..`, no leading dot)",
                name,
            ));
            return None;
        }
        let Some(entry) = self.files.get(name).cloned() else {
            self.findings.push(tampered(
                name,
                "the index names a file the manifest does not list",
                "every file the index names listed in MANIFEST.json",
                "not listed",
            ));
            return None;
        };
        self.read.insert(name.to_string());
        if entry.size > limit {
            self.findings.push(tampered(
                name,
                "the manifest lists a file over the size limit",
                format!("at most {limit} bytes"),
                format!("{} bytes", entry.size),
            ));
            return None;
        }
        let bytes = match crate::store::read_regular(&self.dir.join(name), limit) {
            Ok(b) => b,
            Err(problem) => {
                self.findings.push(tampered(
                    name,
                    "a listed file cannot be read as a regular file",
                    "a regular file within the limits",
                    problem.to_string(),
                ));
                return None;
            }
        };
        let digest = sha256_hex(&bytes);
        if digest != entry.sha256 || bytes.len() as u64 != entry.size {
            self.findings.push(tampered(
                name,
                "the file does not match the manifest",
                format!("sha256 {} ({} bytes)", entry.sha256, entry.size),
                format!("sha256 {digest} ({} bytes)", bytes.len()),
            ));
            return None;
        }
        Some(bytes)
    }

    fn text(&mut self, name: &str, limit: u64) -> Option<String> {
        let bytes = self.file(name, limit)?;
        match String::from_utf8(bytes) {
            Ok(s) => Some(s),
            Err(_) => {
                self.findings.push(tampered(
                    name,
                    "the file is not UTF-8 text",
                    "UTF-8 text",
                    "other bytes",
                ));
                None
            }
        }
    }
}

/// Every file and folder under `dir` (relative, `/`-separated): files must be regular, never
/// symbolic links; walking stops past [`MAX_PACKAGE_FILES`] entries.
fn walk(dir: &Path, findings: &mut Vec<Finding>) -> Result<BTreeSet<String>, PackageError> {
    let mut files = BTreeSet::new();
    let mut stack = vec![(dir.to_path_buf(), String::new(), 0usize)];
    let mut seen = 0usize;
    while let Some((path, rel, depth)) = stack.pop() {
        for entry in std::fs::read_dir(&path).map_err(io_error(&path))? {
            let entry = entry.map_err(io_error(&path))?;
            seen += 1;
            if seen > MAX_PACKAGE_FILES {
                findings.push(tampered(
                    &rel,
                    "the package holds more entries than any export writes",
                    format!("at most {MAX_PACKAGE_FILES} entries"),
                    "more",
                ));
                return Ok(files);
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel_name = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let kind = entry.file_type().map_err(io_error(&entry.path()))?;
            if kind.is_dir() && depth + 1 < MAX_PATH_DEPTH {
                stack.push((entry.path(), rel_name, depth + 1));
            } else if kind.is_file() {
                files.insert(rel_name);
            } else {
                let what = if kind.is_symlink() {
                    "a symbolic link"
                } else if kind.is_dir() {
                    "a folder deeper than any export writes"
                } else {
                    "not a regular file (a FIFO, socket or device)"
                };
                findings.push(tampered(
                    &rel_name,
                    "an entry of the package is not a regular file",
                    "regular files and folders only",
                    what,
                ));
            }
        }
    }
    Ok(files)
}

/// Checks the package in `dir` and, if it is intact, replays its audit.
///
/// `Err` means it could not be read at all (not a folder) or, intact, cannot be used by this
/// version (its policy or trusted root does not load); every sign of tampering is a finding.
pub fn import(dir: &Path) -> Result<Imported, PackageError> {
    let meta = std::fs::metadata(dir).map_err(io_error(dir))?;
    if !meta.is_dir() {
        return Err(io_error(dir)(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "expected an audit package folder",
        )));
    }
    let tampered_report = |findings: Vec<Finding>| {
        Imported::Tampered(PackageReport {
            schema: PACKAGE_REPORT_SCHEMA,
            package: dir.display().to_string(),
            verdict: Verdict::Rejected,
            findings,
        })
    };
    let mut findings = Vec::new();
    let present = walk(dir, &mut findings)?;

    let manifest: Option<Manifest> =
        match crate::store::read_regular(&dir.join(MANIFEST_FILE), MAX_INDEX_BYTES) {
            Err(p) => {
                findings.push(tampered(
                    MANIFEST_FILE,
                    "the manifest cannot be read",
                    "a regular file",
                    p.to_string(),
                ));
                None
            }
            Ok(bytes) => match serde_json::from_slice::<Manifest>(&bytes) {
                Ok(m) if m.schema == PACKAGE_SCHEMA && m.files.len() <= MAX_PACKAGE_FILES => {
                    Some(m)
                }
                Ok(m) => {
                    findings.push(tampered(
                        MANIFEST_FILE,
                        "the manifest is not one ci-attest writes",
                        format!("schema {PACKAGE_SCHEMA}, at most {MAX_PACKAGE_FILES} files"),
                        format!("schema {:?}, {} files", m.schema, m.files.len()),
                    ));
                    None
                }
                Err(e) => {
                    findings.push(tampered(
                        MANIFEST_FILE,
                        "the manifest is not valid",
                        "the JSON `audit --export` writes",
                        e.to_string(),
                    ));
                    None
                }
            },
        };
    let Some(manifest) = manifest else {
        return Ok(tampered_report(findings));
    };
    for name in manifest.files.keys() {
        if !safe_path(name) {
            findings.push(tampered(
                name,
                "the manifest lists a path outside the package's shape",
                "a relative path of plain components (no `..`, no absolute path, no leading dot)",
                name.clone(),
            ));
        } else if !present.contains(name) {
            findings.push(tampered(
                name,
                "a file the manifest lists is missing",
                "the file, as listed in MANIFEST.json",
                "no such regular file",
            ));
        }
    }
    for name in &present {
        if name != MANIFEST_FILE && !manifest.files.contains_key(name) {
            findings.push(tampered(
                name,
                "the package holds a file the manifest does not list",
                "only the files MANIFEST.json lists",
                "an extra file",
            ));
        }
    }
    let mut r = Reader {
        dir,
        files: manifest.files,
        read: BTreeSet::new(),
        findings,
    };
    let index =
        r.file(INDEX_FILE, MAX_INDEX_BYTES).and_then(|bytes| {
            match serde_json::from_slice::<Index>(&bytes) {
                Ok(i) if i.schema == PACKAGE_SCHEMA && i.commits.len() <= MAX_AUDIT_COMMITS => {
                    Some(i)
                }
                Ok(i) => {
                    r.findings.push(tampered(
                        INDEX_FILE,
                        "the index is not one ci-attest writes",
                        format!("schema {PACKAGE_SCHEMA}, at most {MAX_AUDIT_COMMITS} commits"),
                        format!("schema {:?}, {} commits", i.schema, i.commits.len()),
                    ));
                    None
                }
                Err(e) => {
                    r.findings.push(tampered(
                        INDEX_FILE,
                        "the index is not valid",
                        "the JSON `audit --export` writes",
                        e.to_string(),
                    ));
                    None
                }
            }
        });
    let Some(index) = index else {
        return Ok(tampered_report(r.findings));
    };
    let at = humantime::parse_rfc3339(&index.at);
    if at.is_err() {
        r.findings.push(tampered(
            INDEX_FILE,
            "the recorded verification time is not an RFC 3339 time",
            "an RFC 3339 time",
            index.at.clone(),
        ));
    }
    let policy_text = r.text(&index.policy.file, MAX_POLICY_SIZE);
    let mut key_files = BTreeMap::new();
    for (written, file) in &index.policy.key_files {
        if let Some(t) = r.text(file, MAX_KEY_FILE_SIZE) {
            key_files.insert(written.clone(), t);
        }
    }
    let root_json = r.file(&index.trusted_root, MAX_TRUSTED_ROOT_BYTES as u64);
    let mut keys = BTreeMap::new();
    for (hex, file) in &index.keys {
        if let Some(t) = r.text(file, MAX_PUBLIC_KEY_BYTES) {
            keys.insert(hex.clone(), t);
        }
    }
    for report in &index.reports {
        let _ = r.file(report, MAX_REPORT_BYTES);
    }
    let (Some(policy_text), Some(root_json), Ok(at)) = (policy_text, root_json, at) else {
        return Ok(tampered_report(r.findings));
    };
    if !r.findings.is_empty() {
        return Ok(tampered_report(r.findings));
    }
    let policy = Policy::parse_with_key_files(&policy_text, &index.policy.label, &key_files)
        .map_err(PackageError::PolicyInvalid)?;
    let root =
        TrustedRoot::from_json(&root_json).map_err(|e| PackageError::TrustedRoot(e.to_string()))?;
    let keys = PackageKeys(keys);
    let judge = Judge::new(&policy, &keys, &root, at);

    let mut reports = Vec::with_capacity(index.commits.len());
    let mut unattested = 0;
    for c in index.commits {
        let Some(info) = commit_of(&mut r, &c) else {
            continue;
        };
        let mut fetched = Fetched::default();
        for b in c.bundles {
            if let Some(bytes) = r.file(&b.file, crate::bundle::MAX_BUNDLE_BYTES as u64) {
                fetched.bundles.push(StoredBundle {
                    location: b.location,
                    bytes,
                });
            }
        }
        fetched.rejected = c
            .rejected
            .into_iter()
            .map(|x| RejectedItem {
                location: x.location,
                problem: x.problem.into(),
            })
            .collect();
        if fetched.bundles.is_empty() {
            unattested += 1;
        }
        if r.findings.is_empty() {
            reports.push(judge.commit(&info, &fetched));
        }
    }
    let unread: Vec<String> = r
        .files
        .keys()
        .filter(|f| !r.read.contains(*f))
        .cloned()
        .collect();
    for name in unread {
        r.findings.push(tampered(
            &name,
            "the package holds a file the index does not use",
            "only the files a replay needs",
            "a file no part of the index names",
        ));
    }
    if !r.findings.is_empty() {
        return Ok(tampered_report(r.findings));
    }
    Ok(Imported::Replayed(judge.audit_report(
        &index.range,
        reports,
        unattested,
    )))
}

/// The commit's subject facts from its raw object, which must hash to the id it is filed under.
fn commit_of(r: &mut Reader<'_>, c: &CommitEntry) -> Option<CommitInfo> {
    let Some(id) = CommitId::parse(&c.id) else {
        r.findings.push(tampered(
            INDEX_FILE,
            "the index lists a commit whose id is not a full object id",
            "40 or 64 lowercase hex digits",
            c.id.clone(),
        ));
        return None;
    };
    let object = r.file(&c.object, MAX_COMMIT_OBJECT_BYTES as u64)?;
    let header = format!("commit {}\0", object.len());
    let computed = if c.id.len() == 40 {
        let mut h = sha1::Sha1::new();
        h.update(header.as_bytes());
        h.update(&object);
        hex::encode(h.finalize())
    } else {
        crate::git::commit_object_sha256(&object)
    };
    if computed != c.id {
        r.findings.push(tampered(
            &c.object,
            "the commit object does not hash to the commit id it is filed under",
            format!("an object whose git id is {}", c.id),
            format!("an object whose git id is {computed}"),
        ));
        return None;
    }
    match CommitInfo::from_object(&id, &object) {
        Ok(info) => Some(info),
        Err(e) => {
            r.findings.push(tampered(
                &c.object,
                "the commit object cannot be read",
                "a commit object starting with a tree line",
                e.to_string(),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_store_item_problem_survives_the_package_unchanged() {
        let s = |t: &str| t.to_string();
        for p in [
            ItemProblem::NotAFile { found: s("a FIFO") },
            ItemProblem::TooLarge { size: 9, limit: 8 },
            ItemProblem::Unreadable { message: s("m") },
            ItemProblem::DigestMismatch {
                expected: s("a"),
                found: s("b"),
            },
            ItemProblem::OverLimit {
                limit: s("l"),
                found: s("f"),
            },
            ItemProblem::FetchFailed { message: s("m") },
            ItemProblem::BadName {
                expected: s("e"),
                found: s("f"),
            },
        ] {
            let json = serde_json::to_string(&Problem::from(&p)).expect("serialises");
            let back: Problem = serde_json::from_str(&json).expect("parses");
            assert_eq!(ItemProblem::from(back), p, "{json}");
        }
    }

    #[test]
    fn package_paths_are_plain_and_shallow() {
        for ok in [
            "package.json",
            "commits/ab",
            "bundles/ab.1.sigstore.json",
            "policy/keys/1.pub",
        ] {
            assert!(safe_path(ok), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "a/../b",
            "/etc/passwd",
            "a//b",
            ".hidden",
            "a/b/c/d",
            "a\\b",
            "a b",
            "bundles/.",
        ] {
            assert!(!safe_path(bad), "{bad}");
        }
    }
}
