//! Issue 10.5 through the binary: `[[rule]]` CEL expressions, `[require] signers = k` and
//! `select = "newest" | "all"`. Every `verify` gives `--at` relative to the bundles' own time.

mod common;

use common::{Project, assert_finding, attested, codes, fixture, text};

/// The standard policy without thresholds, plus `rest`.
fn policy(rest: &str) -> String {
    format!(
        "[[signer]]\nname = \"alice\"\nkey = \"../keys/ci-attest.pub\"\n\n[require]\nchecks = [\"tests\", \"coverage\", \"lint\"]\n{rest}"
    )
}

// The tests check of the fixtures: 3 passed, 1 skipped, 4 in all.

/// `verify` with this policy at a minute after the newest bundle.
fn verify(
    p: &Project,
    file: &str,
    text_of_policy: &str,
) -> (std::process::Output, serde_json::Value) {
    p.write(file, text_of_policy);
    let at = p.bundle_time(60);
    p.verify_json(&["--policy", file, "--at", &at])
}

fn stderr_of(p: &Project, file: &str, text_of_policy: &str) -> (Option<i32>, String) {
    p.write(file, text_of_policy);
    let out = p
        .cmd()
        .args(["verify", "--policy", file])
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn a_true_rule_accepts() {
    let p = attested();
    let (out, report) = verify(
        &p,
        "policies/rules.toml",
        &policy(
            "\n[[rule]]\nname = \"few-skipped\"\nexpr = \"double(checks.tests.tests.skipped) <= double(checks.tests.tests.total) * 0.25 && checks.coverage.coverage.lines.percent >= 85.0\"\nmessage = \"too many tests skipped\"\n",
        ),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["verdict"], "accepted", "{report:#}");
}

#[test]
fn a_false_rule_rejects_with_its_message_the_values_read_and_its_origin() {
    let p = attested();
    let (out, report) = verify(
        &p,
        "policies/rules.toml",
        &policy(
            "\n[[rule]]\nexpr = \"checks.coverage.coverage.lines.percent >= 95.0\"\nmessage = \"coverage must be at least 95 %\"\n",
        ),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "rule-failed");
    let f = report["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["code"] == "rule-failed"))
        .expect("rule-failed");
    assert_eq!(f["message"], "coverage must be at least 95 %");
    assert_eq!(
        f["expected"],
        "checks.coverage.coverage.lines.percent >= 95.0"
    );
    let found = f["found"].as_str().unwrap_or_default();
    assert!(
        found.contains("checks.coverage.coverage.lines.percent = 90"),
        "{found}"
    );
    assert_eq!(f["origin"]["file"], "policies/rules.toml");
    assert_eq!(
        (f["origin"]["line"].as_u64(), f["origin"]["column"].as_u64()),
        (Some(9), Some(8))
    );
}

#[test]
fn a_rule_that_cannot_be_evaluated_rejects_never_passes() {
    let p = attested();
    // The policy loads (`e2e` could be a check), but this statement has no `e2e` check.
    let (out, report) = verify(
        &p,
        "policies/rules.toml",
        &policy(
            "\n[[rule]]\nexpr = \"checks.e2e.tests.failed == 0\"\nmessage = \"end-to-end tests must pass\"\n",
        ),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "rule-error");
    assert_eq!(report["verdict"], "rejected");
}

#[test]
fn a_rule_that_does_not_compile_is_exit_2_with_file_line_column() {
    let p = attested();
    let (code, stderr) = stderr_of(
        &p,
        "policies/bad.toml",
        &policy("\n[[rule]]\nexpr = \"checks.tests.tests.failed == = 0\"\nmessage = \"m\"\n"),
    );
    assert_eq!(code, Some(2), "{stderr}");
    // `expr = "` is 8 characters: the second `=` is at column 9 + 29.
    assert!(stderr.contains("policies/bad.toml:9:38:"), "{stderr}");
    assert!(stderr.contains("does not compile"), "{stderr}");
}

#[test]
fn a_rule_naming_an_unknown_field_fails_at_load_with_its_position() {
    let p = attested();
    let (code, stderr) = stderr_of(
        &p,
        "policies/bad.toml",
        &policy("\n[[rule]]\nexpr = \"checks.tests.tests.skiped < 3\"\nmessage = \"m\"\n"),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("policies/bad.toml:9:28:"), "{stderr}");
    assert!(stderr.contains("skiped"), "{stderr}");
    // An integer count times a double is a type error at load, with the fix.
    let (code, stderr) = stderr_of(
        &p,
        "policies/bad.toml",
        &policy(
            "\n[[rule]]\nexpr = \"checks.tests.tests.skipped <= checks.tests.tests.total * 0.05\"\nmessage = \"m\"\n",
        ),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("policies/bad.toml:9:8:"), "{stderr}");
    assert!(stderr.contains("double("), "{stderr}");
}

/// A project whose `out/fail.toml` override makes the tests check fail (a failing re-run).
fn project_with_a_failing_config() -> Project {
    let p = Project::with(&[
        (".ci-attest.toml", common::CONFIG.to_string()),
        ("policies/default.toml", common::POLICY.to_string()),
        ("fixtures/junit.xml", fixture("junit-pass.xml")),
        ("fixtures/junit-fail.xml", fixture("junit-fail.xml")),
        ("fixtures/lcov.info", fixture("lcov-90.info")),
        ("fixtures/lint.sarif", fixture("lint-clean.sarif")),
    ]);
    p.write(
        "out/fail.toml",
        &common::CONFIG.replace("cp fixtures/junit.xml", "cp fixtures/junit-fail.xml"),
    );
    p.keygen();
    p
}

/// `ci-attest run`; a run whose check fails exits 1 and still signs and stores its bundle.
fn run(p: &Project, args: &[&str]) {
    let out = p.cmd().arg("run").args(args).output().expect("runs");
    let stored = String::from_utf8_lossy(&out.stdout).contains("bundle:");
    assert!(
        matches!(out.status.code(), Some(0 | 1)) && stored,
        "run {args:?}: {}",
        text(&out)
    );
}

fn selected(report: &serde_json::Value) -> usize {
    report["bundles"]
        .as_array()
        .map_or(0, |b| b.iter().filter(|b| b["selected"] == true).count())
}

const TWO_SIGNERS: &str = "[[signer]]\nname = \"alice\"\nkey = \"../keys/ci-attest.pub\"\n\n[[signer]]\nname = \"bob\"\nkey = \"../keys/bob.pub\"\n\n[require]\nchecks = [\"tests\"]\n";

#[test]
fn two_signers_are_needed_when_the_policy_says_signers_2() {
    let p = Project::passing();
    p.keygen();
    p.keygen_named("bob");
    let rules = format!("{TWO_SIGNERS}signers = 2\n");
    run(&p, &[]);
    // The same signer twice is still one signer.
    run(&p, &[]);
    let (out, report) = verify(&p, "policies/two.toml", &rules);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "signers-threshold-not-met");
    let f = report["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["code"] == "signers-threshold-not-met"))
        .expect("finding");
    assert!(
        f["found"]
            .as_str()
            .is_some_and(|s| s.starts_with("1 passing of 1 verified signer(s): alice (sha256:")),
        "{f:#}"
    );
    assert_eq!(f["origin"]["line"], 11, "{f:#}");

    run(&p, &["--key", "keys/bob.key"]);
    let (out, report) = verify(&p, "policies/two.toml", &rules);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["verdict"], "accepted", "{report:#}");
    // Each signer's newest bundle was judged.
    assert_eq!(selected(&report), 2, "{report:#}");
    // Without `signers`, one trusted signer is enough, as before.
    let (out, _) = verify(&p, "policies/one.toml", TWO_SIGNERS);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_failing_signer_does_not_count_toward_signers_k() {
    let p = project_with_a_failing_config();
    p.keygen_named("bob");
    let rules = format!("{TWO_SIGNERS}signers = 2\n");
    run(&p, &[]);
    run(&p, &["--key", "keys/bob.key", "--config", "out/fail.toml"]);
    let (out, report) = verify(&p, "policies/two.toml", &rules);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "signers-threshold-not-met");
    // The failing signer's reason is in the verdict too.
    assert!(
        codes(&report).contains(&"check-failed".to_string()),
        "{report:#}"
    );
}

#[test]
fn select_all_rejects_a_failing_run_hidden_behind_a_newer_passing_one() {
    let p = project_with_a_failing_config();
    run(&p, &["--config", "out/fail.toml"]);
    run(&p, &[]);
    let newest = policy("");
    let all = policy("select = \"all\"\n");

    // `newest`: the signer's newer passing run hides the failing one.
    let (out, report) = verify(&p, "policies/newest.toml", &newest);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(selected(&report), 1);

    // `all`: every trusted, verified bundle must pass.
    let (out, report) = verify(&p, "policies/all.toml", &all);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "check-failed");
    assert_eq!(selected(&report), 2, "{report:#}");

    // A failing re-run signed after the passing one: `newest` rejects as `all` does.
    run(&p, &["--config", "out/fail.toml"]);
    let (out, _) = verify(&p, "policies/newest.toml", &newest);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // Deleting the failing bundles from the store changes both verdicts: `all` stops a signer
    // from hiding a failure by signing again, not from deleting; that is the store's part
    // (docs/threat-model.md).
    let bundles = p.bundles();
    assert_eq!(bundles.len(), 3);
    std::fs::remove_file(&bundles[0]).expect("delete");
    let (out, _) = verify(&p, "policies/all.toml", &all);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the newest failing one is still there"
    );
    std::fs::remove_file(&bundles[2]).expect("delete");
    let (out, report) = verify(&p, "policies/all.toml", &all);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["verdict"], "accepted");
    let (out, _) = verify(&p, "policies/newest.toml", &newest);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn signers_and_select_are_checked_at_load() {
    let p = attested();
    for (rest, at, says) in [
        ("signers = 0\n", "policies/bad.toml:7:11:", "from 1 to"),
        (
            "signers = 2\n",
            "policies/bad.toml:7:11:",
            "can never be met",
        ),
        (
            "select = \"oldest\"\n",
            "policies/bad.toml:7:10:",
            "\"newest\", \"all\"",
        ),
    ] {
        let (code, stderr) = stderr_of(&p, "policies/bad.toml", &policy(rest));
        assert_eq!(code, Some(2), "{rest}: {stderr}");
        assert!(stderr.contains(at), "{rest}: {stderr}");
        assert!(stderr.contains(says), "{rest}: {stderr}");
    }
}
