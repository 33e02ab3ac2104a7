//! Local ECDSA P-256 keys: generation, encrypted PKCS#8 PEM, signatures.
//!
//! A local key pair is two PEM files: the private key as PKCS#8 (`ENCRYPTED PRIVATE KEY`, PBES2 with
//! scrypt and AES-256-CBC, when a password is given; `PRIVATE KEY` otherwise) and the public key as
//! SubjectPublicKeyInfo (`PUBLIC KEY`). These are the formats `openssl`, cosign (`import-key-pair`)
//! and every sigstore client read. Signatures are ECDSA P-256 over SHA-256, ASN.1 DER encoded, as
//! sigstore produces them. A key is named by its [`KeyId`], the SHA-256 of its SubjectPublicKeyInfo
//! DER, which is also the `publicKey.hint` of a key-signed bundle.
//!
//! Secrets never appear in `Debug` output or in error messages: a [`SigningKey`] prints only its key
//! id, and [`KeyError`] never carries key material or passwords.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::elliptic_curve::Generate as _;
use p256::elliptic_curve::zeroize::Zeroizing;
use pkcs8::der::Decode as _;
use pkcs8::der::pem::{self, LineEnding};
use pkcs8::pkcs5::{self, pbes2, scrypt};
use pkcs8::{
    DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _, EncryptedPrivateKeyInfoRef,
    ObjectIdentifier, PrivateKeyInfoRef, SubjectPublicKeyInfoRef,
};

/// Re-exported so that callers can name what [`SigningKey::to_pkcs8_pem`] returns.
pub use p256::elliptic_curve::zeroize;

/// PEM label of an unencrypted PKCS#8 private key.
pub const PRIVATE_KEY_PEM_LABEL: &str = "PRIVATE KEY";
/// PEM label of an encrypted PKCS#8 private key.
pub const ENCRYPTED_PRIVATE_KEY_PEM_LABEL: &str = "ENCRYPTED PRIVATE KEY";
/// PEM label of a SubjectPublicKeyInfo public key.
pub const PUBLIC_KEY_PEM_LABEL: &str = "PUBLIC KEY";
/// PEM label of cosign's own encrypted key format (not read yet; reported as such).
const COSIGN_PRIVATE_KEY_PEM_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";

/// scrypt cost used when encrypting a private key: log2(N).
///
/// N = 2^14, r = 8 needs 16 MiB, inside OpenSSL 3's default 32 MiB scrypt memory limit, so
/// `openssl pkey` can read our keys. `p` = 2 doubles the work (to ~0.1 s per derivation in a debug build) without raising that memory.
pub const SCRYPT_LOG_N: u8 = 14;
/// scrypt block size `r` used when encrypting a private key.
pub const SCRYPT_R: u32 = 8;
/// scrypt parallelisation `p` used when encrypting a private key.
pub const SCRYPT_P: u32 = 2;

/// Largest scrypt memory (128 * r * N bytes) accepted when *reading* a key, so that a crafted key
/// file cannot make us allocate gigabytes.
const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;
/// Largest scrypt `p` accepted when reading a key.
const MAX_SCRYPT_P: u16 = 64;
/// Largest PBKDF2 iteration count accepted when reading a key.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// `id-ecPublicKey` (RFC 5480).
const EC_PUBLIC_KEY_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1` / `prime256v1` / NIST P-256 (RFC 5480).
const P256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Errors from reading, writing and using keys. Messages say what was expected and what was found,
/// and never contain key material or passwords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The input is not a PEM document.
    #[error("expected a PEM document (-----BEGIN {expected}-----), found {found}")]
    NotPem {
        /// The PEM label that was expected.
        expected: &'static str,
        /// What was found instead (a description, never the content).
        found: String,
    },
    /// The input is PEM, but of another kind than expected.
    #[error("expected a PEM \"{expected}\", found a PEM \"{found}\"")]
    UnexpectedPemLabel {
        /// The PEM label(s) that were expected.
        expected: &'static str,
        /// The PEM label that was found.
        found: String,
    },
    /// The private key is encrypted, and no password was given.
    #[error("the private key is encrypted: expected a password, found none")]
    PasswordRequired,
    /// The password does not decrypt the private key.
    #[error("wrong password: the encrypted private key could not be decrypted with it")]
    WrongPassword,
    /// The private key is encrypted with a scheme or parameters this tool does not read.
    #[error("unsupported private key encryption: expected {expected}, found {found}")]
    UnsupportedEncryption {
        /// What is supported.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// The key is a well-formed key, but not an ECDSA P-256 key.
    #[error("expected an ECDSA P-256 key, found {found}")]
    NotP256 {
        /// The kind of key that was found.
        found: String,
    },
    /// The key's DER structure is malformed.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being read, e.g. "PKCS#8 private key".
        what: &'static str,
        /// What was wrong with it (a parser's message; never the content).
        reason: String,
    },
    /// Encoding or encrypting a key failed.
    #[error("cannot encode the {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Rng(String),
    /// A signature is not a well-formed ASN.1 DER ECDSA signature.
    #[error(
        "malformed signature: expected an ASN.1 DER ECDSA P-256 signature, found {len} bytes that are not one"
    )]
    MalformedSignature {
        /// Length of the rejected signature.
        len: usize,
    },
    /// A well-formed signature does not verify with the key.
    #[error(
        "signature verification failed: the signature does not match the message and key {key_id}"
    )]
    BadSignature {
        /// The key the signature was checked against.
        key_id: KeyId,
    },
    /// A key pair basename is empty or not a plain file name.
    #[error(
        "invalid key basename: expected a plain file name without path separators, found {found:?}"
    )]
    InvalidBasename {
        /// The rejected basename.
        found: String,
    },
    /// A key file to be written exists already; it is never overwritten.
    #[error("refusing to overwrite {}: the file exists", path.display())]
    FileExists {
        /// The existing file.
        path: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "write".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

pub use crate::keyid::{KeyId, KeyIdError};

/// An ECDSA P-256 private key.
///
/// `Debug` shows only the key id. The secret scalar is zeroized on drop (by `p256`).
#[derive(Clone)]
pub struct SigningKey {
    inner: p256::ecdsa::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.public_key().key_id())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a new random key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`KeyError::Rng`] if the system random number generator fails.
    pub fn generate() -> Result<Self, KeyError> {
        let inner =
            p256::ecdsa::SigningKey::try_generate().map_err(|e| KeyError::Rng(e.to_string()))?;
        Ok(Self { inner })
    }

    /// The matching public key.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_verifying_key(*self.inner.verifying_key())
    }

    /// Signs `msg` (hashed with SHA-256) and returns the ASN.1 DER ECDSA signature.
    ///
    /// Signatures are deterministic (RFC 6979).
    #[must_use]
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = self.inner.sign(msg);
        sig.to_der().as_bytes().to_vec()
    }

    /// Encodes the key as PKCS#8 PEM: `ENCRYPTED PRIVATE KEY` (PBES2: scrypt with [`SCRYPT_LOG_N`],
    /// [`SCRYPT_R`], [`SCRYPT_P`], a random 16-byte salt, and AES-256-CBC) when a password is given,
    /// unencrypted `PRIVATE KEY` when `None`.
    ///
    /// # Errors
    /// [`KeyError::Rng`] if no salt can be drawn, [`KeyError::Encode`] if encoding fails.
    pub fn to_pkcs8_pem(&self, password: Option<&[u8]>) -> Result<Zeroizing<String>, KeyError> {
        let encode_err = |reason: String| KeyError::Encode {
            what: "private key",
            reason,
        };
        let der = self
            .inner
            .to_pkcs8_der()
            .map_err(|e| encode_err(e.to_string()))?;
        let Some(password) = password else {
            return der
                .to_pem(PRIVATE_KEY_PEM_LABEL, LineEnding::LF)
                .map_err(|e| encode_err(e.to_string()));
        };
        let salt = <[u8; 16]>::try_generate().map_err(|e| KeyError::Rng(e.to_string()))?;
        let iv = <[u8; 16]>::try_generate().map_err(|e| KeyError::Rng(e.to_string()))?;
        let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P)
            .map_err(|e| encode_err(format!("scrypt parameters: {e}")))?;
        let pbes2 = pbes2::Parameters::generate_scrypt_aes256cbc(params, &salt, iv)
            .map_err(|e| encode_err(e.to_string()))?;
        let info =
            PrivateKeyInfoRef::from_der(der.as_bytes()).map_err(|e| encode_err(e.to_string()))?;
        let encrypted = info
            .encrypt_with_params(pbes2, password)
            .map_err(|e| encode_err(e.to_string()))?;
        encrypted
            .to_pem(ENCRYPTED_PRIVATE_KEY_PEM_LABEL, LineEnding::LF)
            .map_err(|e| encode_err(e.to_string()))
    }

    /// Reads a PKCS#8 PEM private key, decrypting it with `password` if it is encrypted.
    ///
    /// A password given for an unencrypted key is ignored.
    ///
    /// # Errors
    /// [`KeyError::NotPem`] if `pem` is not PEM; [`KeyError::UnexpectedPemLabel`] if it is another
    /// kind of PEM (e.g. a public key or a SEC1 `EC PRIVATE KEY`); [`KeyError::PasswordRequired`] if
    /// it is encrypted and `password` is `None`; [`KeyError::WrongPassword`] if the password does
    /// not decrypt it; [`KeyError::UnsupportedEncryption`] for unsupported or excessive encryption
    /// parameters; [`KeyError::NotP256`] for a key of another algorithm or curve;
    /// [`KeyError::Malformed`] for broken DER.
    pub fn from_pkcs8_pem(pem: &[u8], password: Option<&[u8]>) -> Result<Self, KeyError> {
        const EXPECTED: &str = "PRIVATE KEY\" or \"ENCRYPTED PRIVATE KEY";
        let (label, der) = decode_pem(pem, EXPECTED)?;
        let der = Zeroizing::new(der);
        match label.as_str() {
            PRIVATE_KEY_PEM_LABEL => Self::from_pkcs8_der(&der),
            ENCRYPTED_PRIVATE_KEY_PEM_LABEL => {
                let password = password.ok_or(KeyError::PasswordRequired)?;
                let info = EncryptedPrivateKeyInfoRef::from_der(&der).map_err(|e| {
                    KeyError::Malformed {
                        what: "encrypted PKCS#8 private key",
                        reason: e.to_string(),
                    }
                })?;
                check_encryption_parameters(&info.encryption_algorithm)?;
                let plain = Zeroizing::new(
                    info.encryption_algorithm
                        .decrypt(password, info.encrypted_data.as_bytes())
                        .map_err(decrypt_error)?,
                );
                // With AES-CBC a wrong password passes the padding check about once in 256 tries,
                // leaving garbage that is not DER: that is a wrong password too, not a broken file.
                if PrivateKeyInfoRef::from_der(&plain).is_err() {
                    return Err(KeyError::WrongPassword);
                }
                Self::from_pkcs8_der(&plain)
            }
            COSIGN_PRIVATE_KEY_PEM_LABEL => Err(KeyError::UnsupportedEncryption {
                expected: "a PKCS#8 \"ENCRYPTED PRIVATE KEY\" (convert a cosign key with `openssl` or re-create it)",
                found: "cosign's \"ENCRYPTED SIGSTORE PRIVATE KEY\" format".into(),
            }),
            _ => Err(KeyError::UnexpectedPemLabel {
                expected: EXPECTED,
                found: label,
            }),
        }
    }

    /// Reads an unencrypted PKCS#8 DER private key, checking that it is a P-256 key.
    fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let malformed = |reason: String| KeyError::Malformed {
            what: "PKCS#8 private key",
            reason,
        };
        let info = PrivateKeyInfoRef::from_der(der).map_err(|e| malformed(e.to_string()))?;
        check_p256_algorithm(info.algorithm.oid, info.algorithm.parameters_oid().ok())?;
        // The ECPrivateKey read here rather than by `SigningKey::from_pkcs8_der`, which computes
        // the public point twice (once to check the embedded one, once for the verifying key).
        let ec = <sec1::EcPrivateKey<'_> as der::Decode>::from_der(info.private_key.as_bytes())
            .map_err(|e| malformed(format!("ECPrivateKey: {e}")))?;
        if let Some(params) = ec.parameters {
            let named = params.named_curve();
            if named != Some(<p256::NistP256 as pkcs8::AssociatedOid>::OID) {
                return Err(malformed(format!(
                    "ECPrivateKey parameters: expected the P-256 curve ({}), found {}",
                    <p256::NistP256 as pkcs8::AssociatedOid>::OID,
                    named.map_or_else(|| "no named curve".to_string(), |o| o.to_string())
                )));
            }
        }
        let inner = p256::ecdsa::SigningKey::from_slice(ec.private_key).map_err(|_| {
            malformed(format!(
                "expected a P-256 private scalar of 32 bytes in 1..n-1, found {} bytes outside it",
                ec.private_key.len()
            ))
        })?;
        if let Some(embedded) = ec.public_key {
            let derived = inner.verifying_key().to_sec1_point(false);
            let compressed = inner.verifying_key().to_sec1_point(true);
            if embedded != derived.as_bytes() && embedded != compressed.as_bytes() {
                return Err(malformed(format!(
                    "expected the embedded public key to be the private key's own, found another \
                     point ({} bytes) (the file is corrupt or was assembled from two keys)",
                    embedded.len()
                )));
            }
        }
        Ok(Self { inner })
    }
}

/// An ECDSA P-256 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    inner: p256::ecdsa::VerifyingKey,
    spki_der: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_id", &self.key_id())
            .finish()
    }
}

impl PublicKey {
    fn from_verifying_key(inner: p256::ecdsa::VerifyingKey) -> Self {
        let spki_der = inner
            .to_public_key_der()
            .expect("invariant: a valid P-256 point always encodes as SubjectPublicKeyInfo")
            .into_vec();
        Self { inner, spki_der }
    }

    /// Reads a SubjectPublicKeyInfo PEM (`PUBLIC KEY`) holding a P-256 key.
    ///
    /// # Errors
    /// [`KeyError::NotPem`], [`KeyError::UnexpectedPemLabel`], [`KeyError::NotP256`] or
    /// [`KeyError::Malformed`].
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let (label, der) = decode_pem(pem, PUBLIC_KEY_PEM_LABEL)?;
        if label != PUBLIC_KEY_PEM_LABEL {
            return Err(KeyError::UnexpectedPemLabel {
                expected: PUBLIC_KEY_PEM_LABEL,
                found: label,
            });
        }
        Self::from_spki_der(&der)
    }

    /// Reads a SubjectPublicKeyInfo DER encoding holding a P-256 key.
    ///
    /// # Errors
    /// [`KeyError::NotP256`] or [`KeyError::Malformed`].
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let malformed = |reason: String| KeyError::Malformed {
            what: "SubjectPublicKeyInfo public key",
            reason,
        };
        let info = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| malformed(e.to_string()))?;
        check_p256_algorithm(info.algorithm.oid, info.algorithm.parameters_oid().ok())?;
        let inner = p256::ecdsa::VerifyingKey::from_public_key_der(der)
            .map_err(|e| malformed(e.to_string()))?;
        // Re-encode so that the key id is over the canonical encoding (uncompressed point).
        Ok(Self::from_verifying_key(inner))
    }

    /// The key as SubjectPublicKeyInfo PEM (`PUBLIC KEY`, LF line endings).
    #[must_use]
    pub fn to_pem(&self) -> String {
        pem::encode_string(PUBLIC_KEY_PEM_LABEL, LineEnding::LF, &self.spki_der)
            .expect("invariant: PEM-encoding a small in-memory DER document cannot fail")
    }

    /// The SubjectPublicKeyInfo DER encoding (uncompressed point).
    #[must_use]
    pub fn to_spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key id: SHA-256 of [`Self::to_spki_der`].
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        KeyId::of_spki_der(&self.spki_der)
    }

    /// Verifies an ASN.1 DER ECDSA P-256 / SHA-256 signature over `msg`.
    ///
    /// Both low-S and high-S signatures are accepted, as sigstore clients do.
    ///
    /// # Errors
    /// [`KeyError::MalformedSignature`] if `der_sig` is not strict DER, [`KeyError::BadSignature`]
    /// if it does not verify.
    pub fn verify(&self, msg: &[u8], der_sig: &[u8]) -> Result<(), KeyError> {
        let sig = p256::ecdsa::Signature::from_der(der_sig)
            .map_err(|_| KeyError::MalformedSignature { len: der_sig.len() })?;
        self.inner
            .verify(msg, &sig)
            .map_err(|_| KeyError::BadSignature {
                key_id: self.key_id(),
            })
    }
}

/// Where [`write_key_pair`] wrote a key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairPaths {
    /// The private key, `<basename>.key`.
    pub private_key: PathBuf,
    /// The public key, `<basename>.pub`.
    pub public_key: PathBuf,
    /// The key id of the new key.
    pub key_id: KeyId,
}

/// Generates a key pair and writes `<dir>/<basename>.key` (PKCS#8 PEM, encrypted when `password`
/// is given; mode 0600 on unix from creation on) and `<dir>/<basename>.pub` (SubjectPublicKeyInfo
/// PEM).
///
/// Each file is written to a temporary file in `dir` and renamed into place without replacing
/// anything, so a reader never sees a partial file and an existing key is never overwritten. If the
/// public key cannot be placed, the private key just created is removed again.
///
/// # Errors
/// [`KeyError::FileExists`] naming the file that exists, [`KeyError::InvalidBasename`],
/// [`KeyError::Io`], or errors from key generation and encoding.
pub fn write_key_pair(
    dir: &Path,
    basename: &str,
    password: Option<&[u8]>,
) -> Result<KeyPairPaths, KeyError> {
    if basename.is_empty()
        || basename == "."
        || basename == ".."
        || basename.contains(['/', '\\', '\0'])
    {
        return Err(KeyError::InvalidBasename {
            found: basename.to_owned(),
        });
    }
    let private_path = dir.join(format!("{basename}.key"));
    let public_path = dir.join(format!("{basename}.pub"));
    for path in [&private_path, &public_path] {
        // An early, friendly check; the rename below is what actually guarantees no overwrite.
        if fs::symlink_metadata(path).is_ok() {
            return Err(KeyError::FileExists { path: path.clone() });
        }
    }

    let key = SigningKey::generate()?;
    let public = key.public_key();
    let private_pem = key.to_pkcs8_pem(password)?;

    write_new_file(&private_path, private_pem.as_bytes(), 0o600)?;
    if let Err(e) = write_new_file(&public_path, public.to_pem().as_bytes(), 0o644) {
        // Best effort: the private key was created by us a moment ago; without its public half
        // it is useless, and leaving it would make a retry fail with "file exists".
        let _ = fs::remove_file(&private_path);
        return Err(e);
    }
    Ok(KeyPairPaths {
        private_key: private_path,
        public_key: public_path,
        key_id: public.key_id(),
    })
}

/// Writes `contents` to a new file at `path` via a temporary file in the same directory (created
/// with `mode` on unix) and a rename that fails if `path` exists.
fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    let io_err = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyError::Io {
            action,
            path,
            source,
        }
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".ci-attest-key-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(io_err("create a temporary file in", dir))?;
    tmp.write_all(contents)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io_err("write", tmp.path()))?;
    tmp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::FileExists {
                path: path.to_path_buf(),
            }
        } else {
            KeyError::Io {
                action: "create",
                path: path.to_path_buf(),
                source: e.error,
            }
        }
    })?;
    Ok(())
}

/// Decodes a PEM document, describing what was found when it is not PEM.
fn decode_pem(input: &[u8], expected: &'static str) -> Result<(String, Vec<u8>), KeyError> {
    match pem::decode_vec(input) {
        Ok((label, der)) => Ok((label.to_owned(), der)),
        Err(e) => {
            let found = if input.is_empty() {
                "an empty input".to_owned()
            } else if input.first() == Some(&0x30) {
                "binary data (DER?)".to_owned()
            } else if let Ok(label) = pem::decode_label(input) {
                format!("a malformed PEM \"{label}\" ({e})")
            } else {
                format!("something else ({e})")
            };
            Err(KeyError::NotPem { expected, found })
        }
    }
}

/// Checks an `AlgorithmIdentifier` is `id-ecPublicKey` with the P-256 curve.
fn check_p256_algorithm(
    algorithm: ObjectIdentifier,
    curve: Option<ObjectIdentifier>,
) -> Result<(), KeyError> {
    if algorithm != EC_PUBLIC_KEY_OID {
        let name = match algorithm.to_string().as_str() {
            "1.2.840.113549.1.1.1" => "an RSA key".to_owned(),
            "1.3.101.112" => "an Ed25519 key".to_owned(),
            "1.3.101.113" => "an Ed448 key".to_owned(),
            other => format!("a key with algorithm OID {other}"),
        };
        return Err(KeyError::NotP256 { found: name });
    }
    match curve {
        Some(oid) if oid == P256_OID => Ok(()),
        Some(oid) => {
            let name = match oid.to_string().as_str() {
                "1.3.132.0.34" => "an EC key on P-384".to_owned(),
                "1.3.132.0.35" => "an EC key on P-521".to_owned(),
                "1.3.132.0.10" => "an EC key on secp256k1".to_owned(),
                other => format!("an EC key on curve OID {other}"),
            };
            Err(KeyError::NotP256 { found: name })
        }
        None => Err(KeyError::NotP256 {
            found: "an EC key without a named curve".to_owned(),
        }),
    }
}

/// Rejects encryption parameters we do not support or that would cost unreasonable work.
fn check_encryption_parameters(scheme: &pkcs5::EncryptionScheme) -> Result<(), KeyError> {
    const EXPECTED: &str = "PBES2 with scrypt or PBKDF2-HMAC-SHA256 and AES-CBC/GCM";
    let Some(params) = scheme.pbes2() else {
        return Err(KeyError::UnsupportedEncryption {
            expected: EXPECTED,
            found: format!("the legacy PBES1 scheme (OID {})", scheme.oid()),
        });
    };
    if let Some(s) = params.kdf.scrypt() {
        let memory = 128u64
            .saturating_mul(u64::from(s.block_size))
            .saturating_mul(s.cost_parameter);
        if memory > MAX_SCRYPT_MEMORY || s.parallelization > MAX_SCRYPT_P {
            return Err(KeyError::UnsupportedEncryption {
                expected: "scrypt using at most 256 MiB and p <= 64",
                found: format!(
                    "scrypt N={} r={} p={}",
                    s.cost_parameter, s.block_size, s.parallelization
                ),
            });
        }
    } else if let Some(p) = params.kdf.pbkdf2() {
        if p.iteration_count > MAX_PBKDF2_ITERATIONS {
            return Err(KeyError::UnsupportedEncryption {
                expected: "PBKDF2 with at most 10,000,000 iterations",
                found: format!("PBKDF2 with {} iterations", p.iteration_count),
            });
        }
    }
    Ok(())
}

/// Maps a PKCS#5 decryption error; a failed decryption means the password is wrong.
fn decrypt_error(e: pkcs5::Error) -> KeyError {
    match e {
        pkcs5::Error::DecryptFailed => KeyError::WrongPassword,
        pkcs5::Error::UnsupportedAlgorithm { oid } => KeyError::UnsupportedEncryption {
            expected: "PBES2 with scrypt or PBKDF2-HMAC-SHA256 and AES-CBC/GCM",
            found: format!("algorithm OID {oid}"),
        },
        other => KeyError::UnsupportedEncryption {
            expected: "PBES2 with scrypt or PBKDF2-HMAC-SHA256 and AES-CBC/GCM",
            found: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::generate().expect("the system RNG works in tests")
    }

    #[test]
    fn signs_and_verifies() {
        let k = key();
        let sig = k.sign(b"message");
        k.public_key()
            .verify(b"message", &sig)
            .expect("valid signature");
        let err = k
            .public_key()
            .verify(b"other", &sig)
            .expect_err("wrong message");
        assert!(matches!(err, KeyError::BadSignature { .. }), "{err}");
    }

    #[test]
    fn rejects_signature_that_is_not_der() {
        let k = key();
        let err = k
            .public_key()
            .verify(b"m", &[0u8; 64])
            .expect_err("raw r||s is not DER");
        assert!(
            matches!(err, KeyError::MalformedSignature { len: 64 }),
            "{err}"
        );
    }

    #[test]
    fn accepts_high_s_signatures() {
        let k = key();
        let sig = p256::ecdsa::Signature::from_der(&k.sign(b"m")).expect("our own DER");
        let (r, s) = sig.split_scalars();
        // One of s and n - s is "high"; sigstore accepts both, so must we.
        let negated = p256::ecdsa::Signature::from_scalars(r, -*s).expect("negated s is nonzero");
        for sig in [sig, negated] {
            k.public_key()
                .verify(b"m", sig.to_der().as_bytes())
                .expect("both S forms verify");
        }
    }

    #[test]
    fn rejects_signature_that_is_not_strict_der() {
        let k = key();
        let der = k.sign(b"m");
        // Re-encode r with a redundant leading zero byte: valid BER, invalid DER.
        let r_len = usize::from(der[3]);
        let mut ber = vec![0x30, der[1] + 1, 0x02, der[3] + 1, 0x00];
        ber.extend_from_slice(&der[4..]);
        assert_eq!(ber.len(), der.len() + 1);
        assert_eq!(&ber[5..5 + r_len], &der[4..4 + r_len]);
        let err = k
            .public_key()
            .verify(b"m", &ber)
            .expect_err("BER is not DER");
        assert!(
            matches!(err, KeyError::MalformedSignature { .. }),
            "{err:?}"
        );
        let mut trailing = der.clone();
        trailing.push(0);
        let err = k
            .public_key()
            .verify(b"m", &trailing)
            .expect_err("trailing data");
        assert!(
            matches!(err, KeyError::MalformedSignature { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_key_with_excessive_scrypt_cost_before_deriving() {
        use pkcs8::der::Encode as _;
        // N = 2^22, r = 8: 4 GiB. The parameters are only declared; nothing is derived.
        let params = scrypt::Params::new(22, 8, 1).expect("valid scrypt parameters");
        let pbes2 = pbes2::Parameters::generate_scrypt_aes256cbc(params, &[7u8; 16], [9u8; 16])
            .expect("parameters");
        let data = [0u8; 48];
        let info = pkcs8::EncryptedPrivateKeyInfo {
            encryption_algorithm: pbes2.into(),
            encrypted_data: pkcs8::der::asn1::OctetStringRef::new(&data).expect("octets"),
        };
        let der = info.to_der().expect("encode");
        let pem =
            pem::encode_string(ENCRYPTED_PRIVATE_KEY_PEM_LABEL, LineEnding::LF, &der).expect("pem");
        let err = SigningKey::from_pkcs8_pem(pem.as_bytes(), Some(b"pw")).expect_err("too costly");
        assert!(
            matches!(&err, KeyError::UnsupportedEncryption { found, .. } if found.contains("N=4194304")),
            "{err:?}"
        );
    }

    #[test]
    fn unencrypted_pem_round_trips() {
        let k = key();
        let pem = k.to_pkcs8_pem(None).expect("encode");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let back = SigningKey::from_pkcs8_pem(pem.as_bytes(), None).expect("decode");
        assert_eq!(back.public_key(), k.public_key());
    }

    /// A PKCS#8 key whose embedded public key is another key's is refused, and one without an
    /// embedded public key (as some tools write) is read; both as the ecdsa crate decides.
    #[test]
    fn the_embedded_public_key_must_be_the_private_keys() {
        use base64::Engine as _;
        let (a, b) = (key(), key());
        let der = |k: &SigningKey| {
            let pem = k.to_pkcs8_pem(None).expect("encode");
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .expect("base64")
        };
        let point = |k: &SigningKey| {
            k.inner
                .verifying_key()
                .to_sec1_point(false)
                .as_bytes()
                .to_vec()
        };
        let (der_a, point_a, point_b) = (der(&a), point(&a), point(&b));
        let at = der_a
            .windows(point_a.len())
            .position(|w| w == point_a)
            .expect("p256 embeds the public key");
        let mut swapped = der_a.clone();
        swapped[at..at + point_b.len()].copy_from_slice(&point_b);
        let err = SigningKey::from_pkcs8_der(&swapped).expect_err("another key's point");
        assert!(
            err.to_string().contains("to be the private key's own"),
            "{err}"
        );
        assert!(
            <p256::ecdsa::SigningKey as pkcs8::DecodePrivateKey>::from_pkcs8_der(&swapped).is_err()
        );
        assert_eq!(
            SigningKey::from_pkcs8_der(&der_a)
                .expect("reads")
                .public_key(),
            a.public_key()
        );
    }

    #[test]
    fn encrypted_pem_round_trips() {
        let k = key();
        let pem = k.to_pkcs8_pem(Some(b"correct horse")).expect("encode");
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
        let back =
            SigningKey::from_pkcs8_pem(pem.as_bytes(), Some(b"correct horse")).expect("decode");
        assert_eq!(back.public_key(), k.public_key());
    }

    #[test]
    fn reads_openssl_pbkdf2_encrypted_key() {
        // `openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -iter 1000 -passout pass:hunter2`
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAgWqUrGoV1TQQICA+gw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEPIO58LYAsjfwA2Cs8wemOIEgZCI
jPGOE4z/YiG3Uiy4ygoCJgBltrcZB0hmjdB0+l4e8aDziHPdV1JEHpiyqL9X/gkv
mqmFN5HxXvfPbOWMkGaOWsJU7NMxAmMWDice1asdCbY93nl+C1V1TM0zHbpJ9sP3
hyEO1tMJ6XvyQ3E/THX939QbLK1ZuZftPvsbbHo8S5ndyr4r4sGD5AFnasSi9oo=
-----END ENCRYPTED PRIVATE KEY-----
";
        let public = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEHwvKWCtoHBDpoL0njz6JGa2BrOiq
LV7a3s33PzsgMmnDDeNmJNIkGq5ZnOFtWFZrsP6exnFDpcyoaN+rMyce5g==
-----END PUBLIC KEY-----
";
        let k =
            SigningKey::from_pkcs8_pem(encrypted.as_bytes(), Some(b"hunter2")).expect("decrypt");
        assert_eq!(
            k.public_key(),
            PublicKey::from_pem(public.as_bytes()).expect("public")
        );
        assert_eq!(k.public_key().to_pem(), public);
        let err =
            SigningKey::from_pkcs8_pem(encrypted.as_bytes(), Some(b"hunter3")).expect_err("wrong");
        assert!(matches!(err, KeyError::WrongPassword), "{err:?}");
    }

    #[test]
    fn wrong_password_is_a_clear_error() {
        let pem = key().to_pkcs8_pem(Some(b"right")).expect("encode");
        let err =
            SigningKey::from_pkcs8_pem(pem.as_bytes(), Some(b"wrong")).expect_err("wrong password");
        assert!(matches!(err, KeyError::WrongPassword), "{err:?}");
        assert!(err.to_string().starts_with("wrong password"), "{err}");
        assert!(
            !err.to_string().contains("wrong\""),
            "the password must not be echoed: {err}"
        );
    }

    #[test]
    fn encrypted_key_without_password_is_a_clear_error() {
        let pem = key().to_pkcs8_pem(Some(b"pw")).expect("encode");
        let err = SigningKey::from_pkcs8_pem(pem.as_bytes(), None).expect_err("no password");
        assert!(matches!(err, KeyError::PasswordRequired), "{err:?}");
        assert!(err.to_string().contains("expected a password"), "{err}");
    }

    #[test]
    fn non_pem_input_is_a_clear_error() {
        for input in [&b""[..], b"hello", b"\x30\x82\x01\x00"] {
            let err = SigningKey::from_pkcs8_pem(input, None).expect_err("not PEM");
            assert!(matches!(err, KeyError::NotPem { .. }), "{err:?}");
            assert!(
                err.to_string().starts_with("expected a PEM document"),
                "{err}"
            );
        }
    }

    #[test]
    fn public_key_pem_is_not_a_private_key() {
        let pem = key().public_key().to_pem();
        let err = SigningKey::from_pkcs8_pem(pem.as_bytes(), None).expect_err("public key");
        assert!(
            matches!(&err, KeyError::UnexpectedPemLabel { found, .. } if found == "PUBLIC KEY"),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_keys_on_other_curves() {
        // A P-384 PKCS#8 key made with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384`.
        let p384 = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDBKM9nqio3CyYEYnPWU
jnDjUE7Mus9pxgXMtAkjtFUMBzCXI+vi7XWILV6+S26hI/+hZANiAATwbguFwMY6
KB2Q2j7LNFYHD8vbXu1OX6DxQK9XvUGFhg1wfhgcF01gPLPwlUdSv+rJMj+utx00
WboUh4mehqvA6o85AjG1oK1Z2E32e2HSsplGt96qd8KUH4hvfjm1gCk=
-----END PRIVATE KEY-----
";
        let err = SigningKey::from_pkcs8_pem(p384.as_bytes(), None).expect_err("P-384");
        assert!(
            matches!(&err, KeyError::NotP256 { found } if found.contains("P-384")),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_ed25519_public_key() {
        // RFC 8410 section 10.1 example.
        let ed = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----
";
        let err = PublicKey::from_pem(ed.as_bytes()).expect_err("Ed25519");
        assert!(
            matches!(&err, KeyError::NotP256 { found } if found.contains("Ed25519")),
            "{err:?}"
        );
    }

    #[test]
    fn public_key_pem_round_trips_and_key_id_is_sha256_of_spki() {
        let public = key().public_key();
        let pem = public.to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let back = PublicKey::from_pem(pem.as_bytes()).expect("decode");
        assert_eq!(back, public);
        let expected = format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(public.to_spki_der()))
        );
        assert_eq!(public.key_id().to_string(), expected);
    }

    #[test]
    fn key_id_parses_its_display_form() {
        let id = key().public_key().key_id();
        assert_eq!(id.to_string().parse::<KeyId>().expect("parse"), id);
    }

    #[test]
    fn key_id_rejects_malformed_strings() {
        let upper = format!("sha256:{}", "A".repeat(64));
        let short = format!("sha256:{}", "a".repeat(63));
        let no_prefix = "a".repeat(64);
        for bad in [
            upper.as_str(),
            short.as_str(),
            no_prefix.as_str(),
            "sha512:00",
            "",
        ] {
            let err = bad.parse::<KeyId>().expect_err(bad);
            assert!(err.to_string().contains("expected \"sha256:\""), "{err}");
        }
    }

    #[test]
    fn debug_output_shows_only_the_key_id() {
        let k = key();
        let debug = format!("{k:?}");
        assert!(
            debug.contains(&k.public_key().key_id().to_string()),
            "{debug}"
        );
        let secret_hex = hex::encode(k.inner.to_bytes());
        assert!(!debug.contains(&secret_hex), "{debug}");
        assert!(!debug.contains("inner"), "{debug}");
    }

    #[test]
    fn writes_key_pair_with_private_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = write_key_pair(dir.path(), "cosign", Some(b"pw")).expect("write");
        assert_eq!(paths.private_key, dir.path().join("cosign.key"));
        assert_eq!(paths.public_key, dir.path().join("cosign.pub"));
        let private = fs::read(&paths.private_key).expect("read key");
        let public = fs::read(&paths.public_key).expect("read pub");
        let k = SigningKey::from_pkcs8_pem(&private, Some(b"pw")).expect("decrypt");
        let p = PublicKey::from_pem(&public).expect("public");
        assert_eq!(k.public_key(), p);
        assert_eq!(p.key_id(), paths.key_id);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&paths.private_key)
                .expect("stat")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("readdir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "temporary files left behind: {leftovers:?}"
        );
    }

    #[test]
    fn never_overwrites_existing_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let existing = dir.path().join("k.key");
        fs::write(&existing, "precious").expect("seed");
        let err = write_key_pair(dir.path(), "k", None).expect_err("must not overwrite");
        assert!(
            matches!(&err, KeyError::FileExists { path } if *path == existing),
            "{err:?}"
        );
        assert!(err.to_string().contains("k.key"), "{err}");
        assert_eq!(fs::read_to_string(&existing).expect("read"), "precious");
        assert!(!dir.path().join("k.pub").exists());
    }

    #[test]
    fn never_overwrites_existing_public_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let existing = dir.path().join("k.pub");
        fs::write(&existing, "precious").expect("seed");
        let err = write_key_pair(dir.path(), "k", None).expect_err("must not overwrite");
        assert!(
            matches!(&err, KeyError::FileExists { path } if *path == existing),
            "{err:?}"
        );
        assert_eq!(fs::read_to_string(&existing).expect("read"), "precious");
        assert!(!dir.path().join("k.key").exists());
    }

    #[test]
    fn persist_refuses_to_replace_a_file_created_concurrently() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("race.pub");
        fs::write(&path, "first").expect("seed");
        let err = write_new_file(&path, b"second", 0o644).expect_err("exists");
        assert!(matches!(err, KeyError::FileExists { .. }), "{err:?}");
        assert_eq!(fs::read_to_string(&path).expect("read"), "first");
    }

    #[test]
    fn rejects_basenames_with_path_separators() {
        let dir = tempfile::tempdir().expect("tempdir");
        for bad in ["", "a/b", "..", "a\\b"] {
            let err = write_key_pair(dir.path(), bad, None).expect_err(bad);
            assert!(matches!(err, KeyError::InvalidBasename { .. }), "{err:?}");
        }
    }
}
