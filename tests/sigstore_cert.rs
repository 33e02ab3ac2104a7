//! Keyless certificate, SCT, identity and RFC 3161 timestamp verification against the real
//! third-party vectors in `tests/vectors/third-party` (see its MANIFEST.md and cases.json).
//!
//! Each test states one rule of the verifier; the last test walks every case of cases.json and
//! checks that the certificate / SCT / identity / timestamp steps pass for every `pass` case and
//! fail, with the right error, for every `fail` case whose reason is one of those steps.

use ci_attest::bundle::{Bundle, Content, KeyMaterial};
use ci_attest::trust::TrustedRoot;
use ci_attest::verify::cert::{
    CertError, IdentityMatcher, San, SanRegex, VerifiedCert, identity_matches, verify_chain,
    verify_embedded_scts,
};
use ci_attest::verify::tsa::{TsaError, verify_timestamp};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GITHUB_ACTIONS: &str = "https://token.actions.githubusercontent.com";

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/third-party")
}

fn read(rel: &str) -> Vec<u8> {
    let p = vectors().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

fn root(rel: &str) -> TrustedRoot {
    TrustedRoot::from_json(&read(rel)).unwrap_or_else(|e| panic!("trusted root {rel}: {e}"))
}

fn production() -> TrustedRoot {
    root("trusted-roots/public-good-production.trusted_root.json")
}

fn bundle(rel: &str) -> Bundle {
    Bundle::from_slice(&read(rel)).unwrap_or_else(|e| panic!("bundle {rel}: {e}"))
}

fn conformance(case: &str) -> String {
    format!("sigstore-conformance/bundle-verify/{case}/bundle.sigstore.json")
}

/// The leaf and the extra chain certificates.
fn certs(b: &Bundle) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    match &b.verification_material.key_material {
        KeyMaterial::Certificate(der) => Some((der.clone(), Vec::new())),
        KeyMaterial::X509CertificateChain(chain) => {
            let (leaf, extra) = chain.split_first()?;
            Some((leaf.clone(), extra.to_vec()))
        }
        KeyMaterial::PublicKey { .. } => None,
    }
}

/// The signature bytes a timestamp covers.
fn signature(b: &Bundle) -> Vec<u8> {
    match &b.content {
        Content::DsseEnvelope(env) => env
            .signatures
            .first()
            .map(|s| s.sig.clone())
            .unwrap_or_default(),
        Content::MessageSignature(m) => m.signature.clone(),
    }
}

fn integrated_time(b: &Bundle) -> Option<SystemTime> {
    b.verification_material
        .tlog_entries
        .iter()
        .map(|e| e.integrated_time)
        .find(|t| *t > 0)
        .and_then(|t| u64::try_from(t).ok())
        .map(|t| UNIX_EPOCH + Duration::from_secs(t))
}

fn timestamps(b: &Bundle) -> Vec<Vec<u8>> {
    b.verification_material
        .timestamp_verification_data
        .as_ref()
        .map(|d| {
            d.rfc3161_timestamps
                .iter()
                .map(|t| t.signed_timestamp.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn exact(s: &str) -> IdentityMatcher {
    IdentityMatcher::Exact(s.to_string())
}

fn t(s: &str) -> SystemTime {
    humantime::parse_rfc3339(s).expect("time")
}

#[test]
fn happy_path_leaf_chains_to_production_at_its_integrated_time_with_sct_and_identity() {
    let b = bundle(&conformance("happy-path-v0.3"));
    let (leaf, extra) = certs(&b).expect("keyless");
    let root = production();
    let at = integrated_time(&b).expect("a Rekor v1 entry");
    let cert = verify_chain(&leaf, &extra, &root, at).expect("chains to production Fulcio");
    assert_eq!(
        cert.subject_alternative_name(),
        Some(&San::Uri(BEACON.to_string()))
    );
    assert_eq!(cert.oidc_issuer(), Some(GITHUB_ACTIONS));
    assert_eq!(cert.leaf_der(), leaf.as_slice());
    assert!(cert.not_before() <= at && at <= cert.not_after());
    assert!(verify_embedded_scts(&cert, &root).expect("SCT verifies") >= 1);
    identity_matches(&cert, GITHUB_ACTIONS, &exact(BEACON)).expect("identity");
}

#[test]
fn the_signing_time_must_lie_within_the_leaf_validity() {
    let b = bundle(&conformance("happy-path-v0.3"));
    let (leaf, extra) = certs(&b).expect("keyless");
    let cert = verify_chain(
        &leaf,
        &extra,
        &production(),
        integrated_time(&b).expect("time"),
    )
    .expect("valid");
    for at in [
        cert.not_before() - Duration::from_secs(1),
        cert.not_after() + Duration::from_secs(1),
    ] {
        let e = verify_chain(&leaf, &extra, &production(), at).expect_err("outside validity");
        assert!(matches!(e, CertError::NotValidAt { .. }), "{e}");
    }
    // Both ends are inclusive.
    verify_chain(&leaf, &extra, &production(), cert.not_before()).expect("notBefore itself");
    verify_chain(&leaf, &extra, &production(), cert.not_after()).expect("notAfter itself");
}

#[test]
fn a_staging_certificate_does_not_chain_to_production() {
    let b = bundle(&conformance("bundle-from-wrong-instance_fail"));
    let (leaf, extra) = certs(&b).expect("keyless");
    let at = integrated_time(&b).expect("time");
    let e = verify_chain(&leaf, &extra, &production(), at).expect_err("wrong instance");
    assert!(matches!(e, CertError::UntrustedIssuer { .. }), "{e}");
    // ... and does chain to staging.
    verify_chain(
        &leaf,
        &extra,
        &root("trusted-roots/public-good-staging.trusted_root.json"),
        at,
    )
    .expect("staging leaf chains to staging");
}

#[test]
fn a_root_in_the_middle_of_the_bundle_chain_is_rejected() {
    let b = bundle(&conformance("bundle-with-root-cert_fail"));
    let (leaf, extra) = certs(&b).expect("keyless");
    let e = verify_chain(
        &leaf,
        &extra,
        &production(),
        integrated_time(&b).expect("time"),
    )
    .expect_err("root out of place");
    assert!(
        matches!(e, CertError::ExtraCertificate { index: 0, .. }),
        "{e}"
    );
}

#[test]
fn a_full_chain_leaf_intermediate_trusted_root_is_accepted() {
    let b = bundle("sigstore-go/bundle-provenance.json");
    let (leaf, extra) = certs(&b).expect("keyless");
    assert_eq!(extra.len(), 2, "intermediate and root");
    let root = root("sigstore-go/trusted-root-public-good.json");
    let at = integrated_time(&b).expect("time");
    let cert = verify_chain(&leaf, &extra, &root, at).expect("leaf, intermediate, root");
    verify_embedded_scts(&cert, &root).expect("SCT");
    // Not the other way round, and not with a certificate the root does not hold.
    let reversed: Vec<Vec<u8>> = extra.iter().rev().cloned().collect();
    assert!(matches!(
        verify_chain(&leaf, &reversed, &root, at),
        Err(CertError::ExtraCertificate { .. })
    ));
    let mut padded = extra.clone();
    padded.push(leaf.clone());
    assert!(matches!(
        verify_chain(&leaf, &padded, &root, at),
        Err(CertError::ExtraCertificate { .. })
    ));
}

#[test]
fn a_tampered_leaf_fails_its_issuers_signature() {
    let b = bundle(&conformance("happy-path-v0.3"));
    let (leaf, extra) = certs(&b).expect("keyless");
    let at = integrated_time(&b).expect("time");
    // Change one character of the SAN inside the signed TBSCertificate.
    let pos = leaf
        .windows(BEACON.len())
        .position(|w| w == BEACON.as_bytes())
        .expect("SAN bytes in the leaf");
    let mut bad = leaf.clone();
    bad[pos + 8] ^= 0x01;
    let e = verify_chain(&bad, &extra, &production(), at).expect_err("tampered");
    assert!(matches!(e, CertError::BadSignature { .. }), "{e}");
}

#[test]
fn a_certificate_without_code_signing_usage_is_not_a_signing_certificate() {
    // The trusted TSA certificate (timeStamping only) presented as a keyless leaf, with the TSA
    // chain as the certificate authority: the chain is fine, the usage is not.
    let mut root = conformance_root("rekor2-happy-path");
    let tsa = root.timestamp_authorities.first().expect("a TSA").clone();
    let (leaf, chain) = tsa.cert_chain.split_first().expect("TSA leaf and chain");
    root.certificate_authorities = vec![ci_attest::trust::Authority {
        cert_chain: chain.to_vec(),
        ..tsa.clone()
    }];
    let at = tsa.valid_for.start.expect("start") + Duration::from_secs(3600);
    let e = verify_chain(leaf, &[], &root, at).expect_err("not code signing");
    assert!(matches!(e, CertError::Usage { .. }), "{e}");
    assert!(e.to_string().contains("1.3.6.1.5.5.7.3.3"), "{e}");
}

#[test]
fn an_sct_must_verify_with_a_trusted_ct_log() {
    let b = bundle(&conformance("invalid-ct-key_fail"));
    let (leaf, extra) = certs(&b).expect("keyless");
    let root = root(
        &conformance("invalid-ct-key_fail").replace("bundle.sigstore.json", "trusted_root.json"),
    );
    let cert =
        verify_chain(&leaf, &extra, &root, integrated_time(&b).expect("time")).expect("chain");
    let e = verify_embedded_scts(&cert, &root).expect_err("bad CT key");
    assert!(matches!(e, CertError::NoValidSct { .. }), "{e}");
    // Without CT logs in the root, no SCT is required.
    let mut no_ct = root.clone();
    no_ct.ctlogs.clear();
    assert_eq!(verify_embedded_scts(&cert, &no_ct), Ok(0));
}

#[test]
fn an_sct_with_extensions_verifies() {
    let case = "bundle-with-sct-with-extensions";
    let b = bundle(&conformance(case));
    let (leaf, extra) = certs(&b).expect("keyless");
    let root = root(&conformance(case).replace("bundle.sigstore.json", "trusted_root.json"));
    let at = integrated_time(&b)
        .or_else(|| {
            timestamps(&b)
                .first()
                .and_then(|ts| verify_timestamp(ts, &signature(&b), &root).ok())
        })
        .expect("a signing time");
    let cert = verify_chain(&leaf, &extra, &root, at).expect("chain");
    assert!(verify_embedded_scts(&cert, &root).expect("SCT with extensions") >= 1);
}

#[test]
fn identity_is_exact_or_an_anchored_regex() {
    let b = bundle(&conformance("happy-path-v0.3"));
    let (leaf, extra) = certs(&b).expect("keyless");
    let cert: VerifiedCert = verify_chain(
        &leaf,
        &extra,
        &production(),
        integrated_time(&b).expect("time"),
    )
    .expect("chain");
    identity_matches(&cert, GITHUB_ACTIONS, &exact(BEACON)).expect("exact");
    let e = identity_matches(
        &cert,
        "https://token.actions.githubusercontent.com/",
        &exact(BEACON),
    )
    .expect_err("issuer must be exact");
    assert!(
        matches!(
            e,
            CertError::IdentityMismatch {
                field: "OIDC issuer",
                ..
            }
        ),
        "{e}"
    );
    let e = identity_matches(&cert, GITHUB_ACTIONS, &exact(&BEACON[..BEACON.len() - 1]))
        .expect_err("SAN must be exact");
    assert!(
        e.to_string().contains("expected") && e.to_string().contains("found"),
        "{e}"
    );
    let re = |p: &str| IdentityMatcher::Regex(SanRegex::new(p).expect("pattern"));
    identity_matches(
        &cert,
        GITHUB_ACTIONS,
        &re(r"https://github\.com/sigstore-conformance/.*"),
    )
    .expect("regex");
    // Unanchored-looking patterns are still anchored: a substring match is not enough.
    assert!(identity_matches(&cert, GITHUB_ACTIONS, &re("extremely-dangerous")).is_err());
    assert!(
        identity_matches(
            &cert,
            GITHUB_ACTIONS,
            &re(r"https://github\.com/sigstore-conformance")
        )
        .is_err()
    );
}

#[test]
fn an_othername_san_is_not_an_email_address() {
    let b = bundle("sigstore-go/bundles/othername.sigstore.json");
    let (leaf, extra) = certs(&b).expect("keyless");
    let root = root("sigstore-go/trusted-roots/scaffolding.json");
    let at = integrated_time(&b).expect("time");
    let cert = verify_chain(&leaf, &extra, &root, at).expect("chain");
    assert_eq!(
        cert.subject_alternative_name(),
        Some(&San::OtherName("foo!oidc.local".into()))
    );
    identity_matches(&cert, "http://oidc.local:8080", &exact("foo!oidc.local")).expect("othername");
    assert!(identity_matches(&cert, "http://oidc.local:8080", &exact("foo@oidc.local")).is_err());
}

fn conformance_root(case: &str) -> TrustedRoot {
    root(&format!(
        "sigstore-conformance/bundle-verify/{case}/trusted_root.json"
    ))
}

fn first_timestamp(case: &str) -> (Bundle, Result<SystemTime, TsaError>) {
    let b = bundle(&conformance(case));
    let ts = timestamps(&b).into_iter().next().expect("a timestamp");
    let r = verify_timestamp(&ts, &signature(&b), &conformance_root(case));
    (b, r)
}

#[test]
fn a_tsa_validity_end_equal_to_gen_time_is_inclusive() {
    let (_, r) = first_timestamp("trust-root-tsa-validity-end-inclusive");
    assert_eq!(r.expect("end inclusive"), t("2025-06-12T12:02:20Z"));
}

#[test]
fn a_timestamp_is_rejected_outside_the_trusted_tsa_validity() {
    let (_, r) = first_timestamp("rekor2-timestamp-outside-trust-root-tsa-validity_fail");
    let e = r.expect_err("outside validFor");
    assert!(
        matches!(
            e,
            TsaError::Certificate {
                source: CertError::AuthorityNotValidAt { .. },
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_timestamp_after_the_tsa_certificate_expired_is_rejected_but_one_before_is_not() {
    let (_, r) = first_timestamp("rekor2-timestamp-outside-tsa-cert-validity_fail");
    let e = r.expect_err("expired TSA certificate");
    assert!(
        matches!(
            e,
            TsaError::Certificate {
                source: CertError::NotValidAt { .. },
                ..
            }
        ),
        "{e}"
    );
    first_timestamp("rekor2-timestamp-with-expired-cert-chain")
        .1
        .expect("valid at genTime");
}

#[test]
fn a_timestamp_over_another_signature_is_rejected() {
    let (_, r) = first_timestamp("rekor2-timestamp-payload-mismatch_fail");
    assert!(matches!(r, Err(TsaError::ImprintMismatch { .. })), "{r:?}");
}

#[test]
fn a_timestamp_from_an_untrusted_tsa_is_rejected_with_or_without_embedded_certificates() {
    let (_, r) = first_timestamp("rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail");
    assert!(matches!(r, Err(TsaError::Certificate { .. })), "{r:?}");
    let (_, r) = first_timestamp("rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail");
    assert!(matches!(r, Err(TsaError::SignerNotFound { .. })), "{r:?}");
    first_timestamp("rekor2-timestamp-with-embedded-cert")
        .1
        .expect("embedded, trusted");
    first_timestamp("rekor2-timestamp-without-embedded-cert")
        .1
        .expect("not embedded, trusted");
}

#[test]
fn a_valid_timestamp_outside_the_signing_certificate_lifetime_fails_the_chain() {
    let case = "rekor2-timestamp-with-incorrect-time_fail";
    let (b, r) = first_timestamp(case);
    let gen_time = r.expect("the timestamp itself is valid");
    let (leaf, extra) = certs(&b).expect("keyless");
    let e =
        verify_chain(&leaf, &extra, &conformance_root(case), gen_time).expect_err("expired leaf");
    assert!(matches!(e, CertError::NotValidAt { .. }), "{e}");
}

#[test]
fn a_changed_tst_info_breaks_the_signed_message_digest() {
    let case = "rekor2-happy-path";
    let b = bundle(&conformance(case));
    let ts = timestamps(&b).into_iter().next().expect("timestamp");
    let root = conformance_root(case);
    let gen_time = verify_timestamp(&ts, &signature(&b), &root).expect("valid");
    // Move genTime by changing one digit inside the encapsulated TSTInfo.
    let text = humantime::format_rfc3339_seconds(gen_time)
        .to_string()
        .replace(['-', 'T', ':'], "");
    let pos = ts
        .windows(text.len())
        .position(|w| w == text.as_bytes())
        .expect("genTime in the token");
    let mut bad = ts.clone();
    bad[pos + 3] ^= 0x01; // 2025 -> 2024
    let e = verify_timestamp(&bad, &signature(&b), &root).expect_err("changed genTime");
    assert!(
        matches!(
            e,
            TsaError::SignedAttribute {
                attribute: "message-digest",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_timestamp_needs_a_trusted_timestamp_authority() {
    let case = "rekor2-happy-path";
    let b = bundle(&conformance(case));
    let ts = timestamps(&b).into_iter().next().expect("timestamp");
    let mut root = conformance_root(case);
    root.timestamp_authorities.clear();
    let e = verify_timestamp(&ts, &signature(&b), &root).expect_err("no TSA trusted");
    assert!(
        matches!(
            e,
            TsaError::SignerNotFound { .. } | TsaError::Certificate { .. }
        ),
        "{e}"
    );
}

#[test]
fn a_tampered_timestamp_signature_is_rejected() {
    let case = "rekor2-happy-path";
    let b = bundle(&conformance(case));
    let ts = timestamps(&b).into_iter().next().expect("timestamp");
    let root = conformance_root(case);
    verify_timestamp(&ts, &signature(&b), &root).expect("valid");
    // Flip a bit in every byte position of the last 60 bytes (the SignerInfo signature region):
    // none may verify.
    for i in ts.len() - 60..ts.len() {
        let mut bad = ts.clone();
        bad[i] ^= 0x01;
        assert!(
            verify_timestamp(&bad, &signature(&b), &root).is_err(),
            "byte {i}"
        );
    }
    // Truncations never panic.
    for n in 0..ts.len() {
        let _ = verify_timestamp(&ts[..n], &signature(&b), &root);
    }
}

#[test]
fn each_timestamp_is_checked_on_its_own_and_one_over_other_data_fails() {
    // sigstore-python's TSA test bundle: the first token is over this signature, the second one
    // (SHA-512 of "hello", at a time outside the leaf's lifetime) is not.
    let b = bundle("sigstore-python/tsa/bundle.txt.sigstore");
    let root = root("sigstore-python/tsa/trusted_root.staging-with-test-tsa.json");
    let ts = timestamps(&b);
    assert_eq!(ts.len(), 2);
    let gen_time = verify_timestamp(&ts[0], &signature(&b), &root).expect("first token");
    assert_eq!(gen_time, t("2024-10-31T10:23:39Z"));
    let e = verify_timestamp(&ts[1], &signature(&b), &root).expect_err("second token");
    assert!(matches!(e, TsaError::ImprintMismatch { .. }), "{e}");
    let (leaf, extra) = certs(&b).expect("keyless");
    verify_chain(&leaf, &extra, &root, gen_time).expect("leaf valid at the verified genTime");
}

// ---------------------------------------------------------------------------------------------
// Every case of cases.json.
// ---------------------------------------------------------------------------------------------

/// Where a case stopped in this module's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// All checks that apply passed.
    Pass,
    /// The bundle cannot be read or has no certificate: other modules' business.
    NotApplicable(String),
    /// Failed in `verify_timestamp`.
    Tsa(String),
    /// Failed in `verify_chain`.
    Chain(String),
    /// Failed in `verify_embedded_scts`.
    Sct(String),
    /// Failed in `identity_matches`.
    Identity(String),
}

fn run_case(case: &serde_json::Value) -> Outcome {
    let s = |k: &str| case[k].as_str().unwrap_or_default().to_string();
    let Ok(b) = Bundle::from_slice(&read(&s("bundle"))) else {
        return Outcome::NotApplicable("bundle does not parse".into());
    };
    let root = root(&s("trusted_root"));
    // A token that does not verify provides no time (as in sigstore-go and sigstore-python);
    // when the bundle has tokens and none verifies, the timestamp step fails.
    let mut times = Vec::new();
    let mut first_error = None;
    for ts in timestamps(&b) {
        match verify_timestamp(&ts, &signature(&b), &root) {
            Ok(t) => times.push(t),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let (true, Some(e)) = (times.is_empty(), first_error) {
        return Outcome::Tsa(format!("{e:?}"));
    }
    if s("kind") != "keyless" {
        return Outcome::Pass;
    }
    let Some((leaf, extra)) = certs(&b) else {
        return Outcome::NotApplicable("no certificate".into());
    };
    times.extend(integrated_time(&b));
    if times.is_empty() {
        return Outcome::NotApplicable("no signing time".into());
    }
    let mut verified = None;
    for at in times {
        match verify_chain(&leaf, &extra, &root, at) {
            Ok(c) => verified = Some(c),
            Err(e) => return Outcome::Chain(format!("{e:?}")),
        }
    }
    let Some(cert) = verified else {
        return Outcome::NotApplicable("no signing time".into());
    };
    if let Err(e) = verify_embedded_scts(&cert, &root) {
        return Outcome::Sct(format!("{e:?}"));
    }
    if let Err(e) = identity_matches(&cert, &s("issuer"), &exact(&s("identity"))) {
        return Outcome::Identity(format!("{e:?}"));
    }
    Outcome::Pass
}

/// The fail cases whose reason is a certificate, SCT, identity or timestamp check, with the step
/// and the error variant they must stop at.
fn owned_failures() -> BTreeMap<&'static str, (&'static str, &'static str)> {
    BTreeMap::from([
        (
            "conformance/bundle-from-wrong-instance_fail",
            ("chain", "UntrustedIssuer"),
        ),
        (
            "conformance/bundle-with-root-cert_fail",
            ("chain", "ExtraCertificate"),
        ),
        (
            "conformance/integrated-time-in-future_fail",
            ("chain", "NotValidAt"),
        ),
        (
            "conformance/intoto-expired-certificate_fail",
            ("chain", "NotValidAt"),
        ),
        (
            "conformance/intoto-set-outside-signing-cert-validity_fail",
            ("chain", "NotValidAt"),
        ),
        (
            "conformance/intoto-tsa-timestamp-outside-cert-validity_fail",
            ("chain", "NotValidAt"),
        ),
        ("conformance/invalid-ct-key_fail", ("sct", "NoValidSct")),
        (
            "conformance/rekor2-timestamp-outside-trust-root-tsa-validity_fail",
            ("tsa", "AuthorityNotValidAt"),
        ),
        (
            "conformance/rekor2-timestamp-outside-tsa-cert-validity_fail",
            ("tsa", "NotValidAt"),
        ),
        (
            "conformance/rekor2-timestamp-payload-mismatch_fail",
            ("tsa", "ImprintMismatch"),
        ),
        (
            "conformance/rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
            ("tsa", "Certificate"),
        ),
        (
            "conformance/rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
            ("tsa", "SignerNotFound"),
        ),
        (
            "conformance/rekor2-timestamp-with-incorrect-time_fail",
            ("chain", "NotValidAt"),
        ),
        (
            "sigstore-go/othername-wrong-identity",
            ("identity", "IdentityMismatch"),
        ),
        (
            "github-cli/custom-issuer-default-issuer",
            ("identity", "IdentityMismatch"),
        ),
        (
            "github-cli/github_provenance_demo-0.0.12",
            ("tsa", "SignerNotFound"),
        ),
        // Expected to fail for its missing signed time (not checked here), and its Fulcio
        // intermediate (December 2024) is not in the corpus's staging root either.
        (
            "sigstore-python/bundle_v3_no_signed_time",
            ("chain", "UntrustedIssuer"),
        ),
    ])
}

#[test]
fn every_case_behaves_as_cases_json_expects_for_these_checks() {
    let cases: serde_json::Value = serde_json::from_slice(&read("cases.json")).expect("cases.json");
    let owned = owned_failures();
    let mut problems = Vec::new();
    let mut table = Vec::new();
    for case in cases["cases"].as_array().expect("cases") {
        let id = case["id"].as_str().unwrap_or_default();
        let expect = case["expect"].as_str().unwrap_or_default();
        let outcome = run_case(case);
        table.push(format!("{id}\t{expect}\t{outcome:?}"));
        let (stage, detail) = match &outcome {
            Outcome::Pass => ("pass", ""),
            Outcome::NotApplicable(d) => ("n/a", d.as_str()),
            Outcome::Tsa(d) => ("tsa", d.as_str()),
            Outcome::Chain(d) => ("chain", d.as_str()),
            Outcome::Sct(d) => ("sct", d.as_str()),
            Outcome::Identity(d) => ("identity", d.as_str()),
        };
        if let Some((want_stage, want_detail)) = owned.get(id) {
            if stage != *want_stage || !detail.contains(want_detail) {
                problems.push(format!(
                    "{id}: expected failure in {want_stage} ({want_detail}), got {outcome:?}"
                ));
            }
        } else if expect == "pass" && outcome != Outcome::Pass {
            problems.push(format!("{id}: a pass case failed: {outcome:?}"));
        } else if expect == "fail" && !matches!(outcome, Outcome::Pass | Outcome::NotApplicable(_))
        {
            problems.push(format!(
                "{id}: fails here although its reason is elsewhere: {outcome:?}"
            ));
        }
    }
    eprintln!("{}", table.join("\n"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Synthetic PKIs: the path rules that no real vector exercises.
// ---------------------------------------------------------------------------------------------

mod synthetic {
    use super::*;
    use ci_attest::sign::key::SigningKey;
    use ci_attest::trust::{Authority, Validity};
    use std::str::FromStr;
    use x509_cert::der::Encode;
    use x509_cert::der::asn1::{Ia5String, OctetString, UtcTime, Utf8StringRef};
    use x509_cert::ext::Extension;
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName};
    use x509_cert::name::Name;
    use x509_cert::time::{Time, Validity as CertValidity};

    const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
    const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
    pub const SAN: &str = "https://example.com/workflow@refs/heads/main";
    pub const ISSUER: &str = "https://issuer.example.com";

    fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = value.len();
        if len < 0x80 {
            out.push(u8::try_from(len).expect("short"));
        } else {
            let bytes = u32::try_from(len).expect("small").to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | u8::try_from(4 - skip).expect("len"));
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(value);
        out
    }

    fn ext(oid: &str, critical: bool, value: Vec<u8>) -> Extension {
        Extension {
            extn_id: ObjectIdentifier::new_unwrap(oid),
            critical,
            extn_value: OctetString::new(value).expect("octets"),
        }
    }

    pub fn basic(ca: bool, path_len: Option<u8>) -> Extension {
        let bc = BasicConstraints {
            ca,
            path_len_constraint: path_len,
        };
        ext("2.5.29.19", true, bc.to_der().expect("bc"))
    }

    pub fn key_usage(flags: impl Into<x509_cert::der::flagset::FlagSet<KeyUsages>>) -> Extension {
        ext(
            "2.5.29.15",
            true,
            KeyUsage(flags.into()).to_der().expect("ku"),
        )
    }

    pub fn eku(oids: &[ObjectIdentifier]) -> Extension {
        ext(
            "2.5.29.37",
            false,
            ExtendedKeyUsage(oids.to_vec()).to_der().expect("eku"),
        )
    }

    pub fn unknown_critical() -> Extension {
        ext("1.2.3.4.5", true, vec![0x05, 0x00])
    }

    pub fn ca_extensions(path_len: Option<u8>) -> Vec<Extension> {
        vec![
            basic(true, path_len),
            key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
        ]
    }

    pub fn leaf_extensions() -> Vec<Extension> {
        let san = SubjectAltName(vec![GeneralName::UniformResourceIdentifier(
            Ia5String::new(SAN).expect("ia5"),
        )]);
        vec![
            key_usage(KeyUsages::DigitalSignature),
            eku(&[CODE_SIGNING]),
            ext("2.5.29.17", true, san.to_der().expect("san")),
            ext(
                "1.3.6.1.4.1.57264.1.8",
                false,
                Utf8StringRef::new(ISSUER)
                    .expect("utf8")
                    .to_der()
                    .expect("issuer"),
            ),
        ]
    }

    /// A certificate for `key` named `subject`, signed by `issuer` (name, key).
    pub fn cert(
        subject: &str,
        key: &SigningKey,
        issuer: (&str, &SigningKey),
        not_before: SystemTime,
        not_after: SystemTime,
        extensions: &[Extension],
    ) -> Vec<u8> {
        let alg = tlv(0x30, &ECDSA_SHA256.to_der().expect("oid"));
        let name = |n: &str| Name::from_str(n).expect("name").to_der().expect("name der");
        let time = |t| Time::UtcTime(UtcTime::from_system_time(t).expect("utc"));
        let validity =
            CertValidity::<x509_cert::certificate::Rfc5280>::new(time(not_before), time(not_after))
                .to_der()
                .expect("validity");
        let mut exts = Vec::new();
        for e in extensions {
            exts.extend(e.to_der().expect("ext"));
        }
        let serial: u64 = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("now")
            .as_nanos() as u64;
        let mut tbs = tlv(0xa0, &[0x02, 0x01, 0x02]);
        tbs.extend(tlv(0x02, &[&[1u8][..], &serial.to_be_bytes()[..]].concat()));
        tbs.extend(&alg);
        tbs.extend(name(issuer.0));
        tbs.extend(validity);
        tbs.extend(name(subject));
        tbs.extend(key.public_key().to_spki_der());
        tbs.extend(tlv(0xa3, &tlv(0x30, &exts)));
        let tbs = tlv(0x30, &tbs);
        let sig = issuer.1.sign(&tbs);
        let mut bits = vec![0u8];
        bits.extend(sig);
        tlv(0x30, &[tbs, alg, tlv(0x03, &bits)].concat())
    }

    pub fn key() -> SigningKey {
        SigningKey::generate().expect("key")
    }

    pub fn root_of(chain: Vec<Vec<u8>>, valid_for: Validity) -> TrustedRoot {
        TrustedRoot {
            tlogs: Vec::new(),
            certificate_authorities: vec![Authority {
                uri: "https://fulcio.example.com".into(),
                cert_chain: chain,
                valid_for,
            }],
            ctlogs: Vec::new(),
            timestamp_authorities: Vec::new(),
        }
    }

    pub fn always() -> Validity {
        Validity {
            start: Some(t("2020-01-01T00:00:00Z")),
            end: None,
        }
    }

    /// A root, an intermediate, and the times they and a leaf live.
    pub struct Pki {
        pub root_key: SigningKey,
        pub inter_key: SigningKey,
        pub root: Vec<u8>,
        pub inter: Vec<u8>,
    }

    pub const ROOT: &str = "CN=Test Root,O=example";
    pub const INTER: &str = "CN=Test Intermediate,O=example";

    pub fn pki(root_exts: &[Extension], inter_exts: &[Extension]) -> Pki {
        let root_key = key();
        let inter_key = key();
        let (from, to) = (t("2021-01-01T00:00:00Z"), t("2031-01-01T00:00:00Z"));
        let root = cert(ROOT, &root_key, (ROOT, &root_key), from, to, root_exts);
        let inter = cert(INTER, &inter_key, (ROOT, &root_key), from, to, inter_exts);
        Pki {
            root_key,
            inter_key,
            root,
            inter,
        }
    }

    pub fn leaf_at(p: &Pki, exts: &[Extension]) -> Vec<u8> {
        let k = key();
        cert(
            "CN=leaf",
            &k,
            (INTER, &p.inter_key),
            t("2025-01-01T00:00:00Z"),
            t("2025-01-01T00:10:00Z"),
            exts,
        )
    }

    pub const AT: &str = "2025-01-01T00:05:00Z";
}

use synthetic::*;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::ext::pkix::KeyUsages;

#[test]
fn synthetic_leaf_intermediate_root_verifies() {
    let p = pki(&ca_extensions(Some(1)), &ca_extensions(Some(0)));
    let root = root_of(vec![p.inter.clone(), p.root.clone()], always());
    let leaf = leaf_at(&p, &leaf_extensions());
    let cert = verify_chain(&leaf, &[], &root, t(AT)).expect("valid");
    assert_eq!(cert.issuer_der(), p.inter.as_slice());
    identity_matches(&cert, ISSUER, &exact(SAN)).expect("identity");
    // A full copy of the trusted chain in the bundle is accepted; a partial one too.
    verify_chain(&leaf, &[p.inter.clone(), p.root.clone()], &root, t(AT)).expect("full chain");
    verify_chain(&leaf, std::slice::from_ref(&p.inter), &root, t(AT)).expect("intermediate only");
    let _ = &p.root_key;
}

#[test]
fn an_unknown_critical_extension_on_the_leaf_is_rejected() {
    let p = pki(&ca_extensions(None), &ca_extensions(Some(0)));
    let root = root_of(vec![p.inter.clone(), p.root.clone()], always());
    let mut exts = leaf_extensions();
    exts.push(unknown_critical());
    let e = verify_chain(&leaf_at(&p, &exts), &[], &root, t(AT)).expect_err("critical");
    assert!(
        matches!(e, CertError::UnknownCriticalExtension { ref oid, .. } if oid == "1.2.3.4.5"),
        "{e}"
    );
}

#[test]
fn a_leaf_without_digital_signature_or_that_is_a_ca_is_rejected() {
    let p = pki(&ca_extensions(None), &ca_extensions(Some(0)));
    let root = root_of(vec![p.inter.clone(), p.root.clone()], always());
    let mut exts = leaf_extensions();
    exts[0] = key_usage(KeyUsages::KeyCertSign);
    let e = verify_chain(&leaf_at(&p, &exts), &[], &root, t(AT)).expect_err("no digitalSignature");
    assert!(matches!(e, CertError::Usage { .. }), "{e}");
    let mut exts = leaf_extensions();
    exts.push(basic(true, None));
    let e = verify_chain(&leaf_at(&p, &exts), &[], &root, t(AT)).expect_err("CA leaf");
    assert!(matches!(e, CertError::Usage { .. }), "{e}");
}

#[test]
fn an_issuer_must_be_a_ca_with_key_cert_sign() {
    for inter_exts in [
        vec![basic(false, None), key_usage(KeyUsages::KeyCertSign)],
        vec![key_usage(KeyUsages::KeyCertSign)],
        vec![basic(true, None), key_usage(KeyUsages::DigitalSignature)],
        vec![basic(true, None)],
    ] {
        let p = pki(&ca_extensions(None), &inter_exts);
        let root = root_of(vec![p.inter.clone(), p.root.clone()], always());
        let e = verify_chain(&leaf_at(&p, &leaf_extensions()), &[], &root, t(AT))
            .expect_err("not a CA");
        assert!(matches!(e, CertError::NotCa { .. }), "{e}");
    }
}

#[test]
fn path_length_constraints_are_honoured() {
    let p = pki(&ca_extensions(Some(0)), &ca_extensions(None));
    let root = root_of(vec![p.inter.clone(), p.root.clone()], always());
    let e =
        verify_chain(&leaf_at(&p, &leaf_extensions()), &[], &root, t(AT)).expect_err("pathLen 0");
    assert!(
        matches!(
            e,
            CertError::PathLength {
                limit: 0,
                found: 1,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn an_issuer_eku_that_excludes_code_signing_is_rejected() {
    let tsa_only = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
    let mut inter = ca_extensions(Some(0));
    inter.push(eku(&[tsa_only]));
    let p = pki(&ca_extensions(None), &inter);
    let root = root_of(vec![p.inter.clone(), p.root.clone()], always());
    let e = verify_chain(&leaf_at(&p, &leaf_extensions()), &[], &root, t(AT)).expect_err("EKU");
    assert!(matches!(e, CertError::Usage { .. }), "{e}");
}

#[test]
fn every_certificate_on_the_path_and_the_authority_must_be_valid_at_the_signing_time() {
    // The intermediate expired before the leaf was used.
    let root_key = key();
    let inter_key = key();
    let root_cert = cert(
        ROOT,
        &root_key,
        (ROOT, &root_key),
        t("2021-01-01T00:00:00Z"),
        t("2031-01-01T00:00:00Z"),
        &ca_extensions(None),
    );
    let inter = cert(
        INTER,
        &inter_key,
        (ROOT, &root_key),
        t("2021-01-01T00:00:00Z"),
        t("2024-12-31T00:00:00Z"),
        &ca_extensions(Some(0)),
    );
    let p = Pki {
        root_key,
        inter_key,
        root: root_cert,
        inter,
    };
    let root = root_of(vec![p.inter.clone(), p.root.clone()], always());
    let e = verify_chain(&leaf_at(&p, &leaf_extensions()), &[], &root, t(AT))
        .expect_err("expired intermediate");
    assert!(
        matches!(e, CertError::NotValidAt { ref subject, .. } if subject.contains("Intermediate")),
        "{e}"
    );

    // The authority's validFor in the trusted root ends before the signing time.
    let p = pki(&ca_extensions(None), &ca_extensions(Some(0)));
    let ended = ci_attest::trust::Validity {
        start: Some(t("2021-01-01T00:00:00Z")),
        end: Some(t("2024-06-01T00:00:00Z")),
    };
    let root = root_of(vec![p.inter.clone(), p.root.clone()], ended);
    let e = verify_chain(&leaf_at(&p, &leaf_extensions()), &[], &root, t(AT))
        .expect_err("authority ended");
    assert!(matches!(e, CertError::AuthorityNotValidAt { .. }), "{e}");
    // ... inclusive at its end.
    let ends_at = ci_attest::trust::Validity {
        start: Some(t("2021-01-01T00:00:00Z")),
        end: Some(t(AT)),
    };
    verify_chain(
        &leaf_at(&p, &leaf_extensions()),
        &[],
        &root_of(vec![p.inter.clone(), p.root.clone()], ends_at),
        t(AT),
    )
    .expect("end inclusive");
}

#[test]
fn an_intermediate_carried_only_in_the_bundle_is_never_trusted() {
    // The trusted root lists only the root; the bundle brings an intermediate the root really
    // signed. Trust comes from the trusted root alone, so this is rejected.
    let p = pki(&ca_extensions(None), &ca_extensions(Some(0)));
    let root = root_of(vec![p.root.clone()], always());
    let leaf = leaf_at(&p, &leaf_extensions());
    let e = verify_chain(&leaf, std::slice::from_ref(&p.inter), &root, t(AT))
        .expect_err("untrusted intermediate");
    assert!(matches!(e, CertError::UntrustedIssuer { .. }), "{e}");
    // And an extra certificate that is not the trusted issuer at its position is rejected.
    let q = pki(&ca_extensions(None), &ca_extensions(Some(0)));
    let root = root_of(vec![q.inter.clone(), q.root.clone()], always());
    let leaf = leaf_at(&q, &leaf_extensions());
    let e = verify_chain(&leaf, std::slice::from_ref(&p.inter), &root, t(AT))
        .expect_err("foreign extra");
    assert!(
        matches!(e, CertError::ExtraCertificate { index: 0, .. }),
        "{e}"
    );
    let e = verify_chain(&leaf, std::slice::from_ref(&q.root), &root, t(AT))
        .expect_err("root without intermediate");
    assert!(
        matches!(e, CertError::ExtraCertificate { index: 0, .. }),
        "{e}"
    );
}

#[test]
fn the_verified_issuer_cache_never_answers_for_a_certificate_that_differs_by_one_byte() {
    let b = bundle(&conformance("happy-path-v0.3"));
    let (leaf, extra) = certs(&b).expect("keyless");
    let at = integrated_time(&b).expect("time");
    // Twice: the second answer comes with the intermediate-to-root signature remembered.
    for _ in 0..2 {
        verify_chain(&leaf, &extra, &production(), at).expect("chains to production Fulcio");
    }
    // The same intermediates with one bit of their signature flipped: their keys (which verify
    // the leaf) are unchanged, so only the remembered pair's signature could let them through.
    let mut tampered = production();
    let mut flipped = 0;
    for ca in &mut tampered.certificate_authorities {
        if ca.cert_chain.len() >= 2 {
            let der = &mut ca.cert_chain[0];
            let last = der.len() - 1;
            der[last] ^= 1;
            flipped += 1;
        }
    }
    assert!(flipped > 0, "production has intermediates");
    let e = verify_chain(&leaf, &[], &tampered, at).expect_err("a tampered intermediate");
    assert!(matches!(e, CertError::BadSignature { .. }), "{e}");
    // And the untouched root still verifies afterwards.
    verify_chain(&leaf, &extra, &production(), at).expect("still chains");
}
