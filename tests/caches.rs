//! `[[cache]]`: folders that survive between sealed runs of one repository, keyed by committed
//! files, recorded in the predicate, skipped by `run --no-cache`, and refused by a policy that
//! requires a run from scratch.
//!
//! These tests need bubblewrap (`tests/sandbox/install.sh` installs it); they fail, never skip,
//! where it is missing.

mod common;

use common::*;

/// A check that says whether it found an earlier run's file in `target/`, then leaves one there
/// (appending, so the log shows how many runs the cache has seen).
const WARMTH: &str = r#"
[[check]]
name = "build"
kind = "custom"
run = "if [ -f target/marker ]; then echo warm $(wc -l < target/marker); else echo cold; fi; mkdir -p target && echo run >> target/marker"

[[cache]]
path = "target"
key = ["Cargo.lock"]
"#;

const POLICY_FROM_SCRATCH: &str = r#"
[[signer]]
name = "alice"
key = "../keys/ci-attest.pub"

[require]
checks = ["build"]
from_scratch = true
"#;

fn project() -> Project {
    let p = Project::with(&[
        (".ci-attest.toml", WARMTH.to_string()),
        ("Cargo.lock", "# version 1\n".to_string()),
        ("policies/default.toml", POLICY_FROM_SCRATCH.to_string()),
    ]);
    p.keygen();
    p
}

/// Runs `ci-attest run` with extra arguments; returns the newest statement's predicate and the
/// newest check log.
fn run(p: &Project, args: &[&str]) -> (serde_json::Value, String) {
    let out = p.cmd().arg("run").args(args).output().expect("runs");
    assert!(out.status.success(), "run {args:?}: {}", text(&out));
    (newest_statement(p)["predicate"].clone(), newest_log(p))
}

/// The statement of HEAD's newest local-run bundle (the store names them `<commit>.<n>`).
fn newest_statement(p: &Project) -> serde_json::Value {
    let head = p.head();
    let newest = p
        .bundles()
        .into_iter()
        .filter_map(|b| {
            let name = b.file_name()?.to_str()?.to_string();
            let n: u64 = name
                .strip_prefix(&format!("{head}."))?
                .split('.')
                .next()?
                .parse()
                .ok()?;
            Some((n, b))
        })
        .max()
        .expect("a bundle of HEAD");
    statement_of(&newest.1)
}

fn newest_log(p: &Project) -> String {
    let mut dirs: Vec<_> = std::fs::read_dir(p.root.join(".ci-attest/logs"))
        .expect("logs")
        .flatten()
        .map(|e| (e.metadata().and_then(|m| m.modified()).ok(), e.path()))
        .collect();
    dirs.sort();
    let (_, dir) = dirs.pop().expect("a log folder");
    let mut text = String::new();
    for f in std::fs::read_dir(dir).expect("log dir").flatten() {
        text.push_str(&std::fs::read_to_string(f.path()).expect("log"));
    }
    text
}

#[test]
fn a_cache_is_found_again_by_the_next_run_and_recorded_with_its_key() {
    let p = project();
    let (first, log) = run(&p, &[]);
    assert!(log.contains("cold"), "{log}");
    let cache = &first["caches"][0];
    assert_eq!(cache["path"], "target");
    assert_eq!(cache["restored"], false, "{first:#}");
    let key = cache["key"].as_str().expect("a key").to_string();
    assert_eq!(key.len(), 64, "{key}");

    let (second, log) = run(&p, &[]);
    assert!(
        log.contains("warm 1"),
        "the second run sees the first's file: {log}"
    );
    assert_eq!(second["caches"][0]["restored"], true, "{second:#}");
    assert_eq!(second["caches"][0]["key"], key.as_str());
    // The cache is kept outside the working tree: the checks never wrote into it.
    assert!(!p.root.join("target").exists());
}

#[test]
fn a_changed_key_file_starts_an_empty_cache() {
    let p = project();
    let (first, _) = run(&p, &[]);
    p.write("Cargo.lock", "# version 2\n");
    p.commit("new lockfile");
    let (second, log) = run(&p, &[]);
    assert!(log.contains("cold"), "{log}");
    assert_eq!(second["caches"][0]["restored"], false, "{second:#}");
    assert_ne!(second["caches"][0]["key"], first["caches"][0]["key"]);
    // An uncommitted edit of the key file does not change the key: the commit's file decides.
    p.write("Cargo.lock", "# version 3\n");
    let (third, log) = run(&p, &[]);
    assert!(log.contains("warm 1"), "{log}");
    assert_eq!(third["caches"][0]["key"], second["caches"][0]["key"]);
}

#[test]
fn no_cache_runs_from_scratch_and_the_policy_can_require_it() {
    let p = project();
    run(&p, &[]);
    let (warm, _) = run(&p, &[]);
    assert_eq!(warm["caches"][0]["restored"], true, "{warm:#}");
    let (out, report) = p.verify_json(&[]);
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert_finding(&report, "run-not-from-scratch");

    let (scratch, log) = run(&p, &["--no-cache"]);
    assert!(log.contains("cold"), "--no-cache mounts no cache: {log}");
    assert!(scratch.get("caches").is_none(), "{scratch:#}");
    let (out, report) = p.verify_json(&[]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    // --no-cache left the cache alone: the next warm run still finds it.
    let (_, log) = run(&p, &[]);
    assert!(log.contains("warm 2"), "{log}");
}

/// A Cargo workspace of two crates whose check builds it into the `target` cache.
fn workspace() -> Project {
    let member = |name: &str| {
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n")
    };
    let p = Project::with(&[
        (
            ".ci-attest.toml",
            "[[check]]\nname = \"build\"\nkind = \"custom\"\nrun = \"cargo build --offline 2>&1\"\n\n[[cache]]\npath = \"target\"\nkey = [\"Cargo.lock\"]\n"
                .to_string(),
        ),
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"one\", \"two\"]\nresolver = \"2\"\n".to_string(),
        ),
        ("one/Cargo.toml", member("one")),
        ("one/src/lib.rs", "pub fn one() -> u32 { 1 }\n".to_string()),
        ("two/Cargo.toml", member("two")),
        ("two/src/lib.rs", "pub fn two() -> u32 { 2 }\n".to_string()),
        ("policies/default.toml", POLICY_FROM_SCRATCH.to_string()),
    ]);
    p.keygen();
    p
}

#[test]
fn a_warm_cargo_build_recompiles_only_the_crate_whose_files_changed() {
    let p = workspace();
    let (_, log) = run(&p, &[]);
    assert!(
        log.contains("Compiling one") && log.contains("Compiling two"),
        "{log}"
    );
    p.write("two/src/lib.rs", "pub fn two() -> u32 { 2 + 0 }\n");
    p.commit("change two");
    let (second, log) = run(&p, &[]);
    assert_eq!(second["caches"][0]["restored"], true, "{second:#}");
    // The fresh checkout's unchanged files kept the times the first run gave them.
    assert!(log.contains("Compiling two"), "{log}");
    assert!(!log.contains("Compiling one"), "one is unchanged: {log}");
    // An unchanged commit builds nothing.
    let (_, log) = run(&p, &[]);
    assert!(!log.contains("Compiling"), "{log}");
}

#[test]
fn reports_written_into_a_cache_folder_are_read_from_it() {
    let p = Project::with(&[
        (
            ".ci-attest.toml",
            "[[check]]\nname = \"tests\"\nkind = \"tests\"\nrun = \"mkdir -p target && cp fixtures/junit.xml target/junit.xml\"\nreports = [{ format = \"junit\", path = \"./target/junit.xml\" }]\n\n[[cache]]\npath = \"target\"\n"
                .to_string(),
        ),
        ("fixtures/junit.xml", fixture("junit-pass.xml")),
        ("policies/default.toml", POLICY_FROM_SCRATCH.to_string()),
    ]);
    p.keygen();
    let (first, _) = run(&p, &[]);
    let passed = first["checks"][0]["tests"]["passed"].as_u64().unwrap_or(0);
    assert!(passed > 0, "{first:#}");
    // The next commit's report replaces the cached one, and that is what is counted.
    p.write("fixtures/junit.xml", &fixture("junit-fail.xml"));
    p.commit("a failing test");
    let out = p.cmd().arg("run").output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let second = &newest_statement(&p)["predicate"];
    assert_eq!(second["caches"][0]["restored"], true, "{second:#}");
    assert!(
        second["checks"][0]["tests"]["failed"].as_u64() > Some(0),
        "{second:#}"
    );
}
