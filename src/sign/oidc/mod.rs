//! OIDC identity tokens for keyless signing, and where to get one.
//!
//! [`obtain_token`] tries, in order:
//! 1. an explicit token (`--identity-token`, or the `SIGSTORE_ID_TOKEN` environment variable as
//!    the caller read it into [`TokenSources`]);
//! 2. GitHub Actions' ambient token (`ACTIONS_ID_TOKEN_REQUEST_URL` +
//!    `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, present when the workflow has `permissions: id-token: write`),
//!    see [`github_actions_token`] in [`ambient`];
//! 3. an interactive login against the sigstore OAuth issuer: the browser with PKCE (S256) and a
//!    `http://localhost:<random port>` redirect ([`browser_login`] in [`browser`]), or, when no
//!    browser can be opened, the device-code flow of RFC 8628 ([`device_code_login`] in
//!    [`device`]).
//!
//! Nothing here reads the environment, the clock or prints: the caller passes what it read
//! ([`TokenSources::from_env`] with a lookup closure), the current time, and a `notice` callback
//! for what the user must see ("open this URL", the device code).
//!
//! The token's payload is decoded for `iss`, `sub`, `email` and `exp` only: its signature is
//! Fulcio's to check. Tokens are secrets: [`IdentityToken`]'s `Debug` redacts it, it has no
//! `Display`, and no error of this module contains it.

pub mod ambient;
pub mod browser;
pub mod device;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::keyless::http;

pub use ambient::{TokenSources, github_actions_token};
pub use browser::{BROWSER_TIMEOUT, browser_login, open_browser};
pub use device::{DeviceCodePrompt, MAX_DEVICE_CODE_WAIT, device_code_login};

/// The audience sigstore's Fulcio expects (`aud`).
pub const SIGSTORE_AUDIENCE: &str = "sigstore";
/// The public-good sigstore OAuth issuer.
pub const SIGSTORE_OAUTH_ISSUER: &str = "https://oauth2.sigstore.dev/auth";
/// The staging sigstore OAuth issuer.
pub const SIGSTORE_STAGING_OAUTH_ISSUER: &str = "https://oauth2.sigstage.dev/auth";
/// The OAuth client id sigstore's issuer knows for public clients.
pub const SIGSTORE_CLIENT_ID: &str = "sigstore";
/// The environment variable holding an explicit token.
pub const TOKEN_ENV: &str = "SIGSTORE_ID_TOKEN";
/// Largest token accepted: 64 KiB.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// Errors from reading or obtaining an identity token. None of them contains the token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The token is not a well-formed JWT.
    #[error("the identity token is not a valid JWT: expected {expected}")]
    Malformed {
        /// What was expected.
        expected: String,
    },
    /// The token has expired.
    #[error(
        "the identity token from {issuer} for {identity} expired at {expired_at}; get a fresh one \
         (tokens live only minutes: request it right before signing)"
    )]
    Expired {
        /// Its issuer.
        issuer: String,
        /// Its identity (email or subject).
        identity: String,
        /// When it expired (RFC 3339).
        expired_at: String,
    },
    /// No source gave a token.
    #[error(
        "no identity token: pass --identity-token, set {TOKEN_ENV}, run in GitHub Actions with \
         `permissions: id-token: write`, or sign interactively from a terminal"
    )]
    NoToken,
    /// An HTTP request failed (connection, TLS, size limit).
    #[error("{service}: request failed: {message}")]
    Http {
        /// Which service.
        service: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A service answered with an error status.
    #[error("{service}: HTTP {status}: {body}")]
    Status {
        /// Which service.
        service: &'static str,
        /// The HTTP status.
        status: u16,
        /// An excerpt of the body.
        body: String,
    },
    /// A service answered with something unexpected.
    #[error("{service}: unexpected response: expected {expected}")]
    Response {
        /// Which service.
        service: &'static str,
        /// What was expected.
        expected: String,
    },
    /// The interactive login failed (denied, timed out, state mismatch, local server I/O).
    #[error("interactive login failed: {reason}")]
    Login {
        /// Why.
        reason: String,
    },
}

/// The claims of an identity token that keyless signing uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `iss`: the issuer (goes into the certificate's issuer extension).
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `email`, if present (and, when `email_verified` is given, verified).
    pub email: Option<String>,
    /// `exp`, seconds since the epoch.
    pub expires_at: u64,
    /// `aud`, as a list.
    pub audience: Vec<String>,
}

/// An OIDC identity token (a JWT) with its decoded claims. The raw token is only reachable through
/// [`IdentityToken::expose_secret`].
#[derive(Clone)]
pub struct IdentityToken {
    raw: String,
    claims: Claims,
}

impl fmt::Debug for IdentityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityToken")
            .field("issuer", &self.claims.issuer)
            .field("subject", &self.claims.subject)
            .field("email", &self.claims.email)
            .field("expires_at", &self.claims.expires_at)
            .field("token", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<String>,
    sub: Option<String>,
    email: Option<String>,
    email_verified: Option<bool>,
    exp: Option<serde_json::Number>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
}

fn malformed(expected: impl Into<String>) -> OidcError {
    OidcError::Malformed {
        expected: expected.into(),
    }
}

impl IdentityToken {
    /// Parses a JWT (`header.payload.signature`, base64url) and reads its claims. The signature
    /// is not checked (Fulcio does that); expiry is checked by [`IdentityToken::check_not_expired`].
    ///
    /// # Errors
    /// [`OidcError::Malformed`] when it is not a JWT or lacks `iss`, `sub` or a numeric `exp`.
    pub fn parse(raw: &str) -> Result<Self, OidcError> {
        let raw = raw.trim();
        if raw.len() > MAX_TOKEN_BYTES {
            return Err(malformed(format!("at most {MAX_TOKEN_BYTES} bytes")));
        }
        let parts: Vec<&str> = raw.split('.').collect();
        let [_, payload, _] = parts.as_slice() else {
            return Err(malformed(format!(
                "three dot-separated parts, found {}",
                parts.len()
            )));
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| malformed("a base64url payload"))?;
        let claims: RawClaims = serde_json::from_slice(&bytes)
            .map_err(|e| malformed(format!("a JSON payload ({e})")))?;
        let issuer = claims
            .iss
            .filter(|s| !s.is_empty())
            .ok_or_else(|| malformed("an `iss` claim"))?;
        let subject = claims
            .sub
            .filter(|s| !s.is_empty())
            .ok_or_else(|| malformed("a `sub` claim"))?;
        let expires_at = claims
            .exp
            .and_then(|n| n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)))
            .ok_or_else(|| malformed("a numeric `exp` claim"))?;
        let email = claims
            .email
            .filter(|e| !e.is_empty() && claims.email_verified != Some(false));
        let audience = match claims.aud {
            Some(serde_json::Value::String(s)) => vec![s],
            Some(serde_json::Value::Array(a)) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            raw: raw.to_owned(),
            claims: Claims {
                issuer,
                subject,
                email,
                expires_at,
                audience,
            },
        })
    }

    /// The decoded claims.
    #[must_use]
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The identity Fulcio certifies and the proof of possession signs: the `email` claim when
    /// present, else `sub` (as cosign and sigstore-go do).
    #[must_use]
    pub fn identity(&self) -> &str {
        self.claims.email.as_deref().unwrap_or(&self.claims.subject)
    }

    /// When the token expires.
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.claims.expires_at)
    }

    /// Fails when the token has expired at `now`.
    ///
    /// # Errors
    /// [`OidcError::Expired`], naming the issuer, identity and expiry time.
    pub fn check_not_expired(&self, now: SystemTime) -> Result<(), OidcError> {
        if self.expires_at() <= now {
            return Err(OidcError::Expired {
                issuer: self.claims.issuer.clone(),
                identity: self.identity().to_owned(),
                expired_at: humantime::format_rfc3339_seconds(self.expires_at()).to_string(),
            });
        }
        Ok(())
    }

    /// The raw JWT, for an `Authorization` header or a Fulcio request. Never print it.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.raw
    }
}

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// Given explicitly (`--identity-token`).
    Explicit,
    /// The `SIGSTORE_ID_TOKEN` environment variable.
    Environment,
    /// GitHub Actions' ambient token.
    GitHubActions,
    /// Interactive browser login.
    Browser,
    /// Device-code login.
    DeviceCode,
}

/// How [`obtain_token`] may get a token.
#[derive(Debug, Clone)]
pub struct TokenOptions {
    /// An explicit token (e.g. `--identity-token`); wins over everything else.
    pub explicit: Option<String>,
    /// The OAuth issuer for interactive login (default [`SIGSTORE_OAUTH_ISSUER`]).
    pub issuer: String,
    /// The OAuth client id (default [`SIGSTORE_CLIENT_ID`]).
    pub client_id: String,
    /// Whether an interactive login may be started (false in CI and without a terminal).
    pub interactive: bool,
    /// Use the device-code flow even when a browser could be opened.
    pub force_device_code: bool,
}

impl Default for TokenOptions {
    fn default() -> Self {
        Self {
            explicit: None,
            issuer: SIGSTORE_OAUTH_ISSUER.to_owned(),
            client_id: SIGSTORE_CLIENT_ID.to_owned(),
            interactive: true,
            force_device_code: false,
        }
    }
}

/// Gets an identity token from the first source that has one (see the module documentation),
/// and checks that it has not expired at `now`.
///
/// `sources` holds what the caller read from the environment; `notice` is given the messages
/// the user must see during an interactive login (the URL to open when no browser could be
/// started, the device code), one message per call, never a token.
///
/// # Errors
/// [`OidcError::NoToken`] when no source applies; otherwise the source's error, or
/// [`OidcError::Expired`].
pub fn obtain_token(
    opts: &TokenOptions,
    sources: &TokenSources,
    now: SystemTime,
    notice: &dyn Fn(&str),
) -> Result<(IdentityToken, TokenSource), OidcError> {
    let (token, source) = if let Some(raw) = opts.explicit.as_deref().filter(|t| !t.is_empty()) {
        (IdentityToken::parse(raw)?, TokenSource::Explicit)
    } else if let Some(raw) = sources.sigstore_id_token().filter(|t| !t.is_empty()) {
        (IdentityToken::parse(raw)?, TokenSource::Environment)
    } else if let Some((url, request_token)) = sources.actions_request() {
        (
            github_actions_token(url, request_token, SIGSTORE_AUDIENCE)?,
            TokenSource::GitHubActions,
        )
    } else if opts.interactive {
        let meta = discover(&opts.issuer)?;
        if !opts.force_device_code && sources.browser_available() {
            (
                browser_login(&meta, &opts.client_id, &open_browser, notice)?,
                TokenSource::Browser,
            )
        } else {
            (
                device_code_login(&meta, &opts.client_id, &|p| notice(&p.message()))?,
                TokenSource::DeviceCode,
            )
        }
    } else {
        return Err(OidcError::NoToken);
    };
    token.check_not_expired(now)?;
    Ok((token, source))
}

fn check_status(service: &'static str, r: &http::Response) -> Result<(), OidcError> {
    if r.ok() {
        return Ok(());
    }
    Err(OidcError::Status {
        service,
        status: r.status,
        body: r.excerpt(None),
    })
}

fn http_err(service: &'static str) -> impl Fn(http::HttpError) -> OidcError {
    move |e| OidcError::Http {
        service,
        message: e.to_string(),
    }
}

fn json_field<T: for<'de> Deserialize<'de>>(
    service: &'static str,
    body: &[u8],
    expected: &str,
) -> Result<T, OidcError> {
    serde_json::from_slice(body).map_err(|e| OidcError::Response {
        service,
        expected: format!("{expected} ({e})"),
    })
}

/// The endpoints of an OIDC provider, from `<issuer>/.well-known/openid-configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderMetadata {
    /// `issuer`.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `device_authorization_endpoint` (RFC 8628), if the provider has one.
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
}

/// Fetches an issuer's OpenID configuration.
///
/// # Errors
/// [`OidcError::Http`], [`OidcError::Status`] or [`OidcError::Response`].
pub fn discover(issuer: &str) -> Result<ProviderMetadata, OidcError> {
    const SERVICE: &str = "OIDC discovery";
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let r = http::get(&url, &[("Accept", "application/json")]).map_err(http_err(SERVICE))?;
    check_status(SERVICE, &r)?;
    json_field(SERVICE, &r.body, "an OpenID provider configuration")
}

fn random_b64url(n: usize) -> Result<String, OidcError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| OidcError::Login {
        reason: format!("the system random number generator failed: {e}"),
    })?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    interval: Option<u64>,
}

fn token_request(
    meta: &ProviderMetadata,
    form: &[(&str, &str)],
) -> Result<(u16, TokenAnswer), OidcError> {
    const SERVICE: &str = "OIDC token endpoint";
    let r = http::post(
        &meta.token_endpoint,
        &[("Accept", "application/json")],
        "application/x-www-form-urlencoded",
        http::form(form).as_bytes(),
    )
    .map_err(http_err(SERVICE))?;
    let answer = json_field(SERVICE, &r.body, "a JSON token response")?;
    Ok((r.status, answer))
}

fn id_token_from(status: u16, answer: TokenAnswer) -> Result<IdentityToken, OidcError> {
    match answer.id_token {
        Some(t) if (200..300).contains(&status) => IdentityToken::parse(&t),
        _ => Err(OidcError::Login {
            reason: format!(
                "the token endpoint answered HTTP {status}: {} {}",
                answer.error.unwrap_or_else(|| "no id_token".into()),
                answer.error_description.unwrap_or_default()
            )
            .trim()
            .to_owned(),
        }),
    }
}

/// Builds an unsigned JWT with `claims` (for tests and examples: Fulcio would reject it).
#[doc(hidden)]
#[must_use]
pub fn unsigned_jwt(claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(b"sig"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
    }

    #[test]
    fn parses_claims_and_prefers_email() {
        let t = unsigned_jwt(&json!({"iss": "https://i", "sub": "s", "email": "a@b.c",
            "exp": now() + 60, "aud": "sigstore"}));
        let token = IdentityToken::parse(&t).expect("valid");
        assert_eq!(token.claims().issuer, "https://i");
        assert_eq!(token.identity(), "a@b.c");
        assert_eq!(token.claims().audience, vec!["sigstore".to_owned()]);
        token
            .check_not_expired(SystemTime::now())
            .expect("not expired");
        let t = unsigned_jwt(&json!({"iss": "https://i", "sub": "s", "exp": now() + 60}));
        assert_eq!(IdentityToken::parse(&t).expect("valid").identity(), "s");
    }

    #[test]
    fn unverified_email_is_ignored() {
        let t = unsigned_jwt(&json!({"iss": "https://i", "sub": "s", "email": "a@b.c",
            "email_verified": false, "exp": now() + 60}));
        assert_eq!(IdentityToken::parse(&t).expect("valid").identity(), "s");
    }

    #[test]
    fn expired_token_is_a_clear_error_without_the_token() {
        let t = unsigned_jwt(&json!({"iss": "https://i", "sub": "s", "exp": 1000}));
        let token = IdentityToken::parse(&t).expect("valid");
        let err = token
            .check_not_expired(SystemTime::now())
            .expect_err("expired");
        let shown = err.to_string();
        assert!(shown.contains("expired at 1970-01-01T00:16:40Z"), "{shown}");
        assert!(!shown.contains(&t), "{shown}");
    }

    #[test]
    fn debug_redacts_the_token() {
        let t = unsigned_jwt(&json!({"iss": "https://i", "sub": "s", "exp": now() + 60}));
        let token = IdentityToken::parse(&t).expect("valid");
        let debug = format!("{token:?}");
        assert!(debug.contains("<redacted>"), "{debug}");
        for part in t.split('.') {
            assert!(!debug.contains(part), "{debug}");
        }
    }

    #[test]
    fn rejects_malformed_tokens() {
        for bad in [
            "",
            "a.b",
            "a.!!!.c",
            "a.e30.c",
            &unsigned_jwt(&json!({"iss": "i", "sub": "s"})),
            &unsigned_jwt(&json!({"iss": "i", "exp": 5})),
        ] {
            let err = IdentityToken::parse(bad).expect_err(bad);
            assert!(matches!(err, OidcError::Malformed { .. }), "{err:?}");
        }
    }
}
