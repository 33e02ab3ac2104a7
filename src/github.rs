//! GitHub's REST API: artifact attestations, check runs, commit statuses and repository dispatch.
//!
//! Everything goes through [`octocrab`] on a current-thread tokio runtime owned by [`GitHub`], so
//! callers stay synchronous. octocrab's own retry layer is switched off (it re-sends at once);
//! [`GitHub`] retries by itself with a backoff that honours `retry-after` and `x-ratelimit-reset`,
//! on 429, on secondary rate limits (403 with rate-limit headers), on 5xx and on dropped
//! connections, with a cap on the total time spent waiting ([`RetryPolicy`]).
//!
//! Configuration comes from the environment GitHub Actions sets ([`GitHubConfig::from_env`]):
//! `GITHUB_API_URL` (GitHub Enterprise Server, or a local test server), `GITHUB_TOKEN` /
//! `GH_TOKEN` and `GITHUB_REPOSITORY` (or the `origin` remote). The token is kept in a
//! [`SecretString`], sent only to the API host, and redacted from every error message.
//!
//! Every response body is read with a size limit, and every error names the operation, the HTTP
//! status and, for 401/403/404, the token variable and the permission the operation needs.

use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use octocrab::secrecy::{ExposeSecret, SecretString};
use octocrab::service::middleware::retry::RetryConfig;
use serde::Deserialize;
use serde_json::{Value, json};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The API used when `GITHUB_API_URL` is not set.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The REST API version ci-attest is written against (`x-github-api-version`).
pub const API_VERSION: &str = "2022-11-28";

/// The name of ci-attest's check run and the context of its commit status.
pub const CHECK_NAME: &str = "ci-attest";

/// The `event_type` of the repository dispatch `ci-attest push --notify` sends.
pub const DISPATCH_EVENT: &str = "ci-attest";

/// GitHub's limit on a check run's `output.summary`, in characters.
pub const MAX_SUMMARY_CHARS: usize = 65_535;

/// GitHub's limit on a check run's `output.title`, in characters (kept short on purpose).
pub const MAX_TITLE_CHARS: usize = 255;

/// GitHub's limit on a commit status description, in characters.
pub const MAX_STATUS_DESCRIPTION_CHARS: usize = 140;

/// The largest response body read for an ordinary API call.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The largest page of attestations read (a page holds up to [`ATTESTATIONS_PER_PAGE`] bundles).
pub const MAX_ATTESTATION_PAGE_BYTES: usize = 64 * 1024 * 1024;

/// How many attestations are asked for per page.
pub const ATTESTATIONS_PER_PAGE: usize = 30;

/// The most pages of attestations followed for one digest.
pub const MAX_ATTESTATION_PAGES: usize = 20;

/// What the error of every attestations-API call adds.
pub const ATTESTATIONS_API_NOTE: &str = "note: GitHub documents the attestations API for bundles \
made by actions/attest; whether it stores key-signed bundles such as ci-attest's is unconfirmed. \
The `git` store (`ci-attest push --to git`, `ci-attest verify --from git`) works with any forge";

/// The environment variables a token is read from, in order.
pub const TOKEN_VARIABLES: [&str; 2] = ["GITHUB_TOKEN", "GH_TOKEN"];

/// A repository on GitHub: `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    owner: String,
    name: String,
}

impl Repository {
    /// Parses `owner/name` (as in `GITHUB_REPOSITORY`); both parts must be plain GitHub names.
    pub fn parse(text: &str) -> Option<Repository> {
        let (owner, name) = text.trim().split_once('/')?;
        let ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 100
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        };
        (ok(owner) && ok(name)).then(|| Repository {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }

    /// The repository named by a canonical remote URL such as `https://github.com/owner/name`.
    pub fn from_remote_url(url: &str) -> Option<Repository> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))?;
        let (_host, path) = rest.split_once('/')?;
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        Repository::parse(path)
    }

    /// The owner (user or organisation).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The repository's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// How failed requests are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests sent in all for one call, the first included.
    pub max_attempts: u32,
    /// The most time spent waiting between attempts of one call; a server asking for a longer
    /// wait (a primary rate limit resetting in an hour) fails the call at once instead.
    pub max_total_wait: Duration,
    /// The wait after the first failure without a server-given delay; doubled each time.
    pub first_delay: Duration,
    /// The longest single wait without a server-given delay.
    pub max_delay: Duration,
    /// The time one attempt may take, from sending to the last byte of the body.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_total_wait: Duration::from_secs(120),
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Where and as whom to talk to GitHub.
#[derive(Clone)]
pub struct GitHubConfig {
    /// The API's base URL, without a trailing slash.
    pub api_url: String,
    /// The token, if one was given.
    pub token: Option<SecretString>,
    /// The variable the token came from (for error messages).
    pub token_variable: &'static str,
    /// The repository.
    pub repository: Repository,
    /// Retries.
    pub retry: RetryPolicy,
}

impl fmt::Debug for GitHubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubConfig")
            .field("api_url", &self.api_url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("token_variable", &self.token_variable)
            .field("repository", &self.repository)
            .field("retry", &self.retry)
            .finish()
    }
}

impl GitHubConfig {
    /// Reads the configuration from environment variables through `env` (the CLI passes
    /// `std::env::var`), falling back to the `origin` remote's canonical URL for the repository.
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        origin_url: Option<&str>,
    ) -> Result<GitHubConfig, GitHubError> {
        let non_empty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let api_url = non_empty("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_string());
        let api_url = check_api_url(&api_url)?;
        let (token, token_variable) = TOKEN_VARIABLES
            .iter()
            .find_map(|k| non_empty(k).map(|t| (Some(SecretString::from(t.trim())), *k)))
            .unwrap_or((None, TOKEN_VARIABLES[0]));
        let repository = match non_empty("GITHUB_REPOSITORY") {
            Some(r) => Repository::parse(&r).ok_or_else(|| GitHubError::Config {
                message: format!("GITHUB_REPOSITORY: expected `owner/name`, found {r:?}"),
            })?,
            None => origin_url
                .and_then(Repository::from_remote_url)
                .ok_or_else(|| GitHubError::Config {
                    message: format!(
                        "no GitHub repository: set GITHUB_REPOSITORY=owner/name, or add an `origin` \
                         remote like https://github.com/owner/name (found {})",
                        origin_url.map_or("no origin remote".to_string(), |u| format!("{u:?}"))
                    ),
                })?,
        };
        Ok(GitHubConfig {
            api_url,
            token,
            token_variable,
            repository,
            retry: RetryPolicy::default(),
        })
    }
}

/// Checks an API base URL: `https://`, or `http://` to a loopback address only (a token is never
/// sent in clear text over a network); returns it without a trailing slash.
fn check_api_url(url: &str) -> Result<String, GitHubError> {
    let url = url.trim().trim_end_matches('/');
    let bad = |why: &str| GitHubError::Config {
        message: format!("GITHUB_API_URL: {why}, found {url:?}"),
    };
    let uri: http::Uri = url.parse().map_err(|_| bad("expected a URL"))?;
    let host = uri
        .host()
        .ok_or_else(|| bad("expected a URL with a host"))?;
    if uri.query().is_some() || url.contains('@') {
        return Err(bad("expected a URL without user info or query"));
    }
    match uri.scheme_str() {
        Some("https") => Ok(url.to_string()),
        Some("http") if is_loopback(host) => Ok(url.to_string()),
        Some("http") => Err(bad(
            "http:// is allowed only for a loopback address; use https://",
        )),
        _ => Err(bad("expected an https:// URL")),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Which API call failed, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// `POST /repos/{owner}/{repo}/attestations`.
    UploadAttestation,
    /// `GET /repos/{owner}/{repo}/attestations/sha256:{digest}`.
    ListAttestations,
    /// Reading an attestation's `bundle_url`.
    FetchBundleUrl,
    /// `POST /repos/{owner}/{repo}/check-runs`.
    CreateCheckRun,
    /// `POST /repos/{owner}/{repo}/statuses/{sha}`.
    CreateCommitStatus,
    /// `POST /repos/{owner}/{repo}/dispatches`.
    RepositoryDispatch,
}

impl Operation {
    /// The permission a token needs for this call.
    pub fn permission(self) -> &'static str {
        match self {
            Operation::UploadAttestation => {
                "`attestations: write` (fine-grained token or workflow `permissions:`), or the \
                 `repo` scope of a classic token"
            }
            Operation::ListAttestations | Operation::FetchBundleUrl => {
                "read access to the repository and `attestations: read`"
            }
            Operation::CreateCheckRun => {
                "`checks: write`; only a GitHub App token (such as the GITHUB_TOKEN of a workflow) \
                 can create check runs, a personal access token cannot"
            }
            Operation::CreateCommitStatus => "`statuses: write` (or the `repo:status` scope)",
            Operation::RepositoryDispatch => {
                "`contents: write` (or the `repo` scope of a classic token)"
            }
        }
    }

    fn is_attestations_api(self) -> bool {
        matches!(
            self,
            Operation::UploadAttestation | Operation::ListAttestations | Operation::FetchBundleUrl
        )
    }

    fn note(self) -> String {
        if self.is_attestations_api() {
            format!(" ({ATTESTATIONS_API_NOTE})")
        } else {
            String::new()
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::UploadAttestation => "uploading an attestation to GitHub",
            Operation::ListAttestations => "listing the commit's attestations on GitHub",
            Operation::FetchBundleUrl => "downloading an attestation's bundle_url",
            Operation::CreateCheckRun => "creating the ci-attest check run",
            Operation::CreateCommitStatus => "setting the ci-attest commit status",
            Operation::RepositoryDispatch => "sending the ci-attest repository dispatch",
        })
    }
}

/// Why a GitHub call failed. Messages never contain the token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitHubError {
    /// The configuration is unusable (no repository, bad URL).
    #[error("{message}")]
    Config {
        /// What is wrong and what to set.
        message: String,
    },
    /// No token is set.
    #[error("{operation}: no token: set GITHUB_TOKEN (or GH_TOKEN) to a token with {}{}", operation.permission(), operation.note())]
    NoToken {
        /// The call.
        operation: Operation,
    },
    /// 401: the token is missing, wrong or expired.
    #[error("{operation}: HTTP 401 Unauthorized: the token in {variable} was not accepted (missing, wrong or expired); it needs {}: {message}{}", operation.permission(), operation.note())]
    Unauthorized {
        /// The call.
        operation: Operation,
        /// The variable the token came from.
        variable: &'static str,
        /// GitHub's message.
        message: String,
    },
    /// 403 without rate-limit signs: the token lacks a permission.
    #[error("{operation}: HTTP 403 Forbidden: the token in {variable} lacks a permission; it needs {}: {message}{}", operation.permission(), operation.note())]
    Forbidden {
        /// The call.
        operation: Operation,
        /// The variable the token came from.
        variable: &'static str,
        /// GitHub's message.
        message: String,
    },
    /// 404: no such repository, or one the token cannot see.
    #[error("{operation}: HTTP 404 Not Found at {url}: the repository does not exist, the API is not available there, or the token in {variable} cannot see it (it needs {}): {message}{}", operation.permission(), operation.note())]
    NotFound {
        /// The call.
        operation: Operation,
        /// The URL (without query).
        url: String,
        /// The variable the token came from.
        variable: &'static str,
        /// GitHub's message.
        message: String,
    },
    /// Another 4xx: GitHub refused the request.
    #[error("{operation}: HTTP {status}: GitHub refused the request: {message}{}", operation.note())]
    Refused {
        /// The call.
        operation: Operation,
        /// The status.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// Rate limited for longer than the retry budget allows.
    #[error("{operation}: rate limited by GitHub (HTTP {status}); it asks to wait {}s, more than the {}s budget left after {attempts} attempt(s): try again later{}", wait.as_secs(), budget.as_secs(), operation.note())]
    RateLimited {
        /// The call.
        operation: Operation,
        /// The last status (429 or 403).
        status: u16,
        /// The wait GitHub asked for.
        wait: Duration,
        /// The wait budget left.
        budget: Duration,
        /// Requests sent.
        attempts: u32,
    },
    /// Retries exhausted on server errors or dropped connections.
    #[error("{operation}: gave up after {attempts} attempt(s): {last}{}", operation.note())]
    Unavailable {
        /// The call.
        operation: Operation,
        /// Requests sent.
        attempts: u32,
        /// The last failure (an HTTP status or a transport error).
        last: String,
    },
    /// A response was larger than its limit.
    #[error("{operation}: the response exceeds the limit of {limit} bytes{}", operation.note())]
    TooLarge {
        /// The call.
        operation: Operation,
        /// The limit.
        limit: usize,
    },
    /// A response was not what the API describes.
    #[error("{operation}: unexpected response: {message}{}", operation.note())]
    Invalid {
        /// The call.
        operation: Operation,
        /// What was wrong.
        message: String,
    },
    /// The HTTP client could not be set up.
    #[error("cannot set up the GitHub client: {0}")]
    Client(String),
}

impl GitHubError {
    /// True for errors of configuration (exit code 2 in the CLI) rather than of the network or
    /// of GitHub's answer.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            GitHubError::Config { .. } | GitHubError::NoToken { .. }
        )
    }
}

/// The state of a commit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusState {
    /// Accepted.
    Success,
    /// Rejected.
    Failure,
    /// Could not be decided.
    Error,
    /// Not decided yet.
    Pending,
}

impl StatusState {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Success => "success",
            StatusState::Failure => "failure",
            StatusState::Error => "error",
            StatusState::Pending => "pending",
        }
    }
}

/// The conclusion of a completed check run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    /// Accepted.
    Success,
    /// Rejected.
    Failure,
}

impl Conclusion {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
        }
    }
}

/// An attestation as listed by GitHub, with its bundle read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedAttestation {
    /// Where it came from (API URL or `bundle_url` without its query), for reports.
    pub location: String,
    /// The bundle's JSON bytes.
    pub bundle: Vec<u8>,
}

/// One entry of GitHub's attestation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedAttestation {
    /// The page it was listed on, and its place there.
    pub location: String,
    /// The inline bundle's JSON bytes, if the entry has one.
    pub bundle: Option<Vec<u8>>,
    /// The entry's `bundle_url`, if any (a signed storage URL: never print its query).
    pub bundle_url: Option<String>,
}

/// A synchronous GitHub client for one repository.
pub struct GitHub {
    config: GitHubConfig,
    client: Octocrab,
    runtime: tokio::runtime::Runtime,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One HTTP response, body read.
struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// What one attempt came to.
enum Attempt {
    Done(Response),
    Retry {
        wait: Option<Duration>,
        last: String,
        status: Option<u16>,
        rate_limited: bool,
    },
}

impl GitHub {
    /// A client for `config`, with its own current-thread runtime.
    pub fn new(config: GitHubConfig) -> Result<GitHub, GitHubError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| GitHubError::Client(e.to_string()))?;
        let client = build_client(
            &runtime,
            &config.api_url,
            config.token.clone(),
            &config.retry,
        )?;
        Ok(GitHub {
            config,
            client,
            runtime,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GitHubConfig {
        &self.config
    }

    fn repo_path(&self) -> String {
        format!(
            "/repos/{}/{}",
            self.config.repository.owner, self.config.repository.name
        )
    }

    /// Uploads a sigstore bundle (`POST /repos/{owner}/{repo}/attestations`); returns the
    /// attestation id GitHub gave it. Uploading the same bundle again is harmless.
    pub fn upload_attestation(&self, bundle_json: &[u8]) -> Result<Option<u64>, GitHubError> {
        let op = Operation::UploadAttestation;
        let bundle: Value =
            serde_json::from_slice(bundle_json).map_err(|e| GitHubError::Invalid {
                operation: op,
                message: format!("the bundle to upload is not JSON: {e}"),
            })?;
        if !bundle.is_object() {
            return Err(GitHubError::Invalid {
                operation: op,
                message: "the bundle to upload is not a JSON object".into(),
            });
        }
        let path = format!("{}/attestations", self.repo_path());
        let body = json!({ "bundle": bundle });
        let resp = self.call(op, Method::POST, &path, Some(&body), MAX_RESPONSE_BYTES)?;
        if resp.status == StatusCode::CONFLICT {
            return Ok(None);
        }
        let id = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_u64));
        Ok(id)
    }

    /// Every attestation GitHub lists for `sha256:<digest>` in the repository, following
    /// pagination; each bundle is the inline `bundle` or, failing that, the `bundle_url`'s content
    /// (downloaded without the token, size-limited, snappy-decompressed when compressed).
    pub fn list_attestations(
        &self,
        sha256_hex: &str,
    ) -> Result<Vec<FetchedAttestation>, GitHubError> {
        let mut out = Vec::new();
        for listed in self.list_attestation_entries(sha256_hex)? {
            match (listed.bundle, listed.bundle_url) {
                (Some(bundle), _) => out.push(FetchedAttestation {
                    location: listed.location,
                    bundle,
                }),
                (None, Some(url)) => {
                    let bundle = self.fetch_bundle_url(&url)?;
                    out.push(FetchedAttestation {
                        location: strip_query(&url).to_string(),
                        bundle,
                    });
                }
                (None, None) => {
                    return Err(GitHubError::Invalid {
                        operation: Operation::ListAttestations,
                        message: format!(
                            "{} has neither a `bundle` nor a `bundle_url`",
                            listed.location
                        ),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The attestations GitHub lists for `sha256:<digest>`, following pagination, as listed:
    /// inline bundles are returned, `bundle_url`s are not downloaded. A 404 for the first page is
    /// an empty list: GitHub answers so when no attestation has the digest (a repository that does
    /// not exist or that the token cannot see looks the same).
    pub fn list_attestation_entries(
        &self,
        sha256_hex: &str,
    ) -> Result<Vec<ListedAttestation>, GitHubError> {
        let op = Operation::ListAttestations;
        let ok = sha256_hex.len() == 64
            && sha256_hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(GitHubError::Invalid {
                operation: op,
                message: format!("expected a lowercase sha256 hex digest, found {sha256_hex:?}"),
            });
        }
        let first = format!(
            "{}/attestations/sha256:{sha256_hex}?per_page={ATTESTATIONS_PER_PAGE}",
            self.repo_path()
        );
        let mut next = Some(first);
        let mut out = Vec::new();
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > MAX_ATTESTATION_PAGES {
                return Err(GitHubError::Invalid {
                    operation: op,
                    message: format!("more than {MAX_ATTESTATION_PAGES} pages of attestations"),
                });
            }
            let resp = match self.call(op, Method::GET, &path, None, MAX_ATTESTATION_PAGE_BYTES) {
                Ok(resp) => resp,
                // GitHub answers 404 when no attestation has this digest (as `gh attestation`
                // expects); it is an empty list, which the verifier reports as `no-attestation`.
                Err(GitHubError::NotFound { .. }) if pages == 1 => break,
                Err(e) => return Err(e),
            };
            let page: AttestationPage =
                serde_json::from_slice(&resp.body).map_err(|e| GitHubError::Invalid {
                    operation: op,
                    message: format!("the attestation list is not the documented JSON: {e}"),
                })?;
            let page_url = format!("{}{}", self.config.api_url, strip_query(&path));
            for (i, a) in page.attestations.into_iter().enumerate() {
                let bundle = match a.bundle {
                    Some(b) if !b.is_null() => {
                        let bytes = serde_json::to_vec(&b).map_err(|e| GitHubError::Invalid {
                            operation: op,
                            message: e.to_string(),
                        })?;
                        if bytes.len() > crate::bundle::MAX_BUNDLE_BYTES {
                            return Err(GitHubError::TooLarge {
                                operation: op,
                                limit: crate::bundle::MAX_BUNDLE_BYTES,
                            });
                        }
                        Some(bytes)
                    }
                    _ => None,
                };
                out.push(ListedAttestation {
                    location: format!("{page_url} (page {pages}, item {})", i + 1),
                    bundle,
                    bundle_url: a.bundle_url.filter(|u| !u.is_empty()),
                });
            }
            next = next_link(&resp.headers)
                .map(|url| self.same_origin_path(op, &url))
                .transpose()?;
        }
        Ok(out)
    }

    /// The path and query of a pagination link, which must point at the API itself (the token
    /// is never sent elsewhere).
    fn same_origin_path(&self, op: Operation, url: &str) -> Result<String, GitHubError> {
        let base: http::Uri = self
            .config
            .api_url
            .parse()
            .map_err(|_| GitHubError::Config {
                message: "GITHUB_API_URL is not a URL".into(),
            })?;
        let link: http::Uri = url.parse().map_err(|_| GitHubError::Invalid {
            operation: op,
            message: format!("the next-page link is not a URL: {:?}", strip_query(url)),
        })?;
        let same = link.scheme() == base.scheme() && link.authority() == base.authority();
        match (same, link.path_and_query()) {
            (true, Some(pq)) => Ok(pq.as_str().to_string()),
            _ => Err(GitHubError::Invalid {
                operation: op,
                message: format!(
                    "the next-page link leaves the API ({}); not followed",
                    strip_query(url)
                ),
            }),
        }
    }

    /// Downloads a `bundle_url` without the token, with the bundle size limit; the content is
    /// JSON, or snappy-compressed JSON as GitHub's storage serves it.
    pub fn fetch_bundle_url(&self, url: &str) -> Result<Vec<u8>, GitHubError> {
        let op = Operation::FetchBundleUrl;
        let limit = crate::bundle::MAX_BUNDLE_BYTES;
        let uri: http::Uri = url.parse().map_err(|_| GitHubError::Invalid {
            operation: op,
            message: format!("bundle_url is not a URL: {:?}", strip_query(url)),
        })?;
        let origin = match (uri.scheme_str(), uri.authority()) {
            (Some(s @ ("https" | "http")), Some(a)) => format!("{s}://{a}"),
            _ => {
                return Err(GitHubError::Invalid {
                    operation: op,
                    message: format!("bundle_url is not http(s): {:?}", strip_query(url)),
                });
            }
        };
        if origin.starts_with("http://") && !uri.host().is_some_and(is_loopback) {
            return Err(GitHubError::Invalid {
                operation: op,
                message: format!("bundle_url is not https: {:?}", strip_query(url)),
            });
        }
        let pq = uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        // A separate client without credentials: bundle URLs point at storage, not the API.
        let client = build_client(&self.runtime, &origin, None, &self.config.retry)?;
        let resp = self.call_with(&client, op, Method::GET, &pq, None, limit)?;
        let body = resp.body;
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'{') {
            return Ok(body);
        }
        let len = snap::raw::decompress_len(&body).map_err(|e| GitHubError::Invalid {
            operation: op,
            message: format!("the bundle is neither JSON nor snappy-compressed: {e}"),
        })?;
        if len > limit {
            return Err(GitHubError::TooLarge {
                operation: op,
                limit,
            });
        }
        snap::raw::Decoder::new()
            .decompress_vec(&body)
            .map_err(|e| GitHubError::Invalid {
                operation: op,
                message: format!("the bundle is neither JSON nor snappy-compressed: {e}"),
            })
    }

    /// Creates a completed check run named `ci-attest` on `commit`. The title is cut to
    /// [`MAX_TITLE_CHARS`] and the summary (markdown) to [`MAX_SUMMARY_CHARS`]; returns its URL.
    pub fn create_check_run(
        &self,
        commit: &str,
        conclusion: Conclusion,
        title: &str,
        summary_markdown: &str,
    ) -> Result<Option<String>, GitHubError> {
        let op = Operation::CreateCheckRun;
        check_sha(op, commit)?;
        let body = json!({
            "name": CHECK_NAME,
            "head_sha": commit,
            "status": "completed",
            "conclusion": conclusion.as_str(),
            "completed_at": rfc3339_now(),
            "output": {
                "title": truncate_chars(title, MAX_TITLE_CHARS, "…"),
                "summary": truncate_markdown(summary_markdown, MAX_SUMMARY_CHARS),
            },
        });
        let path = format!("{}/check-runs", self.repo_path());
        let resp = self.call(op, Method::POST, &path, Some(&body), MAX_RESPONSE_BYTES)?;
        Ok(html_url(&resp.body))
    }

    /// Sets the `ci-attest` commit status of `commit`; the description is cut to
    /// [`MAX_STATUS_DESCRIPTION_CHARS`] characters.
    pub fn create_commit_status(
        &self,
        commit: &str,
        state: StatusState,
        description: &str,
        target_url: Option<&str>,
    ) -> Result<(), GitHubError> {
        let op = Operation::CreateCommitStatus;
        check_sha(op, commit)?;
        let mut body = json!({
            "state": state.as_str(),
            "description": truncate_chars(description, MAX_STATUS_DESCRIPTION_CHARS, "…"),
            "context": CHECK_NAME,
        });
        if let Some(url) = target_url {
            body["target_url"] = Value::String(url.to_string());
        }
        let path = format!("{}/statuses/{commit}", self.repo_path());
        self.call(op, Method::POST, &path, Some(&body), MAX_RESPONSE_BYTES)?;
        Ok(())
    }

    /// Sends a `repository_dispatch` event of type `ci-attest` with `client_payload.sha`, which
    /// starts the verifier workflow.
    pub fn repository_dispatch(&self, commit: &str) -> Result<(), GitHubError> {
        let op = Operation::RepositoryDispatch;
        check_sha(op, commit)?;
        let body = json!({
            "event_type": DISPATCH_EVENT,
            "client_payload": { "sha": commit },
        });
        let path = format!("{}/dispatches", self.repo_path());
        self.call(op, Method::POST, &path, Some(&body), MAX_RESPONSE_BYTES)?;
        Ok(())
    }

    fn call(
        &self,
        op: Operation,
        method: Method,
        path: &str,
        body: Option<&Value>,
        limit: usize,
    ) -> Result<Response, GitHubError> {
        if self.config.token.is_none() {
            return Err(GitHubError::NoToken { operation: op });
        }
        self.call_with(&self.client, op, method, path, body, limit)
    }

    /// Sends a request with retries and maps the final status to a result.
    fn call_with(
        &self,
        client: &Octocrab,
        op: Operation,
        method: Method,
        path: &str,
        body: Option<&Value>,
        limit: usize,
    ) -> Result<Response, GitHubError> {
        let policy = &self.config.retry;
        let mut waited = Duration::ZERO;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let attempt = self.runtime.block_on(async {
                match tokio::time::timeout(
                    policy.request_timeout,
                    send_once(client, op, &method, path, body, limit),
                )
                .await
                {
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
            });
            let (wait, last, status, rate_limited) =
                match attempt.map_err(|e| self.redact_err(e))? {
                    Attempt::Done(resp) => return self.finish(op, path, resp),
                    Attempt::Retry {
                        wait,
                        last,
                        status,
                        rate_limited,
                    } => (wait, last, status, rate_limited),
                };
            let last = self.redact(&last);
            let backoff = policy
                .first_delay
                .saturating_mul(1 << (attempts - 1).min(16))
                .min(policy.max_delay);
            let wait = wait.unwrap_or(backoff);
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
            self.runtime
                .block_on(async { tokio::time::sleep(wait).await });
        }
    }

    /// Maps a final (non-retried) response to success or a typed error.
    fn finish(&self, op: Operation, path: &str, resp: Response) -> Result<Response, GitHubError> {
        let status = resp.status;
        if status.is_success()
            || (op == Operation::UploadAttestation && status == StatusCode::CONFLICT)
        {
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
                url: format!("{}{}", self.config.api_url, strip_query(path)),
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

    fn redact(&self, text: &str) -> String {
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

/// Builds an octocrab client on `runtime` (its buffer task needs one) with octocrab's retries off.
fn build_client(
    runtime: &tokio::runtime::Runtime,
    base: &str,
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
    builder
        .base_uri(base)
        .map_err(|e| GitHubError::Client(format!("base URL {base:?}: {e}")))?
        .build()
        .map_err(|e| GitHubError::Client(e.to_string()))
}

/// Sends one request and reads its body with a limit; classifies what should be retried.
async fn send_once(
    client: &Octocrab,
    op: Operation,
    method: &Method,
    path: &str,
    body: Option<&Value>,
    limit: usize,
) -> Result<Attempt, GitHubError> {
    let sent = if *method == Method::POST {
        client._post(path, body).await
    } else {
        client._get(path).await
    };
    let resp = match sent {
        Ok(resp) => resp,
        Err(e) => {
            return match e {
                octocrab::Error::Hyper { .. } | octocrab::Error::Service { .. } => {
                    Ok(Attempt::Retry {
                        wait: None,
                        last: format!("connection failed: {}", error_chain(&e)),
                        status: None,
                        rate_limited: false,
                    })
                }
                other => Err(GitHubError::Client(error_chain(&other))),
            };
        }
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
    let resp = Response {
        status,
        headers,
        body: bytes,
    };
    Ok(classify(resp))
}

/// Decides whether a response is final or should be retried (and after how long).
fn classify(resp: Response) -> Attempt {
    let status = resp.status;
    let code = status.as_u16();
    let retry_after = header_u64(&resp.headers, "retry-after").map(Duration::from_secs);
    let remaining_zero = resp
        .headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    let reset_wait = header_u64(&resp.headers, "x-ratelimit-reset").map(|reset| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
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
fn next_link(headers: &HeaderMap) -> Option<String> {
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
fn error_message(body: &[u8]) -> String {
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

fn html_url(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body)
        .ok()?
        .get("html_url")?
        .as_str()
        .map(str::to_string)
}

fn check_sha(op: Operation, commit: &str) -> Result<(), GitHubError> {
    if crate::git::CommitId::parse(commit).is_none() {
        return Err(GitHubError::Invalid {
            operation: op,
            message: format!("expected a full commit id, found {commit:?}"),
        });
    }
    Ok(())
}

pub(crate) fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// Each error of a chain, joined with `: `.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = cause.source();
    }
    s
}

fn rfc3339_now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Cuts `text` to at most `max` characters (never inside a character), ending with `marker`.
pub fn truncate_chars(text: &str, max: usize, marker: &str) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(marker.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(marker);
    out
}

/// Cuts markdown to at most `max` characters at a line boundary where possible, and says so.
pub fn truncate_markdown(text: &str, max: usize) -> String {
    const NOTE: &str = "\n\n*(report truncated: GitHub limits a check run summary to 65535 characters; the full report is in the job log)*\n";
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(NOTE.chars().count());
    let cut: String = text.chars().take(keep).collect();
    let cut = match cut.rfind('\n') {
        Some(i) if i > cut.len() / 2 => cut[..i].to_string(),
        _ => cut,
    };
    format!("{cut}{NOTE}")
}

#[derive(Deserialize)]
struct AttestationPage {
    #[serde(default)]
    attestations: Vec<RawAttestation>,
}

#[derive(Deserialize)]
struct RawAttestation {
    #[serde(default)]
    bundle: Option<Value>,
    #[serde(default)]
    bundle_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn repository_comes_from_github_repository_or_origin() {
        let c = GitHubConfig::from_env(env(&[("GITHUB_REPOSITORY", "acme/app")]), None)
            .expect("config");
        assert_eq!(c.repository.to_string(), "acme/app");
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert!(c.token.is_none());
        let c =
            GitHubConfig::from_env(env(&[]), Some("https://github.com/acme/tool")).expect("config");
        assert_eq!(c.repository.to_string(), "acme/tool");
        let e = GitHubConfig::from_env(env(&[]), Some("/srv/git/app")).expect_err("no repo");
        assert!(e.is_config());
        assert!(e.to_string().contains("GITHUB_REPOSITORY"), "{e}");
    }

    #[test]
    fn repository_names_are_validated() {
        for bad in ["acme", "a/b/c", "../x", "a b/c", "/x", "a/", "a/.."] {
            assert!(Repository::parse(bad).is_none(), "{bad}");
        }
        assert!(Repository::parse("my-org/my.repo_1").is_some());
    }

    #[test]
    fn token_prefers_github_token_and_is_never_debug_printed() {
        let c = GitHubConfig::from_env(
            env(&[
                ("GITHUB_REPOSITORY", "a/b"),
                ("GH_TOKEN", "ghp_second"),
                ("GITHUB_TOKEN", "ghp_first"),
            ]),
            None,
        )
        .expect("config");
        assert_eq!(c.token_variable, "GITHUB_TOKEN");
        assert_eq!(
            c.token.as_ref().map(|t| t.expose_secret().to_string()),
            Some("ghp_first".into())
        );
        assert!(!format!("{c:?}").contains("ghp_"));
    }

    #[test]
    fn api_url_must_be_https_except_on_loopback() {
        assert_eq!(
            check_api_url("https://ghe.example/api/v3/").expect("ok"),
            "https://ghe.example/api/v3"
        );
        assert!(check_api_url("http://127.0.0.1:8080").is_ok());
        assert!(check_api_url("http://[::1]:8080").is_ok());
        assert!(check_api_url("http://localhost:1").is_ok());
        assert!(check_api_url("http://ghe.example").is_err());
        assert!(check_api_url("https://user:pw@ghe.example").is_err());
        assert!(check_api_url("ftp://x").is_err());
        assert!(check_api_url("not a url").is_err());
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
    fn truncation_respects_characters_and_limits() {
        let s = "é".repeat(200);
        let t = truncate_chars(&s, MAX_STATUS_DESCRIPTION_CHARS, "…");
        assert_eq!(t.chars().count(), MAX_STATUS_DESCRIPTION_CHARS);
        let md = "| a | ✅ |\n".repeat(20_000);
        let t = truncate_markdown(&md, MAX_SUMMARY_CHARS);
        assert!(t.chars().count() <= MAX_SUMMARY_CHARS);
        assert!(t.contains("report truncated"));
        assert_eq!(truncate_markdown("short", MAX_SUMMARY_CHARS), "short");
    }

    #[test]
    fn attestation_errors_point_to_the_git_store() {
        let e = GitHubError::Refused {
            operation: Operation::UploadAttestation,
            status: 422,
            message: "invalid bundle".into(),
        };
        let text = e.to_string();
        assert!(text.contains("actions/attest"), "{text}");
        assert!(text.contains("unconfirmed"), "{text}");
        assert!(text.contains("`git` store"), "{text}");
        let e = GitHubError::Refused {
            operation: Operation::CreateCommitStatus,
            status: 422,
            message: "x".into(),
        };
        assert!(!e.to_string().contains("actions/attest"));
    }

    #[test]
    fn rate_limits_and_server_errors_are_retried() {
        let resp = |code: u16, headers: &[(&'static str, &'static str)], body: &str| {
            let mut h = HeaderMap::new();
            for (k, v) in headers {
                h.insert(*k, http::HeaderValue::from_static(v));
            }
            Response {
                status: StatusCode::from_u16(code).expect("status"),
                headers: h,
                body: body.as_bytes().to_vec(),
            }
        };
        assert!(matches!(
            classify(resp(429, &[("retry-after", "3")], "")),
            Attempt::Retry { wait: Some(w), rate_limited: true, .. } if w == Duration::from_secs(3)
        ));
        assert!(matches!(
            classify(resp(
                403,
                &[],
                "{\"message\":\"You have exceeded a secondary rate limit\"}"
            )),
            Attempt::Retry {
                rate_limited: true,
                ..
            }
        ));
        assert!(matches!(
            classify(resp(
                403,
                &[],
                "{\"message\":\"Resource not accessible by integration\"}"
            )),
            Attempt::Done(_)
        ));
        assert!(matches!(
            classify(resp(502, &[], "")),
            Attempt::Retry {
                wait: None,
                rate_limited: false,
                ..
            }
        ));
        assert!(matches!(classify(resp(401, &[], "")), Attempt::Done(_)));
    }
}
