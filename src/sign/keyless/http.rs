//! The small blocking HTTP layer keyless signing and token acquisition share: `ureq` on rustls +
//! ring, bounded timeouts, and a size limit on every response body.

use std::time::Duration;

/// Largest response body read from any sigstore or OIDC service: 4 MiB.
pub(crate) const MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;

/// A response: status, content type and the (size-limited) body.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text for an error message: at most 300 characters, lossy UTF-8, control
    /// characters replaced, and `secret` (if any) redacted.
    pub(crate) fn excerpt(&self, secret: Option<&str>) -> String {
        excerpt(&self.body, secret)
    }
}

/// Text for an error message from a response body (see [`Response::excerpt`]).
pub(crate) fn excerpt(body: &[u8], secret: Option<&str>) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    if let Some(secret) = secret.filter(|s| !s.is_empty()) {
        text = text.replace(secret, "<redacted>");
    }
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out.trim().to_owned()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(90)))
        .timeout_connect(Some(Duration::from_secs(20)))
        .user_agent(concat!("ci-attest/", env!("CARGO_PKG_VERSION")))
        .max_redirects(5)
        .build()
        .new_agent()
}

fn read(mut response: ureq::http::Response<ureq::Body>) -> Result<Response, String> {
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(n) => {
                format!("response larger than the {n}-byte limit")
            }
            other => other.to_string(),
        })?;
    Ok(Response { status, body })
}

/// `POST url` with `body` of `content_type` and extra `headers`.
pub(crate) fn post(
    url: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
) -> Result<Response, String> {
    let mut request = agent().post(url).content_type(content_type);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    read(request.send(body).map_err(|e| e.to_string())?)
}

/// `GET url` with extra `headers`.
pub(crate) fn get(url: &str, headers: &[(&str, &str)]) -> Result<Response, String> {
    let mut request = agent().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    read(request.call().map_err(|e| e.to_string())?)
}

/// `application/x-www-form-urlencoded` encoding of `pairs`.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (as a space) in a query-string component.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3) {
                Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    let hex = [*h, *l];
                    let text = std::str::from_utf8(&hex).unwrap_or("00");
                    out.push(u8::from_str_radix(text, 16).unwrap_or(0));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `key=value` pairs of a query string (decoded).
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_round_trip() {
        let s = "a b&c=d/é~";
        assert_eq!(percent_decode(&percent_encode(s)), s);
        assert_eq!(form(&[("a", "b c"), ("x", "&")]), "a=b%20c&x=%26");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn excerpt_redacts_and_truncates() {
        let body = format!("bad token SECRET {}", "x".repeat(400));
        let e = excerpt(body.as_bytes(), Some("SECRET"));
        assert!(!e.contains("SECRET"));
        assert!(e.contains("<redacted>"));
        assert!(e.chars().count() <= 301);
    }
}
