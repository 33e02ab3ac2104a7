//! The device-code login of RFC 8628, for terminals without a browser.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{
    IdentityToken, OidcError, ProviderMetadata, check_status, http, http_err, id_token_from,
    json_field, token_request,
};

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

impl DeviceCodePrompt {
    /// What to tell the user: the page with the code filled in when the issuer gives one, else
    /// the page and the code to enter.
    #[must_use]
    pub fn message(&self) -> String {
        match &self.verification_uri_complete {
            Some(complete) => format!("To sign in, visit:\n\n  {complete}\n"),
            None => format!(
                "To sign in, visit {} and enter the code: {}",
                self.verification_uri, self.user_code
            ),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_message_prefers_the_complete_uri() {
        let mut p = DeviceCodePrompt {
            verification_uri: "https://login.example/device".into(),
            verification_uri_complete: None,
            user_code: "ABCD-EFGH".into(),
            expires_in: Duration::from_secs(60),
        };
        assert_eq!(
            p.message(),
            "To sign in, visit https://login.example/device and enter the code: ABCD-EFGH"
        );
        p.verification_uri_complete = Some("https://login.example/device?c=ABCD-EFGH".into());
        assert!(
            p.message().contains("device?c=ABCD-EFGH"),
            "{}",
            p.message()
        );
    }
}
