//! Interoperability: bundles signed by ci-attest verify with verifiers we did not write.
//!
//! - `tests/interop/verify.mjs`: sigstore-js (`@sigstore/verify`, exact versions in
//!   `tests/interop/package-lock.json`) with an empty trusted root and the public key as the only
//!   trusted key, no log or timestamp required.
//! - `tests/interop/verify_dsse.py`: Python `cryptography`, recomputing the DSSE PAE from the spec.
//!
//! Both must accept our bundle and reject it once the payload or the signature is altered. The
//! verifiers must be installed (`tests/interop/install.sh`); if they are not, these tests fail and
//! say so: a skipped interop test proves nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ci_attest::sign::key::SigningKey;
use ci_attest::sign::sign_statement;

const INSTALL_HINT: &str = "run `tests/interop/install.sh` (or `cd tests/interop && npm ci && pip install -r requirements.txt`)";

/// An in-toto Statement v1 shaped like ci-attest's (commit subject, local-run predicate).
const STATEMENT: &str = concat!(
    r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"#,
    r#""gitCommit":"0123456789abcdef0123456789abcdef01234567","#,
    r#""sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}],"#,
    r#""predicateType":"https://ci-attest.dev/local-run/v1","predicate":{}}"#
);

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// What an external verifier said.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Verified,
    Rejected(String),
}

/// Runs a verifier and maps its documented exit codes (0 verified, 1 rejected); anything else is
/// a broken test environment and fails the test with the verifier's output.
fn run(mut cmd: Command) -> Verdict {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}; {INSTALL_HINT}"));
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    match out.status.code() {
        Some(0) if stdout == "VERIFIED" => Verdict::Verified,
        Some(1) if stdout.starts_with("REJECTED: ") => Verdict::Rejected(stdout),
        _ => panic!(
            "verifier {shown} did not run properly ({}); {INSTALL_HINT}\nstdout: {stdout}\nstderr: {stderr}",
            out.status
        ),
    }
}

fn node_verifier(bundle: &Path, key: &Path) -> Verdict {
    let modules = interop_dir().join("node_modules/@sigstore/verify/package.json");
    assert!(
        modules.is_file(),
        "the sigstore-js verifier is not installed ({} is missing); {INSTALL_HINT}",
        modules.display()
    );
    let mut cmd = Command::new("node");
    cmd.arg(interop_dir().join("verify.mjs"))
        .arg(bundle)
        .arg(key);
    run(cmd)
}

/// The venv's python if `install.sh` made one, else `python3` from PATH.
fn python() -> PathBuf {
    let venv = interop_dir().join(".venv/bin/python");
    let python = if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    };
    let ok = Command::new(&python)
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "python package `cryptography` is not installed for {}; {INSTALL_HINT}",
        python.display()
    );
    python
}

fn python_verifier(bundle: &Path, key: &Path) -> Verdict {
    let mut cmd = Command::new(python());
    cmd.arg(interop_dir().join("verify_dsse.py"))
        .arg(bundle)
        .arg(key);
    run(cmd)
}

/// A signed bundle and its public key, written to a temporary directory.
struct Signed {
    dir: tempfile::TempDir,
    bundle_json: serde_json::Value,
    key_path: PathBuf,
}

impl Signed {
    fn new() -> Self {
        let key = SigningKey::generate().expect("the system RNG works");
        let bundle = sign_statement(STATEMENT.as_bytes(), &key);
        let dir = tempfile::tempdir().expect("tempdir");
        let key_path = dir.path().join("key.pub");
        std::fs::write(&key_path, key.public_key().to_pem()).expect("write key");
        let bundle_json = serde_json::from_str(&bundle.to_json()).expect("our bundle is JSON");
        Self {
            dir,
            bundle_json,
            key_path,
        }
    }

    /// Writes `bundle` (possibly altered) under `name` and returns its path.
    fn write(&self, name: &str, bundle: &serde_json::Value) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(bundle).expect("JSON")).expect("write");
        path
    }

    fn untouched(&self) -> PathBuf {
        self.write("bundle.sigstore.json", &self.bundle_json)
    }

    /// The bundle with one byte of the payload changed (a digest hex digit, so it stays valid JSON).
    fn with_tampered_payload(&self) -> PathBuf {
        let mut b = self.bundle_json.clone();
        let mut payload = decode(&b["dsseEnvelope"]["payload"]);
        let at = find(&payload, b"0123456789abcdef0123456789abcdef01234567");
        payload[at] = b'1';
        b["dsseEnvelope"]["payload"] = STANDARD.encode(&payload).into();
        self.write("payload-tampered.sigstore.json", &b)
    }

    /// The bundle with one byte of the signature changed (the last byte of `s`: still valid DER).
    fn with_tampered_signature(&self) -> PathBuf {
        let mut b = self.bundle_json.clone();
        let mut sig = decode(&b["dsseEnvelope"]["signatures"][0]["sig"]);
        let last = sig.len() - 1;
        sig[last] ^= 0x01;
        b["dsseEnvelope"]["signatures"][0]["sig"] = STANDARD.encode(&sig).into();
        self.write("signature-tampered.sigstore.json", &b)
    }
}

/// The verifier rejected the bundle, for the expected reason (not, say, a parse error).
fn assert_rejected_because(verdict: &Verdict, reason: &str) {
    match verdict {
        Verdict::Rejected(message) => assert!(
            message.contains(reason),
            "rejected, but expected the reason to mention {reason:?}: {message}"
        ),
        Verdict::Verified => panic!("expected a rejection ({reason}), but the bundle verified"),
    }
}

fn decode(v: &serde_json::Value) -> Vec<u8> {
    STANDARD
        .decode(v.as_str().expect("a base64 string"))
        .expect("valid base64")
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present")
}

#[test]
fn sigstore_js_verifies_our_bundle() {
    let s = Signed::new();
    assert_eq!(
        node_verifier(&s.untouched(), &s.key_path),
        Verdict::Verified
    );
}

#[test]
fn sigstore_js_rejects_altered_payload() {
    let s = Signed::new();
    let verdict = node_verifier(&s.with_tampered_payload(), &s.key_path);
    assert_rejected_because(&verdict, "signature verification failed");
}

#[test]
fn sigstore_js_rejects_altered_signature() {
    let s = Signed::new();
    let verdict = node_verifier(&s.with_tampered_signature(), &s.key_path);
    assert_rejected_because(&verdict, "signature verification failed");
}

#[test]
fn sigstore_js_rejects_another_key() {
    let s = Signed::new();
    let other = Signed::new();
    let verdict = node_verifier(&s.untouched(), &other.key_path);
    assert_rejected_because(&verdict, "unknown key hint");
}

#[test]
fn python_cryptography_verifies_our_bundle() {
    let s = Signed::new();
    assert_eq!(
        python_verifier(&s.untouched(), &s.key_path),
        Verdict::Verified
    );
}

#[test]
fn python_cryptography_rejects_altered_payload() {
    let s = Signed::new();
    let verdict = python_verifier(&s.with_tampered_payload(), &s.key_path);
    assert_rejected_because(&verdict, "signature does not verify");
}

#[test]
fn python_cryptography_rejects_altered_signature() {
    let s = Signed::new();
    let verdict = python_verifier(&s.with_tampered_signature(), &s.key_path);
    assert_rejected_because(&verdict, "signature does not verify");
}

#[test]
fn python_cryptography_reads_our_encrypted_private_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = ci_attest::sign::key::write_key_pair(dir.path(), "interop", Some(b"s3cret"))
        .expect("write key pair");
    let script = "import sys\n\
        from cryptography.hazmat.primitives import serialization as s\n\
        k = s.load_pem_private_key(open(sys.argv[1], 'rb').read(), b's3cret')\n\
        p = s.load_pem_public_key(open(sys.argv[2], 'rb').read())\n\
        f = (s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)\n\
        assert k.public_key().public_bytes(*f) == p.public_bytes(*f), 'public keys differ'\n\
        print(k.curve.name)\n";
    let out = Command::new(python())
        .args(["-c", script])
        .arg(&paths.private_key)
        .arg(&paths.public_key)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python could not read our encrypted key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "secp256r1");
}
