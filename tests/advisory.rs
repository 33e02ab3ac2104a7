//! Advisory (shadow) mode, through the binary: `verify --mode advisory` reports the whole verdict
//! but does not fail on a rejection (exit 0, check run `neutral`, commit status `success` described
//! "advisory: rejected ..."), and still fails when verification could not run. Against the stateful
//! GitHub fake, and against GitHub's OpenAPI description (prism) for the requests themselves.

mod common;
mod github_fake;
mod prism;

use common::{Project, fixture, text};
use github_fake::{FakeGitHub, TOKEN};
use std::process::{Command, Output};

/// A ci-attest command in `p` that reports to the GitHub API at `api_url`.
fn gh_cmd(p: &Project, api_url: &str) -> Command {
    let mut c = p.cmd();
    for var in [
        "GH_TOKEN",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_OUTPUT",
        "GITHUB_REPOSITORY",
        "GITHUB_API_URL",
    ] {
        c.env_remove(var);
    }
    c.env("GITHUB_API_URL", api_url)
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_REPOSITORY", "acme/app");
    c
}

/// A project whose tests fail, attested by `run` (which exits 1 and still signs the failure).
fn failing() -> Project {
    let p = Project::passing();
    p.write("fixtures/junit.xml", &fixture("junit-fail.xml"));
    p.commit("a failing test");
    p.keygen();
    let out = p.run();
    assert_eq!(out.status.code(), Some(1), "run: {}", text(&out));
    assert_eq!(
        p.bundles().len(),
        1,
        "the failing result is signed and stored"
    );
    p
}

fn verify(mut c: Command, extra: &[&str]) -> Output {
    c.args(["verify", "--from", "dir"])
        .args(extra)
        .output()
        .expect("runs")
}

#[test]
fn advisory_on_a_failing_commit_exits_0_and_concludes_the_check_run_neutral_with_the_findings() {
    let fake = FakeGitHub::start();
    let p = failing();
    let summary = p.root.join("step-summary.md");
    let outputs = p.root.join("github-output");
    let mut c = gh_cmd(&p, &fake.url());
    c.env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs);
    let out = verify(c, &["--mode", "advisory", "--report", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("ci-attest verify: REJECTED (advisory: reported, not enforced)"),
        "{stdout}"
    );
    assert!(stdout.contains("threshold-not-met"), "{stdout}");
    assert!(stdout.contains("mode: advisory"), "{stdout}");

    let runs = fake.check_runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert_eq!(run["name"], "ci-attest");
    assert_eq!(run["head_sha"], p.head().as_str());
    assert_eq!(run["status"], "completed");
    assert_eq!(run["conclusion"], "neutral");
    let title = run["output"]["title"].as_str().expect("title");
    assert!(
        title.starts_with("ci-attest: advisory: rejected: "),
        "{title}"
    );
    assert!(title.contains("threshold-not-met"), "{title}");
    let md = run["output"]["summary"].as_str().expect("summary");
    assert!(md.contains("rejected (advisory)"), "{md}");
    assert!(md.contains("**Advisory mode**"), "{md}");
    assert!(
        md.contains("| finding | expected | found | rule | hint |"),
        "{md}"
    );
    assert!(
        md.contains("`threshold-not-met`"),
        "the findings as usual: {md}"
    );
    assert!(md.contains("| tests |"), "the figures as usual: {md}");

    let job_summary = std::fs::read_to_string(&summary).expect("step summary written");
    assert!(job_summary.contains("**Advisory mode**"), "{job_summary}");
    let outputs = std::fs::read_to_string(&outputs).expect("GITHUB_OUTPUT written");
    assert_eq!(
        outputs, "verdict=rejected\n",
        "the step output tells the rejection apart"
    );
}

#[test]
fn enforce_is_the_default_and_fails_the_same_commit() {
    let fake = FakeGitHub::start();
    let p = failing();
    let out = verify(gh_cmd(&p, &fake.url()), &["--report", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = verify(
        gh_cmd(&p, &fake.url()),
        &["--mode", "enforce", "--report", "check"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let runs = fake.check_runs();
    assert_eq!(runs.len(), 2);
    for run in &runs {
        assert_eq!(run["conclusion"], "failure");
        let title = run["output"]["title"].as_str().expect("title");
        assert!(title.starts_with("ci-attest: rejected: "), "{title}");
        let md = run["output"]["summary"].as_str().expect("summary");
        assert!(!md.contains("dvisory"), "{md}");
    }
}

#[test]
fn an_advisory_commit_status_is_success_and_says_it_was_rejected() {
    let fake = FakeGitHub::start();
    let p = failing();
    let out = verify(
        gh_cmd(&p, &fake.url()),
        &["--mode", "advisory", "--report", "status"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (sha, status) = fake.statuses().pop().expect("a status");
    assert_eq!(sha, p.head());
    assert_eq!(status["context"], "ci-attest");
    assert_eq!(status["state"], "success", "statuses have no neutral state");
    let description = status["description"].as_str().expect("description");
    assert!(
        description.starts_with("advisory: rejected: "),
        "{description}"
    );
}

#[test]
fn advisory_json_report_names_the_mode_and_keeps_the_verdict_and_findings() {
    let p = failing();
    let (enforced, enforced_json) = p.verify_json(&[]);
    assert_eq!(enforced.status.code(), Some(1), "{}", text(&enforced));
    assert!(
        enforced_json.get("mode").is_none(),
        "an enforcing report is unchanged"
    );
    let (out, json) = p.verify_json(&["--mode", "advisory"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json["mode"], "advisory");
    assert_eq!(json["verdict"], "rejected");
    common::assert_finding(&json, "threshold-not-met");
    let mut without_mode = json.clone();
    without_mode.as_object_mut().expect("object").remove("mode");
    assert_eq!(
        without_mode, enforced_json,
        "the mode changes nothing else in the report"
    );
}

#[test]
fn advisory_accepts_what_enforce_accepts() {
    let p = common::attested();
    let (out, json) = p.verify_json(&["--mode", "advisory"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json["verdict"], "accepted");
    assert_eq!(json["mode"], "advisory");
}

#[test]
fn advisory_still_fails_when_verification_cannot_run() {
    let p = failing();
    let out = verify(
        p.cmd(),
        &["--mode", "advisory", "--policy", "policies/none.toml"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = verify(
        p.cmd(),
        &[
            "--mode",
            "advisory",
            "--trusted-root",
            "no/such/trusted_root.json",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let out = verify(p.cmd(), &["--mode", "lenient"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn init_advisory_writes_the_verifier_workflow_in_advisory_mode() {
    let cargo = "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
    for (flag, mode) in [(None, "enforce"), (Some("--advisory"), "advisory")] {
        let p = Project::with(&[
            ("Cargo.toml", cargo.to_string()),
            ("src/main.rs", "fn main() {}\n".to_string()),
        ]);
        let out = p.cmd().arg("init").args(flag).output().expect("runs");
        assert!(out.status.success(), "{}", text(&out));
        let workflow =
            std::fs::read_to_string(p.root.join(".github/workflows/ci-attest-verify.yml"))
                .expect("workflow written");
        let modes: Vec<&str> = workflow
            .lines()
            .filter_map(|l| l.trim().strip_prefix("mode: "))
            .collect();
        assert_eq!(modes.len(), 1, "{workflow}");
        assert!(
            modes[0].starts_with(&format!("{mode} #")),
            "{flag:?}: {modes:?}"
        );
    }
}

/// The requests the binary makes in advisory mode (a `neutral` check run with the advisory
/// title and summary, a `success` status with its description) are valid against GitHub's
/// OpenAPI description. prism answers with its examples; the requests are what is checked.
#[test]
fn advisory_requests_are_valid_against_githubs_openapi_description() {
    let p = failing();
    let tmp = tempfile::tempdir().expect("tempdir");
    let prism = prism::start_prism(tmp.path());
    let url = format!("http://127.0.0.1:{}", prism.port);
    for report in ["check", "status"] {
        let out = verify(
            gh_cmd(&p, &url),
            &["--mode", "advisory", "--report", report],
        );
        let log = std::fs::read_to_string(&prism.log).unwrap_or_default();
        assert_eq!(
            out.status.code(),
            Some(0),
            "--report {report}: {}\n--- prism log\n{log}",
            text(&out)
        );
    }
    let log = std::fs::read_to_string(&prism.log).unwrap_or_default();
    for request in [
        "[HTTP SERVER] post /repos/acme/app/check-runs ",
        "[HTTP SERVER] post /repos/acme/app/statuses/",
    ] {
        let after = log.split(request).nth(1).unwrap_or_default();
        assert!(
            after.contains("The request passed the validation rules"),
            "{request}: not made or not validated:\n{log}"
        );
    }
}
