//! `ci-attest sign-bundle`: the sigstore-conformance signing protocol.
//!
//! `sign-bundle [--staging] [--in-toto] --identity-token TOKEN --bundle OUT [--trusted-root FILE]
//! [--signing-config FILE] FILE`: with `--in-toto`, FILE is an in-toto Statement signed as a DSSE
//! envelope (Rekor `dsse` entry); without it, FILE is signed as a message signature (Rekor
//! `hashedrekord` entry). Services come from `--signing-config`, else `--staging`'s, else the
//! public-good ones. The bundle is written to OUT (never over an existing file).

use std::io::Write as _;
use std::path::PathBuf;
use std::time::SystemTime;

use ci_attest::sign::keyless::{self, Services};
use ci_attest::sign::oidc::IdentityToken;

use super::{CmdResult, EXIT_OK, Failure};

/// Largest FILE accepted: 256 MiB.
const MAX_INPUT_BYTES: u64 = 256 * 1024 * 1024;

/// Arguments of `sign-bundle`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Use the sigstore staging instance.
    #[arg(long)]
    staging: bool,
    /// FILE is an in-toto Statement to sign as a DSSE envelope.
    #[arg(long)]
    in_toto: bool,
    /// The OIDC identity token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SIGSTORE_ID_TOKEN",
        hide_env_values = true
    )]
    identity_token: String,
    /// Where to write the bundle.
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    /// A trusted_root.json (checked to parse; signing itself needs no trust material).
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// A sigstore signing_config.json (v0.2) naming Fulcio, Rekor and TSA.
    #[arg(long, value_name = "FILE")]
    signing_config: Option<PathBuf>,
    /// The file to sign.
    file: PathBuf,
}

fn read_limited(path: &PathBuf, max: u64) -> Result<Vec<u8>, Failure> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Failure::unavailable(anyhow::anyhow!("cannot read {}: {e}", path.display()))
    })?;
    if meta.len() > max {
        return Err(Failure::usage(anyhow::anyhow!(
            "{}: expected at most {max} bytes, found {}",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read(path)
        .map_err(|e| Failure::unavailable(anyhow::anyhow!("cannot read {}: {e}", path.display())))
}

/// Signs FILE keylessly and writes the bundle.
pub fn run(args: Args) -> CmdResult {
    let token = IdentityToken::parse(&args.identity_token).map_err(Failure::usage)?;
    let services = match &args.signing_config {
        Some(path) => {
            let bytes = read_limited(path, keyless::MAX_SIGNING_CONFIG_BYTES as u64)?;
            Services::from_signing_config(&bytes, SystemTime::now()).map_err(Failure::usage)?
        }
        None if args.staging => Services::staging(),
        None => Services::public_good(),
    };
    if let Some(path) = &args.trusted_root {
        let bytes = read_limited(path, ci_attest::trust::MAX_TRUSTED_ROOT_BYTES as u64)?;
        ci_attest::trust::TrustedRoot::from_json(&bytes).map_err(Failure::usage)?;
    }
    let input = read_limited(&args.file, MAX_INPUT_BYTES)?;
    let bundle = if args.in_toto {
        keyless::sign_statement_keyless(&input, &token, &services, SystemTime::now())
    } else {
        keyless::sign_artifact_keyless(&input, &token, &services, SystemTime::now())
    }
    .map_err(|e| match e {
        keyless::KeylessError::Token(_) => Failure::usage(e),
        other => Failure::unavailable(other),
    })?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.bundle)
        .map_err(|e| {
            Failure::unavailable(anyhow::anyhow!(
                "cannot create {} (an existing bundle is never overwritten): {e}",
                args.bundle.display()
            ))
        })?;
    file.write_all(bundle.to_json().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            Failure::unavailable(anyhow::anyhow!(
                "cannot write {}: {e}",
                args.bundle.display()
            ))
        })?;
    Ok(EXIT_OK)
}
