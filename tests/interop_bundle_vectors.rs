//! Real bundles written by other sigstore clients (see `tests/vectors/roundtrip/README.md`) parse
//! into the bundle model, keep their meaning when written back, and verify where we can check them.

use std::path::PathBuf;

use ci_attest::bundle::{Bundle, BundleError, Content, HashAlgorithm, KeyMaterial, MediaType};
use ci_attest::sign::key::PublicKey;
use sha2::{Digest as _, Sha256};

fn vector(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/roundtrip")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn parse(name: &str) -> Bundle {
    Bundle::from_slice(&vector(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Writing a parsed bundle and parsing it again gives the same bundle, and the JSON we write means
/// the same as the original (only fields at their protobuf default may be dropped).
fn assert_round_trips(name: &str) {
    let bundle = parse(name);
    let written = bundle.to_json();
    let again = Bundle::from_slice(written.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(again, bundle, "{name}");
    let original: serde_json::Value =
        serde_json::from_slice(&vector(name)).expect("the vector is JSON");
    let ours: serde_json::Value = serde_json::from_str(&written).expect("we write JSON");
    assert_eq!(
        ours, original,
        "{name}: re-written JSON differs from the original"
    );
}

#[test]
fn v01_message_signature_bundle_round_trips() {
    assert_round_trips("v0.1-message-signature.sigstore.json");
    let b = parse("v0.1-message-signature.sigstore.json");
    assert_eq!(b.media_type, MediaType::V01);
    assert!(
        matches!(b.verification_material.key_material, KeyMaterial::X509CertificateChain(ref c) if c.len() == 1)
    );
    let entry = &b.verification_material.tlog_entries[0];
    assert_eq!(entry.log_index, 27_246_492);
    assert_eq!(entry.integrated_time, 1_689_177_396);
    assert_eq!(entry.kind_version.kind, "hashedrekord");
    assert!(entry.inclusion_promise.is_some());
}

#[test]
fn v02_message_signature_bundle_round_trips() {
    assert_round_trips("v0.2-message-signature.sigstore.json");
    let b = parse("v0.2-message-signature.sigstore.json");
    assert_eq!(b.media_type, MediaType::V02);
    let proof = b.verification_material.tlog_entries[0]
        .inclusion_proof
        .as_ref()
        .expect("v0.2 entries carry an inclusion proof");
    assert!(proof.log_index < proof.tree_size);
    assert_eq!(proof.root_hash.len(), 32);
    assert!(proof.hashes.iter().all(|h| h.len() == 32));
    let checkpoint = proof.checkpoint.as_ref().expect("checkpoint");
    assert!(checkpoint.envelope.starts_with("rekor.sigstore.dev - "));
}

#[test]
fn v03_dsse_bundle_round_trips() {
    assert_round_trips("v0.3-dsse.sigstore.json");
    let b = parse("v0.3-dsse.sigstore.json");
    assert_eq!(b.media_type, MediaType::V03);
    assert!(
        matches!(b.verification_material.key_material, KeyMaterial::Certificate(ref der) if der.first() == Some(&0x30))
    );
    let envelope = b.single_signature_envelope().expect("one signature");
    assert_eq!(envelope.payload_type, "application/vnd.in-toto+json");
    let statement: serde_json::Value =
        serde_json::from_slice(&envelope.payload).expect("the payload is a JSON statement");
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        b.verification_material.tlog_entries[0].kind_version.kind,
        "dsse"
    );
}

#[test]
fn v03_public_key_bundle_round_trips_and_its_signature_verifies() {
    let name = "v0.3-public-key-message-signature.sigstore.json";
    assert_round_trips(name);
    let b = parse(name);
    assert!(
        matches!(b.verification_material.key_material, KeyMaterial::PublicKey { ref hint } if !hint.is_empty())
    );
    let Content::MessageSignature(ms) = &b.content else {
        panic!("expected a message signature");
    };
    let artifact = vector("a.txt");
    assert_eq!(ms.message_digest.algorithm, HashAlgorithm::Sha2_256);
    assert_eq!(ms.message_digest.digest, Sha256::digest(&artifact).to_vec());
    // A signature made by another client (cosign / sigstore-go) verifies with our P-256 code.
    let key = PublicKey::from_pem(&vector("v0.3-public-key-message-signature.key.pub"))
        .expect("P-256 public key");
    key.verify(&artifact, &ms.signature)
        .expect("the conformance signature verifies");
    let mut tampered = artifact;
    tampered[0] ^= 1;
    assert!(key.verify(&tampered, &ms.signature).is_err());
}

#[test]
fn rejects_real_envelope_with_two_signatures() {
    let b = parse("v0.1-dsse-two-signatures.sigstore.json");
    let err = b.single_signature_envelope().expect_err("two signatures");
    assert!(
        matches!(err, BundleError::DsseSignatureCount { found: 2 }),
        "{err:?}"
    );
}
