//! Audit throughput (`cargo bench --bench audit`, figures in docs/benchmarks.md, "Audit
//! throughput"): the whole `ci-attest audit` process over repositories of 100, 2,000 and 20,000
//! commits with one key-signed bundle each, its bundles/s, time per commit and peak memory, and
//! an in-process `@sigstore/verify` loop (`tests/interop/verify_loop.mjs`, a whole node process)
//! over the same 2,000 bundles, measured in the same run, as a ratio.
//!
//! Each repository is made once: one commit attested with the real binary (`ci-attest run`), then
//! the other commits by `git fast-import`, each given the first bundle's statement rewritten for
//! it (subject, commit, tree) and signed with the same key. Generation is not timed.
//!
//! `CI_ATTEST_BIN` names another binary to time (e.g. an older build, for before/after figures);
//! `AUDIT_BENCH_SIZES=100,2000` chooses the sizes.
//! Under `cargo test --all-targets` (no `--bench`) it is a smoke run over 20 commits: the
//! 20,000-commit audit never runs as a test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn bin() -> PathBuf {
    std::env::var_os("CI_ATTEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ci-attest")))
}

fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .args(["-c", "user.name=b", "-c", "user.email=b@example.invalid"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    out.stdout
}

/// A repository of `n` commits with one key-signed local-run bundle each in `.ci-attest/`, and the
/// `--at` to audit it with.
fn attested_history(dir: &Path, n: usize) -> (PathBuf, String) {
    use base64::Engine as _;
    let root = dir.join(format!("repo-{n}"));
    std::fs::create_dir_all(root.join("policies")).expect("mkdir");
    std::fs::write(root.join(".gitignore"), "keys/\nout/\n").expect("write");
    std::fs::write(
        root.join(".ci-attest.toml"),
        r#"[[check]]
name = "tests"
kind = "tests"
run = "mkdir -p out && printf '<testsuite><testcase name=\"a\"/><testcase name=\"b\"/></testsuite>' > out/j.xml"
reports = [{ format = "junit", path = "out/j.xml" }]
"#,
    )
    .expect("write");
    std::fs::write(
        root.join("policies/default.toml"),
        "[[signer]]\nname = \"b\"\nkey = \"../keys/ci-attest.pub\"\n[require]\nchecks = [\"tests\"]\nmax_age = \"30d\"\n[thresholds]\n\"tests.failed\" = { max = 0 }\n",
    )
    .expect("write");
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-qm", "first"]);
    for args in [
        &["keygen", "--out", "keys", "--no-password"][..],
        &["run", "--key", "keys/ci-attest.key", "--no-sandbox"][..],
    ] {
        let out = Command::new(bin())
            .args(args)
            .current_dir(&root)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = root.join(".ci-attest");
    let mut template = None;
    for entry in std::fs::read_dir(&store).expect("store") {
        let path = entry.expect("entry").path();
        if !path.to_string_lossy().ends_with(".sigstore.json") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        if !ci_attest::verify::is_test_result_bundle(&bytes) {
            template = Some(bytes);
        }
        std::fs::remove_file(&path).expect("remove");
    }
    let template: serde_json::Value =
        serde_json::from_slice(&template.expect("a local-run bundle")).expect("JSON");
    let b64 = base64::engine::general_purpose::STANDARD;
    let statement: serde_json::Value = serde_json::from_slice(
        &b64.decode(
            template["dsseEnvelope"]["payload"]
                .as_str()
                .expect("payload"),
        )
        .expect("base64"),
    )
    .expect("statement");

    // The other commits, in one fast-import.
    let head = String::from_utf8(git(&root, &["rev-parse", "HEAD"])).expect("utf-8");
    let mut stream = Vec::new();
    for i in 1..n {
        write!(
            stream,
            "commit refs/heads/main\ncommitter b <b@example.invalid> {} +0000\ndata 4\nnext\n",
            1_700_000_000 + i
        )
        .expect("write");
        if i == 1 {
            writeln!(stream, "from {}", head.trim()).expect("write");
        }
        let content = format!("{i}\n");
        write!(
            stream,
            "M 644 inline counter\ndata {}\n{content}\n",
            content.len()
        )
        .expect("write");
    }
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(&root)
        .stdin(Stdio::piped())
        .spawn()
        .expect("fast-import");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&stream)
        .expect("feed");
    assert!(child.wait().expect("waits").success());

    // Every commit's object, from one cat-file, and a bundle for each.
    let ids = String::from_utf8(git(&root, &["rev-list", "--reverse", "main"])).expect("utf-8");
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), n);
    let mut child = Command::new("git")
        .args(["cat-file", "--batch"])
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cat-file");
    let input = ids.join("\n") + "\n";
    let mut stdin = child.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()).expect("feed"));
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut child.stdout.take().expect("stdout"), &mut out).expect("read");
    feeder.join().expect("feeder");
    assert!(child.wait().expect("waits").success());
    let pem = std::fs::read(root.join("keys/ci-attest.key")).expect("key");
    let key = ci_attest::sign::key::SigningKey::from_pkcs8_pem(&pem, None).expect("key");
    let mut rest = &out[..];
    let name = statement["subject"][0]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let repo_name = name.rsplit_once('@').expect("name@commit").0.to_owned();
    for id in &ids {
        let nl = rest.iter().position(|&b| b == b'\n').expect("header");
        let header = std::str::from_utf8(&rest[..nl]).expect("utf-8");
        let size: usize = header.rsplit(' ').next().expect("size").parse().expect("n");
        let object = &rest[nl + 1..nl + 1 + size];
        rest = &rest[nl + 2 + size..];
        let tree = std::str::from_utf8(&object[5..45]).expect("tree");
        let mut s = statement.clone();
        s["subject"][0]["name"] = format!("{repo_name}@{id}").into();
        s["subject"][0]["digest"]["gitCommit"] = (*id).into();
        s["subject"][0]["digest"]["sha256"] = ci_attest::git::commit_object_sha256(object).into();
        s["predicate"]["source"]["commit"] = (*id).into();
        s["predicate"]["source"]["tree"] = tree.into();
        let json = serde_json::to_vec(&s).expect("serialise");
        let bundle = ci_attest::sign::sign_statement(&json, &key);
        std::fs::write(
            store.join(format!("{id}.1.sigstore.json")),
            bundle.to_json(),
        )
        .expect("write bundle");
    }
    let finished = statement["predicate"]["finishedOn"]
        .as_str()
        .expect("finishedOn");
    let at = humantime::parse_rfc3339(finished).expect("RFC 3339") + Duration::from_secs(3600);
    (root, humantime::format_rfc3339_seconds(at).to_string())
}

/// One whole `ci-attest audit` process: wall time and peak resident set (KiB, from GNU time when
/// it is installed).
fn audit_once(root: &Path, at: &str, n: usize) -> (Duration, Option<u64>) {
    let time = Path::new("/usr/bin/time");
    let rss_file = root.join("rss.txt");
    let mut cmd = if time.is_file() {
        let mut c = Command::new(time);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(bin());
        c
    } else {
        Command::new(bin())
    };
    cmd.args(["audit", "--range", "main", "--at", at, "--format", "json"])
        .current_dir(root)
        .stderr(Stdio::null());
    let t = Instant::now();
    let out = cmd.output().expect("audit runs");
    let d = t.elapsed();
    assert!(out.status.success(), "audit exited {:?}", out.status);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["accepted"], n, "every commit accepted");
    let rss = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|s| s.lines().last()?.trim().parse().ok());
    (d, rss)
}

/// The node loop over the same bundles: (whole process, its own loop), or why it was skipped.
fn node_loop(root: &Path) -> Result<(Duration, f64), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/verify_loop.mjs");
    let modules = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop/node_modules/@sigstore/verify/package.json");
    if !modules.is_file() {
        return Err("skipped (run tests/interop/install.sh)".into());
    }
    let t = Instant::now();
    let out = Command::new("node")
        .arg(&script)
        .arg(root.join("keys/ci-attest.pub"))
        .arg(root.join(".ci-attest"))
        .output()
        .map_err(|e| format!("node: {e}"))?;
    let d = t.elapsed();
    if !out.status.success() {
        return Err(format!(
            "node failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok((d, v["loop_ms"].as_f64().unwrap_or(f64::NAN)))
}

fn main() {
    // `AUDIT_BENCH_SIZES=100,2000` picks the sizes (e.g. for an older, superlinear build).
    let chosen: Option<Vec<usize>> = std::env::var("AUDIT_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    let sizes: &[usize] = match &chosen {
        Some(sizes) => sizes,
        None if full() => &[1, 100, 2_000, 20_000],
        None => &[20],
    };
    let runs = |n: usize| match (full(), n) {
        (false, _) => 1,
        (true, 20_000) => 2,
        (true, _) => 5,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // `AUDIT_BENCH_KEEP=1` keeps the repositories (and prints where), to time other commands on
    // the same histories, e.g. two builds against each other.
    let keep = std::env::var_os("AUDIT_BENCH_KEEP").is_some();
    let dir_path = if keep {
        let kept = dir.keep();
        println!("repositories kept in {}", kept.display());
        kept
    } else {
        dir.path().to_path_buf()
    };
    println!("audit throughput ({})", bin().display());
    let mut per_commit = Vec::new();
    for &n in sizes {
        let (root, at) = attested_history(&dir_path, n);
        let mut best = Duration::MAX;
        let mut peak = None;
        for _ in 0..runs(n) {
            let (d, rss) = audit_once(&root, &at, n);
            if d < best {
                best = d;
                peak = rss;
            }
        }
        let ms_per = best.as_secs_f64() * 1e3 / n as f64;
        per_commit.push((n, ms_per));
        println!(
            "audit {n:>6} commits  {:>8.3} s (best of {})  {:>7.0} bundles/s  {ms_per:.3} ms/commit  peak RSS {}",
            best.as_secs_f64(),
            runs(n),
            n as f64 / best.as_secs_f64(),
            peak.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
        );
        if n == 2_000 || !full() {
            match node_loop(&root) {
                Ok((whole, loop_ms)) => println!(
                    "@sigstore/verify loop over the same {n} bundles: whole node process {:.3} s (loop {:.3} s, {:.0} bundles/s); audit / node = {:.2}",
                    whole.as_secs_f64(),
                    loop_ms / 1e3,
                    n as f64 / (loop_ms / 1e3),
                    best.as_secs_f64() / whole.as_secs_f64()
                ),
                Err(why) => println!("@sigstore/verify loop: {why}"),
            }
        }
        if !keep {
            std::fs::remove_dir_all(&root).ok();
        }
    }
    // Beyond the process's fixed cost (start, policy, `rev-list`, the trust list: the audit of one
    // commit), the time each further commit adds; linear means this stays flat as n grows.
    if let Some(&(1, fixed_ms)) = per_commit.first() {
        let marginal: Vec<(usize, f64)> = per_commit
            .iter()
            .filter(|(n, _)| *n > 1)
            .map(|&(n, ms)| (n, (ms * n as f64 - fixed_ms) / (n - 1) as f64))
            .collect();
        if let Some(&(first, base)) = marginal.first() {
            let rows: Vec<String> = marginal
                .iter()
                .map(|(n, ms)| format!("{n}: {ms:.3} ms ({:.2}x)", ms / base))
                .collect();
            println!(
                "time per commit beyond the one-commit audit ({fixed_ms:.1} ms), relative to {first} commits: {}",
                rows.join(", ")
            );
        }
    }
    if let Some(&(_, base)) = per_commit.first() {
        let ratios: Vec<String> = per_commit
            .iter()
            .map(|(n, ms)| format!("{n}: {:.2}x", ms / base))
            .collect();
        println!(
            "time per commit relative to {} commits: {}",
            per_commit[0].0,
            ratios.join(", ")
        );
    }
}
