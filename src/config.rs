//! `.ci-attest.toml`: which checks to run, where their reports are, how to sign and where to store.

use crate::statement::CheckKind;
use serde::Deserialize;
use std::path::{Component, Path, PathBuf};

/// The configuration file's name at the repository root.
pub const CONFIG_FILE: &str = ".ci-attest.toml";
/// Largest configuration file accepted.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// Default folder of the `dir` store, relative to the repository root.
pub const DEFAULT_STORE_DIR: &str = ".ci-attest";

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The checks, in the order they run.
    #[serde(rename = "check", default)]
    pub checks: Vec<CheckConfig>,
    /// Folders kept between runs of this repository (`[[cache]]`), restored before the checks.
    #[serde(rename = "cache", default)]
    pub caches: Vec<CacheConfig>,
    /// How to sign. In a commit's file this is ignored by `run` (the signer decides, see
    /// [`LocalSettings`]); kept so older files still parse.
    #[serde(default)]
    pub signing: SigningConfig,
    /// Where bundles go; in a commit's file, ignored by `run` like `signing`.
    #[serde(default)]
    pub store: StoreConfig,
    /// True when the file had a `[signing]` or `[store]` table (which `run` ignores).
    #[serde(skip)]
    pub has_signer_settings: bool,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Unique name; the policy refers to it.
    pub name: String,
    /// What kind of results it gives.
    pub kind: CheckKind,
    /// Shell command, run with `sh -c` in the pristine worktree.
    pub run: String,
    /// Reports the command writes, relative to the worktree.
    #[serde(default)]
    pub reports: Vec<ReportConfig>,
    /// Seconds after which the command is killed and the check fails.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// `false` cuts the check's network (sandboxed runs only; loopback stays).
    #[serde(default = "yes")]
    pub network: bool,
}

/// One folder kept between runs (`[[cache]]`): a build folder in the checkout (`target`,
/// `node_modules`, `.venv`) or a download cache in the check's home folder (`~/.cache/pip`).
///
/// The cache lives outside the checkout (in the repository's git folder, which checks never
/// see) and is mounted at `path` for the checks of the run. Its key is the sha256 of the `key`
/// files as committed and the toolchain versions the run records, so a changed lockfile or
/// compiler starts a fresh cache. The predicate records each cache, its key and whether it was
/// restored; `run --no-cache` and a policy's `require.from_scratch` give runs without them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// A folder relative to the checkout (`target`), or under the home folder (`~/.cache/pip`).
    pub path: String,
    /// Committed files whose contents key the cache (lockfiles, toolchain files); missing files
    /// count as absent, which is part of the key too.
    #[serde(default)]
    pub key: Vec<PathBuf>,
}

/// Most `[[cache]]` entries in one configuration.
pub const MAX_CACHES: usize = 16;

/// Where a cache is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachePlace<'a> {
    /// Relative to the checkout.
    Checkout(&'a Path),
    /// Relative to the check's home folder (`~/...`).
    Home(&'a Path),
}

impl CacheConfig {
    /// Where the cache goes; `None` when `path` is neither a relative path inside the checkout
    /// nor `~/` and a relative path inside the home folder.
    pub fn place(&self) -> Option<CachePlace<'_>> {
        let (home, rel) = match self.path.strip_prefix("~/") {
            Some(rest) => (true, rest),
            None if self.path.starts_with('~') => return None,
            None => (false, self.path.as_str()),
        };
        let rel = Path::new(rel);
        let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
        let first = rel.components().next().map(|c| c.as_os_str());
        if !plain || !is_inside(rel) || first == Some(std::ffi::OsStr::new(".git")) {
            return None;
        }
        Some(if home {
            CachePlace::Home(rel)
        } else {
            CachePlace::Checkout(rel)
        })
    }
}

fn yes() -> bool {
    true
}

/// One report a check writes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// The report's format.
    pub format: ReportFormat,
    /// Path relative to the worktree root.
    pub path: PathBuf,
}

/// `[signing]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// How to sign: with a local key (default) or keylessly (OIDC -> Fulcio -> Rekor).
    #[serde(default)]
    pub method: SigningMethod,
    /// Path of the private key (relative to the repository root), for `method = "key"`.
    pub key: Option<PathBuf>,
}

/// `[signing] method`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningMethod {
    /// A local P-256 key.
    #[default]
    Key,
    /// Sigstore keyless signing.
    Keyless,
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Folder of the `dir` store, relative to the repository root.
    #[serde(default = "default_store_dir")]
    pub dir: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            dir: default_store_dir(),
        }
    }
}

fn default_store_dir() -> PathBuf {
    PathBuf::from(DEFAULT_STORE_DIR)
}

/// The signer's own settings: what a commit must never decide (which key signs, where bundles go,
/// which extra environment variables reach the checks, whether to run unsandboxed).
///
/// Read from `~/.config/ci-attest/config.toml` and then the repository's untracked
/// `.ci-attest.local.toml` (whose values win); never from the commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSettings {
    /// How to sign.
    #[serde(default)]
    pub signing: Option<SigningConfig>,
    /// Where bundles go.
    #[serde(default)]
    pub store: Option<StoreConfig>,
    /// Extra environment variables passed to every check (secrets listed here are refused).
    #[serde(default)]
    pub pass_env: Option<Vec<String>>,
    /// `"none"` runs checks without a sandbox (recorded in the predicate); default `"sandbox"`.
    #[serde(default)]
    pub isolation: Option<IsolationSetting>,
}

/// `isolation` in the signer's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IsolationSetting {
    /// Seal every check in a sandbox (the default); fail when none can be made.
    Sandbox,
    /// Run checks as plain child processes.
    None,
}

/// File name of the repository-local signer settings (untracked).
pub const LOCAL_SETTINGS_FILE: &str = ".ci-attest.local.toml";

impl LocalSettings {
    /// Reads one settings file; a missing file is empty settings.
    pub fn load(path: &Path) -> Result<LocalSettings, ConfigError> {
        let label = path.display().to_string();
        let text = match read_limited(path) {
            Ok(text) => text,
            Err(ConfigError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(LocalSettings::default());
            }
            Err(e) => return Err(e),
        };
        let settings: LocalSettings =
            toml::from_str(&text).map_err(|e| syntax(&text, &label, &e))?;
        for name in settings.pass_env.iter().flatten() {
            if crate::sandbox::is_forbidden_env(name) {
                return Err(ConfigError::Invalid {
                    path: label,
                    message: format!(
                        "pass_env: {name} carries a signing or forge secret and never reaches a check \
                         (a check is code from the commit, which could send it anywhere); remove it"
                    ),
                });
            }
        }
        Ok(settings)
    }

    /// These settings with `over`'s values winning where it has them.
    pub fn merged(self, over: LocalSettings) -> LocalSettings {
        LocalSettings {
            signing: over.signing.or(self.signing),
            store: over.store.or(self.store),
            pass_env: over.pass_env.or(self.pass_env),
            isolation: over.isolation.or(self.isolation),
        }
    }
}

fn read_limited(path: &Path) -> Result<String, ConfigError> {
    let label = path.display().to_string();
    let io = |source| ConfigError::Io {
        path: label.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(ConfigError::Invalid {
            path: label,
            message: "expected a regular file".into(),
        });
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: label,
            size: meta.len(),
        });
    }
    std::fs::read_to_string(path).map_err(io)
}

fn syntax(text: &str, label: &str, e: &toml::de::Error) -> ConfigError {
    let (line, column) = e.span().map_or((1, 1), |s| line_column(text, s.start));
    ConfigError::Syntax {
        path: label.to_string(),
        line,
        column,
        message: e.message().trim().to_string(),
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_CONFIG_BYTES`].
    #[error("{path}: file of {size} bytes exceeds the limit of {MAX_CONFIG_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size.
        size: u64,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The file parses but a value is not acceptable.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with expected and found.
        message: String,
    },
}

/// Converts a byte offset in `text` into a 1-based (line, column).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read_limited(path)?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses and validates configuration text; `label` names it in errors.
    pub fn parse(text: &str, label: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| syntax(text, label, &e))?;
        config.validate(label)?;
        let mut config = config;
        config.has_signer_settings = toml::from_str::<toml::Table>(text)
            .map(|t| t.contains_key("signing") || t.contains_key("store"))
            .unwrap_or(false);
        Ok(config)
    }

    fn validate(&self, label: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: label.to_string(),
            message,
        };
        if self.checks.is_empty() {
            return Err(invalid(
                "expected at least one [[check]], found none".to_string(),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for check in &self.checks {
            if check.name.is_empty()
                || !check
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(invalid(format!(
                    "check name: expected letters, digits, '-' or '_', found {:?}",
                    check.name
                )));
            }
            if !names.insert(check.name.as_str()) {
                return Err(invalid(format!(
                    "check names must be unique, found {:?} twice",
                    check.name
                )));
            }
            if check.run.trim().is_empty() {
                return Err(invalid(format!(
                    "check {:?}: expected a command in `run`, found an empty string",
                    check.name
                )));
            }
            for report in &check.reports {
                if !is_inside(&report.path) {
                    return Err(invalid(format!(
                        "check {:?}: report path must be relative and stay inside the worktree, found {}",
                        check.name,
                        report.path.display()
                    )));
                }
                let fits = matches!(
                    (check.kind, report.format),
                    (
                        CheckKind::Tests,
                        ReportFormat::Junit | ReportFormat::LibtestJson
                    ) | (
                        CheckKind::Coverage,
                        ReportFormat::Lcov | ReportFormat::Cobertura
                    ) | (CheckKind::Lint, ReportFormat::Sarif | ReportFormat::Clippy)
                );
                if !fits {
                    return Err(invalid(format!(
                        "check {:?} of kind {}: a {} report does not give {} results",
                        check.name,
                        check.kind.as_str(),
                        report.format,
                        check.kind.as_str()
                    )));
                }
            }
            if check.kind != CheckKind::Custom && check.reports.is_empty() {
                return Err(invalid(format!(
                    "check {:?} of kind {}: expected at least one report, found none (use kind = \"custom\" for a check judged by exit code alone)",
                    check.name,
                    check.kind.as_str()
                )));
            }
        }
        if self.caches.len() > MAX_CACHES {
            return Err(invalid(format!(
                "expected at most {MAX_CACHES} [[cache]] entries, found {}",
                self.caches.len()
            )));
        }
        let mut paths = std::collections::BTreeSet::new();
        for cache in &self.caches {
            if cache.place().is_none() {
                return Err(invalid(format!(
                    "cache path: expected a folder inside the checkout (\"target\") or under the home folder (\"~/.cache/pip\"), without `..` or `.git`, found {:?}",
                    cache.path
                )));
            }
            if !paths.insert(cache.path.trim_end_matches('/')) {
                return Err(invalid(format!(
                    "cache paths must be unique, found {:?} twice",
                    cache.path
                )));
            }
            if let Some(bad) = cache.key.iter().find(|k| !is_inside(k)) {
                return Err(invalid(format!(
                    "cache {:?}: key files must be relative paths inside the checkout, found {}",
                    cache.path,
                    bad.display()
                )));
            }
        }
        let nested = paths.iter().find_map(|a| {
            paths
                .iter()
                .find(|b| *b != a && Path::new(b).starts_with(a))
                .map(|b| (a, b))
        });
        if let Some((outer, inner)) = nested {
            return Err(invalid(format!(
                "cache paths must not nest: {inner:?} is inside {outer:?}; keep one of them"
            )));
        }
        Ok(())
    }
}

/// True when a path is relative and never climbs out of its base.
pub fn is_inside(path: &Path) -> bool {
    let mut depth = 0i32;
    for c in path.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    depth > 0
}

/// The report formats ci-attest can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportFormat {
    /// JUnit XML (pytest, Maven Surefire, nextest, jest-junit...).
    Junit,
    /// LCOV tracefile (`genhtml` input; cargo-llvm-cov, c8, coverage.py `lcov`).
    Lcov,
    /// Cobertura XML (coverage.py `xml`, cargo-llvm-cov `--cobertura`, jest).
    Cobertura,
    /// SARIF 2.1.0 (static analysers).
    Sarif,
    /// cargo's `--message-format=json` stream from `cargo clippy`.
    Clippy,
    /// libtest's JSON event stream (`--format json`, also nextest's libtest-json output).
    LibtestJson,
}

impl ReportFormat {
    /// The name used in `.ci-attest.toml` and in the predicate.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Junit => "junit",
            ReportFormat::Lcov => "lcov",
            ReportFormat::Cobertura => "cobertura",
            ReportFormat::Sarif => "sarif",
            ReportFormat::Clippy => "clippy",
            ReportFormat::LibtestJson => "libtest-json",
        }
    }
}

impl std::fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[check]]
name = "tests"
kind = "tests"
run = "cargo test"
reports = [{ format = "junit", path = "target/junit.xml" }]

[signing]
key = "keys/ci-attest.key"
"#;

    #[test]
    fn parses_the_documented_shape() {
        let c = Config::parse(GOOD, "c.toml").expect("valid");
        assert_eq!(c.checks[0].reports[0].format, ReportFormat::Junit);
        assert_eq!(c.store.dir, PathBuf::from(".ci-attest"));
    }

    #[test]
    fn unknown_key_is_an_error_with_line_and_column() {
        let text = GOOD.replace("run =", "rnu =");
        let err = Config::parse(&text, "c.toml").expect_err("typo");
        let msg = err.to_string();
        assert!(msg.starts_with("c.toml:5:1: "), "{msg}");
        assert!(msg.contains("rnu"), "{msg}");
    }

    #[test]
    fn duplicate_check_names_are_rejected() {
        let text =
            format!("{GOOD}\n[[check]]\nname = \"tests\"\nkind = \"custom\"\nrun = \"true\"\n");
        let msg = Config::parse(&text, "c.toml").expect_err("dup").to_string();
        assert!(msg.contains("unique"), "{msg}");
    }

    #[test]
    fn report_paths_cannot_escape_the_worktree() {
        for bad in ["/etc/passwd", "../x.xml", "a/../../x.xml"] {
            let text = GOOD.replace("target/junit.xml", bad);
            assert!(Config::parse(&text, "c.toml").is_err(), "{bad}");
        }
    }

    #[test]
    fn report_format_must_fit_the_check_kind() {
        let text = GOOD.replace("\"junit\"", "\"lcov\"");
        let msg = Config::parse(&text, "c.toml")
            .expect_err("misfit")
            .to_string();
        assert!(msg.contains("lcov report does not give tests"), "{msg}");
    }

    #[test]
    fn caches_stay_inside_the_checkout_or_the_home_folder() {
        for good in ["target", "node_modules", ".venv", "~/.cache/pip", "a/b"] {
            let text = format!("{GOOD}\n[[cache]]\npath = {good:?}\nkey = [\"Cargo.lock\"]\n");
            let c = Config::parse(&text, "c.toml").expect(good);
            assert_eq!(c.caches[0].path, good);
        }
        for bad in [
            "/tmp/x", "../x", "~/../x", "~", "~/", ".git", ".git/x", "a/../b", "", "~x/y",
        ] {
            let text = format!("{GOOD}\n[[cache]]\npath = {bad:?}\n");
            let msg = Config::parse(&text, "c.toml").expect_err(bad).to_string();
            assert!(msg.contains("cache path: expected"), "{bad}: {msg}");
        }
        let text =
            format!("{GOOD}\n[[cache]]\npath = \"target\"\n[[cache]]\npath = \"target/debug\"\n");
        let msg = Config::parse(&text, "c.toml")
            .expect_err("nested")
            .to_string();
        assert!(msg.contains("must not nest"), "{msg}");
        let text = format!("{GOOD}\n[[cache]]\npath = \"target\"\nkey = [\"/etc/passwd\"]\n");
        let msg = Config::parse(&text, "c.toml").expect_err("key").to_string();
        assert!(msg.contains("key files must be relative"), "{msg}");
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
    }
}
