//! The `dir` store: bundles as files `<commit>.<n>.sigstore.json` in a folder of the repository.
//!
//! Writes are atomic (temporary file + rename without replacing) and never overwrite: two runs for
//! one commit get `.1` and `.2`. Public keys that signed bundles are kept beside them under
//! `keys/sha256-<hex>.pub` so a policy that pins a key by fingerprint can find the key itself.
//!
//! Reads treat the folder as hostile: every item is looked at with `lstat`, opened with
//! `O_NONBLOCK | O_NOFOLLOW` and checked again with `fstat`, so a FIFO, device, folder or symbolic
//! link is refused without blocking or following it, and nothing is read past the limits of
//! [`super`] (`docs/limits.md`).

use super::{
    Budget, Fetched, ItemProblem, MAX_BUNDLE_NUMBER, MAX_LISTED_ITEMS_PER_COMMIT,
    MAX_PUBLIC_KEY_BYTES, RejectedItem, Store, StoreError, StoredBundle,
};
use crate::bundle::MAX_BUNDLE_BYTES;
use crate::git::CommitId;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Suffix of bundle files.
pub const BUNDLE_SUFFIX: &str = ".sigstore.json";

/// A folder of bundles.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

/// What the part between `<commit>.` and `.sigstore.json` of a file name is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Number {
    /// A bundle number the store writes: 1 to [`MAX_BUNDLE_NUMBER`], no leading zeros.
    Valid(u64),
    /// Anything else (`0`, `01`, `18446744073709551616`, `x`): an item, but never a bundle.
    Bad(String),
}

/// The order of a commit's items: valid numbers ascending, then bad names by name.
type ItemKey = (bool, usize, String, OsString);

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
        let taken = |n: u64| std::fs::symlink_metadata(logs.join(format!("{commit}-{n}"))).is_ok();
        // Runs of a commit number their folders 1, 2, 3...: find the first free number in about
        // 2·log2(runs) lookups (doubling, then halving), not one `mkdir` per earlier run.
        let mut high = 1u64;
        while taken(high) && high < 1 << 40 {
            high *= 2;
        }
        let mut low = high / 2; // taken (or 0)
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            if taken(mid) {
                low = mid;
            } else {
                high = mid;
            }
        }
        // Gaps or another run taking the number first: go on from there, one at a time.
        for n in high.. {
            let dir = logs.join(format!("{commit}-{n}"));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Self::io(&dir)(e)),
            }
        }
        unreachable!("an unbounded range always yields a free name or an error")
    }

    /// Keeps a public key (PEM) under its fingerprint's hex, unless something is already there.
    pub fn put_public_key(&self, fingerprint_hex: &str, pem: &str) -> Result<PathBuf, StoreError> {
        let dir = self.root.join("keys");
        std::fs::create_dir_all(&dir).map_err(Self::io(&dir))?;
        let path = dir.join(format!("sha256-{fingerprint_hex}.pub"));
        // `symlink_metadata`: a dangling symbolic link is something there too (never written through).
        if std::fs::symlink_metadata(&path).is_ok() {
            return Ok(path);
        }
        write_new(&dir, &path, pem.as_bytes())?;
        Ok(path)
    }

    /// A public key kept under this fingerprint's hex, if there is one.
    ///
    /// The key file is read like a bundle: only a regular file of at most
    /// [`MAX_PUBLIC_KEY_BYTES`], opened without following links or blocking. Anything else there
    /// (a FIFO, a symbolic link, a folder, a larger file) is [`StoreError::Item`]: no usable key.
    pub fn public_key(&self, fingerprint_hex: &str) -> Result<Option<String>, StoreError> {
        if fingerprint_hex.is_empty() || !fingerprint_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let path = self
            .root
            .join("keys")
            .join(format!("sha256-{fingerprint_hex}.pub"));
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::io(&path)(e)),
            Ok(_) => {}
        }
        match super::read_regular(&path, MAX_PUBLIC_KEY_BYTES) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(problem) => Err(StoreError::Item {
                location: path.display().to_string(),
                problem,
            }),
        }
    }

    /// Every commit with at least one item named like its bundle (`<commit>.<n>.sigstore.json`,
    /// whatever `n`) in the folder, sorted by id; nothing is opened. More than `limit` commits is
    /// [`StoreError::TooMany`], never a silent cut.
    pub fn commits(&self, limit: usize) -> Result<Vec<CommitId>, StoreError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Self::io(&self.root)(e)),
        };
        let mut commits = std::collections::BTreeSet::new();
        for entry in entries {
            let name = entry.map_err(Self::io(&self.root))?.file_name();
            let name = name.to_string_lossy();
            let Some((id, _)) = name.split_once('.') else {
                continue;
            };
            let Some(commit) = CommitId::parse(id) else {
                continue;
            };
            if Self::classify(&commit, &name).is_some() {
                commits.insert(commit);
                if commits.len() > limit {
                    return Err(StoreError::TooMany {
                        path: self.root.display().to_string(),
                        what: "commits with bundles".into(),
                        limit,
                    });
                }
            }
        }
        Ok(commits.into_iter().collect())
    }

    /// What a file name is to this commit: `None` when it is not `<commit>.<part>.sigstore.json`.
    fn classify(commit: &CommitId, name: &str) -> Option<Number> {
        let part = name
            .strip_prefix(commit.as_str())?
            .strip_prefix('.')?
            .strip_suffix(BUNDLE_SUFFIX)?;
        let canonical =
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) && !part.starts_with('0');
        Some(
            match part
                .parse::<u64>()
                .ok()
                .filter(|n| canonical && *n <= MAX_BUNDLE_NUMBER)
            {
                Some(n) => Number::Valid(n),
                None => Number::Bad(part.to_string()),
            },
        )
    }

    /// Calls `visit` for every name of `commit`'s items in the folder (in folder order).
    fn scan(
        &self,
        commit: &CommitId,
        mut visit: impl FnMut(Number, OsString),
    ) -> Result<(), StoreError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Self::io(&self.root)(e)),
        };
        for entry in entries {
            let name = entry.map_err(Self::io(&self.root))?.file_name();
            if let Some(number) = Self::classify(commit, &name.to_string_lossy()) {
                visit(number, name);
            }
        }
        Ok(())
    }

    /// The first [`MAX_LISTED_ITEMS_PER_COMMIT`] items of `commit` in store order, and how many
    /// more there are.
    fn list(&self, commit: &CommitId) -> Result<Listing, StoreError> {
        let mut listing = Listing::default();
        self.scan(commit, |number, name| listing.add(number, name))?;
        Ok(listing)
    }

    /// Every asked commit's [`Listing`], from one pass over the folder (see [`Store::index`]);
    /// commits without items have none.
    fn list_all(&self, commits: &[CommitId]) -> Result<HashMap<CommitId, Listing>, StoreError> {
        let asked: HashSet<&str> = commits.iter().map(CommitId::as_str).collect();
        let mut listings: HashMap<CommitId, Listing> = HashMap::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(listings),
            Err(e) => return Err(Self::io(&self.root)(e)),
        };
        for entry in entries {
            let name = entry.map_err(Self::io(&self.root))?.file_name();
            let text = name.to_string_lossy();
            // An item of commit `c` is named `c.` + ...: its id is the part before the first dot.
            let Some((id, _)) = text.split_once('.') else {
                continue;
            };
            if !asked.contains(id) {
                continue;
            }
            let Some(commit) = CommitId::parse(id) else {
                continue;
            };
            if let Some(number) = Self::classify(&commit, &text) {
                drop(text);
                listings.entry(commit).or_default().add(number, name);
            }
        }
        Ok(listings)
    }

    /// Reads the items of a listing of `commit`, as [`Store::fetch`] does.
    fn fetch_listed(&self, commit: &CommitId, listing: &Listing) -> Fetched {
        let mut budget = Budget::default();
        let mut fetched = Fetched::default();
        for ((_, _, _, name), number) in &listing.kept {
            let path = self.root.join(name);
            let location = path.display().to_string();
            let read = match number {
                Number::Valid(_) => Self::read_item(&path, &mut budget),
                Number::Bad(part) => Err(ItemProblem::BadName {
                    expected: format!(
                        "a bundle number from 1 to {MAX_BUNDLE_NUMBER} without leading zeros"
                    ),
                    found: format!("{part:?}"),
                }),
            };
            match read {
                Ok(bytes) => fetched.bundles.push(StoredBundle { location, bytes }),
                Err(problem) => fetched.rejected.push(RejectedItem { location, problem }),
            }
        }
        if listing.more > 0 {
            fetched.rejected.push(super::listing_stopped(
                self.root.display().to_string(),
                format!(
                    "{} more items named like bundles of {commit}, not listed",
                    listing.more
                ),
            ));
        }
        fetched
    }

    /// Reads one item within the per-item and per-commit limits.
    fn read_item(path: &Path, budget: &mut Budget) -> Result<Vec<u8>, ItemProblem> {
        budget.take_item()?;
        let (file, size) = super::open_regular(path)?;
        let limit = MAX_BUNDLE_BYTES as u64;
        if size > limit {
            return Err(ItemProblem::TooLarge { size, limit });
        }
        budget.check_bytes(size)?;
        // The file may grow after `fstat`: the read is bounded on its own.
        let bytes = super::read_at_most(file, limit)?;
        budget.take_bytes(bytes.len() as u64)?;
        Ok(bytes)
    }
}

/// The first [`MAX_LISTED_ITEMS_PER_COMMIT`] items of one commit in store order (valid numbers
/// ascending, then bad names), and how many more there are.
#[derive(Debug, Default)]
struct Listing {
    kept: BTreeMap<ItemKey, Number>,
    more: u64,
}

impl Listing {
    fn add(&mut self, number: Number, name: OsString) {
        let key = match &number {
            // Canonical numbers: shorter is smaller, then digit by digit.
            Number::Valid(n) => (false, 0, format!("{n:020}"), name),
            Number::Bad(part) => (true, part.len(), part.clone(), name),
        };
        self.kept.insert(key, number);
        if self.kept.len() > MAX_LISTED_ITEMS_PER_COMMIT {
            self.kept.pop_last();
            self.more += 1;
        }
    }
}

/// The dir store's [`super::StoreIndex`]: the asked commits' listings from one pass.
struct DirIndex<'s> {
    store: &'s DirStore,
    asked: HashSet<CommitId>,
    listings: HashMap<CommitId, Listing>,
}

impl super::StoreIndex for DirIndex<'_> {
    fn fetch_many(&self, commits: &[CommitId]) -> Vec<Result<Fetched, StoreError>> {
        commits
            .iter()
            .map(|c| match self.listings.get(c) {
                Some(listing) => Ok(self.store.fetch_listed(c, listing)),
                None if self.asked.contains(c) => Ok(Fetched::default()),
                None => self.store.fetch(c),
            })
            .collect()
    }
}

/// Writes `bytes` to `path` atomically, failing if `path` exists.
fn write_new(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = temp_with(dir, path, bytes)?;
    tmp.persist_noclobber(path)
        .map_err(|e| DirStore::io(path)(e.error))?;
    Ok(())
}

/// A temporary file in `dir` holding `bytes`, synced (`path` names it in errors).
fn temp_with(dir: &Path, path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile, StoreError> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(DirStore::io(dir))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(DirStore::io(path))?;
    Ok(tmp)
}

impl Store for DirStore {
    /// Stores the bundle as `<commit>.<n>.sigstore.json`, `n` one more than the highest bundle
    /// number there (bad names are ignored). Numbers never wrap: when that would pass
    /// [`MAX_BUNDLE_NUMBER`], the lowest free number is taken; nothing is ever overwritten.
    fn put(&self, commit: &CommitId, bundle_json: &[u8]) -> Result<String, StoreError> {
        std::fs::create_dir_all(&self.root).map_err(Self::io(&self.root))?;
        let mut highest = 0;
        self.scan(commit, |number, _| {
            if let Number::Valid(n) = number {
                highest = highest.max(n);
            }
        })?;
        let first = highest
            .checked_add(1)
            .filter(|n| *n <= MAX_BUNDLE_NUMBER)
            .unwrap_or(1);
        let path_of = |n: u64| self.root.join(format!("{commit}.{n}{BUNDLE_SUFFIX}"));
        let mut tmp = temp_with(&self.root, &path_of(first), bundle_json)?;
        for n in (first..=MAX_BUNDLE_NUMBER).chain(1..first) {
            let path = path_of(n);
            match tmp.persist_noclobber(&path) {
                Ok(_) => return Ok(path.display().to_string()),
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => tmp = e.file,
                Err(e) => return Err(Self::io(&path)(e.error)),
            }
        }
        Err(StoreError::NoFreeNumber {
            path: self.root.display().to_string(),
            limit: MAX_BUNDLE_NUMBER,
        })
    }

    /// The commit's bundle files in number order, each read only if it is a regular file within
    /// the limits; every other item named like a bundle of the commit is a [`RejectedItem`].
    fn fetch(&self, commit: &CommitId) -> Result<Fetched, StoreError> {
        Ok(self.fetch_listed(commit, &self.list(commit)?))
    }

    /// Lists the folder once for all `commits`; each is then read as [`Store::fetch`] reads it.
    fn index<'s>(
        &'s self,
        commits: &[CommitId],
    ) -> Result<Box<dyn super::StoreIndex + 's>, StoreError> {
        Ok(Box::new(DirIndex {
            store: self,
            asked: commits.iter().cloned().collect(),
            listings: self.list_all(commits)?,
        }))
    }

    fn describe(&self) -> String {
        format!("folder {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{MAX_BYTES_PER_COMMIT, MAX_ITEMS_PER_COMMIT};
    use super::*;

    fn commit() -> CommitId {
        CommitId::parse(&"ab".repeat(20)).expect("valid id")
    }

    /// Each run gets a folder no run had, numbered on from the last, also past a gap.
    #[test]
    fn log_folders_are_new_and_numbered_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DirStore::new(dir.path().join("store"));
        let mut seen = std::collections::BTreeSet::new();
        for n in 1..=21u64 {
            let d = store.new_log_dir(&commit()).expect("log dir");
            assert!(d.ends_with(format!("logs/{}-{n}", commit())), "{d:?}");
            assert!(seen.insert(d));
        }
        // A gap (a folder removed by hand) may be reused: it holds nothing; a taken one never is.
        std::fs::remove_dir(dir.path().join(format!("store/logs/{}-7", commit()))).expect("rm");
        let d = store.new_log_dir(&commit()).expect("log dir");
        assert!(d.is_dir() && std::fs::read_dir(&d).expect("read").next().is_none());
        let other = store.new_log_dir(&commit()).expect("log dir");
        assert_ne!(d, other);
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

    fn name(n: &str) -> String {
        format!("{}.{n}{BUNDLE_SUFFIX}", commit())
    }

    fn mkfifo(path: &Path) {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .expect("mkfifo");
    }

    fn problems(fetched: &Fetched) -> Vec<(String, String)> {
        fetched
            .rejected
            .iter()
            .map(|r| {
                let file = Path::new(&r.location)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (file, r.problem.to_string())
            })
            .collect()
    }

    #[test]
    fn hostile_items_are_rejected_one_by_one_and_never_block() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DirStore::new(dir.path());
        store.put(&commit(), b"{\"good\":1}").expect("put");
        mkfifo(&dir.path().join(name("2")));
        std::os::unix::fs::symlink("/dev/zero", dir.path().join(name("3"))).expect("symlink");
        std::fs::create_dir(dir.path().join(name("4"))).expect("mkdir");
        let big = std::fs::File::create(dir.path().join(name("5"))).expect("create");
        big.set_len(MAX_BUNDLE_BYTES as u64 + 1)
            .expect("sparse file");
        std::fs::write(dir.path().join(name("007")), b"{}").expect("write");
        std::fs::write(dir.path().join(name("0")), b"{}").expect("write");

        let fetched = store.fetch(&commit()).expect("fetch");
        assert_eq!(fetched.bundles.len(), 1);
        assert_eq!(fetched.bundles[0].bytes, b"{\"good\":1}");
        let limit = MAX_BUNDLE_BYTES;
        assert_eq!(
            problems(&fetched),
            vec![
                (
                    name("2"),
                    "expected a regular file or blob, found a FIFO".into()
                ),
                (
                    name("3"),
                    "expected a regular file or blob, found a symbolic link".into()
                ),
                (
                    name("4"),
                    "expected a regular file or blob, found a folder".into()
                ),
                (
                    name("5"),
                    format!("expected at most {limit} bytes, found {} bytes", limit + 1)
                ),
                (
                    name("0"),
                    format!(
                        "expected a bundle number from 1 to {MAX_BUNDLE_NUMBER} without leading zeros, found \"0\""
                    )
                ),
                (
                    name("007"),
                    format!(
                        "expected a bundle number from 1 to {MAX_BUNDLE_NUMBER} without leading zeros, found \"007\""
                    )
                ),
            ]
        );
    }

    #[test]
    fn a_planted_huge_number_never_wraps_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DirStore::new(dir.path());
        let planted = dir.path().join(name(&u64::MAX.to_string()));
        std::fs::write(&planted, b"planted").expect("write");
        let a = store.put(&commit(), b"a").expect("put");
        assert!(a.ends_with(&name("1")), "{a}");
        let fetched = store.fetch(&commit()).expect("fetch");
        assert_eq!(fetched.bundles.len(), 1);
        assert!(matches!(
            fetched.rejected[0].problem,
            ItemProblem::BadName { .. }
        ));

        // The highest valid number: the next put takes the lowest free number, never 0 or a wrap.
        let top = dir.path().join(name(&MAX_BUNDLE_NUMBER.to_string()));
        std::fs::write(&top, b"top").expect("write");
        let b = store.put(&commit(), b"b").expect("put");
        assert!(b.ends_with(&name("2")), "{b}");
        let c = store.put(&commit(), b"c").expect("put");
        assert!(c.ends_with(&name("3")), "{c}");
        assert_eq!(std::fs::read(&top).expect("read"), b"top");
        assert_eq!(std::fs::read(&planted).expect("read"), b"planted");
        assert_eq!(
            std::fs::read(dir.path().join(name("1"))).expect("read"),
            b"a"
        );
        assert!(!dir.path().join(name("0")).exists());
    }

    #[test]
    fn items_past_the_count_limit_are_named_and_not_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DirStore::new(dir.path());
        for n in 1..=MAX_ITEMS_PER_COMMIT {
            std::fs::write(dir.path().join(name(&n.to_string())), b"{}").expect("write");
        }
        // Past the limit even a FIFO is not opened: it is over the limit, not "a FIFO".
        mkfifo(
            &dir.path()
                .join(name(&(MAX_ITEMS_PER_COMMIT + 1).to_string())),
        );
        std::fs::write(
            dir.path()
                .join(name(&(MAX_ITEMS_PER_COMMIT + 2).to_string())),
            b"{}",
        )
        .expect("write");
        let fetched = store.fetch(&commit()).expect("fetch");
        assert_eq!(fetched.bundles.len(), MAX_ITEMS_PER_COMMIT);
        let got = problems(&fetched);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, name(&(MAX_ITEMS_PER_COMMIT + 1).to_string()));
        assert_eq!(
            got[0].1,
            format!(
                "skipped unread: expected at most {MAX_ITEMS_PER_COMMIT} items per commit, found item {} of the commit",
                MAX_ITEMS_PER_COMMIT + 1
            )
        );
        assert!(got[1].1.contains("found item 66"), "{got:?}");
    }

    #[test]
    fn reading_stops_at_the_total_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DirStore::new(dir.path());
        // Five sparse files of 15 MiB: four fit in 64 MiB, the fifth does not; a small one still does.
        let size = 15 * 1024 * 1024;
        for n in 1..=5 {
            let f = std::fs::File::create(dir.path().join(name(&n.to_string()))).expect("create");
            f.set_len(size).expect("sparse");
        }
        std::fs::write(dir.path().join(name("6")), b"{}").expect("write");
        let fetched = store.fetch(&commit()).expect("fetch");
        assert_eq!(fetched.bundles.len(), 5);
        assert_eq!(fetched.bundles[4].bytes, b"{}");
        let got = problems(&fetched);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, name("5"));
        assert_eq!(
            got[0].1,
            format!(
                "skipped unread: expected at most {MAX_BYTES_PER_COMMIT} bytes read per commit, found {} bytes already read and this item of {size} bytes",
                4 * size
            )
        );
    }

    #[test]
    fn the_listing_stops_at_its_limit_and_says_how_many_more() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DirStore::new(dir.path());
        let total = MAX_LISTED_ITEMS_PER_COMMIT + 5;
        for n in 1..=total {
            std::fs::write(dir.path().join(name(&n.to_string())), b"").expect("write");
        }
        let fetched = store.fetch(&commit()).expect("fetch");
        assert_eq!(fetched.bundles.len(), MAX_ITEMS_PER_COMMIT);
        assert_eq!(
            fetched.rejected.len(),
            MAX_LISTED_ITEMS_PER_COMMIT - MAX_ITEMS_PER_COMMIT + 1
        );
        // The listed ones are the lowest numbers, whatever order the folder lists them in.
        let last_named = &fetched.rejected[fetched.rejected.len() - 2];
        assert!(
            last_named
                .location
                .ends_with(&name(&MAX_LISTED_ITEMS_PER_COMMIT.to_string()))
        );
        let summary = fetched.rejected.last().expect("summary");
        assert_eq!(summary.location, dir.path().display().to_string());
        assert_eq!(
            summary.problem.to_string(),
            format!(
                "skipped unread: expected at most {MAX_LISTED_ITEMS_PER_COMMIT} items listed per commit, found 5 more items named like bundles of {}, not listed",
                commit()
            )
        );
    }

    #[test]
    fn the_index_lists_once_and_reads_every_commit_as_fetch_does_within_the_same_limits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DirStore::new(dir.path());
        let of = |c: &CommitId, n: &str| dir.path().join(format!("{c}.{n}{BUNDLE_SUFFIX}"));
        // Hostile items: a FIFO, a link, a folder, an oversized file, bad numbers.
        let hostile = commit();
        store.put(&hostile, b"{\"good\":1}").expect("put");
        mkfifo(&of(&hostile, "2"));
        std::os::unix::fs::symlink("/dev/zero", of(&hostile, "3")).expect("symlink");
        std::fs::create_dir(of(&hostile, "4")).expect("mkdir");
        std::fs::File::create(of(&hostile, "5"))
            .expect("create")
            .set_len(MAX_BUNDLE_BYTES as u64 + 1)
            .expect("sparse file");
        std::fs::write(of(&hostile, "007"), b"{}").expect("write");
        // Past the count limit (a FIFO there is not even opened) and past the listing limit.
        let crowded = CommitId::parse(&"cd".repeat(20)).expect("id");
        for n in 1..=MAX_LISTED_ITEMS_PER_COMMIT + 3 {
            std::fs::write(of(&crowded, &n.to_string()), b"{}").expect("write");
        }
        std::fs::remove_file(of(&crowded, "65")).expect("remove");
        mkfifo(&of(&crowded, "65"));
        // Past the total size.
        let heavy = CommitId::parse(&"ef".repeat(20)).expect("id");
        for n in 1..=5 {
            std::fs::File::create(of(&heavy, &n.to_string()))
                .expect("create")
                .set_len(15 * 1024 * 1024)
                .expect("sparse");
        }
        let empty = CommitId::parse(&"01".repeat(20)).expect("id");
        let unasked = CommitId::parse(&"23".repeat(20)).expect("id");
        store.put(&unasked, b"{\"unasked\":1}").expect("put");
        std::fs::write(dir.path().join("stray.txt"), b"x").expect("write");

        let asked = [
            hostile.clone(),
            crowded.clone(),
            heavy.clone(),
            empty.clone(),
        ];
        let index = store.index(&asked).expect("one listing");
        let mut everyone = asked.to_vec();
        everyone.push(unasked.clone());
        let got = index.fetch_many(&everyone);
        assert_eq!(got.len(), everyone.len());
        for (c, got) in everyone.iter().zip(got) {
            let got = got.expect("fetched");
            assert_eq!(got, store.fetch(c).expect("fetched alone"), "commit {c}");
        }
        // The limits did their work (the comparison is not between two empty answers).
        let fetched = |c: &CommitId| index.fetch_many(std::slice::from_ref(c)).remove(0);
        let h = fetched(&hostile).expect("hostile");
        assert_eq!(h.bundles.len(), 1);
        assert_eq!(problems(&h).len(), 5);
        assert!(
            problems(&h)[0].1.ends_with("found a FIFO"),
            "{:?}",
            problems(&h)
        );
        let c = fetched(&crowded).expect("crowded");
        assert_eq!(c.bundles.len(), MAX_ITEMS_PER_COMMIT);
        assert!(
            problems(&c)[0].1.contains("at most 64 items per commit"),
            "{:?}",
            problems(&c)[0]
        );
        let last = c.rejected.last().expect("the listing stopped");
        assert!(
            last.problem.to_string().contains("found 3 more items"),
            "{}",
            last.problem
        );
        let w = fetched(&heavy).expect("heavy");
        assert_eq!((w.bundles.len(), w.rejected.len()), (4, 1));
        assert_eq!(fetched(&empty).expect("empty"), Fetched::default());
        assert_eq!(
            fetched(&unasked).expect("read from the store").bundles[0].bytes,
            b"{\"unasked\":1}"
        );
        // A missing folder indexes as empty.
        let none = DirStore::new(dir.path().join("none"));
        let index = none.index(&asked).expect("nothing to list");
        assert!(
            index
                .fetch_many(&asked)
                .into_iter()
                .all(|f| f.expect("ok") == Fetched::default())
        );
    }

    #[test]
    fn key_files_are_read_only_when_regular_and_small() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DirStore::new(dir.path());
        let fp = "ab".repeat(32);
        assert_eq!(store.public_key(&fp).expect("no key"), None);
        assert_eq!(store.public_key("").expect("no key"), None);
        store.put_public_key(&fp, "PEM").expect("put key");
        assert_eq!(store.public_key(&fp).expect("key").as_deref(), Some("PEM"));

        let keys = dir.path().join("keys");
        let fifo = "cd".repeat(32);
        mkfifo(&keys.join(format!("sha256-{fifo}.pub")));
        let err = store.public_key(&fifo).expect_err("a FIFO is no key");
        assert!(err.to_string().ends_with("found a FIFO"), "{err}");
        // put_public_key leaves whatever is there alone.
        store.put_public_key(&fifo, "PEM").expect("left alone");

        let link = "ef".repeat(32);
        std::os::unix::fs::symlink("/dev/zero", keys.join(format!("sha256-{link}.pub")))
            .expect("symlink");
        let err = store.public_key(&link).expect_err("a link is no key");
        assert!(err.to_string().ends_with("found a symbolic link"), "{err}");

        let big = "01".repeat(32);
        std::fs::write(
            keys.join(format!("sha256-{big}.pub")),
            vec![b'k'; MAX_PUBLIC_KEY_BYTES as usize + 1],
        )
        .expect("write");
        let err = store.public_key(&big).expect_err("too large");
        assert!(matches!(
            err,
            StoreError::Item {
                problem: ItemProblem::TooLarge { .. },
                ..
            }
        ));
    }
}
