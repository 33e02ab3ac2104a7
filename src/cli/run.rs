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
    /// Sign keylessly: OIDC token -> Fulcio certificate -> Rekor entry (also `[signing] method = "keyless"`).
    #[arg(long, conflicts_with = "key")]
    keyless: bool,
    /// The OIDC identity token (else GitHub Actions' ambient token, else an interactive login).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SIGSTORE_ID_TOKEN",
        hide_env_values = true
    )]
    identity_token: Option<String>,
    /// Fulcio URL (default: public-good).
    #[arg(long, value_name = "URL")]
    fulcio_url: Option<String>,
    /// Rekor URL (default: public-good).
    #[arg(long, value_name = "URL")]
    rekor_url: Option<String>,
    /// RFC 3161 timestamp authority URL (optional).
    #[arg(long, value_name = "URL")]
    tsa_url: Option<String>,
    /// A sigstore signing_config.json naming Fulcio, Rekor and TSA.
    #[arg(long, value_name = "FILE")]
    signing_config: Option<PathBuf>,
    /// Use the public-good staging services.
    #[arg(long)]
    staging: bool,
    /// Use the device-code login even where a browser could open.
    #[arg(long)]
    device_code: bool,
}

/// How `run` will sign, decided before any check runs.
enum Signing {
    Key(Box<SigningKey>),
    Keyless(
        Box<ci_attest::sign::oidc::IdentityToken>,
        ci_attest::sign::keyless::Services,
    ),
}

fn keyless_setup(args: &Args) -> Result<Signing, Failure> {
    use ci_attest::sign::keyless::Services;
    use ci_attest::sign::oidc::{TokenOptions, obtain_token};
    let mut services = match &args.signing_config {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                Failure::usage(anyhow::anyhow!("cannot read {}: {e}", path.display()))
            })?;
            Services::from_signing_config(&bytes, std::time::SystemTime::now())
                .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", path.display())))?
        }
        None if args.staging => Services::staging(),
        None => Services::public_good(),
    };
    if let Some(u) = &args.fulcio_url {
        services.fulcio_url = u.clone();
    }
    if let Some(u) = &args.rekor_url {
        services.rekor_url = u.clone();
    }
    if args.tsa_url.is_some() {
        services.tsa_url = args.tsa_url.clone();
    }
    let options = TokenOptions {
        explicit: args.identity_token.clone(),
        interactive: std::io::stdin().is_terminal() && std::env::var_os("CI").is_none(),
        force_device_code: args.device_code,
        ..TokenOptions::default()
    };
    let (token, _source) = obtain_token(&options).map_err(Failure::usage)?;
    Ok(Signing::Keyless(Box::new(token), services))
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
    // Get the key or the token first: a wrong password or no login should fail before minutes of
    // tests, not after.
    let keyless = args.keyless
        || (args.key.is_none()
            && config.signing.method == ci_attest::config::SigningMethod::Keyless);
    let signing = if keyless {
        keyless_setup(&args)?
    } else {
        let key_path = args
            .key
            .clone()
            .or_else(|| config.signing.key.as_ref().map(|k| repo.root().join(k)))
            .ok_or_else(|| {
                Failure::usage(anyhow::anyhow!(
                    "no signing key: pass --key FILE (or --keyless), or set [signing] key in {}",
                    config_path.display()
                ))
            })?;
        Signing::Key(Box::new(load_key(&key_path)?))
    };

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

    let (bundle, fingerprint) = match &signing {
        Signing::Key(key) => {
            let public = key.public_key();
            let fingerprint = public.key_id().to_string();
            store
                .put_public_key(fingerprint.trim_start_matches("sha256:"), &public.to_pem())
                .map_err(Failure::unavailable)?;
            (
                ci_attest::sign::sign_statement(&out.statement.to_json(), key),
                fingerprint,
            )
        }
        Signing::Keyless(token, services) => {
            let bundle = ci_attest::sign::keyless::sign_statement_keyless(
                &out.statement.to_json(),
                token,
                services,
            )
            .map_err(Failure::unavailable)?;
            (bundle, format!("{} (keyless)", token.identity()))
        }
    };
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
