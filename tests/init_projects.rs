//! `ci-attest init` on real projects: the configuration it writes runs unedited in the sealed run
//! and the signed counts are the ones the test tool itself printed in the check's log.
//!
//! Each test makes a small project as a git repository, runs `init`, `keygen`, commits, runs `run`
//! once and compares `inspect --format json` with the tool's own summary line. The tools install
//! offline from what `tests/init/install.sh` prepared (a wheelhouse, an npm cache, corepack's pnpm
//! and yarn 4, and a pnpm store), passed in only through the signer's `pass_env` in `.ci-attest.local.toml`:
//! the commit's `.ci-attest.toml` is exactly what init wrote. They need bubblewrap
//! (`tests/sandbox/install.sh`) and fail, never skip, without it.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A folder `tests/init/install.sh` prepared, where the sealed checks can read it: checks get a
/// private `/tmp`, so a clone under `/tmp` has its folders copied once to `/var/tmp`.
fn prepared(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/init")
        .join(name);
    let stamp = std::fs::read(dir.join(".complete"))
        .unwrap_or_else(|_| panic!("{} is missing: run tests/init/install.sh", dir.display()));
    if !dir.starts_with("/tmp") {
        return dir;
    }
    static COPYING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = COPYING.lock().unwrap_or_else(|e| e.into_inner());
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(dir.as_os_str().as_encoded_bytes()))
    };
    let copy = Path::new("/var/tmp")
        .join(format!("ci-attest-init-{}", &digest[..16]))
        .join(name);
    if std::fs::read(copy.join(".complete")).ok().as_ref() != Some(&stamp) {
        let _ = std::fs::remove_dir_all(&copy);
        std::fs::create_dir_all(copy.parent().expect("parent")).expect("mkdir /var/tmp copy");
        let out = Command::new("cp")
            .arg("-a")
            .arg(&dir)
            .arg(&copy)
            .output()
            .expect("cp runs");
        assert!(out.status.success(), "cp -a {}: {out:?}", dir.display());
    }
    copy
}

/// A committed file of `tests/init/<project>/`.
fn fixture(project: &str, file: &str) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/init")
        .join(project)
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (file.to_string(), text)
}

fn assert_bwrap() {
    let ok = Command::new("bwrap")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "bubblewrap is required: run tests/sandbox/install.sh");
}

/// What one `init` + `run` gave.
struct Outcome {
    p: Project,
    /// The committed `.ci-attest.toml`, as init wrote it.
    config: String,
    /// `inspect --format json` of the run's bundle.
    inspect: serde_json::Value,
    /// The run's exit code.
    code: Option<i32>,
}

impl Outcome {
    /// A metric of a check, from the signed statement.
    fn metric(&self, check: &str, name: &str) -> f64 {
        let checks = self.inspect["checks"].as_array().expect("checks");
        let c = checks
            .iter()
            .find(|c| c["name"] == check)
            .unwrap_or_else(|| panic!("no check {check}: {:#}", self.inspect));
        c["metrics"][name]
            .as_f64()
            .unwrap_or_else(|| panic!("no {check}.{name}: {c:#}"))
    }

    /// The log of one check of the run.
    fn log(&self, check: &str) -> String {
        let commit = self.p.head();
        let path = self
            .p
            .root
            .join(format!(".ci-attest/logs/{commit}-1/{check}.log"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// Makes the project, runs `init`, replaces the signer's settings with `pass_env` (names set from
/// `env`), generates a key, commits everything and runs once.
fn init_and_run(files: &[(String, String)], env: &[(&str, String)]) -> Outcome {
    assert_bwrap();
    let p = Project::with(
        &files
            .iter()
            .map(|(path, text)| (path.as_str(), text.clone()))
            .collect::<Vec<_>>(),
    );
    let init = p.cmd().arg("init").output().expect("runs");
    assert!(init.status.success(), "init: {}", text(&init));
    let names: Vec<String> = env.iter().map(|(k, _)| format!("{k:?}")).collect();
    p.write(
        ci_attest::config::LOCAL_SETTINGS_FILE,
        &format!("pass_env = [{}]\n{LOCAL_SETTINGS}", names.join(", ")),
    );
    p.keygen();
    p.commit("ci-attest init");
    let config = std::fs::read_to_string(p.root.join(".ci-attest.toml")).expect("config");
    let mut run = p.cmd();
    run.arg("run");
    for (k, v) in env {
        run.env(k, v);
    }
    let out = run.output().expect("runs");
    let bundle = p
        .bundles()
        .last()
        .cloned()
        .unwrap_or_else(|| panic!("no bundle: {}", text(&out)));
    let inspect = p
        .cmd()
        .args(["inspect", "--format", "json"])
        .arg(&bundle)
        .output()
        .expect("runs");
    assert!(inspect.status.success(), "{}", text(&inspect));
    Outcome {
        inspect: serde_json::from_slice(&inspect.stdout).expect("inspect JSON"),
        code: out.status.code(),
        config,
        p,
    }
}

/// The number before `word` in `line` (`"1 failed, 2 passed"`, "failed" -> 1), 0 when absent.
fn count_before(line: &str, word: &str) -> f64 {
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == ',' || c == '|' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .find(|w| w[1] == word)
        .and_then(|w| w[0].parse().ok())
        .unwrap_or(0.0)
}

/// The last line of `log` that contains every one of `needles`.
fn last_line<'a>(log: &'a str, needles: &[&str]) -> &'a str {
    log.lines()
        .rev()
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| panic!("no line with {needles:?} in the log:\n{log}"))
}

/// The percentage of `Lines : 100% ( 3/3 )` in istanbul's text summary (jest, vitest).
fn istanbul_lines(log: &str) -> f64 {
    let line = last_line(log, &["Lines", "%"]);
    let covered = line
        .split('(')
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("( covered/total )");
    let (a, b) = covered.trim().split_once('/').expect("covered/total");
    let (a, b): (f64, f64) = (a.trim().parse().expect("n"), b.trim().parse().expect("n"));
    100.0 * a / b
}

fn assert_close(ours: f64, theirs: f64, what: &str) {
    assert!(
        (ours - theirs).abs() < 0.01,
        "{what}: ours {ours}, the tool's {theirs}"
    );
}

#[test]
fn a_cargo_workspace_counts_every_test_and_doctest() {
    let files: Vec<(String, String)> = [
        ("Cargo.toml", "[workspace]\nmembers = [\"alpha\", \"beta\"]\nresolver = \"2\"\n"),
        ("alpha/Cargo.toml", "[package]\nname = \"alpha\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        (
            "alpha/src/lib.rs",
            "//! Alpha.\n\n/// Adds.\n///\n/// ```\n/// assert_eq!(alpha::add(1, 2), 3);\n/// ```\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() {\n        assert_eq!(super::add(2, 2), 4);\n    }\n}\n",
        ),
        ("beta/Cargo.toml", "[package]\nname = \"beta\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        (
            "beta/src/lib.rs",
            "//! Beta.\n\n/// Subtracts (wrongly).\npub fn sub(a: i32, b: i32) -> i32 {\n    a + b\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn zero() {\n        assert_eq!(super::sub(0, 0), 0);\n    }\n\n    #[test]\n    fn subtracts() {\n        assert_eq!(super::sub(3, 2), 1);\n    }\n}\n",
        ),
        (
            "Cargo.lock",
            "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\n[[package]]\nname = \"alpha\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"beta\"\nversion = \"0.1.0\"\n",
        ),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let o = init_and_run(&files, &[]);
    assert_eq!(o.code, Some(1), "a test fails: {:#}", o.inspect);
    assert!(
        o.config.contains("--workspace --no-fail-fast"),
        "{}",
        o.config
    );
    let log = o.log("tests");
    // The tool's own figures: nextest's summary plus the doctests' libtest suite events, or
    // cargo test's suite events alone.
    let suites: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{') && l.contains("\"suite\""))
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["event"] != "started")
        .collect();
    let sum = |field: &str| {
        suites
            .iter()
            .map(|s| s[field].as_f64().unwrap_or(0.0))
            .sum::<f64>()
    };
    let (mut passed, mut failed, mut skipped) = (sum("passed"), sum("failed"), sum("ignored"));
    if o.config.contains("cargo nextest run") {
        let summary = last_line(&log, &["Summary", "tests run"]);
        passed += count_before(summary, "passed");
        failed += count_before(summary, "failed");
        skipped += count_before(summary, "skipped");
        assert!(
            sum("passed") >= 1.0,
            "the doctest ran beside nextest:\n{log}"
        );
    }
    assert_eq!((passed, failed), (3.0, 1.0), "the tool's figures:\n{log}");
    assert_close(o.metric("tests", "passed"), passed, "passed");
    assert_close(o.metric("tests", "failed"), failed, "failed");
    assert_close(o.metric("tests", "skipped"), skipped, "skipped");
    assert_close(
        o.metric("tests", "total"),
        passed + failed + skipped,
        "total",
    );
    assert_close(o.metric("lint", "errors"), 0.0, "clippy errors");
}

#[test]
fn a_src_layout_python_package_in_a_virtualenv() {
    let wheels = prepared("wheels");
    let files: Vec<(String, String)> = [
        (
            "pyproject.toml",
            "[build-system]\nrequires = [\"setuptools>=64\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
             [project]\nname = \"tiny-calc\"\nversion = \"0.1.0\"\n\n\
             [project.optional-dependencies]\ntest = [\"pytest\", \"pytest-cov\"]\n\n[tool.ruff]\nline-length = 100\n",
        ),
        (
            "src/tiny_calc/__init__.py",
            "def add(a, b):\n    return a + b\n\n\ndef sign(x):\n    if x < 0:\n        return -1\n    return 1\n\n\ndef unused(x):\n    return x * 2\n",
        ),
        (
            "tests/test_calc.py",
            "from tiny_calc import add, sign\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_sign():\n    assert sign(-4) == -1\n\n\ndef test_broken():\n    assert add(1, 1) == 3\n",
        ),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let o = init_and_run(
        &files,
        &[
            ("PIP_NO_INDEX", "1".into()),
            ("PIP_FIND_LINKS", wheels.display().to_string()),
        ],
    );
    assert_eq!(o.code, Some(1), "a test fails: {:#}", o.inspect);
    assert!(
        o.config.contains("--cov=tiny_calc --cov-branch"),
        "{}",
        o.config
    );
    let log = o.log("tests");
    let summary = last_line(&log, &["passed", " in "]);
    let (passed, failed) = (
        count_before(summary, "passed"),
        count_before(summary, "failed"),
    );
    assert_eq!((passed, failed), (2.0, 1.0), "pytest's figures:\n{log}");
    assert_close(o.metric("tests", "passed"), passed, "passed");
    assert_close(o.metric("tests", "failed"), failed, "failed");
    assert_close(o.metric("tests", "total"), passed + failed, "total");
    // coverage.py's TOTAL row: statements and missed ones of the package alone (not the tests).
    let total: Vec<f64> = last_line(&log, &["TOTAL"])
        .split_whitespace()
        .skip(1)
        .take(2)
        .map(|n| n.parse().expect("a number"))
        .collect();
    assert!(
        log.contains("src/tiny_calc/__init__.py") && !log.contains("tests/test_calc.py   "),
        "coverage measures the package:\n{log}"
    );
    assert_close(
        o.metric("coverage", "lines"),
        100.0 * (total[0] - total[1]) / total[0],
        "line coverage",
    );
    assert_close(o.metric("lint", "errors"), 0.0, "ruff findings");
}

#[test]
fn an_npm_package_with_jest() {
    let cache = prepared("npm-cache");
    let files = vec![
        fixture("npm-jest", "package.json"),
        fixture("npm-jest", "package-lock.json"),
        fixture("npm-jest", "src/calc.js"),
        fixture("npm-jest", "src/calc.test.js"),
    ];
    let o = init_and_run(
        &files,
        &[
            ("npm_config_cache", cache.display().to_string()),
            ("npm_config_offline", "true".into()),
        ],
    );
    assert_eq!(o.code, Some(1), "a test fails: {:#}", o.inspect);
    assert!(o.config.contains("npm ci"), "{}", o.config);
    let log = o.log("tests");
    let summary = last_line(&log, &["Tests:", "total"]);
    let (passed, failed) = (
        count_before(summary, "passed"),
        count_before(summary, "failed"),
    );
    assert_eq!((passed, failed), (2.0, 1.0), "jest's figures:\n{log}");
    assert_close(o.metric("tests", "passed"), passed, "passed");
    assert_close(o.metric("tests", "failed"), failed, "failed");
    assert_close(
        o.metric("tests", "total"),
        count_before(summary, "total"),
        "total",
    );
    assert_close(
        o.metric("coverage", "lines"),
        istanbul_lines(&log),
        "line coverage",
    );
}

#[test]
fn a_pnpm_package_with_vitest_through_corepack() {
    let (corepack, store) = (prepared("corepack"), prepared("pnpm-store"));
    let files = vec![
        fixture("pnpm-vitest", "package.json"),
        fixture("pnpm-vitest", "pnpm-lock.yaml"),
        fixture("pnpm-vitest", "src/calc.js"),
        fixture("pnpm-vitest", "src/calc.test.js"),
    ];
    let o = init_and_run(
        &files,
        &[
            ("COREPACK_HOME", corepack.display().to_string()),
            ("npm_config_store_dir", store.display().to_string()),
            ("npm_config_offline", "true".into()),
        ],
    );
    assert_eq!(o.code, Some(1), "a test fails: {:#}", o.inspect);
    assert!(
        o.config.contains("corepack pnpm install --frozen-lockfile"),
        "{}",
        o.config
    );
    let log = o.log("tests");
    let summary = last_line(&log, &["Tests", "passed", "("]);
    let (passed, failed) = (
        count_before(summary, "passed"),
        count_before(summary, "failed"),
    );
    assert_eq!((passed, failed), (2.0, 1.0), "vitest's figures:\n{log}");
    assert_close(o.metric("tests", "passed"), passed, "passed");
    assert_close(o.metric("tests", "failed"), failed, "failed");
    assert_close(o.metric("tests", "total"), passed + failed, "total");
    assert_close(
        o.metric("coverage", "lines"),
        istanbul_lines(&log),
        "line coverage",
    );
}

#[test]
fn a_yarn_berry_package_with_node_test_under_plug_n_play() {
    let corepack = prepared("corepack-yarn");
    let files = vec![
        fixture("yarn-node", "package.json"),
        fixture("yarn-node", "yarn.lock"),
        fixture("yarn-node", "src/calc.js"),
        fixture("yarn-node", "test/calc.test.js"),
    ];
    let o = init_and_run(&files, &[("COREPACK_HOME", corepack.display().to_string())]);
    assert_eq!(o.code, Some(1), "a test fails: {:#}", o.inspect);
    assert!(
        o.config.contains("corepack yarn install --immutable"),
        "{}",
        o.config
    );
    // Plug'n'Play removes any node_modules: init keeps none as a cache.
    assert!(
        !o.config.contains("path = \"node_modules\""),
        "{}",
        o.config
    );
    let log = o.log("tests");
    // The spec reporter's totals: `ℹ pass 2`.
    let figure = |word: &str| -> f64 {
        let line = last_line(&log, &["\u{2139}", word]);
        let mut it = line.split_whitespace().skip_while(|w| *w != word).skip(1);
        it.next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no figure after {word:?} in {line:?}"))
    };
    let (passed, failed) = (figure("pass"), figure("fail"));
    assert_eq!((passed, failed), (2.0, 1.0), "node's figures:\n{log}");
    assert_close(o.metric("tests", "passed"), passed, "passed");
    assert_close(o.metric("tests", "failed"), failed, "failed");
    assert_close(o.metric("tests", "total"), figure("tests"), "total");
}

#[test]
fn a_bun_package_with_bun_test() {
    let bun = prepared("bun").join("node_modules/.bin");
    let files = vec![
        fixture("bun-test", "package.json"),
        fixture("bun-test", "src/calc.js"),
        fixture("bun-test", "test/calc.test.js"),
    ];
    let path = format!(
        "{}:{}",
        bun.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = init_and_run(&files, &[("PATH", path)]);
    assert_eq!(o.code, Some(1), "a test fails: {:#}", o.inspect);
    assert!(
        o.config.contains("bun test --reporter=junit"),
        "{}",
        o.config
    );
    let log = o.log("tests");
    // bun's closing lines: ` 2 pass`, ` 1 fail`, `Ran 3 tests across 1 file.`
    let (passed, failed) = (
        count_before(last_line(&log, &[" pass"]), "pass"),
        count_before(last_line(&log, &[" fail"]), "fail"),
    );
    assert_eq!((passed, failed), (2.0, 1.0), "bun's figures:\n{log}");
    assert_close(o.metric("tests", "passed"), passed, "passed");
    assert_close(o.metric("tests", "failed"), failed, "failed");
    assert_close(
        o.metric("tests", "total"),
        count_before(last_line(&log, &["Ran", "tests"]), "tests"),
        "total",
    );
    // `All files | % Funcs | % Lines |` in bun's text coverage table.
    let all_files: Vec<&str> = last_line(&log, &["All files", "|"]).split('|').collect();
    let printed_lines: f64 = all_files[2].trim().parse().expect("bun's % Lines");
    assert_close(
        o.metric("coverage", "lines"),
        printed_lines,
        "line coverage",
    );
}
