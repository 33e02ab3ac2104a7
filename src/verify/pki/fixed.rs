//! ECDSA verification under a key that verifies many signatures: the keys of a trusted root
//! (Rekor, CT logs, Fulcio CAs, TSAs) and the policy's signer keys.
//!
//! ECDSA verification computes `u1·G + u2·Q`. The ecdsa crate does it as one interleaved wNAF
//! multiplication, about 256 (P-256) or 384 (P-384) doublings whatever the key. For a key used
//! again and again this module precomputes, once, a signed byte-wise comb of `Q` (table `i`
//! holds `1..=128 · 256^i · Q`, in affine form) and the same for `G`: each product is then one
//! mixed addition per byte of the scalar (33 for P-256, 49 for P-384) and no doubling. On this
//! machine a verification takes 53 µs instead of 255-389 µs (P-256) and 228 µs instead of about
//! 1 ms (P-384); a table costs about 5 ms (P-256) or 24 ms (P-384) to build and 0.3 or 0.65 MB
//! to keep, which is why only a key that has already verified many signatures gets one
//! (`TABLE_AFTER_USES` in the parent module).
//!
//! The point and scalar arithmetic is the RustCrypto crates' own (p256/p384 on primeorder);
//! what this module adds is the table and the ECDSA equation, which follows
//! `ecdsa::hazmat::verify_prehashed` step by step and is checked against it in the tests below
//! (valid, high-s, tampered and foreign signatures, every digest length, a zero digest).
//!
//! Everything here is variable-time, over public values only (keys, signatures, digests).

/// One curve's comb and verification (P-256 and P-384 share the code through a macro rather than
/// a generic, because the RustCrypto bounds for "an ECDSA curve with primeorder points" do not
/// resolve for a generic curve).
macro_rules! comb_curve {
    ($module:ident, $curve_crate:ident) => {
        pub mod $module {
            use std::sync::LazyLock;
            use $curve_crate::ecdsa::Signature;
            use $curve_crate::elliptic_curve::PrimeField as _;
            use $curve_crate::elliptic_curve::group::{Curve as _, Group as _};
            use $curve_crate::elliptic_curve::ops::{Invert as _, Reduce};
            use $curve_crate::elliptic_curve::point::AffineCoordinates as _;
            use $curve_crate::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};

            /// Bytes of a field element and of a scalar (the order is a whole number of bytes).
            const LEN: usize = core::mem::size_of::<FieldBytes>();
            /// Multiples per byte position: signed digits in -127..=128 need 1..=128.
            const PER_POSITION: usize = 128;

            /// The comb of the generator, built on first use (by the first key to get a table).
            static GENERATOR: LazyLock<Table> =
                LazyLock::new(|| Table::new(ProjectivePoint::GENERATOR));

            /// Multiples of one point `Q`: position `i` holds `1..=128 · 256^i · Q`, for the
            /// LEN byte positions of a scalar and one more for the recoding's last carry.
            pub struct Table {
                points: Vec<AffinePoint>,
            }

            impl Table {
                /// The table of an ECDSA key's point.
                pub(crate) fn of(key: &$curve_crate::ecdsa::VerifyingKey) -> Table {
                    Table::new((*key.as_affine()).into())
                }

                fn new(q: ProjectivePoint) -> Table {
                    let mut projective = Vec::with_capacity((LEN + 1) * PER_POSITION);
                    let mut base = q;
                    for _ in 0..=LEN {
                        let mut multiple = base;
                        for _ in 0..PER_POSITION {
                            projective.push(multiple);
                            multiple += base;
                        }
                        // 256 · base, from the 128th multiple.
                        base = projective[projective.len() - 1].double();
                    }
                    // No entry is the identity: each is (j · 256^i mod n) · Q with n prime and
                    // j < n, so the factor is never 0 mod n; all normalise.
                    let mut points = vec![AffinePoint::IDENTITY; projective.len()];
                    ProjectivePoint::batch_normalize(&projective, &mut points);
                    Table { points }
                }

                /// `k·Q`: the scalar's big-endian bytes recoded, from the least significant, into
                /// signed digits in -127..=128, each one table entry (negated when below zero).
                fn mul(&self, k: &Scalar) -> ProjectivePoint {
                    let bytes = k.to_repr();
                    let mut acc = ProjectivePoint::IDENTITY;
                    let mut carry = 0i16;
                    for position in 0..=LEN {
                        let byte = if position < LEN {
                            i16::from(bytes[LEN - 1 - position])
                        } else {
                            0
                        };
                        let mut digit = byte + carry;
                        carry = 0;
                        if digit > 128 {
                            digit -= 256;
                            carry = 1;
                        }
                        let row = position * PER_POSITION;
                        let index = usize::from(digit.unsigned_abs());
                        if digit > 0 {
                            acc += &self.points[row + index - 1];
                        } else if digit < 0 {
                            acc += &(-self.points[row + index - 1]);
                        }
                    }
                    acc
                }

                /// Whether `signature` is a valid ECDSA signature by `Q` over the message digest
                /// `digest`, exactly as `ecdsa::hazmat::verify_prehashed` decides (r and s are
                /// already in 1..n-1: [`Signature`] holds only such; a high s is accepted, as
                /// P-256 and P-384 ECDSA do not normalise s).
                pub(crate) fn verify_prehashed(
                    &self,
                    digest: &[u8],
                    signature: &Signature,
                ) -> bool {
                    let (r, s) = signature.split_scalars();
                    let z = bits_to_scalar(digest);
                    let s_inv = *s.invert_vartime();
                    let u1 = z * s_inv;
                    let u2 = *r * s_inv;
                    let point = GENERATOR.mul(&u1) + self.mul(&u2);
                    // The identity has no x; `to_affine` maps it to (0, 0), and r is never 0.
                    let x = point.to_affine().x();
                    *r == <Scalar as Reduce<FieldBytes>>::reduce(&x)
                }
            }

            /// Verifies the DER signature `sig` over `digest` with `key`: on its table once it has
            /// one (see [`super::super::EcdsaKey`]), else with the ecdsa crate. `kind` names the key
            /// type in errors.
            pub(crate) fn verify_der(
                key: &super::super::EcdsaKey<$curve_crate::ecdsa::VerifyingKey, Table>,
                digest: &[u8],
                sig: &[u8],
                kind: &'static str,
            ) -> Result<(), super::super::PkiError> {
                use super::super::PkiError;
                use $curve_crate::ecdsa::signature::hazmat::PrehashVerifier as _;
                let der = $curve_crate::ecdsa::DerSignature::from_bytes(sig)
                    .map_err(|_| PkiError::MalformedSignature(kind))?;
                // r or s of 0 or beyond the order: no signature, as the ecdsa crate decides.
                let sig = Signature::try_from(der).map_err(|_| PkiError::BadSignature(kind))?;
                let ok = match key.table(Table::of) {
                    Some(table) => table.verify_prehashed(digest, &sig),
                    None => key.key.verify_prehash(digest, &sig).is_ok(),
                };
                ok.then_some(()).ok_or(PkiError::BadSignature(kind))
            }

            /// The digest as a scalar: its leftmost bytes up to the order's length, zero-padded
            /// on the left when shorter, reduced mod n (SEC 1 4.1.4 step 5; the order's bit
            /// length is a multiple of 8 on these curves, so no bit shift is needed).
            fn bits_to_scalar(digest: &[u8]) -> Scalar {
                let mut bytes = FieldBytes::default();
                if digest.len() >= LEN {
                    bytes.copy_from_slice(&digest[..LEN]);
                } else {
                    bytes[LEN - digest.len()..].copy_from_slice(digest);
                }
                <Scalar as Reduce<FieldBytes>>::reduce(&bytes)
            }

            #[cfg(test)]
            mod tests {
                use super::*;
                use proptest::prelude::*;
                use $curve_crate::ecdsa::signature::hazmat::PrehashVerifier as _;
                use $curve_crate::ecdsa::{SigningKey, VerifyingKey};

                /// The same signature with s replaced by n - s: still valid, as ECDSA accepts both.
                fn high_s(sig: &Signature) -> Signature {
                    let (r, s) = sig.split_scalars();
                    Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).expect("valid")
                }

                proptest! {
                    #![proptest_config(ProptestConfig::with_cases(48))]

                    /// On valid, high-s, tampered and foreign signatures, over digests of every
                    /// length sigstore uses (and shorter) and a zero digest, the table answers
                    /// what the ecdsa crate answers.
                    #[test]
                    fn verification_agrees_with_the_ecdsa_crate(
                        secret in prop::collection::vec(1u8.., LEN),
                        other in prop::collection::vec(1u8.., LEN),
                        digest in prop::collection::vec(any::<u8>(), 20..=64),
                        flip in 0usize..64,
                    ) {
                        let sk = SigningKey::from_slice(&secret).expect("scalar in range");
                        let vk = VerifyingKey::from(&sk);
                        let table = Table::of(&vk);
                        let foreign = SigningKey::from_slice(&other).expect("scalar in range");
                        let (sig, _) = sk.sign_prehash_recoverable(&digest);
                        let (wrong, _) = foreign.sign_prehash_recoverable(&digest);
                        // Within the bytes that count: a longer digest is truncated to LEN.
                        let mut tampered = digest.clone();
                        tampered[flip % digest.len().min(LEN)] ^= 0x01;
                        let zero = [0u8; LEN];
                        let (zero_sig, _) = sk.sign_prehash_recoverable(&zero);
                        for (d, s) in [
                            (&digest[..], sig),
                            (&digest[..], high_s(&sig)),
                            (&tampered[..], sig),
                            (&digest[..], wrong),
                            (&zero[..], zero_sig),
                        ] {
                            prop_assert_eq!(
                                table.verify_prehashed(d, &s),
                                vk.verify_prehash(d, &s).is_ok()
                            );
                        }
                        prop_assert!(table.verify_prehashed(&digest, &sig));
                        prop_assert!(!table.verify_prehashed(&tampered, &sig));
                        prop_assert!(table.verify_prehashed(&zero, &zero_sig));
                    }
                }

                /// The comb's product is the crate's own `k·Q`, for small, large and edge scalars.
                #[test]
                fn the_comb_multiplies_as_the_crate_does() {
                    let q = ProjectivePoint::GENERATOR * Scalar::from(0x5eed_u64);
                    let table = Table::new(q);
                    let mut scalars = vec![
                        Scalar::ZERO,
                        Scalar::ONE,
                        -Scalar::ONE,
                        -Scalar::from(128u64),
                    ];
                    let mut k = Scalar::from(0x0123_4567_89ab_cdef_u64);
                    for _ in 0..40 {
                        scalars.push(k);
                        k = k * k + Scalar::from(0x80u64);
                    }
                    for k in scalars {
                        assert_eq!(table.mul(&k).to_affine(), (q * k).to_affine());
                    }
                }
            }
        }
    };
}

comb_curve!(p256_table, p256);
comb_curve!(p384_table, p384);
