//! `ci-attest init`: a starting configuration and policy for the project at hand.

use super::{CmdResult, EXIT_OK, Failure};
use ci_attest::config::CONFIG_FILE;
use ci_attest::git::Repo;
use std::path::Path;

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// The project shapes `init` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Project {
    Cargo,
    Npm,
    Python,
    Unknown,
}

fn detect(root: &Path) -> Project {
    if root.join("Cargo.toml").exists() {
        Project::Cargo
    } else if root.join("package.json").exists() {
        Project::Npm
    } else if [
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "requirements.txt",
    ]
    .iter()
    .any(|f| root.join(f).exists())
    {
        Project::Python
    } else {
        Project::Unknown
    }
}

fn config_for(project: Project) -> &'static str {
    match project {
        Project::Cargo => {
            r#"# ci-attest configuration: the checks `ci-attest run` runs on a pristine checkout.
# Each check's name is what policies/*.toml refers to.

[[check]]
name = "tests"
kind = "tests"
# libtest's JSON event stream (RUSTC_BOOTSTRAP unlocks `--format json` on stable toolchains).
run = "mkdir -p target && RUSTC_BOOTSTRAP=1 cargo test --quiet -- -Z unstable-options --format json > target/ci-attest-tests.json"
reports = [{ format = "libtest-json", path = "target/ci-attest-tests.json" }]

[[check]]
name = "lint"
kind = "lint"
run = "mkdir -p target && cargo clippy --all-targets --message-format=json > target/ci-attest-clippy.json"
reports = [{ format = "clippy", path = "target/ci-attest-clippy.json" }]

# With cargo-llvm-cov installed:
# [[check]]
# name = "coverage"
# kind = "coverage"
# run = "cargo llvm-cov --lcov --output-path target/lcov.info"
# reports = [{ format = "lcov", path = "target/lcov.info" }]

# The signing key and the store are the signer's settings, never the commit's: see
# .ci-attest.local.toml (untracked) or ~/.config/ci-attest/config.toml.
"#
        }
        Project::Npm => {
            r#"# ci-attest configuration: the checks `ci-attest run` runs on a pristine checkout.

[[check]]
name = "tests"
kind = "tests"
# needs jest and jest-junit as dev dependencies
run = "npm ci && JEST_JUNIT_OUTPUT_FILE=reports/junit.xml npx jest --ci --coverage --coverageReporters=lcov --reporters=default --reporters=jest-junit"
reports = [{ format = "junit", path = "reports/junit.xml" }]

[[check]]
name = "coverage"
kind = "coverage"
run = "test -f coverage/lcov.info"
reports = [{ format = "lcov", path = "coverage/lcov.info" }]

[[check]]
name = "lint"
kind = "lint"
# needs @microsoft/eslint-formatter-sarif
run = "npx eslint . --format @microsoft/eslint-formatter-sarif --output-file reports/eslint.sarif"
reports = [{ format = "sarif", path = "reports/eslint.sarif" }]

# The signing key and the store are the signer's settings, never the commit's: see
# .ci-attest.local.toml (untracked) or ~/.config/ci-attest/config.toml.
"#
        }
        Project::Python => {
            r#"# ci-attest configuration: the checks `ci-attest run` runs on a pristine checkout.

[[check]]
name = "tests"
kind = "tests"
# needs pytest and pytest-cov
run = "python3 -m pytest --junitxml=reports/junit.xml --cov --cov-report=xml:reports/coverage.xml"
reports = [{ format = "junit", path = "reports/junit.xml" }]

[[check]]
name = "coverage"
kind = "coverage"
run = "test -f reports/coverage.xml"
reports = [{ format = "cobertura", path = "reports/coverage.xml" }]

# The signing key and the store are the signer's settings, never the commit's: see
# .ci-attest.local.toml (untracked) or ~/.config/ci-attest/config.toml.
"#
        }
        Project::Unknown => {
            r#"# ci-attest configuration: the checks `ci-attest run` runs on a pristine checkout.
# Replace the command with your project's test command and point `reports` at its JUnit XML.

[[check]]
name = "tests"
kind = "custom"
run = "make test"

# The signing key and the store are the signer's settings, never the commit's: see
# .ci-attest.local.toml (untracked) or ~/.config/ci-attest/config.toml.
"#
        }
    }
}

fn policy_for(project: Project) -> String {
    let thresholds = match project {
        Project::Cargo => {
            "\"tests.failed\" = { max = 0 }\n\"tests.total\" = { min = 1 }\n\"lint.errors\" = { max = 0 }\n"
        }
        Project::Npm | Project::Python => {
            "\"tests.failed\" = { max = 0 }\n\"tests.total\" = { min = 1 }\n\"coverage.lines\" = { min = 85.0 }\n"
        }
        Project::Unknown => "\"tests.exit_code\" = { max = 0 }\n",
    };
    let checks = match project {
        Project::Cargo => "[\"tests\", \"lint\"]",
        Project::Npm => "[\"tests\", \"coverage\", \"lint\"]",
        Project::Python => "[\"tests\", \"coverage\"]",
        Project::Unknown => "[\"tests\"]",
    };
    format!(
        r#"# ci-attest policy: what an attestation must show for a commit to be accepted.
# See docs/policy.md for every key.

[[signer]]
name = "maintainer"
key = "../keys/ci-attest.pub"   # relative to this file; or fingerprint = "sha256:<hex>"

[require]
checks = {checks}
max_age = "30d"
pristine = true

[thresholds]
{thresholds}"#
    )
}

/// The commit of ci-attest's repository this binary was built from, when the build said so
/// (release builds set `CI_ATTEST_SOURCE_COMMIT`; see README "Install").
pub const SOURCE_COMMIT: Option<&str> = option_env!("CI_ATTEST_SOURCE_COMMIT");

/// The verifier workflow for the user's repository: the template with this version of ci-attest's
/// action, pinned to `source_commit` (40 hex) when known, else to the release tag.
pub fn verifier_workflow_at(source_commit: Option<&str>) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let pinned = source_commit
        .filter(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase);
    let action_ref = pinned.unwrap_or_else(|| format!("v{version}"));
    include_str!("templates/ci-attest-verify.yml")
        .replace("{{ACTION_REF}}", &action_ref)
        .replace("{{VERSION}}", version)
}

/// The verifier workflow this binary writes.
pub fn verifier_workflow() -> String {
    verifier_workflow_at(SOURCE_COMMIT)
}

fn write_new(path: &Path, text: &str) -> Result<bool, Failure> {
    if path.exists() {
        println!("kept     {} (already exists)", path.display());
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            Failure::unavailable(anyhow::anyhow!("cannot create {}: {e}", parent.display()))
        })?;
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
        Failure::unavailable(anyhow::anyhow!("cannot write in {}: {e}", dir.display()))
    })?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(|e| {
        Failure::unavailable(anyhow::anyhow!("cannot write {}: {e}", path.display()))
    })?;
    tmp.persist_noclobber(path).map_err(|e| {
        Failure::unavailable(anyhow::anyhow!(
            "cannot write {}: {}",
            path.display(),
            e.error
        ))
    })?;
    println!("wrote    {}", path.display());
    Ok(true)
}

/// Writes the starting files.
pub fn run(repo_dir: &Path, _args: Args) -> CmdResult {
    let repo = Repo::discover(repo_dir).map_err(Failure::usage)?;
    let root = repo.root();
    let project = detect(root);
    println!(
        "project  {}",
        match project {
            Project::Cargo => "cargo",
            Project::Npm => "npm",
            Project::Python => "python",
            Project::Unknown => "unknown (edit the check command)",
        }
    );
    write_new(&root.join(CONFIG_FILE), config_for(project))?;
    // The signer's settings: untracked, read from the working tree, never from a commit.
    write_new(
        &root.join(ci_attest::config::LOCAL_SETTINGS_FILE),
        "# This signer's settings (keep out of git): which key signs, where bundles go, extra\n# environment for the checks (pass_env = [...]), isolation.\n[signing]\nkey = \"keys/ci-attest.key\"\n",
    )?;
    write_new(&root.join("policies/default.toml"), &policy_for(project))?;
    write_new(
        &root.join(".github/workflows/ci-attest-verify.yml"),
        &verifier_workflow(),
    )?;
    println!(
        "\nnext: ci-attest keygen --out keys && ci-attest run && ci-attest verify\n      then commit the workflow and require the `ci-attest` check from the GitHub Actions app (docs/github.md)"
    );
    Ok(EXIT_OK)
}

#[cfg(test)]
mod workflow_tests {
    use super::verifier_workflow_at;

    #[test]
    fn the_workflow_pins_the_action_to_the_source_commit_when_known() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let w = verifier_workflow_at(Some(sha));
        assert!(
            w.contains(&format!("uses: ci-attest/ci-attest@{sha} # v")),
            "{w}"
        );
        for unknown in [None, Some("main"), Some("0123")] {
            let w = verifier_workflow_at(unknown);
            assert!(
                w.contains(&format!(
                    "uses: ci-attest/ci-attest@v{v} # v{v}",
                    v = env!("CARGO_PKG_VERSION")
                )),
                "{unknown:?}: {w}"
            );
            assert!(
                !w.contains("{{VERSION}}") && !w.contains("{{ACTION_REF}}"),
                "{w}"
            );
        }
    }
}
