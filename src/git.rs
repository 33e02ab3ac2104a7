//! Git: commit ids, the digest of a commit object, pristine worktrees and the repository's identity.
//!
//! ci-attest shells out to the `git` the user already has (no libgit2, no gix): the commands used
//! are plumbing whose output is stable.

use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Largest commit object accepted (commit objects are normally under a few KiB).
pub const MAX_COMMIT_OBJECT_BYTES: usize = 16 * 1024 * 1024;

/// A full commit id: 40 lowercase hex digits (sha1) or 64 (sha256 repositories).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitId(String);

impl CommitId {
    /// Checks the text is a full lowercase hex object id.
    pub fn parse(text: &str) -> Option<CommitId> {
        let ok = (text.len() == 40 || text.len() == 64)
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| CommitId(text.to_string()))
    }

    /// The hex id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a git operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitError {
    /// `git` could not be started.
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    /// A git command exited non-zero.
    #[error(
        "`git {args}` failed: {}",
        if stderr.is_empty() { "git printed no message" } else { stderr.as_str() }
    )]
    Failed {
        /// The arguments.
        args: String,
        /// What git printed on stderr.
        stderr: String,
    },
    /// Git printed something unexpected.
    #[error("`git {args}`: expected {expected}, found {found:?}")]
    Unexpected {
        /// The arguments.
        args: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// Creating or removing a temporary folder failed.
    #[error("temporary worktree: {0}")]
    Io(#[source] std::io::Error),
}

/// A git repository (its top-level working folder).
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
    /// The git folders and this working tree's own git folder, when the process that found the
    /// repository read them too ([`Repo::discover_resolving`]): [`Repo::run_facts`] then needs no
    /// git process of its own for them.
    known: Option<(GitDirs, PathBuf)>,
}

/// The facts about one commit that go into a statement's subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit id.
    pub id: CommitId,
    /// sha256 of `commit <len>\0` + the raw commit object.
    pub sha256: String,
    /// The commit's tree id.
    pub tree: String,
}

impl CommitInfo {
    /// The subject facts of a raw commit object (what `git cat-file commit` prints) filed under
    /// `id`, without a repository. The caller checks that the object hashes to `id`.
    pub fn from_object(id: &CommitId, object: &[u8]) -> Result<CommitInfo, GitError> {
        info_of(id, object)
    }
}

impl Repo {
    /// Finds the repository containing `path`.
    pub fn discover(path: &Path) -> Result<Repo, GitError> {
        let out = run_git(path, &["rev-parse", "--show-toplevel"])?;
        let root = String::from_utf8_lossy(&out).trim().to_string();
        Ok(Repo {
            root: PathBuf::from(root),
            known: None,
        })
    }

    /// [`Repo::discover`] and [`Repo::resolve`] of `rev` in one git process, as `run` starts; the
    /// same process also reads the git folders [`Repo::run_facts`] needs.
    /// The id is `None` when `rev` does not resolve (then [`Repo::resolve`] says why).
    pub fn discover_resolving(
        path: &Path,
        rev: &str,
    ) -> Result<(Repo, Option<CommitId>), GitError> {
        if !rev.starts_with('-') {
            let spec = format!("{rev}^{{commit}}");
            let args = [
                "rev-parse",
                "--show-toplevel",
                "--path-format=absolute",
                "--git-common-dir",
                "--git-path",
                "objects",
                "--absolute-git-dir",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ];
            if let Ok(out) = run_git(path, &args) {
                let text = String::from_utf8_lossy(&out);
                let lines: Vec<&str> = text.lines().map(str::trim).collect();
                if let [root, common_dir, objects, git_dir, id] = lines[..] {
                    if let Some(id) = CommitId::parse(id) {
                        let dirs = GitDirs {
                            common_dir: PathBuf::from(common_dir),
                            objects: PathBuf::from(objects),
                        };
                        let repo = Repo {
                            root: PathBuf::from(root),
                            known: Some((dirs, PathBuf::from(git_dir))),
                        };
                        return Ok((repo, Some(id)));
                    }
                }
            }
        }
        Ok((Repo::discover(path)?, None))
    }

    /// The git folders, when the process that found the repository read them
    /// ([`Repo::discover_resolving`]).
    pub fn known_dirs(&self) -> Option<&GitDirs> {
        self.known.as_ref().map(|(dirs, _)| dirs)
    }

    /// The repository's top-level folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn git(&self, args: &[&str]) -> Result<Vec<u8>, GitError> {
        run_git(&self.root, args)
    }

    fn git_line(&self, args: &[&str]) -> Result<String, GitError> {
        let out = self.git(args)?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// Resolves a revision (`HEAD`, a branch, a short id) to a full commit id.
    pub fn resolve(&self, rev: &str) -> Result<CommitId, GitError> {
        if rev.starts_with('-') {
            return Err(GitError::Unexpected {
                args: format!("rev-parse {rev}"),
                expected: "a revision".into(),
                found: rev.into(),
            });
        }
        let spec = format!("{rev}^{{commit}}");
        let line = self
            .git_line(&[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ])
            .map_err(|e| match e {
                // `--quiet` says nothing: say what was looked for and what to try.
                GitError::Failed { args, .. } => GitError::Unexpected {
                    args,
                    expected:
                        "a revision that names a commit of this repository (a branch, a tag, \
                               `HEAD~2`, or a commit id; `git log --oneline` lists them)"
                            .into(),
                    found: rev.into(),
                },
                other => other,
            })?;
        CommitId::parse(&line).ok_or_else(|| GitError::Unexpected {
            args: format!("rev-parse {spec}"),
            expected: "a full commit id".into(),
            found: line,
        })
    }

    /// The raw commit object (what `git cat-file commit` prints).
    pub fn commit_object(&self, id: &CommitId) -> Result<Vec<u8>, GitError> {
        let out = self.git(&["cat-file", "commit", id.as_str()])?;
        if out.len() > MAX_COMMIT_OBJECT_BYTES {
            return Err(GitError::Unexpected {
                args: format!("cat-file commit {id}"),
                expected: format!("a commit object under {MAX_COMMIT_OBJECT_BYTES} bytes"),
                found: format!("{} bytes", out.len()),
            });
        }
        Ok(out)
    }

    /// Id, commit-object sha256 and tree of a commit.
    pub fn commit_info(&self, id: &CommitId) -> Result<CommitInfo, GitError> {
        let object = self.commit_object(id)?;
        info_of(id, &object)
    }

    /// [`Repo::commit_info`] of every commit of `ids`, in order, from one `git cat-file --batch`
    /// for all of them: the ids are written by a thread while the objects stream back, each read
    /// only if it is a commit of at most [`MAX_COMMIT_OBJECT_BYTES`]. A missing object, another
    /// object type or a larger object is an error that names the id (and git is stopped there).
    pub fn commit_infos(&self, ids: &[CommitId]) -> Result<Vec<CommitInfo>, GitError> {
        use std::io::{BufRead as _, Read as _};
        const ARGS: &str = "cat-file --batch";
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let bad = |expected: String, found: String| GitError::Unexpected {
            args: ARGS.to_string(),
            expected,
            found,
        };
        let mut child = Command::new("git")
            .args(["cat-file", "--batch"])
            .current_dir(&self.root)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .envs(SEALED_GIT_ENV.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(GitError::Spawn)?;
        let (Some(mut stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(GitError::Io(std::io::Error::other(
                "git cat-file --batch started without its pipes",
            )));
        };
        std::thread::scope(|s| {
            // A write error means git stopped reading (it failed, or the reader stopped it): the
            // reader below reports why.
            s.spawn(move || {
                let mut input = std::io::BufWriter::new(&mut stdin);
                for id in ids {
                    if std::io::Write::write_all(&mut input, format!("{id}\n").as_bytes()).is_err()
                    {
                        return;
                    }
                }
                let _ = std::io::Write::flush(&mut input);
            });
            let errors = s.spawn(move || {
                let mut text = Vec::new();
                let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut text);
                text
            });
            let mut out = std::io::BufReader::new(stdout);
            let mut infos = Vec::with_capacity(ids.len());
            let mut header = Vec::new();
            let mut object = Vec::new();
            let result = (|| {
                for id in ids {
                    header.clear();
                    (&mut out)
                        .take(1024)
                        .read_until(b'\n', &mut header)
                        .map_err(GitError::Io)?;
                    if header.pop() != Some(b'\n') {
                        return Err(bad(
                            format!("a header line for commit {id}"),
                            String::from_utf8_lossy(&header).into_owned(),
                        ));
                    }
                    let text = String::from_utf8_lossy(&header);
                    let fields: Vec<&str> = text.split(' ').collect();
                    let [oid, kind, size] = fields[..] else {
                        let found = match fields[..] {
                            [_, "missing"] => "no such object in the repository".to_string(),
                            _ => text.into_owned(),
                        };
                        return Err(bad(format!("commit {id}"), found));
                    };
                    if oid != id.as_str() || kind != "commit" {
                        return Err(bad(format!("commit {id}"), format!("{kind} {oid}")));
                    }
                    let size: usize = size
                        .parse()
                        .map_err(|_| bad("an object size".into(), text.to_string()))?;
                    if size > MAX_COMMIT_OBJECT_BYTES {
                        return Err(bad(
                            format!("a commit object under {MAX_COMMIT_OBJECT_BYTES} bytes"),
                            format!("{size} bytes for commit {id}"),
                        ));
                    }
                    object.clear();
                    (&mut out)
                        .take(size as u64 + 1)
                        .read_to_end(&mut object)
                        .map_err(GitError::Io)?;
                    if object.len() != size + 1 || object.pop() != Some(b'\n') {
                        return Err(bad(
                            format!("{size} bytes of commit {id} and a newline"),
                            format!("{} bytes", object.len()),
                        ));
                    }
                    infos.push(info_of(id, &object)?);
                }
                Ok(())
            })();
            if result.is_err() {
                // Stops git (and so the writer) at once instead of reading the rest.
                let _ = child.kill();
            }
            drop(out);
            let status = child.wait().map_err(GitError::Io);
            let stderr = errors.join().unwrap_or_default();
            result?;
            let status = status?;
            if !status.success() {
                return Err(GitError::Failed {
                    args: ARGS.to_string(),
                    stderr: String::from_utf8_lossy(&stderr).trim().to_string(),
                });
            }
            Ok(infos)
        })
    }

    /// What `run` needs before it checks a commit out, read by five git processes that run at the
    /// same time (instead of nine one after another): the commit object and HEAD's commit (one
    /// `cat-file --batch`), the git folders and HEAD's branch (one `rev-parse`), the uncommitted
    /// changes (`status`), the `origin` URL and the worktrees.
    pub fn run_facts(
        &self,
        id: &CommitId,
        ignore: &[&Path],
        want: Worktrees,
    ) -> Result<RunFacts, GitError> {
        std::thread::scope(|s| {
            let objects = s.spawn(|| self.commit_and_head(id));
            let status = s.spawn(|| self.uncommitted_changes(ignore));
            let origin = s.spawn(|| self.origin_url());
            let worktrees = (want == Worktrees::Listed).then(|| s.spawn(|| self.worktree_paths()));
            let dirs = match &self.known {
                Some((dirs, git_dir)) => match head_ref_of(git_dir) {
                    Some(head_ref) => Ok((dirs.clone(), head_ref)),
                    None => self.dirs_and_head_ref(),
                },
                None => self.dirs_and_head_ref(),
            };
            let join = |what: &str| GitError::Unexpected {
                args: what.to_string(),
                expected: "the git reader to finish".into(),
                found: "it panicked".into(),
            };
            let (commit, head) = objects.join().map_err(|_| join("cat-file --batch"))??;
            let uncommitted = status.join().map_err(|_| join("status"))??;
            let origin_url = origin.join().map_err(|_| join("remote get-url"))?;
            let worktrees = match worktrees {
                Some(w) => w.join().map_err(|_| join("worktree list"))??,
                None => Vec::new(),
            };
            let (dirs, head_ref) = dirs?;
            Ok(RunFacts {
                commit,
                head,
                head_ref,
                uncommitted,
                origin_url,
                worktrees,
                dirs,
            })
        })
    }

    /// The commit's object and HEAD's commit id (None when HEAD names no commit), from one
    /// `git cat-file --batch`.
    fn commit_and_head(&self, id: &CommitId) -> Result<(CommitInfo, Option<CommitId>), GitError> {
        let args = ["cat-file", "--batch"];
        let input = format!("{id}\nHEAD^{{commit}}\n");
        let out = run_git_input(&self.root, &args, input.as_bytes())?;
        let bad = |expected: &str, found: &[u8]| GitError::Unexpected {
            args: args.join(" "),
            expected: expected.to_string(),
            found: String::from_utf8_lossy(&found[..found.len().min(80)]).into_owned(),
        };
        // `<oid> <type> <size>\n<size bytes>\n` per object, or `<name> missing\n`.
        let mut rest = &out[..];
        let mut entry = || -> Result<Option<(String, String, Vec<u8>)>, GitError> {
            let nl = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| bad("a header line", rest))?;
            let header = std::str::from_utf8(&rest[..nl]).map_err(|_| bad("a header", rest))?;
            let fields: Vec<&str> = header.split(' ').collect();
            if fields.len() == 2 {
                rest = &rest[nl + 1..];
                return Ok(None);
            }
            let [oid, kind, size] = fields[..] else {
                return Err(bad("`<oid> <type> <size>`", header.as_bytes()));
            };
            let size: usize = size.parse().map_err(|_| bad("a size", header.as_bytes()))?;
            if size > MAX_COMMIT_OBJECT_BYTES {
                return Err(bad(
                    &format!("a commit object under {MAX_COMMIT_OBJECT_BYTES} bytes"),
                    header.as_bytes(),
                ));
            }
            let body = rest
                .get(nl + 1..nl + 1 + size)
                .ok_or_else(|| bad("the object's bytes", header.as_bytes()))?
                .to_vec();
            rest = rest.get(nl + 2 + size..).unwrap_or_default();
            Ok(Some((oid.to_string(), kind.to_string(), body)))
        };
        let commit = match entry()? {
            Some((oid, kind, body)) if kind == "commit" && oid == id.as_str() => {
                info_of(id, &body)?
            }
            Some((oid, kind, _)) => {
                return Err(bad(
                    &format!("commit {id}"),
                    format!("{kind} {oid}").as_bytes(),
                ));
            }
            None => return Err(bad(&format!("commit {id}"), b"missing")),
        };
        let head = entry()?.and_then(|(oid, _, _)| CommitId::parse(&oid));
        Ok((commit, head))
    }

    /// The common git folder and object store (absolute), and the branch HEAD is on.
    fn dirs_and_head_ref(&self) -> Result<(GitDirs, Option<String>), GitError> {
        let dirs = [
            "--path-format=absolute",
            "--git-common-dir",
            "--git-path",
            "objects",
        ];
        let mut args = vec!["rev-parse"];
        args.extend(dirs);
        args.extend(["--symbolic-full-name", "HEAD"]);
        // An unborn HEAD has no full name: ask again for the folders alone.
        let text = match self.git_line(&args) {
            Ok(text) => text,
            Err(_) => self.git_line(&args[..args.len() - 2])?,
        };
        let mut lines = text.lines();
        let (Some(common_dir), Some(objects)) = (lines.next(), lines.next()) else {
            return Err(GitError::Unexpected {
                args: args.join(" "),
                expected: "two paths".into(),
                found: text.clone(),
            });
        };
        let head_ref = lines
            .next()
            .filter(|r| r.starts_with("refs/"))
            .map(str::to_string);
        Ok((
            GitDirs {
                common_dir: PathBuf::from(common_dir),
                objects: PathBuf::from(objects),
            },
            head_ref,
        ))
    }
}

/// Whether [`Repo::run_facts`] lists the repository's worktrees (a sandboxed run hides them from
/// the checks; an unsandboxed one hides nothing and needs no list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worktrees {
    /// `git worktree list`.
    Listed,
    /// Not needed: [`RunFacts::worktrees`] is empty.
    NotNeeded,
}

/// The branch HEAD is on, read from this working tree's `HEAD` file (`ref: refs/heads/main`):
/// `Some(None)` when HEAD is detached (a commit id), `None` when the file says neither, in which
/// case git is asked (e.g. the reftable backend's placeholder `refs/heads/.invalid`, or a HEAD
/// that is a symbolic link).
fn head_ref_of(git_dir: &Path) -> Option<Option<String>> {
    let head = git_dir.join("HEAD");
    if std::fs::symlink_metadata(&head)
        .ok()?
        .file_type()
        .is_symlink()
    {
        return None;
    }
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(std::fs::File::open(&head).ok()?, 4096),
        &mut text,
    )
    .ok()?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    if let Some(name) = line.strip_prefix("ref: ") {
        let valid = name.starts_with("refs/heads/")
            && name != "refs/heads/.invalid"
            && !name.contains(['\n', '\r', ' ', '\0']);
        return valid.then(|| Some(name.to_string()));
    }
    // A detached HEAD: the id of its commit, in full.
    (line.len() >= 40 && line.bytes().all(|b| b.is_ascii_hexdigit())).then_some(None)
}

/// The folders of a repository that a checkout borrows from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitDirs {
    /// The common git folder (absolute).
    pub common_dir: PathBuf,
    /// The object store (absolute).
    pub objects: PathBuf,
}

/// What [`Repo::run_facts`] reads.
#[derive(Debug, Clone)]
pub struct RunFacts {
    /// The commit to check.
    pub commit: CommitInfo,
    /// HEAD's commit, when HEAD names one.
    pub head: Option<CommitId>,
    /// The branch HEAD is on (`refs/heads/main`), when it is on one.
    pub head_ref: Option<String>,
    /// Paths with uncommitted changes.
    pub uncommitted: Vec<String>,
    /// The canonical `origin` URL.
    pub origin_url: Option<String>,
    /// Every worktree of the repository.
    pub worktrees: Vec<PathBuf>,
    /// The git folders.
    pub dirs: GitDirs,
}

/// Id, sha256 and tree of a commit from its raw object.
fn info_of(id: &CommitId, object: &[u8]) -> Result<CommitInfo, GitError> {
    let tree = object
        .strip_prefix(b"tree ")
        .and_then(|rest| rest.split(|&b| b == b'\n').next())
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .ok_or_else(|| GitError::Unexpected {
            args: format!("cat-file commit {id}"),
            expected: "a commit object starting with a tree line".into(),
            found: String::from_utf8_lossy(&object[..object.len().min(40)]).into_owned(),
        })?;
    Ok(CommitInfo {
        id: id.clone(),
        sha256: commit_object_sha256(object),
        tree,
    })
}

impl Repo {
    /// The commits of a revision range (`A..B`, or a single revision for all its ancestors), oldest
    /// first.
    ///
    /// A range of more than `limit` commits is an error that says so (never a silent cut): git is
    /// asked for `limit + 1` commits, newest first, and the range is refused when it gives that
    /// many.
    pub fn rev_list(&self, range: &str, limit: usize) -> Result<Vec<CommitId>, GitError> {
        if range.starts_with('-') {
            return Err(GitError::Unexpected {
                args: format!("rev-list {range}"),
                expected: "a revision range".into(),
                found: range.into(),
            });
        }
        let max = format!("--max-count={}", limit.saturating_add(1));
        let out = self.git(&["rev-list", "--topo-order", &max, "--end-of-options", range])?;
        let mut commits = String::from_utf8_lossy(&out)
            .lines()
            .map(|l| {
                CommitId::parse(l.trim()).ok_or_else(|| GitError::Unexpected {
                    args: format!("rev-list {range}"),
                    expected: "full commit ids".into(),
                    found: l.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if commits.len() > limit {
            return Err(GitError::Unexpected {
                args: format!("rev-list {range}"),
                expected: format!("a range of at most {limit} commits"),
                found: format!("more than {limit} commits: narrow the range (e.g. `A..B`)"),
            });
        }
        // `--reverse` applies after `--max-count`, so the order is reversed here instead.
        commits.reverse();
        Ok(commits)
    }

    /// The full ref name HEAD points to, when HEAD is on a branch.
    pub fn head_ref(&self) -> Option<String> {
        self.git_line(&["symbolic-ref", "-q", "HEAD"])
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// Paths with uncommitted changes (tracked or untracked), ignoring the given folders.
    pub fn uncommitted_changes(&self, ignore: &[&Path]) -> Result<Vec<String>, GitError> {
        let mut args = vec![
            "status".to_string(),
            "--porcelain=v1".into(),
            "-z".into(),
            "--untracked-files=normal".into(),
            "--".into(),
            ".".into(),
        ];
        for dir in ignore {
            args.push(format!(":(exclude){}", dir.display()));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.git(&refs)?;
        Ok(out
            .split(|&b| b == 0)
            .filter(|e| e.len() > 3)
            .map(|e| String::from_utf8_lossy(&e[3..]).into_owned())
            .collect())
    }

    /// The canonical URL of the `origin` remote (credentials removed), if there is one.
    pub fn origin_url(&self) -> Option<String> {
        let url = self.git_line(&["remote", "get-url", "origin"]).ok()?;
        (!url.is_empty()).then(|| canonical_remote_url(&url))
    }

    /// Every working tree of the repository (the main one and linked worktrees).
    pub fn worktree_paths(&self) -> Result<Vec<PathBuf>, GitError> {
        let out = self.git(&["worktree", "list", "--porcelain", "-z"])?;
        Ok(out
            .split(|&b| b == 0)
            .filter_map(|e| e.strip_prefix(b"worktree "))
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect())
    }

    /// Checks the commit out, exactly as committed, into `dir/checkout` with a private git folder.
    ///
    /// The checkout is not a `git worktree` of this repository: its `.git` is a folder of its own
    /// with `HEAD` = the commit, no refs, no hooks and no config but the object format, and it reads
    /// objects through `objects/info/alternates` (first the real object store; the sandbox points it
    /// at a read-only mount). No user, system or repository config applies to the checkout, so
    /// filters, hooks and `core.*` settings of the signer cannot change what is tested; replace refs
    /// and grafts are ignored as in every git call. `git` runs with an empty environment but for
    /// `path_env` (the caller's `PATH`, to find git's helpers) and the variables that seal it.
    pub fn pristine_checkout(
        &self,
        id: &CommitId,
        dir: &Path,
        path_env: Option<&std::ffi::OsStr>,
    ) -> Result<Checkout, GitError> {
        let (dirs, _) = self.dirs_and_head_ref()?;
        self.pristine_checkout_with(&dirs, id, dir, path_env)
    }

    /// [`Repo::pristine_checkout`] with the git folders already known ([`Repo::run_facts`]).
    pub fn pristine_checkout_with(
        &self,
        dirs: &GitDirs,
        id: &CommitId,
        dir: &Path,
        path_env: Option<&std::ffi::OsStr>,
    ) -> Result<Checkout, GitError> {
        let (common_dir, objects) = (dirs.common_dir.clone(), dirs.objects.clone());
        let path = dir.join("checkout");
        let gitdir = path.join(".git");
        let io = GitError::Io;
        for sub in ["objects/info", "refs/heads", "refs/tags"] {
            std::fs::create_dir_all(gitdir.join(sub)).map_err(io)?;
        }
        let config = if id.as_str().len() == 64 {
            "[core]\n\trepositoryformatversion = 1\n\tbare = false\n[extensions]\n\tobjectformat = sha256\n"
        } else {
            "[core]\n\trepositoryformatversion = 0\n\tbare = false\n"
        };
        std::fs::write(gitdir.join("config"), config).map_err(io)?;
        std::fs::write(gitdir.join("HEAD"), format!("{id}\n")).map_err(io)?;
        let checkout = Checkout {
            path,
            common_dir,
            objects,
            alternates: gitdir.join("objects/info/alternates"),
            path_env: path_env.map(|p| p.to_os_string()),
        };
        checkout.point_objects_at(&checkout.objects.clone())?;
        checkout.git(&["read-tree", "--reset", "-u", id.as_str()])?;
        Ok(checkout)
    }
}

/// A checkout of one commit with a private git folder (see [`Repo::pristine_checkout`]).
#[derive(Debug)]
pub struct Checkout {
    path: PathBuf,
    common_dir: PathBuf,
    objects: PathBuf,
    alternates: PathBuf,
    path_env: Option<std::ffi::OsString>,
}

/// One file of a checkout as its index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedFile {
    /// Path relative to the checkout, as git stores it (any bytes but NUL).
    pub path: Vec<u8>,
    /// The blob's object id (hex).
    pub oid: String,
    /// True for a regular file (not a symbolic link or a submodule).
    pub regular: bool,
}

impl Checkout {
    /// Runs git on the checkout's private git folder, with no configuration of the signer's.
    fn git(&self, args: &[&str]) -> Result<Vec<u8>, GitError> {
        let out = Command::new("git")
            .args(args)
            .current_dir(&self.path)
            .env_clear()
            .envs(self.path_env.as_ref().map(|p| ("PATH", p)))
            .env("GIT_DIR", self.path.join(".git"))
            .env("GIT_WORK_TREE", &self.path)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_ATTR_NOSYSTEM", "1")
            .envs(SEALED_GIT_ENV.iter().copied())
            .stdin(Stdio::null())
            .output()
            .map_err(GitError::Spawn)?;
        if !out.status.success() {
            return Err(GitError::Failed {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out.stdout)
    }

    /// Every file of the checkout, from its index (one `git ls-files -s -z`).
    pub fn tracked_files(&self) -> Result<Vec<TrackedFile>, GitError> {
        let out = self.git(&["ls-files", "-s", "-z"])?;
        let mut files = Vec::new();
        for entry in out.split(|&b| b == 0).filter(|e| !e.is_empty()) {
            // `<mode> SP <oid> SP <stage> TAB <path>`
            let bad = || GitError::Unexpected {
                args: "ls-files -s -z".into(),
                expected: "`<mode> <oid> <stage>\\t<path>` entries".into(),
                found: String::from_utf8_lossy(&entry[..entry.len().min(200)]).into_owned(),
            };
            let tab = entry.iter().position(|&b| b == b'\t').ok_or_else(bad)?;
            let head = std::str::from_utf8(&entry[..tab]).map_err(|_| bad())?;
            let mut parts = head.split(' ');
            let (Some(mode), Some(oid)) = (parts.next(), parts.next()) else {
                return Err(bad());
            };
            files.push(TrackedFile {
                path: entry[tab + 1..].to_vec(),
                oid: oid.to_string(),
                regular: mode == "100644" || mode == "100755",
            });
        }
        Ok(files)
    }

    /// The checkout's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The repository's common git folder (hidden from checks).
    pub fn common_dir(&self) -> &Path {
        &self.common_dir
    }

    /// The repository's real object store, which the checkout borrows objects from.
    pub fn objects(&self) -> &Path {
        &self.objects
    }

    /// Points the checkout's alternates at `objects` (the sandbox mounts the store elsewhere).
    pub fn point_objects_at(&self, objects: &Path) -> Result<(), GitError> {
        let mut line = objects.as_os_str().to_string_lossy().into_owned();
        line.push('\n');
        std::fs::write(&self.alternates, line).map_err(GitError::Io)
    }
}

/// Set on every git command ci-attest runs: replace refs and grafts never change what a commit id
/// means, so the commit attested is the commit as committed.
///
/// The graft file is a path that cannot exist (`/dev/null` is not a directory): git then reads no
/// grafts at all, whereas an existing file, even `/dev/null`, makes every git call print a
/// "grafts is deprecated" hint on stderr, which then shows in error messages.
pub const SEALED_GIT_ENV: &[(&str, &str)] = &[
    ("GIT_NO_REPLACE_OBJECTS", "1"),
    ("GIT_GRAFT_FILE", NO_GRAFT_FILE),
];

/// See [`SEALED_GIT_ENV`].
pub const NO_GRAFT_FILE: &str = "/dev/null/no-grafts";

/// sha256 over `commit <len>\0` + the raw commit object, lowercase hex.
pub fn commit_object_sha256(object: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(format!("commit {}\0", object.len()).as_bytes());
    h.update(object);
    hex::encode(h.finalize())
}

/// Normalises a remote URL to `https://host/path` without credentials or a trailing `.git`.
///
/// `git@github.com:acme/app.git`, `ssh://git@github.com/acme/app` and
/// `https://user:token@github.com/acme/app.git` all become `https://github.com/acme/app`. Local paths
/// are returned unchanged.
pub fn canonical_remote_url(url: &str) -> String {
    let url = url.trim();
    let (host, path) = if let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .or_else(|| url.strip_prefix("ssh://"))
        .or_else(|| url.strip_prefix("git://"))
    {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit('@').next().unwrap_or(authority);
        // ssh://git@host:22/path: drop the port of ssh URLs.
        let host = if url.starts_with("ssh://") {
            host.split(':').next().unwrap_or(host)
        } else {
            host
        };
        (host.to_string(), path.to_string())
    } else if let Some((user_host, path)) = url.split_once(':').filter(|(h, _)| {
        !h.contains('/') && h.len() > 1 // scp-like syntax, not a Windows drive letter
    }) {
        let host = user_host.rsplit('@').next().unwrap_or(user_host);
        (host.to_string(), path.to_string())
    } else {
        return url.to_string();
    };
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    format!("https://{}/{}", host.to_ascii_lowercase(), path)
}

/// `path` as literal text for a `.gitignore` pattern: glob characters (`*`, `?`, `[`), backslashes
/// and trailing spaces are escaped, so that a folder named `a*b` matches only itself.
pub fn gitignore_literal(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    let kept = out.trim_end_matches(' ').len();
    let trailing = out.len() - kept;
    out.truncate(kept);
    out.push_str(&"\\ ".repeat(trailing));
    out
}

/// Makes sure git ignores `file` (e.g. a private key) in the repository that holds it, by adding
/// `pattern` (relative to the repository root, e.g. `/keys/*.key`) to the root `.gitignore`
/// unless `file` is already ignored. Returns the line added, or `None` when nothing was needed or
/// `file` is not inside a git repository. `file` and its folder need not exist yet. The
/// `.gitignore` is rewritten atomically (temporary file and rename), keeping every line it had.
///
/// `pattern_for` gets `file`'s path relative to the repository root and gives the line to add.
pub fn ensure_ignored(
    file: &Path,
    pattern_for: impl FnOnce(&Path) -> String,
) -> Result<Option<String>, GitError> {
    ensure_ignore_state(file, true, pattern_for)
}

/// The opposite of [`ensure_ignored`]: makes sure git does *not* ignore `file` (a file meant to
/// be committed inside an ignored folder), by adding the exception `pattern` (e.g.
/// `!/.ci-attest/nextest.toml`) when git ignores it. Returns the line added, if any.
pub fn ensure_not_ignored(
    file: &Path,
    pattern_for: impl FnOnce(&Path) -> String,
) -> Result<Option<String>, GitError> {
    ensure_ignore_state(file, false, pattern_for)
}

fn ensure_ignore_state(
    file: &Path,
    want_ignored: bool,
    pattern_for: impl FnOnce(&Path) -> String,
) -> Result<Option<String>, GitError> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // The nearest folder that exists (the file's own folder may not be made yet).
    let mut existing = dir;
    let mut missing: Vec<&std::ffi::OsStr> = Vec::new();
    while !existing.is_dir() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                existing = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
            }
            _ => return Ok(None),
        }
    }
    let Ok(repo) = Repo::discover(existing) else {
        return Ok(None);
    };
    let mut absolute = std::fs::canonicalize(existing).map_err(GitError::Io)?;
    absolute.extend(missing.iter().rev());
    absolute.push(file.file_name().unwrap_or_default());
    let root = std::fs::canonicalize(repo.root()).map_err(GitError::Io)?;
    let Ok(relative) = absolute.strip_prefix(&root) else {
        return Ok(None);
    };
    let relative_text = relative.to_string_lossy().to_string();
    // `check-ignore` exits 0 when ignored, 1 when not; anything else is an error.
    let ignored = Command::new("git")
        .args(["check-ignore", "--quiet", "--no-index", "--"])
        .arg(&relative_text)
        .current_dir(&root)
        .env("LC_ALL", "C")
        .envs(SEALED_GIT_ENV.iter().copied())
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
    let is_ignored = match ignored.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => {
            return Err(GitError::Failed {
                args: format!("check-ignore --quiet --no-index -- {relative_text}"),
                stderr: String::from_utf8_lossy(&ignored.stderr).trim().to_string(),
            });
        }
    };
    if is_ignored == want_ignored {
        return Ok(None);
    }
    let line = pattern_for(relative);
    let path = root.join(".gitignore");
    let mut text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(GitError::Io(e)),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&line);
    text.push('\n');
    let mut tmp = tempfile::NamedTempFile::new_in(&root).map_err(GitError::Io)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(GitError::Io)?;
    tmp.persist(&path).map_err(|e| GitError::Io(e.error))?;
    Ok(Some(line))
}

/// Runs git with `input` on its standard input (small: written whole before the output is read).
fn run_git_input(dir: &Path, args: &[&str], input: &[u8]) -> Result<Vec<u8>, GitError> {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .envs(SEALED_GIT_ENV.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(GitError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        std::io::Write::write_all(&mut stdin, input).map_err(GitError::Io)?;
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().map_err(GitError::Io)?;
    if !status.success() {
        return Err(GitError::Failed {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&stderr).trim().to_string(),
        });
    }
    Ok(stdout)
}

fn run_git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .envs(SEALED_GIT_ENV.iter().copied())
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
    if !status.success() {
        return Err(GitError::Failed {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&stderr).trim().to_string(),
        });
    }
    Ok(stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_in(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    #[test]
    fn one_process_finds_the_repository_and_resolves_the_revision() {
        let dir = tempfile::tempdir().expect("tempdir");
        git_in(dir.path(), &["init", "-q"]);
        git_in(dir.path(), &["commit", "-q", "--allow-empty", "-m", "one"]);
        let head = git_in(dir.path(), &["rev-parse", "HEAD"]);
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        let (repo, id) = Repo::discover_resolving(&sub, "HEAD").expect("a repository");
        assert_eq!(id.map(|i| i.to_string()), Some(head));
        assert_eq!(
            repo.root().canonicalize().expect("root"),
            dir.path().canonicalize().expect("dir")
        );
        // A revision that does not resolve leaves the reason to `resolve`; not a repository is an
        // error, as `discover` says.
        let (repo, id) = Repo::discover_resolving(&sub, "no-such-branch").expect("a repository");
        assert_eq!(id, None);
        assert!(repo.resolve("no-such-branch").is_err());
        let (_, id) = Repo::discover_resolving(&sub, "--output=x").expect("a repository");
        assert_eq!(id, None, "an option is never passed as a revision");
        let outside = tempfile::tempdir().expect("tempdir");
        assert!(Repo::discover_resolving(outside.path(), "HEAD").is_err());
    }

    /// A graft file cuts history for plain git (here: `two` made parentless), but not for
    /// ci-attest: an audit range still holds every commit, and git prints nothing about grafts.
    #[test]
    fn a_graft_file_does_not_hide_commits_from_a_range() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        git_in(root, &["init", "-q"]);
        git_in(root, &["commit", "-q", "--allow-empty", "-m", "one"]);
        git_in(root, &["commit", "-q", "--allow-empty", "-m", "two"]);
        let two = git_in(root, &["rev-parse", "HEAD"]);
        std::fs::write(root.join(".git/info/grafts"), format!("{two}\n")).expect("graft");
        assert_eq!(
            git_in(root, &["rev-list", "--count", "HEAD"]),
            "1",
            "git obeys it"
        );
        let repo = Repo::discover(root).expect("repo");
        assert_eq!(repo.rev_list("HEAD", 10).expect("range").len(), 2);
        let out = Command::new("git")
            .envs(SEALED_GIT_ENV.iter().copied())
            .args(["rev-list", "HEAD"])
            .current_dir(root)
            .output()
            .expect("git runs");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "no graft hint");
    }

    #[test]
    fn run_facts_read_in_one_go_what_the_single_calls_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        git_in(root, &["init", "-q"]);
        std::fs::write(root.join("a"), "1").expect("write");
        git_in(root, &["add", "a"]);
        git_in(root, &["commit", "-qm", "one"]);
        std::fs::write(root.join("a"), "2").expect("write");
        git_in(root, &["commit", "-qam", "two"]);
        std::fs::write(root.join("b"), "untracked").expect("write");
        let repo = Repo::discover(root).expect("repo");
        let head = repo.resolve("HEAD").expect("head");
        let first = repo.resolve("HEAD~1").expect("first");

        let facts = repo
            .run_facts(&first, &[], Worktrees::Listed)
            .expect("facts");
        assert_eq!(facts.commit, repo.commit_info(&first).expect("info"));
        assert_eq!(facts.head, Some(head.clone()));
        assert_eq!(facts.head_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(
            facts.uncommitted,
            repo.uncommitted_changes(&[]).expect("status")
        );
        assert_eq!(facts.uncommitted, ["b"]);
        assert_eq!(facts.worktrees, repo.worktree_paths().expect("worktrees"));
        assert_eq!(facts.origin_url, None);
        assert!(
            facts.dirs.objects.ends_with(".git/objects"),
            "{:?}",
            facts.dirs
        );

        // Detached: no branch; the object id of a tree is refused as a commit.
        git_in(root, &["checkout", "-q", "--detach"]);
        let facts = repo
            .run_facts(&head, &[], Worktrees::Listed)
            .expect("facts");
        assert_eq!(facts.head_ref, None);
        let tree = CommitId::parse(&facts.commit.tree).expect("tree id");
        let err = repo
            .run_facts(&tree, &[], Worktrees::Listed)
            .expect_err("a tree is no commit");
        assert!(err.to_string().contains("commit"), "{err}");
        let absent = CommitId::parse(&"0".repeat(40)).expect("id");
        let err = repo
            .run_facts(&absent, &[], Worktrees::Listed)
            .expect_err("absent");
        assert!(err.to_string().contains("missing"), "{err}");
    }

    /// The folders and branch `discover_resolving` reads with the revision (and HEAD read from
    /// the git folder's file) are what git says, on a branch, detached, in a linked worktree,
    /// and with a reftable HEAD placeholder, which is left to git.
    #[test]
    fn facts_known_from_the_first_process_are_what_git_says() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("main");
        std::fs::create_dir(&root).expect("mkdir");
        git_in(&root, &["init", "-q"]);
        git_in(&root, &["commit", "-q", "--allow-empty", "-m", "one"]);
        let linked = dir.path().join("linked");
        git_in(
            &root,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "topic",
                linked.to_str().expect("utf-8"),
            ],
        );
        let compare = |at: &Path, branch: Option<&str>| {
            let (known, id) = Repo::discover_resolving(at, "HEAD").expect("repo");
            let id = id.expect("resolves");
            assert!(known.known.is_some(), "read by the first process");
            let asked = Repo::discover(at).expect("repo");
            let a = known
                .run_facts(&id, &[], Worktrees::NotNeeded)
                .expect("facts");
            let b = asked.run_facts(&id, &[], Worktrees::Listed).expect("facts");
            assert_eq!((&a.dirs, &a.head_ref), (&b.dirs, &b.head_ref), "at {at:?}");
            assert_eq!(a.head_ref.as_deref(), branch);
            assert!(a.worktrees.is_empty() && b.worktrees.len() == 2);
        };
        compare(&root, Some("refs/heads/main"));
        compare(&linked, Some("refs/heads/topic"));
        git_in(&linked, &["checkout", "-q", "--detach"]);
        compare(&linked, None);
        assert_eq!(
            head_ref_of(&root.join(".git")),
            Some(Some("refs/heads/main".into()))
        );
        std::fs::write(root.join(".git/HEAD"), "ref: refs/heads/.invalid\n").expect("write");
        assert_eq!(head_ref_of(&root.join(".git")), None, "left to git");
        std::fs::write(root.join(".git/HEAD"), "ref: refs/heads/a b\n").expect("write");
        assert_eq!(head_ref_of(&root.join(".git")), None, "left to git");
    }

    #[test]
    fn one_batch_reads_what_one_process_per_commit_reads_and_names_a_bad_object() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        git_in(root, &["init", "-q"]);
        // Enough commits that the ids cannot all sit in a pipe while git's answers are unread.
        let mut stream = String::new();
        for i in 0..1500 {
            stream.push_str(&format!(
                "commit refs/heads/main\ncommitter t <t@example.invalid> {} +0000\ndata 2\n{}\nM 644 inline f\ndata {}\n{i}\n\n",
                1_700_000_000 + i,
                i % 10,
                i.to_string().len() + 1
            ));
        }
        let mut child = Command::new("git")
            .args(["fast-import", "--quiet"])
            .current_dir(root)
            .stdin(Stdio::piped())
            .spawn()
            .expect("fast-import");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), stream.as_bytes())
            .expect("feed");
        assert!(child.wait().expect("waits").success());
        let repo = Repo::discover(root).expect("repo");
        let ids = repo.rev_list("main", 10_000).expect("range");
        assert_eq!(ids.len(), 1500);
        let batch = repo.commit_infos(&ids).expect("one batch");
        assert_eq!(batch.len(), ids.len());
        for i in [0, 1, 749, 1499] {
            assert_eq!(batch[i], repo.commit_info(&ids[i]).expect("one commit"));
        }
        assert_eq!(repo.commit_infos(&[]).expect("nothing asked"), []);

        let missing = CommitId::parse(&"0".repeat(40)).expect("id");
        let asked = [ids[0].clone(), missing.clone(), ids[1].clone()];
        let err = repo.commit_infos(&asked).expect_err("a missing commit");
        assert_eq!(
            err.to_string(),
            format!(
                "`git cat-file --batch`: expected commit {missing}, found \"no such object in the repository\""
            )
        );
        let tree = CommitId::parse(&batch[5].tree).expect("a tree id");
        let err = repo
            .commit_infos(&[ids[3].clone(), tree.clone()])
            .expect_err("a tree is no commit");
        assert_eq!(
            err.to_string(),
            format!("`git cat-file --batch`: expected commit {tree}, found \"tree {tree}\"")
        );
    }

    #[test]
    fn gitignore_literals_escape_globs_and_trailing_spaces() {
        assert_eq!(gitignore_literal(Path::new("keys")), "keys");
        assert_eq!(gitignore_literal(Path::new("a*b/c?[d]")), "a\\*b/c\\?\\[d]");
        assert_eq!(gitignore_literal(Path::new("k  ")), "k\\ \\ ");
        assert_eq!(gitignore_literal(Path::new("back\\slash")), "back\\\\slash");
    }

    #[test]
    fn ignore_rules_for_files_whose_folders_do_not_exist_yet() {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new("git")
            .args(["init", "--quiet"])
            .current_dir(dir.path())
            .status()
            .expect("git");
        assert!(status.success());
        let root = dir.path();
        let store = root.join(".ci-attest/logs/x");
        let added = ensure_ignored(&store, |_| "/.ci-attest/*".into()).expect("ignored");
        assert_eq!(added.as_deref(), Some("/.ci-attest/*"));
        assert_eq!(
            ensure_ignored(&store, |_| "again".into()).expect("ok"),
            None
        );
        let profile = root.join(".ci-attest/nextest.toml");
        let rel = std::cell::RefCell::new(PathBuf::new());
        let added = ensure_not_ignored(&profile, |r| {
            *rel.borrow_mut() = r.to_path_buf();
            format!("!/{}", r.display())
        })
        .expect("excepted");
        assert_eq!(added.as_deref(), Some("!/.ci-attest/nextest.toml"));
        assert_eq!(*rel.borrow(), Path::new(".ci-attest/nextest.toml"));
        assert_eq!(
            ensure_not_ignored(&profile, |_| "again".into()).expect("ok"),
            None
        );
        let text = std::fs::read_to_string(root.join(".gitignore")).expect("gitignore");
        assert_eq!(text, "/.ci-attest/*\n!/.ci-attest/nextest.toml\n");
        assert!(!root.join(".ci-attest").exists(), "nothing else made");
    }

    #[test]
    fn canonical_url_strips_credentials_and_dot_git() {
        for url in [
            "git@github.com:acme/app.git",
            "ssh://git@github.com/acme/app",
            "ssh://git@github.com:22/acme/app.git",
            "https://user:s3cret@GitHub.com/acme/app.git",
            "https://github.com/acme/app/",
        ] {
            assert_eq!(
                canonical_remote_url(url),
                "https://github.com/acme/app",
                "{url}"
            );
        }
        assert_eq!(canonical_remote_url("/srv/git/app"), "/srv/git/app");
    }

    #[test]
    fn commit_object_digest_is_what_a_sha256_git_computes_for_the_object() {
        // A sha256 repository hashes objects with the same `commit <len>\0` framing, so git itself
        // is the independent oracle.
        let dir = tempfile::tempdir().expect("tempdir");
        run_git(dir.path(), &["init", "--quiet", "--object-format=sha256"]).expect("git init");
        let object = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nmessage\n";
        let file = dir.path().join("obj");
        std::fs::write(&file, object).expect("write");
        let out = run_git(
            dir.path(),
            &["hash-object", "-t", "commit", "--literally", "obj"],
        )
        .expect("hash-object");
        assert_eq!(
            commit_object_sha256(object),
            String::from_utf8_lossy(&out).trim()
        );
    }

    #[test]
    fn commit_ids_must_be_full_lowercase_hex() {
        assert!(CommitId::parse(&"a".repeat(40)).is_some());
        assert!(CommitId::parse(&"A".repeat(40)).is_none());
        assert!(CommitId::parse("abc123").is_none());
    }
}
