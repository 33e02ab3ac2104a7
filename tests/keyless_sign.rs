//! Keyless signing against local sigstore services, verified by sigstore-python.
//!
//! `tests/sigstore-local/server.mjs` runs a Fulcio (+ CT log), Rekor v1 (real Merkle tree, signed
//! checkpoints) and an RFC 3161 TSA on 127.0.0.1 with fresh keys and writes their
//! `trusted_root.json` / `signing_config.json`. ci-attest signs against it; sigstore-python 4.5.1
//! (an implementation we did not write) verifies the bundles offline with that trust material,
//! and must reject them for another identity or issuer. ci-attest must also read what
//! sigstore-python signs there. ci-attest's own verifier (`verify::sigstore::verify`) accepts both
//! tools' bundles with the local trusted root, and rejects another identity, another instance's
//! root, and an altered inclusion proof, SET, checkpoint or payload, each with its finding code.
//!
//! Needs `tests/sigstore-local/install.sh` to have run; without it these tests FAIL (a skipped
//! interop test proves nothing).

mod common;

use common::sigstore_local::{local, start_services};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ci_attest::bundle::{Bundle, Content, KeyMaterial};
use ci_attest::finding::Finding;
use ci_attest::sign::keyless::{Services, sign_artifact_keyless, sign_statement_keyless};
use ci_attest::sign::oidc::{IdentityToken, unsigned_jwt};
use ci_attest::trust::TrustedRoot;
use ci_attest::verify::cert::{IdentityMatcher, SanRegex};
use ci_attest::verify::sigstore::{Artifact, Signer, Verified, verify};
use sha2::{Digest as _, Sha256};

const INSTALL_HINT: &str =
    "run `tests/sigstore-local/install.sh` (needs node >= 20.17, npm and python3 >= 3.10) first";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const IDENTITY: &str = "https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main";

fn local_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sigstore-local")
}

fn python() -> PathBuf {
    let python = local_dir().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "sigstore-python is not installed ({} is missing); {INSTALL_HINT}",
        python.display()
    );
    python
}

fn token_for(issuer: &str, subject: &str) -> IdentityToken {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let jwt = unsigned_jwt(&serde_json::json!({
        "iss": issuer, "sub": subject, "aud": "sigstore",
        "iat": now, "nbf": now, "exp": now + 600,
    }));
    IdentityToken::parse(&jwt).expect("well-formed token")
}

/// A ci-attest-shaped statement: the subject has `gitCommit` and `sha256` (of `artifact`).
fn statement_for(artifact: &[u8]) -> Vec<u8> {
    format!(
        concat!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"https://github.com/acme/app@0123456789abcdef0123456789abcdef01234567","#,
            r#""digest":{{"gitCommit":"0123456789abcdef0123456789abcdef01234567","sha256":"{}"}}}}],"#,
            r#""predicateType":"https://ci-attest.dev/local-run/v1","predicate":{{"checks":[]}}}}"#
        ),
        hex::encode(Sha256::digest(artifact))
    )
    .into_bytes()
}

/// A statement whose only subject digest is `sha256` (of `artifact`): sigstore-python's CLI
/// parses the statement and its model rejects other digest names such as `gitCommit`.
fn sha256_only_statement_for(artifact: &[u8]) -> Vec<u8> {
    String::from_utf8(statement_for(artifact))
        .expect("utf8")
        .replace(
            r#""gitCommit":"0123456789abcdef0123456789abcdef01234567","#,
            "",
        )
        .into_bytes()
}

/// Runs `verify_dsse.py` (sigstore-python's API, no statement parsing).
fn python_verify_api(bundle: &Path, identity: &str, issuer: &str) -> Result<(), String> {
    let out = Command::new(python())
        .arg(local_dir().join("verify_dsse.py"))
        .arg(&local().trust_config)
        .arg(bundle)
        .args([identity, issuer])
        .output()
        .unwrap_or_else(|e| panic!("cannot run sigstore-python: {e}; {INSTALL_HINT}"));
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    match out.status.code() {
        Some(0) if stdout == "VERIFIED" => Ok(()),
        Some(1) if stdout.starts_with("REJECTED: ") => Err(stdout),
        _ => panic!(
            "verify_dsse.py did not run properly ({}); {INSTALL_HINT}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn services_with_tsa() -> Services {
    let l = local();
    Services {
        fulcio_url: l.fulcio.clone(),
        rekor_url: l.rekor.clone(),
        tsa_url: Some(l.tsa.clone()),
    }
}

/// Runs `sigstore verify identity --offline`; Ok(()) when it verifies, Err(output) otherwise.
fn python_verify(
    bundle: &Path,
    artifact: &Path,
    identity: &str,
    issuer: &str,
) -> Result<(), String> {
    let out = Command::new(python())
        .args(["-m", "sigstore", "-v", "--trust-config"])
        .arg(&local().trust_config)
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(bundle)
        .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer])
        .arg(artifact)
        .output()
        .unwrap_or_else(|e| panic!("cannot run sigstore-python: {e}; {INSTALL_HINT}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("No module named sigstore"),
        "sigstore-python missing: {INSTALL_HINT}"
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(text)
    }
}

#[test]
fn keyless_bundle_has_certificate_tlog_entry_with_proof_and_timestamp() {
    let services = services_with_tsa();
    let token = token_for(ISSUER, IDENTITY);
    let statement = statement_for(b"artifact");
    // A few signings, so that the log has several leaves and the proof has hashes.
    let mut last = None;
    for _ in 0..3 {
        last = Some(
            sign_statement_keyless(&statement, &token, &services, SystemTime::now())
                .expect("signs"),
        );
    }
    let bundle = last.expect("signed");
    let KeyMaterial::Certificate(leaf) = &bundle.verification_material.key_material else {
        panic!(
            "expected a certificate, found {:?}",
            bundle.verification_material.key_material
        );
    };
    assert_eq!(leaf.first(), Some(&0x30), "DER certificate");
    let envelope = bundle.single_signature_envelope().expect("one signature");
    assert_eq!(envelope.payload, statement);
    assert_eq!(envelope.signatures[0].keyid, "");

    let entries = &bundle.verification_material.tlog_entries;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(
        (
            entry.kind_version.kind.as_str(),
            entry.kind_version.version.as_str()
        ),
        ("dsse", "0.0.1")
    );
    assert!(entry.integrated_time > 0);
    assert_eq!(entry.log_id.key_id.len(), 32);
    let set = entry.inclusion_promise.as_ref().expect("SET");
    assert!(!set.signed_entry_timestamp.is_empty());
    let proof = entry.inclusion_proof.as_ref().expect("inclusion proof");
    assert!(proof.tree_size >= 3, "{proof:?}");
    assert!(
        !proof.hashes.is_empty(),
        "a proof in a tree of {} has hashes",
        proof.tree_size
    );
    assert_eq!(proof.root_hash.len(), 32);
    let checkpoint = proof.checkpoint.as_ref().expect("checkpoint");
    assert!(
        checkpoint
            .envelope
            .contains(&format!("\n{}\n", proof.tree_size))
    );
    let body: serde_json::Value =
        serde_json::from_slice(&entry.canonicalized_body).expect("JSON body");
    assert_eq!(body["kind"], "dsse");
    assert_eq!(
        body["spec"]["payloadHash"]["value"],
        hex::encode(Sha256::digest(&statement))
    );
    let tsa = bundle
        .verification_material
        .timestamp_verification_data
        .as_ref()
        .expect("timestamps");
    assert_eq!(tsa.rfc3161_timestamps.len(), 1);
    assert_eq!(
        tsa.rfc3161_timestamps[0].signed_timestamp.first(),
        Some(&0x30)
    );

    let back = Bundle::from_slice(bundle.to_json().as_bytes()).expect("parses its own output");
    assert_eq!(back, bundle);
}

#[test]
fn sigstore_python_verifies_keyless_dsse_bundle_and_rejects_wrong_identity() {
    let l = local();
    let services = Services::from_signing_config(
        &std::fs::read(&l.signing_config).expect("signing config"),
        SystemTime::now(),
    )
    .expect("local signing config");
    assert_eq!(services.tsa_url.as_deref(), Some(l.tsa.as_str()));
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = dir.path().join("commit.bin");
    std::fs::write(&artifact, b"commit 3\0abc").expect("write");
    let statement = sha256_only_statement_for(b"commit 3\0abc");
    let bundle = sign_statement_keyless(
        &statement,
        &token_for(ISSUER, IDENTITY),
        &services,
        SystemTime::now(),
    )
    .expect("signs");
    let path = dir.path().join("b.sigstore.json");
    std::fs::write(&path, bundle.to_json()).expect("write bundle");

    python_verify(&path, &artifact, IDENTITY, ISSUER)
        .unwrap_or_else(|e| panic!("sigstore-python rejected ci-attest's bundle:\n{e}"));
    let wrong_identity = python_verify(
        &path,
        &artifact,
        "https://github.com/evil/app/.github/workflows/ci.yml@refs/heads/main",
        ISSUER,
    );
    assert!(wrong_identity.is_err(), "another identity must not verify");
    let wrong_issuer = python_verify(&path, &artifact, IDENTITY, "https://accounts.google.com");
    assert!(wrong_issuer.is_err(), "another issuer must not verify");
    let other = dir.path().join("other.bin");
    std::fs::write(&other, b"another commit").expect("write");
    assert!(
        python_verify(&path, &other, IDENTITY, ISSUER).is_err(),
        "an artifact that is not the subject must not verify"
    );
    // A tampered payload must not verify either.
    let mut tampered = bundle.clone();
    if let Content::DsseEnvelope(env) = &mut tampered.content {
        let text = String::from_utf8(env.payload.clone()).expect("utf8");
        env.payload = text.replace("\"checks\":[]", "\"checks\":[1]").into_bytes();
    }
    let tampered_path = dir.path().join("t.sigstore.json");
    std::fs::write(&tampered_path, tampered.to_json()).expect("write");
    assert!(python_verify(&tampered_path, &artifact, IDENTITY, ISSUER).is_err());
}

#[test]
fn sigstore_python_api_verifies_ci_attest_statement_with_git_commit_subject() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = sign_statement_keyless(
        &statement_for(b"x"),
        &token_for(ISSUER, IDENTITY),
        &services_with_tsa(),
        SystemTime::now(),
    )
    .expect("signs");
    let path = dir.path().join("b.sigstore.json");
    std::fs::write(&path, bundle.to_json()).expect("write");
    python_verify_api(&path, IDENTITY, ISSUER)
        .unwrap_or_else(|e| panic!("sigstore-python rejected ci-attest's bundle: {e}"));
    let err = python_verify_api(&path, IDENTITY, "https://gitlab.com").expect_err("wrong issuer");
    assert!(err.contains("REJECTED"), "{err}");
    python_verify_api(
        &path,
        "https://github.com/acme/app/.github/workflows/evil.yml@refs/heads/main",
        ISSUER,
    )
    .expect_err("wrong identity");
}

#[test]
fn sigstore_python_verifies_keyless_message_signature() {
    let services = services_with_tsa();
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = dir.path().join("a.txt");
    std::fs::write(&artifact, b"hello, hashedrekord\n").expect("write");
    let bundle = sign_artifact_keyless(
        b"hello, hashedrekord\n",
        &token_for(ISSUER, IDENTITY),
        &services,
        SystemTime::now(),
    )
    .expect("signs");
    assert_eq!(
        bundle.verification_material.tlog_entries[0]
            .kind_version
            .kind,
        "hashedrekord"
    );
    let path = dir.path().join("a.sigstore.json");
    std::fs::write(&path, bundle.to_json()).expect("write");
    python_verify(&path, &artifact, IDENTITY, ISSUER)
        .unwrap_or_else(|e| panic!("sigstore-python rejected the message signature:\n{e}"));
    assert!(python_verify(&path, &artifact, "someone@example.com", ISSUER).is_err());
}

/// Signs `artifact` with `sigstore attest` (sigstore-python) against the local services; returns
/// the bundle's path (in `dir`).
fn python_attest(dir: &Path, artifact: &Path) -> PathBuf {
    let l = local();
    let predicate = dir.join("pred.json");
    std::fs::write(
        &predicate,
        r#"{"buildDefinition":{"buildType":"https://example.com/t","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/b"}}}"#,
    )
    .expect("write");
    let bundle_path = dir.join("py.sigstore.json");
    let token = token_for(ISSUER, IDENTITY);
    let out = Command::new(python())
        .args(["-m", "sigstore", "--trust-config"])
        .arg(&l.trust_config)
        .args(["attest", "--identity-token", token.expose_secret()])
        .args([
            "--predicate-type",
            "https://slsa.dev/provenance/v1",
            "--predicate",
        ])
        .arg(&predicate)
        .arg("--bundle")
        .arg(&bundle_path)
        .arg(artifact)
        .output()
        .unwrap_or_else(|e| panic!("cannot run sigstore-python: {e}; {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "sigstore attest failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bundle_path
}

#[test]
fn reads_a_bundle_signed_by_sigstore_python() {
    let l = local();
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = dir.path().join("art.txt");
    std::fs::write(&artifact, b"signed by python\n").expect("write");
    let bundle_path = python_attest(dir.path(), &artifact);
    let bytes = std::fs::read(&bundle_path).expect("python's bundle");
    let bundle = Bundle::from_slice(&bytes).expect("ci-attest parses sigstore-python's bundle");
    assert!(matches!(
        bundle.verification_material.key_material,
        KeyMaterial::Certificate(_)
    ));
    let env = bundle.single_signature_envelope().expect("DSSE");
    assert_eq!(env.payload_type, "application/vnd.in-toto+json");
    let entry = &bundle.verification_material.tlog_entries[0];
    assert_eq!(entry.kind_version.kind, "dsse");
    assert!(
        entry
            .inclusion_proof
            .as_ref()
            .is_some_and(|p| p.checkpoint.is_some())
    );
    assert!(
        bundle
            .verification_material
            .timestamp_verification_data
            .is_some()
    );
    // And our trusted root model reads the local root both tools used.
    ci_attest::trust::TrustedRoot::from_json(&std::fs::read(&l.trusted_root).expect("root"))
        .expect("ci-attest reads the local trusted_root.json");
}

// ---- ci-attest's own sigstore verifier against the local services ----

/// The local services' trusted root, as ci-attest reads it.
fn local_root() -> TrustedRoot {
    TrustedRoot::from_json(&std::fs::read(&local().trusted_root).expect("trusted_root.json"))
        .expect("ci-attest reads the local trusted_root.json")
}

/// The signer the local tokens name: [`ISSUER`] and exactly [`IDENTITY`].
fn expected_identity() -> IdentityMatcher {
    IdentityMatcher::Exact(IDENTITY.to_owned())
}

fn sha256_of(bytes: &[u8]) -> Artifact {
    Artifact::Digest {
        algorithm: "sha256".into(),
        digest: Sha256::digest(bytes).to_vec(),
    }
}

/// A ci-attest keyless bundle (as JSON) over `statement_for(b"artifact")`, signed after a few other
/// signings so that the log has several leaves and the inclusion proof has hashes.
fn signed_bundle_json() -> String {
    static BUNDLE: OnceLock<String> = OnceLock::new();
    BUNDLE
        .get_or_init(|| {
            let services = services_with_tsa();
            let token = token_for(ISSUER, IDENTITY);
            for i in 0..3u8 {
                sign_statement_keyless(&statement_for(&[i]), &token, &services, SystemTime::now())
                    .expect("signs");
            }
            let bundle = sign_statement_keyless(
                &statement_for(b"artifact"),
                &token,
                &services,
                SystemTime::now(),
            )
            .expect("signs");
            let proof = bundle.verification_material.tlog_entries[0]
                .inclusion_proof
                .as_ref()
                .expect("inclusion proof");
            assert!(!proof.hashes.is_empty(), "{proof:?}");
            bundle.to_json()
        })
        .clone()
}

/// Verifies with the local root, the expected signer and the statement's subject.
fn verify_local(bytes: &[u8], root: &TrustedRoot) -> Result<Verified, Vec<Finding>> {
    let identity = expected_identity();
    verify(
        bytes,
        root,
        &Signer::Keyless {
            issuer: ISSUER,
            identity: &identity,
        },
        Some(&sha256_of(b"artifact")),
    )
}

/// The codes of the findings a rejected verification returned (it must have been rejected).
fn rejection_codes(result: Result<Verified, Vec<Finding>>) -> Vec<String> {
    match result {
        Ok(v) => panic!("expected a rejection, but it verified: {v:?}"),
        Err(findings) => {
            assert!(!findings.is_empty());
            findings.iter().map(|f| f.code.to_string()).collect()
        }
    }
}

/// The bundle JSON with `edit` applied to its first tlog entry.
fn with_entry_edited(json: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_str(json).expect("bundle JSON");
    edit(&mut value["verificationMaterial"]["tlogEntries"][0]);
    serde_json::to_vec(&value).expect("JSON")
}

/// Flips the low bit of the first byte of a base64 string field.
fn flip_base64_byte(field: &mut serde_json::Value) {
    let mut bytes = STANDARD
        .decode(field.as_str().expect("a base64 string"))
        .expect("base64");
    bytes[0] ^= 0x01;
    *field = serde_json::Value::String(STANDARD.encode(bytes));
}

#[test]
fn ci_attest_verifies_its_own_keyless_bundle() {
    let json = signed_bundle_json();
    let verified = verify_local(json.as_bytes(), &local_root())
        .unwrap_or_else(|f| panic!("ci-attest rejected its own keyless bundle: {f:#?}"));
    assert!(verified.verified_log_entries >= 1, "{verified:?}");
    assert!(!verified.signing_times.is_empty(), "{verified:?}");
    assert_eq!(
        verified.identity,
        Some((IDENTITY.to_owned(), ISSUER.to_owned()))
    );
    let (payload_type, payload) = verified.dsse_payload.expect("a DSSE payload");
    assert_eq!(payload_type, "application/vnd.in-toto+json");
    assert_eq!(payload, statement_for(b"artifact"));
    // The same bundle also verifies by regex identity and against the artifact's bytes.
    let regex = IdentityMatcher::Regex(
        SanRegex::new(r"https://github\.com/acme/app/\.github/workflows/ci\.yml@refs/heads/.+")
            .expect("regex"),
    );
    verify(
        json.as_bytes(),
        &local_root(),
        &Signer::Keyless {
            issuer: ISSUER,
            identity: &regex,
        },
        Some(&Artifact::Bytes(b"artifact".to_vec())),
    )
    .unwrap_or_else(|f| panic!("regex identity and artifact bytes: {f:#?}"));
}

#[test]
fn ci_attest_verifies_a_bundle_sigstore_python_signed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = dir.path().join("art.txt");
    std::fs::write(&artifact, b"signed by python, verified by ci-attest\n").expect("write");
    let bundle = std::fs::read(python_attest(dir.path(), &artifact)).expect("python's bundle");
    let identity = expected_identity();
    let signer = Signer::Keyless {
        issuer: ISSUER,
        identity: &identity,
    };
    let verified = verify(
        &bundle,
        &local_root(),
        &signer,
        Some(&Artifact::Bytes(
            b"signed by python, verified by ci-attest\n".to_vec(),
        )),
    )
    .unwrap_or_else(|f| panic!("ci-attest rejected sigstore-python's bundle: {f:#?}"));
    assert!(verified.verified_log_entries >= 1, "{verified:?}");
    assert!(!verified.signing_times.is_empty(), "{verified:?}");
    // And it is bound to that artifact only.
    let codes = rejection_codes(verify(
        &bundle,
        &local_root(),
        &signer,
        Some(&Artifact::Bytes(b"another artifact".to_vec())),
    ));
    assert_eq!(codes, ["artifact-mismatch"]);
}

#[test]
fn ci_attest_rejects_another_identity_or_issuer() {
    let json = signed_bundle_json();
    let root = local_root();
    let other = IdentityMatcher::Exact(
        "https://github.com/evil/app/.github/workflows/ci.yml@refs/heads/main".to_owned(),
    );
    let codes = rejection_codes(verify(
        json.as_bytes(),
        &root,
        &Signer::Keyless {
            issuer: ISSUER,
            identity: &other,
        },
        Some(&sha256_of(b"artifact")),
    ));
    assert_eq!(codes, ["identity-mismatch"]);
    let identity = expected_identity();
    let codes = rejection_codes(verify(
        json.as_bytes(),
        &root,
        &Signer::Keyless {
            issuer: "https://accounts.google.com",
            identity: &identity,
        },
        Some(&sha256_of(b"artifact")),
    ));
    assert_eq!(codes, ["identity-mismatch"]);
    // A regex is anchored: a fragment of the identity does not match.
    let partial = IdentityMatcher::Regex(SanRegex::new("github\\.com/acme/app").expect("regex"));
    let codes = rejection_codes(verify(
        json.as_bytes(),
        &root,
        &Signer::Keyless {
            issuer: ISSUER,
            identity: &partial,
        },
        Some(&sha256_of(b"artifact")),
    ));
    assert_eq!(codes, ["identity-mismatch"]);
}

#[test]
fn ci_attest_rejects_another_instances_trusted_root() {
    let json = signed_bundle_json();
    // A second instance of the services: same shape, fresh Fulcio, Rekor and TSA keys.
    let other = start_services();
    let other_root = TrustedRoot::from_json(&std::fs::read(&other.trusted_root).expect("root"))
        .expect("the other instance's trusted root");
    drop(other);
    let codes = rejection_codes(verify_local(json.as_bytes(), &other_root));
    // Under the other root the entry's log ID names no trusted log (`tlog-log-untrusted`) and the
    // RFC 3161 timestamp is not from a trusted TSA (`timestamp-invalid`), so no signing time is
    // verified; the certificate, checked at the entry's claimed time, does not chain to the other
    // Fulcio CA (`certificate-invalid`). Each alone rejects; all three are reported.
    assert!(
        codes
            .iter()
            .any(|c| c == "certificate-invalid" || c == "tlog-log-untrusted"),
        "{codes:?}"
    );
    for code in [
        "tlog-log-untrusted",
        "timestamp-invalid",
        "certificate-invalid",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code} in {codes:?}");
    }
}

#[test]
fn ci_attest_rejects_an_altered_inclusion_proof() {
    let json = signed_bundle_json();
    let bytes = with_entry_edited(&json, |entry| {
        flip_base64_byte(&mut entry["inclusionProof"]["hashes"][0]);
    });
    let codes = rejection_codes(verify_local(&bytes, &local_root()));
    // Only this step fails: the rest of the entry, the certificate and the signature hold.
    assert_eq!(codes, ["tlog-inclusion-proof-invalid"]);
}

#[test]
fn ci_attest_rejects_an_altered_signed_entry_timestamp() {
    let json = signed_bundle_json();
    let bytes = with_entry_edited(&json, |entry| {
        flip_base64_byte(&mut entry["inclusionPromise"]["signedEntryTimestamp"]);
    });
    let codes = rejection_codes(verify_local(&bytes, &local_root()));
    // Only this step fails: the rest of the entry, the certificate and the signature hold.
    assert_eq!(codes, ["tlog-set-invalid"]);
}

#[test]
fn ci_attest_rejects_an_altered_checkpoint() {
    let json = signed_bundle_json();
    let bytes = with_entry_edited(&json, |entry| {
        let envelope = &mut entry["inclusionProof"]["checkpoint"]["envelope"];
        let text = envelope.as_str().expect("checkpoint text").to_owned();
        // origin, tree size, base64 root hash, then the signatures.
        let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
        let root_line = &mut lines[2];
        let first = root_line.chars().next().expect("a root hash");
        let replacement = if first == 'A' { "B" } else { "A" };
        root_line.replace_range(0..first.len_utf8(), replacement);
        *envelope = serde_json::Value::String(lines.join("\n"));
    });
    let codes = rejection_codes(verify_local(&bytes, &local_root()));
    // Only this step fails: the rest of the entry, the certificate and the signature hold.
    assert_eq!(codes, ["tlog-checkpoint-invalid"]);
}

#[test]
fn ci_attest_rejects_a_tampered_dsse_payload() {
    let json = signed_bundle_json();
    let mut bundle = Bundle::from_slice(json.as_bytes()).expect("bundle");
    let Content::DsseEnvelope(env) = &mut bundle.content else {
        panic!("a DSSE bundle");
    };
    let text = String::from_utf8(env.payload.clone()).expect("utf8");
    assert!(text.contains("\"checks\":[]"));
    env.payload = text.replace("\"checks\":[]", "\"checks\":[1]").into_bytes();
    let codes = rejection_codes(verify_local(bundle.to_json().as_bytes(), &local_root()));
    // The log entry records the original payload's hash (`tlog-entry-mismatch`) and the signature
    // is over the original PAE (`signature-invalid`): both are reported.
    assert_eq!(codes, ["tlog-entry-mismatch", "signature-invalid"]);
}
