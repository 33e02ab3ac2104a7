//! End to end against a stateful fake GitHub on 127.0.0.1: `run`, `push --to github`,
//! `verify --from github --report check|status`, `push --notify`, and resilience (429, 502, a
//! dropped connection, 401).

mod common;
mod github_fake;

use common::{Project, text};
use github_fake::{FakeGitHub, Fault, TOKEN};
use std::process::{Command, Output};

/// A ci-attest command in `p` talking to the fake.
fn gh_cmd(p: &Project, fake: &FakeGitHub) -> Command {
    let mut c = p.cmd();
    for var in [
        "GH_TOKEN",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_REPOSITORY",
        "GITHUB_API_URL",
    ] {
        c.env_remove(var);
    }
    c.env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_REPOSITORY", "acme/app");
    c
}

fn run_ok(mut c: Command, args: &[&str]) -> Output {
    let out = c.args(args).output().expect("runs");
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    out
}

/// A passing project with a key and one signed run.
fn attested() -> Project {
    let p = Project::passing();
    p.keygen();
    let out = p.run();
    assert!(out.status.success(), "run: {}", text(&out));
    p
}

/// Removes the local bundles so that a verify can only succeed with what it fetched.
fn forget_local_bundles(p: &Project) {
    for b in p.bundles() {
        std::fs::remove_file(b).expect("remove bundle");
    }
}

#[test]
fn pushed_bundles_are_fetched_back_verified_and_reported_as_a_check_run() {
    let fake = FakeGitHub::start();
    let p = attested();
    let head = p.head();
    let out = run_ok(gh_cmd(&p, &fake), &["push", "--to", "github"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("stored as github:acme/app attestation 1"),
        "{}",
        text(&out)
    );
    let uploaded = fake.attestations();
    assert_eq!(
        uploaded.len(),
        2,
        "the local-run and the test-result bundle"
    );
    let info = ci_attest::git::Repo::discover(&p.root)
        .and_then(|r| r.commit_info(&ci_attest::git::CommitId::parse(&head).expect("id")))
        .expect("commit info");
    assert_eq!(uploaded[0].0, info.sha256, "indexed by the subject sha256");
    let post = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("an upload");
    assert_eq!(post.path, "/repos/acme/app/attestations");
    assert!(
        post.json()["bundle"]["dsseEnvelope"].is_object(),
        "bundle sent as an object"
    );

    forget_local_bundles(&p);
    let summary = p.root.join("step-summary.md");
    let mut c = gh_cmd(&p, &fake);
    c.env("GITHUB_STEP_SUMMARY", &summary);
    let out = run_ok(c, &["verify", "--from", "github", "--report", "check"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ACCEPTED"),
        "{}",
        text(&out)
    );
    let runs = fake.check_runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert_eq!(run["name"], "ci-attest");
    assert_eq!(run["head_sha"], head.as_str());
    assert_eq!(run["status"], "completed");
    assert_eq!(run["conclusion"], "success");
    assert_eq!(run["output"]["title"], "ci-attest: accepted");
    let md = run["output"]["summary"].as_str().expect("summary");
    assert!(md.contains("| check | kind | result | figures |"), "{md}");
    assert!(md.contains("| tests |"), "{md}");
    let job_summary = std::fs::read_to_string(&summary).expect("step summary written");
    assert!(job_summary.contains("| check | kind | result | figures |"));
}

#[test]
fn a_rejected_commit_gets_a_failing_check_run_and_a_failure_status() {
    let fake = FakeGitHub::start();
    let p = attested();
    run_ok(gh_cmd(&p, &fake), &["push", "--to", "github"]);
    run_ok(gh_cmd(&p, &fake), &["push", "--to", "github"]); // twice: harmless
    assert_eq!(fake.attestations().len(), 2);
    forget_local_bundles(&p);
    let strict = common::POLICY.replace("min = 85.0", "min = 99.5");
    std::fs::write(p.root.join("policies/strict.toml"), strict).expect("write policy");

    let out = gh_cmd(&p, &fake)
        .args([
            "verify",
            "--from",
            "github",
            "--report",
            "check",
            "--policy",
            "policies/strict.toml",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let run = fake.check_runs().pop().expect("a check run");
    assert_eq!(run["conclusion"], "failure");
    let title = run["output"]["title"].as_str().expect("title");
    assert!(
        title.starts_with("ci-attest: rejected: 1 finding"),
        "{title}"
    );

    let out = gh_cmd(&p, &fake)
        .args([
            "verify",
            "--from",
            "github",
            "--report",
            "status",
            "--policy",
            "policies/strict.toml",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (sha, status) = fake.statuses().pop().expect("a status");
    assert_eq!(sha, p.head());
    assert_eq!(status["state"], "failure");
    assert_eq!(status["context"], "ci-attest");
    let description = status["description"].as_str().expect("description");
    assert!(description.starts_with("rejected"), "{description}");
    assert!(description.chars().count() <= 140);

    run_ok(
        gh_cmd(&p, &fake),
        &["verify", "--from", "github", "--report", "status"],
    );
    let (_, status) = fake.statuses().pop().expect("a status");
    assert_eq!(status["state"], "success");
}

#[test]
fn a_commit_without_attestations_on_github_is_rejected_with_no_attestation() {
    let fake = FakeGitHub::start();
    let p = attested();
    let (out, report) = {
        let out = gh_cmd(&p, &fake)
            .args([
                "verify", "--format", "json", "--from", "github", "--report", "check",
            ])
            .output()
            .expect("runs");
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
        (out, json)
    };
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        common::codes(&report).contains(&"no-attestation".to_string()),
        "{report:#}"
    );
    assert_eq!(fake.check_runs()[0]["conclusion"], "failure");
}

#[test]
fn pages_and_bundle_urls_are_followed_and_storage_gets_no_token() {
    let fake = FakeGitHub::start();
    let p = attested();
    let out = p.run(); // a second bundle for the same commit
    assert!(out.status.success(), "{}", text(&out));
    run_ok(gh_cmd(&p, &fake), &["push", "--to", "github"]);
    assert_eq!(
        fake.attestations().len(),
        3,
        "two local-run bundles; the two runs' test-result statements are the same claim, and \
         deterministic ECDSA (RFC 6979) makes them the same bundle, stored once"
    );
    fake.paginate(1, true);
    forget_local_bundles(&p);
    let (out, report) = {
        let out = gh_cmd(&p, &fake)
            .args(["verify", "--format", "json", "--from", "github"])
            .output()
            .expect("runs");
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
        (out, json)
    };
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        report["bundles"].as_array().map(Vec::len),
        Some(3),
        "every stored bundle is listed (the test-result one is not judged): {report:#}"
    );
    let reqs = fake.requests();
    let lists = reqs
        .iter()
        .filter(|r| r.path.contains("/attestations/sha256:"))
        .count();
    assert_eq!(lists, 3, "three pages of one");
    let storage: Vec<_> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/storage/"))
        .collect();
    assert_eq!(storage.len(), 1);
    assert!(
        storage[0].header("authorization").is_none(),
        "no token to storage"
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(!shown.contains("SECRETSAS"), "signed URL query never shown");
}

#[test]
fn push_notify_sends_a_repository_dispatch_and_git_push_works() {
    let fake = FakeGitHub::start();
    let p = attested();
    let remote = tempfile::tempdir().expect("tempdir");
    common::git(remote.path(), &["init", "--quiet", "--bare"]);
    common::git(
        &p.root,
        &["remote", "add", "origin", &remote.path().to_string_lossy()],
    );
    let out = run_ok(gh_cmd(&p, &fake), &["push", "--to", "git", "--notify"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 new"),
        "{}",
        text(&out)
    );
    let d = fake.dispatches();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["event_type"], "ci-attest");
    assert_eq!(d[0]["client_payload"]["sha"], p.head().as_str());

    forget_local_bundles(&p);
    let refs = common::git(
        &p.root,
        &["for-each-ref", "--format=%(refname)", "refs/ci-attest/"],
    );
    assert!(!refs.is_empty());
    for r in refs.lines() {
        common::git(&p.root, &["update-ref", "-d", r]);
    }
    let out = run_ok(p.cmd(), &["verify", "--from", "git"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ACCEPTED"),
        "{}",
        text(&out)
    );
}

#[test]
fn rate_limits_server_errors_and_dropped_connections_are_retried() {
    let fake = FakeGitHub::start();
    let p = attested();
    fake.fail_next(vec![
        Fault::Status(
            429,
            vec![("retry-after", "1".into())],
            r#"{"message":"slow down"}"#.into(),
        ),
        Fault::Status(502, vec![], "bad gateway".into()),
        Fault::Drop,
    ]);
    let started = std::time::Instant::now();
    run_ok(gh_cmd(&p, &fake), &["push", "--to", "github"]);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "retry-after honoured"
    );
    assert_eq!(fake.attestations().len(), 2);
    let posts = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(
        posts, 5,
        "three failures, then success, then the test-result bundle"
    );

    forget_local_bundles(&p);
    fake.fail_next(vec![Fault::Drop, Fault::Status(503, vec![], String::new())]);
    run_ok(
        gh_cmd(&p, &fake),
        &["verify", "--from", "github", "--report", "check"],
    );
    assert_eq!(fake.check_runs()[0]["conclusion"], "success");
}

#[test]
fn a_rejected_token_is_a_clear_error_that_never_shows_the_token() {
    let fake = FakeGitHub::start();
    let p = attested();
    let secret = "ghp_wrong-secret-value-42";
    let out = gh_cmd(&p, &fake)
        .env("GITHUB_TOKEN", secret)
        .args(["push", "--to", "github"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let all = text(&out);
    assert!(!all.contains(secret), "token leaked: {all}");
    assert!(all.contains("401"), "{all}");
    assert!(all.contains("GITHUB_TOKEN"), "{all}");
    assert!(all.contains("attestations: write"), "{all}");
    assert!(all.contains("`git` store"), "{all}");

    let out = gh_cmd(&p, &fake)
        .env_remove("GITHUB_TOKEN")
        .args(["push", "--to", "github"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("GITHUB_TOKEN"));
}

#[test]
fn audit_from_github_judges_every_commit_of_the_range_from_the_api() {
    let fake = FakeGitHub::start();
    let p = attested();
    run_ok(gh_cmd(&p, &fake), &["push", "--to", "github"]);
    p.write("more.txt", "more\n");
    p.commit("second");
    let out = p.run();
    assert!(out.status.success(), "run: {}", text(&out));
    run_ok(gh_cmd(&p, &fake), &["push", "--to", "github"]);
    forget_local_bundles(&p);
    let commits = common::git(&p.root, &["rev-list", "--count", "HEAD"]);
    let commits: usize = commits.trim().parse().expect("a count");

    let out = run_ok(
        gh_cmd(&p, &fake),
        &[
            "audit", "--from", "github", "--range", "HEAD", "--format", "json",
        ],
    );
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(audit["accepted"], 2, "{audit:#}");
    assert_eq!(audit["rejected"], commits - 2, "{audit:#}");
    let listings = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/attestations/sha256:"))
        .count();
    assert!(listings >= commits, "one listing per commit: {listings}");
}
