//! Which Fulcio, Rekor and TSA to use: public-good defaults, or a sigstore `signing_config.json`.

use std::time::SystemTime;

use serde::Deserialize;

use super::KeylessError;

/// The public-good Fulcio.
pub const PUBLIC_GOOD_FULCIO_URL: &str = "https://fulcio.sigstore.dev";
/// The public-good Rekor (v1 API).
pub const PUBLIC_GOOD_REKOR_URL: &str = "https://rekor.sigstore.dev";
/// The staging Fulcio.
pub const STAGING_FULCIO_URL: &str = "https://fulcio.sigstage.dev";
/// The staging Rekor (v1 API).
pub const STAGING_REKOR_URL: &str = "https://rekor.sigstage.dev";
/// The media type of a v0.2 signing config.
pub const SIGNING_CONFIG_V02_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.signingconfig.v0.2+json";
/// The media type prefix of a ClientTrustConfig (a trusted root + a signing config).
pub const CLIENT_TRUST_CONFIG_MEDIA_TYPE_PREFIX: &str =
    "application/vnd.dev.sigstore.clienttrustconfig";
/// Largest signing config accepted: 1 MiB.
pub const MAX_SIGNING_CONFIG_BYTES: usize = 1024 * 1024;

/// The services keyless signing talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    /// Fulcio's base URL (`POST <fulcio_url>/api/v2/signingCert`).
    pub fulcio_url: String,
    /// Rekor's base URL (v1 API: `POST <rekor_url>/api/v1/log/entries`).
    pub rekor_url: String,
    /// The full URL of an RFC 3161 timestamp authority, if one is to be used
    /// (e.g. `https://timestamp.sigstore.dev/api/v1/timestamp`).
    pub tsa_url: Option<String>,
}

impl Default for Services {
    fn default() -> Self {
        Self::public_good()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSigningConfig {
    media_type: Option<String>,
    #[serde(default)]
    ca_urls: Vec<RawService>,
    #[serde(default)]
    rekor_tlog_urls: Vec<RawService>,
    #[serde(default)]
    tsa_urls: Vec<RawService>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTrustConfig {
    media_type: Option<String>,
    signing_config: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawService {
    url: String,
    #[serde(default)]
    major_api_version: u32,
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
struct RawValidity {
    start: Option<String>,
    end: Option<String>,
}

fn config_err(reason: impl Into<String>) -> KeylessError {
    KeylessError::SigningConfig {
        reason: reason.into(),
    }
}

fn time(text: &str) -> Result<SystemTime, KeylessError> {
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z'))
        .or_else(|_| humantime::parse_rfc3339(text))
        .map_err(|e| config_err(format!("an RFC 3339 time, found {text:?} ({e})")))
}

/// The newest service (latest `validFor.start`) with API version `major` that is valid at `now`.
fn choose(
    services: &[RawService],
    major: u32,
    now: SystemTime,
) -> Result<Option<String>, KeylessError> {
    let mut best: Option<(SystemTime, &str)> = None;
    for s in services {
        if s.major_api_version != major {
            continue;
        }
        let Some(validity) = &s.valid_for else {
            continue;
        };
        let Some(start) = validity.start.as_deref() else {
            continue;
        };
        let start = time(start)?;
        let end = validity.end.as_deref().map(time).transpose()?;
        if start > now || end.is_some_and(|e| e < now) {
            continue;
        }
        if best.is_none_or(|(t, _)| start > t) {
            best = Some((start, &s.url));
        }
    }
    Ok(best.map(|(_, url)| url.trim_end_matches('/').to_owned()))
}

impl Services {
    /// The public-good instance: [`PUBLIC_GOOD_FULCIO_URL`], [`PUBLIC_GOOD_REKOR_URL`], no TSA.
    #[must_use]
    pub fn public_good() -> Self {
        Self {
            fulcio_url: PUBLIC_GOOD_FULCIO_URL.to_owned(),
            rekor_url: PUBLIC_GOOD_REKOR_URL.to_owned(),
            tsa_url: None,
        }
    }

    /// The staging instance: [`STAGING_FULCIO_URL`], [`STAGING_REKOR_URL`], no TSA.
    #[must_use]
    pub fn staging() -> Self {
        Self {
            fulcio_url: STAGING_FULCIO_URL.to_owned(),
            rekor_url: STAGING_REKOR_URL.to_owned(),
            tsa_url: None,
        }
    }

    /// Reads a sigstore signing config (`application/vnd.dev.sigstore.signingconfig.v0.2+json`),
    /// or a ClientTrustConfig wrapping one, and picks, among the services valid at `now`, the
    /// newest Fulcio (`caUrls`, API v1), the newest Rekor with API v1 (`rekorTlogUrls`; Rekor v2
    /// entries are not written by this signer), and the newest TSA (`tsaUrls`, API v1) if any.
    ///
    /// # Errors
    /// [`KeylessError::SigningConfig`] for an oversized or malformed file, an unknown media
    /// type, or no valid Fulcio or v1 Rekor.
    pub fn from_signing_config(json: &[u8], now: SystemTime) -> Result<Self, KeylessError> {
        if json.len() > MAX_SIGNING_CONFIG_BYTES {
            return Err(config_err(format!(
                "at most {MAX_SIGNING_CONFIG_BYTES} bytes, found {}",
                json.len()
            )));
        }
        let value: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| config_err(format!("JSON ({e})")))?;
        let value = match serde_json::from_value::<RawTrustConfig>(value.clone()) {
            Ok(RawTrustConfig {
                media_type: Some(m),
                signing_config,
            }) if m.starts_with(CLIENT_TRUST_CONFIG_MEDIA_TYPE_PREFIX) => signing_config
                .ok_or_else(|| config_err("a `signingConfig` in the client trust config"))?,
            _ => value,
        };
        let raw: RawSigningConfig = serde_json::from_value(value)
            .map_err(|e| config_err(format!("a signing config ({e})")))?;
        match raw.media_type.as_deref() {
            Some(SIGNING_CONFIG_V02_MEDIA_TYPE) => {}
            other => {
                return Err(config_err(format!(
                    "media type {SIGNING_CONFIG_V02_MEDIA_TYPE:?}, found {other:?}"
                )));
            }
        }
        let fulcio_url = choose(&raw.ca_urls, 1, now)?
            .ok_or_else(|| config_err("a Fulcio (`caUrls`, API v1) valid now, found none"))?;
        let rekor_url = choose(&raw.rekor_tlog_urls, 1, now)?.ok_or_else(|| {
            config_err("a Rekor with API v1 (`rekorTlogUrls`) valid now, found none")
        })?;
        let tsa_url = choose(&raw.tsa_urls, 1, now)?;
        Ok(Self {
            fulcio_url,
            rekor_url,
            tsa_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(s: &str) -> SystemTime {
        humantime::parse_rfc3339(s).expect("time")
    }

    const CONFIG: &str = r#"{
      "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
      "caUrls": [{"url": "https://fulcio.example", "majorApiVersion": 1,
                  "validFor": {"start": "2023-04-14T21:38:40Z"}, "operator": "x"}],
      "oidcUrls": [],
      "rekorTlogUrls": [
        {"url": "https://rekor-old.example", "majorApiVersion": 1,
         "validFor": {"start": "2021-01-12T11:53:27Z", "end": "2030-01-01T00:00:00Z"}},
        {"url": "https://rekor.example/", "majorApiVersion": 1,
         "validFor": {"start": "2024-01-01T00:00:00Z"}},
        {"url": "https://log2025.example", "majorApiVersion": 2,
         "validFor": {"start": "2025-09-23T00:00:00Z"}},
        {"url": "https://rekor-future.example", "majorApiVersion": 1,
         "validFor": {"start": "2099-01-01T00:00:00Z"}}],
      "tsaUrls": [{"url": "https://tsa.example/api/v1/timestamp", "majorApiVersion": 1,
                   "validFor": {"start": "2025-07-04T00:00:00Z"}}],
      "rekorTlogConfig": {"selector": "ANY"}, "tsaConfig": {"selector": "ANY"}
    }"#;

    #[test]
    fn picks_the_newest_valid_v1_services() {
        let s = Services::from_signing_config(CONFIG.as_bytes(), at("2026-01-01T00:00:00Z"))
            .expect("valid");
        assert_eq!(s.fulcio_url, "https://fulcio.example");
        assert_eq!(s.rekor_url, "https://rekor.example");
        assert_eq!(
            s.tsa_url.as_deref(),
            Some("https://tsa.example/api/v1/timestamp")
        );
        let early = Services::from_signing_config(CONFIG.as_bytes(), at("2023-06-01T00:00:00Z"))
            .expect("valid");
        assert_eq!(early.rekor_url, "https://rekor-old.example");
        assert_eq!(early.tsa_url, None);
    }

    #[test]
    fn reads_a_client_trust_config() {
        let wrapped = format!(
            r#"{{"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                "trustedRoot": {{}}, "signingConfig": {CONFIG}}}"#
        );
        let s = Services::from_signing_config(wrapped.as_bytes(), at("2026-01-01T00:00:00Z"))
            .expect("valid");
        assert_eq!(s.rekor_url, "https://rekor.example");
    }

    #[test]
    fn rejects_unknown_media_type_and_missing_rekor_v1() {
        let v1 = CONFIG.replace("signingconfig.v0.2", "signingconfig.v0.1");
        let err =
            Services::from_signing_config(v1.as_bytes(), SystemTime::now()).expect_err("v0.1");
        assert!(err.to_string().contains("media type"), "{err}");
        let only_v2 = CONFIG.replace(
            "\"majorApiVersion\": 1,\n         \"validFor\": {\"start\": \"2024",
            "\"majorApiVersion\": 2,\n         \"validFor\": {\"start\": \"2024",
        );
        let err = Services::from_signing_config(
            only_v2.as_bytes(),
            at("2031-01-01T00:00:00Z") - Duration::from_secs(0),
        )
        .expect_err("no v1 rekor valid in 2031");
        assert!(err.to_string().contains("Rekor with API v1"), "{err}");
    }

    #[test]
    fn defaults_are_public_good() {
        let s = Services::default();
        assert_eq!(s.fulcio_url, PUBLIC_GOOD_FULCIO_URL);
        assert_eq!(s.rekor_url, PUBLIC_GOOD_REKOR_URL);
        assert!(s.tsa_url.is_none());
    }
}
