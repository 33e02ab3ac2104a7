//! Step 1 of verification for the statement itself: strict parsing and self-consistency.
//!
//! [`parse_local_run`] reads a DSSE payload as a ci-attest local-run statement, refusing anything a
//! second parser could read differently: a payload over [`MAX_STATEMENT_BYTES`], JSON nested deeper
//! than [`MAX_DEPTH`], the same key twice in any object at any depth (serde_json's `Value` would
//! silently keep the last one), another `_type` or `predicateType`, a predicate that does not match
//! its schema, and `startedOn` / `finishedOn` that [`crate::statement::parse_time`] refuses.
//!
//! [`consistency`] then checks that the statement's figures agree with one another: test counts add
//! up, coverage never covers more than its total, a coverage percent is `covered / total`, and
//! check names are unique. ci-attest never writes a statement that breaks these rules (its
//! collectors count each test case exactly once, as passed, failed or skipped, and refuse coverage
//! reports with more covered than total items), so a statement that does was not made by a
//! conforming ci-attest, whatever key signed it.

use crate::finding::{Code, Finding};
use crate::statement::{
    CheckRecord, Coverage, LocalRunPredicate, LocalRunStatement, PREDICATE_TYPE, STATEMENT_TYPE,
    Statement, TimeError, parse_time,
};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Largest statement payload read at all: the bundle limit ([`crate::bundle::MAX_BUNDLE_BYTES`]),
/// which the base64 payload inside a bundle can never reach.
pub const MAX_STATEMENT_BYTES: usize = crate::bundle::MAX_BUNDLE_BYTES;

/// Deepest nesting of JSON arrays and objects read (a local-run statement needs 5 levels). Bounds
/// the stack of the validating pass whatever the input.
pub const MAX_DEPTH: usize = 64;

/// How far a coverage `percent` may be from `100 * covered / total` (rounding by other writers).
pub const PERCENT_TOLERANCE: f64 = 0.01;

/// Longest statement-derived text (a key, a time, a check name) quoted in a finding, in characters.
const MAX_QUOTED_CHARS: usize = 80;

/// Why a payload fails the validating pass of [`check_json_shape`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonShapeError {
    /// The payload is not one JSON value (serde_json's message, with line and column).
    #[error("not JSON: {0}")]
    Syntax(String),
    /// An object holds the same key twice.
    #[error("key {key} appears twice in one object, at {path}")]
    DuplicateKey {
        /// The key, JSON-quoted and clipped.
        key: String,
        /// Where the second occurrence is, as a JSON path such as `subject[0].digest.gitCommit`.
        path: String,
    },
    /// Arrays and objects nest deeper than [`MAX_DEPTH`].
    #[error("nested deeper than {limit} levels, at {path}")]
    TooDeep {
        /// The limit, [`MAX_DEPTH`].
        limit: usize,
        /// The path of the value that went too deep.
        path: String,
    },
}

/// Checks that `payload` is exactly one JSON value with no object holding a key twice and no
/// nesting deeper than [`MAX_DEPTH`].
///
/// Keys are compared after JSON unescaping, so `"gitCommit"` and `"git\u0043ommit"` are the same
/// key. One streaming pass with serde_json's deserializer: time and memory are linear in the input
/// (each object keeps a hash set of its own keys while it is open, and at most [`MAX_DEPTH`] are
/// open at once); values are not kept.
pub fn check_json_shape(payload: &[u8]) -> Result<(), JsonShapeError> {
    let mut walker = Walker::default();
    let mut de = serde_json::Deserializer::from_slice(payload);
    let walked = Node {
        walker: &mut walker,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    match (walked, walker.problem) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(problem)) => Err(problem),
        (Err(e), None) => Err(JsonShapeError::Syntax(e.to_string())),
    }
}

/// One step of a JSON path.
enum Segment {
    Key(String),
    Index(usize),
}

/// State of the validating pass: where it is, and the first problem it found.
#[derive(Default)]
struct Walker {
    path: Vec<Segment>,
    depth: usize,
    problem: Option<JsonShapeError>,
}

impl Walker {
    /// The current path, e.g. `subject[0].digest.gitCommit` (`(top level)` for the root).
    fn path(&self) -> String {
        render_path(&self.path)
    }

    fn enter<E: de::Error>(&mut self) -> Result<(), E> {
        if self.depth >= MAX_DEPTH {
            self.problem = Some(JsonShapeError::TooDeep {
                limit: MAX_DEPTH,
                path: self.path(),
            });
            return Err(E::custom("nested too deeply"));
        }
        self.depth += 1;
        Ok(())
    }
}

fn render_path(path: &[Segment]) -> String {
    use fmt::Write;
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Segment::Key(k) if is_identifier(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Key(k) => {
                let _ = write!(out, "[{}]", quote(k));
            }
        }
    }
    if out.is_empty() {
        out.push_str("(top level)");
    }
    out
}

/// Keys that print as `.key` in a path: short ASCII identifiers.
fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && key.len() <= MAX_QUOTED_CHARS
}

/// Untrusted text as a clipped JSON string literal: no control characters or escapes reach the
/// reader, and at most [`MAX_QUOTED_CHARS`] characters of it.
fn quote(text: &str) -> String {
    let clipped: String = text.chars().take(MAX_QUOTED_CHARS).collect();
    let mut out = serde_json::Value::String(clipped).to_string();
    if text.chars().nth(MAX_QUOTED_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// The seed that walks one JSON value.
struct Node<'w> {
    walker: &'w mut Walker,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }

    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.walker.enter()?;
        let mut index = 0usize;
        loop {
            self.walker.path.push(Segment::Index(index));
            let more = seq.next_element_seed(Node {
                walker: &mut *self.walker,
            })?;
            self.walker.path.pop();
            if more.is_none() {
                break;
            }
            index += 1;
        }
        self.walker.depth -= 1;
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.walker.enter()?;
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let repeated = seen.contains(&key);
            self.walker.path.push(Segment::Key(key));
            if repeated {
                let key = match self.walker.path.last() {
                    Some(Segment::Key(k)) => quote(k),
                    _ => String::new(),
                };
                self.walker.problem = Some(JsonShapeError::DuplicateKey {
                    key,
                    path: self.walker.path(),
                });
                return Err(de::Error::custom("duplicate key"));
            }
            map.next_value_seed(Node {
                walker: &mut *self.walker,
            })?;
            if let Some(Segment::Key(key)) = self.walker.path.pop() {
                seen.insert(key);
            }
        }
        self.walker.depth -= 1;
        Ok(())
    }
}

/// Parses a DSSE payload as a ci-attest local-run statement, strictly.
///
/// Refuses, each with its own finding (all that apply are reported): a payload over
/// [`MAX_STATEMENT_BYTES`] or not JSON or nested deeper than [`MAX_DEPTH`]
/// (`statement-malformed`); a key twice in one object anywhere (`statement-duplicate-key`, naming
/// the key and its path); a `_type` other than in-toto Statement v1 (`statement-malformed`); a
/// `predicateType` other than [`PREDICATE_TYPE`] (`predicate-type-unsupported`); a predicate that
/// does not match its schema, including negative or fractional counts, which are unsigned integers
/// in the schema (`statement-malformed`); and a `startedOn` or `finishedOn` that
/// [`parse_time`] refuses (`statement-time-invalid`). Consistency of the figures is
/// [`consistency`]'s job.
pub fn parse_local_run(payload: &[u8]) -> Result<LocalRunStatement, Vec<Finding>> {
    if payload.len() > MAX_STATEMENT_BYTES {
        return Err(vec![
            Finding::error(Code::StatementMalformed, "the statement is too large").expected_found(
                format!("at most {MAX_STATEMENT_BYTES} bytes"),
                format!("{} bytes", payload.len()),
            ),
        ]);
    }
    match check_json_shape(payload) {
        Ok(()) => {}
        Err(JsonShapeError::DuplicateKey { key, path }) => {
            return Err(vec![
                Finding::error(
                    Code::StatementDuplicateKey,
                    format!("the statement's JSON holds the key {key} twice in one object"),
                )
                .expected_found(
                    "every key at most once in each JSON object",
                    format!("{key} again at {path}"),
                )
                .hint(
                    "parsers disagree on which of two equal keys counts, so the statement says \
                     two things at once; ci-attest never writes one: do not trust the signer's tool",
                ),
            ]);
        }
        Err(e @ JsonShapeError::TooDeep { .. }) => {
            return Err(vec![
                Finding::error(
                    Code::StatementMalformed,
                    "the payload is not an in-toto statement",
                )
                .expected_found(
                    format!("JSON nested at most {MAX_DEPTH} levels deep"),
                    e.to_string(),
                ),
            ]);
        }
        Err(JsonShapeError::Syntax(message)) => {
            return Err(vec![
                Finding::error(
                    Code::StatementMalformed,
                    "the payload is not an in-toto statement",
                )
                .expected_found("an in-toto Statement v1 JSON object", message),
            ]);
        }
    }
    let value: Statement<serde_json::Value> = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => {
            return Err(vec![
                Finding::error(
                    Code::StatementMalformed,
                    "the payload is not an in-toto statement",
                )
                .expected_found("an in-toto Statement v1 JSON object", e.to_string()),
            ]);
        }
    };
    let mut findings = Vec::new();
    if value.statement_type != STATEMENT_TYPE {
        findings.push(
            Finding::error(
                Code::StatementMalformed,
                "the statement is not an in-toto Statement v1",
            )
            .expected_found(STATEMENT_TYPE, quote(&value.statement_type)),
        );
    }
    if value.predicate_type != PREDICATE_TYPE {
        findings.push(
            Finding::error(
                Code::PredicateTypeUnsupported,
                "the statement's predicate is not a ci-attest local-run predicate",
            )
            .expected_found(PREDICATE_TYPE, quote(&value.predicate_type)),
        );
    }
    if !findings.is_empty() {
        return Err(findings);
    }
    let predicate = match serde_json::from_value::<LocalRunPredicate>(value.predicate) {
        Ok(p) => p,
        Err(e) => {
            return Err(vec![
                Finding::error(
                    Code::StatementMalformed,
                    "the predicate does not match its schema",
                )
                .expected_found(
                    format!("a predicate following {PREDICATE_TYPE} (docs/predicate.schema.json)"),
                    e.to_string(),
                ),
            ]);
        }
    };
    for (field, text) in [
        ("startedOn", &predicate.started_on),
        ("finishedOn", &predicate.finished_on),
    ] {
        if let Err(e) = parse_time(text) {
            findings.push(time_finding(field, text, &e));
        }
    }
    if !findings.is_empty() {
        return Err(findings);
    }
    Ok(Statement {
        statement_type: value.statement_type,
        subject: value.subject,
        predicate_type: value.predicate_type,
        predicate,
    })
}

fn time_finding(field: &str, text: &str, error: &TimeError) -> Finding {
    Finding::error(
        Code::StatementTimeInvalid,
        format!("the statement's {field} is not a time ci-attest accepts"),
    )
    .expected_found(
        format!(
            "{field} as YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM) in years 1970-9999, \
             e.g. 2026-11-02T10:00:00Z"
        ),
        format!("{field} = {} ({error})", quote(text)),
    )
    .hint(
        "ci-attest writes times such as 2026-11-02T10:00:00Z; one spelled otherwise could be \
         read as another time by another parser: do not trust the signer's tool",
    )
}

/// Checks that a statement's figures agree with one another; each disagreement is an error.
///
/// - `test-counts-inconsistent`: a check's `tests` has `passed + failed + skipped != total`
///   (computed without overflow), so `passed > total` is caught as well.
/// - `coverage-counts-inconsistent`: a coverage dimension (`lines`, `branches`, `functions`) or
///   the `detail` figure recorded beside it has `covered > total`.
/// - `coverage-percent-inconsistent`: a dimension's (or its `detail`'s) `percent` is more than
///   [`PERCENT_TOLERANCE`]
///   from `100 * covered / total`, or is present while `total` is 0 (ci-attest writes no percent
///   then). A percent may be absent when `total` is above 0: a threshold on it is then a missing
///   metric, which rejects.
/// - `check-name-duplicate`: two checks share a name (compared exactly), reported once per name.
///
/// Counts are unsigned integers in the predicate's types, so negative or fractional counts never
/// get this far ([`parse_local_run`] refuses them as `statement-malformed`); a negative or
/// non-finite percent is caught by the percent rule.
pub fn consistency(statement: &LocalRunStatement) -> Vec<Finding> {
    let mut findings = Vec::new();
    let checks = &statement.predicate.checks;
    for check in checks {
        test_counts(check, &mut findings);
        if let Some(coverage) = &check.coverage {
            for (dimension, figure) in [
                ("lines", coverage.lines),
                ("branches", coverage.branches),
                ("functions", coverage.functions),
            ] {
                let Some(figure) = figure else { continue };
                coverage_figure(check, dimension, &figure, &mut findings);
                if let Some(detail) = figure.detail {
                    let detail = Coverage {
                        covered: detail.covered,
                        total: detail.total,
                        percent: detail.percent,
                        source: None,
                        detail: None,
                    };
                    let name = format!("{dimension}.detail");
                    coverage_figure(check, &name, &detail, &mut findings);
                }
            }
        }
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for check in checks {
        let count = seen.entry(check.name.as_str()).or_default();
        *count += 1;
        if *count == 2 {
            findings.push(
                Finding::error(
                    Code::CheckNameDuplicate,
                    format!(
                        "two checks of the statement are named {}",
                        quote(&check.name)
                    ),
                )
                .expected_found(
                    "each check name once",
                    format!(
                        "{} checks named {}",
                        checks.iter().filter(|c| c.name == check.name).count(),
                        quote(&check.name)
                    ),
                )
                .hint(
                    "a policy rule on that name could judge either check; ci-attest refuses \
                     duplicate names in .ci-attest.toml: do not trust the signer's tool",
                ),
            );
        }
    }
    findings
}

fn test_counts(check: &CheckRecord, findings: &mut Vec<Finding>) {
    let Some(t) = &check.tests else { return };
    let sum = u128::from(t.passed) + u128::from(t.failed) + u128::from(t.skipped);
    if sum != u128::from(t.total) {
        findings.push(
            Finding::error(
                Code::TestCountsInconsistent,
                format!(
                    "the test counts of check {} do not add up",
                    quote(&check.name)
                ),
            )
            .expected_found(
                format!("passed + failed + skipped = total ({})", t.total),
                format!(
                    "passed {} + failed {} + skipped {} = {sum}",
                    t.passed, t.failed, t.skipped
                ),
            )
            .hint(
                "ci-attest counts every test case once, as passed, failed or skipped; \
                 counts that do not add up were not made by it: do not trust the signer's tool",
            ),
        );
    }
}

fn coverage_figure(
    check: &CheckRecord,
    dimension: &str,
    figure: &Coverage,
    findings: &mut Vec<Finding>,
) {
    let name = quote(&check.name);
    if figure.covered > figure.total {
        findings.push(
            Finding::error(
                Code::CoverageCountsInconsistent,
                format!("check {name} claims more covered {dimension} than it has"),
            )
            .expected_found(
                format!(
                    "{dimension}.covered <= {dimension}.total ({})",
                    figure.total
                ),
                format!("{dimension}.covered = {}", figure.covered),
            )
            .hint(
                "ci-attest refuses coverage reports with more covered than total items: \
                 do not trust the signer's tool",
            ),
        );
    }
    let Some(percent) = figure.percent else {
        return;
    };
    let (expected, consistent) = if figure.total == 0 {
        (
            format!("no {dimension}.percent when {dimension}.total is 0"),
            false,
        )
    } else {
        let exact = figure.covered as f64 * 100.0 / figure.total as f64;
        (
            format!(
                "{dimension}.percent = 100 * {} / {} = {exact:.2} (within {PERCENT_TOLERANCE})",
                figure.covered, figure.total
            ),
            // NaN and infinities fail this comparison too.
            (percent - exact).abs() <= PERCENT_TOLERANCE,
        )
    };
    if !consistent {
        findings.push(
            Finding::error(
                Code::CoveragePercentInconsistent,
                format!("check {name} states a {dimension} percent its counts do not give"),
            )
            .expected_found(expected, format!("{dimension}.percent = {percent}"))
            .hint(
                "a policy threshold reads the percent; ci-attest computes it from the counts: \
                 do not trust the signer's tool",
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::TestCounts;
    use crate::statement::CoverageRecord;

    /// A statement as ci-attest writes it (tests, coverage and lint checks).
    fn statement() -> LocalRunStatement {
        use crate::policy::test_support::{coverage_check, lint_check, predicate, tests_check};
        Statement {
            statement_type: STATEMENT_TYPE.to_string(),
            subject: vec![crate::statement::ResourceDescriptor {
                name: None,
                uri: None,
                digest: [("gitCommit".to_string(), "ab".repeat(20))]
                    .into_iter()
                    .collect(),
            }],
            predicate_type: PREDICATE_TYPE.to_string(),
            predicate: predicate(vec![
                tests_check(8, 1, 1),
                coverage_check(90, 100),
                lint_check(0, 0),
            ]),
        }
    }

    fn codes(findings: &[Finding]) -> Vec<Code> {
        findings.iter().map(|f| f.code).collect()
    }

    fn parse_err(payload: &[u8]) -> Vec<Finding> {
        match parse_local_run(payload) {
            Ok(_) => panic!("accepted {}", String::from_utf8_lossy(payload)),
            Err(f) => f,
        }
    }

    fn assert_complete(findings: &[Finding]) {
        for f in findings {
            assert!(f.is_error(), "{f:?}");
            assert!(f.expected.is_some() && f.found.is_some(), "{f:?}");
            assert!(f.hint.is_some(), "{f:?}");
        }
    }

    #[test]
    fn a_statement_ci_attest_writes_parses_and_is_consistent() {
        let st = statement();
        let parsed = parse_local_run(&st.to_json()).expect("our statement parses");
        assert_eq!(parsed, st);
        assert_eq!(consistency(&parsed), vec![]);
    }

    #[test]
    fn json_shape_accepts_equal_keys_in_different_objects() {
        assert_eq!(
            check_json_shape(br#"{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":{"a":{"a":[]}}}"#),
            Ok(())
        );
        assert_eq!(
            check_json_shape(b" [1, 2.5, -3, \"x\", null, true] "),
            Ok(())
        );
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth_with_their_path() {
        for (json, key, path) in [
            (r#"{"a":1,"a":2}"#, r#""a""#, "a"),
            (
                r#"{"subject":[{"digest":{"gitCommit":"1","sha256":"2","gitCommit":"3"}}]}"#,
                r#""gitCommit""#,
                "subject[0].digest.gitCommit",
            ),
            (
                r#"{"predicate":{"checks":[{},{"tests":{"total":1,"total":2}}]}}"#,
                r#""total""#,
                "predicate.checks[1].tests.total",
            ),
            // Keys are compared unescaped.
            (
                r#"{"x":[[{"git\u0043ommit":1,"gitCommit":2}]]}"#,
                r#""gitCommit""#,
                "x[0][0].gitCommit",
            ),
            (r#"{"a b":{"":1,"":2}}"#, r#""""#, r#"["a b"][""]"#),
        ] {
            assert_eq!(
                check_json_shape(json.as_bytes()),
                Err(JsonShapeError::DuplicateKey {
                    key: key.to_string(),
                    path: path.to_string()
                }),
                "{json}"
            );
        }
    }

    #[test]
    fn a_duplicate_key_in_a_statement_is_its_own_finding() {
        let json = String::from_utf8(statement().to_json()).expect("utf-8");
        let finished = r#""finishedOn":"2026-11-01T12:00:00Z""#;
        assert!(json.contains(finished), "{json}");
        let twice = json.replacen(
            finished,
            &format!(r#"{finished},"finishedOn":"2026-11-03T12:00:00Z""#),
            1,
        );
        let f = parse_err(twice.as_bytes());
        assert_eq!(codes(&f), [Code::StatementDuplicateKey]);
        assert_eq!(
            f[0].found.as_deref(),
            Some(r#""finishedOn" again at predicate.finishedOn"#)
        );
        assert_complete(&f);
    }

    #[test]
    fn quoted_keys_are_clipped_and_escaped() {
        let long = "k\u{1b}[31m".repeat(100);
        let json = format!(r#"{{"{0}":1,"{0}":2}}"#, long.replace('\u{1b}', "\\u001b"));
        let Err(JsonShapeError::DuplicateKey { key, path }) = check_json_shape(json.as_bytes())
        else {
            panic!("a duplicate")
        };
        assert!(!key.contains('\u{1b}') && key.contains("\\u001b"), "{key}");
        assert!(key.ends_with('…') && key.chars().count() < 200, "{key}");
        assert!(path.starts_with("[\"k") && path.ends_with("…]"), "{path}");
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(check_json_shape(ok.as_bytes()), Ok(()));
        for deep in [
            format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1)),
            "[".repeat(1_000_000),
            r#"{"a":"#.repeat(100_000),
        ] {
            assert!(
                matches!(
                    check_json_shape(deep.as_bytes()),
                    Err(JsonShapeError::TooDeep {
                        limit: MAX_DEPTH,
                        ..
                    })
                ),
                "{}",
                &deep[..10]
            );
            assert_eq!(
                codes(&parse_err(deep.as_bytes())),
                [Code::StatementMalformed]
            );
        }
    }

    #[test]
    fn json_shape_is_linear_in_many_keys() {
        // 200,000 distinct keys in one object and 200,000 small objects: a quadratic check would
        // take minutes here.
        let mut wide = String::from("{");
        for i in 0..200_000 {
            wide.push_str(&format!("\"k{i}\":{i},"));
        }
        wide.push_str("\"end\":0}");
        assert_eq!(check_json_shape(wide.as_bytes()), Ok(()));
        let many = format!("[{}{{}}]", r#"{"a":1,"b":2},"#.repeat(200_000));
        assert_eq!(check_json_shape(many.as_bytes()), Ok(()));
    }

    #[test]
    fn not_json_and_trailing_bytes_are_malformed() {
        for bad in [&b""[..], b"{", b"{} {}", b"{\"a\":1,}", b"\xff"] {
            assert!(
                matches!(check_json_shape(bad), Err(JsonShapeError::Syntax(_))),
                "{bad:?}"
            );
            let f = parse_err(bad);
            assert_eq!(codes(&f), [Code::StatementMalformed]);
            assert_complete(&f);
        }
    }

    #[test]
    fn an_oversized_payload_is_refused_before_parsing() {
        let big = vec![b' '; MAX_STATEMENT_BYTES + 1];
        assert_eq!(codes(&parse_err(&big)), [Code::StatementMalformed]);
    }

    #[test]
    fn type_and_predicate_type_are_checked_together() {
        let mut v: serde_json::Value =
            serde_json::from_slice(&statement().to_json()).expect("json");
        v["_type"] = "https://in-toto.io/Statement/v0.1".into();
        v["predicateType"] = "https://slsa.dev/provenance/v1".into();
        let f = parse_err(&serde_json::to_vec(&v).expect("json"));
        assert_eq!(
            codes(&f),
            [Code::StatementMalformed, Code::PredicateTypeUnsupported]
        );
        assert_complete(&f);
    }

    #[test]
    fn negative_and_fractional_counts_are_malformed() {
        for (field, value) in [
            ("passed", serde_json::json!(-1)),
            ("total", serde_json::json!(2.5)),
            ("failed", serde_json::json!("0")),
        ] {
            let mut v: serde_json::Value =
                serde_json::from_slice(&statement().to_json()).expect("json");
            v["predicate"]["checks"][0]["tests"][field] = value;
            let f = parse_err(&serde_json::to_vec(&v).expect("json"));
            assert_eq!(codes(&f), [Code::StatementMalformed], "{field}");
        }
    }

    #[test]
    fn times_are_parsed_strictly() {
        for (started, finished, bad) in [
            ("2026-11-01 11:58:00Z", "2026-11-01T12:00:00Z", 1),
            ("2026-11-01T11:58:00Z", "2026-11-01T12:00:00", 1),
            ("yesterday", "2026-11-01t12:00:00z", 2),
            ("2026-11-01T11:58:00Z", "1969-12-31T23:59:59Z", 1),
        ] {
            let mut st = statement();
            st.predicate.started_on = started.into();
            st.predicate.finished_on = finished.into();
            let f = parse_err(&st.to_json());
            assert_eq!(
                codes(&f),
                vec![Code::StatementTimeInvalid; bad],
                "{started} {finished}"
            );
            assert_complete(&f);
        }
        let mut st = statement();
        st.predicate.finished_on = "2026-11-01T21:00:00.25+09:00".into();
        assert!(parse_local_run(&st.to_json()).is_ok());
    }

    fn tests_check(st: &mut LocalRunStatement) -> &mut CheckRecord {
        st.predicate
            .checks
            .iter_mut()
            .find(|c| c.tests.is_some())
            .expect("a tests check")
    }

    fn coverage_check(st: &mut LocalRunStatement) -> &mut CheckRecord {
        st.predicate
            .checks
            .iter_mut()
            .find(|c| c.coverage.is_some())
            .expect("a coverage check")
    }

    #[test]
    fn test_counts_must_add_up() {
        for (counts, ok) in [
            ((10, 8, 1, 1), true),
            ((0, 0, 0, 0), true),
            ((10, 11, 0, 0), false),
            ((10, 8, 1, 0), false),
            ((10, 9, 1, 1), false),
            ((u64::MAX, u64::MAX, 0, 0), true),
            ((u64::MAX, u64::MAX, 1, 0), false),
            ((0, u64::MAX, u64::MAX, u64::MAX), false),
        ] {
            let mut st = statement();
            let (total, passed, failed, skipped) = counts;
            tests_check(&mut st).tests = Some(TestCounts::new(total, passed, failed, skipped));
            let f = consistency(&st);
            if ok {
                assert_eq!(f, vec![], "{counts:?}");
            } else {
                assert_eq!(codes(&f), [Code::TestCountsInconsistent], "{counts:?}");
                assert_complete(&f);
            }
        }
    }

    #[test]
    fn coverage_counts_and_percent_must_agree() {
        let cov = |covered, total, percent| Coverage {
            covered,
            total,
            percent,
            source: None,
            detail: None,
        };
        for (figure, expected) in [
            (cov(90, 100, Some(90.0)), vec![]),
            (cov(1, 3, Some(33.333333)), vec![]),
            (cov(1, 3, Some(33.34)), vec![]),
            (
                cov(1, 3, Some(33.35)),
                vec![Code::CoveragePercentInconsistent],
            ),
            (
                cov(1, 100, Some(100.0)),
                vec![Code::CoveragePercentInconsistent],
            ),
            (cov(0, 0, None), vec![]),
            (cov(5, 10, None), vec![]),
            (
                cov(0, 0, Some(100.0)),
                vec![Code::CoveragePercentInconsistent],
            ),
            (
                cov(0, 0, Some(0.0)),
                vec![Code::CoveragePercentInconsistent],
            ),
            (cov(0, 10, Some(-0.0)), vec![]),
            (
                cov(0, 10, Some(-1.0)),
                vec![Code::CoveragePercentInconsistent],
            ),
            (
                cov(10, 10, Some(f64::NAN)),
                vec![Code::CoveragePercentInconsistent],
            ),
            (cov(11, 10, None), vec![Code::CoverageCountsInconsistent]),
            (
                cov(11, 10, Some(110.0)),
                vec![Code::CoverageCountsInconsistent],
            ),
            (
                cov(11, 10, Some(100.0)),
                vec![
                    Code::CoverageCountsInconsistent,
                    Code::CoveragePercentInconsistent,
                ],
            ),
        ] {
            for dimension in 0..3 {
                let mut st = statement();
                let mut record = CoverageRecord::default();
                match dimension {
                    0 => record.lines = Some(figure),
                    1 => record.branches = Some(figure),
                    _ => record.functions = Some(figure),
                }
                coverage_check(&mut st).coverage = Some(record);
                let f = consistency(&st);
                assert_eq!(codes(&f), expected, "{figure:?} in dimension {dimension}");
                assert_complete(&f);
            }
        }
    }

    #[test]
    fn the_detail_beside_a_summary_must_be_consistent_too() {
        use crate::statement::{CoverageDetail, CoverageSource};
        let summary = |detail| Coverage {
            covered: 7,
            total: 10,
            percent: Some(70.0),
            source: Some(CoverageSource::Summary),
            detail: Some(detail),
        };
        for (detail, expected) in [
            (
                CoverageDetail {
                    covered: 8,
                    total: 10,
                    percent: Some(80.0),
                },
                vec![],
            ),
            (
                CoverageDetail {
                    covered: 11,
                    total: 10,
                    percent: None,
                },
                vec![Code::CoverageCountsInconsistent],
            ),
            (
                CoverageDetail {
                    covered: 8,
                    total: 10,
                    percent: Some(70.0),
                },
                vec![Code::CoveragePercentInconsistent],
            ),
        ] {
            let mut st = statement();
            coverage_check(&mut st).coverage = Some(CoverageRecord {
                lines: Some(summary(detail)),
                ..CoverageRecord::default()
            });
            let f = consistency(&st);
            assert_eq!(codes(&f), expected, "{detail:?}");
            assert_complete(&f);
            if let Some(finding) = f.first() {
                assert!(
                    finding
                        .expected
                        .as_deref()
                        .is_some_and(|e| e.contains("lines.detail.")),
                    "{finding:?}"
                );
            }
        }
    }

    #[test]
    fn what_the_collectors_write_for_disagreeing_reports_is_consistent() {
        use crate::collect::{Dimension, Ratio};
        let r = |covered, total| Ratio { covered, total };
        let mut st = statement();
        let lines = Dimension::of(Some(r(62, 81)), Some(r(60, 79))).expect("has data");
        coverage_check(&mut st).coverage = Some(CoverageRecord {
            lines: Some(lines.to_coverage()),
            ..CoverageRecord::default()
        });
        assert_eq!(consistency(&st), vec![]);
    }

    #[test]
    fn what_ratio_writes_is_always_consistent() {
        use crate::collect::Ratio;
        for (covered, total) in [
            (0, 0),
            (0, 7),
            (1, 3),
            (2, 3),
            (7, 7),
            (u64::MAX - 1, u64::MAX),
        ] {
            let mut st = statement();
            coverage_check(&mut st).coverage = Some(CoverageRecord {
                lines: Some(Ratio { covered, total }.into()),
                branches: None,
                functions: None,
            });
            assert_eq!(consistency(&st), vec![], "{covered}/{total}");
        }
    }

    #[test]
    fn check_names_must_be_unique() {
        let mut st = statement();
        let mut failed = tests_check(&mut st).clone();
        failed.result = crate::statement::Outcome::Failed;
        st.predicate.checks.push(failed.clone());
        st.predicate.checks.push(failed);
        let f = consistency(&st);
        assert_eq!(codes(&f), [Code::CheckNameDuplicate]);
        assert_eq!(f[0].found.as_deref(), Some(r#"3 checks named "tests""#));
        assert_complete(&f);
    }

    /// The figures of a check record made from these reports the way `collect::run` makes them.
    fn record_from_reports(
        kind: crate::statement::CheckKind,
        reports: &[(&str, crate::collect::ReportFormat)],
    ) -> CheckRecord {
        use crate::collect::{CoverageCounts, Parsed, TestTally, parse_file};
        let mut tests = TestTally::default();
        let mut coverage: Option<CoverageCounts> = None;
        for (name, format) in reports {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
            match parse_file(*format, &path) {
                Ok(Parsed::Tests(t)) => tests.add(&t),
                Ok(Parsed::Coverage(c)) => coverage.get_or_insert_default().add(&c),
                other => panic!("{name}: {other:?}"),
            }
        }
        CheckRecord {
            tests: tests.finish(),
            coverage: coverage.map(|c| c.to_record()),
            ..crate::policy::test_support::check("c", kind)
        }
    }

    #[test]
    fn what_the_collectors_make_of_real_reports_is_consistent() {
        // JUnit errors count as failed and pytest's xfail as skipped, libtest's ignored tests as
        // skipped and filtered tests not at all: each case lands in exactly one count.
        use crate::collect::ReportFormat::*;
        use crate::statement::CheckKind;
        let tests = [
            ("tests/fixtures/reports/pytest-junit.xml", Junit),
            ("tests/fixtures/reports/go-junit-report.xml", Junit),
            ("tests/fixtures/reports/jest-junit.xml", Junit),
            ("tests/fixtures/reports/nextest-junit.xml", Junit),
            ("tests/fixtures/reports/surefire-reruns.xml", Junit),
            ("tests/fixtures/reports/libtest.json", LibtestJson),
            ("tests/fixtures/project/junit-pass.xml", Junit),
            ("tests/fixtures/project/junit-fail.xml", Junit),
            ("tests/fixtures/reports/pytest/junit.xml", Junit),
            ("tests/fixtures/reports/nextest/junit.xml", Junit),
            ("tests/fixtures/reports/jest/junit.xml", Junit),
            ("tests/fixtures/reports/vitest/junit.xml", Junit),
            ("tests/fixtures/reports/node-test/junit.xml", Junit),
            (
                "tests/fixtures/reports/cargo-test/libtest.json",
                LibtestJson,
            ),
        ];
        let coverage = [
            ("tests/fixtures/reports/coveragepy-cobertura.xml", Cobertura),
            ("tests/fixtures/reports/coveragepy.lcov", Lcov),
            ("tests/fixtures/project/lcov-90.info", Lcov),
            ("tests/fixtures/reports/coverage-py/coverage.xml", Cobertura),
            ("tests/fixtures/reports/coverage-py/coverage.lcov", Lcov),
            // Its LF/LH disagree with its DA entries: a figure with a detail beside it.
            ("tests/fixtures/reports/cargo-llvm-cov/lcov.info", Lcov),
            (
                "tests/fixtures/reports/cargo-llvm-cov/cobertura.xml",
                Cobertura,
            ),
            ("tests/fixtures/reports/jest/lcov.info", Lcov),
            (
                "tests/fixtures/reports/jest/cobertura-coverage.xml",
                Cobertura,
            ),
            ("tests/fixtures/reports/vitest/lcov.info", Lcov),
            (
                "tests/fixtures/reports/c8/cobertura-coverage.xml",
                Cobertura,
            ),
        ];
        let mut st = statement();
        st.predicate.checks = tests
            .iter()
            .map(|r| record_from_reports(CheckKind::Tests, std::slice::from_ref(r)))
            .chain(
                coverage
                    .iter()
                    .map(|r| record_from_reports(CheckKind::Coverage, std::slice::from_ref(r))),
            )
            .chain([
                record_from_reports(CheckKind::Tests, &tests),
                record_from_reports(CheckKind::Coverage, &coverage),
            ])
            .enumerate()
            .map(|(i, c)| CheckRecord {
                name: format!("check-{i}"),
                ..c
            })
            .collect();
        assert!(
            st.predicate
                .checks
                .iter()
                .all(|c| c.tests.is_some_and(|t| t.total > 0) || c.coverage.is_some())
        );
        assert_eq!(consistency(&st), vec![]);
        // The revision 3 fields are there, and a strict parse of the statement keeps them.
        let has_detail = |c: &CheckRecord| {
            c.coverage
                .and_then(|c| c.lines)
                .is_some_and(|l| l.detail.is_some())
        };
        assert!(st.predicate.checks.iter().any(has_detail));
        assert!(
            st.predicate
                .checks
                .iter()
                .any(|c| c.tests.is_some_and(|t| t.reported.is_some()))
        );
        assert_eq!(parse_local_run(&st.to_json()), Ok(st));
    }

    proptest::proptest! {
        #[test]
        fn junit_counts_always_add_up(cases in proptest::collection::vec(0u8..8, 0..40)) {
            // Any mix of failure, error, skipped and rerun children per test case.
            let mut xml = String::from("<testsuites><testsuite name=\"s\">");
            for (i, bits) in cases.iter().enumerate() {
                xml.push_str(&format!("<testcase classname=\"c\" name=\"t{i}\">"));
                if bits & 1 != 0 { xml.push_str("<failure/>"); }
                if bits & 2 != 0 { xml.push_str("<error/>"); }
                if bits & 4 != 0 { xml.push_str("<skipped/><flakyFailure/>"); }
                xml.push_str("</testcase>");
            }
            xml.push_str("</testsuite></testsuites>");
            let report = crate::collect::junit::parse(xml.as_bytes()).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let mut st = statement();
            tests_check(&mut st).tests = Some(report.counts);
            proptest::prop_assert_eq!(consistency(&st), vec![]);
            proptest::prop_assert_eq!(report.counts.total, cases.len() as u64);
        }
    }
}
