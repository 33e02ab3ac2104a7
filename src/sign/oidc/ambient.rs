//! Tokens the environment provides: an explicit `SIGSTORE_ID_TOKEN`, and GitHub Actions' ambient
//! OIDC token service. The environment itself is read by the caller ([`TokenSources::from_env`]).

use std::fmt;

use serde::Deserialize;

use super::{IdentityToken, OidcError, TOKEN_ENV, http, json_field};

/// The environment variable with the URL of GitHub Actions' OIDC token service.
pub const ACTIONS_REQUEST_URL_ENV: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// The environment variable with the bearer token for GitHub Actions' OIDC token service.
pub const ACTIONS_REQUEST_TOKEN_ENV: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// What the environment offers [`obtain_token`](super::obtain_token): read by the caller, so the
/// library never looks at the process environment itself. `Debug` redacts the secrets.
#[derive(Clone, Default)]
pub struct TokenSources {
    sigstore_id_token: Option<String>,
    actions_request_url: Option<String>,
    actions_request_token: Option<String>,
    graphical_session: bool,
}

impl fmt::Debug for TokenSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("TokenSources")
            .field("sigstore_id_token", &redacted(&self.sigstore_id_token))
            .field("actions_request_url", &self.actions_request_url)
            .field(
                "actions_request_token",
                &redacted(&self.actions_request_token),
            )
            .field("graphical_session", &self.graphical_session)
            .finish()
    }
}

impl TokenSources {
    /// Reads the sources from an environment lookup, typically
    /// `TokenSources::from_env(|name| std::env::var(name).ok())`: [`TOKEN_ENV`],
    /// [`ACTIONS_REQUEST_URL_ENV`] + [`ACTIONS_REQUEST_TOKEN_ENV`], and whether a graphical
    /// session can show a browser (`DISPLAY` or `WAYLAND_DISPLAY`, consulted on Linux only).
    #[must_use]
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            sigstore_id_token: env(TOKEN_ENV),
            actions_request_url: env(ACTIONS_REQUEST_URL_ENV),
            actions_request_token: env(ACTIONS_REQUEST_TOKEN_ENV),
            graphical_session: env("DISPLAY").is_some() || env("WAYLAND_DISPLAY").is_some(),
        }
    }

    /// The explicit token from [`TOKEN_ENV`], if set. A secret: never print it.
    #[must_use]
    pub fn sigstore_id_token(&self) -> Option<&str> {
        self.sigstore_id_token.as_deref()
    }

    /// GitHub Actions' token service URL and its bearer token, when both are set.
    #[must_use]
    pub fn actions_request(&self) -> Option<(&str, &str)> {
        Some((
            self.actions_request_url.as_deref()?,
            self.actions_request_token.as_deref()?,
        ))
    }

    /// Whether a browser can be opened: always on macOS and Windows, on Linux only in a graphical
    /// session.
    #[must_use]
    pub fn browser_available(&self) -> bool {
        if cfg!(target_os = "linux") {
            self.graphical_session
        } else {
            cfg!(any(target_os = "macos", target_os = "windows"))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_come_from_the_lookup_and_debug_redacts_secrets() {
        let env = |name: &str| match name {
            "SIGSTORE_ID_TOKEN" => Some("EXPLICIT-SECRET".to_owned()),
            "ACTIONS_ID_TOKEN_REQUEST_URL" => Some("https://actions.example/t".to_owned()),
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN" => Some("REQUEST-SECRET".to_owned()),
            _ => None,
        };
        let sources = TokenSources::from_env(env);
        assert_eq!(sources.sigstore_id_token(), Some("EXPLICIT-SECRET"));
        assert_eq!(
            sources.actions_request(),
            Some(("https://actions.example/t", "REQUEST-SECRET"))
        );
        let debug = format!("{sources:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("actions.example"), "{debug}");
        if cfg!(target_os = "linux") {
            assert!(!sources.browser_available());
            let with_display = TokenSources::from_env(|n| (n == "DISPLAY").then(|| ":0".into()));
            assert!(with_display.browser_available());
        }
    }

    #[test]
    fn actions_request_needs_both_variables() {
        let only_url = TokenSources::from_env(|n| {
            (n == ACTIONS_REQUEST_URL_ENV).then(|| "https://a.example".to_owned())
        });
        assert_eq!(only_url.actions_request(), None);
        assert_eq!(TokenSources::default().sigstore_id_token(), None);
    }
}
