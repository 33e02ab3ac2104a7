//! Caches kept between runs of one repository (`[[cache]]` in `.ci-attest.toml`).
//!
//! A cache is a folder that a run's checks find again in the next run: a build folder in the
//! checkout (`target`, `node_modules`, `.venv`) or a download cache in the home folder
//! (`~/.cache/pip`). Caches live in the repository's git folder (`<git-common-dir>/ci-attest/cache`),
//! which checks never see; the sandbox mounts each one, writable, at its path for the checks of the
//! run, and nowhere else.
//!
//! A cache is keyed by the sha256 of its `key` files *as committed* and of the toolchain versions
//! the run records, so a changed lockfile or compiler starts an empty cache. One run at a time uses
//! a repository's caches (a second run at the same time runs without them), and
//! keeps at most [`KEEP_KEYS`] keys per path. The predicate records each mounted cache, its key and
//! whether it held an earlier run's files ([`crate::statement::CacheRecord`]).
//!
//! A cache is written by earlier runs, which may have run a hostile commit's code: a policy that
//! must not trust that says `require.from_scratch = true`, and `run --no-cache` makes such runs.

use crate::config::{CacheConfig, CachePlace};
use crate::git::TrackedFile;
use crate::statement::CacheRecord;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Keys kept per cache path; older ones are removed when a new key is made.
pub const KEEP_KEYS: usize = 2;

/// Beside each key's folder, a file whose modification time says when the key was last used.
const USED_SUFFIX: &str = ".used";

/// Version of the key derivation (part of every key).
const KEY_DOMAIN: &str = "ci-attest cache key v1";

/// A cache ready to mount: where it is kept and where it goes.
#[derive(Debug)]
pub struct Mounted {
    /// What the predicate records.
    pub record: CacheRecord,
    /// The folder where the cache is kept (in the git folder).
    pub source: PathBuf,
    /// Where the checks see it (inside the repository's path, or the home folder).
    pub target: PathBuf,
}

/// The caches of one run, ready to mount.
#[derive(Debug, Default)]
pub struct Caches {
    /// Each cache that will be mounted, in configuration order.
    pub mounted: Vec<Mounted>,
    /// Why a configured cache is not used in this run (said to the signer).
    pub skipped: Vec<String>,
    /// The repository-wide lock, held (never read) by the one run that uses the caches (see
    /// [`prepare`]).
    _run_lock: Option<File>,
    /// The folder of the repository's caches.
    root: PathBuf,
}

impl Caches {
    /// `(source, target)` pairs for the sandbox.
    pub fn binds(&self) -> Vec<(PathBuf, PathBuf)> {
        self.mounted
            .iter()
            .map(|m| (m.source.clone(), m.target.clone()))
            .collect()
    }

    /// What the predicate records.
    pub fn records(&self) -> Vec<CacheRecord> {
        self.mounted.iter().map(|m| m.record.clone()).collect()
    }

    /// Gives each regular file of the fresh checkout whose content is the one the previous
    /// cache-using run checked out the modification time it had then, and records this run's
    /// times for the next; returns how many files kept their time.
    ///
    /// Build tools that compare times (cargo's fingerprints, make) then rebuild only what changed
    /// instead of everything a fresh checkout touched. It is sound because only the run holding
    /// the repository's cache lock gets here: a file keeps an old time only while every cached run
    /// since had the same content, so no cache holds a build of other content made after that
    /// time. The record lives beside the caches in the git folder, which checks never see.
    pub fn restore_file_times(
        &self,
        checkout: &Path,
        files: &[TrackedFile],
    ) -> Result<usize, String> {
        // Caches are mounted only under the repository's cache lock.
        if self.mounted.is_empty() {
            return Ok(0);
        }
        let root = &self.root;
        let record = root.join("checkout.times");
        let previous = read_times(&record);
        let mut kept = 0;
        let mut next = Vec::with_capacity(files.len() * 64);
        for file in files.iter().filter(|f| f.regular) {
            let full = checkout.join(std::ffi::OsStr::from_bytes(&file.path));
            let Ok(f) = File::options()
                .read(true)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(&full)
            else {
                continue;
            };
            let mut time = f.metadata().and_then(|m| m.modified()).ok();
            if let Some(&(ref oid, old)) = previous.get(&file.path) {
                if *oid == file.oid && f.set_modified(old).is_ok() {
                    time = Some(old);
                    kept += 1;
                }
            }
            let Some(since) = time.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) else {
                continue;
            };
            next.extend_from_slice(file.oid.as_bytes());
            next.push(0);
            next.extend_from_slice(
                format!("{}.{:09}", since.as_secs(), since.subsec_nanos()).as_bytes(),
            );
            next.push(0);
            next.extend_from_slice(&file.path);
            next.push(0);
        }
        let tmp = root.join("checkout.times.tmp");
        std::fs::write(&tmp, &next)
            .and_then(|()| std::fs::rename(&tmp, &record))
            .map_err(|e| format!("cannot write {}: {e}", record.display()))?;
        Ok(kept)
    }
}

/// Most bytes of the file-time record read back (it is ci-attest's own, in the git folder).
const MAX_TIMES_BYTES: u64 = 256 << 20;

/// The file-time record: path -> (blob id, modification time). Unreadable or malformed: empty
/// (every file then keeps the fresh checkout's time, which only costs a rebuild).
fn read_times(path: &Path) -> HashMap<Vec<u8>, (String, SystemTime)> {
    let mut bytes = Vec::new();
    let ok = File::open(path)
        .and_then(|f| f.take(MAX_TIMES_BYTES + 1).read_to_end(&mut bytes))
        .is_ok_and(|n| n as u64 <= MAX_TIMES_BYTES);
    let mut map = HashMap::new();
    if !ok {
        return map;
    }
    let mut fields = bytes.split(|&b| b == 0);
    while let (Some(oid), Some(time), Some(file)) = (fields.next(), fields.next(), fields.next()) {
        let (Ok(oid), Some(time)) = (std::str::from_utf8(oid), parse_time(time)) else {
            return HashMap::new();
        };
        map.insert(file.to_vec(), (oid.to_string(), time));
    }
    map
}

fn parse_time(text: &[u8]) -> Option<SystemTime> {
    let text = std::str::from_utf8(text).ok()?;
    let (secs, nanos) = text.split_once('.')?;
    let d = Duration::new(
        secs.parse().ok()?,
        nanos.parse().ok().filter(|&n| n < 1_000_000_000)?,
    );
    UNIX_EPOCH.checked_add(d)
}

/// Where one run's caches come from and go to.
#[derive(Debug)]
pub struct CachePaths<'a> {
    /// Folder that holds every cache of the repository (`<git-common-dir>/ci-attest/cache`).
    pub root: &'a Path,
    /// The pristine checkout, as ci-attest sees it (key files are read here).
    pub checkout: &'a Path,
    /// The path at which the checks see the checkout (the repository's own path).
    pub repo_root: &'a Path,
    /// The home folder of the checks.
    pub home: Option<&'a Path>,
    /// Paths that a cache may never cover (the run folder, the object store...).
    pub keep_visible: &'a [&'a Path],
}

/// The cache folder of a repository whose common git folder is `common_dir`.
pub fn cache_root(common_dir: &Path) -> PathBuf {
    common_dir.join("ci-attest").join("cache")
}

/// The key of one cache: sha256 over the domain, the path, each key file as committed (its bytes,
/// or what its link points to, or that it is absent) and the toolchain versions.
pub fn cache_key(
    cache: &CacheConfig,
    checkout: &Path,
    toolchains: &BTreeMap<String, String>,
) -> String {
    let mut h = Sha256::new();
    let mut field = |label: &str, bytes: &[u8]| {
        h.update(label.as_bytes());
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field("domain", KEY_DOMAIN.as_bytes());
    field("path", cache.path.trim_end_matches('/').as_bytes());
    for file in &cache.key {
        field("file", file.as_os_str().as_encoded_bytes());
        let full = checkout.join(file);
        match std::fs::symlink_metadata(&full) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&full).unwrap_or_default();
                field("link", target.as_os_str().as_encoded_bytes());
            }
            Ok(m) if m.is_file() => {
                let digest = file_sha256(&full).unwrap_or_default();
                field("sha256", &digest);
            }
            Ok(_) => field("other", b""),
            Err(_) => field("absent", b""),
        }
    }
    for (tool, version) in toolchains {
        field("tool", tool.as_bytes());
        field("version", version.as_bytes());
    }
    hex::encode(h.finalize())
}

fn file_sha256(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().to_vec())
}

/// Makes each configured cache ready to mount, under the repository's cache lock: its key, its
/// folder (created empty on a miss), its mount point in the checkout. A cache that cannot be used
/// in this run (another run holds the lock, the commit has files at its path, no home folder) is
/// skipped with the reason.
pub fn prepare(
    configs: &[CacheConfig],
    paths: &CachePaths<'_>,
    toolchains: &BTreeMap<String, String>,
) -> Caches {
    let mut caches = Caches::default();
    if configs.is_empty() {
        return caches;
    }
    // One run at a time uses a repository's caches, so that the file times recorded for the
    // checkout (see `Caches::restore_file_times`) describe every build any cache has seen.
    let lock = std::fs::create_dir_all(paths.root)
        .and_then(|()| {
            File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(paths.root.join("run.lock"))
        })
        .map_err(|e| format!("cannot open {}: {e}", paths.root.join("run.lock").display()))
        .and_then(|f| {
            rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                .map(|()| f)
                .map_err(|_| "another run of this repository is using them".to_string())
        });
    match lock {
        Ok(f) => {
            caches._run_lock = Some(f);
            caches.root = paths.root.to_path_buf();
        }
        Err(why) => {
            caches.skipped.push(format!(
                "the [[cache]] folders are not used in this run: {why}"
            ));
            return caches;
        }
    }
    for cache in configs {
        match prepare_one(cache, paths, toolchains) {
            Ok(m) => caches.mounted.push(m),
            Err(why) => caches.skipped.push(format!(
                "cache {:?} is not used in this run: {why}",
                cache.path
            )),
        }
    }
    caches
}

fn prepare_one(
    cache: &CacheConfig,
    paths: &CachePaths<'_>,
    toolchains: &BTreeMap<String, String>,
) -> Result<Mounted, String> {
    let place = cache
        .place()
        .ok_or_else(|| "its path is not inside the checkout or the home folder".to_string())?;
    let target = match place {
        CachePlace::Checkout(rel) => {
            mount_point_in_checkout(paths.checkout, rel)?;
            paths.repo_root.join(rel)
        }
        CachePlace::Home(rel) => {
            let home = paths
                .home
                .ok_or_else(|| "expected a home folder (HOME), found none".to_string())?;
            let target = home.join(rel);
            if !target.is_dir() {
                return Err(format!(
                    "expected the folder {} to exist on this machine, found none (create it, or drop the entry)",
                    target.display()
                ));
            }
            target
        }
    };
    if let Some(covered) = paths
        .keep_visible
        .iter()
        .chain(std::iter::once(&paths.repo_root))
        .find(|p| p.starts_with(&target))
    {
        return Err(format!(
            "mounted at {} it would cover {}, which the checks need",
            target.display(),
            covered.display()
        ));
    }
    let key = cache_key(cache, paths.checkout, toolchains);
    let slug = slug(&cache.path);
    let folder = paths.root.join(&slug);
    let io =
        |what: &str, p: &Path, e: std::io::Error| format!("cannot {what} {}: {e}", p.display());
    std::fs::create_dir_all(&folder).map_err(|e| io("create", &folder, e))?;
    let source = folder.join(&key);
    let restored = match std::fs::symlink_metadata(&source) {
        Ok(m) if m.is_dir() => std::fs::read_dir(&source)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false),
        Ok(_) => {
            std::fs::remove_file(&source).map_err(|e| io("remove", &source, e))?;
            false
        }
        Err(_) => false,
    };
    std::fs::create_dir_all(&source).map_err(|e| io("create", &source, e))?;
    // Mark this key as the most recently used one, then drop the oldest beyond KEEP_KEYS (the
    // repository's cache lock is held: no other run uses them). Writing the stamp lets the kernel
    // set its mtime: the library never reads the clock.
    let stamp = folder.join(format!("{key}{USED_SUFFIX}"));
    std::fs::write(&stamp, b"used\n").map_err(|e| io("write", &stamp, e))?;
    evict(&folder, &key);
    Ok(Mounted {
        record: CacheRecord {
            path: cache.path.clone(),
            key,
            restored,
        },
        source,
        target,
    })
}

/// Checks that `rel` can be a mount point inside the checkout: no link on the way (a link could
/// point the mount anywhere), nothing committed there, then creates it.
fn mount_point_in_checkout(checkout: &Path, rel: &Path) -> Result<(), String> {
    let mut at = checkout.to_path_buf();
    for part in rel.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "expected a folder at {}, found a symbolic link in the commit",
                    rel.display()
                ));
            }
            Ok(m) if !m.is_dir() => {
                return Err(format!(
                    "expected a folder at {}, found a committed file",
                    rel.display()
                ));
            }
            Ok(_) => {}
            Err(_) => {
                std::fs::create_dir(&at)
                    .map_err(|e| format!("cannot create {}: {e}", at.display()))?;
            }
        }
    }
    let committed = std::fs::read_dir(&at)
        .map(|mut d| d.next().is_some())
        .unwrap_or(true);
    if committed {
        return Err(format!(
            "the commit has files in {} (a cache would hide them): expected no committed files there",
            rel.display()
        ));
    }
    Ok(())
}

/// Removes the least recently used keys of one cache path beyond [`KEEP_KEYS`], skipping any a run
/// holds.
fn evict(folder: &Path, current: &str) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    let mut keys: Vec<(std::time::SystemTime, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let key = name.strip_suffix(USED_SUFFIX)?.to_string();
            let used = e.metadata().and_then(|m| m.modified()).ok()?;
            (key != current && is_key(&key)).then_some((used, key))
        })
        .collect();
    keys.sort();
    let excess = (keys.len() + 1).saturating_sub(KEEP_KEYS);
    for (_, key) in keys.into_iter().take(excess) {
        // std's remove_dir_all never follows links, whatever a check left in the cache.
        let _ = std::fs::remove_dir_all(folder.join(&key));
        let _ = std::fs::remove_file(folder.join(format!("{key}{USED_SUFFIX}")));
    }
}

fn is_key(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A folder name for a cache path: its readable letters and a short digest of the whole path.
fn slug(path: &str) -> String {
    let readable: String = path
        .trim_end_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    let digest = hex::encode(Sha256::digest(path.trim_end_matches('/').as_bytes()));
    format!("{readable}-{}", &digest[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(path: &str, key: &[&str]) -> CacheConfig {
        CacheConfig {
            path: path.into(),
            key: key.iter().map(PathBuf::from).collect(),
        }
    }

    #[test]
    fn the_key_follows_the_key_files_and_the_toolchains() {
        let dir = tempfile::tempdir().expect("test fixture");
        std::fs::write(dir.path().join("Cargo.lock"), "a").expect("test fixture");
        let c = cache("target", &["Cargo.lock"]);
        let tools = BTreeMap::from([("rustc".to_string(), "rustc 1.90.0".to_string())]);
        let first = cache_key(&c, dir.path(), &tools);
        assert_eq!(first, cache_key(&c, dir.path(), &tools), "deterministic");
        assert!(is_key(&first));
        std::fs::write(dir.path().join("Cargo.lock"), "b").expect("test fixture");
        let changed = cache_key(&c, dir.path(), &tools);
        assert_ne!(first, changed, "lockfile change");
        let newer = BTreeMap::from([("rustc".to_string(), "rustc 1.91.0".to_string())]);
        assert_ne!(
            changed,
            cache_key(&c, dir.path(), &newer),
            "toolchain change"
        );
        std::fs::remove_file(dir.path().join("Cargo.lock")).expect("test fixture");
        assert_ne!(changed, cache_key(&c, dir.path(), &tools), "absent file");
        assert_ne!(
            cache_key(&cache("target", &[]), dir.path(), &tools),
            cache_key(&cache("node_modules", &[]), dir.path(), &tools),
            "path"
        );
    }

    #[test]
    fn a_key_file_that_is_a_link_is_keyed_by_the_link_not_what_it_points_to() {
        let dir = tempfile::tempdir().expect("test fixture");
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "one").expect("test fixture");
        let checkout = dir.path().join("c");
        std::fs::create_dir(&checkout).expect("test fixture");
        std::os::unix::fs::symlink(&secret, checkout.join("Cargo.lock")).expect("test fixture");
        let c = cache("target", &["Cargo.lock"]);
        let tools = BTreeMap::new();
        let before = cache_key(&c, &checkout, &tools);
        std::fs::write(&secret, "two").expect("test fixture");
        assert_eq!(before, cache_key(&c, &checkout, &tools));
    }

    fn paths<'a>(root: &'a Path, checkout: &'a Path, home: &'a Path) -> CachePaths<'a> {
        CachePaths {
            root,
            checkout,
            repo_root: Path::new("/repo"),
            home: Some(home),
            keep_visible: &[],
        }
    }

    /// The cache root, the checkout and the home folder of a test, under `dir`.
    fn folders(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        (dir.join("cache"), dir.join("c"), dir.join("h"))
    }

    #[test]
    fn a_second_run_restores_what_the_first_left_and_a_concurrent_one_is_refused() {
        let dir = tempfile::tempdir().expect("test fixture");
        let (root, checkout, home) = folders(dir.path());
        std::fs::create_dir_all(&checkout).expect("test fixture");
        std::fs::create_dir_all(home.join(".cache/pip")).expect("test fixture");
        let configs = [cache("target", &[]), cache("~/.cache/pip", &[])];
        let tools = BTreeMap::new();
        let first = prepare(&configs, &paths(&root, &checkout, &home), &tools);
        assert!(first.skipped.is_empty(), "{:?}", first.skipped);
        assert_eq!(first.mounted.len(), 2);
        assert!(first.mounted.iter().all(|m| !m.record.restored));
        assert_eq!(first.mounted[0].target, Path::new("/repo/target"));
        assert_eq!(first.mounted[1].target, home.join(".cache/pip"));
        assert!(checkout.join("target").is_dir(), "mount point made");
        std::fs::write(first.mounted[0].source.join("built"), "x").expect("test fixture");

        let busy = prepare(&configs[..1], &paths(&root, &checkout, &home), &tools);
        assert!(busy.mounted.is_empty());
        assert!(
            busy.skipped[0].contains("another run"),
            "{:?}",
            busy.skipped
        );
        drop(first);

        let second = prepare(&configs[..1], &paths(&root, &checkout, &home), &tools);
        assert!(second.mounted[0].record.restored);
        assert!(second.mounted[0].source.join("built").is_file());
    }

    #[test]
    fn committed_files_or_links_at_the_path_are_never_covered() {
        let dir = tempfile::tempdir().expect("test fixture");
        let (root, checkout, home) = folders(dir.path());
        std::fs::create_dir_all(checkout.join("target")).expect("test fixture");
        std::fs::write(checkout.join("target/committed.txt"), "x").expect("test fixture");
        std::fs::write(checkout.join("file"), "x").expect("test fixture");
        std::os::unix::fs::symlink("/etc", checkout.join("link")).expect("test fixture");
        let configs = [
            cache("target", &[]),
            cache("file", &[]),
            cache("link/sub", &[]),
            cache("~/.nothing-here", &[]),
        ];
        let c = prepare(&configs, &paths(&root, &checkout, &home), &BTreeMap::new());
        assert!(c.mounted.is_empty());
        let why = c.skipped.join("\n");
        assert!(why.contains("the commit has files in target"), "{why}");
        assert!(why.contains("found a committed file"), "{why}");
        assert!(why.contains("found a symbolic link"), "{why}");
        assert!(why.contains("to exist on this machine"), "{why}");
    }

    #[test]
    fn a_cache_never_covers_the_repository() {
        let dir = tempfile::tempdir().expect("test fixture");
        let home = dir.path().join("h");
        std::fs::create_dir_all(home.join("src")).expect("test fixture");
        let repo_root = home.join("src/app");
        let p = CachePaths {
            root: &dir.path().join("cache"),
            checkout: dir.path(),
            repo_root: &repo_root,
            home: Some(&home),
            keep_visible: &[],
        };
        let c = prepare(&[cache("~/src", &[])], &p, &BTreeMap::new());
        assert!(c.mounted.is_empty());
        assert!(c.skipped[0].contains("would cover"), "{:?}", c.skipped);
    }

    #[test]
    fn old_keys_beyond_the_limit_are_removed() {
        let dir = tempfile::tempdir().expect("test fixture");
        let (root, checkout, home) = folders(dir.path());
        std::fs::create_dir_all(&checkout).expect("test fixture");
        let c = [cache("target", &["lock"])];
        let mut sources = Vec::new();
        for content in ["1", "2", "3"] {
            std::fs::write(checkout.join("lock"), content).expect("test fixture");
            let m = prepare(&c, &paths(&root, &checkout, &home), &BTreeMap::new());
            sources.push(m.mounted[0].source.clone());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!sources[0].exists(), "oldest removed");
        assert!(sources[1].exists() && sources[2].exists());
    }

    #[test]
    fn a_malformed_or_oversized_time_record_is_read_as_empty() {
        let dir = tempfile::tempdir().expect("test fixture");
        let record = dir.path().join("checkout.times");
        std::fs::write(&record, b"abc\x001700000000.000000005\x00src/a.rs\x00")
            .expect("test fixture");
        let times = read_times(&record);
        assert_eq!(
            times.get(&b"src/a.rs"[..]),
            Some(&(
                "abc".to_string(),
                UNIX_EPOCH + Duration::new(1_700_000_000, 5)
            ))
        );
        for bad in [
            &b"abc\x00yesterday\x00src/a.rs\x00"[..],
            b"abc\x001.1000000000\x00src/a.rs\x00",
            b"\xff\x001.0\x00src/a.rs\x00",
        ] {
            std::fs::write(&record, bad).expect("test fixture");
            assert!(read_times(&record).is_empty(), "{bad:?}");
        }
        assert!(read_times(&dir.path().join("absent")).is_empty());
    }
}
