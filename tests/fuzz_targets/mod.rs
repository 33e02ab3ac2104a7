//! The fuzz target bodies, in one place for both drivers:
//!
//! - `tests/fuzz_parsers.rs` (stable, `cargo test --test fuzz_parsers`) runs them on mutated seeds
//!   with proptest;
//! - the cargo-fuzz crate in `fuzz/` includes this file (`#[path = "../../tests/fuzz_targets/mod.rs"]`)
//!   and runs one target per binary under libFuzzer.
//!
//! Each target takes arbitrary bytes and must return without panicking; what it returns is
//! irrelevant. The fixed context a target needs (a trusted root, the signed content a Rekor body must
//! record, a signature a timestamp covers) is embedded with `include_bytes!` so both drivers see
//! exactly the same thing.
#![allow(dead_code)]

use ci_attest::bundle::Bundle;
use ci_attest::collect::{self, ReportFormat};
use ci_attest::dsse::Envelope;
use ci_attest::git::{CommitId, CommitInfo};
use ci_attest::judge::{Judge, KeySource};
use ci_attest::policy::Policy;
use ci_attest::sign::key::PublicKey;
use ci_attest::statement::{LocalRunStatement, Statement};
use ci_attest::test_result::TestResultStatement;
use ci_attest::trust::TrustedRoot;
use ci_attest::verify;
use ci_attest::verify::tlog::body::check_body;
use ci_attest::verify::tlog::checkpoint::Checkpoint;
use ci_attest::verify::tlog::{EntryKind, SignedContent};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A target: arbitrary bytes in, no panic out.
pub type Target = fn(&[u8]);

/// Every target by name (the names of the binaries in `fuzz/Cargo.toml`).
pub const TARGETS: &[(&str, Target)] = &[
    ("bundle", bundle),
    ("dsse_envelope", dsse_envelope),
    ("statement", statement),
    ("trusted_root", trusted_root),
    ("checkpoint", checkpoint),
    ("certificate", certificate),
    ("sct_list", sct_list),
    ("rekor_body", rekor_body),
    ("timestamp", timestamp),
    ("policy", policy),
    ("report_junit", report_junit),
    ("report_libtest", report_libtest),
    ("report_lcov", report_lcov),
    ("report_cobertura", report_cobertura),
    ("report_sarif", report_sarif),
    ("report_clippy", report_clippy),
    ("verify_bundle", verify_bundle),
];

// ---------------------------------------------------------------------------------------------
// Fixed context.
// ---------------------------------------------------------------------------------------------

/// The sigstore-python TSA test vector: a bundle with an RFC 3161 timestamp, and its trusted root.
const TSA_BUNDLE: &[u8] =
    include_bytes!("../vectors/third-party/sigstore-python/tsa/bundle.txt.sigstore");
const TSA_ROOT: &[u8] = include_bytes!(
    "../vectors/third-party/sigstore-python/tsa/trusted_root.staging-with-test-tsa.json"
);
/// Bundles whose content a fuzzed Rekor body is checked against: a DSSE envelope (v0.3) and a
/// message signature (v0.2), both keyless.
const DSSE_BUNDLE: &[u8] = include_bytes!("../vectors/roundtrip/v0.3-dsse.sigstore.json");
const MESSAGE_BUNDLE: &[u8] =
    include_bytes!("../vectors/roundtrip/v0.2-message-signature.sigstore.json");

/// The public half of the fixed test key `tests/fuzz_parsers.rs` signs its key-signed seed with
/// (a throwaway key made for these tests, never used for anything else).
pub const FUZZ_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEbdQ8EEBEbUQrhzHCU4YSWTfw/NJe
fnw0cRIIB+7yYsSuglj0wz/38OVcubZ6iKjuAv0Fv8Bs08kicyHeeKzK5A==
-----END PUBLIC KEY-----
";

/// The commit the key-signed seed names (ids are arbitrary but well-formed).
pub const COMMIT_ID: &str = "0123456789abcdef0123456789abcdef01234567";
/// The sha256 digest of that commit object.
pub const COMMIT_SHA256: &str = "89abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567";

/// The fixed verification time: 2026-11-02T00:00:00Z (never the clock).
pub fn verification_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_793_577_600)
}

fn production_root() -> &'static TrustedRoot {
    static ROOT: OnceLock<TrustedRoot> = OnceLock::new();
    ROOT.get_or_init(TrustedRoot::production)
}

fn tsa_root() -> &'static TrustedRoot {
    static ROOT: OnceLock<TrustedRoot> = OnceLock::new();
    ROOT.get_or_init(|| TrustedRoot::from_json(TSA_ROOT).expect("the TSA test root parses"))
}

fn parsed(bytes: &[u8]) -> Bundle {
    Bundle::from_slice(bytes).expect("the embedded seed bundle parses")
}

/// The signature the TSA vector's timestamp is over.
fn tsa_signature() -> &'static [u8] {
    static SIG: OnceLock<Vec<u8>> = OnceLock::new();
    SIG.get_or_init(|| {
        let b = parsed(TSA_BUNDLE);
        match &b.content {
            ci_attest::bundle::Content::MessageSignature(m) => m.signature.clone(),
            ci_attest::bundle::Content::DsseEnvelope(e) => e.signatures[0].sig.clone(),
        }
    })
}

fn signed_content_bundles() -> &'static [Bundle; 2] {
    static B: OnceLock<[Bundle; 2]> = OnceLock::new();
    B.get_or_init(|| [parsed(DSSE_BUNDLE), parsed(MESSAGE_BUNDLE)])
}

/// Keys pinned by fingerprint: the fixed fuzz key, whatever the fingerprint asked for (the
/// verifier compares fingerprints itself).
struct FuzzKeys;

impl KeySource for FuzzKeys {
    fn public_key_pem(
        &self,
        _fingerprint_hex: &str,
    ) -> Result<Option<String>, ci_attest::store::StoreError> {
        Ok(Some(FUZZ_PUBLIC_KEY_PEM.to_string()))
    }
}

/// The policy `verify_bundle` runs under: the fuzz key, and keyless signers for the issuers the
/// seed bundles use (any identity), so keyless seeds go through the full sigstore verification.
pub fn fuzz_policy_text() -> String {
    let key = PublicKey::from_pem(FUZZ_PUBLIC_KEY_PEM.as_bytes()).expect("the fuzz key parses");
    format!(
        r#"[[signer]]
name = "fuzz-key"
fingerprint = "{}"

[[signer]]
name = "github-actions"
issuer = "https://token.actions.githubusercontent.com"
identity_regex = ".*"

[[signer]]
name = "sigstore-oauth"
issuer = "https://oauth2.sigstore.dev/auth"
identity_regex = ".*"
"#,
        key.key_id()
    )
}

fn fuzz_policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| {
        Policy::parse(&fuzz_policy_text(), "fuzz-policy.toml", Path::new("."))
            .expect("the fuzz policy parses")
    })
}

fn fuzz_commit() -> &'static CommitInfo {
    static C: OnceLock<CommitInfo> = OnceLock::new();
    C.get_or_init(|| CommitInfo {
        id: CommitId::parse(COMMIT_ID).expect("a well-formed commit id"),
        sha256: COMMIT_SHA256.to_string(),
        tree: "fedcba9876543210fedcba9876543210fedcba98".to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// Targets.
// ---------------------------------------------------------------------------------------------

/// A sigstore bundle: parse, and on success everything the CLI derives from it without keys, plus
/// a write-and-read-back.
pub fn bundle(data: &[u8]) {
    let _ = verify::predicate_type_of(data);
    let Ok(b) = Bundle::from_slice(data) else {
        return;
    };
    let _ = b.dsse_envelope();
    let _ = b.single_signature_envelope();
    let _ = verify::public_key_hint(&b);
    let _ = verify::material_kind(&b);
    let _ = SignedContent::from_bundle(&b, None);
    let written = b.to_json();
    let _ = Bundle::from_slice(written.as_bytes());
}

/// A DSSE envelope (JSON): parse, PAE, the single-signature rule, and a write-and-read-back.
pub fn dsse_envelope(data: &[u8]) {
    let Ok(env) = serde_json::from_slice::<Envelope>(data) else {
        return;
    };
    let _ = env.pae();
    let _ = ci_attest::bundle::check_single_signature(&env);
    if let Ok(json) = serde_json::to_vec(&env) {
        let _ = serde_json::from_slice::<Envelope>(&json);
    }
}

/// An in-toto statement as a DSSE payload: the verifier's local-run parsing, and the typed
/// statement models (local-run, test-result, any predicate).
pub fn statement(data: &[u8]) {
    let mut findings = Vec::new();
    if let Some(st) = verify::parse_statement(data, &mut findings) {
        let _ = st.to_json();
    }
    let _ = serde_json::from_slice::<LocalRunStatement>(data);
    let _ = serde_json::from_slice::<TestResultStatement>(data);
    let _ = serde_json::from_slice::<Statement<serde_json::Value>>(data);
}

/// A sigstore trusted root (JSON).
pub fn trusted_root(data: &[u8]) {
    let _ = TrustedRoot::from_json(data);
}

/// A signed-note checkpoint: parse, then check its signatures against every production log key.
pub fn checkpoint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cp) = Checkpoint::parse(text) else {
        return;
    };
    for log in &production_root().tlogs {
        if let Ok(key) = ci_attest::verify::pki::VerifyingKey::from_spki_der(&log.public_key) {
            for hash in [
                ci_attest::verify::pki::HashAlg::Sha256,
                ci_attest::verify::pki::HashAlg::Sha384,
            ] {
                let _ = cp.verify_signature(&key, &log.public_key, &log.log_id, hash);
            }
        }
    }
}

/// A DER certificate: every check the verifier applies to a leaf, and its embedded SCTs, against
/// the production root.
pub fn certificate(data: &[u8]) {
    let _ = ci_attest::fuzzing::certificate(data, production_root());
}

/// The value of an embedded SCT list extension (an OCTET STRING holding a TLS list).
pub fn sct_list(data: &[u8]) {
    let leaf: &[u8] = match &signed_content_bundles()[0]
        .verification_material
        .key_material
    {
        ci_attest::bundle::KeyMaterial::Certificate(c) => c,
        _ => &[],
    };
    let _ = ci_attest::fuzzing::sct_list(data, leaf, production_root());
}

/// A Rekor entry body (`canonicalizedBody`, decoded), as every entry kind, against a DSSE and a
/// message-signature bundle's content.
pub fn rekor_body(data: &[u8]) {
    for b in signed_content_bundles() {
        let Ok(signed) = SignedContent::from_bundle(b, None) else {
            continue;
        };
        for kind in [
            EntryKind::HashedRekordV001,
            EntryKind::DsseV001,
            EntryKind::IntotoV002,
            EntryKind::HashedRekordV002,
            EntryKind::DsseV002,
        ] {
            let _ = check_body(kind, data, &signed);
        }
    }
}

/// An RFC 3161 timestamp (`TimeStampResp` or `TimeStampToken`, DER) over the TSA vector's
/// signature, against the TSA vector's root.
pub fn timestamp(data: &[u8]) {
    let _ = ci_attest::verify::tsa::verify_timestamp(data, tsa_signature(), tsa_root());
}

/// A policy file (TOML). Key files resolve under a directory that does not exist.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Policy::parse(text, "fuzz.toml", Path::new("/nonexistent/ci-attest-fuzz"));
}

fn report(format: ReportFormat, data: &[u8]) {
    let _ = collect::parse_reader(format, data);
}

/// A JUnit XML report.
pub fn report_junit(data: &[u8]) {
    report(ReportFormat::Junit, data);
}

/// A libtest JSON event stream.
pub fn report_libtest(data: &[u8]) {
    report(ReportFormat::LibtestJson, data);
}

/// An LCOV tracefile.
pub fn report_lcov(data: &[u8]) {
    report(ReportFormat::Lcov, data);
}

/// A Cobertura XML report.
pub fn report_cobertura(data: &[u8]) {
    report(ReportFormat::Cobertura, data);
}

/// A SARIF log.
pub fn report_sarif(data: &[u8]) {
    report(ReportFormat::Sarif, data);
}

/// cargo clippy's JSON message stream.
pub fn report_clippy(data: &[u8]) {
    report(ReportFormat::Clippy, data);
}

/// The whole verifier on one bundle's bytes, through the orchestrator `verify` and `audit` use:
/// parse, envelope, statement (strict, consistent), keyless verification (chain, SCTs, log
/// entries, timestamps, identity) or the key-signed path, the subject, selection by the verified
/// time, the policy and the report in every format.
pub fn verify_bundle(data: &[u8]) {
    let judge = Judge::new(
        fuzz_policy(),
        &FuzzKeys,
        production_root(),
        verification_time(),
    );
    let fetched = ci_attest::store::Fetched::of(vec![ci_attest::store::StoredBundle {
        location: "fuzz.sigstore.json".into(),
        bytes: data.to_vec(),
    }]);
    let report = judge.commit(fuzz_commit(), &fetched);
    let _ = (report.to_text(), report.to_markdown(), report.to_json());
}
