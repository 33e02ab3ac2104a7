//! The HTML report: `audit --out DIR` writes a self-contained `report.html` (inline style, inline
//! SVG chart, no script, no external asset) that headless Chromium renders with its summary,
//! per-commit table and chart; an attacker-written check name is shown as text, never as markup.
//!
//! Chromium is installed by tests/html/install.sh (run by scripts/test.sh); without it this test
//! fails and says so.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new(name).arg("--version").output() {
            if out.status.success() {
                return PathBuf::from(name);
            }
        }
    }
    panic!(
        "headless Chromium is needed to render report.html: expected `chromium` on PATH, found none; \
         run `bash tests/html/install.sh` (Debian package chromium)"
    );
}

/// Runs headless Chromium on `url` with a private profile; its stdout.
fn headless(profile: &Path, args: &[&str], url: &str) -> Vec<u8> {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn screenshot(profile: &Path, png: &Path, url: &str) -> Vec<u8> {
    headless(
        profile,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,900",
        ],
        url,
    );
    let bytes = std::fs::read(png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG",
        png.display()
    );
    bytes
}

#[test]
fn report_html_renders_its_table_and_chart_and_shows_hostile_names_as_text() {
    let p = attested();
    // A bundle whose check name is markup, signed by the trusted key: it is judged (and rejected
    // for the missing `lint` check), so its name reaches the table.
    let forged = resign(
        &p,
        |s| s["predicate"]["checks"][2]["name"] = HOSTILE.into(),
        None,
    );
    let head = p.head();
    let n = p.all_bundles().len() + 1;
    std::fs::rename(
        &forged,
        p.root.join(format!(".ci-attest/{head}.{n}.sigstore.json")),
    )
    .expect("store the forged bundle");
    for i in 0..2 {
        p.write("README", &format!("change {i}"));
        p.commit(&format!("change {i}"));
        assert!(p.run().status.success());
    }
    p.write("README", "unattested");
    p.commit("unattested");
    let at = p
        .bundles()
        .iter()
        .map(|b| bundle_time(b, 60))
        .max()
        .expect("bundles");

    let out_dir = p.root.parent().expect("parent").join("reports");
    let out = p
        .cmd()
        .args(["audit", "--range", "HEAD", "--at", &at, "--out"])
        .arg(&out_dir)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let html_path = out_dir.join("report.html");
    let html = std::fs::read_to_string(&html_path).expect("report.html");

    // Self-contained and inert: no script, no external reference, the hostile name escaped.
    assert!(!html.contains("<script"), "raw markup in the page");
    assert!(!html.contains("<img"), "raw markup in the page");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    for external in ["src=\"http", "href=\"http", "url(", "@import", "<link"] {
        assert!(!html.contains(external), "external asset {external:?}");
    }
    assert!(html.contains("Content-Security-Policy"));

    // What the browser builds from it.
    let profile = tempfile::tempdir().expect("profile");
    let url = format!("file://{}", html_path.display());
    let dom = String::from_utf8(headless(profile.path(), &["--dump-dom"], &url)).expect("utf-8");
    let rows = dom.matches("<tr class=\"commit ").count();
    assert_eq!(rows, 4, "one table row per commit: {dom}");
    assert_eq!(dom.matches("<tr class=\"commit accepted\"").count(), 2);
    assert!(dom.contains("id=\"accepted\">2<"), "{dom}");
    assert!(dom.contains("id=\"rejected\">2<"), "{dom}");
    assert!(dom.contains("id=\"unattested\">1<"), "{dom}");
    assert!(dom.contains("<svg id=\"chart\""), "{dom}");
    let coverage = dom
        .split("<polyline id=\"coverage-line\"")
        .nth(1)
        .expect("a coverage line in the chart");
    let points = coverage
        .split("points=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("points");
    assert_eq!(
        points.split(' ').count(),
        3,
        "a point per attested commit: {points}"
    );
    assert!(dom.contains("<polyline id=\"tests-line\""), "{dom}");
    assert!(
        !dom.contains("<script"),
        "the browser found no script element"
    );
    assert!(dom.contains("no-attestation"), "findings are in the table");

    // A screenshot of the page differs from a blank page's: something was drawn.
    let shots = tempfile::tempdir().expect("shots");
    let page = screenshot(profile.path(), &shots.path().join("report.png"), &url);
    let blank_html = shots.path().join("blank.html");
    std::fs::write(&blank_html, "<!DOCTYPE html><html><body></body></html>").expect("write");
    let blank = screenshot(
        profile.path(),
        &shots.path().join("blank.png"),
        &format!("file://{}", blank_html.display()),
    );
    assert!(
        page.len() > 4 * blank.len() && page.len() > 20_000,
        "the report's screenshot ({} bytes) is hardly more than a blank page's ({} bytes)",
        page.len(),
        blank.len()
    );
}
