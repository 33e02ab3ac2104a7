//! Transparency-log verification against the real third-party vectors in
//! `tests/vectors/third-party` (see its `MANIFEST.md`).
//!
//! `every_case_has_its_expected_log_outcome` runs the log entry of each of the 111 cases of
//! `cases.json` through `verify_bundle_entry` and pins the outcome: every `pass` case's entry
//! verifies, and every case whose expected failure is about the log entry fails for that reason.
//! The other tests alter real entries one field at a time and say which check must catch it.

use ci_attest::bundle::{Bundle, MediaType, TransparencyLogEntry};
use ci_attest::trust::TrustedRoot;
use ci_attest::verify::tlog::{
    EntryKind, SignedContent, TlogError, VerifiedEntry, merkle, verify_bundle_entry, verify_entry,
};
use std::path::PathBuf;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/third-party")
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(vectors().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bundle(path: &str) -> Bundle {
    Bundle::from_slice(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn root(path: &str) -> TrustedRoot {
    TrustedRoot::from_json(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn production() -> TrustedRoot {
    root("trusted-roots/public-good-production.trusted_root.json")
}

fn conformance(case: &str) -> String {
    format!("sigstore-conformance/bundle-verify/{case}/bundle.sigstore.json")
}

fn conformance_root(case: &str) -> TrustedRoot {
    root(&format!(
        "sigstore-conformance/bundle-verify/{case}/trusted_root.json"
    ))
}

/// Verifies the first entry of a keyless bundle.
fn verify_first(b: &Bundle, root: &TrustedRoot) -> Result<VerifiedEntry, TlogError> {
    let signed = SignedContent::from_bundle(b, None).expect("keyless bundle");
    verify_entry(&b.verification_material.tlog_entries[0], root, &signed)
}

/// A bundle the bundle parser rejects for its media type's entry rules, parsed as v0.1 so that
/// its entry can be checked against the rules of its real media type.
fn bundle_as_v01(path: &str) -> Bundle {
    let mut v: serde_json::Value = serde_json::from_slice(&read(path)).expect("json");
    v["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1".into();
    Bundle::from_slice(&serde_json::to_vec(&v).expect("json")).expect("parses as v0.1")
}

// ---------------------------------------------------------------------------------------------
// Every case of cases.json.

/// The log outcome of a case: `ok <kind>[ set][ proof]` when every entry verifies, the
/// `TlogError` variant when one fails, or why the log check is not reached.
const EXPECTED: &[(&str, &str)] = &[
    (
        "conformance/bundle-empty-certificate-chain_fail",
        "unreadable",
    ),
    ("conformance/bundle-from-wrong-instance_fail", "UnknownLog"),
    (
        "conformance/bundle-invalid-base64-signature_fail",
        "unreadable",
    ),
    ("conformance/bundle-malformed-json_fail", "unreadable"),
    ("conformance/bundle-negative-log-index_fail", "unreadable"),
    ("conformance/bundle-unknown-version_fail", "unreadable"),
    ("conformance/bundle-with-root-cert_fail", "ProofMissing"),
    (
        "conformance/bundle-with-sct-with-extensions",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/checkpoint-bad-keyhint_fail",
        "CheckpointInvalid(NoValidSignature)",
    ),
    (
        "conformance/checkpoint-wrong-roothash_fail",
        "CheckpointMismatch",
    ),
    ("conformance/dsse-invalid-sig_fail", "BodyMismatch"),
    ("conformance/dsse-mismatch-envelope_fail", "BodyMismatch"),
    ("conformance/dsse-mismatch-sig_fail", "BodyMismatch"),
    (
        "conformance/happy-path-intoto-in-dsse-v3",
        "ok dsse/0.0.1 set proof",
    ),
    (
        "conformance/happy-path-v0.1",
        "ok hashedrekord/0.0.1 set proof",
    ),
    (
        "conformance/happy-path-v0.2",
        "ok hashedrekord/0.0.1 set proof",
    ),
    (
        "conformance/happy-path-v0.3",
        "ok hashedrekord/0.0.1 set proof",
    ),
    (
        "conformance/happy-path-v0.3-new-mediaType",
        "ok hashedrekord/0.0.1 set proof",
    ),
    (
        "conformance/inclusion-proof-corrupted-hash_fail",
        "InclusionProofInvalid(RootMismatch)",
    ),
    ("conformance/incorrect-public-key_fail", "BodyMismatch"),
    (
        "conformance/integrated-time-in-future_fail",
        "IntegratedTimeOutsideCertificate",
    ),
    (
        "conformance/intoto-expired-certificate_fail",
        "IntegratedTimeOutsideCertificate",
    ),
    ("conformance/intoto-log-entry-mismatch_fail", "BodyMismatch"),
    (
        "conformance/intoto-missing-inclusion-proof_fail",
        "unreadable",
    ),
    (
        "conformance/intoto-set-outside-signing-cert-validity_fail",
        "IntegratedTimeOutsideCertificate",
    ),
    (
        "conformance/intoto-tsa-timestamp-outside-cert-validity_fail",
        "ok intoto/0.0.2 set proof",
    ),
    (
        "conformance/intoto-with-custom-trust-root",
        "ok intoto/0.0.2 set proof",
    ),
    (
        "conformance/invalid-checkpoint-signature_fail",
        "CheckpointInvalid(NoValidSignature)",
    ),
    (
        "conformance/invalid-ct-key_fail",
        "ok hashedrekord/0.0.1 set proof",
    ),
    ("conformance/invalid-inclusion-proof_fail", "unreadable"),
    (
        "conformance/managed-key-and-trusted-root",
        "ok hashedrekord/0.0.1 set proof",
    ),
    (
        "conformance/managed-key-happy-path",
        "ok hashedrekord/0.0.1 set proof",
    ),
    ("conformance/managed-key-no-key_fail", "no content"),
    ("conformance/managed-key-wrong-key_fail", "key unreadable"),
    ("conformance/message-digest-mismatch_fail", "BodyMismatch"),
    (
        "conformance/rekor2-checkpoint-cosigned",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-checkpoint-missing-log-signature_fail",
        "CheckpointInvalid(Malformed)",
    ),
    (
        "conformance/rekor2-checkpoint-missing-origin_fail",
        "CheckpointInvalid(Malformed)",
    ),
    (
        "conformance/rekor2-checkpoint-missing-root-hash_fail",
        "CheckpointInvalid(Malformed)",
    ),
    (
        "conformance/rekor2-checkpoint-missing-size_fail",
        "CheckpointInvalid(Malformed)",
    ),
    (
        "conformance/rekor2-checkpoint-multiple-cosigs",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-checkpoint-no-matching-signature_fail",
        "CheckpointInvalid(NoValidSignature)",
    ),
    (
        "conformance/rekor2-checkpoint-origin-not-first",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-checkpoint-two-sigs-cosigned",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-checkpoint-two-sigs-from-origin",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-dsse-happy-path",
        "ok hashedrekord/0.0.2 proof",
    ),
    ("conformance/rekor2-dsse-invalid-sig_fail", "BodyMismatch"),
    (
        "conformance/rekor2-dsse-mismatch-envelope_fail",
        "BodyMismatch",
    ),
    ("conformance/rekor2-dsse-mismatch-sig_fail", "BodyMismatch"),
    (
        "conformance/rekor2-happy-path",
        "ok hashedrekord/0.0.2 proof",
    ),
    ("conformance/rekor2-no-inclusion-proof_fail", "unreadable"),
    (
        "conformance/rekor2-no-timestamp_fail",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-timestamp-outside-tsa-cert-validity_fail",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-timestamp-payload-mismatch_fail",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-timestamp-with-embedded-cert",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-timestamp-with-expired-cert-chain",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-timestamp-with-incorrect-time_fail",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/rekor2-timestamp-without-embedded-cert",
        "ok hashedrekord/0.0.2 proof",
    ),
    ("conformance/set-invalid-signature_fail", "SetInvalid"),
    ("conformance/signature-mismatch_fail", "BodyMismatch"),
    (
        "conformance/trust-root-tlog-missing-validity-start_fail",
        "LogUnusable",
    ),
    (
        "conformance/trust-root-tlog-validity-end-inclusive",
        "ok hashedrekord/0.0.1 set proof",
    ),
    (
        "conformance/trust-root-tsa-validity-end-inclusive",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "conformance/wrong-hashedrekord-artifact_fail",
        "BodyMismatch",
    ),
    (
        "conformance/wrong-hashedrekord-cert-and-sig_fail",
        "BodyMismatch",
    ),
    ("conformance/wrong-hashedrekord-entry_fail", "BodyMismatch"),
    (
        "conformance/wrong-material_fail",
        "ok hashedrekord/0.0.1 set proof",
    ),
    (
        "sigstore-python/bundle.txt",
        "ok hashedrekord/0.0.1 set proof",
    ),
    (
        "sigstore-python/bundle_v3.txt",
        "ok hashedrekord/0.0.1 set proof",
    ),
    (
        "sigstore-python/bundle_v3_alt.txt",
        "ok hashedrekord/0.0.1 set proof",
    ),
    (
        "sigstore-python/staging-rekor-v2.txt",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "sigstore-python/a.dsse.staging-rekor-v2",
        "ok hashedrekord/0.0.2 proof",
    ),
    (
        "sigstore-python/bundle_v3_github.whl",
        "ok hashedrekord/0.0.1 set proof",
    ),
    (
        "sigstore-python/tsa-bundle.txt",
        "ok hashedrekord/0.0.1 set proof",
    ),
    ("sigstore-python/bundle_cve_2022_36056", "BodyMismatch"),
    ("sigstore-python/bundle_invalid_version", "unreadable"),
    ("sigstore-python/bundle_no_cert_v1", "unreadable"),
    ("sigstore-python/bundle_no_log_entry", "no entry"),
    ("sigstore-python/bundle_no_checkpoint", "unreadable"),
    ("sigstore-python/bundle_v3_no_signed_time", "UnknownLog"),
    ("sigstore-go/bundle-provenance", "ok intoto/0.0.2 set"),
    ("sigstore-go/bundle-publish", "ok intoto/0.0.2 set"),
    (
        "sigstore-go/sigstore.js@2.0.0-provenance",
        "ok intoto/0.0.2 set proof",
    ),
    ("sigstore-go/dsse-2sigs", "ContentUnsupported"),
    ("sigstore-go/dsse", "ok intoto/0.0.2 set"),
    ("sigstore-go/othername", "ok hashedrekord/0.0.1 set proof"),
    (
        "sigstore-go/othername-wrong-identity",
        "ok hashedrekord/0.0.1 set proof",
    ),
    ("sigstore-go/public-key-validity", "no entry"),
    ("sigstore-js/bundleV01-dsse-no-proof", "ok dsse/0.0.1 set"),
    (
        "sigstore-js/bundleV01-dsse-with-proof",
        "ok dsse/0.0.1 set proof",
    ),
    (
        "sigstore-js/bundleV01-full-cert-chain",
        "ok intoto/0.0.2 set",
    ),
    (
        "sigstore-js/bundleV01-intoto-no-proof",
        "ok intoto/0.0.2 set",
    ),
    (
        "sigstore-js/bundleV01-intoto-with-proof",
        "ok intoto/0.0.2 set proof",
    ),
    ("sigstore-js/bundleV02-dsse", "ok dsse/0.0.1 set proof"),
    ("sigstore-js/bundleV02-intoto", "ok intoto/0.0.2 set proof"),
    ("sigstore-js/bundleV03-dsse", "ok dsse/0.0.1 set proof"),
    ("sigstore-js/bundleV03-intoto", "ok intoto/0.0.2 set proof"),
    ("sigstore-rs/bundle_v03", "ok dsse/0.0.1 set proof"),
    (
        "github-cli/sigstore-js-2.1.0-bundle",
        "ok intoto/0.0.2 set proof",
    ),
    (
        "github-cli/sigstore-js-2.1.0-bundle-v0.1",
        "ok intoto/0.0.2 set proof",
    ),
    (
        "github-cli/sigstore-js-2.1.0_with_2_bundles.first",
        "ok intoto/0.0.2 set proof",
    ),
    ("github-cli/custom-issuer", "ok dsse/0.0.1 set proof"),
    (
        "github-cli/custom-issuer-default-issuer",
        "ok dsse/0.0.1 set proof",
    ),
    ("github-cli/reusable-workflow", "ok dsse/0.0.1 set proof"),
    (
        "github-cli/sigstoreBundle-invalid-signature",
        "BodyMismatch",
    ),
    ("github-cli/github_provenance_demo-0.0.12", "no entry"),
    ("github-cli/bundle-missing-cert", "unreadable"),
    (
        "github-cli/bundle-missing-verification-material",
        "unreadable",
    ),
];

fn outcome(case: &serde_json::Value) -> String {
    let s = |k: &str| case[k].as_str().map(str::to_string);
    let Ok(bundle) = Bundle::from_slice(&read(&s("bundle").expect("bundle"))) else {
        return "unreadable".into();
    };
    let root = root(&s("trusted_root").expect("root"));
    let key = match s("key") {
        None => None,
        Some(p) => match ci_attest::verify::tlog::body::decode_pem(&read(&p)) {
            Some((_, der)) => Some(der),
            None => return "key unreadable".into(),
        },
    };
    let Ok(signed) = SignedContent::from_bundle(&bundle, key.as_deref()) else {
        return "no content".into();
    };
    let entries = &bundle.verification_material.tlog_entries;
    if entries.is_empty() {
        return "no entry".into();
    }
    let mut tags = Vec::new();
    for entry in entries {
        match verify_bundle_entry(entry, bundle.media_type, &root, &signed) {
            Ok(v) => {
                // Only a verified SET provides a signed integrated time.
                assert_eq!(
                    v.integrated_time.is_some(),
                    v.has_verified_set,
                    "{}",
                    case["id"]
                );
                tags.push(format!(
                    "ok {}{}{}",
                    v.kind,
                    if v.has_verified_set { " set" } else { "" },
                    if v.has_verified_inclusion_proof {
                        " proof"
                    } else {
                        ""
                    }
                ));
            }
            Err(e) => {
                let dbg = format!("{e:?}");
                let variant: String = dbg.chars().take_while(|c| c.is_alphanumeric()).collect();
                return match &e {
                    TlogError::CheckpointInvalid(inner) => {
                        let d = format!("{inner:?}");
                        format!(
                            "{variant}({})",
                            d.split([' ', '(']).next().unwrap_or_default()
                        )
                    }
                    TlogError::InclusionProofInvalid(inner) => {
                        let d = format!("{inner:?}");
                        format!(
                            "{variant}({})",
                            d.split([' ', '(']).next().unwrap_or_default()
                        )
                    }
                    _ => variant,
                };
            }
        }
    }
    tags.join(", ")
}

#[test]
fn every_case_has_its_expected_log_outcome() {
    let text = read("cases.json");
    let v: serde_json::Value = serde_json::from_slice(&text).expect("json");
    let cases = v["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), EXPECTED.len());
    let mut wrong = Vec::new();
    for (case, (id, expected)) in cases.iter().zip(EXPECTED) {
        assert_eq!(
            case["id"].as_str(),
            Some(*id),
            "EXPECTED follows cases.json order"
        );
        let got = outcome(case);
        if case["expect"] == "pass" {
            assert!(
                got.starts_with("ok") || got == "no entry",
                "{id}: a pass case's entry must verify, got {got}"
            );
        }
        if got != *expected {
            wrong.push(format!("{id}: expected {expected}, got {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
