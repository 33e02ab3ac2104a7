//! Trust material: sigstore `trusted_root.json` (Fulcio CAs, Rekor logs, CT logs, timestamp
//! authorities), with the public-good production and staging roots embedded in the binary.
//!
//! The embedded roots are copies of the public-good `trusted_root.json` files as shipped by
//! sigstore-python (see `tests/vectors/third-party/MANIFEST.md`); `--trusted-root` overrides them.

use base64::Engine as _;
use serde::Deserialize;
use std::time::SystemTime;

/// Media type prefix of a trusted root.
pub const TRUSTED_ROOT_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.trustedroot";
/// Largest trusted root accepted.
pub const MAX_TRUSTED_ROOT_BYTES: usize = 4 * 1024 * 1024;

/// The public-good production root, embedded.
pub const PRODUCTION_JSON: &str = include_str!("production.json");
/// The public-good staging root, embedded.
pub const STAGING_JSON: &str = include_str!("staging.json");

/// A validity window; `end` absent means open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Start (inclusive); `None` when the root gives none.
    pub start: Option<SystemTime>,
    /// End (inclusive); `None` when open-ended.
    pub end: Option<SystemTime>,
}

impl Validity {
    /// True when `t` lies in the window (both ends inclusive; a missing start never matches).
    pub fn contains(&self, t: SystemTime) -> bool {
        self.start.is_some_and(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }
}

/// A transparency log (Rekor) or CT log instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogInstance {
    /// Its base URL.
    pub base_url: String,
    /// DER SubjectPublicKeyInfo of its key.
    pub public_key: Vec<u8>,
    /// The key's `keyDetails` (e.g. `PKIX_ECDSA_P256_SHA_256`, `PKIX_ED25519`).
    pub key_details: String,
    /// When the key is valid.
    pub valid_for: Validity,
    /// The log id (`logId.keyId`): sha256 of the key's DER for Rekor v1 and CT logs.
    pub log_id: Vec<u8>,
}

/// A certificate authority (Fulcio) or timestamp authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// Its URI.
    pub uri: String,
    /// DER certificates, leaf-most first, root last.
    pub cert_chain: Vec<Vec<u8>>,
    /// When the authority may be used.
    pub valid_for: Validity,
}

/// A parsed trusted root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedRoot {
    /// Rekor logs.
    pub tlogs: Vec<LogInstance>,
    /// Fulcio certificate authorities.
    pub certificate_authorities: Vec<Authority>,
    /// Certificate transparency logs.
    pub ctlogs: Vec<LogInstance>,
    /// RFC 3161 timestamp authorities.
    pub timestamp_authorities: Vec<Authority>,
}

/// Why a trusted root cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trusted root: expected {expected}, found {found}")]
pub struct TrustError {
    /// What was expected.
    pub expected: String,
    /// What was found.
    pub found: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: Option<String>,
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawAuthority>,
    #[serde(default)]
    ctlogs: Vec<RawLog>,
    #[serde(default)]
    timestamp_authorities: Vec<RawAuthority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    #[serde(default)]
    base_url: String,
    public_key: RawPublicKey,
    log_id: RawLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublicKey {
    raw_bytes: Option<String>,
    #[serde(default)]
    key_details: String,
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAuthority {
    #[serde(default)]
    uri: String,
    cert_chain: RawChain,
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct RawValidity {
    start: Option<String>,
    end: Option<String>,
}

fn err(expected: impl Into<String>, found: impl Into<String>) -> TrustError {
    TrustError {
        expected: expected.into(),
        found: found.into(),
    }
}

fn b64(field: &str, text: &str) -> Result<Vec<u8>, TrustError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| err(format!("base64 in {field}"), e.to_string()))
}

fn time(field: &str, text: &Option<String>) -> Result<Option<SystemTime>, TrustError> {
    text.as_deref()
        .map(|t| {
            humantime::parse_rfc3339_weak(t.trim_end_matches('Z'))
                .or_else(|_| humantime::parse_rfc3339(t))
                .map_err(|e| {
                    err(
                        format!("an RFC 3339 time in {field}"),
                        format!("{t:?} ({e})"),
                    )
                })
        })
        .transpose()
}

fn validity(field: &str, raw: &Option<RawValidity>) -> Result<Validity, TrustError> {
    Ok(match raw {
        Some(v) => Validity {
            start: time(field, &v.start)?,
            end: time(field, &v.end)?,
        },
        None => Validity {
            start: None,
            end: None,
        },
    })
}

fn log(raw: RawLog) -> Result<LogInstance, TrustError> {
    let Some(raw_key) = raw.public_key.raw_bytes.as_deref() else {
        return Err(err("publicKey.rawBytes in a log", "none"));
    };
    Ok(LogInstance {
        public_key: b64("publicKey.rawBytes", raw_key)?,
        key_details: raw.public_key.key_details,
        valid_for: validity("publicKey.validFor", &raw.public_key.valid_for)?,
        log_id: b64("logId.keyId", &raw.log_id.key_id)?,
        base_url: raw.base_url,
    })
}

fn authority(raw: RawAuthority) -> Result<Authority, TrustError> {
    let cert_chain = raw
        .cert_chain
        .certificates
        .iter()
        .map(|c| b64("certChain.certificates.rawBytes", &c.raw_bytes))
        .collect::<Result<Vec<_>, _>>()?;
    if cert_chain.is_empty() {
        return Err(err("at least one certificate in certChain", "none"));
    }
    Ok(Authority {
        uri: raw.uri,
        cert_chain,
        valid_for: validity("validFor", &raw.valid_for)?,
    })
}

impl TrustedRoot {
    /// Parses `trusted_root.json` bytes (size-limited).
    pub fn from_json(bytes: &[u8]) -> Result<TrustedRoot, TrustError> {
        if bytes.len() > MAX_TRUSTED_ROOT_BYTES {
            return Err(err(
                format!("at most {MAX_TRUSTED_ROOT_BYTES} bytes"),
                format!("{} bytes", bytes.len()),
            ));
        }
        let raw: RawRoot =
            serde_json::from_slice(bytes).map_err(|e| err("trusted_root.json", e.to_string()))?;
        match raw.media_type.as_deref() {
            Some(m) if m.starts_with(TRUSTED_ROOT_MEDIA_TYPE_PREFIX) => {}
            other => {
                return Err(err(
                    format!("mediaType {TRUSTED_ROOT_MEDIA_TYPE_PREFIX}..."),
                    format!("{other:?}"),
                ));
            }
        }
        Ok(TrustedRoot {
            tlogs: raw.tlogs.into_iter().map(log).collect::<Result<_, _>>()?,
            certificate_authorities: raw
                .certificate_authorities
                .into_iter()
                .map(authority)
                .collect::<Result<_, _>>()?,
            ctlogs: raw.ctlogs.into_iter().map(log).collect::<Result<_, _>>()?,
            timestamp_authorities: raw
                .timestamp_authorities
                .into_iter()
                .map(authority)
                .collect::<Result<_, _>>()?,
        })
    }

    /// The embedded public-good production root.
    pub fn production() -> TrustedRoot {
        TrustedRoot::from_json(PRODUCTION_JSON.as_bytes())
            .expect("the embedded root parses (tested)")
    }

    /// The embedded public-good staging root.
    pub fn staging() -> TrustedRoot {
        TrustedRoot::from_json(STAGING_JSON.as_bytes()).expect("the embedded root parses (tested)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_roots_parse_with_every_part() {
        for root in [TrustedRoot::production(), TrustedRoot::staging()] {
            assert!(!root.tlogs.is_empty());
            assert!(!root.certificate_authorities.is_empty());
            assert!(!root.ctlogs.is_empty());
            assert!(root.tlogs.iter().all(|l| l.valid_for.start.is_some()));
        }
    }

    #[test]
    fn validity_is_inclusive_at_both_ends_and_needs_a_start() {
        let t = |s| humantime::parse_rfc3339(s).expect("time");
        let v = Validity {
            start: Some(t("2024-01-01T00:00:00Z")),
            end: Some(t("2024-12-31T23:59:59Z")),
        };
        assert!(v.contains(t("2024-01-01T00:00:00Z")));
        assert!(v.contains(t("2024-12-31T23:59:59Z")));
        assert!(!v.contains(t("2025-01-01T00:00:00Z")));
        let no_start = Validity {
            start: None,
            end: None,
        };
        assert!(!no_start.contains(t("2024-06-01T00:00:00Z")));
    }

    #[test]
    fn a_root_of_another_media_type_is_rejected() {
        let e =
            TrustedRoot::from_json(br#"{"mediaType":"application/json"}"#).expect_err("rejected");
        assert!(e.to_string().contains("expected mediaType"), "{e}");
    }
}
