//! Node projects: npm, pnpm, yarn or bun; jest, vitest or node's test runner; eslint.

use super::{Cache, Check, Plan, Tools};
use std::path::Path;

/// The package manager a project uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Manager {
    Npm,
    Pnpm,
    /// Yarn 1 (`classic`) or 2+ (`berry`).
    Yarn {
        berry: bool,
    },
    Bun,
}

impl Manager {
    fn name(self) -> &'static str {
        match self {
            Manager::Npm => "npm",
            Manager::Pnpm => "pnpm",
            Manager::Yarn { .. } => "yarn",
            Manager::Bun => "bun",
        }
    }

    /// Installs exactly the lockfile's packages.
    fn install(self, locked: bool) -> &'static str {
        match (self, locked) {
            (Manager::Npm, true) => "npm ci --no-audit --no-fund",
            (Manager::Npm, false) => "npm install --no-audit --no-fund",
            (Manager::Pnpm, true) => "corepack pnpm install --frozen-lockfile",
            (Manager::Pnpm, false) => "corepack pnpm install",
            (Manager::Yarn { berry: true }, true) => "corepack yarn install --immutable",
            (Manager::Yarn { berry: false }, true) => "corepack yarn install --frozen-lockfile",
            (Manager::Yarn { .. }, false) => "corepack yarn install",
            (Manager::Bun, true) => "bun install --frozen-lockfile",
            (Manager::Bun, false) => "bun install",
        }
    }

    /// Runs a binary of the project's dependencies.
    fn exec(self) -> &'static str {
        match self {
            Manager::Npm => "npx --no-install",
            Manager::Pnpm => "corepack pnpm exec",
            Manager::Yarn { .. } => "corepack yarn",
            Manager::Bun => "bun x",
        }
    }

    /// Runs a package.json script.
    fn script(self) -> &'static str {
        match self {
            Manager::Npm => "npm run",
            Manager::Pnpm => "corepack pnpm run",
            Manager::Yarn { .. } => "corepack yarn run",
            Manager::Bun => "bun run",
        }
    }
}

/// The test runner a project uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    Vitest,
    Jest,
    /// `node --test`.
    Node,
    /// `bun test`, bun's own runner.
    Bun,
    /// Only a `test` script: run it, judged by exit code.
    Script,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Project {
    manager: Manager,
    /// The lockfile, when there is one.
    lockfile: Option<&'static str>,
    /// The version `packageManager` pins (`pnpm@9.15.0`), if any.
    pinned: Option<String>,
    runner: Runner,
    /// A coverage provider for vitest is installed.
    vitest_coverage: bool,
    jest_junit: bool,
    eslint: bool,
    eslint_sarif: bool,
    /// Yarn 2+ installs into node_modules (`nodeLinker: node-modules` or `pnpm` in .yarnrc.yml)
    /// rather than Plug'n'Play.
    yarn_node_modules: bool,
    /// oxlint is configured (a config file or the dependency), and whether it is a dependency.
    oxlint: bool,
    oxlint_dep: bool,
    /// Biome likewise.
    biome: bool,
    biome_dep: bool,
}

fn detect(root: &Path) -> Project {
    let package: serde_json::Value = std::fs::read(root.join("package.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let has_dep = |name: &str| {
        ["devDependencies", "dependencies"]
            .iter()
            .any(|k| package[k].get(name).is_some())
    };
    let exists = |f: &str| root.join(f).exists();
    let any = |fs: &[&str]| fs.iter().any(|f| exists(f));
    let pinned = package["packageManager"].as_str().map(str::to_string);
    let pinned_name = pinned
        .as_deref()
        .and_then(|p| p.split('@').next())
        .unwrap_or_default();
    let pinned_major = pinned
        .as_deref()
        .and_then(|p| p.split('@').nth(1))
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    let lockfiles: [(&'static str, Manager); 6] = [
        ("pnpm-lock.yaml", Manager::Pnpm),
        ("yarn.lock", Manager::Yarn { berry: false }),
        ("bun.lock", Manager::Bun),
        ("bun.lockb", Manager::Bun),
        ("package-lock.json", Manager::Npm),
        ("npm-shrinkwrap.json", Manager::Npm),
    ];
    let by_lock = lockfiles.iter().find(|(f, _)| exists(f)).copied();
    let manager = match pinned_name {
        "pnpm" => Manager::Pnpm,
        "yarn" => Manager::Yarn { berry: false },
        "bun" => Manager::Bun,
        "npm" => Manager::Npm,
        _ => by_lock.map_or(Manager::Npm, |(_, m)| m),
    };
    let manager = match manager {
        Manager::Yarn { .. } => Manager::Yarn {
            berry: pinned_major.is_some_and(|m| m >= 2) || exists(".yarnrc.yml"),
        },
        m => m,
    };
    let lockfile = lockfiles
        .iter()
        .find(|(f, m)| exists(f) && m.name() == manager.name())
        .map(|(f, _)| *f);
    let test_script = package["scripts"]["test"].as_str().unwrap_or_default();
    let runner = if has_dep("vitest") {
        Runner::Vitest
    } else if has_dep("jest") || package.get("jest").is_some() {
        Runner::Jest
    } else if test_script.contains("node --test") {
        Runner::Node
    } else if test_script.contains("bun test") {
        Runner::Bun
    } else if !test_script.is_empty() && !test_script.contains("no test specified") {
        Runner::Script
    } else {
        Runner::None
    };
    Project {
        manager,
        lockfile,
        pinned,
        runner,
        vitest_coverage: has_dep("@vitest/coverage-v8") || has_dep("@vitest/coverage-istanbul"),
        jest_junit: has_dep("jest-junit"),
        eslint: has_dep("eslint")
            && (any(&[
                "eslint.config.js",
                "eslint.config.mjs",
                "eslint.config.cjs",
                "eslint.config.ts",
                ".eslintrc",
                ".eslintrc.js",
                ".eslintrc.cjs",
                ".eslintrc.json",
                ".eslintrc.yml",
                ".eslintrc.yaml",
            ]) || package.get("eslintConfig").is_some()),
        eslint_sarif: has_dep("@microsoft/eslint-formatter-sarif"),
        yarn_node_modules: std::fs::read_to_string(root.join(".yarnrc.yml")).is_ok_and(|t| {
            t.lines().any(|l| {
                let l = l.trim();
                l.starts_with("nodeLinker:") && !l.contains("pnp")
            })
        }),
        oxlint: has_dep("oxlint") || any(&[".oxlintrc.json", "oxlintrc.json"]),
        oxlint_dep: has_dep("oxlint"),
        biome: has_dep("@biomejs/biome") || any(&["biome.json", "biome.jsonc"]),
        biome_dep: has_dep("@biomejs/biome"),
    }
}

pub(super) fn plan(root: &Path, tools: &Tools) -> Plan {
    plan_for(&detect(root), tools)
}

const REPORTS: &str = ".ci-attest/reports";

/// Environment of every Node check: the home folder is read-only in the sealed run, so npm's,
/// corepack's and pnpm's caches and state go to the check's private /tmp, unless the signer passes
/// their own (`pass_env`) or `~/.npm` is mounted as a `[[cache]]`.
fn prelude(pm: Manager) -> Vec<String> {
    let mut lines = Vec::new();
    if pm == (Manager::Yarn { berry: false }) {
        // The sandbox hides ~/.npmrc (unreadable there), which yarn 1 cannot get past.
        lines.push("mkdir -p /tmp/home && export HOME=/tmp/home".to_string());
    }
    lines.extend([
        "export XDG_CACHE_HOME=\"${XDG_CACHE_HOME:-/tmp/.cache}\" XDG_DATA_HOME=\"${XDG_DATA_HOME:-/tmp/.local/share}\" XDG_STATE_HOME=\"${XDG_STATE_HOME:-/tmp/.local/state}\"".into(),
        "export COREPACK_ENABLE_DOWNLOAD_PROMPT=0 npm_config_update_notifier=false".into(),
        "[ -w \"$HOME/.npm\" ] || export npm_config_cache=\"${npm_config_cache:-/tmp/.npm}\"".into(),
    ]);
    if pm == (Manager::Yarn { berry: true }) {
        // Yarn 2+ keeps its package cache in ~/.yarn/berry, read-only in the sealed run unless it
        // is a mounted [[cache]].
        lines.push(
            "[ -w \"$HOME/.yarn/berry\" ] || export YARN_GLOBAL_FOLDER=\"${YARN_GLOBAL_FOLDER:-/tmp/.yarn/berry}\"; export YARN_ENABLE_TELEMETRY=0".into(),
        );
    }
    lines
}

fn plan_for(p: &Project, tools: &Tools) -> Plan {
    let mut notes = Vec::new();
    let mut trailer = Vec::new();
    let pm = p.manager;
    let x = pm.exec();
    let mut setup = prelude(pm);
    if pm == Manager::Pnpm {
        // A restored node_modules made with another store is purged without asking (no terminal).
        setup.push("export npm_config_confirm_modules_purge=false".into());
    }
    setup.push(pm.install(p.lockfile.is_some()).to_string());
    if p.lockfile.is_none() {
        notes.push(format!(
            "there is no {} lockfile: commit one, so that runs install what was tested",
            pm.name()
        ));
    }
    let mut checks = Vec::new();
    let mut thresholds = vec![
        "\"tests.failed\" = { max = 0 }".to_string(),
        "\"tests.total\" = { min = 1 }".to_string(),
    ];
    let lcov = format!("{REPORTS}/coverage/lcov.info");
    let junit = format!("{REPORTS}/junit.xml");
    let mut coverage = false;
    let mut test_run = setup.clone();
    test_run.push(format!("rm -rf {REPORTS} && mkdir -p {REPORTS}"));
    let test_comment;
    match p.runner {
        Runner::Vitest => {
            let mut line = format!(
                "{x} vitest run --reporter=default --reporter=junit --outputFile.junit={junit}"
            );
            if p.vitest_coverage {
                line.push_str(&format!(
                    " --coverage.enabled=true --coverage.reportOnFailure=true --coverage.reporter=text-summary --coverage.reporter=lcov --coverage.reportsDirectory={REPORTS}/coverage"
                ));
                coverage = true;
            } else {
                notes.push("vitest coverage needs @vitest/coverage-v8 as a dev dependency: no coverage check".into());
            }
            test_run.push(line);
            test_comment = "vitest with JUnit XML and LCOV coverage.";
        }
        Runner::Jest => {
            if !p.jest_junit {
                if pm == Manager::Npm {
                    test_run.push(
                        "npm install --no-save --no-audit --no-fund jest-junit@16".to_string(),
                    );
                } else {
                    notes.push(format!(
                        "jest writes JUnit XML through jest-junit: add it (`{} add -D jest-junit`)",
                        pm.name()
                    ));
                }
            }
            test_run.push(format!(
                "JEST_JUNIT_OUTPUT_DIR={REPORTS} JEST_JUNIT_OUTPUT_NAME=junit.xml {x} jest --ci --reporters=default --reporters=jest-junit --coverage --coverageReporters=text-summary --coverageReporters=lcov --coverageDirectory={REPORTS}/coverage"
            ));
            coverage = true;
            test_comment = "jest with jest-junit's JUnit XML and LCOV coverage.";
        }
        Runner::Node => {
            // Under yarn 2+'s Plug'n'Play, dependencies resolve only through `yarn node`.
            let node = if pm == (Manager::Yarn { berry: true }) {
                "corepack yarn node"
            } else {
                "node"
            };
            let mut exclude = "";
            if pm == (Manager::Yarn { berry: true }) && !p.yarn_node_modules {
                // Yarn's loader (.pnp.cjs) would count as covered code; node >= 22.5 can leave it out.
                test_run.push("pnp_exclude=; node -e 'const [a, b] = process.versions.node.split(\".\").map(Number); process.exit(a > 22 || (a === 22 && b >= 5) ? 0 : 1)' && pnp_exclude='--test-coverage-exclude=.pnp.*'".to_string());
                exclude = " $pnp_exclude";
                notes.push("under node < 22.5 the coverage of `yarn node --test` also counts yarn's .pnp.cjs loader (node 22.5 adds --test-coverage-exclude, which the check uses there)".into());
            }
            test_run.push(format!(
                "{node} --test --experimental-test-coverage{exclude} --test-reporter=spec --test-reporter-destination=stdout --test-reporter=junit --test-reporter-destination={junit} --test-reporter=lcov --test-reporter-destination={lcov}"
            ));
            test_run[setup.len()] = format!("rm -rf {REPORTS} && mkdir -p {REPORTS}/coverage");
            coverage = true;
            test_comment =
                "node's test runner (node >= 20.11 for the lcov reporter): JUnit XML and LCOV.";
        }
        Runner::Bun => {
            test_run.push(format!(
                "bun test --reporter=junit --reporter-outfile={junit} --coverage --coverage-reporter=text --coverage-reporter=lcov --coverage-dir={REPORTS}/coverage"
            ));
            test_run[setup.len()] = format!("rm -rf {REPORTS} && mkdir -p {REPORTS}/coverage");
            coverage = true;
            test_comment = "bun's test runner: JUnit XML and LCOV.";
        }
        Runner::Script | Runner::None => {
            test_comment = "";
        }
    }
    if matches!(p.runner, Runner::Script | Runner::None) {
        let mut run = setup.clone();
        run.push(format!("{} test", pm.script()));
        checks.push(Check {
            name: "tests",
            kind: "custom",
            comment: vec![
                "No jest, vitest or `node --test` found: the test script, judged by its exit code."
                    .into(),
                "For counts, make it write JUnit XML and use kind = \"tests\" with a junit report."
                    .into(),
            ],
            run,
            reports: Vec::new(),
        });
        thresholds = vec!["\"tests.exit_code\" = { max = 0 }".into()];
    } else {
        checks.push(Check {
            name: "tests",
            kind: "tests",
            comment: vec![test_comment.into()],
            run: test_run,
            reports: vec![("junit", junit.clone())],
        });
    }
    if coverage {
        checks.push(Check {
            name: "coverage",
            kind: "coverage",
            comment: vec!["The coverage the tests check measured.".into()],
            run: vec![format!("test -f {lcov}")],
            reports: vec![("lcov", lcov.clone())],
        });
        thresholds.push("\"coverage.lines\" = { min = 80.0 }".into());
    }
    if p.eslint {
        // The tests check, which runs first, installed the dependencies into the checkout.
        let mut run = prelude(pm);
        let formatter = "@microsoft/eslint-formatter-sarif";
        let mut ok = true;
        if !p.eslint_sarif {
            if pm == Manager::Npm {
                run.push(format!(
                    "npm install --no-save --no-audit --no-fund {formatter}@3"
                ));
            } else {
                ok = false;
            }
        }
        run.push(format!("mkdir -p {REPORTS}"));
        run.push(format!(
            "{x} eslint . --format {formatter} --output-file {REPORTS}/eslint.sarif"
        ));
        if ok {
            checks.push(Check {
                name: "lint",
                kind: "lint",
                comment: vec!["eslint to SARIF.".into()],
                run,
                reports: vec![("sarif", format!("{REPORTS}/eslint.sarif"))],
            });
            thresholds.push("\"lint.errors\" = { max = 0 }".into());
        } else {
            trailer.push(format!(
                "# eslint writes SARIF through {formatter}: add it as a dev dependency\n\
                 # (`{} add -D {formatter}`), then a check:\n\
                 # [[check]]\n# name = \"lint\"\n# kind = \"lint\"\n\
                 # run = \"mkdir -p {REPORTS} && {x} eslint . --format {formatter} --output-file {REPORTS}/eslint.sarif\"\n\
                 # reports = [{{ format = \"sarif\", path = \"{REPORTS}/eslint.sarif\" }}]",
                pm.name()
            ));
            notes.push(format!(
                "eslint needs {formatter} for SARIF: no lint check yet (see the comment in .ci-attest.toml)"
            ));
        }
    } else if p.oxlint || p.biome {
        // Both write SARIF to stdout (oxlint >= 1.0 `--format sarif`, Biome 2 `--reporter=sarif`)
        // and exit 1 on errors, as eslint does.
        let (tool, package, dep, command) = if p.oxlint {
            (
                "oxlint",
                "oxlint",
                p.oxlint_dep,
                format!("{x} oxlint --format sarif"),
            )
        } else {
            (
                "biome",
                "@biomejs/biome",
                p.biome_dep,
                format!("{x} biome lint --reporter=sarif ."),
            )
        };
        let report = format!("{REPORTS}/{tool}.sarif");
        let mut run = prelude(pm);
        run.push(format!("mkdir -p {REPORTS}"));
        run.push(format!("{command} > {report}"));
        if dep {
            checks.push(Check {
                name: "lint",
                kind: "lint",
                comment: vec![format!("{tool} to SARIF.")],
                run,
                reports: vec![("sarif", report)],
            });
            thresholds.push("\"lint.errors\" = { max = 0 }".into());
        } else {
            trailer.push(format!(
                "# {tool} is configured but not a dependency, so the checkout has no {tool} to run: add it\n\
                 # (`{} add -D {package}`), then a check:\n\
                 # [[check]]\n# name = \"lint\"\n# kind = \"lint\"\n\
                 # run = \"mkdir -p {REPORTS} && {command} > {report}\"\n\
                 # reports = [{{ format = \"sarif\", path = \"{report}\" }}]",
                pm.name()
            ));
            notes.push(format!(
                "{tool} is configured but not a dependency: no lint check yet (see the comment in .ci-attest.toml)"
            ));
        }
    }
    let mut caches = Vec::new();
    if let Some(lock) = p.lockfile {
        if pm == (Manager::Yarn { berry: true }) && !p.yarn_node_modules {
            // Plug'n'Play: no node_modules (yarn removes one it finds, and a mounted cache cannot
            // be removed); the packages live in yarn's global cache.
            if tools.home_has(".yarn/berry") {
                caches.push(Cache {
                    path: "~/.yarn/berry".into(),
                    key: Vec::new(),
                });
            } else {
                notes.push("yarn downloads every package in each run: `mkdir -p ~/.yarn/berry` and add `[[cache]] path = \"~/.yarn/berry\"` to keep them".into());
            }
        } else if pm == Manager::Npm {
            // `npm ci` empties node_modules whatever it holds: npm's download cache is what helps.
            if tools.home_has(".npm") {
                caches.push(Cache {
                    path: "~/.npm".into(),
                    key: Vec::new(),
                });
            } else {
                notes.push("npm downloads every package in each run: `mkdir ~/.npm` and add `[[cache]] path = \"~/.npm\"` to keep them".into());
            }
        } else {
            caches.push(Cache {
                path: "node_modules".into(),
                key: vec![lock.to_string(), "package.json".into()],
            });
        }
    }
    let summary = format!(
        "node, {}{}, {}",
        pm.name(),
        p.pinned
            .as_deref()
            .map(|v| format!(" ({v}, through corepack)"))
            .unwrap_or_default(),
        match p.runner {
            Runner::Vitest => "vitest",
            Runner::Jest => "jest",
            Runner::Node => "node --test",
            Runner::Bun => "bun test",
            Runner::Script => "test script",
            Runner::None => "no test runner found",
        }
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
    fn pnpm_and_vitest_through_corepack() {
        let (text, plan) = config_for(
            &[
                (
                    "package.json",
                    r#"{"packageManager": "pnpm@9.15.0", "devDependencies": {"vitest": "2", "@vitest/coverage-v8": "2"}}"#,
                ),
                ("pnpm-lock.yaml", ""),
            ],
            &Tools::default(),
        );
        assert!(
            text.contains("corepack pnpm install --frozen-lockfile"),
            "{text}"
        );
        assert!(text.contains("corepack pnpm exec vitest run"), "{text}");
        assert!(
            text.contains("--outputFile.junit=.ci-attest/reports/junit.xml"),
            "{text}"
        );
        assert!(text.contains("format = \"lcov\""), "{text}");
        assert!(
            text.contains("path = \"node_modules\"\nkey = [\"pnpm-lock.yaml\""),
            "{text}"
        );
        assert!(plan.summary.contains("pnpm@9.15.0"), "{}", plan.summary);
    }

    #[test]
    fn npm_and_jest() {
        let (text, _) = config_for(
            &[
                (
                    "package.json",
                    r#"{"devDependencies": {"jest": "29", "jest-junit": "16", "eslint": "9"}}"#,
                ),
                ("package-lock.json", "{}"),
                ("eslint.config.js", ""),
            ],
            &Tools::default(),
        );
        assert!(text.contains("npm ci --no-audit --no-fund"), "{text}");
        assert!(text.contains("npx --no-install jest --ci"), "{text}");
        assert!(
            !text.contains("install --no-save --no-audit --no-fund jest-junit"),
            "{text}"
        );
        assert!(text.contains("eslint-formatter-sarif@3"), "{text}");
        assert!(text.contains("npm_config_cache"), "{text}");
        assert!(
            !text.contains("node_modules\""),
            "npm ci empties it: {text}"
        );
    }

    #[test]
    fn yarn_berry_and_node_test() {
        let (text, _) = config_for(
            &[
                (
                    "package.json",
                    r#"{"packageManager": "yarn@4.5.0", "scripts": {"test": "node --test"}}"#,
                ),
                ("yarn.lock", ""),
            ],
            &Tools::default(),
        );
        assert!(text.contains("corepack yarn install --immutable"), "{text}");
        assert!(!text.contains("HOME=/tmp/home"), "{text}");
        assert!(text.contains("corepack yarn node --test"), "{text}");
        assert!(text.contains("--test-reporter=junit"), "{text}");
        assert!(
            text.contains("mkdir -p .ci-attest/reports/coverage"),
            "{text}"
        );
        // Plug'n'Play: yarn removes a node_modules it finds, which a mounted cache cannot be.
        assert!(!text.contains("path = \"node_modules\""), "{text}");
        assert!(text.contains("export YARN_GLOBAL_FOLDER="), "{text}");
        assert!(
            text.contains("--experimental-test-coverage $pnp_exclude"),
            "{text}"
        );
        let (text, _) = config_for(
            &[
                (
                    "package.json",
                    r#"{"packageManager": "yarn@4.5.0", "scripts": {"test": "node --test"}}"#,
                ),
                ("yarn.lock", ""),
                (".yarnrc.yml", "nodeLinker: node-modules\n"),
            ],
            &Tools::default(),
        );
        assert!(text.contains("path = \"node_modules\""), "{text}");
    }

    #[test]
    fn bun_and_its_test_runner() {
        let (text, plan) = config_for(
            &[
                (
                    "package.json",
                    r#"{"scripts": {"test": "bun test"}, "devDependencies": {"zod": "3"}}"#,
                ),
                ("bun.lock", "{}"),
            ],
            &Tools::default(),
        );
        assert!(text.contains("bun install --frozen-lockfile"), "{text}");
        assert!(
            text.contains("bun test --reporter=junit --reporter-outfile=.ci-attest/reports/junit.xml --coverage"),
            "{text}"
        );
        assert!(text.contains("kind = \"tests\""), "{text}");
        assert!(
            text.contains("path = \".ci-attest/reports/coverage/lcov.info\""),
            "{text}"
        );
        assert!(plan.summary.contains("bun test"), "{}", plan.summary);
    }

    #[test]
    fn oxlint_and_biome_write_sarif_when_they_are_dependencies() {
        let (text, _) = config_for(
            &[
                (
                    "package.json",
                    r#"{"devDependencies": {"vitest": "3", "oxlint": "1.20.0"}}"#,
                ),
                ("pnpm-lock.yaml", ""),
                (".oxlintrc.json", "{}"),
            ],
            &Tools::default(),
        );
        assert!(
            text.contains(
                "corepack pnpm exec oxlint --format sarif > .ci-attest/reports/oxlint.sarif"
            ),
            "{text}"
        );
        assert!(
            text.contains("{ format = \"sarif\", path = \".ci-attest/reports/oxlint.sarif\" }"),
            "{text}"
        );
        let (text, _) = config_for(
            &[
                (
                    "package.json",
                    r#"{"devDependencies": {"jest": "29", "@biomejs/biome": "2.2.0"}}"#,
                ),
                ("package-lock.json", "{}"),
                ("biome.json", "{}"),
            ],
            &Tools::default(),
        );
        assert!(
            text.contains("biome lint --reporter=sarif . > .ci-attest/reports/biome.sarif"),
            "{text}"
        );
        // Configured but not installed: a comment saying what to add, no check that cannot run.
        let (text, plan) = config_for(
            &[
                ("package.json", r#"{"devDependencies": {"jest": "29"}}"#),
                ("package-lock.json", "{}"),
                ("biome.json", "{}"),
            ],
            &Tools::default(),
        );
        assert!(text.contains("# (`npm add -D @biomejs/biome`)"), "{text}");
        assert!(!text.contains("name = \"lint\"\nkind"), "{text}");
        assert!(
            plan.notes.iter().any(|n| n.contains("biome")),
            "{:?}",
            plan.notes
        );
    }

    #[test]
    fn yarn_classic_gets_a_private_home() {
        let (text, _) = config_for(
            &[
                (
                    "package.json",
                    r#"{"devDependencies": {"jest": "29", "jest-junit": "16"}}"#,
                ),
                ("yarn.lock", ""),
            ],
            &Tools::default(),
        );
        assert!(
            text.contains("corepack yarn install --frozen-lockfile"),
            "{text}"
        );
        assert!(
            text.contains("set -e\nmkdir -p /tmp/home && export HOME=/tmp/home\n"),
            "{text}"
        );
        assert!(text.contains("corepack yarn jest --ci"), "{text}");
    }

    #[test]
    fn only_a_test_script_is_a_custom_check() {
        let (text, plan) = config_for(
            &[("package.json", r#"{"scripts": {"test": "make check"}}"#)],
            &Tools::default(),
        );
        assert!(text.contains("npm run test"), "{text}");
        assert_eq!(plan.checks[0].kind, "custom");
    }
}
