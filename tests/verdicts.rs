//! Signed verdicts: `verify --attest-verdict` writes a SLSA VSA v1 bundle that follows the spec's
//! field rules, verifies in `@sigstore/verify` as a plain bundle, and is judged by
//! `verify --verdict` against the policy's trusted (signer, verifier id) pairs.
//!
//! Needs `tests/interop/install.sh` (node packages and the Python venv); fails, never skips,
//! without it. No test reads the wall clock: every `--at` is relative to a bundle's own time.

mod common;

use common::sigstore_local::{INSTALL_HINT as LOCAL_HINT, local, token};
use common::*;
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VSA: &str = "https://slsa.dev/verification_summary/v1";
const VERIFIER_ID: &str = "https://ci-attest.dev/verifier";
const INSTALL_HINT: &str = "run `bash tests/interop/install.sh`";

/// A policy trusting the `verifier` key for verdicts with this verifier id (and `rest`).
fn verdict_policy(id: &str, rest: &str) -> String {
    format!(
        "[[signer]]\nname = \"alice\"\nkey = \"../keys/ci-attest.pub\"\n\n\
         [[signer]]\nname = \"verifier\"\nkey = \"../keys/verifier.pub\"\n\n\
         [[verifier]]\nsigner = \"verifier\"\nid = \"{id}\"\n{rest}"
    )
}

/// The run bundle's own time moved by `offset_secs` (verdicts stored later have no finishedOn).
fn time(p: &Project, offset_secs: i64) -> String {
    bundle_time(&p.bundles()[0], offset_secs)
}

fn interop(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(file)
}

/// An attested project with a second key pair, `keys/verifier.{key,pub}`, that signs verdicts.
fn project() -> Project {
    let p = attested();
    p.keygen_named("verifier");
    p
}

/// `verify --attest-verdict --key keys/verifier.key` at `at` with these extra args.
fn attest(p: &Project, at: &str, extra: &[&str]) -> (Output, serde_json::Value) {
    p.verify_json(
        &[
            &["--at", at, "--attest-verdict", "--key", "keys/verifier.key"],
            extra,
        ]
        .concat(),
    )
}

/// The VSA bundles in the store, in order.
fn verdicts(p: &Project) -> Vec<PathBuf> {
    p.all_bundles()
        .into_iter()
        .filter(|b| statement_of(b)["predicateType"] == VSA)
        .collect()
}

fn sha256_of(path: &Path) -> String {
    hex::encode(sha2::Sha256::digest(std::fs::read(path).expect("read")))
}

/// Exit code and trimmed stdout of an independent checker (0 or 1; anything else is a setup error).
fn check(cmd: &mut Command) -> (i32, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}; {INSTALL_HINT}"));
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "{cmd:?}: {INSTALL_HINT}\n{}",
        text(&out)
    );
    (
        code,
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// Validates a verdict's statement against `docs/vsa.schema.json` (the SLSA VSA v1 field rules).
fn schema_check(statement: &serde_json::Value) -> (i32, String) {
    validate(statement, "docs/vsa.schema.json")
}

/// Validates a JSON document against one of the published schemas.
fn validate(document: &serde_json::Value, schema: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = dir.path().join("statement.json");
    std::fs::write(&doc, serde_json::to_vec(document).expect("JSON")).expect("write");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join(schema);
    let python = interop(".venv/bin/python");
    assert!(python.is_file(), "{INSTALL_HINT}");
    check(
        Command::new(python)
            .arg(interop("validate_json.py"))
            .arg(&doc)
            .arg(&schema),
    )
}

/// Asserts the fields SLSA VSA v1 requires, and those ci-attest always writes, by hand.
fn assert_vsa_fields(p: &Project, statement: &serde_json::Value, result: &str) {
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], VSA);
    let pred = &statement["predicate"];
    for field in [
        "verifier",
        "timeVerified",
        "resourceUri",
        "policy",
        "inputAttestations",
        "verificationResult",
        "verifiedLevels",
    ] {
        assert!(!pred[field].is_null(), "no {field} in {pred:#}");
    }
    assert_eq!(pred["verifier"]["id"], VERIFIER_ID);
    assert_eq!(
        pred["verifier"]["version"]["ci-attest"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(pred["verificationResult"], result);
    let levels = pred["verifiedLevels"].as_array().expect("array");
    assert!(!levels.is_empty());
    for l in levels {
        let l = l.as_str().expect("string");
        assert!(
            !l.starts_with("SLSA_"),
            "custom level {l} must not look like a SLSA level"
        );
    }
    // The subject is the run's subject: the same commit, the same digests.
    let run = statement_of(&p.bundles()[0]);
    assert_eq!(statement["subject"], run["subject"]);
    assert_eq!(statement["subject"][0]["digest"]["gitCommit"], p.head());
}

#[test]
fn a_verdict_for_an_accepted_commit_is_a_vsa_that_ci_attest_and_sigstore_js_verify() {
    let p = project();
    let at = time(&p, 60);
    let (out, report) = attest(&p, &at, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["verdict"], "accepted");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("verdict: "), "{stderr}");

    let vsa = verdicts(&p);
    assert_eq!(vsa.len(), 1, "one verdict stored beside the bundles");
    let statement = statement_of(&vsa[0]);
    assert_vsa_fields(&p, &statement, "PASSED");
    let pred = &statement["predicate"];
    assert_eq!(
        pred["verifiedLevels"],
        serde_json::json!(["CI_ATTEST_POLICY_PASSED"])
    );
    assert_eq!(pred["timeVerified"], at.as_str());
    assert_eq!(
        pred["policy"]["digest"]["sha256"],
        sha256_of(&p.root.join("policies/default.toml"))
    );
    assert_eq!(pred["policy"]["uri"], "policies/default.toml");
    // Each bundle judged, by digest: the local-run bundle, not the test-result one it lists.
    let inputs = pred["inputAttestations"].as_array().expect("array");
    assert_eq!(inputs.len(), 1, "{inputs:#?}");
    assert_eq!(inputs[0]["digest"]["sha256"], sha256_of(&p.bundles()[0]));
    let uri = inputs[0]["uri"].as_str().expect("uri");
    assert!(
        uri.starts_with(".ci-attest/") && p.bundles()[0].ends_with(uri),
        "a store location relative to the repository: {uri}"
    );
    let shown = p.cmd().arg("inspect").arg(&vsa[0]).output().expect("runs");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("(verdict)") && shown.contains("result   PASSED (CI_ATTEST_POLICY_PASSED)"),
        "{shown}"
    );
    let details = &pred["https://ci-attest.dev/verification-details/v1"];
    assert_eq!(details["verdict"], "accepted");
    assert_eq!(details["counts"]["errors"], 0);
    let checks: Vec<&str> = details["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(checks, ["tests", "coverage", "lint"]);
    assert!(
        details["signer"]
            .as_str()
            .is_some_and(|s| s.starts_with("sha256:"))
    );
    assert_eq!(schema_check(&statement), (0, "VALID".to_string()));

    // An independent verifier takes it as a plain key-signed sigstore bundle.
    assert!(
        interop("node_modules/@sigstore/verify/package.json").is_file(),
        "{INSTALL_HINT}"
    );
    let (code, out) = check(
        Command::new("node")
            .arg(interop("verify.mjs"))
            .arg(&vsa[0])
            .arg(p.root.join("keys/verifier.pub")),
    );
    assert_eq!((code, out.as_str()), (0, "VERIFIED"));
    // ...and rejects it under another key.
    let (code, _) = check(
        Command::new("node")
            .arg(interop("verify.mjs"))
            .arg(&vsa[0])
            .arg(p.root.join("keys/ci-attest.pub")),
    );
    assert_eq!(code, 1);

    // Trusted (signer, verifier id): accepted by `verify --verdict`.
    p.write("policies/verdicts.toml", &verdict_policy(VERIFIER_ID, ""));
    let later = time(&p, 120);
    let (out, report) = p.verify_json(&[
        "--verdict",
        "--policy",
        "policies/verdicts.toml",
        "--at",
        &later,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["verdict"], "accepted", "{report:#}");
    let selected: Vec<&serde_json::Value> = report["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .filter(|b| b["selected"] == true)
        .collect();
    assert_eq!(selected.len(), 1);
    assert_eq!(selected[0]["signer"], "verifier");
    // The verdict report is a verify report like any other.
    assert_eq!(
        validate(&report, "docs/report.schema.json"),
        (0, "VALID".to_string())
    );

    // A replay before the verdict was given (beyond the clock-skew allowance) finds no verdict.
    let before = time(&p, -3600);
    let (_, report) = p.verify_json(&[
        "--verdict",
        "--policy",
        "policies/verdicts.toml",
        "--at",
        &before,
    ]);
    assert_finding(&report, "no-attestation");
    assert_noted(&report, "attestation-from-future");

    // `verify` of the runs lists the verdict as another known predicate, never an error.
    let (out, report) = p.verify_json(&["--at", &later]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listed = report["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .find(|b| {
            b["location"]
                .as_str()
                .is_some_and(|l| vsa[0].ends_with(Path::new(l).file_name().unwrap_or_default()))
        })
        .unwrap_or_else(|| panic!("the verdict is listed: {report:#}"));
    assert_eq!(listed["findings"][0]["code"], "predicate-type-unsupported");
    assert_eq!(listed["findings"][0]["severity"], "info");
}

#[test]
fn a_verdict_for_a_rejected_commit_says_failed_and_verify_verdict_rejects_it() {
    let p = project();
    let at = time(&p, 60);
    p.write(
        "policies/strict.toml",
        &POLICY.replace("min = 85.0", "min = 99.0"),
    );
    let (out, report) = attest(&p, &at, &["--policy", "policies/strict.toml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(report["verdict"], "rejected");
    let vsa = verdicts(&p);
    assert_eq!(vsa.len(), 1, "a rejection is signed too");
    let statement = statement_of(&vsa[0]);
    assert_vsa_fields(&p, &statement, "FAILED");
    let pred = &statement["predicate"];
    assert_eq!(pred["verifiedLevels"], serde_json::json!(["FAILED"]));
    let details = &pred["https://ci-attest.dev/verification-details/v1"];
    assert_eq!(details["verdict"], "rejected");
    assert!(
        details["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["code"] == "threshold-not-met" && f["severity"] == "error"),
        "{details:#}"
    );
    assert_eq!(schema_check(&statement), (0, "VALID".to_string()));
    // The schema can fail: a FAILED result claiming the passed level is refused.
    let mut forged = statement.clone();
    forged["predicate"]["verifiedLevels"] = serde_json::json!(["CI_ATTEST_POLICY_PASSED"]);
    assert_eq!(schema_check(&forged).0, 1);

    let (code, out) = check(
        Command::new("node")
            .arg(interop("verify.mjs"))
            .arg(&vsa[0])
            .arg(p.root.join("keys/verifier.pub")),
    );
    assert_eq!((code, out.as_str()), (0, "VERIFIED"));

    p.write("policies/verdicts.toml", &verdict_policy(VERIFIER_ID, ""));
    let later = time(&p, 120);
    let (out, report) = p.verify_json(&[
        "--verdict",
        "--policy",
        "policies/verdicts.toml",
        "--at",
        &later,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "verdict-failed");
}

#[test]
fn verify_verdict_trusts_only_the_pairs_the_policy_names() {
    let p = project();
    let at = time(&p, 60);
    let (out, _) = attest(&p, &at, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let later = time(&p, 120);
    let verdict = |policy: &str| {
        p.write("policies/verdicts.toml", policy);
        p.verify_json(&[
            "--verdict",
            "--policy",
            "policies/verdicts.toml",
            "--at",
            &later,
        ])
    };

    // The right key, but another verifier id than the verdict names.
    let (out, report) = verdict(&verdict_policy("https://verifier.example/other", ""));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "verifier-untrusted");

    // The verifier id, but only the developer's key is paired with it.
    let policy = verdict_policy(VERIFIER_ID, "").replace(
        "[[verifier]]\nsigner = \"verifier\"",
        "[[verifier]]\nsigner = \"alice\"",
    );
    let (_, report) = verdict(&policy);
    assert_finding(&report, "verifier-untrusted");

    // A key the policy does not list at all.
    let policy = "[[signer]]\nname = \"alice\"\nkey = \"../keys/ci-attest.pub\"\n\n\
                  [[verifier]]\nsigner = \"alice\"\nid = \"https://ci-attest.dev/verifier\"\n";
    let (_, report) = verdict(policy);
    assert_finding(&report, "signer-untrusted");

    // The trusted pair, but the verdict applied another policy than the one required.
    let (_, report) = verdict(&verdict_policy(
        VERIFIER_ID,
        &format!("policy_sha256 = \"{}\"\n", "0".repeat(64)),
    ));
    assert_finding(&report, "verdict-policy-mismatch");
    let required = sha256_of(&p.root.join("policies/default.toml"));
    let (out, report) = verdict(&verdict_policy(
        VERIFIER_ID,
        &format!("policy_sha256 = \"{required}\"\n"),
    ));
    assert_eq!(out.status.code(), Some(0), "{report:#}");

    // A verdict given in another repository (a fork or mirror shares the commit) does not count.
    let (_, report) = verdict(&verdict_policy(
        VERIFIER_ID,
        "\n[require]\nrepository = \"https://github.com/acme/app\"\n",
    ));
    assert_finding(&report, "repository-mismatch");

    // A policy without `[[verifier]]` cannot judge verdicts: a usage error.
    let out = p
        .cmd()
        .args(["verify", "--verdict", "--at", &later])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn a_verdict_never_counts_for_another_commit() {
    let p = project();
    let at = time(&p, 60);
    let (out, _) = attest(&p, &at, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let vsa = verdicts(&p).remove(0);
    let copy = p.root.join("out-verdict.json");
    std::fs::copy(&vsa, &copy).expect("copy");
    p.write("policies/verdicts.toml", &verdict_policy(VERIFIER_ID, ""));
    p.write("NEWS", "a second commit\n");
    p.commit("second");
    let later = time(&p, 120);
    let (out, report) = p.verify_json(&[
        "--verdict",
        "--policy",
        "policies/verdicts.toml",
        "--at",
        &later,
        "--bundle",
        copy.to_str().expect("UTF-8 path"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "subject-commit-mismatch");
}

#[test]
fn audit_attest_verdict_signs_one_verdict_per_commit() {
    let p = project();
    let at = time(&p, 60);
    let out = p
        .cmd()
        .args([
            "audit",
            "--range",
            "HEAD",
            "--at",
            &at,
            "--attest-verdict",
            "--key",
            "keys/verifier.key",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let vsa = verdicts(&p);
    assert_eq!(vsa.len(), 1);
    let statement = statement_of(&vsa[0]);
    assert_vsa_fields(&p, &statement, "PASSED");
    assert_eq!(statement["predicate"]["timeVerified"], at.as_str());
    assert_eq!(schema_check(&statement), (0, "VALID".to_string()));
    // Without a signer the flag is a usage error, before anything is judged.
    let out = p
        .cmd()
        .args(["audit", "--range", "HEAD", "--at", &at, "--attest-verdict"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn the_verifier_workflow_attaches_a_verdict_only_when_enabled() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workflow =
        std::fs::read_to_string(root.join("src/cli/templates/ci-attest-verify.yml")).expect("read");
    // Off by default, and then no job may mint an OIDC token or write attestations.
    assert!(workflow.contains("attest-verdict: \"false\""), "{workflow}");
    let granted: Vec<&str> = workflow
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("id-token:") || l.starts_with("attestations: write"))
        .collect();
    assert!(granted.is_empty(), "granted by default: {granted:?}");
    assert!(
        workflow.contains("# id-token: write"),
        "the grant to uncomment is named"
    );
    // The action takes the input, and signs keylessly only when it is "true".
    let action = std::fs::read_to_string(root.join("action.yml")).expect("read");
    assert!(action.contains("\n  attest-verdict:\n"), "action.yml input");
    assert!(action.contains("\n  verifier-id:\n"), "action.yml input");
    assert!(
        action.contains(
            "if [[ \"$CI_ATTEST_VERDICT\" == true ]]; then\n          args+=(--attest-verdict --keyless"
        ),
        "the action passes --attest-verdict --keyless only when enabled"
    );
    assert!(
        action.contains("ACTIONS_ID_TOKEN_REQUEST_URL"),
        "the action refuses attest-verdict without id-token: write"
    );
}

#[test]
fn a_keyless_verdict_is_trusted_for_the_workflow_identity_paired_with_its_verifier_id() {
    const ISSUER: &str = "https://token.actions.githubusercontent.com";
    const WORKFLOW: &str =
        "https://github.com/acme/app/.github/workflows/ci-attest-verify.yml@refs/heads/main";
    const ID: &str = "https://github.com/acme/app/.github/workflows/ci-attest-verify.yml";
    let p = attested();
    let l = local();
    let at = time(&p, 60);
    let out = p
        .cmd()
        .args(["verify", "--format", "json", "--at", &at])
        .args(["--attest-verdict", "--keyless", "--verifier-id", ID])
        .args(["--fulcio-url", &l.fulcio, "--rekor-url", &l.rekor])
        .env("SIGSTORE_ID_TOKEN", token(ISSUER, WORKFLOW))
        .output()
        .unwrap_or_else(|e| panic!("runs: {e}; {LOCAL_HINT}"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let vsa = verdicts(&p);
    assert_eq!(vsa.len(), 1);
    let statement = statement_of(&vsa[0]);
    let details = &statement["predicate"]["https://ci-attest.dev/verification-details/v1"];
    assert_eq!(details["signer"], format!("{WORKFLOW} ({ISSUER})"));
    assert_eq!(statement["predicate"]["verifier"]["id"], ID);

    let root = l.trusted_root.to_string_lossy().into_owned();
    let policy = |identity: &str| {
        format!(
            "[[signer]]\nname = \"workflow\"\nissuer = \"{ISSUER}\"\nidentity = \"{identity}\"\n\n\
             [[verifier]]\nsigner = \"workflow\"\nid = \"{ID}\"\n"
        )
    };
    p.write("policies/verdicts.toml", &policy(WORKFLOW));
    let later = time(&p, 120);
    let args = [
        "--verdict",
        "--policy",
        "policies/verdicts.toml",
        "--trusted-root",
        &root,
        "--at",
        &later,
    ];
    let (out, report) = p.verify_json(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let selected = report["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .find(|b| b["selected"] == true)
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(selected["signer"], "workflow");
    assert_eq!(selected["timeSource"], "transparency-log");

    // The same verdict for a workflow on another branch: not the identity the policy trusts.
    p.write(
        "policies/verdicts.toml",
        &policy(&WORKFLOW.replace("refs/heads/main", "refs/heads/evil")),
    );
    let (_, report) = p.verify_json(&args);
    assert_finding(&report, "identity-mismatch");
}

#[test]
fn an_encrypted_verdict_key_takes_its_password_before_anything_is_judged() {
    let p = attested();
    let out = p
        .cmd()
        .args(["keygen", "--out", "keys", "--name", "verifier"])
        .env("CI_ATTEST_PASSWORD", "correct horse")
        .output()
        .expect("runs");
    assert!(out.status.success(), "keygen: {}", text(&out));
    let at = time(&p, 60);
    let attest = |password: &str| {
        p.cmd()
            .args([
                "verify",
                "--at",
                &at,
                "--attest-verdict",
                "--key",
                "keys/verifier.key",
            ])
            .env("CI_ATTEST_PASSWORD", password)
            .output()
            .expect("runs")
    };
    let out = attest("wrong");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(out.stdout.is_empty(), "nothing judged: {}", text(&out));
    assert!(verdicts(&p).is_empty(), "nothing signed");
    let out = attest("correct horse");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(verdicts(&p).len(), 1);

    // Flags that cannot go together are usage errors, each saying why.
    let cases: [(&[&str], &str); 3] = [
        (
            &["verify", "--offline", "--attest-verdict", "--keyless"],
            "--offline forbids network use",
        ),
        (
            &[
                "verify",
                "--verdict",
                "--attest-verdict",
                "--key",
                "keys/verifier.key",
            ],
            "cannot be used with",
        ),
        (
            &["verify", "--key", "keys/verifier.key"],
            "--attest-verdict",
        ),
    ];
    for (args, why) in cases {
        let out = p.cmd().args(args).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(why),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn the_newest_trusted_verdict_decides_and_an_untrusted_newer_one_does_not() {
    let p = project();
    p.write(
        "policies/strict.toml",
        &POLICY.replace("min = 85.0", "min = 99.0"),
    );
    p.write("policies/verdicts.toml", &verdict_policy(VERIFIER_ID, ""));
    let judge = || {
        p.verify_json(&[
            "--verdict",
            "--policy",
            "policies/verdicts.toml",
            "--at",
            &time(&p, 600),
        ])
        .1
    };
    // PASSED at +60, then FAILED at +90: the newer one decides.
    assert_eq!(attest(&p, &time(&p, 60), &[]).0.status.code(), Some(0));
    let strict = ["--policy", "policies/strict.toml"];
    assert_eq!(attest(&p, &time(&p, 90), &strict).0.status.code(), Some(1));
    assert_finding(&judge(), "verdict-failed");
    // PASSED again at +120: accepted.
    assert_eq!(attest(&p, &time(&p, 120), &[]).0.status.code(), Some(0));
    assert_eq!(judge()["verdict"], "accepted");
    // A newer FAILED verdict under another verifier id is not trusted, so it changes nothing.
    let other = [
        "--policy",
        "policies/strict.toml",
        "--verifier-id",
        "https://verifier.example/other",
    ];
    assert_eq!(attest(&p, &time(&p, 150), &other).0.status.code(), Some(1));
    let report = judge();
    assert_eq!(report["verdict"], "accepted", "{report:#}");
    assert_noted(&report, "verifier-untrusted");
    assert_eq!(verdicts(&p).len(), 4);
}
