//! `ci-attest verify`.

use super::stores::{self, StoreKind, dir_store, github_client, github_failure, store_failure};
use super::{CmdResult, EXIT_OK, EXIT_REJECTED, Failure, Format};
use ci_attest::bundle::MAX_BUNDLE_BYTES;
use ci_attest::finding::Severity;
use ci_attest::git::Repo;
use ci_attest::github::{Conclusion, GitHub, StatusState};
use ci_attest::judge::Judge;
use ci_attest::policy::Policy;
use ci_attest::report::{Mode, Report, Verdict};
use ci_attest::store::{Fetched, Store, StoredBundle};
use clap::ValueEnum;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// What to set on GitHub after verifying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportTo {
    /// A completed check run `ci-attest` with the markdown report (needs `checks: write`).
    Check,
    /// A commit status `ci-attest` (needs `statuses: write`).
    Status,
}

/// Whether the verdict counts (`--mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// A rejection fails: exit 1, check run `failure`, commit status `failure`.
    Enforce,
    /// Shadow mode: the full verdict is reported, but a rejection exits 0, the check run
    /// concludes `neutral` and a commit status is `success` with an "advisory: rejected"
    /// description. Exit 2 and 3 (could not verify) stay.
    Advisory,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::Enforce => Mode::Enforce,
            ModeArg::Advisory => Mode::Advisory,
        }
    }
}

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The commit to verify.
    #[arg(long, default_value = "HEAD", value_name = "REV")]
    commit: String,
    /// Bundle files to verify (default: the commit's bundles in the store).
    #[arg(long, value_name = "FILE")]
    bundle: Vec<PathBuf>,
    /// The policy file.
    #[arg(long, default_value = "policies/default.toml", value_name = "FILE")]
    policy: PathBuf,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Verify as of this time (RFC 3339), e.g. to replay an audit; default now.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Open no socket: `--from git` reads this clone's refs/ci-attest/* only; `--from github` and
    /// `--report` are refused (the dir store and key bundles never use the network anyway).
    #[arg(long)]
    offline: bool,
    /// trusted_root.json for keyless bundles (default: the embedded public-good production root).
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// Use the embedded public-good staging root for keyless bundles.
    #[arg(long, conflicts_with = "trusted_root")]
    staging: bool,
    /// Where to read the commit's bundles from (ignored with --bundle): `git` fetches the
    /// commit's refs `refs/ci-attest/<commit>/*` from the remote first (checked and bounded, see
    /// docs/limits.md) and says how many it read, `github` lists them by the commit object's
    /// sha256.
    #[arg(long, value_enum, default_value_t = StoreKind::Dir)]
    from: StoreKind,
    /// The git remote of `--from git`.
    #[arg(long, default_value = "origin", value_name = "REMOTE")]
    remote: String,
    /// Also set the verdict on GitHub: a check run or a commit status (GITHUB_TOKEN,
    /// GITHUB_REPOSITORY and GITHUB_API_URL as in GitHub Actions).
    #[arg(long, value_enum, value_name = "KIND")]
    report: Option<ReportTo>,
    /// Judge the commit's signed verdicts (SLSA VSA bundles) instead of its local-run bundles:
    /// the newest verdict from a (signer, verifier id) pair the policy's `[[verifier]]` list names
    /// must say PASSED, e.g. `verify --verdict --policy policies/verdicts.toml`.
    #[arg(long, conflicts_with = "attest_verdict")]
    verdict: bool,
    #[command(flatten)]
    attest: super::verdict::AttestArgs,
    /// `advisory` reports the verdict without enforcing it (shadow mode, beside hosted CI):
    /// exit 0 on rejection, check run `neutral` (see docs/migration.md).
    #[arg(long, value_enum, default_value_t = ModeArg::Enforce, value_name = "MODE")]
    mode: ModeArg,
}

/// Verifies and reports.
pub fn run(repo_dir: &Path, args: Args) -> CmdResult {
    let at = super::verification_time(args.at.as_deref())?;
    let policy = Policy::load(&args.policy).map_err(Failure::usage)?;
    let repo = Repo::discover(repo_dir).map_err(Failure::usage)?;
    let id = repo.resolve(&args.commit).map_err(Failure::usage)?;
    let commit = repo.commit_info(&id).map_err(Failure::unavailable)?;
    if args.verdict && policy.verifiers.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "{}: --verdict expected at least one `[[verifier]]` entry (signer and id) in the policy, found none",
            policy.file
        )));
    }
    // Before any signer or client is built: with --offline no network client is ever constructed.
    if args.offline && (args.from.is_github() || args.report.is_some() || args.attest.keyless()) {
        return Err(Failure::usage(anyhow::anyhow!(
            "--offline forbids network use: it cannot be combined with --from github, --report or --attest-verdict --keyless"
        )));
    }
    // The verdict's key is decrypted (or the token obtained) before judging: a wrong password fails first.
    let verdict_signer = args.attest.signer(args.staging)?;
    // One client per process, for the store and the report alike.
    let github = if args.report.is_some() || (args.bundle.is_empty() && args.from.is_github()) {
        Some(github_client(&repo)?)
    } else {
        None
    };
    let keys = dir_store(&repo)?;
    let bundles = if !args.bundle.is_empty() {
        Fetched::of(
            args.bundle
                .iter()
                .map(|p| read_bundle(p))
                .collect::<Result<Vec<_>, _>>()?,
        )
    } else {
        let store = stores::open(args.from, &repo, &args.remote, github.as_ref())?;
        if args.offline {
            // `--from git` reads this clone's refs/ci-attest/<commit>/* only: nothing is fetched.
            store.fetch(&id).map_err(store_failure)?
        } else {
            // Refs the remote rewrote or that would not fetch are findings, not a failure.
            let (store, pulled) = stores::pulled(store.as_ref(), std::slice::from_ref(&id))?;
            if pulled.is_some_and(|p| p.listed == 0) {
                eprintln!(
                    "no refs/ci-attest/{id}/* on {}: push them with `ci-attest push --commit {id}`",
                    store.describe()
                );
            }
            store.fetch(&id).map_err(store_failure)?
        }
    };
    let trusted_root = super::trusted_root(args.trusted_root.as_deref(), args.staging)?;
    let judge = Judge::new(&policy, &keys, &trusted_root, at);
    let report = if args.verdict {
        judge.verdict(&commit, &bundles)
    } else {
        judge.commit(&commit, &bundles)
    };
    let mode = Mode::from(args.mode);
    let rendered = match args.format {
        Format::Text => report.to_text_as(mode),
        Format::Json => report.to_json_as(mode),
        Format::Markdown => report.to_markdown_as(mode),
    };
    print!("{rendered}");
    let _ = std::io::stdout().flush();
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        append_step_summary(Path::new(&path), &report.to_markdown_as(mode))?;
    }
    // In GitHub Actions, the verdict as a step output: in advisory mode the exit code no longer
    // tells a rejection from an acceptance.
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
        let verdict = match report.verdict {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
        };
        append_to(
            Path::new(&path),
            "GITHUB_OUTPUT",
            &format!("verdict={verdict}\n"),
        )?;
    }
    if let Some(signer) = &verdict_signer {
        let attester = super::verdict::Attester {
            signer,
            repo: &repo,
            policy: (&args.policy, &policy.sha256),
            verifier_id: args.attest.verifier_id(),
            at,
            sample: None,
        };
        attester.store_public_key()?;
        // --bundle files are judged from outside any store: the verdict goes to the dir store.
        let from = if args.bundle.is_empty() {
            args.from
        } else {
            StoreKind::Dir
        };
        let store = stores::open(from, &repo, &args.remote, github.as_ref())?;
        let location = attester.attest(store.as_ref(), &commit, &report, &bundles)?;
        eprintln!(
            "verdict: {location} (SLSA VSA, signed by {})",
            signer.describe()
        );
    }
    if let (Some(kind), Some(gh)) = (args.report, github.as_ref()) {
        set_on_github(gh, kind, &report, mode)?;
    }
    Ok(match (report.verdict, mode) {
        (Verdict::Accepted, _) | (Verdict::Rejected, Mode::Advisory) => EXIT_OK,
        (Verdict::Rejected, Mode::Enforce) => EXIT_REJECTED,
    })
}

/// Reads a bundle file with the size limit applied before reading it whole.
pub fn read_bundle(path: &Path) -> Result<StoredBundle, Failure> {
    let file = std::fs::File::open(path).map_err(|e| {
        Failure::unavailable(anyhow::anyhow!("cannot read {}: {e}", path.display()))
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_BUNDLE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            Failure::unavailable(anyhow::anyhow!("cannot read {}: {e}", path.display()))
        })?;
    // An oversized file is passed on truncated-but-marked: the verifier reports it as a finding.
    Ok(StoredBundle {
        location: path.display().to_string(),
        bytes,
    })
}

/// Appends the markdown report to the job summary file of GitHub Actions.
fn append_step_summary(path: &Path, markdown: &str) -> Result<(), Failure> {
    append_to(path, "GITHUB_STEP_SUMMARY", &format!("{markdown}\n"))
}

/// Appends `text` to a file GitHub Actions named in the environment variable `var`.
fn append_to(path: &Path, var: &str, text: &str) -> Result<(), Failure> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| {
            Failure::unavailable(anyhow::anyhow!(
                "cannot append to {var} {}: {e}",
                path.display()
            ))
        })
}

/// The one-line verdict used as check-run title and status description; in advisory mode a
/// rejection reads `ci-attest: advisory: rejected: ...`.
fn headline(report: &Report, mode: Mode) -> String {
    match report.verdict {
        Verdict::Accepted => "ci-attest: accepted".to_string(),
        Verdict::Rejected => {
            let errors: Vec<_> = report
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .collect();
            let n = errors.len();
            let mut codes: Vec<&str> = errors.iter().map(|f| f.code.as_str()).collect();
            codes.dedup();
            format!(
                "ci-attest: {}rejected: {n} finding{} ({})",
                match mode {
                    Mode::Enforce => "",
                    Mode::Advisory => "advisory: ",
                },
                if n == 1 { "" } else { "s" },
                codes.join(", ")
            )
        }
    }
}

/// Creates the check run or commit status for the verdict.
///
/// Advisory mode: a rejection is a `neutral` check run, and a `success` commit status whose
/// description starts with "advisory: rejected" (statuses have no neutral state; `failure` would
/// mark every pull request red while the team is only watching, and GitHub's branch protection
/// counts a neutral check run as passing too, so both forms block exactly nothing).
fn set_on_github(gh: &GitHub, kind: ReportTo, report: &Report, mode: Mode) -> Result<(), Failure> {
    let accepted = report.verdict == Verdict::Accepted;
    match kind {
        ReportTo::Check => {
            let conclusion = match (accepted, mode) {
                (true, _) => Conclusion::Success,
                (false, Mode::Advisory) => Conclusion::Neutral,
                (false, Mode::Enforce) => Conclusion::Failure,
            };
            let url = gh
                .create_check_run(
                    &report.commit,
                    conclusion,
                    &headline(report, mode),
                    &report.to_markdown_as(mode),
                )
                .map_err(github_failure)?;
            eprintln!(
                "check run `ci-attest` ({}) created{}",
                conclusion.as_str(),
                url.map(|u| format!(": {u}")).unwrap_or_default()
            );
        }
        ReportTo::Status => {
            let state = if accepted || mode == Mode::Advisory {
                StatusState::Success
            } else {
                StatusState::Failure
            };
            let description = headline(report, mode);
            let description = description.trim_start_matches("ci-attest: ");
            gh.create_commit_status(&report.commit, state, description, None)
                .map_err(github_failure)?;
            eprintln!("commit status `ci-attest` set to {}", state.as_str());
        }
    }
    Ok(())
}
