//! The small HTTP layer keyless signing and token acquisition share: `reqwest` on hyper + rustls
//! (the ring provider, webpki roots), bounded timeouts, and a size limit on every response body.
//!
//! The calls are blocking: each one runs on its own single-threaded tokio runtime, so it must not
//! be made from inside an async context (that is reported as [`HttpError::InsideRuntime`]).

use std::sync::Arc;
use std::time::Duration;

/// Largest response body read from any sigstore or OIDC service: 4 MiB.
pub(crate) const MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;
/// Longest a whole request may take, from connecting to the end of the body.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(90);
/// Longest connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Most redirects followed.
const MAX_REDIRECTS: usize = 5;

/// Why a request did not produce a response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// The HTTP client could not be set up (TLS configuration, runtime).
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
    /// Called from inside an async runtime, where blocking is not allowed.
    #[error("a blocking request was made from inside an async runtime")]
    InsideRuntime,
    /// The request failed (connection, TLS, timeout, redirects).
    #[error("{0}")]
    Request(String),
    /// The response body is larger than [`MAX_RESPONSE_BYTES`].
    #[error("response larger than the {limit}-byte limit")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
}

/// A response: status and the (size-limited) body.
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

/// A reqwest error and its causes on one line, without the URL (callers name it).
fn describe(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        return HttpError::Request(format!(
            "timed out (at most {}s per request, {}s to connect)",
            TOTAL_TIMEOUT.as_secs(),
            CONNECT_TIMEOUT.as_secs()
        ));
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    HttpError::Request(text)
}

fn client() -> Result<reqwest::Client, HttpError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| HttpError::Setup(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(TOTAL_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("ci-attest/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .build()
        .map_err(|e| HttpError::Setup(describe(e).to_string()))
}

/// Sends the request `build` makes with a fresh client, on a fresh current-thread runtime, and
/// reads at most [`MAX_RESPONSE_BYTES`] of the body.
fn send(
    build: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder,
) -> Result<Response, HttpError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(HttpError::InsideRuntime);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| HttpError::Setup(format!("tokio runtime: {e}")))?;
    runtime.block_on(async {
        let client = client()?;
        let mut response = build(&client).send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let too_large = HttpError::TooLarge {
            limit: MAX_RESPONSE_BYTES,
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES)
        {
            return Err(too_large);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if (body.len() + chunk.len()) as u64 > MAX_RESPONSE_BYTES {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response { status, body })
    })
}

/// `POST url` with `body` of `content_type` and extra `headers`.
pub(crate) fn post(
    url: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
) -> Result<Response, HttpError> {
    send(|client| {
        let mut request = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    })
}

/// `GET url` with extra `headers`.
pub(crate) fn get(url: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
    send(|client| {
        let mut request = client.get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    })
}

/// `application/x-www-form-urlencoded` encoding of `pairs`.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The `key=value` pairs of a query string (decoded, `+` as a space).
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_round_trip() {
        let pairs = [("a", "b c"), ("x", "&="), ("u", "http://localhost:1/é~")];
        let encoded = form(&pairs);
        assert_eq!(
            encoded,
            "a=b+c&x=%26%3D&u=http%3A%2F%2Flocalhost%3A1%2F%C3%A9%7E"
        );
        let decoded = query_pairs(&encoded);
        let expected: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(decoded, expected);
        assert_eq!(query_pairs("a=%zz%4&&b")[0].1, "%zz%4");
    }

    #[test]
    fn excerpt_redacts_and_truncates() {
        let body = format!("bad token SECRET {}", "x".repeat(400));
        let e = excerpt(body.as_bytes(), Some("SECRET"));
        assert!(!e.contains("SECRET"));
        assert!(e.contains("<redacted>"));
        assert!(e.chars().count() <= 301);
    }

    /// Serves one connection on 127.0.0.1 with `head` then `body_len` bytes of body; the base URL.
    fn serve_once(head: String, body_len: usize) -> String {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(head.as_bytes());
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = body_len;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if stream.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    left -= n;
                }
            }
        });
        url
    }

    #[test]
    fn bodies_up_to_the_limit_are_read() {
        let len = 1000;
        let url = serve_once(
            format!("HTTP/1.1 404 Not Found\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"),
            len,
        );
        let r = get(&url, &[("Accept", "text/plain")]).expect("response");
        assert_eq!((r.status, r.body.len(), r.ok()), (404, len, false));
    }

    #[test]
    fn a_declared_oversized_body_is_refused() {
        let len = MAX_RESPONSE_BYTES as usize + 1;
        let url = serve_once(
            format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"),
            0,
        );
        let err = get(&url, &[]).err().expect("too large");
        assert!(matches!(err, HttpError::TooLarge { .. }), "{err:?}");
        assert!(err.to_string().contains("4194304-byte limit"), "{err}");
    }

    #[test]
    fn an_undeclared_oversized_body_is_cut_off() {
        // No Content-Length: the body ends when the connection closes.
        let url = serve_once(
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_owned(),
            MAX_RESPONSE_BYTES as usize + 64 * 1024,
        );
        let err = post(&url, &[], "application/json", b"{}")
            .err()
            .expect("too large");
        assert!(matches!(err, HttpError::TooLarge { .. }), "{err:?}");
    }

    #[test]
    fn the_rustls_ring_backend_is_accepted() {
        // reqwest rejects a preconfigured TLS config of another rustls version at build time.
        client().expect("client builds with the preconfigured rustls (ring) config");
    }

    #[test]
    fn connection_failures_are_errors() {
        let err = get("http://127.0.0.1:1/", &[]).err().expect("refused");
        assert!(matches!(err, HttpError::Request(_)), "{err:?}");
    }

    #[test]
    fn refuses_to_block_inside_a_runtime() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let err = runtime.block_on(async { get("http://127.0.0.1:1/", &[]).err() });
        assert!(matches!(err, Some(HttpError::InsideRuntime)), "{err:?}");
    }
}
