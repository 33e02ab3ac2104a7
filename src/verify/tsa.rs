//! RFC 3161 signed timestamps: a trusted time for a bundle's signature.
//!
//! [`verify_timestamp`] takes a bundle's `signedTimestamp` (a DER `TimeStampResp`, or the bare
//! `TimeStampToken` it wraps), the bundle's signature bytes and the trusted root, and returns the
//! timestamp's `genTime` once every check passed: the token is a CMS SignedData whose encapsulated
//! content is a `TSTInfo`; the TSTInfo's messageImprint is the hash of the signature; the single
//! SignerInfo's signed attributes carry that content type and the hash of the encapsulated TSTInfo
//! as messageDigest, and their DER (as a SET) verifies with the signer certificate's key; that
//! certificate (embedded in the token or listed in the trusted root) has the timeStamping extended
//! key usage, is valid at genTime and chains to a timestamp authority of the trusted root whose
//! `validFor` contains genTime (both ends inclusive), every certificate on the path valid then.
//!
//! The CMS structures are read element by element with the `der` crate's reader
//! ([`der::SliceReader`], [`der::asn1::AnyRef`], via `crate::verify::cert::read_tlv`) rather than
//! decoded into types and re-encoded, so that the exact signed bytes are verified; DER rules hold
//! (indefinite and non-minimal lengths, and trailing bytes, are rejected).

use crate::trust::TrustedRoot;
use crate::verify::cert::{
    CertError, EKU_TIME_STAMPING, ParsedCert, build_path, fmt_time, read_all, read_one, read_tlv,
    signature_hash,
};
use crate::verify::pki::{HashAlg, VerifyingKey};
use std::time::{Duration, SystemTime};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::{KeyUsages, SubjectKeyIdentifier};
use x509_cert::spki::AlgorithmIdentifierOwned;

const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const OID_ATTR_CONTENT_TYPE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_ATTR_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_ATTR_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const OID_AUTHORITY_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");

/// Why an RFC 3161 timestamp was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsaError {
    /// The token is not the expected DER structure.
    #[error("malformed timestamp ({what}): expected {expected}, found {found}")]
    Malformed {
        /// Which part.
        what: &'static str,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The TimeStampResp reports that no timestamp was granted.
    #[error(
        "timestamp response status: expected granted (0) or grantedWithMods (1), found {found}"
    )]
    Status {
        /// The PKIStatus value.
        found: String,
    },
    /// An algorithm this verifier does not accept.
    #[error("unsupported {what}: expected {expected}, found {found}")]
    UnsupportedAlgorithm {
        /// Which algorithm.
        what: &'static str,
        /// What is accepted.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The timestamp is over something other than the bundle's signature.
    #[error(
        "timestamp is not over this signature: expected messageImprint {expected} ({alg} of the signature), found {found}"
    )]
    ImprintMismatch {
        /// The hash algorithm.
        alg: HashAlg,
        /// Hex hash of the signature.
        expected: String,
        /// Hex messageImprint.
        found: String,
    },
    /// A signed attribute is missing or wrong.
    #[error("signed attribute {attribute}: expected {expected}, found {found}")]
    SignedAttribute {
        /// Which attribute.
        attribute: &'static str,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// No certificate (embedded or trusted) matches the SignerInfo's signer identifier.
    #[error(
        "timestamp signer not found: expected a certificate in the token or the trusted root matching {expected}, found none among {found} candidate(s)"
    )]
    SignerNotFound {
        /// The signer identifier.
        expected: String,
        /// How many certificates were looked at.
        found: usize,
    },
    /// The SignerInfo signature does not verify.
    #[error("timestamp signature does not verify with the key of {signer}: {detail}")]
    BadSignature {
        /// The signer certificate's subject.
        signer: String,
        /// The verifier's message.
        detail: String,
    },
    /// The signer certificate is not a trusted, valid timestamping certificate at genTime.
    #[error("timestamp authority certificate rejected at genTime {gen_time}: {source}")]
    Certificate {
        /// genTime (RFC 3339).
        gen_time: String,
        /// Why.
        #[source]
        source: CertError,
    },
}

fn malformed(what: &'static str, expected: impl Into<String>, found: impl ToString) -> TsaError {
    TsaError::Malformed {
        what,
        expected: expected.into(),
        found: found.to_string(),
    }
}

fn hash_alg(oid: &ObjectIdentifier, what: &'static str) -> Result<HashAlg, TsaError> {
    match *oid {
        OID_SHA256 => Ok(HashAlg::Sha256),
        OID_SHA384 => Ok(HashAlg::Sha384),
        OID_SHA512 => Ok(HashAlg::Sha512),
        _ => Err(TsaError::UnsupportedAlgorithm {
            what,
            expected: "SHA-256, SHA-384 or SHA-512".into(),
            found: oid.to_string(),
        }),
    }
}

fn decode_oid(raw: &[u8], what: &'static str) -> Result<ObjectIdentifier, TsaError> {
    ObjectIdentifier::from_der(raw).map_err(|e| malformed(what, "an OBJECT IDENTIFIER", e))
}

/// Verifies an RFC 3161 timestamp over `signature` and returns its genTime.
///
/// `token_der` is a bundle's `signedTimestamp` (a `TimeStampResp` or a `TimeStampToken`);
/// `signature` is the bundle's signature bytes (the DSSE signature or the message signature).
pub fn verify_timestamp(
    token_der: &[u8],
    signature: &[u8],
    root: &TrustedRoot,
) -> Result<SystemTime, TsaError> {
    let content_info = unwrap_response(token_der)?;
    let signed = SignedData::parse(content_info)?;
    let tst = TstInfo::parse(signed.econtent)?;

    // The timestamp is over this signature.
    let expected = tst.imprint_alg.digest(signature);
    if expected != tst.imprint {
        return Err(TsaError::ImprintMismatch {
            alg: tst.imprint_alg,
            expected: hex::encode(expected),
            found: hex::encode(tst.imprint),
        });
    }

    // The signed attributes bind the TSTInfo.
    let digest_alg = hash_alg(&signed.signer.digest_alg, "SignerInfo digestAlgorithm")?;
    signed
        .signer
        .check_attributes(digest_alg, signed.econtent)?;

    // The signer certificate: embedded or trusted, matching the signer identifier.
    let mut candidates = Vec::new();
    for der in &signed.certificates {
        candidates.push(
            ParsedCert::parse(der, "timestamp embedded certificate").map_err(|e| {
                TsaError::Certificate {
                    gen_time: fmt_time(tst.gen_time),
                    source: e,
                }
            })?,
        );
    }
    for auth in &root.timestamp_authorities {
        for der in &auth.cert_chain {
            if let Ok(c) = ParsedCert::parse(der, "trusted timestamp authority certificate") {
                candidates.push(c);
            }
        }
    }
    let count = candidates.len();
    let signer_cert = candidates
        .into_iter()
        .find(|c| signed.signer.sid.matches(c))
        .ok_or_else(|| TsaError::SignerNotFound {
            expected: signed.signer.sid.describe(),
            found: count,
        })?;

    signed.signer.check_signing_certificate(&signer_cert.der)?;

    // The signature over the signed attributes (DER, as a SET), by the signer's key: kept across
    // timestamps once its certificate has chained to a trusted TSA (below), so that a TSA's
    // signing key is parsed once and verifies on the fast path.
    let certificate = |source| TsaError::Certificate {
        gen_time: fmt_time(tst.gen_time),
        source,
    };
    let spki = signer_cert.spki_der().map_err(certificate)?;
    let key = match VerifyingKey::remembered(&spki) {
        Some(key) => key,
        None => signer_cert
            .key_from(&spki, VerifyingKey::from_spki_der)
            .map_err(certificate)?,
    };
    let sig_hash = signature_hash(&signed.signer.signature_alg, &key, Some(digest_alg))
        .ok_or_else(|| TsaError::UnsupportedAlgorithm {
            what: "SignerInfo signatureAlgorithm",
            expected: "ECDSA, RSA PKCS#1 v1.5 or Ed25519 matching the signer's key".into(),
            found: format!("{} with a {} key", signed.signer.signature_alg, key.kind()),
        })?;
    key.verify(
        &signed.signer.signed_attrs_set,
        signed.signer.signature,
        sig_hash,
    )
    .map_err(|e| TsaError::BadSignature {
        signer: signer_cert.subject(),
        detail: e.to_string(),
    })?;

    // The signer is a timestamping certificate valid at genTime, chaining to a trusted TSA.
    check_tsa_certificate(&signer_cert, root, tst.gen_time).map_err(certificate)?;
    VerifyingKey::remember_trusted(&spki, &key);
    Ok(tst.gen_time)
}

fn check_tsa_certificate(
    cert: &ParsedCert,
    root: &TrustedRoot,
    gen_time: SystemTime,
) -> Result<(), CertError> {
    cert.check_valid_at(gen_time)?;
    for ext in cert
        .cert
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
    {
        let known = [
            OID_KEY_USAGE,
            OID_EXT_KEY_USAGE,
            OID_BASIC_CONSTRAINTS,
            OID_SUBJECT_KEY_ID,
            OID_AUTHORITY_KEY_ID,
        ]
        .contains(&ext.extn_id);
        if ext.critical && !known {
            return Err(CertError::UnknownCriticalExtension {
                subject: cert.subject(),
                oid: ext.extn_id.to_string(),
            });
        }
    }
    match cert.ext_key_usage()? {
        Some(eku) if eku.0.contains(&EKU_TIME_STAMPING) => {}
        other => {
            return Err(CertError::Usage {
                subject: cert.subject(),
                expected: format!("extKeyUsage timeStamping ({EKU_TIME_STAMPING})"),
                found: other.map_or_else(
                    || "no extKeyUsage extension".to_string(),
                    |eku| {
                        let v: Vec<String> = eku.0.iter().map(ToString::to_string).collect();
                        format!("[{}]", v.join(", "))
                    },
                ),
            });
        }
    }
    if let Some(ku) = cert
        .cert
        .tbs_certificate()
        .get_extension::<x509_cert::ext::pkix::KeyUsage>()
        .map_err(|e| CertError::Malformed {
            what: cert.subject(),
            expected: "a DER keyUsage extension".into(),
            found: e.to_string(),
        })?
        .map(|(_, ku)| ku)
    {
        if !(ku.0.contains(KeyUsages::DigitalSignature) || ku.0.contains(KeyUsages::NonRepudiation))
        {
            return Err(CertError::Usage {
                subject: cert.subject(),
                expected: "keyUsage digitalSignature (or contentCommitment)".into(),
                found: format!("keyUsage {:?}", ku.0),
            });
        }
    }
    // Each authority on its own: when its chain starts with a TSA (end-entity) certificate, that
    // certificate is pinned and the signer must be it.
    let mut best = None;
    for auth in &root.timestamp_authorities {
        let pinned = auth
            .cert_chain
            .first()
            .and_then(|der| ParsedCert::parse(der, "trusted TSA certificate").ok())
            .filter(|c| !c.is_ca());
        if let Some(pinned) = pinned {
            if pinned.der != cert.der {
                best.get_or_insert(CertError::UntrustedIssuer {
                    expected: format!(
                        "the pinned TSA certificate {} of {}",
                        pinned.subject(),
                        auth.uri
                    ),
                    found: cert.subject(),
                });
                continue;
            }
        }
        match build_path(
            cert,
            &[],
            std::slice::from_ref(auth),
            gen_time,
            EKU_TIME_STAMPING,
        ) {
            Ok(_) => return Ok(()),
            Err(e) => {
                // A more specific reason than "not this authority" wins.
                if best.is_none() || !matches!(e, CertError::UntrustedIssuer { .. }) {
                    best = Some(e);
                }
            }
        }
    }
    Err(best.unwrap_or_else(|| CertError::UntrustedIssuer {
        expected: "a timestamp authority in the trusted root".into(),
        found: format!("{} (the trusted root lists none)", cert.subject()),
    }))
}

/// Accepts a `TimeStampResp` (status granted) or a bare `TimeStampToken`; returns the
/// ContentInfo's encoding.
fn unwrap_response(der: &[u8]) -> Result<&[u8], TsaError> {
    let outer = read_one(der, 0x30).map_err(|e| malformed("TimeStampResp", "a DER SEQUENCE", e))?;
    let fields = read_all(outer.value).map_err(|e| malformed("TimeStampResp", "DER fields", e))?;
    match fields.first() {
        Some(status) if status.tag == 0x30 => {
            // TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken OPTIONAL }
            let (code, _) = read_tlv(status.value)
                .map_err(|e| malformed("PKIStatusInfo", "a PKIStatus INTEGER", e))?;
            if code.tag != 0x02 || !(code.value == [0] || code.value == [1]) {
                return Err(TsaError::Status {
                    found: hex::encode(code.value),
                });
            }
            match fields.as_slice() {
                [_, token] => Ok(token.raw),
                _ => Err(malformed(
                    "TimeStampResp",
                    "a status and exactly one timeStampToken",
                    format!("{} fields", fields.len()),
                )),
            }
        }
        _ => Ok(der),
    }
}

/// The parts of a CMS SignedData a timestamp needs.
struct SignedData<'a> {
    econtent: &'a [u8],
    certificates: Vec<Vec<u8>>,
    signer: SignerInfo<'a>,
}

impl<'a> SignedData<'a> {
    fn parse(content_info: &'a [u8]) -> Result<SignedData<'a>, TsaError> {
        let ci = read_one(content_info, 0x30)
            .map_err(|e| malformed("ContentInfo", "a DER SEQUENCE", e))?;
        let [content_type, content] =
            read_all(ci.value).map_err(|e| malformed("ContentInfo", "DER fields", e))?[..]
        else {
            return Err(malformed(
                "ContentInfo",
                "contentType and content",
                "other fields",
            ));
        };
        let ct = decode_oid(content_type.raw, "ContentInfo contentType")?;
        if ct != OID_SIGNED_DATA || content.tag != 0xa0 {
            return Err(malformed(
                "ContentInfo",
                format!("contentType id-signedData ({OID_SIGNED_DATA}) with [0] content"),
                ct,
            ));
        }
        let sd = read_one(content.value, 0x30)
            .map_err(|e| malformed("SignedData", "a DER SEQUENCE", e))?;
        let fields = read_all(sd.value).map_err(|e| malformed("SignedData", "DER fields", e))?;
        let mut it = fields.into_iter().peekable();
        let version = it.next().filter(|f| f.tag == 0x02);
        let digest_algs = it.next().filter(|f| f.tag == 0x31);
        let encap = it.next().filter(|f| f.tag == 0x30);
        let (Some(_), Some(_), Some(encap)) = (version, digest_algs, encap) else {
            return Err(malformed(
                "SignedData",
                "version, digestAlgorithms and encapContentInfo",
                "other fields",
            ));
        };
        let mut certificates = Vec::new();
        if let Some(certs) = it.next_if(|f| f.tag == 0xa0) {
            for c in read_all(certs.value)
                .map_err(|e| malformed("SignedData certificates", "DER certificates", e))?
            {
                if c.tag == 0x30 {
                    certificates.push(c.raw.to_vec());
                }
            }
        }
        let _crls = it.next_if(|f| f.tag == 0xa1);
        let signer_infos = it
            .next()
            .filter(|f| f.tag == 0x31)
            .ok_or_else(|| malformed("SignedData", "a signerInfos SET", "none"))?;
        if it.next().is_some() {
            return Err(malformed(
                "SignedData",
                "nothing after signerInfos",
                "more fields",
            ));
        }

        // encapContentInfo ::= SEQUENCE { eContentType, [0] EXPLICIT OCTET STRING }
        let [e_type, e_content] = read_all(encap.value)
            .map_err(|e| malformed("EncapsulatedContentInfo", "DER fields", e))?[..]
        else {
            return Err(malformed(
                "EncapsulatedContentInfo",
                "eContentType and eContent",
                "other fields",
            ));
        };
        let et = decode_oid(e_type.raw, "eContentType")?;
        if et != OID_CT_TST_INFO {
            return Err(malformed(
                "EncapsulatedContentInfo",
                format!("eContentType id-ct-TSTInfo ({OID_CT_TST_INFO})"),
                et,
            ));
        }
        if e_content.tag != 0xa0 {
            return Err(malformed(
                "EncapsulatedContentInfo",
                "[0] eContent",
                "another tag",
            ));
        }
        let octets = read_one(e_content.value, 0x04)
            .map_err(|e| malformed("eContent", "an OCTET STRING", e))?;

        let infos = read_all(signer_infos.value)
            .map_err(|e| malformed("signerInfos", "DER SignerInfo", e))?;
        let [info] = infos[..] else {
            return Err(malformed(
                "signerInfos",
                "exactly one SignerInfo",
                infos.len(),
            ));
        };
        Ok(SignedData {
            econtent: octets.value,
            certificates,
            signer: SignerInfo::parse(info.raw)?,
        })
    }
}

/// How a SignerInfo names its certificate.
enum SignerId<'a> {
    /// issuer Name (DER) and serialNumber INTEGER contents.
    IssuerSerial(&'a [u8], &'a [u8]),
    /// subjectKeyIdentifier.
    KeyId(&'a [u8]),
}

impl SignerId<'_> {
    fn matches(&self, cert: &ParsedCert) -> bool {
        let tbs = cert.cert.tbs_certificate();
        match self {
            SignerId::IssuerSerial(issuer, serial) => {
                tbs.issuer().to_der().is_ok_and(|d| d == *issuer)
                    && tbs.serial_number().as_bytes() == *serial
            }
            SignerId::KeyId(id) => tbs
                .get_extension::<SubjectKeyIdentifier>()
                .ok()
                .flatten()
                .is_some_and(|(_, ski)| ski.0.as_bytes() == *id),
        }
    }

    fn describe(&self) -> String {
        match self {
            SignerId::IssuerSerial(issuer, serial) => {
                let name = x509_cert::name::Name::from_der(issuer)
                    .map_or_else(|_| "(unparsable name)".to_string(), |n| n.to_string());
                format!("issuer {name}, serial {}", hex::encode(serial))
            }
            SignerId::KeyId(id) => format!("subjectKeyIdentifier {}", hex::encode(id)),
        }
    }
}

struct SignerInfo<'a> {
    sid: SignerId<'a>,
    digest_alg: ObjectIdentifier,
    /// The signed attributes re-tagged as a SET: the bytes the signature is over.
    signed_attrs_set: Vec<u8>,
    /// The attributes (each an Attribute SEQUENCE).
    attrs: Vec<&'a [u8]>,
    signature_alg: ObjectIdentifier,
    signature: &'a [u8],
}

impl<'a> SignerInfo<'a> {
    fn parse(der: &'a [u8]) -> Result<SignerInfo<'a>, TsaError> {
        let si = read_one(der, 0x30).map_err(|e| malformed("SignerInfo", "a DER SEQUENCE", e))?;
        let fields = read_all(si.value).map_err(|e| malformed("SignerInfo", "DER fields", e))?;
        let mut it = fields.into_iter().peekable();
        let _version = it
            .next_if(|f| f.tag == 0x02)
            .ok_or_else(|| malformed("SignerInfo", "a version INTEGER", "none"))?;
        let sid = match it.next() {
            Some(f) if f.tag == 0x30 => {
                let [issuer, serial] = read_all(f.value)
                    .map_err(|e| malformed("IssuerAndSerialNumber", "DER fields", e))?[..]
                else {
                    return Err(malformed(
                        "IssuerAndSerialNumber",
                        "issuer and serialNumber",
                        "other fields",
                    ));
                };
                if issuer.tag != 0x30 || serial.tag != 0x02 {
                    return Err(malformed(
                        "IssuerAndSerialNumber",
                        "a Name and an INTEGER",
                        "other types",
                    ));
                }
                SignerId::IssuerSerial(issuer.raw, serial.value)
            }
            Some(f) if f.tag == 0x80 => SignerId::KeyId(f.value),
            _ => {
                return Err(malformed(
                    "SignerInfo",
                    "a signer identifier (IssuerAndSerialNumber or [0] subjectKeyIdentifier)",
                    "something else",
                ));
            }
        };
        let digest_alg = it
            .next_if(|f| f.tag == 0x30)
            .ok_or_else(|| malformed("SignerInfo", "a digestAlgorithm", "none"))?;
        let digest_alg = AlgorithmIdentifierOwned::from_der(digest_alg.raw)
            .map_err(|e| malformed("SignerInfo digestAlgorithm", "an AlgorithmIdentifier", e))?
            .oid;
        let signed_attrs = it.next_if(|f| f.tag == 0xa0).ok_or_else(|| {
            malformed(
                "SignerInfo",
                "signedAttrs (required when the content is a TSTInfo)",
                "none",
            )
        })?;
        let signature_alg = it
            .next_if(|f| f.tag == 0x30)
            .ok_or_else(|| malformed("SignerInfo", "a signatureAlgorithm", "none"))?;
        let signature_alg = AlgorithmIdentifierOwned::from_der(signature_alg.raw)
            .map_err(|e| malformed("SignerInfo signatureAlgorithm", "an AlgorithmIdentifier", e))?
            .oid;
        let signature = it
            .next_if(|f| f.tag == 0x04)
            .ok_or_else(|| malformed("SignerInfo", "a signature OCTET STRING", "none"))?;
        let _unsigned = it.next_if(|f| f.tag == 0xa1);
        if it.next().is_some() {
            return Err(malformed(
                "SignerInfo",
                "nothing after the signature",
                "more fields",
            ));
        }
        let mut signed_attrs_set = signed_attrs.raw.to_vec();
        if let Some(first) = signed_attrs_set.first_mut() {
            *first = 0x31; // [0] IMPLICIT SET OF -> SET OF (RFC 5652 §5.4)
        }
        let attrs = read_all(signed_attrs.value)
            .map_err(|e| malformed("signedAttrs", "DER attributes", e))?
            .into_iter()
            .map(|a| a.raw)
            .collect();
        Ok(SignerInfo {
            sid,
            digest_alg,
            signed_attrs_set,
            attrs,
            signature_alg,
            signature: signature.value,
        })
    }

    /// The single value of the signed attribute `oid`, which must be present exactly once.
    fn attribute(&self, oid: ObjectIdentifier, name: &'static str) -> Result<&'a [u8], TsaError> {
        self.optional_attribute(oid, name)?
            .ok_or_else(|| TsaError::SignedAttribute {
                attribute: name,
                expected: "the attribute".into(),
                found: "none".into(),
            })
    }

    /// The single value of the signed attribute `oid`, if present (at most once).
    fn optional_attribute(
        &self,
        oid: ObjectIdentifier,
        name: &'static str,
    ) -> Result<Option<&'a [u8]>, TsaError> {
        let mut found = None;
        for raw in &self.attrs {
            let attr = read_one(raw, 0x30)
                .map_err(|e| malformed("signedAttrs", "an Attribute SEQUENCE", e))?;
            let [id, values] = read_all(attr.value)
                .map_err(|e| malformed("signedAttrs", "attrType and attrValues", e))?[..]
            else {
                return Err(malformed(
                    "signedAttrs",
                    "attrType and attrValues",
                    "other fields",
                ));
            };
            if decode_oid(id.raw, "attrType")? != oid {
                continue;
            }
            if found.is_some() {
                return Err(TsaError::SignedAttribute {
                    attribute: name,
                    expected: "exactly one attribute".into(),
                    found: "several".into(),
                });
            }
            if values.tag != 0x31 {
                return Err(malformed("signedAttrs", "a SET of values", "another type"));
            }
            let vals = read_all(values.value)
                .map_err(|e| malformed("signedAttrs", "attribute values", e))?;
            let [value] = vals[..] else {
                return Err(TsaError::SignedAttribute {
                    attribute: name,
                    expected: "exactly one value".into(),
                    found: format!("{} values", vals.len()),
                });
            };
            found = Some(value.raw);
        }
        Ok(found)
    }

    /// When the ESS signingCertificateV2 attribute (RFC 5035) is present, its first certHash must
    /// be the hash of the signer certificate.
    fn check_signing_certificate(&self, signer_der: &[u8]) -> Result<(), TsaError> {
        const NAME: &str = "signingCertificateV2";
        let Some(value) = self.optional_attribute(OID_ATTR_SIGNING_CERTIFICATE_V2, NAME)? else {
            return Ok(());
        };
        let bad = |e: String| malformed("signingCertificateV2", "SEQUENCE OF ESSCertIDv2", e);
        let outer = read_one(value, 0x30).map_err(bad)?;
        let (certs, _) = read_tlv(outer.value).map_err(bad)?;
        let ids = read_all(certs.value).map_err(bad)?;
        let first = ids.first().ok_or_else(|| bad("no ESSCertIDv2".into()))?;
        let fields = read_all(first.value).map_err(bad)?;
        let (alg, hash) = match fields.as_slice() {
            [alg, hash, ..] if alg.tag == 0x30 => {
                let oid = AlgorithmIdentifierOwned::from_der(alg.raw)
                    .map_err(|e| bad(e.to_string()))?
                    .oid;
                (hash_alg(&oid, "ESSCertIDv2 hashAlgorithm")?, hash)
            }
            [hash, ..] => (HashAlg::Sha256, hash),
            [] => return Err(bad("an empty ESSCertIDv2".into())),
        };
        if hash.tag != 0x04 {
            return Err(bad("a certHash that is not an OCTET STRING".into()));
        }
        let expected = alg.digest(signer_der);
        if hash.value != expected.as_slice() {
            return Err(TsaError::SignedAttribute {
                attribute: NAME,
                expected: format!(
                    "certHash {} ({alg} of the signer certificate)",
                    hex::encode(expected)
                ),
                found: hex::encode(hash.value),
            });
        }
        Ok(())
    }

    fn check_attributes(&self, digest_alg: HashAlg, econtent: &[u8]) -> Result<(), TsaError> {
        let ct = decode_oid(
            self.attribute(OID_ATTR_CONTENT_TYPE, "content-type")?,
            "content-type attribute",
        )?;
        if ct != OID_CT_TST_INFO {
            return Err(TsaError::SignedAttribute {
                attribute: "content-type",
                expected: format!("id-ct-TSTInfo ({OID_CT_TST_INFO})"),
                found: ct.to_string(),
            });
        }
        let md = self.attribute(OID_ATTR_MESSAGE_DIGEST, "message-digest")?;
        let md = read_one(md, 0x04)
            .map_err(|e| malformed("message-digest attribute", "an OCTET STRING", e))?;
        let expected = digest_alg.digest(econtent);
        if md.value != expected.as_slice() {
            return Err(TsaError::SignedAttribute {
                attribute: "message-digest",
                expected: format!("{} {}", digest_alg, hex::encode(expected)),
                found: hex::encode(md.value),
            });
        }
        Ok(())
    }
}

/// The parts of a TSTInfo that matter.
struct TstInfo<'a> {
    imprint_alg: HashAlg,
    imprint: &'a [u8],
    gen_time: SystemTime,
}

impl<'a> TstInfo<'a> {
    fn parse(der: &'a [u8]) -> Result<TstInfo<'a>, TsaError> {
        let tst = read_one(der, 0x30).map_err(|e| malformed("TSTInfo", "a DER SEQUENCE", e))?;
        let fields = read_all(tst.value).map_err(|e| malformed("TSTInfo", "DER fields", e))?;
        let [version, policy, imprint, serial, gen_time, ..] = fields[..] else {
            return Err(malformed(
                "TSTInfo",
                "version, policy, messageImprint, serialNumber and genTime",
                format!("{} fields", fields.len()),
            ));
        };
        if version.tag != 0x02 || version.value != [1] {
            return Err(malformed("TSTInfo", "version 1", hex::encode(version.raw)));
        }
        if policy.tag != 0x06 || serial.tag != 0x02 || imprint.tag != 0x30 {
            return Err(malformed(
                "TSTInfo",
                "policy OID, messageImprint SEQUENCE and serialNumber INTEGER",
                "other types",
            ));
        }
        let [alg, hashed] =
            read_all(imprint.value).map_err(|e| malformed("messageImprint", "DER fields", e))?[..]
        else {
            return Err(malformed(
                "messageImprint",
                "hashAlgorithm and hashedMessage",
                "other fields",
            ));
        };
        let alg = AlgorithmIdentifierOwned::from_der(alg.raw)
            .map_err(|e| malformed("messageImprint", "an AlgorithmIdentifier", e))?;
        let imprint_alg = hash_alg(&alg.oid, "messageImprint hashAlgorithm")?;
        if hashed.tag != 0x04 || hashed.value.len() != imprint_alg.output_len() {
            return Err(malformed(
                "messageImprint",
                format!(
                    "a {}-byte {} hashedMessage",
                    imprint_alg.output_len(),
                    imprint_alg
                ),
                format!("{} bytes", hashed.value.len()),
            ));
        }
        if gen_time.tag != 0x18 {
            return Err(malformed(
                "TSTInfo",
                "genTime GeneralizedTime",
                "another type",
            ));
        }
        Ok(TstInfo {
            imprint_alg,
            imprint: hashed.value,
            gen_time: parse_generalized_time(gen_time.value)?,
        })
    }
}

/// Parses `YYYYMMDDHHMMSS[.fraction]Z` (RFC 3161 genTime; fractions allowed, UTC only).
fn parse_generalized_time(text: &[u8]) -> Result<SystemTime, TsaError> {
    let bad = || {
        malformed(
            "genTime",
            "YYYYMMDDHHMMSS[.f]Z",
            String::from_utf8_lossy(text).into_owned(),
        )
    };
    let body = text.strip_suffix(b"Z").ok_or_else(bad)?;
    if body.len() < 14 || !body[..14].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> u16 {
        body[r]
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))
    };
    let narrow = |v: u16| u8::try_from(v).map_err(|_| bad());
    let dt = x509_cert::der::DateTime::new(
        num(0..4),
        narrow(num(4..6))?,
        narrow(num(6..8))?,
        narrow(num(8..10))?,
        narrow(num(10..12))?,
        narrow(num(12..14))?,
    )
    .map_err(|_| bad())?;
    let mut t = dt.to_system_time();
    // DateTime::new bounds the year to 1970..=9999, so `t` and the fraction below stay in range.
    let frac = &body[14..];
    if !frac.is_empty() {
        let digits = frac.strip_prefix(b".").ok_or_else(bad)?;
        if digits.is_empty()
            || digits.len() > 9
            || !digits.iter().all(u8::is_ascii_digit)
            || digits.ends_with(b"0")
        {
            return Err(bad());
        }
        let nanos = digits
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(9)
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        t = t
            .checked_add(Duration::from_nanos(u64::from(nanos)))
            .ok_or_else(bad)?;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> SystemTime {
        humantime::parse_rfc3339(s).expect("time")
    }

    #[test]
    fn gen_time_parses_with_and_without_fractions() {
        assert_eq!(
            parse_generalized_time(b"20250612120220Z").expect("plain"),
            t("2025-06-12T12:02:20Z")
        );
        assert_eq!(
            parse_generalized_time(b"20250612120220.5Z").expect("fraction"),
            t("2025-06-12T12:02:20.5Z")
        );
        for bad in [
            &b"20250612120220"[..],
            b"2025061212022Z",
            b"20251312120220Z",
            b"20250612120220.Z",
            b"20250612120220.50Z",
            b"",
        ] {
            assert!(
                parse_generalized_time(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let root = TrustedRoot::production();
        for bad in [
            &b""[..],
            b"\x30\x00",
            b"\x30\x03\x02\x01\x00",
            b"\x30\x05\x30\x03\x02\x01\x02",
        ] {
            assert!(verify_timestamp(bad, b"sig", &root).is_err());
        }
    }
}
