//! All 111 third-party sigstore cases in `tests/vectors/third-party/cases.json` (sigstore-conformance,
//! sigstore-python, sigstore-go, sigstore-js, sigstore-rs, GitHub CLI; origin and licences in its
//! MANIFEST.md) give the expected outcome, and every expected failure fails for its stated reason:
//! the finding code is asserted, not just the rejection.

use ci_attest::trust::TrustedRoot;
use ci_attest::verify::cert::{IdentityMatcher, SanRegex};
use ci_attest::verify::pki::VerifyingKey;
use ci_attest::verify::sigstore::{Artifact, Signer, verify};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    bundle: String,
    artifact: Option<String>,
    artifact_digest: Option<String>,
    trusted_root: String,
    key: Option<String>,
    identity: Option<String>,
    issuer: Option<String>,
    expect: String,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/third-party")
}

/// The finding code each expected failure must produce (the first rejecting finding's code is
/// among the case's findings). Where a case could fail for more than one reason, the code names
/// the reason the case is about.
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    (
        "conformance/bundle-empty-certificate-chain_fail",
        "bundle-malformed",
    ),
    (
        "conformance/bundle-from-wrong-instance_fail",
        "certificate-invalid",
    ),
    (
        "conformance/bundle-invalid-base64-signature_fail",
        "bundle-malformed",
    ),
    ("conformance/bundle-malformed-json_fail", "bundle-malformed"),
    (
        "conformance/bundle-negative-log-index_fail",
        "bundle-malformed",
    ),
    (
        "conformance/bundle-unknown-version_fail",
        "bundle-media-type-unsupported",
    ),
    // The contested root-in-chain rule (MANIFEST, surprise 4): we accept a trailing copy of the
    // trusted root (so sigstore-go/bundle-provenance, sigstore-go/dsse and
    // sigstore-js/bundleV01-full-cert-chain pass) and reject a root anywhere else, as here
    // (leaf, root, intermediate). It also lacks a checkpoint, which is reported too.
    (
        "conformance/bundle-with-root-cert_fail",
        "certificate-invalid",
    ),
    (
        "conformance/checkpoint-bad-keyhint_fail",
        "tlog-checkpoint-invalid",
    ),
    (
        "conformance/checkpoint-wrong-roothash_fail",
        "tlog-checkpoint-invalid",
    ),
    ("conformance/dsse-invalid-sig_fail", "signature-invalid"),
    (
        "conformance/dsse-mismatch-envelope_fail",
        "tlog-entry-mismatch",
    ),
    ("conformance/dsse-mismatch-sig_fail", "tlog-entry-mismatch"),
    (
        "conformance/inclusion-proof-corrupted-hash_fail",
        "tlog-inclusion-proof-invalid",
    ),
    (
        "conformance/incorrect-public-key_fail",
        "tlog-entry-mismatch",
    ),
    (
        "conformance/integrated-time-in-future_fail",
        "certificate-invalid",
    ),
    (
        "conformance/intoto-expired-certificate_fail",
        "certificate-invalid",
    ),
    (
        "conformance/intoto-log-entry-mismatch_fail",
        "tlog-entry-mismatch",
    ),
    // A v0.2 bundle must carry an inclusion proof: the bundle parser enforces the format's rule.
    (
        "conformance/intoto-missing-inclusion-proof_fail",
        "bundle-malformed",
    ),
    (
        "conformance/intoto-set-outside-signing-cert-validity_fail",
        "certificate-invalid",
    ),
    (
        "conformance/intoto-tsa-timestamp-outside-cert-validity_fail",
        "certificate-invalid",
    ),
    (
        "conformance/invalid-checkpoint-signature_fail",
        "tlog-checkpoint-invalid",
    ),
    ("conformance/invalid-ct-key_fail", "certificate-sct-invalid"),
    // Its stale proof comes without a checkpoint, which a v0.2 bundle must have.
    (
        "conformance/invalid-inclusion-proof_fail",
        "bundle-malformed",
    ),
    (
        "conformance/managed-key-no-key_fail",
        "verification-material-unsupported",
    ),
    // Its key.pub is deliberately not a key ("...wrongkey=="): the verifier cannot even load it.
    ("conformance/managed-key-wrong-key_fail", "key-unusable"),
    (
        "conformance/message-digest-mismatch_fail",
        "artifact-mismatch",
    ),
    (
        "conformance/rekor2-checkpoint-missing-log-signature_fail",
        "tlog-checkpoint-invalid",
    ),
    (
        "conformance/rekor2-checkpoint-missing-origin_fail",
        "tlog-checkpoint-invalid",
    ),
    (
        "conformance/rekor2-checkpoint-missing-root-hash_fail",
        "tlog-checkpoint-invalid",
    ),
    (
        "conformance/rekor2-checkpoint-missing-size_fail",
        "tlog-checkpoint-invalid",
    ),
    (
        "conformance/rekor2-checkpoint-no-matching-signature_fail",
        "tlog-checkpoint-invalid",
    ),
    (
        "conformance/rekor2-dsse-invalid-sig_fail",
        "signature-invalid",
    ),
    (
        "conformance/rekor2-dsse-mismatch-envelope_fail",
        "tlog-entry-mismatch",
    ),
    (
        "conformance/rekor2-dsse-mismatch-sig_fail",
        "tlog-entry-mismatch",
    ),
    (
        "conformance/rekor2-no-inclusion-proof_fail",
        "bundle-malformed",
    ),
    (
        "conformance/rekor2-no-timestamp_fail",
        "signing-time-unverified",
    ),
    (
        "conformance/rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        "timestamp-invalid",
    ),
    (
        "conformance/rekor2-timestamp-outside-tsa-cert-validity_fail",
        "timestamp-invalid",
    ),
    (
        "conformance/rekor2-timestamp-payload-mismatch_fail",
        "timestamp-invalid",
    ),
    (
        "conformance/rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        "timestamp-invalid",
    ),
    (
        "conformance/rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        "timestamp-invalid",
    ),
    (
        "conformance/rekor2-timestamp-with-incorrect-time_fail",
        "certificate-invalid",
    ),
    ("conformance/set-invalid-signature_fail", "tlog-set-invalid"),
    ("conformance/signature-mismatch_fail", "signature-invalid"),
    (
        "conformance/trust-root-tlog-missing-validity-start_fail",
        "tlog-log-untrusted",
    ),
    (
        "conformance/wrong-hashedrekord-artifact_fail",
        "tlog-entry-mismatch",
    ),
    (
        "conformance/wrong-hashedrekord-cert-and-sig_fail",
        "tlog-entry-mismatch",
    ),
    (
        "conformance/wrong-hashedrekord-entry_fail",
        "tlog-entry-mismatch",
    ),
    ("conformance/wrong-material_fail", "artifact-mismatch"),
    (
        "sigstore-python/bundle_cve_2022_36056",
        "tlog-entry-mismatch",
    ),
    (
        "sigstore-python/bundle_invalid_version",
        "bundle-media-type-unsupported",
    ),
    ("sigstore-python/bundle_no_cert_v1", "bundle-malformed"),
    ("sigstore-python/bundle_no_log_entry", "tlog-entry-missing"),
    ("sigstore-python/bundle_no_checkpoint", "bundle-malformed"),
    (
        "sigstore-python/bundle_v3_no_signed_time",
        "signing-time-unverified",
    ),
    ("sigstore-go/dsse-2sigs", "envelope-malformed"),
    ("sigstore-go/othername-wrong-identity", "identity-mismatch"),
    (
        "github-cli/custom-issuer-default-issuer",
        "identity-mismatch",
    ),
    (
        "github-cli/github_provenance_demo-0.0.12",
        "timestamp-invalid",
    ),
    ("github-cli/bundle-missing-cert", "bundle-malformed"),
    (
        "github-cli/bundle-missing-verification-material",
        "bundle-malformed",
    ),
    (
        "github-cli/sigstoreBundle-invalid-signature",
        "signature-invalid",
    ),
];

/// Runs one case with one form of the artifact; returns Ok or the finding codes.
fn run(case: &Case, artifact: Option<&Artifact>) -> Result<(), Vec<String>> {
    let bundle = std::fs::read(dir().join(&case.bundle)).expect("bundle file");
    let root = match TrustedRoot::from_json(
        &std::fs::read(dir().join(&case.trusted_root)).expect("root file"),
    ) {
        Ok(r) => r,
        Err(e) => return Err(vec![format!("trusted-root-invalid: {e}")]),
    };
    let result = match (&case.key, &case.identity, &case.issuer) {
        (Some(key), _, _) => {
            let pem = std::fs::read_to_string(dir().join(key)).expect("key file");
            let spki = match pem_to_der(&pem) {
                Some(d) => d,
                None => return Err(vec!["key-unusable".into()]),
            };
            let Ok(vk) = VerifyingKey::from_spki_der(&spki) else {
                return Err(vec!["key-unusable".into()]);
            };
            verify(&bundle, &root, &Signer::Key(&vk, &spki), artifact)
        }
        (None, Some(identity), Some(issuer)) => {
            let matcher = IdentityMatcher::Exact(identity.clone());
            verify(
                &bundle,
                &root,
                &Signer::Keyless {
                    issuer,
                    identity: &matcher,
                },
                artifact,
            )
        }
        _ => panic!("{}: neither key nor identity", case.id),
    };
    result.map(|_| ()).map_err(|fs| {
        fs.iter()
            .map(|f| format!("{}: {}", f.code, f.found.clone().unwrap_or_default()))
            .collect()
    })
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .ok()
}

#[test]
fn every_third_party_case_gives_the_expected_outcome_for_its_reason() {
    let cases: Cases =
        serde_json::from_slice(&std::fs::read(dir().join("cases.json")).expect("cases.json"))
            .expect("parses");
    assert_eq!(cases.cases.len(), 111);
    let _ = SanRegex::new;
    let mut wrong = Vec::new();
    let mut report = Vec::new();
    for case in &cases.cases {
        let mut forms: Vec<Artifact> = case
            .artifact_digest
            .iter()
            .map(|d| Artifact::parse_digest(d).expect("digest"))
            .collect();
        if let Some(a) = &case.artifact {
            forms.push(Artifact::Bytes(
                std::fs::read(dir().join(a)).expect("artifact"),
            ));
        }
        // A case with neither (a text/plain DSSE payload) has nothing to bind: run it once without.
        let forms: Vec<Option<&Artifact>> = if forms.is_empty() {
            vec![None]
        } else {
            forms.iter().map(Some).collect()
        };
        for (i, artifact) in forms.into_iter().enumerate() {
            let got = run(case, artifact);
            let form = if i == 0 && case.artifact_digest.is_some() {
                "digest"
            } else {
                "file"
            };
            match (case.expect.as_str(), &got) {
                ("pass", Ok(())) => {}
                ("fail", Err(codes)) => {
                    report.push(format!("{} [{form}] -> {}", case.id, codes.join(" | ")));
                    if let Some((_, code)) = EXPECTED_FAILURES.iter().find(|(id, _)| *id == case.id)
                    {
                        if !codes
                            .iter()
                            .any(|c| c.starts_with(&format!("{code}:")) || c == code)
                        {
                            wrong.push(format!(
                                "{} [{form}]: expected {code}, got {}",
                                case.id,
                                codes.join(" | ")
                            ));
                        }
                    } else {
                        wrong.push(format!(
                            "{} [{form}]: no expected code listed; got {}",
                            case.id,
                            codes.join(" | ")
                        ));
                    }
                }
                (expect, got) => wrong.push(format!(
                    "{} [{form}]: expected {expect}, got {got:?}",
                    case.id
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}\n\nall failures:\n{}",
        wrong.len(),
        wrong.join("\n"),
        report.join("\n")
    );
}

/// The fixed-key fast path (src/verify/pki/fixed.rs) gives every case the same outcome, with the
/// same findings, as the ecdsa crate's own verification: each case is run with tables off, then
/// with a table for every key from its first use.
#[test]
fn every_case_has_the_same_outcome_with_and_without_key_tables() {
    use ci_attest::verify::pki::{TABLE_AFTER_USES, set_table_after_uses};
    let cases: Cases =
        serde_json::from_slice(&std::fs::read(dir().join("cases.json")).expect("cases.json"))
            .expect("parses");
    let outcomes = |threshold: u32| -> Vec<Result<(), Vec<String>>> {
        set_table_after_uses(threshold);
        cases
            .cases
            .iter()
            .flat_map(|case| {
                let digest = case
                    .artifact_digest
                    .as_deref()
                    .map(|d| Artifact::parse_digest(d).expect("digest"));
                let bytes = case
                    .artifact
                    .as_ref()
                    .map(|a| Artifact::Bytes(std::fs::read(dir().join(a)).expect("artifact")));
                [run(case, digest.as_ref()), run(case, bytes.as_ref())]
            })
            .collect()
    };
    let without = outcomes(u32::MAX);
    // Twice with tables: built on the first pass, used as built on the second.
    let with = outcomes(0);
    let again = outcomes(0);
    set_table_after_uses(TABLE_AFTER_USES);
    assert_eq!(without.len(), 222);
    assert!(
        without.iter().filter(|o| o.is_ok()).count() >= 40,
        "passing cases exercise it"
    );
    assert_eq!(without, with);
    assert_eq!(without, again);
}

const HAPPY: &str = "sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json";
const A_TXT: &str = "sigstore-conformance/bundle-verify/a.txt";
const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ACTIONS: &str = "https://token.actions.githubusercontent.com";

fn production() -> TrustedRoot {
    TrustedRoot::from_json(
        &std::fs::read(dir().join("trusted-roots/public-good-production.trusted_root.json"))
            .expect("root"),
    )
    .expect("parses")
}

fn verify_happy(bundle: &[u8], identity: &IdentityMatcher) -> Result<(), Vec<String>> {
    let artifact = Artifact::Bytes(std::fs::read(dir().join(A_TXT)).expect("a.txt"));
    verify(
        bundle,
        &production(),
        &Signer::Keyless {
            issuer: ACTIONS,
            identity,
        },
        Some(&artifact),
    )
    .map(|_| ())
    .map_err(|fs| fs.iter().map(|f| f.code.to_string()).collect())
}

#[test]
fn an_identity_regex_is_anchored_at_both_ends() {
    let bundle = std::fs::read(dir().join(HAPPY)).expect("bundle");
    let full = IdentityMatcher::Regex(
        SanRegex::new(r"https://github\.com/sigstore-conformance/.*@refs/heads/main")
            .expect("regex"),
    );
    assert_eq!(verify_happy(&bundle, &full), Ok(()));
    // Unanchored, this would match: the most common real-world hole in identity checks.
    let part =
        IdentityMatcher::Regex(SanRegex::new(r"github\.com/sigstore-conformance").expect("regex"));
    assert_eq!(
        verify_happy(&bundle, &part),
        Err(vec!["identity-mismatch".to_string()])
    );
    assert_eq!(
        verify_happy(&bundle, &IdentityMatcher::Exact(BEACON.into())),
        Ok(())
    );
}

#[test]
fn a_log_entry_of_an_unsupported_kind_is_reported_as_malformed() {
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir().join(HAPPY)).expect("bundle")).expect("json");
    json["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"] = "rekord".into();
    let bundle = serde_json::to_vec(&json).expect("serialise");
    let codes =
        verify_happy(&bundle, &IdentityMatcher::Exact(BEACON.into())).expect_err("rejected");
    let expected = [("kindVersion.kind = rekord", "tlog-entry-malformed")];
    assert!(
        codes.contains(&expected[0].1.to_string()),
        "{}: {codes:?}",
        expected[0].0
    );
}

/// The sigstore-conformance CLI protocol: exit 0 when verified, non-zero otherwise, with the artifact
/// as a file or as `sha256:<hex>`, and the embedded production root when none is given.
#[test]
fn verify_bundle_speaks_the_conformance_protocol() {
    let run = |bundle: &str, artifact: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ci-attest"))
            .args(["verify-bundle", "--bundle"])
            .arg(dir().join(bundle))
            .args([
                "--certificate-identity",
                BEACON,
                "--certificate-oidc-issuer",
                ACTIONS,
            ])
            .arg(artifact)
            .output()
            .expect("runs")
    };
    let file = dir().join(A_TXT).to_string_lossy().into_owned();
    let digest = "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";
    for artifact in [file.as_str(), digest] {
        let ok = run(HAPPY, artifact);
        assert_eq!(
            ok.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let bad = run(
            "sigstore-conformance/bundle-verify/set-invalid-signature_fail/bundle.sigstore.json",
            artifact,
        );
        assert_eq!(bad.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&bad.stderr).contains("tlog-set-invalid"));
    }
}
