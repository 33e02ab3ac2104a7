//! End to end: real git repositories in temp dirs, the real binary, real keys and reports.

mod common;

use common::*;

#[test]
fn a_passing_run_is_signed_stored_and_accepted() {
    let p = attested();
    let bundles = p.bundles();
    assert_eq!(bundles.len(), 1);
    let name = bundles[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert_eq!(name, format!("{}.1.sigstore.json", p.head()));

    let (out, report) = p.verify_json(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["verdict"], "accepted");
    assert_eq!(report["commit"], p.head());
    let checks = &report["bundles"][0]["checks"];
    assert_eq!(checks[0]["metrics"]["total"], 4.0);
    assert_eq!(checks[0]["metrics"]["skipped"], 1.0);
    assert_eq!(checks[1]["metrics"]["lines"], 90.0);
    assert_eq!(checks[2]["metrics"]["notes"], 1.0);
    // The transparency-log step is reported as skipped, never silently left out.
    let skipped = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .any(|f| f["code"] == "check-skipped" && f["severity"] == "info");
    assert!(skipped, "{report:#}");
    assert_noted(&report, "check-skipped");
}

#[test]
fn json_report_is_byte_stable() {
    let p = attested();
    let (a, _) = p.verify_json(&[]);
    let (b, _) = p.verify_json(&[]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn text_and_markdown_reports_name_the_verdict() {
    let p = attested();
    let text_out = p.cmd().args(["verify"]).output().expect("runs");
    let s = String::from_utf8_lossy(&text_out.stdout);
    assert!(s.contains("ci-attest verify: ACCEPTED"), "{s}");
    let md = p
        .cmd()
        .args(["verify", "--format", "markdown"])
        .output()
        .expect("runs");
    let s = String::from_utf8_lossy(&md.stdout);
    assert!(s.contains("| tests | tests | PASSED |"), "{s}");
}

#[test]
fn a_failing_check_is_still_signed_and_then_rejected() {
    let p = Project::passing();
    p.write("fixtures/junit.xml", &fixture("junit-fail.xml"));
    p.commit("a failing test");
    p.keygen();
    let out = p.run();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        p.bundles().len(),
        1,
        "the failing result is signed and stored"
    );
    let (out, report) = p.verify_json(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert_finding(&report, "threshold-not-met");
    assert_finding(&report, "check-failed");
    let f = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "threshold-not-met")
        .expect("threshold finding");
    assert_eq!(f["expected"], "tests.failed <= 0");
    assert_eq!(f["found"], "tests.failed = 1");
    assert!(f["origin"]["line"].as_u64().is_some(), "{f:#}");
    // The failing test is named, in the text and markdown reports alike.
    for (format, name) in [
        ("text", "tests.test_calc::test_div"),
        ("markdown", "tests.test\\_calc::test\\_div"),
    ] {
        let out = p
            .cmd()
            .args(["verify", "--format", format])
            .output()
            .expect("runs");
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(s.contains(name), "{format}: {s}");
    }
}

#[test]
fn each_threshold_can_reject() {
    let p = attested();
    for (threshold, line) in [
        ("tests.passed", "\"tests.passed\" = { min = 4 }"),
        ("tests.skipped", "\"tests.skipped\" = { max = 0 }"),
        ("tests.total", "\"tests.total\" = { min = 5 }"),
        ("tests.pass_rate", "\"tests.pass_rate\" = { max = 99.0 }"),
        ("coverage.lines", "\"coverage.lines\" = { min = 95.0 }"),
        (
            "coverage.branches",
            "\"coverage.branches\" = { min = 60.0 }",
        ),
        (
            "coverage.functions",
            "\"coverage.functions\" = { min = 60.0 }",
        ),
        ("lint.notes", "\"lint.notes\" = { max = 0 }"),
        ("lint.warnings", "\"lint.warnings\" = { min = 1 }"),
        ("tests.exit_code", "\"tests.exit_code\" = { min = 1 }"),
        ("tests.duration_ms", "\"tests.duration_ms\" = { max = -1 }"),
    ] {
        let head = POLICY
            .split("[thresholds]")
            .next()
            .expect("policy has thresholds");
        let policy = format!("{head}[thresholds]\n{line}\n");
        p.write("policies/strict.toml", &policy);
        let (out, report) = p.verify_json(&["--policy", "policies/strict.toml"]);
        assert_eq!(out.status.code(), Some(1), "{threshold}: {}", text(&out));
        assert_finding(&report, "threshold-not-met");
        let f = &report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["code"] == "threshold-not-met")
            .expect("finding")["expected"];
        assert!(
            f.as_str().expect("expected").starts_with(threshold),
            "{threshold}: {f}"
        );
    }
}

#[test]
fn a_threshold_on_a_metric_the_statement_lacks_rejects() {
    let p = attested();
    let policy = POLICY.replace("[thresholds]", "[thresholds]\n\"lint.lines\" = { min = 1 }");
    p.write("policies/p.toml", &policy);
    let (_, report) = p.verify_json(&["--policy", "policies/p.toml"]);
    assert_finding(&report, "metric-missing");
}

#[test]
fn a_required_check_the_statement_lacks_rejects() {
    let p = attested();
    let policy = POLICY.replace("\"lint\"]", "\"lint\", \"e2e\"]");
    p.write("policies/p.toml", &policy);
    let (_, report) = p.verify_json(&["--policy", "policies/p.toml"]);
    assert_finding(&report, "check-missing");
}

#[test]
fn tampered_payload_is_rejected() {
    let p = attested();
    let tampered = p.root.join("tampered.json");
    edit_bundle(&p.bundles()[0], &tampered, |b| {
        edit_payload(b, |s| {
            s["predicate"]["checks"][1]["coverage"]["lines"]["percent"] = 99.0.into()
        })
    });
    let (out, report) = p.verify_json(&["--bundle", tampered.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert_finding(&report, "signature-invalid");
    assert_finding(&report, "no-attestation");
}

#[test]
fn tampered_signature_is_rejected() {
    let p = attested();
    let tampered = p.root.join("tampered.json");
    edit_bundle(&p.bundles()[0], &tampered, |b| {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let sig = b["dsseEnvelope"]["signatures"][0]["sig"]
            .as_str()
            .expect("sig");
        let mut raw = b64.decode(sig).expect("base64");
        let last = raw.len() - 1;
        raw[last] ^= 1;
        b["dsseEnvelope"]["signatures"][0]["sig"] = b64.encode(raw).into();
    });
    let (out, report) = p.verify_json(&["--bundle", tampered.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert_finding(&report, "signature-invalid");
}

#[test]
fn a_bundle_for_another_commit_never_counts() {
    let p = attested();
    let first = p.head();
    p.write("README", "more");
    let second = p.commit("second");
    let bundle = p.bundles()[0].clone();
    let (out, report) = p.verify_json(&[
        "--commit",
        &second,
        "--bundle",
        bundle.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_finding(&report, "subject-commit-mismatch");
    let f = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "subject-commit-mismatch")
        .expect("finding");
    assert_eq!(f["expected"], format!("gitCommit {second}"));
    assert_eq!(f["found"], format!("gitCommit {first}"));
    // And the store holds nothing for the new commit: a clear failure, not a pass.
    let (out, report) = p.verify_json(&["--commit", &second]);
    assert_eq!(out.status.code(), Some(1));
    assert_finding(&report, "no-attestation");
}

#[test]
fn a_forged_commit_digest_is_rejected() {
    let p = attested();
    // Signed with the trusted key, so only the digest check can catch it.
    let forged = resign(
        &p,
        |s| s["subject"][0]["digest"]["sha256"] = "00".repeat(32).into(),
        None,
    );
    let (_, report) = p.verify_json(&["--bundle", forged.to_str().expect("utf-8")]);
    assert_finding(&report, "subject-digest-mismatch");
    assert!(
        !codes(&report).contains(&"signature-invalid".to_string()),
        "{report:#}"
    );
}

#[test]
fn a_statement_of_another_predicate_type_is_rejected() {
    let p = attested();
    let other = resign(
        &p,
        |s| s["predicateType"] = "https://slsa.dev/provenance/v1".into(),
        None,
    );
    let (_, report) = p.verify_json(&["--bundle", other.to_str().expect("utf-8")]);
    assert_finding(&report, "predicate-type-unsupported");
}

#[test]
fn a_predicate_with_unknown_fields_is_rejected() {
    let p = attested();
    let other = resign(&p, |s| s["predicate"]["trustMe"] = true.into(), None);
    let (_, report) = p.verify_json(&["--bundle", other.to_str().expect("utf-8")]);
    assert_finding(&report, "statement-malformed");
}

#[test]
fn an_envelope_of_another_payload_type_is_rejected() {
    let p = attested();
    let other = resign(&p, |_| {}, Some("application/json"));
    let (_, report) = p.verify_json(&["--bundle", other.to_str().expect("utf-8")]);
    assert_finding(&report, "payload-type-unsupported");
}

#[test]
fn a_statement_that_is_not_pristine_is_rejected_when_required() {
    let p = attested();
    let other = resign(
        &p,
        |s| s["predicate"]["source"]["pristine"] = false.into(),
        None,
    );
    let (_, report) = p.verify_json(&["--bundle", other.to_str().expect("utf-8")]);
    assert_finding(&report, "checkout-not-pristine");
}

#[test]
fn a_run_without_a_sandbox_is_rejected_when_the_policy_requires_one() {
    let p = attested();
    let policy = POLICY.replace(
        "pristine = true",
        "pristine = true\nisolation = \"sandbox\"",
    );
    p.write("policies/sandbox.toml", &policy);
    let unsandboxed = resign(
        &p,
        |s| s["predicate"]["isolation"] = serde_json::json!({ "mode": "none" }),
        None,
    );
    let (out, report) = p.verify_json(&[
        "--policy",
        "policies/sandbox.toml",
        "--bundle",
        unsandboxed.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "isolation-not-met");

    let sandboxed = resign(
        &p,
        |s| {
            s["predicate"]["isolation"] =
                serde_json::json!({ "mode": "sandbox", "mechanism": "bubblewrap 0.8.0" })
        },
        None,
    );
    let (out, report) = p.verify_json(&[
        "--policy",
        "policies/sandbox.toml",
        "--bundle",
        sandboxed.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["verdict"], "accepted", "{report:#}");
}

#[test]
fn a_config_override_is_always_reported_and_rejected_when_the_policy_forbids_it() {
    let p = attested();
    let sha = "cd".repeat(32);
    let overridden = resign(
        &p,
        |s| {
            s["predicate"]["config"] = serde_json::json!({
                "source": "override",
                "path": "lenient.toml",
                "sha256": sha,
                "content": "[[check]]\nname = \"tests\"\n",
            })
        },
        None,
    );
    let bundle = overridden.to_str().expect("utf-8");

    // The default policy allows overrides: accepted, with the override on record.
    let (out, report) = p.verify_json(&["--bundle", bundle]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["verdict"], "accepted", "{report:#}");
    let note = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "config-not-from-commit" && f["severity"] == "info")
        .unwrap_or_else(|| panic!("no info config-not-from-commit in {report:#}"));
    let found = note["found"].as_str().expect("found");
    assert!(
        found.contains("lenient.toml") && found.contains(&sha),
        "{found}"
    );

    let policy = POLICY.replace(
        "pristine = true",
        "pristine = true\nconfig_from_commit = true",
    );
    p.write("policies/strict.toml", &policy);
    let (out, report) = p.verify_json(&["--policy", "policies/strict.toml", "--bundle", bundle]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "config-not-from-commit");
}

#[test]
fn an_untrusted_key_is_rejected() {
    let p = attested();
    p.keygen_named("mallory");
    let policy = POLICY.replace("../keys/ci-attest.pub", "../keys/mallory.pub");
    p.write("policies/other.toml", &policy);
    let (out, report) = p.verify_json(&["--policy", "policies/other.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_finding(&report, "signer-untrusted");
}

#[test]
fn a_dirty_tree_is_never_what_gets_attested() {
    let p = Project::passing();
    p.keygen();
    // An uncommitted edit that would make the tests fail must not change the attested result.
    p.write("fixtures/junit.xml", "not even xml");
    let out = p.run();
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("uncommitted change(s) are NOT included"),
        "{stderr}"
    );
    let inspect = p
        .cmd()
        .args(["inspect", "--format", "json"])
        .arg(&p.bundles()[0])
        .output()
        .expect("runs");
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("json");
    assert_eq!(json["source"]["pristine"], true);
    assert_eq!(json["source"]["uncommittedChangesIgnored"], true);
    assert_eq!(json["result"], "PASSED");
}

#[test]
fn a_missing_report_is_a_failed_check_with_a_clear_message() {
    let p = Project::passing();
    let config = CONFIG.replace("cp fixtures/lcov.info out/lcov.info", "true");
    p.write(".ci-attest.toml", &config);
    p.commit("coverage writes nothing");
    p.keygen();
    let out = p.run();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("report out/lcov.info"), "{stdout}");
    assert!(stdout.contains("found no such file"), "{stdout}");
    let (_, report) = p.verify_json(&[]);
    assert_finding(&report, "check-failed");
    assert_finding(&report, "metric-missing");
}

#[test]
fn a_malformed_report_is_a_failed_check_not_a_panic() {
    let p = Project::passing();
    p.write(
        "fixtures/junit.xml",
        "<testsuites><testsuite><testcase name=",
    );
    p.commit("truncated junit");
    p.keygen();
    let out = p.run();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("malformed junit report"), "{stdout}");
}

#[test]
fn a_malformed_policy_is_exit_2_with_file_line_column() {
    let p = attested();
    p.write(
        "policies/bad.toml",
        &POLICY.replace("max = 0 }\n\"coverage", "mx = 0 }\n\"coverage"),
    );
    let out = p
        .cmd()
        .args(["verify", "--policy", "policies/bad.toml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("policies/bad.toml:"), "{stderr}");
    assert!(stderr.contains("mx"), "{stderr}");
}

#[test]
fn an_oversized_bundle_is_rejected_without_reading_it_whole() {
    let p = attested();
    let big = p.root.join("big.json");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(64 * 1024 * 1024).expect("sparse file");
    let (out, report) = p.verify_json(&["--bundle", big.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert_finding(&report, "bundle-malformed");
}

#[test]
fn a_bundle_with_an_unknown_media_type_is_rejected() {
    let p = attested();
    let edited = p.root.join("edited.json");
    edit_bundle(&p.bundles()[0], &edited, |b| {
        b["mediaType"] = "application/vnd.dev.sigstore.bundle.v9+json".into()
    });
    let (_, report) = p.verify_json(&["--bundle", edited.to_str().expect("utf-8")]);
    assert_finding(&report, "bundle-media-type-unsupported");
}

#[test]
fn a_certificate_bundle_is_rejected_by_a_key_policy() {
    let p = attested();
    let edited = p.root.join("edited.json");
    edit_bundle(&p.bundles()[0], &edited, |b| {
        b["verificationMaterial"] =
            serde_json::json!({"certificate": {"rawBytes": "MIIB"}, "tlogEntries": []});
    });
    let (_, report) = p.verify_json(&["--bundle", edited.to_str().expect("utf-8")]);
    assert_finding(&report, "verification-material-unsupported");
}

#[test]
fn an_envelope_with_two_signatures_is_rejected() {
    let p = attested();
    let edited = p.root.join("edited.json");
    edit_bundle(&p.bundles()[0], &edited, |b| {
        let sig = b["dsseEnvelope"]["signatures"][0].clone();
        b["dsseEnvelope"]["signatures"] = serde_json::json!([sig.clone(), sig]);
    });
    let (_, report) = p.verify_json(&["--bundle", edited.to_str().expect("utf-8")]);
    assert_finding(&report, "envelope-malformed");
}

#[test]
fn an_old_attestation_is_rejected_by_max_age() {
    let p = attested();
    // The policy's max_age is 30 days: 31 days after the bundle's own time it is too old.
    let at = p.bundle_time(31 * 86_400);
    let (_, report) = p.verify_json(&["--at", &at]);
    assert_finding(&report, "attestation-too-old");
}

#[test]
fn an_attestation_from_the_future_is_rejected() {
    let p = attested();
    let at = p.bundle_time(-86_400);
    let (_, report) = p.verify_json(&["--at", &at]);
    assert_finding(&report, "attestation-from-future");
}

#[test]
fn a_fork_replaying_the_attestation_is_rejected_by_repository() {
    let p = attested();
    let policy = POLICY.replace(
        "pristine = true",
        "pristine = true\nrepository = \"https://github.com/acme/app\"",
    );
    p.write("policies/p.toml", &policy);
    let (_, report) = p.verify_json(&["--policy", "policies/p.toml"]);
    assert_finding(&report, "repository-mismatch");
}

#[test]
fn the_newest_verified_bundle_decides() {
    let p = Project::passing();
    p.keygen();
    assert!(p.run().status.success());
    assert!(p.run().status.success());
    assert_eq!(
        p.bundles().len(),
        2,
        "a second run never overwrites the first"
    );
    let (_, report) = p.verify_json(&[]);
    assert_eq!(report["verdict"], "accepted");
    let selected: Vec<&serde_json::Value> = report["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .filter(|b| b["selected"] == true)
        .collect();
    assert_eq!(selected.len(), 1, "{report:#}");
    assert_eq!(
        selected[0]["location"],
        p.bundles()[1].to_str().expect("utf-8"),
        "the newer local-run bundle (test-result bundles are listed, never selected)"
    );
}

#[test]
fn keygen_encrypts_by_default_and_never_overwrites() {
    let p = Project::passing();
    let out = p
        .cmd()
        .args(["keygen", "--out", "keys"])
        .env("CI_ATTEST_PASSWORD", "pw")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let pem = std::fs::read_to_string(p.root.join("keys/ci-attest.key")).expect("key");
    assert!(pem.contains("BEGIN ENCRYPTED PRIVATE KEY"), "{pem}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(p.root.join("keys/ci-attest.key"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = p
        .cmd()
        .args(["keygen", "--out", "keys"])
        .env("CI_ATTEST_PASSWORD", "pw")
        .output()
        .expect("runs");
    assert_ne!(again.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(p.root.join("keys/ci-attest.key")).expect("key"),
        pem
    );

    // The encrypted key signs with the right password and fails clearly with a wrong one.
    let wrong = p
        .cmd()
        .arg("run")
        .env("CI_ATTEST_PASSWORD", "nope")
        .output()
        .expect("runs");
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));
    assert!(
        !String::from_utf8_lossy(&wrong.stderr).contains("nope"),
        "the password is never printed"
    );
    let right = p
        .cmd()
        .arg("run")
        .env("CI_ATTEST_PASSWORD", "pw")
        .output()
        .expect("runs");
    assert!(right.status.success(), "{}", text(&right));
}

#[test]
fn init_writes_config_and_policy_for_a_cargo_project() {
    let p = Project::with(&[("Cargo.toml", "[package]\nname = \"x\"\n".to_string())]);
    let out = p.cmd().arg("init").output().expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let config = std::fs::read_to_string(p.root.join(".ci-attest.toml")).expect("config");
    assert!(config.contains("cargo clippy"), "{config}");
    ci_attest::config::Config::parse(&config, "init").expect("init writes a valid config");
    let workflow = std::fs::read_to_string(p.root.join(".github/workflows/ci-attest-verify.yml"))
        .expect("init writes the verifier workflow");
    assert!(
        workflow.contains(&format!("# v{}", env!("CARGO_PKG_VERSION")))
            && workflow.contains("uses: ci-attest/ci-attest@"),
        "the workflow runs this ci-attest version's action: {workflow}"
    );
    assert!(workflow.contains("report: check") && workflow.contains("checks: write"));
    assert!(
        !workflow.contains("{{VERSION}}") && !workflow.contains("{{ACTION_REF}}"),
        "no unrendered placeholder"
    );
    // A second init keeps the user's files.
    std::fs::write(p.root.join(".ci-attest.toml"), "# mine").expect("write");
    assert!(p.cmd().arg("init").output().expect("runs").status.success());
    assert_eq!(
        std::fs::read_to_string(p.root.join(".ci-attest.toml")).expect("config"),
        "# mine"
    );
}

#[test]
fn init_dry_run_prints_everything_and_writes_nothing() {
    let p = Project::with(&[(
        "package.json",
        r#"{"devDependencies": {"jest": "29", "jest-junit": "16"}}"#.to_string(),
    )]);
    let before = git(&p.root, &["status", "--porcelain", "--ignored"]);
    let gitignore = std::fs::read_to_string(p.root.join(".gitignore")).expect("gitignore");
    let out = p.cmd().args(["init", "--dry-run"]).output().expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("--- would write .ci-attest.toml"), "{said}");
    assert!(said.contains("npx --no-install jest --ci"), "{said}");
    assert!(said.contains("/keys/*.key"), "{said}");
    assert!(said.contains("nothing written"), "{said}");
    assert_eq!(
        git(&p.root, &["status", "--porcelain", "--ignored"]),
        before
    );
    assert_eq!(
        std::fs::read_to_string(p.root.join(".gitignore")).expect("gitignore"),
        gitignore
    );
    assert!(!p.root.join(".ci-attest.toml").exists());
}

#[test]
fn init_replaces_a_file_only_with_force_and_says_so() {
    let p = Project::with(&[(
        "setup.py",
        "from setuptools import setup\nsetup(name='calc')\n".to_string(),
    )]);
    p.write(".ci-attest.toml", "# mine\n");
    let out = p.cmd().arg("init").output().expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(".ci-attest.toml (it exists; `ci-attest init --force` replaces it)"),
        "{said}"
    );
    let config = std::fs::read_to_string(p.root.join(".ci-attest.toml")).expect("config");
    assert_eq!(config, "# mine\n");
    let out = p.cmd().args(["init", "--force"]).output().expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let config = std::fs::read_to_string(p.root.join(".ci-attest.toml")).expect("config");
    assert!(config.contains("python3 -m venv .venv"), "{config}");
    // The signer's settings are never replaced, even with --force.
    assert_eq!(
        std::fs::read_to_string(p.root.join(".ci-attest.local.toml")).expect("settings"),
        LOCAL_SETTINGS
    );
}

#[test]
fn init_keeps_the_store_settings_and_keys_out_of_git_but_not_its_nextest_profile() {
    let p = Project::with(&[]);
    std::fs::remove_file(p.root.join(".gitignore")).expect("no .gitignore");
    std::fs::remove_file(p.root.join(".ci-attest.local.toml")).expect("no settings");
    p.write(
        "Cargo.toml",
        "[package]\nname = \"x\"\nversion = \"0.1.0\"\n",
    );
    p.write("src/lib.rs", "");
    // cargo-nextest may or may not be installed here: either way the files stay right.
    let out = p.cmd().arg("init").output().expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let gitignore = std::fs::read_to_string(p.root.join(".gitignore")).expect("gitignore");
    for line in ["/.ci-attest/*", "/.ci-attest.local.toml", "/keys/*.key"] {
        assert!(gitignore.lines().any(|l| l == line), "{line}: {gitignore}");
    }
    let ignored = |path: &str| {
        std::process::Command::new("git")
            .args(["check-ignore", "--quiet", "--no-index", path])
            .current_dir(&p.root)
            .status()
            .expect("git")
            .success()
    };
    assert!(ignored(".ci-attest/logs/abc-1/tests.log"));
    assert!(ignored(".ci-attest/abc.1.sigstore.json"));
    assert!(ignored("keys/ci-attest.key"));
    assert!(ignored(".ci-attest.local.toml"));
    assert!(!ignored(".ci-attest.toml"));
    assert!(!ignored("keys/ci-attest.pub"));
    if p.root.join(".ci-attest/nextest.toml").exists() {
        assert!(!ignored(".ci-attest/nextest.toml"), "{gitignore}");
    }
    // A second init adds nothing.
    assert!(p.cmd().arg("init").output().expect("runs").status.success());
    assert_eq!(
        std::fs::read_to_string(p.root.join(".gitignore")).expect("gitignore"),
        gitignore
    );
}

#[test]
fn inspect_shows_signer_subject_and_results() {
    let p = attested();
    let out = p
        .cmd()
        .arg("inspect")
        .arg(&p.bundles()[0])
        .output()
        .expect("runs");
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(s.contains(&format!("gitCommit:{}", p.head())), "{s}");
    assert!(s.contains("signer   sha256:"), "{s}");
    assert!(s.contains("coverage     PASSED  "), "{s}");
    // There is no markdown view of a claim: asking for one is refused, never answered with text.
    let md = p
        .cmd()
        .args(["inspect", "--format", "markdown"])
        .arg(&p.bundles()[0])
        .output()
        .expect("runs");
    assert_eq!(md.status.code(), Some(2), "{}", text(&md));
    assert!(md.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&md.stderr).contains("[possible values: text, json]"),
        "{}",
        text(&md)
    );
}

#[test]
fn audit_replays_every_commit_offline_with_one_verdict_each() {
    let p = attested();
    let first = p.head();
    p.write("README", "a change nobody attested");
    let second = p.commit("unattested");
    // An hour after the bundle was made: a fixed replay time that no calendar date can break.
    let at = p.bundle_time(3600);
    let audit = |extra: &[&str]| {
        p.cmd()
            .args(["audit", "--range", "HEAD", "--format", "json", "--at", &at])
            .args(extra)
            .output()
            .expect("runs")
    };
    let out = audit(&[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a rejected commit fails the audit: {}",
        text(&out)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["schema"], "https://ci-attest.dev/audit-report/v1");
    assert_eq!(json["commits"][0]["commit"], first);
    assert_eq!(json["commits"][0]["verdict"], "accepted");
    assert_eq!(json["commits"][1]["commit"], second);
    assert_eq!(json["commits"][1]["verdict"], "rejected");
    assert_eq!(
        (json["accepted"].as_u64(), json["rejected"].as_u64()),
        (Some(1), Some(1))
    );
    // The same inputs and time give the same bytes: an auditor can reproduce the report.
    assert_eq!(audit(&[]).stdout, out.stdout);
    // A report they can keep: JSON and markdown, written atomically, never overwritten.
    let keep = p.root.join("audit-2026-12");
    assert_eq!(
        audit(&["--out", keep.to_str().expect("utf-8")])
            .status
            .code(),
        Some(1)
    );
    let md = std::fs::read_to_string(keep.join("audit.md")).expect("markdown report");
    assert!(
        md.contains(&format!("| `{second}` | **rejected** |")),
        "{md}"
    );
    let kept = std::fs::read(keep.join("audit.json")).expect("json report");
    assert_eq!(kept, out.stdout);
    let again = audit(&["--out", keep.to_str().expect("utf-8")]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing report is never overwritten: {}",
        text(&again)
    );
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        said.contains("audit.json: expected a new file, found one already there")
            && said.contains("choose another --out folder"),
        "{said}"
    );
    assert!(!said.contains("os error"), "no raw OS error: {said}");
    assert_eq!(std::fs::read(keep.join("audit.json")).expect("kept"), kept);
}

#[test]
fn keygen_keeps_the_private_key_out_of_git() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::git(dir.path(), &["init", "--quiet"]);
    let keygen = |name: &str| {
        let out = common::bin()
            .current_dir(dir.path())
            .args([
                "keygen",
                "--no-password",
                "--out",
                "team keys*",
                "--name",
                name,
            ])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", text(&out));
        out
    };
    let first = keygen("alice");
    assert!(
        String::from_utf8_lossy(&first.stdout)
            .contains("added `/team keys\\*/*.key` to .gitignore"),
        "{}",
        text(&first)
    );
    keygen("bob");
    let ignore = std::fs::read_to_string(dir.path().join(".gitignore")).expect(".gitignore");
    assert_eq!(ignore, "/team keys\\*/*.key\n", "one line, added once");
    // `git add -A` takes the public keys and never the private ones.
    common::git(dir.path(), &["add", "-A"]);
    let staged = common::git(dir.path(), &["diff", "--cached", "--name-only"]);
    let mut staged: Vec<&str> = staged.lines().collect();
    staged.sort();
    assert_eq!(
        staged,
        vec![".gitignore", "team keys*/alice.pub", "team keys*/bob.pub"]
    );

    // Outside a repository there is no .gitignore to write.
    let plain = tempfile::tempdir().expect("tempdir");
    let out = common::bin()
        .current_dir(plain.path())
        .args(["keygen", "--no-password"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    assert!(!plain.path().join(".gitignore").exists());
}

#[test]
fn a_revision_that_names_no_commit_says_what_was_expected() {
    let p = attested();
    let out = p
        .cmd()
        .args(["verify", "--commit", "no-such-branch"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("expected a revision that names a commit of this repository")
            && said.contains("\"no-such-branch\""),
        "{said}"
    );
    assert!(
        !said.trim_end().ends_with(':'),
        "never an empty message: {said}"
    );
}

#[test]
fn a_missing_policy_file_has_no_made_up_position_and_says_what_to_do() {
    let p = Project::passing();
    let out = p
        .cmd()
        .args(["verify", "--policy", "policies/none.toml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(
            "policies/none.toml: expected a readable policy file, found: no such file or directory"
        ) && said.contains("ci-attest init"),
        "{said}"
    );
    assert!(!said.contains(":1:1"), "{said}");
}

#[test]
fn log_entries_on_a_key_signed_bundle_are_verified_not_skipped() {
    let p = attested();
    // A real Rekor entry, but for another signature (sigstore-conformance managed-key-happy-path).
    let donor: serde_json::Value = serde_json::from_slice(
        &std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "tests/vectors/third-party/sigstore-conformance/bundle-verify/managed-key-happy-path/bundle.sigstore.json",
        ))
        .expect("vector"),
    )
    .expect("json");
    let edited = p.root.join("edited.json");
    edit_bundle(&p.bundles()[0], &edited, |b| {
        b["verificationMaterial"]["tlogEntries"] =
            donor["verificationMaterial"]["tlogEntries"].clone();
    });
    let (_, report) = p.verify_json(&["--bundle", edited.to_str().expect("utf-8")]);
    assert_finding(&report, "tlog-entry-mismatch");
}

#[test]
fn a_signer_pinned_by_fingerprint_uses_the_stored_key_and_says_when_it_is_missing() {
    let p = attested();
    let keys = p.root.join(".ci-attest/keys");
    let stored: Vec<_> = std::fs::read_dir(&keys)
        .expect("run stores the key")
        .flatten()
        .collect();
    let name = stored[0].file_name().to_string_lossy().into_owned();
    let hex = name
        .trim_start_matches("sha256-")
        .trim_end_matches(".pub")
        .to_string();
    let policy = POLICY.replace(
        "key = \"../keys/ci-attest.pub\"",
        &format!("fingerprint = \"sha256:{hex}\""),
    );
    p.write("policies/pinned.toml", &policy);
    let (out, report) = p.verify_json(&["--policy", "policies/pinned.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["verdict"], "accepted");

    std::fs::remove_dir_all(&keys).expect("remove stored keys");
    let (_, report) = p.verify_json(&["--policy", "policies/pinned.toml"]);
    assert_finding(&report, "signer-untrusted");
    let said = report["bundles"][0]["findings"].to_string();
    assert!(said.contains("its key is not in the store"), "{report:#}");
}

/// A signed test-result bundle about the project's head commit, written beside its bundles.
fn store_test_result_bundle(p: &Project) -> std::path::PathBuf {
    use ci_attest::statement::{Outcome, ResourceDescriptor, STATEMENT_TYPE, Statement};
    use ci_attest::test_result::{TEST_RESULT_PREDICATE_TYPE, TestResultPredicate};
    let local = &p.bundles()[0];
    let statement = Statement {
        statement_type: STATEMENT_TYPE.to_string(),
        subject: vec![ResourceDescriptor {
            name: None,
            uri: None,
            digest: [("gitCommit".to_string(), p.head())].into_iter().collect(),
        }],
        predicate_type: TEST_RESULT_PREDICATE_TYPE.to_string(),
        predicate: TestResultPredicate {
            result: Outcome::Failed,
            configuration: vec![],
            url: None,
            passed_tests: vec!["suite::ok".into()],
            warned_tests: vec![],
            failed_tests: vec!["suite::\u{1b}[31mbroken".into()],
        },
    };
    let key = ci_attest::sign::key::SigningKey::generate().expect("rng");
    let bundle = ci_attest::sign::sign_statement(&statement.to_json(), &key);
    let path = local.with_file_name(format!("{}.2.sigstore.json", p.head()));
    std::fs::write(&path, bundle.to_json()).expect("write bundle");
    path
}

#[test]
fn inspect_shows_a_test_result_bundle() {
    let p = attested();
    let bundle = store_test_result_bundle(&p);
    let out = p.cmd().arg("inspect").arg(&bundle).output().expect("runs");
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(s.contains("result   FAILED"), "{s}");
    assert!(s.contains("tests    1 passed, 0 warned, 1 failed"), "{s}");
    assert!(s.contains("  ✗ suite::broken\n"), "{s}");
    assert!(!s.contains('\u{1b}'), "{s}");
}

#[test]
fn a_test_result_bundle_in_the_store_is_listed_not_rejected() {
    let p = attested();
    store_test_result_bundle(&p);
    let (out, report) = p.verify_json(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["verdict"], "accepted");
    let bundles = report["bundles"].as_array().expect("bundles");
    assert_eq!(bundles.len(), 2, "{report:#}");
    let listed = bundles
        .iter()
        .find(|b| b["selected"] == false)
        .expect("the test-result bundle is listed");
    assert_eq!(listed["findings"][0]["code"], "predicate-type-unsupported");
    assert_eq!(listed["findings"][0]["severity"], "info");
}

#[test]
fn shell_completions_complete_subcommands_and_the_man_page_lists_them() {
    let completions = |shell: &str| {
        let out = bin().args(["completions", shell]).output().expect("runs");
        assert!(out.status.success(), "{shell}: {}", text(&out));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    // bash: source the script and ask it to complete `ci-attest ver`.
    let script = completions("bash");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ci-attest.bash");
    std::fs::write(&file, &script).expect("write");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(
            r#"source "$1"; COMP_WORDS=(ci-attest ver); COMP_CWORD=1; _ci__attest ci-attest ver ci-attest; echo "${COMPREPLY[@]}""#,
        )
        .arg("bash")
        .arg(&file)
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "verify verify-bundle"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = completions(shell);
        for sub in ["verify-bundle", "audit", "completions"] {
            assert!(script.contains(sub), "{shell} completes {sub}");
        }
    }
    let bad = bin().args(["completions", "tcsh"]).output().expect("runs");
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));

    let out = bin().arg("man").output().expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let page = String::from_utf8(out.stdout).expect("utf-8");
    assert!(page.contains(".TH ci-attest 1"), "{page}");
    assert!(
        page.contains(".SH NAME") && page.contains(".SH SUBCOMMANDS"),
        "{page}"
    );
    for sub in [
        "init", "keygen", "run", "verify", "push", "audit", "inspect",
    ] {
        assert!(
            page.contains(&format!("ci\\-attest\\-{sub}(1)"))
                || page.contains(&format!("ci-attest-{sub}(1)")),
            "the man page lists {sub}"
        );
    }
}
