//! The in-toto test-result predicate (`https://in-toto.io/attestation/test-result/v0.1`).
//!
//! Beside its own local-run statement, a run can be described by this standard predicate, which
//! generic in-toto verifiers understand: a second Statement v1 about the same subject (the commit)
//! whose predicate has
//!
//! - `result` (required): `PASSED`, `WARNED` or `FAILED`, the local run's overall result, so the
//!   two statements never disagree;
//! - `configuration` (required): the `.ci-attest.toml` that decided what ran, as a
//!   ResourceDescriptor with its sha256;
//! - `passedTests`, `warnedTests`, `failedTests` (optional in the spec, always written here): test
//!   ids (`suite::name`) of every `tests` check, in configuration order. `warnedTests` is always
//!   empty: no report format ci-attest reads has a "passed with a warning" test outcome.
//!
//! The spec's optional `url` is never written (a local run has no page to link to).
//!
//! The lists are bounded like everything ci-attest takes from reports: at most
//! [`MAX_FAILED_TESTS`] failing and [`MAX_PASSED_TESTS`] passing ids in all. The predicate has no
//! field for what was left out; the local-run statement's counts (`tests.failed`,
//! `failedTestsOmitted`) are the complete record.

use crate::collect::MAX_PASSED_TESTS;
use crate::collect::run::PassedTests;
use crate::statement::{
    CheckKind, LocalRunStatement, MAX_FAILED_TESTS, Outcome, ResourceDescriptor, STATEMENT_TYPE,
    Statement,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Predicate type of in-toto's test-result predicate, version 0.1.
pub const TEST_RESULT_PREDICATE_TYPE: &str = "https://in-toto.io/attestation/test-result/v0.1";

/// The configuration file name used when the local run does not record its configuration.
pub const DEFAULT_CONFIG_NAME: &str = ".ci-attest.toml";

/// The test-result predicate, with exactly the spec's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestResultPredicate {
    /// The result of the test run.
    pub result: Outcome,
    /// The configuration used for the run.
    pub configuration: Vec<ResourceDescriptor>,
    /// A link to the test run (never written by ci-attest; read if another tool wrote it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Ids of tests that passed.
    #[serde(default)]
    pub passed_tests: Vec<String>,
    /// Ids of tests that passed with warnings.
    #[serde(default)]
    pub warned_tests: Vec<String>,
    /// Ids of tests that failed.
    #[serde(default)]
    pub failed_tests: Vec<String>,
}

/// A test-result statement.
pub type TestResultStatement = Statement<TestResultPredicate>;

impl TestResultStatement {
    /// Serialises the statement as compact JSON (the DSSE payload).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("statement types always serialise")
    }
}

/// Builds the test-result statement of a local run.
///
/// `passed` are the passed names [`crate::collect::run::run_checks`] returned beside the records
/// (see [`crate::attest::RunOutput::passed_tests`]); `config_sha256` is the lowercase hex sha256
/// of the configuration file's bytes. The subject is the local-run statement's, unchanged. Failing
/// tests come from the local run's `tests` checks, passing ones from `passed`, in check order,
/// bounded as the module documentation says.
pub fn test_result_statement(
    local: &LocalRunStatement,
    passed: &[PassedTests],
    config_sha256: &str,
) -> TestResultStatement {
    let p = &local.predicate;
    let config_name = p
        .config
        .as_ref()
        .map(|c| c.path.clone())
        .unwrap_or_else(|| DEFAULT_CONFIG_NAME.to_string());
    let failed_tests: Vec<String> = p
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::Tests)
        .flat_map(|c| c.failed_tests.iter().map(|t| t.id()))
        .take(MAX_FAILED_TESTS)
        .collect();
    // Only checks the local run has as `tests` checks, so the two statements name the same checks.
    let passed_tests: Vec<String> = passed
        .iter()
        .filter(|n| {
            p.checks
                .iter()
                .any(|c| c.kind == CheckKind::Tests && c.name == n.check)
        })
        .flat_map(|n| n.names.iter().cloned())
        .take(MAX_PASSED_TESTS)
        .collect();
    Statement {
        statement_type: STATEMENT_TYPE.to_string(),
        subject: local.subject.clone(),
        predicate_type: TEST_RESULT_PREDICATE_TYPE.to_string(),
        predicate: TestResultPredicate {
            result: p.result,
            configuration: vec![ResourceDescriptor {
                name: Some(config_name),
                uri: None,
                digest: BTreeMap::from([(
                    crate::statement::DIGEST_SHA256.to_string(),
                    config_sha256.to_ascii_lowercase(),
                )]),
            }],
            url: None,
            passed_tests,
            warned_tests: Vec::new(),
            failed_tests,
        },
    }
}

/// A key-signed bundle of a FAILED test-result statement (one failing test), for tests.
#[cfg(test)]
pub(crate) fn signed_test_result_bundle() -> Vec<u8> {
    use crate::statement::{STATEMENT_TYPE, Statement};
    let st = Statement {
        statement_type: STATEMENT_TYPE.to_string(),
        subject: vec![],
        predicate_type: TEST_RESULT_PREDICATE_TYPE.to_string(),
        predicate: TestResultPredicate {
            result: crate::statement::Outcome::Failed,
            configuration: vec![],
            url: None,
            passed_tests: vec![],
            warned_tests: vec![],
            failed_tests: vec!["s::t".into()],
        },
    };
    let key = crate::sign::key::SigningKey::generate().expect("the system RNG works in tests");
    crate::sign::sign_statement(&st.to_json(), &key)
        .to_json()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::TestCounts;
    use crate::statement::{
        CheckRecord, FailedTest, Host, LocalRunPredicate, PREDICATE_TYPE, Repository, Source, Tool,
    };

    const CONFIG_SHA: &str = "aa00000000000000000000000000000000000000000000000000000000000001";

    fn check(name: &str, kind: CheckKind, result: Outcome, failed: &[&str]) -> CheckRecord {
        CheckRecord {
            name: name.into(),
            kind,
            command: "true".into(),
            exit_code: Some(0),
            duration_ms: 1,
            result,
            tests: (kind == CheckKind::Tests).then(TestCounts::default),
            coverage: None,
            lint: None,
            failed_tests: failed
                .iter()
                .map(|n| FailedTest {
                    suite: Some("suite".into()),
                    name: n.to_string(),
                    error: false,
                })
                .collect(),
            failed_tests_omitted: 0,
            network: None,
            reports: vec![],
            log: None,
            problems: vec![],
        }
    }

    fn local(checks: Vec<CheckRecord>) -> LocalRunStatement {
        let result = checks
            .iter()
            .fold(Outcome::Passed, |a, c| a.worst(c.result));
        Statement {
            statement_type: STATEMENT_TYPE.into(),
            subject: vec![ResourceDescriptor {
                name: Some("https://example.com/o/r@abc".into()),
                uri: None,
                digest: BTreeMap::from([
                    ("gitCommit".into(), "ab".repeat(20)),
                    ("sha256".into(), "cd".repeat(32)),
                ]),
            }],
            predicate_type: PREDICATE_TYPE.into(),
            predicate: LocalRunPredicate {
                tool: Tool {
                    name: "ci-attest".into(),
                    version: "0".into(),
                },
                host: Host {
                    os: "linux".into(),
                    arch: "x86_64".into(),
                    toolchains: BTreeMap::new(),
                },
                started_on: "2000-01-01T00:00:00Z".into(),
                finished_on: "2000-01-01T00:00:01Z".into(),
                source: Source {
                    commit: "ab".repeat(20),
                    tree: "ef".repeat(20),
                    git_ref: None,
                    pristine: true,
                    uncommitted_changes_ignored: false,
                },
                repository: Repository {
                    uri: None,
                    forge_id: None,
                },
                checks,
                result,
                isolation: None,
                config: None,
                caches: Vec::new(),
            },
        }
    }

    fn passed(check: &str, names: &[&str]) -> PassedTests {
        PassedTests {
            check: check.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
            omitted: 0,
        }
    }

    #[test]
    fn serialises_with_exactly_the_spec_field_names() {
        let local = local(vec![check(
            "unit",
            CheckKind::Tests,
            Outcome::Failed,
            &["b"],
        )]);
        let st = test_result_statement(&local, &[passed("unit", &["suite::a"])], CONFIG_SHA);
        let value: serde_json::Value = serde_json::from_slice(&st.to_json()).expect("json");
        assert_eq!(value["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(value["predicateType"], TEST_RESULT_PREDICATE_TYPE);
        let keys: Vec<&str> = value["predicate"]
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "configuration",
                "failedTests",
                "passedTests",
                "result",
                "warnedTests"
            ]
        );
        assert_eq!(
            value["predicate"],
            serde_json::json!({
                "result": "FAILED",
                "configuration": [{"name": ".ci-attest.toml", "digest": {"sha256": CONFIG_SHA}}],
                "passedTests": ["suite::a"],
                "warnedTests": [],
                "failedTests": ["suite::b"],
            })
        );
    }

    #[test]
    fn has_the_same_subject_as_the_local_run_statement() {
        let local = local(vec![check("unit", CheckKind::Tests, Outcome::Passed, &[])]);
        let st = test_result_statement(&local, &[], CONFIG_SHA);
        assert_eq!(st.subject, local.subject);
        assert_eq!(st.predicate.result, Outcome::Passed);
    }

    #[test]
    fn names_only_tests_checks_in_check_order() {
        let local = local(vec![
            check("lint", CheckKind::Lint, Outcome::Warned, &["not-a-test"]),
            check("unit", CheckKind::Tests, Outcome::Failed, &["u1"]),
            check("it", CheckKind::Tests, Outcome::Failed, &["i1", "i2"]),
        ]);
        let names = [
            passed("lint", &["lint::x"]),
            passed("unit", &["u::ok"]),
            passed("it", &["i::ok"]),
        ];
        let st = test_result_statement(&local, &names, CONFIG_SHA);
        assert_eq!(
            st.predicate.failed_tests,
            ["suite::u1", "suite::i1", "suite::i2"]
        );
        assert_eq!(st.predicate.passed_tests, ["u::ok", "i::ok"]);
        assert_eq!(st.predicate.result, Outcome::Failed);
    }

    #[test]
    fn lists_are_bounded_across_checks() {
        let many: Vec<String> = (0..MAX_FAILED_TESTS).map(|i| format!("t{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let local = local(vec![
            check("a", CheckKind::Tests, Outcome::Failed, &many),
            check("b", CheckKind::Tests, Outcome::Failed, &many),
        ]);
        let lots: Vec<String> = (0..MAX_PASSED_TESTS).map(|i| format!("p{i}")).collect();
        let names = [
            PassedTests {
                check: "a".into(),
                names: lots.clone(),
                omitted: 0,
            },
            PassedTests {
                check: "b".into(),
                names: lots,
                omitted: 0,
            },
        ];
        let st = test_result_statement(&local, &names, CONFIG_SHA);
        assert_eq!(st.predicate.failed_tests.len(), MAX_FAILED_TESTS);
        assert_eq!(st.predicate.passed_tests.len(), MAX_PASSED_TESTS);
    }

    #[test]
    fn the_recorded_config_path_names_the_configuration() {
        let mut local = local(vec![]);
        local.predicate.config = Some(crate::statement::ConfigRecord {
            source: crate::statement::ConfigSource::Override,
            path: "ci/other.toml".into(),
            sha256: CONFIG_SHA.into(),
            content: None,
        });
        let st = test_result_statement(&local, &[], &CONFIG_SHA.to_uppercase());
        assert_eq!(
            st.predicate.configuration[0].name.as_deref(),
            Some("ci/other.toml")
        );
        assert_eq!(st.predicate.configuration[0].digest["sha256"], CONFIG_SHA);
    }

    #[test]
    fn refuses_fields_the_spec_does_not_have_and_requires_result_and_configuration() {
        let ok = serde_json::json!({"result": "PASSED", "configuration": []});
        assert!(serde_json::from_value::<TestResultPredicate>(ok).is_ok());
        let extra = serde_json::json!({"result": "PASSED", "configuration": [], "passed": []});
        assert!(serde_json::from_value::<TestResultPredicate>(extra).is_err());
        let no_config = serde_json::json!({"result": "PASSED"});
        assert!(serde_json::from_value::<TestResultPredicate>(no_config).is_err());
    }
}
