//! `ci-attest reproduce`: re-run an attested commit's checks, sealed as `run` does, and compare.

use super::inspect::Format;
use super::run::{Sealed, local_settings, sealed_run, start_probe};
use super::stores::{self, StoreKind};
use super::{CmdResult, EXIT_OK, EXIT_REJECTED, Failure};
use ci_attest::finding::{Code, Finding};
use ci_attest::git::{CommitId, CommitInfo, Repo};
use ci_attest::judge::{Judge, MAX_AUDIT_COMMITS};
use ci_attest::policy::Policy;
use ci_attest::reproduce::{
    Agreement, CommitReproduction, ReproductionReport, SampleRecord, Seed, Share, Tolerance,
    compare, sample,
};
use ci_attest::statement::{ConfigSource, LocalRunPredicate};
use ci_attest::store::{Fetched, Store, StoredBundle};
use ci_attest::verify::{Context, ParsedBundle, verify_parsed};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `reproduce`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The commit to reproduce.
    #[arg(
        long,
        default_value = "HEAD",
        value_name = "REV",
        conflicts_with = "range"
    )]
    commit: String,
    /// Reproduce commits of a range (`v1.0..main`, or a revision for all its ancestors), with
    /// --sample for a share of them.
    #[arg(long, value_name = "RANGE")]
    range: Option<String>,
    /// Reproduce only this share of the range, in percent (e.g. 10): the commits whose
    /// sha256(seed || id) is smallest, so the same seed picks the same commits.
    #[arg(long, value_name = "PERCENT", requires = "range")]
    sample: Option<String>,
    /// The sample's seed (64 hex digits); default: drawn now and printed, so a signer cannot know
    /// in advance which commits will be re-run.
    #[arg(long, value_name = "HEX", requires = "sample")]
    seed: Option<String>,
    /// The policy naming the trusted signers (whose newest attestation is compared) and
    /// `[reproduce] coverage_tolerance`.
    #[arg(long, default_value = "policies/default.toml", value_name = "FILE")]
    policy: PathBuf,
    /// Where the attestations are (see `verify --from`).
    #[arg(long, value_enum, default_value_t = StoreKind::Dir)]
    from: StoreKind,
    /// The git remote of `--from git`.
    #[arg(long, default_value = "origin", value_name = "REMOTE")]
    remote: String,
    /// trusted_root.json for keyless bundles (default: the embedded public-good production root).
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// Select the attestation as a verification at this time would (RFC 3339); default now.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Run the checks without a sandbox (the comparison then says nothing about sealing).
    #[arg(long)]
    no_sandbox: bool,
    /// Mount the `[[cache]]` folders (default: a run from scratch, trusting no earlier run's
    /// files).
    #[arg(long)]
    use_cache: bool,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Sign each reproduced commit's result as a SLSA VSA v1 (verifier = this reproducing
    /// identity, `verifier.id` https://ci-attest.dev/reproducer unless --verifier-id says
    /// otherwise; PASSED when the re-run agrees) and store it beside the bundles.
    #[command(flatten)]
    attest: super::verdict::AttestArgs,
}

/// The `verifier.id` a reproduction's VSA records unless `--verifier-id` names another: never
/// the one of `verify`'s policy verdicts, so a re-run is not taken for a judgement of the policy.
pub const REPRODUCER_ID: &str = "https://ci-attest.dev/reproducer";

/// Reproduces; exit 0 when every reproduced commit agrees, 1 when any differs or could not be
/// compared.
pub fn run(repo_dir: &Path, mut args: Args) -> CmdResult {
    // A verdict key may be held in memory while the checks run: no same-user process may read it.
    #[cfg(target_os = "linux")]
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let probe = start_probe(args.no_sandbox);
    args.attest = std::mem::take(&mut args.attest).with_default_verifier_id(REPRODUCER_ID);
    let at = super::verification_time(args.at.as_deref())?;
    let policy = Policy::load(&args.policy).map_err(Failure::usage)?;
    let repo = Repo::discover(repo_dir).map_err(Failure::usage)?;
    let tolerance = match &policy.reproduce.coverage_tolerance {
        Some((points, origin)) => Tolerance {
            coverage_points: *points,
            origin: Some(origin.clone()),
        },
        None => Tolerance::default(),
    };
    let (commits, sample_record) = commits(&repo, &args)?;
    if let Some(s) = &sample_record {
        eprintln!(
            "sample: {} of {} commit(s) ({} %), seed {}",
            commits.len(),
            s.of,
            s.percent,
            s.seed
        );
    }

    let store = stores::open(args.from, &repo, &args.remote, None)?;
    let (store, _) = stores::pulled(store.as_ref(), &commits)?;
    let keys = stores::dir_store(&repo)?;
    let root = super::trusted_root(args.trusted_root.as_deref(), false)?;
    let judge = Judge::new(&policy, &keys, &root, at);

    let home = std::env::var_os("HOME").map(PathBuf::from);
    let (settings, mut settings_files) = local_settings(&repo, home.as_deref())?;
    // The verdict's key (with its folder) and password file are out of the checks' reach, as
    // `run`'s are.
    let keep: Vec<PathBuf> = [Some(repo.root().to_path_buf()), home.clone()]
        .into_iter()
        .flatten()
        .collect();
    let keep_refs: Vec<&Path> = keep.iter().map(PathBuf::as_path).collect();
    settings_files.extend(
        args.attest
            .secret_files()
            .iter()
            .map(|f| ci_attest::sandbox::hide_with_folder(f, &keep_refs)),
    );
    let verdict_signer = args.attest.signer(false)?;
    // One probe answer for every commit.
    let detected = probe.map(|p| {
        p.answer().unwrap_or_else(|| {
            Err(ci_attest::sandbox::Unavailable(
                "expected the sandbox probe to answer, found that it stopped without an answer"
                    .into(),
            ))
        })
    });
    let mut results = Vec::with_capacity(commits.len());
    for id in &commits {
        let info = repo.commit_info(id).map_err(Failure::unavailable)?;
        let Some((stored, signer, attested)) = attested(&judge, &root, &store, &info)? else {
            results.push(CommitReproduction {
                commit: id.to_string(),
                agreement: Agreement::NotReproduced,
                bundle: None,
                signer: None,
                logs: None,
                findings: vec![no_attestation(id)],
            });
            continue;
        };
        let bundle = stored.location.clone();
        let override_file = match override_of(&attested) {
            Ok(file) => file,
            Err(finding) => {
                results.push(CommitReproduction {
                    commit: id.to_string(),
                    agreement: Agreement::NotReproduced,
                    bundle: Some(bundle),
                    signer: Some(signer),
                    logs: None,
                    findings: vec![*finding],
                });
                continue;
            }
        };
        eprintln!("reproducing {id} (attested in {bundle})");
        let run = sealed_run(Sealed {
            repo: &repo,
            settings: &settings,
            home: home.clone(),
            hide: settings_files.clone(),
            keep: keep.clone(),
            rev: id.as_str(),
            resolved: Some(id.clone()),
            config_override: override_file.as_ref().map(|f| f.path()),
            password_file: None,
            no_sandbox: args.no_sandbox,
            use_caches: args.use_cache,
            probe: detected.clone().map(super::run::Probe::Done),
        })?;
        let findings = compare(&attested, &run.out.statement.predicate, &tolerance);
        if let Some(vs) = &verdict_signer {
            let verdicts = Verdicts {
                signer: vs,
                args: &args,
                repo: &repo,
                policy: &policy,
                at,
                sample: sample_record.as_ref(),
            };
            let location =
                verdicts.attest(&info, &stored, &run.out.statement.predicate, &findings)?;
            eprintln!(
                "verdict: {location} (SLSA VSA of the reproduction, signed by {})",
                vs.describe()
            );
        }
        results.push(CommitReproduction {
            commit: id.to_string(),
            agreement: if findings.is_empty() {
                Agreement::Agrees
            } else {
                Agreement::Differs
            },
            bundle: Some(bundle),
            signer: Some(signer),
            logs: Some(run.log_dir.display().to_string()),
            findings,
        });
    }
    let report = ReproductionReport::new(
        policy.file.clone(),
        ci_attest::attest::rfc3339(at),
        sample_record,
        results,
    );
    let text = match args.format {
        Format::Text => report.to_text(),
        Format::Json => report.to_json(),
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    Ok(if report.disagreed == 0 {
        EXIT_OK
    } else {
        EXIT_REJECTED
    })
}

/// The commits to reproduce, and the sample drawn from the range.
fn commits(repo: &Repo, args: &Args) -> Result<(Vec<CommitId>, Option<SampleRecord>), Failure> {
    let Some(range) = &args.range else {
        return Ok((
            vec![repo.resolve(&args.commit).map_err(Failure::usage)?],
            None,
        ));
    };
    let all = repo
        .rev_list(range, MAX_AUDIT_COMMITS)
        .map_err(Failure::usage)?;
    if all.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "the range {range:?} holds no commits: expected at least one"
        )));
    }
    let Some(share) = &args.sample else {
        return Ok((all, None));
    };
    let (picked, record) = draw_sample(&all, share, args.seed.as_deref())?;
    Ok((picked, Some(record)))
}

/// The sample of `all` for `--sample share` and `--seed` (drawn now when not given).
pub(super) fn draw_sample(
    all: &[CommitId],
    share: &str,
    seed: Option<&str>,
) -> Result<(Vec<CommitId>, SampleRecord), Failure> {
    let share = Share::parse(share).map_err(Failure::usage)?;
    let seed = match seed {
        Some(hex) => Seed::parse(hex).map_err(Failure::usage)?,
        None => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| {
                Failure::unavailable(anyhow::anyhow!("cannot draw a sample seed: {e}"))
            })?;
            Seed(bytes)
        }
    };
    Ok((
        sample(all, share, seed),
        SampleRecord {
            percent: share.percent(),
            seed: seed.to_hex(),
            of: all.len(),
        },
    ))
}

/// The commit's attestation that a verification would judge (the newest trusted, verified one):
/// its location, signer and predicate; `None` when there is none.
fn attested(
    judge: &Judge<'_>,
    root: &ci_attest::trust::TrustedRoot,
    store: &dyn Store,
    info: &CommitInfo,
) -> Result<Option<(StoredBundle, String, LocalRunPredicate)>, Failure> {
    let fetched = store.fetch(&info.id).map_err(stores::store_failure)?;
    let report = judge.commit(info, &fetched);
    // The first reports are the fetched bundles, in order; a selected one verified. Under
    // `signers` or `select = "all"` several are: the newest (by verified signing time) is compared.
    let Some((i, _)) = report
        .bundles
        .iter()
        .take(fetched.bundles.len())
        .enumerate()
        .filter(|(_, b)| b.selected)
        .max_by_key(|(i, b)| {
            let at = b.signed_at.as_deref();
            (at.and_then(|t| humantime::parse_rfc3339_weak(t).ok()), *i)
        })
    else {
        return Ok(None);
    };
    let b = &fetched.bundles[i];
    let Ok(parsed) = ParsedBundle::parse(&b.bytes) else {
        return Ok(None);
    };
    let ctx = Context {
        commit: info,
        signers: judge.signers(),
        trusted_root: root,
    };
    Ok(verify_parsed(&parsed, &ctx).verified.map(|v| {
        (
            b.clone(),
            v.signer().to_string(),
            v.statement().predicate.clone(),
        )
    }))
}

/// The attested run's `run --config` override as a file to run with again; none when the
/// commit's own configuration decided.
fn override_of(
    attested: &LocalRunPredicate,
) -> Result<Option<tempfile::NamedTempFile>, Box<Finding>> {
    let Some(config) = &attested.config else {
        return Ok(None);
    };
    if config.source != ConfigSource::Override {
        return Ok(None);
    }
    let Some(text) = &config.content else {
        return Err(Box::new(
            Finding::error(
                Code::ReproductionMismatch,
                "the attested run used a --config override whose text it does not record [config]",
            )
            .expected_found(
                "the override's text in the predicate's config record",
                "only its digest",
            )
            .hint("the checks that ran cannot be known: run the commit again without --config"),
        ));
    };
    let cannot = |e: std::io::Error| {
        Box::new(
            Finding::error(
                Code::ReproductionMismatch,
                "cannot write the attested override [config]",
            )
            .expected_found("a temporary file", e.to_string()),
        )
    };
    let mut file = tempfile::NamedTempFile::new().map_err(cannot)?;
    file.write_all(text.as_bytes()).map_err(cannot)?;
    Ok(Some(file))
}

/// What every reproduction's VSA of one command shares.
struct Verdicts<'a> {
    signer: &'a super::verdict::VerdictSigner,
    args: &'a Args,
    repo: &'a Repo,
    policy: &'a Policy,
    at: std::time::SystemTime,
    sample: Option<&'a SampleRecord>,
}

impl Verdicts<'_> {
    /// Signs the reproduction of one commit as a SLSA VSA and stores it in the dir store:
    /// `PASSED` when the re-run agrees, its one input the attestation compared with, its checks
    /// the re-run's, and the sample it was drawn in.
    fn attest(
        &self,
        info: &CommitInfo,
        attested: &StoredBundle,
        reproduced: &LocalRunPredicate,
        findings: &[Finding],
    ) -> Result<String, Failure> {
        let Verdicts {
            signer,
            args,
            repo,
            policy,
            at,
            sample,
        } = *self;
        use ci_attest::report::{BundleReport, CheckSummary, Report};
        let mut line = BundleReport::unverified(attested.location.clone(), Vec::new());
        line.selected = true;
        line.checks = reproduced.checks.iter().map(CheckSummary::of).collect();
        // Every reproduction finding is an error: any difference rejects.
        let report = Report::judged(
            info.id.to_string(),
            policy.file.clone(),
            vec![line],
            findings.to_vec(),
        );
        let attester = super::verdict::Attester {
            signer,
            repo,
            policy: (&args.policy, &policy.sha256),
            verifier_id: args.attest.verifier_id(),
            at,
            sample,
        };
        attester.store_public_key()?;
        let store = stores::dir_store(repo)?;
        attester.attest(&store, info, &report, &Fetched::of(vec![attested.clone()]))
    }
}

fn no_attestation(id: &CommitId) -> Finding {
    Finding::error(
        Code::NoAttestation,
        "no trusted attestation of this commit verified: nothing to reproduce",
    )
    .expected_found(
        format!("a bundle for commit {id} signed by a signer the policy trusts"),
        "none that verified (`ci-attest verify` says why)",
    )
    .hint("run `ci-attest verify --commit <id>` to see each bundle's findings")
}
