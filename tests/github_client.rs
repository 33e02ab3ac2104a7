//! The GitHub client's behaviour on rate limits, size limits and errors, against the fake GitHub
//! on 127.0.0.1 (real HTTP).

mod github_fake;

use ci_attest::github::{
    Conclusion, GitHub, GitHubConfig, GitHubError, Repository, RetryPolicy, StatusState,
};
use github_fake::{FakeGitHub, Fault, REPOSITORY_ID, TOKEN};
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn client(fake: &FakeGitHub, token: &str) -> GitHub {
    GitHub::new(
        GitHubConfig {
            api_url: fake.url(),
            token: Some(token.into()),
            token_variable: "GITHUB_TOKEN",
            repository: Repository::parse("acme/app").expect("repository"),
            retry: RetryPolicy {
                first_delay: Duration::from_millis(50),
                max_total_wait: Duration::from_secs(10),
                ..RetryPolicy::default()
            },
        },
        SystemTime::now,
    )
    .expect("client")
}

#[test]
fn a_rate_limit_longer_than_the_budget_fails_at_once_and_says_when() {
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    fake.fail_next(vec![Fault::Status(
        429,
        vec![("retry-after", "3600".into())],
        r#"{"message":"API rate limit exceeded"}"#.into(),
    )]);
    let started = Instant::now();
    let e = gh
        .create_commit_status(COMMIT, StatusState::Success, "accepted", None)
        .expect_err("rate limited");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no hour-long wait"
    );
    assert!(matches!(e, GitHubError::RateLimited { .. }), "{e}");
    assert!(e.to_string().contains("3600s"), "{e}");
    assert!(fake.statuses().is_empty());
}

#[test]
fn a_secondary_rate_limit_waits_for_the_reset_time() {
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 1;
    fake.fail_next(vec![Fault::Status(
        403,
        vec![
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", reset.to_string()),
        ],
        r#"{"message":"You have exceeded a secondary rate limit"}"#.into(),
    )]);
    let started = Instant::now();
    gh.repository_dispatch(COMMIT)
        .expect("retried after the reset");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(fake.dispatches().len(), 1);
}

#[test]
fn persistent_server_errors_give_up_after_the_attempt_limit() {
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    fake.fail_next(vec![Fault::Status(500, vec![], String::new()); 10]);
    let e = gh.repository_dispatch(COMMIT).expect_err("gives up");
    assert!(
        matches!(e, GitHubError::Unavailable { attempts: 6, .. }),
        "{e}"
    );
    assert_eq!(fake.requests().len(), 6);
}

#[test]
fn a_forbidden_call_names_the_permission_and_is_not_retried() {
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    fake.fail_next(vec![Fault::Status(
        403,
        vec![],
        r#"{"message":"Resource not accessible by personal access token"}"#.into(),
    )]);
    let e = gh
        .create_check_run(COMMIT, Conclusion::Success, "t", "s")
        .expect_err("forbidden");
    let text = e.to_string();
    assert!(text.contains("checks: write"), "{text}");
    assert!(text.contains("GitHub App"), "{text}");
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn a_missing_repository_is_a_clear_404_pointing_to_the_git_store() {
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    fake.fail_next(vec![Fault::Status(
        404,
        vec![],
        r#"{"message":"Not Found"}"#.into(),
    )]);
    let e = gh.upload_attestation(b"{}").expect_err("404");
    let text = e.to_string();
    assert!(text.contains("404"), "{text}");
    assert!(text.contains("/repos/acme/app/attestations"), "{text}");
    assert!(text.contains("GITHUB_TOKEN"), "{text}");
    assert!(text.contains("actions/attest"), "{text}");
    assert!(text.contains("`git` store"), "{text}");
}

#[test]
fn a_404_listing_means_no_attestations() {
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    fake.fail_next(vec![Fault::Status(
        404,
        vec![],
        r#"{"message":"Not Found"}"#.into(),
    )]);
    assert!(
        ci_attest::store::github::fetch_attestations(&gh, &"b".repeat(64))
            .expect("empty")
            .bundles
            .is_empty()
    );
}

#[test]
fn the_token_is_redacted_even_when_the_server_echoes_it() {
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    fake.fail_next(vec![Fault::Status(
        422,
        vec![],
        format!(r#"{{"message":"bad request from token {TOKEN}"}}"#),
    )]);
    let e = gh.repository_dispatch(COMMIT).expect_err("refused");
    let text = e.to_string();
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("***"), "{text}");
    assert!(!format!("{gh:?}").contains(TOKEN));
}

#[test]
fn oversized_responses_are_refused() {
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    let huge = format!(r#"{{"message":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    // Raw calls (the attestations API) read every answer with a limit.
    fake.fail_next(vec![Fault::Status(201, vec![], huge.clone())]);
    let bundle = r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#;
    let e = gh
        .upload_attestation(bundle.as_bytes())
        .expect_err("too large");
    assert!(matches!(e, GitHubError::TooLarge { .. }), "{e}");
    // Typed calls are read by octocrab: an answer that is not its model is a typed error.
    fake.fail_next(vec![Fault::Status(201, vec![], huge)]);
    let e = gh
        .create_commit_status(COMMIT, StatusState::Success, "ok", None)
        .expect_err("not a status");
    assert!(matches!(e, GitHubError::Invalid { .. }), "{e}");
}

#[test]
fn the_repository_id_comes_from_the_repository_metadata() {
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    assert_eq!(gh.repository_id().expect("repository id"), REPOSITORY_ID);
    let get = fake.requests().pop().expect("a request");
    assert_eq!(
        (get.method.as_str(), get.path.as_str()),
        ("GET", "/repos/acme/app")
    );
    // Retried like every call: a 502 then the answer.
    fake.fail_next(vec![Fault::Status(502, vec![], String::new())]);
    assert_eq!(gh.repository_id().expect("after a retry"), REPOSITORY_ID);
    // Without a token, nothing is sent.
    let none = GitHub::new(
        GitHubConfig {
            token: None,
            ..gh.config().clone()
        },
        SystemTime::now,
    )
    .expect("client");
    let sent = fake.requests().len();
    assert!(matches!(
        none.repository_id(),
        Err(GitHubError::NoToken { .. })
    ));
    assert_eq!(fake.requests().len(), sent);
}

#[test]
fn a_check_run_is_created_with_a_neutral_conclusion_and_the_given_clock() {
    let fake = FakeGitHub::start();
    let at = UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01T00:00:00Z
    let gh = GitHub::new(client(&fake, TOKEN).config().clone(), move || at).expect("client");
    let url = gh
        .create_check_run(COMMIT, Conclusion::Neutral, "t", "s")
        .expect("created");
    assert_eq!(url.as_deref(), Some("https://github.com/acme/app/runs/7"));
    let run = &fake.check_runs()[0];
    assert_eq!(run["conclusion"], "neutral");
    assert_eq!(run["status"], "completed");
    assert_eq!(run["completed_at"], "2026-01-01T00:00:00Z");
}

#[test]
fn a_dropped_connection_is_retried_for_typed_and_raw_calls() {
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    fake.fail_next(vec![Fault::Drop]);
    gh.create_commit_status(COMMIT, StatusState::Success, "ok", None)
        .expect("retried");
    assert_eq!(fake.statuses().len(), 1);
    fake.fail_next(vec![Fault::Drop]);
    assert!(
        ci_attest::store::github::fetch_attestations(&gh, &"e".repeat(64))
            .expect("retried")
            .bundles
            .is_empty()
    );
}

#[test]
fn no_attestations_is_an_empty_list_not_an_error() {
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    assert!(
        ci_attest::store::github::fetch_attestations(&gh, &"c".repeat(64))
            .expect("list")
            .bundles
            .is_empty()
    );
}

/// A repository of `n` empty commits: the folder (keep it), the repository and the commit ids,
/// oldest first.
fn repo_with_commits(
    n: usize,
) -> (
    tempfile::TempDir,
    ci_attest::git::Repo,
    Vec<ci_attest::git::CommitId>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "--quiet"]);
    let repo = ci_attest::git::Repo::discover(dir.path()).expect("repo");
    let ids = (0..n)
        .map(|i| {
            git(&["commit", "--quiet", "--allow-empty", "-m", &format!("c{i}")]);
            repo.resolve("HEAD").expect("head")
        })
        .collect();
    (dir, repo, ids)
}

/// A bundle (unsigned: the store does not verify) whose statement's subject is `id`, told apart
/// from others of the same commit by `n`.
fn bundle_for(repo: &ci_attest::git::Repo, id: &ci_attest::git::CommitId, n: usize) -> Value {
    use base64::Engine;
    let info = repo.commit_info(id).expect("info");
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "x", "digest": {"gitCommit": id.as_str(), "sha256": info.sha256}}],
        "predicate": {"n": n},
    });
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "dsseEnvelope": {
            "payload": base64::engine::general_purpose::STANDARD.encode(statement.to_string()),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": "AA==", "keyid": "k"}],
        },
    })
}

#[test]
fn the_github_store_puts_and_fetches_by_the_commit_object_digest() {
    use ci_attest::store::Store;
    use ci_attest::store::github::{GitHubStore, github_error};
    let (_dir, repo, ids) = repo_with_commits(1);
    let id = ids[0].clone();
    let bundle = bundle_for(&repo, &id, 0);
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    let store = GitHubStore::new(&gh, repo);
    let location = store.put(&id, bundle.to_string().as_bytes()).expect("put");
    assert_eq!(location, "github:acme/app attestation 1");
    let fetched = store.fetch(&id).expect("fetch").bundles;
    assert_eq!(fetched.len(), 1);
    let back: serde_json::Value = serde_json::from_slice(&fetched[0].bytes).expect("json");
    assert_eq!(back, bundle);

    fake.fail_next(vec![Fault::Status(401, vec![], "{}".into())]);
    let e = store.fetch(&id).expect_err("401");
    assert!(
        matches!(github_error(&e), Some(GitHubError::Unauthorized { .. })),
        "{e}"
    );
}

#[test]
fn one_bad_attestation_entry_is_a_rejected_item_beside_the_good_ones() {
    use ci_attest::store::ItemProblem;
    use ci_attest::store::github::fetch_attestations;
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    let good = r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#;
    let page = format!(
        r#"{{"attestations":[{{"bundle":{good},"repository_id":1}},{{"bundle":null,"repository_id":1}},{{"bundle":null,"repository_id":1,"bundle_url":"{}/storage/bundles/999?sig=SECRETSAS"}}]}}"#,
        fake.url()
    );
    fake.fail_next(vec![Fault::Status(200, vec![], page)]);
    let fetched = fetch_attestations(&gh, &"d".repeat(64)).expect("the listing itself works");
    assert_eq!(fetched.bundles.len(), 1, "{fetched:?}");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&fetched.bundles[0].bytes).expect("json"),
        serde_json::from_str::<serde_json::Value>(good).expect("json")
    );
    assert_eq!(fetched.rejected.len(), 2, "{fetched:?}");
    assert!(matches!(
        fetched.rejected[0].problem,
        ItemProblem::NotAFile { .. }
    ));
    assert!(matches!(
        fetched.rejected[1].problem,
        ItemProblem::FetchFailed { .. }
    ));
    // The signed storage URL's query is never shown.
    let shown = format!("{:?}", fetched.rejected);
    assert!(!shown.contains("SECRETSAS"), "{shown}");
}

#[test]
fn the_bundle_urls_of_a_listing_download_side_by_side_and_come_back_in_listing_order() {
    use ci_attest::store::Store;
    use ci_attest::store::github::GitHubStore;
    let (_dir, repo, ids) = repo_with_commits(1);
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    let bundles: Vec<Value> = (0..12).map(|n| bundle_for(&repo, &ids[0], n)).collect();
    for b in &bundles {
        gh.upload_attestation(b.to_string().as_bytes())
            .expect("upload");
    }
    // Every other attestation is served through a bundle_url: six downloads, each held until
    // four are in flight at once.
    fake.paginate(100, true);
    fake.hold_until_in_flight(4, "/storage/");
    let store = GitHubStore::new(&gh, repo);
    let fetched = store.fetch(&ids[0]).expect("fetch");
    assert!(fetched.rejected.is_empty(), "{:?}", fetched.rejected);
    let back: Vec<Value> = fetched
        .bundles
        .iter()
        .map(|b| serde_json::from_slice(&b.bytes).expect("json"))
        .collect();
    assert_eq!(
        back, bundles,
        "listing order, whatever order downloads finished in"
    );
    let most = fake.max_in_flight();
    assert!(
        (4..=8).contains(&most),
        "expected 4 to 8 downloads at once (the client's limit is 8), found {most}"
    );
}

#[test]
fn the_listings_of_many_commits_overlap_and_each_commit_gets_its_own_bundles() {
    use ci_attest::store::Store;
    use ci_attest::store::github::GitHubStore;
    let (_dir, repo, ids) = repo_with_commits(5);
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    for (n, id) in ids.iter().enumerate() {
        gh.upload_attestation(bundle_for(&repo, id, n).to_string().as_bytes())
            .expect("upload");
    }
    fake.hold_until_in_flight(5, "/repos/acme/app/attestations/sha256:");
    let store = GitHubStore::new(&gh, repo.clone());
    let fetched = store.fetch_many(&ids);
    assert_eq!(fetched.len(), ids.len());
    for (n, (id, result)) in ids.iter().zip(fetched).enumerate() {
        let bundles = result.expect("fetched").bundles;
        assert_eq!(bundles.len(), 1, "commit {n}");
        let back: Value = serde_json::from_slice(&bundles[0].bytes).expect("json");
        assert_eq!(
            back,
            bundle_for(&repo, id, n),
            "commit {n} got its own bundle"
        );
    }
    assert_eq!(fake.max_in_flight(), 5, "all five listings at once");
}

#[test]
fn a_failing_listing_fails_only_its_own_commit() {
    use ci_attest::store::Store;
    use ci_attest::store::github::{GitHubStore, github_error};
    let (_dir, repo, ids) = repo_with_commits(3);
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    fake.fail_next(vec![Fault::Status(401, vec![], "{}".into())]);
    let fetched = GitHubStore::new(&gh, repo).fetch_many(&ids);
    let failed = fetched.iter().filter(|r| r.is_err()).count();
    assert_eq!(failed, 1, "{fetched:?}");
    for r in &fetched {
        match r {
            Ok(f) => assert!(f.bundles.is_empty() && f.rejected.is_empty()),
            Err(e) => assert!(
                matches!(github_error(e), Some(GitHubError::Unauthorized { .. })),
                "{e}"
            ),
        }
    }
}

#[test]
fn the_bundles_of_a_push_upload_side_by_side() {
    use ci_attest::store::Store;
    use ci_attest::store::github::GitHubStore;
    let (_dir, repo, ids) = repo_with_commits(1);
    let fake = FakeGitHub::start();
    let gh = client(&fake, TOKEN);
    let bundles: Vec<String> = (0..4)
        .map(|n| bundle_for(&repo, &ids[0], n).to_string())
        .collect();
    let bytes: Vec<&[u8]> = bundles.iter().map(|b| b.as_bytes()).collect();
    fake.hold_until_in_flight(4, "/repos/acme/app/attestations");
    let stored = GitHubStore::new(&gh, repo).put_many(&ids[0], &bytes);
    let mut locations: Vec<String> = stored.into_iter().map(|r| r.expect("stored")).collect();
    locations.sort();
    assert_eq!(
        locations,
        (1..=4)
            .map(|n| format!("github:acme/app attestation {n}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(fake.max_in_flight(), 4, "all four uploads at once");
    let mut uploaded: Vec<String> = fake
        .attestations()
        .into_iter()
        .map(|(_, b)| b.to_string())
        .collect();
    uploaded.sort();
    let mut sent: Vec<String> = bundles
        .iter()
        .map(|b| serde_json::from_str::<Value>(b).expect("json").to_string())
        .collect();
    sent.sort();
    assert_eq!(uploaded, sent);
}
