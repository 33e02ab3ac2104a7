//! The `pre-push` hook, through the binary and real `git push` to a local bare remote: it attests
//! what is pushed without a bundle from the signer's key, pushes the bundle refs before the
//! branch, never runs a commit twice, refuses when told to, and installs and uninstalls only
//! its own file.

mod common;

use common::{Project, git, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// A passing project with a key and a bare remote `origin` (next to it, in the same temp dir).
fn with_remote() -> (Project, PathBuf) {
    let p = Project::passing();
    p.keygen();
    let remote = p.root.parent().expect("temp dir").join("remote.git");
    git(
        p.root.parent().expect("temp dir"),
        &["init", "--quiet", "--bare", "remote.git"],
    );
    git(
        &p.root,
        &["remote", "add", "origin", remote.to_str().expect("utf-8")],
    );
    (p, remote)
}

/// `git push` with the test identity; not asserted (some pushes must fail).
fn push(p: &Project, args: &[&str]) -> Output {
    Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .arg("push")
        .args(args)
        .current_dir(&p.root)
        .env_remove("CI_ATTEST_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .expect("git runs")
}

fn push_ok(p: &Project, args: &[&str]) -> String {
    let out = push(p, args);
    assert!(out.status.success(), "git push {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn hook(p: &Project, args: &[&str]) -> Output {
    p.cmd().arg("hook").args(args).output().expect("runs")
}

/// The bundle refs the remote has for `commit`.
fn remote_bundle_refs(remote: &Path, commit: &str) -> Vec<String> {
    let out = git(
        remote,
        &[
            "for-each-ref",
            "--format=%(refname)",
            &format!("refs/ci-attest/{commit}/"),
        ],
    );
    out.lines().map(str::to_string).collect()
}

/// The local-run bundles of `commit` in the local store.
fn local_bundles_of(p: &Project, commit: &str) -> usize {
    p.bundles()
        .iter()
        .filter(|b| {
            b.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(commit))
        })
        .count()
}

fn remote_head(remote: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", "refs/heads/main"])
        .current_dir(remote)
        .output()
        .expect("git runs");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn install_then_push_leaves_the_bundle_refs_on_the_remote_and_never_reruns_an_attested_commit() {
    let (p, remote) = with_remote();
    let out = hook(&p, &["install"]);
    assert!(out.status.success(), "{}", text(&out));
    let installed = p.root.join(".git/hooks/pre-push");
    assert!(installed.is_file(), "{}", text(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&installed)
            .expect("hook")
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "executable: {mode:o}");
    }

    // First push: the commit has no bundle, the hook attests it and pushes its refs.
    let first = p.head();
    let said = push_ok(&p, &["origin", "main"]);
    assert!(said.contains(&format!("attesting {first} (1/1)")), "{said}");
    assert_eq!(local_bundles_of(&p, &first), 1, "{said}");
    let refs = remote_bundle_refs(&remote, &first);
    assert_eq!(
        refs.len(),
        p.all_bundles().len(),
        "the local-run and test-result bundles: {refs:?}\n{said}"
    );
    assert_eq!(remote_head(&remote).as_deref(), Some(first.as_str()));

    // Second push: only the new commit is attested; the first is on the remote already.
    p.write("notes.txt", "two\n");
    let second = p.commit("second");
    let said = push_ok(&p, &["origin", "main"]);
    assert!(
        said.contains(&format!("attesting {second} (1/1)")),
        "{said}"
    );
    assert!(!said.contains(&format!("attesting {first}")), "{said}");
    assert_eq!(local_bundles_of(&p, &first), 1);
    assert_eq!(local_bundles_of(&p, &second), 1);
    assert!(!remote_bundle_refs(&remote, &second).is_empty(), "{said}");

    // A commit attested by hand before the push is not run again; its refs still go out.
    p.write("notes.txt", "three\n");
    let third = p.commit("third");
    let out = p.run();
    assert!(out.status.success(), "{}", text(&out));
    let started = Instant::now();
    let said = push_ok(&p, &["origin", "main"]);
    let with_hook = started.elapsed();
    assert!(
        said.contains(&format!("{third} already attested")),
        "{said}"
    );
    assert!(!said.contains("attesting"), "{said}");
    assert_eq!(local_bundles_of(&p, &third), 1, "not run again: {said}");
    assert!(!remote_bundle_refs(&remote, &third).is_empty(), "{said}");
    assert_eq!(remote_head(&remote).as_deref(), Some(third.as_str()));

    // For the record: the same kind of push without the hook.
    p.write("notes.txt", "four\n");
    p.commit("fourth");
    let started = Instant::now();
    push_ok(&p, &["--no-verify", "origin", "main"]);
    eprintln!(
        "push of an attested commit: {:.0} ms with the hook, {:.0} ms without",
        with_hook.as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64() * 1e3
    );

    // Nothing new: nothing runs.
    let before = p.all_bundles().len();
    push_ok(&p, &["origin", "main"]);
    assert_eq!(p.all_bundles().len(), before);
}

#[test]
fn refuse_mode_stops_the_push_and_names_the_commits_to_attest() {
    let (p, remote) = with_remote();
    assert!(hook(&p, &["install"]).status.success());
    git(&p.root, &["config", "ci-attest.hook", "refuse"]);
    let head = p.head();
    let out = push(&p, &["origin", "main"]);
    assert!(!out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("push refused"), "{said}");
    assert!(
        said.contains(&format!("ci-attest run --commit {head}")),
        "{said}"
    );
    assert_eq!(
        remote_head(&remote),
        None,
        "the branch did not reach the remote"
    );
    assert!(p.bundles().is_empty(), "nothing was run");

    let out = p.run();
    assert!(out.status.success(), "{}", text(&out));
    let said = push_ok(&p, &["origin", "main"]);
    assert!(said.contains("already attested"), "{said}");
    assert!(!remote_bundle_refs(&remote, &head).is_empty(), "{said}");
    assert_eq!(remote_head(&remote).as_deref(), Some(head.as_str()));

    // Deleting a branch on the remote attests nothing.
    git(&p.root, &["branch", "side"]);
    push_ok(&p, &["--no-verify", "origin", "side"]);
    push_ok(&p, &["origin", "--delete", "side"]);
}

#[test]
fn a_bundle_from_another_key_does_not_count_as_attested() {
    let (p, _remote) = with_remote();
    // Attested by a second key; the configured signer is keys/ci-attest.key.
    p.keygen_named("other");
    let out = p
        .cmd()
        .args(["run", "--key", "keys/other.key"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    assert!(hook(&p, &["install"]).status.success());
    git(&p.root, &["config", "ci-attest.hook", "refuse"]);
    let out = push(&p, &["origin", "main"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("push refused"),
        "{}",
        text(&out)
    );
}

#[test]
fn install_leaves_a_foreign_hook_alone_without_force_and_uninstall_restores_it() {
    let p = Project::passing();
    let hooks = p.root.join(".git/hooks");
    std::fs::create_dir_all(&hooks).expect("hooks dir");
    let foreign = "#!/bin/sh\nexec git lfs pre-push \"$@\"\n";
    std::fs::write(hooks.join("pre-push"), foreign).expect("write");

    let out = hook(&p, &["install"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push")).expect("read"),
        foreign
    );

    // uninstall leaves a hook it did not write alone.
    let out = hook(&p, &["uninstall"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not installed by ci-attest"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push")).expect("read"),
        foreign
    );

    let out = hook(&p, &["install", "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push.ci-attest-backup")).expect("backup"),
        foreign
    );
    let ours = std::fs::read_to_string(hooks.join("pre-push")).expect("read");
    assert!(ours.contains("# ci-attest-hook: pre-push v1"), "{ours}");
    assert!(
        ours.contains(&format!(
            "installed='{}'",
            std::fs::canonicalize(env!("CARGO_BIN_EXE_ci-attest"))
                .expect("binary")
                .display()
        )),
        "the installing binary's absolute path: {ours}"
    );
    // Installing again updates our own hook in place.
    assert!(hook(&p, &["install"]).status.success());

    let out = hook(&p, &["uninstall"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push")).expect("restored"),
        foreign
    );
    assert!(!hooks.join("pre-push.ci-attest-backup").exists());

    // An edited ci-attest hook is not removed either.
    std::fs::remove_file(hooks.join("pre-push")).expect("rm");
    assert!(hook(&p, &["install"]).status.success());
    let edited = format!(
        "{}make lint\n",
        std::fs::read_to_string(hooks.join("pre-push")).expect("read")
    );
    std::fs::write(hooks.join("pre-push"), &edited).expect("edit");
    let out = hook(&p, &["uninstall"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push")).expect("read"),
        edited
    );
}

#[test]
fn bundle_refs_are_pushed_without_running_pre_push_hooks() {
    let (p, remote) = with_remote();
    let out = p.run();
    assert!(out.status.success(), "{}", text(&out));
    let hooks = p.root.join(".git/hooks");
    std::fs::create_dir_all(&hooks).expect("hooks dir");
    std::fs::write(
        hooks.join("pre-push"),
        "#!/bin/sh\necho refused >&2\nexit 1\n",
    )
    .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            hooks.join("pre-push"),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
    }
    assert!(
        !push(&p, &["origin", "main"]).status.success(),
        "the hook refuses branches"
    );
    let out = p
        .cmd()
        .args(["push", "--to", "git"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    assert!(!remote_bundle_refs(&remote, &p.head()).is_empty());
}

#[test]
fn install_respects_core_hooks_path() {
    let p = Project::passing();
    git(&p.root, &["config", "core.hooksPath", ".githooks"]);
    let out = hook(&p, &["install"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        p.root.join(".githooks/pre-push").is_file(),
        "{}",
        text(&out)
    );
    assert!(!p.root.join(".git/hooks/pre-push").exists());
    let out = hook(&p, &["uninstall"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!p.root.join(".githooks/pre-push").exists());
}

#[test]
fn the_pre_commit_framework_form_reads_its_variables_and_the_manifest_names_the_hook() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .expect(".pre-commit-hooks.yaml at the repository root");
    for line in [
        "- id: ci-attest",
        "  entry: ci-attest hook pre-push",
        "  stages: [pre-push]",
        "  pass_filenames: false",
    ] {
        assert!(
            manifest.lines().any(|l| l == line),
            "{line:?} in\n{manifest}"
        );
    }

    // pre-commit passes one update in PRE_COMMIT_* variables, not on stdin.
    let (p, remote) = with_remote();
    git(&p.root, &["config", "ci-attest.hook", "refuse"]);
    let head = p.head();
    let out = p
        .cmd()
        .args(["hook", "pre-push"])
        .env("PRE_COMMIT_TO_REF", &head)
        .env("PRE_COMMIT_FROM_REF", "0".repeat(40))
        .env("PRE_COMMIT_REMOTE_NAME", "origin")
        .env("PRE_COMMIT_REMOTE_URL", remote.to_str().expect("utf-8"))
        .env("PRE_COMMIT_LOCAL_BRANCH", "refs/heads/main")
        .env("PRE_COMMIT_REMOTE_BRANCH", "refs/heads/main")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("ci-attest run --commit {head}")),
        "{}",
        text(&out)
    );
}
