//! `ci-attest verify`.

use super::{CmdResult, EXIT_OK, EXIT_REJECTED, Failure, Format};
use ci_attest::bundle::MAX_BUNDLE_BYTES;
use ci_attest::config::{CONFIG_FILE, Config, DEFAULT_STORE_DIR};
use ci_attest::git::Repo;
use ci_attest::policy::Policy;
use ci_attest::report::Verdict;
use ci_attest::store::dir::DirStore;
use ci_attest::store::{Store, StoredBundle};
use ci_attest::verify::{Context, verify_commit};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

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
    /// Forbid all network use (the dir store and key bundles never use the network anyway).
    #[arg(long)]
    offline: bool,
}

/// Verifies and reports.
pub fn run(repo_dir: &Path, args: Args) -> CmdResult {
    let at = match &args.at {
        Some(t) => humantime::parse_rfc3339_weak(t).map_err(|e| {
            Failure::usage(anyhow::anyhow!(
                "--at: expected an RFC 3339 time like 2026-11-23T12:00:00Z, found {t:?} ({e})"
            ))
        })?,
        None => SystemTime::now(),
    };
    let policy = Policy::load(&args.policy).map_err(Failure::usage)?;
    let repo = Repo::discover(repo_dir).map_err(Failure::usage)?;
    let id = repo.resolve(&args.commit).map_err(Failure::usage)?;
    let commit = repo.commit_info(&id).map_err(Failure::unavailable)?;

    let config_path = repo.root().join(CONFIG_FILE);
    let store_dir = if config_path.exists() {
        Config::load(&config_path)
            .map_err(Failure::usage)?
            .store
            .dir
    } else {
        PathBuf::from(DEFAULT_STORE_DIR)
    };
    let store = DirStore::new(repo.root().join(store_dir));
    let bundles = if args.bundle.is_empty() {
        store.fetch(&id).map_err(Failure::unavailable)?
    } else {
        args.bundle
            .iter()
            .map(|p| read_bundle(p))
            .collect::<Result<Vec<_>, _>>()?
    };
    let ctx = Context {
        commit: &commit,
        policy: &policy,
        keys: &store,
        at,
    };
    let report = verify_commit(&bundles, &ctx);
    let rendered = match args.format {
        Format::Text => report.to_text(),
        Format::Json => report.to_json(),
        Format::Markdown => report.to_markdown(),
    };
    print!("{rendered}");
    Ok(match report.verdict {
        Verdict::Accepted => EXIT_OK,
        Verdict::Rejected => EXIT_REJECTED,
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
