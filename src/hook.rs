//! The `pre-push` git hook: the script `ci-attest hook install` writes and how to recognise it
//! again (so `hook uninstall` removes only what it installed), the lines git hands a pre-push hook,
//! and which stored bundles count as "attested by this signer".
//!
//! The hook itself is a few lines of `sh` that find the ci-attest binary (the absolute path of the
//! binary that installed it, else `PATH`) and run `ci-attest hook pre-push`; the logic lives in the
//! CLI, so upgrading ci-attest upgrades the hook.

use crate::bundle::{Bundle, KeyMaterial};
use crate::git::CommitId;
use crate::sign::key::PublicKey;

/// The hook's file name in the hooks folder.
pub const HOOK_FILE: &str = "pre-push";

/// Where `hook install --force` keeps the hook it replaced (restored by `hook uninstall`).
pub const BACKUP_FILE: &str = "pre-push.ci-attest-backup";

/// The line that marks a hook as written by ci-attest (its second line).
pub const MARKER: &str = "# ci-attest-hook: pre-push v1";

/// The prefix of the predicate types of local-run statements (`/v1` and later revisions).
const LOCAL_RUN_PREFIX: &str = "https://ci-attest.dev/local-run/";

/// The hook script for the ci-attest binary at `binary` (an absolute path).
pub fn script(binary: &str) -> String {
    format!(
        "#!/bin/sh\n\
{MARKER}\n\
# Installed by `ci-attest hook install`; `ci-attest hook uninstall` removes it (keep this file\n\
# unedited, or uninstall leaves it alone). Before git sends anything, it attests every pushed\n\
# commit that has no bundle from your key yet (`git config ci-attest.hook refuse` refuses the push\n\
# instead) and pushes the bundle refs to the same remote, so the verifier finds them. Skip it\n\
# once with `git push --no-verify`.\n\
installed={quoted}\n\
ci_attest=\"$installed\"\n\
if [ ! -x \"$ci_attest\" ]; then\n\
  ci_attest=\"$(command -v ci-attest || true)\"\n\
fi\n\
if [ -z \"$ci_attest\" ]; then\n\
  echo \"ci-attest pre-push hook: ci-attest is neither at $installed nor on PATH: install it, run \\`ci-attest hook uninstall\\`, or push with --no-verify\" >&2\n\
  exit 1\n\
fi\n\
exec \"$ci_attest\" hook pre-push \"$@\"\n",
        quoted = sh_quote(binary),
    )
}

/// `text` as one single-quoted `sh` word.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// What is in a hook file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// Exactly a script ci-attest writes, for the binary at this path.
    Ours {
        /// The binary the hook runs first.
        binary: String,
    },
    /// A ci-attest hook someone has edited: not ours to remove or replace.
    Edited,
    /// Not a ci-attest hook.
    Foreign,
}

/// Classifies a hook file's content.
pub fn classify(content: &str) -> Installed {
    if !content.lines().any(|l| l == MARKER) {
        return Installed::Foreign;
    }
    let binary = content
        .lines()
        .find_map(|l| l.strip_prefix("installed='"))
        .and_then(|rest| rest.strip_suffix('\''))
        .map(|quoted| quoted.replace("'\\''", "'"));
    match binary {
        Some(binary) if script(&binary) == content => Installed::Ours { binary },
        _ => Installed::Edited,
    }
}

/// One line of a pre-push hook's input: `<local ref> <local sha> <remote ref> <remote sha>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUpdate {
    /// The local ref pushed (`refs/heads/main`, `HEAD`, or `(delete)`).
    pub local_ref: String,
    /// The object pushed; `None` for a deletion.
    pub local: Option<CommitId>,
    /// The remote ref updated.
    pub remote_ref: String,
    /// What the remote has there now; `None` for a new ref.
    pub remote: Option<CommitId>,
}

impl PushUpdate {
    /// True for the refs of ci-attest's own git store (`refs/ci-attest/*`), which the hook's own
    /// bundle push sends through this hook again.
    pub fn is_bundle_ref(&self) -> bool {
        self.remote_ref.starts_with("refs/ci-attest/")
            || self.local_ref.starts_with("refs/ci-attest/")
    }
}

/// A line of pre-push input that is not what git sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "pre-push input line {line}: expected `<local ref> <local sha> <remote ref> <remote sha>`, found {found:?}"
)]
pub struct PushLineError {
    /// 1-based line number.
    pub line: usize,
    /// The line (cut to 200 characters).
    pub found: String,
}

/// Parses git's pre-push input (blank lines are skipped).
///
/// # Errors
/// [`PushLineError`] for a line without four fields or with an object id that is not full hex.
pub fn parse_pre_push(input: &str) -> Result<Vec<PushUpdate>, PushLineError> {
    let mut updates = Vec::new();
    for (i, line) in input.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = || PushLineError {
            line: i + 1,
            found: line.chars().take(200).collect(),
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [local_ref, local, remote_ref, remote] = fields[..] else {
            return Err(error());
        };
        let id = |text: &str| -> Result<Option<CommitId>, PushLineError> {
            if !text.is_empty() && text.bytes().all(|b| b == b'0') {
                return Ok(None);
            }
            CommitId::parse(text).map(Some).ok_or_else(error)
        };
        updates.push(PushUpdate {
            local_ref: local_ref.to_string(),
            local: id(local)?,
            remote_ref: remote_ref.to_string(),
            remote: id(remote)?,
        });
    }
    Ok(updates)
}

/// Who the hook looks for among a commit's stored bundles.
#[derive(Clone)]
pub enum Signer {
    /// A local key: a bundle counts when it names this key and its signature verifies with it.
    Key(PublicKey),
    /// Keyless signing: the identity is known only after a login, so any local-run bundle with a
    /// certificate counts (the local store holds this machine's runs).
    Keyless,
}

/// True when `bundle_json` is a local-run attestation of `commit` by `signer`.
///
/// This is the hook's question "was this commit attested here already?", not verification: the
/// verifier still judges every bundle. For a key signer the signature is checked, so a bundle
/// copied in from elsewhere with a forged key hint does not count.
pub fn attested_by(bundle_json: &[u8], commit: &CommitId, signer: &Signer) -> bool {
    let Ok(bundle) = Bundle::from_slice(bundle_json) else {
        return false;
    };
    let Ok(envelope) = bundle.single_signature_envelope() else {
        return false;
    };
    let signed = match (&bundle.verification_material.key_material, signer) {
        (KeyMaterial::PublicKey { hint }, Signer::Key(key)) => {
            *hint == key.key_id().to_string()
                && envelope
                    .signatures
                    .first()
                    .is_some_and(|s| key.verify(&envelope.pae(), &s.sig).is_ok())
        }
        (KeyMaterial::Certificate(_) | KeyMaterial::X509CertificateChain(_), Signer::Keyless) => {
            true
        }
        _ => false,
    };
    if !signed {
        return false;
    }
    let Ok(statement) = serde_json::from_slice::<serde_json::Value>(&envelope.payload) else {
        return false;
    };
    let local_run = statement["predicateType"]
        .as_str()
        .is_some_and(|t| t.starts_with(LOCAL_RUN_PREFIX));
    let subject = statement["subject"][0]["digest"]["gitCommit"].as_str() == Some(commit.as_str());
    local_run && subject
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const ZERO: &str = "0000000000000000000000000000000000000000";

    #[test]
    fn a_script_is_recognised_as_ours_with_its_binary_even_with_quotes_in_the_path() {
        for binary in ["/usr/local/bin/ci-attest", "/home/o'brien/bin/ci attest"] {
            let s = script(binary);
            assert!(s.starts_with("#!/bin/sh\n"));
            assert_eq!(
                classify(&s),
                Installed::Ours {
                    binary: binary.to_string()
                }
            );
        }
    }

    #[test]
    fn an_edited_ci_attest_hook_and_a_foreign_hook_are_not_ours() {
        let s = script("/bin/ci-attest");
        assert_eq!(
            classify(&s.replace("exec", "echo hi\nexec")),
            Installed::Edited
        );
        assert_eq!(classify(&format!("{s}make lint\n")), Installed::Edited);
        assert_eq!(
            classify("#!/bin/sh\nexec git lfs pre-push \"$@\"\n"),
            Installed::Foreign
        );
        assert_eq!(classify(""), Installed::Foreign);
    }

    #[test]
    fn pre_push_lines_parse_with_deletions_and_new_refs_as_none() {
        let input = format!(
            "refs/heads/main {A} refs/heads/main {B}\n\n(delete) {ZERO} refs/heads/old {B}\nrefs/heads/new {A} refs/heads/new {ZERO}\n"
        );
        let u = parse_pre_push(&input).expect("parses");
        assert_eq!(u.len(), 3);
        assert_eq!(u[0].local.as_ref().map(CommitId::as_str), Some(A));
        assert_eq!(u[0].remote.as_ref().map(CommitId::as_str), Some(B));
        assert_eq!(u[1].local, None);
        assert_eq!(u[2].remote, None);
        assert!(!u[0].is_bundle_ref());
    }

    #[test]
    fn malformed_pre_push_lines_are_errors_naming_the_line() {
        for bad in [
            "refs/heads/main".to_string(),
            format!("refs/heads/main {A} refs/heads/main"),
            format!("refs/heads/main {A} refs/heads/main {B} extra"),
            format!("refs/heads/main XYZ refs/heads/main {B}"),
            format!("refs/heads/main {} refs/heads/main {B}", "A".repeat(40)),
        ] {
            let e = parse_pre_push(&format!("\n{bad}\n")).expect_err(&bad);
            assert_eq!(e.line, 2, "{bad}");
        }
    }

    fn bundle(commit: &str, predicate_type: &str, key: &crate::sign::key::SigningKey) -> Vec<u8> {
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "repo", "digest": {"gitCommit": commit}}],
            "predicateType": predicate_type,
            "predicate": {}
        });
        let bytes = serde_json::to_vec(&statement).expect("json");
        crate::sign::sign_statement(&bytes, key)
            .to_json()
            .into_bytes()
    }

    #[test]
    fn only_a_local_run_bundle_of_the_commit_signed_by_the_key_counts() {
        use crate::sign::key::SigningKey;
        let key = SigningKey::generate().expect("key");
        let other = SigningKey::generate().expect("key");
        let me = Signer::Key(key.public_key());
        let a = CommitId::parse(A).expect("id");
        let local_run = "https://ci-attest.dev/local-run/v1";
        assert!(attested_by(&bundle(A, local_run, &key), &a, &me));
        assert!(
            !attested_by(&bundle(B, local_run, &key), &a, &me),
            "another commit"
        );
        assert!(
            !attested_by(&bundle(A, local_run, &other), &a, &me),
            "another key"
        );
        assert!(
            !attested_by(
                &bundle(A, "https://in-toto.io/attestation/test-result/v0.1", &key),
                &a,
                &me
            ),
            "not a local-run statement"
        );
        assert!(!attested_by(
            &bundle(A, local_run, &key),
            &a,
            &Signer::Keyless
        ));
        // The key's hint with another key's signature.
        let forged = String::from_utf8(bundle(A, local_run, &other))
            .expect("utf-8")
            .replace(
                &other.public_key().key_id().to_string(),
                &key.public_key().key_id().to_string(),
            );
        assert!(!attested_by(forged.as_bytes(), &a, &me), "a forged hint");
        assert!(!attested_by(b"{}", &a, &me));
    }

    #[test]
    fn the_hooks_own_bundle_refs_are_recognised() {
        let u = parse_pre_push(&format!(
            "refs/ci-attest/{A}/x {B} refs/ci-attest/{A}/x {ZERO}\n"
        ))
        .expect("parses");
        assert!(u[0].is_bundle_ref());
    }
}
