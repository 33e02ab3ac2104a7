//! Artifact attestations: upload, list with pagination, `bundle_url` download (snappy), size
//! limits.
//!
//! These calls stay on octocrab's raw requests (through the shared transport and its retry
//! policy): octocrab's typed attestation list drops the pagination cursor (GitHub pages this list
//! with `after` cursors in the `Link` header, which its `Page` does not keep), and bundles are
//! free JSON that must reach the verifier byte for byte, not a model's re-serialisation. Raw
//! calls also read every body with a size limit.

use super::client::{Target, next_link};
use super::{
    ATTESTATIONS_PER_PAGE, GitHub, GitHubError, MAX_ATTESTATION_PAGE_BYTES, MAX_ATTESTATION_PAGES,
    MAX_RESPONSE_BYTES, Operation, is_loopback, strip_query,
};
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

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

impl GitHub {
    /// Uploads a sigstore bundle (`POST /repos/{owner}/{repo}/attestations`); returns the
    /// attestation id GitHub gave it. Uploading the same bundle again is harmless.
    pub fn upload_attestation(&self, bundle_json: &[u8]) -> Result<Option<u64>, GitHubError> {
        self.transport
            .block_on(self.upload_attestation_async(bundle_json))
    }

    /// [`GitHub::upload_attestation`] as a future, so that the bundles of a push upload side by
    /// side.
    pub(crate) async fn upload_attestation_async(
        &self,
        bundle_json: &[u8],
    ) -> Result<Option<u64>, GitHubError> {
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
        let resp = self
            .transport
            .raw_async(
                Target::Api,
                op,
                Method::POST,
                &path,
                Some(&body),
                MAX_RESPONSE_BYTES,
            )
            .await?;
        if resp.status == StatusCode::CONFLICT {
            return Ok(None);
        }
        let id = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_u64));
        Ok(id)
    }

    /// The attestations GitHub lists for `sha256:<digest>`, following pagination, as listed:
    /// inline bundles are returned, `bundle_url`s are not downloaded. A 404 for the first page is
    /// an empty list: GitHub answers so when no attestation has the digest (a repository that does
    /// not exist or that the token cannot see looks the same).
    pub fn list_attestation_entries(
        &self,
        sha256_hex: &str,
    ) -> Result<Vec<ListedAttestation>, GitHubError> {
        self.transport
            .block_on(self.list_attestation_entries_async(sha256_hex))
    }

    /// [`GitHub::list_attestation_entries`] as a future: the pages of one digest come one after
    /// another (each names the next), the listings of different digests can overlap.
    pub(crate) async fn list_attestation_entries_async(
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
            let resp = match self
                .transport
                .raw_async(
                    Target::Api,
                    op,
                    Method::GET,
                    &path,
                    None,
                    MAX_ATTESTATION_PAGE_BYTES,
                )
                .await
            {
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
            let page_url = format!("{}{}", self.config().api_url, strip_query(&path));
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
            .config()
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
    /// JSON, or snappy-compressed JSON as GitHub's storage serves it. A future, so that the
    /// `bundle_url`s of a listing download side by side.
    pub(crate) async fn fetch_bundle_url_async(&self, url: &str) -> Result<Vec<u8>, GitHubError> {
        let op = Operation::FetchBundleUrl;
        let limit = crate::bundle::MAX_BUNDLE_BYTES;
        let uri: http::Uri = url.parse().map_err(|_| GitHubError::Invalid {
            operation: op,
            message: format!("bundle_url is not a URL: {:?}", strip_query(url)),
        })?;
        let scheme = match (uri.scheme_str(), uri.authority()) {
            (Some(s @ ("https" | "http")), Some(_)) => s,
            _ => {
                return Err(GitHubError::Invalid {
                    operation: op,
                    message: format!("bundle_url is not http(s): {:?}", strip_query(url)),
                });
            }
        };
        if scheme == "http" && !uri.host().is_some_and(is_loopback) {
            return Err(GitHubError::Invalid {
                operation: op,
                message: format!("bundle_url is not https: {:?}", strip_query(url)),
            });
        }
        // The storage client, built once without credentials: bundle URLs are signed storage
        // URLs, not the API, and must never see the token.
        let resp = self
            .transport
            .raw_async(Target::Storage, op, Method::GET, url, None, limit)
            .await?;
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
