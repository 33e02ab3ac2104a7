//! RFC 3161 timestamps: a DER `TimeStampReq` (SHA-256 message imprint, random nonce, certReq)
//! posted as `application/timestamp-query`; the DER `TimeStampResp` goes into the bundle.

use sha2::{Digest as _, Sha256};

use der::asn1::{AnyRef, ObjectIdentifier, OctetString, Uint};
use der::{Encode as _, Sequence};
use x509_cert::spki::AlgorithmIdentifierRef;

use super::{KeylessError, http};
use crate::verify::cert::{read_one, read_tlv};

const SERVICE: &str = "timestamp authority";

/// id-sha256 (2.16.840.1.101.3.4.2.1).
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }`
/// (RFC 3161 §2.4.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct MessageImprint<'a> {
    hash_algorithm: AlgorithmIdentifierRef<'a>,
    hashed_message: OctetString,
}

/// `TimeStampReq` v1 (RFC 3161 §2.4.1) without reqPolicy and extensions. The `der` crate writes
/// every length (short or long form, any size), so no field can be truncated.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampReq<'a> {
    version: u8,
    message_imprint: MessageImprint<'a>,
    nonce: Uint,
    cert_req: bool,
}

/// The SHA-256 `AlgorithmIdentifier` with NULL parameters (as OpenSSL and Go write it).
fn sha256_algorithm() -> AlgorithmIdentifierRef<'static> {
    AlgorithmIdentifierRef {
        oid: OID_SHA256,
        parameters: Some(AnyRef::NULL),
    }
}

/// A DER `TimeStampReq` v1 over `data` (SHA-256), with `nonce` and `certReq = TRUE`.
pub(super) fn request_der(data: &[u8], nonce: &[u8; 8]) -> Result<Vec<u8>, der::Error> {
    TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: sha256_algorithm(),
            hashed_message: OctetString::new(Sha256::digest(data).to_vec())?,
        },
        nonce: Uint::new(nonce)?,
        cert_req: true,
    }
    .to_der()
}

/// Checks a DER `TimeStampResp` (read with the verifier's `der` reader, so non-DER is rejected):
/// its PKIStatus is granted (0) or grantedWithMods (1) and a timeStampToken follows.
fn granted(response: &[u8]) -> Result<(), String> {
    let resp = read_one(response, 0x30).map_err(|e| format!("a DER TimeStampResp ({e})"))?;
    let (status_info, rest) = read_tlv(resp.value).map_err(|e| format!("a PKIStatusInfo ({e})"))?;
    let (status, _) = read_tlv(status_info.value).map_err(|e| format!("a PKIStatus ({e})"))?;
    if status_info.tag != 0x30 || status.tag != 0x02 {
        return Err("a PKIStatusInfo with an INTEGER status".into());
    }
    if status.value != [0] && status.value != [1] {
        return Err(format!(
            "status granted (0) or grantedWithMods (1), found {}",
            hex::encode(status.value)
        ));
    }
    match read_tlv(rest) {
        Ok((token, _)) if token.tag == 0x30 => Ok(()),
        _ => Err("a timeStampToken".into()),
    }
}

/// Timestamps `signature` at `tsa_url`; returns the DER `TimeStampResp`.
pub(super) fn timestamp(tsa_url: &str, signature: &[u8]) -> Result<Vec<u8>, KeylessError> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| KeylessError::Rng(e.to_string()))?;
    let request = request_der(signature, &nonce).map_err(|e| KeylessError::Http {
        service: SERVICE,
        url: tsa_url.to_owned(),
        message: format!("encoding the DER TimeStampReq: {e}"),
    })?;
    let response = http::post(
        tsa_url,
        &[("Accept", "application/timestamp-reply")],
        "application/timestamp-query",
        &request,
    )
    .map_err(|message| KeylessError::Http {
        service: SERVICE,
        url: tsa_url.to_owned(),
        message: message.to_string(),
    })?;
    if !response.ok() {
        return Err(KeylessError::Status {
            service: SERVICE,
            url: tsa_url.to_owned(),
            status: response.status,
            body: response.excerpt(None),
        });
    }
    granted(&response.body).map_err(|expected| KeylessError::Response {
        service: SERVICE,
        url: tsa_url.to_owned(),
        expected,
    })?;
    Ok(response.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Decode as _, Header, Length, Reader as _, SliceReader};

    #[test]
    fn request_is_well_formed_der() {
        let req = request_der(b"sig", &[0x80, 0, 0, 0, 0, 0, 0, 1]).expect("encodes");
        let back = TimeStampReq::from_der(&req).expect("decodes as DER, nothing trailing");
        assert_eq!(back.version, 1);
        assert!(back.cert_req);
        assert_eq!(back.message_imprint.hash_algorithm, sha256_algorithm());
        assert_eq!(
            back.message_imprint.hashed_message.as_bytes(),
            Sha256::digest(b"sig").as_slice()
        );
        // The nonce is a positive INTEGER: a leading 0x80 byte gets a zero byte in front.
        assert_eq!(back.nonce.as_bytes(), [0x80, 0, 0, 0, 0, 0, 0, 1]);
        let nonce_tlv = [0x02, 0x09, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 1];
        assert!(req.windows(nonce_tlv.len()).any(|w| w == nonce_tlv));
        assert!(req.ends_with(&[0x01, 0x01, 0xff]), "certReq TRUE");
        // Byte for byte what the hand-written encoder produced before (and OpenSSL sends).
        let mut expected = vec![0x30, 0x44, 0x02, 0x01, 0x01, 0x30, 0x31];
        expected.extend([
            0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
            0x00, 0x04, 0x20,
        ]);
        expected.extend(Sha256::digest(b"sig"));
        expected.extend(nonce_tlv);
        expected.extend([0x01, 0x01, 0xff]);
        assert_eq!(req, expected);
    }

    #[test]
    fn integer_encoding_is_minimal() {
        for (nonce, expected) in [([0, 0, 0, 0, 0, 0, 0, 5], &[5][..]), ([0; 8], &[0])] {
            let req = request_der(b"", &nonce).expect("encodes");
            let back = TimeStampReq::from_der(&req).expect("decodes");
            assert_eq!(back.nonce.as_bytes(), expected);
        }
    }

    /// The old hand-written encoder wrote `0x82 hi lo` for every length above 0xff, truncating
    /// lengths over 0xffff. The `der` types write every length correctly: at the short/long form
    /// boundary, at each byte-count boundary, and for a field larger than 0xffff bytes.
    #[test]
    fn lengths_are_correct_at_every_boundary_and_above_0xffff() {
        for (len, header) in [
            (0x7f_usize, &[0x04, 0x7f][..]),
            (0x80, &[0x04, 0x81, 0x80]),
            (0xff, &[0x04, 0x81, 0xff]),
            (0x100, &[0x04, 0x82, 0x01, 0x00]),
            (0xffff, &[0x04, 0x82, 0xff, 0xff]),
            (0x10000, &[0x04, 0x83, 0x01, 0x00, 0x00]),
            (0x12345, &[0x04, 0x83, 0x01, 0x23, 0x45]),
        ] {
            let imprint = MessageImprint {
                hash_algorithm: sha256_algorithm(),
                hashed_message: OctetString::new(vec![0xab; len]).expect("octets"),
            };
            let der = imprint.to_der().expect("encodes");
            // SEQUENCE header, the 15-byte AlgorithmIdentifier, then the OCTET STRING header.
            let mut reader = SliceReader::new(&der).expect("reader");
            let outer = Header::decode(&mut reader).expect("outer header");
            let body_len = 15 + header.len() + len;
            assert_eq!(
                outer.length(),
                Length::try_from(body_len).expect("length"),
                "{len:#x}"
            );
            assert_eq!(usize::try_from(reader.remaining_len()).ok(), Some(body_len));
            let octets_start = der.len() - len - header.len();
            assert_eq!(&der[octets_start..der.len() - len], header, "{len:#x}");
            let back = MessageImprint::from_der(&der).expect("round trip");
            assert_eq!(back, imprint, "{len:#x}");
        }
    }

    #[test]
    fn rejects_bad_responses() {
        assert!(granted(&[]).is_err());
        assert!(granted(&[0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02]).is_err());
        assert!(granted(&[0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        assert!(granted(&[0x30, 0x07, 0x30, 0x03, 0x02, 0x01, 0x00, 0x30, 0x00]).is_ok());
        assert!(granted(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        // Not DER: an indefinite length, a non-minimal length, trailing bytes.
        assert!(granted(&[0x30, 0x80, 0x30, 0x03, 0x02, 0x01, 0x00, 0x30, 0x00, 0, 0]).is_err());
        assert!(granted(&[0x30, 0x81, 0x07, 0x30, 0x03, 0x02, 0x01, 0x00, 0x30, 0x00]).is_err());
        assert!(granted(&[0x30, 0x07, 0x30, 0x03, 0x02, 0x01, 0x00, 0x30, 0x00, 0x00]).is_err());
    }
}
