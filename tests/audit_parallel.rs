//! The audit at the speed of verification gives the sequential audit's answer: one `cat-file
//! --batch` for the range, one listing of the store and judging on every core change neither the
//! order nor a byte of the report, over a range of accepted, rejected and unattested commits that
//! spans several parallel batches.

mod common;

use ci_attest::git::{CommitId, Repo};
use ci_attest::judge::{AUDIT_BATCH_COMMITS, Judge, MAX_AUDIT_COMMITS};
use ci_attest::policy::Policy;
use ci_attest::report::{AUDIT_SCHEMA, AuditReport, Verdict};
use ci_attest::sign::key::SigningKey;
use ci_attest::store::Store;
use ci_attest::store::dir::DirStore;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

/// Adds `n` commits on top of HEAD's branch with one `git fast-import`.
fn add_commits(root: &std::path::Path, n: usize) {
    let branch = git(root, &["symbolic-ref", "HEAD"]);
    let head = git(root, &["rev-parse", "HEAD"]);
    let mut stream = Vec::new();
    for i in 0..n {
        write!(
            stream,
            "commit {branch}\ncommitter t <t@example.invalid> {} +0000\ndata 2\n{}\n",
            1_700_000_000 + i,
            i % 10
        )
        .expect("write");
        if i == 0 {
            writeln!(stream, "from {head}").expect("write");
        }
        let content = format!("{i}\n");
        write!(
            stream,
            "M 644 inline n\ndata {}\n{content}\n",
            content.len()
        )
        .expect("write");
    }
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .spawn()
        .expect("fast-import");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&stream)
        .expect("feed");
    assert!(child.wait().expect("waits").success());
}

/// The project's statement rewritten for `commit`, signed by `key`.
fn bundle_for(
    statement: &serde_json::Value,
    repo: &Repo,
    commit: &CommitId,
    key: &SigningKey,
) -> String {
    let info = repo.commit_info(commit).expect("commit");
    let mut s = statement.clone();
    let name = s["subject"][0]["name"].as_str().expect("name").to_owned();
    let repo_name = name.rsplit_once('@').expect("name@commit").0.to_owned();
    s["subject"][0]["name"] = format!("{repo_name}@{commit}").into();
    s["subject"][0]["digest"]["gitCommit"] = commit.to_string().into();
    s["subject"][0]["digest"]["sha256"] = info.sha256.into();
    s["predicate"]["source"]["commit"] = commit.to_string().into();
    s["predicate"]["source"]["tree"] = info.tree.into();
    let json = serde_json::to_vec(&s).expect("serialise");
    ci_attest::sign::sign_statement(&json, key).to_json()
}

#[test]
fn a_parallel_audit_is_byte_identical_to_judging_commit_by_commit() {
    let p = attested();
    let extra = AUDIT_BATCH_COMMITS + 60;
    add_commits(&p.root, extra);
    let repo = Repo::discover(&p.root).expect("repo");
    let commits = repo.rev_list("HEAD", MAX_AUDIT_COMMITS).expect("range");
    assert_eq!(commits.len(), extra + 1);
    let template = p.bundles()[0].clone();
    let statement = statement_of(&template);
    let pem = std::fs::read(p.root.join("keys/ci-attest.key")).expect("key");
    let key = SigningKey::from_pkcs8_pem(&pem, None).expect("unencrypted test key");
    let stranger = SigningKey::generate().expect("key");
    let store_dir = p.root.join(".ci-attest");
    let put = |commit: &CommitId, n: u32, bytes: &[u8]| {
        std::fs::write(store_dir.join(format!("{commit}.{n}.sigstore.json")), bytes)
            .expect("write bundle");
    };
    // Commit 0 keeps the bundles `run` made; the others get a mix.
    for (i, commit) in commits.iter().enumerate().skip(1) {
        match i % 7 {
            0 => {} // unattested
            1 => {
                // A bundle for the commit before: the subject does not match.
                let other = &commits[i - 1];
                put(
                    commit,
                    1,
                    bundle_for(&statement, &repo, other, &key).as_bytes(),
                );
            }
            2 => {
                // A good bundle and a second one that is not a bundle.
                put(
                    commit,
                    1,
                    bundle_for(&statement, &repo, commit, &key).as_bytes(),
                );
                put(commit, 2, b"{\"not\": \"a bundle\"}");
            }
            3 => {
                // Signed by a key the policy does not trust.
                let b = bundle_for(&statement, &repo, commit, &stranger);
                put(commit, 1, b.as_bytes());
            }
            4 => put(commit, 1, b"garbage"),
            _ => put(
                commit,
                1,
                bundle_for(&statement, &repo, commit, &key).as_bytes(),
            ),
        }
    }
    let policy = Policy::load(&p.root.join("policies/default.toml")).expect("policy");
    let store = DirStore::new(&store_dir);
    let root = ci_attest::trust::TrustedRoot::production();
    let at = humantime::parse_rfc3339(&bundle_time(&template, 3600)).expect("time");
    let judge = Judge::new(&policy, &store, &root, at);

    let audit = judge.audit(&repo, "HEAD", &store).expect("audit");

    // The sequential answer: one commit after another, each read and fetched on its own.
    let reports: Vec<_> = commits
        .iter()
        .map(|id| {
            let commit = repo.commit_info(id).expect("commit");
            judge.commit(&commit, &store.fetch(id).expect("fetch"))
        })
        .collect();
    let accepted = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Accepted)
        .count();
    let sequential = AuditReport {
        schema: AUDIT_SCHEMA,
        range: "HEAD".into(),
        policy: policy.file.clone(),
        at: humantime::format_rfc3339_seconds(at).to_string(),
        accepted,
        rejected: reports.len() - accepted,
        unattested: commits
            .iter()
            .filter(|id| store.fetch(id).expect("fetch").bundles.is_empty())
            .count(),
        commits: reports,
        sample: None,
    };
    // The mix is there: the comparison below is not between two empty answers.
    assert!(sequential.accepted > extra / 3, "{}", sequential.accepted);
    assert!(sequential.rejected > extra / 3, "{}", sequential.rejected);
    assert!(
        sequential.unattested >= extra / 7,
        "{}",
        sequential.unattested
    );
    assert_eq!(audit.to_json(), sequential.to_json());
    assert_eq!(audit.to_markdown(), sequential.to_markdown());
    assert_eq!(audit.to_text(), sequential.to_text());
}
