//! Every finding code has a docs entry and a test scenario that produces it.

use ci_attest::finding::Code;
use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn every_code_has_a_docs_entry() {
    let docs = read("docs/findings.md");
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !docs.contains(&format!("## `{c}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/findings.md lacks entries for {missing:?}"
    );
}

#[test]
fn every_documented_code_exists() {
    let docs = read("docs/findings.md");
    for line in docs.lines().filter_map(|l| l.strip_prefix("## `")) {
        let code = line.trim_end_matches('`');
        assert!(
            Code::ALL.iter().any(|c| c.as_str() == code),
            "docs/findings.md documents {code}, which is not a code"
        );
    }
}

/// A scenario "produces" a code when an end-to-end test in `tests/*.rs` *asserts* it, through
/// `common::assert_finding(&report, "code")` (a rejection with that code, expected, found and a
/// hint) or `common::assert_noted(&report, "code")` (an info finding, or one on a bundle's own
/// line), or when the third-party vector test expects a case to fail with it
/// (`("case id", "code")` in `tests/vectors.rs`). A code merely mentioned does not count.
#[test]
fn every_code_is_asserted_by_an_end_to_end_scenario() {
    let asserted = regex::Regex::new(
        r#"(?:assert_finding|assert_noted)\(\s*&?[\w\[\]".]+\s*,\s*"([a-z-]+)"\s*\)"#,
    )
    .expect("valid pattern");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut codes = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("tests/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rs")
            && path.file_name() != Some("findings_catalogue.rs".as_ref())
        {
            let text = std::fs::read_to_string(&path).expect("read test file");
            for c in asserted.captures_iter(&text) {
                codes.insert(c[1].to_string());
            }
        }
    }
    // Whitespace-normalised, so that rustfmt's line breaks inside a table row do not matter.
    // Only the table of expected failures counts, which the vector test asserts case by case.
    let vectors = read("tests/vectors.rs");
    let table = vectors
        .split_once("const EXPECTED_FAILURES")
        .and_then(|(_, rest)| rest.split_once("\n];"))
        .map(|(table, _)| table.split_whitespace().collect::<Vec<_>>().join(" "))
        .expect("tests/vectors.rs has its EXPECTED_FAILURES table");
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !codes.contains(*c) && !table.contains(&format!(", \"{c}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "no test in tests/*.rs asserts {missing:?} (with assert_finding or assert_noted)"
    );
}

#[test]
fn the_catalogue_pattern_counts_assertions_not_mentions() {
    let asserted = regex::Regex::new(
        r#"(?:assert_finding|assert_noted)\(\s*&?[\w\[\]".]+\s*,\s*"([a-z-]+)"\s*\)"#,
    )
    .expect("valid pattern");
    assert!(asserted.is_match(r#"assert_finding(&report, "no-attestation")"#));
    assert!(asserted.is_match(r#"assert_noted(&reports[1], "check-skipped")"#));
    assert!(!asserted.is_match(r#"let code = "no-attestation";"#));
    assert!(!asserted.is_match(r#"f["code"] == "no-attestation""#));
}
