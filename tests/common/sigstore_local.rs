//! The local sigstore services (`tests/sigstore-local/server.mjs`: Fulcio + CT log, Rekor v1 with a
//! real RFC 6962 tree, TSA), started once per test binary on 127.0.0.1, and test identity tokens.

use ci_attest::sign::oidc::unsigned_jwt;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// How to install what the local services need.
pub const INSTALL_HINT: &str = "run `bash tests/sigstore-local/install.sh` first";

/// The running services and their trust files.
pub struct Local {
    _child: Mutex<Child>,
    _dir: tempfile::TempDir,
    /// Fulcio base URL.
    pub fulcio: String,
    /// Rekor base URL.
    pub rekor: String,
    /// TSA URL.
    pub tsa: String,
    /// A trusted_root.json for the services' fresh keys.
    pub trusted_root: PathBuf,
}

/// Starts the services (once) and returns them.
pub fn local() -> &'static Local {
    static LOCAL: OnceLock<Local> = OnceLock::new();
    LOCAL.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sigstore-local");
        assert!(
            dir.join("node_modules/@sigstore/mock/package.json")
                .is_file(),
            "@sigstore/mock is not installed in {}; {INSTALL_HINT}",
            dir.display()
        );
        let out = tempfile::tempdir().expect("tempdir");
        // The server exits when its stdin closes, i.e. when this test process ends.
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .arg("--dir")
            .arg(out.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node: {e}; {INSTALL_HINT}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the server's address");
        let info: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("server.mjs did not start ({e}): {line:?}; {INSTALL_HINT}"));
        let s = |k: &str| info[k].as_str().expect(k).to_owned();
        Local {
            fulcio: s("fulcio"),
            rekor: s("rekor"),
            tsa: s("tsa"),
            trusted_root: s("trusted_root").into(),
            _child: Mutex::new(child),
            _dir: out,
        }
    })
}

/// An (unsigned) OIDC token for the local Fulcio, which does not check token signatures; ci-attest's
/// own token handling is tested against local token services in `tests/keyless_oidc.rs`.
pub fn token(issuer: &str, subject: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    unsigned_jwt(&serde_json::json!({
        "iss": issuer, "sub": subject, "aud": "sigstore",
        "iat": now, "nbf": now, "exp": now + 600,
    }))
}
