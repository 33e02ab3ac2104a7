//! Loading and validating policy files.
//!
//! The TOML is first deserialised into `Raw*` mirror types that keep every value's byte span
//! ([`toml::Spanned`]) and deny unknown keys; then each rule is validated and converted into the
//! public model, turning spans into 1-based `line:column` positions.

use super::rules::RuleError;
use super::{
    KeylessIdentity, MAX_RULES, POLICY_VERSION, Policy, PolicyError, Reproduce, Require, Rule,
    Select, Signer, SignerIdentity, Threshold, TrustedVerifier,
};
use crate::finding::Origin;
use crate::statement::{IsolationMode, METRICS};
use p256::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The largest policy file [`Policy::load`] reads (1 MiB).
pub const MAX_POLICY_SIZE: u64 = 1024 * 1024;

/// The largest public key file a policy may reference (64 KiB).
pub const MAX_KEY_FILE_SIZE: u64 = 64 * 1024;

const FINGERPRINT_PREFIX: &str = "sha256:";

/// The values `[require] isolation` accepts.
const ISOLATION_VALUES: &[&str] = &["sandbox"];

impl Policy {
    /// Reads and validates the policy file at `path`; key files are resolved relative to the
    /// policy file's directory.
    ///
    /// # Errors
    /// A [`PolicyError`] positioned at the offending text (no position, line and column 0, when
    /// the file itself cannot be read, is larger than [`MAX_POLICY_SIZE`] or is not UTF-8).
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let label = path.display().to_string();
        let whole_file = |message: String| PolicyError {
            file: label.clone(),
            line: 0,
            column: 0,
            message,
        };
        let file = std::fs::File::open(path).map_err(|e| {
            whole_file(format!(
                "expected a readable policy file, found: {}{}",
                lower(&e),
                if e.kind() == std::io::ErrorKind::NotFound {
                    "; pass --policy FILE, or run `ci-attest init` to write policies/default.toml"
                } else {
                    ""
                }
            ))
        })?;
        let mut bytes = Vec::new();
        file.take(MAX_POLICY_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                whole_file(format!(
                    "expected a readable policy file, found: {}",
                    lower(&e)
                ))
            })?;
        if bytes.len() as u64 > MAX_POLICY_SIZE {
            return Err(whole_file(format!(
                "policy file is larger than the limit of {MAX_POLICY_SIZE} bytes"
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            whole_file(format!(
                "policy file is not UTF-8 (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        let base_dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Policy::parse(&text, &label, &base_dir)
    }

    /// Parses and validates policy text. `file_label` names the file in errors and origins;
    /// `base_dir` is where relative key file paths are resolved from.
    ///
    /// # Errors
    /// A [`PolicyError`] positioned at the offending text.
    pub fn parse(text: &str, file_label: &str, base_dir: &Path) -> Result<Policy, PolicyError> {
        let src = Source {
            text,
            label: file_label,
            key_files: None,
        };
        if text.len() as u64 > MAX_POLICY_SIZE {
            return Err(src.error(
                0..0,
                format!("policy is larger than the limit of {MAX_POLICY_SIZE} bytes"),
            ));
        }
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            src.error(span, clean_toml_message(e.message()))
        })?;
        src.validate(raw, base_dir)
    }
}

/// The policy text and its label, for turning byte spans into positions.
struct Source<'a> {
    text: &'a str,
    label: &'a str,
    /// Key file contents by the path the policy writes, instead of reading files (a replayed
    /// auditor's package carries them).
    key_files: Option<&'a BTreeMap<String, String>>,
}

impl Policy {
    /// [`Policy::parse`] with the key files the policy names given as text by the path written in
    /// the policy (`key = "<path>"`), instead of read from disk: an auditor's package replays a
    /// policy this way on a machine without its folder. A path not in `key_files` is an error.
    ///
    /// # Errors
    /// A [`PolicyError`] positioned at the offending text.
    pub fn parse_with_key_files(
        text: &str,
        file_label: &str,
        key_files: &BTreeMap<String, String>,
    ) -> Result<Policy, PolicyError> {
        let src = Source {
            text,
            label: file_label,
            key_files: Some(key_files),
        };
        if text.len() as u64 > MAX_POLICY_SIZE {
            return Err(src.error(
                0..0,
                format!("policy is larger than the limit of {MAX_POLICY_SIZE} bytes"),
            ));
        }
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            src.error(span, clean_toml_message(e.message()))
        })?;
        src.validate(raw, Path::new("."))
    }
}

impl Source<'_> {
    /// The 1-based line and column (in characters) of a byte offset.
    fn origin(&self, offset: usize) -> Origin {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Origin {
            file: self.label.to_string(),
            line,
            column,
        }
    }

    fn error(&self, span: Range<usize>, message: impl Into<String>) -> PolicyError {
        let o = self.origin(span.start);
        PolicyError {
            file: o.file,
            line: o.line,
            column: o.column,
            message: message.into(),
        }
    }

    fn validate(&self, raw: RawPolicy, base_dir: &Path) -> Result<Policy, PolicyError> {
        if let Some(v) = &raw.version {
            if *v.get_ref() != POLICY_VERSION {
                return Err(self.error(
                    v.span(),
                    format!(
                        "unsupported policy version: expected {POLICY_VERSION}, found {}",
                        v.get_ref()
                    ),
                ));
            }
        }
        let signers = self.signers(raw.signer, base_dir)?;
        let require = match raw.require {
            Some(r) => self.require(r, &signers)?,
            None => Require::default(),
        };
        let thresholds = match raw.thresholds {
            Some(t) => self.thresholds(t)?,
            None => Vec::new(),
        };
        let rules = self.rules(raw.rule.unwrap_or_default())?;
        let reproduce = match raw.reproduce {
            Some(r) => self.reproduce(r)?,
            None => Reproduce::default(),
        };
        let verifiers = self.verifiers(raw.verifier, &signers)?;
        Ok(Policy {
            file: self.label.to_string(),
            signers,
            require,
            thresholds,
            rules,
            reproduce,
            verifiers,
            sha256: hex::encode(Sha256::digest(self.text.as_bytes())),
        })
    }

    /// `[[verifier]]` entries: each names a declared signer, a non-empty id and optionally a
    /// policy digest of 64 lowercase hex digits.
    fn verifiers(
        &self,
        raw: Option<Vec<Spanned<RawVerifier>>>,
        signers: &[Signer],
    ) -> Result<Vec<TrustedVerifier>, PolicyError> {
        let mut out = Vec::new();
        for v in raw.unwrap_or_default() {
            let v = v.into_inner();
            let signer = v.signer.get_ref().trim();
            if !signers.iter().any(|s| s.name == signer) {
                let names: Vec<&str> = signers.iter().map(|s| s.name.as_str()).collect();
                return Err(self.error(
                    v.signer.span(),
                    format!(
                        "verifier signer `{signer}`: expected the name of a `[[signer]]` ({}), found none by that name",
                        names.join(", ")
                    ),
                ));
            }
            let id = v.id.get_ref().trim();
            if id.is_empty() || !id.contains(':') {
                return Err(self.error(
                    v.id.span(),
                    format!("verifier id: expected a URI such as `https://ci-attest.dev/verifier`, found {id:?}"),
                ));
            }
            let policy_sha256 = match &v.policy_sha256 {
                Some(d) => {
                    let hex = d.get_ref();
                    if hex.len() != 64
                        || !hex
                            .bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                    {
                        return Err(self.error(
                            d.span(),
                            format!(
                                "policy_sha256: expected 64 lowercase hex digits, found {hex:?}"
                            ),
                        ));
                    }
                    Some(hex.clone())
                }
                None => None,
            };
            out.push(TrustedVerifier {
                signer: signer.to_string(),
                id: id.to_string(),
                policy_sha256,
                origin: self.origin(v.signer.span().start),
            });
        }
        Ok(out)
    }

    fn signers(
        &self,
        raw: Option<Spanned<SignerList>>,
        base_dir: &Path,
    ) -> Result<Vec<Signer>, PolicyError> {
        let Some(raw) = raw.filter(|r| !r.get_ref().0.is_empty()) else {
            return Err(self.error(
                0..0,
                "the policy trusts no signer: expected at least one `[[signer]]` table with a \
                 `name` and a `key` or `fingerprint`, found none",
            ));
        };
        let mut signers: Vec<Signer> = Vec::new();
        for s in raw.into_inner().0 {
            let table_span = s.span();
            let s = s.into_inner();
            let name = s.name.get_ref().trim();
            if name.is_empty() {
                return Err(self.error(
                    s.name.span(),
                    "signer name is empty: expected a non-empty name",
                ));
            }
            if let Some(prev) = signers.iter().find(|p| p.name == name) {
                return Err(self.error(
                    s.name.span(),
                    format!(
                        "duplicate signer name `{name}`: expected unique names, found `{name}` \
                         already declared at {}",
                        prev.origin
                    ),
                ));
            }
            let keyless = s.issuer.is_some() || s.identity.is_some() || s.identity_regex.is_some();
            let identity = if keyless {
                self.keyless_signer(&s, name, table_span.clone())?
            } else {
                match (&s.key, &s.fingerprint) {
                    (Some(_), Some(fp)) => {
                        return Err(self.error(
                            fp.span(),
                            format!(
                                "signer `{name}` has both `key` and `fingerprint`: expected exactly one"
                            ),
                        ));
                    }
                    (None, None) => {
                        return Err(self.error(
                            table_span,
                            format!(
                                "signer `{name}` has neither `key` nor `fingerprint` nor `issuer`: \
                                 expected `key = \"<public key PEM file>\"`, `fingerprint = \"sha256:<64 hex>\"` \
                                 or `issuer` + `identity` / `identity_regex`"
                            ),
                        ));
                    }
                    (Some(key), None) => self.key_file(key, base_dir)?,
                    (None, Some(fp)) => SignerIdentity::Key {
                        fingerprint: self.fingerprint(fp)?,
                        public_key_pem: None,
                    },
                }
            };
            if let SignerIdentity::Key { fingerprint, .. } = &identity {
                if let Some(prev) = signers
                    .iter()
                    .find(|p| p.fingerprint() == Some(fingerprint))
                {
                    return Err(self.error(
                        s.fingerprint
                            .as_ref()
                            .or(s.key.as_ref())
                            .map_or(table_span, |v| v.span()),
                        format!(
                            "signer `{name}` has the same key as signer `{}` (declared at {}): \
                             expected each key to be trusted once, found {fingerprint} twice",
                            prev.name, prev.origin
                        ),
                    ));
                }
            }
            signers.push(Signer {
                name: name.to_string(),
                identity,
                origin: self.origin(s.name.span().start),
            });
        }
        Ok(signers)
    }

    fn keyless_signer(
        &self,
        s: &RawSigner,
        name: &str,
        table_span: std::ops::Range<usize>,
    ) -> Result<SignerIdentity, PolicyError> {
        if let Some(k) = s.key.as_ref().or(s.fingerprint.as_ref()) {
            return Err(self.error(
                k.span(),
                format!(
                    "signer `{name}` mixes a key with a keyless identity: expected either \
                     `key`/`fingerprint` or `issuer` + `identity`/`identity_regex`"
                ),
            ));
        }
        let Some(issuer) = &s.issuer else {
            return Err(self.error(
                table_span,
                format!(
                    "keyless signer `{name}`: expected `issuer = \"<OIDC issuer URL>\"`, found none"
                ),
            ));
        };
        let identity = match (&s.identity, &s.identity_regex) {
            (Some(id), None) if !id.get_ref().is_empty() => {
                KeylessIdentity::Exact(id.get_ref().clone())
            }
            (None, Some(re)) => {
                crate::verify::cert::SanRegex::new(re.get_ref()).map_err(|e| {
                    self.error(re.span(), format!("identity_regex of signer `{name}`: {e}"))
                })?;
                KeylessIdentity::Regex(re.get_ref().clone())
            }
            (Some(id), Some(_)) => {
                return Err(self.error(
                    id.span(),
                    format!("keyless signer `{name}` has both `identity` and `identity_regex`: expected exactly one"),
                ));
            }
            _ => {
                return Err(self.error(
                    table_span,
                    format!("keyless signer `{name}`: expected a non-empty `identity` or `identity_regex`, found none"),
                ));
            }
        };
        Ok(SignerIdentity::Keyless {
            issuer: issuer.get_ref().clone(),
            identity,
        })
    }

    fn key_file(
        &self,
        key: &Spanned<String>,
        base_dir: &Path,
    ) -> Result<SignerIdentity, PolicyError> {
        let path = base_dir.join(key.get_ref());
        let err = |what: String| self.error(key.span(), what);
        let text = match self.key_files {
            Some(given) => given
                .get(key.get_ref())
                .cloned()
                .ok_or_else(|| "not among the key files given".to_string()),
            None => read_limited(&path, MAX_KEY_FILE_SIZE),
        };
        let text = text.map_err(|e| {
            err(format!(
                "cannot read key file `{}`: {e}; expected a P-256 public key PEM file \
                 (paths are relative to the policy file)",
                path.display()
            ))
        })?;
        if text.contains("PRIVATE KEY") {
            return Err(err(format!(
                "key file `{}` holds a private key: expected the public key PEM \
                 (`-----BEGIN PUBLIC KEY-----`); never give the verifier a private key",
                path.display()
            )));
        }
        let public = p256::PublicKey::from_public_key_pem(&text).map_err(|e| {
            err(format!(
                "key file `{}` is not a P-256 public key: expected a SubjectPublicKeyInfo PEM \
                 (`-----BEGIN PUBLIC KEY-----`) of a P-256 key, found a file that does not decode \
                 as one ({})",
                path.display(),
                lower(&e)
            ))
        })?;
        let der = public.to_public_key_der().map_err(|e| {
            err(format!(
                "key file `{}`: cannot encode the key ({})",
                path.display(),
                lower(&e)
            ))
        })?;
        let pem = public.to_public_key_pem(LineEnding::LF).map_err(|e| {
            err(format!(
                "key file `{}`: cannot encode the key ({})",
                path.display(),
                lower(&e)
            ))
        })?;
        Ok(SignerIdentity::Key {
            fingerprint: fingerprint_of_der(der.as_bytes()),
            public_key_pem: Some(pem),
        })
    }

    fn fingerprint(&self, fp: &Spanned<String>) -> Result<String, PolicyError> {
        let value = fp.get_ref().trim();
        let hex = value.strip_prefix(FINGERPRINT_PREFIX);
        match hex {
            Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(format!("{FINGERPRINT_PREFIX}{}", h.to_ascii_lowercase()))
            }
            _ => Err(self.error(
                fp.span(),
                format!(
                    "malformed fingerprint: expected `sha256:` followed by 64 hex digits (the \
                     sha256 of the key's SubjectPublicKeyInfo DER), found `{}`",
                    truncate(value, 100)
                ),
            )),
        }
    }

    fn rules(&self, raw: Vec<Spanned<RawRule>>) -> Result<Vec<Rule>, PolicyError> {
        if let Some(extra) = raw.get(MAX_RULES) {
            return Err(self.error(
                extra.span(),
                format!(
                    "too many rules: expected at most {MAX_RULES} `[[rule]]` tables, found {}",
                    raw.len()
                ),
            ));
        }
        let mut out: Vec<Rule> = Vec::with_capacity(raw.len());
        for r in raw {
            let r = r.into_inner();
            let name = match &r.name {
                Some(n) if n.get_ref().trim().is_empty() => {
                    return Err(self.error(
                        n.span(),
                        "rule name is empty: expected a name, or no `name` key",
                    ));
                }
                Some(n) => {
                    let name = n.get_ref().trim();
                    if let Some(prev) = out.iter().find(|p| p.name.as_deref() == Some(name)) {
                        return Err(self.error(
                            n.span(),
                            format!(
                                "duplicate rule name `{}`: expected unique names, found it \
                                 already declared at {}",
                                truncate(name, 100),
                                prev.origin
                            ),
                        ));
                    }
                    Some(name.to_string())
                }
                None => None,
            };
            let message = r.message.get_ref().trim();
            if message.is_empty() {
                return Err(self.error(
                    r.message.span(),
                    "rule message is empty: expected what a rejection should say",
                ));
            }
            let expr_span = r.expr.span();
            let origin = self.origin(expr_span.start);
            let rule = Rule::compile(name, r.expr.get_ref(), message.to_string(), origin).map_err(
                |RuleError { offset, message }| {
                    let raw_text = self.text.get(expr_span.clone()).unwrap_or("");
                    let at = offset.map_or(expr_span.start, |o| {
                        expr_span.start + raw_offset_in_string(raw_text, o)
                    });
                    self.error(at..at, message)
                },
            )?;
            out.push(rule);
        }
        Ok(out)
    }

    fn require(&self, raw: RawRequire, signers: &[Signer]) -> Result<Require, PolicyError> {
        let mut checks: Vec<(String, Origin)> = Vec::new();
        for c in raw.checks.unwrap_or_default() {
            let name = c.get_ref().trim();
            if name.is_empty() {
                return Err(self.error(
                    c.span(),
                    "required check name is empty: expected a check name from `.ci-attest.toml`",
                ));
            }
            if let Some((_, prev)) = checks.iter().find(|(n, _)| n == name) {
                return Err(self.error(
                    c.span(),
                    format!("check `{name}` is required twice: already listed at {prev}"),
                ));
            }
            checks.push((name.to_string(), self.origin(c.span().start)));
        }
        let max_age = match raw.max_age {
            None => None,
            Some(m) => {
                let d = humantime::parse_duration(m.get_ref().trim()).map_err(|e| {
                    self.error(
                        m.span(),
                        format!(
                            "malformed max_age: expected a duration such as \"30d\", \"12h\" or \
                             \"90m\", found \"{}\" ({})",
                            truncate(m.get_ref(), 100),
                            lower(&e)
                        ),
                    )
                })?;
                if d.is_zero() {
                    return Err(self.error(
                        m.span(),
                        "max_age is zero: expected a positive duration such as \"30d\" (a zero \
                         max_age rejects every attestation)",
                    ));
                }
                Some((d, self.origin(m.span().start)))
            }
        };
        let pristine = raw
            .pristine
            .map(|p| (*p.get_ref(), self.origin(p.span().start)));
        let repository = match raw.repository {
            None => None,
            Some(r) => {
                let uri = r.get_ref().trim();
                if uri.is_empty() {
                    return Err(self.error(
                        r.span(),
                        "repository is empty: expected a URI such as \
                         \"https://github.com/owner/name\"",
                    ));
                }
                Some((uri.to_string(), self.origin(r.span().start)))
            }
        };
        let tlog = raw
            .tlog
            .map(|t| (*t.get_ref(), self.origin(t.span().start)));
        let isolation = match raw.isolation {
            None => None,
            Some(i) => match i.get_ref().as_str() {
                "sandbox" => Some((IsolationMode::Sandbox, self.origin(i.span().start))),
                other => {
                    return Err(self.error(
                        i.span(),
                        format!(
                            "unknown isolation `{}`: expected one of {} (leave `isolation` out \
                             to accept runs without a sandbox)",
                            truncate(other, 100),
                            ISOLATION_VALUES
                                .iter()
                                .map(|v| format!("\"{v}\""))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            },
        };
        let config_from_commit = raw
            .config_from_commit
            .map(|c| (*c.get_ref(), self.origin(c.span().start)));
        let from_scratch = raw
            .from_scratch
            .map(|c| (*c.get_ref(), self.origin(c.span().start)));
        let signer_threshold = match raw.signers {
            None => None,
            Some(k) => {
                let n = *k.get_ref();
                let can_count = signers
                    .iter()
                    .all(|s| matches!(s.identity, SignerIdentity::Key { .. }));
                if !(1..=MAX_SIGNERS_THRESHOLD).contains(&n) {
                    return Err(self.error(
                        k.span(),
                        format!(
                            "signers = {n}: expected a number of distinct signers from 1 to \
                             {MAX_SIGNERS_THRESHOLD}"
                        ),
                    ));
                }
                if can_count && n as usize > signers.len() {
                    return Err(self.error(
                        k.span(),
                        format!(
                            "signers = {n} can never be met: expected at most the number of \
                             trusted key signers, found {} `[[signer]]` key(s)",
                            signers.len()
                        ),
                    ));
                }
                Some((n as usize, self.origin(k.span().start)))
            }
        };
        let select = match raw.select {
            None => None,
            Some(s) => {
                let chosen = match s.get_ref().as_str() {
                    "newest" => Select::Newest,
                    "all" => Select::All,
                    other => {
                        return Err(self.error(
                            s.span(),
                            format!(
                                "unknown select `{}`: expected one of \"newest\", \"all\"",
                                truncate(other, 100)
                            ),
                        ));
                    }
                };
                Some((chosen, self.origin(s.span().start)))
            }
        };
        Ok(Require {
            checks,
            max_age,
            pristine,
            repository,
            tlog,
            isolation,
            config_from_commit,
            from_scratch,
            signers: signer_threshold,
            select,
        })
    }

    fn reproduce(&self, raw: RawReproduce) -> Result<Reproduce, PolicyError> {
        let coverage_tolerance = match raw.coverage_tolerance {
            Some(t) => {
                let v = *t.get_ref();
                if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
                    return Err(self.error(
                        t.span(),
                        format!(
                            "`coverage_tolerance` is in percentage points: expected a number from 0 to 100 (e.g. 0.5), found {v}"
                        ),
                    ));
                }
                Some((v, self.origin(t.span().start)))
            }
            None => None,
        };
        Ok(Reproduce { coverage_tolerance })
    }

    fn thresholds(&self, raw: RawThresholds) -> Result<Vec<Threshold>, PolicyError> {
        if let Some((group, span)) = raw.empty_groups.first() {
            return Err(self.error(
                span.clone(),
                format!(
                    "threshold group `{group}` is empty: expected `\"{group}.<metric>\" = \
                     {{ min = x }}` and/or `{{ max = y }}` entries"
                ),
            ));
        }
        // The TOML table is a sorted map; the spans give back the file order.
        let mut entries = raw.entries;
        entries.sort_by_key(|t| t.key_span.start);
        let mut out = Vec::with_capacity(entries.len());
        for t in entries {
            let (check, metric) = match t.key.rsplit_once('.') {
                Some((c, m)) if !c.is_empty() && !m.is_empty() => (c, m),
                _ => {
                    return Err(self.error(
                        t.key_span,
                        format!(
                            "malformed threshold key: expected `<check>.<metric>` (e.g. \
                             \"tests.failed\"), found `{}`",
                            truncate(&t.key, 100)
                        ),
                    ));
                }
            };
            if !METRICS.iter().any(|(m, _)| *m == metric) {
                return Err(self.error(
                    t.key_span,
                    format!(
                        "unknown metric `{}` in threshold `{}`: expected one of {}",
                        truncate(metric, 100),
                        truncate(&t.key, 100),
                        known_metrics()
                    ),
                ));
            }
            let bound_span = t.bound.span();
            let bound = t.bound.into_inner();
            for (which, v) in [("min", &bound.min), ("max", &bound.max)] {
                if let Some(v) = v {
                    if !v.get_ref().is_finite() {
                        return Err(self.error(
                            v.span(),
                            format!(
                                "threshold `{}`: {which} must be a finite number, found {}",
                                t.key,
                                v.get_ref()
                            ),
                        ));
                    }
                    let x = *v.get_ref();
                    if PERCENT_METRICS.contains(&metric) {
                        if !(0.0..=100.0).contains(&x) {
                            return Err(self.error(
                                v.span(),
                                format!(
                                    "threshold `{}`: `{metric}` is a percentage: expected {which} \
                                     from 0 to 100, found {x}",
                                    t.key
                                ),
                            ));
                        }
                        if x > 0.0 && x < 1.0 {
                            return Err(self.error(
                                v.span(),
                                format!(
                                    "threshold `{}`: `{metric}` is a percentage from 0 to 100, \
                                     found {which} = {x}, which reads as a fraction: for {} % \
                                     write {which} = {}",
                                    t.key,
                                    x * 100.0,
                                    format_bound(x * 100.0)
                                ),
                            ));
                        }
                    }
                }
            }
            let min = bound.min.as_ref().map(|v| *v.get_ref());
            let max = bound.max.as_ref().map(|v| *v.get_ref());
            match (min, max) {
                (None, None) => {
                    return Err(self.error(
                        bound_span,
                        format!(
                            "threshold `{}` sets no bound: expected `min` and/or `max`, found \
                             neither",
                            t.key
                        ),
                    ));
                }
                (Some(lo), Some(hi)) if lo > hi => {
                    return Err(self.error(
                        bound_span,
                        format!(
                            "threshold `{}` can never be met: expected min <= max, found min = \
                             {lo} > max = {hi}",
                            t.key
                        ),
                    ));
                }
                _ => {}
            }
            out.push(Threshold {
                check: check.to_string(),
                metric: metric.to_string(),
                min,
                max,
                origin: self.origin(t.key_span.start),
            });
        }
        Ok(out)
    }
}

/// The largest `signers = k` a policy may ask for.
const MAX_SIGNERS_THRESHOLD: i64 = 64;

/// The byte offset, within a TOML string token `raw` (quotes included), of the decoded string's
/// byte `decoded`: escapes (`\n`, `\u00e9`...) and a multi-line string's first newline and
/// line-ending backslashes take raw bytes that decode to fewer (or no) bytes.
fn raw_offset_in_string(raw: &str, decoded: usize) -> usize {
    let (delim, basic) = if raw.starts_with("\"\"\"") {
        (3, true)
    } else if raw.starts_with("'''") {
        (3, false)
    } else if raw.starts_with('"') {
        (1, true)
    } else if raw.starts_with('\'') {
        (1, false)
    } else {
        return 0;
    };
    let mut i = delim;
    if delim == 3 {
        if raw[i..].starts_with("\r\n") {
            i += 2;
        } else if raw[i..].starts_with('\n') {
            i += 1;
        }
    }
    let mut seen = 0;
    let bytes = raw.as_bytes();
    while i < raw.len() && seen < decoded {
        let Some(c) = raw[i..].chars().next() else {
            break;
        };
        if basic && c == '\\' {
            let next = bytes.get(i + 1).copied().unwrap_or(b' ');
            match next {
                b'u' | b'U' => {
                    let n = if next == b'u' { 4 } else { 8 };
                    let cp = raw
                        .get(i + 2..i + 2 + n)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .and_then(char::from_u32)
                        .map_or(1, char::len_utf8);
                    seen += cp;
                    i += 2 + n;
                }
                b' ' | b'\t' | b'\n' | b'\r' if delim == 3 => {
                    // A line-ending backslash: it and the whitespace after it decode to nothing.
                    i += 1;
                    while i < raw.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
                        i += 1;
                    }
                }
                _ => {
                    seen += 1;
                    i += 2;
                }
            }
        } else {
            seen += c.len_utf8();
            i += c.len_utf8();
        }
    }
    // A decoded position just after a line-ending backslash is the first character after it.
    if basic && delim == 3 && bytes.get(i) == Some(&b'\\') {
        let mut j = i + 1;
        while j < raw.len() && matches!(bytes[j], b' ' | b'\t' | b'\n' | b'\r') {
            j += 1;
        }
        if j > i + 1 && bytes[i + 1..j].contains(&b'\n') {
            i = j;
        }
    }
    i.min(raw.len())
}

/// Metrics measured in percent (0 to 100): a bound between 0 and 1 is taken for a fraction
/// written by mistake and refused.
const PERCENT_METRICS: &[&str] = &["pass_rate", "lines", "branches", "functions"];

/// A bound as TOML writes a float (`85.0`, `99.5`).
fn format_bound(x: f64) -> String {
    let rounded = (x * 1e6).round() / 1e6;
    if rounded.fract() == 0.0 {
        format!("{rounded:.1}")
    } else {
        format!("{rounded}")
    }
}

/// `sha256:<lowercase hex>` of a SubjectPublicKeyInfo DER: the fingerprint policies use.
pub(crate) fn fingerprint_of_der(spki_der: &[u8]) -> String {
    format!(
        "{FINGERPRINT_PREFIX}{}",
        hex::encode(Sha256::digest(spki_der))
    )
}

fn known_metrics() -> String {
    METRICS
        .iter()
        .map(|(m, _)| *m)
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_limited(path: &Path, limit: u64) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| lower(&e))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| lower(&e))?;
    if bytes.len() as u64 > limit {
        return Err(format!("file is larger than the limit of {limit} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| "file is not UTF-8 text".to_string())
}

/// An error's message with a lowercase first letter, on one line.
fn lower(e: &dyn fmt::Display) -> String {
    let s = e.to_string().replace('\n', "; ");
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => s,
    }
}

fn clean_toml_message(message: &str) -> String {
    let m = lower(&message.trim())
        .replace("expected f64", "expected a number")
        .replace("expected i64", "expected an integer")
        .replace("expected a sequence", "expected an array");
    if m.is_empty() {
        "malformed TOML".to_string()
    } else {
        m
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max_chars).collect();
        t.push('…');
        t
    }
}

// ---- raw mirror types -------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a policy table")]
struct RawPolicy {
    #[serde(default)]
    version: Option<Spanned<i64>>,
    #[serde(default)]
    signer: Option<Spanned<SignerList>>,
    #[serde(default)]
    require: Option<RawRequire>,
    #[serde(default)]
    thresholds: Option<RawThresholds>,
    #[serde(default)]
    rule: Option<Vec<Spanned<RawRule>>>,
    reproduce: Option<RawReproduce>,
    verifier: Option<Vec<Spanned<RawVerifier>>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a `[[rule]]` table with `expr`, `message` and optionally `name`"
)]
struct RawRule {
    #[serde(default)]
    name: Option<Spanned<String>>,
    expr: Spanned<String>,
    message: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a `[reproduce]` table (`coverage_tolerance`)"
)]
struct RawReproduce {
    #[serde(default)]
    coverage_tolerance: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a `[[verifier]]` table with `signer`, `id` and optionally `policy_sha256`"
)]
struct RawVerifier {
    signer: Spanned<String>,
    id: Spanned<String>,
    #[serde(default)]
    policy_sha256: Option<Spanned<String>>,
}

/// The `[[signer]]` array of tables.
struct SignerList(Vec<Spanned<RawSigner>>);

impl<'de> Deserialize<'de> for SignerList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SignerList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of `[[signer]]` tables (with double brackets)")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<SignerList, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element()? {
                    out.push(s);
                }
                Ok(SignerList(out))
            }
        }
        d.deserialize_seq(V)
    }
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a `[[signer]]` table with `name` and `key`, `fingerprint` or `issuer` + `identity`/`identity_regex`"
)]
struct RawSigner {
    name: Spanned<String>,
    #[serde(default)]
    key: Option<Spanned<String>>,
    #[serde(default)]
    fingerprint: Option<Spanned<String>>,
    #[serde(default)]
    issuer: Option<Spanned<String>>,
    #[serde(default)]
    identity: Option<Spanned<String>>,
    #[serde(default)]
    identity_regex: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a `[require]` table (`checks`, `max_age`, `pristine`, `repository`, `tlog`, `isolation`, `config_from_commit`, `from_scratch`, `signers`, `select`)"
)]
struct RawRequire {
    #[serde(default)]
    checks: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    max_age: Option<Spanned<String>>,
    #[serde(default)]
    pristine: Option<Spanned<bool>>,
    #[serde(default)]
    repository: Option<Spanned<String>>,
    #[serde(default)]
    tlog: Option<Spanned<bool>>,
    #[serde(default)]
    isolation: Option<Spanned<String>>,
    #[serde(default)]
    config_from_commit: Option<Spanned<bool>>,
    #[serde(default)]
    from_scratch: Option<Spanned<bool>>,
    #[serde(default)]
    signers: Option<Spanned<i64>>,
    #[serde(default)]
    select: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a threshold bound table: `{ min = x }`, `{ max = y }` or `{ min = x, max = y }`"
)]
struct RawBound {
    #[serde(default)]
    min: Option<Spanned<f64>>,
    #[serde(default)]
    max: Option<Spanned<f64>>,
}

/// One `"<check>.<metric>" = { ... }` entry, key not yet validated.
struct RawThreshold {
    key: String,
    key_span: Range<usize>,
    bound: Spanned<RawBound>,
}

/// The `[thresholds]` table in file order. Accepts both `"tests.failed" = { max = 0 }` and the
/// grouped form `[thresholds.tests]` / `tests.failed = { max = 0 }` (TOML dotted keys).
struct RawThresholds {
    entries: Vec<RawThreshold>,
    empty_groups: Vec<(String, Range<usize>)>,
}

impl<'de> Deserialize<'de> for RawThresholds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ThresholdsVisitor)
    }
}

struct ThresholdsVisitor;

impl<'de> Visitor<'de> for ThresholdsVisitor {
    type Value = RawThresholds;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of `\"<check>.<metric>\" = { min = x, max = y }` entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawThresholds, A::Error> {
        let mut out = RawThresholds {
            entries: Vec::new(),
            empty_groups: Vec::new(),
        };
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let key_span = key.span();
            let key = key.into_inner();
            if key.contains('.') {
                let bound: Spanned<RawBound> = map.next_value()?;
                out.entries.push(RawThreshold {
                    key,
                    key_span,
                    bound,
                });
            } else {
                let group: Spanned<ThresholdGroup> = map.next_value()?;
                let group_span = group.span();
                let group = group.into_inner();
                if group.0.is_empty() {
                    out.empty_groups.push((key.clone(), group_span));
                }
                for (metric, bound) in group.0 {
                    out.entries.push(RawThreshold {
                        key: format!("{key}.{}", metric.get_ref().0),
                        key_span: metric.span(),
                        bound,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// `[thresholds.<check>]`: metric -> bound, in file order.
struct ThresholdGroup(Vec<(Spanned<MetricName>, Spanned<RawBound>)>);

impl<'de> Deserialize<'de> for ThresholdGroup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ThresholdGroup;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a threshold: `\"<check>.<metric>\" = { min = x }` and/or `{ max = y }`",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ThresholdGroup, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<Spanned<MetricName>>()? {
                    let v: Spanned<RawBound> = map.next_value()?;
                    out.push((k, v));
                }
                Ok(ThresholdGroup(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A metric name, checked against [`METRICS`] while deserialising so the error points at it.
struct MetricName(String);

impl<'de> Deserialize<'de> for MetricName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if METRICS.iter().any(|(m, _)| *m == s) {
            Ok(MetricName(s))
        } else if s == "min" || s == "max" {
            Err(de::Error::custom(format!(
                "malformed threshold: expected a key of the form `<check>.<metric>` (e.g. \
                 `\"tests.failed\" = {{ {s} = 0 }}`), found `{s}` directly under a check name"
            )))
        } else {
            Err(de::Error::custom(format!(
                "unknown metric `{}`: expected one of {}",
                truncate(&s, 100),
                known_metrics()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{FP, parse, policy, public_key_pem};
    use super::*;
    use std::time::Duration;

    const SIGNER: &str = "[[signer]]\nname = \"alice\"\nfingerprint = \"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n";

    /// Parses `text` and returns the error, failing the test if it loads.
    fn error(text: &str) -> PolicyError {
        match parse(text) {
            Ok(p) => panic!("expected an error, loaded {p:?}"),
            Err(e) => e,
        }
    }

    fn assert_at(e: &PolicyError, line: usize, column: usize, needle: &str) {
        assert_eq!((e.line, e.column), (line, column), "{e}");
        assert!(e.message.contains(needle), "`{needle}` not in: {e}");
        assert_eq!(e.file, "policy.toml");
    }

    fn write_key_dir() -> (tempfile::TempDir, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (pem, der) = public_key_pem();
        std::fs::create_dir(dir.path().join("keys")).expect("mkdir");
        std::fs::write(dir.path().join("keys/ci-attest.pub"), pem).expect("write key");
        std::fs::create_dir(dir.path().join("policies")).expect("mkdir");
        (dir, der)
    }

    #[test]
    fn the_documented_example_loads_with_positions_in_file_order() {
        let (dir, der) = write_key_dir();
        let path = dir.path().join("policies/default.toml");
        std::fs::write(
            &path,
            r#"version = 1

[[signer]]
name = "alice"
key = "../keys/ci-attest.pub"

[require]
checks = ["tests", "coverage"]
max_age = "30d"
pristine = true
repository = "https://github.com/acme/app"

[thresholds]
"tests.failed" = { max = 0 }
"coverage.lines" = { min = 85.0 }
"lint.errors" = { max = 0 }
"#,
        )
        .expect("write policy");
        let p = Policy::load(&path).expect("loads");
        assert_eq!(p.file, path.display().to_string());
        assert_eq!(p.signers.len(), 1);
        let alice = &p.signers[0];
        assert_eq!(alice.name, "alice");
        assert_eq!((alice.origin.line, alice.origin.column), (4, 8));
        let fp = fingerprint_of_der(&der);
        assert_eq!(alice.fingerprint(), Some(fp.as_str()));
        assert!(fp.starts_with("sha256:") && fp.len() == 7 + 64);
        assert!(
            alice
                .public_key_pem()
                .is_some_and(|k| k.starts_with("-----BEGIN PUBLIC KEY-----"))
        );
        assert_eq!(
            p.signer_by_fingerprint(&fp).map(|s| &s.name),
            Some(&alice.name)
        );
        assert_eq!(
            p.signer_by_fingerprint(&fp.to_uppercase().replace("SHA256", "sha256"))
                .map(|s| s.name.as_str()),
            Some("alice")
        );
        assert!(p.signer_by_fingerprint(FP).is_none());

        let checks: Vec<_> = p
            .require
            .checks
            .iter()
            .map(|(c, o)| (c.as_str(), o.line, o.column))
            .collect();
        assert_eq!(checks, [("tests", 8, 11), ("coverage", 8, 20)]);
        let (age, age_at) = p.require.max_age.clone().expect("max_age");
        assert_eq!(age, Duration::from_secs(30 * 86400));
        assert_eq!((age_at.line, age_at.column), (9, 11));
        assert_eq!(p.require.pristine.as_ref().map(|(b, _)| *b), Some(true));
        assert_eq!(
            p.require.repository.as_ref().map(|(r, _)| r.as_str()),
            Some("https://github.com/acme/app")
        );
        let t: Vec<_> = p
            .thresholds
            .iter()
            .map(|t| (t.key(), t.min, t.max, t.origin.line, t.origin.column))
            .collect();
        assert_eq!(
            t,
            [
                ("tests.failed".to_string(), None, Some(0.0), 14, 1),
                ("coverage.lines".to_string(), Some(85.0), None, 15, 1),
                ("lint.errors".to_string(), None, Some(0.0), 16, 1),
            ]
        );
    }

    #[test]
    fn isolation_and_config_from_commit_load_with_positions() {
        let p = policy("[require]\nisolation = \"sandbox\"\nconfig_from_commit = true\n");
        let (mode, at) = p.require.isolation.clone().expect("isolation");
        assert_eq!(mode, IsolationMode::Sandbox);
        assert_eq!((at.line, at.column), (6, 13));
        let (from_commit, at) = p
            .require
            .config_from_commit
            .clone()
            .expect("config_from_commit");
        assert!(from_commit);
        assert_eq!((at.line, at.column), (7, 22));
        let p = policy("[require]\nconfig_from_commit = false\n");
        assert_eq!(p.require.config_from_commit.map(|(b, _)| b), Some(false));
        assert_eq!(p.require.isolation, None);
    }

    #[test]
    fn an_unknown_isolation_is_rejected_listing_the_allowed_values() {
        let e = error(&format!("{SIGNER}[require]\nisolation = \"bwrap\"\n"));
        assert_at(&e, 5, 13, "unknown isolation `bwrap`");
        assert!(e.message.contains("expected one of \"sandbox\""), "{e}");
        let e = error(&format!("{SIGNER}[require]\nisolation = true\n"));
        assert_at(&e, 5, 13, "string");
    }

    #[test]
    fn grouped_thresholds_are_the_same_as_quoted_keys() {
        let quoted = policy(
            "[thresholds]\n\"tests.failed\" = { max = 0 }\n\"tests.skipped\" = { max = 3 }\n",
        );
        let dotted =
            policy("[thresholds]\ntests.failed = { max = 0 }\ntests.skipped = { max = 3 }\n");
        let table = policy("[thresholds.tests]\nfailed = { max = 0 }\nskipped = { max = 3 }\n");
        let keys = |p: &Policy| -> Vec<(String, Option<f64>)> {
            p.thresholds.iter().map(|t| (t.key(), t.max)).collect()
        };
        assert_eq!(keys(&quoted), keys(&dotted));
        assert_eq!(keys(&quoted), keys(&table));
        assert_eq!(table.thresholds[1].origin.line, 7);
    }

    #[test]
    fn a_check_name_may_contain_dots_when_quoted() {
        let p = policy("[thresholds]\n\"unit.tests.failed\" = { max = 0 }\n");
        assert_eq!(p.thresholds[0].check, "unit.tests");
        assert_eq!(p.thresholds[0].metric, "failed");
    }

    #[test]
    fn a_minimal_policy_needs_only_a_signer() {
        let p = policy("");
        assert!(p.thresholds.is_empty());
        assert_eq!(p.require, Require::default());
    }

    #[test]
    fn verifier_entries_load_with_their_signer_id_and_policy_digest() {
        let p = Policy::parse(
            &format!(
                "{SIGNER}\n[[verifier]]\nsigner = \"alice\"\nid = \"https://ci-attest.dev/verifier\"\npolicy_sha256 = \"{}\"\n",
                "ab".repeat(32)
            ),
            "p.toml",
            Path::new("."),
        )
        .expect("loads");
        assert_eq!(p.verifiers.len(), 1);
        assert_eq!(p.verifiers[0].signer, "alice");
        assert_eq!(p.verifiers[0].id, "https://ci-attest.dev/verifier");
        assert_eq!(p.verifiers[0].policy_sha256, Some("ab".repeat(32)));
        assert_eq!(p.verifiers[0].origin.line, 6);
        assert_eq!(p.sha256.len(), 64);
    }

    #[test]
    fn a_verifier_must_name_a_declared_signer_a_uri_and_a_hex_digest() {
        let e = error(&format!(
            "{SIGNER}\n[[verifier]]\nsigner = \"bob\"\nid = \"https://x.example/v\"\n"
        ));
        assert_at(&e, 6, 10, "verifier signer `bob`");
        let e = error(&format!(
            "{SIGNER}\n[[verifier]]\nsigner = \"alice\"\nid = \"v1\"\n"
        ));
        assert_at(&e, 7, 6, "expected a URI");
        let e = error(&format!(
            "{SIGNER}\n[[verifier]]\nsigner = \"alice\"\nid = \"https://x.example/v\"\npolicy_sha256 = \"AB\"\n"
        ));
        assert_at(&e, 8, 17, "64 lowercase hex");
        let e = error(&format!(
            "{SIGNER}\n[[verifier]]\nsigner = \"alice\"\nid = \"https://x.example/v\"\nkey = \"k\"\n"
        ));
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn misspelt_key_is_an_error_with_line_and_column() {
        let e = error(&format!(
            "{SIGNER}\n[tresholds]\n\"tests.failed\" = {{ max = 0 }}\n"
        ));
        assert_at(&e, 5, 2, "tresholds");
        assert!(
            e.message.contains("thresholds"),
            "lists the known keys: {e}"
        );
        assert_eq!(e.to_string(), format!("policy.toml:5:2: {}", e.message));
    }

    #[test]
    fn misspelt_bound_is_an_error() {
        let e = error(&format!(
            "{SIGNER}[thresholds]\n\"tests.failed\" = {{ mx = 0 }}\n"
        ));
        assert_at(&e, 5, 20, "mx");
    }

    #[test]
    fn misspelt_require_key_is_an_error() {
        let e = error(&format!("{SIGNER}[require]\npristin = true\n"));
        assert_at(&e, 5, 1, "pristin");
    }

    #[test]
    fn misspelt_signer_key_is_an_error() {
        let e = error("[[signer]]\nname = \"a\"\nfingerprnt = \"sha256:00\"\n");
        assert_at(&e, 3, 1, "fingerprnt");
    }

    #[test]
    fn an_identity_regex_that_escapes_its_anchors_is_rejected_at_the_value() {
        let keyless = |re: &str| {
            format!(
                "[[signer]]\nname = \"ci\"\nissuer = \"https://token.actions.githubusercontent.com\"\nidentity_regex = '{re}'\n"
            )
        };
        // `^(?:https://github.com/org/.*)|(.*)$` would be a valid regex matching anything.
        let e = error(&keyless("https://github.com/org/.*)|(.*"));
        assert_at(&e, 4, 18, "identity_regex of signer `ci`");
        assert!(e.message.contains("valid on its own"), "{e}");
        let e = error(&keyless("(https://github.com/org/.*"));
        assert_at(&e, 4, 18, "valid on its own");
        assert!(
            parse(&keyless(
                "(https://github.com/org/a/.*)|(https://github.com/org/b/.*)"
            ))
            .is_ok()
        );
    }

    #[test]
    fn toml_syntax_error_has_line_and_column() {
        let e = error(&format!("{SIGNER}[require]\nchecks = [\"tests\"\n"));
        assert_eq!(e.line, 5, "{e}");
        assert!(e.column > 1, "{e}");
    }

    #[test]
    fn wrong_value_type_is_an_error_at_the_value() {
        let e = error(&format!("{SIGNER}[require]\npristine = \"yes\"\n"));
        assert_at(&e, 5, 12, "bool");
    }

    #[test]
    fn unsupported_version_is_an_error() {
        let e = error(&format!("version = 2\n{SIGNER}"));
        assert_at(&e, 1, 11, "expected 1, found 2");
        assert!(parse(&format!("version = 1\n{SIGNER}")).is_ok());
    }

    #[test]
    fn no_signer_is_an_error() {
        let e = error("[require]\npristine = true\n");
        assert_at(&e, 1, 1, "trusts no signer");
        let e = error("signer = []\n");
        assert!(e.message.contains("trusts no signer"), "{e}");
    }

    #[test]
    fn a_single_bracket_signer_table_is_explained() {
        let e = error("[signer]\nname = \"a\"\nfingerprint = \"x\"\n");
        assert_at(&e, 1, 1, "`[[signer]]`");
    }

    #[test]
    fn a_bound_that_is_not_a_table_is_explained() {
        let e = error(&format!("{SIGNER}[thresholds]\n\"tests.failed\" = 0\n"));
        assert_at(&e, 5, 18, "`{ max = y }`");
        let e = error(&format!(
            "{SIGNER}[thresholds]\n\"tests.failed\" = {{ max = \"0\" }}\n"
        ));
        assert_at(&e, 5, 26, "expected a number");
    }

    #[test]
    fn signer_with_both_key_and_fingerprint_is_rejected() {
        let e = error(&format!("{SIGNER}key = \"k.pub\"\n"));
        assert_at(&e, 3, 15, "both `key` and `fingerprint`");
    }

    #[test]
    fn signer_with_neither_key_nor_fingerprint_is_rejected() {
        let e = error("[[signer]]\nname = \"alice\"\n");
        assert!(e.message.contains("neither `key` nor `fingerprint`"), "{e}");
        assert!(e.line <= 2, "{e}");
    }

    #[test]
    fn duplicate_signer_names_are_rejected() {
        let e = error(&format!(
            "{SIGNER}\n[[signer]]\nname = \"alice\"\nfingerprint = \"sha256:{}\"\n",
            "b".repeat(64)
        ));
        assert_at(&e, 6, 8, "duplicate signer name `alice`");
        assert!(e.message.contains("policy.toml:2:8"), "{e}");
    }

    #[test]
    fn the_same_key_trusted_twice_is_rejected() {
        let e = error(&format!(
            "{SIGNER}\n[[signer]]\nname = \"bob\"\nfingerprint = \"{FP}\"\n"
        ));
        assert_at(&e, 7, 15, "same key as signer `alice`");
    }

    #[test]
    fn malformed_fingerprints_are_rejected() {
        for bad in [
            "aaaa",
            "sha256:abc",
            "sha1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            &format!("sha256:{}", "g".repeat(64)),
            &format!("sha256:{}", "a".repeat(65)),
        ] {
            let e = error(&format!(
                "[[signer]]\nname = \"a\"\nfingerprint = \"{bad}\"\n"
            ));
            assert_at(&e, 3, 15, "64 hex digits");
            assert!(e.message.contains(bad), "{e}");
        }
    }

    #[test]
    fn uppercase_fingerprint_is_normalised_to_lowercase() {
        let p = parse(&format!(
            "[[signer]]\nname = \"a\"\nfingerprint = \"sha256:{}\"\n",
            "AB".repeat(32)
        ))
        .expect("loads");
        let want = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(p.signers[0].fingerprint(), Some(want.as_str()));
    }

    #[test]
    fn unreadable_key_file_names_the_resolved_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = Policy::parse(
            "[[signer]]\nname = \"a\"\nkey = \"missing.pub\"\n",
            "p.toml",
            dir.path(),
        )
        .expect_err("missing key file");
        assert_eq!((e.line, e.column), (3, 7), "{e}");
        let resolved = dir.path().join("missing.pub").display().to_string();
        assert!(e.message.contains(&resolved), "{e}");
    }

    #[test]
    fn key_file_that_is_not_a_p256_public_key_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("junk.pub"), "not a key\n").expect("write");
        let e = Policy::parse(
            "[[signer]]\nname = \"a\"\nkey = \"junk.pub\"\n",
            "p.toml",
            dir.path(),
        )
        .expect_err("junk key");
        assert!(e.message.contains("not a P-256 public key"), "{e}");
        assert!(
            e.message
                .contains(&dir.path().join("junk.pub").display().to_string())
        );
    }

    #[test]
    fn private_key_file_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("k.pem"),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .expect("write");
        let e = Policy::parse(
            "[[signer]]\nname = \"a\"\nkey = \"k.pem\"\n",
            "p.toml",
            dir.path(),
        )
        .expect_err("private key");
        assert!(e.message.contains("private key"), "{e}");
    }

    #[test]
    fn key_file_fingerprint_is_sha256_of_spki_der() {
        let (dir, der) = write_key_dir();
        let p = Policy::parse(
            "[[signer]]\nname = \"a\"\nkey = \"keys/ci-attest.pub\"\n",
            "p.toml",
            dir.path(),
        )
        .expect("loads");
        let want = format!("sha256:{}", hex::encode(Sha256::digest(&der)));
        assert_eq!(p.signers[0].fingerprint(), Some(want.as_str()));
    }

    #[test]
    fn malformed_max_age_is_rejected() {
        let e = error(&format!("{SIGNER}[require]\nmax_age = \"30 dayz\"\n"));
        assert_at(&e, 5, 11, "malformed max_age");
        let e = error(&format!("{SIGNER}[require]\nmax_age = \"0s\"\n"));
        assert_at(&e, 5, 11, "zero");
    }

    #[test]
    fn max_age_accepts_humantime_units() {
        for (text, secs) in [("30d", 30 * 86400), ("12h", 12 * 3600), ("90m", 90 * 60)] {
            let p = policy(&format!("[require]\nmax_age = \"{text}\"\n"));
            assert_eq!(p.require.max_age.map(|(d, _)| d.as_secs()), Some(secs));
        }
    }

    #[test]
    fn threshold_key_without_metric_is_rejected() {
        let e = error(&format!(
            "{SIGNER}[thresholds]\n\"tests.\" = {{ max = 0 }}\n"
        ));
        assert_at(&e, 5, 1, "`<check>.<metric>`");
        let e = error(&format!(
            "{SIGNER}[thresholds]\n\".failed\" = {{ max = 0 }}\n"
        ));
        assert_at(&e, 5, 1, "`<check>.<metric>`");
    }

    #[test]
    fn bound_directly_under_a_check_name_is_rejected() {
        let e = error(&format!("{SIGNER}[thresholds]\ntests = {{ max = 0 }}\n"));
        assert_at(&e, 5, 11, "`<check>.<metric>`");
    }

    #[test]
    fn unknown_metric_is_rejected_listing_the_known_ones() {
        let e = error(&format!(
            "{SIGNER}[thresholds]\n\"tests.fails\" = {{ max = 0 }}\n"
        ));
        assert_at(&e, 5, 1, "unknown metric `fails`");
        for (m, _) in METRICS {
            assert!(e.message.contains(m), "{m} not listed: {e}");
        }
        let e = error(&format!(
            "{SIGNER}[thresholds.tests]\nfails = {{ max = 0 }}\n"
        ));
        assert_at(&e, 5, 1, "unknown metric `fails`");
    }

    #[test]
    fn threshold_without_bounds_is_rejected() {
        let e = error(&format!("{SIGNER}[thresholds]\n\"tests.failed\" = {{}}\n"));
        assert_at(&e, 5, 18, "neither");
        let e = error(&format!("{SIGNER}[thresholds.tests]\n"));
        assert!(e.message.contains("is empty"), "{e}");
    }

    #[test]
    fn min_greater_than_max_is_rejected() {
        let e = error(&format!(
            "{SIGNER}[thresholds]\n\"coverage.lines\" = {{ min = 90, max = 80 }}\n"
        ));
        assert_at(&e, 5, 20, "min = 90 > max = 80");
    }

    #[test]
    fn min_equal_to_max_is_allowed() {
        let p = policy("[thresholds]\n\"tests.failed\" = { min = 0, max = 0 }\n");
        assert_eq!(
            (p.thresholds[0].min, p.thresholds[0].max),
            (Some(0.0), Some(0.0))
        );
    }

    #[test]
    fn non_finite_bounds_are_rejected() {
        for v in ["nan", "inf", "-inf"] {
            let e = error(&format!(
                "{SIGNER}[thresholds]\n\"coverage.lines\" = {{ min = {v} }}\n"
            ));
            assert_at(&e, 5, 28, "finite");
        }
    }

    #[test]
    fn integer_bounds_are_numbers() {
        let p = policy("[thresholds]\n\"coverage.lines\" = { min = 85 }\n");
        assert_eq!(p.thresholds[0].min, Some(85.0));
    }

    #[test]
    fn duplicate_and_empty_required_checks_are_rejected() {
        let e = error(&format!(
            "{SIGNER}[require]\nchecks = [\"tests\", \"tests\"]\n"
        ));
        assert_at(&e, 5, 20, "required twice");
        let e = error(&format!("{SIGNER}[require]\nchecks = [\"\"]\n"));
        assert_at(&e, 5, 11, "empty");
    }

    #[test]
    fn oversized_policy_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.toml");
        let mut text = SIGNER.to_string();
        text.push_str(&"# padding\n".repeat((MAX_POLICY_SIZE as usize) / 10 + 1));
        std::fs::write(&path, text).expect("write");
        let e = Policy::load(&path).expect_err("too big");
        assert!(e.message.contains("larger than the limit"), "{e}");
        assert_eq!((e.line, e.column), (0, 0), "the file as a whole");
    }

    #[test]
    fn a_percentage_written_as_a_fraction_is_refused_with_the_fix() {
        let e = error(&format!(
            "{SIGNER}[thresholds]\n\"coverage.lines\" = {{ min = 0.85 }}\n"
        ));
        assert_eq!(
            e.message,
            "threshold `coverage.lines`: `lines` is a percentage from 0 to 100, found min = 0.85, which reads as a fraction: for 85 % write min = 85.0"
        );
        let e = error(&format!(
            "{SIGNER}[thresholds]\n\"tests.pass_rate\" = {{ min = 101.0 }}\n"
        ));
        assert!(
            e.message.contains("expected min from 0 to 100, found 101"),
            "{e}"
        );
        // Whole percentages, zero and counts are as they were.
        for ok in [
            "\"coverage.lines\" = { min = 1.0 }",
            "\"coverage.branches\" = { min = 0.0, max = 100.0 }",
            "\"tests.failed\" = { max = 0.5 }",
        ] {
            let text = format!("{SIGNER}[thresholds]\n{ok}\n");
            assert!(parse(&text).is_ok(), "{ok}");
        }
    }

    #[test]
    fn missing_policy_file_is_an_error_not_a_panic() {
        let e = Policy::load(Path::new("/nonexistent/policy.toml")).expect_err("missing");
        // No made-up position: the error is about the file as a whole.
        assert_eq!(
            e.to_string(),
            "/nonexistent/policy.toml: expected a readable policy file, found: no such file or directory (os error 2); pass --policy FILE, or run `ci-attest init` to write policies/default.toml"
        );
        assert_eq!((e.line, e.column), (0, 0));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let e = error(&format!("{SIGNER}[require]\nchecks = [\"äöü\", \"äöü\"]\n"));
        assert_at(&e, 5, 18, "required twice");
    }

    #[test]
    fn decoded_offsets_map_back_through_each_kind_of_toml_string() {
        // Literal strings hold their text as is.
        assert_eq!(raw_offset_in_string("'a.b'", 2), 3);
        assert_eq!(raw_offset_in_string("'''\na.b'''", 2), 6);
        // Basic strings: each escape is one decoded character (or the bytes of its code point).
        assert_eq!(raw_offset_in_string(r#""\"x\" y""#, 4), 7);
        assert_eq!(raw_offset_in_string(r#""\u00e9 y""#, 3), 8);
        // A multi-line string's first newline and line-ending backslashes decode to nothing.
        assert_eq!(raw_offset_in_string("\"\"\"\na \\\n   b\"\"\"", 2), 11);
        // Past the end stays inside the token.
        assert_eq!(raw_offset_in_string("'ab'", 99), 4);
    }

    #[test]
    fn signers_and_select_load_with_their_positions() {
        const KEYLESS: &str = "[[signer]]\nname = \"ci\"\nissuer = \"https://i\"\nidentity_regex = '.*'\n\n[require]\n";
        let p = parse(&format!("{SIGNER}{KEYLESS}signers = 2\nselect = \"all\"\n")).expect("loads");
        let (k, at) = p.require.signers.clone().expect("signers");
        assert_eq!((k, at.line, at.column), (2, 10, 11));
        assert_eq!(p.require.selection(), crate::policy::Select::All);
        assert_eq!(
            policy("").require.selection(),
            crate::policy::Select::Newest
        );
        // With a keyless entry, more signers than entries can be met (one regex, many SANs).
        assert!(parse(&format!("{SIGNER}{KEYLESS}signers = 5\n")).is_ok());
    }
}
