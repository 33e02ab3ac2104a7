//! Cargo projects and workspaces.

use super::{Cache, Check, Plan, Tools};
use std::path::Path;
use std::process::{Command, Stdio};

/// The nextest profile ci-attest's test check uses, committed as `.ci-attest/nextest.toml` and
/// passed with `--tool-config-file` (a repository's own `.config/nextest.toml` still wins).
pub const NEXTEST_CONFIG: &str = "# Written by `ci-attest init`: the nextest profile of the `tests` check in .ci-attest.toml\n\
# (passed with --tool-config-file; commit this file).\n\
[profile.ci-attest]\nfail-fast = false\n\n[profile.ci-attest.junit]\npath = \"junit.xml\"\n";

/// What `cargo metadata` says about the workspace: its members and whether any has a library
/// (only libraries have doctests).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Workspace {
    members: usize,
    has_lib: bool,
}

fn metadata(root: &Path) -> Option<Workspace> {
    let out = Command::new("cargo")
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let members = json["workspace_members"].as_array()?.len();
    let has_lib = json["packages"].as_array()?.iter().any(|p| {
        p["targets"].as_array().is_some_and(|ts| {
            ts.iter().any(|t| {
                t["kind"].as_array().is_some_and(|k| {
                    k.iter()
                        .any(|k| matches!(k.as_str(), Some("lib" | "rlib" | "proc-macro")))
                }) && t["doctest"].as_bool() != Some(false)
            })
        })
    });
    Some(Workspace { members, has_lib })
}

/// Without cargo: the manifest alone (a `[workspace]` table; a library if `src/lib.rs` exists
/// anywhere one level down).
fn from_files(root: &Path) -> Workspace {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let table: toml::Table = toml::from_str(&manifest).unwrap_or_default();
    let members = table
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .map_or(1, Vec::len);
    let has_lib = root.join("src/lib.rs").is_file()
        || std::fs::read_dir(root)
            .is_ok_and(|d| d.flatten().any(|e| e.path().join("src/lib.rs").is_file()));
    Workspace { members, has_lib }
}

pub(super) fn plan(root: &Path, tools: &Tools) -> Plan {
    let ws = metadata(root).unwrap_or_else(|| from_files(root));
    plan_for(&ws, root.join("Cargo.lock").is_file(), tools)
}

fn plan_for(ws: &Workspace, has_lock: bool, tools: &Tools) -> Plan {
    let mut checks = Vec::new();
    let mut extra = Vec::new();
    let mut notes = Vec::new();
    // Reports stay out of `target`: it is a [[cache]], mounted for the checks only, and ci-attest
    // reads reports from the checkout itself.
    let out = ".ci-attest/reports";
    let doctests = [
        "RUSTC_BOOTSTRAP=1 cargo test --workspace --doc --no-fail-fast -- -Z unstable-options --format json > .ci-attest/reports/doctests.json || docs=$?".to_string(),
        "grep '\"type\": *\"suite\"' .ci-attest/reports/doctests.json || true".to_string(),
    ];
    if tools.nextest {
        let mut run = vec![
            "rm -rf .ci-attest/reports target/nextest/ci-attest && mkdir -p .ci-attest/reports".into(),
            "cargo nextest run --workspace --no-fail-fast --no-tests=warn --tool-config-file \"ci-attest:$PWD/.ci-attest/nextest.toml\" --profile ci-attest || tests=$?".into(),
            "cp target/nextest/ci-attest/junit.xml .ci-attest/reports/junit.xml".into(),
        ];
        let mut reports = vec![("junit", format!("{out}/junit.xml"))];
        let mut comment = vec![
            "cargo-nextest's JUnit report (profile in .ci-attest/nextest.toml, commit it).".into(),
        ];
        if ws.has_lib {
            comment.push(
                "nextest runs no doctests: `cargo test --doc` does, as libtest JSON (RUSTC_BOOTSTRAP"
                    .into(),
            );
            comment.push(
                "unlocks `--format json` on stable); its suite summaries go to the log.".into(),
            );
            run.extend(doctests.iter().cloned());
            run.push("[ \"${tests:-0}\" -eq 0 ] && [ \"${docs:-0}\" -eq 0 ]".into());
            reports.push(("libtest-json", format!("{out}/doctests.json")));
        } else {
            run.push("[ \"${tests:-0}\" -eq 0 ]".into());
        }
        checks.push(Check {
            name: "tests",
            kind: "tests",
            comment,
            run,
            reports,
        });
        extra.push((
            ".ci-attest/nextest.toml".to_string(),
            NEXTEST_CONFIG.to_string(),
        ));
    } else {
        checks.push(Check {
            name: "tests",
            kind: "tests",
            comment: vec![
                "libtest's JSON events, doctests included (RUSTC_BOOTSTRAP unlocks `--format json` on"
                    .into(),
                "stable); the suite summaries go to the log. With cargo-nextest installed, `ci-attest"
                    .into(),
                "init` writes a nextest check instead.".into(),
            ],
            run: vec![
                format!("mkdir -p {out}"),
                format!("RUSTC_BOOTSTRAP=1 cargo test --workspace --no-fail-fast -- -Z unstable-options --format json > {out}/tests.json || tests=$?"),
                format!("grep '\"type\": *\"suite\"' {out}/tests.json || true"),
                "[ \"${tests:-0}\" -eq 0 ]".into(),
            ],
            reports: vec![("libtest-json", format!("{out}/tests.json"))],
        });
    }
    checks.push(Check {
        name: "lint",
        kind: "lint",
        comment: Vec::new(),
        run: vec![
            format!("mkdir -p {out}"),
            format!(
                "cargo clippy --workspace --all-targets --message-format=json > {out}/clippy.json"
            ),
        ],
        reports: vec![("clippy", format!("{out}/clippy.json"))],
    });
    let mut trailer = Vec::new();
    let mut thresholds = vec![
        "\"tests.failed\" = { max = 0 }".to_string(),
        "\"tests.total\" = { min = 1 }".to_string(),
        "\"lint.errors\" = { max = 0 }".to_string(),
    ];
    if tools.llvm_cov {
        checks.push(Check {
            name: "coverage",
            kind: "coverage",
            comment: vec![
                "cargo-llvm-cov (runs the tests once more, instrumented; failing tests are the tests"
                    .into(),
                "check's business, so --ignore-run-fail still writes the report).".into(),
            ],
            run: vec![
                format!("mkdir -p {out}"),
                format!("cargo llvm-cov --workspace --ignore-run-fail --lcov --output-path {out}/lcov.info"),
            ],
            reports: vec![("lcov", format!("{out}/lcov.info"))],
        });
        thresholds.push("\"coverage.lines\" = { min = 80.0 }".into());
    } else {
        trailer.push(
            "# Coverage: install cargo-llvm-cov (`cargo install cargo-llvm-cov`, then\n\
             # `rustup component add llvm-tools-preview`) and add:\n\
             # [[check]]\n\
             # name = \"coverage\"\n\
             # kind = \"coverage\"\n\
             # run = \"mkdir -p .ci-attest/reports && cargo llvm-cov --workspace --ignore-run-fail --lcov --output-path .ci-attest/reports/lcov.info\"\n\
             # reports = [{ format = \"lcov\", path = \".ci-attest/reports/lcov.info\" }]"
                .to_string(),
        );
        notes.push("coverage is left out: cargo-llvm-cov is not installed (see the comment at the end of .ci-attest.toml)".into());
    }
    if !has_lock {
        notes.push("there is no Cargo.lock: commit one (`cargo generate-lockfile`) so that runs build what was tested".into());
    }
    let mut caches = vec![Cache {
        path: "target".into(),
        key: vec![
            "Cargo.lock".into(),
            "rust-toolchain.toml".into(),
            "rust-toolchain".into(),
        ],
    }];
    for home in [".cargo/registry", ".cargo/git"] {
        if tools.home_has(home) {
            caches.push(Cache {
                path: format!("~/{home}"),
                key: vec!["Cargo.lock".into()],
            });
        }
    }
    let summary = match (ws.members, tools.nextest) {
        (n, nextest) if n > 1 => format!(
            "cargo workspace ({n} members), tests with {}",
            if nextest {
                "cargo-nextest"
            } else {
                "cargo test"
            }
        ),
        (_, nextest) => format!(
            "cargo package, tests with {}",
            if nextest {
                "cargo-nextest"
            } else {
                "cargo test"
            }
        ),
    };
    Plan {
        summary,
        checks,
        caches,
        trailer,
        extra,
        thresholds,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::config_for;
    use super::*;

    const WORKSPACE: &[(&str, &str)] = &[
        ("Cargo.toml", "[workspace]\nmembers = [\"a\", \"b\"]\n"),
        (
            "a/Cargo.toml",
            "[package]\nname = \"a\"\nversion = \"0.1.0\"\n",
        ),
        ("a/src/lib.rs", "pub fn f() {}\n"),
        (
            "b/Cargo.toml",
            "[package]\nname = \"b\"\nversion = \"0.1.0\"\n",
        ),
        ("b/src/main.rs", "fn main() {}\n"),
    ];

    #[test]
    fn without_nextest_cargo_test_runs_the_workspace_and_keeps_going() {
        let (text, plan) = config_for(WORKSPACE, &Tools::default());
        assert!(
            text.contains(
                "cargo test --workspace --no-fail-fast -- -Z unstable-options --format json"
            ),
            "{text}"
        );
        assert!(plan.summary.contains("2 members"), "{}", plan.summary);
        assert!(plan.extra.is_empty());
        assert!(
            text.contains("# [[check]]\n# name = \"coverage\""),
            "{text}"
        );
        assert!(
            text.contains("path = \"target\"\nkey = [\"Cargo.lock\""),
            "{text}"
        );
    }

    #[test]
    fn with_nextest_doctests_run_beside_it() {
        let tools = Tools {
            nextest: true,
            llvm_cov: true,
            home: None,
        };
        let (text, plan) = config_for(WORKSPACE, &tools);
        assert!(
            text.contains("cargo nextest run --workspace --no-fail-fast"),
            "{text}"
        );
        assert!(text.contains("cargo test --workspace --doc"), "{text}");
        assert!(text.contains("format = \"junit\""), "{text}");
        assert!(text.contains("format = \"libtest-json\""), "{text}");
        assert!(text.contains("cargo llvm-cov --workspace"), "{text}");
        assert_eq!(plan.extra[0].0, ".ci-attest/nextest.toml");
        let profile: toml::Table = toml::from_str(&plan.extra[0].1).expect("toml");
        assert_eq!(
            profile["profile"]["ci-attest"]["junit"]["path"].as_str(),
            Some("junit.xml")
        );
    }

    #[test]
    fn a_workspace_without_a_library_runs_no_doctests() {
        let ws = Workspace {
            members: 1,
            has_lib: false,
        };
        let tools = Tools {
            nextest: true,
            ..Tools::default()
        };
        let plan = plan_for(&ws, true, &tools);
        let run = plan.checks[0].run.join("\n");
        assert!(!run.contains("--doc"), "{run}");
        assert_eq!(plan.checks[0].reports.len(), 1);
    }

    #[test]
    fn home_caches_only_when_they_exist() {
        let home = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(home.path().join(".cargo/registry")).expect("mkdir");
        let tools = Tools {
            home: Some(home.path().to_path_buf()),
            ..Tools::default()
        };
        let (text, _) = config_for(WORKSPACE, &tools);
        assert!(text.contains("path = \"~/.cargo/registry\""), "{text}");
        assert!(!text.contains("~/.cargo/git"), "{text}");
    }
}
