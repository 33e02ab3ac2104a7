//! OIDC identity tokens for keyless signing, and where to get one.
//!
//! [`obtain_token`] tries, in order:
//! 1. an explicit token (`--identity-token`, or the `SIGSTORE_ID_TOKEN` environment variable);
//! 2. GitHub Actions' ambient token (`ACTIONS_ID_TOKEN_REQUEST_URL` +
//!    `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, present when the workflow has `permissions: id-token: write`),
//!    see [`github_actions_token`];
//! 3. an interactive login against the sigstore OAuth issuer: the browser with PKCE (S256) and a
//!    `http://localhost:<random port>` redirect ([`browser_login`]), or, when no browser can be
//!    opened, the device-code flow of RFC 8628 ([`device_code_login`]).
//!
//! The token's payload is decoded for `iss`, `sub`, `email` and `exp` only: its signature is
//! Fulcio's to check. Tokens are secrets: [`IdentityToken`]'s `Debug` redacts it, it has no
//! `Display`, and no error of this module contains it.

use std::fmt;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::keyless::http;

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
/// and checks that it has not expired. Interactive prompts go to standard error.
///
/// # Errors
/// [`OidcError::NoToken`] when no source applies; otherwise the source's error, or
/// [`OidcError::Expired`].
pub fn obtain_token(opts: &TokenOptions) -> Result<(IdentityToken, TokenSource), OidcError> {
    let (token, source) = if let Some(raw) = opts.explicit.as_deref().filter(|t| !t.is_empty()) {
        (IdentityToken::parse(raw)?, TokenSource::Explicit)
    } else if let Some(raw) = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
        (IdentityToken::parse(&raw)?, TokenSource::Environment)
    } else if let (Ok(url), Ok(request_token)) = (
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        (
            github_actions_token(&url, &request_token, SIGSTORE_AUDIENCE)?,
            TokenSource::GitHubActions,
        )
    } else if opts.interactive {
        let meta = discover(&opts.issuer)?;
        if !opts.force_device_code && browser_available() {
            (
                browser_login(&meta, &opts.client_id, &open_browser)?,
                TokenSource::Browser,
            )
        } else {
            (
                device_code_login(&meta, &opts.client_id, &print_device_prompt)?,
                TokenSource::DeviceCode,
            )
        }
    } else {
        return Err(OidcError::NoToken);
    };
    token.check_not_expired(SystemTime::now())?;
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

/// Requests GitHub Actions' ambient OIDC token for `audience`: `GET <request_url>&audience=...`
/// with `Authorization: bearer <request_token>`, answer `{"value": "<jwt>"}`.
///
/// # Errors
/// [`OidcError::Http`], [`OidcError::Status`] (typically 403 when the workflow lacks
/// `permissions: id-token: write`), [`OidcError::Response`] or [`OidcError::Malformed`].
pub fn github_actions_token(
    request_url: &str,
    request_token: &str,
    audience: &str,
) -> Result<IdentityToken, OidcError> {
    const SERVICE: &str = "GitHub Actions OIDC token service";
    let sep = if request_url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{request_url}{sep}{}",
        http::form(&[("audience", audience)])
    );
    let auth = format!("bearer {request_token}");
    let r = http::get(
        &url,
        &[("Authorization", &auth), ("Accept", "application/json")],
    )
    .map_err(|e| OidcError::Http {
        service: SERVICE,
        message: http::excerpt(e.to_string().as_bytes(), Some(request_token)),
    })?;
    if !r.ok() {
        return Err(OidcError::Status {
            service: SERVICE,
            status: r.status,
            body: format!(
                "{} (does the workflow have `permissions: id-token: write`?)",
                r.excerpt(Some(request_token))
            ),
        });
    }
    #[derive(Deserialize)]
    struct Answer {
        value: String,
    }
    let answer: Answer = json_field(SERVICE, &r.body, "JSON {\"value\": token}")?;
    IdentityToken::parse(&answer.value)
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

/// How long [`browser_login`] waits for the browser's redirect.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

/// Interactive login with the authorization-code flow + PKCE (S256): listens on
/// `127.0.0.1:<random port>`, calls `open` with the authorization URL (whose `redirect_uri` is
/// `http://localhost:<port>/auth/callback`), waits up to [`BROWSER_TIMEOUT`] for the redirect,
/// checks `state`, and exchanges the code (with the PKCE verifier) for an ID token.
///
/// `open` returns false when it could not open a browser; the URL is then printed to standard
/// error for the user to open.
///
/// # Errors
/// [`OidcError::Login`] (denied, timed out, state mismatch), or the token endpoint's errors.
pub fn browser_login(
    meta: &ProviderMetadata,
    client_id: &str,
    open: &dyn Fn(&str) -> bool,
) -> Result<IdentityToken, OidcError> {
    let login = |reason: String| OidcError::Login { reason };
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| login(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| login(e.to_string()))?
        .port();
    let redirect_uri = format!("http://localhost:{port}/auth/callback");
    let verifier = random_b64url(32)?;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = random_b64url(16)?;
    let nonce = random_b64url(16)?;
    let sep = if meta.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!(
        "{}{sep}{}",
        meta.authorization_endpoint,
        http::form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", &redirect_uri),
            ("scope", "openid email"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", &state),
            ("nonce", &nonce),
        ])
    );
    if !open(&url) {
        eprintln!("Open this URL in a browser to sign in:\n\n  {url}\n");
    }
    listener
        .set_nonblocking(true)
        .map_err(|e| login(e.to_string()))?;
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let code = loop {
        if Instant::now() > deadline {
            return Err(login(format!(
                "no redirect from the browser within {}s",
                BROWSER_TIMEOUT.as_secs()
            )));
        }
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(e) => return Err(login(format!("local redirect server: {e}"))),
        };
        match handle_callback(stream, &state) {
            Callback::Code(code) => break code,
            Callback::Ignored => continue,
            Callback::Failed(reason) => return Err(login(reason)),
        }
    };
    let (status, answer) = token_request(
        meta,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("client_id", client_id),
            ("code_verifier", &verifier),
        ],
    )?;
    id_token_from(status, answer)
}

enum Callback {
    Code(String),
    Ignored,
    Failed(String),
}

fn handle_callback(stream: TcpStream, state: &str) -> Callback {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    // Reading the callback request is limited to 16 KiB.
    let mut reader = BufReader::new(std::io::Read::take(stream, 16 * 1024));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return Callback::Ignored;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("");
    let Some(query) = target
        .strip_prefix("/auth/callback?")
        .or_else(|| target.strip_prefix("/auth/callback/?"))
    else {
        respond(reader.into_inner().into_inner(), 404, "Not found.");
        return Callback::Ignored;
    };
    let pairs = http::query_pairs(query);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let stream = reader.into_inner().into_inner();
    if get("state").as_deref() != Some(state) {
        respond(stream, 400, "Login failed: state mismatch.");
        return Callback::Failed("the redirect's state does not match (possible CSRF)".into());
    }
    if let Some(error) = get("error") {
        respond(stream, 400, "Login failed; you can close this window.");
        return Callback::Failed(format!(
            "the issuer answered {error}: {}",
            get("error_description").unwrap_or_default()
        ));
    }
    match get("code") {
        Some(code) if !code.is_empty() => {
            respond(
                stream,
                200,
                "ci-attest: signed in. You can close this window.",
            );
            Callback::Code(code)
        }
        _ => {
            respond(stream, 400, "Login failed: no code.");
            Callback::Failed("the redirect carries no code".into())
        }
    }
}

fn respond(mut stream: TcpStream, status: u16, text: &str) {
    let reason = if status == 200 { "OK" } else { "Bad Request" };
    let body = format!("<!doctype html><title>ci-attest</title><p>{text}</p>");
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

fn browser_available() -> bool {
    if cfg!(target_os = "linux") {
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    } else {
        cfg!(any(target_os = "macos", target_os = "windows"))
    }
}

fn open_browser(url: &str) -> bool {
    let mut cmd = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(target_os = "windows") {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    cmd.arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What the user must do to finish a device-code login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCodePrompt {
    /// The page to visit.
    pub verification_uri: String,
    /// The page with the code filled in, if the issuer gives one.
    pub verification_uri_complete: Option<String>,
    /// The code to enter.
    pub user_code: String,
    /// How long the code is valid.
    pub expires_in: Duration,
}

fn print_device_prompt(p: &DeviceCodePrompt) {
    match &p.verification_uri_complete {
        Some(complete) => eprintln!("To sign in, visit:\n\n  {complete}\n"),
        None => eprintln!(
            "To sign in, visit {} and enter the code: {}",
            p.verification_uri, p.user_code
        ),
    }
}

/// Longest a device-code login waits, whatever the issuer says: 15 minutes.
pub const MAX_DEVICE_CODE_WAIT: Duration = Duration::from_secs(900);

/// Device-code login (RFC 8628): requests a code, shows it with `prompt`, then polls the token
/// endpoint at the issuer's interval (honouring `slow_down`) until the user approves, denies or
/// the code expires.
///
/// # Errors
/// [`OidcError::Login`] when the issuer has no device endpoint, the user denies, or the code
/// expires; HTTP errors as [`OidcError::Http`] / [`OidcError::Status`].
pub fn device_code_login(
    meta: &ProviderMetadata,
    client_id: &str,
    prompt: &dyn Fn(&DeviceCodePrompt),
) -> Result<IdentityToken, OidcError> {
    const SERVICE: &str = "OIDC device authorization endpoint";
    let Some(endpoint) = meta.device_authorization_endpoint.as_deref() else {
        return Err(OidcError::Login {
            reason: format!(
                "no browser could be opened and {} offers no device-code login; pass --identity-token",
                meta.issuer
            ),
        });
    };
    let r = http::post(
        endpoint,
        &[("Accept", "application/json")],
        "application/x-www-form-urlencoded",
        http::form(&[("client_id", client_id), ("scope", "openid email")]).as_bytes(),
    )
    .map_err(http_err(SERVICE))?;
    check_status(SERVICE, &r)?;
    #[derive(Deserialize)]
    struct DeviceAnswer {
        device_code: String,
        user_code: String,
        verification_uri: String,
        verification_uri_complete: Option<String>,
        expires_in: Option<u64>,
        interval: Option<u64>,
    }
    let answer: DeviceAnswer = json_field(SERVICE, &r.body, "a device authorization response")?;
    let expires_in =
        Duration::from_secs(answer.expires_in.unwrap_or(600)).min(MAX_DEVICE_CODE_WAIT);
    prompt(&DeviceCodePrompt {
        verification_uri: answer.verification_uri,
        verification_uri_complete: answer.verification_uri_complete,
        user_code: answer.user_code,
        expires_in,
    });
    let mut interval = Duration::from_secs(answer.interval.unwrap_or(5).clamp(1, 60));
    let deadline = Instant::now() + expires_in;
    loop {
        std::thread::sleep(interval);
        if Instant::now() > deadline {
            return Err(OidcError::Login {
                reason: "the device code expired before the login was approved".into(),
            });
        }
        let (status, answer) = token_request(
            meta,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", &answer.device_code),
                ("client_id", client_id),
            ],
        )?;
        match answer.error.as_deref() {
            Some("authorization_pending") => {}
            Some("slow_down") => {
                interval = answer
                    .interval
                    .map_or(interval + Duration::from_secs(5), Duration::from_secs)
                    .min(Duration::from_secs(60));
            }
            Some("access_denied") => {
                return Err(OidcError::Login {
                    reason: "the login was denied".into(),
                });
            }
            Some("expired_token") => {
                return Err(OidcError::Login {
                    reason: "the device code expired before the login was approved".into(),
                });
            }
            _ => return id_token_from(status, answer),
        }
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
