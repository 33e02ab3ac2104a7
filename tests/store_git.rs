//! The `git` store against real git: local round trips, pushing to a bare remote, fetching into a
//! fresh clone, and two clones racing to push bundles into one remote.

use ci_attest::git::CommitId;
use ci_attest::store::git::{GitStore, bundle_ref};
use ci_attest::store::{ItemProblem, MAX_ITEMS_PER_COMMIT, Store, StoreError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::Instant;

/// Runs git for test setup, isolated from the user's configuration, and returns trimmed stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .env("LC_ALL", "C")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// [`git`] with `input` on stdin.
fn git_with_input(dir: &Path, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("git runs");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("git runs");
    assert!(out.status.success(), "git {args:?} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn commit_id(hex: &str) -> CommitId {
    CommitId::parse(hex).expect("a full commit id")
}

/// A made-up commit id (the store keys by id and does not need the commit to exist).
fn fake_commit(n: u64) -> CommitId {
    commit_id(&format!("{n:040x}"))
}

/// A fresh work repository with one commit; returns its folder and that commit.
fn work_repo(tmp: &Path, name: &str) -> (PathBuf, CommitId) {
    let dir = tmp.join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    git(&dir, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(dir.join("README"), "hello\n").expect("write");
    git(&dir, &["add", "README"]);
    git(&dir, &["commit", "--quiet", "-m", "first"]);
    let head = git(&dir, &["rev-parse", "HEAD"]);
    (dir, commit_id(&head))
}

/// A bare remote seeded with one commit on `main`; returns its folder and that commit.
fn bare_remote(tmp: &Path) -> (PathBuf, CommitId) {
    let (seed, head) = work_repo(tmp, "seed");
    let remote = tmp.join("remote.git");
    git(
        tmp,
        &[
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            "remote.git",
        ],
    );
    let remote_str = remote.to_string_lossy().into_owned();
    git(&seed, &["push", "--quiet", &remote_str, "main"]);
    (remote, head)
}

fn clone(tmp: &Path, remote: &Path, name: &str) -> PathBuf {
    let remote_str = remote.to_string_lossy().into_owned();
    git(tmp, &["clone", "--quiet", &remote_str, name]);
    tmp.join(name)
}

fn refs_under(dir: &Path, prefix: &str) -> Vec<String> {
    let out = git(dir, &["for-each-ref", "--format=%(refname)", prefix]);
    out.lines().map(str::to_string).collect()
}

fn bundle(tag: &str) -> Vec<u8> {
    format!(
        "{{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"test\":\"{tag}\"}}"
    )
    .into_bytes()
}

#[test]
fn put_then_fetch_round_trips_the_bytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (repo, head) = work_repo(tmp.path(), "work");
    let store = GitStore::new(repo.clone(), "origin".to_string());
    let bytes = bundle("round-trip");
    let location = store.put(&head, &bytes).expect("put");
    assert_eq!(location, bundle_ref(&head, &bytes));
    assert!(location.starts_with(&format!("refs/ci-attest/{head}/")));

    let got = store.fetch(&head).expect("fetch").bundles;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].bytes, bytes);
    assert_eq!(got[0].location, location);

    // What an auditor sees with plain git.
    let shown = git(
        &repo,
        &[
            "cat-file",
            "blob",
            &format!("{location}:bundle.sigstore.json"),
        ],
    );
    assert_eq!(shown.as_bytes(), bytes.as_slice());
    // The bundle commit has no parent: pushing it never publishes the attested history.
    let parents = git(&repo, &["rev-list", "--parents", "-n1", &location]);
    assert_eq!(parents.split(' ').count(), 1, "{parents}");
}

#[test]
fn the_same_bundle_twice_is_one_ref_and_different_bundles_are_sorted_by_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (repo, head) = work_repo(tmp.path(), "work");
    let store = GitStore::new(repo.clone(), "origin".to_string());
    let a = store.put(&head, &bundle("a")).expect("put a");
    let again = store.put(&head, &bundle("a")).expect("put a again");
    assert_eq!(a, again);
    assert_eq!(refs_under(&repo, "refs/ci-attest/").len(), 1);

    let b = store.put(&head, &bundle("b")).expect("put b");
    let got = store.fetch(&head).expect("fetch").bundles;
    let mut expected = vec![a, b];
    expected.sort();
    let locations: Vec<_> = got.iter().map(|s| s.location.clone()).collect();
    assert_eq!(locations, expected);
}

#[test]
fn bundles_of_another_commit_are_not_returned() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (repo, head) = work_repo(tmp.path(), "work");
    let store = GitStore::new(repo, "origin".to_string());
    store.put(&head, &bundle("mine")).expect("put");
    store.put(&fake_commit(7), &bundle("other")).expect("put");
    let got = store.fetch(&head).expect("fetch").bundles;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].bytes, bundle("mine"));
    assert!(
        store
            .fetch(&fake_commit(8))
            .expect("fetch")
            .bundles
            .is_empty()
    );
}

#[test]
fn pushed_bundles_reach_a_fresh_clone_through_fetch_remote() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (remote, head) = bare_remote(tmp.path());
    let dev = clone(tmp.path(), &remote, "dev");
    let store = GitStore::new(dev, "origin".to_string());
    let location = store.put(&head, &bundle("pushed")).expect("put");
    store
        .put(&fake_commit(1), &bundle("not pushed"))
        .expect("put");

    let summary = store.push(&head).expect("push");
    assert_eq!(summary.created, vec![location.clone()]);
    assert!(summary.up_to_date.is_empty());
    assert_eq!(
        refs_under(&remote, "refs/ci-attest/"),
        vec![location.clone()]
    );

    let again = store.push(&head).expect("push again");
    assert_eq!(again.up_to_date, vec![location.clone()]);
    assert!(again.created.is_empty());
    // Nothing to push is not an error.
    assert_eq!(store.push(&fake_commit(2)).expect("push").attempts, 0);

    let auditor = clone(tmp.path(), &remote, "auditor");
    let auditor_store = GitStore::new(auditor, "origin".to_string());
    // A plain clone does not carry the refs until they are fetched.
    assert!(
        auditor_store
            .fetch(&head)
            .expect("fetch")
            .bundles
            .is_empty()
    );
    auditor_store.fetch_remote().expect("fetch_remote");
    let got = auditor_store.fetch(&head).expect("fetch").bundles;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].bytes, bundle("pushed"));
    assert_eq!(got[0].location, location);
    // Fetching again changes nothing and is not an error.
    auditor_store.fetch_remote().expect("fetch_remote again");

    let verifier = clone(tmp.path(), &remote, "verifier");
    let verifier_store = GitStore::new(verifier, "origin".to_string());
    let not_fetched = verifier_store
        .fetch_remote_commit(&head)
        .expect("fetch one commit");
    assert!(not_fetched.is_empty(), "{not_fetched:?}");
    let fetched = verifier_store.fetch(&head).expect("fetch");
    assert_eq!(fetched.bundles.len(), 1);
    assert!(fetched.rejected.is_empty(), "{:?}", fetched.rejected);
}

#[test]
fn fetching_from_a_remote_without_bundles_is_not_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (remote, head) = bare_remote(tmp.path());
    let dev = clone(tmp.path(), &remote, "dev");
    let store = GitStore::new(dev, "origin".to_string());
    store.fetch_remote().expect("fetch_remote");
    assert!(
        store
            .fetch_remote_commit(&head)
            .expect("fetch one commit")
            .is_empty()
    );
    assert_eq!(store.fetch(&head).expect("fetch"), Default::default());
}

#[test]
fn pushing_a_bundle_the_remote_already_has_succeeds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (remote, head) = bare_remote(tmp.path());
    let alice = GitStore::new(clone(tmp.path(), &remote, "alice"), "origin".to_string());
    let bob = GitStore::new(clone(tmp.path(), &remote, "bob"), "origin".to_string());
    let shared = bundle("shared");
    let location = alice.put(&head, &shared).expect("alice put");
    alice.push(&head).expect("alice push");

    // Bob made the same bundle independently: same ref, same commit object, so nothing to send.
    assert_eq!(bob.put(&head, &shared).expect("bob put"), location);
    let summary = bob.push(&head).expect("bob push");
    assert_eq!(summary.up_to_date, vec![location.clone()]);
    assert!(summary.created.is_empty());
    assert_eq!(
        git(alice.repo_root(), &["rev-parse", &location]),
        git(bob.repo_root(), &["rev-parse", &location]),
        "the same bundle must give the same commit object in every clone"
    );
}

#[test]
fn two_clones_pushing_at_the_same_time_lose_no_bundle() {
    const ROUNDS: u64 = 6;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (remote, shared_commit) = bare_remote(tmp.path());
    let clones = ["alice", "bob"].map(|name| clone(tmp.path(), &remote, name));
    let barrier = Arc::new(Barrier::new(2));
    let mut expected = Vec::new(); // (commit, bundle bytes)
    let mut max_attempts = 0;

    for round in 0..ROUNDS {
        // Both clones attest the shared commit with the very same bundle (same ref).
        let same = bundle(&format!("round {round} identical"));
        expected.push((shared_commit.clone(), same.clone()));
        let mut work = Vec::new();
        for (i, dir) in clones.iter().enumerate() {
            let store = GitStore::new(dir.clone(), "origin".to_string());
            let own_commit = fake_commit(1000 + round * 10 + i as u64);
            let for_shared = bundle(&format!("round {round} clone {i} shared commit"));
            let for_own = bundle(&format!("round {round} clone {i} own commit"));
            store.put(&shared_commit, &for_shared).expect("put shared");
            store.put(&shared_commit, &same).expect("put identical");
            store.put(&own_commit, &for_own).expect("put own");
            expected.push((shared_commit.clone(), for_shared));
            expected.push((own_commit.clone(), for_own));
            work.push((store, own_commit));
        }
        let handles: Vec<_> = work
            .into_iter()
            .map(|(store, own_commit)| {
                let barrier = Arc::clone(&barrier);
                let shared_commit = shared_commit.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    let a = store.push(&shared_commit);
                    let b = store.push(&own_commit);
                    (a, b)
                })
            })
            .collect();
        for handle in handles {
            let (a, b) = handle.join().expect("push thread");
            let a = a.expect("push of the shared commit");
            let b = b.expect("push of the own commit");
            // Every ref of the shared commit this clone holds: 2 per round so far.
            assert_eq!(
                a.created.len() + a.up_to_date.len(),
                2 * (round as usize + 1),
                "{a:?}"
            );
            assert_eq!(b.created.len(), 1, "{b:?}");
            max_attempts = max_attempts.max(a.attempts).max(b.attempts);
        }
    }
    eprintln!("race: most `git push` runs needed for one push: {max_attempts}");

    let auditor = GitStore::new(clone(tmp.path(), &remote, "auditor"), "origin".to_string());
    auditor.fetch_remote().expect("fetch_remote");
    let mut commits: Vec<CommitId> = expected.iter().map(|(c, _)| c.clone()).collect();
    commits.sort();
    commits.dedup();
    let mut found = 0;
    for commit in &commits {
        let got = auditor.fetch(commit).expect("fetch").bundles;
        let mut want: Vec<Vec<u8>> = expected
            .iter()
            .filter(|(c, _)| c == commit)
            .map(|(_, b)| b.clone())
            .collect();
        want.sort();
        want.dedup();
        let mut have: Vec<Vec<u8>> = got.into_iter().map(|s| s.bytes).collect();
        have.sort();
        assert_eq!(have, want, "bundles of {commit}");
        found += have.len();
    }
    // Per round: 1 identical + 2 different for the shared commit, 1 for each clone's own commit.
    assert_eq!(found as u64, ROUNDS * 5);
    assert_eq!(
        refs_under(&remote, "refs/ci-attest/").len() as u64,
        ROUNDS * 5
    );
}

#[test]
fn a_ref_whose_content_does_not_match_its_name_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (repo, head) = work_repo(tmp.path(), "work");
    let store = GitStore::new(repo.clone(), "origin".to_string());
    let honest = bundle("honest");
    let name = bundle_ref(&head, &honest);
    // Plant a different bundle under the honest bundle's name, with plain git.
    let other = store.put(&head, &bundle("other")).expect("put");
    git(&repo, &["update-ref", &name, &other]);
    git(&repo, &["update-ref", "-d", &other]);

    let planted = git(&repo, &["rev-parse", &name]);

    let err = store
        .put(&head, &honest)
        .expect_err("put must not accept the planted ref");
    assert!(matches!(err, StoreError::Git { .. }), "{err}");
    assert_eq!(
        git(&repo, &["rev-parse", &name]),
        planted,
        "put must leave the existing ref alone"
    );
    // fetch re-hashes every bundle: the planted one is a rejected item, never a bundle.
    let fetched = store.fetch(&head).expect("fetch");
    assert!(fetched.bundles.is_empty(), "{:?}", fetched.bundles);
    assert_eq!(fetched.rejected.len(), 1);
    assert_eq!(fetched.rejected[0].location, name);
    let digest = name.rsplit('/').next().expect("digest").to_string();
    assert!(
        matches!(&fetched.rejected[0].problem, ItemProblem::DigestMismatch { expected, found }
            if *expected == digest && found != &digest),
        "{:?}",
        fetched.rejected[0]
    );
    assert!(
        fetched.rejected[0].problem.to_string().contains("sha256"),
        "{}",
        fetched.rejected[0].problem
    );
}

#[test]
fn refs_not_named_by_a_digest_are_ignored() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (repo, head) = work_repo(tmp.path(), "work");
    let store = GitStore::new(repo.clone(), "origin".to_string());
    let location = store.put(&head, &bundle("real")).expect("put");
    git(
        &repo,
        &[
            "update-ref",
            &format!("refs/ci-attest/{head}/notes"),
            &location,
        ],
    );
    let got = store.fetch(&head).expect("fetch").bundles;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].location, location);
}

#[test]
fn oversized_bundles_are_refused_on_put_and_on_fetch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (repo, head) = work_repo(tmp.path(), "work");
    let store = GitStore::new(repo.clone(), "origin".to_string());
    let big = vec![b' '; ci_attest::bundle::MAX_BUNDLE_BYTES + 1];
    let err = store.put(&head, &big).expect_err("too large");
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err}");

    // A ref made by someone else, holding an oversized blob.
    let file = tmp.path().join("big.json");
    std::fs::write(&file, &big).expect("write");
    let blob = git(&repo, &["hash-object", "-w", &file.to_string_lossy()]);
    let tree = git_with_input(
        &repo,
        &["mktree"],
        format!("100644 blob {blob}\tbundle.sigstore.json\n").as_bytes(),
    );
    let commit = git(&repo, &["commit-tree", "-m", "big", &tree]);
    git(&repo, &["update-ref", &bundle_ref(&head, &big), &commit]);
    let fetched = store.fetch(&head).expect("fetch");
    assert!(fetched.bundles.is_empty(), "{:?}", fetched.bundles);
    assert_eq!(fetched.rejected.len(), 1);
    assert_eq!(fetched.rejected[0].location, bundle_ref(&head, &big));
    let limit = ci_attest::bundle::MAX_BUNDLE_BYTES as u64;
    assert_eq!(
        fetched.rejected[0].problem,
        ItemProblem::TooLarge {
            size: limit + 1,
            limit
        }
    );
}

#[test]
fn option_like_remotes_are_refused_and_credentials_never_shown() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (repo, head) = work_repo(tmp.path(), "work");
    let marker = tmp.path().join("pwned");
    let evil = format!("--upload-pack=touch {}", marker.display());
    let store = GitStore::new(repo.clone(), evil);
    store.put(&head, &bundle("x")).expect("put");
    assert!(store.push(&head).is_err());
    assert!(store.fetch_remote().is_err());
    assert!(
        !marker.exists(),
        "git must never read the remote as an option"
    );

    let secret = GitStore::new(
        repo,
        "https://alice:s3cr3t-token@127.0.0.1:9/r.git".to_string(),
    );
    for err in [
        secret.push(&head).expect_err("nothing listens on port 9"),
        secret
            .fetch_remote()
            .expect_err("nothing listens on port 9"),
    ] {
        let text = err.to_string();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("127.0.0.1"), "{text}");
    }
    assert!(!secret.remote().contains("s3cr3t"));
}

#[test]
fn works_in_sha256_repositories() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("work");
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "--quiet", "--object-format=sha256"]);
    let store = GitStore::new(repo, "origin".to_string());
    let head = commit_id(&"ab".repeat(32));
    store.put(&head, &bundle("sha256")).expect("put");
    store.put(&head, &bundle("sha256")).expect("put again");
    let got = store.fetch(&head).expect("fetch").bundles;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].bytes, bundle("sha256"));
}

#[test]
fn measure_put_and_fetch_of_100_bundles() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (remote, head) = bare_remote(tmp.path());
    let dev = GitStore::new(clone(tmp.path(), &remote, "dev"), "origin".to_string());
    let start = Instant::now();
    for i in 0..100 {
        dev.put(&head, &bundle(&format!("bundle {i}")))
            .expect("put");
    }
    let put = start.elapsed();
    let start = Instant::now();
    let got = dev.fetch(&head).expect("fetch");
    let fetch = start.elapsed();
    // At most MAX_ITEMS_PER_COMMIT are read; the others are named, unread.
    assert_eq!(got.bundles.len(), MAX_ITEMS_PER_COMMIT);
    assert_eq!(got.rejected.len(), 100 - MAX_ITEMS_PER_COMMIT);
    assert!(
        got.rejected
            .iter()
            .all(|r| matches!(r.problem, ItemProblem::OverLimit { .. })),
        "{:?}",
        got.rejected
    );
    let start = Instant::now();
    let summary = dev.push(&head).expect("push");
    let push = start.elapsed();
    assert_eq!(summary.created.len(), 100);
    let auditor = GitStore::new(clone(tmp.path(), &remote, "auditor"), "origin".to_string());
    let start = Instant::now();
    auditor.fetch_remote().expect("fetch_remote");
    let fetch_remote = start.elapsed();
    assert_eq!(
        auditor.fetch(&head).expect("fetch").bundles.len(),
        MAX_ITEMS_PER_COMMIT
    );
    eprintln!(
        "100 bundles: put {put:?} ({:?} each), fetch {fetch:?}, push {push:?}, fetch_remote {fetch_remote:?}",
        put / 100
    );
}

#[test]
fn many_commits_go_in_one_push_and_come_back_in_one_pull() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (remote, head) = bare_remote(tmp.path());
    let dev = GitStore::new(clone(tmp.path(), &remote, "dev"), "origin".to_string());
    let commits: Vec<CommitId> = (1..=3).map(fake_commit).chain([head.clone()]).collect();
    let mut refs = Vec::new();
    for (i, c) in commits.iter().enumerate() {
        refs.push(dev.put(c, &bundle(&format!("a {i}"))).expect("put"));
        refs.push(dev.put(c, &bundle(&format!("b {i}"))).expect("put"));
    }
    // A bundle of a commit not asked for stays local.
    dev.put(&fake_commit(99), &bundle("not asked"))
        .expect("put");
    let summary = dev.push_many(&commits).expect("push");
    assert_eq!(summary.attempts, 1, "one `git push` for every commit");
    refs.sort();
    let mut created = summary.created.clone();
    created.sort();
    assert_eq!(created, refs);
    assert_eq!(refs_under(&remote, "refs/ci-attest/").len(), 8);

    let auditor = GitStore::new(clone(tmp.path(), &remote, "auditor"), "origin".to_string());
    // One commit without any ref on the remote: asked for, found nowhere.
    let mut asked = commits.clone();
    asked.push(fake_commit(50));
    let pulled = auditor.pull_commits(&asked).expect("pull");
    assert_eq!(pulled.fetched, 8, "{pulled:?}");
    assert_eq!(pulled.present, 0);
    assert_eq!(pulled.commits, 4);
    assert_eq!(pulled.listed, 8, "the whole namespace, listed once");
    assert_eq!(pulled.rejected_count(), 0, "{pulled:?}");
    for c in &commits {
        assert_eq!(auditor.fetch(c).expect("fetch").bundles.len(), 2);
    }
    // Again: everything is already here, nothing is fetched.
    let again = auditor.pull_commits(&asked).expect("pull again");
    assert_eq!((again.fetched, again.present, again.commits), (0, 8, 4));
}

#[test]
fn a_batched_push_never_overwrites_another_bundle_on_the_remote() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (remote, head) = bare_remote(tmp.path());
    let alice = GitStore::new(clone(tmp.path(), &remote, "alice"), "origin".to_string());
    let mallory = GitStore::new(clone(tmp.path(), &remote, "mallory"), "origin".to_string());
    let honest = bundle("honest");
    let name = alice.put(&head, &honest).expect("put");
    // Mallory got another object under the same name onto the remote first.
    let other = mallory.put(&head, &bundle("other")).expect("put");
    git(mallory.repo_root(), &["update-ref", &name, &other]);
    git(mallory.repo_root(), &["update-ref", "-d", &other]);
    git(
        mallory.repo_root(),
        &["push", "--quiet", "origin", &format!("{name}:{name}")],
    );
    let planted = git(&remote, &["rev-parse", &name]);
    let second = alice.put(&fake_commit(3), &bundle("second")).expect("put");

    let err = alice
        .push_many(&[head.clone(), fake_commit(3)])
        .expect_err("the remote holds another object under the name");
    let text = err.to_string();
    assert!(
        text.contains(&name) && text.contains("never overwritten"),
        "{text}"
    );
    assert_eq!(git(&remote, &["rev-parse", &name]), planted, "not forced");
    // The other ref of the run went through; pushing again is safe.
    assert_eq!(refs_under(&remote, &second), vec![second.clone()]);
}

#[test]
fn a_pull_stops_a_fetch_at_the_pack_limit_and_leaves_no_partial_pack() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (remote, head) = bare_remote(tmp.path());
    let dev = GitStore::new(clone(tmp.path(), &remote, "dev"), "origin".to_string());
    let good = dev.put(&head, &bundle("good")).expect("put");
    dev.push(&head).expect("push");
    // Cloned first: a local clone hard-links the remote's objects, the big one must be sent.
    let auditor = clone(tmp.path(), &remote, "auditor");
    // On the remote: a bundle ref whose blob does not compress (2 MiB of pseudo-random bytes).
    let mut noise = Vec::with_capacity(2 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while noise.len() < 2 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    let blob = git_with_input(&remote, &["hash-object", "-w", "--stdin"], &noise);
    let tree = git_with_input(
        &remote,
        &["mktree"],
        format!("100644 blob {blob}\tbundle.sigstore.json\n").as_bytes(),
    );
    let commit = git(&remote, &["commit-tree", "-m", "big", &tree]);
    let big = bundle_ref(&head, &noise);
    git(&remote, &["update-ref", &big, &commit]);

    let store = GitStore::new(auditor.clone(), "origin".to_string()).with_fetch_limit(1 << 20);
    let pulled = store
        .pull_commits(std::slice::from_ref(&head))
        .expect("pull");
    assert_eq!(pulled.fetched, 1, "{pulled:?}");
    let rejected = &pulled.rejected[&head];
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].location, format!("{big} on origin"));
    let problem = rejected[0].problem.to_string();
    assert!(
        problem.contains("expected at most 1048576 bytes for these refs"),
        "{problem}"
    );
    assert_eq!(refs_under(&auditor, "refs/ci-attest/"), vec![good]);
    let packs = git(&auditor, &["rev-parse", "--git-path", "objects/pack"]);
    let left: Vec<String> = std::fs::read_dir(auditor.join(packs))
        .expect("pack dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tmp_pack_"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Under the default limit the same ref fetches (and is then judged by `fetch`).
    let store = GitStore::new(auditor, "origin".to_string());
    let pulled = store
        .pull_commits(std::slice::from_ref(&head))
        .expect("pull");
    assert_eq!((pulled.fetched, pulled.present), (1, 1), "{pulled:?}");
}

#[test]
fn more_refs_than_one_run_takes_go_in_several_runs_and_all_arrive() {
    use ci_attest::store::git::REFS_PER_RUN;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (remote, _) = bare_remote(tmp.path());
    let dev_dir = clone(tmp.path(), &remote, "dev");
    let dev = GitStore::new(dev_dir.clone(), "origin".to_string());
    // Refs planted with plain git, two per commit, all on one bundle commit (push and pull move
    // refs; only `fetch` checks what they hold).
    let one = dev.put(&fake_commit(0), &bundle("one")).expect("put");
    let target = git(&dev_dir, &["rev-parse", &one]);
    let commits: Vec<CommitId> = (1..=(REFS_PER_RUN as u64 / 2 + 10))
        .map(fake_commit)
        .collect();
    let script: String = commits
        .iter()
        .flat_map(|c| {
            ["a", "b"].map(|d| format!("create refs/ci-attest/{c}/{} {target}\n", d.repeat(64)))
        })
        .collect();
    git_with_input(&dev_dir, &["update-ref", "--stdin"], script.as_bytes());
    let want = commits.len() * 2;
    assert!(want > REFS_PER_RUN);

    let summary = dev.push_many(&commits).expect("push");
    assert_eq!(summary.created.len(), want);
    assert_eq!(
        summary.attempts, 2,
        "{REFS_PER_RUN} refs per `git push` run"
    );
    assert_eq!(
        refs_under(&remote, "refs/ci-attest/").len(),
        want,
        "not the unasked one"
    );

    let auditor = GitStore::new(clone(tmp.path(), &remote, "auditor"), "origin".to_string());
    let pulled = auditor.pull_commits(&commits).expect("pull");
    assert_eq!((pulled.fetched, pulled.commits), (want, commits.len()));
    assert_eq!(
        refs_under(auditor.repo_root(), "refs/ci-attest/").len(),
        want
    );
}
