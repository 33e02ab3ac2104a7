//! Command definitions, exit codes and error classification.

mod audit;
mod hook;
mod init;
mod inspect;
mod keygen;
mod push;
mod reproduce;
mod run;
mod sign_bundle;
mod stores;
mod verdict;
mod verify;
mod verify_bundle;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status: accepted / success.
pub const EXIT_OK: u8 = 0;
/// Exit status: rejected (a finding), or a check failed in `run`.
pub const EXIT_REJECTED: u8 = 1;
/// Exit status: usage, configuration or policy-file error.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: could not verify (I/O, missing trust material).
pub const EXIT_UNAVAILABLE: u8 = 3;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl Failure {
    /// A usage, configuration or policy error (exit 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            error: error.into(),
        }
    }

    /// Interrupted by the user (exit 130, as shells report SIGINT).
    pub fn interrupted(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 130,
            error: error.into(),
        }
    }

    /// Could not run: I/O, git, trust material (exit 3).
    pub fn unavailable(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: EXIT_UNAVAILABLE,
            error: error.into(),
        }
    }
}

/// What a command returns: an exit code, or a failure.
pub type CmdResult = Result<u8, Failure>;

/// Output formats of commands that report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For a person at a terminal.
    Text,
    /// Versioned, sorted, byte-stable JSON.
    Json,
    /// GitHub-flavoured markdown.
    Markdown,
}

#[derive(Debug, Parser)]
#[command(
    name = "ci-attest",
    version,
    about = "Run a project's checks locally, sign the results for the exact commit, verify them against a policy",
    long_about = "Run a project's checks locally on a pristine checkout, sign the results as an in-toto \
attestation for the exact commit, and verify such attestations against a threshold policy.\n\n\
Exit codes: 0 accepted / success, 1 rejected (or a check failed), 2 usage, configuration or policy error, \
3 could not verify (I/O, missing trust material)."
)]
struct Cli {
    /// The repository to work in (default: the current folder).
    #[arg(long, short = 'C', global = true, value_name = "DIR")]
    repo: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write .ci-attest.toml, policies/default.toml and the verifier workflow for this project.
    ///
    /// Detects Cargo (workspaces, nextest, llvm-cov), Python (pyproject / setup.cfg / setup.py) and
    /// Node (npm, pnpm, yarn, bun; jest, vitest, node --test) projects from their own files. Never
    /// overwrites an existing file without --force; --dry-run prints instead of writing.
    ///
    /// Example: ci-attest init
    Init(init::Args),
    /// Generate a P-256 signing key pair.
    ///
    /// The private key is written as encrypted PKCS#8 PEM (mode 0600) with a password from
    /// CI_ATTEST_PASSWORD or a prompt; --no-password writes it unencrypted. Never overwrites.
    ///
    /// Example: ci-attest keygen --out keys
    Keygen(keygen::Args),
    /// Run the configured checks on a pristine worktree of a commit, sign and store the results.
    ///
    /// Exits 1 if a check failed (the failing result is still signed and stored).
    ///
    /// Example: ci-attest run --key keys/ci-attest.key
    Run(run::Args),
    /// Verify a commit's attestations and judge them with a policy.
    ///
    /// Exit 0 accepted, 1 rejected, 2 usage/config/policy error, 3 could not verify. With
    /// --mode advisory (shadow mode) a rejection is reported in full but exits 0 and concludes
    /// the check run `neutral`.
    ///
    /// Example: ci-attest verify --policy policies/default.toml --format json
    Verify(verify::Args),
    /// Upload bundles from the local store to a remote store (git refs or GitHub).
    ///
    /// One commit (--commit, default HEAD), a range (--range A..B) or every commit with local
    /// bundles (--all). --to git (default) pushes their refs/ci-attest/<commit>/* to the remote in
    /// one `git push`, never forcing; --to github uploads each bundle to GitHub's attestations API
    /// (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL). --notify then sends a repository_dispatch
    /// so the verifier workflow runs.
    ///
    /// Example: ci-attest push --range v1.0..main
    Push(push::Args),
    /// Show what a bundle says: signer, time, subject and each check's results.
    ///
    /// Example: ci-attest inspect .ci-attest/<commit>.1.sigstore.json
    Inspect(inspect::Args),
    /// Verify any sigstore bundle (sigstore-conformance protocol).
    ///
    /// Example: ci-attest verify-bundle --bundle a.sigstore.json --certificate-identity ID --certificate-oidc-issuer URL a.txt
    VerifyBundle(verify_bundle::Args),
    /// Replay the verification of every commit in a range, offline: one verdict per commit.
    ///
    /// --from git first fetches the range's refs/ci-attest/* from the remote (--offline: this
    /// clone's refs only) and says how many bundles for how many commits it read.
    ///
    /// Example: ci-attest audit --range v1.0..main --policy policies/default.toml --at 2026-11-23T12:00:00Z --out audit/
    Audit(audit::Args),
    /// Re-run an attested commit's checks, sealed as `run` does, and compare with the attestation.
    ///
    /// Selects the commit's newest trusted attestation (as `verify` with the policy would), runs
    /// the same checks from scratch without signing anything, and compares each check's result,
    /// test counts and failing tests, coverage (within `[reproduce] coverage_tolerance`) and lint
    /// counts. Exit 0 when they agree, 1 when a figure differs (a `reproduction-mismatch` finding
    /// per figure) or there is nothing to compare. `--range R --sample P` re-runs a share of a range
    /// drawn with a seed (printed; `--seed` draws the same commits again).
    ///
    /// Example: ci-attest reproduce --range v1.0..main --sample 10
    Reproduce(reproduce::Args),
    /// Sign a file or an in-toto statement keylessly (sigstore-conformance protocol).
    ///
    /// Example: ci-attest sign-bundle --identity-token $TOKEN --bundle a.sigstore.json a.txt
    SignBundle(sign_bundle::Args),
    /// Install or remove the `pre-push` git hook that attests and pushes bundles before `git push`.
    ///
    /// The hook attests every pushed commit without a bundle from your key (git config
    /// `ci-attest.hook = run`, the default) or refuses the push (`refuse`), then pushes the
    /// commits' refs/ci-attest/* to the same remote before the branch. Also usable from the
    /// pre-commit framework (`.pre-commit-hooks.yaml`, id `ci-attest`, stage pre-push).
    ///
    /// Example: ci-attest hook install
    Hook(hook::Args),
    /// Print a shell completion script.
    ///
    /// Example (bash): ci-attest completions bash > ~/.local/share/bash-completion/completions/ci-attest
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), for `man -l -` or a `man1` folder.
    ///
    /// Example: ci-attest man > ~/.local/share/man/man1/ci-attest.1
    Man,
}

/// Writes `bytes` to stdout; a closed pipe (`| head`) is not an error.
fn print_bytes(bytes: &[u8]) -> CmdResult {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(EXIT_OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(EXIT_OK),
        Err(e) => Err(Failure::unavailable(anyhow::anyhow!(
            "cannot write to stdout: {e}"
        ))),
    }
}

/// The completion script for `shell`.
fn completions(shell: clap_complete::Shell) -> CmdResult {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ci-attest", &mut script);
    print_bytes(&script)
}

/// The manual page, roff.
fn man_page() -> CmdResult {
    use clap::CommandFactory;
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| Failure::unavailable(anyhow::anyhow!("cannot render the manual page: {e}")))?;
    print_bytes(&page)
}

/// Parses arguments, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let repo = cli.repo.unwrap_or_else(|| PathBuf::from("."));
    let result = match cli.command {
        Command::Init(a) => init::run(&repo, a),
        Command::Keygen(a) => keygen::run(a),
        Command::Run(a) => run::run(&repo, a),
        Command::Verify(a) => verify::run(&repo, a),
        Command::Inspect(a) => inspect::run(a),
        Command::Push(a) => push::run(&repo, a),
        Command::VerifyBundle(a) => verify_bundle::run(a),
        Command::Audit(a) => audit::run(&repo, a),
        Command::Reproduce(a) => reproduce::run(&repo, a),
        Command::Hook(a) => hook::run(&repo, a),
        Command::SignBundle(a) => sign_bundle::run(a),
        Command::Completions { shell } => completions(shell),
        Command::Man => man_page(),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, error }) => {
            eprintln!("error: {error:#}");
            ExitCode::from(code)
        }
    }
}

/// Reads a password from `CI_ATTEST_PASSWORD` or, on a terminal, a prompt.
pub fn password(prompt: &str, confirm: bool) -> Result<Vec<u8>, Failure> {
    if let Ok(p) = std::env::var("CI_ATTEST_PASSWORD") {
        return Ok(p.into_bytes());
    }
    let first = rpassword::prompt_password(prompt).map_err(|e| {
        Failure::usage(anyhow::anyhow!(
            "a password is needed: set CI_ATTEST_PASSWORD or run in a terminal ({e})"
        ))
    })?;
    if confirm {
        let again = rpassword::prompt_password("Repeat the password: ")
            .map_err(|e| Failure::usage(anyhow::anyhow!("cannot read the password: {e}")))?;
        if again != first {
            return Err(Failure::usage(anyhow::anyhow!("the two passwords differ")));
        }
    }
    Ok(first.into_bytes())
}

/// The verification time: `--at` (RFC 3339) for replays, else now.
pub fn verification_time(at: Option<&str>) -> Result<std::time::SystemTime, Failure> {
    match at {
        Some(t) => humantime::parse_rfc3339_weak(t).map_err(|e| {
            Failure::usage(anyhow::anyhow!(
                "--at: expected an RFC 3339 time like 2026-11-23T12:00:00Z, found {t:?} ({e})"
            ))
        }),
        None => Ok(std::time::SystemTime::now()),
    }
}

/// The trusted root: a `--trusted-root` file, else the embedded staging or production root.
pub fn trusted_root(
    path: Option<&std::path::Path>,
    staging: bool,
) -> Result<ci_attest::trust::TrustedRoot, Failure> {
    use ci_attest::trust::{MAX_TRUSTED_ROOT_BYTES, TrustedRoot};
    match path {
        Some(path) => {
            let cannot = |e: std::io::Error| {
                Failure::unavailable(anyhow::anyhow!("cannot read {}: {e}", path.display()))
            };
            let len = std::fs::metadata(path).map_err(cannot)?.len();
            if len > MAX_TRUSTED_ROOT_BYTES as u64 {
                return Err(Failure::usage(anyhow::anyhow!(
                    "{}: expected at most {MAX_TRUSTED_ROOT_BYTES} bytes, found {len}",
                    path.display()
                )));
            }
            let bytes = std::fs::read(path).map_err(cannot)?;
            TrustedRoot::from_json(&bytes)
                .map_err(|e| Failure::unavailable(anyhow::anyhow!("{}: {e}", path.display())))
        }
        None if staging => Ok(TrustedRoot::staging()),
        None => Ok(TrustedRoot::production()),
    }
}
