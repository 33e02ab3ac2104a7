//! JUnit XML test reports, as written by pytest, Maven Surefire, cargo-nextest, jest-junit and
//! go-junit-report.
//!
//! The parser counts `<testcase>` elements and never trusts the `tests=` / `failures=` summary
//! attributes, which are absent in some writers and wrong in others. A test case's outcome comes
//! from its direct children: `<failure>` or `<error>` make it failed, otherwise `<skipped>` makes it
//! skipped, otherwise it passed. Surefire's and nextest's `<flakyFailure>`, `<flakyError>`,
//! `<rerunFailure>` and `<rerunError>` describe earlier attempts and do not change the final result:
//! a flaky test that passed on a retry counts as passed. `<testsuite>` elements may nest to any
//! depth (within the XML reader's limit) and the root must be `<testsuites>` or `<testsuite>`.
//!
//! The report's own summary — the `tests`, `failures`, `errors` and `skipped` attributes — is read
//! too and returned beside the counts, never in place of them (a report can claim `tests="1000"`
//! over one test case): it is what the producing tool printed, so the statement records it and
//! flags a report whose summary disagrees with its test cases. The summary is the root element's
//! attributes when the root has `tests`; an attribute a `<testsuites>` root lacks (jest-junit and
//! vitest write no `skipped` there) is summed over its direct `<testsuite>` children. A root
//! without `tests` takes every attribute from those children, and a report where neither has
//! `tests` has no summary. A count above [`super::MAX_SUMMARY_COUNT`] is refused.
//!
//! Each test case is named by its `classname` (the suite) and `name` attributes; failing cases
//! (`error: true` when an `<error>` child made them fail) and passing cases are collected in a
//! bounded [`TestNames`].

use super::xml::{XmlEvent, XmlReader};
use super::{
    MAX_SUMMARY_COUNT, ReportError, ReportFormat, ReportedTests, TestCounts, TestNames, TestReport,
};
use std::io::BufRead;

/// Root elements a JUnit report may have.
const ROOTS: &[&str] = &["testsuites", "testsuite"];

/// Most bytes of a `name` or `classname` attribute looked at; the cleaned name is far shorter.
const MAX_ATTR_BYTES: usize = 16 * 1024;

/// What the direct children of the open `<testcase>` said so far.
struct OpenCase {
    depth: usize,
    failed: bool,
    errored: bool,
    skipped: bool,
    suite: Option<String>,
    name: String,
}

/// The summary attributes of one `<testsuites>` or `<testsuite>` element.
#[derive(Default)]
struct SuiteAttrs {
    tests: Option<u64>,
    failures: Option<u64>,
    errors: Option<u64>,
    skipped: Option<u64>,
}

impl SuiteAttrs {
    fn read<R: BufRead>(
        xml: &XmlReader<R>,
        tag: &quick_xml::events::BytesStart<'_>,
    ) -> Result<SuiteAttrs, ReportError> {
        let count = |name: &str| -> Result<Option<u64>, ReportError> {
            match xml.attr_u64(tag, name)? {
                Some(n) if n > MAX_SUMMARY_COUNT => Err(xml.malformed(
                    format!(
                        "a {name} attribute of at most {MAX_SUMMARY_COUNT} on <{}>",
                        String::from_utf8_lossy(tag.local_name().as_ref())
                    ),
                    format!(
                        "{name}={}",
                        super::lines::preview(&xml.attr(tag, name)?.unwrap_or_default())
                    ),
                )),
                n => Ok(n),
            }
        };
        Ok(SuiteAttrs {
            tests: count("tests")?,
            failures: count("failures")?,
            errors: count("errors")?,
            skipped: count("skipped")?,
        })
    }
}

/// The summary of the direct `<testsuite>` children of a `<testsuites>` root, summed.
#[derive(Default)]
struct ChildSums {
    any_tests: bool,
    sums: ReportedTests,
}

impl ChildSums {
    fn add(&mut self, suite: &SuiteAttrs) {
        self.any_tests |= suite.tests.is_some();
        self.sums.add(&ReportedTests {
            tests: suite.tests.unwrap_or(0),
            failures: suite.failures.unwrap_or(0),
            errors: suite.errors.unwrap_or(0),
            skipped: suite.skipped.unwrap_or(0),
        });
    }
}

/// The report's summary from its root's attributes and its top-level suites' (module docs).
fn summary(root: &SuiteAttrs, children: &ChildSums) -> Option<ReportedTests> {
    if root.tests.is_none() && !children.any_tests {
        return None;
    }
    let c = &children.sums;
    Some(ReportedTests {
        tests: root.tests.unwrap_or(c.tests),
        failures: root.failures.unwrap_or(c.failures),
        errors: root.errors.unwrap_or(c.errors),
        skipped: root.skipped.unwrap_or(c.skipped),
    })
}

/// An attribute's text with XML's predefined entities and character references resolved (an
/// unknown entity is left as written), looking at most at [`MAX_ATTR_BYTES`] bytes. The caller
/// cleans and caps it.
fn attr_text<R: std::io::BufRead>(
    xml: &XmlReader<R>,
    tag: &quick_xml::events::BytesStart<'_>,
    name: &str,
) -> Result<Option<String>, ReportError> {
    let Some(raw) = xml.attr(tag, name)? else {
        return Ok(None);
    };
    let cut = raw.len() > MAX_ATTR_BYTES;
    let mut bytes = &raw[..raw.len().min(MAX_ATTR_BYTES)];
    if cut {
        // Do not end inside an entity reference, which would make it unresolvable.
        if let Some(amp) = bytes.iter().rposition(|&b| b == b'&') {
            if !bytes[amp..].contains(&b';') {
                bytes = &bytes[..amp];
            }
        }
    }
    let text = String::from_utf8_lossy(bytes);
    let mut text = match quick_xml::escape::unescape(&text) {
        Ok(unescaped) => unescaped.into_owned(),
        Err(_) => text.into_owned(),
    };
    if cut {
        // Mark the cut even if what is left cleans to fewer than the cap's characters.
        text.push('…');
    }
    Ok(Some(text))
}

/// Parses a JUnit XML report, counting its `<testcase>` elements and naming the failing and passing
/// ones.
///
/// Streams the document with a reused buffer; memory does not grow with the number of test cases
/// beyond the bounds of [`TestNames`].
/// Errors: [`ReportError::Malformed`] (with a byte offset) for a wrong root element, malformed or
/// truncated XML, or a `<testcase>` nested inside another; [`ReportError::TooLarge`] for a single
/// XML token over [`super::MAX_TOKEN_BYTES`]; [`ReportError::Io`] when reading fails.
pub fn parse(reader: impl BufRead) -> Result<TestReport, ReportError> {
    let mut xml = XmlReader::new(reader, ReportFormat::Junit, ROOTS);
    let mut buf = Vec::new();
    let mut counts = TestCounts::default();
    let mut names = TestNames::default();
    let mut case: Option<OpenCase> = None;
    let mut root = SuiteAttrs::default();
    let mut root_is_testsuites = false;
    let mut children = ChildSums::default();
    loop {
        match xml.next(&mut buf)? {
            XmlEvent::Open { tag, depth } => {
                let name = tag.local_name();
                if depth == 0 {
                    root = SuiteAttrs::read(&xml, &tag)?;
                    root_is_testsuites = name.as_ref() == b"testsuites";
                } else if depth == 1 && root_is_testsuites && name.as_ref() == b"testsuite" {
                    children.add(&SuiteAttrs::read(&xml, &tag)?);
                }
                match (&mut case, name.as_ref()) {
                    (None, b"testcase") => {
                        // Names are only needed for cases that will be named; the cleaner caps them.
                        let name = attr_text(&xml, &tag, "name")?.unwrap_or_default();
                        let suite = attr_text(&xml, &tag, "classname")?;
                        case = Some(OpenCase {
                            depth,
                            failed: false,
                            errored: false,
                            skipped: false,
                            suite,
                            name,
                        });
                    }
                    (Some(_), b"testcase") => {
                        return Err(xml.malformed(
                            "</testcase> before another <testcase>",
                            "a nested <testcase>",
                        ));
                    }
                    (Some(open), child) if depth == open.depth + 1 => match child {
                        b"failure" => open.failed = true,
                        b"error" => {
                            open.failed = true;
                            open.errored = true;
                        }
                        b"skipped" => open.skipped = true,
                        // flakyFailure, flakyError, rerunFailure, rerunError, system-out, properties...
                        _ => {}
                    },
                    _ => {}
                }
            }
            XmlEvent::Close { depth } => {
                if let Some(open) = case.take_if(|open| open.depth == depth) {
                    counts.total += 1;
                    let name = if open.name.is_empty() {
                        "(unnamed)"
                    } else {
                        open.name.as_str()
                    };
                    if open.failed {
                        counts.failed += 1;
                        names.push_failed(open.suite.as_deref(), name, open.errored);
                    } else if open.skipped {
                        counts.skipped += 1;
                    } else {
                        counts.passed += 1;
                        names.push_passed(open.suite.as_deref(), name);
                    }
                }
            }
            XmlEvent::Other => {}
            XmlEvent::End => {
                return Ok(TestReport {
                    counts,
                    names,
                    summary: summary(&root, &children),
                });
            }
        }
    }
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

    /// Real output of `pytest --junitxml` (pytest 9.2, xunit2): one pass, one failure, a skip, an
    /// xfail (reported as skipped), a fixture error and two passes in a class.
    const PYTEST: &str = include_str!("../../tests/fixtures/reports/pytest-junit.xml");

    #[test]
    fn counts_real_pytest_report() {
        assert_eq!(counts(PYTEST), tc(7, 3, 2, 2));
    }

    #[test]
    fn counts_nested_pytest_suites() {
        let input = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests">
  <testsuite name="outer" tests="2">
    <testcase classname="a" name="t1" time="0.001"/>
    <testsuite name="inner" tests="2">
      <testcase classname="b" name="t2" time="0.001"><failure message="boom">trace</failure></testcase>
      <testcase classname="b" name="t3" time="0.001"><skipped message="later"/></testcase>
    </testsuite>
  </testsuite>
  <testsuite name="second"><testcase classname="c" name="t4"/></testsuite>
</testsuites>"#;
        assert_eq!(counts(input), tc(4, 2, 1, 1));
    }

    #[test]
    fn accepts_a_bare_testsuite_root() {
        let input = r#"<testsuite name="x"><testcase name="a"/><testcase name="b"><error type="E"/></testcase></testsuite>"#;
        assert_eq!(counts(input), tc(2, 1, 1, 0));
    }

    #[test]
    fn lying_summary_attributes_are_recorded_but_never_counted() {
        let input = r#"<testsuites tests="100" failures="0" errors="0" skipped="0">
  <testsuite name="s" tests="100" failures="0"><testcase name="a"><failure/></testcase></testsuite>
</testsuites>"#;
        let r = report(input);
        assert_eq!(r.counts, tc(1, 0, 1, 0));
        let summary = r.summary.expect("the root has tests=");
        assert_eq!(summary, reported(100, 0, 0, 0));
        assert!(!summary.agrees_with(&r.counts));
    }

    use super::super::tests::summary as reported;

    #[test]
    fn the_summary_of_real_reports_agrees_with_their_test_cases() {
        for (input, summary) in [
            (PYTEST, reported(7, 1, 1, 2)),
            (GO, reported(4, 1, 0, 1)),
            (JEST, reported(5, 1, 0, 1)),
            (NEXTEST, reported(3, 1, 0, 0)),
        ] {
            let r = report(input);
            assert_eq!(r.summary, Some(summary));
            assert!(
                summary.agrees_with(&r.counts),
                "{summary:?} vs {:?}",
                r.counts
            );
        }
    }

    #[test]
    fn a_summary_attribute_the_root_lacks_is_summed_over_its_suites() {
        // jest-junit and vitest write no skipped= on <testsuites>.
        let input = r#"<testsuites tests="3" failures="1">
  <testsuite tests="2" failures="1" skipped="1"><testcase name="a"><failure/></testcase><testcase name="b"><skipped/></testcase></testsuite>
  <testsuite tests="1" errors="0" skipped="0"><testcase name="c"/>
    <testsuite tests="50" skipped="50"/>
  </testsuite>
</testsuites>"#;
        assert_eq!(report(input).summary, Some(reported(3, 1, 0, 1)));
    }

    #[test]
    fn a_root_without_tests_takes_the_summary_from_its_suites() {
        let input = r#"<testsuites><testsuite tests="2" failures="1"/><testsuite tests="3" errors="2"/></testsuites>"#;
        assert_eq!(report(input).summary, Some(reported(5, 1, 2, 0)));
    }

    #[test]
    fn a_report_without_tests_attributes_has_no_summary() {
        // node's test runner puts its totals in comments, not attributes.
        let input = r#"<testsuites><testcase name="a"/><!-- tests 1 --></testsuites>"#;
        assert_eq!(report(input).summary, None);
        let bare =
            r#"<testsuite failures="1"><testcase name="a"><failure/></testcase></testsuite>"#;
        assert_eq!(report(bare).summary, None);
    }

    #[test]
    fn a_bare_testsuite_root_is_its_own_summary() {
        let input = r#"<testsuite tests="2" failures="1"><testcase name="a"><failure/></testcase><testcase name="b"/></testsuite>"#;
        let r = report(input);
        assert_eq!(r.summary, Some(reported(2, 1, 0, 0)));
        assert!(r.summary.is_some_and(|s| s.agrees_with(&r.counts)));
    }

    #[test]
    fn rejects_absurd_summary_counts_with_their_position() {
        let (location, expected, found) =
            malformed(r#"<testsuites><testsuite tests="99999999999999999999999"/></testsuites>"#);
        assert_eq!(location.as_deref(), Some("byte 12"));
        assert_eq!(
            expected,
            "a tests attribute of at most 1099511627776 on <testsuite>"
        );
        assert_eq!(found, "tests=\"99999999999999999999999\"");
        let (_, expected, found) = malformed(r#"<testsuites failures="-1"/>"#);
        assert_eq!(
            expected,
            "a non-negative integer in the failures attribute of <testsuites>"
        );
        assert_eq!(found, "\"-1\"");
    }

    #[test]
    fn empty_suite_counts_nothing() {
        assert_eq!(counts(r#"<testsuites/>"#), TestCounts::default());
    }

    #[test]
    fn failure_wins_over_skipped() {
        let input = r#"<testsuite><testcase name="a"><skipped/><failure/></testcase></testsuite>"#;
        assert_eq!(counts(input), tc(1, 0, 1, 0));
    }

    /// Maven Surefire 3 with `-Dsurefire.rerunFailingTestsCount=2`.
    const SUREFIRE: &str = include_str!("../../tests/fixtures/reports/surefire-reruns.xml");

    #[test]
    fn flaky_surefire_rerun_that_passed_is_passed() {
        // testFlaky: two flakyFailure children, no failure -> passed.
        // testBroken: failure + rerunFailure children -> failed once, not three times.
        // testDisabled: skipped. testPlain: passed. testNpe: error -> failed.
        assert_eq!(counts(SUREFIRE), tc(5, 2, 2, 1));
    }

    /// Real output of cargo-nextest 0.9 (`--retries 1`): a test that failed then passed, a test that
    /// failed every attempt, an ignored test and a plain pass.
    const NEXTEST: &str = include_str!("../../tests/fixtures/reports/nextest-junit.xml");

    #[test]
    fn counts_real_nextest_report_with_retries() {
        assert_eq!(counts(NEXTEST), tc(3, 2, 1, 0));
    }

    /// jest-junit 16 output.
    const JEST: &str = include_str!("../../tests/fixtures/reports/jest-junit.xml");

    #[test]
    fn counts_jest_junit_report() {
        assert_eq!(counts(JEST), tc(5, 3, 1, 1));
    }

    /// go-junit-report v2 output for `go test -v ./...`.
    const GO: &str = include_str!("../../tests/fixtures/reports/go-junit-report.xml");

    #[test]
    fn counts_go_junit_report() {
        assert_eq!(counts(GO), tc(4, 2, 1, 1));
    }

    fn report(input: &str) -> TestReport {
        match parse(input.as_bytes()) {
            Ok(report) => report,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    fn failed_ids(input: &str) -> Vec<(String, bool)> {
        report(input)
            .names
            .failed()
            .iter()
            .map(|f| (f.id(), f.error))
            .collect()
    }

    #[test]
    fn names_failing_tests_of_the_real_pytest_report() {
        assert_eq!(
            failed_ids(PYTEST),
            [
                ("test_calc::test_div_fails".to_string(), false),
                ("test_calc::test_error".to_string(), true),
            ]
        );
        let r = report(PYTEST);
        assert_eq!(
            r.names.passed(),
            [
                "test_calc::test_add",
                "test_calc.TestSign::test_positive",
                "test_calc.TestSign::test_zero"
            ]
        );
        assert_eq!(r.names.failed_omitted(), 0);
    }

    #[test]
    fn names_only_the_final_failure_of_the_real_nextest_report() {
        // tests::flaky failed once then passed: it is a passed test, not a failing one.
        assert_eq!(
            failed_ids(NEXTEST),
            [("demo::tests::fails".to_string(), false)]
        );
        assert_eq!(
            report(NEXTEST).names.passed(),
            ["demo::tests::adds", "demo::tests::flaky"]
        );
    }

    #[test]
    fn names_failing_tests_of_surefire_jest_and_go_reports() {
        assert_eq!(
            failed_ids(SUREFIRE),
            [
                ("com.example.CalculatorTest::testBroken".to_string(), false),
                ("com.example.CalculatorTest::testNpe".to_string(), true),
            ]
        );
        assert_eq!(
            failed_ids(JEST),
            [(
                "format rounds halves up::format rounds halves up".to_string(),
                false
            )]
        );
        assert_eq!(
            failed_ids(GO),
            [("example.com/shop/cart::TestRemoveItem".to_string(), false)]
        );
    }

    #[test]
    fn names_resolve_xml_entities_and_lose_terminal_escapes() {
        let input = "<testsuite><testcase classname=\"a&lt;b&gt;\" name=\"\u{1b}[31mred&#10;line\u{1b}[0m &amp; more\"><failure/></testcase></testsuite>";
        assert_eq!(
            failed_ids(input),
            [("a<b>::red line & more".to_string(), false)]
        );
    }

    #[test]
    fn a_ten_kilobyte_name_is_capped_and_marked() {
        let input = format!(
            "<testsuite><testcase name=\"{}\"><failure/></testcase></testsuite>",
            "x".repeat(10 * 1024)
        );
        let r = report(&input);
        let name = &r.names.failed()[0].name;
        assert_eq!(name.chars().count(), super::super::MAX_TEST_NAME_CHARS);
        assert!(name.ends_with("x…"), "{name}");
    }

    #[test]
    fn a_testcase_without_a_name_is_unnamed_and_an_empty_classname_is_no_suite() {
        let input = r#"<testsuite><testcase classname=""><error/></testcase></testsuite>"#;
        assert_eq!(failed_ids(input), [("(unnamed)".to_string(), true)]);
    }

    #[test]
    fn more_than_a_hundred_failures_keep_a_hundred_and_count_the_rest() {
        let mut input = String::from("<testsuite>");
        for i in 0..150 {
            input.push_str(&format!(
                "<testcase classname=\"c\" name=\"t{i}\"><failure/></testcase>"
            ));
        }
        input.push_str("</testsuite>");
        let r = report(&input);
        assert_eq!(r.counts.failed, 150);
        assert_eq!(r.names.failed().len(), 100);
        assert_eq!(r.names.failed()[99].id(), "c::t99");
        assert_eq!(r.names.failed_omitted(), 50);
    }

    #[test]
    fn failure_elements_outside_testcases_do_not_count() {
        // Some writers put suite-level <error> (e.g. a crashed collection) directly in the suite.
        let input =
            r#"<testsuite><error message="collection failed"/><testcase name="a"/></testsuite>"#;
        assert_eq!(counts(input), tc(1, 1, 0, 0));
    }

    #[test]
    fn only_direct_children_decide_the_outcome() {
        let input = r#"<testsuite><testcase name="a"><system-out><failure/></system-out></testcase></testsuite>"#;
        assert_eq!(counts(input), tc(1, 1, 0, 0));
    }

    #[test]
    fn rejects_a_non_junit_root() {
        let (location, expected, found) =
            malformed(r#"<?xml version="1.0"?><coverage lines-valid="1"/>"#);
        assert_eq!(location.as_deref(), Some("byte 21"));
        assert_eq!(expected, "a <testsuites> or <testsuite> root element");
        assert_eq!(found, "<coverage>");
    }

    #[test]
    fn rejects_truncated_xml_with_position() {
        let cut = &PYTEST[..PYTEST.len() / 2];
        let (location, _, found) = malformed(cut);
        let location = location.expect("has a location");
        assert!(location.starts_with("byte "), "{location}");
        assert!(!found.is_empty());
    }

    #[test]
    fn rejects_a_document_that_stops_between_test_cases() {
        let (location, expected, found) =
            malformed(r#"<testsuites><testsuite name="s"><testcase name="a"/>"#);
        assert_eq!(location.as_deref(), Some("byte 52"));
        assert!(expected.contains("</testsuite>"), "{expected}");
        assert_eq!(found, "end of input");
    }

    #[test]
    fn rejects_nested_testcases() {
        let (_, _, found) = malformed(r#"<testsuite><testcase><testcase/></testcase></testsuite>"#);
        assert_eq!(found, "a nested <testcase>");
    }

    #[test]
    fn rejects_an_empty_file() {
        let (_, expected, found) = malformed("");
        assert_eq!(expected, "a <testsuites> or <testsuite> root element");
        assert_eq!(found, "end of input");
    }

    #[test]
    fn large_generated_report_streams() {
        // 200k test cases through a reader with a small buffer: counts are exact and nothing
        // depends on holding the document.
        struct Gen {
            left: u32,
            chunk: Vec<u8>,
            pos: usize,
            stage: u8,
        }
        impl std::io::Read for Gen {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                if self.pos == self.chunk.len() {
                    self.pos = 0;
                    self.chunk = match self.stage {
                        0 => {
                            self.stage = 1;
                            b"<testsuites><testsuite name=\"big\">".to_vec()
                        }
                        1 if self.left > 0 => {
                            self.left -= 1;
                            if self.left % 4 == 0 {
                                b"<testcase name=\"t\"><failure message=\"x\"/></testcase>\n"
                                    .to_vec()
                            } else {
                                b"<testcase classname=\"c\" name=\"t\" time=\"0.001\"/>\n".to_vec()
                            }
                        }
                        1 => {
                            self.stage = 2;
                            b"</testsuite></testsuites>".to_vec()
                        }
                        _ => return Ok(0),
                    };
                }
                let n = out.len().min(self.chunk.len() - self.pos);
                out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
                self.pos += n;
                Ok(n)
            }
        }
        let reader = std::io::BufReader::with_capacity(
            4096,
            Gen {
                left: 200_000,
                chunk: Vec::new(),
                pos: 0,
                stage: 0,
            },
        );
        let report = parse(reader).expect("valid generated report");
        assert_eq!(report.counts, tc(200_000, 150_000, 50_000, 0));
        assert_eq!(
            report.names.failed().len(),
            crate::statement::MAX_FAILED_TESTS
        );
        assert_eq!(report.names.failed_omitted(), 50_000 - 100);
        assert_eq!(report.names.passed().len(), super::super::MAX_PASSED_TESTS);
        assert_eq!(report.names.passed_omitted(), 150_000 - 10_000);
    }
}
