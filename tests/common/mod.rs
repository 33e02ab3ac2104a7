//! Shared test support: real git repositories in temp dirs, driven through the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The ci-attest binary under test.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ci-attest"));
    cmd.env_remove("CI_ATTEST_PASSWORD");
    cmd
}

/// Runs git in `dir` with a fixed identity and clock.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", "2026-11-01T12:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-01T12:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The configuration used by most scenarios: tests, coverage and lint checks whose commands copy
/// committed report fixtures into place (the runner, parsers and signer are all real).
pub const CONFIG: &str = r#"
[[check]]
name = "tests"
kind = "tests"
run = "mkdir -p out && cp fixtures/junit.xml out/junit.xml"
reports = [{ format = "junit", path = "out/junit.xml" }]

[[check]]
name = "coverage"
kind = "coverage"
run = "mkdir -p out && cp fixtures/lcov.info out/lcov.info"
reports = [{ format = "lcov", path = "out/lcov.info" }]

[[check]]
name = "lint"
kind = "lint"
run = "mkdir -p out && cp fixtures/lint.sarif out/lint.sarif"
reports = [{ format = "sarif", path = "out/lint.sarif" }]
"#;

/// The signer's own settings (untracked): which key signs is never the commit's choice.
pub const LOCAL_SETTINGS: &str = "[signing]\nkey = \"keys/ci-attest.key\"\n";

/// The policy used by most scenarios.
pub const POLICY: &str = r#"
[[signer]]
name = "alice"
key = "../keys/ci-attest.pub"

[require]
checks = ["tests", "coverage", "lint"]
max_age = "30d"
pristine = true

[thresholds]
"tests.failed" = { max = 0 }
"coverage.lines" = { min = 85.0 }
"lint.errors" = { max = 0 }
"#;

/// A git repository in a temp dir.
pub struct Project {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

/// A file of `tests/fixtures/project/`.
pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/project")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A passing project, with a key, attested once by `ci-attest run`.
pub fn attested() -> Project {
    let p = Project::passing();
    p.keygen();
    let out = p.run();
    assert!(out.status.success(), "run: {}", text(&out));
    p
}

impl Project {
    /// A committed project with the standard config, policy and passing report fixtures.
    pub fn passing() -> Project {
        Project::with(&[
            (".ci-attest.toml", CONFIG.to_string()),
            ("policies/default.toml", POLICY.to_string()),
            ("fixtures/junit.xml", fixture("junit-pass.xml")),
            ("fixtures/lcov.info", fixture("lcov-90.info")),
            ("fixtures/lint.sarif", fixture("lint-clean.sarif")),
        ])
    }

    /// A committed project with these files (plus a .gitignore for keys/ and out/).
    pub fn with(files: &[(&str, String)]) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("repo");
        std::fs::create_dir_all(&root).expect("mkdir");
        git(&root, &["init", "--quiet"]);
        let p = Project { _dir: dir, root };
        p.write(".gitignore", "keys/\nout/\n.ci-attest.local.toml\n");
        for (path, text) in files {
            p.write(path, text);
        }
        p.commit("first");
        p.write(".ci-attest.local.toml", LOCAL_SETTINGS);
        p
    }

    /// Writes a file (creating folders).
    pub fn write(&self, path: &str, text: &str) {
        let full = self.root.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(full, text).expect("write");
    }

    /// Commits everything; returns the new commit id.
    pub fn commit(&self, message: &str) -> String {
        git(&self.root, &["add", "-A"]);
        git(
            &self.root,
            &["commit", "--quiet", "--allow-empty", "-m", message],
        );
        self.head()
    }

    /// The HEAD commit id.
    pub fn head(&self) -> String {
        git(&self.root, &["rev-parse", "HEAD"])
    }

    /// A ci-attest command in this repository.
    pub fn cmd(&self) -> Command {
        let mut c = bin();
        c.current_dir(&self.root);
        c
    }

    /// Generates an unencrypted key pair in keys/ (quick; the encrypted path has its own tests).
    pub fn keygen(&self) {
        let out = self
            .cmd()
            .args(["keygen", "--out", "keys", "--no-password"])
            .output()
            .expect("runs");
        assert!(out.status.success(), "keygen: {}", text(&out));
    }

    /// Generates a key pair under another name (a second signer).
    pub fn keygen_named(&self, name: &str) {
        let out = self
            .cmd()
            .args(["keygen", "--out", "keys", "--no-password", "--name", name])
            .output()
            .expect("runs");
        assert!(out.status.success(), "keygen: {}", text(&out));
    }

    /// `ci-attest run` with the default key.
    pub fn run(&self) -> Output {
        self.cmd().arg("run").output().expect("runs")
    }

    /// `ci-attest verify --format json` plus extra args.
    pub fn verify_json(&self, extra: &[&str]) -> (Output, serde_json::Value) {
        let out = self
            .cmd()
            .args(["verify", "--format", "json"])
            .args(extra)
            .output()
            .expect("runs");
        let json = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("verify printed no JSON ({e}): {}", text(&out)));
        (out, json)
    }

    /// The newest bundle's signed `finishedOn`, moved by `offset_secs`, as RFC 3339: a `--at` that
    /// is relative to the bundle's own time, so no test depends on today's date.
    pub fn bundle_time(&self, offset_secs: i64) -> String {
        bundle_time(self.bundles().last().expect("a bundle"), offset_secs)
    }

    /// The local-run bundles in the store, in order (the test-result bundles stored beside them
    /// are left out; see [`Project::all_bundles`]).
    pub fn bundles(&self) -> Vec<PathBuf> {
        self.all_bundles()
            .into_iter()
            .filter(|b| !is_test_result(b))
            .collect()
    }

    /// The test-result bundles in the store, in order.
    pub fn test_result_bundles(&self) -> Vec<PathBuf> {
        self.all_bundles()
            .into_iter()
            .filter(|b| is_test_result(b))
            .collect()
    }

    /// Every bundle file in the store, in order.
    pub fn all_bundles(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.root.join(".ci-attest"))
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.to_string_lossy().ends_with(".sigstore.json"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// stdout + stderr of a command, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The finding codes of a JSON report's verdict findings.
pub fn codes(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts that the report rejects with a finding of this code, which names what it expected and found.
pub fn assert_finding(report: &serde_json::Value, code: &str) {
    assert_eq!(report["verdict"], "rejected", "{report:#}");
    let finding = report["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["code"] == code))
        .unwrap_or_else(|| panic!("no {code} finding in {report:#}"));
    assert_eq!(finding["severity"], "error", "{finding:#}");
    assert!(
        finding["expected"].is_string() && finding["found"].is_string(),
        "{code} must say what was expected and what was found: {finding:#}"
    );
    assert!(
        finding["hint"].is_string(),
        "{code} must give a hint: {finding:#}"
    );
}

/// Asserts that the report holds a finding of this code anywhere (its verdict findings or any
/// bundle's line, of any severity), which names what it expected and found.
pub fn assert_noted(report: &serde_json::Value, code: &str) {
    let top = report["findings"].as_array().into_iter().flatten();
    let lines = report["bundles"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|b| b["findings"].as_array().into_iter().flatten());
    let finding = top
        .chain(lines)
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} finding in {report:#}"));
    assert!(
        finding["expected"].is_string() && finding["found"].is_string(),
        "{code} must say what was expected and what was found: {finding:#}"
    );
}

/// True when a bundle's statement is an in-toto test-result statement.
pub fn is_test_result(bundle: &Path) -> bool {
    std::fs::read(bundle)
        .ok()
        .is_some_and(|b| ci_attest::verify::is_test_result_bundle(&b))
}

/// The in-toto statement a bundle file's DSSE payload holds (not verified).
pub fn statement_of(bundle: &Path) -> serde_json::Value {
    use base64::Engine;
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle).expect("read bundle")).expect("JSON");
    let payload = base64::engine::general_purpose::STANDARD
        .decode(json["dsseEnvelope"]["payload"].as_str().expect("payload"))
        .expect("base64");
    serde_json::from_slice(&payload).expect("statement")
}

/// A bundle's signed `finishedOn`, moved by `offset_secs`, as RFC 3339.
pub fn bundle_time(bundle: &Path, offset_secs: i64) -> String {
    let statement = statement_of(bundle);
    let finished = statement["predicate"]["finishedOn"]
        .as_str()
        .expect("finishedOn");
    let t = humantime::parse_rfc3339(finished).expect("RFC 3339");
    let d = std::time::Duration::from_secs(offset_secs.unsigned_abs());
    let t = if offset_secs >= 0 { t + d } else { t - d };
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Rewrites a bundle's JSON with `edit` and writes it next to the project as `name`.
pub fn edit_bundle(src: &Path, dst: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src).expect("read bundle")).expect("bundle is JSON");
    edit(&mut json);
    std::fs::write(dst, serde_json::to_vec_pretty(&json).expect("serialise")).expect("write");
}

/// Decodes, edits and re-encodes a bundle's DSSE payload (leaving the signature as it was).
pub fn edit_payload(bundle: &mut serde_json::Value, edit: impl FnOnce(&mut serde_json::Value)) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = bundle["dsseEnvelope"]["payload"]
        .as_str()
        .expect("payload is a string");
    let mut statement: serde_json::Value =
        serde_json::from_slice(&b64.decode(payload).expect("base64")).expect("statement JSON");
    edit(&mut statement);
    bundle["dsseEnvelope"]["payload"] =
        serde_json::Value::String(b64.encode(serde_json::to_vec(&statement).expect("serialise")));
}

/// Re-signs the project's first bundle with the trusted key after editing its statement (and,
/// optionally, with another payload type), so that only the check under test can catch it.
pub fn resign(
    p: &Project,
    edit: impl FnOnce(&mut serde_json::Value),
    payload_type: Option<&str>,
) -> PathBuf {
    use ci_attest::bundle::{Bundle, Content};
    use ci_attest::dsse::{Envelope, Signature, pae};
    use ci_attest::sign::key::SigningKey;
    let original = Bundle::from_slice(&std::fs::read(&p.bundles()[0]).expect("read"))
        .expect("our bundle parses");
    let Content::DsseEnvelope(env) = original.content else {
        panic!("our bundles hold an envelope")
    };
    let mut statement: serde_json::Value = serde_json::from_slice(&env.payload).expect("json");
    edit(&mut statement);
    let payload = serde_json::to_vec(&statement).expect("serialise");
    let pem = std::fs::read(p.root.join("keys/ci-attest.key")).expect("key");
    let key = SigningKey::from_pkcs8_pem(&pem, None).expect("unencrypted test key");
    let payload_type = payload_type.unwrap_or(ci_attest::dsse::IN_TOTO_PAYLOAD_TYPE);
    let key_id = key.public_key().key_id();
    let envelope = Envelope {
        payload: payload.clone(),
        payload_type: payload_type.to_string(),
        signatures: vec![Signature {
            sig: key.sign(&pae(payload_type, &payload)),
            keyid: key_id.to_string(),
        }],
    };
    let bundle = Bundle::for_key_signed_envelope(envelope, &key_id);
    let out = p.root.join(format!("resigned-{}.json", p.bundles().len()));
    std::fs::write(&out, bundle.to_json()).expect("write");
    out
}
pub mod sigstore_local;
