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
//! - **Any forge, any clone.** Only ordinary refs, commits, trees and blobs are used; a verifier or
//!   auditor runs `git fetch <remote> 'refs/ci-attest/*:refs/ci-attest/*'` (or just one commit's
//!   `refs/ci-attest/<commit>/*`), which is what [`GitStore::fetch_remote`] does.
//!
//! Hostile refs: whoever can push to the remote can create any ref under `refs/ci-attest/`. So
//! [`Store::fetch`] checks each ref's object type and blob size with `git cat-file --batch-check`
//! before reading anything, never reads a blob over [`MAX_BUNDLE_BYTES`], reads at most
//! [`MAX_ITEMS_PER_COMMIT`] refs and [`MAX_BYTES_PER_COMMIT`](super::MAX_BYTES_PER_COMMIT) bytes per commit (streamed, blob by
//! blob), and reports every ref it does not take as a [`RejectedItem`] instead of failing.
//! [`GitStore::fetch_remote_commit`] fetches ref by ref when a fetch fails, and reports a ref the
//! remote rewrote, or one that cannot be fetched, the same way.
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
    RejectedItem, Store, StoreError, StoredBundle,
};
use crate::bundle::MAX_BUNDLE_BYTES;
use crate::git::CommitId;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
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

/// Bytes of `git ls-remote` output read per listed ref (a line is at most 64 + 1 + 15 + 64 + 1 +
/// 64 + 1 = 210 bytes), so the listing of [`MAX_LISTED_ITEMS_PER_COMMIT`] refs is bounded.
const LS_REMOTE_BYTES_PER_REF: usize = 256;

/// Bundles in git refs of a repository, pushed to and fetched from one remote.
#[derive(Debug, Clone)]
pub struct GitStore {
    repo_root: PathBuf,
    remote: String,
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
        }
    }

    /// The repository's folder.
    pub fn repo_root(&self) -> &Path {
        &self.repo_root
    }

    /// The remote, with any credentials in it redacted.
    pub fn remote(&self) -> String {
        redact_credentials(&self.remote)
    }

    /// Pushes every bundle ref of `commit` to the remote, never forcing.
    ///
    /// Refs the remote already has with the same object are up to date. Refs the remote rejects
    /// because another push of the same ref was in flight are sent again, up to [`PUSH_ATTEMPTS`]
    /// runs in all. A ref the remote holds with a different object is an error. The user's
    /// `pre-push` hook runs as for any push.
    pub fn push(&self, commit: &CommitId) -> Result<Published, StoreError> {
        check_commit(commit)?;
        self.check_remote()?;
        let mut pending: Vec<String> = self
            .list_refs(commit, None)?
            .into_iter()
            .map(|(refname, _, _)| refname)
            .collect();
        let mut summary = Published::default();
        while !pending.is_empty() {
            summary.attempts += 1;
            let mut args = vec![
                "push".to_string(),
                "--porcelain".into(),
                "--no-follow-tags".into(),
                "--end-of-options".into(),
                self.remote.clone(),
            ];
            args.extend(pending.iter().map(|r| format!("{r}:{r}")));
            let out = self.git_raw(&args, None, &[])?;
            let lines = parse_push_porcelain(&out.stdout);
            let mut retry = Vec::new();
            let mut failed = Vec::new();
            for refname in &pending {
                match lines.iter().find(|l| &l.dst == refname) {
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
                return Err(git_error(
                    &args,
                    "each ref created on the remote or already there with the same bundle",
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

    /// Fetches every bundle ref from the remote (`refs/ci-attest/*`), never forcing.
    pub fn fetch_remote(&self) -> Result<(), StoreError> {
        self.fetch_refspec(&format!("{REF_PREFIX}*:{REF_PREFIX}*"))
    }

    /// Fetches the bundle refs of one commit from the remote (`refs/ci-attest/<commit>/<sha256>`),
    /// never forcing; returns the remote's refs it did not take, each with its reason.
    ///
    /// The remote's refs are listed first (`git ls-remote`, at most
    /// [`MAX_LISTED_ITEMS_PER_COMMIT`] of them, read with a bound). A ref this clone already has
    /// with the same object is left alone; one it has with another object was rewritten on the
    /// remote and is [`ItemProblem::FetchFailed`] (this clone's ref is kept, and judged by
    /// [`Store::fetch`]); refs past the first [`MAX_ITEMS_PER_COMMIT`] are not fetched. The others
    /// are fetched in one `git fetch`, and ref by ref if that fails, so a ref that cannot be fetched
    /// is [`ItemProblem::FetchFailed`] and does not keep the others out. An `Err` means the remote
    /// could not be listed at all.
    pub fn fetch_remote_commit(&self, commit: &CommitId) -> Result<Vec<RejectedItem>, StoreError> {
        check_commit(commit)?;
        self.check_remote()?;
        let (remote_refs, more) = self.ls_remote(commit)?;
        let names: Vec<String> = remote_refs.iter().map(|(r, _)| r.clone()).collect();
        let local = self.local_targets(&names)?;
        let remote = self.remote();
        let on_remote = |refname: &str| format!("{refname} on {remote}");
        let mut rejected = Vec::new();
        let mut wanted = Vec::new();
        for (i, (refname, oid)) in remote_refs.iter().enumerate() {
            let problem = match local.get(refname) {
                Some(have) if have == oid => continue,
                Some(have) => ItemProblem::FetchFailed {
                    message: format!(
                        "the remote's ref points at {oid} and this clone's at {have}: bundle refs are never rewritten, so this clone's was kept"
                    ),
                },
                None if i >= MAX_ITEMS_PER_COMMIT => ItemProblem::OverLimit {
                    limit: format!("at most {MAX_ITEMS_PER_COMMIT} bundle refs fetched per commit"),
                    found: format!("ref {} of the commit on the remote", i + 1),
                },
                None => {
                    wanted.push(refname.clone());
                    continue;
                }
            };
            rejected.push(RejectedItem {
                location: on_remote(refname),
                problem,
            });
        }
        if !wanted.is_empty() && self.fetch_refs(&wanted).is_err() {
            for refname in &wanted {
                if let Err(e) = self.fetch_refs(std::slice::from_ref(refname)) {
                    let message = match e {
                        StoreError::Git { found, .. } => found,
                        other => other.to_string(),
                    };
                    rejected.push(RejectedItem {
                        location: on_remote(refname),
                        problem: ItemProblem::FetchFailed { message },
                    });
                }
            }
        }
        if more {
            rejected.push(super::listing_stopped(
                on_remote(&commit_ref_prefix(commit)),
                format!("more bundle refs of {commit} on the remote, not listed"),
            ));
        }
        Ok(rejected)
    }

    /// The remote's bundle refs of `commit`, sorted, at most [`MAX_LISTED_ITEMS_PER_COMMIT`], and
    /// whether there were more.
    fn ls_remote(&self, commit: &CommitId) -> Result<(Vec<(String, String)>, bool), StoreError> {
        let args = [
            "ls-remote".to_string(),
            "--refs".into(),
            "--end-of-options".into(),
            self.remote.clone(),
            digest_pattern(commit),
        ];
        let cap = (MAX_LISTED_ITEMS_PER_COMMIT + 1) * LS_REMOTE_BYTES_PER_REF;
        let (stdout, complete) = self.git_streamed(&args, None, |out| {
            let mut bytes = Vec::new();
            out.take(cap as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| read_error(&args, e))?;
            let complete = bytes.len() <= cap;
            Ok((bytes, complete))
        })?;
        let text = String::from_utf8_lossy(&stdout);
        let mut lines: Vec<&str> = text.split('\n').collect();
        if !complete {
            lines.pop(); // cut off mid-line
        }
        let mut refs: Vec<(String, String)> = lines
            .into_iter()
            .filter_map(|line| {
                let (oid, refname) = line.split_once('\t')?;
                let oid_ok = (oid.len() == 40 || oid.len() == 64)
                    && oid
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                (oid_ok && ref_digest(commit, refname).is_some())
                    .then(|| (refname.to_string(), oid.to_string()))
            })
            .collect();
        refs.sort();
        refs.dedup_by(|a, b| a.0 == b.0);
        let more = !complete || refs.len() > MAX_LISTED_ITEMS_PER_COMMIT;
        refs.truncate(MAX_LISTED_ITEMS_PER_COMMIT);
        Ok((refs, more))
    }

    /// The object ids this clone's refs of these exact names point at.
    fn local_targets(&self, refnames: &[String]) -> Result<HashMap<String, String>, StoreError> {
        if refnames.is_empty() {
            return Ok(HashMap::new());
        }
        let mut args = vec![
            "for-each-ref".to_string(),
            "--format=%(refname) %(objectname)".into(),
            "--end-of-options".into(),
        ];
        args.extend(refnames.iter().cloned());
        let out = self.git_ok(&args, None, &[])?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|line| {
                let (name, oid) = line.split_once(' ')?;
                Some((name.to_string(), oid.to_string()))
            })
            .collect())
    }

    /// Fetches these refs of the remote under the same names, never forcing.
    fn fetch_refs(&self, refnames: &[String]) -> Result<(), StoreError> {
        let mut args = vec![
            "fetch".to_string(),
            "--quiet".into(),
            "--no-tags".into(),
            "--end-of-options".into(),
            self.remote.clone(),
        ];
        args.extend(refnames.iter().map(|r| format!("{r}:{r}")));
        self.git_ok(&args, None, &[])?;
        Ok(())
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

    /// Fetches the commits' bundle refs from the remote (see [`GitStore::fetch_remote_commit`]).
    fn pull(&self, commits: &[CommitId]) -> Result<Vec<RejectedItem>, StoreError> {
        let mut rejected = Vec::new();
        for commit in commits {
            rejected.extend(self.fetch_remote_commit(commit)?);
        }
        Ok(rejected)
    }

    /// Pushes the commits' bundle refs to the remote (see [`GitStore::push`]).
    fn publish(&self, commits: &[CommitId]) -> Result<Published, StoreError> {
        let mut all = Published::default();
        for commit in commits {
            let one = self.push(commit)?;
            all.created.extend(one.created);
            all.up_to_date.extend(one.up_to_date);
            all.attempts += one.attempts;
        }
        Ok(all)
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

    proptest::proptest! {
        #[test]
        fn parsing_and_redacting_never_panic(text in "\\PC*", bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let redacted = redact_credentials(&text);
            proptest::prop_assert_eq!(redact_credentials(&redacted), redacted.clone());
            let _ = parse_push_porcelain(&bytes);
            let _ = parse_push_porcelain(text.as_bytes());
            let _ = one_oid(&[], text.as_bytes());
            let _ = stderr_text(&bytes);
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
