//! Reports written by the real tools agree with what those tools printed.
//!
//! Each folder of `tests/fixtures/reports/<tool>/` holds reports a real tool wrote for a small
//! sample project (partly covered code, branches, a failing and a skipped test) and, in
//! `summary.txt`, the summary the tool printed for the same run (see the folder's README for tools,
//! versions and commands). Every test here reads the figures out of `summary.txt` and asserts that
//! the figures ci-attest records for the reports are the same: what a user compares against is
//! what the tool printed. Nothing here reads outside the repository or depends on the clock.

use ci_attest::collect::{
    CoverageCounts, Dimension, Parsed, ReportFormat, TestCounts, TestTally, parse_file,
};
use ci_attest::statement::{CoverageSource, Ratio};
use std::path::PathBuf;

fn fixture(tool: &str, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reports")
        .join(tool)
        .join(file)
}

/// The text the tool printed, saved beside its reports.
fn printed(tool: &str) -> String {
    let path = fixture(tool, "summary.txt");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn coverage(tool: &str, file: &str, format: ReportFormat) -> CoverageCounts {
    match parse_file(format, &fixture(tool, file)) {
        Ok(Parsed::Coverage(c)) => c,
        other => panic!("{tool}/{file}: {other:?}"),
    }
}

/// The test counts as a check records them (with the report's summary attached).
fn tests(tool: &str, file: &str) -> TestCounts {
    let report = match parse_file(ReportFormat::Junit, &fixture(tool, file)) {
        Ok(Parsed::Tests(t)) => t,
        other => panic!("{tool}/{file}: {other:?}"),
    };
    let mut tally = TestTally::default();
    tally.add(&report);
    tally.finish().expect("one report")
}

fn number(text: &str) -> u64 {
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} in a printed summary: {e}"))
}

fn percent(text: &str) -> f64 {
    let t = text.trim().trim_end_matches('%');
    t.parse()
        .unwrap_or_else(|e| panic!("{text:?} in a printed summary: {e}"))
}

/// The percent the tool printed is the one ci-attest records, to the printed precision (istanbul
/// truncates to two decimals, the others round).
fn assert_percent(figure: Ratio, printed: f64, what: &str) {
    let ours = figure.percent().expect("something to cover");
    assert!(
        (ours - printed).abs() < 0.01,
        "{what}: ci-attest {ours:.4} %, the tool printed {printed} %"
    );
}

fn used(d: Option<Dimension>, what: &str) -> Dimension {
    d.unwrap_or_else(|| panic!("{what}: no figure"))
}

/// `Name: P% ( covered/total )` lines of istanbul's `text-summary` reporter (jest, vitest, c8).
fn istanbul_text_summary(text: &str, name: &str) -> (Ratio, f64) {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(name))
        .unwrap_or_else(|| panic!("no {name} line in {text}"));
    let (_, rest) = line.split_once(':').expect("Name : ...");
    let (pct, counts) = rest.split_once('(').expect("P% ( c/t )");
    let (covered, total) = counts
        .trim()
        .trim_end_matches(')')
        .split_once('/')
        .expect("c/t");
    (
        Ratio {
            covered: number(covered),
            total: number(total),
        },
        percent(pct),
    )
}

/// Checks every dimension of an istanbul-style report against the printed text summary.
fn assert_matches_istanbul_summary(tool: &str, file: &str, format: ReportFormat) {
    let text = printed(tool);
    let c = coverage(tool, file, format);
    for (name, dimension) in [
        ("Lines", c.lines),
        ("Branches", c.branches),
        ("Functions", c.functions),
    ] {
        let (figure, pct) = istanbul_text_summary(&text, name);
        let what = format!("{tool}/{file} {name}");
        let d = used(dimension, &what);
        assert_eq!(d.used, figure, "{what}");
        assert_percent(d.used, pct, &what);
    }
    // Lines and branches come from the report's own summary, and its entries agree with it.
    for (name, dimension) in [("lines", c.lines), ("branches", c.branches)] {
        let d = used(dimension, name);
        assert_eq!(d.source(), CoverageSource::Summary, "{tool}/{file} {name}");
        assert_eq!(d.detail(), None, "{tool}/{file} {name}");
    }
}

/// `N failed, N passed, ...` counts of a tool's closing test line, by word.
fn counts_by_word(line: &str, separators: &[char]) -> Vec<(String, u64)> {
    line.split(separators)
        .filter_map(|part| {
            let mut words = part.split_whitespace();
            let n = words.next()?.parse().ok()?;
            Some((words.next()?.to_string(), n))
        })
        .collect()
}

fn count_of(counts: &[(String, u64)], word: &str) -> u64 {
    counts
        .iter()
        .filter(|(w, _)| w == word)
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn coverage_py_reports_match_coverage_report() {
    // `coverage report` prints Stmts, Miss and Branch, and one Cover figure that counts lines and
    // branches together: (covered lines + covered branches) / (lines + branches).
    let text = printed("coverage-py");
    let total: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("TOTAL"))
        .expect("a TOTAL row")
        .split_whitespace()
        .collect();
    let [_, stmts, miss, branch, _brpart, cover] = total[..] else {
        panic!("TOTAL Stmts Miss Branch BrPart Cover: {total:?}");
    };
    for (file, format) in [
        ("coverage.xml", ReportFormat::Cobertura),
        ("coverage.lcov", ReportFormat::Lcov),
    ] {
        let c = coverage("coverage-py", file, format);
        let lines = used(c.lines, file).used;
        let branches = used(c.branches, file).used;
        assert_eq!(lines.total, number(stmts), "{file} statements");
        assert_eq!(lines.total - lines.covered, number(miss), "{file} missed");
        assert_eq!(branches.total, number(branch), "{file} branches");
        let combined = Ratio {
            covered: lines.covered + branches.covered,
            total: lines.total + branches.total,
        };
        assert_percent(combined, percent(cover), file);
        assert_eq!(c.lines.map(|d| d.detail()), Some(None), "{file}");
    }
}

#[test]
fn pytest_junit_matches_the_closing_line() {
    // "1 failed, 3 passed, 1 skipped, 1 xfailed in 0.25s": xfail is reported as skipped.
    let printed = counts_by_word(&printed("pytest"), &[',']);
    let t = tests("pytest", "junit.xml");
    assert_eq!(
        t.failed,
        count_of(&printed, "failed") + count_of(&printed, "error") + count_of(&printed, "errors")
    );
    assert_eq!(
        t.passed,
        count_of(&printed, "passed") + count_of(&printed, "xpassed")
    );
    assert_eq!(
        t.skipped,
        count_of(&printed, "skipped") + count_of(&printed, "xfailed")
    );
    let reported = t.reported.expect("pytest writes tests= on its suite");
    assert_eq!(reported.tests, t.total);
    assert!(!t.reported_mismatch);
}

/// The TOTAL row of `cargo llvm-cov report`, by column name.
fn llvm_cov_total(text: &str) -> Vec<(String, String)> {
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("a header")
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let total: Vec<&str> = lines
        .find(|l| l.starts_with("TOTAL"))
        .expect("a TOTAL row")
        .split_whitespace()
        .collect();
    assert_eq!(header.len(), total.len(), "{header:?} / {total:?}");
    header
        .into_iter()
        .zip(total.into_iter().map(str::to_string))
        .collect()
}

fn column<'a>(row: &'a [(String, String)], name: &str, nth: usize) -> &'a str {
    row.iter()
        .filter(|(h, _)| h == name)
        .nth(nth)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no column {name} #{nth} in {row:?}"))
}

#[test]
fn cargo_llvm_cov_lcov_matches_cargo_llvm_cov_report() {
    let row = llvm_cov_total(&printed("cargo-llvm-cov"));
    let c = coverage("cargo-llvm-cov", "lcov.info", ReportFormat::Lcov);
    let lines = used(c.lines, "lines");
    assert_eq!(lines.used.total, number(column(&row, "Lines", 0)));
    assert_eq!(
        lines.used.total - lines.used.covered,
        number(column(&row, "Missed Lines", 0))
    );
    // Columns: Regions' Cover, Functions' Executed, Lines' Cover, Branches' Cover.
    assert_percent(lines.used, percent(column(&row, "Cover", 1)), "lines");
    let functions = used(c.functions, "functions");
    assert_eq!(functions.used.total, number(column(&row, "Functions", 0)));
    assert_eq!(
        functions.used.total - functions.used.covered,
        number(column(&row, "Missed Functions", 0))
    );
    assert_percent(functions.used, percent(column(&row, "Executed", 0)), "fns");
    let branches = used(c.branches, "branches");
    assert_eq!(branches.used.total, number(column(&row, "Branches", 0)));
    // This tracefile's DA entries cover fewer lines than its LF/LH say (generic and
    // macro-generated functions): the summary is used, and the DA figure is recorded beside it.
    assert_eq!(lines.source(), CoverageSource::Summary);
    let detail = lines.detail().expect("the DA entries disagree with LF/LH");
    assert_ne!(detail, lines.used);
}

#[test]
fn cargo_llvm_cov_cobertura_carries_its_own_line_count_not_the_printed_one() {
    // cargo-llvm-cov writes Cobertura from the line entries it also writes as LCOV DA records,
    // and its root lines-valid / lines-covered summarise those, not llvm-cov's line summary that
    // `cargo llvm-cov report` prints: the Cobertura file's own summary is used, and it equals
    // the LCOV file's DA figure. No figure in that file gives the printed line coverage.
    let cobertura = coverage("cargo-llvm-cov", "cobertura.xml", ReportFormat::Cobertura);
    let lcov = coverage("cargo-llvm-cov", "lcov.info", ReportFormat::Lcov);
    let lines = used(cobertura.lines, "cobertura lines");
    assert_eq!(lines.source(), CoverageSource::Summary);
    assert_eq!(lines.detail(), None);
    assert_eq!(Some(lines.used), used(lcov.lines, "lcov lines").detail());
    let row = llvm_cov_total(&printed("cargo-llvm-cov"));
    assert_ne!(lines.used.total, number(column(&row, "Lines", 0)));
}

#[test]
fn nextest_junit_matches_its_summary_line_except_the_skipped_tests_it_leaves_out() {
    // "Summary [   0.361s] 7 tests run: 6 passed, 1 failed, 1 skipped"
    let text = printed("nextest");
    let (_, after) = text.split_once(']').expect("Summary [time]");
    let (run, rest) = after.split_once(':').expect("N tests run: ...");
    let printed = counts_by_word(rest, &[',']);
    let t = tests("nextest", "junit.xml");
    assert_eq!(t.total, number(run.trim().trim_end_matches("tests run")));
    assert_eq!(t.passed, count_of(&printed, "passed"));
    assert_eq!(t.failed, count_of(&printed, "failed"));
    // nextest writes no <testcase> for a skipped test and says skipped="0": the report cannot
    // say what the tool printed, and its summary agrees with its own cases.
    assert_eq!(count_of(&printed, "skipped"), 1);
    assert_eq!(t.skipped, 0);
    assert!(!t.reported_mismatch);
}

#[test]
fn jest_reports_match_the_text_summary_and_the_tests_line() {
    assert_matches_istanbul_summary("jest", "lcov.info", ReportFormat::Lcov);
    assert_matches_istanbul_summary("jest", "cobertura-coverage.xml", ReportFormat::Cobertura);
    // "Tests:       1 failed, 1 skipped, 4 passed, 6 total"
    let text = printed("jest");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Tests:"))
        .expect("a Tests: line");
    let printed = counts_by_word(line, &[',']);
    let t = tests("jest", "junit.xml");
    assert_eq!(t.total, count_of(&printed, "total"));
    assert_eq!(t.passed, count_of(&printed, "passed"));
    assert_eq!(t.failed, count_of(&printed, "failed"));
    assert_eq!(t.skipped, count_of(&printed, "skipped"));
    assert!(!t.reported_mismatch);
}

#[test]
fn vitest_reports_match_the_text_summary_and_the_tests_line() {
    assert_matches_istanbul_summary("vitest", "lcov.info", ReportFormat::Lcov);
    assert_matches_istanbul_summary("vitest", "cobertura-coverage.xml", ReportFormat::Cobertura);
    // "      Tests  1 failed | 4 passed | 1 skipped (6)"
    let text = printed("vitest");
    let line = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Tests "))
        .expect("a Tests line");
    let (counts, total) = line.rsplit_once('(').expect("(total)");
    let printed = counts_by_word(counts, &['|']);
    let t = tests("vitest", "junit.xml");
    assert_eq!(t.total, number(total.trim_end_matches(')')));
    assert_eq!(t.passed, count_of(&printed, "passed"));
    assert_eq!(t.failed, count_of(&printed, "failed"));
    assert_eq!(t.skipped, count_of(&printed, "skipped"));
    assert!(!t.reported_mismatch);
}

#[test]
fn c8_reports_match_the_text_summary() {
    assert_matches_istanbul_summary("c8", "lcov.info", ReportFormat::Lcov);
    assert_matches_istanbul_summary("c8", "cobertura-coverage.xml", ReportFormat::Cobertura);
}

#[test]
fn libtest_json_matches_cargo_tests_result_line() {
    // "test result: FAILED. 6 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; ..."
    let text = printed("cargo-test");
    let (_, counts) = text.split_once(". ").expect("test result: X. counts");
    let printed = counts_by_word(counts, &[';']);
    let report = match parse_file(
        ReportFormat::LibtestJson,
        &fixture("cargo-test", "libtest.json"),
    ) {
        Ok(Parsed::Tests(t)) => t,
        other => panic!("libtest.json: {other:?}"),
    };
    let mut tally = TestTally::default();
    tally.add(&report);
    let t = tally.finish().expect("one report");
    assert_eq!(t.passed, count_of(&printed, "passed"));
    assert_eq!(t.failed, count_of(&printed, "failed"));
    assert_eq!(t.skipped, count_of(&printed, "ignored"));
    let reported = t
        .reported
        .expect("the suite result carries libtest's counts");
    assert_eq!(reported.tests, t.total);
    assert!(!t.reported_mismatch);
}

#[test]
fn node_test_junit_matches_the_spec_reporters_totals() {
    // "ℹ tests 6", "ℹ pass 4", ...: node writes these as XML comments, not attributes, so the
    // report has no summary to record.
    let text = printed("node-test");
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("ℹ ")?.strip_prefix(name)?.strip_prefix(' '))
            .map(number)
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let t = tests("node-test", "junit.xml");
    assert_eq!(t.total, value("tests"));
    assert_eq!(t.passed, value("pass"));
    assert_eq!(t.failed, value("fail") + value("cancelled"));
    assert_eq!(t.skipped, value("skipped") + value("todo"));
    assert_eq!(t.reported, None);
}

fn lint(tool: &str, file: &str) -> ci_attest::collect::LintCounts {
    match parse_file(ReportFormat::Sarif, &fixture(tool, file)) {
        Ok(Parsed::Lint(l)) => l,
        other => panic!("{tool}/{file}: {other:?}"),
    }
}

/// The number before `word` in a line like `Found 4 warnings and 0 errors.`
fn found(text: &str, word: &str) -> u64 {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[1].trim_end_matches(['.', ',']).starts_with(word))
        .map(|w| number(w[0]))
        .unwrap_or_else(|| panic!("no `<n> {word}` in {text:?}"))
}

#[test]
fn oxlint_sarif_matches_its_found_line() {
    let printed = printed("oxlint");
    let l = lint("oxlint", "oxlint.sarif");
    assert_eq!(l.errors, found(&printed, "error"));
    assert_eq!(l.warnings, found(&printed, "warning"));
    assert_eq!(l.notes, 0);
}

#[test]
fn biome_sarif_matches_its_found_lines() {
    let printed = printed("biome");
    let l = lint("biome", "biome.sarif");
    assert_eq!(l.errors, found(&printed, "error"));
    assert_eq!(l.warnings, found(&printed, "warning"));
}

#[test]
fn flake8_sarif_counts_every_reported_code_by_its_rules_level() {
    // flake8 prints one line per diagnostic and `--count` the total; it has no levels of its own.
    // The SARIF formatter gives pycodestyle's E/W codes `defaultConfiguration.level = "error"` and
    // pyflakes' F codes no level (SARIF's default: warning).
    let printed = printed("flake8");
    let mut lines: Vec<&str> = printed.lines().collect();
    let total = number(lines.pop().expect("the --count line"));
    let l = lint("flake8", "flake8.sarif");
    assert_eq!(l.errors + l.warnings + l.notes, total);
    let pycodestyle = lines
        .iter()
        .filter(|c| c.starts_with('E') || c.starts_with('W'))
        .count() as u64;
    assert_eq!(l.errors, pycodestyle);
    assert_eq!(l.warnings, total - pycodestyle);
}
