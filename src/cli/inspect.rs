//! `ci-attest inspect`.

use super::{CmdResult, EXIT_OK, Failure};
use ci_attest::collect::clean_name;
use ci_attest::report::{CheckSummary, format_number, outcome_str};
use std::path::PathBuf;

/// Output formats of `inspect` and `reproduce` (a claim or a comparison, not a verdict: there is
/// no markdown report of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a person at a terminal.
    Text,
    /// JSON, pretty-printed.
    Json,
}

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bundle file.
    bundle: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Shows a bundle's content. Nothing is verified: `inspect` says what a bundle claims.
pub fn run(args: Args) -> CmdResult {
    let stored = super::verify::read_bundle(&args.bundle)?;
    let summary = ci_attest::bundle::Bundle::from_slice(&stored.bytes)
        .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", args.bundle.display())))?;
    let envelope = summary
        .single_signature_envelope()
        .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", args.bundle.display())))?;
    let signer = ci_attest::verify::public_key_hint(&summary)
        .map(str::to_string)
        .unwrap_or_else(|| ci_attest::verify::material_kind(&summary).to_string());
    if ci_attest::verify::is_test_result_bundle(&stored.bytes) {
        return inspect_test_result(&args, &envelope.payload, &signer);
    }
    if ci_attest::verify::predicate_type_of_payload(&envelope.payload).as_deref()
        == Some(ci_attest::vsa::VSA_PREDICATE_TYPE)
    {
        return inspect_verdict(&args, &envelope.payload, &signer);
    }
    let statement: ci_attest::statement::LocalRunStatement =
        serde_json::from_slice(&envelope.payload).map_err(|e| {
            Failure::usage(anyhow::anyhow!(
                "{}: the payload is not a ci-attest local-run statement: {e}",
                args.bundle.display()
            ))
        })?;
    let p = &statement.predicate;
    match args.format {
        Format::Json => {
            let checks: Vec<CheckSummary> = p.checks.iter().map(CheckSummary::of).collect();
            let value = serde_json::json!({
                "bundle": args.bundle.display().to_string(),
                "verified": false,
                "signer": signer,
                "subject": statement.subject,
                "finishedOn": p.finished_on,
                "startedOn": p.started_on,
                "repository": p.repository,
                "source": p.source,
                "result": p.result,
                "checks": checks,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).map_err(Failure::unavailable)?
            );
        }
        Format::Text => {
            print_header(&args, &signer, &statement.subject, None);
            println!("run      {} .. {}", t(&p.started_on), t(&p.finished_on));
            println!(
                "source   {} tree {}{}{}",
                t(&p.source.commit),
                t(&p.source.tree),
                p.source
                    .git_ref
                    .as_deref()
                    .map(|r| format!(" ({})", t(r)))
                    .unwrap_or_default(),
                if p.source.pristine {
                    ", pristine"
                } else {
                    ", NOT pristine"
                }
            );
            if let Some(uri) = &p.repository.uri {
                println!("repo     {}", t(uri));
            }
            println!(
                "tool     {} {} on {}/{}",
                t(&p.tool.name),
                t(&p.tool.version),
                t(&p.host.os),
                t(&p.host.arch)
            );
            println!("result   {}", outcome_str(p.result));
            for c in &p.checks {
                let s = CheckSummary::of(c);
                let figures: Vec<String> = s
                    .metrics
                    .iter()
                    .map(|(k, v)| format!("{k} {}", format_number(*v)))
                    .collect();
                println!(
                    "  {:<12} {:<7} {}",
                    t(&c.name),
                    outcome_str(c.result),
                    figures.join(", ")
                );
                println!("  {:<12} $ {}", "", t(&c.command));
                for r in &c.reports {
                    println!("  {:<12} report {} sha256:{}", "", t(&r.path), t(&r.sha256));
                }
                for pr in &c.problems {
                    println!("  {:<12} ! {}", "", t(pr));
                }
            }
        }
    }
    Ok(EXIT_OK)
}

/// Shows an in-toto test-result bundle: its subject, result, configuration and failing tests.
fn inspect_test_result(args: &Args, payload: &[u8], signer: &str) -> CmdResult {
    use ci_attest::report::SHOWN_FAILED_TESTS;
    let statement: ci_attest::test_result::TestResultStatement = serde_json::from_slice(payload)
        .map_err(|e| {
            Failure::usage(anyhow::anyhow!(
                "{}: the payload is not an in-toto test-result statement: {e}",
                args.bundle.display()
            ))
        })?;
    let p = &statement.predicate;
    match args.format {
        Format::Json => {
            let value = serde_json::json!({
                "bundle": args.bundle.display().to_string(),
                "verified": false,
                "signer": signer,
                "subject": statement.subject,
                "predicateType": statement.predicate_type,
                "result": p.result,
                "configuration": p.configuration,
                "passedTests": p.passed_tests.len(),
                "warnedTests": p.warned_tests,
                "failedTests": p.failed_tests,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).map_err(Failure::unavailable)?
            );
        }
        Format::Text => {
            print_header(
                args,
                signer,
                &statement.subject,
                Some(&statement.predicate_type),
            );
            for c in &p.configuration {
                println!("config   {}", descriptor(c));
            }
            println!("result   {}", outcome_str(p.result));
            println!(
                "tests    {} passed, {} warned, {} failed",
                p.passed_tests.len(),
                p.warned_tests.len(),
                p.failed_tests.len()
            );
            for id in p.failed_tests.iter().take(SHOWN_FAILED_TESTS) {
                println!("  ✗ {}", clean_name(id));
            }
            let more = p.failed_tests.len().saturating_sub(SHOWN_FAILED_TESTS);
            if more > 0 {
                println!("    and {more} more");
            }
        }
    }
    Ok(EXIT_OK)
}

/// Shows a verdict (SLSA VSA v1): who verified what under which policy, and the result.
fn inspect_verdict(args: &Args, payload: &[u8], signer: &str) -> CmdResult {
    let (statement, _) = ci_attest::vsa::parse_vsa(payload).map_err(|findings| {
        Failure::usage(anyhow::anyhow!(
            "{}: the payload is not a SLSA VSA v1 statement: {}",
            args.bundle.display(),
            findings
                .iter()
                .map(|f| format!("{} ({})", f.message, f.found.as_deref().unwrap_or("")))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let p = &statement.predicate;
    match args.format {
        Format::Json => {
            let value = serde_json::json!({
                "bundle": args.bundle.display().to_string(),
                "verified": false,
                "signer": signer,
                "subject": statement.subject,
                "predicateType": statement.predicate_type,
                "predicate": p,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).map_err(Failure::unavailable)?
            );
        }
        Format::Text => {
            print_header(args, signer, &statement.subject, None);
            println!(
                "type     {} (verdict)",
                clean_name(&statement.predicate_type)
            );
            println!("verifier {}", t(&p.verifier.id));
            println!("time     {}", t(&p.time_verified));
            println!("resource {}", t(&p.resource_uri));
            println!("policy   {}", descriptor_uri(&p.policy));
            println!(
                "result   {} ({})",
                p.verification_result.as_str(),
                p.verified_levels
                    .iter()
                    .map(|l| t(l))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for a in &p.input_attestations {
                println!("  input  {}", descriptor_uri(a));
            }
            if let Some(d) = &p.details {
                for f in d.findings.iter().filter(|f| f.severity == "error") {
                    println!("  ✗ {}", clean_name(&f.code));
                }
            }
        }
    }
    Ok(EXIT_OK)
}

/// `uri  alg:digest ...`, cleaned for a terminal.
fn descriptor_uri(d: &ci_attest::statement::ResourceDescriptor) -> String {
    format!(
        "{}  {}",
        t(d.uri.as_deref().unwrap_or("-")),
        d.digest
            .iter()
            .map(|(k, v)| format!("{}:{}", clean_name(k), clean_name(v)))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// The lines every text view of a bundle starts with; unsigned-or-not, all text is cleaned.
fn print_header(
    args: &Args,
    signer: &str,
    subject: &[ci_attest::statement::ResourceDescriptor],
    test_result_type: Option<&str>,
) {
    println!(
        "bundle   {} (not verified: use `ci-attest verify`)",
        args.bundle.display()
    );
    println!("signer   {}", clean_name(signer));
    if let Some(t) = test_result_type {
        println!("type     {} (test result)", clean_name(t));
    }
    for s in subject {
        println!("subject  {}", descriptor(s));
    }
}

/// `name  alg:digest ...`, cleaned for a terminal.
fn descriptor(d: &ci_attest::statement::ResourceDescriptor) -> String {
    format!(
        "{}  {}",
        clean_name(d.name.as_deref().unwrap_or("-")),
        d.digest
            .iter()
            .map(|(k, v)| format!("{}:{}", clean_name(k), clean_name(v)))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Unsigned text from a bundle, for a terminal: control and bidi characters as visible escapes,
/// cut at 500 characters (see [`ci_attest::report::clean`]).
fn t(s: &str) -> String {
    ci_attest::report::clean(s, 500)
}
