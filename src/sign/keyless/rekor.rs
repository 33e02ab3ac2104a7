//! Rekor v1: `POST /api/v1/log/entries` with a `dsse` or `hashedrekord` 0.0.1 proposed entry, and
//! the bundle's `TransparencyLogEntry` from the answer.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::{KeylessError, http};
use crate::bundle::{
    Checkpoint, InclusionPromise, InclusionProof, KindVersion, LogId, TransparencyLogEntry,
};

const SERVICE: &str = "Rekor";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    body: String,
    integrated_time: i64,
    #[serde(rename = "logID")]
    log_id: String,
    log_index: i64,
    verification: Option<RawVerification>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawVerification {
    inclusion_proof: Option<RawProof>,
    signed_entry_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProof {
    checkpoint: Option<String>,
    #[serde(default)]
    hashes: Vec<String>,
    log_index: i64,
    root_hash: String,
    tree_size: i64,
}

/// Submits `proposed` (a Rekor v1 proposed entry of `kind` 0.0.1) and converts the answer.
/// `check_body` is given the canonicalized body the log stored, to confirm it is our entry.
pub(super) fn submit(
    rekor_url: &str,
    kind: &str,
    proposed: &serde_json::Value,
    check_body: &dyn Fn(&serde_json::Value) -> Result<(), String>,
) -> Result<TransparencyLogEntry, KeylessError> {
    let url = format!("{}/api/v1/log/entries", rekor_url.trim_end_matches('/'));
    let response = http::post(
        &url,
        &[("Accept", "application/json")],
        "application/json",
        proposed.to_string().as_bytes(),
    )
    .map_err(|message| KeylessError::Http {
        service: SERVICE,
        url: url.clone(),
        message: message.to_string(),
    })?;
    if !response.ok() {
        return Err(KeylessError::Status {
            service: SERVICE,
            url,
            status: response.status,
            body: response.excerpt(None),
        });
    }
    let bad = |expected: String| KeylessError::Response {
        service: SERVICE,
        url: url.clone(),
        expected,
    };
    let entries: BTreeMap<String, RawEntry> = serde_json::from_slice(&response.body)
        .map_err(|e| bad(format!("a log entry JSON response ({e})")))?;
    let mut entries = entries.into_values();
    let (Some(entry), None) = (entries.next(), entries.next()) else {
        return Err(bad("exactly one log entry in the response".into()));
    };
    let body = STANDARD
        .decode(entry.body.as_bytes())
        .map_err(|_| bad("a base64 `body`".into()))?;
    let stored: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| bad(format!("a JSON entry body ({e})")))?;
    if stored["kind"] != kind || stored["apiVersion"] != "0.0.1" {
        return Err(bad(format!(
            "a {kind} 0.0.1 entry, found {} {}",
            stored["kind"], stored["apiVersion"]
        )));
    }
    check_body(&stored).map_err(|e| bad(format!("the entry we submitted: {e}")))?;
    let log_id = hex::decode(&entry.log_id).map_err(|_| bad("a hex `logID`".into()))?;
    if entry.log_index < 0 || entry.integrated_time <= 0 {
        return Err(bad(
            "a non-negative `logIndex` and a positive `integratedTime`".into(),
        ));
    }
    let verification = entry.verification.unwrap_or(RawVerification {
        inclusion_proof: None,
        signed_entry_timestamp: None,
    });
    let inclusion_promise = verification
        .signed_entry_timestamp
        .map(|set| {
            STANDARD
                .decode(set.as_bytes())
                .map(|signed_entry_timestamp| InclusionPromise {
                    signed_entry_timestamp,
                })
                .map_err(|_| bad("a base64 `signedEntryTimestamp`".into()))
        })
        .transpose()?;
    let inclusion_proof = verification
        .inclusion_proof
        .map(|p| -> Result<InclusionProof, KeylessError> {
            let hashes = p
                .hashes
                .iter()
                .map(|h| hex::decode(h).map_err(|_| bad("hex inclusion proof hashes".into())))
                .collect::<Result<Vec<_>, _>>()?;
            if p.log_index < 0 || p.tree_size <= p.log_index {
                return Err(bad(
                    "an inclusion proof with 0 <= logIndex < treeSize".into()
                ));
            }
            Ok(InclusionProof {
                log_index: p.log_index,
                root_hash: hex::decode(&p.root_hash)
                    .map_err(|_| bad("a hex inclusion proof `rootHash`".into()))?,
                tree_size: p.tree_size,
                hashes,
                checkpoint: p.checkpoint.map(|envelope| Checkpoint { envelope }),
            })
        })
        .transpose()?;
    Ok(TransparencyLogEntry {
        log_index: entry.log_index,
        log_id: LogId { key_id: log_id },
        kind_version: KindVersion {
            kind: kind.to_owned(),
            version: "0.0.1".to_owned(),
        },
        integrated_time: entry.integrated_time,
        inclusion_promise,
        inclusion_proof,
        canonicalized_body: body,
    })
}
