//! Hostile inputs through the binary: no bundle crashes `verify-bundle`, `verify` or `audit` (exit
//! 101 is a panic), no identity regex escapes its anchors, and no string from a bundle reaches a
//! text or markdown report as a terminal escape, a link or HTML.
//!
//! The crash input is `integratedTime = 9223372036854775807` (i64::MAX) in a Rekor entry that has
//! no SET, or a bogus one. Times are never the wall clock: `--at` is relative to the bundle's own
//! time.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Output;

const HUGE_TIME: &str = "9223372036854775807";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
/// What a hostile bundle puts in its unsigned strings.
const EVIL: &str = "\u{1b}[31mred\u{1b}[0m [click](https://evil) <img src=x> \u{202e}gpj.exe";

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/third-party")
}

fn conformance(case: &str) -> PathBuf {
    vectors()
        .join("sigstore-conformance/bundle-verify")
        .join(case)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).expect("serialise")).expect("write");
}

/// Asserts the process did not panic and exited with `code`.
fn assert_exit(out: &Output, code: i32) {
    assert_ne!(out.status.code(), Some(101), "panicked: {}", text(out));
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
}

/// Asserts a report (or an audit's commit) has a tlog-entry-malformed finding about integratedTime.
fn assert_integrated_time_finding(report: &Value) {
    let mut all: Vec<&Value> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    for b in report["bundles"].as_array().into_iter().flatten() {
        all.extend(b["findings"].as_array().into_iter().flatten());
    }
    assert!(
        all.iter().any(|f| f["code"] == "tlog-entry-malformed"
            && f["found"]
                .as_str()
                .is_some_and(|s| s.contains("integratedTime"))),
        "no tlog-entry-malformed finding about integratedTime: {report:#}"
    );
    assert_noted(report, "tlog-entry-malformed");
}

/// Every finding code of a JSON verify report, its bundles' included.
fn all_codes(report: &Value) -> Vec<String> {
    let mut v = codes(report);
    for b in report["bundles"].as_array().into_iter().flatten() {
        for f in b["findings"].as_array().into_iter().flatten() {
            if let Some(c) = f["code"].as_str() {
                v.push(c.to_string());
            }
        }
    }
    v
}

// ---------------------------------------------------------------------------------------------
// integratedTime = i64::MAX
// ---------------------------------------------------------------------------------------------

/// A real keyless bundle whose first entry claims integratedTime i64::MAX, with the SET kept (so
/// it no longer verifies) or removed.
fn huge_time_keyless(dir: &Path, case: &str, keep_set: bool) -> PathBuf {
    let mut b = read_json(&conformance(case).join("bundle.sigstore.json"));
    let e = &mut b["verificationMaterial"]["tlogEntries"][0];
    e["integratedTime"] = HUGE_TIME.into();
    if !keep_set {
        e.as_object_mut().expect("entry").remove("inclusionPromise");
    }
    let path = dir.join(format!(
        "{case}-{}.json",
        if keep_set { "bogus-set" } else { "no-set" }
    ));
    write_json(&path, &b);
    path
}

#[test]
fn verify_bundle_reports_a_huge_integrated_time_instead_of_panicking() {
    let dir = tempfile::tempdir().expect("tempdir");
    for keep_set in [true, false] {
        let bundle = huge_time_keyless(dir.path(), "happy-path-v0.3", keep_set);
        let out = bin()
            .args(["verify-bundle", "--bundle"])
            .arg(&bundle)
            .args(["--certificate-identity", BEACON])
            .args(["--certificate-oidc-issuer", ISSUER])
            .arg(conformance("a.txt"))
            .output()
            .expect("runs");
        assert_exit(&out, 1);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("tlog-entry-malformed"), "{err}");
        assert!(err.contains("integratedTime"), "{err}");
    }
}

/// A log entry for the project's own key-signed bundle: a real `dsse` body for its envelope and
/// key, in the production Rekor log, claiming integratedTime i64::MAX under a bogus SET; plus a
/// trusted root whose Rekor key validity ends (so that the time is also outside it).
fn huge_time_key_signed(p: &Project) -> (PathBuf, PathBuf) {
    let mut root =
        read_json(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/trust/production.json"));
    root["tlogs"][0]["publicKey"]["validFor"]["end"] = "2031-01-01T00:00:00Z".into();
    let log_id = root["tlogs"][0]["logId"]["keyId"].clone();
    let root_path = p.root.join("short-root.json");
    write_json(&root_path, &root);

    let src = &p.bundles()[0];
    let bundle = read_json(src);
    let payload = B64
        .decode(bundle["dsseEnvelope"]["payload"].as_str().expect("payload"))
        .expect("base64");
    let sig = bundle["dsseEnvelope"]["signatures"][0]["sig"].clone();
    let pem = std::fs::read(p.root.join("keys/ci-attest.pub")).expect("public key");
    let body = json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload))},
            "signatures": [{"signature": sig, "verifier": B64.encode(&pem)}],
        },
    });
    let body = serde_json::to_vec(&body).expect("body");
    let leaf = {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&body);
        h.finalize()
    };
    let entry = json!({
        "logIndex": "7",
        "logId": {"keyId": log_id},
        "kindVersion": {"kind": "dsse", "version": "0.0.1"},
        "integratedTime": HUGE_TIME,
        "inclusionPromise": {"signedEntryTimestamp": B64.encode([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])},
        "inclusionProof": {
            "logIndex": "0",
            "rootHash": B64.encode(leaf),
            "treeSize": "1",
            "hashes": [],
            "checkpoint": {"envelope": "rekor.sigstore.dev - 1\n1\nAAAA\n\n\u{2014} rekor.sigstore.dev AAAAAAA=\n"},
        },
        "canonicalizedBody": B64.encode(&body),
    });
    let out = p.root.join("huge-time.sigstore.json");
    edit_bundle(src, &out, |b| {
        b["verificationMaterial"]["tlogEntries"] = json!([entry]);
    });
    (out, root_path)
}

#[test]
fn verify_and_audit_report_a_huge_integrated_time_instead_of_panicking() {
    let p = attested();
    let at = p.bundle_time(3600);
    let (bundle, root) = huge_time_key_signed(&p);
    let root = root.to_str().expect("utf-8");
    let bundle_arg = bundle.to_str().expect("utf-8");

    let (out, report) =
        p.verify_json(&["--bundle", bundle_arg, "--trusted-root", root, "--at", &at]);
    assert_exit(&out, 1);
    assert_eq!(report["verdict"], "rejected", "{report:#}");
    assert_integrated_time_finding(&report);
    for format in ["text", "markdown"] {
        let out = p
            .cmd()
            .args(["verify", "--format", format, "--bundle", bundle_arg])
            .args(["--trusted-root", root, "--at", &at])
            .output()
            .expect("runs");
        assert_exit(&out, 1);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("tlog-entry-malformed"),
            "{}",
            text(&out)
        );
    }

    // The same bundle in the store, replayed by audit.
    std::fs::copy(&bundle, &p.bundles()[0]).expect("replace the stored bundle");
    let out = p
        .cmd()
        .args(["audit", "--range", "HEAD", "--format", "json", "--at", &at])
        .args(["--trusted-root", root])
        .output()
        .expect("runs");
    assert_exit(&out, 1);
    let audit: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(audit["commits"][0]["verdict"], "rejected", "{audit:#}");
    assert_integrated_time_finding(&audit["commits"][0]);
    for format in ["text", "markdown"] {
        let out = p
            .cmd()
            .args(["audit", "--range", "HEAD", "--format", format, "--at", &at])
            .args(["--trusted-root", root])
            .output()
            .expect("runs");
        assert_exit(&out, 1);
    }
}

#[test]
fn verify_with_a_keyless_policy_reports_a_huge_integrated_time_instead_of_panicking() {
    let p = attested();
    let policy = POLICY.replace(
        "name = \"alice\"\nkey = \"../keys/ci-attest.pub\"",
        &format!("name = \"beacon\"\nissuer = \"{ISSUER}\"\nidentity = \"{BEACON}\""),
    );
    p.write("policies/keyless.toml", &policy);
    let production = vectors().join("trusted-roots/public-good-production.trusted_root.json");
    let production = production.to_str().expect("utf-8");
    for keep_set in [true, false] {
        let bundle = huge_time_keyless(&p.root, "happy-path-intoto-in-dsse-v3", keep_set);
        let (out, report) = p.verify_json(&[
            "--policy",
            "policies/keyless.toml",
            "--bundle",
            bundle.to_str().expect("utf-8"),
            "--trusted-root",
            production,
            "--at",
            "2024-12-16T19:00:00Z", // an hour after the bundle's own log time
        ]);
        assert_exit(&out, 1);
        assert_integrated_time_finding(&report);
    }
}

// ---------------------------------------------------------------------------------------------
// Identity regexes
// ---------------------------------------------------------------------------------------------

#[test]
fn a_policy_regex_that_escapes_its_anchors_is_refused_with_its_position() {
    let p = attested();
    let policy = POLICY.replace(
        "name = \"alice\"\nkey = \"../keys/ci-attest.pub\"",
        &format!(
            "name = \"ci\"\nissuer = \"{ISSUER}\"\nidentity_regex = \"https://github.com/org/.*)|(.*\""
        ),
    );
    p.write("policies/escape.toml", &policy);
    let line = policy
        .lines()
        .position(|l| l.starts_with("identity_regex"))
        .expect("the regex line")
        + 1;
    let out = p
        .cmd()
        .args(["verify", "--policy", "policies/escape.toml"])
        .output()
        .expect("runs");
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("policies/escape.toml:{line}:18")),
        "file:line:col of the value: {err}"
    );
    assert!(err.contains("valid on its own"), "{err}");
}

#[test]
fn verify_bundle_refuses_a_regex_that_escapes_its_anchors() {
    for flag in [
        "--certificate-identity-regexp",
        "--certificate-identity-regex",
    ] {
        let out = bin()
            .args(["verify-bundle", "--bundle"])
            .arg(conformance("happy-path-v0.3/bundle.sigstore.json"))
            .args([flag, "https://github.com/sigstore-conformance/.*)|(.*"])
            .args(["--certificate-oidc-issuer", ISSUER])
            .arg(conformance("a.txt"))
            .output()
            .expect("runs");
        assert_exit(&out, 2);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("valid on its own"),
            "{}",
            text(&out)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Terminal and markdown injection
// ---------------------------------------------------------------------------------------------

fn assert_rendered_safely(p: &Project, bundle: &Path, code: &str) {
    let at = p.bundle_time(3600);
    let (out, report) = p.verify_json(&["--bundle", bundle.to_str().expect("utf-8"), "--at", &at]);
    assert_exit(&out, 1);
    assert!(all_codes(&report).iter().any(|c| c == code), "{report:#}");
    assert!(
        report.to_string().contains("[click](https://evil)"),
        "the JSON report carries the string exactly: {report:#}"
    );
    for format in ["text", "markdown"] {
        let out = p
            .cmd()
            .args(["verify", "--format", format, "--bundle"])
            .arg(bundle)
            .args(["--at", &at])
            .output()
            .expect("runs");
        assert_exit(&out, 1);
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(!s.contains('\u{1b}'), "{format}: an escape byte: {s}");
        assert!(!s.contains('\u{202e}'), "{format}: a bidi override: {s}");
        assert!(s.contains(code), "{format}: the rejection is reported: {s}");
        if format == "markdown" {
            assert!(s.contains("❌ rejected"), "{s}");
            assert!(!s.contains("[click](https://evil)"), "a live link: {s}");
            assert!(!s.contains("<img"), "raw HTML: {s}");
        } else {
            assert!(s.contains("REJECTED"), "{s}");
            assert!(s.contains("\\u{1b}[31mred"), "shown escaped: {s}");
        }
    }
}

#[test]
fn a_hostile_payload_type_is_escaped_in_text_and_markdown_reports() {
    let p = attested();
    // Signed by the trusted key, so only the payload type is wrong.
    let bundle = resign(&p, |_| {}, Some(EVIL));
    assert_rendered_safely(&p, &bundle, "payload-type-unsupported");
}

#[test]
fn a_hostile_key_hint_is_escaped_in_text_and_markdown_reports() {
    let p = attested();
    let bundle = p.root.join("hint.json");
    edit_bundle(&p.bundles()[0], &bundle, |b| {
        b["verificationMaterial"]["publicKey"]["hint"] = EVIL.into();
        // A signature that no key verifies: the hint is all the report has to name the signer.
        edit_payload(b, |st| {
            st["predicate"]["finishedOn"] = "2026-11-01T12:00:01Z".into()
        });
    });
    assert_rendered_safely(&p, &bundle, "signer-untrusted");
}

// ---------------------------------------------------------------------------------------------
// Sizes
// ---------------------------------------------------------------------------------------------

#[test]
fn verify_bundle_bounds_a_bundle_read_from_a_pipe() {
    use std::io::Write as _;
    use std::process::Stdio;
    // A pipe has no size to check up front: the limit must hold while reading.
    let mut child = bin()
        .args(["verify-bundle", "--bundle", "/dev/stdin"])
        .args(["--certificate-identity", BEACON])
        .args(["--certificate-oidc-issuer", ISSUER])
        .arg(conformance("a.txt"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let chunk = vec![b' '; 1024 * 1024];
        // 17 MiB, past the 16 MiB bundle limit; the reader may stop early (broken pipe).
        for _ in 0..17 {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().expect("waits");
    writer.join().expect("writer");
    assert_exit(&out, 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected at most"),
        "{}",
        text(&out)
    );
}

#[test]
fn verify_bundle_prints_hostile_found_values_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The statement's subject digests are quoted in the artifact-mismatch finding as found.
    let mut b = read_json(&conformance(
        "happy-path-intoto-in-dsse-v3/bundle.sigstore.json",
    ));
    edit_payload(&mut b, |st| {
        st["subject"][0]["digest"] = json!({ "sha256": EVIL })
    });
    let bundle = dir.path().join("evil.json");
    write_json(&bundle, &b);
    let out = bin()
        .args(["verify-bundle", "--bundle"])
        .arg(&bundle)
        .args(["--certificate-identity", BEACON])
        .args(["--certificate-oidc-issuer", ISSUER])
        .arg(conformance("a.txt"))
        .output()
        .expect("runs");
    assert_exit(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("artifact-mismatch"), "{err}");
    assert!(
        err.contains("sha256:\\u{1b}[31mred"),
        "shown escaped: {err}"
    );
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{202e}'),
        "{err}"
    );
}

#[test]
fn inspect_shows_unsigned_statement_text_without_terminal_escapes() {
    let p = attested();
    let bundle = resign(
        &p,
        |st| {
            st["predicate"]["checks"][0]["command"] = "true \u{1b}[2J\u{1b}]0;pwned\u{7}".into();
            st["predicate"]["checks"][0]["name"] = "tests\u{202e}gnp.exe".into();
        },
        None,
    );
    let out = p.cmd().arg("inspect").arg(&bundle).output().expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}') && !shown.contains('\u{202e}'),
        "{shown}"
    );
    assert!(
        shown.contains("\\u{1b}[2J"),
        "the escape is shown, visibly: {shown}"
    );
}
