//! `ci-attest verify-bundle`: the sigstore-conformance verification command, for any sigstore bundle.

use super::{CmdResult, EXIT_OK, EXIT_REJECTED, Failure};
use ci_attest::verify::cert::{IdentityMatcher, SanRegex};
use ci_attest::verify::pki::VerifyingKey;
use ci_attest::verify::sigstore::{Artifact, Signer, verify};
use std::path::PathBuf;

/// Arguments of `verify-bundle` (the sigstore-conformance CLI protocol).
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("signer").required(true).args(["certificate_identity", "certificate_identity_regex", "key"])))]
pub struct Args {
    /// Use the embedded public-good staging root instead of production.
    #[arg(long)]
    staging: bool,
    /// The bundle to verify.
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    /// The certificate's SAN, exactly.
    #[arg(long, value_name = "ID", requires = "certificate_oidc_issuer")]
    certificate_identity: Option<String>,
    /// The certificate's SAN as a regular expression (always anchored at both ends; it must be a
    /// valid regex on its own, so `a)|(b` is refused rather than escaping the anchors).
    #[arg(
        long,
        visible_alias = "certificate-identity-regexp",
        value_name = "REGEX",
        requires = "certificate_oidc_issuer"
    )]
    certificate_identity_regex: Option<String>,
    /// The certificate's OIDC issuer, exactly.
    #[arg(long, value_name = "URL")]
    certificate_oidc_issuer: Option<String>,
    /// A PEM public key (for key-signed bundles).
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// A trusted_root.json (default: the embedded production root).
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// The artifact: a file, or `sha256:<hex>`.
    file_or_digest: String,
}

/// Reads at most `max` bytes of `path`. The limit holds while reading, not only by the size the
/// file had when asked (a FIFO, `/dev/stdin` or a growing file reports none or a stale one).
fn read(path: &PathBuf, max: u64) -> Result<Vec<u8>, Failure> {
    use std::io::Read as _;
    let unavailable = |e: std::io::Error| {
        Failure::unavailable(anyhow::anyhow!("cannot read {}: {e}", path.display()))
    };
    let too_large = |found: String| {
        Failure::usage(anyhow::anyhow!(
            "{}: expected at most {max} bytes, found {found}",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(unavailable)?;
    let len = file.metadata().map_err(unavailable)?.len();
    if len > max {
        return Err(too_large(len.to_string()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(unavailable)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > max {
        return Err(too_large("more".to_string()));
    }
    Ok(bytes)
}

/// Verifies and prints the findings; exit 0 verified, 1 rejected.
pub fn run(args: Args) -> CmdResult {
    let root = super::trusted_root(args.trusted_root.as_deref(), args.staging)?;
    let artifact = if args.file_or_digest.contains(':')
        && !std::path::Path::new(&args.file_or_digest).exists()
    {
        Artifact::parse_digest(&args.file_or_digest).ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "expected a file or sha256:<64 hex>, found {:?}",
                args.file_or_digest
            ))
        })?
    } else {
        Artifact::Bytes(read(
            &PathBuf::from(&args.file_or_digest),
            4 * 1024 * 1024 * 1024,
        )?)
    };
    let bundle = read(&args.bundle, ci_attest::bundle::MAX_BUNDLE_BYTES as u64 + 1)?;
    let result = if let Some(key) = &args.key {
        let pem = read(key, 64 * 1024)?;
        let public = ci_attest::sign::key::PublicKey::from_pem(&pem)
            .map(|k| k.to_spki_der().to_vec())
            .or_else(|_| pem_any_spki(&pem))
            .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", key.display())))?;
        let vk = VerifyingKey::from_spki_der(&public)
            .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", key.display())))?;
        verify(&bundle, &root, &Signer::Key(&vk, &public), Some(&artifact))
    } else {
        let issuer = args.certificate_oidc_issuer.as_deref().unwrap_or_default();
        let matcher = match (&args.certificate_identity, &args.certificate_identity_regex) {
            (Some(id), _) => IdentityMatcher::Exact(id.clone()),
            (None, Some(re)) => IdentityMatcher::Regex(SanRegex::new(re).map_err(Failure::usage)?),
            (None, None) => return Err(Failure::usage(anyhow::anyhow!("no identity given"))),
        };
        verify(
            &bundle,
            &root,
            &Signer::Keyless {
                issuer,
                identity: &matcher,
            },
            Some(&artifact),
        )
    };
    match result {
        Ok(v) => {
            println!(
                "OK: bundle verified ({} log entr{}, {} signing time(s))",
                v.verified_log_entries,
                if v.verified_log_entries == 1 {
                    "y"
                } else {
                    "ies"
                },
                v.signing_times.len()
            );
            Ok(EXIT_OK)
        }
        Err(findings) => {
            // Found-values come from the bundle: cleaned like the text report's (no terminal
            // escapes, bidi overrides or line breaks; long values cut).
            use ci_attest::report::{MAX_MESSAGE_CHARS, MAX_VALUE_CHARS, clean};
            for f in findings {
                eprintln!(
                    "{}: {} (expected {}; found {})",
                    f.code,
                    clean(&f.message, MAX_MESSAGE_CHARS),
                    clean(f.expected.as_deref().unwrap_or_default(), MAX_VALUE_CHARS),
                    clean(f.found.as_deref().unwrap_or_default(), MAX_VALUE_CHARS)
                );
            }
            Ok(EXIT_REJECTED)
        }
    }
}

/// Any SubjectPublicKeyInfo PEM (P-384, Ed25519, RSA keys are not P-256 [`PublicKey`]s).
fn pem_any_spki(pem: &[u8]) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let text = String::from_utf8_lossy(pem);
    if !text.contains("-----BEGIN PUBLIC KEY-----") {
        return Err("expected a PEM PUBLIC KEY, found something else".into());
    }
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| format!("expected base64 inside the PEM: {e}"))
}
