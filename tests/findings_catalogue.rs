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

/// A scenario "produces" a code when an end-to-end test asserts it with `assert_finding(.., "code")`
/// (or, for info findings, checks it by name in the report), or when the third-party vector test
/// expects a case to fail with it (`("case id", "code")` in `tests/vectors.rs`).
#[test]
fn every_code_is_produced_by_an_end_to_end_scenario() {
    let tests = read("tests/cli.rs");
    // Whitespace-normalised, so that rustfmt's line breaks inside a table row do not matter.
    let vectors = read("tests/vectors.rs")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| {
            !tests.contains(&format!("assert_finding(&report, \"{c}\")"))
                && !tests.contains(&format!("f[\"code\"] == \"{c}\""))
                && !vectors.contains(&format!(", \"{c}\""))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "no test in tests/cli.rs or tests/vectors.rs produces {missing:?}"
    );
}
