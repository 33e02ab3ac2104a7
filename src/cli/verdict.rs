//! `--attest-verdict` of `verify` and `audit`: the verdict signed as a SLSA VSA v1 and stored
//! beside the commit's bundles (see [`ci_attest::vsa`]).

use super::Failure;
use ci_attest::git::Repo;
use ci_attest::report::Report;
use ci_attest::sign::key::SigningKey;
use ci_attest::store::{Fetched, Store};
use ci_attest::vsa::{DEFAULT_VERIFIER_ID, VerdictInput, judged_inputs, verdict_statement};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The signing arguments of `--attest-verdict`.
#[derive(Debug, Default, clap::Args)]
pub struct AttestArgs {
    /// Sign the verdict as a SLSA Verification Summary Attestation (VSA v1) for the commit and
    /// store it beside its bundles (needs --key FILE or --keyless), e.g.
    /// `verify --attest-verdict --keyless` in the verifier workflow.
    #[arg(long)]
    pub attest_verdict: bool,
    /// The verdict's signing key (P-256 PKCS#8 PEM; its password from CI_ATTEST_PASSWORD,
    /// --password-file or a prompt).
    #[arg(long, value_name = "FILE", requires = "attest_verdict")]
    key: Option<PathBuf>,
    /// Read the key's password from this file instead of CI_ATTEST_PASSWORD or a prompt.
    #[arg(long, value_name = "FILE", requires = "key")]
    password_file: Option<PathBuf>,
    /// Sign the verdict keylessly: OIDC token (in GitHub Actions the ambient one, which needs
    /// `id-token: write`) -> Fulcio certificate -> Rekor entry.
    #[arg(long, requires = "attest_verdict", conflicts_with = "key")]
    keyless: bool,
    #[command(flatten)]
    services: super::run::KeylessArgs,
    /// The verdict's `verifier.id`: a URI naming this verifier; a policy trusts a verdict only
    /// for a (signer, verifier id) pair its `[[verifier]]` list names (default: verify and audit
    /// https://ci-attest.dev/verifier, reproduce https://ci-attest.dev/reproducer).
    #[arg(long, value_name = "URI")]
    verifier_id: Option<String>,
    /// The `verifier.id` of this command when none is given.
    #[arg(skip = DEFAULT_VERIFIER_ID)]
    default_verifier_id: &'static str,
}

/// How the verdict is signed, decided (and the key decrypted) before anything is judged.
pub enum VerdictSigner {
    /// A local P-256 key.
    Key(Box<SigningKey>),
    /// An OIDC token and the sigstore services to use it with.
    Keyless(
        Box<ci_attest::sign::oidc::IdentityToken>,
        ci_attest::sign::keyless::Services,
    ),
}

impl AttestArgs {
    /// The signer of `--attest-verdict`, or `None` without it; `staging` selects the staging
    /// services for --keyless (as `verify --staging` selects the staging root).
    pub fn signer(&self, staging: bool) -> Result<Option<VerdictSigner>, Failure> {
        if !self.attest_verdict {
            return Ok(None);
        }
        let id = self.verifier_id();
        if id.trim().is_empty() || !id.contains(':') {
            return Err(Failure::usage(anyhow::anyhow!(
                "--verifier-id: expected a URI such as {DEFAULT_VERIFIER_ID}, found {id:?}"
            )));
        }
        if self.keyless {
            let (token, services) = super::run::keyless_token(&self.services, staging, false)?;
            return Ok(Some(VerdictSigner::Keyless(token, services)));
        }
        let Some(path) = &self.key else {
            return Err(Failure::usage(anyhow::anyhow!(
                "--attest-verdict: expected --key FILE or --keyless to sign the verdict with, found neither"
            )));
        };
        let pem = std::fs::read_to_string(path).map_err(|e| {
            Failure::usage(anyhow::anyhow!("cannot read key {}: {e}", path.display()))
        })?;
        let password = if pem.contains("ENCRYPTED") {
            Some(match &self.password_file {
                Some(file) => super::run::read_password_file(file)?,
                None => super::password(&format!("Password for {}: ", path.display()), false)?,
            })
        } else {
            None
        };
        let key = super::run::decrypt(path, &pem, password.as_deref())?;
        Ok(Some(VerdictSigner::Key(Box::new(key))))
    }

    /// The key and password files named, to keep out of sealed checks' reach.
    pub fn secret_files(&self) -> Vec<PathBuf> {
        [&self.key, &self.password_file]
            .into_iter()
            .flatten()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
            .collect()
    }

    /// True when the verdict is to be signed keylessly (which needs the network).
    pub fn keyless(&self) -> bool {
        self.attest_verdict && self.keyless
    }

    /// The `verifier.id` to record.
    pub fn verifier_id(&self) -> &str {
        self.verifier_id
            .as_deref()
            .unwrap_or(self.default_verifier_id)
    }

    /// Makes `id` the `verifier.id` recorded when `--verifier-id` is not given (`reproduce`
    /// records its own, so a reproduction is never taken for a policy verdict).
    pub fn with_default_verifier_id(mut self, id: &'static str) -> Self {
        self.default_verifier_id = id;
        self
    }
}

impl VerdictSigner {
    /// Who signs, as the verdict records it: the key fingerprint, or identity and issuer.
    pub fn describe(&self) -> String {
        match self {
            VerdictSigner::Key(key) => key.public_key().key_id().to_string(),
            VerdictSigner::Keyless(token, _) => {
                format!("{} ({})", token.identity(), token.claims().issuer)
            }
        }
    }
}

/// What every verdict of one command shares.
pub struct Attester<'a> {
    /// The signer.
    pub signer: &'a VerdictSigner,
    /// The repository the commits belong to.
    pub repo: &'a Repo,
    /// The policy file as given, and its sha256.
    pub policy: (&'a Path, &'a str),
    /// `verifier.id`.
    pub verifier_id: &'a str,
    /// The verification time.
    pub at: SystemTime,
    /// The sample the commits were drawn in (`--sample`), recorded in each verdict.
    pub sample: Option<&'a ci_attest::reproduce::SampleRecord>,
}

impl Attester<'_> {
    /// Builds, signs and stores the verdict of `report` (judged from `fetched`) for `commit`;
    /// returns the store location.
    pub fn attest(
        &self,
        store: &dyn Store,
        commit: &ci_attest::git::CommitInfo,
        report: &Report,
        fetched: &Fetched,
    ) -> Result<String, Failure> {
        let origin = self.repo.origin_url();
        let repository = origin
            .clone()
            .unwrap_or_else(|| self.repo.root().display().to_string());
        let resource_uri =
            origin.unwrap_or_else(|| format!("file://{}", self.repo.root().display()));
        let signer = self.signer.describe();
        let policy_uri = self.policy.0.display().to_string();
        // Locations inside the repository are recorded relative to it (`.ci-attest/<file>`): a
        // verdict names store items, not this machine's folders.
        let inputs: Vec<(String, String)> = judged_inputs(report, fetched)
            .into_iter()
            .map(|(location, sha)| {
                let relative = Path::new(&location)
                    .strip_prefix(self.repo.root())
                    .ok()
                    .map(|r| r.display().to_string());
                (relative.unwrap_or(location), sha)
            })
            .collect();
        let statement = verdict_statement(
            report,
            &inputs,
            &VerdictInput {
                commit,
                repository: &repository,
                resource_uri: &resource_uri,
                policy_uri: &policy_uri,
                policy_sha256: self.policy.1,
                verifier_id: self.verifier_id,
                signer: &signer,
                at: self.at,
                sample: self.sample,
            },
        );
        let json = statement.to_json();
        let bundle = match self.signer {
            VerdictSigner::Key(key) => ci_attest::sign::sign_statement(&json, key),
            VerdictSigner::Keyless(token, services) => {
                ci_attest::sign::keyless::sign_statement_keyless(
                    &json,
                    token,
                    services,
                    SystemTime::now(),
                )
                .map_err(Failure::unavailable)?
            }
        };
        store
            .put(&commit.id, bundle.to_json().as_bytes())
            .map_err(super::stores::store_failure)
    }

    /// Stores the verdict key's public half in the dir store's keys/ (as `run` does), so a policy
    /// may pin it by fingerprint.
    pub fn store_public_key(&self) -> Result<(), Failure> {
        if let VerdictSigner::Key(key) = self.signer {
            let public = key.public_key();
            let fingerprint = public.key_id().to_string();
            super::stores::dir_store(self.repo)?
                .put_public_key(fingerprint.trim_start_matches("sha256:"), &public.to_pem())
                .map_err(Failure::unavailable)?;
        }
        Ok(())
    }
}
