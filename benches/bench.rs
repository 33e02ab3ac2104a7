//! Benchmarks that print figures (`cargo bench --bench bench`):
//! - verifying one key-signed bundle in-process (parse, signer, signature, subject, policy);
//! - the whole `ci-attest verify` process (spawned, as CI runs it);
//! - parsing 100 MB JUnit and LCOV reports: throughput and peak memory (each parse runs in a fresh
//!   child process so its peak resident set is its own);
//! - verifying one keyless bundle (signed by the local sigstore services, `tests/sigstore-local`;
//!   skipped when they are not installed) with the sigstore verifier in-process, and the whole
//!   `ci-attest verify-bundle` process;
//! - verifying one public-good keyless bundle (P-384 chain, a sigstore-conformance vector).

use ci_attest::git::Repo;
use ci_attest::judge::{Judge, NoKeys};
use ci_attest::policy::Policy;
use ci_attest::store::StoredBundle;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

const BIN: &str = env!("CARGO_BIN_EXE_ci-attest");

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(["-c", "user.name=b", "-c", "user.email=b@example.invalid"])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git")
        .success();
    assert!(ok, "git {args:?}");
}

fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let n = samples.len();
    let mean = samples.iter().sum::<Duration>() / n as u32;
    format!(
        "mean {:>9.3} ms  median {:>9.3} ms  p95 {:>9.3} ms  (n = {n})",
        mean.as_secs_f64() * 1e3,
        samples[n / 2].as_secs_f64() * 1e3,
        samples[(n * 95 / 100).min(n - 1)].as_secs_f64() * 1e3
    )
}

/// A repository with one attested commit, made with the real binary.
fn attested_repo(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("repo");
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
    git(&root, &["commit", "-qm", "x"]);
    for args in [
        &["keygen", "--out", "keys", "--no-password"][..],
        &["run", "--key", "keys/ci-attest.key"][..],
    ] {
        let out = Command::new(BIN)
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
    root
}

fn bench_verify(dir: &Path) {
    let root = attested_repo(dir);
    let repo = Repo::discover(&root).expect("repo");
    let id = repo.resolve("HEAD").expect("head");
    let commit = repo.commit_info(&id).expect("commit");
    let policy = Policy::load(&root.join("policies/default.toml")).expect("policy");
    let bundle_path = std::fs::read_dir(root.join(".ci-attest"))
        .expect("store")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".sigstore.json"))
        // The local-run bundle, not the test-result one stored beside it (read_dir has no order).
        .find(|p| std::fs::read(p).is_ok_and(|b| !ci_attest::verify::is_test_result_bundle(&b)))
        .expect("a local-run bundle");
    let bundles = vec![StoredBundle {
        location: bundle_path.display().to_string(),
        bytes: std::fs::read(&bundle_path).expect("read"),
    }];
    let trusted_root = ci_attest::trust::TrustedRoot::production();
    let judge = Judge::new(&policy, &NoKeys, &trusted_root, SystemTime::now());
    let fetched = ci_attest::store::Fetched::of(bundles);
    // Warm up, then measure.
    for _ in 0..20 {
        assert_eq!(
            judge.commit(&commit, &fetched).verdict,
            ci_attest::report::Verdict::Accepted
        );
    }
    let samples: Vec<Duration> = (0..if full() { 500 } else { 5 })
        .map(|_| {
            let t = Instant::now();
            let r = judge.commit(&commit, &fetched);
            let d = t.elapsed();
            assert_eq!(r.verdict, ci_attest::report::Verdict::Accepted);
            d
        })
        .collect();
    println!("verify one bundle, in-process          {}", stats(samples));

    // The same, with five `[[rule]]` CEL expressions added to the policy: load and judge.
    let rules = [
        "double(checks.tests.tests.skipped) <= double(checks.tests.tests.total) * 0.05",
        "checks.tests.tests.failed == 0 && size(checks.tests.failedTests) == 0",
        "checks.tests.tests.passed >= 1 && checks.tests.exitCode == 0",
        "predicate.checks.all(c, c.durationMs < 600000)",
        "signer.kind == \"key\" && predicate.source.pristine",
    ]
    .iter()
    .enumerate()
    .map(|(i, e)| format!("\n[[rule]]\nname = \"r{i}\"\nexpr = '{e}'\nmessage = \"m\"\n"))
    .collect::<String>();
    let policy_dir = root.join("policies");
    let text = std::fs::read_to_string(policy_dir.join("default.toml")).expect("policy") + &rules;
    let n = if full() { 200 } else { 3 };
    let samples: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let p = Policy::parse(&text, "rules.toml", &policy_dir).expect("the rules load");
            let d = t.elapsed();
            assert_eq!(p.rules.len(), 5);
            d
        })
        .collect();
    println!("load a policy with 5 CEL rules         {}", stats(samples));
    let with_rules = Policy::parse(&text, "rules.toml", &policy_dir).expect("loads");
    let judge = Judge::new(&with_rules, &NoKeys, &trusted_root, SystemTime::now());
    let samples: Vec<Duration> = (0..if full() { 500 } else { 5 })
        .map(|_| {
            let t = Instant::now();
            let r = judge.commit(&commit, &fetched);
            let d = t.elapsed();
            assert_eq!(r.verdict, ci_attest::report::Verdict::Accepted, "{r:?}");
            d
        })
        .collect();
    println!("verify one bundle, 5 CEL rules         {}", stats(samples));

    let samples: Vec<Duration> = (0..if full() { 30 } else { 2 })
        .map(|_| {
            let t = Instant::now();
            let out = Command::new(BIN)
                .args(["verify", "--format", "json"])
                .current_dir(&root)
                .output()
                .expect("runs");
            let d = t.elapsed();
            assert!(out.status.success());
            d
        })
        .collect();
    println!("`ci-attest verify`, whole process      {}", stats(samples));
}

/// The local sigstore services (`tests/sigstore-local/server.mjs`), if node and their packages are
/// installed: the child (it exits when its stdin closes, i.e. when dropped) and its address line.
fn start_local_sigstore(out: &Path) -> Option<(std::process::Child, serde_json::Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sigstore-local");
    if !dir
        .join("node_modules/@sigstore/mock/package.json")
        .is_file()
    {
        return None;
    }
    let mut child = Command::new("node")
        .arg(dir.join("server.mjs"))
        .arg("--dir")
        .arg(out)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .ok()?;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take()?),
        &mut line,
    )
    .ok()?;
    let info = serde_json::from_str(&line).ok()?;
    Some((child, info))
}

/// One keyless bundle from the local services, verified offline: `verify::sigstore::verify`
/// in-process (certificate chain and SCT, SET, inclusion proof and signed checkpoint, RFC 3161
/// timestamp, DSSE signature, identity, subject) and the whole `ci-attest verify-bundle` process.
fn bench_keyless(dir: &Path) {
    use ci_attest::sign::keyless::{Services, sign_statement_keyless};
    use ci_attest::sign::oidc::{IdentityToken, unsigned_jwt};
    use ci_attest::verify::cert::IdentityMatcher;
    use ci_attest::verify::sigstore::{Artifact, Signer, verify};
    use sha2::{Digest as _, Sha256};

    const ISSUER: &str = "https://token.actions.githubusercontent.com";
    const IDENTITY: &str = "https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main";
    let out = dir.join("sigstore-local");
    std::fs::create_dir_all(&out).expect("mkdir");
    let Some((child, info)) = start_local_sigstore(&out) else {
        println!("keyless: skipped (run tests/sigstore-local/install.sh)");
        return;
    };
    let url = |k: &str| info[k].as_str().expect(k).to_owned();
    let services = Services {
        fulcio_url: url("fulcio"),
        rekor_url: url("rekor"),
        tsa_url: Some(url("tsa")),
    };
    let now = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let token = IdentityToken::parse(&unsigned_jwt(&serde_json::json!({
        "iss": ISSUER, "sub": IDENTITY, "aud": "sigstore",
        "iat": now, "nbf": now, "exp": now + 600,
    })))
    .expect("token");
    let digest = Sha256::digest(b"keyless bench artifact");
    let statement = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"a","digest":{{"sha256":"{}"}}}}],"predicateType":"https://ci-attest.dev/local-run/v1","predicate":{{"checks":[]}}}}"#,
        hex::encode(digest)
    );
    // A few entries first, so the inclusion proof has hashes to check.
    let mut bundle = None;
    for _ in 0..4 {
        bundle = Some(
            sign_statement_keyless(statement.as_bytes(), &token, &services, SystemTime::now())
                .expect("signs"),
        );
    }
    let bytes = bundle.expect("signed").to_json().into_bytes();
    let bundle_path = dir.join("keyless.sigstore.json");
    std::fs::write(&bundle_path, &bytes).expect("write");
    let root_path = dir.join("keyless-trusted_root.json");
    std::fs::copy(url("trusted_root"), &root_path).expect("copy the trusted root");
    // Verification is offline: the services are no longer needed.
    drop(child);

    let root = ci_attest::trust::TrustedRoot::from_json(&std::fs::read(&root_path).expect("root"))
        .expect("trusted root");
    let identity = IdentityMatcher::Exact(IDENTITY.to_owned());
    let signer = Signer::Keyless {
        issuer: ISSUER,
        identity: &identity,
    };
    let artifact = Artifact::Digest {
        algorithm: "sha256".into(),
        digest: digest.to_vec(),
    };
    // Past `TABLE_AFTER_USES` (src/verify/pki.rs): the figure is the steady state of a verifier
    // that has verified a few dozen bundles (its log keys have their tables); a one-shot
    // `verify-bundle` is the process figure below.
    for _ in 0..40 {
        verify(&bytes, &root, &signer, Some(&artifact)).expect("verifies");
    }
    let samples: Vec<Duration> = (0..samples(200, 5))
        .map(|_| {
            let t = Instant::now();
            let r = verify(&bytes, &root, &signer, Some(&artifact));
            let d = t.elapsed();
            assert!(r.is_ok(), "{:?}", r.err());
            d
        })
        .collect();
    println!("verify keyless bundle, in-process      {}", stats(samples));

    let digest_arg = format!("sha256:{}", hex::encode(digest));
    let samples: Vec<Duration> = (0..if full() { 20 } else { 2 })
        .map(|_| {
            let t = Instant::now();
            let out = Command::new(BIN)
                .arg("verify-bundle")
                .arg("--bundle")
                .arg(&bundle_path)
                .args(["--certificate-identity", IDENTITY])
                .args(["--certificate-oidc-issuer", ISSUER])
                .arg("--trusted-root")
                .arg(&root_path)
                .arg(&digest_arg)
                .output()
                .expect("runs");
            let d = t.elapsed();
            assert!(
                out.status.success(),
                "verify-bundle: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            d
        })
        .collect();
    println!("`ci-attest verify-bundle`, keyless     {}", stats(samples));
}

/// A public-good keyless bundle (the sigstore-conformance `happy-path-intoto-in-dsse-v3` vector:
/// DSSE, Fulcio's P-384 intermediate under its P-384 root, Rekor v1 entry) verified in-process
/// against the embedded production root, as [`bench_keyless`] does for the local services.
fn bench_public_good() {
    use ci_attest::verify::cert::IdentityMatcher;
    use ci_attest::verify::sigstore::{Artifact, Signer, verify};
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/third-party");
    let bytes = std::fs::read(vectors.join(
        "sigstore-conformance/bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json",
    ))
    .expect("the conformance vector");
    let root = ci_attest::trust::TrustedRoot::production();
    let identity = IdentityMatcher::Exact(
        "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main".to_owned(),
    );
    let signer = Signer::Keyless {
        issuer: "https://token.actions.githubusercontent.com",
        identity: &identity,
    };
    let artifact = Artifact::Digest {
        algorithm: "sha256".into(),
        digest: hex::decode("a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf")
            .expect("hex"),
    };
    for _ in 0..40 {
        verify(&bytes, &root, &signer, Some(&artifact)).expect("verifies");
    }
    let samples: Vec<Duration> = (0..samples(200, 5))
        .map(|_| {
            let t = Instant::now();
            let r = verify(&bytes, &root, &signer, Some(&artifact));
            let d = t.elapsed();
            assert!(r.is_ok(), "{:?}", r.err());
            d
        })
        .collect();
    println!("verify public-good keyless (P-384)     {}", stats(samples));
}

/// How many timed samples: `full` under `cargo bench`, `quick` otherwise; `CI_ATTEST_BENCH_SAMPLES`
/// overrides both (e.g. to profile a steady state with `perf record -D`).
fn samples(full_count: usize, quick: usize) -> usize {
    std::env::var("CI_ATTEST_BENCH_SAMPLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if full() { full_count } else { quick })
}

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it, and then
/// it is a quick smoke run of the same code (1 MB reports, few samples) instead of the full figures.
fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn target_bytes() -> usize {
    if full() {
        100 * 1024 * 1024
    } else {
        1024 * 1024
    }
}

fn write_junit(path: &Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut n = 0usize;
    writeln!(f, "<?xml version=\"1.0\"?>\n<testsuites>").expect("w");
    let mut suite = 0;
    while n < target_bytes() {
        let head = format!("<testsuite name=\"suite{suite}\" tests=\"1000\">\n");
        f.write_all(head.as_bytes()).expect("w");
        n += head.len();
        for i in 0..1000 {
            let case = match i % 50 {
                0 => format!(
                    "  <testcase classname=\"pkg.mod{suite}\" name=\"test_{i}\" time=\"0.01\"><failure message=\"boom\">assert 1 == 2</failure></testcase>\n"
                ),
                1 => format!(
                    "  <testcase classname=\"pkg.mod{suite}\" name=\"test_{i}\" time=\"0\"><skipped/></testcase>\n"
                ),
                _ => format!(
                    "  <testcase classname=\"pkg.mod{suite}\" name=\"test_{i}\" time=\"0.001\"/>\n"
                ),
            };
            f.write_all(case.as_bytes()).expect("w");
            n += case.len();
        }
        f.write_all(b"</testsuite>\n").expect("w");
        suite += 1;
    }
    f.write_all(b"</testsuites>\n").expect("w");
}

fn write_lcov(path: &Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut n = 0usize;
    let mut file = 0;
    while n < target_bytes() {
        let mut rec = format!("TN:\nSF:src/file{file}.rs\nFN:1,f{file}\nFNDA:1,f{file}\n");
        for line in 1..=2000 {
            rec.push_str(&format!("DA:{line},{}\n", line % 7));
            if line % 10 == 0 {
                rec.push_str(&format!("BRDA:{line},0,0,{}\n", line % 3));
            }
        }
        rec.push_str("end_of_record\n");
        f.write_all(rec.as_bytes()).expect("w");
        n += rec.len();
        file += 1;
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Child mode: parse one file, print "seconds peak_kib".
fn child(format: &str, path: &str) {
    let format = match format {
        "junit" => ci_attest::collect::ReportFormat::Junit,
        _ => ci_attest::collect::ReportFormat::Lcov,
    };
    let before = peak_rss_kib();
    let t = Instant::now();
    let (parsed, _) =
        ci_attest::collect::parse_file_hashed(format, Path::new(path)).expect("parses");
    let secs = t.elapsed().as_secs_f64();
    std::hint::black_box(parsed);
    println!("{secs} {before} {}", peak_rss_kib());
}

fn bench_parse(dir: &Path) {
    for (format, writer) in [("junit", write_junit as fn(&Path)), ("lcov", write_lcov)] {
        let path = dir.join(format!("big.{format}"));
        writer(&path);
        let size = std::fs::metadata(&path).expect("meta").len() as f64;
        let me = std::env::current_exe().expect("exe");
        let mut best = f64::MAX;
        let mut peak = (0, 0);
        for _ in 0..3 {
            let out = Command::new(&me)
                .args(["--child", format, &path.to_string_lossy()])
                .output()
                .expect("child");
            let line = String::from_utf8_lossy(&out.stdout);
            let v: Vec<f64> = line
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            assert_eq!(
                v.len(),
                3,
                "child said {line:?} {}",
                String::from_utf8_lossy(&out.stderr)
            );
            if v[0] < best {
                best = v[0];
                peak = (v[1] as u64, v[2] as u64);
            }
        }
        println!(
            "parse {:<6} {:>6.1} MB (+ sha256)     {:>7.1} MB/s  peak RSS {:>6.1} MiB (process baseline {:.1} MiB)",
            format,
            size / 1e6,
            size / 1e6 / best,
            peak.1 as f64 / 1024.0,
            peak.0 as f64 / 1024.0
        );
        std::fs::remove_file(&path).ok();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], &args[i + 2]);
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    println!(
        "ci-attest benchmarks ({} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    // `cargo bench --bench bench -- keyless public-good` runs only the named groups.
    let only: Vec<&str> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let wanted = |name: &str| only.is_empty() || only.contains(&name);
    if wanted("verify") {
        bench_verify(dir.path());
    }
    if wanted("parse") {
        bench_parse(dir.path());
    }
    if wanted("keyless") {
        bench_keyless(dir.path());
    }
    if wanted("public-good") {
        bench_public_good();
    }
}
