//! `ci-attest run`.

use super::{CmdResult, EXIT_OK, EXIT_REJECTED, Failure, password};
use ci_attest::collect::run::Progress;
use ci_attest::config::{CONFIG_FILE, Config};
use ci_attest::git::Repo;
use ci_attest::report::{format_number, outcome_str};
use ci_attest::sign::key::SigningKey;
use ci_attest::statement::Outcome;
use ci_attest::store::Store;
use ci_attest::store::dir::DirStore;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The commit to attest.
    #[arg(long, default_value = "HEAD", value_name = "REV")]
    commit: String,
    /// Private key to sign with (default: [signing] key in .ci-attest.toml).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Configuration file (default: .ci-attest.toml at the repository root).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

struct CliProgress {
    bar: Option<ProgressBar>,
}

impl Progress for CliProgress {
    fn check_started(&mut self, index: usize, count: usize, name: &str) {
        let label = format!("[{}/{count}] {name}", index + 1);
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(label);
            bar.enable_steady_tick(Duration::from_millis(100));
            self.bar = Some(bar);
        } else {
            eprintln!("{label} ...");
        }
    }

    fn check_finished(&mut self, name: &str, outcome: Outcome, elapsed: Duration) {
        let line = format!(
            "{name}: {} in {:.1} s",
            outcome_str(outcome),
            elapsed.as_secs_f64()
        );
        match self.bar.take() {
            Some(bar) => bar.finish_with_message(line),
            None => eprintln!("{line}"),
        }
    }
}

/// Runs, signs and stores.
pub fn run(repo_dir: &Path, args: Args) -> CmdResult {
    let repo = Repo::discover(repo_dir).map_err(Failure::usage)?;
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| repo.root().join(CONFIG_FILE));
    let config = Config::load(&config_path).map_err(Failure::usage)?;
    let key_path = args
        .key
        .clone()
        .or_else(|| config.signing.key.as_ref().map(|k| repo.root().join(k)))
        .ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "no signing key: pass --key FILE or set [signing] key in {}",
                config_path.display()
            ))
        })?;
    // Load the key first: a wrong password should fail before minutes of tests, not after.
    let key = load_key(&key_path)?;

    let store_root = repo.root().join(&config.store.dir);
    let store = DirStore::new(&store_root);
    let id = repo.resolve(&args.commit).map_err(Failure::usage)?;
    let log_dir = store.new_log_dir(&id).map_err(Failure::unavailable)?;
    let mut progress = CliProgress { bar: None };
    let out = ci_attest::attest::run(
        &repo,
        &config,
        id.as_str(),
        &log_dir,
        &[config.store.dir.as_path()],
        &mut progress,
    )
    .map_err(Failure::unavailable)?;
    if !out.uncommitted.is_empty() {
        eprintln!(
            "warning: {} uncommitted change(s) are NOT included: the checks ran on commit {} as committed",
            out.uncommitted.len(),
            out.commit.id
        );
    }

    let bundle = ci_attest::sign::sign_statement(&out.statement.to_json(), &key);
    let public = key.public_key();
    let fingerprint = public.key_id().to_string();
    store
        .put_public_key(fingerprint.trim_start_matches("sha256:"), &public.to_pem())
        .map_err(Failure::unavailable)?;
    let location = store
        .put(&out.commit.id, bundle.to_json().as_bytes())
        .map_err(Failure::unavailable)?;

    println!("bundle: {location}");
    println!("commit: {}  signed by {fingerprint}", out.commit.id);
    println!("logs:   {}", log_dir.display());
    println!();
    println!("{:<14} {:<7} {:>9}  figures", "check", "result", "time");
    for c in &out.statement.predicate.checks {
        let s = ci_attest::report::CheckSummary::of(c);
        let figures: Vec<String> = s
            .metrics
            .iter()
            .filter(|(k, _)| k.as_str() != "duration_ms")
            .map(|(k, v)| format!("{k} {}", format_number(*v)))
            .collect();
        println!(
            "{:<14} {:<7} {:>8.1}s  {}",
            c.name,
            outcome_str(c.result),
            c.duration_ms as f64 / 1000.0,
            figures.join(", ")
        );
        for p in &c.problems {
            println!("{:<14} ! {p}", "");
        }
    }
    Ok(if out.statement.predicate.result == Outcome::Failed {
        eprintln!("\na check failed; its truthful result is signed and stored");
        EXIT_REJECTED
    } else {
        EXIT_OK
    })
}

fn load_key(path: &Path) -> Result<SigningKey, Failure> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(anyhow::anyhow!("cannot read key {}: {e}", path.display())))?;
    if pem.contains("ENCRYPTED") {
        let pw = password(&format!("Password for {}: ", path.display()), false)?;
        SigningKey::from_pkcs8_pem(pem.as_bytes(), Some(&pw))
    } else {
        SigningKey::from_pkcs8_pem(pem.as_bytes(), None)
    }
    .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", path.display())))
}
