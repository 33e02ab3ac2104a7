//! The audit report as one self-contained HTML page (`audit --out DIR` writes `report.html`).
//!
//! No external asset: the style is inline CSS, the chart inline SVG, and there is no script. A
//! Content-Security-Policy of `default-src 'none'` (inline style allowed) means that even a string
//! that escaped escaping could load and run nothing. Every string of the report came from bundles
//! an attacker may have written: it is cleaned for display ([`AuditReport::cleaned`]: control and
//! direction characters made visible, long values cut) and then HTML-escaped by [`escape`], the
//! one escaping function of this form, for element text and quoted attributes alike.

use crate::finding::Finding;
use crate::report::{AuditReport, BundleReport, Report, Verdict, format_number, outcome_str};
use std::fmt::Write;

/// `s` safe in HTML element text and in double- or single-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#1b1f24;background:#fff}\
h1{font-size:1.5em}.meta{color:#57606a}\
.summary{display:flex;gap:1em;margin:1em 0}.summary div{padding:.6em 1em;border-radius:6px;font-size:1.2em}\
.acc{background:#dafbe1}.rej{background:#ffebe9}.una{background:#fff8c5}\
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border:1px solid #d0d7de;padding:.35em .5em;\
text-align:left;vertical-align:top}th{background:#f6f8fa}tr.rejected td.verdict{color:#cf222e;font-weight:bold}\
tr.accepted td.verdict{color:#1a7f37;font-weight:bold}code{font-size:.95em;word-break:break-all}\
ul{margin:0;padding-left:1.2em}.chart{margin:1em 0}.chart text{font-size:11px;fill:#57606a}";

/// The selected bundle of a commit, if any.
fn selected(r: &Report) -> Option<&BundleReport> {
    r.bundles.iter().find(|b| b.selected)
}

/// The first value of `metric` among the selected bundle's checks.
fn metric(r: &Report, metric: &str) -> Option<f64> {
    selected(r)?
        .checks
        .iter()
        .find_map(|c| c.metrics.get(metric).copied())
}

/// The page for `report`.
pub fn audit_html(report: &AuditReport) -> String {
    let r = report.cleaned();
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>ci-attest audit</title><style>{STYLE}</style></head><body>\n\
<h1>ci-attest audit</h1>\n<p class=\"meta\">Range <code>{}</code>, policy <code>{}</code>, as of {}</p>\n\
<div class=\"summary\" id=\"summary\"><div class=\"acc\"><b id=\"accepted\">{}</b> accepted</div>\
<div class=\"rej\"><b id=\"rejected\">{}</b> rejected</div>\
<div class=\"una\"><b id=\"unattested\">{}</b> unattested</div></div>\n",
        escape(&r.range),
        escape(&r.policy),
        escape(&r.at),
        r.accepted,
        r.rejected,
        r.unattested
    );
    s.push_str(&chart(&r));
    s.push_str(
        "<table id=\"commits\"><thead><tr><th>#</th><th>commit</th><th>verdict</th><th>signer</th>\
<th>signed</th><th>checks</th><th>findings</th></tr></thead><tbody>\n",
    );
    for (i, c) in r.commits.iter().enumerate() {
        row(&mut s, i + 1, c);
    }
    s.push_str("</tbody></table>\n</body></html>\n");
    s
}

fn row(s: &mut String, n: usize, c: &Report) {
    let sel = selected(c);
    let verdict = match c.verdict {
        Verdict::Accepted => "accepted",
        Verdict::Rejected => "rejected",
    };
    let _ = write!(
        s,
        "<tr class=\"commit {verdict}\"><td>{n}</td><td><code title=\"{}\">{}</code></td>\
<td class=\"verdict\">{verdict}</td><td>{}</td><td>{}</td><td>",
        escape(&c.commit),
        escape(c.commit.get(..12).unwrap_or(&c.commit)),
        escape(sel.and_then(|b| b.signer.as_deref()).unwrap_or("-")),
        escape(
            sel.and_then(|b| b.signed_at.as_deref().or(b.finished_on.as_deref()))
                .unwrap_or("-")
        ),
    );
    match sel {
        Some(b) if !b.checks.is_empty() => {
            s.push_str("<ul>");
            for check in &b.checks {
                let figures: Vec<String> = check
                    .metrics
                    .iter()
                    .filter(|(m, _)| m.as_str() != "duration_ms")
                    .map(|(m, v)| format!("{} {}", escape(m), format_number(*v)))
                    .collect();
                let _ = write!(
                    s,
                    "<li class=\"check\"><b>{}</b> {}{}{}</li>",
                    escape(&check.name),
                    outcome_str(check.result),
                    if figures.is_empty() { "" } else { ": " },
                    figures.join(", ")
                );
            }
            s.push_str("</ul>");
        }
        _ => s.push('-'),
    }
    s.push_str("</td><td>");
    let errors: Vec<&Finding> = c.findings.iter().filter(|f| f.is_error()).collect();
    if errors.is_empty() {
        s.push('-');
    } else {
        s.push_str("<ul>");
        for f in errors {
            let _ = write!(
                s,
                "<li class=\"finding\"><code>{}</code> {}</li>",
                escape(f.code.as_str()),
                escape(&f.message)
            );
        }
        s.push_str("</ul>");
    }
    s.push_str("</td></tr>\n");
}

/// An SVG line chart over the range (oldest first): line coverage in percent (left axis) and the
/// number of tests run (right axis, scaled to the largest count), one point per commit that has
/// the figure in its selected bundle.
fn chart(r: &AuditReport) -> String {
    const W: f64 = 720.0;
    const H: f64 = 200.0;
    const PAD: f64 = 36.0;
    let n = r.commits.len();
    let x = |i: usize| {
        if n <= 1 {
            PAD + (W - 2.0 * PAD) / 2.0
        } else {
            PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64
        }
    };
    let y = |fraction: f64| H - PAD - (H - 2.0 * PAD) * fraction.clamp(0.0, 1.0);
    let coverage: Vec<(usize, f64)> = r
        .commits
        .iter()
        .enumerate()
        .filter_map(|(i, c)| metric(c, "lines").map(|v| (i, v)))
        .collect();
    let tests: Vec<(usize, f64)> = r
        .commits
        .iter()
        .enumerate()
        .filter_map(|(i, c)| metric(c, "total").map(|v| (i, v)))
        .collect();
    let max_tests = tests.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let mut s = format!(
        "<figure class=\"chart\"><svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"coverage and test counts over the range\">\
<rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#f6f8fa\"/>\
<line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#8c959f\"/>\
<line x1=\"{PAD}\" y1=\"{PAD}\" x2=\"{PAD}\" y2=\"{b}\" stroke=\"#8c959f\"/>\
<text x=\"4\" y=\"{PAD}\">100%</text><text x=\"4\" y=\"{b}\">0%</text>\
<text x=\"{rt}\" y=\"{PAD}\">{}</text>",
        format_number(max_tests),
        b = H - PAD,
        r = W - PAD,
        rt = W - PAD + 4.0,
    );
    let line = |s: &mut String, points: &[(usize, f64)], scale: f64, colour: &str, id: &str| {
        if points.is_empty() || scale <= 0.0 {
            return;
        }
        let pts: Vec<String> = points
            .iter()
            .map(|(i, v)| format!("{:.1},{:.1}", x(*i), y(v / scale)))
            .collect();
        let _ = write!(
            s,
            "<polyline id=\"{id}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            pts.join(" ")
        );
        for (i, v) in points {
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"/>",
                x(*i),
                y(v / scale)
            );
        }
    };
    line(&mut s, &coverage, 100.0, "#1f6feb", "coverage-line");
    line(&mut s, &tests, max_tests, "#bf8700", "tests-line");
    let _ = writeln!(
        s,
        "<text x=\"{PAD}\" y=\"14\" fill=\"#1f6feb\">— line coverage %</text>\
<text x=\"200\" y=\"14\" fill=\"#bf8700\">— tests run</text></svg>\
<figcaption>{} commit(s), oldest first: {} with coverage, {} with test counts</figcaption></figure>",
        n,
        coverage.len(),
        tests.len()
    );
    s
}

#[cfg(test)]
mod tests {
    use super::{audit_html, escape};
    use crate::finding::{Code, Finding};
    use crate::report::{AUDIT_SCHEMA, AuditReport, BundleReport, REPORT_SCHEMA, Report, Verdict};

    #[test]
    fn every_string_of_the_report_is_escaped_and_no_markup_gets_through() {
        let evil = "<b onmouseover='x'>\"&\u{202e}";
        let bundle = BundleReport {
            signer: Some(evil.into()),
            finished_on: Some(evil.into()),
            selected: true,
            ..BundleReport::unverified(evil.into(), vec![])
        };
        let report = AuditReport {
            schema: AUDIT_SCHEMA,
            range: evil.into(),
            policy: evil.into(),
            at: evil.into(),
            accepted: 0,
            rejected: 1,
            unattested: 0,
            commits: vec![Report {
                schema: REPORT_SCHEMA,
                commit: evil.into(),
                policy: evil.into(),
                verdict: Verdict::Rejected,
                bundles: vec![bundle],
                findings: vec![Finding::error(Code::NoAttestation, evil)],
            }],
            sample: None,
        };
        let html = audit_html(&report);
        assert!(!html.contains("<b onmouseover"), "{html}");
        assert!(!html.contains("'x'"), "{html}");
        assert!(
            !html.contains('\u{202e}'),
            "direction overrides are made visible"
        );
        assert!(
            html.contains("&lt;b onmouseover=&#39;x&#39;&gt;&quot;&amp;"),
            "{html}"
        );
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert('x')</script>&"#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
        assert_eq!(escape("a\"b"), "a&quot;b");
    }
}
