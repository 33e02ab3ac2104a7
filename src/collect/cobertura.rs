//! Cobertura XML coverage reports, as written by coverage.py `xml`, cargo-llvm-cov `--cobertura`,
//! jest/istanbul, coverlet and the original Cobertura.
//!
//! Lines come from the class-level `<class><lines><line hits=".."/>` elements (covered when
//! `hits > 0`). Many writers repeat the same lines under `<class><methods><method><lines>`; those
//! are not counted as lines, only used to decide whether their method was hit. Branches come from
//! class-level lines with `branch="true"` and `condition-coverage="50% (1/2)"`. Functions are the
//! `<method>` elements, hit when any of their lines has `hits > 0` (or, for a method without lines,
//! when its `line-rate` is above zero).
//!
//! The root `<coverage lines-covered lines-valid branches-covered branches-valid>` attributes are
//! the producer's own summary, and what it prints (coverage.py's `coverage report`, jest's and c8's
//! text summary): when present they are the figure used, and the per-element counts are recorded
//! beside them (see [`super::Dimension`]); without them the per-element counts are used. A
//! dimension with neither is `None`. Cobertura has no summary for methods. The root's `line-rate`
//! and `branch-rate` must be numbers in 0..=1 and, when the counts are there too, agree with them
//! (within [`RATE_TOLERANCE`]: writers round or truncate to four digits); a summary with more
//! covered than valid items, or a count above [`super::MAX_SUMMARY_COUNT`], is refused. The root
//! element must be `<coverage>`.

use super::lines::preview;
use super::xml::{XmlEvent, XmlReader};
use super::{CoverageCounts, Dimension, MAX_SUMMARY_COUNT, Ratio, ReportError, ReportFormat};
use std::io::BufRead;

/// Most a root `line-rate` or `branch-rate` may differ from `covered / valid`: writers round or
/// truncate the rate to four digits (istanbul writes `0.4285` for 6/14).
pub const RATE_TOLERANCE: f64 = 0.001;

/// What an open element is, as far as counting is concerned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Class,
    Method,
    /// A `<lines>` element directly inside a class.
    ClassLines,
    /// A `<lines>` element directly inside a method.
    MethodLines,
    Other,
}

/// The method being read: whether any of its lines was hit, and its `line-rate` fallback.
struct OpenMethod {
    depth: usize,
    has_lines: bool,
    hit: bool,
    rate_positive: bool,
}

/// Parses a Cobertura XML report into coverage counts.
///
/// Errors: [`ReportError::Malformed`] (with a byte offset) for a root other than `<coverage>`,
/// malformed or truncated XML, a `<line>` without a valid `hits` attribute, or a branch line whose
/// `condition-coverage` is not `N% (covered/total)`; [`ReportError::TooLarge`] for an XML token over
/// [`super::MAX_TOKEN_BYTES`]; [`ReportError::Io`].
pub fn parse(reader: impl BufRead) -> Result<CoverageCounts, ReportError> {
    let mut xml = XmlReader::new(reader, ReportFormat::Cobertura, &["coverage"]);
    let mut buf = Vec::new();
    // Kinds of the open elements; depth is bounded by the XML reader.
    let mut stack: Vec<Kind> = Vec::new();
    let mut lines: Option<Ratio> = None;
    let mut branches: Option<Ratio> = None;
    let mut functions: Option<Ratio> = None;
    let mut root_lines: Option<Ratio> = None;
    let mut root_branches: Option<Ratio> = None;
    let mut method: Option<OpenMethod> = None;
    loop {
        match xml.next(&mut buf)? {
            XmlEvent::Open { tag, depth } => {
                let parent = stack.last().copied();
                let kind = match (tag.local_name().as_ref(), parent) {
                    (b"coverage", None) => {
                        root_lines =
                            root_ratio(&xml, &tag, "lines-covered", "lines-valid", "line-rate")?;
                        root_branches = root_ratio(
                            &xml,
                            &tag,
                            "branches-covered",
                            "branches-valid",
                            "branch-rate",
                        )?;
                        Kind::Other
                    }
                    (b"class", _) => Kind::Class,
                    (b"method", Some(Kind::Other)) if stack.contains(&Kind::Class) => {
                        if method.is_some() {
                            return Err(xml.malformed(
                                "</method> before another <method>",
                                "a nested <method>",
                            ));
                        }
                        let rate = xml.attr(&tag, "line-rate")?;
                        let rate_positive = rate
                            .as_deref()
                            .and_then(|r| std::str::from_utf8(r).ok())
                            .and_then(|r| r.trim().parse::<f64>().ok())
                            .is_some_and(|r| r > 0.0);
                        method = Some(OpenMethod {
                            depth,
                            has_lines: false,
                            hit: false,
                            rate_positive,
                        });
                        Kind::Method
                    }
                    (b"lines", Some(Kind::Class)) => Kind::ClassLines,
                    (b"lines", Some(Kind::Method)) => Kind::MethodLines,
                    (b"line", Some(Kind::ClassLines)) => {
                        let hits = line_hits(&xml, &tag)?;
                        let ratio = lines.get_or_insert_default();
                        ratio.total += 1;
                        ratio.covered += u64::from(hits > 0);
                        if let Some((covered, total)) = branch_counts(&xml, &tag)? {
                            branches
                                .get_or_insert_default()
                                .add(&Ratio { covered, total });
                        }
                        Kind::Other
                    }
                    (b"line", Some(Kind::MethodLines)) => {
                        let hits = line_hits(&xml, &tag)?;
                        if let Some(open) = method.as_mut() {
                            open.has_lines = true;
                            open.hit |= hits > 0;
                        }
                        Kind::Other
                    }
                    _ => Kind::Other,
                };
                stack.push(kind);
            }
            XmlEvent::Close { depth } => {
                stack.pop();
                if let Some(open) = method.take_if(|open| open.depth == depth) {
                    let ratio = functions.get_or_insert_default();
                    ratio.total += 1;
                    let hit = if open.has_lines {
                        open.hit
                    } else {
                        open.rate_positive
                    };
                    ratio.covered += u64::from(hit);
                }
            }
            XmlEvent::Other => {}
            XmlEvent::End => break,
        }
    }
    Ok(CoverageCounts {
        lines: Dimension::of(root_lines, lines),
        branches: Dimension::of(root_branches, branches),
        functions: Dimension::of(None, functions),
    })
}

/// The `hits` attribute of a `<line>`, required.
fn line_hits<R: BufRead>(
    xml: &XmlReader<R>,
    tag: &quick_xml::events::BytesStart<'_>,
) -> Result<u64, ReportError> {
    xml.attr_u64(tag, "hits")?
        .ok_or_else(|| xml.malformed("a hits attribute on <line>", "a <line> without hits"))
}

/// `(covered, total)` branches of a `<line branch="true" condition-coverage="50% (1/2)">`.
fn branch_counts<R: BufRead>(
    xml: &XmlReader<R>,
    tag: &quick_xml::events::BytesStart<'_>,
) -> Result<Option<(u64, u64)>, ReportError> {
    let is_branch = xml
        .attr(tag, "branch")?
        .is_some_and(|b| b.as_ref().eq_ignore_ascii_case(b"true"));
    if !is_branch {
        return Ok(None);
    }
    let expected = "condition-coverage=\"N% (covered/total)\" on a branch line";
    let Some(value) = xml.attr(tag, "condition-coverage")? else {
        return Err(xml.malformed(expected, "a branch line without condition-coverage"));
    };
    let parsed = std::str::from_utf8(&value).ok().and_then(|text| {
        let inner = text.trim().strip_suffix(')')?;
        let (_, fraction) = inner.rsplit_once('(')?;
        let (covered, total) = fraction.split_once('/')?;
        let covered: u64 = covered.trim().parse().ok()?;
        let total: u64 = total.trim().parse().ok()?;
        (covered <= total).then_some((covered, total))
    });
    match parsed {
        Some(counts) => Ok(Some(counts)),
        None => Err(xml.malformed(expected, format!("condition-coverage={}", preview(&value)))),
    }
}

/// A ratio from two root attributes, if both are present, checked against the root's rate.
fn root_ratio<R: BufRead>(
    xml: &XmlReader<R>,
    tag: &quick_xml::events::BytesStart<'_>,
    covered: &str,
    valid: &str,
    rate: &str,
) -> Result<Option<Ratio>, ReportError> {
    let count = |name: &str| -> Result<Option<u64>, ReportError> {
        match xml.attr_u64(tag, name)? {
            Some(n) if n > MAX_SUMMARY_COUNT => Err(xml.malformed(
                format!("a {name} of at most {MAX_SUMMARY_COUNT}"),
                format!(
                    "{name}={}",
                    preview(&xml.attr(tag, name)?.unwrap_or_default())
                ),
            )),
            n => Ok(n),
        }
    };
    let ratio = match (count(covered)?, count(valid)?) {
        (Some(covered_n), Some(total)) if covered_n <= total => Some(Ratio {
            covered: covered_n,
            total,
        }),
        (Some(covered_n), Some(total)) => {
            return Err(xml.malformed(
                format!("{covered} not greater than {valid}"),
                format!("{covered}=\"{covered_n}\" {valid}=\"{total}\""),
            ));
        }
        _ => None,
    };
    let Some(text) = xml.attr(tag, rate)? else {
        return Ok(ratio);
    };
    let value = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|v| (0.0..=1.0).contains(v));
    let Some(value) = value else {
        return Err(xml.malformed(
            format!("a number from 0 to 1 in the {rate} attribute of <coverage>"),
            preview(&text),
        ));
    };
    if let Some(r) = ratio.filter(|r| r.total > 0) {
        let exact = r.covered as f64 / r.total as f64;
        if (value - exact).abs() > RATE_TOLERANCE {
            return Err(xml.malformed(
                format!(
                    "{rate} = {covered} / {valid} = {exact:.4} (within {RATE_TOLERANCE}) on \
                     <coverage>"
                ),
                format!("{rate}={}", preview(&text)),
            ));
        }
    }
    Ok(ratio)
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::test_support::{Figures, counted, used};

    fn counts(input: &str) -> CoverageCounts {
        match parse(input.as_bytes()) {
            Ok(c) => c,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    /// The figures recorded.
    fn cov(input: &str) -> Figures {
        used(&counts(input))
    }

    /// The figures the detail entries give.
    fn detail(input: &str) -> Figures {
        counted(&counts(input))
    }

    fn r(covered: u64, total: u64) -> Option<Ratio> {
        Some(Ratio { covered, total })
    }

    fn malformed(input: &str) -> (Option<String>, String, String) {
        super::super::test_support::malformed_parts(parse(input.as_bytes()))
    }

    /// Real output of `coverage xml` (coverage.py 7.17 with `--branch`): empty `<methods/>`.
    const COVERAGE_PY: &str = include_str!("../../tests/fixtures/reports/coveragepy-cobertura.xml");

    #[test]
    fn counts_real_coverage_py_report() {
        let c = cov(COVERAGE_PY);
        assert_eq!(c.lines, r(32, 37));
        assert_eq!(c.branches, r(4, 6));
        assert_eq!(c.functions, None);
    }

    /// cargo-llvm-cov `--cobertura` style: lines repeated under methods and under the class.
    const LLVM_COV: &str = r#"<?xml version="1.0" ?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage lines-valid="9" lines-covered="4" line-rate="0.4444" branches-valid="0" branches-covered="0" branch-rate="0" complexity="0" version="1.9" timestamp="1714640000">
  <sources><source>/home/dev/app</source></sources>
  <packages>
    <package name="app" line-rate="0.4444" branch-rate="0" complexity="0">
      <classes>
        <class name="lib.rs" filename="src/lib.rs" line-rate="0.4444" branch-rate="0" complexity="0">
          <methods>
            <method name="_RNvCs1234_3app3add" signature="" line-rate="1" branch-rate="0" complexity="0">
              <lines>
                <line number="1" hits="3"/>
                <line number="2" hits="3"/>
                <line number="3" hits="3"/>
                <line number="4" hits="3"/>
              </lines>
            </method>
            <method name="_RNvCs1234_3app12unused_thing" signature="" line-rate="0" branch-rate="0" complexity="0">
              <lines>
                <line number="6" hits="0"/>
                <line number="7" hits="0"/>
              </lines>
            </method>
          </methods>
          <lines>
            <line number="1" hits="3"/>
            <line number="2" hits="3"/>
            <line number="3" hits="3"/>
            <line number="4" hits="3"/>
            <line number="6" hits="0"/>
            <line number="7" hits="0"/>
            <line number="8" hits="0"/>
            <line number="9" hits="0"/>
            <line number="10" hits="0"/>
          </lines>
        </class>
      </classes>
    </package>
  </packages>
</coverage>
"#;

    #[test]
    fn method_lines_are_not_counted_twice() {
        let c = cov(LLVM_COV);
        assert_eq!(c.lines, r(4, 9));
        assert_eq!(c.functions, r(1, 2));
        // No branch lines: the root's branches-valid="0" is what the report says.
        assert_eq!(c.branches, r(0, 0));
    }

    /// jest / istanbul cobertura reporter: branch lines on both methods and classes.
    const ISTANBUL: &str = r#"<?xml version="1.0" ?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage lines-valid="5" lines-covered="4" line-rate="0.8" branches-valid="4" branches-covered="3" branch-rate="0.75" timestamp="1714640000000" complexity="0" version="0.1">
  <sources><source>/home/dev/app</source></sources>
  <packages>
    <package name="src" line-rate="0.8" branch-rate="0.75">
      <classes>
        <class name="format.js" filename="src/format.js" line-rate="0.8" branch-rate="0.75">
          <methods>
            <method name="pad" hits="4" signature="()V">
              <lines><line number="1" hits="4"/></lines>
            </method>
            <method name="(anonymous_1)" hits="0" signature="()V">
              <lines><line number="9" hits="0"/></lines>
            </method>
          </methods>
          <lines>
            <line number="2" hits="4" branch="true" condition-coverage="100% (2/2)"/>
            <line number="3" hits="2" branch="false"/>
            <line number="5" hits="2" branch="true" condition-coverage="50% (1/2)"/>
            <line number="6" hits="1" branch="false"/>
            <line number="10" hits="0" branch="false"/>
          </lines>
        </class>
      </classes>
    </package>
  </packages>
</coverage>
"#;

    #[test]
    fn counts_istanbul_branches_from_condition_coverage() {
        let c = cov(ISTANBUL);
        assert_eq!(c.lines, r(4, 5));
        assert_eq!(c.branches, r(3, 4));
        assert_eq!(c.functions, r(1, 2));
    }

    #[test]
    fn root_summary_is_used_and_disagreeing_lines_are_recorded_beside_it() {
        let input = r#"<coverage lines-valid="100" lines-covered="100"><packages><package><classes>
<class name="a" filename="a.py"><methods/><lines><line number="1" hits="0"/></lines></class>
</classes></package></packages></coverage>"#;
        assert_eq!(cov(input).lines, r(100, 100));
        assert_eq!(detail(input).lines, r(0, 1));
        let lines = counts(input).lines.expect("has lines");
        assert_eq!(lines.source(), crate::statement::CoverageSource::Summary);
        assert_eq!(lines.detail(), r(0, 1));
    }

    #[test]
    fn methods_have_no_summary_and_are_counted() {
        let functions = counts(LLVM_COV).functions.expect("has methods");
        assert_eq!(functions.source(), crate::statement::CoverageSource::Detail);
        assert_eq!(
            functions.used,
            Ratio {
                covered: 1,
                total: 2
            }
        );
    }

    #[test]
    fn rejects_a_rate_that_contradicts_the_root_counts() {
        let (location, expected, found) = malformed(
            r#"<coverage lines-valid="10" lines-covered="1" line-rate="0.9"><packages/></coverage>"#,
        );
        assert_eq!(location.as_deref(), Some("byte 0"));
        assert_eq!(
            expected,
            "line-rate = lines-covered / lines-valid = 0.1000 (within 0.001) on <coverage>"
        );
        assert_eq!(found, "line-rate=\"0.9\"");
        // Four-digit truncation (istanbul) and rounding (coverage.py) are within the tolerance.
        let truncated =
            r#"<coverage branches-valid="14" branches-covered="6" branch-rate="0.4285"/>"#;
        assert_eq!(cov(truncated).branches, r(6, 14));
    }

    #[test]
    fn rejects_a_rate_that_is_not_a_fraction() {
        for rate in ["1.5", "-0.1", "NaN", "inf", "most"] {
            let input = format!(r#"<coverage line-rate="{rate}"/>"#);
            let (_, expected, _) = malformed(&input);
            assert_eq!(
                expected, "a number from 0 to 1 in the line-rate attribute of <coverage>",
                "{rate}"
            );
        }
        // With nothing to cover a writer may say 1 or 0.
        assert_eq!(
            cov(r#"<coverage lines-valid="0" lines-covered="0" line-rate="1"/>"#).lines,
            r(0, 0)
        );
    }

    #[test]
    fn rejects_absurd_root_counts() {
        let (_, expected, found) =
            malformed(r#"<coverage lines-valid="99999999999999999999" lines-covered="1"/>"#);
        assert_eq!(expected, "a lines-valid of at most 1099511627776");
        assert_eq!(found, "lines-valid=\"99999999999999999999\"");
    }

    #[test]
    fn falls_back_to_root_attributes_without_line_elements() {
        let input = r#"<coverage lines-valid="10" lines-covered="7" branches-valid="4" branches-covered="1"><packages/></coverage>"#;
        let c = cov(input);
        assert_eq!(c.lines, r(7, 10));
        assert_eq!(c.branches, r(1, 4));
        assert_eq!(c.functions, None);
    }

    #[test]
    fn dimensions_without_any_data_are_none() {
        assert_eq!(cov("<coverage line-rate=\"1\"/>"), Figures::default());
    }

    #[test]
    fn method_without_lines_uses_its_line_rate() {
        let input = r#"<coverage><packages><package><classes><class name="A">
<methods><method name="a" line-rate="0.5"/><method name="b" line-rate="0"/></methods><lines/>
</class></classes></package></packages></coverage>"#;
        assert_eq!(cov(input).functions, r(1, 2));
    }

    #[test]
    fn rejects_a_non_cobertura_root() {
        let (location, expected, found) = malformed("<testsuites/>");
        assert_eq!(location.as_deref(), Some("byte 0"));
        assert_eq!(expected, "a <coverage> root element");
        assert_eq!(found, "<testsuites>");
    }

    #[test]
    fn rejects_a_line_without_hits() {
        let input = r#"<coverage><packages><package><classes><class><lines><line number="3"/></lines></class></classes></package></packages></coverage>"#;
        let (location, expected, _) = malformed(input);
        assert_eq!(location.as_deref(), Some("byte 52"));
        assert_eq!(expected, "a hits attribute on <line>");
    }

    #[test]
    fn rejects_a_non_numeric_hit_count() {
        let input = r#"<coverage><packages><package><classes><class><lines><line number="3" hits="many"/></lines></class></classes></package></packages></coverage>"#;
        let (_, expected, found) = malformed(input);
        assert_eq!(
            expected,
            "a non-negative integer in the hits attribute of <line>"
        );
        assert_eq!(found, "\"many\"");
    }

    #[test]
    fn rejects_malformed_condition_coverage() {
        let input = r#"<coverage><packages><package><classes><class><lines><line number="3" hits="1" branch="true" condition-coverage="50%"/></lines></class></classes></package></packages></coverage>"#;
        let (_, expected, found) = malformed(input);
        assert!(expected.starts_with("condition-coverage="), "{expected}");
        assert_eq!(found, "condition-coverage=\"50%\"");
    }

    #[test]
    fn rejects_truncated_report_with_position() {
        let cut = &COVERAGE_PY[..COVERAGE_PY.len() - 40];
        let (location, _, found) = malformed(cut);
        assert!(location.is_some_and(|l| l.starts_with("byte ")));
        assert!(!found.is_empty());
    }

    #[test]
    fn rejects_covered_above_valid_in_the_root() {
        let (_, expected, found) = malformed(r#"<coverage lines-valid="1" lines-covered="2"/>"#);
        assert_eq!(expected, "lines-covered not greater than lines-valid");
        assert_eq!(found, "lines-covered=\"2\" lines-valid=\"1\"");
    }
}
