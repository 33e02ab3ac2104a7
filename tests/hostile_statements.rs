//! Statements that lie about themselves, re-signed by the trusted key so that only the statement
//! checks can catch them, verified through the real binary: each is rejected with its own code.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// The project's local-run bundle as ci-attest wrote it.
fn original(p: &Project) -> PathBuf {
    let bundles = p.bundles();
    assert_eq!(bundles.len(), 1, "one local-run bundle: {bundles:?}");
    bundles[0].clone()
}

/// The DSSE payload of a bundle file, as the bytes that were signed.
fn payload_of(bundle: &Path) -> Vec<u8> {
    use ci_attest::bundle::{Bundle, Content};
    let bundle = Bundle::from_slice(&std::fs::read(bundle).expect("read")).expect("bundle parses");
    let Content::DsseEnvelope(env) = bundle.content else {
        panic!("our bundles hold an envelope")
    };
    env.payload
}

/// Signs `payload` with the project's trusted key as a key-signed bundle written to `out`
/// (the pattern of `common::resign`, on raw bytes: a `serde_json::Value` cannot hold a duplicate key).
fn sign_raw(p: &Project, payload: Vec<u8>, out: &Path) -> PathBuf {
    use ci_attest::bundle::Bundle;
    use ci_attest::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, Signature, pae};
    use ci_attest::sign::key::SigningKey;
    let pem = std::fs::read(p.root.join("keys/ci-attest.key")).expect("key");
    let key = SigningKey::from_pkcs8_pem(&pem, None).expect("unencrypted test key");
    let key_id = key.public_key().key_id();
    let envelope = Envelope {
        payload: payload.clone(),
        payload_type: IN_TOTO_PAYLOAD_TYPE.to_string(),
        signatures: vec![Signature {
            sig: key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, &payload)),
            keyid: key_id.to_string(),
        }],
    };
    let bundle = Bundle::for_key_signed_envelope(envelope, &key_id);
    std::fs::write(out, bundle.to_json()).expect("write");
    out.to_path_buf()
}

/// Re-signs the project's bundle with the trusted key after `edit` rewrote the payload's bytes.
fn resign_raw(p: &Project, edit: impl FnOnce(Vec<u8>) -> Vec<u8>) -> PathBuf {
    let payload = edit(payload_of(&original(p)));
    sign_raw(p, payload, &p.root.join("resigned-raw.json"))
}

/// Re-signs the statement of bundle `from` after `edit` changed it, written to `out`.
fn resign_from(
    p: &Project,
    from: &Path,
    out: &Path,
    edit: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    let mut statement: serde_json::Value =
        serde_json::from_slice(&payload_of(from)).expect("statement JSON");
    edit(&mut statement);
    sign_raw(p, serde_json::to_vec(&statement).expect("serialise"), out)
}

/// Re-signs the project's bundle after `edit` changed its statement.
fn resign_value(p: &Project, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    resign_from(p, &original(p), &p.root.join("forged.json"), edit)
}

/// Replaces the one occurrence of `from` in the payload.
fn replace_once(payload: Vec<u8>, from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(payload).expect("payload is UTF-8");
    assert_eq!(text.matches(from).count(), 1, "{from} once in {text}");
    text.replacen(from, to, 1).into_bytes()
}

/// `verify --bundle <bundle> --format json`, a minute after the original bundle's own time.
fn verify(p: &Project, bundle: &Path) -> serde_json::Value {
    let at = bundle_time(&original(p), 60);
    let (_, report) = p.verify_json(&["--bundle", bundle.to_str().expect("utf-8"), "--at", &at]);
    report
}

/// The statement was re-signed properly: nothing but the statement check is wrong with it.
fn assert_signature_fine(report: &serde_json::Value) {
    let all: Vec<String> = report["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .flat_map(|b| b["findings"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f["code"].as_str().map(str::to_string))
        .collect();
    for code in [
        "signature-invalid",
        "signer-untrusted",
        "subject-commit-mismatch",
    ] {
        assert!(!all.iter().any(|c| c == code), "{code} in {report:#}");
    }
}

#[test]
fn a_faithfully_resigned_statement_is_accepted() {
    // The control: the raw re-sign helper alone changes nothing a verifier cares about.
    let p = attested();
    let same = resign_raw(&p, |payload| payload);
    let report = verify(&p, &same);
    assert_eq!(report["verdict"], "accepted", "{report:#}");
}

#[test]
fn a_duplicate_git_commit_digest_is_rejected() {
    let p = attested();
    let head = p.head();
    let other = "0".repeat(40);
    // Ours last: a parser that keeps the last key sees this commit, one that keeps the first does not.
    let twice = resign_raw(&p, |payload| {
        replace_once(
            payload,
            &format!("\"gitCommit\":\"{head}\""),
            &format!("\"gitCommit\":\"{other}\",\"gitCommit\":\"{head}\""),
        )
    });
    let report = verify(&p, &twice);
    assert_finding(&report, "statement-duplicate-key");
    assert_signature_fine(&report);
    let found = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "statement-duplicate-key")
        .and_then(|f| f["found"].as_str())
        .expect("found");
    assert!(found.contains("subject[0].digest.gitCommit"), "{found}");
}

#[test]
fn a_duplicate_finished_on_is_rejected() {
    let p = attested();
    let statement = statement_of(&original(&p));
    let finished = statement["predicate"]["finishedOn"]
        .as_str()
        .expect("finishedOn")
        .to_string();
    let later = bundle_time(&original(&p), 3600);
    let twice = resign_raw(&p, |payload| {
        replace_once(
            payload,
            &format!("\"finishedOn\":\"{finished}\""),
            &format!("\"finishedOn\":\"{finished}\",\"finishedOn\":\"{later}\""),
        )
    });
    let report = verify(&p, &twice);
    assert_finding(&report, "statement-duplicate-key");
    assert_signature_fine(&report);
    assert!(
        report.to_string().contains("predicate.finishedOn"),
        "{report:#}"
    );
}

#[test]
fn a_duplicate_key_deep_inside_a_check_is_rejected() {
    let p = attested();
    let twice = resign_raw(&p, |payload| {
        // `"passed":3` is the tests' own count (the report's summary has no `passed`).
        replace_once(payload, "\"passed\":3", "\"passed\":3,\"passed\":4")
    });
    let report = verify(&p, &twice);
    assert_finding(&report, "statement-duplicate-key");
    assert!(
        report
            .to_string()
            .contains("predicate.checks[0].tests.passed"),
        "{report:#}"
    );
}

#[test]
fn more_tests_passed_than_ran_is_rejected() {
    let p = attested();
    let forged = resign_value(&p, |s| {
        let tests = &mut s["predicate"]["checks"][0]["tests"];
        let total = tests["total"].as_u64().expect("total");
        tests["passed"] = (total + 10).into();
    });
    let report = verify(&p, &forged);
    assert_finding(&report, "test-counts-inconsistent");
    assert_signature_fine(&report);
}

#[test]
fn more_lines_covered_than_exist_is_rejected() {
    let p = attested();
    let forged = resign_value(&p, |s| {
        let lines = &mut s["predicate"]["checks"][1]["coverage"]["lines"];
        let total = lines["total"].as_u64().expect("total");
        lines["covered"] = (total + 1).into();
        lines["percent"] = 100.0.into();
    });
    let report = verify(&p, &forged);
    assert_finding(&report, "coverage-counts-inconsistent");
    assert_signature_fine(&report);
}

#[test]
fn a_percent_the_counts_do_not_give_is_rejected() {
    let p = attested();
    let forged = resign_value(&p, |s| {
        s["predicate"]["checks"][1]["coverage"]["lines"] =
            serde_json::json!({"covered": 1, "total": 100, "percent": 100.0});
    });
    let report = verify(&p, &forged);
    assert_finding(&report, "coverage-percent-inconsistent");
    assert_signature_fine(&report);
}

#[test]
fn two_checks_of_one_name_are_rejected() {
    let p = attested();
    let forged = resign_value(&p, |s| {
        let checks = s["predicate"]["checks"].as_array_mut().expect("checks");
        let mut failed = checks[0].clone();
        assert_eq!(failed["name"], "tests");
        failed["result"] = "FAILED".into();
        failed["exitCode"] = 1.into();
        let passed = failed["tests"]["passed"].as_u64().expect("passed");
        failed["tests"]["passed"] = (passed - 1).into();
        failed["tests"]["failed"] = 1.into();
        // PASSED first, FAILED second.
        checks.push(failed);
    });
    let report = verify(&p, &forged);
    assert_finding(&report, "check-name-duplicate");
    assert_signature_fine(&report);
}

#[test]
fn a_time_in_another_spelling_is_rejected() {
    let p = attested();
    let spellings: [fn(&str) -> String; 5] = [
        |t: &str| t.replacen('T', " ", 1),
        |t: &str| t.trim_end_matches('Z').to_string(),
        |t: &str| t.to_ascii_lowercase(),
        |t: &str| format!(" {t}"),
        |t: &str| format!("{t}junk"),
    ];
    for spelling in spellings {
        let forged = resign_value(&p, |s| {
            let t = s["predicate"]["finishedOn"].as_str().expect("finishedOn");
            s["predicate"]["finishedOn"] = spelling(t).into();
        });
        let report = verify(&p, &forged);
        assert_finding(&report, "statement-time-invalid");
        assert_signature_fine(&report);
    }
    let forged = resign_value(&p, |s| {
        s["predicate"]["startedOn"] = "1969-12-31T23:59:59Z".into();
    });
    let report = verify(&p, &forged);
    assert_finding(&report, "statement-time-invalid");
}

/// Two bundles for one commit in the store: an older PASSED one whose `finishedOn` is spelled by
/// `spell` (given the true finish time) and a newer FAILED one. Returns the report and the two
/// bundles' locations (older, newer).
fn older_passing_newer_failing(
    spell: impl Fn(std::time::SystemTime) -> String,
) -> (serde_json::Value, String, String) {
    let p = attested();
    let first = original(&p);
    let finished = statement_of(&first)["predicate"]["finishedOn"]
        .as_str()
        .expect("finishedOn")
        .to_string();
    let t = humantime::parse_rfc3339(&finished).expect("ci-attest writes RFC 3339");
    let at = bundle_time(&first, 60);
    let store = first.parent().expect("store folder").to_path_buf();
    let head = p.head();
    let older = store.join(format!("{head}.10.sigstore.json"));
    let newer = store.join(format!("{head}.11.sigstore.json"));
    let hour = std::time::Duration::from_secs(3600);
    resign_from(&p, &first, &older, |s| {
        s["predicate"]["startedOn"] = humantime::format_rfc3339_seconds(t - 2 * hour)
            .to_string()
            .into();
        s["predicate"]["finishedOn"] = spell(t - hour).into();
    });
    resign_from(&p, &first, &newer, |s| {
        let tests = &mut s["predicate"]["checks"][0];
        tests["result"] = "FAILED".into();
        tests["exitCode"] = 1.into();
        let passed = tests["tests"]["passed"].as_u64().expect("passed");
        tests["tests"]["passed"] = (passed - 1).into();
        tests["tests"]["failed"] = 1.into();
        s["predicate"]["result"] = "FAILED".into();
    });
    std::fs::remove_file(&first).expect("remove the original bundle");
    let (_, report) = p.verify_json(&["--at", &at]);
    (
        report,
        older.display().to_string(),
        newer.display().to_string(),
    )
}

fn bundle_report<'a>(report: &'a serde_json::Value, location: &str) -> &'a serde_json::Value {
    report["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .find(|b| b["location"] == location)
        .unwrap_or_else(|| panic!("no bundle {location} in {report:#}"))
}

#[test]
fn a_loosely_spelled_older_pass_never_outranks_a_newer_failure() {
    // `2026-11-01 13:00:00Z` (a space for `T`): a loose parser reads it as an hour *after* the
    // failing run. The strict parser refuses it, so the older bundle does not verify at all.
    let (report, older, newer) = older_passing_newer_failing(|true_time| {
        let two_hours_on = true_time + std::time::Duration::from_secs(2 * 3600);
        humantime::format_rfc3339_seconds(two_hours_on)
            .to_string()
            .replacen('T', " ", 1)
    });
    assert_eq!(report["verdict"], "rejected", "{report:#}");
    let older = bundle_report(&report, &older);
    assert_eq!(older["selected"], false, "{report:#}");
    assert!(
        older["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["code"] == "statement-time-invalid" && f["severity"] == "error"),
        "{report:#}"
    );
    assert_eq!(
        bundle_report(&report, &newer)["selected"],
        true,
        "{report:#}"
    );
    assert_finding(&report, "check-failed");
}

#[test]
fn an_offset_spelling_is_ordered_by_its_instant() {
    // `<true time + 9h>.0+09:00` names the true (older) time; a parser that drops the offset after
    // a fraction reads it as eight hours after the failing run. Whatever selects, the older pass
    // must not be what the verdict accepts.
    let (report, _older, _newer) = older_passing_newer_failing(|true_time| {
        let local = true_time + std::time::Duration::from_secs(9 * 3600);
        let text = humantime::format_rfc3339_seconds(local).to_string();
        format!("{}.0+09:00", text.trim_end_matches('Z'))
    });
    assert_eq!(report["verdict"], "rejected", "{report:#}");
    assert_ne!(report["verdict"], "accepted", "{report:#}");
}
