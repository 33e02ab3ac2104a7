//! Hostile stores, through the real binary: whoever can push to a store can put anything there, but
//! without a signing key nothing they put may change the verdict or stop it. Each test stores junk
//! beside a good bundle and checks that the good bundle decides (exit 0), that the junk is named on
//! its own report line with a `store-item-invalid` finding saying what was expected and found, and
//! that nothing hangs or reads without a bound.

mod common;

use ci_attest::bundle::MAX_BUNDLE_BYTES;
use ci_attest::store::{
    MAX_BUNDLE_NUMBER, MAX_BYTES_PER_COMMIT, MAX_ITEMS_PER_COMMIT, MAX_LISTED_ITEMS_PER_COMMIT,
};
use common::*;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest any command of these tests may take; past it the command is taken to hang. Only a
/// guard: no result depends on the clock.
const HANG: Duration = Duration::from_secs(120);

/// Runs `cmd`, killing it and failing the test if it has not finished within [`HANG`].
fn output_within(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} hung for {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout"),
        stderr: err.join().expect("stderr"),
    }
}

/// A passing project, attested once (a local-run and a test-result bundle in the dir store).
fn attested() -> Project {
    let p = Project::passing();
    p.keygen();
    let out = output_within(p.cmd().arg("run"));
    assert!(out.status.success(), "run: {}", text(&out));
    p
}

fn store_dir(p: &Project) -> PathBuf {
    p.root.join(".ci-attest")
}

/// A dir-store path named like bundle `n` of HEAD.
fn bundle_path(p: &Project, n: &str) -> PathBuf {
    bundle_path_of(p, &p.head(), n)
}

/// A dir-store path named like bundle `n` of `commit`.
fn bundle_path_of(p: &Project, commit: &str, n: &str) -> PathBuf {
    store_dir(p).join(format!("{commit}.{n}.sigstore.json"))
}

/// `ci-attest <args> --format json` in the project, within [`HANG`]; (exit code, report).
fn json(p: &Project, args: &[&str]) -> (Output, serde_json::Value) {
    let out = output_within(p.cmd().args(args).args(["--format", "json"]));
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {}", text(&out)));
    (out, report)
}

/// Asserts the report is accepted on a bundle that is not `junk`, with exit 0.
fn assert_good_bundle_decides(out: &Output, report: &serde_json::Value, junk: &str) {
    assert_eq!(out.status.code(), Some(0), "{}\n{report:#}", text(out));
    assert_eq!(report["verdict"], "accepted", "{report:#}");
    let selected: Vec<&serde_json::Value> = report["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .filter(|b| b["selected"] == true)
        .collect();
    assert_eq!(selected.len(), 1, "{report:#}");
    let location = selected[0]["location"].as_str().expect("location");
    assert!(!location.contains(junk), "junk was selected: {report:#}");
    assert!(selected[0]["signer"] == "alice", "{report:#}");
}

/// The `store-item-invalid` finding on the report line of the item whose location ends with
/// `junk`; returns its `found` text. The line is never selected and has no signer.
fn junk_finding(report: &serde_json::Value, junk: &str) -> String {
    let line = report["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .find(|b| {
            b["location"]
                .as_str()
                .is_some_and(|l| l.ends_with(junk) && b["findings"].as_array().is_some())
                && b["findings"]
                    .as_array()
                    .is_some_and(|fs| fs.iter().any(|f| f["code"] == "store-item-invalid"))
        })
        .unwrap_or_else(|| panic!("no store-item-invalid line for {junk} in {report:#}"));
    assert_eq!(line["selected"], false, "{line:#}");
    assert!(line.get("signer").is_none(), "{line:#}");
    let f = line["findings"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["code"] == "store-item-invalid"))
        .expect("the finding");
    assert_eq!(f["severity"], "error", "{f:#}");
    assert!(f["expected"].is_string(), "{f:#}");
    f["found"].as_str().expect("found").to_string()
}

/// How many report lines carry a `store-item-invalid` finding.
fn junk_lines(report: &serde_json::Value) -> usize {
    report["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .filter(|b| {
            b["findings"]
                .as_array()
                .is_some_and(|fs| fs.iter().any(|f| f["code"] == "store-item-invalid"))
        })
        .count()
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

// ---------------------------------------------------------------------------------------------
// The dir store
// ---------------------------------------------------------------------------------------------

#[test]
fn a_fifo_named_like_a_bundle_does_not_hang_verify() {
    let p = attested();
    let fifo = bundle_path(&p, "3");
    mkfifo(&fifo);
    // Nobody ever opens the FIFO for writing: a blocking open would hang here.
    let (out, report) = json(&p, &["verify"]);
    assert_good_bundle_decides(&out, &report, &file_name(&fifo));
    let found = junk_finding(&report, &file_name(&fifo));
    assert!(found.contains("found a FIFO"), "{found}");
}

#[test]
fn a_symlink_to_dev_zero_is_not_followed() {
    let p = attested();
    let link = bundle_path(&p, "3");
    std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
    let (out, report) = json(&p, &["verify"]);
    assert_good_bundle_decides(&out, &report, &file_name(&link));
    let found = junk_finding(&report, &file_name(&link));
    assert!(found.contains("found a symbolic link"), "{found}");
}

#[test]
fn a_folder_named_like_a_bundle_is_an_item_not_an_abort() {
    let p = attested();
    let dir = bundle_path(&p, "3");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("inside"), "x").expect("write");
    let (out, report) = json(&p, &["verify"]);
    assert_good_bundle_decides(&out, &report, &file_name(&dir));
    let found = junk_finding(&report, &file_name(&dir));
    assert!(found.contains("found a folder"), "{found}");
}

#[test]
fn an_oversized_file_is_not_read() {
    let p = attested();
    let big = bundle_path(&p, "3");
    // Sparse: no disk used, but its size is over the limit.
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(MAX_BUNDLE_BYTES as u64 + 1).expect("sparse");
    let (out, report) = json(&p, &["verify"]);
    assert_good_bundle_decides(&out, &report, &file_name(&big));
    let found = junk_finding(&report, &file_name(&big));
    assert_eq!(
        found,
        format!(
            "expected at most {MAX_BUNDLE_BYTES} bytes, found {} bytes",
            MAX_BUNDLE_BYTES + 1
        )
    );
}

#[test]
fn only_junk_in_the_store_rejects_and_names_it() {
    // No run: the store holds nothing but a FIFO named like a bundle.
    let p = Project::passing();
    p.keygen();
    std::fs::create_dir_all(store_dir(&p)).expect("mkdir");
    let fifo = bundle_path(&p, "1");
    mkfifo(&fifo);
    let (out, report) = json(&p, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "store-item-invalid");
    assert_finding(&report, "no-attestation");
    assert!(junk_finding(&report, &file_name(&fifo)).contains("FIFO"));
}

#[test]
fn items_past_the_count_limit_are_named_and_not_opened() {
    let p = attested();
    let good = p.all_bundles().len();
    assert_eq!(good, 2, "a run stores a local-run and a test-result bundle");
    // Junk after the good bundles: regular files (read, then refused by the verifier as bundles)
    // up to the limit, then items past it, which are never opened (even a FIFO).
    let last = MAX_ITEMS_PER_COMMIT + 3;
    for n in good + 1..=last {
        let path = bundle_path(&p, &n.to_string());
        if n == MAX_ITEMS_PER_COMMIT + 1 {
            mkfifo(&path);
        } else {
            std::fs::write(&path, "{}").expect("write");
        }
    }
    let (out, report) = json(&p, &["verify"]);
    assert_good_bundle_decides(&out, &report, ".sigstore.json.none");
    assert_eq!(junk_lines(&report), 3, "{report:#}");
    for n in MAX_ITEMS_PER_COMMIT + 1..=last {
        let junk = file_name(&bundle_path(&p, &n.to_string()));
        let found = junk_finding(&report, &junk);
        assert_eq!(
            found,
            format!(
                "skipped unread: expected at most {MAX_ITEMS_PER_COMMIT} items per commit, found item {n} of the commit"
            )
        );
    }
    // The read junk never counts as a bundle: each is rejected on its own line.
    let lines = report["bundles"].as_array().expect("bundles");
    assert_eq!(lines.len(), last);
    assert_eq!(lines.iter().filter(|b| b["signer"] == "alice").count(), 1);
}

#[test]
fn the_total_read_per_commit_is_bounded() {
    let p = attested();
    // Five sparse files of 15 MiB after the good bundles: four fit in the 64 MiB per commit
    // (with the good bundles), the fifth is skipped unread.
    let size: u64 = 15 * 1024 * 1024;
    assert!(4 * size < MAX_BYTES_PER_COMMIT && 5 * size > MAX_BYTES_PER_COMMIT);
    for n in 3..=7 {
        let f = std::fs::File::create(bundle_path(&p, &n.to_string())).expect("create");
        f.set_len(size).expect("sparse");
    }
    let (out, report) = json(&p, &["verify"]);
    assert_good_bundle_decides(&out, &report, ".none");
    assert_eq!(junk_lines(&report), 1, "{report:#}");
    let found = junk_finding(&report, &file_name(&bundle_path(&p, "7")));
    assert!(
        found.starts_with(&format!(
            "skipped unread: expected at most {MAX_BYTES_PER_COMMIT} bytes read per commit, found "
        )) && found.ends_with(&format!("this item of {size} bytes")),
        "{found}"
    );
}

#[test]
fn a_planted_huge_bundle_number_never_wraps_and_is_never_overwritten() {
    let p = Project::passing();
    p.keygen();
    std::fs::create_dir_all(store_dir(&p)).expect("mkdir");
    let planted = bundle_path(&p, &u64::MAX.to_string());
    std::fs::write(&planted, "planted").expect("write");
    // The highest valid number too: the next number would pass the limit.
    let top = bundle_path(&p, &MAX_BUNDLE_NUMBER.to_string());
    std::fs::write(&top, "top").expect("write");

    let out = output_within(p.cmd().arg("run"));
    assert!(out.status.success(), "run: {}", text(&out));
    assert_eq!(std::fs::read(&planted).expect("read"), b"planted");
    assert_eq!(std::fs::read(&top).expect("read"), b"top");
    // No wrap to 0: the lowest free numbers were taken.
    assert!(!bundle_path(&p, "0").exists());
    assert!(bundle_path(&p, "1").exists() && bundle_path(&p, "2").exists());

    let (out, report) = json(&p, &["verify"]);
    assert_good_bundle_decides(&out, &report, &u64::MAX.to_string());
    let found = junk_finding(&report, &file_name(&planted));
    assert_eq!(
        found,
        format!(
            "expected a bundle number from 1 to {MAX_BUNDLE_NUMBER} without leading zeros, found \"{}\"",
            u64::MAX
        )
    );
}

/// The fingerprint hex of the key that signed the project's bundles (its file in the store).
fn stored_key_fingerprint(p: &Project) -> String {
    let keys: Vec<String> = std::fs::read_dir(store_dir(p).join("keys"))
        .expect("keys/")
        .filter_map(|e| e.ok())
        .map(|e| file_name(&e.path()))
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    keys[0]
        .strip_prefix("sha256-")
        .and_then(|k| k.strip_suffix(".pub"))
        .expect("sha256-<hex>.pub")
        .to_string()
}

#[test]
fn a_fifo_or_symlink_key_file_is_no_usable_key_and_never_hangs() {
    let p = attested();
    let fingerprint = stored_key_fingerprint(&p);
    let keys = store_dir(&p).join("keys");

    // alice pinned by fingerprint: her key is taken from the store.
    let by_fingerprint = POLICY.replace(
        "key = \"../keys/ci-attest.pub\"",
        &format!("fingerprint = \"sha256:{fingerprint}\""),
    );
    assert_ne!(by_fingerprint, POLICY);
    p.write("policies/fp.toml", &by_fingerprint);
    let (out, report) = json(&p, &["verify", "--policy", "policies/fp.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{report:#}", text(&out));

    // A second signer pinned by fingerprint whose key file is a FIFO: looked up for every bundle,
    // never opened blocking; alice's bundle still decides.
    let bob = "ab".repeat(32);
    mkfifo(&keys.join(format!("sha256-{bob}.pub")));
    p.write(
        "policies/two.toml",
        &POLICY.replace(
            "[require]",
            &format!("[[signer]]\nname = \"bob\"\nfingerprint = \"sha256:{bob}\"\n\n[require]"),
        ),
    );
    let (out, report) = json(&p, &["verify", "--policy", "policies/two.toml"]);
    assert_good_bundle_decides(&out, &report, "none");

    // alice's own key file replaced by a FIFO, then by a symlink to /dev/zero: no usable key, so
    // her bundle is not trusted (exit 1, not 3), and nothing hangs or reads without a bound.
    let alice = keys.join(format!("sha256-{fingerprint}.pub"));
    let pem = std::fs::read(&alice).expect("key");
    for make in [(|path: &Path| mkfifo(path)) as fn(&Path), |path: &Path| {
        std::os::unix::fs::symlink("/dev/zero", path).expect("symlink")
    }] {
        std::fs::remove_file(&alice).expect("remove");
        make(&alice);
        let (out, report) = json(&p, &["verify", "--policy", "policies/fp.toml"]);
        assert_eq!(out.status.code(), Some(1), "{}\n{report:#}", text(&out));
        assert_finding(&report, "no-attestation");
        let untrusted = report["bundles"]
            .as_array()
            .expect("bundles")
            .iter()
            .flat_map(|b| b["findings"].as_array().into_iter().flatten())
            .any(|f| f["code"] == "signer-untrusted");
        assert!(untrusted, "{report:#}");
        // ... and the report names the bad key file.
        assert_noted(&report, "store-item-invalid");
        assert!(
            report
                .to_string()
                .contains(&format!("sha256-{fingerprint}.pub")),
            "{report:#}"
        );
    }
    std::fs::remove_file(&alice).expect("remove");
    std::fs::write(&alice, pem).expect("restore");
    let (out, _) = json(&p, &["verify", "--policy", "policies/fp.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn audit_over_a_range_with_junk_in_the_dir_store() {
    let p = attested();
    let first = p.head();
    p.write("README", "second\n");
    let second = p.commit("second");
    let out = output_within(p.cmd().arg("run"));
    assert!(out.status.success(), "run: {}", text(&out));
    let fifo = bundle_path_of(&p, &first, "3");
    mkfifo(&fifo);
    let link = bundle_path_of(&p, &second, "3");
    std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");

    let (out, audit) = json(&p, &["audit", "--range", "HEAD"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{audit:#}", text(&out));
    assert_eq!(audit["accepted"], 2, "{audit:#}");
    let commits = audit["commits"].as_array().expect("commits");
    assert_eq!(commits[0]["commit"], first.as_str());
    assert_eq!(commits[1]["commit"], second.as_str());
    assert!(junk_finding(&commits[0], &file_name(&fifo)).contains("FIFO"));
    assert!(junk_finding(&commits[1], &file_name(&link)).contains("symbolic link"));
}

#[test]
fn a_range_larger_than_the_limit_is_an_error_not_a_silent_cut() {
    let p = Project::passing();
    p.write("README", "second\n");
    p.commit("second");
    let repo = ci_attest::git::Repo::discover(&p.root).expect("repo");
    let all = repo.rev_list("HEAD", 2).expect("two commits fit");
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].as_str(), p.head(), "oldest first");
    let err = repo
        .rev_list("HEAD", 1)
        .expect_err("two commits do not fit in one");
    let text = err.to_string();
    assert!(
        text.contains("expected a range of at most 1 commits") && text.contains("more than 1"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// The git store
// ---------------------------------------------------------------------------------------------

/// [`git`] with bytes on stdin.
fn git_in(dir: &Path, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("git runs");
    let mut stdin = child.stdin.take().expect("piped");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("git runs");
    writer.join().expect("writer").expect("write stdin");
    assert!(out.status.success(), "git {args:?} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A project attested and pushed with `ci-attest push --to git` to a fresh bare remote `origin`.
fn pushed() -> (Project, PathBuf) {
    let p = attested();
    let remote = p.root.parent().expect("parent").join("remote.git");
    git(
        p.root.parent().expect("parent"),
        &["init", "--quiet", "--bare", "remote.git"],
    );
    git(
        &p.root,
        &["remote", "add", "origin", &remote.to_string_lossy()],
    );
    let out = output_within(p.cmd().args(["push", "--to", "git"]));
    assert!(out.status.success(), "push: {}", text(&out));
    (p, remote)
}

/// The bundle refs of HEAD in `dir`.
fn bundle_refs(dir: &Path, head: &str) -> Vec<String> {
    git(
        dir,
        &[
            "for-each-ref",
            "--format=%(refname)",
            &format!("refs/ci-attest/{head}/"),
        ],
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// A bundle commit (tree with `bundle.sigstore.json` = `content`) in the repository at `dir`.
fn bundle_commit(dir: &Path, content: &[u8]) -> String {
    let blob = git_in(dir, &["hash-object", "-w", "--stdin"], content);
    let tree = git_in(
        dir,
        &["mktree"],
        format!("100644 blob {blob}\tbundle.sigstore.json\n").as_bytes(),
    );
    git(dir, &["commit-tree", "-m", "junk", &tree])
}

/// The greatest sha256 digest among HEAD's bundle refs in `dir`.
fn highest_digest(dir: &Path, head: &str) -> String {
    bundle_refs(dir, head)
        .iter()
        .filter_map(|r| r.rsplit('/').next().map(str::to_string))
        .max()
        .expect("bundle refs")
}

/// `prefix` plus a short suffix such that the sha256 of the whole sorts after `after`: the ref
/// named by it comes after the good bundles in store order.
fn content_after(prefix: &[u8], after: &str) -> (Vec<u8>, String) {
    let state = Sha256::new_with_prefix(prefix);
    for i in 0u64.. {
        let suffix = format!("{i}");
        let digest = hex::encode(state.clone().chain_update(suffix.as_bytes()).finalize());
        if digest.as_str() > after {
            let mut content = prefix.to_vec();
            content.extend_from_slice(suffix.as_bytes());
            return (content, digest);
        }
    }
    unreachable!("some suffix hashes above any digest short of ff..ff")
}

#[test]
fn a_blob_ref_and_a_mismatched_ref_are_findings_for_verify_and_audit_from_git() {
    let (p, remote) = pushed();
    let head = p.head();
    // On the remote, as an attacker with push access: a ref to a blob, and a bundle commit whose
    // bytes do not hash to its ref's name.
    let blob = git_in(&remote, &["hash-object", "-w", "--stdin"], b"not a commit");
    let blob_ref = format!("refs/ci-attest/{head}/{}", "b".repeat(64));
    git(&remote, &["update-ref", &blob_ref, &blob]);
    let junk = bundle_commit(&remote, b"{\"junk\":true}");
    let mismatched_ref = format!("refs/ci-attest/{head}/{}", "c".repeat(64));
    git(&remote, &["update-ref", &mismatched_ref, &junk]);

    let (out, report) = json(&p, &["verify", "--from", "git"]);
    assert_good_bundle_decides(&out, &report, &"b".repeat(64));
    let found = junk_finding(&report, &blob_ref);
    assert!(found.contains("found a blob object"), "{found}");
    let found = junk_finding(&report, &mismatched_ref);
    assert!(
        found.starts_with(&format!(
            "expected sha256 {} (its name), found sha256 ",
            "c".repeat(64)
        )),
        "{found}"
    );
    assert_eq!(junk_lines(&report), 2, "{report:#}");

    // verify fetched them; audit reads the same local refs offline.
    let (out, audit) = json(&p, &["audit", "--range", "HEAD", "--from", "git"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{audit:#}", text(&out));
    let commit = &audit["commits"][0];
    assert_eq!(commit["verdict"], "accepted", "{audit:#}");
    assert!(junk_finding(commit, &blob_ref).contains("blob"));
    assert!(junk_finding(commit, &mismatched_ref).contains("sha256"));
}

#[test]
fn big_junk_refs_are_skipped_unread_and_the_read_stops_at_the_total_limit() {
    let (p, _remote) = pushed();
    let head = p.head();
    let after = highest_digest(&p.root, &head);
    // Three refs just over the per-item limit: batch-check tells their size, they are never read.
    // (Blobs of spaces compress to almost nothing, so the repository stays small.)
    let mut oversized = Vec::new();
    for i in 0..3u8 {
        let mut content = vec![b' '; MAX_BUNDLE_BYTES];
        content.push(b'0' + i);
        let commit = bundle_commit(&p.root, &content);
        let name = format!(
            "refs/ci-attest/{head}/{}",
            hex::encode(Sha256::digest(&content))
        );
        git(&p.root, &["update-ref", &name, &commit]);
        oversized.push(name);
    }
    // Five of 15 MiB, named by their own digest and sorted after the good bundles: four fit in
    // the total with the good bundles, the fifth is skipped unread.
    let size = 15 * 1024 * 1024;
    let mut fitting = Vec::new();
    for i in 0..5u8 {
        let mut prefix = vec![b' '; size - 8];
        prefix.push(b'a' + i);
        let (content, digest) = content_after(&prefix, &after);
        let commit = bundle_commit(&p.root, &content);
        let name = format!("refs/ci-attest/{head}/{digest}");
        git(&p.root, &["update-ref", &name, &commit]);
        fitting.push(name);
    }
    fitting.sort();

    let (out, report) = json(&p, &["verify", "--from", "git"]);
    assert_good_bundle_decides(&out, &report, "none");
    for name in &oversized {
        let found = junk_finding(&report, name);
        assert_eq!(
            found,
            format!(
                "expected at most {MAX_BUNDLE_BYTES} bytes, found {} bytes",
                MAX_BUNDLE_BYTES + 1
            )
        );
    }
    let found = junk_finding(&report, &fitting[4]);
    assert!(
        found.starts_with(&format!(
            "skipped unread: expected at most {MAX_BYTES_PER_COMMIT} bytes read per commit"
        )),
        "{found}"
    );
    assert_eq!(junk_lines(&report), 4, "{report:#}");
    // The four that fit were read and judged as bundles (and refused by the verifier).
    let lines = report["bundles"].as_array().expect("bundles");
    for name in &fitting[..4] {
        let line = lines
            .iter()
            .find(|b| b["location"] == name.as_str())
            .expect("read");
        assert_ne!(line["selected"], true);
    }

    let (out, audit) = json(&p, &["audit", "--range", "HEAD", "--from", "git"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{audit:#}", text(&out));
    assert_eq!(junk_lines(&audit["commits"][0]), 4);
}

#[test]
fn many_junk_refs_are_bounded_by_the_count_and_listing_limits() {
    let (p, _remote) = pushed();
    let head = p.head();
    // Junk refs named after the good ones (all digests start with ffffffff), all pointing at one
    // small bundle commit whose bytes match none of the names.
    let junk = bundle_commit(&p.root, b"{}");
    let total = MAX_LISTED_ITEMS_PER_COMMIT + 6;
    let names: Vec<String> = (0..total)
        .map(|i| format!("refs/ci-attest/{head}/ffffffff{i:056x}"))
        .collect();
    let script: String = names
        .iter()
        .map(|n| format!("create {n} {junk}\n"))
        .collect();
    git_in(&p.root, &["update-ref", "--stdin"], script.as_bytes());

    let (out, report) = json(&p, &["verify", "--from", "git"]);
    assert_good_bundle_decides(&out, &report, "ffffffff");
    let lines = report["bundles"].as_array().expect("bundles");
    // 1024 listed (2 good, 62 junk read and refused for their digest, the rest over the count),
    // and one line for those not listed.
    assert_eq!(
        lines.len(),
        MAX_LISTED_ITEMS_PER_COMMIT + 1,
        "{}",
        lines.len()
    );
    let good = 2;
    let read = MAX_ITEMS_PER_COMMIT - good;
    assert!(junk_finding(&report, &names[0]).starts_with("expected sha256 ffffffff"));
    assert!(junk_finding(&report, &names[read - 1]).starts_with("expected sha256"));
    assert_eq!(
        junk_finding(&report, &names[read]),
        format!(
            "skipped unread: expected at most {MAX_ITEMS_PER_COMMIT} items per commit, found item {} of the commit",
            MAX_ITEMS_PER_COMMIT + 1
        )
    );
    let last_listed = MAX_LISTED_ITEMS_PER_COMMIT - good - 1;
    assert!(junk_finding(&report, &names[last_listed]).contains("items per commit"));
    assert!(
        !lines
            .iter()
            .any(|b| b["location"] == names[last_listed + 1].as_str()),
        "past the listing limit, refs are not named one by one"
    );
    let summary = junk_finding(&report, &format!("refs/ci-attest/{head}/"));
    assert_eq!(
        summary,
        format!(
            "skipped unread: expected at most {MAX_LISTED_ITEMS_PER_COMMIT} items listed per commit, found more bundle refs of {head}, not listed"
        )
    );
    // Every listed junk ref (read or not) and the summary are store items, never bundles.
    assert_eq!(junk_lines(&report), MAX_LISTED_ITEMS_PER_COMMIT - good + 1);
}

#[test]
fn a_rewritten_remote_ref_and_one_that_cannot_be_fetched_are_findings_not_exit_3() {
    let (p, remote) = pushed();
    let head = p.head();
    let refs = bundle_refs(&remote, &head);
    assert_eq!(refs.len(), 2, "{refs:?}");
    // Force-rewrite a pushed ref on the remote to another commit (same name, other object).
    let rewritten = refs[0].clone();
    let other = bundle_commit(&remote, b"{\"rewritten\":true}");
    git(&remote, &["update-ref", &rewritten, &other]);
    // A ref whose object the remote does not have: fetching it fails, alone.
    let broken = format!("refs/ci-attest/{head}/{}", "d".repeat(64));
    let broken_file = remote.join(&broken);
    std::fs::write(&broken_file, format!("{}\n", "1".repeat(40))).expect("plant ref");
    // And a new junk ref that fetches fine: the failure above must not keep it out.
    let blob = git_in(
        &remote,
        &["hash-object", "-w", "--stdin"],
        b"fetched anyway",
    );
    let fetched = format!("refs/ci-attest/{head}/{}", "e".repeat(64));
    git(&remote, &["update-ref", &fetched, &blob]);

    let (out, report) = json(&p, &["verify", "--from", "git"]);
    assert_good_bundle_decides(&out, &report, "on ");
    // Remote items are named by ref and remote (`--remote`, here `origin`).
    let found = junk_finding(&report, &format!("{rewritten} on origin"));
    assert!(
        found.contains(&format!("the remote's ref points at {other}"))
            && found.contains("this clone's was kept"),
        "{found}"
    );
    let found = junk_finding(&report, &format!("{broken} on origin"));
    assert!(
        found.starts_with("expected the remote's ref to fetch without forcing, found: "),
        "{found}"
    );
    assert!(junk_finding(&report, &fetched).contains("found a blob object"));
    // The rewritten ref was not taken: this clone still holds the pushed bundle under that name.
    assert_ne!(git(&p.root, &["rev-parse", &rewritten]), other);
    assert_eq!(junk_lines(&report), 3, "{report:#}");
}

#[test]
fn audit_from_git_refuses_refs_outside_the_namespace_bad_names_and_huge_blobs_clearly() {
    let (p, remote) = pushed();
    let first = p.head();
    p.write("README", "second\n");
    let second = p.commit("second");
    let out = output_within(p.cmd().arg("run"));
    assert!(out.status.success(), "run: {}", text(&out));
    let out = output_within(p.cmd().args(["push", "--range", "HEAD"]));
    assert!(out.status.success(), "push: {}", text(&out));
    let good = bundle_refs(&remote, &first)[0].clone();
    let good_commit = git(&remote, &["rev-parse", &good]);

    // As an attacker with push access to the remote:
    // a ref outside the namespace that `git ls-remote 'refs/ci-attest/*'` still lists (its tail
    // matches), refs under the namespace with names the store never writes, and a bundle ref of
    // the first commit whose blob is over the per-bundle limit (spaces: a tiny pack).
    let outside = format!("refs/heads/refs/ci-attest/{first}/{}", "a".repeat(64));
    git(&remote, &["update-ref", &outside, &good_commit]);
    let bad_names = [
        "refs/ci-attest/junk".to_string(),
        format!("refs/ci-attest/{}/{}", first.to_uppercase(), "a".repeat(64)),
        format!("refs/ci-attest/{first}/{}/x", "a".repeat(64)),
    ];
    for name in &bad_names {
        git(&remote, &["update-ref", name, &good_commit]);
    }
    let mut huge = vec![b' '; MAX_BUNDLE_BYTES];
    huge.push(b'!');
    let huge_ref = format!(
        "refs/ci-attest/{first}/{}",
        hex::encode(Sha256::digest(&huge))
    );
    git(
        &remote,
        &["update-ref", &huge_ref, &bundle_commit(&remote, &huge)],
    );

    let (out, audit) = json(&p, &["audit", "--range", "HEAD", "--from", "git"]);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}\n{audit:#}", text(&out));
    assert!(
        said.contains("fetched 5 bundle(s) for 2 commit(s) from git remote origin (1 new, 4 already here, 4 refused)"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "refused: {outside} on origin: expected a ref under refs/ci-attest/ (nothing else is ever fetched), found \"{outside}\""
        )),
        "{said}"
    );
    for name in &bad_names {
        assert!(
            said.contains(&format!(
                "refused: {name} on origin: expected refs/ci-attest/<commit id>/<sha256 hex of the bundle>, found \"{name}\""
            )),
            "{said}"
        );
    }
    // Nothing outside what the store writes was written to this clone.
    let local = git(&p.root, &["for-each-ref", "--format=%(refname)"]);
    assert!(!local.contains(&outside), "{local}");
    for name in &bad_names {
        assert!(!local.lines().any(|l| l == name), "{local}");
    }
    // The huge blob was fetched (its pack is small) but is never read: a finding on its line.
    let commits = audit["commits"].as_array().expect("commits");
    assert_eq!(commits[1]["commit"], second.as_str());
    assert_eq!(
        junk_finding(&commits[0], &huge_ref),
        format!(
            "expected at most {MAX_BUNDLE_BYTES} bytes, found {} bytes",
            MAX_BUNDLE_BYTES + 1
        )
    );
    assert_eq!(audit["accepted"], 2, "{audit:#}");
}
