//! `ci-attest keygen`.

use super::{CmdResult, EXIT_OK, Failure, password};
use std::path::PathBuf;

/// Arguments of `keygen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder for the key pair (created if missing).
    #[arg(long, default_value = "keys", value_name = "DIR")]
    out: PathBuf,
    /// Base name of the files: <NAME>.key and <NAME>.pub.
    #[arg(long, default_value = "ci-attest", value_name = "NAME")]
    name: String,
    /// Write the private key unencrypted (anyone who can read the file can sign as you).
    #[arg(long)]
    no_password: bool,
}

/// Generates the key pair.
pub fn run(args: Args) -> CmdResult {
    let password = if args.no_password {
        None
    } else {
        Some(password("Password for the new key: ", true)?)
    };
    std::fs::create_dir_all(&args.out).map_err(|e| {
        Failure::unavailable(anyhow::anyhow!("cannot create {}: {e}", args.out.display()))
    })?;
    let pair = ci_attest::sign::key::write_key_pair(&args.out, &args.name, password.as_deref())
        .map_err(Failure::usage)?;
    if args.no_password {
        eprintln!("warning: the private key is NOT encrypted (--no-password); protect the file");
    }
    // The private key must never be committed: `git add -A` would publish it.
    let ignored = ci_attest::git::ensure_ignored(&pair.private_key, |relative| {
        let dir = relative.parent().unwrap_or(std::path::Path::new(""));
        if dir.as_os_str().is_empty() {
            "/*.key".to_string()
        } else {
            format!("/{}/*.key", ci_attest::git::gitignore_literal(dir))
        }
    });
    match ignored {
        Ok(Some(line)) => {
            println!("added `{line}` to .gitignore: the private key stays out of git")
        }
        Ok(None) => {}
        Err(e) => eprintln!(
            "warning: could not add the private key to .gitignore ({e}); never commit {}",
            pair.private_key.display()
        ),
    }
    println!("private key: {}", pair.private_key.display());
    println!("public key:  {}", pair.public_key.display());
    println!("key id:      {}", pair.key_id);
    println!(
        "\nTrust it in a policy:\n  [[signer]]\n  name = \"you\"\n  fingerprint = \"{}\"",
        pair.key_id
    );
    Ok(EXIT_OK)
}
