//! GitHub's REST API: artifact attestations, check runs, commit statuses, repository dispatch
//! and repository metadata.
//!
//! The module is split by job:
//! - this file: configuration ([`GitHubConfig`], read through a lookup closure by
//!   [`GitHubConfig::from_env`]), the [`GitHub`] client and its errors ([`GitHubError`]);
//! - `client`: the transport, octocrab clients built once per [`GitHub`] on a current-thread
//!   tokio runtime it owns (callers stay synchronous), and the one retry policy ([`RetryPolicy`]:
//!   `retry-after`, `x-ratelimit-reset`, secondary rate limits, 5xx, dropped connections, a cap on
//!   the total wait);
//! - `attestations`: upload, list with pagination, `bundle_url` download (snappy), size limits;
//! - `checks`: check runs, commit statuses and repository dispatch through octocrab's typed API,
//!   and the text truncation GitHub's limits need.
//!
//! Configuration comes from the environment GitHub Actions sets, looked up by the caller:
//! `GITHUB_API_URL` (GitHub Enterprise Server, or a local test server), `GITHUB_TOKEN` /
//! `GH_TOKEN` and `GITHUB_REPOSITORY` (or the `origin` remote). The token is kept in a
//! [`SecretString`], sent only to the API host, and redacted from every error message. The clock
//! (for `x-ratelimit-reset` and a check run's `completed_at`) is the caller's too ([`Clock`]):
//! nothing in this module reads the environment or the system clock, or prints.
//!
//! Every raw response body is read with a size limit, and every error names the operation, the
//! HTTP status and, for 401/403/404, the token variable and the permission the operation needs.

mod attestations;
mod checks;
mod client;

pub use attestations::ListedAttestation;
pub use checks::{Conclusion, StatusState, truncate_chars, truncate_markdown};

use client::Transport;
use octocrab::secrecy::SecretString;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The clock a [`GitHub`] reads the current time from (the CLI passes `SystemTime::now`; tests
/// pass a fixed time).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

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
    /// `GET /repos/{owner}/{repo}`.
    RepositoryMetadata,
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
            Operation::RepositoryMetadata => "`metadata: read` (read access to the repository)",
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
            Operation::RepositoryMetadata => "reading the repository's metadata on GitHub",
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

/// A synchronous GitHub client for one repository. Build it once per process: it owns a
/// runtime, the API client (with the token) and a storage client (without), and the retry policy.
pub struct GitHub {
    transport: Transport,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("config", self.config())
            .finish_non_exhaustive()
    }
}

impl GitHub {
    /// A client for `config` reading the time from `clock` (the CLI passes `SystemTime::now`),
    /// with its own current-thread runtime; its HTTP clients are built here, once.
    pub fn new(
        config: GitHubConfig,
        clock: impl Fn() -> SystemTime + Send + Sync + 'static,
    ) -> Result<GitHub, GitHubError> {
        Ok(GitHub {
            transport: Transport::new(config, Arc::new(clock))?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GitHubConfig {
        self.transport.config()
    }

    /// The repository's numeric id (`GET /repos/{owner}/{repo}`, octocrab's typed call), as
    /// attestations record it in `repository_id`.
    pub fn repository_id(&self) -> Result<u64, GitHubError> {
        let repo = &self.config().repository;
        let path = self.repo_path();
        let found =
            self.transport
                .typed(Operation::RepositoryMetadata, &path, |api| async move {
                    api.repos(repo.owner(), repo.name()).get().await
                })?;
        Ok(found.id.into_inner())
    }

    /// Runs `future` (made of this client's `*_async` calls) to completion on its runtime.
    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.transport.block_on(future)
    }

    /// `/repos/{owner}/{repo}`.
    fn repo_path(&self) -> String {
        let repo = &self.config().repository;
        format!("/repos/{}/{}", repo.owner(), repo.name())
    }
}

/// Checks that `commit` is a full commit id before it goes into a URL.
fn check_sha(op: Operation, commit: &str) -> Result<(), GitHubError> {
    if crate::git::CommitId::parse(commit).is_none() {
        return Err(GitHubError::Invalid {
            operation: op,
            message: format!("expected a full commit id, found {commit:?}"),
        });
    }
    Ok(())
}

/// A URL without its query and fragment (a signed storage URL's signature is in its query).
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

#[cfg(test)]
mod tests {
    use super::*;
    use octocrab::secrecy::ExposeSecret;

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
}
