//! Keyless signing: an ephemeral P-256 key, a Fulcio certificate for an OIDC identity, a Rekor v1
//! entry, and optionally an RFC 3161 timestamp, all in one sigstore bundle v0.3.
//!
//! [`sign_statement_keyless`] signs an in-toto Statement as a DSSE envelope:
//! 1. the token must not have expired at the `now` the caller passes
//!    ([`IdentityToken::check_not_expired`]; nothing here reads the clock);
//! 2. a fresh P-256 key is generated; Fulcio (`POST /api/v2/signingCert`) certifies it for the
//!    token's identity, given a proof of possession (a signature over the token's `email`, else
//!    `sub`); the leaf certificate must be for that key;
//! 3. the key signs the DSSE PAE; the key is then dropped;
//! 4. if a TSA is configured, it timestamps the signature bytes (SHA-256 message imprint),
//!    side by side with step 5 (the two need only the signature, not each other);
//! 5. Rekor (`POST /api/v1/log/entries`) logs a `dsse` 0.0.1 entry (the envelope JSON and the PEM
//!    leaf as verifier); the canonicalized body it returns must carry our payload hash and
//!    signature;
//! 6. the bundle gets `certificate` (the leaf, DER), one tlog entry (log index, log id,
//!    `dsse`/`0.0.1`, integrated time, SET, inclusion proof with checkpoint, canonicalized body)
//!    and the timestamps.
//!
//! [`sign_artifact_keyless`] does the same for a message signature over an artifact's SHA-256
//! (a `hashedrekord` 0.0.1 entry), as `cosign sign-blob` / `sigstore sign` do.
//!
//! Nothing here verifies what the services returned beyond "it is for our key and our entry":
//! verification (chain, SCT, SET, inclusion proof, checkpoint, timestamps) is the verifier's job
//! and runs on the bundle, as any third party would run it.

mod fulcio;
pub(crate) mod http;
mod rekor;
mod services;
mod tsa;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};
use std::time::SystemTime;

pub use services::{
    CLIENT_TRUST_CONFIG_MEDIA_TYPE_PREFIX, MAX_SIGNING_CONFIG_BYTES, PUBLIC_GOOD_FULCIO_URL,
    PUBLIC_GOOD_REKOR_URL, SIGNING_CONFIG_V02_MEDIA_TYPE, STAGING_FULCIO_URL, STAGING_REKOR_URL,
    Services,
};

use crate::bundle::{
    Bundle, Content, HashAlgorithm, HashOutput, KeyMaterial, MediaType, MessageSignature,
    Rfc3161SignedTimestamp, TimestampVerificationData, TransparencyLogEntry, VerificationMaterial,
};
use crate::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, Signature};
use crate::sign::key::{KeyError, SigningKey};
use crate::sign::oidc::{IdentityToken, OidcError};

/// Errors from keyless signing. None of them contains the identity token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeylessError {
    /// The identity token is unusable (e.g. expired).
    #[error(transparent)]
    Token(#[from] OidcError),
    /// The ephemeral key could not be made.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The system random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Rng(String),
    /// A request did not complete (connection, TLS, timeout, response size limit).
    #[error("{service} at {url}: request failed: {message}")]
    Http {
        /// Which service.
        service: &'static str,
        /// The URL requested.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A service answered with an error status.
    #[error("{service} at {url} answered HTTP {status}: {body}")]
    Status {
        /// Which service.
        service: &'static str,
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// An excerpt of the answer (the token redacted).
        body: String,
    },
    /// A service's answer is not what the protocol says.
    #[error("{service} at {url}: unexpected answer: expected {expected}")]
    Response {
        /// Which service.
        service: &'static str,
        /// The URL requested.
        url: String,
        /// What was expected (and found).
        expected: String,
    },
    /// The signing config cannot be used.
    #[error("signing config: expected {reason}")]
    SigningConfig {
        /// What was expected (and found).
        reason: String,
    },
}

/// PEM encoding and decoding of certificates, with `pem-rfc7468`.
pub(crate) mod pem {
    use pem_rfc7468::LineEnding;

    /// Every `label` block of `text`, decoded. Text around and between the blocks is ignored
    /// (Fulcio's chain entries may hold several concatenated blocks); each block from its BEGIN
    /// line to its END line is decoded by `pem-rfc7468` (RFC 7468: no headers, valid base64,
    /// matching labels).
    pub(crate) fn decode_all(text: &str, label: &str) -> Result<Vec<Vec<u8>>, String> {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find(&begin) {
            let from_begin = &rest[start..];
            let stop = from_begin
                .find(&end)
                .map(|i| i + end.len())
                .ok_or_else(|| format!("an {end} line"))?;
            let (block, after) = from_begin.split_at(stop);
            // The line width is detected (services wrap at 64 or 76), the rest is RFC 7468.
            let bad = |e: pem_rfc7468::Error| format!("an RFC 7468 {label} block ({e})");
            let mut decoder =
                pem_rfc7468::Decoder::new_detect_wrap(block.as_bytes()).map_err(bad)?;
            let found = decoder.type_label().to_string();
            let mut der = Vec::new();
            decoder.decode_to_end(&mut der).map_err(bad)?;
            if found != label {
                return Err(format!("a {label} block, found {found}"));
            }
            out.push(der);
            rest = after;
        }
        if out.is_empty() {
            return Err(format!("a {begin} block"));
        }
        Ok(out)
    }

    /// `der` as PEM with 64-character lines and a final newline (as Go and OpenSSL write it).
    pub(crate) fn encode(der: &[u8], label: &str) -> Result<String, String> {
        pem_rfc7468::encode_string(label, LineEnding::LF, der)
            .map_err(|e| format!("a PEM {label} encoding ({e})"))
    }
}

struct Certified {
    key: SigningKey,
    leaf: Vec<u8>,
    leaf_pem: String,
}

fn certify(
    token: &IdentityToken,
    services: &Services,
    now: SystemTime,
) -> Result<Certified, KeylessError> {
    token.check_not_expired(now)?;
    let key = SigningKey::generate()?;
    let chain = fulcio::request_certificate(&services.fulcio_url, token, &key)?;
    let leaf = chain.into_iter().next().unwrap_or_default();
    let leaf_pem =
        pem::encode(&leaf, "CERTIFICATE").map_err(|expected| KeylessError::Response {
            service: "Fulcio",
            url: services.fulcio_url.to_string(),
            expected,
        })?;
    Ok(Certified {
        key,
        leaf,
        leaf_pem,
    })
}

fn timestamps(
    services: &Services,
    signature: &[u8],
) -> Result<Option<TimestampVerificationData>, KeylessError> {
    services
        .tsa_url
        .as_deref()
        .map(|url| {
            tsa::timestamp(url, signature).map(|signed_timestamp| TimestampVerificationData {
                rfc3161_timestamps: vec![Rfc3161SignedTimestamp { signed_timestamp }],
            })
        })
        .transpose()
}

/// The RFC 3161 timestamp and the Rekor entry, requested side by side: both need only the
/// signature, so neither waits for the other. The timestamp is asked for on a scoped thread (each
/// request runs on its own runtime); if no thread can be started, one after the other. A failing
/// timestamp is reported before a failing log entry, as when they ran in that order.
fn timestamp_and_log(
    services: &Services,
    signature: &[u8],
    log: impl FnOnce() -> Result<TransparencyLogEntry, KeylessError>,
) -> Result<(Option<TimestampVerificationData>, TransparencyLogEntry), KeylessError> {
    if services.tsa_url.is_none() {
        return Ok((None, log()?));
    }
    std::thread::scope(|scope| {
        let tsa = std::thread::Builder::new()
            .name("ci-attest-tsa".into())
            .spawn_scoped(scope, || timestamps(services, signature));
        let Ok(tsa) = tsa else {
            let stamped = timestamps(services, signature)?;
            return Ok((stamped, log()?));
        };
        let entry = log();
        let stamped = tsa.join().map_err(|_| KeylessError::Response {
            service: "timestamp authority",
            url: services.tsa_url.clone().unwrap_or_default(),
            expected: "an answer (the timestamp request stopped unexpectedly)".into(),
        })?;
        Ok((stamped?, entry?))
    })
}

fn bundle(
    leaf: Vec<u8>,
    entry: TransparencyLogEntry,
    timestamps: Option<TimestampVerificationData>,
    content: Content,
) -> Bundle {
    Bundle {
        media_type: MediaType::V03,
        verification_material: VerificationMaterial {
            key_material: KeyMaterial::Certificate(leaf),
            tlog_entries: vec![entry],
            timestamp_verification_data: timestamps,
        },
        content,
    }
}

/// Signs an in-toto Statement (its exact JSON bytes) keylessly: Fulcio certificate for `token`'s
/// identity, DSSE signature, optional RFC 3161 timestamp, Rekor `dsse` entry; returns the v0.3
/// bundle (see the module documentation for each step). `now` is the current time, against
/// which the token's expiry is checked.
///
/// The DSSE signature's `keyid` is empty, as in every sigstore keyless bundle. Rekor's
/// `envelopeHash` is the SHA-256 of the compact JSON of the envelope (`serde_json::to_vec`
/// of [`Envelope`]), exactly the string submitted.
///
/// # Errors
/// [`KeylessError::Token`] for a token expired at `now`; [`KeylessError::Http`],
/// [`KeylessError::Status`] or [`KeylessError::Response`] naming the service that failed.
pub fn sign_statement_keyless(
    statement_json: &[u8],
    token: &IdentityToken,
    services: &Services,
    now: SystemTime,
) -> Result<Bundle, KeylessError> {
    let certified = certify(token, services, now)?;
    let sig = certified
        .key
        .sign(&crate::dsse::pae(IN_TOTO_PAYLOAD_TYPE, statement_json));
    drop(certified.key);
    let envelope = Envelope {
        payload: statement_json.to_vec(),
        payload_type: IN_TOTO_PAYLOAD_TYPE.to_owned(),
        signatures: vec![Signature {
            sig: sig.clone(),
            keyid: String::new(),
        }],
    };
    let envelope_json = serde_json::to_string(&envelope).map_err(|e| KeylessError::Response {
        service: "DSSE",
        url: String::new(),
        expected: format!("a serialisable envelope ({e})"),
    })?;
    let sig_b64 = STANDARD.encode(&sig);
    let proposed = serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {"proposedContent": {
            "envelope": envelope_json,
            "verifiers": [STANDARD.encode(certified.leaf_pem.as_bytes())],
        }}
    });
    let payload_hash = hex::encode(Sha256::digest(statement_json));
    let (timestamps, entry) = timestamp_and_log(services, &sig, || {
        rekor::submit(&services.rekor_url, "dsse", &proposed, &|body| {
            if body["spec"]["payloadHash"]["value"] != payload_hash.as_str() {
                return Err("the payload hash differs".into());
            }
            if body["spec"]["signatures"][0]["signature"] != sig_b64.as_str() {
                return Err("the signature differs".into());
            }
            Ok(())
        })
    })?;
    Ok(bundle(
        certified.leaf,
        entry,
        timestamps,
        Content::DsseEnvelope(envelope),
    ))
}

/// Signs an artifact keylessly as a message signature (ECDSA P-256 over its SHA-256), logged as
/// a Rekor `hashedrekord` 0.0.1 entry; returns the v0.3 bundle with `messageSignature`. `now`
/// is the current time, against which the token's expiry is checked.
///
/// # Errors
/// As [`sign_statement_keyless`].
pub fn sign_artifact_keyless(
    artifact: &[u8],
    token: &IdentityToken,
    services: &Services,
    now: SystemTime,
) -> Result<Bundle, KeylessError> {
    let certified = certify(token, services, now)?;
    let digest = Sha256::digest(artifact).to_vec();
    let sig = certified.key.sign(artifact);
    drop(certified.key);
    let sig_b64 = STANDARD.encode(&sig);
    let digest_hex = hex::encode(&digest);
    let proposed = serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest_hex}},
            "signature": {
                "content": sig_b64,
                "publicKey": {"content": STANDARD.encode(certified.leaf_pem.as_bytes())},
            },
        }
    });
    let (timestamps, entry) = timestamp_and_log(services, &sig, || {
        rekor::submit(&services.rekor_url, "hashedrekord", &proposed, &|body| {
            if body["spec"]["data"]["hash"]["value"] != digest_hex.as_str() {
                return Err("the artifact digest differs".into());
            }
            if body["spec"]["signature"]["content"] != sig_b64.as_str() {
                return Err("the signature differs".into());
            }
            Ok(())
        })
    })?;
    Ok(bundle(
        certified.leaf,
        entry,
        timestamps,
        Content::MessageSignature(MessageSignature {
            message_digest: HashOutput {
                algorithm: HashAlgorithm::Sha2_256,
                digest,
            },
            signature: sig,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_with_64_character_lines() {
        let der: Vec<u8> = (0..=255).collect();
        let text = pem::encode(&der, "CERTIFICATE").expect("encodes");
        assert!(text.lines().all(|l| l.len() <= 64));
        assert!(text.ends_with("-----END CERTIFICATE-----\n"));
        let two = format!("{text}junk\n{text}");
        assert_eq!(
            pem::decode_all(&two, "CERTIFICATE").expect("decode"),
            vec![der.clone(), der.clone()]
        );
        assert!(pem::decode_all("nothing", "CERTIFICATE").is_err());
        assert!(pem::decode_all("-----BEGIN CERTIFICATE-----\nAA==", "CERTIFICATE").is_err());
        // RFC 7468: headers, invalid base64 and CRLF endings.
        let headers = text.replacen("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1);
        assert!(pem::decode_all(&headers, "CERTIFICATE").is_err());
        let bad = text.replacen("-----\n", "-----\n!!!!", 1);
        assert!(pem::decode_all(&bad, "CERTIFICATE").is_err());
        // Another line width than 64 (as some services wrap), detected from the first line.
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        let wide: Vec<String> = body
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let wide = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            wide.join("\n")
        );
        assert_eq!(
            pem::decode_all(&wide, "CERTIFICATE").expect("76 wide"),
            vec![der.clone()]
        );
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(
            pem::decode_all(&crlf, "CERTIFICATE").expect("CRLF"),
            vec![der]
        );
    }

    #[test]
    fn expired_token_fails_before_any_request() {
        let t = crate::sign::oidc::unsigned_jwt(
            &serde_json::json!({"iss": "https://i", "sub": "s", "exp": 10}),
        );
        let token = IdentityToken::parse(&t).expect("valid");
        // An unroutable URL: the expiry check must come first.
        let services = Services {
            fulcio_url: "http://127.0.0.1:1".into(),
            rekor_url: "http://127.0.0.1:1".into(),
            tsa_url: None,
        };
        let err = sign_statement_keyless(b"{}", &token, &services, SystemTime::now())
            .expect_err("expired");
        assert!(
            matches!(err, KeylessError::Token(OidcError::Expired { .. })),
            "{err:?}"
        );
        assert!(!err.to_string().contains(&t));
    }

    #[test]
    fn the_timestamp_and_the_log_entry_are_requested_side_by_side() {
        use std::io::Write as _;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::time::{Duration, Instant};
        // A TSA that holds its answer until the log request says it has started (at most 5 s):
        // asked one after the other, the TSA would give up waiting before the log is asked.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/timestamp", listener.local_addr().expect("addr"));
        let connected = AtomicBool::new(false);
        let released = AtomicBool::new(false);
        let answered = AtomicBool::new(false);
        let wait_for = |flag: &AtomicBool| {
            let start = Instant::now();
            while !flag.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(5));
            }
            flag.load(Ordering::SeqCst)
        };
        let services = Services {
            fulcio_url: "http://127.0.0.1:1".into(),
            rekor_url: "http://127.0.0.1:1".into(),
            tsa_url: Some(url),
        };
        let (overlapped, result) = std::thread::scope(|scope| {
            scope.spawn(|| {
                let (mut conn, _) = listener.accept().expect("accept");
                connected.store(true, Ordering::SeqCst);
                wait_for(&released);
                let _ = conn.write_all(b"HTTP/1.1 503 Busy\r\ncontent-length: 0\r\n\r\n");
                answered.store(true, Ordering::SeqCst);
            });
            let mut overlapped = false;
            let result = timestamp_and_log(&services, b"signature", || {
                // The TSA request is in flight now if, and only if, the two overlap.
                overlapped = wait_for(&connected) && !answered.load(Ordering::SeqCst);
                released.store(true, Ordering::SeqCst);
                Err(KeylessError::Rng(
                    "the log is not asked in this test".into(),
                ))
            });
            (overlapped, result)
        });
        assert!(
            overlapped,
            "the log entry was requested only after the timestamp"
        );
        // The TSA's failure is the one reported, as when they ran in that order.
        let err = result.expect_err("both fail");
        assert!(err.to_string().contains("timestamp authority"), "{err}");
    }
}
