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

// ---------------------------------------------------------------------------------------------
// Rekor v1: the conformance happy path, then one alteration at a time.

const HAPPY: &str = "happy-path-v0.3";

#[test]
fn the_conformance_happy_path_entry_verifies_with_set_and_proof() {
    let b = bundle(&conformance(HAPPY));
    let v = verify_first(&b, &production()).expect("verifies");
    assert_eq!(v.kind, EntryKind::HashedRekordV001);
    assert!(v.has_verified_set && v.has_verified_inclusion_proof);
    assert_eq!(v.log_index, 79571823);
    assert_eq!(v.log_base_url, "https://rekor.sigstore.dev");
    let t = v.integrated_time.expect("signed by the SET");
    assert_eq!(
        humantime::format_rfc3339(t).to_string(),
        "2024-03-19T17:26:26Z"
    );
}

#[test]
fn an_altered_audit_path_hash_fails_the_inclusion_proof() {
    let mut b = bundle(&conformance(HAPPY));
    let proof = b.verification_material.tlog_entries[0]
        .inclusion_proof
        .as_mut()
        .expect("proof");
    proof.hashes[3][0] ^= 0x80;
    let e = verify_first(&b, &production()).expect_err("altered");
    assert!(
        matches!(
            e,
            TlogError::InclusionProofInvalid(merkle::MerkleError::RootMismatch { .. })
        ),
        "{e}"
    );
}

#[test]
fn an_altered_proof_index_or_size_fails_the_inclusion_proof() {
    let mut b = bundle(&conformance(HAPPY));
    b.verification_material.tlog_entries[0]
        .inclusion_proof
        .as_mut()
        .expect("proof")
        .log_index -= 1;
    let e = verify_first(&b, &production()).expect_err("index");
    assert!(matches!(e, TlogError::InclusionProofInvalid(_)), "{e}");

    let mut b = bundle(&conformance(HAPPY));
    let proof = b.verification_material.tlog_entries[0]
        .inclusion_proof
        .as_mut()
        .expect("proof");
    proof.log_index = proof.tree_size;
    let e = verify_first(&b, &production()).expect_err("index = size");
    assert!(
        matches!(
            e,
            TlogError::InclusionProofInvalid(merkle::MerkleError::IndexOutOfRange { .. })
        ),
        "{e}"
    );
}

#[test]
fn an_altered_set_fails_the_set() {
    let mut b = bundle(&conformance(HAPPY));
    let set = &mut b.verification_material.tlog_entries[0]
        .inclusion_promise
        .as_mut()
        .expect("SET")
        .signed_entry_timestamp;
    let last = set.len() - 1;
    set[last] ^= 1;
    let e = verify_first(&b, &production()).expect_err("altered");
    assert!(matches!(e, TlogError::SetInvalid { .. }), "{e}");
}

#[test]
fn an_altered_integrated_time_or_log_index_fails_the_set() {
    let mut b = bundle(&conformance(HAPPY));
    b.verification_material.tlog_entries[0].integrated_time += 1;
    let e = verify_first(&b, &production()).expect_err("time");
    assert!(matches!(e, TlogError::SetInvalid { .. }), "{e}");

    let mut b = bundle(&conformance(HAPPY));
    b.verification_material.tlog_entries[0].log_index += 1;
    let e = verify_first(&b, &production()).expect_err("index");
    assert!(matches!(e, TlogError::SetInvalid { .. }), "{e}");
}

#[test]
fn an_altered_checkpoint_fails_its_signature() {
    let mut b = bundle(&conformance(HAPPY));
    let cp = b.verification_material.tlog_entries[0]
        .inclusion_proof
        .as_mut()
        .expect("proof")
        .checkpoint
        .as_mut()
        .expect("checkpoint");
    cp.envelope = cp.envelope.replacen("75408393", "75408394", 1);
    let e = verify_first(&b, &production()).expect_err("altered");
    assert!(matches!(e, TlogError::CheckpointInvalid(_)), "{e}");
}

#[test]
fn a_missing_checkpoint_is_rejected() {
    let mut b = bundle(&conformance(HAPPY));
    b.verification_material.tlog_entries[0]
        .inclusion_proof
        .as_mut()
        .expect("proof")
        .checkpoint = None;
    let e = verify_first(&b, &production()).expect_err("no checkpoint");
    assert!(matches!(e, TlogError::ProofMissing { .. }), "{e}");
}

#[test]
fn an_altered_body_that_still_matches_the_bundle_fails_the_set_and_the_proof() {
    let mut b = bundle(&conformance(HAPPY));
    // Same JSON content, different bytes: the log never signed these.
    b.verification_material.tlog_entries[0]
        .canonicalized_body
        .push(b' ');
    let e = verify_first(&b, &production()).expect_err("SET");
    assert!(matches!(e, TlogError::SetInvalid { .. }), "{e}");
    b.verification_material.tlog_entries[0].inclusion_promise = None;
    let e = verify_first(&b, &production()).expect_err("proof");
    assert!(matches!(e, TlogError::InclusionProofInvalid(_)), "{e}");
}

#[test]
fn a_body_for_other_content_fails_the_body_check() {
    let mut b = bundle(&conformance(HAPPY));
    let entry = &mut b.verification_material.tlog_entries[0];
    let text = String::from_utf8(entry.canonicalized_body.clone()).expect("utf-8");
    entry.canonicalized_body = text.replacen("a0cfc712", "b0cfc712", 1).into_bytes();
    let e = verify_first(&b, &production()).expect_err("digest");
    assert!(
        matches!(&e, TlogError::BodyMismatch { field, .. } if field == "spec.data.hash.value"),
        "{e}"
    );
}

#[test]
fn a_kind_version_that_disagrees_with_the_body_or_is_unknown_is_rejected() {
    let mut b = bundle(&conformance(HAPPY));
    b.verification_material.tlog_entries[0].kind_version.kind = "dsse".into();
    let e = verify_first(&b, &production()).expect_err("kind");
    assert!(matches!(e, TlogError::KindVersionMismatch { .. }), "{e}");
    b.verification_material.tlog_entries[0].kind_version.kind = "rekord".into();
    let e = verify_first(&b, &production()).expect_err("unsupported");
    assert!(matches!(e, TlogError::UnsupportedKind { .. }), "{e}");
}

#[test]
fn an_entry_of_a_log_the_root_does_not_have_is_rejected() {
    let b = bundle(&conformance(HAPPY));
    let staging = root("trusted-roots/public-good-staging.trusted_root.json");
    let e = verify_first(&b, &staging).expect_err("unknown log");
    assert!(matches!(e, TlogError::UnknownLog { .. }), "{e}");
}

#[test]
fn the_log_key_must_be_valid_at_the_integrated_time() {
    let b = bundle(&conformance(HAPPY));
    let mut r = production();
    let later = humantime::parse_rfc3339("2024-03-20T00:00:00Z").expect("time");
    r.tlogs
        .iter_mut()
        .for_each(|l| l.valid_for.start = Some(later));
    let e = verify_first(&b, &r).expect_err("not yet valid");
    assert!(matches!(e, TlogError::LogKeyNotValidAt { .. }), "{e}");
    // The end is inclusive (trust-root-tlog-validity-end-inclusive).
    let mut r = production();
    let at = humantime::parse_rfc3339("2024-03-19T17:26:26Z").expect("time");
    r.tlogs.iter_mut().for_each(|l| l.valid_for.end = Some(at));
    verify_first(&b, &r).expect("valid at the end");
}

#[test]
fn an_entry_without_set_or_proof_is_rejected() {
    let mut b = bundle(&conformance(HAPPY));
    b.verification_material.tlog_entries[0].inclusion_promise = None;
    b.verification_material.tlog_entries[0].inclusion_proof = None;
    let e = verify_first(&b, &production()).expect_err("nothing");
    assert!(matches!(e, TlogError::ProofMissing { .. }), "{e}");
}

#[test]
fn a_v1_entry_with_only_a_proof_verifies_but_gives_no_integrated_time() {
    // sigstore-python bundle_v3_no_signed_time: proof, no SET, no timestamp. The entry is fine;
    // the bundle fails later for want of a verified time.
    let b = bundle("sigstore-python/bundle_v3_no_signed_time.txt.sigstore.json");
    let v = verify_first(&b, &production()).expect("verifies against production");
    assert!(v.has_verified_inclusion_proof && !v.has_verified_set);
    assert_eq!(v.integrated_time, None);
}

// ---------------------------------------------------------------------------------------------
// Bundle media-type rules and entries the bundle parser already rejects.

#[test]
fn a_v02_bundle_entry_without_inclusion_proof_is_rejected() {
    // conformance intoto-missing-inclusion-proof_fail: SET only, in a v0.2 bundle.
    let case = "intoto-missing-inclusion-proof_fail";
    let b = bundle_as_v01(&conformance(case));
    let signed = SignedContent::from_bundle(&b, None).expect("content");
    let entry = &b.verification_material.tlog_entries[0];
    let e = verify_bundle_entry(entry, MediaType::V02, &conformance_root(case), &signed)
        .expect_err("v0.2");
    assert!(matches!(e, TlogError::ProofMissing { .. }), "{e}");
    // The same entry is acceptable in a v0.1 bundle (SET only).
    verify_bundle_entry(entry, MediaType::V01, &conformance_root(case), &signed).expect("v0.1");
}

#[test]
fn a_proof_without_checkpoint_is_rejected() {
    // sigstore-python bundle_no_checkpoint (v0.2, staging).
    let b = bundle_as_v01("sigstore-python/bundle_no_checkpoint.txt.sigstore");
    let staging = root("trusted-roots/public-good-staging.trusted_root.json");
    let e = verify_first(&b, &staging).expect_err("no checkpoint");
    assert!(matches!(e, TlogError::ProofMissing { .. }), "{e}");
}

#[test]
fn an_old_inclusion_proof_does_not_prove_this_entry() {
    // conformance invalid-inclusion-proof_fail: the proof is for another tree and has no
    // checkpoint; either check rejects it.
    let b = bundle_as_v01(&conformance("invalid-inclusion-proof_fail"));
    let e = verify_first(&b, &production()).expect_err("rejected");
    assert!(matches!(e, TlogError::ProofMissing { .. }), "{e}");
    let entry: &TransparencyLogEntry = &b.verification_material.tlog_entries[0];
    let proof = entry.inclusion_proof.as_ref().expect("proof");
    let leaf = merkle::leaf_hash(&entry.canonicalized_body);
    let r = merkle::verify_inclusion(
        u64::try_from(proof.log_index).expect("index"),
        u64::try_from(proof.tree_size).expect("size"),
        &leaf,
        &proof.hashes,
        &proof.root_hash,
    );
    assert!(r.is_err(), "the old audit path must not verify");
}

#[test]
fn v01_bundles_with_only_a_set_verify() {
    // sigstore-go's README example and npm provenance: SET only, intoto 0.0.2.
    for path in [
        "sigstore-go/bundle-provenance.json",
        "sigstore-go/bundles/dsse.sigstore.json",
    ] {
        let b = bundle(path);
        assert_eq!(b.media_type, MediaType::V01);
        let signed = SignedContent::from_bundle(&b, None).expect("content");
        let v = verify_bundle_entry(
            &b.verification_material.tlog_entries[0],
            b.media_type,
            &production(),
            &signed,
        )
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(v.kind, EntryKind::IntotoV002);
        assert!(v.has_verified_set && !v.has_verified_inclusion_proof);
        assert!(v.integrated_time.is_some());
    }
}

#[test]
fn an_envelope_with_two_signatures_is_not_checked_against_the_log() {
    let b = bundle("sigstore-go/bundles/dsse-2sigs.sigstore.json");
    let e = verify_first(&b, &production()).expect_err("two signatures");
    assert!(matches!(e, TlogError::ContentUnsupported { .. }), "{e}");
}

#[test]
fn intoto_entries_with_a_custom_trust_root_verify() {
    let case = "intoto-with-custom-trust-root";
    let v = verify_first(&bundle(&conformance(case)), &conformance_root(case)).expect("verifies");
    assert_eq!(v.kind, EntryKind::IntotoV002);
    assert!(v.has_verified_set && v.has_verified_inclusion_proof);
}

#[test]
fn an_intoto_entry_for_another_signature_fails_the_body_check() {
    let case = "intoto-log-entry-mismatch_fail";
    let e =
        verify_first(&bundle(&conformance(case)), &conformance_root(case)).expect_err("mismatch");
    assert!(matches!(e, TlogError::BodyMismatch { .. }), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Rekor v2.

#[test]
fn rekor_v2_entries_verify_by_checkpoint_and_give_no_integrated_time() {
    for case in [
        "rekor2-happy-path",
        "rekor2-dsse-happy-path",
        "rekor2-checkpoint-origin-not-first",
        "rekor2-checkpoint-two-sigs-from-origin",
        "rekor2-checkpoint-multiple-cosigs",
    ] {
        let v = verify_first(&bundle(&conformance(case)), &conformance_root(case))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(v.kind, EntryKind::HashedRekordV002, "{case}");
        assert!(
            v.has_verified_inclusion_proof && !v.has_verified_set,
            "{case}"
        );
        assert_eq!(v.integrated_time, None, "{case}");
        assert!(v.log_validity.start.is_some(), "{case}");
    }
}

#[test]
fn rekor_v2_logs_dsse_as_hashedrekord_over_the_pae_digest() {
    // MANIFEST surprise 1: both copies of the staging DSSE bundle.
    let staging = root("trusted-roots/public-good-staging.trusted_root.json");
    for path in [
        "sigstore-python/a.dsse.staging-rekor-v2.txt.sigstore.json",
        &conformance("rekor2-dsse-happy-path"),
    ] {
        let b = bundle(path);
        assert!(b.dsse_envelope().is_some());
        let v = verify_first(&b, &staging).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(v.kind, EntryKind::HashedRekordV002);
    }
    let e = verify_first(
        &bundle(&conformance("rekor2-dsse-mismatch-envelope_fail")),
        &staging,
    )
    .expect_err("other envelope");
    assert!(matches!(e, TlogError::BodyMismatch { .. }), "{e}");
}

#[test]
fn a_rekor_v2_entry_needs_an_inclusion_proof_and_carries_no_set() {
    let case = "rekor2-happy-path";
    let mut b = bundle(&conformance(case));
    b.verification_material.tlog_entries[0].inclusion_proof = None;
    b.verification_material.tlog_entries[0].inclusion_promise =
        Some(ci_attest::bundle::InclusionPromise {
            signed_entry_timestamp: vec![0x30, 0x00],
        });
    let e = verify_first(&b, &conformance_root(case)).expect_err("SET on v2");
    assert!(matches!(e, TlogError::SetInvalid { .. }), "{e}");
    b.verification_material.tlog_entries[0].inclusion_promise = None;
    let e = verify_first(&b, &conformance_root(case)).expect_err("no proof");
    assert!(matches!(e, TlogError::ProofMissing { .. }), "{e}");
}

#[test]
fn rekor_v2_checkpoint_defects_are_each_rejected() {
    for (case, malformed) in [
        ("rekor2-checkpoint-missing-log-signature_fail", true),
        ("rekor2-checkpoint-missing-origin_fail", true),
        ("rekor2-checkpoint-missing-root-hash_fail", true),
        ("rekor2-checkpoint-missing-size_fail", true),
        ("rekor2-checkpoint-no-matching-signature_fail", false),
    ] {
        let e = verify_first(&bundle(&conformance(case)), &conformance_root(case)).expect_err(case);
        match (&e, malformed) {
            (
                TlogError::CheckpointInvalid(
                    ci_attest::verify::tlog::checkpoint::CheckpointError::Malformed { .. },
                ),
                true,
            )
            | (
                TlogError::CheckpointInvalid(
                    ci_attest::verify::tlog::checkpoint::CheckpointError::NoValidSignature {
                        ..
                    },
                ),
                false,
            ) => {}
            _ => panic!("{case}: {e}"),
        }
    }
}

#[test]
fn a_log_key_without_validity_start_is_not_trusted() {
    let case = "trust-root-tlog-missing-validity-start_fail";
    let e =
        verify_first(&bundle(&conformance(case)), &conformance_root(case)).expect_err("no start");
    assert!(matches!(e, TlogError::LogUnusable { .. }), "{e}");
}
