//! Entry points for the fuzz targets (`fuzz/`, `tests/fuzz_parsers.rs`) into parsers that are not
//! otherwise public. Not part of the supported API: they exist so the targets can reach every
//! parser that reads untrusted bytes, and may change at any time.

use crate::trust::TrustedRoot;
use crate::verify::cert::{self, OID_SCT_LIST, ParsedCert};
use crate::verify::pki::HashAlg;
use std::time::SystemTime;

/// Parses `der` as a certificate and runs every check and decoder the verifier applies to a leaf
/// certificate from a bundle: key, validity, Fulcio profile, SAN, OIDC issuer, the embedded SCT
/// list and each SCT against `root`, and the chain against `root` at the leaf's notBefore.
/// Returns whether the certificate parsed.
pub fn certificate(der: &[u8], root: &TrustedRoot) -> bool {
    let Ok(leaf) = ParsedCert::parse(der, "fuzzed certificate") else {
        return false;
    };
    let _ = leaf.subject();
    let _ = leaf.key();
    let _ = leaf.is_ca();
    let _ = leaf.ext_key_usage();
    let not_before = leaf.not_before();
    let _ = leaf.check_valid_at(not_before);
    let _ = leaf.check_valid_at(leaf.not_after());
    let _ = leaf.check_valid_at(SystemTime::UNIX_EPOCH);
    let _ = cert::check_leaf_profile(&leaf);
    let _ = cert::leaf_san(&leaf);
    let _ = cert::leaf_oidc_issuer(&leaf);
    let extensions = leaf.cert.tbs_certificate().extensions();
    for ext in extensions.map_or(&[][..], |e| e.as_slice()) {
        if ext.extn_id == OID_SCT_LIST {
            sct_list(ext.extn_value.as_bytes(), der, root);
        }
    }
    let _ = cert::verify_chain(der, &[], root, not_before);
    true
}

/// Parses `extn_value` as the value of an embedded SCT list extension and checks each SCT against
/// `root` as an SCT of the certificate `leaf_der` (whose TBSCertificate is re-encoded without the
/// list, as for the real check). Returns how many SCTs parsed.
pub fn sct_list(extn_value: &[u8], leaf_der: &[u8], root: &TrustedRoot) -> usize {
    let Ok(scts) = cert::parse_sct_list(extn_value) else {
        return 0;
    };
    let tbs = cert::read_one(leaf_der, 0x30)
        .ok()
        .and_then(|outer| cert::read_tlv(outer.value).ok())
        .and_then(|(tbs, _)| cert::tbs_without_extension(tbs.raw, OID_SCT_LIST).ok())
        .unwrap_or_default();
    let issuer_key_hash = HashAlg::Sha256.digest(leaf_der);
    for sct in &scts {
        let _ = cert::verify_sct(sct, &issuer_key_hash, &tbs, root);
    }
    scts.len()
}
