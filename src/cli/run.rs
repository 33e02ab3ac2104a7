//! `ci-attest run`.

use super::{CmdResult, EXIT_OK, EXIT_REJECTED, Failure, password};
use ci_attest::attest::{AttestError, IsolationChoice, RunOptions};
use ci_attest::collect::run::{Progress, RunError};
use ci_attest::config::{IsolationSetting, LOCAL_SETTINGS_FILE, LocalSettings};
use ci_attest::git::Repo;
use ci_attest::report::{format_number, outcome_str};
use ci_attest::sandbox::Bubblewrap;
use ci_attest::sign::key::SigningKey;
use ci_attest::statement::Outcome;
use ci_attest::store::Store;
use ci_attest::store::dir::DirStore;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Replace the commit's .ci-attest.toml with this file (its sha256 and text are recorded in
    /// the attestation as an override; policies can reject that).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Read the key's password from this file (e.g. /dev/fd/3) instead of CI_ATTEST_PASSWORD or a prompt.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Run checks without a sandbox (recorded as `isolation: none`; policies can reject it).
    #[arg(long)]
    no_sandbox: bool,
    /// Run from scratch: mount none of the `[[cache]]` folders (a policy can require this with
    /// `require.from_scratch`).
    #[arg(long)]
    no_cache: bool,
    /// Sign keylessly: OIDC token -> Fulcio certificate -> Rekor entry (also `[signing] method = "keyless"`).
    #[arg(long, conflicts_with = "key")]
    keyless: bool,
    #[command(flatten)]
    services: KeylessArgs,
    /// Use the public-good staging services.
    #[arg(long)]
    staging: bool,
    /// Use the device-code login even where a browser could open.
    #[arg(long)]
    device_code: bool,
}

/// How `run` will sign, decided before any check runs; the secret itself is taken only after the
/// checks (a key checked and dropped before them, decrypted again after).
enum Signing {
    Key {
        path: PathBuf,
        pem: String,
        password: Option<Vec<u8>>,
    },
    Keyless,
}

fn keyless_setup(args: &Args) -> Result<Signed, Failure> {
    let (token, services) = keyless_token(&args.services, args.staging, args.device_code)?;
    Ok(Signed::Keyless(token, services))
}

/// The token and services flags of keyless signing (of `run`, and of `verify`/`audit`/`reproduce
/// --attest-verdict --keyless`).
#[derive(Debug, Default, clap::Args)]
pub(super) struct KeylessArgs {
    /// The OIDC identity token for keyless signing (else GitHub Actions' ambient token, else an
    /// interactive login).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SIGSTORE_ID_TOKEN",
        hide_env_values = true
    )]
    pub identity_token: Option<String>,
    /// Fulcio URL for keyless signing (default: public-good).
    #[arg(long, value_name = "URL")]
    pub fulcio_url: Option<String>,
    /// Rekor URL for keyless signing (default: public-good).
    #[arg(long, value_name = "URL")]
    pub rekor_url: Option<String>,
    /// RFC 3161 timestamp authority URL for keyless signing (optional).
    #[arg(long, value_name = "URL")]
    pub tsa_url: Option<String>,
    /// A sigstore signing_config.json naming Fulcio, Rekor and TSA.
    #[arg(long, value_name = "FILE")]
    pub signing_config: Option<PathBuf>,
}

/// The services and an OIDC token (explicit, ambient in GitHub Actions, or a login).
pub(super) fn keyless_token(
    o: &KeylessArgs,
    staging: bool,
    device_code: bool,
) -> Result<
    (
        Box<ci_attest::sign::oidc::IdentityToken>,
        ci_attest::sign::keyless::Services,
    ),
    Failure,
> {
    use ci_attest::sign::keyless::Services;
    use ci_attest::sign::oidc::{TokenOptions, TokenSources, obtain_token};
    let mut services = match &o.signing_config {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                Failure::usage(anyhow::anyhow!("cannot read {}: {e}", path.display()))
            })?;
            Services::from_signing_config(&bytes, std::time::SystemTime::now())
                .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", path.display())))?
        }
        None if staging => Services::staging(),
        None => Services::public_good(),
    };
    if let Some(u) = &o.fulcio_url {
        services.fulcio_url = u.clone();
    }
    if let Some(u) = &o.rekor_url {
        services.rekor_url = u.clone();
    }
    if let Some(u) = &o.tsa_url {
        services.tsa_url = Some(u.clone());
    }
    let options = TokenOptions {
        explicit: o.identity_token.clone(),
        interactive: std::io::stdin().is_terminal() && std::env::var_os("CI").is_none(),
        force_device_code: device_code,
        ..TokenOptions::default()
    };
    let sources = TokenSources::from_env(|name| std::env::var(name).ok());
    let notice = |message: &str| eprintln!("{message}");
    let (token, _source) = obtain_token(&options, &sources, std::time::SystemTime::now(), &notice)
        .map_err(Failure::usage)?;
    Ok((Box::new(token), services))
}

enum Signed {
    Key(Box<SigningKey>),
    Keyless(
        Box<ci_attest::sign::oidc::IdentityToken>,
        ci_attest::sign::keyless::Services,
    ),
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
                ProgressStyle::with_template("{spinner} {prefix} {elapsed:>4} {wide_msg:.dim}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(label);
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
            Some(bar) => {
                // The final line is only the outcome: no spinner, no running timer, no output.
                bar.set_style(
                    ProgressStyle::with_template("{msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.finish_with_message(line);
            }
            None => eprintln!("{line}"),
        }
    }

    fn check_output(&mut self, last_line: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(last_line.to_string());
        }
    }
}

/// The signer's settings: `~/.config/ci-attest/config.toml`, then `.ci-attest.local.toml`.
pub(super) fn local_settings(
    repo: &Repo,
    home: Option<&Path>,
) -> Result<(LocalSettings, Vec<PathBuf>), Failure> {
    let mut files = Vec::new();
    let mut settings = LocalSettings::default();
    if let Some(home) = home {
        let user = home.join(".config/ci-attest/config.toml");
        settings = LocalSettings::load(&user).map_err(Failure::usage)?;
        files.push(user);
    }
    let local = repo.root().join(LOCAL_SETTINGS_FILE);
    settings = settings.merged(LocalSettings::load(&local).map_err(Failure::usage)?);
    files.push(local);
    Ok((settings, files))
}

/// Runs, signs and stores.
pub fn run(repo_dir: &Path, args: Args) -> CmdResult {
    // Secrets arrive below: no same-user process may read this one's memory or environment.
    #[cfg(target_os = "linux")]
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    // The sandbox probe (two bwrap processes) runs while git finds the repository and the
    // revision and the settings and key are read; its answer is used unless the run is unsealed.
    let probe = start_probe(args.no_sandbox);
    // The repository and the revision in one git process.
    let (repo, resolved) =
        Repo::discover_resolving(repo_dir, &args.commit).map_err(Failure::usage)?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let (settings, settings_files) = local_settings(&repo, home.as_deref())?;
    let signing_settings = settings.signing.clone().unwrap_or_default();

    // Decide how to sign, and check the password, before minutes of tests; take no secret into
    // the run itself.
    let keyless = args.keyless
        || (args.key.is_none()
            && signing_settings.method == ci_attest::config::SigningMethod::Keyless);
    let mut hide: Vec<PathBuf> = settings_files;
    let keep: Vec<&Path> = [Some(repo.root()), home.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let plan = if keyless {
        if args.services.identity_token.is_none() {
            eprintln!("keyless: you will be asked to log in after the checks have run");
        }
        Signing::Keyless
    } else {
        let key_path = args
            .key
            .clone()
            .or_else(|| signing_settings.key.as_ref().map(|k| repo.root().join(k)))
            .ok_or_else(|| {
                // Name the key `keygen` makes when it is there: the fix is one line.
                let made = repo.root().join("keys/ci-attest.key").is_file();
                let found = if made {
                    "found keys/ci-attest.key, which no setting names"
                } else {
                    "found none"
                };
                Failure::usage(anyhow::anyhow!(
                    "expected a signing key, {found}: pass --key FILE (or --keyless), or set `[signing] key = \"keys/ci-attest.key\"` in {LOCAL_SETTINGS_FILE} (untracked) or ~/.config/ci-attest/config.toml{}",
                    if made { "" } else { "; `ci-attest keygen` makes a key pair in keys/" }
                ))
            })?;
        let key_path = std::path::absolute(&key_path).unwrap_or(key_path);
        let pem = std::fs::read_to_string(&key_path).map_err(|e| {
            Failure::usage(anyhow::anyhow!(
                "cannot read key {}: {e}",
                key_path.display()
            ))
        })?;
        let password = if pem.contains("ENCRYPTED") {
            let pw = match &args.password_file {
                Some(file) => read_password_file(file)?,
                None => password(&format!("Password for {}: ", key_path.display()), false)?,
            };
            Some(pw)
        } else {
            None
        };
        // A wrong password fails now; the key itself is dropped until the checks are over.
        drop(decrypt(&key_path, &pem, password.as_deref())?);
        hide.push(ci_attest::sandbox::hide_with_folder(&key_path, &keep));
        Signing::Key {
            path: key_path,
            pem,
            password,
        }
    };
    let keep: Vec<PathBuf> = keep.iter().map(|p| p.to_path_buf()).collect();
    let sealed = Sealed {
        repo: &repo,
        settings: &settings,
        home,
        hide,
        keep,
        rev: &args.commit,
        resolved,
        config_override: args.config.as_deref(),
        password_file: args.password_file.as_deref(),
        no_sandbox: args.no_sandbox,
        use_caches: !args.no_cache,
        probe,
    };
    let SealedRun {
        out,
        store,
        log_dir,
    } = sealed_run(sealed)?;
    for w in &out.warnings {
        eprintln!("warning: {w}");
    }
    if !out.uncommitted.is_empty() {
        eprintln!(
            "warning: {} uncommitted change(s) are NOT included: the checks ran on commit {} as committed",
            out.uncommitted.len(),
            out.commit.id
        );
    }

    // Every check process is gone: now take the secret.
    let signed = match plan {
        Signing::Key {
            path,
            pem,
            password,
        } => Signed::Key(Box::new(decrypt(&path, &pem, password.as_deref())?)),
        Signing::Keyless => keyless_setup(&args)?,
    };
    let (bundle, fingerprint) = match &signed {
        Signed::Key(key) => {
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
        Signed::Keyless(token, services) => {
            let bundle = ci_attest::sign::keyless::sign_statement_keyless(
                &out.statement.to_json(),
                token,
                services,
                std::time::SystemTime::now(),
            )
            .map_err(Failure::unavailable)?;
            (bundle, format!("{} (keyless)", token.identity()))
        }
    };
    let location = store
        .put(&out.commit.id, bundle.to_json().as_bytes())
        .map_err(Failure::unavailable)?;
    // The standard in-toto test-result statement, signed the same way and stored beside it, for
    // tools that read only vetted predicates (verify lists it and does not judge it).
    let test_result_location = if out
        .config
        .checks
        .iter()
        .any(|c| c.kind == ci_attest::statement::CheckKind::Tests)
    {
        let config_sha256 = out
            .statement
            .predicate
            .config
            .as_ref()
            .map(|c| c.sha256.clone())
            .unwrap_or_default();
        let tr = ci_attest::test_result::test_result_statement(
            &out.statement,
            &out.passed_tests,
            &config_sha256,
        );
        let tr_bundle = match &signed {
            Signed::Key(key) => ci_attest::sign::sign_statement(&tr.to_json(), key),
            Signed::Keyless(token, services) => ci_attest::sign::keyless::sign_statement_keyless(
                &tr.to_json(),
                token,
                services,
                std::time::SystemTime::now(),
            )
            .map_err(Failure::unavailable)?,
        };
        Some(
            store
                .put(&out.commit.id, tr_bundle.to_json().as_bytes())
                .map_err(Failure::unavailable)?,
        )
    } else {
        None
    };

    println!("bundle: {location}");
    if let Some(l) = &test_result_location {
        println!("tests:  {l} (in-toto test-result)");
    }
    println!("commit: {}  signed by {fingerprint}", out.commit.id);
    println!("logs:   {}", log_dir.display());
    let caches = &out.statement.predicate.caches;
    if !caches.is_empty() {
        let list: Vec<String> = caches
            .iter()
            .map(|c| {
                let state = if c.restored { "warm" } else { "empty" };
                format!(
                    "{} ({state}, key {})",
                    c.path,
                    &c.key[..c.key.len().min(12)]
                )
            })
            .collect();
        println!("caches: {}", list.join(", "));
    } else if args.no_cache && !out.config.caches.is_empty() {
        println!("caches: none (--no-cache: a run from scratch)");
    }
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

/// What a sealed run of a commit's checks needs besides the repository: `run` and `reproduce`
/// build it, [`sealed_run`] seals and runs.
pub(super) struct Sealed<'a> {
    pub repo: &'a Repo,
    pub settings: &'a LocalSettings,
    pub home: Option<PathBuf>,
    /// Files and folders the checks must not see (settings files, the key...); the store, the
    /// password file and agent sockets are added here.
    pub hide: Vec<PathBuf>,
    /// Folders a hidden file's folder must never be (the repository, home).
    pub keep: Vec<PathBuf>,
    pub rev: &'a str,
    /// `rev` already resolved (`None`: resolved here).
    pub resolved: Option<ci_attest::git::CommitId>,
    pub config_override: Option<&'a Path>,
    pub password_file: Option<&'a Path>,
    pub no_sandbox: bool,
    pub use_caches: bool,
    /// The sandbox probe started at the beginning of the command (None with --no-sandbox).
    pub probe: Option<Probe>,
}

/// What the sandbox probe found.
type ProbeAnswer = Result<Bubblewrap, ci_attest::sandbox::Unavailable>;

/// The sandbox probe: still running beside the command, or its answer.
pub(super) enum Probe {
    /// Running in a thread.
    Pending(std::thread::JoinHandle<ProbeAnswer>),
    /// Answered (one probe for several runs).
    Done(ProbeAnswer),
}

impl Probe {
    /// The answer (waiting for it); `None` if the probe's thread stopped without one.
    pub(super) fn answer(self) -> Option<ProbeAnswer> {
        match self {
            Probe::Pending(handle) => handle.join().ok(),
            Probe::Done(answer) => Some(answer),
        }
    }
}

/// What a sealed run made.
pub(super) struct SealedRun {
    pub out: ci_attest::attest::RunOutput,
    pub store: DirStore,
    pub log_dir: PathBuf,
}

/// Starts the sandbox probe (two bwrap processes) in a thread, unless the run is unsealed.
pub(super) fn start_probe(no_sandbox: bool) -> Option<Probe> {
    (!no_sandbox).then(|| {
        Probe::Pending(std::thread::spawn(|| {
            let root = rustix::process::geteuid().is_root();
            Bubblewrap::detect(std::env::var_os("PATH").as_deref(), root)
        }))
    })
}

/// Seals and runs the commit's checks: the sandbox (or none, said loudly), the hidden paths,
/// the check environment, Ctrl-C handling; a usage or unavailable failure when it cannot run.
pub(super) fn sealed_run(sealed: Sealed<'_>) -> Result<SealedRun, Failure> {
    let Sealed {
        repo,
        settings,
        home,
        mut hide,
        keep,
        rev,
        resolved,
        config_override,
        password_file,
        no_sandbox,
        use_caches,
        probe,
    } = sealed;
    let keep: Vec<&Path> = keep.iter().map(PathBuf::as_path).collect();
    let store_dir = settings.store.clone().unwrap_or_default().dir;
    // Agent sockets named by the environment (ssh, gpg) live wherever the agent put them.
    for var in ["SSH_AUTH_SOCK", "GPG_AGENT_INFO"] {
        if let Some(v) = std::env::var_os(var) {
            let path = PathBuf::from(v.to_string_lossy().split(':').next().unwrap_or_default());
            if path.is_absolute() {
                hide.push(ci_attest::sandbox::hide_with_folder(&path, &keep));
            }
        }
    }
    if let Some(file) = password_file {
        let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        hide.push(file);
    }

    let store_root = repo.root().join(&store_dir);
    let unsealed = no_sandbox || settings.isolation == Some(IsolationSetting::None);
    let id = match resolved {
        Some(id) => Ok(id),
        None => repo.resolve(rev),
    };
    let detected = probe.and_then(Probe::answer);
    let isolation = if unsealed {
        eprintln!(
            "warning: checks run WITHOUT a sandbox: they can read the working tree, your files and credentials; the attestation records isolation: none"
        );
        IsolationChoice::None
    } else {
        let detected = detected.unwrap_or_else(|| {
            Err(ci_attest::sandbox::Unavailable(
                "expected the sandbox probe to answer, found that it stopped without an answer"
                    .into(),
            ))
        });
        match detected {
            Ok(b) => IsolationChoice::Sandbox(b),
            Err(e) => {
                return Err(Failure::usage(anyhow::anyhow!(
                    "{e}\nchecks are code from the commit and are sealed off from your machine by default; to run them unsealed anyway, pass --no-sandbox or set isolation = \"none\" in {LOCAL_SETTINGS_FILE} (the attestation then records isolation: none)"
                )));
            }
        }
    };

    hide.push(store_root.clone());
    let store = DirStore::new(&store_root);
    let id = id.map_err(Failure::usage)?;
    let log_dir = store.new_log_dir(&id).map_err(Failure::unavailable)?;
    let sandboxed = matches!(isolation, IsolationChoice::Sandbox(_));
    let env = ci_attest::sandbox::check_env(
        &|name| std::env::var_os(name),
        settings.pass_env.as_deref().unwrap_or_default(),
        sandboxed,
    );

    // Ctrl-C / SIGTERM during the checks: kill them, remove the checkout, exit 130. After the
    // checks, a signal does what it always does.
    let interrupted = Arc::new(AtomicBool::new(false));
    let default_now = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_conditional_default(signal, default_now.clone());
        let _ = signal_hook::flag::register(signal, interrupted.clone());
    }
    let options = RunOptions {
        rev: id.as_str(),
        config_override,
        log_dir: &log_dir,
        ignore: &[store_dir.as_path()],
        isolation,
        hide,
        home,
        uid: rustix::process::getuid().as_raw(),
        env,
        interrupted: &interrupted,
        run_root: std::env::temp_dir(),
        now: &std::time::SystemTime::now,
        use_caches,
    };
    let mut progress = CliProgress { bar: None };
    let outcome = ci_attest::attest::run(repo, &options, &mut progress);
    default_now.store(true, Ordering::SeqCst);
    let out = match outcome {
        Ok(out) => out,
        Err(AttestError::Run(RunError::Interrupted)) => {
            return Err(Failure::interrupted(anyhow::anyhow!(
                "interrupted: the checks were killed, the checkout removed, nothing signed"
            )));
        }
        Err(e @ (AttestError::Config(_) | AttestError::NoConfig { .. })) => {
            return Err(Failure::usage(e));
        }
        Err(e) => return Err(Failure::unavailable(e)),
    };
    Ok(SealedRun {
        out,
        store,
        log_dir,
    })
}

pub(super) fn read_password_file(path: &Path) -> Result<Vec<u8>, Failure> {
    let mut text = std::fs::read(path).map_err(|e| {
        Failure::usage(anyhow::anyhow!(
            "cannot read password file {}: {e}",
            path.display()
        ))
    })?;
    // One final newline (as `echo` writes it) is not part of the password.
    if text.ends_with(b"\n") {
        text.pop();
        if text.ends_with(b"\r") {
            text.pop();
        }
    }
    Ok(text)
}

pub(super) fn decrypt(
    path: &Path,
    pem: &str,
    password: Option<&[u8]>,
) -> Result<SigningKey, Failure> {
    SigningKey::from_pkcs8_pem(pem.as_bytes(), password)
        .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", path.display())))
}
