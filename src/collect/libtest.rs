//! libtest's JSON event stream: `cargo test -- -Z unstable-options --format json` and
//! cargo-nextest's `--message-format libtest-json`.
//!
//! Every non-empty line must be a JSON object with a `"type"`. Test events are counted by their
//! `"event"`: `ok` is passed, `failed` and `timeout` are failed, `ignored` is skipped; `started`
//! is not a result. `allowed_fail` (an old libtest outcome for tests allowed to fail) counts as
//! failed, since the test did fail. Suite, bench and other event types are not counted, but every
//! suite that started must finish (`ok` or `failed`), so a stream cut off by a crashed test binary
//! is reported as malformed rather than as a clean run. Lines are read with a bounded line reader.
//!
//! Each suite's final event carries libtest's own summary, `passed`, `failed` and `ignored` (what
//! `cargo test` prints as `test result: ... N passed; N failed; N ignored`). Their sum over the
//! suites is returned as the report's summary (`tests` = passed + failed + ignored, `failures` =
//! failed, `skipped` = ignored), recorded beside the counted events and never in place of them;
//! a stream with a suite result that lacks one of the three has no summary. A count above
//! [`super::MAX_SUMMARY_COUNT`] is refused.
//!
//! Failing (`failed`, `timeout`, `allowed_fail`) and passing (`ok`) tests are named by their
//! `"name"`; their suite is the test binary when the event, or else the suite it belongs to, carries
//! nextest's `"nextest": {"test_binary": ...}`, and none otherwise.

use super::lines::{Lines, preview};
use super::{
    MAX_SUMMARY_COUNT, ReportError, ReportFormat, ReportedTests, TestCounts, TestNames, TestReport,
};
use serde::Deserialize;
use std::borrow::Cow;
use std::io::BufRead;

/// The fields of one libtest event this parser needs; serde skips the rest.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    nextest: Option<Nextest<'a>>,
    /// Suite results: libtest's own counts.
    #[serde(default)]
    passed: Option<u64>,
    #[serde(default)]
    failed: Option<u64>,
    #[serde(default)]
    ignored: Option<u64>,
}

/// nextest's extra object on libtest-json events.
#[derive(Deserialize)]
struct Nextest<'a> {
    #[serde(default, borrow)]
    test_binary: Option<Cow<'a, str>>,
}

/// Parses a libtest JSON event stream into test counts and the names of failing and passing tests.
///
/// Errors: [`ReportError::Malformed`] with the line number for a line that is not a JSON object
/// with a `"type"`, an unknown test event, an empty stream or a suite without its final event;
/// [`ReportError::TooLarge`] for a line over [`super::MAX_TOKEN_BYTES`]; [`ReportError::Io`].
pub fn parse(reader: impl BufRead) -> Result<TestReport, ReportError> {
    let mut lines = Lines::new(reader, ReportFormat::LibtestJson);
    let mut counts = TestCounts::default();
    let mut names = TestNames::default();
    // The test binary of the suite that started last (nextest), for tests that do not name theirs.
    let mut suite_binary: Option<String> = None;
    let mut events_seen = false;
    let mut open_suites: u64 = 0;
    // libtest's own counts summed over suite results; None once one result lacks them.
    let mut summary: Option<ReportedTests> = Some(ReportedTests::default());
    let mut suite_results: u64 = 0;
    while let Some(line) = lines.next_line()? {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let event: Event<'_> = match serde_json::from_slice(line) {
            Ok(event) => event,
            Err(err) => {
                let found = format!("{} ({err})", preview(line));
                return Err(lines.malformed("a libtest JSON event object with a \"type\"", found));
            }
        };
        events_seen = true;
        let binary = event
            .nextest
            .as_ref()
            .and_then(|n| n.test_binary.as_deref());
        let suite = binary.or(suite_binary.as_deref());
        let test_name = match event.name.as_deref() {
            Some(n) if !n.is_empty() => n,
            _ => "(unnamed)",
        };
        match (event.kind.as_ref(), event.event.as_deref()) {
            ("test", Some("started")) => {}
            ("test", Some("ok")) => {
                counts.total += 1;
                counts.passed += 1;
                names.push_passed(suite, test_name);
            }
            ("test", Some("failed" | "timeout" | "allowed_fail")) => {
                counts.total += 1;
                counts.failed += 1;
                names.push_failed(suite, test_name, false);
            }
            ("test", Some("ignored")) => {
                counts.total += 1;
                counts.skipped += 1;
            }
            ("test", other) => {
                let found = match other {
                    Some(other) => format!("event {other:?}"),
                    None => "a test line without \"event\"".to_string(),
                };
                return Err(
                    lines.malformed("test event ok, failed, ignored, timeout or started", found)
                );
            }
            ("suite", Some("started")) => {
                open_suites += 1;
                suite_binary = binary.map(str::to_string);
            }
            ("suite", Some("ok" | "failed")) => {
                if open_suites == 0 {
                    return Err(lines.malformed(
                        "a suite \"started\" event before the suite's result",
                        "a suite result without a started suite".to_string(),
                    ));
                }
                open_suites -= 1;
                suite_results += 1;
                let own = match (event.passed, event.failed, event.ignored) {
                    (Some(passed), Some(failed), Some(ignored)) => {
                        for (name, n) in
                            [("passed", passed), ("failed", failed), ("ignored", ignored)]
                        {
                            if n > MAX_SUMMARY_COUNT {
                                return Err(lines.malformed(
                                    format!("a suite {name} count of at most {MAX_SUMMARY_COUNT}"),
                                    format!("\"{name}\": {n}"),
                                ));
                            }
                        }
                        Some(ReportedTests {
                            tests: passed + failed + ignored,
                            failures: failed,
                            errors: 0,
                            skipped: ignored,
                        })
                    }
                    _ => None,
                };
                match (summary.as_mut(), own) {
                    (Some(sum), Some(own)) => sum.add(&own),
                    _ => summary = None,
                }
            }
            // Benchmarks, suite events of future libtest versions, nextest extras: not test results.
            _ => {}
        }
    }
    if !events_seen {
        return Err(ReportError::Malformed {
            format: ReportFormat::LibtestJson,
            location: None,
            expected: "at least one libtest JSON event".to_string(),
            found: "an empty report".to_string(),
        });
    }
    if open_suites > 0 {
        return Err(ReportError::Malformed {
            format: ReportFormat::LibtestJson,
            location: Some(format!("line {}", lines.line_no() + 1)),
            expected: "a final suite \"ok\" or \"failed\" event (the test binary may have crashed)"
                .to_string(),
            found: "end of input".to_string(),
        });
    }
    Ok(TestReport {
        counts,
        names,
        summary: summary.filter(|_| suite_results > 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(input: &str) -> TestCounts {
        match parse(input.as_bytes()) {
            Ok(report) => report.counts,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    fn tc(total: u64, passed: u64, failed: u64, skipped: u64) -> TestCounts {
        TestCounts::new(total, passed, failed, skipped)
    }

    fn malformed(input: &str) -> (Option<String>, String, String) {
        super::super::test_support::malformed_parts(parse(input.as_bytes()))
    }

    /// Real output of `cargo +nightly test -- -Z unstable-options --format json --report-time`:
    /// one pass, two failures, one ignored test.
    const REAL: &str = include_str!("../../tests/fixtures/reports/libtest.json");

    #[test]
    fn counts_real_libtest_stream() {
        assert_eq!(counts(REAL), tc(4, 1, 2, 1));
    }

    fn summary(input: &str) -> Option<ReportedTests> {
        parse(input.as_bytes()).expect("valid").summary
    }

    #[test]
    fn the_suite_results_are_the_summary_and_agree_with_the_real_stream() {
        let s = summary(REAL).expect("the suite result has passed, failed, ignored");
        assert_eq!(
            s,
            ReportedTests {
                tests: 4,
                failures: 2,
                errors: 0,
                skipped: 1
            }
        );
        assert!(s.agrees_with(&counts(REAL)));
    }

    #[test]
    fn suite_results_are_summed_and_never_counted() {
        let input = r#"{"type":"suite","event":"started"}
{"type":"test","event":"ok","name":"a"}
{"type":"suite","event":"ok","passed":1000,"failed":0,"ignored":0}
{"type":"suite","event":"started"}
{"type":"test","event":"failed","name":"b"}
{"type":"suite","event":"failed","passed":0,"failed":1,"ignored":3}
"#;
        assert_eq!(counts(input), tc(2, 1, 1, 0));
        let s = summary(input).expect("both suites have counts");
        assert_eq!((s.tests, s.failures, s.skipped), (1004, 1, 3));
        assert!(!s.agrees_with(&counts(input)));
    }

    #[test]
    fn a_suite_result_without_its_counts_leaves_no_summary() {
        let input = r#"{"type":"suite","event":"started"}
{"type":"suite","event":"ok","passed":0,"failed":0,"ignored":0}
{"type":"suite","event":"started"}
{"type":"suite","event":"ok","passed":0}
"#;
        assert_eq!(summary(input), None);
        assert_eq!(summary(r#"{"type":"test","event":"ok","name":"a"}"#), None);
    }

    #[test]
    fn rejects_absurd_suite_counts_with_their_line() {
        let input = "{\"type\":\"suite\",\"event\":\"started\"}\n{\"type\":\"suite\",\"event\":\"ok\",\"passed\":0,\"failed\":0,\"ignored\":18446744073709551615}\n";
        let (location, expected, found) = malformed(input);
        assert_eq!(location.as_deref(), Some("line 2"));
        assert_eq!(expected, "a suite ignored count of at most 1099511627776");
        assert_eq!(found, "\"ignored\": 18446744073709551615");
    }

    #[test]
    fn names_failing_and_passing_tests_of_the_real_stream() {
        let r = parse(REAL.as_bytes()).expect("valid");
        let failed: Vec<String> = r.names.failed().iter().map(|f| f.id()).collect();
        assert_eq!(failed, ["tests::flaky", "tests::fails"]);
        assert!(
            r.names
                .failed()
                .iter()
                .all(|f| f.suite.is_none() && !f.error)
        );
        assert_eq!(r.names.passed(), ["tests::adds"]);
    }

    #[test]
    fn nextest_test_binary_is_the_suite() {
        let input = r#"{"type":"suite","event":"started","nextest":{"crate":"app","test_binary":"it","kind":"test"}}
{"type":"test","event":"failed","name":"from_suite"}
{"type":"test","event":"timeout","name":"own","nextest":{"test_binary":"other"}}
{"type":"suite","event":"failed","nextest":{"crate":"app","test_binary":"it","kind":"test"}}
{"type":"suite","event":"started"}
{"type":"test","event":"allowed_fail","name":"plain"}
{"type":"suite","event":"failed"}
"#;
        let r = parse(input.as_bytes()).expect("valid");
        let failed: Vec<String> = r.names.failed().iter().map(|f| f.id()).collect();
        assert_eq!(failed, ["it::from_suite", "other::own", "plain"]);
    }

    #[test]
    fn names_lose_escape_sequences_and_are_capped() {
        let long = "y".repeat(10 * 1024);
        let input = format!(
            "{{\"type\":\"suite\",\"event\":\"started\"}}\n{{\"type\":\"test\",\"event\":\"failed\",\"name\":\"\\u001b[31mred\\u001b[0m\\u0007\"}}\n{{\"type\":\"test\",\"event\":\"failed\",\"name\":\"{long}\"}}\n{{\"type\":\"suite\",\"event\":\"failed\"}}\n"
        );
        let r = parse(input.as_bytes()).expect("valid");
        assert_eq!(r.names.failed()[0].name, "red");
        let capped = &r.names.failed()[1].name;
        assert_eq!(capped.chars().count(), 200);
        assert!(capped.ends_with('…'));
    }

    #[test]
    fn started_events_are_not_results() {
        let input = r#"{ "type": "suite", "event": "started", "test_count": 1 }
{ "type": "test", "event": "started", "name": "a" }
{ "type": "test", "name": "a", "event": "ok" }
{ "type": "suite", "event": "ok", "passed": 1, "failed": 0, "ignored": 0, "measured": 0, "filtered_out": 0 }
"#;
        assert_eq!(counts(input), tc(1, 1, 0, 0));
    }

    #[test]
    fn timeout_counts_as_failed() {
        let input = r#"{"type":"suite","event":"started","test_count":1}
{"type":"test","name":"slow","event":"timeout"}
{"type":"suite","event":"failed","passed":0,"failed":1}
"#;
        assert_eq!(counts(input), tc(1, 0, 1, 0));
    }

    #[test]
    fn counts_nextest_libtest_json_with_several_binaries() {
        // nextest writes one suite per test binary and adds a "nextest" object.
        let input = r#"{"type":"suite","event":"started","test_count":2,"nextest":{"crate":"app","test_binary":"app","kind":"lib"}}
{"type":"test","event":"started","name":"app::tests::a"}
{"type":"test","event":"ok","name":"app::tests::a","exec_time":0.002}
{"type":"test","event":"started","name":"app::tests::b"}
{"type":"test","event":"failed","name":"app::tests::b","exec_time":0.01,"stdout":"thread panicked\n"}
{"type":"suite","event":"failed","passed":1,"failed":1,"ignored":0,"measured":0,"filtered_out":0,"exec_time":0.012,"nextest":{"crate":"app","test_binary":"app","kind":"lib"}}
{"type":"suite","event":"started","test_count":1,"nextest":{"crate":"app","test_binary":"it","kind":"test"}}
{"type":"test","event":"ignored","name":"it::slow"}
{"type":"suite","event":"ok","passed":0,"failed":0,"ignored":1,"measured":0,"filtered_out":0,"exec_time":0.0,"nextest":{"crate":"app","test_binary":"it","kind":"test"}}
"#;
        assert_eq!(counts(input), tc(3, 1, 1, 1));
    }

    #[test]
    fn escaped_strings_and_blank_lines_are_fine() {
        let input = "\n{\"type\":\"suite\",\"event\":\"started\"}\r\n\n{\"type\":\"test\",\"name\":\"a\\u0020b\",\"event\":\"o\\u006b\"}\n{\"type\":\"suite\",\"event\":\"ok\"}";
        assert_eq!(counts(input), tc(1, 1, 0, 0));
    }

    #[test]
    fn benchmarks_are_not_tests() {
        let input = r#"{"type":"suite","event":"started","test_count":1}
{"type":"bench","name":"b","median":10,"deviation":1}
{"type":"suite","event":"ok"}
"#;
        assert_eq!(counts(input), TestCounts::default());
    }

    #[test]
    fn rejects_plain_text_with_line_number() {
        let input = "{\"type\":\"suite\",\"event\":\"started\"}\n   Compiling demo v0.1.0\n";
        let (location, expected, found) = malformed(input);
        assert_eq!(location.as_deref(), Some("line 2"));
        assert!(expected.contains("JSON event object"), "{expected}");
        assert!(found.starts_with("\"   Compiling demo"), "{found}");
    }

    #[test]
    fn rejects_json_that_is_not_an_event_object() {
        let (location, _, found) = malformed("[1, 2]\n");
        assert_eq!(location.as_deref(), Some("line 1"));
        assert!(found.contains("[1, 2]"), "{found}");
        let (_, _, found) = malformed("{\"event\":\"ok\"}\n");
        assert!(found.contains("missing field `type`"), "{found}");
    }

    #[test]
    fn rejects_an_unknown_test_event() {
        let (location, expected, found) = malformed("{\"type\":\"test\",\"event\":\"exploded\"}\n");
        assert_eq!(location.as_deref(), Some("line 1"));
        assert_eq!(
            expected,
            "test event ok, failed, ignored, timeout or started"
        );
        assert_eq!(found, "event \"exploded\"");
    }

    #[test]
    fn rejects_a_stream_cut_off_inside_a_suite() {
        let cut: String = REAL.lines().take(5).map(|l| format!("{l}\n")).collect();
        let (location, expected, found) = malformed(&cut);
        assert_eq!(location.as_deref(), Some("line 6"));
        assert!(expected.contains("final suite"), "{expected}");
        assert_eq!(found, "end of input");
    }

    #[test]
    fn rejects_an_empty_stream() {
        let (_, expected, found) = malformed("\n\n");
        assert_eq!(expected, "at least one libtest JSON event");
        assert_eq!(found, "an empty report");
    }

    #[test]
    fn large_generated_stream_counts_exactly() {
        let mut input = String::from("{\"type\":\"suite\",\"event\":\"started\"}\n");
        for i in 0..50_000 {
            let event = if i % 10 == 0 { "failed" } else { "ok" };
            input.push_str(&format!(
                "{{\"type\":\"test\",\"name\":\"t{i}\",\"event\":\"{event}\"}}\n"
            ));
        }
        input.push_str("{\"type\":\"suite\",\"event\":\"failed\"}\n");
        let reader = std::io::BufReader::with_capacity(1024, input.as_bytes());
        let report = parse(reader).expect("valid");
        assert_eq!(report.counts, tc(50_000, 45_000, 5_000, 0));
        assert_eq!(report.names.failed().len(), 100);
        assert_eq!(report.names.failed()[0].name, "t0");
        assert_eq!(report.names.failed()[99].name, "t990");
        assert_eq!(report.names.failed_omitted(), 4_900);
    }
}
