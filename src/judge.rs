//! The verifier's orchestrator: from a store and a policy to a report, like [`crate::attest`] is
//! for `run`.
//!
//! The layers below depend one way: [`crate::verify`] turns bytes into verified statements
//! knowing nothing of policy files, stores or reports; [`crate::policy`] judges one verified
//! statement; [`crate::report`] renders. A [`Judge`] holds what does not change from one commit to
//! the next (the policy, its trust list with parsed keys, the trusted root and the verification
//! time) and, per commit, fetches the bundles, verifies each, selects the newest by its *verified*
//! signing time, evaluates the policy on it and builds the [`Report`].
//!
//! Selection: the newest verified local-run bundle signed no later than the verification time
//! (plus [`CLOCK_SKEW`]) decides, so a replay at `--at T` ignores bundles signed after `T` and gives
//! the verdict given at `T`. Ties keep store order (the later one wins). When every verified bundle
//! is from after `T`, the earliest is judged, and the policy rejects it as from the future.

use crate::finding::{Code, Finding, clip};
use crate::git::{CommitId, CommitInfo, GitError, Repo};
use crate::policy::{CLOCK_SKEW, KeylessIdentity, Policy, Select, SignerIdentity};
use crate::report::{AUDIT_SCHEMA, AuditReport, BundleReport, CheckSummary, Report, Verdict};
use crate::statement::PREDICATE_TYPE;
use crate::store::{Fetched, RejectedItem, Store, StoreError, StoredBundle};
use crate::test_result::TEST_RESULT_PREDICATE_TYPE;
use crate::trust::TrustedRoot;
use crate::verify::cert::{IdentityMatcher, SanRegex};
use crate::verify::{
    Context, ParsedBundle, Signers, TrustedIdentity, TrustedKey, VerifiedSigner, VerifiedStatement,
    predicate_type_of_payload, verify_parsed,
};
use std::time::SystemTime;

/// Most commits one audit replays; a larger range is an error, never a silent cut.
pub const MAX_AUDIT_COMMITS: usize = 100_000;

/// Commits an audit asks its store for at once ([`Store::fetch_many`]): enough for a networked
/// store to keep its requests overlapping, few enough that a hostile store's per-commit maximum
/// ([`crate::store::MAX_BYTES_PER_COMMIT`]) times this stays well inside memory.
pub const AUDIT_FETCH_CHUNK: usize = 8;

/// Most commits an audit judges in one parallel batch (see [`AUDIT_BATCH_BYTES`]).
pub const AUDIT_BATCH_COMMITS: usize = 256;

/// Most bundle bytes an audit holds for one parallel batch: a batch is judged as soon as it
/// reaches this or [`AUDIT_BATCH_COMMITS`], so memory stays bounded whatever the range's length
/// (plus at most one fetch chunk past it).
pub const AUDIT_BATCH_BYTES: u64 = 64 * 1024 * 1024;

/// Finds public keys for fingerprints the policy pins without giving the key itself.
pub trait KeySource {
    /// The PEM of the key with this fingerprint hex, `Ok(None)` if there is none, or why the one
    /// there cannot be read. The caller checks the fingerprint.
    fn public_key_pem(&self, fingerprint_hex: &str) -> Result<Option<String>, StoreError>;
}

/// A key source that knows no keys.
#[derive(Debug, Default)]
pub struct NoKeys;

impl KeySource for NoKeys {
    fn public_key_pem(&self, _: &str) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
}

impl KeySource for crate::store::dir::DirStore {
    fn public_key_pem(&self, fingerprint_hex: &str) -> Result<Option<String>, StoreError> {
        self.public_key(fingerprint_hex)
    }
}

/// Why an audit could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JudgeError {
    /// The range names no commit.
    #[error(
        "the range {range:?} holds no commits: expected at least one (e.g. `main~10..main`, or a revision for all its ancestors)"
    )]
    EmptyRange {
        /// The range as given.
        range: String,
    },
    /// The range cannot be listed (a bad revision, or more commits than the limit).
    #[error("{0}")]
    Range(#[source] GitError),
    /// A commit of the range cannot be read.
    #[error("{0}")]
    Commit(#[source] GitError),
    /// The store could not be read at all.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The policy's trust list, parsed once: the signers, and why a pinned key is unavailable.
struct TrustList {
    signers: Signers,
    /// Per key fingerprint the policy pins but whose key cannot be used: why (info findings).
    unavailable: Vec<(String, Finding)>,
    /// Keyless signers whose identity pattern cannot be used (the loader rejects these, so this
    /// is only ever a guard).
    broken: Vec<Finding>,
}

fn trust_list(policy: &Policy, keys: &dyn KeySource) -> TrustList {
    let mut list = TrustList {
        signers: Signers::default(),
        unavailable: Vec::new(),
        broken: Vec::new(),
    };
    for s in &policy.signers {
        match &s.identity {
            SignerIdentity::Key {
                fingerprint,
                public_key_pem,
            } => {
                let hex = fingerprint.strip_prefix("sha256:").unwrap_or(fingerprint);
                let pem = match public_key_pem {
                    Some(pem) => Ok(Some(pem.clone())),
                    None => keys.public_key_pem(hex),
                };
                let pem = match pem {
                    Ok(pem) => pem,
                    Err(e) => {
                        // A key file that is a FIFO, a link or too large is a bad store item.
                        list.unavailable.push((
                            fingerprint.clone(),
                            Finding::info(
                                Code::StoreItemInvalid,
                                format!("the stored key for signer {} cannot be used", s.name),
                            )
                            .expected_found(
                                format!("keys/sha256-{hex}.pub as a regular file within the limits of docs/limits.md"),
                                e.to_string(),
                            )
                            .origin(Some(s.origin.clone()))
                            .hint("replace the key file with the signer's public key PEM, or give it as `key = \"<file>\"` in the policy"),
                        ));
                        continue;
                    }
                };
                match key_of(&s.name, fingerprint, pem) {
                    Ok(key) => list.signers.keys.push(key),
                    Err((message, expected, found)) => list.unavailable.push((
                        fingerprint.clone(),
                        Finding::info(Code::SignerUntrusted, message)
                            .expected_found(expected, found)
                            .origin(Some(s.origin.clone()))
                            .hint("give the signer as `key = \"<file>\"` in the policy, or fetch the store's keys/ folder"),
                    )),
                }
            }
            SignerIdentity::Keyless { issuer, identity } => {
                let identity = match identity {
                    KeylessIdentity::Exact(id) => IdentityMatcher::Exact(id.clone()),
                    KeylessIdentity::Regex(re) => match SanRegex::new(re) {
                        Ok(r) => IdentityMatcher::Regex(r),
                        Err(e) => {
                            list.broken.push(
                                Finding::error(
                                    Code::IdentityMismatch,
                                    format!("signer {}'s identity pattern cannot be used", s.name),
                                )
                                .expected_found("a valid regular expression", e.to_string())
                                .origin(Some(s.origin.clone())),
                            );
                            continue;
                        }
                    },
                };
                list.signers.identities.push(TrustedIdentity {
                    name: s.name.clone(),
                    issuer: issuer.clone(),
                    identity,
                });
            }
        }
    }
    list
}

/// The trusted key for a policy signer, or (message, expected, found) saying why it is unusable.
fn key_of(
    name: &str,
    fingerprint: &str,
    pem: Option<String>,
) -> Result<TrustedKey, (String, String, String)> {
    let hex = fingerprint.strip_prefix("sha256:").unwrap_or(fingerprint);
    let Some(pem) = pem else {
        return Err((
            format!(
                "the policy pins signer {name} by fingerprint, but its key is not in the store"
            ),
            format!("keys/sha256-{hex}.pub in the store"),
            "no such key".into(),
        ));
    };
    let key = crate::sign::key::PublicKey::from_pem(pem.as_bytes()).map_err(|e| {
        (
            format!("the key for signer {name} cannot be read"),
            "a P-256 public key PEM".to_string(),
            e.to_string(),
        )
    })?;
    if key.key_id().to_string() != fingerprint {
        return Err((
            format!("a stored key for signer {name} does not match its fingerprint"),
            fingerprint.to_string(),
            key.key_id().to_string(),
        ));
    }
    TrustedKey::from_spki_der(name, key.to_spki_der()).map_err(|e| {
        (
            format!("the key for signer {name} cannot be used"),
            "a P-256 public key".to_string(),
            e.to_string(),
        )
    })
}

/// Judges commits against one policy at one verification time.
pub struct Judge<'a> {
    policy: &'a Policy,
    root: &'a TrustedRoot,
    at: SystemTime,
    trust: TrustList,
}

impl<'a> Judge<'a> {
    /// A judge for `policy`, reading keys the policy pins only by fingerprint from `keys`,
    /// verifying keyless and logged bundles against `root`, as of `at`.
    pub fn new(
        policy: &'a Policy,
        keys: &dyn KeySource,
        root: &'a TrustedRoot,
        at: SystemTime,
    ) -> Judge<'a> {
        Judge {
            policy,
            root,
            at,
            trust: trust_list(policy, keys),
        }
    }

    /// The trust list built from the policy.
    pub fn signers(&self) -> &Signers {
        &self.trust.signers
    }

    /// The verification time.
    pub fn at(&self) -> SystemTime {
        self.at
    }

    /// Judges one commit's verdicts (SLSA VSA bundles) instead of its local-run bundles: see
    /// [`crate::vsa::judge_verdicts`].
    pub fn verdict(&self, commit: &CommitInfo, fetched: &Fetched) -> Report {
        crate::vsa::judge_verdicts(
            self.policy,
            &self.trust.signers,
            self.root,
            self.at,
            commit,
            fetched,
        )
    }

    /// Fetches the commit's bundles from `store` and judges them.
    pub fn fetch_and_judge(
        &self,
        store: &dyn Store,
        commit: &CommitInfo,
    ) -> Result<Report, StoreError> {
        Ok(self.commit(commit, &store.fetch(&commit.id)?))
    }

    /// Judges one commit's bundles (and lists the store items that could not be taken).
    pub fn commit(&self, commit: &CommitInfo, fetched: &Fetched) -> Report {
        let ctx = Context {
            commit,
            signers: &self.trust.signers,
            trusted_root: self.root,
        };
        let mut reports = Vec::with_capacity(fetched.bundles.len() + fetched.rejected.len());
        let mut verified: Vec<(usize, VerifiedStatement)> = Vec::new();
        for b in &fetched.bundles {
            let (report, statement) = self.bundle(b, &ctx);
            if let Some(s) = statement {
                verified.push((reports.len(), s));
            }
            reports.push(report);
        }
        reports.extend(fetched.rejected.iter().map(rejected_report));

        let limit = self.at.checked_add(CLOCK_SKEW);
        let in_time = |s: &VerifiedStatement| limit.is_none_or(|l| s.signed_at() <= l);
        let newest = verified
            .iter()
            .filter(|(_, s)| in_time(s))
            .max_by_key(|(i, s)| (s.signed_at(), *i))
            .or_else(|| verified.iter().min_by_key(|(i, s)| (s.signed_at(), *i)));
        let many = self.judge_many(&verified, &mut reports);
        let findings = match (many, newest) {
            (Some(findings), _) => findings,
            (None, Some((i, statement))) => {
                let i = *i;
                for (j, s) in &verified {
                    if *j != i && !in_time(s) {
                        reports[*j].findings.push(
                            Finding::info(
                                Code::AttestationFromFuture,
                                "signed after the verification time: not considered for a verdict at that time",
                            )
                            .expected_found(
                                format!("signed no later than {}", crate::attest::rfc3339(self.at)),
                                format!("signed at {}", crate::attest::rfc3339(s.signed_at())),
                            ),
                        );
                    }
                }
                let mut findings = reports[i].findings.clone();
                findings.extend(crate::policy::evaluate(self.policy, statement, self.at));
                findings.extend(self.trust.broken.iter().cloned());
                reports[i].selected = true;
                reports[i].findings = findings.clone();
                findings
            }
            (None, None) => {
                let mut findings: Vec<Finding> = reports
                    .iter()
                    .flat_map(|r| r.findings.iter().filter(|f| f.is_error()).cloned())
                    .collect();
                findings.extend(self.trust.broken.iter().cloned());
                findings.push(
                    Finding::error(Code::NoAttestation, "no attestation for this commit verified")
                        .expected_found(
                            format!(
                                "a bundle for commit {} signed by a trusted signer",
                                commit.id
                            ),
                            format!(
                                "{} bundle(s), none verified{}",
                                fetched.bundles.len(),
                                match fetched.rejected.len() {
                                    0 => String::new(),
                                    n => format!("; {n} store item(s) not taken"),
                                }
                            ),
                        )
                        .hint(
                            "run `ci-attest run` on this commit (or fetch its bundles), then verify again",
                        ),
                );
                findings
            }
        };
        Report::judged(
            commit.id.to_string(),
            self.policy.file.clone(),
            reports,
            findings,
        )
    }

    /// `[require] signers = k` and `select = "all"`: judges every bundle the selection names
    /// instead of the one newest, and counts the distinct verified identities whose bundles
    /// pass. `None` when the policy sets neither, or when no verified bundle is signed in time
    /// (then the newest-bundle path rejects the earliest as from the future).
    fn judge_many(
        &self,
        verified: &[(usize, VerifiedStatement)],
        reports: &mut [BundleReport],
    ) -> Option<Vec<Finding>> {
        let require = &self.policy.require;
        let select = require.selection();
        if require.signers.is_none() && select == Select::Newest {
            return None;
        }
        let limit = self.at.checked_add(CLOCK_SKEW);
        let in_time = |s: &VerifiedStatement| limit.is_none_or(|l| s.signed_at() <= l);
        let candidates: Vec<&(usize, VerifiedStatement)> =
            verified.iter().filter(|(_, s)| in_time(s)).collect();
        if candidates.is_empty() {
            return None;
        }
        for (j, s) in verified.iter().filter(|(_, s)| !in_time(s)) {
            reports[*j].findings.push(
                Finding::info(
                    Code::AttestationFromFuture,
                    "signed after the verification time: not considered for a verdict at that time",
                )
                .expected_found(
                    format!("signed no later than {}", crate::attest::rfc3339(self.at)),
                    format!("signed at {}", crate::attest::rfc3339(s.signed_at())),
                ),
            );
        }
        // Under `newest`, each identity's newest bundle (ties: the later in store order) stands
        // for it; under `all`, every one of its bundles does.
        let chosen: Vec<&(usize, VerifiedStatement)> = match select {
            Select::All => candidates,
            Select::Newest => {
                let mut newest: Vec<&(usize, VerifiedStatement)> = Vec::new();
                for c in candidates {
                    let id = identity_of(c.1.verified_signer());
                    match newest
                        .iter_mut()
                        .find(|n| identity_of(n.1.verified_signer()) == id)
                    {
                        Some(n) if (c.1.signed_at(), c.0) > (n.1.signed_at(), n.0) => *n = c,
                        Some(_) => {}
                        None => newest.push(c),
                    }
                }
                newest.sort_by_key(|(i, _)| *i);
                newest
            }
        };
        // Per identity (in store order of first appearance): its name and whether every judged
        // bundle of it passed.
        let mut identities: Vec<(String, String, bool)> = Vec::new();
        let mut passing_findings = Vec::new();
        let mut failing_findings = Vec::new();
        for (i, statement) in chosen {
            let mut findings = reports[*i].findings.clone();
            findings.extend(crate::policy::evaluate(self.policy, statement, self.at));
            findings.extend(self.trust.broken.iter().cloned());
            let passed = !findings.iter().any(Finding::is_error);
            reports[*i].selected = true;
            reports[*i].findings = findings.clone();
            if passed {
                passing_findings.extend(findings);
            } else {
                failing_findings.extend(findings);
            }
            let id = identity_of(statement.verified_signer());
            match identities.iter_mut().find(|(known, _, _)| *known == id) {
                Some(entry) => entry.2 &= passed,
                None => identities.push((id, statement.signer().to_string(), passed)),
            }
        }
        let passing: Vec<String> = identities
            .iter()
            .filter(|(_, _, ok)| *ok)
            .map(|(id, name, _)| format!("{name} ({id})"))
            .collect();
        let wanted = require.signers.as_ref().map_or(1, |(k, _)| *k);
        let mut findings = passing_findings;
        // Under `all` any failing bundle rejects; under `newest` a failing signer only counts
        // as one that did not pass.
        if select == Select::All || passing.len() < wanted {
            findings.extend(failing_findings);
        }
        if passing.len() < wanted {
            findings.push(
                Finding::error(
                    Code::SignersThresholdNotMet,
                    format!(
                        "{} of the {wanted} distinct signers the policy requires have a passing bundle for this commit",
                        passing.len()
                    ),
                )
                .expected_found(
                    format!(
                        "{wanted} distinct verified signers (key fingerprints or keyless identities), each with a passing bundle ({} selection)",
                        select.as_str()
                    ),
                    format!(
                        "{} passing of {} verified signer(s){}",
                        passing.len(),
                        identities.len(),
                        if passing.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", clip(&passing.join(", ")))
                        }
                    ),
                )
                .origin(require.signers.as_ref().map(|(_, o)| o.clone())),
            );
        }
        Some(findings)
    }

    /// Parses and verifies one bundle; its report line and, if it verified, its statement.
    fn bundle(
        &self,
        b: &StoredBundle,
        ctx: &Context<'_>,
    ) -> (BundleReport, Option<VerifiedStatement>) {
        let line = |findings| BundleReport::unverified(b.location.clone(), findings);
        let parsed = match ParsedBundle::parse(&b.bytes) {
            Ok(parsed) => parsed,
            Err(finding) => return (line(vec![*finding]), None),
        };
        let claimed_type = parsed
            .envelope()
            .ok()
            .and_then(|env| predicate_type_of_payload(&env.payload));
        if claimed_type.as_deref() == Some(crate::vsa::VSA_PREDICATE_TYPE) {
            let listed = Finding::info(
                Code::PredicateTypeUnsupported,
                "a verdict (SLSA VSA): listed, not judged as a run",
            )
            .expected_found(PREDICATE_TYPE, crate::vsa::VSA_PREDICATE_TYPE)
            .hint("`ci-attest verify --verdict` judges verdicts");
            return (line(vec![listed]), None);
        }
        if claimed_type.as_deref() == Some(TEST_RESULT_PREDICATE_TYPE) {
            let listed = Finding::info(
                Code::PredicateTypeUnsupported,
                "an in-toto test-result statement: listed, not judged by the policy",
            )
            .expected_found(PREDICATE_TYPE, TEST_RESULT_PREDICATE_TYPE)
            .hint("`ci-attest inspect` shows its result and failing tests");
            return (line(vec![listed]), None);
        }
        let mut v = verify_parsed(&parsed, ctx);
        if v.verified.is_none() {
            if let Some((_, why)) = self
                .trust
                .unavailable
                .iter()
                .find(|(fp, _)| v.key_id.as_deref() == Some(fp.as_str()))
            {
                v.findings.push(why.clone());
            }
        }
        let first_signer = self.policy.signers.first().map(|s| s.origin.clone());
        for f in &mut v.findings {
            if f.origin.is_none() && signer_code(f.code) {
                f.origin = first_signer.clone();
            }
        }
        let shown = v
            .verified
            .as_ref()
            .map(VerifiedStatement::statement)
            .or(v.parsed.as_ref());
        let report = BundleReport {
            location: b.location.clone(),
            signer: v.verified.as_ref().map(|s| s.signer().to_string()),
            key_id: v.key_id.clone(),
            finished_on: shown.map(|s| s.predicate.finished_on.clone()),
            signed_at: v
                .verified
                .as_ref()
                .map(|s| crate::attest::rfc3339(s.signed_at())),
            time_source: v.verified.as_ref().map(|s| s.time_source().as_str()),
            selected: false,
            checks: shown
                .map(|s| s.predicate.checks.iter().map(CheckSummary::of).collect())
                .unwrap_or_default(),
            findings: v.findings,
        };
        (report, v.verified)
    }

    /// Replays every commit of `range` (oldest first) with the bundles of `store`.
    ///
    /// An empty range, or one of more than [`MAX_AUDIT_COMMITS`] commits, is an error.
    pub fn audit(
        &self,
        repo: &Repo,
        range: &str,
        store: &dyn Store,
    ) -> Result<AuditReport, JudgeError> {
        let commits = repo
            .rev_list(range, MAX_AUDIT_COMMITS)
            .map_err(JudgeError::Range)?;
        self.audit_commits(repo, range, &commits, store)
    }

    /// [`Judge::audit`] of these commits of `range` (all of it, or a sample), in this order.
    pub fn audit_commits(
        &self,
        repo: &Repo,
        range: &str,
        commits: &[CommitId],
        store: &dyn Store,
    ) -> Result<AuditReport, JudgeError> {
        if commits.is_empty() {
            return Err(JudgeError::EmptyRange {
                range: range.to_string(),
            });
        }
        let infos = repo.commit_infos(commits).map_err(JudgeError::Commit)?;
        let index = store.index(commits)?;
        let mut reports = Vec::with_capacity(commits.len());
        let mut unattested = 0;
        let mut batch: Vec<(&CommitInfo, Fetched)> = Vec::new();
        let mut batch_bytes = 0u64;
        // A few commits at a time from the store: one that can overlap reads (GitHub) fetches
        // them side by side. They are judged in batches on every core, in commit order, and at
        // most a batch's bundles are held at once.
        for chunk in infos.chunks(AUDIT_FETCH_CHUNK) {
            let ids: Vec<CommitId> = chunk.iter().map(|c| c.id.clone()).collect();
            for (commit, fetched) in chunk.iter().zip(index.fetch_many(&ids)) {
                let fetched = fetched?;
                if fetched.bundles.is_empty() {
                    unattested += 1;
                }
                batch_bytes += fetched
                    .bundles
                    .iter()
                    .map(|b| b.bytes.len() as u64)
                    .sum::<u64>();
                batch.push((commit, fetched));
            }
            if batch.len() >= AUDIT_BATCH_COMMITS || batch_bytes >= AUDIT_BATCH_BYTES {
                self.judge_batch(&mut batch, &mut reports);
                batch_bytes = 0;
            }
        }
        self.judge_batch(&mut batch, &mut reports);
        Ok(self.audit_report(range, reports, unattested))
    }

    /// The audit report of `range` from its per-commit reports (oldest first) and the number of
    /// commits the store held no bundle for: the one place `audit` and a package replay
    /// ([`crate::export`]) build it, so both give the same bytes.
    pub fn audit_report(
        &self,
        range: &str,
        reports: Vec<Report>,
        unattested: usize,
    ) -> AuditReport {
        let accepted = reports
            .iter()
            .filter(|r| r.verdict == Verdict::Accepted)
            .count();
        AuditReport {
            schema: AUDIT_SCHEMA,
            range: range.to_string(),
            policy: self.policy.file.clone(),
            at: crate::attest::rfc3339(self.at),
            accepted,
            rejected: reports.len() - accepted,
            unattested,
            commits: reports,
            sample: None,
        }
    }
}

/// A verified signer's identity, as `signers = k` counts them: the key fingerprint, or the
/// certificate's issuer and SAN (one policy entry with an identity regex may match several).
fn identity_of(s: &VerifiedSigner) -> String {
    match s {
        VerifiedSigner::Key { fingerprint, .. } => fingerprint.clone(),
        VerifiedSigner::Keyless { issuer, san, .. } => format!("{issuer} {san}"),
    }
}

impl Judge<'_> {
    /// Judges `batch` on every core and appends the reports in batch order; empties the batch.
    fn judge_batch(&self, batch: &mut Vec<(&CommitInfo, Fetched)>, reports: &mut Vec<Report>) {
        use rayon::prelude::*;
        reports.par_extend(batch.par_iter().map(|(c, f)| self.commit(c, f)));
        batch.clear();
    }
}

/// Codes whose requirement is the policy's signer list.
fn signer_code(code: Code) -> bool {
    matches!(
        code,
        Code::SignerUntrusted | Code::IdentityMismatch | Code::VerificationMaterialUnsupported
    )
}

/// The report line of a store item that was not taken as a bundle.
fn rejected_report(item: &RejectedItem) -> BundleReport {
    BundleReport::unverified(
        item.location.clone(),
        vec![
            Finding::error(
                Code::StoreItemInvalid,
                "a store item is not a bundle that can be judged; the other bundles were judged without it",
            )
            .expected_found(
                "a regular file (or git blob) holding one bundle within the limits of docs/limits.md",
                item.problem.to_string(),
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_result_bundle() -> Vec<u8> {
        crate::test_result::signed_test_result_bundle()
    }

    fn commit() -> CommitInfo {
        CommitInfo {
            id: crate::git::CommitId::parse(&"ab".repeat(20)).expect("valid id"),
            sha256: "cd".repeat(32),
            tree: "ef".repeat(20),
        }
    }

    #[test]
    fn a_test_result_bundle_is_listed_without_rejecting_for_it() {
        let policy = crate::policy::test_support::policy("");
        let root = crate::trust::TrustedRoot::production();
        let at = crate::policy::test_support::at("2026-11-02T00:00:00Z");
        let judge = Judge::new(&policy, &NoKeys, &root, at);
        let fetched = Fetched::of(vec![StoredBundle {
            location: "tr.sigstore.json".into(),
            bytes: test_result_bundle(),
        }]);
        let report = judge.commit(&commit(), &fetched);
        assert_eq!(report.bundles.len(), 1);
        let listed = &report.bundles[0];
        assert!(!listed.selected);
        assert_eq!(listed.findings.len(), 1);
        assert_eq!(listed.findings[0].code, Code::PredicateTypeUnsupported);
        assert!(!listed.findings[0].is_error());
        // No local-run bundle: rejected for that reason alone.
        let errors: Vec<Code> = report
            .findings
            .iter()
            .filter(|f| f.is_error())
            .map(|f| f.code)
            .collect();
        assert_eq!(errors, [Code::NoAttestation]);
    }

    #[test]
    fn a_rejected_store_item_is_named_and_does_not_hide_the_verdict_reason() {
        let policy = crate::policy::test_support::policy("");
        let root = crate::trust::TrustedRoot::production();
        let at = crate::policy::test_support::at("2026-11-02T00:00:00Z");
        let judge = Judge::new(&policy, &NoKeys, &root, at);
        let fetched = Fetched {
            bundles: vec![],
            rejected: vec![RejectedItem {
                location: ".ci-attest/x.1.sigstore.json".into(),
                problem: crate::store::ItemProblem::NotAFile {
                    found: "a FIFO".into(),
                },
            }],
        };
        let report = judge.commit(&commit(), &fetched);
        assert_eq!(report.bundles.len(), 1);
        assert_eq!(report.bundles[0].location, ".ci-attest/x.1.sigstore.json");
        assert_eq!(report.bundles[0].findings[0].code, Code::StoreItemInvalid);
        let found = report.bundles[0].findings[0].found.as_deref().unwrap_or("");
        assert!(found.contains("FIFO"), "{found}");
        assert_eq!(report.verdict, Verdict::Rejected);
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.code == Code::NoAttestation)
        );
    }
}

/// `signers = k` and `select` as a truth table: k-of-n over distinct identities, duplicates,
/// bundles from after the verification time, store order.
#[cfg(test)]
mod signer_threshold_tests {
    use super::*;
    use crate::policy::test_support::{at, policy, predicate, tests_check};
    use crate::statement::{LocalRunStatement, PREDICATE_TYPE, STATEMENT_TYPE, Statement};
    use crate::verify::TimeSource;
    use proptest::prelude::*;
    use std::time::Duration;

    /// A bundle: which identity signed (3 and 4 are keyless SANs of one policy entry), whether
    /// it passes, its signing second, and whether it is from after the verification time.
    type Spec = (u8, bool, u8, bool);

    fn base() -> SystemTime {
        at("2026-11-01T12:00:00Z")
    }

    fn verdict_time() -> SystemTime {
        base() + Duration::from_secs(3600)
    }

    fn statement(&(id, pass, second, late): &Spec) -> VerifiedStatement {
        let p = predicate(vec![tests_check(3, u64::from(!pass), 0)]);
        let signer = if id < 3 {
            VerifiedSigner::Key {
                name: format!("key-{id}"),
                fingerprint: format!("sha256:{id}"),
            }
        } else {
            VerifiedSigner::Keyless {
                name: "ci".into(),
                issuer: "https://issuer.example".into(),
                san: format!("https://example.com/workflow-{id}"),
            }
        };
        let t = if late {
            verdict_time() + Duration::from_secs(7200 + u64::from(second))
        } else {
            base() + Duration::from_secs(u64::from(second))
        };
        let s: LocalRunStatement = Statement {
            statement_type: STATEMENT_TYPE.into(),
            subject: vec![],
            predicate_type: PREDICATE_TYPE.into(),
            predicate: p,
        };
        VerifiedStatement::new(s, signer, (t, TimeSource::SignerClaim), 0)
    }

    /// The oracle: the verdict the documentation promises.
    fn oracle(specs: &[Spec], k: Option<usize>, all: bool) -> Option<bool> {
        if k.is_none() && !all {
            return None;
        }
        let timely: Vec<(usize, &Spec)> = specs.iter().enumerate().filter(|(_, s)| !s.3).collect();
        if timely.is_empty() {
            return None;
        }
        let chosen: Vec<&Spec> = if all {
            timely.iter().map(|(_, s)| *s).collect()
        } else {
            let mut newest: Vec<(usize, &Spec)> = Vec::new();
            for (i, s) in timely {
                match newest.iter_mut().find(|(_, n)| n.0 == s.0) {
                    Some(n) if (s.2, i) > (n.1.2, n.0) => *n = (i, s),
                    Some(_) => {}
                    None => newest.push((i, s)),
                }
            }
            newest.into_iter().map(|(_, s)| s).collect()
        };
        let mut ids: Vec<u8> = chosen.iter().map(|s| s.0).collect();
        ids.sort_unstable();
        ids.dedup();
        let passing = ids
            .iter()
            .filter(|id| chosen.iter().filter(|s| s.0 == **id).all(|s| s.1))
            .count();
        let every = chosen.iter().all(|s| s.1);
        Some(passing >= k.unwrap_or(1) && (!all || every))
    }

    fn judged(specs: &[Spec], k: Option<usize>, all: bool) -> Option<(bool, Vec<Finding>)> {
        let mut rules = String::from(
            "[[signer]]\nname = \"ci\"\nissuer = \"https://issuer.example\"\nidentity_regex = 'https://example\\.com/.*'\n\n[require]\nchecks = [\"tests\"]\n",
        );
        if let Some(k) = k {
            rules.push_str(&format!("signers = {k}\n"));
        }
        if all {
            rules.push_str("select = \"all\"\n");
        }
        let policy = policy(&rules);
        let root = TrustedRoot::production();
        let judge = Judge::new(&policy, &NoKeys, &root, verdict_time());
        let verified: Vec<(usize, VerifiedStatement)> =
            specs.iter().map(statement).enumerate().collect();
        let mut reports: Vec<BundleReport> = (0..specs.len())
            .map(|i| BundleReport::unverified(format!("b{i}"), vec![]))
            .collect();
        let findings = judge.judge_many(&verified, &mut reports)?;
        Some((!findings.iter().any(Finding::is_error), findings))
    }

    #[test]
    fn two_of_three_with_one_failing_signer() {
        let specs = [
            (0, true, 0, false),
            (1, false, 1, false),
            (2, true, 2, false),
        ];
        assert_eq!(judged(&specs, Some(2), false).map(|v| v.0), Some(true));
        let (ok, f) = judged(&specs, Some(3), false).expect("judged");
        assert!(!ok);
        assert!(f.iter().any(|f| f.code == Code::SignersThresholdNotMet));
        // Under `all` the failing signer rejects whatever k.
        assert_eq!(judged(&specs, Some(2), true).map(|v| v.0), Some(false));
    }

    #[test]
    fn one_identity_signing_twice_is_one_signer() {
        let specs = [(0, true, 0, false), (0, true, 1, false)];
        assert_eq!(judged(&specs, Some(2), false).map(|v| v.0), Some(false));
        // Two SANs under one keyless policy entry are two identities.
        let specs = [(3, true, 0, false), (4, true, 1, false)];
        assert_eq!(judged(&specs, Some(2), false).map(|v| v.0), Some(true));
    }

    #[test]
    fn without_signers_or_all_the_newest_bundle_path_decides() {
        assert!(judged(&[(0, true, 0, false)], None, false).is_none());
        // Only bundles from the future: the newest-bundle path rejects them as such.
        assert!(judged(&[(0, true, 0, true)], Some(1), true).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn the_verdict_is_the_documented_k_of_n(
            specs in prop::collection::vec((0u8..5, any::<bool>(), 0u8..4, prop::bool::weighted(0.15)), 0..7),
            k in prop::option::of(1usize..5),
            all in any::<bool>(),
        ) {
            let got = judged(&specs, k, all).map(|v| v.0);
            prop_assert_eq!(got, oracle(&specs, k, all), "{:?} k={:?} all={}", specs, k, all);
        }
    }
}
