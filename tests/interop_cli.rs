//! The bundles `ci-attest run` writes (not just the library's) verify in independent
//! implementations, and their statements follow the published schema.
//!
//! Needs `tests/interop/install.sh` (run by `scripts/test.sh`); fails, never skips, without it.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL_HINT: &str = "run `bash tests/interop/install.sh`";

fn interop(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(file)
}

fn python() -> PathBuf {
    let venv = interop(".venv/bin/python");
    assert!(
        venv.is_file(),
        "no venv at {}; {INSTALL_HINT}",
        venv.display()
    );
    venv
}

/// Runs a verifier script; returns (exit code, stdout).
fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}; {INSTALL_HINT}"));
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "{cmd:?} did not run properly; {INSTALL_HINT}\n{}",
        text(&out)
    );
    (
        code,
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

#[test]
fn sigstore_js_and_python_cryptography_verify_what_run_writes() {
    let p = attested();
    let bundle = &p.bundles()[0];
    let key = p.root.join("keys/ci-attest.pub");
    assert!(
        interop("node_modules/@sigstore/verify/package.json").is_file(),
        "{INSTALL_HINT}"
    );
    let (code, out) = run(Command::new("node")
        .arg(interop("verify.mjs"))
        .arg(bundle)
        .arg(&key));
    assert_eq!((code, out.as_str()), (0, "VERIFIED"));
    let (code, out) = run(Command::new(python())
        .arg(interop("verify_dsse.py"))
        .arg(bundle)
        .arg(&key));
    assert_eq!((code, out.as_str()), (0, "VERIFIED"));
}

#[test]
fn statements_from_run_follow_the_published_predicate_schema() {
    let p = Project::passing();
    // A failing run too: counts, problems and a missing report must still fit the schema; the
    // reports go to a `[[cache]]` folder, so the statement records a cache.
    let config = CONFIG.replace("cp fixtures/lcov.info out/lcov.info", "exit 3")
        + "\n[[cache]]\npath = \"out\"\n";
    p.write(".ci-attest.toml", &config);
    p.commit("coverage fails");
    p.keygen();
    assert_eq!(p.run().status.code(), Some(1));
    assert_eq!(
        statement_of(&p.bundles()[0])["predicate"]["caches"][0]["path"],
        "out"
    );
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/predicate.schema.json");
    let (code, out) = run(Command::new(python())
        .arg(interop("validate_statement.py"))
        .arg(&p.bundles()[0])
        .arg(&schema));
    assert_eq!((code, out.as_str()), (0, "VALID"));
}

#[test]
fn statements_with_a_summary_and_its_disagreeing_detail_follow_the_schema() {
    // The real cargo-llvm-cov tracefile, whose LF/LH disagree with its DA entries, and a JUnit
    // report whose tests= claims more than it holds: the revision 3 fields must fit the schema.
    let p = Project::passing();
    let llvm_cov = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reports/cargo-llvm-cov/lcov.info");
    p.write(
        "fixtures/lcov.info",
        &std::fs::read_to_string(llvm_cov).expect("fixture"),
    );
    p.write(
        "fixtures/junit.xml",
        &fixture("junit-pass.xml").replace("tests=\"4\"", "tests=\"1000\""),
    );
    p.commit("reports that disagree with themselves");
    p.keygen();
    assert_eq!(p.run().status.code(), Some(0));
    let bundle = &p.bundles()[0];
    let statement = statement_of(bundle);
    let checks = &statement["predicate"]["checks"];
    let lines = &checks[1]["coverage"]["lines"];
    assert_eq!(lines["source"], "summary", "{lines}");
    assert_eq!(
        (&lines["covered"], &lines["total"]),
        (&62.into(), &81.into())
    );
    assert_eq!(
        (&lines["detail"]["covered"], &lines["detail"]["total"]),
        (&60.into(), &79.into())
    );
    let tests = &checks[0]["tests"];
    assert_eq!(tests["total"], 4, "{tests}");
    assert_eq!(tests["reported"]["tests"], 1000, "{tests}");
    assert_eq!(tests["reportedMismatch"], true, "{tests}");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/predicate.schema.json");
    let (code, out) = run(Command::new(python())
        .arg(interop("validate_statement.py"))
        .arg(bundle)
        .arg(&schema));
    assert_eq!((code, out.as_str()), (0, "VALID"));
}

#[test]
fn the_schema_rejects_an_unknown_predicate_field() {
    let p = attested();
    let edited = p.root.join("edited.json");
    edit_bundle(&p.bundles()[0], &edited, |b| {
        edit_payload(b, |s| s["predicate"]["extra"] = 1.into())
    });
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/predicate.schema.json");
    let (code, out) = run(Command::new(python())
        .arg(interop("validate_statement.py"))
        .arg(&edited)
        .arg(&schema));
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("INVALID: Additional properties"), "{out}");
}

#[test]
fn independent_verifiers_reject_a_tampered_bundle_from_run() {
    let p = attested();
    let key = p.root.join("keys/ci-attest.pub");
    let tampered = p.root.join("tampered.json");
    edit_bundle(&p.bundles()[0], &tampered, |b| {
        edit_payload(b, |s| {
            s["predicate"]["checks"][0]["tests"]["failed"] = 0.into()
        })
    });
    let (code, _) = run(Command::new("node")
        .arg(interop("verify.mjs"))
        .arg(&tampered)
        .arg(&key));
    assert_eq!(code, 1);
    let (code, _) = run(Command::new(python())
        .arg(interop("verify_dsse.py"))
        .arg(&tampered)
        .arg(&key));
    assert_eq!(code, 1);
}

#[test]
fn verify_reports_follow_the_published_report_schema() {
    let p = attested();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json");
    // An accepted report, and a rejected one full of findings with policy origins.
    let strict = POLICY.replace(
        "max = 0 }\n\"coverage",
        "max = 0 }\n\"tests.skipped\" = { max = 0 }\n\"coverage",
    );
    p.write("policies/strict.toml", &strict);
    let too_late = p.bundle_time(31 * 86_400);
    for args in [
        vec![],
        vec!["--policy", "policies/strict.toml", "--at", &too_late],
        // Advisory mode adds `"mode": "advisory"`.
        vec![
            "--mode",
            "advisory",
            "--policy",
            "policies/strict.toml",
            "--at",
            &too_late,
        ],
    ] {
        let (out, _) = p.verify_json(&args);
        let file = p.root.join("report.json");
        std::fs::write(&file, &out.stdout).expect("write");
        let (code, said) = run(Command::new(python())
            .arg(interop("validate_json.py"))
            .arg(&file)
            .arg(&schema));
        assert_eq!((code, said.as_str()), (0, "VALID"), "{args:?}");
    }
}

#[test]
fn the_test_result_statement_verifies_like_the_main_one() {
    let p = Project::passing();
    p.write("fixtures/junit.xml", &fixture("junit-fail.xml"));
    p.commit("a failing test");
    p.keygen();
    assert_eq!(p.run().status.code(), Some(1));
    let bundles = p.test_result_bundles();
    assert_eq!(
        bundles.len(),
        1,
        "one test-result bundle beside the local-run one"
    );
    let key = p.root.join("keys/ci-attest.pub");
    let (code, out) = run(Command::new("node")
        .arg(interop("verify.mjs"))
        .arg(&bundles[0])
        .arg(&key));
    assert_eq!((code, out.as_str()), (0, "VERIFIED"));
    let (code, out) = run(Command::new(python())
        .arg(interop("verify_dsse.py"))
        .arg(&bundles[0])
        .arg(&key));
    assert_eq!((code, out.as_str()), (0, "VERIFIED"));
    // The standard predicate, with the same subject as the local-run statement.
    let tr = statement_of(&bundles[0]);
    let main = statement_of(&p.bundles()[0]);
    assert_eq!(
        tr["predicateType"],
        "https://in-toto.io/attestation/test-result/v0.1"
    );
    assert_eq!(tr["subject"], main["subject"]);
    assert_eq!(tr["predicate"]["result"], "FAILED");
    assert_eq!(
        tr["predicate"]["configuration"][0]["digest"]["sha256"],
        main["predicate"]["config"]["sha256"]
    );
    let failed = tr["predicate"]["failedTests"]
        .as_array()
        .expect("failedTests");
    assert!(!failed.is_empty(), "{tr:#}");
    assert_eq!(
        main["predicate"]["checks"][0]["failedTests"]
            .as_array()
            .expect("named in the main predicate too")
            .len(),
        failed.len()
    );
}
