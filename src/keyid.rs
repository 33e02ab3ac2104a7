//! The identity of a public key, shared by the stages that sign ([`crate::sign`]) and the bundle
//! format that names it ([`crate::bundle`]), so neither has to import the other for it.

use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// A key id that is not `sha256:` followed by 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid key id: expected \"sha256:\" followed by 64 lowercase hex digits, found {found:?}"
)]
pub struct KeyIdError {
    /// What was found (the first 80 characters).
    pub found: String,
}

/// The identity of a public key: SHA-256 over its SubjectPublicKeyInfo DER.
///
/// Displayed and parsed as `sha256:<64 lowercase hex digits>`; that string is the `keyid` of our DSSE
/// signatures and the `publicKey.hint` of our bundles.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 32]);

impl KeyId {
    /// The key id of a SubjectPublicKeyInfo DER encoding.
    #[must_use]
    pub fn of_spki_der(spki_der: &[u8]) -> Self {
        Self(Sha256::digest(spki_der).into())
    }

    /// The raw 32-byte digest.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = KeyIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || KeyIdError {
            found: s.chars().take(80).collect(),
        };
        let hex_part = s.strip_prefix("sha256:").ok_or_else(invalid)?;
        if hex_part.len() != 64
            || !hex_part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out).map_err(|_| invalid())?;
        Ok(Self(out))
    }
}
