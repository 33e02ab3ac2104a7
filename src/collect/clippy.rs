//! cargo's `--message-format=json` stream, as written by `cargo clippy` (and `cargo build`/`check`).
//!
//! Each non-empty line must be a JSON object with a `"reason"`. Only `compiler-message` lines are
//! counted, by their top-level `message.level`: `error` (and `error: internal compiler error`) as
//! errors, `warning` as warnings, `note` and `help` as notes; `failure-note` lines ("For more
//! information about this error...") and child diagnostics are not counted. rustc's summaries
//! ("3 warnings emitted", "aborting due to 2 previous errors") are recognised by having no spans,
//! no code and such a text, and are skipped. cargo reports a diagnostic once per target that
//! compiles the file (e.g. the lib and its unit tests), so diagnostics are deduplicated on their
//! level and rendered text. The stream must end with cargo's `build-finished` message, so a
//! truncated stream is reported as malformed.
//!
//! Memory: deduplication keeps a 32-byte digest per distinct diagnostic, at most
//! [`MAX_DISTINCT_DIAGNOSTICS`] of them.

use super::lines::{Lines, preview};
use super::{LintCounts, ReportError, ReportFormat};
use serde::Deserialize;
use serde::de::IgnoredAny;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashSet;
use std::io::BufRead;

/// Most distinct diagnostics remembered for deduplication (32 MiB of digests at most).
pub const MAX_DISTINCT_DIAGNOSTICS: usize = 1 << 20;

/// One line of cargo's JSON output, reduced to the fields the parser reads.
#[derive(Deserialize)]
struct CargoMessage<'a> {
    #[serde(borrow)]
    reason: Cow<'a, str>,
    #[serde(default, borrow)]
    message: Option<Diagnostic<'a>>,
}

/// rustc's diagnostic object (only the top level; `children` are ignored).
#[derive(Deserialize)]
struct Diagnostic<'a> {
    #[serde(borrow)]
    level: Cow<'a, str>,
    #[serde(borrow)]
    message: Cow<'a, str>,
    #[serde(default)]
    code: Option<IgnoredAny>,
    #[serde(default)]
    spans: Vec<IgnoredAny>,
    #[serde(default, borrow)]
    rendered: Option<Cow<'a, str>>,
}

/// Parses a cargo JSON message stream into lint counts.
///
/// Errors: [`ReportError::Malformed`] with the line number for a line that is not a cargo JSON
/// message, a `compiler-message` without a diagnostic, an unknown diagnostic level, or a stream
/// that does not end with `build-finished`; [`ReportError::TooLarge`] for a line over
/// [`super::MAX_TOKEN_BYTES`] or more than [`MAX_DISTINCT_DIAGNOSTICS`] diagnostics;
/// [`ReportError::Io`].
pub fn parse(reader: impl BufRead) -> Result<LintCounts, ReportError> {
    let mut lines = Lines::new(reader, ReportFormat::Clippy);
    let mut counts = LintCounts::default();
    let mut seen: HashSet<[u8; 32]> = HashSet::new();
    let mut finished = false;
    while let Some(line) = lines.next_line()? {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let msg: CargoMessage<'_> = match serde_json::from_slice(line) {
            Ok(msg) => msg,
            Err(err) => {
                let found = format!("{} ({err})", preview(line));
                return Err(lines.malformed("a cargo JSON message object with a \"reason\"", found));
            }
        };
        finished = msg.reason == "build-finished";
        if msg.reason != "compiler-message" {
            continue;
        }
        let Some(diag) = msg.message else {
            return Err(lines.malformed(
                "a \"message\" object in a compiler-message",
                "a compiler-message without one".to_string(),
            ));
        };
        let slot = match diag.level.as_ref() {
            "error" | "error: internal compiler error" => &mut counts.errors,
            "warning" => &mut counts.warnings,
            "note" | "help" => &mut counts.notes,
            "failure-note" => continue,
            other => {
                let found = format!("level {other:?}");
                return Err(lines.malformed(
                    "diagnostic level error, warning, note, help or failure-note",
                    found,
                ));
            }
        };
        if diag.spans.is_empty() && diag.code.is_none() && is_summary(&diag.message) {
            continue;
        }
        let mut hasher = Sha256::new();
        hasher.update(diag.level.as_bytes());
        hasher.update([0]);
        match &diag.rendered {
            Some(rendered) => hasher.update(rendered.as_bytes()),
            // No rendered text (not produced by cargo): fall back to the whole line, i.e. only
            // byte-identical messages are merged.
            None => hasher.update(line),
        }
        let digest: [u8; 32] = hasher.finalize().into();
        if seen.contains(&digest) {
            continue;
        }
        if seen.len() >= MAX_DISTINCT_DIAGNOSTICS {
            return Err(ReportError::TooLarge {
                format: ReportFormat::Clippy,
                what: format!("number of distinct diagnostics at line {}", lines.line_no()),
                limit: MAX_DISTINCT_DIAGNOSTICS as u64,
            });
        }
        seen.insert(digest);
        *slot += 1;
    }
    if !finished {
        return Err(ReportError::Malformed {
            format: ReportFormat::Clippy,
            location: Some(format!("line {}", lines.line_no() + 1)),
            expected:
                "cargo's final {\"reason\":\"build-finished\"} message (the stream looks truncated)"
                    .to_string(),
            found: "end of input".to_string(),
        });
    }
    Ok(counts)
}

/// Whether `text` is one of rustc's closing summaries rather than a diagnostic of its own:
/// `N warning(s) emitted`, `aborting due to [N ]previous error(s)[; N warning(s) emitted]`.
fn is_summary(text: &str) -> bool {
    fn warnings_emitted(s: &str) -> bool {
        let Some((n, rest)) = s.split_once(' ') else {
            return false;
        };
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && matches!(rest, "warning emitted" | "warnings emitted")
    }
    if warnings_emitted(text) {
        return true;
    }
    let Some(rest) = text.strip_prefix("aborting due to ") else {
        return false;
    };
    let (errors, warnings) = match rest.split_once("; ") {
        Some((errors, warnings)) => (errors, Some(warnings)),
        None => (rest, None),
    };
    let errors_ok = match errors.split_once(' ') {
        _ if errors == "previous error" => true,
        Some((n, kind)) => {
            n.bytes().all(|b| b.is_ascii_digit())
                && !n.is_empty()
                && matches!(kind, "previous error" | "previous errors")
        }
        None => false,
    };
    errors_ok && warnings.is_none_or(warnings_emitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(input: &str) -> LintCounts {
        match parse(input.as_bytes()) {
            Ok(c) => c,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    fn lc(errors: u64, warnings: u64, notes: u64) -> LintCounts {
        LintCounts {
            errors,
            warnings,
            notes,
        }
    }

    fn malformed(input: &str) -> (Option<String>, String, String) {
        super::super::test_support::malformed_parts(parse(input.as_bytes()))
    }

    fn message(level: &str, text: &str, spans: &str, code: &str, rendered: &str) -> String {
        format!(
            r#"{{"reason":"compiler-message","package_id":"path+file:///w/app#0.1.0","manifest_path":"/w/app/Cargo.toml","target":{{"kind":["lib"],"crate_types":["lib"],"name":"app","src_path":"/w/app/src/lib.rs","edition":"2021","doc":true,"doctest":true,"test":true}},"message":{{"rendered":{rendered},"$message_type":"diagnostic","children":[],"code":{code},"level":"{level}","message":"{text}","spans":{spans}}}}}"#
        )
    }

    const FINISHED: &str = "{\"reason\":\"build-finished\",\"success\":true}\n";

    /// Real `cargo clippy --all-targets --message-format=json` (clippy 0.1.95): three warnings,
    /// each reported for the lib and again for its test target.
    const REAL_WARNINGS: &str = include_str!("../../tests/fixtures/reports/clippy-warnings.json");

    /// Real `cargo clippy --message-format=json` on a crate that does not compile: three errors
    /// and two failure-notes.
    const REAL_ERRORS: &str = include_str!("../../tests/fixtures/reports/clippy-errors.json");

    #[test]
    fn dedupes_real_lib_and_test_target_warnings() {
        assert_eq!(lint(REAL_WARNINGS), lc(0, 3, 0));
    }

    #[test]
    fn counts_real_errors_and_skips_failure_notes() {
        assert_eq!(lint(REAL_ERRORS), lc(3, 0, 0));
    }

    #[test]
    fn skips_rustc_summary_messages() {
        let span = r#"[{"file_name":"src/lib.rs","line_start":1}]"#;
        let input = [
            message(
                "warning",
                "unused variable: `x`",
                span,
                r#"{"code":"unused_variables","explanation":null}"#,
                "\"warning: unused variable\"",
            ),
            message(
                "warning",
                "1 warning emitted",
                "[]",
                "null",
                "\"warning: 1 warning emitted\\n\\n\"",
            ),
            message(
                "error",
                "mismatched types",
                span,
                r#"{"code":"E0308","explanation":"..."}"#,
                "\"error[E0308]: mismatched types\"",
            ),
            message(
                "error",
                "aborting due to 1 previous error; 1 warning emitted",
                "[]",
                "null",
                "\"error: aborting due to 1 previous error; 1 warning emitted\\n\\n\"",
            ),
            message(
                "error",
                "aborting due to previous error",
                "[]",
                "null",
                "\"error: aborting due to previous error\\n\\n\"",
            ),
        ]
        .join("\n");
        assert_eq!(lint(&format!("{input}\n{FINISHED}")), lc(1, 1, 0));
    }

    #[test]
    fn span_less_diagnostics_that_are_not_summaries_count() {
        // e.g. `#![deny(missing_docs)]`-style crate-level lints can come without spans.
        let input = message(
            "warning",
            "unused manifest key: foo",
            "[]",
            "null",
            "\"warning: unused manifest key\"",
        );
        assert_eq!(lint(&format!("{input}\n{FINISHED}")), lc(0, 1, 0));
    }

    #[test]
    fn notes_and_help_count_as_notes() {
        let input = [
            message(
                "note",
                "lint level defined here",
                "[]",
                "null",
                "\"note: a\"",
            ),
            message("help", "consider this", "[]", "null", "\"help: b\""),
        ]
        .join("\n");
        assert_eq!(lint(&format!("{input}\n{FINISHED}")), lc(0, 0, 2));
    }

    #[test]
    fn same_text_at_different_levels_is_two_diagnostics() {
        let input = [
            message("warning", "x", "[]", "null", "\"same\""),
            message("error", "x", "[]", "null", "\"same\""),
        ]
        .join("\n");
        assert_eq!(lint(&format!("{input}\n{FINISHED}")), lc(1, 1, 0));
    }

    #[test]
    fn other_reasons_are_ignored() {
        let input = "{\"reason\":\"compiler-artifact\",\"package_id\":\"x\",\"fresh\":true}\n{\"reason\":\"build-script-executed\",\"package_id\":\"y\"}\n";
        assert_eq!(lint(&format!("{input}{FINISHED}")), lc(0, 0, 0));
    }

    #[test]
    fn rejects_plain_text_with_line_number() {
        let input = format!("{FINISHED}    Checking app v0.1.0 (/w/app)\n");
        let (location, expected, found) = malformed(&input);
        assert_eq!(location.as_deref(), Some("line 2"));
        assert_eq!(expected, "a cargo JSON message object with a \"reason\"");
        assert!(found.starts_with("\"    Checking app"), "{found}");
    }

    #[test]
    fn rejects_a_stream_without_build_finished() {
        let cut: String = REAL_WARNINGS
            .lines()
            .take(4)
            .map(|l| format!("{l}\n"))
            .collect();
        let (location, expected, found) = malformed(&cut);
        assert_eq!(location.as_deref(), Some("line 5"));
        assert!(expected.contains("build-finished"), "{expected}");
        assert_eq!(found, "end of input");
    }

    #[test]
    fn rejects_an_unknown_level() {
        let input = message("catastrophe", "x", "[]", "null", "null");
        let (location, _, found) = malformed(&format!("{input}\n{FINISHED}"));
        assert_eq!(location.as_deref(), Some("line 1"));
        assert_eq!(found, "level \"catastrophe\"");
    }

    #[test]
    fn rejects_a_compiler_message_without_a_message() {
        let (_, expected, _) = malformed("{\"reason\":\"compiler-message\"}\n");
        assert_eq!(expected, "a \"message\" object in a compiler-message");
    }

    #[test]
    fn recognises_summaries_exactly() {
        for summary in [
            "1 warning emitted",
            "12 warnings emitted",
            "aborting due to previous error",
            "aborting due to 1 previous error",
            "aborting due to 3 previous errors",
            "aborting due to 2 previous errors; 5 warnings emitted",
        ] {
            assert!(is_summary(summary), "{summary}");
        }
        for not_summary in [
            "unused variable: `x`",
            "warnings emitted",
            "x warnings emitted",
            "aborting due to",
            "aborting due to 2 previous errors; oops",
        ] {
            assert!(!is_summary(not_summary), "{not_summary}");
        }
    }
}
