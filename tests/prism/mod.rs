//! prism's mock server for GitHub's OpenAPI description, with request validation (`--errors`):
//! a request the description forbids gets 422 instead of an example answer. Shared by the
//! contract tests (`github_contract.rs`, `advisory.rs`).
//!
//! prism takes about 40 s to load the 70 MB description. The tools are pinned in
//! `tests/github/package.json` and `package-lock.json`; install them with
//! `bash tests/github/install.sh`. Without them a test that starts prism fails (it does not skip).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const INSTALL: &str = "bash tests/github/install.sh";

/// prism, killed when dropped.
pub struct Prism {
    child: Child,
    /// The port on 127.0.0.1.
    pub port: u16,
    /// prism's log (every request and its validation).
    pub log: PathBuf,
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/github")
}

/// Starts prism on a free port and waits until it listens; its log goes to `log_dir`.
pub fn start_prism(log_dir: &Path) -> Prism {
    let dir = tools_dir();
    let cli = dir.join("node_modules/@stoplight/prism-cli/dist/index.js");
    let spec = dir.join("node_modules/@octokit/openapi/generated/api.github.com.deref.json");
    assert!(
        cli.is_file() && spec.is_file(),
        "the GitHub contract test needs prism and @octokit/openapi, pinned in tests/github/: \
         run `{INSTALL}` (needs node and npm). Missing: {}",
        if cli.is_file() {
            spec.display()
        } else {
            cli.display()
        }
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let log = log_dir.join("prism.log");
    let out = std::fs::File::create(&log).expect("prism log");
    let err = out.try_clone().expect("prism log");
    let child = Command::new("node")
        .arg(&cli)
        .args([
            "mock",
            "--errors",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .arg(&spec)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node for prism ({e}): run `{INSTALL}`"));
    let mut prism = Prism { child, port, log };
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(&prism.log).unwrap_or_default();
        if log.contains("Prism is listening") {
            break;
        }
        if let Ok(Some(status)) = prism.child.try_wait() {
            panic!("prism exited ({status}) before listening:\n{log}\nre-run `{INSTALL}`");
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "prism did not start within 240 s:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!(
        "prism listening on 127.0.0.1:{} after {:.1} s",
        prism.port,
        started.elapsed().as_secs_f64()
    );
    prism
}
