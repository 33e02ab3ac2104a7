//! Stores that carry the history, through the real binary and real git: `push --range` and
//! `push --all` send many commits' bundles in one `git push`; `audit --from git` and
//! `verify --from git` in a fresh clone fetch what they need themselves and say how many bundles
//! for how many commits they read; a commit without any bundle is named and counted.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A bare remote beside the project, added as `origin`, with the project's `main` pushed.
fn with_remote(p: &Project) -> PathBuf {
    let parent = p.root.parent().expect("parent");
    git(parent, &["init", "--quiet", "--bare", "remote.git"]);
    let remote = parent.join("remote.git");
    git(
        &p.root,
        &["remote", "add", "origin", &remote.to_string_lossy()],
    );
    git(
        &p.root,
        &["push", "--quiet", "origin", "HEAD:refs/heads/main"],
    );
    remote
}

/// A fresh clone of `remote` named `name` beside it, with the signer's public key (the policy
/// names `../keys/ci-attest.pub`, which is not committed).
fn fresh_clone(p: &Project, remote: &Path, name: &str) -> PathBuf {
    let parent = remote.parent().expect("parent");
    git(
        parent,
        &["clone", "--quiet", &remote.to_string_lossy(), name],
    );
    let dir = parent.join(name);
    std::fs::create_dir_all(dir.join("keys")).expect("mkdir");
    std::fs::copy(
        p.root.join("keys/ci-attest.pub"),
        dir.join("keys/ci-attest.pub"),
    )
    .expect("copy the public key");
    dir
}

fn bundle_refs(dir: &Path) -> Vec<String> {
    git(dir, &["for-each-ref", "--format=%(refname)", "refs/"])
        .lines()
        .filter(|r| r.starts_with("refs/ci-attest/"))
        .map(str::to_string)
        .collect()
}

fn ci_attest(dir: &Path, args: &[&str]) -> Output {
    bin().current_dir(dir).args(args).output().expect("runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A `--at` just after the newest bundle of the project: no test depends on today's date.
fn after_all_bundles(p: &Project) -> String {
    p.bundles()
        .iter()
        .map(|b| bundle_time(b, 60))
        .max()
        .expect("bundles")
}

/// Four commits; all but the third attested (two bundles each).
fn history() -> (Project, Vec<String>) {
    let p = Project::passing();
    p.keygen();
    let mut commits = vec![p.head()];
    assert!(p.run().status.success());
    p.write("README", "second\n");
    commits.push(p.commit("second"));
    assert!(p.run().status.success());
    commits.push(p.commit("third, never attested"));
    p.write("README", "fourth\n");
    commits.push(p.commit("fourth"));
    assert!(p.run().status.success());
    assert_eq!(p.all_bundles().len(), 6);
    (p, commits)
}

#[test]
fn push_a_range_then_audit_from_git_in_a_fresh_clone_fetches_and_counts() {
    let (p, commits) = history();
    let remote = with_remote(&p);

    let out = ci_attest(&p.root, &["push", "--range", "HEAD"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = stdout(&out);
    assert!(
        said.contains("pushed 6 bundle(s) for 3 commit(s) to git remote origin: 6 new, 0 already there, in 1 `git push` run(s)"),
        "{said}"
    );
    // The commit without a bundle is named and counted, not skipped silently.
    assert!(
        said.contains(&format!("{}: no bundle in ", commits[2])),
        "{said}"
    );
    assert!(
        said.contains("1 of the 4 commit(s) of HEAD have no bundle"),
        "{said}"
    );
    assert_eq!(bundle_refs(&remote).len(), 6);

    let fresh = fresh_clone(&p, &remote, "auditor");
    assert!(
        bundle_refs(&fresh).is_empty(),
        "a clone carries no bundle refs"
    );
    let at = after_all_bundles(&p);
    let out = ci_attest(
        &fresh,
        &[
            "audit", "--range", "HEAD", "--from", "git", "--format", "json", "--at", &at,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(
            "fetched 6 bundle(s) for 3 commit(s) from git remote origin (6 new, 0 already here)"
        ),
        "{}",
        text(&out)
    );
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(audit["accepted"], 3, "{audit:#}");
    assert_eq!(audit["rejected"], 1, "{audit:#}");
    assert_eq!(audit["unattested"], 1, "{audit:#}");
    let reports = audit["commits"].as_array().expect("commits");
    assert_eq!(reports[2]["commit"], commits[2].as_str());
    assert_finding(&reports[2], "no-attestation");
    assert_eq!(bundle_refs(&fresh).len(), 6);

    // The text report counts it too; a second audit finds everything already here.
    let out = ci_attest(
        &fresh,
        &["audit", "--range", "HEAD", "--from", "git", "--at", &at],
    );
    assert!(
        stdout(&out).contains("4 commit(s): 3 accepted, 1 rejected, 1 without any bundle"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("(0 new, 6 already here)"),
        "{}",
        text(&out)
    );

    // Pushing again sends nothing new.
    let out = ci_attest(&p.root, &["push", "--range", "HEAD"]);
    assert!(
        stdout(&out).contains("0 new, 6 already there"),
        "{}",
        text(&out)
    );
}

#[test]
fn push_all_then_verify_from_git_in_a_fresh_clone_fetches_by_itself() {
    let (p, commits) = history();
    let remote = with_remote(&p);
    let out = ci_attest(&p.root, &["push", "--all"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("pushed 6 bundle(s) for 3 commit(s)"),
        "{}",
        text(&out)
    );
    assert_eq!(bundle_refs(&remote).len(), 6);

    let fresh = fresh_clone(&p, &remote, "verifier");
    let at = after_all_bundles(&p);
    let out = ci_attest(
        &fresh,
        &[
            "verify",
            "--commit",
            &commits[1],
            "--from",
            "git",
            "--format",
            "json",
            "--at",
            &at,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stderr(&out).contains(
            "fetched 2 bundle(s) for 1 commit(s) from git remote origin (2 new, 0 already here)"
        ),
        "{}",
        text(&out)
    );
    // Only the verified commit's refs were fetched.
    let fetched = bundle_refs(&fresh);
    assert_eq!(fetched.len(), 2, "{fetched:?}");
    assert!(
        fetched
            .iter()
            .all(|r| r.starts_with(&format!("refs/ci-attest/{}/", commits[1]))),
        "{fetched:?}"
    );

    // The unattested commit: nothing on the remote, said so, rejected.
    let out = ci_attest(
        &fresh,
        &[
            "verify",
            "--commit",
            &commits[2],
            "--from",
            "git",
            "--at",
            &at,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!(
            "no refs/ci-attest/{}/* on git remote origin: push them with `ci-attest push --commit {}`",
            commits[2], commits[2]
        )),
        "{}",
        text(&out)
    );
}

#[test]
fn audit_from_a_remote_without_bundle_refs_says_what_to_push() {
    let (p, _) = history();
    let remote = with_remote(&p);
    let fresh = fresh_clone(&p, &remote, "auditor");
    let out = ci_attest(&fresh, &["audit", "--range", "HEAD", "--from", "git"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stderr(&out).contains("no refs/ci-attest/* on git remote origin")
            && stderr(&out).contains("push them with `ci-attest push --all`"),
        "{}",
        text(&out)
    );
    // --offline reads this clone's refs only: none, so every commit is unattested.
    let out = ci_attest(
        &fresh,
        &[
            "audit",
            "--range",
            "HEAD",
            "--from",
            "git",
            "--offline",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(audit["unattested"], 4, "{audit:#}");

    // A remote that is not there: what was expected, and git's own words.
    let out = ci_attest(
        &fresh,
        &[
            "audit", "--range", "HEAD", "--from", "git", "--remote", "nowhere",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stderr(&out).contains("expected a reachable git remote nowhere to list refs/ci-attest/*"),
        "{}",
        text(&out)
    );
}

#[test]
fn push_of_a_range_without_any_bundle_and_conflicting_selections_are_usage_errors() {
    let p = Project::passing();
    p.write("README", "second\n");
    p.commit("second");
    with_remote(&p);
    let out = ci_attest(&p.root, &["push", "--range", "HEAD"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("expected bundles in")
            && stderr(&out).contains("for at least one of its 2 commit(s), found none"),
        "{}",
        text(&out)
    );
    let out = ci_attest(&p.root, &["push", "--all"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("--all: expected bundles in"),
        "{}",
        text(&out)
    );
    let out = ci_attest(&p.root, &["push", "--all", "--range", "HEAD"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
