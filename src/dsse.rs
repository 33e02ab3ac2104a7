//! DSSE envelopes and the pre-authentication encoding (PAE).
//!
//! A [DSSE] envelope carries an opaque payload, its type, and one or more signatures. Signatures are
//! never computed over the payload itself but over [`pae`], an unambiguous encoding of the payload
//! type and the payload, so that a signature for one type can never be replayed as another. The JSON
//! form ([`Envelope`]'s serde implementation) is the one every DSSE implementation reads: `payload`
//! and `sig` in standard base64, `payloadType`, and `keyid` (omitted when empty).
//!
//! This module only encodes; signing and verification live in [`crate::sign`].
//!
//! [DSSE]: https://github.com/secure-systems-lab/dsse/blob/master/envelope.md

use serde::{Deserialize, Serialize};

/// The DSSE payload type of an in-toto Statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope: a payload, its type and the signatures over [`pae`]`(payload_type, payload)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The signed bytes (for in-toto, a Statement's JSON), exactly as signed.
    #[serde(with = "base64_bytes")]
    pub payload: Vec<u8>,
    /// The media type of the payload, e.g. [`IN_TOTO_PAYLOAD_TYPE`].
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures; a sigstore bundle requires exactly one
    /// (see [`crate::bundle::check_single_signature`]).
    pub signatures: Vec<Signature>,
}

/// One signature in a DSSE [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Field order is protobuf's (`sig` = 1, `keyid` = 2), so that bundles are written canonically.
pub struct Signature {
    /// The raw signature bytes (for ECDSA, ASN.1 DER).
    #[serde(with = "base64_bytes")]
    pub sig: Vec<u8>,
    /// An unauthenticated hint naming the key; may be empty (then omitted from the JSON).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyid: String,
}

impl Envelope {
    /// The bytes a signature in this envelope covers: [`pae`] of its type and payload.
    #[must_use]
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

/// The DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths as ASCII decimal byte counts.
#[must_use]
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let type_len = payload_type.len().to_string();
    let body_len = payload.len().to_string();
    let mut out = Vec::with_capacity(
        10 + type_len.len() + payload_type.len() + body_len.len() + payload.len(),
    );
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(type_len.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(body_len.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Serde adapter for `Vec<u8>` as standard (padded) base64, as protobuf-JSON and DSSE use.
pub(crate) mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = Option::<String>::deserialize(d)?.unwrap_or_default();
        decode(&text).map_err(serde::de::Error::custom)
    }

    /// Decodes standard, padded base64. Line breaks are skipped, as Go's decoder (used by
    /// protojson and most sigstore tooling) does; anything else outside the alphabet is an error.
    pub(crate) fn decode(text: &str) -> Result<Vec<u8>, String> {
        let result = if text.contains(['\n', '\r']) {
            let joined: String = text.chars().filter(|c| !matches!(c, '\n' | '\r')).collect();
            STANDARD.decode(joined.as_bytes())
        } else {
            STANDARD.decode(text.as_bytes())
        };
        result.map_err(|e| format!("expected standard base64, found invalid data ({e})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE protocol spec (protocol.md, "Test vectors").
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn pae_of_empty_type_and_body() {
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn pae_counts_bytes_not_characters() {
        assert_eq!(
            pae("é", b"\x00\xff"),
            b"DSSEv1 2 \xc3\xa9 2 \x00\xff".to_vec()
        );
    }

    #[test]
    fn envelope_json_uses_dsse_field_names_and_base64() {
        let env = Envelope {
            payload: b"hello world".to_vec(),
            payload_type: "http://example.com/HelloWorld".into(),
            signatures: vec![Signature {
                keyid: String::new(),
                sig: vec![1, 2, 3],
            }],
        };
        let json =
            serde_json::to_value(&env).expect("serialising an in-memory envelope cannot fail");
        assert_eq!(
            json,
            serde_json::json!({
                "payload": "aGVsbG8gd29ybGQ=",
                "payloadType": "http://example.com/HelloWorld",
                "signatures": [{"sig": "AQID"}]
            })
        );
    }

    #[test]
    fn envelope_json_round_trips_with_and_without_keyid() {
        let text = r#"{"payload":"aGk=","payloadType":"t","signatures":[{"keyid":"k","sig":"AQID"},{"sig":"BA=="}]}"#;
        let env: Envelope = serde_json::from_str(text).expect("valid envelope JSON");
        assert_eq!(env.payload, b"hi");
        assert_eq!(env.signatures[0].keyid, "k");
        assert_eq!(env.signatures[1].keyid, "");
        assert_eq!(env.signatures[1].sig, vec![4]);
        let again: Envelope =
            serde_json::from_slice(&serde_json::to_vec(&env).expect("serialisable"))
                .expect("round trip");
        assert_eq!(again, env);
    }

    #[test]
    fn rejects_invalid_base64_payload() {
        let text = r#"{"payload":"not base64!","payloadType":"t","signatures":[]}"#;
        let err = serde_json::from_str::<Envelope>(text).expect_err("invalid base64 must fail");
        assert!(
            err.to_string().contains("expected standard base64"),
            "{err}"
        );
    }
}
