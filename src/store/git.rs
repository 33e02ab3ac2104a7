//! The `git` store: bundles kept in git refs, pushed to the remote and fetched with plain `git fetch`.
//!
//! Every bundle gets its own ref, named by the attested commit and the sha256 of the bundle's bytes:
//! `refs/ci-attest/<commit>/<sha256 hex>`. The ref points at a commit object whose tree holds one
//! file, `bundle.sigstore.json`. That commit has **no parent** (so pushing a bundle never publishes
//! the attested commit's history) and a fixed author, committer, date and message, and is made with
//! `--no-gpg-sign` and UTF-8 encoding, so the same bundle for the same commit yields the same object
//! id in every clone.
//!
//! Why this shape:
//! - **No lost updates without locking or force.** Two developers pushing different bundles (for
//!   the same commit or not) create different refs, so their pushes never compete for one ref.
//!   Pushing the same bundle from two clones targets the same ref with the same object: whoever
//!   comes second gets `[up to date]`, or, if both pushes are in flight at once, the remote rejects
//!   one with `failed to update ref` (measured with git 2.47); [`GitStore::push`] retries such
//!   rejections, and the retry finds the ref up to date. Pushes and fetches never use `+` or
//!   `--force`, and nothing ever deletes a ref.
//! - **Idempotent and tamper-evident.** A ref name is content addressed: [`Store::put`] of a bundle
//!   already stored is a no-op, a ref that holds different bytes than its name says is an error of
//!   `put`, and a rejected item of `fetch`, which re-hashes every bundle it reads.
//! - **Any forge, any clone.** Only ordinary refs, commits, trees and blobs are used; anyone can
//!   `git fetch <remote> 'refs/ci-attest/*:refs/ci-attest/*'` ([`GitStore::fetch_remote`]). The
//!   verifier and the auditor fetch through [`Store::pull`] ([`GitStore::pull_commits`]) instead,
//!   which lists the remote once, fetches only the asked commits' well-named refs and bounds it all.
//! - **Many commits at once.** [`GitStore::push_many`] sends the refs of many commits in one
//!   `git push` ([`REFS_PER_RUN`] refs per run), and [`GitStore::pull_commits`] fetches them in one
//!   `git fetch` per [`REFS_PER_RUN`] refs.
//!
//! Hostile refs: whoever can push to the remote can create any ref under `refs/ci-attest/`. So
//! [`Store::fetch`] checks each ref's object type and blob size with `git cat-file --batch-check`
//! before reading anything, never reads a blob over [`MAX_BUNDLE_BYTES`], reads at most
//! [`MAX_ITEMS_PER_COMMIT`] refs and [`MAX_BYTES_PER_COMMIT`](super::MAX_BYTES_PER_COMMIT) bytes per commit (streamed, blob by
//! blob), and reports every ref it does not take as a [`RejectedItem`] instead of failing.
//! [`GitStore::pull_commits`] checks every name the remote lists (nothing outside `refs/ci-attest/`
//! or not shaped `<commit>/<sha256>` is fetched or written), bounds the listing and the file each
//! `git fetch` writes ([`MAX_FETCH_PACK_BYTES`]), fetches ref by ref when a fetch fails, and reports
//! a ref the remote rewrote, or one that cannot be fetched, the same way.
//!
//! Order: [`Store::fetch`] returns a commit's bundles sorted by ref name, i.e. by the bundles' sha256.
//! That order is deterministic and the same in every clone, but it is **not** chronological: git keeps
//! no trustworthy creation time for a ref (reflogs are not transferred, and the bundle commits carry
//! a fixed date on purpose). Times that matter are inside the signed bundles.
//!
//! git is run as a subprocess with `GIT_TERMINAL_PROMPT=0`, `LC_ALL=C` and a null (or fed) stdin;
//! everything passed to it is validated (commit ids, ref names) or placed after `--end-of-options`
//! (the remote). Error messages carry git's stderr with credentials in URLs (`user:token@`) redacted.

use super::{
    Budget, Fetched, ItemProblem, MAX_ITEMS_PER_COMMIT, MAX_LISTED_ITEMS_PER_COMMIT, Published,
    Pulled, RejectedItem, Store, StoreError, StoredBundle,
};
use crate::bundle::MAX_BUNDLE_BYTES;
use crate::git::CommitId;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

/// The namespace of the store's refs.
pub const REF_PREFIX: &str = "refs/ci-attest/";

/// The name of the bundle file in each bundle commit's tree.
pub const BUNDLE_FILE: &str = "bundle.sigstore.json";

/// How many times [`GitStore::push`] sends refs the remote rejected because of a concurrent push.
pub const PUSH_ATTEMPTS: u32 = 5;

/// The fixed identity and date of bundle commits (2000-01-01T00:00:00Z), so equal bundles give equal
/// commits.
const IDENTITY_NAME: &str = "ci-attest";
const IDENTITY_EMAIL: &str = "ci-attest@invalid";
const IDENTITY_DATE: &str = "946684800 +0000";

/// The most of git's stderr kept in an error message.
const MAX_STDERR_CHARS: usize = 4000;

/// The most of git's stderr read from a streamed command (the rest is drained unread).
const MAX_STDERR_BYTES: u64 = 64 * 1024;

/// Longest line of `git ls-remote` output kept (a line of this store is at most 64 + 1 + 15 + 64
/// + 1 + 64 + 1 = 210 bytes); a longer one is named by its start and its rest skipped unread.
const LS_REMOTE_LINE_BYTES: usize = 1024;

/// Most refs one `git ls-remote` of the store may list (more than 100 000 commits of 2 bundles);
/// past it the listing stops and says so. What is kept of the listing is bounded by it.
pub const MAX_LISTED_REMOTE_REFS: usize = 262_144;

/// Most refs one `git push` or `git fetch` run of the store names (the refspecs of a push are
/// arguments: 512 of at most 2 x 145 bytes stay far below every system's argument limit).
pub const REFS_PER_RUN: usize = 512;

/// Largest file one `git fetch` of [`Store::pull`] may write: the pack it receives (always kept
/// as one file). The remote decides what it sends; git cannot bound that, so the file size limit
/// of the process (`ulimit -f`) stops git once it has written this much. 256 MiB is four commits
/// at [`MAX_BYTES_PER_COMMIT`](super::MAX_BYTES_PER_COMMIT); real bundles are a few KiB.
pub const MAX_FETCH_PACK_BYTES: u64 = 256 * 1024 * 1024;

/// Bundles in git refs of a repository, pushed to and fetched from one remote.
#[derive(Debug, Clone)]
pub struct GitStore {
    repo_root: PathBuf,
    remote: String,
    fetch_limit: u64,
}

/// What `git ls-remote` listed for the asked commits.
#[derive(Debug, Default)]
struct RemoteListing {
    /// Every line read.
    listed: usize,
    /// The asked commits' bundle refs.
    refs: BTreeMap<CommitId, ListedCommit>,
    /// Lines that are not a bundle ref of this store.
    stray: Vec<RejectedItem>,
}

/// One commit's refs on the remote: (ref, object id), sorted; whether more were not kept.
#[derive(Debug, Default)]
struct ListedCommit {
    refs: Vec<(String, String)>,
    more: bool,
}

/// The commit and sha256 of a ref `refs/ci-attest/<commit>/<sha256 hex>`, or `None` if the name
/// is not one this store makes.
pub fn parse_bundle_ref(refname: &str) -> Option<(CommitId, &str)> {
    let rest = refname.strip_prefix(REF_PREFIX)?;
    let (commit, _) = rest.split_once('/')?;
    let commit = CommitId::parse(commit)?;
    let digest = ref_digest(&commit, refname)?;
    Some((commit, digest))
}

fn is_object_id(text: &str) -> bool {
    (text.len() == 40 || text.len() == 64)
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Reads a `git ls-remote` listing line by line (see [`GitStore::pull_commits`]): at most
/// `max_lines` lines, each kept to [`LS_REMOTE_LINE_BYTES`] bytes (the rest of a longer line is
/// skipped, at most `max_lines` times that in all); the refs of the `asked` commits,
/// at most [`MAX_LISTED_ITEMS_PER_COMMIT`] each; lines that are not a bundle ref of this store as
/// stray items (at most [`MAX_LISTED_ITEMS_PER_COMMIT`] named). Returns whether it read all the
/// output (when not, git is to be stopped). With one commit asked (`whole` false), reading stops
/// once that commit is cut.
fn read_listing(
    out: &mut dyn BufRead,
    asked: &HashSet<&CommitId>,
    whole: bool,
    remote: &str,
    max_lines: usize,
) -> std::io::Result<(RemoteListing, bool)> {
    let mut listing = RemoteListing::default();
    let mut stray = 0usize;
    let mut add_stray = |listing: &mut RemoteListing, name: &str, problem| {
        stray += 1;
        if stray <= MAX_LISTED_ITEMS_PER_COMMIT {
            listing.stray.push(RejectedItem {
                location: format!("{} on {remote}", shown_name(name)),
                problem,
            });
        }
    };
    let mut line = Vec::new();
    let mut complete = true;
    let mut stopped = false;
    let mut skipped = 0usize;
    loop {
        line.clear();
        let n = out
            .take(LS_REMOTE_LINE_BYTES as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if listing.listed >= max_lines {
            complete = false;
            break;
        }
        listing.listed += 1;
        if line.last() != Some(&b'\n') && n == LS_REMOTE_LINE_BYTES {
            // A line longer than any ref this store writes: named by its start, its rest skipped
            // unread (within the listing's byte budget) and the next lines read as usual.
            let text = String::from_utf8_lossy(&line).into_owned();
            add_stray(
                &mut listing,
                text.split('\t').nth(1).unwrap_or(&text),
                ItemProblem::BadName {
                    expected: format!("a listing line of at most {LS_REMOTE_LINE_BYTES} bytes"),
                    found: "a longer line".into(),
                },
            );
            let mut rest = Vec::new();
            loop {
                rest.clear();
                let k = out
                    .take(LS_REMOTE_LINE_BYTES as u64)
                    .read_until(b'\n', &mut rest)?;
                skipped = skipped.saturating_add(k);
                if k == 0 || rest.last() == Some(&b'\n') {
                    break;
                }
                if skipped > max_lines.saturating_mul(LS_REMOTE_LINE_BYTES) {
                    complete = false;
                    break;
                }
            }
            if !complete {
                break;
            }
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let Some((oid, refname)) = text.split_once('\t') else {
            add_stray(
                &mut listing,
                text,
                ItemProblem::BadName {
                    expected: "`<object id>\\t<ref>` from git ls-remote".into(),
                    found: format!("{:?}", shown_name(text)),
                },
            );
            continue;
        };
        if !is_object_id(oid) {
            add_stray(
                &mut listing,
                refname,
                ItemProblem::BadName {
                    expected: "a full hex object id".into(),
                    found: format!("{:?}", shown_name(oid)),
                },
            );
            continue;
        }
        match parse_bundle_ref(refname) {
            Some((commit, _)) if asked.contains(&commit) => {
                let listed = listing.refs.entry(commit).or_default();
                if listed.refs.len() < MAX_LISTED_ITEMS_PER_COMMIT {
                    listed.refs.push((refname.to_string(), oid.to_string()));
                } else {
                    listed.more = true;
                    if !whole {
                        // The one commit asked for is cut: nothing more to read.
                        stopped = true;
                        break;
                    }
                }
            }
            Some(_) => {} // another commit's bundle: not asked for, left alone
            None => {
                let expected = if refname.starts_with(REF_PREFIX) {
                    format!("{REF_PREFIX}<commit id>/<sha256 hex of the bundle>")
                } else {
                    format!("a ref under {REF_PREFIX} (nothing else is ever fetched)")
                };
                add_stray(
                    &mut listing,
                    refname,
                    ItemProblem::BadName {
                        expected,
                        found: format!("{:?}", shown_name(refname)),
                    },
                );
            }
        }
    }
    if stray > MAX_LISTED_ITEMS_PER_COMMIT {
        listing.stray.push(super::listing_stopped(
            format!("{REF_PREFIX} on {remote}"),
            format!(
                "{} more refs the store never writes, not named",
                stray - MAX_LISTED_ITEMS_PER_COMMIT
            ),
        ));
    }
    if !complete && !stopped {
        listing.stray.push(RejectedItem {
            location: format!("{REF_PREFIX} on {remote}"),
            problem: ItemProblem::OverLimit {
                limit: format!(
                    "at most {max_lines} refs listed from the remote, each on a line of at most {LS_REMOTE_LINE_BYTES} bytes"
                ),
                found: "more, not listed".into(),
            },
        });
    }
    for listed in listing.refs.values_mut() {
        listed.refs.sort();
        listed.refs.dedup_by(|a, b| a.0 == b.0);
    }
    Ok((listing, complete && !stopped))
}

/// The temporary packs (`tmp_pack_*`) in a pack folder.
fn tmp_packs(dir: &Path) -> HashSet<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("tmp_pack_"))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// A name from the remote as it may be shown: control characters escaped, at most 300
/// characters.
fn shown_name(name: &str) -> String {
    let mut shown = String::new();
    for (i, c) in name.chars().enumerate() {
        if i == 300 {
            shown.push_str("[...]");
            break;
        }
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// The ref prefix of one commit's bundles: `refs/ci-attest/<commit>/`.
pub fn commit_ref_prefix(commit: &CommitId) -> String {
    format!("{REF_PREFIX}{commit}/")
}

/// The ref a bundle is kept under: `refs/ci-attest/<commit>/<sha256 of the bundle bytes>`.
pub fn bundle_ref(commit: &CommitId, bundle_json: &[u8]) -> String {
    format!(
        "{}{}",
        commit_ref_prefix(commit),
        hex::encode(Sha256::digest(bundle_json))
    )
}

/// The sha256 hex of a bundle ref of `commit`, or `None` if the name is not one this store makes.
fn ref_digest<'a>(commit: &CommitId, refname: &'a str) -> Option<&'a str> {
    let digest = refname.strip_prefix(&commit_ref_prefix(commit))?;
    let ok = digest.len() == 64
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then_some(digest)
}

/// The glob of one commit's bundle refs: the prefix and exactly 64 lowercase hex digits, so that
/// other names under the prefix never use up a listing's count.
fn digest_pattern(commit: &CommitId) -> String {
    format!("{}{}", commit_ref_prefix(commit), "[0-9a-f]".repeat(64))
}

/// Replaces the user-info of every `scheme://user:secret@host` in `text` with `***`.
pub fn redact_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Keeps the first [`MAX_STDERR_CHARS`] characters of git's stderr, trimmed and redacted.
fn stderr_text(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    let mut kept: String = text.chars().take(MAX_STDERR_CHARS).collect();
    if kept.len() < text.len() {
        kept.push_str(" [...]");
    }
    redact_credentials(&kept)
}

/// One line of `git cat-file --batch-check` output.
#[derive(Debug, PartialEq, Eq)]
struct ObjectInfo {
    oid: String,
    kind: String,
    size: u64,
}

impl GitStore {
    /// A store in the repository at `repo_root` that pushes to and fetches from `remote` (a remote
    /// name such as `origin`, or a URL or path).
    pub fn new(repo_root: impl Into<PathBuf>, remote: impl Into<String>) -> GitStore {
        GitStore {
            repo_root: repo_root.into(),
            remote: remote.into(),
            fetch_limit: MAX_FETCH_PACK_BYTES,
        }
    }

    /// The same store with another bound on the file one `git fetch` may write (default
    /// [`MAX_FETCH_PACK_BYTES`]; rounded up to 512 bytes).
    pub fn with_fetch_limit(mut self, bytes: u64) -> GitStore {
        self.fetch_limit = bytes;
        self
    }

    /// The repository's folder.
    pub fn repo_root(&self) -> &Path {
        &self.repo_root
    }

    /// The remote, with any credentials in it redacted.
    pub fn remote(&self) -> String {
        redact_credentials(&self.remote)
    }

    /// Pushes every bundle ref of `commit` to the remote, never forcing (see
    /// [`GitStore::push_many`]).
    pub fn push(&self, commit: &CommitId) -> Result<Published, StoreError> {
        self.push_many(std::slice::from_ref(commit))
    }

    /// Pushes every bundle ref of `commits` to the remote in as few `git push` runs as it takes
    /// ([`REFS_PER_RUN`] refs each, so usually one), never forcing.
    ///
    /// Only refs `refs/ci-attest/<commit>/<sha256>` are sent, each under its own name. Refs the
    /// remote already has with the same object are up to date. Refs the remote rejects because
    /// another push of the same ref was in flight are sent again, up to [`PUSH_ATTEMPTS`] runs in
    /// all. A ref the remote holds with a different object is never overwritten: it is an error
    /// that names it (the other refs of the run are still pushed; pushing again is safe). The
    /// user's `pre-push` hook runs as for any push.
    pub fn push_many(&self, commits: &[CommitId]) -> Result<Published, StoreError> {
        for commit in commits {
            check_commit(commit)?;
        }
        self.check_remote()?;
        let refs = self.local_bundle_refs(commits)?;
        let mut summary = Published::default();
        for run in refs.chunks(REFS_PER_RUN) {
            let one = self.push_refs(run)?;
            summary.created.extend(one.created);
            summary.up_to_date.extend(one.up_to_date);
            summary.attempts += one.attempts;
        }
        Ok(summary)
    }

    /// This clone's bundle refs of `commits`, sorted, from one `git for-each-ref`.
    fn local_bundle_refs(&self, commits: &[CommitId]) -> Result<Vec<String>, StoreError> {
        if let [commit] = commits {
            return Ok(self
                .list_refs(commit, None)?
                .into_iter()
                .map(|(refname, _, _)| refname)
                .collect());
        }
        let wanted: HashSet<&CommitId> = commits.iter().collect();
        let mut refs: Vec<String> = self
            .local_targets_under(REF_PREFIX)?
            .into_keys()
            .filter(|name| matches!(parse_bundle_ref(name), Some((c, _)) if wanted.contains(&c)))
            .collect();
        refs.sort();
        Ok(refs)
    }

    /// One batch of [`GitStore::push_many`]: sends `refs`, retrying concurrent-push rejections.
    fn push_refs(&self, refs: &[String]) -> Result<Published, StoreError> {
        let mut pending = refs.to_vec();
        let mut summary = Published::default();
        while !pending.is_empty() {
            summary.attempts += 1;
            let mut args = vec![
                "push".to_string(),
                "--porcelain".into(),
                "--no-follow-tags".into(),
                // Bundle refs are not code: no pre-push hook runs for them (ci-attest's own hook
                // pushes them from inside a pre-push hook, and a hook manager would try to treat
                // their blobs as commits).
                "--no-verify".into(),
                "--end-of-options".into(),
                self.remote.clone(),
            ];
            args.extend(pending.iter().map(|r| format!("{r}:{r}")));
            let out = self.git_raw(&args, None, &[])?;
            let lines: HashMap<String, PushLine> = parse_push_porcelain(&out.stdout)
                .into_iter()
                .map(|l| (l.dst.clone(), l))
                .collect();
            let mut retry = Vec::new();
            let mut failed = Vec::new();
            for refname in &pending {
                match lines.get(refname) {
                    Some(l) if l.flag == '*' => summary.created.push(refname.clone()),
                    Some(l) if l.flag == '=' => summary.up_to_date.push(refname.clone()),
                    Some(l) if l.flag == '!' && l.summary.starts_with("[remote rejected]") => {
                        retry.push(refname.clone());
                    }
                    Some(l) => failed.push(format!("{refname}: {} {}", l.flag, l.summary)),
                    None => failed.push(format!("{refname}: no status")),
                }
            }
            if !failed.is_empty() || (!retry.is_empty() && summary.attempts >= PUSH_ATTEMPTS) {
                failed.extend(retry.iter().map(|r| format!("{r}: [remote rejected]")));
                let command = format!(
                    "push --porcelain --no-follow-tags --end-of-options {} <{} refspecs>",
                    self.remote,
                    pending.len()
                );
                return Err(git_error(
                    &[command],
                    "each ref created on the remote or already there with the same bundle (a ref the remote holds with another object is never overwritten)",
                    format!(
                        "{} (after {} attempts); git said: {}",
                        failed.join("; "),
                        summary.attempts,
                        stderr_text(&out.stderr)
                    ),
                ));
            }
            if !out.status.success() && retry.is_empty() {
                return Err(failed_error(&args, &out));
            }
            if !retry.is_empty() {
                std::thread::sleep(Duration::from_millis(50 << summary.attempts.min(5)));
            }
            pending = retry;
        }
        Ok(summary)
    }

    /// Fetches every bundle ref from the remote (`refs/ci-attest/*`), never forcing, with plain
    /// `git fetch` and no limits of its own: what the remote offers is taken whole. Verifiers and
    /// auditors use [`Store::pull`] instead, which lists, checks and bounds what it fetches.
    pub fn fetch_remote(&self) -> Result<(), StoreError> {
        self.fetch_refspec(&format!("{REF_PREFIX}*:{REF_PREFIX}*"))
    }

    /// Fetches the bundle refs of one commit from the remote; returns the remote's refs it did
    /// not take, each with its reason (see [`GitStore::pull_commits`]).
    pub fn fetch_remote_commit(&self, commit: &CommitId) -> Result<Vec<RejectedItem>, StoreError> {
        let pulled = self.pull_commits(std::slice::from_ref(commit))?;
        Ok(pulled
            .rejected
            .into_values()
            .flatten()
            .chain(pulled.stray)
            .collect())
    }

    /// Fetches the bundle refs of `commits` from the remote, never forcing, treating the remote
    /// as hostile; says what it fetched and which refs it did not take, each with its reason.
    ///
    /// The remote's refs are listed first with one `git ls-remote`, read line by line with
    /// bounds: one commit's refs (`refs/ci-attest/<commit>/<sha256>`), or for more commits the
    /// whole namespace `refs/ci-attest/*` once, at most [`MAX_LISTED_REMOTE_REFS`] refs, and at
    /// most [`MAX_LISTED_ITEMS_PER_COMMIT`] of each commit. Each listed name is checked: a ref
    /// outside `refs/ci-attest/`, or one under it that is not `<commit id>/<sha256 hex>`, is never
    /// fetched and is a stray [`ItemProblem::BadName`] (at most
    /// [`MAX_LISTED_ITEMS_PER_COMMIT`] are named). Refs of other commits are left alone.
    ///
    /// A ref this clone already has with the same object is left alone; one it has with another
    /// object was rewritten on the remote and is [`ItemProblem::FetchFailed`] (this clone's ref
    /// is kept, and judged by [`Store::fetch`]); refs of a commit past its first
    /// [`MAX_ITEMS_PER_COMMIT`] are not fetched. The others are fetched under their own names
    /// only (explicit `ref:ref` refspecs, no glob, no `+`), [`REFS_PER_RUN`] per `git fetch`, each
    /// run writing no file over [`MAX_FETCH_PACK_BYTES`]; when a run fails its refs are fetched
    /// one by one, so a ref that cannot be fetched (or whose objects are too large) is
    /// [`ItemProblem::FetchFailed`] and does not keep the others out. An `Err` means the remote
    /// could not be listed at all.
    pub fn pull_commits(&self, commits: &[CommitId]) -> Result<Pulled, StoreError> {
        for commit in commits {
            check_commit(commit)?;
        }
        self.check_remote()?;
        let mut pulled = Pulled::default();
        if commits.is_empty() {
            return Ok(pulled);
        }
        let listing = self.ls_remote(commits)?;
        pulled.listed = listing.listed;
        pulled.stray = listing.stray;
        let remote = self.remote();
        let on_remote = |refname: &str| format!("{refname} on {remote}");
        let local = if let [commit] = commits {
            self.local_targets_under(&commit_ref_prefix(commit))?
        } else {
            self.local_targets_under(REF_PREFIX)?
        };
        let mut wanted: Vec<(CommitId, String)> = Vec::new();
        for (commit, listed) in &listing.refs {
            if listed.refs.is_empty() {
                continue;
            }
            pulled.commits += 1;
            let mut rejected = Vec::new();
            for (i, (refname, oid)) in listed.refs.iter().enumerate() {
                let problem = match local.get(refname) {
                    Some(have) if have == oid => {
                        pulled.present += 1;
                        continue;
                    }
                    Some(have) => ItemProblem::FetchFailed {
                        message: format!(
                            "the remote's ref points at {oid} and this clone's at {have}: bundle refs are never rewritten, so this clone's was kept"
                        ),
                    },
                    None if i >= MAX_ITEMS_PER_COMMIT => ItemProblem::OverLimit {
                        limit: format!(
                            "at most {MAX_ITEMS_PER_COMMIT} bundle refs fetched per commit"
                        ),
                        found: format!("ref {} of the commit on the remote", i + 1),
                    },
                    None => {
                        wanted.push((commit.clone(), refname.clone()));
                        continue;
                    }
                };
                rejected.push(RejectedItem {
                    location: on_remote(refname),
                    problem,
                });
            }
            if listed.more {
                rejected.push(super::listing_stopped(
                    on_remote(&commit_ref_prefix(commit)),
                    format!("more bundle refs of {commit} on the remote, not listed"),
                ));
            }
            if !rejected.is_empty() {
                pulled.rejected.insert(commit.clone(), rejected);
            }
        }
        for run in wanted.chunks(REFS_PER_RUN) {
            let names: Vec<String> = run.iter().map(|(_, r)| r.clone()).collect();
            if self.fetch_refs(&names).is_ok() {
                pulled.fetched += names.len();
                continue;
            }
            for (commit, refname) in run {
                match self.fetch_refs(std::slice::from_ref(refname)) {
                    Ok(()) => pulled.fetched += 1,
                    Err(e) => {
                        let message = match e {
                            StoreError::Git { found, .. } => found,
                            other => other.to_string(),
                        };
                        pulled
                            .rejected
                            .entry(commit.clone())
                            .or_default()
                            .push(RejectedItem {
                                location: on_remote(refname),
                                problem: ItemProblem::FetchFailed { message },
                            });
                    }
                }
            }
        }
        Ok(pulled)
    }

    /// The remote's refs for `commits` (see [`GitStore::pull_commits`]), read with bounds.
    fn ls_remote(&self, commits: &[CommitId]) -> Result<RemoteListing, StoreError> {
        let mut args = vec![
            "ls-remote".to_string(),
            "--refs".into(),
            "--end-of-options".into(),
            self.remote.clone(),
        ];
        let whole = commits.len() > 1;
        if whole {
            args.push(format!("{REF_PREFIX}*"));
        } else {
            args.extend(commits.iter().map(digest_pattern));
        }
        let asked: HashSet<&CommitId> = commits.iter().collect();
        let remote = self.remote();
        let (listing, _) = self
            .git_streamed(&args, None, |out| {
                let (listing, complete) =
                    read_listing(out, &asked, whole, &remote, MAX_LISTED_REMOTE_REFS)
                        .map_err(|e| read_error(&args, e))?;
                Ok((listing, complete))
            })
            .map_err(|e| match e {
                StoreError::Git { command, found, .. } => StoreError::Git {
                    command,
                    expected: format!(
                        "a reachable git remote {remote} to list {REF_PREFIX}* from (a remote name, URL or path)"
                    ),
                    found,
                },
                other => other,
            })?;
        // Commits asked for but absent from the listing have no refs there.
        Ok(listing)
    }

    /// The object ids of this clone's refs under `prefix` (one `git for-each-ref`).
    fn local_targets_under(&self, prefix: &str) -> Result<HashMap<String, String>, StoreError> {
        let args = vec![
            "for-each-ref".to_string(),
            "--format=%(refname) %(objectname)".into(),
            "--end-of-options".into(),
            prefix.to_string(),
        ];
        let out = self.git_ok(&args, None, &[])?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|line| {
                let (name, oid) = line.split_once(' ')?;
                Some((name.to_string(), oid.to_string()))
            })
            .collect())
    }

    /// Fetches these refs of the remote under the same names, never forcing: refspecs on stdin,
    /// no tags, no FETCH_HEAD, no automatic maintenance, and no file written over
    /// [`MAX_FETCH_PACK_BYTES`] (the pack is always kept as one file, so that bounds it).
    fn fetch_refs(&self, refnames: &[String]) -> Result<(), StoreError> {
        let args = vec![
            "-c".to_string(),
            "fetch.unpackLimit=1".into(),
            "-c".into(),
            "transfer.unpackLimit=1".into(),
            "fetch".into(),
            "--quiet".into(),
            "--no-tags".into(),
            "--no-write-fetch-head".into(),
            "--no-auto-maintenance".into(),
            "--no-recurse-submodules".into(),
            "--stdin".into(),
            "--end-of-options".into(),
            self.remote.clone(),
        ];
        let input: String = refnames.iter().map(|r| format!("{r}:{r}\n")).collect();
        let packs = self.pack_dir().ok();
        let before = packs.as_deref().map(tmp_packs).unwrap_or_default();
        let out = self.git_bounded(&args, input.as_bytes(), self.fetch_limit)?;
        if !out.status.success() {
            let mut err = failed_error(&args, &out);
            let cut =
                out.status.code().is_none() || stderr_text(&out.stderr).contains("index-pack");
            if let (true, StoreError::Git { found, .. }) = (cut, &mut err) {
                found.push_str(&format!(
                    " (expected at most {} bytes for these refs: no fetch of the store writes a larger file, so git was stopped)",
                    self.fetch_limit
                ));
                // The pack git was writing when the limit stopped it: a new temporary pack of
                // the limit's size. Removed, so a hostile remote cannot fill the disk fetch by
                // fetch (a concurrent git's smaller temporary packs are left alone).
                if let Some(packs) = &packs {
                    let full = self.fetch_limit.div_ceil(512).max(1) * 512;
                    for path in tmp_packs(packs) {
                        let size = std::fs::symlink_metadata(&path)
                            .map(|m| m.len())
                            .unwrap_or(0);
                        if !before.contains(&path) && size >= full {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
            }
            return Err(err);
        }
        Ok(())
    }

    /// The repository's pack folder (`objects/pack`, also in a linked worktree).
    fn pack_dir(&self) -> Result<PathBuf, StoreError> {
        let args = [
            "rev-parse".to_string(),
            "--git-path".into(),
            "objects/pack".into(),
        ];
        let out = self.git_ok(&args, None, &[])?;
        let path = PathBuf::from(String::from_utf8_lossy(&out).trim());
        Ok(if path.is_absolute() {
            path
        } else {
            self.repo_root.join(path)
        })
    }

    fn fetch_refspec(&self, refspec: &str) -> Result<(), StoreError> {
        self.check_remote()?;
        let args = [
            "fetch".to_string(),
            "--quiet".into(),
            "--no-tags".into(),
            "--end-of-options".into(),
            self.remote.clone(),
            refspec.to_string(),
        ];
        self.git_ok(&args, None, &[])?;
        Ok(())
    }

    fn check_remote(&self) -> Result<(), StoreError> {
        let r = &self.remote;
        if r.is_empty() || r.starts_with('-') || r.chars().any(char::is_control) {
            return Err(StoreError::Git {
                command: "push/fetch".into(),
                expected: "a remote name, URL or path (not empty, not starting with '-')".into(),
                found: format!("{:?}", redact_credentials(r)),
            });
        }
        Ok(())
    }

    /// The store's refs of `commit`, sorted by name: (ref, object id, object type); at most
    /// `count` of them (git stops listing there).
    fn list_refs(
        &self,
        commit: &CommitId,
        count: Option<usize>,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut args = vec![
            "for-each-ref".to_string(),
            "--format=%(refname) %(objectname) %(objecttype)".into(),
        ];
        args.extend(count.map(|n| format!("--count={n}")));
        args.extend(["--end-of-options".to_string(), digest_pattern(commit)]);
        let out = self.git_ok(&args, None, &[])?;
        let text = String::from_utf8_lossy(&out);
        let mut refs = Vec::new();
        for line in text.lines() {
            let mut parts = line.split(' ');
            let (Some(refname), Some(oid), Some(kind), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                // Ref names cannot hold spaces; skip anything else that is not ours.
                continue;
            };
            if ref_digest(commit, refname).is_some() {
                refs.push((refname.to_string(), oid.to_string(), kind.to_string()));
            }
        }
        refs.sort();
        Ok(refs)
    }

    /// `git cat-file --batch-check` for each name: `None` when the object is missing.
    fn batch_check(&self, names: &[String]) -> Result<Vec<Option<ObjectInfo>>, StoreError> {
        let args = [
            "cat-file".to_string(),
            "--batch-check=%(objectname) %(objecttype) %(objectsize)".into(),
        ];
        let input: String = names.iter().map(|n| format!("{n}\n")).collect();
        let out = self.git_ok(&args, Some(input.as_bytes()), &[])?;
        let text = String::from_utf8_lossy(&out);
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() != names.len() {
            return Err(git_error(
                &args,
                format!("{} lines", names.len()),
                format!("{} lines", lines.len()),
            ));
        }
        let mut infos = Vec::with_capacity(names.len());
        for line in lines {
            if line.ends_with(" missing") {
                infos.push(None);
                continue;
            }
            let mut parts = line.split(' ');
            let info = match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(oid), Some(kind), Some(size), None) => {
                    size.parse().ok().map(|size| ObjectInfo {
                        oid: oid.to_string(),
                        kind: kind.to_string(),
                        size,
                    })
                }
                _ => None,
            };
            let Some(info) = info else {
                return Err(git_error(
                    &args,
                    "`<oid> <type> <size>` or `<name> missing`",
                    format!("{line:?}"),
                ));
            };
            infos.push(Some(info));
        }
        Ok(infos)
    }

    /// The blob `bundle.sigstore.json` of the commit `oid`, if the commit has one.
    fn bundle_blob_of(&self, oid: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let name = format!("{oid}:{BUNDLE_FILE}");
        Ok(self
            .batch_check(&[name])?
            .pop()
            .flatten()
            .filter(|info| info.kind == "blob"))
    }

    /// Object id of the ref `refname`, if it exists.
    fn ref_target(&self, refname: &str) -> Result<Option<String>, StoreError> {
        let args = [
            "for-each-ref".to_string(),
            "--format=%(refname) %(objectname)".into(),
            "--end-of-options".into(),
            refname.to_string(),
        ];
        let out = self.git_ok(&args, None, &[])?;
        let text = String::from_utf8_lossy(&out);
        Ok(text.lines().find_map(|line| {
            let (name, oid) = line.split_once(' ')?;
            (name == refname).then(|| oid.to_string())
        }))
    }

    /// Checks the existing ref `refname` holds the bundle blob `blob`.
    fn check_existing(&self, refname: &str, target: &str, blob: &str) -> Result<(), StoreError> {
        match self.bundle_blob_of(target)? {
            Some(info) if info.oid == blob => Ok(()),
            found => Err(StoreError::Git {
                command: format!("cat-file --batch-check {target}:{BUNDLE_FILE}"),
                expected: format!("the existing ref {refname} to hold the bundle blob {blob}"),
                found: match found {
                    Some(info) => format!("blob {}", info.oid),
                    None => format!("no {BUNDLE_FILE} blob in {target}"),
                },
            }),
        }
    }

    /// Runs git and fails unless it exits 0; returns stdout.
    fn git_ok(
        &self,
        args: &[String],
        input: Option<&[u8]>,
        env: &[(&str, &str)],
    ) -> Result<Vec<u8>, StoreError> {
        let out = self.git_raw(args, input, env)?;
        if !out.status.success() {
            return Err(failed_error(args, &out));
        }
        Ok(out.stdout)
    }

    fn spawn_error(&self) -> impl Fn(std::io::Error) -> StoreError + '_ {
        |source| StoreError::Io {
            path: format!("git (in {})", self.repo_root.display()),
            source,
        }
    }

    /// Starts git in the repository with stdout and stderr piped, and stdin piped when `input`.
    fn spawn(
        &self,
        args: &[String],
        input: bool,
        env: &[(&str, &str)],
    ) -> Result<Child, StoreError> {
        Command::new("git")
            .args(args)
            .current_dir(&self.repo_root)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .envs(crate::git::SEALED_GIT_ENV.iter().copied())
            .envs(env.iter().copied())
            .stdin(if input { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(self.spawn_error())
    }

    /// Runs git with its stdout streamed through `consume` instead of collected, so that what is
    /// kept of it is bounded by `consume`; at most [`MAX_STDERR_BYTES`] of stderr are kept.
    ///
    /// `consume` returns its result and whether it read all the output it expects. When it did
    /// not (or failed), git is killed and its exit status ignored; otherwise git must exit 0.
    fn git_streamed<T>(
        &self,
        args: &[String],
        input: Option<&[u8]>,
        consume: impl FnOnce(&mut dyn BufRead) -> Result<(T, bool), StoreError>,
    ) -> Result<(T, bool), StoreError> {
        let mut child = self.spawn(args, input.is_some(), &[])?;
        let stdin = child.stdin.take();
        let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(self.spawn_error()(std::io::Error::other(
                "git's pipes are missing",
            )));
        };
        std::thread::scope(|scope| {
            if let (Some(mut stdin), Some(input)) = (stdin, input) {
                // A write error means git exited early; its status and stderr tell why.
                scope.spawn(move || {
                    let _ = stdin.write_all(input);
                });
            }
            let errors = scope.spawn(move || {
                let mut kept = Vec::new();
                let _ = (&mut stderr).take(MAX_STDERR_BYTES).read_to_end(&mut kept);
                let _ = std::io::copy(&mut stderr, &mut std::io::sink());
                kept
            });
            let consumed = consume(&mut BufReader::new(stdout));
            let complete = matches!(consumed, Ok((_, true)));
            if !complete {
                let _ = child.kill();
            }
            let status = child.wait().map_err(self.spawn_error());
            let stderr = errors.join().unwrap_or_default();
            let status = status?;
            let (value, complete) = consumed?;
            if complete && !status.success() {
                return Err(status_error(args, status, &stderr));
            }
            Ok((value, complete))
        })
    }

    /// Runs git in the repository with `input` (or nothing) on stdin.
    fn git_raw(
        &self,
        args: &[String],
        input: Option<&[u8]>,
        env: &[(&str, &str)],
    ) -> Result<Output, StoreError> {
        let spawn_error = self.spawn_error();
        let mut child = self.spawn(args, input.is_some(), env)?;
        let stdin = child.stdin.take();
        std::thread::scope(|scope| {
            if let (Some(mut stdin), Some(input)) = (stdin, input) {
                // Written from another thread so a large input cannot deadlock against git's output.
                // A write error means git exited early; its status and stderr tell why.
                scope.spawn(move || {
                    let _ = stdin.write_all(input);
                });
            }
            child.wait_with_output().map_err(spawn_error)
        })
    }
}

impl GitStore {
    /// Runs git with `input` on stdin under a file size limit of `max_file_bytes` (`ulimit -f`,
    /// set by `sh` before it `exec`s git; inherited by every process git starts).
    fn git_bounded(
        &self,
        args: &[String],
        input: &[u8],
        max_file_bytes: u64,
    ) -> Result<Output, StoreError> {
        let blocks = max_file_bytes.div_ceil(512).max(1).to_string();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("ulimit -f \"$1\" || exit 125; shift; exec git \"$@\"")
            .arg("sh")
            .arg(&blocks)
            .args(args)
            .current_dir(&self.repo_root)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .envs(crate::git::SEALED_GIT_ENV.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(self.spawn_error())?;
        let stdin = child.stdin.take();
        let spawn_error = self.spawn_error();
        std::thread::scope(|scope| {
            if let Some(mut stdin) = stdin {
                scope.spawn(move || {
                    let _ = stdin.write_all(input);
                });
            }
            child.wait_with_output().map_err(spawn_error)
        })
    }
}

fn check_commit(commit: &CommitId) -> Result<(), StoreError> {
    if CommitId::parse(commit.as_str()).is_none() {
        return Err(StoreError::Git {
            command: "(none)".into(),
            expected: "a full lowercase hex commit id".into(),
            found: format!("{:?}", commit.as_str()),
        });
    }
    Ok(())
}

fn git_error(args: &[String], expected: impl Into<String>, found: String) -> StoreError {
    StoreError::Git {
        command: redact_credentials(&args.join(" ")),
        expected: expected.into(),
        found,
    }
}

fn failed_error(args: &[String], out: &Output) -> StoreError {
    status_error(args, out.status, &out.stderr)
}

fn status_error(args: &[String], status: ExitStatus, stderr: &[u8]) -> StoreError {
    let status = status
        .code()
        .map_or_else(|| "a signal".to_string(), |c| format!("exit status {c}"));
    git_error(
        args,
        "success",
        format!("{status}: {}", stderr_text(stderr)),
    )
}

fn read_error(args: &[String], e: std::io::Error) -> StoreError {
    git_error(
        args,
        "output that can be read",
        format!("a read error: {e}"),
    )
}

/// One ref line of `git push --porcelain`: `<flag>\t<src>:<dst>\t<summary>`.
#[derive(Debug)]
struct PushLine {
    flag: char,
    dst: String,
    summary: String,
}

fn parse_push_porcelain(stdout: &[u8]) -> Vec<PushLine> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let flag = fields.next()?;
            let refs = fields.next()?;
            let summary = fields.next().unwrap_or("");
            let mut chars = flag.chars();
            let (Some(flag), None) = (chars.next(), chars.next()) else {
                return None;
            };
            let (_, dst) = refs.split_once(':')?;
            Some(PushLine {
                flag,
                dst: dst.to_string(),
                summary: summary.to_string(),
            })
        })
        .collect()
}

impl Store for GitStore {
    /// Writes the bundle's blob, tree and commit and creates its ref, unless the ref is already
    /// there with the same bundle; returns the ref name.
    fn put(&self, commit: &CommitId, bundle_json: &[u8]) -> Result<String, StoreError> {
        check_commit(commit)?;
        let refname = bundle_ref(commit, bundle_json);
        if bundle_json.len() > MAX_BUNDLE_BYTES {
            return Err(StoreError::TooLarge {
                path: refname,
                size: bundle_json.len() as u64,
                limit: MAX_BUNDLE_BYTES as u64,
            });
        }
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

        let hash = args(&["hash-object", "-w", "-t", "blob", "--no-filters", "--stdin"]);
        let blob = one_oid(&hash, &self.git_ok(&hash, Some(bundle_json), &[])?)?;

        if let Some(target) = self.ref_target(&refname)? {
            self.check_existing(&refname, &target, &blob)?;
            return Ok(refname);
        }

        let mktree = args(&["mktree"]);
        let entry = format!("100644 blob {blob}\t{BUNDLE_FILE}\n");
        let tree = one_oid(&mktree, &self.git_ok(&mktree, Some(entry.as_bytes()), &[])?)?;

        let subject = format!("ci-attest bundle for {commit}");
        let body = format!("bundle sha256:{}", hex::encode(Sha256::digest(bundle_json)));
        let commit_tree = args(&[
            "-c",
            "i18n.commitEncoding=UTF-8",
            "commit-tree",
            "--no-gpg-sign",
            "-m",
            &subject,
            "-m",
            &body,
            &tree,
        ]);
        let env = [
            ("GIT_AUTHOR_NAME", IDENTITY_NAME),
            ("GIT_AUTHOR_EMAIL", IDENTITY_EMAIL),
            ("GIT_AUTHOR_DATE", IDENTITY_DATE),
            ("GIT_COMMITTER_NAME", IDENTITY_NAME),
            ("GIT_COMMITTER_EMAIL", IDENTITY_EMAIL),
            ("GIT_COMMITTER_DATE", IDENTITY_DATE),
        ];
        let bundle_commit = one_oid(&commit_tree, &self.git_ok(&commit_tree, None, &env)?)?;

        // `create` fails if the ref exists: a concurrent put may have just made it.
        let update = args(&["update-ref", "--stdin"]);
        let line = format!("create {refname} {bundle_commit}\n");
        match self.git_ok(&update, Some(line.as_bytes()), &[]) {
            Ok(_) => Ok(refname),
            Err(err) => match self.ref_target(&refname)? {
                Some(target) => {
                    self.check_existing(&refname, &target, &blob)?;
                    Ok(refname)
                }
                None => Err(err),
            },
        }
    }

    /// Every bundle under `refs/ci-attest/<commit>/`, sorted by ref name (see the module doc).
    ///
    /// Refs under that prefix whose name is not a sha256 hex are ignored. Every other ref is a
    /// bundle or a [`RejectedItem`]: one that is not a commit with a `bundle.sigstore.json` blob,
    /// whose blob is larger than [`MAX_BUNDLE_BYTES`] (known from `cat-file --batch-check`, never
    /// read), that is past [`MAX_ITEMS_PER_COMMIT`] or does not fit in [`MAX_BYTES_PER_COMMIT`](super::MAX_BYTES_PER_COMMIT),
    /// or whose bytes do not hash to its name. Past [`MAX_LISTED_ITEMS_PER_COMMIT`] refs, one
    /// rejected item at the prefix stands for the rest.
    fn fetch(&self, commit: &CommitId) -> Result<Fetched, StoreError> {
        check_commit(commit)?;
        let mut refs = self.list_refs(commit, Some(MAX_LISTED_ITEMS_PER_COMMIT + 1))?;
        let more = refs.len() > MAX_LISTED_ITEMS_PER_COMMIT;
        refs.truncate(MAX_LISTED_ITEMS_PER_COMMIT);
        let mut fetched = Fetched::default();
        let mut reject = |location: String, problem| {
            fetched.rejected.push(RejectedItem { location, problem });
        };
        let mut budget = Budget::default();
        let mut commits = Vec::new();
        for (refname, oid, kind) in refs {
            if let Err(problem) = budget.take_item() {
                reject(refname, problem);
            } else if kind != "commit" {
                let found = format!("a {kind} object ({oid}), not a bundle commit");
                reject(refname, ItemProblem::NotAFile { found });
            } else {
                commits.push((refname, oid));
            }
        }
        let names: Vec<String> = commits
            .iter()
            .map(|(_, oid)| format!("{oid}:{BUNDLE_FILE}"))
            .collect();
        let infos = if names.is_empty() {
            Vec::new()
        } else {
            self.batch_check(&names)?
        };
        let mut wanted = Vec::new();
        for ((refname, oid), info) in commits.into_iter().zip(infos) {
            let problem = match info {
                Some(info) if info.kind == "blob" => {
                    let limit = MAX_BUNDLE_BYTES as u64;
                    if info.size > limit {
                        ItemProblem::TooLarge {
                            size: info.size,
                            limit,
                        }
                    } else {
                        match budget.take_bytes(info.size) {
                            Ok(()) => {
                                wanted.push((refname, info));
                                continue;
                            }
                            Err(problem) => problem,
                        }
                    }
                }
                Some(info) => ItemProblem::NotAFile {
                    found: format!("a {} at {BUNDLE_FILE} of commit {oid}", info.kind),
                },
                None => ItemProblem::NotAFile {
                    found: format!("commit {oid} without a {BUNDLE_FILE} blob"),
                },
            };
            reject(refname, problem);
        }

        let blobs: Vec<&ObjectInfo> = wanted.iter().map(|(_, info)| info).collect();
        let contents = self.read_blobs(&blobs)?;
        for ((refname, _), bytes) in wanted.into_iter().zip(contents) {
            let digest = hex::encode(Sha256::digest(&bytes));
            match ref_digest(commit, &refname) {
                Some(named) if named == digest => fetched.bundles.push(StoredBundle {
                    location: refname,
                    bytes,
                }),
                named => {
                    let expected = named.unwrap_or_default().to_string();
                    fetched.rejected.push(RejectedItem {
                        location: refname,
                        problem: ItemProblem::DigestMismatch {
                            expected,
                            found: digest,
                        },
                    });
                }
            }
        }
        if more {
            fetched.rejected.push(super::listing_stopped(
                commit_ref_prefix(commit),
                format!("more bundle refs of {commit}, not listed"),
            ));
        }
        Ok(fetched)
    }

    /// Fetches the commits' bundle refs from the remote (see [`GitStore::pull_commits`]).
    fn pull(&self, commits: &[CommitId]) -> Result<Option<Pulled>, StoreError> {
        self.pull_commits(commits).map(Some)
    }

    /// Pushes the commits' bundle refs to the remote (see [`GitStore::push_many`]).
    fn publish(&self, commits: &[CommitId]) -> Result<Published, StoreError> {
        self.push_many(commits)
    }

    fn describe(&self) -> String {
        format!("git remote {}", self.remote())
    }
}

impl GitStore {
    /// Reads blobs already checked to exist and to be within the limits, in one `git cat-file
    /// --batch` whose output is streamed blob by blob (only the blobs themselves are kept).
    fn read_blobs(&self, blobs: &[&ObjectInfo]) -> Result<Vec<Vec<u8>>, StoreError> {
        if blobs.is_empty() {
            return Ok(Vec::new());
        }
        let args = ["cat-file".to_string(), "--batch".into()];
        let input: String = blobs.iter().map(|b| format!("{}\n", b.oid)).collect();
        let (contents, _) = self.git_streamed(&args, Some(input.as_bytes()), |out| {
            let mut contents = Vec::with_capacity(blobs.len());
            for blob in blobs {
                contents.push(read_batch_entry(out, blob, &args)?);
            }
            Ok((contents, true))
        })?;
        Ok(contents)
    }
}

/// Reads one `<oid> blob <size>\n<bytes>\n` entry of `git cat-file --batch` for `blob`.
fn read_batch_entry(
    out: &mut dyn BufRead,
    blob: &ObjectInfo,
    args: &[String],
) -> Result<Vec<u8>, StoreError> {
    let expected_header = format!("{} blob {}\n", blob.oid, blob.size);
    let unexpected = |found: &[u8]| {
        git_error(
            args,
            format!("{expected_header:?} then {} bytes", blob.size),
            format!("{:?}", String::from_utf8_lossy(found)),
        )
    };
    let mut header = Vec::new();
    out.take(expected_header.len() as u64)
        .read_until(b'\n', &mut header)
        .map_err(|e| read_error(args, e))?;
    if header != expected_header.as_bytes() {
        return Err(unexpected(&header));
    }
    let size = usize::try_from(blob.size).map_err(|_| unexpected(&header))?;
    let mut bytes = vec![0; size];
    out.read_exact(&mut bytes)
        .map_err(|e| read_error(args, e))?;
    let mut newline = [0u8; 1];
    out.read_exact(&mut newline)
        .map_err(|e| read_error(args, e))?;
    if newline != *b"\n" {
        return Err(unexpected(&newline));
    }
    Ok(bytes)
}

/// The single object id git printed.
fn one_oid(args: &[String], stdout: &[u8]) -> Result<String, StoreError> {
    let text = String::from_utf8_lossy(stdout);
    let oid = text.trim();
    if (oid.len() == 40 || oid.len() == 64)
        && oid
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(oid.to_string())
    } else {
        Err(git_error(
            args,
            "one object id",
            format!("{:?}", oid.chars().take(200).collect::<String>()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact_credentials(
                "fatal: unable to access 'https://bob:ghp_s3cret@github.com/a/b/': 403"
            ),
            "fatal: unable to access 'https://***@github.com/a/b/': 403"
        );
        assert_eq!(redact_credentials("https://tok@x.org"), "https://***@x.org");
        assert_eq!(
            redact_credentials("ssh://git@host/p and https://h/p"),
            "ssh://***@host/p and https://h/p"
        );
        assert_eq!(redact_credentials("origin"), "origin");
        assert_eq!(redact_credentials("a://"), "a://");
    }

    #[test]
    fn ref_digest_accepts_only_the_store_names() {
        let c = CommitId::parse(&"ab".repeat(20)).expect("valid id");
        let d = "0f".repeat(32);
        let name = format!("refs/ci-attest/{c}/{d}");
        assert_eq!(ref_digest(&c, &name), Some(d.as_str()));
        assert_eq!(ref_digest(&c, &format!("{name}0")), None);
        assert_eq!(ref_digest(&c, &name.to_uppercase()), None);
        assert_eq!(ref_digest(&c, &format!("refs/ci-attest/{c}/x/{d}")), None);
        let other = CommitId::parse(&"cd".repeat(20)).expect("valid id");
        assert_eq!(ref_digest(&other, &name), None);
    }

    #[test]
    fn only_the_store_names_parse_as_bundle_refs_and_names_are_shown_safely() {
        let c = "ab".repeat(20);
        let d = "0f".repeat(32);
        let name = format!("refs/ci-attest/{c}/{d}");
        let (commit, digest) = parse_bundle_ref(&name).expect("a store name");
        assert_eq!((commit.as_str(), digest), (c.as_str(), d.as_str()));
        for bad in [
            format!("refs/heads/refs/ci-attest/{c}/{d}"),
            format!("refs/ci-attest/{}/{d}", c.to_uppercase()),
            format!("refs/ci-attest/{c}/{d}/x"),
            format!("refs/ci-attest/{c}"),
            "refs/ci-attest/junk".to_string(),
            format!("refs/ci-attest/{}/{d}", &c[..39]),
        ] {
            assert_eq!(parse_bundle_ref(&bad), None, "{bad}");
        }
        assert_eq!(shown_name("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\n");
        let long = "x".repeat(1000);
        assert_eq!(shown_name(&long).chars().count(), 305);
    }

    fn listing(input: &[u8], asked: &[CommitId], max_lines: usize) -> (RemoteListing, bool) {
        let asked: HashSet<&CommitId> = asked.iter().collect();
        let whole = asked.len() > 1;
        read_listing(&mut &input[..], &asked, whole, "origin", max_lines).expect("reads")
    }

    #[test]
    fn a_hostile_listing_keeps_only_the_asked_commits_well_named_refs() {
        let [c1, c2, c3] = ["1", "2", "3"].map(|d| CommitId::parse(&d.repeat(40)).expect("id"));
        let oid = "a".repeat(40);
        let d = |x: &str| x.repeat(64);
        let mut input = String::new();
        for (c, digest) in [(&c1, d("b")), (&c2, d("c")), (&c3, d("d"))] {
            input.push_str(&format!("{oid}\trefs/ci-attest/{c}/{digest}\n"));
        }
        input.push_str(&format!(
            "{oid}\trefs/heads/refs/ci-attest/{c1}/{}\n",
            d("e")
        ));
        input.push_str(&format!("{oid}\trefs/ci-attest/junk\n"));
        input.push_str(&format!("xyz\trefs/ci-attest/{c1}/{}\n", d("f")));
        input.push_str("no tab at all\n");
        input.push_str(&format!("{oid}\trefs/ci-attest/{}\n", "x".repeat(3000)));
        input.push_str(&format!("{oid}\trefs/ci-attest/{c1}/{}\n", d("0")));
        input.push_str(&format!("{oid}\trefs/ci-attest/\u{1b}[2J\n"));
        let (got, complete) = listing(input.as_bytes(), &[c1.clone(), c2.clone()], 100);
        assert!(complete);
        assert_eq!(got.listed, 10);
        let names = |c: &CommitId| -> Vec<String> {
            got.refs[c].refs.iter().map(|(r, _)| r.clone()).collect()
        };
        assert_eq!(
            names(&c1),
            [
                format!("refs/ci-attest/{c1}/{}", d("0")),
                format!("refs/ci-attest/{c1}/{}", d("b"))
            ]
        );
        assert_eq!(names(&c2), [format!("refs/ci-attest/{c2}/{}", d("c"))]);
        assert!(!got.refs.contains_key(&c3), "not asked: left alone");
        let strays: Vec<String> = got
            .stray
            .iter()
            .map(|r| format!("{}: {}", r.location, r.problem))
            .collect();
        assert_eq!(strays.len(), 6, "{strays:#?}");
        assert!(
            strays[0].contains("expected a ref under refs/ci-attest/"),
            "{strays:#?}"
        );
        assert!(
            strays[1].contains("expected refs/ci-attest/<commit id>/<sha256 hex"),
            "{strays:#?}"
        );
        assert!(
            strays[2].contains("expected a full hex object id, found \"xyz\""),
            "{strays:#?}"
        );
        assert!(strays[3].contains("from git ls-remote"), "{strays:#?}");
        assert!(
            strays[4].contains("expected a listing line of at most 1024 bytes"),
            "{strays:#?}"
        );
        assert!(
            strays.iter().all(|s| !s.chars().any(char::is_control)),
            "{strays:#?}"
        );
    }

    #[test]
    fn a_listing_stops_at_its_limits_and_says_so() {
        let [c1, c2] = ["1", "2"].map(|d| CommitId::parse(&d.repeat(40)).expect("id"));
        let oid = "a".repeat(40);
        let input: String = (0..10)
            .map(|i| format!("{oid}\trefs/ci-attest/{c1}/{i:064x}\n"))
            .collect();
        let (got, complete) = listing(input.as_bytes(), &[c1.clone(), c2.clone()], 4);
        assert!(!complete);
        assert_eq!(got.refs[&c1].refs.len(), 4);
        assert_eq!(got.stray.len(), 1);
        assert!(
            got.stray[0]
                .problem
                .to_string()
                .contains("expected at most 4 refs listed from the remote"),
            "{:?}",
            got.stray
        );

        // One commit asked: past its per-commit limit the listing stops, cut there and said so by
        // the caller (`more`), without a second item for the listing.
        let input: String = (0..MAX_LISTED_ITEMS_PER_COMMIT + 5)
            .map(|i| format!("{oid}\trefs/ci-attest/{c1}/{i:064x}\n"))
            .collect();
        let (got, complete) = listing(input.as_bytes(), std::slice::from_ref(&c1), usize::MAX);
        assert!(!complete);
        assert!(got.refs[&c1].more);
        assert_eq!(got.refs[&c1].refs.len(), MAX_LISTED_ITEMS_PER_COMMIT);
        assert!(got.stray.is_empty(), "{:?}", got.stray);
    }

    proptest::proptest! {
        #[test]
        fn any_listing_is_read_without_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..3000)) {
            let c = CommitId::parse(&"ab".repeat(20)).expect("id");
            let (got, _) = listing(&bytes, &[c.clone(), CommitId::parse(&"cd".repeat(20)).expect("id")], 50);
            proptest::prop_assert!(got.listed <= 50);
            proptest::prop_assert!(got.refs.values().all(|l| l.refs.iter().all(|(r, _)| parse_bundle_ref(r).is_some())));
        }

        #[test]
        fn parsing_and_redacting_never_panic(text in "\\PC*", bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let redacted = redact_credentials(&text);
            proptest::prop_assert_eq!(redact_credentials(&redacted), redacted.clone());
            let _ = parse_push_porcelain(&bytes);
            let _ = parse_push_porcelain(text.as_bytes());
            let _ = one_oid(&[], text.as_bytes());
            let _ = stderr_text(&bytes);
            let _ = parse_bundle_ref(&text);
            let shown = shown_name(&text);
            proptest::prop_assert!(!shown.chars().any(char::is_control), "{}", shown);
        }

        #[test]
        fn any_user_info_is_redacted(user in "[a-z]{1,8}", secret in "[A-Za-z0-9_.~-]{1,20}", host in "[a-z]{1,8}") {
            let url = format!("https://{user}:{secret}@{host}.example/r.git");
            let redacted = redact_credentials(&format!("fatal: '{url}' failed"));
            proptest::prop_assert!(!redacted.contains(&format!(":{secret}@")), "{}", redacted);
            proptest::prop_assert!(redacted.contains(&format!("@{host}.example/r.git")), "{}", redacted);
        }
    }

    #[test]
    fn push_porcelain_lines_are_parsed() {
        let out = b"To /srv/r.git\n*\trefs/a:refs/a\t[new reference]\n=\trefs/b:refs/b\t[up to date]\n!\trefs/c:refs/c\t[remote rejected] (failed to update ref)\nDone\n";
        let lines = parse_push_porcelain(out);
        assert_eq!(lines.len(), 3);
        assert_eq!((lines[0].flag, lines[0].dst.as_str()), ('*', "refs/a"));
        assert_eq!(lines[2].flag, '!');
        assert!(lines[2].summary.starts_with("[remote rejected]"));
    }
}
