//! Signing: local P-256 keys (and, later, keyless).
//!
//! [`sign_statement`] turns an in-toto Statement into a key-signed sigstore bundle: a DSSE envelope
//! (payload type [`IN_TOTO_PAYLOAD_TYPE`], one ECDSA P-256 signature over the PAE, `keyid` = the key
//! id) inside a v0.3 bundle whose verification material is the key id as `publicKey.hint`.
//! [`verify_envelope_signature`] is the matching check of the envelope's signature.

pub mod key;
pub mod keyless;
pub mod oidc;

use crate::bundle::{self, Bundle, BundleError};
use crate::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, Signature};
use key::{KeyError, PublicKey, SigningKey};

/// Errors from verifying an envelope's signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The envelope does not have exactly one signature.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The signature's `keyid` names another key than the one given.
    #[error("the envelope's signature names key {found:?}, expected {expected}")]
    KeyIdMismatch {
        /// The key id of the key given.
        expected: String,
        /// The `keyid` in the signature.
        found: String,
    },
    /// The signature is malformed or does not verify.
    #[error(transparent)]
    Signature(#[from] KeyError),
}

/// Signs an in-toto Statement (its exact JSON bytes) with a local key and wraps it in a v0.3 bundle.
///
/// The payload is embedded byte for byte; nothing is re-serialised.
#[must_use]
pub fn sign_statement(statement_json: &[u8], key: &SigningKey) -> Bundle {
    let key_id = key.public_key().key_id();
    let sig = key.sign(&crate::dsse::pae(IN_TOTO_PAYLOAD_TYPE, statement_json));
    let envelope = Envelope {
        payload: statement_json.to_vec(),
        payload_type: IN_TOTO_PAYLOAD_TYPE.to_owned(),
        signatures: vec![Signature {
            sig,
            keyid: key_id.to_string(),
        }],
    };
    Bundle::for_key_signed_envelope(envelope, &key_id)
}

/// Verifies that an envelope carries exactly one signature, made by `key` over the envelope's PAE.
///
/// A non-empty `keyid` must name `key` (an empty one is allowed: DSSE makes it optional). The
/// payload type is not checked here; the caller decides which types it accepts.
///
/// # Errors
/// [`VerifyError::Bundle`] unless there is exactly one signature, [`VerifyError::KeyIdMismatch`],
/// or [`VerifyError::Signature`] if the signature is malformed or does not verify.
pub fn verify_envelope_signature(envelope: &Envelope, key: &PublicKey) -> Result<(), VerifyError> {
    bundle::check_single_signature(envelope)?;
    let Some(signature) = envelope.signatures.first() else {
        // check_single_signature guarantees one; fail closed all the same.
        return Err(BundleError::DsseSignatureCount { found: 0 }.into());
    };
    let expected = key.key_id().to_string();
    if !signature.keyid.is_empty() && signature.keyid != expected {
        return Err(VerifyError::KeyIdMismatch {
            expected,
            found: signature.keyid.clone(),
        });
    }
    key.verify(&envelope.pae(), &signature.sig)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATEMENT: &[u8] = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}"#;

    fn key() -> SigningKey {
        SigningKey::generate().expect("the system RNG works in tests")
    }

    #[test]
    fn signed_statement_verifies_with_the_public_key() {
        let k = key();
        let bundle = sign_statement(STATEMENT, &k);
        let env = bundle.single_signature_envelope().expect("one signature");
        assert_eq!(env.payload, STATEMENT);
        assert_eq!(env.payload_type, IN_TOTO_PAYLOAD_TYPE);
        assert_eq!(env.signatures[0].keyid, k.public_key().key_id().to_string());
        verify_envelope_signature(env, &k.public_key()).expect("verifies");
    }

    #[test]
    fn tampered_payload_fails_verification() {
        let k = key();
        let bundle = sign_statement(STATEMENT, &k);
        let mut env = bundle.dsse_envelope().expect("dsse").clone();
        env.payload[2] ^= 1;
        let err = verify_envelope_signature(&env, &k.public_key()).expect_err("tampered");
        assert!(
            matches!(err, VerifyError::Signature(KeyError::BadSignature { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn changed_payload_type_fails_verification() {
        let k = key();
        let mut env = sign_statement(STATEMENT, &k)
            .dsse_envelope()
            .expect("dsse")
            .clone();
        env.payload_type = "application/json".into();
        assert!(verify_envelope_signature(&env, &k.public_key()).is_err());
    }

    #[test]
    fn other_key_fails_verification() {
        let env = sign_statement(STATEMENT, &key())
            .dsse_envelope()
            .expect("dsse")
            .clone();
        let err = verify_envelope_signature(&env, &key().public_key()).expect_err("other key");
        assert!(matches!(err, VerifyError::KeyIdMismatch { .. }), "{err:?}");
        let mut anonymous = env;
        anonymous.signatures[0].keyid.clear();
        let err =
            verify_envelope_signature(&anonymous, &key().public_key()).expect_err("other key");
        assert!(
            matches!(err, VerifyError::Signature(KeyError::BadSignature { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_envelope_with_two_signatures() {
        let k = key();
        let mut env = sign_statement(STATEMENT, &k)
            .dsse_envelope()
            .expect("dsse")
            .clone();
        env.signatures.push(env.signatures[0].clone());
        let err = verify_envelope_signature(&env, &k.public_key()).expect_err("two");
        assert!(
            matches!(
                err,
                VerifyError::Bundle(BundleError::DsseSignatureCount { found: 2 })
            ),
            "{err:?}"
        );
    }
}
