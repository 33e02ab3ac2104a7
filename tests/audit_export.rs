//! The auditor's package, through the real binary: `audit --export DIR` writes what a replay
//! needs; `audit --import DIR` (or `audit DIR`) replays it on a copy with the repository deleted,
//! byte-identical in every format; a package that does not match its manifest is rejected with a
//! `package-tampered` finding naming the file.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Copies a folder tree (regular files and folders only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// A project with an attested first commit, an unattested second one, and `--at` an hour after
/// the bundle.
fn two_commits() -> (Project, String) {
    let p = attested();
    p.write("README", "a change nobody attested");
    p.commit("unattested");
    let at = p.bundle_time(3600);
    (p, at)
}

fn audit(p: &Project, at: &str, format: &str, extra: &[&str]) -> Output {
    p.cmd()
        .args(["audit", "--range", "HEAD", "--at", at, "--format", format])
        .args(extra)
        .output()
        .expect("runs")
}

fn import(dir: &Path, format: &str) -> Output {
    // From a folder that is no repository at all.
    let cwd = tempfile::tempdir().expect("tempdir");
    bin()
        .current_dir(cwd.path())
        .args(["audit", "--import"])
        .arg(dir)
        .args(["--format", format])
        .output()
        .expect("runs")
}

/// Exports the project's audit to a folder beside the repository; returns the package path and
/// the export run's JSON report.
fn export(p: &Project, at: &str) -> (PathBuf, Vec<u8>) {
    let pkg = p.root.parent().expect("parent").join("package");
    let out = audit(p, at, "json", &["--export", pkg.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("MANIFEST.json sha256 "),
        "{}",
        text(&out)
    );
    (pkg, out.stdout)
}

fn manifest(pkg: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(pkg.join("MANIFEST.json")).expect("manifest"))
        .expect("JSON")
}

#[test]
fn export_then_import_without_the_repository_gives_the_same_report_bytes() {
    let (p, at) = two_commits();
    let text_report = audit(&p, &at, "text", &[]).stdout;
    let md_report = audit(&p, &at, "markdown", &[]).stdout;
    let (pkg, json_report) = export(&p, &at);
    let commits: Vec<String> = git(&p.root, &["rev-list", "--reverse", "HEAD"])
        .lines()
        .map(str::to_string)
        .collect();

    // What a replay needs, and nothing of the working tree.
    let files = manifest(&pkg)["files"].clone();
    let names: Vec<&String> = files.as_object().expect("files").keys().collect();
    for needed in [
        "package.json",
        "policy/policy.toml",
        "policy/keys/1.pub",
        "trusted_root.json",
        "report/audit.json",
    ] {
        assert!(files.get(needed).is_some(), "{needed} in {names:?}");
    }
    for c in &commits {
        assert!(files.get(format!("commits/{c}")).is_some(), "{names:?}");
    }
    let bundles = names.iter().filter(|n| n.starts_with("bundles/")).count();
    assert_eq!(bundles, p.all_bundles().len(), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.contains("README") || n.contains("fixtures")),
        "{names:?}"
    );
    assert_eq!(
        std::fs::read(pkg.join("report/audit.json")).expect("kept report"),
        json_report
    );

    // On another machine: a copy, the repository (and its keys) gone.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let copy = elsewhere.path().join("received");
    copy_tree(&pkg, &copy);
    std::fs::remove_dir_all(&p.root).expect("delete the repository");
    std::fs::remove_dir_all(&pkg).expect("delete the original package");

    for (format, original) in [
        ("json", &json_report),
        ("text", &text_report),
        ("markdown", &md_report),
    ] {
        let out = import(&copy, format);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(original),
            "{format} report differs"
        );
    }
    let json: serde_json::Value = serde_json::from_slice(&json_report).expect("JSON");
    assert_eq!(json["commits"][0]["verdict"], "accepted", "{json:#}");
    assert_eq!(json["commits"][1]["verdict"], "rejected", "{json:#}");

    // `audit DIR` is the same as `audit --import DIR`; --out writes the three reports.
    let out_dir = elsewhere.path().join("reports");
    let out = bin()
        .current_dir(elsewhere.path())
        .args(["audit", "received", "--format", "json", "--out", "reports"])
        .output()
        .expect("runs");
    assert_eq!(out.stdout, json_report, "{}", text(&out));
    assert_eq!(
        std::fs::read(out_dir.join("audit.json")).expect("audit.json"),
        json_report
    );
    assert!(out_dir.join("report.html").is_file());
}

/// Exports once, then applies each tampering to a fresh copy and expects a rejection naming
/// `file`.
#[test]
fn a_tampered_package_is_rejected_with_a_finding_naming_the_file() {
    let (p, at) = two_commits();
    let (pkg, _) = export(&p, &at);
    let commits: Vec<String> = git(&p.root, &["rev-list", "--reverse", "HEAD"])
        .lines()
        .map(str::to_string)
        .collect();
    let bundle = manifest(&pkg)["files"]
        .as_object()
        .expect("files")
        .keys()
        .find(|n| n.starts_with("bundles/"))
        .expect("a bundle")
        .clone();

    type Tamper = Box<dyn Fn(&Path)>;
    let set_manifest = |dir: &Path, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut m = manifest(dir);
        edit(&mut m);
        std::fs::write(
            dir.join("MANIFEST.json"),
            serde_json::to_vec_pretty(&m).expect("JSON"),
        )
        .expect("write");
    };
    let b = bundle.clone();
    let first = commits[0].clone();
    let second = commits[1].clone();
    let cases: Vec<(&str, String, Tamper)> = vec![
        (
            "a changed bundle",
            bundle.clone(),
            Box::new(move |d: &Path| {
                let path = d.join(&b);
                let mut bytes = std::fs::read(&path).expect("read");
                let i = bytes.len() / 2;
                bytes[i] ^= 1;
                std::fs::write(&path, bytes).expect("write");
            }),
        ),
        (
            "an added file",
            "bundles/extra.sigstore.json".into(),
            Box::new(|d: &Path| {
                std::fs::write(d.join("bundles/extra.sigstore.json"), "{}").expect("write")
            }),
        ),
        (
            "a removed file",
            "policy/keys/1.pub".into(),
            Box::new(|d: &Path| std::fs::remove_file(d.join("policy/keys/1.pub")).expect("rm")),
        ),
        (
            "a symbolic link in place of a file",
            "trusted_root.json".into(),
            Box::new(|d: &Path| {
                let path = d.join("trusted_root.json");
                let real = d.parent().expect("parent").join("elsewhere.json");
                std::fs::rename(&path, &real).expect("move");
                std::os::unix::fs::symlink(&real, &path).expect("symlink");
            }),
        ),
        (
            // Never opened for reading, so the import cannot hang on it.
            "a FIFO in place of a file",
            "policy/policy.toml".into(),
            Box::new(|d: &Path| {
                let path = d.join("policy/policy.toml");
                std::fs::remove_file(&path).expect("rm");
                let made = std::process::Command::new("mkfifo")
                    .arg(&path)
                    .status()
                    .expect("mkfifo runs");
                assert!(made.success());
            }),
        ),
        (
            "a path that leaves the package",
            "../outside".into(),
            Box::new(move |d: &Path| {
                set_manifest(d, &|m| {
                    m["files"]["../outside"] =
                        serde_json::json!({"sha256": "00".repeat(32), "size": 1});
                })
            }),
        ),
        (
            // The manifest is made to agree: only the object's own hash gives it away.
            "another commit's object filed under this commit",
            format!("commits/{second}"),
            Box::new(move |d: &Path| {
                let object = std::fs::read(d.join(format!("commits/{first}"))).expect("read");
                std::fs::write(d.join(format!("commits/{second}")), &object).expect("write");
                let digest = {
                    use sha2::Digest;
                    hex::encode(sha2::Sha256::digest(&object))
                };
                let name = format!("commits/{second}");
                set_manifest(d, &|m| {
                    m["files"][&name] = serde_json::json!({"sha256": digest, "size": object.len()});
                })
            }),
        ),
    ];
    for (what, file, tamper) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join("pkg");
        copy_tree(&pkg, &copy);
        tamper(&copy);
        let out = import(&copy, "json");
        assert_eq!(out.status.code(), Some(1), "{what}: {}", text(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{what}: no JSON ({e}): {}", text(&out)));
        assert_eq!(
            report["schema"], "https://ci-attest.dev/audit-package-report/v1",
            "{what}"
        );
        assert_finding(&report, "package-tampered");
        let named = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| {
                f["code"] == "package-tampered"
                    && f["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with(&format!("{file}: ")))
            });
        assert!(named, "{what}: no finding names {file}: {report:#}");
        // And the text form says so, too.
        let out = import(&copy, "text");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("REJECTED, not replayed"),
            "{what}: {}",
            text(&out)
        );
    }
}

#[test]
fn an_export_never_writes_into_a_folder_that_holds_files() {
    let (p, at) = two_commits();
    let pkg = p.root.parent().expect("parent").join("taken");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    std::fs::write(pkg.join("notes.txt"), "mine").expect("write");
    let out = audit(&p, &at, "json", &["--export", pkg.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("an export never overwrites"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(pkg.join("notes.txt")).expect("kept"),
        "mine"
    );
    let entries = std::fs::read_dir(&pkg).expect("read_dir").count();
    assert_eq!(entries, 1, "nothing was added");
    // Nor is a temporary folder left behind beside it.
    let leftovers: Vec<_> = std::fs::read_dir(pkg.parent().expect("parent"))
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".ci-attest-export-")
        })
        .collect();
    assert!(leftovers.is_empty());
}
