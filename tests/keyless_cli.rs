//! Keyless end to end through the binary, over real HTTP on 127.0.0.1: `run --keyless` signs with a
//! Fulcio certificate and a Rekor entry from the local services, `verify` accepts it with a keyless
//! signer and the local trusted root, and rejects it for another identity or another instance.

mod common;

use common::sigstore_local::{INSTALL_HINT, local, token};
use common::*;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const IDENTITY: &str = "https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main";

fn keyless_policy(identity_line: &str) -> String {
    let head = POLICY.split("[[signer]]").next().expect("policy");
    let rest = POLICY
        .split("[require]")
        .nth(1)
        .expect("policy has [require]");
    format!(
        "{head}[[signer]]\nname = \"ci\"\nissuer = \"{ISSUER}\"\n{identity_line}\n\n[require]\ntlog = true{rest}"
    )
}

fn keyless_run(p: &Project) {
    let l = local();
    let out = p
        .cmd()
        .args([
            "run",
            "--keyless",
            "--fulcio-url",
            &l.fulcio,
            "--rekor-url",
            &l.rekor,
        ])
        .args(["--tsa-url", &l.tsa])
        .env("SIGSTORE_ID_TOKEN", token(ISSUER, IDENTITY))
        .output()
        .unwrap_or_else(|e| panic!("runs: {e}; {INSTALL_HINT}"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("eyJ"),
        "the token is never printed"
    );
}

#[test]
fn run_keyless_then_verify_accepts_the_identity_and_rejects_others() {
    let p = Project::passing();
    keyless_run(&p);
    let root = local().trusted_root.to_string_lossy().into_owned();

    p.write(
        "policies/keyless.toml",
        &keyless_policy(&format!("identity = \"{IDENTITY}\"")),
    );
    let (out, report) =
        p.verify_json(&["--policy", "policies/keyless.toml", "--trusted-root", &root]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["verdict"], "accepted");
    assert_eq!(report["bundles"][0]["signer"], "ci");

    // An anchored regex that covers the workflow on any branch also accepts ...
    p.write(
        "policies/regex.toml",
        &keyless_policy(r#"identity_regex = 'https://github\.com/acme/app/\.github/workflows/ci\.yml@refs/heads/.+'"#),
    );
    let (out, _) = p.verify_json(&["--policy", "policies/regex.toml", "--trusted-root", &root]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // ... but a regex matching only part of the SAN does not: it is anchored at both ends.
    p.write(
        "policies/part.toml",
        &keyless_policy(r#"identity_regex = 'github\.com/acme/app'"#),
    );
    let (_, report) = p.verify_json(&["--policy", "policies/part.toml", "--trusted-root", &root]);
    assert_finding(&report, "identity-mismatch");

    // Another instance's trusted root (the embedded public-good one) does not vouch for it.
    let (_, report) = p.verify_json(&["--policy", "policies/keyless.toml"]);
    assert_eq!(report["verdict"], "rejected", "{report:#}");
    assert!(
        codes(&report)
            .iter()
            .any(|c| c == "certificate-invalid" || c == "tlog-log-untrusted"),
        "{report:#}"
    );
}

#[test]
fn a_policy_requiring_the_log_rejects_key_signed_bundles() {
    let p = Project::passing();
    p.keygen();
    assert!(p.run().status.success());
    let policy = POLICY.replace("[require]", "[require]\ntlog = true");
    p.write("policies/tlog.toml", &policy);
    let (_, report) = p.verify_json(&["--policy", "policies/tlog.toml"]);
    assert_finding(&report, "tlog-entry-missing");
}
