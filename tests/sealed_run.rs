//! The sealed run, through the real binary: a run attests only what the commit says, and the code
//! under test cannot see the working tree, the signer's secrets or ci-attest itself.
//!
//! These tests need bubblewrap (`tests/sandbox/install.sh` installs it); they fail, never skip,
//! where it is missing.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A folder outside `/tmp` (the sandbox gives checks a private `/tmp`), as a user's home or a
/// virtualenv is: cargo's target tmp folder, or `/var/tmp` when the checkout itself is under `/tmp`.
fn outside_tmp() -> tempfile::TempDir {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let base = if target.starts_with("/tmp") {
        Path::new("/var/tmp")
    } else {
        target
    };
    std::fs::create_dir_all(base).expect("outside-tmp folder");
    tempfile::tempdir_in(base).expect("tempdir")
}

/// The statement of the newest local-run bundle in the store.
fn statement(p: &Project) -> serde_json::Value {
    statement_of(p.bundles().last().expect("a bundle"))
}

/// Every log the run wrote, concatenated.
fn logs(p: &Project) -> String {
    let mut all = String::new();
    let logs = p.root.join(".ci-attest/logs");
    for dir in std::fs::read_dir(&logs).expect("logs").flatten() {
        for file in std::fs::read_dir(dir.path()).expect("log dir").flatten() {
            all.push_str(&String::from_utf8_lossy(
                &std::fs::read(file.path()).expect("log"),
            ));
        }
    }
    all
}

fn custom_check(run: &str) -> String {
    format!("[[check]]\nname = \"probe\"\nkind = \"custom\"\nrun = {run:?}\n")
}

fn assert_bwrap() {
    let ok = Command::new("bwrap")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "bubblewrap is required for the sealed-run tests: run tests/sandbox/install.sh"
    );
}

#[test]
fn the_commits_config_decides_not_the_working_trees() {
    assert_bwrap();
    let p = Project::passing();
    p.write("fixtures/junit.xml", &fixture("junit-fail.xml"));
    p.write("fixtures/pass.xml", &fixture("junit-pass.xml"));
    p.commit("a failing test");
    // An uncommitted edit that would make the tests "pass".
    let committed = std::fs::read_to_string(p.root.join(".ci-attest.toml")).expect("config");
    p.write(
        ".ci-attest.toml",
        &committed.replace("cp fixtures/junit.xml", "cp fixtures/pass.xml"),
    );
    p.keygen();
    let out = p.run();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the commit's failing test: {}",
        text(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("differs from the commit's") && stderr.contains("check \"tests\": run"),
        "the warning names the difference: {stderr}"
    );
    let s = statement(&p);
    assert_eq!(s["predicate"]["result"], "FAILED");
    assert_eq!(s["predicate"]["config"]["source"], "commit");
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(committed.as_bytes()))
    };
    assert_eq!(s["predicate"]["config"]["sha256"], digest.as_str());
}

#[test]
fn an_override_config_is_recorded_with_its_text() {
    assert_bwrap();
    let p = Project::passing();
    p.keygen();
    let other = p.root.join("keys/other.toml");
    std::fs::write(&other, custom_check("true")).expect("write");
    let out = p
        .cmd()
        .args(["run", "--config", other.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let s = statement(&p);
    assert_eq!(s["predicate"]["config"]["source"], "override");
    assert_eq!(
        s["predicate"]["config"]["content"],
        custom_check("true").as_str()
    );
}

/// A project whose check runs a script through an absolute path recorded outside the repository,
/// as an editable install, `npm link` or a path dependency records it.
fn linked_project(ext: &Path, committed_exit: u8, working_exit: u8) -> Project {
    let link = ext.join("installed-path");
    let p = Project::with(&[
        (
            ".ci-attest.toml",
            custom_check(&format!("sh \"$(cat {})/check.sh\"", link.display())),
        ),
        ("check.sh", format!("exit {committed_exit}\n")),
    ]);
    std::fs::write(&link, p.root.to_str().expect("utf-8")).expect("write link");
    p.write("check.sh", &format!("exit {working_exit}\n"));
    p.keygen();
    p
}

#[test]
fn an_absolute_path_into_the_repository_shows_committed_files() {
    assert_bwrap();
    let ext = outside_tmp();
    // A broken commit with an uncommitted fix is not attested as passing...
    let broken = linked_project(ext.path(), 1, 0);
    let out = broken.run();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(statement(&broken)["predicate"]["result"], "FAILED");
    // ...and a good commit beside a broken working tree is not attested as failing.
    let ext2 = outside_tmp();
    let good = linked_project(ext2.path(), 0, 1);
    let out = good.run();
    assert!(out.status.success(), "{}", text(&out));
    let s = statement(&good);
    assert_eq!(s["predicate"]["result"], "PASSED");
    assert_eq!(s["predicate"]["isolation"]["mode"], "sandbox");
    assert!(
        s["predicate"]["isolation"]["mechanism"]
            .as_str()
            .is_some_and(|m| m.starts_with("bubblewrap")),
        "{s:#}"
    );
}

#[test]
fn a_hostile_check_finds_no_password_token_key_or_git_folder() {
    assert_bwrap();
    let ext = outside_tmp();
    let home = ext.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).expect("home");
    std::fs::write(home.join(".ssh/id_ed25519"), "SSH-PRIVATE-KEY-BYTES").expect("ssh key");
    std::fs::write(home.join(".netrc"), "machine x password NETRC-SECRET").expect("netrc");
    let keys = ext.path().join("signer-keys");
    let agent = ext.path().join("agent-dir");
    std::fs::create_dir_all(&agent).expect("agent dir");
    std::fs::write(agent.join("agent.sock"), "AGENT-SOCKET-STAND-IN").expect("agent");
    // Everything a thief would try: the environment, every process's environ, the key in the
    // repository and outside it, the repository's git folder, the store and the home folder.
    let script = format!(
        "env; for f in /proc/*/environ; do tr '\\0' '\\n' < $f; done; \
         cat keys/* {keys}/* 2>&1; cat {root}/keys/* 2>&1; \
         echo HEAD=$(git rev-parse HEAD); echo COMMON=$(git rev-parse --git-common-dir); \
         cat $(git rev-parse --git-common-dir)/config; ls $(git rev-parse --git-common-dir)/refs/heads 2>&1; \
         git for-each-ref; cat {root}/.ci-attest/*.pub 2>&1; \
         cat $HOME/.ssh/* $HOME/.netrc {agent}/* 2>&1; ls /tmp; true",
        keys = keys.display(),
        agent = agent.display(),
        root = "$PWD",
    );
    let p = Project::with(&[(".ci-attest.toml", custom_check(&script))]);
    p.write("keys/.keep", "");
    // The encrypted key lives outside the repository; a second, plain key sits in keys/.
    let out = p
        .cmd()
        .args(["keygen", "--out", keys.to_str().expect("utf-8")])
        .env("CI_ATTEST_PASSWORD", "PW-0b7e5cbd-secret")
        .output()
        .expect("keygen");
    assert!(out.status.success(), "{}", text(&out));
    p.keygen();
    let key_file = keys.join("ci-attest.key");
    let out = p
        .cmd()
        .args(["run", "--key", key_file.to_str().expect("utf-8")])
        .env("CI_ATTEST_PASSWORD", "PW-0b7e5cbd-secret")
        .env("SIGSTORE_ID_TOKEN", "OIDC-TOKEN-eyJhbGciOi")
        .env("GITHUB_TOKEN", "ghp_FORGE-TOKEN-123456")
        .env("HOME", &home)
        .env("SSH_AUTH_SOCK", agent.join("agent.sock"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let log = logs(&p);
    assert!(
        log.contains(&format!("HEAD={}", p.head())),
        "git works inside: {log}"
    );
    for secret in [
        "PW-0b7e5cbd-secret",
        "OIDC-TOKEN-eyJhbGciOi",
        "ghp_FORGE-TOKEN-123456",
        "SSH-PRIVATE-KEY-BYTES",
        "NETRC-SECRET",
        "AGENT-SOCKET-STAND-IN",
        "PRIVATE KEY",
        "refs/heads/main",
        "[remote",
    ] {
        assert!(!log.contains(secret), "the check saw {secret:?}:\n{log}");
    }
    for key in [key_file, p.root.join("keys/ci-attest.key")] {
        let pem = std::fs::read_to_string(&key).expect("key");
        let body = pem.lines().nth(1).expect("pem body");
        assert!(
            !log.contains(body),
            "the check read {}:\n{log}",
            key.display()
        );
    }
}

#[test]
fn replace_refs_do_not_change_what_is_tested() {
    assert_bwrap();
    let p = Project::with(&[
        (".ci-attest.toml", custom_check("sh check.sh")),
        ("check.sh", "exit 0\n".into()),
    ]);
    let good = p.head();
    let good_tree = git(&p.root, &["rev-parse", "HEAD^{tree}"]);
    p.write("check.sh", "exit 1\n");
    let bad = p.commit("broken");
    git(&p.root, &["replace", &good, &bad]);
    p.keygen();
    let out = p
        .cmd()
        .args(["run", "--commit", &good])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "the good commit's own tree passes: {}",
        text(&out)
    );
    let s = statement(&p);
    assert_eq!(s["predicate"]["source"]["tree"], good_tree.as_str());
    assert_eq!(s["subject"][0]["digest"]["gitCommit"], good.as_str());
}

/// Waits for a child at most `limit`; kills it and fails the test when it takes longer.
fn wait_at_most(mut child: std::process::Child, limit: Duration) -> Output {
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_fifo_report_fails_the_check_within_its_timeout() {
    assert_bwrap();
    let config = "[[check]]\nname = \"tests\"\nkind = \"tests\"\ntimeout_secs = 5\n\
                  run = \"mkdir -p out && mkfifo out/junit.xml\"\n\
                  reports = [{ format = \"junit\", path = \"out/junit.xml\" }]\n";
    let p = Project::with(&[(".ci-attest.toml", config.to_string())]);
    p.keygen();
    let child = p
        .cmd()
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let out = wait_at_most(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let problems = statement(&p)["predicate"]["checks"][0]["problems"].to_string();
    assert!(
        problems.contains("expected a regular file, found a FIFO"),
        "{problems}"
    );
}

#[test]
fn nothing_a_check_starts_outlives_it() {
    assert_bwrap();
    let marker = format!("{}", 400_000 + std::process::id());
    let p = Project::with(&[(
        ".ci-attest.toml",
        custom_check(&format!(
            "(setsid sleep {marker} &) ; (nohup sleep {marker} >/dev/null 2>&1 &) ; true"
        )),
    )]);
    p.keygen();
    let out = p.run();
    assert!(out.status.success(), "{}", text(&out));
    std::thread::sleep(Duration::from_millis(200));
    let left = Command::new("pgrep")
        .args(["-f", &format!("sleep {marker}")])
        .output()
        .expect("pgrep");
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "daemons outlived the run: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

#[test]
fn ctrl_c_kills_the_checks_and_leaves_no_checkout() {
    assert_bwrap();
    let marker = format!("{}", 500_000 + std::process::id());
    let p = Project::with(&[(".ci-attest.toml", custom_check(&format!("sleep {marker}")))]);
    p.keygen();
    let tmp = tempfile::tempdir().expect("tmp");
    let child = p
        .cmd()
        .arg("run")
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    // Wait until the check runs, then interrupt as a terminal would.
    let started = Instant::now();
    while Command::new("pgrep")
        .args(["-f", &format!("sleep {marker}")])
        .output()
        .is_ok_and(|o| o.stdout.is_empty())
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the check never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = wait_at_most(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(p.bundles().is_empty(), "nothing is signed");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("tmp")
        .flatten()
        .collect();
    assert!(
        leftovers.is_empty(),
        "the checkout was removed: {leftovers:?}"
    );
    let worktrees = git(&p.root, &["worktree", "list", "--porcelain"]);
    assert_eq!(worktrees.matches("worktree ").count(), 1, "{worktrees}");
    // The kill is delivered at once, the process is reaped by the kernel a moment later (on a
    // loaded machine, not always before pgrep looks): it must be gone within seconds.
    let killed = Instant::now();
    loop {
        let left = Command::new("pgrep")
            .args(["-f", &format!("sleep {marker}")])
            .output()
            .expect("pgrep");
        if left.stdout.is_empty() {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(5),
            "the check was not killed: {}",
            String::from_utf8_lossy(&left.stdout)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_malformed_report_is_located_but_never_copied_into_the_statement() {
    assert_bwrap();
    let config = "[[check]]\nname = \"coverage\"\nkind = \"coverage\"\n\
                  run = \"mkdir -p out && cp bad.info out/lcov.info\"\n\
                  reports = [{ format = \"lcov\", path = \"out/lcov.info\" }]\n";
    let p = Project::with(&[
        (".ci-attest.toml", config.to_string()),
        (
            "bad.info",
            "TN:\nSF:src/a.rs\nDA:1,1\nghp_LeakedToken0123456789abcdef\nend_of_record\n".into(),
        ),
    ]);
    p.keygen();
    let out = p.run();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let s = statement(&p);
    let raw = s.to_string();
    assert!(
        !raw.contains("ghp_"),
        "report text leaked into the statement: {raw}"
    );
    let problems = s["predicate"]["checks"][0]["problems"].to_string();
    assert!(
        problems.contains("out/lcov.info") && problems.contains("line 4"),
        "says what and where: {problems}"
    );
}

#[test]
fn network_false_leaves_only_loopback() {
    assert_bwrap();
    let config = format!(
        "{}network = false\n",
        custom_check(
            "cat /proc/net/dev > out.txt; grep -v -E '^ *(lo|Inter|face)' /proc/net/dev && exit 1; true"
        )
    );
    let p = Project::with(&[(".ci-attest.toml", config)]);
    p.keygen();
    let out = p.run();
    assert!(
        out.status.success(),
        "only lo is left: {}\n{}",
        text(&out),
        logs(&p)
    );
    assert_eq!(statement(&p)["predicate"]["checks"][0]["network"], false);
}

#[test]
fn no_sandbox_is_recorded_as_isolation_none() {
    let p = Project::with(&[(".ci-attest.toml", custom_check("true"))]);
    p.keygen();
    let out = p
        .cmd()
        .args(["run", "--no-sandbox"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WITHOUT a sandbox"));
    assert_eq!(statement(&p)["predicate"]["isolation"]["mode"], "none");
}

#[test]
fn a_wrong_password_fails_before_any_check_runs() {
    let p = Project::with(&[(
        ".ci-attest.toml",
        custom_check("touch /proc/ran || echo ran"),
    )]);
    let out = p
        .cmd()
        .args(["keygen", "--out", "keys"])
        .env("CI_ATTEST_PASSWORD", "right")
        .output()
        .expect("keygen");
    assert!(out.status.success(), "{}", text(&out));
    let pw = p.root.join("keys/pw");
    std::fs::write(&pw, "wrong\n").expect("pw");
    let out = p
        .cmd()
        .args(["run", "--password-file", pw.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!p.root.join(".ci-attest/logs").exists(), "no check ran");
    std::fs::write(&pw, "right\n").expect("pw");
    let out = p
        .cmd()
        .args(["run", "--password-file", pw.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn secrets_listed_in_pass_env_are_a_configuration_error() {
    let p = Project::with(&[(".ci-attest.toml", custom_check("true"))]);
    p.keygen();
    p.write(
        ".ci-attest.local.toml",
        &format!("pass_env = [\"GITHUB_TOKEN\"]\n{LOCAL_SETTINGS}"),
    );
    let out = p.run();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("GITHUB_TOKEN carries a signing or forge secret"),
        "{}",
        text(&out)
    );
}

/// A real editable install: a venv outside the repository, `pip install -e .` of a package with
/// one pytest test, JUnit from pytest. The venv records the repository's absolute path.
#[test]
fn an_editable_python_install_tests_the_committed_code() {
    assert_bwrap();
    let wheels = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sandbox/wheels");
    assert!(
        wheels.join(".complete").exists(),
        "run tests/sandbox/install.sh (pytest wheelhouse)"
    );
    let ext = outside_tmp();
    let venv = ext.path().join("venv");
    let config = format!(
        "[[check]]\nname = \"tests\"\nkind = \"tests\"\n\
         run = \"mkdir -p out && {} -q -p no:cacheprovider --junitxml=out/junit.xml tests\"\n\
         reports = [{{ format = \"junit\", path = \"out/junit.xml\" }}]\n",
        venv.join("bin/pytest").display()
    );
    let p = Project::with(&[
        (".ci-attest.toml", config),
        (
            "pyproject.toml",
            "[build-system]\nrequires = [\"setuptools>=64\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
             [project]\nname = \"calc\"\nversion = \"0.1.0\"\n\n[tool.setuptools.packages.find]\nwhere = [\"src\"]\n"
                .into(),
        ),
        ("src/calc/__init__.py", "def add(a, b):\n    return a - b\n".into()),
        (
            "tests/test_calc.py",
            "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n".into(),
        ),
    ]);
    let run = |cmd: &mut Command| {
        let out = cmd.output().expect("runs");
        assert!(out.status.success(), "{}", text(&out));
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    let pip = venv.join("bin/pip");
    run(Command::new(&pip)
        .args(["install", "--quiet", "--no-index", "--find-links"])
        .arg(&wheels)
        .args(["pytest", "wheel"]));
    run(Command::new(&pip)
        .args([
            "install",
            "--quiet",
            "--no-index",
            "--no-build-isolation",
            "-e",
        ])
        .arg(&p.root));
    // The uncommitted fix is in the working tree, where the editable install points.
    p.write("src/calc/__init__.py", "def add(a, b):\n    return a + b\n");
    run(Command::new(venv.join("bin/pytest"))
        .args(["-q", "-p", "no:cacheprovider", "tests"])
        .current_dir(&p.root));
    p.keygen();
    let out = p.run();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the committed code is broken: {}",
        text(&out)
    );
    let s = statement(&p);
    assert_eq!(s["predicate"]["checks"][0]["tests"]["failed"], 1, "{s:#}");
}

/// The standard project's policy with extra `[require]` lines.
fn policy_requiring(p: &Project, extra: &str) -> String {
    let policy = POLICY.replace("[require]\n", &format!("[require]\n{extra}\n"));
    p.write("policies/sealed.toml", &policy);
    "policies/sealed.toml".into()
}

#[test]
fn a_policy_requiring_the_sandbox_rejects_a_no_sandbox_bundle() {
    assert_bwrap();
    let p = Project::passing();
    p.keygen();
    let policy = policy_requiring(&p, "isolation = \"sandbox\"");
    let out = p
        .cmd()
        .args(["run", "--no-sandbox"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let (out, report) = p.verify_json(&["--policy", &policy]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_finding(&report, "isolation-not-met");
    // The same commit, run sealed, is accepted (the newest bundle decides).
    let out = p.run();
    assert!(out.status.success(), "{}", text(&out));
    let (out, report) = p.verify_json(&["--policy", &policy]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
}

#[test]
fn a_policy_can_forbid_an_override_config() {
    assert_bwrap();
    let p = Project::passing();
    p.keygen();
    let other = p.root.join("keys/other.toml");
    std::fs::copy(p.root.join(".ci-attest.toml"), &other).expect("copy");
    let out = p
        .cmd()
        .args(["run", "--config", other.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    // Reported even where allowed...
    let (out, report) = p.verify_json(&[]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert!(
        codes(&report).contains(&"config-not-from-commit".to_string()),
        "{report:#}"
    );
    // ...and rejected where the policy forbids it.
    let policy = policy_requiring(&p, "config_from_commit = true");
    let (_, report) = p.verify_json(&["--policy", &policy]);
    assert_finding(&report, "config-not-from-commit");
}
