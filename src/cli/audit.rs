//! `ci-attest audit`: replay every verification of a commit range offline.

use super::stores::{self, StoreKind, github_client};
use super::{CmdResult, EXIT_OK, EXIT_REJECTED, Failure, Format};
use ci_attest::git::Repo;
use ci_attest::judge::{Judge, JudgeError, MAX_AUDIT_COMMITS};
use ci_attest::policy::Policy;
use ci_attest::store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The commits to audit: a range (`v1.0..main`) or a revision (all its ancestors).
    #[arg(long, default_value = "HEAD", value_name = "RANGE")]
    range: String,
    /// The policy file.
    #[arg(long, default_value = "policies/default.toml", value_name = "FILE")]
    policy: PathBuf,
    /// Where the bundles are: `dir` never uses the network; `git` first fetches the range's refs
    /// `refs/ci-attest/<commit>/*` from the remote (one listing of `refs/ci-attest/*`, checked and
    /// bounded, see docs/limits.md), says how many bundles for how many commits it read, then
    /// replays offline; `github` reads GitHub's attestations API (GITHUB_TOKEN), many commits at
    /// once.
    #[arg(long, value_enum, default_value_t = StoreKind::Dir)]
    from: StoreKind,
    /// The git remote of `--from git`.
    #[arg(long, default_value = "origin", value_name = "REMOTE")]
    remote: String,
    /// With `--from git`: fetch nothing, replay with the refs this clone already has.
    #[arg(long)]
    offline: bool,
    /// trusted_root.json for keyless bundles (default: the embedded public-good production root).
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// Replay as of this time (RFC 3339); default now. Record it to reproduce the audit exactly.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also write the JSON and markdown reports to <DIR>/audit.json and <DIR>/audit.md (never overwriting).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    attest: super::verdict::AttestArgs,
}

/// Audits; exit 0 when every commit is accepted, 1 when any is rejected.
pub fn run(repo_dir: &Path, args: Args) -> CmdResult {
    let at = super::verification_time(args.at.as_deref())?;
    let policy = Policy::load(&args.policy).map_err(Failure::usage)?;
    let repo = Repo::discover(repo_dir).map_err(Failure::usage)?;
    let trusted_root = super::trusted_root(args.trusted_root.as_deref(), false)?;
    if args.offline && args.attest.keyless() {
        return Err(Failure::usage(anyhow::anyhow!(
            "--offline forbids network use: it cannot be combined with --attest-verdict --keyless"
        )));
    }
    let verdict_signer = args.attest.signer(false)?;
    let keys = stores::dir_store(&repo)?;
    let github = if args.from.is_github() {
        Some(github_client(&repo)?)
    } else {
        None
    };
    if args.offline && args.from.is_github() {
        return Err(Failure::usage(anyhow::anyhow!(
            "--offline forbids network use: it cannot be combined with --from github"
        )));
    }
    let store = stores::open(args.from, &repo, &args.remote, github.as_ref())?;
    let usage_or_unavailable = |e: JudgeError| match e {
        JudgeError::EmptyRange { .. } | JudgeError::Range(_) => Failure::usage(e),
        _ => Failure::unavailable(e),
    };
    let pulled;
    let store: &dyn Store = if args.offline {
        store.as_ref()
    } else {
        let commits = repo
            .rev_list(&args.range, MAX_AUDIT_COMMITS)
            .map_err(|e| usage_or_unavailable(JudgeError::Range(e)))?;
        let (with, pull) = stores::pulled(store.as_ref(), &commits)?;
        // More than one commit lists the whole namespace: nothing at all there is a setup error.
        if pull.is_some_and(|p| p.listed == 0 && commits.len() > 1) {
            return Err(Failure::unavailable(anyhow::anyhow!(
                "no refs/ci-attest/* on {}: expected the bundles of {:?} there, found no ref under refs/ci-attest/: push them with `ci-attest push --all` (or `--range`)",
                with.describe(),
                args.range
            )));
        }
        pulled = with;
        &pulled
    };
    let audit = Judge::new(&policy, &keys, &trusted_root, at)
        .audit(&repo, &args.range, store)
        .map_err(usage_or_unavailable)?;
    if let Some(signer) = &verdict_signer {
        attest_each(
            &super::verdict::Attester {
                signer,
                repo: &repo,
                policy: (&args.policy, &policy.sha256),
                verifier_id: args.attest.verifier_id(),
                at,
            },
            store,
            &audit,
        )?;
    }
    if let Some(dir) = &args.out {
        write_new(dir, "audit.json", &audit.to_json())?;
        write_new(dir, "audit.md", &audit.to_markdown())?;
    }
    print!(
        "{}",
        match args.format {
            Format::Text => audit.to_text(),
            Format::Json => audit.to_json(),
            Format::Markdown => audit.to_markdown(),
        }
    );
    Ok(if audit.rejected == 0 {
        EXIT_OK
    } else {
        EXIT_REJECTED
    })
}

/// Signs and stores one verdict per audited commit. The commit's bundles are read again so that
/// each verdict names the bundles judged, by digest; a bundle that appeared in between (not in
/// the report) is left out.
fn attest_each(
    attester: &super::verdict::Attester<'_>,
    store: &dyn Store,
    audit: &ci_attest::report::AuditReport,
) -> Result<(), Failure> {
    attester.store_public_key()?;
    for report in &audit.commits {
        let id = attester
            .repo
            .resolve(&report.commit)
            .map_err(Failure::unavailable)?;
        let commit = attester
            .repo
            .commit_info(&id)
            .map_err(Failure::unavailable)?;
        let mut fetched = store.fetch(&id).map_err(stores::store_failure)?;
        fetched
            .bundles
            .retain(|b| report.bundles.iter().any(|r| r.location == b.location));
        let location = attester.attest(store, &commit, report, &fetched)?;
        eprintln!("verdict: {location} ({:?})", report.verdict);
    }
    Ok(())
}

fn write_new(dir: &Path, name: &str, text: &str) -> Result<(), Failure> {
    let io = |e: std::io::Error| {
        Failure::unavailable(anyhow::anyhow!("{}: {e}", dir.join(name).display()))
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(text.as_bytes()).map_err(io)?;
    let path = dir.join(name);
    tmp.persist_noclobber(&path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::usage(anyhow::anyhow!(
                "{}: expected a new file, found one already there: audit never overwrites a report; choose another --out folder or move the old report away",
                path.display()
            ))
        } else {
            io(e.error)
        }
    })?;
    Ok(())
}
