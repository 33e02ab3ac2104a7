//! `ci-attest reproduce`: an independent, sealed re-run of an attested commit, compared figure by
//! figure with what its newest trusted attestation claims; and the deterministic sample of a
//! range that spot checks draw.
//!
//! These tests need bubblewrap (`tests/sandbox/install.sh` installs it): reproduce seals the
//! checks as `run` does. They fail, never skip, where it is missing.

mod common;

use common::*;

/// `reproduce --format json` with extra arguments; the exit code and the report.
fn reproduce(p: &Project, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = p
        .cmd()
        .args(["reproduce", "--format", "json"])
        .args(args)
        .output()
        .expect("runs");
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("reproduce printed no JSON ({e}): {}", text(&out)));
    (out.status.code(), json)
}

/// The figures (`[...]` at the end of each message) of a commit's mismatch findings.
fn figures(commit: &serde_json::Value) -> Vec<String> {
    commit["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            assert_eq!(f["code"], "reproduction-mismatch", "{f:#}");
            let m = f["message"].as_str().expect("message");
            m[m.rfind('[').expect("figure") + 1..m.len() - 1].to_string()
        })
        .collect()
}

#[test]
fn an_honest_attestation_is_reproduced_and_agrees() {
    let p = attested();
    let at = p.bundle_time(60);
    let (code, report) = reproduce(&p, &["--at", &at]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["agreed"], 1);
    let c = &report["commits"][0];
    assert_eq!(c["commit"], p.head());
    assert_eq!(c["agreement"], "agrees", "{c:#}");
    assert!(c["findings"].as_array().expect("findings").is_empty());
    assert!(
        c["bundle"]
            .as_str()
            .unwrap_or("")
            .ends_with(".sigstore.json"),
        "{c:#}"
    );
    // Nothing was signed: the store holds the run's bundles only.
    assert_eq!(p.bundles().len(), 1);
}

#[test]
fn a_trusted_signer_claiming_more_than_the_rerun_finds_is_reported_per_figure() {
    // The committed tests fail (junit-fail.xml); the signer's bundle claims they all passed, with
    // higher coverage, and is the newest one the policy trusts.
    let p = Project::with(&[
        (".ci-attest.toml", CONFIG.to_string()),
        ("policies/default.toml", POLICY.to_string()),
        ("fixtures/junit.xml", fixture("junit-fail.xml")),
        ("fixtures/lcov.info", fixture("lcov-90.info")),
        ("fixtures/lint.sarif", fixture("lint-clean.sarif")),
    ]);
    p.keygen();
    let out = p.run();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the failing run: {}",
        text(&out)
    );
    let honest = statement_of(&p.bundles()[0]);
    let tests = honest["predicate"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "tests")
        .expect("tests check")["tests"]
        .clone();
    let failed = tests["failed"].as_u64().expect("failed");
    assert!(failed > 0, "the fixture has failing tests: {tests:#}");
    let lying = resign(
        &p,
        |s| {
            let pred = &mut s["predicate"];
            let finished = humantime::parse_rfc3339(pred["finishedOn"].as_str().expect("time"))
                .expect("RFC 3339")
                + std::time::Duration::from_secs(1);
            pred["finishedOn"] = humantime::format_rfc3339_seconds(finished)
                .to_string()
                .into();
            pred["result"] = "PASSED".into();
            for c in pred["checks"].as_array_mut().expect("checks") {
                if c["name"] == "tests" {
                    let total = c["tests"]["total"].clone();
                    c["tests"]["passed"] = total;
                    c["tests"]["failed"] = 0.into();
                    c["result"] = "PASSED".into();
                    c["exitCode"] = 0.into();
                    c.as_object_mut().expect("object").remove("failedTests");
                }
                if c["name"] == "coverage" {
                    let lines = &mut c["coverage"]["lines"];
                    let total = lines["total"].as_u64().expect("total");
                    lines["covered"] = total.into();
                    lines["percent"] = 100.0.into();
                }
            }
        },
        None,
    );
    let head = p.head();
    std::fs::copy(
        &lying,
        p.root.join(format!(".ci-attest/{head}.9.sigstore.json")),
    )
    .expect("store the lying bundle");
    let at = bundle_time(&lying, 60);
    // The lie verifies: only a re-run can catch it.
    let (_, verdict) = p.verify_json(&["--at", &at]);
    assert_eq!(verdict["verdict"], "accepted", "{verdict:#}");

    let (code, report) = reproduce(&p, &["--at", &at]);
    assert_eq!(code, Some(1), "{report:#}");
    let c = &report["commits"][0];
    assert_eq!(c["agreement"], "differs", "{c:#}");
    assert!(
        c["bundle"]
            .as_str()
            .unwrap_or("")
            .contains(".9.sigstore.json"),
        "the newest trusted bundle is compared: {c:#}"
    );
    assert_noted(c, "reproduction-mismatch");
    let f = figures(c);
    for figure in [
        "tests.result",
        "tests.tests.passed",
        "tests.tests.failed",
        "tests.failed_tests",
        "coverage.coverage.lines",
    ] {
        assert!(f.iter().any(|x| x == figure), "no {figure} in {f:?}");
    }
    let failed_finding = c["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|x| {
            x["message"]
                .as_str()
                .unwrap_or("")
                .ends_with("[tests.tests.failed]")
        })
        .expect("failed figure");
    assert_eq!(failed_finding["expected"], "as attested: 0");
    assert_eq!(failed_finding["found"], format!("reproduced: {failed}"));
}

#[test]
fn the_policy_tolerance_admits_a_small_coverage_difference() {
    // The fixture covers 9 of 10 lines (90 %); the newest bundle claims 10 of 10 (100 %).
    let p = attested();
    let claimed = resign(
        &p,
        |s| {
            for c in s["predicate"]["checks"].as_array_mut().expect("checks") {
                if c["name"] == "coverage" {
                    c["coverage"]["lines"]["covered"] = 10.into();
                    c["coverage"]["lines"]["percent"] = 100.0.into();
                }
            }
            let t = humantime::parse_rfc3339(s["predicate"]["finishedOn"].as_str().expect("time"))
                .expect("RFC 3339")
                + std::time::Duration::from_secs(1);
            s["predicate"]["finishedOn"] = humantime::format_rfc3339_seconds(t).to_string().into();
        },
        None,
    );
    let head = p.head();
    std::fs::copy(
        &claimed,
        p.root.join(format!(".ci-attest/{head}.8.sigstore.json")),
    )
    .expect("store");
    let at = bundle_time(&claimed, 60);
    let with_tolerance = |points: &str| {
        p.write(
            "policies/default.toml",
            &format!("{POLICY}\n[reproduce]\ncoverage_tolerance = {points}\n"),
        );
        reproduce(&p, &["--at", &at])
    };
    let (code, report) = with_tolerance("10.0");
    assert_eq!(
        code,
        Some(0),
        "10 points either way admit 100 % vs 90 %: {report:#}"
    );
    assert!(
        report["commits"][0]["bundle"]
            .as_str()
            .unwrap_or("")
            .contains(".8.sigstore.json"),
        "{report:#}"
    );
    let (code, report) = with_tolerance("9.5");
    assert_eq!(code, Some(1), "{report:#}");
    let c = &report["commits"][0];
    assert_eq!(figures(c), ["coverage.coverage.lines"]);
    assert_eq!(
        c["findings"][0]["expected"],
        "as attested: 100.00 % (10 of 10)"
    );
    assert_eq!(c["findings"][0]["found"], "reproduced: 90.00 % (9 of 10)");
    let line = std::fs::read_to_string(p.root.join("policies/default.toml"))
        .expect("policy")
        .lines()
        .position(|l| l.starts_with("coverage_tolerance"))
        .expect("the line")
        + 1;
    assert_eq!(
        c["findings"][0]["origin"]["line"], line,
        "the tolerance's position in the policy: {c:#}"
    );
}

#[test]
fn a_sample_of_a_range_is_the_same_for_the_same_seed() {
    let p = Project::passing();
    for i in 0..11 {
        p.write("n.txt", &i.to_string());
        p.commit(&format!("change {i}"));
    }
    p.keygen();
    let seed = "5e".repeat(32);
    let picked = |extra: &[&str]| {
        let (code, report) = reproduce(
            &p,
            &[&["--range", "HEAD", "--sample", "25%"], extra].concat(),
        );
        // No commit is attested: each picked one is "not reproduced", so the exit is 1.
        assert_eq!(code, Some(1), "{report:#}");
        let commits: Vec<String> = report["commits"]
            .as_array()
            .expect("commits")
            .iter()
            .map(|c| {
                assert_eq!(c["agreement"], "not-reproduced");
                c["commit"].as_str().expect("id").to_string()
            })
            .collect();
        (commits, report["sample"].clone())
    };
    let (a, sample) = picked(&["--seed", &seed]);
    let (b, _) = picked(&["--seed", &seed]);
    assert_eq!(a.len(), 3, "25 % of 12 commits");
    assert_eq!(a, b);
    assert_eq!(sample["seed"], seed.as_str());
    assert_eq!(sample["of"], 12);
    // Without --seed one is drawn and recorded; passing it back draws the same commits.
    let (c, drawn) = picked(&[]);
    let drawn = drawn["seed"].as_str().expect("seed").to_string();
    assert_ne!(drawn, seed);
    let (d, _) = picked(&["--seed", &drawn]);
    assert_eq!(c, d);
}

/// A policy trusting alice's runs and the `reproducer` key's reproductions.
fn reproducer_policy(id: &str) -> String {
    format!(
        "{POLICY}\n[[signer]]\nname = \"reproducer\"\nkey = \"../keys/reproducer.pub\"\n\n\
         [[verifier]]\nsigner = \"reproducer\"\nid = \"{id}\"\n"
    )
}

#[test]
fn a_reproduction_signed_as_a_vsa_is_evidence_that_verify_verdict_judges() {
    let p = attested();
    p.keygen_named("reproducer");
    let at = p.bundle_time(60);
    let (code, report) = reproduce(
        &p,
        &[
            "--at",
            &at,
            "--attest-verdict",
            "--key",
            "keys/reproducer.key",
        ],
    );
    assert_eq!(code, Some(0), "{report:#}");
    let vsa = p
        .all_bundles()
        .into_iter()
        .find(|b| statement_of(b)["predicateType"] == "https://slsa.dev/verification_summary/v1")
        .expect("the reproduction's VSA is stored");
    let s = statement_of(&vsa);
    assert_eq!(s["subject"][0]["digest"]["gitCommit"], p.head());
    let pred = &s["predicate"];
    assert_eq!(pred["verifier"]["id"], "https://ci-attest.dev/reproducer");
    assert_eq!(pred["verificationResult"], "PASSED");
    assert_eq!(pred["timeVerified"], at.as_str());
    let inputs = pred["inputAttestations"].as_array().expect("inputs");
    assert_eq!(inputs.len(), 1, "the one attestation compared: {pred:#}");
    assert!(
        inputs[0]["uri"]
            .as_str()
            .unwrap_or("")
            .ends_with(".1.sigstore.json"),
        "{pred:#}"
    );

    assert!(
        pred["https://ci-attest.dev/verification-details/v1"]
            .get("sample")
            .is_none(),
        "no sample drawn: {pred:#}"
    );
    // A spot check records the sample it was drawn in, so a checker can draw it again.
    let seed = "3c".repeat(32);
    let (code, _) = reproduce(
        &p,
        &[
            "--at",
            &at,
            "--range",
            "HEAD",
            "--sample",
            "100",
            "--seed",
            &seed,
            "--attest-verdict",
            "--key",
            "keys/reproducer.key",
        ],
    );
    assert_eq!(code, Some(0));
    let sampled: Vec<serde_json::Value> = p
        .all_bundles()
        .iter()
        .map(|b| statement_of(b))
        .filter(|s| s["predicateType"] == "https://slsa.dev/verification_summary/v1")
        .collect();
    assert_eq!(sampled.len(), 2, "one verdict per reproduction");
    let recorded = sampled
        .iter()
        .find_map(|s| s["predicate"]["https://ci-attest.dev/verification-details/v1"].get("sample"))
        .expect("the sample is in the second verdict");
    assert_eq!(recorded["seed"], seed.as_str());
    assert_eq!(recorded["of"], 1);
    // Trusted as a reproducer's verdict, it accepts the commit; under the policy verdicts' id it
    // is not the pair the policy names.
    p.write(
        "policies/verdicts.toml",
        &reproducer_policy("https://ci-attest.dev/reproducer"),
    );
    let (out, verdict) = p.verify_json(&[
        "--verdict",
        "--policy",
        "policies/verdicts.toml",
        "--at",
        &at,
    ]);
    assert_eq!(verdict["verdict"], "accepted", "{}", text(&out));
    p.write(
        "policies/verdicts.toml",
        &reproducer_policy("https://ci-attest.dev/verifier"),
    );
    let (_, verdict) = p.verify_json(&[
        "--verdict",
        "--policy",
        "policies/verdicts.toml",
        "--at",
        &at,
    ]);
    assert_finding(&verdict, "verifier-untrusted");
}

#[test]
fn audit_draws_the_same_sample_as_reproduce_for_one_seed() {
    let p = Project::passing();
    for i in 0..9 {
        p.write("n.txt", &i.to_string());
        p.commit(&format!("change {i}"));
    }
    p.keygen();
    let seed = "a7".repeat(32);
    let audit = |extra: &[&str]| {
        let out = p
            .cmd()
            .args([
                "audit", "--range", "HEAD", "--sample", "30", "--format", "json",
            ])
            .args(extra)
            .output()
            .expect("runs");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("audit printed no JSON ({e}): {}", text(&out)));
        let commits: Vec<String> = report["commits"]
            .as_array()
            .expect("commits")
            .iter()
            .map(|c| c["commit"].as_str().expect("id").to_string())
            .collect();
        (commits, report["sample"].clone())
    };
    let (a, sample) = audit(&["--seed", &seed]);
    let (b, _) = audit(&["--seed", &seed]);
    assert_eq!(a.len(), 3, "30 % of 10 commits");
    assert_eq!(a, b);
    assert_eq!(sample["seed"], seed.as_str());
    assert_eq!(sample["of"], 10);
    let (_, reproduced) = reproduce(&p, &["--range", "HEAD", "--sample", "30", "--seed", &seed]);
    let picked: Vec<String> = reproduced["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|c| c["commit"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(a, picked, "one sampler for audit and reproduce");
    // The whole range without --sample, and no `sample` in the report.
    let out = p
        .cmd()
        .args(["audit", "--range", "HEAD", "--format", "json"])
        .output()
        .expect("runs");
    let whole: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(whole["commits"].as_array().map(Vec::len), Some(10));
    assert!(whole.get("sample").is_none(), "{whole:#}");
}
