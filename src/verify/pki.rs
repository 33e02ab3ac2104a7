//! Public-key signature verification for every key type sigstore trust material uses.
//!
//! Keys come as DER SubjectPublicKeyInfo (trusted roots, certificates, bundles). Supported:
//! ECDSA P-256 and P-384 (ASN.1 DER signatures, over a SHA-256/384/512 digest chosen by the
//! caller), Ed25519 (pure, over the message), RSA PKCS#1 v1.5 (SHA-256/384/512).

use sha2::{Digest, Sha256, Sha384, Sha512};
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

mod fixed;

/// A hash algorithm a signature is made over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// The digest of `msg`.
    pub fn digest(self, msg: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => Sha256::digest(msg).to_vec(),
            HashAlg::Sha384 => Sha384::digest(msg).to_vec(),
            HashAlg::Sha512 => Sha512::digest(msg).to_vec(),
        }
    }

    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }
}

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HashAlg::Sha256 => "SHA-256",
            HashAlg::Sha384 => "SHA-384",
            HashAlg::Sha512 => "SHA-512",
        })
    }
}

/// Why a key could not be used or a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// The key is not a supported SubjectPublicKeyInfo.
    #[error("unsupported or malformed public key: {0}")]
    Key(String),
    /// The signature does not verify.
    #[error("signature does not verify with the {0} key")]
    BadSignature(&'static str),
    /// The signature is not well-formed for the key type.
    #[error("malformed {0} signature")]
    MalformedSignature(&'static str),
    /// The key type cannot verify over a precomputed digest (Ed25519).
    #[error("a {0} key cannot verify a signature over a precomputed digest")]
    PrehashUnsupported(&'static str),
}

/// A public key that verifies signatures.
///
/// Clones share one [`EcdsaKey`], so a key kept for many verifications (a trusted root's, see
/// [`VerifyingKey::from_trusted_spki_der`], or a policy signer's) builds its fast-path table once.
#[derive(Clone)]
pub enum VerifyingKey {
    /// ECDSA over NIST P-256.
    P256(Arc<EcdsaKey<p256::ecdsa::VerifyingKey, fixed::p256_table::Table>>),
    /// ECDSA over NIST P-384.
    P384(Arc<EcdsaKey<p384::ecdsa::VerifyingKey, fixed::p384_table::Table>>),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// RSA (PKCS#1 v1.5 signatures).
    Rsa(Box<rsa::PublicKey>),
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", self.kind())
    }
}

impl VerifyingKey {
    /// Parses a DER SubjectPublicKeyInfo of any supported type.
    pub fn from_spki_der(der: &[u8]) -> Result<VerifyingKey, PkiError> {
        use p256::pkcs8::DecodePublicKey;
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(VerifyingKey::P256(Arc::new(EcdsaKey::new(k))));
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(VerifyingKey::P384(Arc::new(EcdsaKey::new(k))));
        }
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            return Ok(VerifyingKey::Ed25519(k));
        }
        if let Ok(k) = rsa::PublicKey::from_public_key_der(der) {
            return Ok(VerifyingKey::Rsa(Box::new(k)));
        }
        Err(PkiError::Key(format!(
            "expected a P-256, P-384, Ed25519 or RSA SubjectPublicKeyInfo, found {} bytes of something else",
            der.len()
        )))
    }

    /// [`VerifyingKey::from_spki_der`] for a key of trust material (a trusted root's logs, CAs and
    /// TSAs): parsed once per process and shared, so that its verifications take the fixed-key
    /// fast path. The memo is keyed by the exact DER and holds at most [`MAX_TRUSTED_KEYS`]
    /// keys (past that, keys are parsed per call, as untrusted keys always are); callers pass
    /// only trusted bytes, so nothing a bundle carries can fill it.
    pub fn from_trusted_spki_der(der: &[u8]) -> Result<VerifyingKey, PkiError> {
        if let Some(key) = VerifyingKey::remembered(der) {
            return Ok(key);
        }
        let key = VerifyingKey::from_spki_der(der)?;
        VerifyingKey::remember_trusted(der, &key);
        Ok(key)
    }

    /// The shared key [`VerifyingKey::from_trusted_spki_der`] or
    /// [`VerifyingKey::remember_trusted`] keeps for this DER, if any. Being remembered confers no
    /// trust: the caller still decides whether the key may sign what it signed.
    pub fn remembered(der: &[u8]) -> Option<VerifyingKey> {
        // A poisoned lock only means another thread panicked while holding it: parse again.
        trusted_memo().read().ok().and_then(|m| m.get(der).cloned())
    }

    /// Keeps `key` (parsed from `der`) for later verifications, once the caller has established
    /// that it is trust material: e.g. the signer of a timestamp whose certificate chained to a
    /// trusted TSA, which the token embeds rather than the trusted root.
    pub fn remember_trusted(der: &[u8], key: &VerifyingKey) {
        if let Ok(mut m) = trusted_memo().write() {
            if m.len() < MAX_TRUSTED_KEYS {
                m.entry(der.to_vec()).or_insert_with(|| key.clone());
            }
        }
    }

    /// A short name of the key type.
    pub fn kind(&self) -> &'static str {
        match self {
            VerifyingKey::P256(_) => "ECDSA P-256",
            VerifyingKey::P384(_) => "ECDSA P-384",
            VerifyingKey::Ed25519(_) => "Ed25519",
            VerifyingKey::Rsa(_) => "RSA",
        }
    }

    /// The hash algorithm this key type conventionally signs with (P-384: SHA-384, others SHA-256).
    pub fn default_hash(&self) -> HashAlg {
        match self {
            VerifyingKey::P384(_) => HashAlg::Sha384,
            _ => HashAlg::Sha256,
        }
    }

    /// Verifies `sig` over `msg`, hashing with `hash` (ignored for Ed25519, which signs the message).
    pub fn verify(&self, msg: &[u8], sig: &[u8], hash: HashAlg) -> Result<(), PkiError> {
        match self {
            VerifyingKey::Ed25519(k) => {
                let sig = ed25519_dalek::Signature::from_slice(sig)
                    .map_err(|_| PkiError::MalformedSignature("Ed25519"))?;
                k.verify_strict(msg, &sig)
                    .map_err(|_| PkiError::BadSignature("Ed25519"))
            }
            _ => self.verify_prehashed(&hash.digest(msg), sig, hash),
        }
    }

    /// Verifies `sig` over a precomputed `digest` made with `hash`.
    pub fn verify_prehashed(
        &self,
        digest: &[u8],
        sig: &[u8],
        hash: HashAlg,
    ) -> Result<(), PkiError> {
        if digest.len() != hash.output_len() {
            return Err(PkiError::MalformedSignature("digest length"));
        }
        match self {
            VerifyingKey::P256(k) => fixed::p256_table::verify_der(k, digest, sig, "ECDSA P-256"),
            VerifyingKey::P384(k) => fixed::p384_table::verify_der(k, digest, sig, "ECDSA P-384"),
            VerifyingKey::Ed25519(_) => Err(PkiError::PrehashUnsupported("Ed25519")),
            VerifyingKey::Rsa(k) => {
                let scheme = match hash {
                    HashAlg::Sha256 => rsa::pkcs1v15::Pkcs1v15Sign::new::<Sha256>(),
                    HashAlg::Sha384 => rsa::pkcs1v15::Pkcs1v15Sign::new::<Sha384>(),
                    HashAlg::Sha512 => rsa::pkcs1v15::Pkcs1v15Sign::new::<Sha512>(),
                };
                k.verify(scheme, digest, sig)
                    .map_err(|_| PkiError::BadSignature("RSA"))
            }
        }
    }
}

/// Most keys [`VerifyingKey::from_trusted_spki_der`] keeps: a trusted root names a handful.
pub const MAX_TRUSTED_KEYS: usize = 64;

type KeyMemo = RwLock<std::collections::HashMap<Vec<u8>, VerifyingKey>>;

fn trusted_memo() -> &'static KeyMemo {
    static TRUSTED: OnceLock<KeyMemo> = OnceLock::new();
    TRUSTED.get_or_init(Default::default)
}

/// Verifications with one [`EcdsaKey`] before it builds its table ([`fixed`]): a table costs
/// about 25 (P-256) or 30 (P-384) verifications and makes each later one 4-5x faster, so a key
/// pays for it only once it has shown it is used that often (an `audit`, a policy signer's key,
/// a verifier's log keys); a `verify` of a few bundles never builds one.
pub const TABLE_AFTER_USES: u32 = 32;

static TABLE_AFTER: AtomicU32 = AtomicU32::new(TABLE_AFTER_USES);

/// Sets after how many verifications a key builds its table: 0 for every key at once, `u32::MAX`
/// for never. For tests that compare the two paths on the same inputs, and for benchmarks; the
/// answers are the same either way, only the time differs.
#[doc(hidden)]
pub fn set_table_after_uses(uses: u32) {
    TABLE_AFTER.store(uses, Ordering::Relaxed);
}

/// An ECDSA public key and, once it has verified [`TABLE_AFTER_USES`] signatures, its table of
/// precomputed multiples ([`fixed`]).
pub struct EcdsaKey<K, T> {
    key: K,
    uses: AtomicU32,
    table: OnceLock<T>,
}

impl<K, T> EcdsaKey<K, T> {
    fn new(key: K) -> EcdsaKey<K, T> {
        EcdsaKey {
            key,
            uses: AtomicU32::new(0),
            table: OnceLock::new(),
        }
    }

    /// The table, built now if this key has been used enough; `None` while it has not.
    fn table(&self, build: impl FnOnce(&K) -> T) -> Option<&T> {
        if let Some(t) = self.table.get() {
            return Some(t);
        }
        let used = self.uses.fetch_add(1, Ordering::Relaxed);
        (used >= TABLE_AFTER.load(Ordering::Relaxed))
            .then(|| self.table.get_or_init(|| build(&self.key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p256_signature_verifies_and_a_flipped_bit_does_not() {
        let key = crate::sign::key::SigningKey::generate().expect("key");
        let sig = key.sign(b"message");
        let vk = VerifyingKey::from_spki_der(key.public_key().to_spki_der()).expect("spki");
        assert_eq!(vk.kind(), "ECDSA P-256");
        vk.verify(b"message", &sig, HashAlg::Sha256)
            .expect("verifies");
        assert!(vk.verify(b"messagE", &sig, HashAlg::Sha256).is_err());
        assert!(vk.verify(b"message", &sig[1..], HashAlg::Sha256).is_err());
    }

    /// The same answers before and after the key builds its table, and a trusted key parsed
    /// twice is one shared key.
    #[test]
    fn a_key_used_many_times_answers_as_before() {
        let key = crate::sign::key::SigningKey::generate().expect("key");
        let public = key.public_key();
        let vk = VerifyingKey::from_trusted_spki_der(public.to_spki_der()).expect("spki");
        let again = VerifyingKey::from_trusted_spki_der(public.to_spki_der()).expect("spki");
        let (VerifyingKey::P256(a), VerifyingKey::P256(b)) = (&vk, &again) else {
            panic!("P-256 keys");
        };
        assert!(Arc::ptr_eq(a, b), "one key per DER");
        for i in 0..(TABLE_AFTER_USES + 3) {
            let msg = format!("message {i}");
            let sig = key.sign(msg.as_bytes());
            vk.verify(msg.as_bytes(), &sig, HashAlg::Sha256)
                .expect("verifies");
            assert!(vk.verify(b"another", &sig, HashAlg::Sha256).is_err());
        }
        assert!(a.table.get().is_some(), "the table was built");
    }

    #[test]
    fn rejects_keys_it_does_not_know() {
        assert!(VerifyingKey::from_spki_der(b"\x30\x03\x02\x01\x01").is_err());
    }
}
