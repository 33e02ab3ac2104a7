//! `ci-attest init`: a starting configuration and policy for the project at hand.
//!
//! The project is recognised from its own files (`Cargo.toml`, `pyproject.toml` / `setup.cfg` /
//! `setup.py`, `package.json` with its lockfile), and the checks written run unedited in the sealed
//! run: everything a check writes goes inside the checkout or `/tmp` (the home folder is read-only
//! there), reports go to files ci-attest parses, and the folders worth keeping between runs are
//! `[[cache]]` entries.

mod cargo;
mod node;
mod python;

use super::{CmdResult, EXIT_OK, Failure};
use ci_attest::config::CONFIG_FILE;
use ci_attest::git::Repo;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print what would be written, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Replace files that already exist (without it, existing files are kept).
    #[arg(long)]
    force: bool,
    /// Write the verifier workflow in advisory (shadow) mode: it reports every verdict but a
    /// rejection concludes `neutral` instead of failing; switch `mode:` to `enforce` when the team
    /// relies on it (docs/migration.md).
    #[arg(long)]
    advisory: bool,
}

/// What the machine offers, as far as the configuration depends on it (probed by the CLI, so the
/// planning itself reads only the repository's files).
#[derive(Debug, Clone, Default)]
pub struct Tools {
    /// `cargo nextest` runs.
    pub nextest: bool,
    /// `cargo llvm-cov` runs.
    pub llvm_cov: bool,
    /// The home folder, for home caches that already exist (`~/.cache/pip`, `~/.npm`...).
    pub home: Option<PathBuf>,
}

impl Tools {
    fn probe() -> Tools {
        let runs = |args: &[&str]| {
            Command::new(args[0])
                .args(&args[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        Tools {
            nextest: runs(&["cargo", "nextest", "--version"]),
            llvm_cov: runs(&["cargo", "llvm-cov", "--version"]),
            home: std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|h| h.is_absolute()),
        }
    }

    /// True when `~/<rel>` is a folder on this machine (a home `[[cache]]` must already exist).
    fn home_has(&self, rel: &str) -> bool {
        self.home.as_ref().is_some_and(|h| h.join(rel).is_dir())
    }
}

/// One `[[check]]` as init writes it.
#[derive(Debug, Clone)]
struct Check {
    name: &'static str,
    kind: &'static str,
    /// Comment lines above the check (without `# `).
    comment: Vec<String>,
    /// Shell lines, joined with newlines.
    run: Vec<String>,
    /// `(format, path)`.
    reports: Vec<(&'static str, String)>,
}

/// One `[[cache]]`.
#[derive(Debug, Clone)]
struct Cache {
    path: String,
    key: Vec<String>,
}

/// Everything init writes for one project.
#[derive(Debug, Clone)]
struct Plan {
    /// What was recognised, for the user (`cargo workspace, 2 members`).
    summary: String,
    checks: Vec<Check>,
    caches: Vec<Cache>,
    /// Commented-out blocks and hints appended to the configuration.
    trailer: Vec<String>,
    /// Other files the checks need (relative path, text), e.g. `.ci-attest/nextest.toml`.
    extra: Vec<(String, String)>,
    /// Policy thresholds (`"tests.failed" = { max = 0 }` lines).
    thresholds: Vec<String>,
    /// Said to the user after writing.
    notes: Vec<String>,
}

impl Plan {
    fn unknown() -> Plan {
        Plan {
            summary: "unknown (edit the check command)".into(),
            checks: vec![Check {
                name: "tests",
                kind: "custom",
                comment: vec![
                    "No Cargo, Python or Node project was recognised: replace the command with the"
                        .into(),
                    "project's test command, and point `reports` at what it writes (JUnit XML...)."
                        .into(),
                ],
                run: vec!["make test".into()],
                reports: Vec::new(),
            }],
            caches: Vec::new(),
            trailer: Vec::new(),
            extra: Vec::new(),
            thresholds: vec!["\"tests.exit_code\" = { max = 0 }".into()],
            notes: Vec::new(),
        }
    }
}

/// The plan for the project in `root`: the first ecosystem recognised, Cargo, then Python, then Node.
fn plan(root: &Path, tools: &Tools) -> Plan {
    if root.join("Cargo.toml").is_file() {
        cargo::plan(root, tools)
    } else if ["pyproject.toml", "setup.cfg", "setup.py"]
        .iter()
        .any(|f| root.join(f).is_file())
    {
        python::plan(root, tools)
    } else if root.join("package.json").is_file() {
        node::plan(root, tools)
    } else {
        Plan::unknown()
    }
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `run = ...`: one line as a basic string, several as a literal multi-line string (no escapes to
/// read), unless a line holds `'''`.
fn run_value(lines: &[String]) -> String {
    let text = lines.join("\n");
    if lines.len() > 1
        && !text.contains("'''")
        && !text.chars().any(|c| c.is_control() && c != '\n')
    {
        format!("'''\n{text}'''")
    } else {
        quoted(&text)
    }
}

fn config_text(plan: &Plan) -> String {
    let mut t = String::from(
        "# ci-attest configuration: the checks `ci-attest run` runs, sealed, on a pristine checkout of\n\
         # the commit (docs/configuration.md). Each check's name is what policies/*.toml refers to.\n\
         # Written by `ci-attest init` for: ",
    );
    t.push_str(&plan.summary);
    t.push('\n');
    for check in &plan.checks {
        t.push('\n');
        for line in &check.comment {
            t.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
        }
        t.push_str("[[check]]\n");
        t.push_str(&format!("name = {}\n", quoted(check.name)));
        t.push_str(&format!("kind = {}\n", quoted(check.kind)));
        // Several lines stop at the first that fails (a failed install must fail the check).
        let run = if check.run.len() > 1 {
            std::iter::once("set -e".to_string())
                .chain(check.run.iter().cloned())
                .collect()
        } else {
            check.run.clone()
        };
        t.push_str(&format!("run = {}\n", run_value(&run)));
        if !check.reports.is_empty() {
            let reports: Vec<String> = check
                .reports
                .iter()
                .map(|(format, path)| {
                    format!("{{ format = {}, path = {} }}", quoted(format), quoted(path))
                })
                .collect();
            if reports.len() == 1 {
                t.push_str(&format!("reports = [{}]\n", reports[0]));
            } else {
                t.push_str("reports = [\n");
                for r in reports {
                    t.push_str(&format!("  {r},\n"));
                }
                t.push_str("]\n");
            }
        }
    }
    if !plan.caches.is_empty() {
        t.push_str(
            "\n# Folders kept between runs, keyed by these committed files (and the toolchains).\n",
        );
        for cache in &plan.caches {
            let keys: Vec<String> = cache.key.iter().map(|k| quoted(k)).collect();
            t.push_str(&format!(
                "[[cache]]\npath = {}\nkey = [{}]\n",
                quoted(&cache.path),
                keys.join(", ")
            ));
        }
    }
    for block in &plan.trailer {
        t.push('\n');
        t.push_str(block);
        if !block.ends_with('\n') {
            t.push('\n');
        }
    }
    t.push_str(
        "\n# The signing key and the store are the signer's settings, never the commit's: see\n\
         # .ci-attest.local.toml (untracked) or ~/.config/ci-attest/config.toml.\n",
    );
    t
}

fn policy_text(plan: &Plan) -> String {
    let checks: Vec<String> = plan.checks.iter().map(|c| quoted(c.name)).collect();
    format!(
        r#"# ci-attest policy: what an attestation must show for a commit to be accepted.
# See docs/policy.md for every key.

[[signer]]
name = "maintainer"
key = "../keys/ci-attest.pub"   # relative to this file; or fingerprint = "sha256:<hex>"

[require]
checks = [{}]
max_age = "30d"
pristine = true

[thresholds]
{}
"#,
        checks.join(", "),
        plan.thresholds.join("\n")
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
    include_str!("../templates/ci-attest-verify.yml")
        .replace("{{ACTION_REF}}", &action_ref)
        .replace("{{VERSION}}", version)
}

/// The verifier workflow this binary writes.
pub fn verifier_workflow() -> String {
    verifier_workflow_at(SOURCE_COMMIT)
}

/// The line of the workflow that sets the action's `mode`, as the template has it.
const ENFORCE_LINE: &str = "          mode: enforce #";

/// The verifier workflow in advisory (shadow) mode: the template's one `mode:` line changed.
pub fn advisory_workflow(workflow: &str) -> String {
    debug_assert_eq!(workflow.matches(ENFORCE_LINE).count(), 1);
    workflow.replacen(ENFORCE_LINE, "          mode: advisory #", 1)
}

const LOCAL_SETTINGS: &str = "# This signer's settings (keep out of git): which key signs, where bundles go, extra\n\
# environment for the checks (pass_env = [...]), isolation.\n[signing]\nkey = \"keys/ci-attest.key\"\n";

/// Writes `text` to `path` atomically (temporary file + rename); replaces only with `force`.
/// Returns false when the file was kept.
fn write_file(path: &Path, text: &str, force: bool) -> Result<bool, Failure> {
    if path.exists() && !force {
        println!(
            "kept     {} (it exists; `ci-attest init --force` replaces it)",
            path.display()
        );
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
    let persisted = if force {
        tmp.persist(path).map(|_| ())
    } else {
        tmp.persist_noclobber(path).map(|_| ())
    };
    persisted.map_err(|e| {
        Failure::unavailable(anyhow::anyhow!(
            "cannot write {}: {}",
            path.display(),
            e.error
        ))
    })?;
    println!("wrote    {}", path.display());
    Ok(true)
}

/// The `.gitignore` lines init makes sure of: the store and logs (but not the committed files init
/// puts in `.ci-attest/`), the signer's settings, private keys. `(probe path, line, ignored)`: the
/// line is added when git's view of the probe path is not yet `ignored`.
fn ignore_lines(plan: &Plan) -> Vec<(String, String, bool)> {
    let mut lines = vec![
        (
            ".ci-attest/logs/x".to_string(),
            "/.ci-attest/*".to_string(),
            true,
        ),
        (
            ci_attest::config::LOCAL_SETTINGS_FILE.to_string(),
            format!("/{}", ci_attest::config::LOCAL_SETTINGS_FILE),
            true,
        ),
        (
            "keys/ci-attest.key".to_string(),
            "/keys/*.key".to_string(),
            true,
        ),
    ];
    for (path, _) in plan
        .extra
        .iter()
        .filter(|(p, _)| p.starts_with(".ci-attest/"))
    {
        lines.push((path.clone(), format!("!/{path}"), false));
    }
    lines
}

fn update_gitignore(root: &Path, plan: &Plan) {
    for (probe, line, ignored) in ignore_lines(plan) {
        let path = root.join(&probe);
        let result = if ignored {
            ci_attest::git::ensure_ignored(&path, |_| line.clone())
        } else {
            ci_attest::git::ensure_not_ignored(&path, |_| line.clone())
        };
        match result {
            Ok(Some(line)) => println!("added    `{line}` to .gitignore"),
            Ok(None) => {}
            Err(e) => eprintln!("warning: could not add `{line}` to .gitignore: {e}"),
        }
    }
}

/// Writes the starting files.
pub fn run(repo_dir: &Path, args: Args) -> CmdResult {
    let repo = Repo::discover(repo_dir).map_err(Failure::usage)?;
    let root = repo.root();
    let tools = Tools::probe();
    let plan = plan(root, &tools);
    let mut files = vec![
        (CONFIG_FILE.to_string(), config_text(&plan)),
        // The signer's settings: untracked, read from the working tree, never from a commit.
        (
            ci_attest::config::LOCAL_SETTINGS_FILE.to_string(),
            LOCAL_SETTINGS.to_string(),
        ),
        ("policies/default.toml".to_string(), policy_text(&plan)),
        (
            ".github/workflows/ci-attest-verify.yml".to_string(),
            if args.advisory {
                advisory_workflow(&verifier_workflow())
            } else {
                verifier_workflow()
            },
        ),
    ];
    files.extend(plan.extra.iter().cloned());
    println!("project  {}", plan.summary);
    if args.dry_run {
        for (path, text) in &files {
            let exists = root.join(path).exists();
            let force = args.force && path != ci_attest::config::LOCAL_SETTINGS_FILE;
            let what = match (exists, force) {
                (false, _) => "would write",
                (true, true) => "would replace",
                (true, false) if path == ci_attest::config::LOCAL_SETTINGS_FILE => {
                    "would keep (the signer's own settings: --force never replaces them)"
                }
                (true, false) => "would keep (exists; --force replaces it)",
            };
            println!("\n--- {what} {path}");
            if !exists || force {
                print!("{text}");
            }
        }
        println!("\n--- would make sure .gitignore has:");
        for (_, line, _) in ignore_lines(&plan) {
            println!("{line}");
        }
        println!("\n(dry run: nothing written)");
        return Ok(EXIT_OK);
    }
    for (path, text) in &files {
        // The signer's settings may name their key and pass_env: --force never replaces them.
        let force = args.force && path != ci_attest::config::LOCAL_SETTINGS_FILE;
        if path == ci_attest::config::LOCAL_SETTINGS_FILE && args.force && root.join(path).exists()
        {
            println!(
                "kept     {} (the signer's own settings: --force never replaces them)",
                root.join(path).display()
            );
            continue;
        }
        write_file(&root.join(path), text, force)?;
    }
    update_gitignore(root, &plan);
    for note in &plan.notes {
        println!("note:    {note}");
    }
    println!(
        "\nnext: ci-attest keygen --out keys && git add -A && git commit && ci-attest run && ci-attest verify\n      then commit the workflow and require the `ci-attest` check from the GitHub Actions app (docs/github.md)"
    );
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    }

    /// The configuration for a project made of `files`, parsed by ci-attest itself.
    pub(super) fn config_for(files: &[(&str, &str)], tools: &Tools) -> (String, Plan) {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, text) in files {
            write(dir.path(), path, text);
        }
        let plan = plan(dir.path(), tools);
        let text = config_text(&plan);
        ci_attest::config::Config::parse(&text, "init").unwrap_or_else(|e| panic!("{e}\n{text}"));
        (text, plan)
    }

    #[test]
    fn an_unknown_project_gets_a_custom_check_to_edit() {
        let (text, plan) = config_for(&[("README", "x")], &Tools::default());
        assert!(text.contains("make test"), "{text}");
        assert_eq!(plan.checks[0].kind, "custom");
    }

    #[test]
    fn run_lines_become_one_literal_string() {
        let v = run_value(&["a \"b\"".into(), "c\\d".into()]);
        assert_eq!(v, "'''\na \"b\"\nc\\d'''");
        let parsed: toml::Table = toml::from_str(&format!("x = {v}")).expect("toml");
        assert_eq!(parsed["x"].as_str(), Some("a \"b\"\nc\\d"));
        let single = run_value(&["it's \"x\"".into()]);
        let parsed: toml::Table = toml::from_str(&format!("x = {single}")).expect("toml");
        assert_eq!(parsed["x"].as_str(), Some("it's \"x\""));
    }

    #[test]
    fn a_failing_line_fails_the_check() {
        let (text, _) = config_for(
            &[("package.json", r#"{"scripts": {"test": "node --test"}}"#)],
            &Tools::default(),
        );
        let config = ci_attest::config::Config::parse(&text, "init").expect("valid");
        for check in config.checks.iter().filter(|c| c.run.contains('\n')) {
            assert!(check.run.starts_with("set -e\n"), "{}", check.run);
        }
    }

    #[test]
    fn the_policy_requires_every_check_written() {
        let (_, plan) = config_for(&[("README", "x")], &Tools::default());
        let policy = policy_text(&plan);
        let parsed: toml::Table = toml::from_str(&policy).expect("policy is TOML");
        assert_eq!(
            parsed["require"]["checks"].as_array().map(Vec::len),
            Some(1)
        );
    }
}

#[cfg(test)]
mod workflow_tests {
    use super::{advisory_workflow, verifier_workflow_at};

    #[test]
    fn the_workflow_enforces_by_default_and_init_advisory_changes_only_its_mode_line() {
        let w = verifier_workflow_at(None);
        assert_eq!(w.matches("\n          mode: enforce #").count(), 1, "{w}");
        let a = advisory_workflow(&w);
        assert_eq!(a.matches("\n          mode: advisory #").count(), 1, "{a}");
        assert!(!a.contains("mode: enforce"), "{a}");
        let changed: Vec<_> = w.lines().zip(a.lines()).filter(|(x, y)| x != y).collect();
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert_eq!(w.lines().count(), a.lines().count());
    }

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
