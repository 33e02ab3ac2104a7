//! Fulcio v2: `POST /api/v2/signingCert` for a short-lived certificate over an ephemeral key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use x509_cert::der::{Decode as _, Encode as _};

use super::{KeylessError, http, pem};
use crate::sign::key::SigningKey;
use crate::sign::oidc::IdentityToken;

const SERVICE: &str = "Fulcio";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    signed_certificate_embedded_sct: Option<Chained>,
    signed_certificate_detached_sct: Option<Chained>,
}

#[derive(Deserialize)]
struct Chained {
    chain: Chain,
}

#[derive(Deserialize)]
struct Chain {
    certificates: Vec<String>,
}

/// Asks Fulcio to certify `key` for `token`'s identity; returns the DER chain, leaf first.
///
/// The request is Fulcio v2's `publicKeyRequest`: the PEM public key and a proof of possession
/// (an ECDSA signature over the token's identity: `email` if present, else `sub`). The token goes
/// both in `Authorization: Bearer` and in `credentials.oidcIdentityToken`.
pub(super) fn request_certificate(
    fulcio_url: &str,
    token: &IdentityToken,
    key: &SigningKey,
) -> Result<Vec<Vec<u8>>, KeylessError> {
    let url = format!("{}/api/v2/signingCert", fulcio_url.trim_end_matches('/'));
    let public = key.public_key();
    let request = serde_json::json!({
        "credentials": {"oidcIdentityToken": token.expose_secret()},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": public.to_pem()},
            "proofOfPossession": STANDARD.encode(key.sign(token.identity().as_bytes())),
        }
    });
    let auth = format!("Bearer {}", token.expose_secret());
    let response = http::post(
        &url,
        &[("Authorization", &auth), ("Accept", "application/json")],
        "application/json",
        request.to_string().as_bytes(),
    )
    .map_err(|message| KeylessError::Http {
        service: SERVICE,
        url: url.clone(),
        message: message
            .to_string()
            .replace(token.expose_secret(), "<redacted>"),
    })?;
    if !response.ok() {
        return Err(KeylessError::Status {
            service: SERVICE,
            url,
            status: response.status,
            body: response.excerpt(Some(token.expose_secret())),
        });
    }
    let bad = |expected: String| KeylessError::Response {
        service: SERVICE,
        url: url.clone(),
        expected,
    };
    let answer: Answer = serde_json::from_slice(&response.body)
        .map_err(|e| bad(format!("a signingCert JSON response ({e})")))?;
    let chained = answer
        .signed_certificate_embedded_sct
        .or(answer.signed_certificate_detached_sct)
        .ok_or_else(|| {
            bad("`signedCertificateEmbeddedSct` or `signedCertificateDetachedSct`".into())
        })?;
    let mut chain = Vec::new();
    for text in &chained.chain.certificates {
        let ders = pem::decode_all(text, "CERTIFICATE").map_err(|e| bad(format!("PEM ({e})")))?;
        chain.extend(ders);
    }
    let leaf = chain
        .first()
        .ok_or_else(|| bad("at least one certificate".into()))?;
    let cert = x509_cert::Certificate::from_der(leaf)
        .map_err(|e| bad(format!("a DER X.509 leaf certificate ({e})")))?;
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| bad(format!("an encodable public key ({e})")))?;
    if spki != public.to_spki_der() {
        return Err(bad(
            "a certificate for the key that was sent, found one for another key".into(),
        ));
    }
    Ok(chain)
}
