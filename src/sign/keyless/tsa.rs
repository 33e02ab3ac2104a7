//! RFC 3161 timestamps: a DER `TimeStampReq` (SHA-256 message imprint, random nonce, certReq)
//! posted as `application/timestamp-query`; the DER `TimeStampResp` goes into the bundle.

use sha2::{Digest as _, Sha256};

use super::{KeylessError, http};

const SERVICE: &str = "timestamp authority";

/// DER `AlgorithmIdentifier` for SHA-256 (with NULL parameters).
const SHA256_ALGORITHM: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
];

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// The DER INTEGER for a non-negative big-endian number.
fn integer(bytes: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = match bytes.iter().position(|b| *b != 0) {
        Some(i) => &bytes[i..],
        None => &[0],
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed[0] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(0x02, &content)
}

/// A DER `TimeStampReq` v1 over `data` (SHA-256), with `nonce` and `certReq = TRUE`.
pub(super) fn request_der(data: &[u8], nonce: &[u8; 8]) -> Vec<u8> {
    let mut imprint = SHA256_ALGORITHM.to_vec();
    imprint.extend(tlv(0x04, &Sha256::digest(data)));
    let mut body = tlv(0x02, &[1]);
    body.extend(tlv(0x30, &imprint));
    body.extend(integer(nonce));
    body.extend([0x01, 0x01, 0xff]);
    tlv(0x30, &body)
}

/// Reads one DER TLV at the start of `input`: (tag, content, rest).
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The PKIStatus of a DER `TimeStampResp`, if it parses and carries a token.
fn granted(response: &[u8]) -> Result<(), String> {
    let (tag, content, _) = read_tlv(response).ok_or("a DER TimeStampResp")?;
    if tag != 0x30 {
        return Err("a DER TimeStampResp (SEQUENCE)".into());
    }
    let (tag, status_info, rest) = read_tlv(content).ok_or("a PKIStatusInfo")?;
    let (itag, status, _) = read_tlv(status_info).ok_or("a PKIStatus")?;
    if tag != 0x30 || itag != 0x02 {
        return Err("a PKIStatusInfo with an INTEGER status".into());
    }
    if status != [0] && status != [1] {
        return Err(format!(
            "status granted (0) or grantedWithMods (1), found {}",
            hex::encode(status)
        ));
    }
    match read_tlv(rest) {
        Some((0x30, _, _)) => Ok(()),
        _ => Err("a timeStampToken".into()),
    }
}

/// Timestamps `signature` at `tsa_url`; returns the DER `TimeStampResp`.
pub(super) fn timestamp(tsa_url: &str, signature: &[u8]) -> Result<Vec<u8>, KeylessError> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| KeylessError::Rng(e.to_string()))?;
    let response = http::post(
        tsa_url,
        &[("Accept", "application/timestamp-reply")],
        "application/timestamp-query",
        &request_der(signature, &nonce),
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

    #[test]
    fn request_is_well_formed_der() {
        let req = request_der(b"sig", &[0x80, 0, 0, 0, 0, 0, 0, 1]);
        let (tag, content, rest) = read_tlv(&req).expect("tlv");
        assert_eq!((tag, rest.len()), (0x30, 0));
        let (_, version, rest) = read_tlv(content).expect("version");
        assert_eq!(version, [1]);
        let (tag, imprint, rest) = read_tlv(rest).expect("imprint");
        assert_eq!(tag, 0x30);
        assert!(imprint.starts_with(&SHA256_ALGORITHM));
        assert!(imprint.ends_with(&Sha256::digest(b"sig")));
        let (tag, nonce, rest) = read_tlv(rest).expect("nonce");
        assert_eq!((tag, nonce[0], nonce.len()), (0x02, 0, 9));
        assert_eq!(rest, [0x01, 0x01, 0xff]);
    }

    #[test]
    fn integer_encoding_is_minimal() {
        assert_eq!(integer(&[0, 0, 5]), vec![2, 1, 5]);
        assert_eq!(integer(&[0, 0]), vec![2, 1, 0]);
        assert_eq!(integer(&[0xff]), vec![2, 2, 0, 0xff]);
    }

    #[test]
    fn rejects_bad_responses() {
        assert!(granted(&[]).is_err());
        assert!(granted(&[0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02]).is_err());
        assert!(granted(&[0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        assert!(granted(&[0x30, 0x07, 0x30, 0x03, 0x02, 0x01, 0x00, 0x30, 0x00]).is_ok());
        assert!(granted(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
