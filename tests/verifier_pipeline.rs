//! The one verification pipeline, through the binary: bundles are selected and aged by their
//! *verified* signing time (the log's for keyless bundles, the signed `finishedOn` for key-only
//! ones, recorded as the signer's claim), a replay at `--at T` gives the verdict given at `T`, and
//! the audit's edges are errors rather than empty successes.

mod common;

use ci_attest::sign::keyless::{Services, sign_statement_keyless};
use ci_attest::sign::oidc::IdentityToken;
use common::sigstore_local::{INSTALL_HINT, local, token};
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const IDENTITY: &str = "https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main";

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON")
}

/// The project's local-run statement, as JSON.
fn local_run_statement(p: &Project) -> Value {
    let bundle = p
        .bundles()
        .into_iter()
        .find(|b| !is_test_result(b))
        .expect("a local-run bundle");
    statement_of(&bundle)
}

/// A keyless policy: the project's policy (`max_age = "30d"`) with the local services' identity
/// as the only signer.
fn keyless_policy() -> String {
    let head = POLICY.split("[[signer]]").next().expect("policy");
    let rest = POLICY
        .split("[require]")
        .nth(1)
        .expect("policy has [require]");
    format!(
        "{head}[[signer]]\nname = \"ci\"\nissuer = \"{ISSUER}\"\nidentity = \"{IDENTITY}\"\n\n[require]{rest}"
    )
}

/// Signs `statement` keylessly with the local Fulcio and Rekor (no TSA), writing the bundle to
/// `dir`; returns its path and the log's integrated time.
fn sign_keyless(statement: &Value, dir: &Path, name: &str) -> (PathBuf, SystemTime) {
    let l = local();
    let services = Services {
        fulcio_url: l.fulcio.clone(),
        rekor_url: l.rekor.clone(),
        tsa_url: None,
    };
    let token = IdentityToken::parse(&token(ISSUER, IDENTITY)).expect("token");
    let json = serde_json::to_vec(statement).expect("serialise");
    let bundle = sign_statement_keyless(&json, &token, &services, SystemTime::now())
        .unwrap_or_else(|e| panic!("signs keylessly: {e}; {INSTALL_HINT}"));
    let path = dir.join(name);
    std::fs::write(&path, bundle.to_json()).expect("write");
    let logged = read_json(&path)["verificationMaterial"]["tlogEntries"][0]["integratedTime"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .or_else(|| {
            read_json(&path)["verificationMaterial"]["tlogEntries"][0]["integratedTime"].as_u64()
        })
        .expect("an integrated time");
    (path, UNIX_EPOCH + Duration::from_secs(logged))
}

#[test]
fn keyless_max_age_is_decided_by_the_log_time_not_the_signers_clock() {
    let p = attested();
    let root = local().trusted_root.to_string_lossy().into_owned();
    p.write("policies/keyless.toml", &keyless_policy());
    let dir = tempfile::tempdir().expect("tempdir");

    // The signer's clock claims the run finished 30 days after it was logged: at 31 days after
    // the log time, finishedOn makes it look one day old.
    let mut statement = local_run_statement(&p);
    let (fresh_claim, logged) = {
        // The claim is set relative to the log time, which is only known after signing: sign once
        // to learn the clock of the local Rekor, then sign the lying statement.
        let (_, probe) = sign_keyless(&statement, dir.path(), "probe.json");
        statement["predicate"]["finishedOn"] =
            rfc3339(probe + Duration::from_secs(30 * 86_400)).into();
        statement["predicate"]["startedOn"] = statement["predicate"]["finishedOn"].clone();
        sign_keyless(&statement, dir.path(), "lying-clock.json")
    };
    let at = rfc3339(logged + Duration::from_secs(31 * 86_400));
    let args = |bundle: &Path, at: &str| {
        vec![
            "--bundle".to_string(),
            bundle.display().to_string(),
            "--policy".into(),
            "policies/keyless.toml".into(),
            "--trusted-root".into(),
            root.clone(),
            "--at".into(),
            at.to_string(),
        ]
    };
    let a = args(&fresh_claim, &at);
    let (out, report) = p.verify_json(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "attestation-too-old");
    assert_eq!(report["bundles"][0]["timeSource"], "transparency-log");
    assert_eq!(report["bundles"][0]["signedAt"], rfc3339(logged));
    let found = report["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["code"] == "attestation-too-old"))
        .and_then(|f| f["found"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(found.contains("transparency log time"), "{found}");

    // The other way round: finishedOn claims an old run, the log says it is fresh: accepted.
    statement["predicate"]["finishedOn"] =
        rfc3339(logged - Duration::from_secs(90 * 86_400)).into();
    statement["predicate"]["startedOn"] = statement["predicate"]["finishedOn"].clone();
    let (old_claim, logged) = sign_keyless(&statement, dir.path(), "old-claim.json");
    let a = args(&old_claim, &rfc3339(logged + Duration::from_secs(3600)));
    let (out, report) = p.verify_json(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["verdict"], "accepted");
}

#[test]
fn a_replay_at_t_ignores_bundles_signed_after_t() {
    let p = attested();
    let finished = bundle_time(&p.bundles()[0], 0);
    let t0 = humantime::parse_rfc3339(&finished).expect("time");
    // An older passing run, and a newer failing one, both signed by the trusted key.
    let older = resign(
        &p,
        |st| st["predicate"]["finishedOn"] = rfc3339(t0 - Duration::from_secs(7200)).into(),
        None,
    );
    // `resign` names its output by the store's bundle count: keep the first one aside.
    let kept = p.root.join("older.json");
    std::fs::rename(&older, &kept).expect("rename");
    let older = kept;
    let newer = resign(
        &p,
        |st| {
            st["predicate"]["finishedOn"] = rfc3339(t0).into();
            st["predicate"]["checks"][0]["result"] = "FAILED".into();
        },
        None,
    );
    let verify_at = |at: SystemTime| {
        p.verify_json(&[
            "--bundle",
            &older.display().to_string(),
            "--bundle",
            &newer.display().to_string(),
            "--at",
            &rfc3339(at),
        ])
    };
    // Now: the newer, failing run decides.
    let (out, report) = verify_at(t0 + Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "check-failed");
    assert_eq!(report["bundles"][1]["selected"], true);
    assert_eq!(report["bundles"][1]["timeSource"], "signer-claim");

    // An hour before the newer run existed, the older passing one was the verdict.
    let (out, report) = verify_at(t0 - Duration::from_secs(3600));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["bundles"][0]["selected"], true);
    assert_eq!(report["bundles"][1]["selected"], false);
    assert_noted(&report, "attestation-from-future");
}

#[test]
fn an_empty_audit_range_is_a_usage_error() {
    let p = attested();
    let out = p
        .cmd()
        .args(["audit", "--range", "HEAD..HEAD"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("holds no commits"), "{said}");
    assert!(said.contains("HEAD..HEAD"), "{said}");
}

#[test]
fn a_key_only_bundle_records_its_time_as_the_signers_claim() {
    let p = attested();
    let (out, report) = p.verify_json(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let selected = report["bundles"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["selected"] == true))
        .expect("a selected bundle");
    assert_eq!(selected["timeSource"], "signer-claim");
    assert_eq!(selected["signedAt"], selected["finishedOn"]);
}
