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
    /// A signing_config.json naming the services.
    pub signing_config: PathBuf,
    /// A sigstore-python ClientTrustConfig wrapping both.
    pub trust_config: PathBuf,
}

/// Starts one instance of the services (fresh keys, its own trusted root). The server exits when
/// its stdin closes, i.e. when the returned `Local` is dropped or the test process ends.
pub fn start_services() -> Local {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sigstore-local");
    assert!(
        dir.join("node_modules/@sigstore/mock/package.json")
            .is_file(),
        "@sigstore/mock is not installed in {}; {INSTALL_HINT}",
        dir.display()
    );
    let out = tempfile::tempdir().expect("tempdir");
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
        signing_config: s("signing_config").into(),
        trust_config: s("trust_config").into(),
        _child: Mutex::new(child),
        _dir: out,
    }
}

/// The services shared by one test binary, started once.
pub fn local() -> &'static Local {
    static LOCAL: OnceLock<Local> = OnceLock::new();
    LOCAL.get_or_init(start_services)
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
