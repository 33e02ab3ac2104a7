//! Python projects (pyproject.toml, setup.cfg, setup.py), `src/` or flat layout.

use super::{Cache, Check, Plan, Tools};
use std::path::Path;

/// Names of optional-dependency extras and dependency groups that hold the test tools.
const TEST_SETS: &[&str] = &["test", "tests", "testing", "dev"];

/// What init needs to know about a Python project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Project {
    /// The distribution name, as declared.
    name: Option<String>,
    /// The import package (or module) that coverage measures.
    package: Option<String>,
    /// True for a `src/` layout.
    src_layout: bool,
    /// The extra that holds the test tools (`pip install -e '.[test]'`).
    test_extra: Option<String>,
    /// Requirements of a PEP 735 dependency group for tests (installed by name).
    test_group: Vec<String>,
    ruff: bool,
    flake8: bool,
    /// Lockfiles and manifests that key the virtualenv cache.
    manifests: Vec<String>,
}

fn ini_section_has(text: &str, section: &str) -> bool {
    text.lines()
        .any(|l| l.trim().eq_ignore_ascii_case(&format!("[{section}]")))
}

/// `key = value` of an ini file's section.
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t.eq_ignore_ascii_case(&format!("[{section}]"));
        } else if inside
            && let Some((k, v)) = t.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().to_string());
        }
    }
    None
}

/// The keys of an ini section (`[options.extras_require]`).
fn ini_keys(text: &str, section: &str) -> Vec<String> {
    let mut inside = false;
    let mut keys = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t.eq_ignore_ascii_case(&format!("[{section}]"));
        } else if inside
            && !line.starts_with([' ', '\t'])
            && let Some((k, _)) = t.split_once('=')
        {
            keys.push(k.trim().to_string());
        }
    }
    keys
}

/// `name="..."` in a setup.py, when written literally.
fn setup_py_name(text: &str) -> Option<String> {
    let re = regex::Regex::new(r#"\bname\s*=\s*["']([A-Za-z0-9._-]+)["']"#).ok()?;
    re.captures(text).map(|c| c[1].to_string())
}

/// The import name a distribution name suggests (`my-pkg` -> `my_pkg`).
fn import_name(dist: &str) -> String {
    dist.trim()
        .chars()
        .map(|c| {
            if c == '-' || c == '.' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

const NOT_PACKAGES: &[&str] = &[
    "tests",
    "test",
    "testing",
    "docs",
    "doc",
    "examples",
    "scripts",
    "build",
    "dist",
    "benchmarks",
];

/// Packages (folders with `__init__.py`) directly in `dir`, sorted.
fn packages_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().join("__init__.py").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.') && !NOT_PACKAGES.contains(&n.as_str()))
                .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn detect(root: &Path) -> Project {
    let read = |f: &str| std::fs::read_to_string(root.join(f)).unwrap_or_default();
    let pyproject: toml::Table = toml::from_str(&read("pyproject.toml")).unwrap_or_default();
    let setup_cfg = read("setup.cfg");
    let mut p = Project::default();
    let project = pyproject.get("project");
    p.name = project
        .and_then(|t| t.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .or_else(|| ini_value(&setup_cfg, "metadata", "name"))
        .or_else(|| setup_py_name(&read("setup.py")));
    let extras: Vec<String> = project
        .and_then(|t| t.get("optional-dependencies"))
        .and_then(|t| t.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_else(|| ini_keys(&setup_cfg, "options.extras_require"));
    p.test_extra = TEST_SETS
        .iter()
        .find(|s| extras.iter().any(|e| e == *s))
        .map(|s| s.to_string());
    if p.test_extra.is_none()
        && let Some(groups) = pyproject
            .get("dependency-groups")
            .and_then(|g| g.as_table())
        && let Some(group) = TEST_SETS
            .iter()
            .find_map(|s| groups.get(*s).and_then(|g| g.as_array()))
    {
        // `{include-group = ...}` entries are tables: only plain requirements are kept.
        p.test_group = group
            .iter()
            .filter_map(|r| r.as_str())
            .map(str::to_string)
            .collect();
    }
    // The import package: the declared name in src/ or at the top, else the only package there.
    let wanted = p.name.as_deref().map(import_name);
    let src = root.join("src");
    let found = |dir: &Path| -> Option<String> {
        if let Some(w) = &wanted
            && (dir.join(w).join("__init__.py").is_file() || dir.join(format!("{w}.py")).is_file())
        {
            return Some(w.clone());
        }
        let pkgs = packages_in(dir);
        (pkgs.len() == 1).then(|| pkgs[0].clone())
    };
    if let Some(pkg) = found(&src) {
        p.package = Some(pkg);
        p.src_layout = true;
    } else if let Some(pkg) = found(root) {
        p.package = Some(pkg);
    }
    let tool = pyproject.get("tool");
    p.ruff = tool.is_some_and(|t| t.get("ruff").is_some())
        || root.join("ruff.toml").is_file()
        || root.join(".ruff.toml").is_file();
    p.flake8 = root.join(".flake8").is_file()
        || ini_section_has(&setup_cfg, "flake8")
        || ini_section_has(&read("tox.ini"), "flake8");
    p.manifests = [
        "pyproject.toml",
        "setup.cfg",
        "setup.py",
        "requirements.txt",
        "requirements-dev.txt",
        "uv.lock",
        "poetry.lock",
        "pdm.lock",
    ]
    .iter()
    .filter(|f| root.join(f).is_file())
    .map(|f| f.to_string())
    .collect();
    p
}

/// A shell word in single quotes.
fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

pub(super) fn plan(root: &Path, tools: &Tools) -> Plan {
    plan_for(&detect(root), tools)
}

const REPORTS: &str = ".ci-attest/reports";

fn plan_for(p: &Project, tools: &Tools) -> Plan {
    let mut notes = Vec::new();
    let target = match &p.test_extra {
        Some(extra) => format!("'.[{extra}]'"),
        None => ".".to_string(),
    };
    let mut install =
        format!(".venv/bin/python -m pip install --quiet --disable-pip-version-check -e {target}");
    for req in &p.test_group {
        install.push(' ');
        install.push_str(&sh_quote(req));
    }
    install.push_str(" pytest pytest-cov");
    let cov = match &p.package {
        Some(pkg) => format!("--cov={pkg}"),
        None => {
            notes.push(
                "no import package found (src/<name>/__init__.py or <name>/__init__.py): coverage measures `.`; set --cov=<package> in .ci-attest.toml".into(),
            );
            "--cov=.".to_string()
        }
    };
    let mut checks = vec![
        Check {
            name: "tests",
            kind: "tests",
            comment: vec![
                "A virtualenv inside the checkout (.venv, kept as a [[cache]]) with the project installed"
                    .into(),
                "from the commit, then pytest with JUnit XML and branch coverage of the package.".into(),
            ],
            run: vec![
                "python3 -m venv .venv".into(),
                install,
                format!("rm -rf {REPORTS}/junit.xml {REPORTS}/coverage.xml && mkdir -p {REPORTS}"),
                format!(
                    ".venv/bin/python -m pytest --junitxml={REPORTS}/junit.xml {cov} --cov-branch --cov-report=term --cov-report=xml:{REPORTS}/coverage.xml"
                ),
            ],
            reports: vec![("junit", format!("{REPORTS}/junit.xml"))],
        },
        Check {
            name: "coverage",
            kind: "coverage",
            comment: vec!["The coverage the tests check measured (Cobertura XML).".into()],
            run: vec![format!("test -f {REPORTS}/coverage.xml")],
            reports: vec![("cobertura", format!("{REPORTS}/coverage.xml"))],
        },
    ];
    let mut thresholds = vec![
        "\"tests.failed\" = { max = 0 }".to_string(),
        "\"tests.total\" = { min = 1 }".to_string(),
        "\"coverage.lines\" = { min = 80.0 }".to_string(),
    ];
    let trailer = Vec::new();
    if p.ruff {
        checks.push(Check {
            name: "lint",
            kind: "lint",
            comment: vec![
                "ruff, as the project configures it, to SARIF (findings are judged by the report)."
                    .into(),
            ],
            run: vec![
                ".venv/bin/python -m pip install --quiet --disable-pip-version-check ruff".into(),
                format!("mkdir -p {REPORTS}"),
                format!(
                    ".venv/bin/ruff check --exit-zero --output-format sarif --output-file {REPORTS}/ruff.sarif ."
                ),
                ".venv/bin/ruff check --exit-zero --statistics .".into(),
            ],
            reports: vec![("sarif", format!("{REPORTS}/ruff.sarif"))],
        });
        thresholds.push("\"lint.errors\" = { max = 0 }".into());
    } else if p.flake8 {
        checks.push(Check {
            name: "lint",
            kind: "lint",
            comment: vec![
                "flake8, as the project configures it, to SARIF through the flake8-sarif formatter".into(),
                "(pycodestyle's E/W codes are errors, pyflakes' F codes warnings).".into(),
            ],
            run: vec![
                ".venv/bin/python -m pip install --quiet --disable-pip-version-check flake8 flake8-sarif".into(),
                format!("mkdir -p {REPORTS}"),
                format!(
                    ".venv/bin/flake8 --exit-zero --format=sarif --output-file={REPORTS}/flake8.sarif ."
                ),
                ".venv/bin/flake8 --exit-zero --count --statistics .".into(),
            ],
            reports: vec![("sarif", format!("{REPORTS}/flake8.sarif"))],
        });
        thresholds.push("\"lint.errors\" = { max = 0 }".into());
    }
    let mut caches = vec![Cache {
        path: ".venv".into(),
        key: if p.manifests.is_empty() {
            vec!["pyproject.toml".into()]
        } else {
            p.manifests.clone()
        },
    }];
    if tools.home_has(".cache/pip") {
        caches.push(Cache {
            path: "~/.cache/pip".into(),
            key: Vec::new(),
        });
    } else {
        notes.push("pip downloads every package when .venv is not restored: `mkdir -p ~/.cache/pip` and add `[[cache]] path = \"~/.cache/pip\"` to keep them".into());
    }
    let summary = format!(
        "python, {} layout{}, pytest{}",
        if p.src_layout { "src/" } else { "flat" },
        p.package
            .as_ref()
            .map(|pkg| format!(" (package {pkg})"))
            .unwrap_or_default(),
        if p.ruff { " + ruff" } else { "" }
    );
    Plan {
        summary,
        checks,
        caches,
        trailer,
        extra: Vec::new(),
        thresholds,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::config_for;
    use super::*;

    #[test]
    fn a_src_layout_measures_the_package_not_the_tests() {
        let (text, plan) = config_for(
            &[
                (
                    "pyproject.toml",
                    "[project]\nname = \"My-Calc\"\n[project.optional-dependencies]\ntest = [\"pytest\"]\n[tool.ruff]\n",
                ),
                ("src/my_calc/__init__.py", ""),
                ("tests/__init__.py", ""),
            ],
            &Tools::default(),
        );
        assert!(text.contains("--cov=my_calc --cov-branch"), "{text}");
        assert!(text.contains("-e '.[test]' pytest pytest-cov"), "{text}");
        assert!(text.contains("python3 -m venv .venv"), "{text}");
        assert!(text.contains("--junitxml="), "{text}");
        assert!(
            text.contains("ruff check --exit-zero --output-format sarif"),
            "{text}"
        );
        assert!(text.contains("path = \".venv\""), "{text}");
        assert!(plan.summary.contains("src/ layout"), "{}", plan.summary);
    }

    #[test]
    fn a_flat_setup_cfg_project_with_a_dependency_group() {
        let (text, plan) = config_for(
            &[
                (
                    "setup.cfg",
                    "[metadata]\nname = calc\n\n[flake8]\nmax-line-length = 100\n",
                ),
                (
                    "pyproject.toml",
                    "[dependency-groups]\ntest = [\"pytest>=8\", {include-group = \"x\"}]\n",
                ),
                ("calc/__init__.py", ""),
            ],
            &Tools::default(),
        );
        assert!(
            text.contains("-e . 'pytest>=8' pytest pytest-cov"),
            "{text}"
        );
        assert!(text.contains("--cov=calc "), "{text}");
        assert!(!text.contains("ruff check --exit-zero"), "{text}");
        assert!(
            text.contains(
                "flake8 --exit-zero --format=sarif --output-file=.ci-attest/reports/flake8.sarif ."
            ),
            "{text}"
        );
        assert!(plan.summary.contains("flat"), "{}", plan.summary);
    }

    #[test]
    fn setup_py_names_the_package() {
        let (text, _) = config_for(
            &[
                (
                    "setup.py",
                    "from setuptools import setup\nsetup(name='tool-x')\n",
                ),
                ("tool_x/__init__.py", ""),
                ("other/__init__.py", ""),
            ],
            &Tools::default(),
        );
        assert!(text.contains("--cov=tool_x "), "{text}");
    }
}
