//! Keyless (Fulcio) certificate verification: the path to a trusted certificate authority, the
//! embedded signed certificate timestamps (SCTs), and the signer's identity.
//!
//! [`verify_chain`] checks a leaf certificate at one instant, the signing time taken from a
//! transparency log entry or an RFC 3161 timestamp (never the current time): it must chain to a
//! certificate authority of the [`TrustedRoot`] whose `validFor` contains that instant, every
//! certificate on the path must be valid then, every signature must verify with its issuer's key,
//! issuers must be CAs (basicConstraints `cA`, keyCertSign, pathLenConstraint honoured) and the
//! leaf must be a code-signing end-entity certificate without unknown critical extensions. Extra
//! certificates carried by a bundle are never trusted: they must repeat, byte for byte and in
//! order, the trusted issuers above the leaf (so a trailing copy of the trusted root is accepted
//! and a root in the middle is not). [`verify_embedded_scts`] checks the RFC 6962 SCTs against
//! the root's CT logs and [`identity_matches`] compares the SAN and OIDC issuer with a policy.
//!
//! Every signature goes through [`crate::verify::pki::VerifyingKey`]. Every failure is a typed
//! [`CertError`] that says what was expected and what was found; input never panics.

use crate::trust::TrustedRoot;
use crate::verify::pki::{HashAlg, VerifyingKey};
use der::asn1::{AnyRef, ObjectIdentifier, Utf8StringRef};
use der::{Decode, Encode, Reader as _, SliceReader, Tag, Tagged as _};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};

/// Extended key usage id-kp-codeSigning (1.3.6.1.5.5.7.3.3).
pub const EKU_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// Extended key usage id-kp-timeStamping (1.3.6.1.5.5.7.3.8).
pub const EKU_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// anyExtendedKeyUsage (2.5.29.37.0).
const EKU_ANY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");
/// Fulcio OIDC issuer (v2, DER UTF8String): 1.3.6.1.4.1.57264.1.8.
pub const OID_FULCIO_ISSUER_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Fulcio OIDC issuer (legacy, raw bytes): 1.3.6.1.4.1.57264.1.1.
pub const OID_FULCIO_ISSUER_V1: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
/// Fulcio OtherName SAN type (UTF8String username): 1.3.6.1.4.1.57264.1.7.
pub const OID_FULCIO_OTHERNAME_SAN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
/// RFC 6962 embedded SCT list extension: 1.3.6.1.4.1.11129.2.4.2.
pub const OID_SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// The Fulcio extension arc 1.3.6.1.4.1.57264.1 (its extensions are informational).
const FULCIO_ARC: &str = "1.3.6.1.4.1.57264.1.";

const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const OID_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const OID_AUTHORITY_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");

const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// rsaEncryption: CMS signer infos may name it as the signature algorithm (hash from digestAlgorithm).
pub(crate) const OID_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-ecPublicKey: CMS signer infos may name it as the signature algorithm.
pub(crate) const OID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Why a certificate, its SCTs or its identity were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// A certificate (or part of one) could not be parsed.
    #[error("malformed {what}: expected {expected}, found {found}")]
    Malformed {
        /// Which input.
        what: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The certificate is outside its notBefore..notAfter window at the signing time.
    #[error(
        "certificate {subject} is not valid at the signing time: expected a time within {not_before} .. {not_after}, found {at}"
    )]
    NotValidAt {
        /// The certificate's subject.
        subject: String,
        /// Its notBefore (RFC 3339).
        not_before: String,
        /// Its notAfter (RFC 3339).
        not_after: String,
        /// The signing time (RFC 3339).
        at: String,
    },
    /// The certificate's issuer is a trusted CA, but that CA is not trusted at the signing time.
    #[error(
        "certificate authority {uri} is not trusted at the signing time: expected a time within its validFor {valid_for}, found {at}"
    )]
    AuthorityNotValidAt {
        /// The authority's URI in the trusted root.
        uri: String,
        /// Its validFor window.
        valid_for: String,
        /// The signing time (RFC 3339).
        at: String,
    },
    /// No certificate authority of the trusted root issued the certificate.
    #[error(
        "untrusted certificate: expected a certificate issued by a CA of the trusted root ({expected}), found one issued by {found}"
    )]
    UntrustedIssuer {
        /// The trusted CAs (subjects).
        expected: String,
        /// The certificate's issuer.
        found: String,
    },
    /// A certificate signature does not verify with its issuer's key.
    #[error(
        "signature on certificate {subject} does not verify with the key of {issuer}: {detail}"
    )]
    BadSignature {
        /// The signed certificate's subject.
        subject: String,
        /// The issuer whose key was used.
        issuer: String,
        /// The verifier's message.
        detail: String,
    },
    /// A signature algorithm this verifier does not accept.
    #[error(
        "unsupported signature algorithm on {subject}: expected ECDSA with SHA-256/384/512, RSA PKCS#1 v1.5 with SHA-256/384/512 or Ed25519 matching the key, found {found}"
    )]
    UnsupportedAlgorithm {
        /// The certificate's subject.
        subject: String,
        /// The algorithm OID and key type found.
        found: String,
    },
    /// An issuer on the path is not allowed to issue certificates.
    #[error("certificate {subject} cannot issue certificates: expected {expected}, found {found}")]
    NotCa {
        /// The issuer's subject.
        subject: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A pathLenConstraint is exceeded.
    #[error(
        "path length exceeded at {subject}: expected at most {limit} intermediate CA(s) below it, found {found}"
    )]
    PathLength {
        /// The constraining CA's subject.
        subject: String,
        /// Its pathLenConstraint.
        limit: u8,
        /// The intermediates below it.
        found: usize,
    },
    /// The leaf (or a TSA certificate) is not usable for its purpose.
    #[error("certificate {subject} has the wrong usage: expected {expected}, found {found}")]
    Usage {
        /// The certificate's subject.
        subject: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A critical extension this verifier does not understand.
    #[error(
        "certificate {subject} has an unknown critical extension: expected only critical extensions this verifier enforces, found {oid}"
    )]
    UnknownCriticalExtension {
        /// The certificate's subject.
        subject: String,
        /// The extension OID.
        oid: String,
    },
    /// An extra certificate in the bundle is not the trusted issuer at its position.
    #[error(
        "bundle certificate chain entry {index} is not accepted: expected {expected}, found {found}"
    )]
    ExtraCertificate {
        /// Position in the extra certificates (0 = the first after the leaf).
        index: usize,
        /// What was expected at that position.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The subject alternative name is missing or ambiguous.
    #[error("subject alternative name: expected {expected}, found {found}")]
    San {
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// One SCT could not be parsed.
    #[error("malformed SCT list: expected {expected}, found {found}")]
    SctMalformed {
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// No SCT verified against the trusted CT logs.
    #[error(
        "no valid SCT: expected at least one SCT verified by a CT log of the trusted root, found {found}"
    )]
    NoValidSct {
        /// What was found instead (each SCT's reason).
        found: String,
    },
    /// The certificate's identity (SAN or OIDC issuer) is not the one expected.
    #[error("{field} mismatch: expected {expected}, found {found}")]
    IdentityMismatch {
        /// `SAN` or `OIDC issuer`.
        field: &'static str,
        /// The expected identity.
        expected: String,
        /// The certificate's identity.
        found: String,
    },
    /// A SAN pattern is not a valid regular expression.
    #[error("invalid SAN pattern: expected a regular expression, found {pattern:?} ({detail})")]
    BadPattern {
        /// The pattern.
        pattern: String,
        /// The regex compiler's message.
        detail: String,
    },
}

fn malformed(
    what: impl Into<String>,
    expected: impl Into<String>,
    found: impl fmt::Display,
) -> CertError {
    CertError::Malformed {
        what: what.into(),
        expected: expected.into(),
        found: found.to_string(),
    }
}

/// The last second any time read from input may have: 9999-12-31T23:59:59Z. RFC 3339, X.509
/// GeneralizedTime and RFC 3161 genTime end there; a later "time" is malformed input.
pub const MAX_UNIX_SECONDS: u64 = 253_402_300_799;

/// A Unix time in seconds as a [`SystemTime`]: `None` below the epoch or after
/// [`MAX_UNIX_SECONDS`] (checked, never panics, the same on every platform).
pub(crate) fn unix_seconds(secs: i64) -> Option<SystemTime> {
    u64::try_from(secs)
        .ok()
        .filter(|s| *s <= MAX_UNIX_SECONDS)
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
}

/// A Unix time in milliseconds as a [`SystemTime`], bounded as [`unix_seconds`].
pub(crate) fn unix_millis(ms: u64) -> Option<SystemTime> {
    let t = UNIX_EPOCH.checked_add(Duration::from_millis(ms))?;
    let max = UNIX_EPOCH.checked_add(Duration::from_secs(MAX_UNIX_SECONDS + 1))?;
    (t < max).then_some(t)
}

/// Formats a time as RFC 3339 (seconds, or nanoseconds when it has a fraction). Never panics: a
/// time before the epoch or after 9999 (which RFC 3339 cannot write) is shown as a count of
/// seconds from the epoch.
pub(crate) fn fmt_time(t: SystemTime) -> String {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) if d.as_secs() > MAX_UNIX_SECONDS => {
            format!(
                "{}s after the Unix epoch (after 9999-12-31T23:59:59Z)",
                d.as_secs()
            )
        }
        Ok(d) if d.subsec_nanos() == 0 => humantime::format_rfc3339_seconds(t).to_string(),
        Ok(_) => humantime::format_rfc3339_nanos(t).to_string(),
        Err(e) => format!(
            "{}s before the Unix epoch (before 1970-01-01T00:00:00Z)",
            e.duration().as_secs()
        ),
    }
}

fn fmt_validity(v: &crate::trust::Validity) -> String {
    format!(
        "{} .. {}",
        v.start.map_or_else(|| "(no start)".to_string(), fmt_time),
        v.end.map_or_else(|| "(open)".to_string(), fmt_time)
    )
}

// ---------------------------------------------------------------------------------------------
// DER elements read with the `der` crate (DER rules: definite, minimal lengths; no trailing
// bytes), keeping the exact encoding where the bytes that were signed matter (TBSCertificate, CMS
// signed attributes) and must not be re-encoded.
// ---------------------------------------------------------------------------------------------

/// One DER element: its tag byte, its value, and its full encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// The identifier octet (low tag numbers only).
    pub tag: u8,
    /// The contents.
    pub value: &'a [u8],
    /// Identifier, length and contents, byte for byte as read.
    pub raw: &'a [u8],
    /// The element as the `der` crate decoded it.
    pub any: AnyRef<'a>,
}

/// A `der` error as the text of a [`CertError::Malformed`] `found`.
fn der_error(e: der::Error) -> String {
    format!("{e} (expected DER)")
}

/// Reads one element from the front of `input` with [`der::SliceReader`] (DER rules: indefinite
/// and non-minimal lengths are rejected); returns it and the rest.
pub(crate) fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    if input.is_empty() {
        return Err("end of data where a DER element was expected".to_string());
    }
    let mut reader = SliceReader::new(input).map_err(der_error)?;
    let any = AnyRef::decode(&mut reader).map_err(der_error)?;
    let number = any.tag().number().value();
    if number > 30 {
        return Err(format!("unsupported high tag number ({number})"));
    }
    let used = usize::try_from(reader.position()).map_err(der_error)?;
    let (raw, rest) = input
        .split_at_checked(used)
        .ok_or_else(|| format!("a DER element of {used} bytes in {} bytes", input.len()))?;
    let tag = *raw
        .first()
        .ok_or_else(|| "end of data where a DER element was expected".to_string())?;
    Ok((
        Tlv {
            tag,
            value: any.value(),
            raw,
            any,
        },
        rest,
    ))
}

/// Reads every element of `input` (the contents of a constructed element).
pub(crate) fn read_all(mut input: &[u8]) -> Result<Vec<Tlv<'_>>, String> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (tlv, rest) = read_tlv(input)?;
        out.push(tlv);
        input = rest;
    }
    Ok(out)
}

/// Reads exactly one element with tag `tag` spanning all of `input`.
pub(crate) fn read_one(input: &[u8], tag: u8) -> Result<Tlv<'_>, String> {
    let (tlv, rest) = read_tlv(input)?;
    if tlv.tag != tag {
        return Err(format!(
            "identifier 0x{:02x} where 0x{tag:02x} was expected",
            tlv.tag
        ));
    }
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes after a DER element", rest.len()));
    }
    Ok(tlv)
}

/// Encodes one element with the `der` crate (lengths of any size, minimal form).
fn encode_tlv(tag: Tag, value: &[u8]) -> Result<Vec<u8>, String> {
    AnyRef::new(tag, value)
        .and_then(|any| any.to_der())
        .map_err(der_error)
}

// ---------------------------------------------------------------------------------------------
// Parsed certificates and signature checks, shared with the TSA verifier.
// ---------------------------------------------------------------------------------------------

/// A certificate with its DER and the raw bytes of its TBSCertificate.
#[derive(Clone)]
pub(crate) struct ParsedCert {
    pub der: Vec<u8>,
    pub cert: Certificate,
    tbs_raw: Vec<u8>,
}

impl ParsedCert {
    /// Parses a DER certificate; `what` names it in errors.
    pub(crate) fn parse(der: &[u8], what: &str) -> Result<ParsedCert, CertError> {
        let cert = Certificate::from_der(der)
            .map_err(|e| malformed(what, "a DER X.509 certificate", e))?;
        let outer = read_one(der, 0x30).map_err(|e| malformed(what, "a DER certificate", e))?;
        let (tbs, _) = read_tlv(outer.value).map_err(|e| malformed(what, "a TBSCertificate", e))?;
        Ok(ParsedCert {
            der: der.to_vec(),
            cert,
            tbs_raw: tbs.raw.to_vec(),
        })
    }

    /// The subject as text.
    pub(crate) fn subject(&self) -> String {
        let s = self.cert.tbs_certificate().subject().to_string();
        if s.is_empty() {
            "(empty subject)".to_string()
        } else {
            s
        }
    }

    /// The issuer name, with the authorityKeyIdentifier when present.
    fn issuer_name(&self) -> String {
        let name = self.cert.tbs_certificate().issuer().to_string();
        match self
            .decode_ext::<AuthorityKeyIdentifier>(OID_AUTHORITY_KEY_ID, "authorityKeyIdentifier")
            .ok()
            .flatten()
            .and_then(|aki| aki.key_identifier)
        {
            Some(id) => format!("{name} (key id {})", hex::encode(id.as_bytes())),
            None => name,
        }
    }

    /// The subject, with the subjectKeyIdentifier when present.
    fn subject_with_key_id(&self) -> String {
        match self
            .decode_ext::<SubjectKeyIdentifier>(OID_SUBJECT_KEY_ID, "subjectKeyIdentifier")
            .ok()
            .flatten()
        {
            Some(id) => format!(
                "{} (key id {})",
                self.subject(),
                hex::encode(id.0.as_bytes())
            ),
            None => self.subject(),
        }
    }

    fn subject_der(&self) -> Option<Vec<u8>> {
        self.cert.tbs_certificate().subject().to_der().ok()
    }

    fn issuer_der(&self) -> Option<Vec<u8>> {
        self.cert.tbs_certificate().issuer().to_der().ok()
    }

    /// DER SubjectPublicKeyInfo.
    pub(crate) fn spki_der(&self) -> Result<Vec<u8>, CertError> {
        self.cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| malformed(self.subject(), "an encodable SubjectPublicKeyInfo", e))
    }

    /// The certificate's public key.
    pub(crate) fn key(&self) -> Result<VerifyingKey, CertError> {
        self.key_from(&self.spki_der()?, VerifyingKey::from_spki_der)
    }

    /// This certificate's key parsed from its SubjectPublicKeyInfo `spki` by `parse`.
    pub(crate) fn key_from(
        &self,
        spki: &[u8],
        parse: fn(&[u8]) -> Result<VerifyingKey, super::pki::PkiError>,
    ) -> Result<VerifyingKey, CertError> {
        parse(spki).map_err(|e| CertError::UnsupportedAlgorithm {
            subject: self.subject(),
            found: e.to_string(),
        })
    }

    pub(crate) fn not_before(&self) -> SystemTime {
        self.cert
            .tbs_certificate()
            .validity()
            .not_before
            .to_system_time()
    }

    pub(crate) fn not_after(&self) -> SystemTime {
        self.cert
            .tbs_certificate()
            .validity()
            .not_after
            .to_system_time()
    }

    /// notBefore <= at <= notAfter.
    pub(crate) fn check_valid_at(&self, at: SystemTime) -> Result<(), CertError> {
        if self.not_before() <= at && at <= self.not_after() {
            Ok(())
        } else {
            Err(CertError::NotValidAt {
                subject: self.subject(),
                not_before: fmt_time(self.not_before()),
                not_after: fmt_time(self.not_after()),
                at: fmt_time(at),
            })
        }
    }

    fn extensions(&self) -> &[x509_cert::ext::Extension] {
        self.cert
            .tbs_certificate()
            .extensions()
            .map_or(&[], |e| e.as_slice())
    }

    fn extension(
        &self,
        oid: ObjectIdentifier,
    ) -> Result<Option<&x509_cert::ext::Extension>, CertError> {
        let mut found = self.extensions().iter().filter(|e| e.extn_id == oid);
        let first = found.next();
        if found.next().is_some() {
            return Err(malformed(
                self.subject(),
                format!("at most one {oid} extension"),
                "several",
            ));
        }
        Ok(first)
    }

    fn decode_ext<'a, T: Decode<'a>>(
        &'a self,
        oid: ObjectIdentifier,
        name: &str,
    ) -> Result<Option<T>, CertError> {
        match self.extension(oid)? {
            None => Ok(None),
            Some(ext) => T::from_der(ext.extn_value.as_bytes())
                .map(Some)
                .map_err(|e| malformed(self.subject(), format!("a DER {name} extension"), e)),
        }
    }

    /// True when basicConstraints says cA=TRUE.
    pub(crate) fn is_ca(&self) -> bool {
        self.basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|bc| bc.ca)
    }

    fn basic_constraints(&self) -> Result<Option<BasicConstraints>, CertError> {
        self.decode_ext(OID_BASIC_CONSTRAINTS, "basicConstraints")
    }

    fn key_usage(&self) -> Result<Option<KeyUsage>, CertError> {
        self.decode_ext(OID_KEY_USAGE, "keyUsage")
    }

    pub(crate) fn ext_key_usage(&self) -> Result<Option<ExtendedKeyUsage>, CertError> {
        self.decode_ext(OID_EXT_KEY_USAGE, "extKeyUsage")
    }

    /// The public key of a certificate of trust material (a trusted root's), memoised per process
    /// ([`VerifyingKey::from_trusted_spki_der`]) so that it verifies on the fixed-key fast path.
    pub(crate) fn trusted_key(&self) -> Result<VerifyingKey, CertError> {
        self.key_from(&self.spki_der()?, VerifyingKey::from_trusted_spki_der)
    }

    /// Verifies this certificate's signature with the key of `issuer`, a certificate of a trusted
    /// root (every caller's issuer is: chains are built from trusted certificates only).
    pub(crate) fn verify_signed_by(&self, issuer: &ParsedCert) -> Result<(), CertError> {
        let key = issuer.trusted_key()?;
        let alg = &self.cert.signature_algorithm().oid;
        let sig = self.cert.signature().as_bytes().ok_or_else(|| {
            malformed(
                self.subject(),
                "a signature BIT STRING without unused bits",
                "unused bits",
            )
        })?;
        let hash =
            signature_hash(alg, &key, None).ok_or_else(|| CertError::UnsupportedAlgorithm {
                subject: self.subject(),
                found: format!("{alg} with a {} key", key.kind()),
            })?;
        key.verify(&self.tbs_raw, sig, hash)
            .map_err(|e| CertError::BadSignature {
                subject: self.subject(),
                issuer: issuer.subject(),
                detail: e.to_string(),
            })
    }

    /// True when `issuer`'s subject is this certificate's issuer name.
    fn named_issuer_is(&self, issuer: &ParsedCert) -> bool {
        match (self.issuer_der(), issuer.subject_der()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    /// False when both key identifiers are present and differ (`issuer` cannot have signed this).
    fn key_ids_compatible(&self, issuer: &ParsedCert) -> bool {
        let aki = self
            .decode_ext::<AuthorityKeyIdentifier>(OID_AUTHORITY_KEY_ID, "authorityKeyIdentifier")
            .ok()
            .flatten()
            .and_then(|a| a.key_identifier);
        let ski = issuer
            .decode_ext::<SubjectKeyIdentifier>(OID_SUBJECT_KEY_ID, "subjectKeyIdentifier")
            .ok()
            .flatten();
        match (aki, ski) {
            (Some(a), Some(s)) => a.as_bytes() == s.0.as_bytes(),
            _ => true,
        }
    }

    /// Rejects critical extensions outside `known`.
    fn check_critical(&self, known: &[ObjectIdentifier]) -> Result<(), CertError> {
        for ext in self.extensions() {
            if ext.critical && !known.contains(&ext.extn_id) {
                return Err(CertError::UnknownCriticalExtension {
                    subject: self.subject(),
                    oid: ext.extn_id.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The CA checks for an issuer on a path, with `below` intermediate CAs under it.
    fn check_ca(&self, below: usize, eku: ObjectIdentifier) -> Result<(), CertError> {
        self.check_critical(&[
            OID_BASIC_CONSTRAINTS,
            OID_KEY_USAGE,
            OID_EXT_KEY_USAGE,
            OID_SUBJECT_KEY_ID,
            OID_AUTHORITY_KEY_ID,
        ])?;
        match self.basic_constraints()? {
            Some(bc) if bc.ca => {
                if let Some(limit) = bc.path_len_constraint {
                    if below > usize::from(limit) {
                        return Err(CertError::PathLength {
                            subject: self.subject(),
                            limit,
                            found: below,
                        });
                    }
                }
            }
            Some(_) => {
                return Err(CertError::NotCa {
                    subject: self.subject(),
                    expected: "basicConstraints cA=TRUE".into(),
                    found: "cA=FALSE".into(),
                });
            }
            None => {
                return Err(CertError::NotCa {
                    subject: self.subject(),
                    expected: "basicConstraints cA=TRUE".into(),
                    found: "no basicConstraints extension".into(),
                });
            }
        }
        match self.key_usage()? {
            Some(ku) if ku.0.contains(KeyUsages::KeyCertSign) => {}
            Some(ku) => {
                return Err(CertError::NotCa {
                    subject: self.subject(),
                    expected: "keyUsage keyCertSign".into(),
                    found: format!("keyUsage {:?}", ku.0),
                });
            }
            None => {
                return Err(CertError::NotCa {
                    subject: self.subject(),
                    expected: "keyUsage keyCertSign".into(),
                    found: "no keyUsage extension".into(),
                });
            }
        }
        // An EKU on a CA restricts what it may issue for (as Go's and browsers' verifiers do).
        if let Some(eku_ext) = self.ext_key_usage()? {
            if !eku_ext.0.iter().any(|o| *o == eku || *o == EKU_ANY) {
                return Err(CertError::Usage {
                    subject: self.subject(),
                    expected: format!("an extKeyUsage allowing {eku} (or none)"),
                    found: fmt_oids(&eku_ext.0),
                });
            }
        }
        Ok(())
    }
}

fn fmt_oids(oids: &[ObjectIdentifier]) -> String {
    let v: Vec<String> = oids.iter().map(ToString::to_string).collect();
    format!("[{}]", v.join(", "))
}

/// The hash to verify a signature with algorithm `alg` made by `key`, or `None` when the pair is
/// not accepted. `digest` is the CMS digestAlgorithm's hash, used when `alg` names only a key type.
pub(crate) fn signature_hash(
    alg: &ObjectIdentifier,
    key: &VerifyingKey,
    digest: Option<HashAlg>,
) -> Option<HashAlg> {
    let ec = matches!(key, VerifyingKey::P256(_) | VerifyingKey::P384(_));
    let rsa = matches!(key, VerifyingKey::Rsa(_));
    let ed = matches!(key, VerifyingKey::Ed25519(_));
    match *alg {
        OID_ECDSA_SHA256 if ec => Some(HashAlg::Sha256),
        OID_ECDSA_SHA384 if ec => Some(HashAlg::Sha384),
        OID_ECDSA_SHA512 if ec => Some(HashAlg::Sha512),
        OID_RSA_SHA256 if rsa => Some(HashAlg::Sha256),
        OID_RSA_SHA384 if rsa => Some(HashAlg::Sha384),
        OID_RSA_SHA512 if rsa => Some(HashAlg::Sha512),
        OID_ED25519 if ed => Some(HashAlg::Sha512),
        OID_EC_PUBLIC_KEY if ec => digest,
        OID_RSA_ENCRYPTION if rsa => digest,
        _ => None,
    }
}

/// Builds and checks a path from `leaf` (already parsed) to one of `authorities` at `at`.
///
/// Returns the issuers from the one that signed `leaf` up to the trust anchor. `leaf_eku` is the
/// extended key usage issuers must allow; `extra` are untrusted certificates that must repeat the
/// path's issuers in order (see the module documentation).
pub(crate) fn build_path(
    leaf: &ParsedCert,
    extra: &[Vec<u8>],
    authorities: &[crate::trust::Authority],
    at: SystemTime,
    leaf_eku: ObjectIdentifier,
) -> Result<Vec<ParsedCert>, CertError> {
    let mut best: Option<CertError> = None;
    for auth in authorities {
        let chain: Vec<ParsedCert> = match auth
            .cert_chain
            .iter()
            .enumerate()
            .map(|(i, der)| {
                ParsedCert::parse(
                    der,
                    &format!("trusted root certificate {i} of {}", auth.uri),
                )
            })
            .collect()
        {
            Ok(c) => c,
            Err(e) => {
                best.get_or_insert(e);
                continue;
            }
        };
        // The trusted certificate that issued the leaf: its subject must name the leaf's issuer
        // and its key must verify the leaf's signature.
        // A certificate that names the issuer (and whose key id does not contradict the leaf's
        // authority key id) but whose key does not verify is reported as a bad signature.
        let mut start = None;
        for (i, c) in chain.iter().enumerate() {
            if !leaf.named_issuer_is(c) || !leaf.key_ids_compatible(c) {
                continue;
            }
            match leaf.verify_signed_by(c) {
                Ok(()) => {
                    start = Some(i);
                    break;
                }
                Err(e) => best = Some(e),
            }
        }
        let Some(start) = start else {
            continue;
        };
        if !auth.valid_for.contains(at) {
            best = Some(CertError::AuthorityNotValidAt {
                uri: auth.uri.clone(),
                valid_for: fmt_validity(&auth.valid_for),
                at: fmt_time(at),
            });
            continue;
        }
        let path = &chain[start..];
        match check_path(path, extra, at, leaf_eku) {
            Ok(()) => return Ok(path.to_vec()),
            Err(e) => best = Some(e),
        }
    }
    Err(best.unwrap_or_else(|| CertError::UntrustedIssuer {
        expected: trusted_subjects(authorities),
        found: leaf.issuer_name(),
    }))
}

fn trusted_subjects(authorities: &[crate::trust::Authority]) -> String {
    let names: Vec<String> = authorities
        .iter()
        .flat_map(|a| a.cert_chain.iter())
        .filter_map(|der| ParsedCert::parse(der, "trusted certificate").ok())
        .map(|c| c.subject_with_key_id())
        .collect();
    if names.is_empty() {
        "none configured".to_string()
    } else {
        names.join("; ")
    }
}

/// Most (certificate, issuer) pairs [`verify_trusted_pair`] remembers; a trusted root holds a
/// handful of CA certificates, so this is never reached in practice, and past it pairs are simply
/// verified every time.
const MAX_VERIFIED_PAIRS: usize = 64;

/// The issuer signatures between certificates of trusted roots that verified, each keyed by the
/// exact DER of the certificate and of its issuer (a length, then both): a memo of a pure
/// function, so a hit happens only for byte-identical certificates and answers what verifying
/// again would answer. Validity at the signing time and the CA rules are checked per bundle.
static VERIFIED_PAIRS: std::sync::OnceLock<std::sync::RwLock<std::collections::HashSet<Vec<u8>>>> =
    std::sync::OnceLock::new();

/// [`ParsedCert::verify_signed_by`] for two certificates of a trusted root's chain (the path above
/// the leaf), verified once per process and pair: every keyless bundle under one Fulcio
/// intermediate shares the intermediate-to-root signature (P-384 on the public-good instance),
/// while the leaf's own signature is always verified.
fn verify_trusted_pair(cert: &ParsedCert, issuer: &ParsedCert) -> Result<(), CertError> {
    let mut key = Vec::with_capacity(8 + cert.der.len() + issuer.der.len());
    key.extend_from_slice(&(cert.der.len() as u64).to_be_bytes());
    key.extend_from_slice(&cert.der);
    key.extend_from_slice(&issuer.der);
    let cache = VERIFIED_PAIRS.get_or_init(Default::default);
    // A poisoned lock only means another thread panicked while holding it: verify again.
    if cache.read().is_ok_and(|set| set.contains(&key)) {
        return Ok(());
    }
    cert.verify_signed_by(issuer)?;
    if let Ok(mut set) = cache.write() {
        if set.len() < MAX_VERIFIED_PAIRS {
            set.insert(key);
        }
    }
    Ok(())
}

/// Checks the issuers `path` (issuer of the leaf first, trust anchor last).
fn check_path(
    path: &[ParsedCert],
    extra: &[Vec<u8>],
    at: SystemTime,
    leaf_eku: ObjectIdentifier,
) -> Result<(), CertError> {
    for (i, ca) in path.iter().enumerate() {
        ca.check_valid_at(at)?;
        ca.check_ca(i, leaf_eku)?;
        if let Some(parent) = path.get(i + 1) {
            if !ca.named_issuer_is(parent) {
                return Err(CertError::UntrustedIssuer {
                    expected: parent.subject(),
                    found: ca.issuer_name(),
                });
            }
            verify_trusted_pair(ca, parent)?;
        }
    }
    for (i, der) in extra.iter().enumerate() {
        match path.get(i) {
            Some(expected) if expected.der == *der => {}
            Some(expected) => {
                let found = ParsedCert::parse(der, "bundle chain certificate")
                    .map(|c| {
                        let self_signed = c.named_issuer_is(&c);
                        format!(
                            "{}{}",
                            c.subject(),
                            if self_signed {
                                " (a self-signed root out of place)"
                            } else {
                                " (not that certificate)"
                            }
                        )
                    })
                    .unwrap_or_else(|e| e.to_string());
                return Err(CertError::ExtraCertificate {
                    index: i,
                    expected: format!("the trusted certificate {}", expected.subject()),
                    found,
                });
            }
            None => {
                return Err(CertError::ExtraCertificate {
                    index: i,
                    expected: format!(
                        "at most {} certificate(s) after the leaf (the trusted issuers)",
                        path.len()
                    ),
                    found: format!("{} certificate(s)", extra.len()),
                });
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The public API.
// ---------------------------------------------------------------------------------------------

/// The identity in a Fulcio certificate's subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    /// A URI (e.g. a GitHub Actions workflow reference).
    Uri(String),
    /// An rfc822Name (e-mail address).
    Email(String),
    /// A Fulcio OtherName (1.3.6.1.4.1.57264.1.7) UTF8String username.
    OtherName(String),
}

impl San {
    /// The identity string, whatever its kind.
    pub fn value(&self) -> &str {
        match self {
            San::Uri(s) | San::Email(s) | San::OtherName(s) => s,
        }
    }
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Uri(s) => write!(f, "URI {s}"),
            San::Email(s) => write!(f, "email {s}"),
            San::OtherName(s) => write!(f, "otherName {s}"),
        }
    }
}

/// A leaf certificate that chains to a trusted CA at a given signing time.
///
/// Only [`verify_chain`] constructs one.
#[derive(Debug, Clone)]
pub struct VerifiedCert {
    key: VerifyingKey,
    san: Option<San>,
    oidc_issuer: Option<String>,
    leaf_der: Vec<u8>,
    issuer_der: Vec<u8>,
    not_before: SystemTime,
    not_after: SystemTime,
}

impl VerifiedCert {
    /// The leaf's public key, to verify the bundle's signature with.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The leaf's identity (URI, e-mail or Fulcio OtherName SAN).
    pub fn subject_alternative_name(&self) -> Option<&San> {
        self.san.as_ref()
    }

    /// The OIDC issuer from the Fulcio extension (1.3.6.1.4.1.57264.1.8, or legacy .1.1).
    pub fn oidc_issuer(&self) -> Option<&str> {
        self.oidc_issuer.as_deref()
    }

    /// The leaf certificate's DER.
    pub fn leaf_der(&self) -> &[u8] {
        &self.leaf_der
    }

    /// The DER of the certificate that signed the leaf.
    pub fn issuer_der(&self) -> &[u8] {
        &self.issuer_der
    }

    /// The leaf's notBefore.
    pub fn not_before(&self) -> SystemTime {
        self.not_before
    }

    /// The leaf's notAfter.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }
}

/// Checks a keyless leaf certificate at the signing time `at` and returns what it certifies.
///
/// `extra` are the bundle's certificates after the leaf (v0.1/v0.2 `x509CertificateChain`); they
/// must repeat, in order and byte for byte, the trusted issuers above the leaf (a trailing copy of
/// the trusted root is accepted; any other or out-of-order certificate is rejected). `at` must come
/// from a verified log entry or timestamp, never from the clock.
pub fn verify_chain(
    leaf_der: &[u8],
    extra: &[Vec<u8>],
    root: &TrustedRoot,
    at: SystemTime,
) -> Result<VerifiedCert, CertError> {
    let leaf = ParsedCert::parse(leaf_der, "leaf certificate")?;
    leaf.check_valid_at(at)?;
    check_leaf_profile(&leaf)?;
    let path = build_path(
        &leaf,
        extra,
        &root.certificate_authorities,
        at,
        EKU_CODE_SIGNING,
    )?;
    let issuer = path.first().ok_or_else(|| CertError::UntrustedIssuer {
        expected: trusted_subjects(&root.certificate_authorities),
        found: leaf.issuer_name(),
    })?;
    Ok(VerifiedCert {
        key: leaf.key()?,
        san: leaf_san(&leaf)?,
        oidc_issuer: leaf_oidc_issuer(&leaf)?,
        leaf_der: leaf_der.to_vec(),
        issuer_der: issuer.der.clone(),
        not_before: leaf.not_before(),
        not_after: leaf.not_after(),
    })
}

/// End-entity rules for a Fulcio code-signing certificate.
pub(crate) fn check_leaf_profile(leaf: &ParsedCert) -> Result<(), CertError> {
    for ext in leaf.extensions() {
        let known = [
            OID_BASIC_CONSTRAINTS,
            OID_KEY_USAGE,
            OID_EXT_KEY_USAGE,
            OID_SUBJECT_ALT_NAME,
            OID_SUBJECT_KEY_ID,
            OID_AUTHORITY_KEY_ID,
        ]
        .contains(&ext.extn_id)
            || ext.extn_id.to_string().starts_with(FULCIO_ARC);
        if ext.critical && !known {
            return Err(CertError::UnknownCriticalExtension {
                subject: leaf.subject(),
                oid: ext.extn_id.to_string(),
            });
        }
    }
    if leaf.basic_constraints()?.is_some_and(|bc| bc.ca) {
        return Err(CertError::Usage {
            subject: leaf.subject(),
            expected: "an end-entity certificate (basicConstraints cA=FALSE or absent)".into(),
            found: "cA=TRUE".into(),
        });
    }
    match leaf.key_usage()? {
        Some(ku) if ku.0.contains(KeyUsages::DigitalSignature) => {}
        other => {
            return Err(CertError::Usage {
                subject: leaf.subject(),
                expected: "keyUsage digitalSignature".into(),
                found: other.map_or_else(
                    || "no keyUsage extension".into(),
                    |ku| format!("keyUsage {:?}", ku.0),
                ),
            });
        }
    }
    match leaf.ext_key_usage()? {
        Some(eku) if eku.0.contains(&EKU_CODE_SIGNING) => Ok(()),
        other => Err(CertError::Usage {
            subject: leaf.subject(),
            expected: format!("extKeyUsage codeSigning ({EKU_CODE_SIGNING})"),
            found: other.map_or_else(|| "no extKeyUsage extension".into(), |eku| fmt_oids(&eku.0)),
        }),
    }
}

pub(crate) fn leaf_san(leaf: &ParsedCert) -> Result<Option<San>, CertError> {
    let Some(names) = leaf.decode_ext::<SubjectAltName>(OID_SUBJECT_ALT_NAME, "subjectAltName")?
    else {
        return Ok(None);
    };
    let mut found = Vec::new();
    for name in &names.0 {
        match name {
            GeneralName::UniformResourceIdentifier(s) => found.push(San::Uri(s.to_string())),
            GeneralName::Rfc822Name(s) => found.push(San::Email(s.to_string())),
            GeneralName::OtherName(o) if o.type_id == OID_FULCIO_OTHERNAME_SAN => {
                let s = o
                    .value
                    .decode_as::<Utf8StringRef<'_>>()
                    .map_err(|e| CertError::San {
                        expected: "a UTF8String in the Fulcio OtherName SAN".into(),
                        found: e.to_string(),
                    })?;
                found.push(San::OtherName(s.as_str().to_string()));
            }
            _ => {}
        }
    }
    match found.len() {
        0 | 1 => Ok(found.pop()),
        n => Err(CertError::San {
            expected: "exactly one URI, e-mail or Fulcio OtherName identity".into(),
            found: format!(
                "{n}: {}",
                found
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

pub(crate) fn leaf_oidc_issuer(leaf: &ParsedCert) -> Result<Option<String>, CertError> {
    if let Some(ext) = leaf.extension(OID_FULCIO_ISSUER_V2)? {
        let s = Utf8StringRef::from_der(ext.extn_value.as_bytes()).map_err(|e| {
            malformed(
                leaf.subject(),
                "a DER UTF8String in the OIDC issuer extension (1.3.6.1.4.1.57264.1.8)",
                e,
            )
        })?;
        return Ok(Some(s.as_str().to_string()));
    }
    if let Some(ext) = leaf.extension(OID_FULCIO_ISSUER_V1)? {
        let s = std::str::from_utf8(ext.extn_value.as_bytes()).map_err(|e| {
            malformed(
                leaf.subject(),
                "UTF-8 in the legacy OIDC issuer extension (1.3.6.1.4.1.57264.1.1)",
                e,
            )
        })?;
        return Ok(Some(s.to_string()));
    }
    Ok(None)
}

/// Verifies the leaf's embedded SCTs (RFC 6962 precertificate SCTs) against the root's CT logs.
///
/// Each SCT names its log by id; the log's key must be valid at the SCT's timestamp and must verify
/// the SCT's signature over the precertificate entry (the issuer's key hash and the leaf's
/// TBSCertificate without the SCT list extension). Returns how many SCTs verified; when the root
/// lists CT logs at least one must ([`CertError::NoValidSct`]).
pub fn verify_embedded_scts(cert: &VerifiedCert, root: &TrustedRoot) -> Result<usize, CertError> {
    let leaf = ParsedCert::parse(&cert.leaf_der, "leaf certificate")?;
    let issuer = ParsedCert::parse(&cert.issuer_der, "issuer certificate")?;
    let scts = match leaf.extension(OID_SCT_LIST)? {
        Some(ext) => parse_sct_list(ext.extn_value.as_bytes())?,
        None => Vec::new(),
    };
    if root.ctlogs.is_empty() {
        return Ok(0);
    }
    if scts.is_empty() {
        return Err(CertError::NoValidSct {
            found: "no SCT list extension (1.3.6.1.4.1.11129.2.4.2) in the certificate".into(),
        });
    }
    let issuer_key_hash = HashAlg::Sha256.digest(&issuer.spki_der()?);
    let tbs = tbs_without_extension(&leaf.tbs_raw, OID_SCT_LIST)
        .map_err(|e| malformed(leaf.subject(), "a re-encodable TBSCertificate", e))?;
    let mut valid = 0;
    let mut reasons = Vec::new();
    for (i, sct) in scts.iter().enumerate() {
        match verify_sct(sct, &issuer_key_hash, &tbs, root) {
            Ok(()) => valid += 1,
            Err(reason) => reasons.push(format!("SCT {i}: {reason}")),
        }
    }
    if valid == 0 {
        return Err(CertError::NoValidSct {
            found: reasons.join("; "),
        });
    }
    Ok(valid)
}

/// One parsed SCT (v1).
pub(crate) struct Sct<'a> {
    version: u8,
    log_id: &'a [u8],
    timestamp_ms: u64,
    extensions: &'a [u8],
    hash_alg: u8,
    sig_alg: u8,
    signature: &'a [u8],
}

struct TlsReader<'a>(&'a [u8]);

impl<'a> TlsReader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!("{n} more bytes, but only {} remain", self.0.len()));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<usize, String> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn vec16(&mut self) -> Result<&'a [u8], String> {
        let n = self.u16()?;
        self.take(n)
    }
}

pub(crate) fn parse_sct_list(extn_value: &[u8]) -> Result<Vec<Sct<'_>>, CertError> {
    let bad = |found: String| CertError::SctMalformed {
        expected: "an OCTET STRING holding a TLS SignedCertificateTimestampList".into(),
        found,
    };
    let octets = read_one(extn_value, 0x04).map_err(bad)?;
    let mut list = TlsReader(octets.value);
    let body = list.vec16().map_err(bad)?;
    if !list.0.is_empty() {
        return Err(bad(format!("{} bytes after the list", list.0.len())));
    }
    let mut items = TlsReader(body);
    let mut out = Vec::new();
    while !items.0.is_empty() {
        let raw = items.vec16().map_err(bad)?;
        let mut r = TlsReader(raw);
        let sct = (|| -> Result<Sct<'_>, String> {
            let version = r.u8()?;
            if version != 0 {
                return Err(format!("SCT version v1 (0), found {version}"));
            }
            let log_id = r.take(32)?;
            let timestamp_ms = r.u64()?;
            let extensions = r.vec16()?;
            let hash_alg = r.u8()?;
            let sig_alg = r.u8()?;
            let signature = r.vec16()?;
            if !r.0.is_empty() {
                return Err(format!("{} bytes after an SCT", r.0.len()));
            }
            Ok(Sct {
                version,
                log_id,
                timestamp_ms,
                extensions,
                hash_alg,
                sig_alg,
                signature,
            })
        })()
        .map_err(bad)?;
        out.push(sct);
    }
    Ok(out)
}

pub(crate) fn verify_sct(
    sct: &Sct<'_>,
    issuer_key_hash: &[u8],
    tbs: &[u8],
    root: &TrustedRoot,
) -> Result<(), String> {
    let log = root
        .ctlogs
        .iter()
        .find(|l| l.log_id == sct.log_id)
        .ok_or_else(|| {
            format!(
                "log id {} is not a CT log of the trusted root",
                hex::encode(sct.log_id)
            )
        })?;
    let ts = unix_millis(sct.timestamp_ms).ok_or_else(|| {
        format!(
            "a timestamp from 1970 to 9999, found {} ms after the epoch",
            sct.timestamp_ms
        )
    })?;
    if !log.valid_for.contains(ts) {
        return Err(format!(
            "CT log {} is trusted {}, but the SCT is from {}",
            log.base_url,
            fmt_validity(&log.valid_for),
            fmt_time(ts)
        ));
    }
    let hash = match sct.hash_alg {
        4 => HashAlg::Sha256,
        5 => HashAlg::Sha384,
        6 => HashAlg::Sha512,
        other => {
            return Err(format!(
                "hash algorithm SHA-256/384/512 (4/5/6), found {other}"
            ));
        }
    };
    let key = VerifyingKey::from_trusted_spki_der(&log.public_key)
        .map_err(|e| format!("CT log key: {e}"))?;
    let sig_ok = matches!(
        (sct.sig_alg, &key),
        (3, VerifyingKey::P256(_) | VerifyingKey::P384(_))
            | (1, VerifyingKey::Rsa(_))
            | (7, VerifyingKey::Ed25519(_))
    );
    if !sig_ok {
        return Err(format!(
            "a signature algorithm matching the {} log key, found TLS algorithm {}",
            key.kind(),
            sct.sig_alg
        ));
    }
    let tbs_len = u32::try_from(tbs.len())
        .ok()
        .filter(|n| *n < (1 << 24))
        .ok_or("TBSCertificate too large")?;
    let ext_len = u16::try_from(sct.extensions.len()).map_err(|_| "SCT extensions too large")?;
    let mut msg = Vec::with_capacity(tbs.len() + sct.extensions.len() + 64);
    msg.push(sct.version);
    msg.push(0); // signature_type = certificate_timestamp
    msg.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    msg.extend_from_slice(&1u16.to_be_bytes()); // entry_type = precert_entry
    msg.extend_from_slice(issuer_key_hash);
    msg.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    msg.extend_from_slice(tbs);
    msg.extend_from_slice(&ext_len.to_be_bytes());
    msg.extend_from_slice(sct.extensions);
    key.verify(&msg, sct.signature, hash)
        .map_err(|e| format!("signature by CT log {}: {e}", log.base_url))
}

/// The TBSCertificate `tbs` (DER) re-encoded without the extension `oid`.
pub(crate) fn tbs_without_extension(tbs: &[u8], oid: ObjectIdentifier) -> Result<Vec<u8>, String> {
    let outer = read_one(tbs, 0x30)?;
    let mut body = Vec::with_capacity(outer.value.len());
    for field in read_all(outer.value)? {
        if field.tag != 0xa3 {
            body.extend_from_slice(field.raw);
            continue;
        }
        let list = read_one(field.value, 0x30)?;
        let mut kept = Vec::new();
        for ext in read_all(list.value)? {
            if ext.tag != 0x30 {
                return Err("an Extension SEQUENCE".into());
            }
            let (id, _) = read_tlv(ext.value)?;
            if id.tag != 0x06 {
                return Err("an extension OID".into());
            }
            if id.value != oid.as_bytes() {
                kept.extend_from_slice(ext.raw);
            }
        }
        if !kept.is_empty() {
            body.extend_from_slice(&encode_tlv(
                field.any.tag(),
                &encode_tlv(list.any.tag(), &kept)?,
            )?);
        }
    }
    encode_tlv(outer.any.tag(), &body)
}

/// An anchored regular expression over a SAN: it must match the whole identity.
///
/// Anchoring by wrapping alone (`^(?:pattern)$`) can be escaped: `https://good/.*)|(.*` wraps
/// into `^(?:https://good/.*)|(.*)$`, a valid regex whose second branch matches any string. So
/// the pattern must first parse as a regex on its own (balanced groups, nothing left over), and a
/// match must also span the whole string.
#[derive(Debug, Clone)]
pub struct SanRegex {
    pattern: String,
    regex: regex::Regex,
}

/// Longest identity pattern accepted (a SAN is a URI or an e-mail address).
pub const MAX_SAN_PATTERN_BYTES: usize = 4096;

impl SanRegex {
    /// Checks that `pattern` is a regex by itself, then compiles it anchored at both ends
    /// (`^(?:pattern)$`).
    ///
    /// # Errors
    /// [`CertError::BadPattern`] for a pattern that is too long, is not a valid regex on its own
    /// (an unbalanced group such as `a)|(b`), or does not compile.
    pub fn new(pattern: &str) -> Result<SanRegex, CertError> {
        let bad = |detail: String| CertError::BadPattern {
            pattern: pattern.to_string(),
            detail,
        };
        if pattern.len() > MAX_SAN_PATTERN_BYTES {
            return Err(bad(format!(
                "expected at most {MAX_SAN_PATTERN_BYTES} bytes, found {}",
                pattern.len()
            )));
        }
        regex_syntax::ast::parse::Parser::new()
            .parse(pattern)
            .map_err(|e| {
                bad(format!(
                    "expected a regular expression that is valid on its own (before anchoring), found: {}",
                    e.kind()
                ))
            })?;
        let regex =
            regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| bad(e.to_string()))?;
        Ok(SanRegex {
            pattern: pattern.to_string(),
            regex,
        })
    }

    /// The pattern as given (without the added anchors).
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// True when the whole of `s` matches: the anchored regex matches, and its match runs from the
    /// first byte to the last.
    pub fn is_match(&self, s: &str) -> bool {
        self.regex
            .find(s)
            .is_some_and(|m| m.start() == 0 && m.end() == s.len())
    }
}

/// How a policy names the expected SAN.
#[derive(Debug, Clone)]
pub enum IdentityMatcher {
    /// The SAN must equal this string exactly.
    Exact(String),
    /// The SAN must match this anchored regular expression.
    Regex(SanRegex),
}

impl fmt::Display for IdentityMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityMatcher::Exact(s) => write!(f, "{s:?}"),
            IdentityMatcher::Regex(r) => write!(f, "a match of /^(?:{})$/", r.as_str()),
        }
    }
}

/// Checks the certificate's OIDC issuer (exactly `issuer`) and SAN (per `san`).
pub fn identity_matches(
    cert: &VerifiedCert,
    issuer: &str,
    san: &IdentityMatcher,
) -> Result<(), CertError> {
    match cert.oidc_issuer() {
        Some(found) if found == issuer => {}
        found => {
            return Err(CertError::IdentityMismatch {
                field: "OIDC issuer",
                expected: format!("{issuer:?}"),
                found: found
                    .map_or_else(|| "no OIDC issuer extension".into(), |s| format!("{s:?}")),
            });
        }
    }
    let Some(found) = cert.subject_alternative_name() else {
        return Err(CertError::IdentityMismatch {
            field: "SAN",
            expected: san.to_string(),
            found: "no URI, e-mail or OtherName SAN".into(),
        });
    };
    let ok = match san {
        IdentityMatcher::Exact(s) => found.value() == s,
        IdentityMatcher::Regex(r) => r.is_match(found.value()),
    };
    if ok {
        Ok(())
    } else {
        Err(CertError::IdentityMismatch {
            field: "SAN",
            expected: san.to_string(),
            found: found.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_reader_rejects_truncated_and_indefinite_input() {
        assert!(read_tlv(&[0x30]).is_err());
        assert!(read_tlv(&[0x30, 0x80, 0, 0]).is_err());
        assert!(read_tlv(&[0x30, 0x05, 1, 2]).is_err());
        let (t, rest) = read_tlv(&[0x04, 0x01, 0xaa, 0xff]).expect("one element");
        assert_eq!((t.tag, t.value, rest), (0x04, &[0xaa][..], &[0xff][..]));
    }

    #[test]
    fn encode_tlv_uses_long_lengths_when_needed() {
        for (len, header) in [
            (300_usize, &[0x30, 0x82, 0x01, 0x2c][..]),
            (0xffff, &[0x30, 0x82, 0xff, 0xff]),
            (0x10000, &[0x30, 0x83, 0x01, 0x00, 0x00]),
        ] {
            let long = vec![0u8; len];
            let enc = encode_tlv(Tag::Sequence, &long).expect("encodes");
            assert_eq!(&enc[..header.len()], header);
            let back = read_one(&enc, 0x30).expect("round trip");
            assert_eq!(back.value.len(), len);
        }
    }

    #[test]
    fn tlv_reader_rejects_trailing_bytes_and_high_tags() {
        assert!(read_one(&[0x04, 0x01, 0xaa, 0x00], 0x04).is_err());
        assert!(read_one(&[0x04, 0x01, 0xaa], 0x02).is_err());
        assert!(read_tlv(&[0x1f, 0x81, 0x00, 0x00]).is_err());
        assert!(read_tlv(&[0x9f, 0x1f, 0x00]).is_err());
    }

    #[test]
    fn san_regex_is_anchored_at_both_ends() {
        let r = SanRegex::new("https://github.com/org/.*").expect("valid");
        assert!(r.is_match("https://github.com/org/repo"));
        assert!(!r.is_match("evil https://github.com/org/repo"));
        let r = SanRegex::new("a|b").expect("valid");
        assert!(r.is_match("a"));
        assert!(!r.is_match("ab"), "alternation must not escape the anchors");
        assert!(!r.is_match("xb"));
        assert!(SanRegex::new("(").is_err());
    }

    #[test]
    fn san_regex_rejects_patterns_that_break_out_of_the_anchors() {
        for escape in [
            "https://github.com/org/.*)|(.*",
            "a)|(b",
            ")|(",
            "x)|(?:.*",
            "a)(b",
            "a)",
            "(a",
            "a\\",
        ] {
            let e = SanRegex::new(escape).expect_err(escape);
            assert!(
                matches!(&e, CertError::BadPattern { pattern, .. } if pattern == escape),
                "{escape}: {e}"
            );
            assert!(e.to_string().contains("valid on its own"), "{e}");
        }
        // Balanced groups and alternations stay usable, and stay anchored.
        let r = SanRegex::new("(https://a/.*)|(https://b/.*)").expect("valid");
        assert!(r.is_match("https://b/x"));
        assert!(!r.is_match("evil https://b/x"));
        assert!(!r.is_match("https://a/x\nevil"));
        let r = SanRegex::new("(?m)https://a/.*").expect("valid");
        assert!(
            !r.is_match("https://a/x\nevil"),
            "multi-line mode stays inside the group"
        );
        assert!(SanRegex::new(&"a".repeat(MAX_SAN_PATTERN_BYTES + 1)).is_err());
    }

    #[test]
    fn times_from_input_format_and_convert_without_panicking() {
        assert_eq!(unix_seconds(0), Some(UNIX_EPOCH));
        assert!(unix_seconds(-1).is_none());
        assert!(unix_seconds(i64::MAX).is_none());
        let last = i64::try_from(MAX_UNIX_SECONDS).expect("fits");
        let t = unix_seconds(last).expect("9999-12-31T23:59:59Z");
        assert_eq!(fmt_time(t), "9999-12-31T23:59:59Z");
        assert!(unix_seconds(last + 1).is_none());
        assert!(unix_millis(u64::MAX).is_none());
        assert_eq!(
            unix_millis(1_500),
            UNIX_EPOCH.checked_add(Duration::from_millis(1_500))
        );
        // Out-of-range times reach fmt_time only from arithmetic on trusted values, but still
        // must not panic (humantime cannot write them).
        if let Some(far) = UNIX_EPOCH.checked_add(Duration::from_secs(u64::MAX >> 2)) {
            assert!(
                fmt_time(far).contains("after 9999-12-31T23:59:59Z"),
                "{}",
                fmt_time(far)
            );
        }
        if let Some(before) = UNIX_EPOCH.checked_sub(Duration::from_secs(10)) {
            assert!(
                fmt_time(before).starts_with("10s before"),
                "{}",
                fmt_time(before)
            );
        }
    }

    #[test]
    fn tlv_reader_rejects_non_minimal_lengths() {
        // 0x81 0x05: a long form for a length below 128; 0x82 0x00 0x80: a leading zero byte.
        assert!(read_tlv(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]).is_err());
        let mut long = vec![0x04, 0x82, 0x00, 0x80];
        long.extend([0u8; 0x80]);
        assert!(read_tlv(&long).is_err());
        let mut ok = vec![0x04, 0x81, 0x80];
        ok.extend([0u8; 0x80]);
        assert_eq!(read_tlv(&ok).expect("minimal").0.value.len(), 0x80);
        // A 4-byte length of nearly 4 GiB is a length, not an allocation or an overflow.
        assert!(read_tlv(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 0]).is_err());
    }

    #[test]
    fn malformed_leaf_is_an_error_not_a_panic() {
        let root = TrustedRoot::production();
        for bad in [&b""[..], b"\x30\x00", b"\x30\x82\xff\xff"] {
            let e = verify_chain(bad, &[], &root, SystemTime::now()).expect_err("rejected");
            assert!(matches!(e, CertError::Malformed { .. }), "{e}");
        }
    }
}
