//! The transport: octocrab clients built once per [`GitHub`](super::GitHub), and the one retry
//! policy every call goes through.
//!
//! Two clients are built when the [`GitHub`](super::GitHub) is made, on its current-thread
//! runtime: the API client (with the token, which octocrab sends only to the API's host) and a
//! storage client without credentials, for `bundle_url`s (signed storage URLs that must never see
//! the token). octocrab's own retry layer is switched off (it re-sends at once, and cannot wait
//! within a budget); [`Transport`] retries raw and typed calls alike with [`RetryPolicy`]: 429
//! with `retry-after`, secondary rate limits (403 with `retry-after`, `x-ratelimit-remaining: 0`
//! with `x-ratelimit-reset`, or a rate-limit message), 500/502/503/504, dropped connections and
//! attempts that time out, with a cap on the total time spent waiting.
//!
//! The current time (for `x-ratelimit-reset`) comes from the caller's [`Clock`]; nothing here
//! reads the system clock or the environment.

use super::{
    API_VERSION, Clock, GitHubConfig, GitHubError, Operation, RetryPolicy, error_chain,
    strip_query, truncate_chars,
};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use octocrab::secrecy::{ExposeSecret, SecretString};
use octocrab::service::middleware::retry::RetryConfig;
use serde_json::Value;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which client a raw call goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The API, with the token.
    Api,
    /// Storage URLs (absolute), without any credentials.
    Storage,
}

/// One HTTP response, body read.
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// What one attempt came to.
pub(crate) enum Attempt<T> {
    /// A final answer (which may still be an error status).
    Done(T),
    /// Worth another attempt.
    Retry {
        /// The delay the server asked for, if any.
        wait: Option<Duration>,
        /// What went wrong, for the final error.
        last: String,
        /// The HTTP status, if there was one.
        status: Option<u16>,
        /// Whether this was a rate limit (waits beyond the budget fail at once).
        rate_limited: bool,
    },
}

impl<T> Attempt<T> {
    /// The same attempt with its final answer mapped (a retry stays a retry).
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Attempt::Done(value) => Attempt::Done(f(value)),
            Attempt::Retry {
                wait,
                last,
                status,
                rate_limited,
            } => Attempt::Retry {
                wait,
                last,
                status,
                rate_limited,
            },
        }
    }
}

/// The HTTP side of a [`GitHub`](super::GitHub): runtime, clients, retry policy and clock.
pub(crate) struct Transport {
    config: GitHubConfig,
    clock: Clock,
    api: Octocrab,
    storage: Octocrab,
    runtime: tokio::runtime::Runtime,
    /// At most [`MAX_IN_FLIGHT`] requests at a time, however many calls run concurrently.
    in_flight: tokio::sync::Semaphore,
}

/// Most requests one [`GitHub`](super::GitHub) has open at once. Independent requests (the
/// `bundle_url`s of a listing, the listings of many commits) overlap up to this; retries wait
/// without holding a slot.
pub(crate) const MAX_IN_FLIGHT: usize = 8;

impl Transport {
    /// Builds the runtime and both clients, once.
    pub(crate) fn new(config: GitHubConfig, clock: Clock) -> Result<Transport, GitHubError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| GitHubError::Client(e.to_string()))?;
        let api = build_client(
            &runtime,
            Some(&config.api_url),
            config.token.clone(),
            &config.retry,
        )?;
        // No base URL and no token: storage URLs are absolute and signed.
        let storage = build_client(&runtime, None, None, &config.retry)?;
        Ok(Transport {
            config,
            clock,
            api,
            storage,
            runtime,
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
        })
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &GitHubConfig {
        &self.config
    }

    /// The current time, from the caller's clock.
    pub(crate) fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// Fails with [`GitHubError::NoToken`] when no token is configured.
    pub(crate) fn require_token(&self, op: Operation) -> Result<(), GitHubError> {
        if self.config.token.is_none() {
            return Err(GitHubError::NoToken { operation: op });
        }
        Ok(())
    }

    /// Runs `future` (made of this transport's `*_async` calls) to completion on the runtime.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// A raw request (`path` relative to the API for [`Target::Api`], an absolute URL for
    /// [`Target::Storage`]), retried per the policy, its body read with `limit`; a final error
    /// status becomes a typed error (409 is an answer for an attestation upload).
    ///
    /// A future, so that independent requests can overlap (at most [`MAX_IN_FLIGHT`] at once);
    /// [`Transport::block_on`] runs it.
    pub(crate) async fn raw_async(
        &self,
        target: Target,
        op: Operation,
        method: Method,
        path: &str,
        body: Option<&Value>,
        limit: usize,
    ) -> Result<Response, GitHubError> {
        if target == Target::Api {
            self.require_token(op)?;
        }
        let client = match target {
            Target::Api => &self.api,
            Target::Storage => &self.storage,
        };
        let now = || self.now();
        let resp = self
            .retry(op, || {
                let method = method.clone();
                async move {
                    let resp = send_once(client, op, &method, path, body, limit).await?;
                    Ok(classify(resp, now()))
                }
            })
            .await?;
        if op == Operation::UploadAttestation && resp.status == StatusCode::CONFLICT {
            return Ok(resp);
        }
        self.finish(op, path, resp)
    }

    /// A typed octocrab call made by `call` on the API client, retried per the policy. octocrab
    /// reads and deserialises the answer itself; its error statuses (with their headers) are
    /// classified as a raw answer would be. `path` names the call in a 404.
    pub(crate) fn typed<'t, T, F, Fut>(
        &'t self,
        op: Operation,
        path: &str,
        call: F,
    ) -> Result<T, GitHubError>
    where
        F: Fn(&'t Octocrab) -> Fut,
        Fut: Future<Output = Result<T, octocrab::Error>>,
    {
        self.require_token(op)?;
        let now = || self.now();
        let api = &self.api;
        let answer = self.block_on(self.retry(op, || {
            let sent = call(api);
            async move {
                Ok(match sent.await {
                    Ok(value) => Attempt::Done(Ok(value)),
                    // A final error status is the answer to classify; a retry passes through.
                    Err(e) => classify(typed_failure(op, e)?, now()).map(Err),
                })
            }
        }))?;
        match answer {
            Ok(value) => Ok(value),
            Err(resp) => match self.finish(op, path, resp) {
                // A success status that octocrab could not use (it found an error in the body).
                Ok(resp) => Err(GitHubError::Invalid {
                    operation: op,
                    message: self.redact(&format!(
                        "HTTP {}: {}",
                        resp.status.as_u16(),
                        error_message(&resp.body)
                    )),
                }),
                Err(e) => Err(e),
            },
        }
    }

    /// The retry loop: runs `attempt` until it is final, waiting per the policy in between. Each
    /// attempt holds one of the [`MAX_IN_FLIGHT`] slots; the waits in between do not.
    async fn retry<T, F, Fut>(&self, op: Operation, mut attempt: F) -> Result<T, GitHubError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Attempt<T>, GitHubError>>,
    {
        let policy = &self.config.retry;
        let mut waited = Duration::ZERO;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let this = attempt();
            let outcome = {
                // The semaphore is never closed, so acquiring only waits.
                let _slot = self.in_flight.acquire().await.ok();
                match tokio::time::timeout(policy.request_timeout, this).await {
                    Ok(result) => result,
                    Err(_) => Ok(Attempt::Retry {
                        wait: None,
                        last: format!(
                            "no complete answer within {}s",
                            policy.request_timeout.as_secs()
                        ),
                        status: None,
                        rate_limited: false,
                    }),
                }
            };
            let (wait, last, status, rate_limited) =
                match outcome.map_err(|e| self.redact_err(e))? {
                    Attempt::Done(value) => return Ok(value),
                    Attempt::Retry {
                        wait,
                        last,
                        status,
                        rate_limited,
                    } => (wait, last, status, rate_limited),
                };
            let last = self.redact(&last);
            let wait = wait.unwrap_or_else(|| backoff(policy, attempts));
            let budget = policy.max_total_wait.saturating_sub(waited);
            if rate_limited && wait > budget {
                return Err(GitHubError::RateLimited {
                    operation: op,
                    status: status.unwrap_or(429),
                    wait,
                    budget,
                    attempts,
                });
            }
            if attempts >= policy.max_attempts || wait > budget {
                return Err(GitHubError::Unavailable {
                    operation: op,
                    attempts,
                    last,
                });
            }
            waited += wait;
            tokio::time::sleep(wait).await;
        }
    }

    /// Maps a final (non-retried) response to success or a typed error.
    fn finish(&self, op: Operation, path: &str, resp: Response) -> Result<Response, GitHubError> {
        let status = resp.status;
        if status.is_success() {
            return Ok(resp);
        }
        let message = self.redact(&error_message(&resp.body));
        let variable = self.config.token_variable;
        Err(match status.as_u16() {
            401 => GitHubError::Unauthorized {
                operation: op,
                variable,
                message,
            },
            403 => GitHubError::Forbidden {
                operation: op,
                variable,
                message,
            },
            404 => GitHubError::NotFound {
                operation: op,
                url: if path.starts_with('/') {
                    format!("{}{}", self.config.api_url, strip_query(path))
                } else {
                    strip_query(path).to_string()
                },
                variable,
                message,
            },
            code => GitHubError::Refused {
                operation: op,
                status: code,
                message,
            },
        })
    }

    /// `text` with the token replaced by `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        match &self.config.token {
            Some(t) if !t.expose_secret().is_empty() => text.replace(t.expose_secret(), "***"),
            _ => text.to_string(),
        }
    }

    fn redact_err(&self, e: GitHubError) -> GitHubError {
        match e {
            GitHubError::Invalid { operation, message } => GitHubError::Invalid {
                operation,
                message: self.redact(&message),
            },
            GitHubError::Client(m) => GitHubError::Client(self.redact(&m)),
            other => other,
        }
    }
}

/// The wait after the `attempts`-th failure when the server gave none: doubling, capped.
fn backoff(policy: &RetryPolicy, attempts: u32) -> Duration {
    policy
        .first_delay
        .saturating_mul(1 << attempts.saturating_sub(1).min(16))
        .min(policy.max_delay)
}

/// Builds an octocrab client on `runtime` (its buffer task needs one) with octocrab's retries off.
fn build_client(
    runtime: &tokio::runtime::Runtime,
    base: Option<&str>,
    token: Option<SecretString>,
    retry: &RetryPolicy,
) -> Result<Octocrab, GitHubError> {
    let _guard = runtime.enter();
    let mut builder = Octocrab::builder()
        .add_retry_config(RetryConfig::None)
        .set_connect_timeout(Some(Duration::from_secs(15)))
        .set_read_timeout(Some(retry.request_timeout))
        .set_write_timeout(Some(retry.request_timeout))
        // GitHub recommends its media type; `application/json` is listed too because it is what
        // GitHub's OpenAPI description declares, so strict content negotiation (prism) accepts it.
        .add_header(
            http::header::ACCEPT,
            "application/vnd.github+json, application/json".to_string(),
        )
        .add_header(
            http::HeaderName::from_static("x-github-api-version"),
            API_VERSION.to_string(),
        );
    if let Some(token) = token {
        builder = builder.personal_token(token);
    }
    if let Some(base) = base {
        builder = builder
            .base_uri(base)
            .map_err(|e| GitHubError::Client(format!("base URL {base:?}: {e}")))?;
    }
    builder
        .build()
        .map_err(|e| GitHubError::Client(e.to_string()))
}

/// Whether an octocrab error is the connection failing (worth a retry).
fn is_transport(e: &octocrab::Error) -> bool {
    matches!(
        e,
        octocrab::Error::Hyper { .. } | octocrab::Error::Service { .. }
    )
}

/// Sorts a typed call's failure: an error status becomes a response to classify (GitHub's
/// message and headers kept), a dropped connection a retry, anything else a final error.
fn typed_failure(op: Operation, e: octocrab::Error) -> Result<Attempt<Response>, GitHubError> {
    if is_transport(&e) {
        return Ok(Attempt::Retry {
            wait: None,
            last: format!("connection failed: {}", error_chain(&e)),
            status: None,
            rate_limited: false,
        });
    }
    match e {
        octocrab::Error::GitHub { source, .. } => {
            let source = *source;
            let mut body = serde_json::json!({ "message": source.message });
            if let Some(errors) = source.errors {
                body["errors"] = Value::Array(errors);
            }
            if let Some(doc) = source.documentation_url {
                body["documentation_url"] = Value::String(doc);
            }
            Ok(Attempt::Done(Response {
                status: source.status_code,
                headers: source.headers.unwrap_or_default(),
                body: body.to_string().into_bytes(),
            }))
        }
        octocrab::Error::Serde { .. } | octocrab::Error::Json { .. } => Err(GitHubError::Invalid {
            operation: op,
            message: format!("the answer is not the documented JSON: {}", error_chain(&e)),
        }),
        other => Err(GitHubError::Client(error_chain(&other))),
    }
}

/// Sends one raw request and reads its body with a limit.
async fn send_once(
    client: &Octocrab,
    op: Operation,
    method: &Method,
    path: &str,
    body: Option<&Value>,
    limit: usize,
) -> Result<Attempt<Response>, GitHubError> {
    let sent = if *method == Method::POST {
        client._post(path, body).await
    } else {
        client._get(path).await
    };
    let resp = match sent {
        Ok(resp) => resp,
        Err(e) if is_transport(&e) => {
            return Ok(Attempt::Retry {
                wait: None,
                last: format!("connection failed: {}", error_chain(&e)),
                status: None,
                rate_limited: false,
            });
        }
        Err(other) => return Err(GitHubError::Client(error_chain(&other))),
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    if let Some(len) = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(GitHubError::TooLarge {
            operation: op,
            limit,
        });
    }
    let mut stream = resp.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = stream.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                return Ok(Attempt::Retry {
                    wait: None,
                    last: format!(
                        "connection dropped while reading the answer: {}",
                        error_chain(&e)
                    ),
                    status: None,
                    rate_limited: false,
                });
            }
        };
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                return Err(GitHubError::TooLarge {
                    operation: op,
                    limit,
                });
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Attempt::Done(Response {
        status,
        headers,
        body: bytes,
    }))
}

/// Decides whether a response is final or should be retried (and after how long); `now` is the
/// time `x-ratelimit-reset` is measured from.
pub(crate) fn classify(resp: Attempt<Response>, now: SystemTime) -> Attempt<Response> {
    let resp = match resp {
        Attempt::Done(resp) => resp,
        retry => return retry,
    };
    let status = resp.status;
    let code = status.as_u16();
    let retry_after = header_u64(&resp.headers, "retry-after").map(Duration::from_secs);
    let remaining_zero = resp
        .headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    let reset_wait = header_u64(&resp.headers, "x-ratelimit-reset").map(|reset| {
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Duration::from_secs(reset.saturating_sub(now).saturating_add(1))
    });
    let secondary = code == 403
        && (retry_after.is_some()
            || remaining_zero
            || String::from_utf8_lossy(&resp.body[..resp.body.len().min(4096)])
                .to_ascii_lowercase()
                .contains("rate limit"));
    if code == 429 || secondary {
        let wait = retry_after.or(if remaining_zero { reset_wait } else { None });
        // A secondary limit without a given delay: GitHub asks for at least a minute.
        let wait = wait.or((code == 403).then_some(Duration::from_secs(60)));
        return Attempt::Retry {
            wait,
            last: format!("HTTP {code} rate limited: {}", error_message(&resp.body)),
            status: Some(code),
            rate_limited: true,
        };
    }
    if matches!(code, 500 | 502 | 503 | 504) {
        return Attempt::Retry {
            wait: retry_after,
            last: format!("HTTP {code}: {}", error_message(&resp.body)),
            status: Some(code),
            rate_limited: false,
        };
    }
    Attempt::Done(resp)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The URL of `rel="next"` in a `Link` header, if any.
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(http::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_string())
    })
}

/// GitHub's `message` (and any `errors`) from an error body, or a short excerpt of the body.
pub(crate) fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let mut msg = v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(errors) = v.get("errors") {
            msg.push_str(&format!(" {errors}"));
        }
        if let Some(doc) = v.get("documentation_url").and_then(Value::as_str) {
            msg.push_str(&format!(" (see {doc})"));
        }
        let msg = msg.trim().to_string();
        if !msg.is_empty() {
            return truncate_chars(&msg, 1000, " […]");
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "no message".into()
    } else {
        truncate_chars(text, 300, " […]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(code: u16, headers: &[(&'static str, &str)], body: &str) -> Attempt<Response> {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, http::HeaderValue::from_str(v).expect("header"));
        }
        Attempt::Done(Response {
            status: StatusCode::from_u16(code).expect("status"),
            headers: h,
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn next_links_are_parsed() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::LINK,
            http::HeaderValue::from_static(
                "<https://api.github.com/x?after=abc&per_page=30>; rel=\"next\", <https://api.github.com/x?before=z>; rel=\"prev\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/x?after=abc&per_page=30")
        );
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn rate_limits_and_server_errors_are_retried() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert!(matches!(
            classify(resp(429, &[("retry-after", "3")], ""), now),
            Attempt::Retry { wait: Some(w), rate_limited: true, .. } if w == Duration::from_secs(3)
        ));
        assert!(matches!(
            classify(
                resp(
                    403,
                    &[],
                    "{\"message\":\"You have exceeded a secondary rate limit\"}"
                ),
                now
            ),
            Attempt::Retry {
                rate_limited: true,
                ..
            }
        ));
        assert!(matches!(
            classify(
                resp(
                    403,
                    &[],
                    "{\"message\":\"Resource not accessible by integration\"}"
                ),
                now
            ),
            Attempt::Done(_)
        ));
        assert!(matches!(
            classify(resp(502, &[], ""), now),
            Attempt::Retry {
                wait: None,
                rate_limited: false,
                ..
            }
        ));
        assert!(matches!(
            classify(resp(401, &[], ""), now),
            Attempt::Done(_)
        ));
    }

    #[test]
    fn the_reset_time_is_measured_from_the_given_clock() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let limited = resp(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1010"),
            ],
            "",
        );
        assert!(matches!(
            classify(limited, now),
            Attempt::Retry { wait: Some(w), rate_limited: true, .. } if w == Duration::from_secs(11)
        ));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(backoff(&p, 1), Duration::from_secs(1));
        assert_eq!(backoff(&p, 3), Duration::from_secs(4));
        assert_eq!(backoff(&p, 30), p.max_delay);
    }
}
