//! `ci-attest audit`: replay every verification of a commit range offline.

use super::stores::{self, StoreKind, github_client};
use super::{CmdResult, EXIT_OK, EXIT_REJECTED, Failure, Format};
use ci_attest::export::{Export, Imported, PackageError, PolicySource, Recorder, RecordingKeys};
use ci_attest::git::{CommitId, Repo};
use ci_attest::judge::{Judge, JudgeError, MAX_AUDIT_COMMITS};
use ci_attest::policy::Policy;
use ci_attest::report::AuditReport;
use ci_attest::store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An auditor's package to replay (the same as --import).
    #[arg(value_name = "PACKAGE", conflicts_with = "import")]
    package: Option<PathBuf>,
    /// Replay an auditor's package written by --export: no repository, no network, at the
    /// recorded time, with the recorded policy, trusted root and bundles; the report is
    /// byte-identical to the export run's. A package that does not match its MANIFEST.json is
    /// rejected (exit 1) with a `package-tampered` finding naming the file.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["export", "from", "trusted_root", "at", "policy", "range", "remote", "attest_verdict"]
    )]
    import: Option<PathBuf>,
    /// Also write an auditor's package to DIR (a new or empty folder): the bundles judged, the
    /// trusted root, the policy and the keys it used, each commit's raw object, this report, the
    /// exact `at`, and MANIFEST.json with the sha256 of every file. Prints the manifest's sha256
    /// on stderr for the auditor to compare.
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// The commits to audit: a range (`v1.0..main`) or a revision (all its ancestors).
    #[arg(long, default_value = "HEAD", value_name = "RANGE")]
    range: String,
    /// Audit only this share of the range, in percent (e.g. 10): the commits whose
    /// sha256(seed || id) is smallest, as `reproduce --sample` draws them; the report records
    /// the share and seed. Not with --export (a package replays a whole range).
    #[arg(long, value_name = "PERCENT", conflicts_with = "export")]
    sample: Option<String>,
    /// The sample's seed (64 hex digits); default: drawn now and printed, so that no signer can
    /// know in advance which commits a spot check audits.
    #[arg(long, value_name = "HEX", requires = "sample")]
    seed: Option<String>,
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
    /// Open no socket: with `--from git`, replay with the refs this clone already has
    /// (local `refs/ci-attest/*` only); `--from github` is refused.
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
    /// Also write the JSON, markdown and HTML reports to <DIR>/audit.json, <DIR>/audit.md and
    /// <DIR>/report.html (self-contained: inline style and chart, no script), never overwriting.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    attest: super::verdict::AttestArgs,
}

/// Audits; exit 0 when every commit is accepted, 1 when any is rejected.
pub fn run(repo_dir: &Path, args: Args) -> CmdResult {
    if let Some(dir) = args.import.as_deref().or(args.package.as_deref()) {
        return import(dir, &args);
    }
    // Before anything is built: with --offline no network client is ever constructed.
    if args.offline && args.from.is_github() {
        return Err(Failure::usage(anyhow::anyhow!(
            "--offline forbids network use: it cannot be combined with --from github"
        )));
    }
    let at = super::verification_time(args.at.as_deref())?;
    let policy = Policy::load(&args.policy).map_err(Failure::usage)?;
    let repo = Repo::discover(repo_dir).map_err(Failure::usage)?;
    let (trusted_root, root_json) =
        super::trusted_root_with_json(args.trusted_root.as_deref(), false)?;
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
    let audit = match &args.export {
        None if args.sample.is_some() => {
            let all = repo
                .rev_list(&args.range, MAX_AUDIT_COMMITS)
                .map_err(|e| usage_or_unavailable(JudgeError::Range(e)))?;
            let (picked, sample) = super::reproduce::draw_sample(
                &all,
                args.sample.as_deref().unwrap_or_default(),
                args.seed.as_deref(),
            )?;
            eprintln!(
                "sample: {} of {} commit(s) ({} %), seed {}",
                picked.len(),
                sample.of,
                sample.percent,
                sample.seed
            );
            let mut audit = Judge::new(&policy, &keys, &trusted_root, at)
                .audit_commits(&repo, &args.range, &picked, store)
                .map_err(usage_or_unavailable)?;
            audit.sample = Some(sample);
            audit
        }
        None => Judge::new(&policy, &keys, &trusted_root, at)
            .audit(&repo, &args.range, store)
            .map_err(usage_or_unavailable)?,
        Some(dir) => {
            // Read the policy's sources first: a file changed later is caught by comparison.
            let source = PolicySource::read(&args.policy, &policy).map_err(Failure::usage)?;
            let started = Instant::now();
            // The folder is checked (new or empty) before any audit work.
            let recorder = Recorder::new(store, dir).map_err(package_failure)?;
            let recording_keys = RecordingKeys::new(&keys);
            let audit = Judge::new(&policy, &recording_keys, &trusted_root, at)
                .audit(&repo, &args.range, &recorder)
                .map_err(usage_or_unavailable)?;
            let keys_used = recording_keys.into_keys().map_err(Failure::usage)?;
            let mut commits = Vec::with_capacity(audit.commits.len());
            for r in &audit.commits {
                let id = CommitId::parse(&r.commit).ok_or_else(|| {
                    Failure::unavailable(anyhow::anyhow!("a report names commit {:?}", r.commit))
                })?;
                let object = repo.commit_object(&id).map_err(Failure::unavailable)?;
                commits.push((id, object));
            }
            let (json, md) = (audit.to_json(), audit.to_markdown());
            let reports: [(&str, &[u8]); 2] =
                [("audit.json", json.as_bytes()), ("audit.md", md.as_bytes())];
            let digest = recorder
                .finish(&Export {
                    range: &args.range,
                    at,
                    policy: &source,
                    trusted_root_json: &root_json,
                    keys: &keys_used,
                    commits: &commits,
                    reports: &reports,
                })
                .map_err(package_failure)?;
            eprintln!(
                "exported {} commit(s) to {} in {:.2} s; MANIFEST.json sha256 {digest}",
                commits.len(),
                dir.display(),
                started.elapsed().as_secs_f64()
            );
            audit
        }
    };
    if let Some(signer) = &verdict_signer {
        attest_each(
            &super::verdict::Attester {
                signer,
                repo: &repo,
                policy: (&args.policy, &policy.sha256),
                verifier_id: args.attest.verifier_id(),
                at,
                sample: audit.sample.as_ref(),
            },
            store,
            &audit,
        )?;
    }
    finish(&audit, &args)
}

/// An export that cannot be written: an existing folder is a usage error, anything else could
/// not run.
fn package_failure(e: PackageError) -> Failure {
    match e {
        PackageError::Exists { .. } => Failure::usage(e),
        e => Failure::unavailable(e),
    }
}

/// Replays an auditor's package.
fn import(dir: &Path, args: &Args) -> CmdResult {
    match ci_attest::export::import(dir).map_err(|e| match e {
        PackageError::PolicyInvalid(_) => Failure::usage(e),
        e => Failure::unavailable(e),
    })? {
        Imported::Replayed(audit) => finish(&audit, args),
        Imported::Tampered(report) => {
            print!(
                "{}",
                match args.format {
                    Format::Text => report.to_text(),
                    Format::Json => report.to_json(),
                    Format::Markdown => report.to_markdown(),
                }
            );
            Ok(EXIT_REJECTED)
        }
    }
}

/// Writes the --out files, prints the report and chooses the exit code.
fn finish(audit: &AuditReport, args: &Args) -> CmdResult {
    if let Some(dir) = &args.out {
        write_new(dir, "audit.json", &audit.to_json())?;
        write_new(dir, "audit.md", &audit.to_markdown())?;
        write_new(dir, "report.html", &ci_attest::html::audit_html(audit))?;
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
