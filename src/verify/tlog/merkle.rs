//! RFC 6962 / RFC 9162 Merkle tree hashing and inclusion-proof verification.
//!
//! A log's leaves are hashed as `SHA-256(0x00 || entry)` and interior nodes as
//! `SHA-256(0x01 || left || right)`. An inclusion proof (audit path) for the leaf at `index` in a
//! tree of `size` leaves is checked with the algorithm of RFC 9162 section 2.1.3.2, which rejects
//! an index outside the tree and a path that is too short or too long.

use sha2::{Digest, Sha256};

/// Length of a SHA-256 Merkle tree hash.
pub const HASH_LEN: usize = 32;

/// Most hashes an audit path may have: a tree of 2^63 leaves needs at most 63.
pub const MAX_PROOF_HASHES: usize = 64;

/// Why an inclusion proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError {
    /// The leaf index is not inside the tree.
    #[error("expected a leaf index below the tree size {size}, found index {index}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The audit path has more hashes than the tree can need.
    #[error(
        "expected an audit path of exactly {expected} hashes for index {index} in a tree of {size}, found {found}"
    )]
    WrongPathLength {
        /// The length the path must have for this index and size.
        expected: usize,
        /// The number of hashes given.
        found: usize,
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A hash in the path or the root is not 32 bytes.
    #[error("expected {HASH_LEN}-byte SHA-256 hashes in the {what}, found {found} bytes")]
    WrongHashLength {
        /// Which value (`audit path`, `root hash`).
        what: &'static str,
        /// Its length.
        found: usize,
    },
    /// The path leads to another root.
    #[error("expected the audit path to lead to root {expected}, found it leads to {found}")]
    RootMismatch {
        /// The root hash the proof claims (hex).
        expected: String,
        /// The root hash the path computes (hex).
        found: String,
    },
}

/// `SHA-256(0x00 || data)`: the hash of a leaf.
#[must_use]
pub fn leaf_hash(data: &[u8]) -> [u8; HASH_LEN] {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    to_array(&h.finalize())
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
#[must_use]
pub fn node_hash(left: &[u8], right: &[u8]) -> [u8; HASH_LEN] {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    to_array(&h.finalize())
}

fn to_array(digest: &[u8]) -> [u8; HASH_LEN] {
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(&digest[..HASH_LEN]);
    out
}

/// The number of hashes an audit path for `index` in a tree of `size` leaves has
/// (requires `index < size`): the bits of the inner part of the path plus the border part.
fn path_length(index: u64, size: u64) -> usize {
    // Inner: the levels where index and size - 1 differ; border: the set bits above them.
    // `inner` is at most 64, where a plain `>>` would overflow (indices with bit 63 set).
    let last = size.saturating_sub(1);
    let inner = 64 - (index ^ last).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    usize::try_from(inner + border).unwrap_or(usize::MAX)
}

/// Computes the root an audit path leads to (RFC 9162, 2.1.3.2 steps 1 to 4).
///
/// # Errors
/// [`MerkleError::IndexOutOfRange`] for `index >= size`, [`MerkleError::WrongPathLength`] unless
/// the path has exactly the length the tree shape needs, [`MerkleError::WrongHashLength`] for a
/// path hash that is not 32 bytes.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &[u8; HASH_LEN],
    proof: &[Vec<u8>],
) -> Result<[u8; HASH_LEN], MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let expected = path_length(index, size);
    if proof.len() != expected || proof.len() > MAX_PROOF_HASHES {
        return Err(MerkleError::WrongPathLength {
            expected,
            found: proof.len(),
            index,
            size,
        });
    }
    if let Some(bad) = proof.iter().find(|p| p.len() != HASH_LEN) {
        return Err(MerkleError::WrongHashLength {
            what: "audit path",
            found: bad.len(),
        });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            // Unreachable with the length check above; kept as the RFC's own guard.
            return Err(MerkleError::WrongPathLength {
                expected,
                found: proof.len(),
                index,
                size,
            });
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(MerkleError::WrongPathLength {
            expected,
            found: proof.len(),
            index,
            size,
        });
    }
    Ok(r)
}

/// Verifies that `leaf` is at `index` in the tree of `size` leaves whose root is `root`
/// (RFC 9162, 2.1.3.2).
///
/// # Errors
/// As [`root_from_inclusion_proof`], plus [`MerkleError::WrongHashLength`] for a root that is not
/// 32 bytes and [`MerkleError::RootMismatch`] when the path leads elsewhere.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &[u8; HASH_LEN],
    proof: &[Vec<u8>],
    root: &[u8],
) -> Result<(), MerkleError> {
    if root.len() != HASH_LEN {
        return Err(MerkleError::WrongHashLength {
            what: "root hash",
            found: root.len(),
        });
    }
    let computed = root_from_inclusion_proof(index, size, leaf, proof)?;
    if computed.as_slice() != root {
        return Err(MerkleError::RootMismatch {
            expected: hex::encode(root),
            found: hex::encode(computed),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The eight leaves of the RFC 6962 reference test tree (certificate-transparency and
    /// transparency-dev/merkle test data).
    const LEAVES: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];

    /// The published roots of the first 1..=8 of those leaves.
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// MTH(D[n]) of RFC 6962 section 2.1, written recursively as the RFC defines it.
    fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
        match leaves.len() {
            0 => to_array(&Sha256::digest(b"")),
            1 => leaves[0],
            n => {
                let k = split(n);
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    /// The largest power of two smaller than n (n > 1).
    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// PATH(m, D[n]) of RFC 6962 section 2.1.1.
    fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<Vec<u8>> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split(n);
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]).to_vec());
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]).to_vec());
            p
        }
    }

    fn hashed(n: usize) -> Vec<[u8; 32]> {
        LEAVES[..n].iter().map(|l| leaf_hash(l)).collect()
    }

    #[test]
    fn roots_of_the_reference_tree_match_the_published_values() {
        for n in 1..=8 {
            assert_eq!(hex::encode(mth(&hashed(n))), ROOTS[n - 1], "size {n}");
        }
    }

    #[test]
    fn every_leaf_of_every_tree_up_to_eight_verifies_against_the_published_root() {
        for size in 1..=8usize {
            let leaves = hashed(size);
            let root = hex::decode(ROOTS[size - 1]).expect("hex");
            for index in 0..size {
                let proof = path(index, &leaves);
                assert_eq!(proof.len(), path_length(index as u64, size as u64));
                verify_inclusion(index as u64, size as u64, &leaves[index], &proof, &root)
                    .unwrap_or_else(|e| panic!("index {index} size {size}: {e}"));
            }
        }
    }

    #[test]
    fn larger_trees_verify_at_the_edges_and_in_the_middle() {
        let leaves: Vec<[u8; 32]> = (0u32..70).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for size in [9usize, 16, 17, 31, 32, 33, 64, 65, 70] {
            let tree = &leaves[..size];
            let root = mth(tree);
            for index in [0, 1, size / 2, size - 2, size - 1] {
                let proof = path(index, tree);
                verify_inclusion(index as u64, size as u64, &tree[index], &proof, &root)
                    .unwrap_or_else(|e| panic!("index {index} size {size}: {e}"));
            }
        }
    }

    #[test]
    fn a_tree_of_one_leaf_has_an_empty_path_and_its_root_is_the_leaf_hash() {
        let leaf = leaf_hash(b"only");
        verify_inclusion(0, 1, &leaf, &[], &leaf).expect("verifies");
        let err = verify_inclusion(0, 1, &leaf, &[leaf.to_vec()], &leaf).expect_err("too long");
        assert!(matches!(
            err,
            MerkleError::WrongPathLength {
                expected: 0,
                found: 1,
                ..
            }
        ));
    }

    #[test]
    fn an_index_at_or_beyond_the_size_is_rejected() {
        let leaf = leaf_hash(b"x");
        for (index, size) in [(1, 1), (8, 8), (9, 8), (0, 0), (u64::MAX, 3)] {
            let err = root_from_inclusion_proof(index, size, &leaf, &[]).expect_err("out of range");
            assert_eq!(err, MerkleError::IndexOutOfRange { index, size });
        }
    }

    #[test]
    fn a_proof_for_another_index_or_size_or_leaf_fails() {
        let leaves = hashed(8);
        let root = hex::decode(ROOTS[7]).expect("hex");
        let proof = path(5, &leaves);
        let root7 = hex::decode(ROOTS[6]).expect("hex");
        assert!(verify_inclusion(4, 8, &leaves[5], &proof, &root).is_err());
        // The size is bound by the root: the size-8 path cannot prove leaf 5 in the size-7 tree.
        assert!(verify_inclusion(5, 7, &leaves[5], &proof, &root7).is_err());
        assert!(verify_inclusion(5, 8, &leaves[4], &proof, &root).is_err());
        assert!(verify_inclusion(5, 8, &leaves[5], &proof, &root7).is_err());
    }

    #[test]
    fn a_flipped_bit_anywhere_in_the_path_fails() {
        let leaves = hashed(7);
        let root = hex::decode(ROOTS[6]).expect("hex");
        let proof = path(6, &leaves);
        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i][31] ^= 1;
            let err = verify_inclusion(6, 7, &leaves[6], &bad, &root).expect_err("flipped");
            assert!(matches!(err, MerkleError::RootMismatch { .. }), "{err}");
        }
    }

    #[test]
    fn a_truncated_or_extended_path_or_short_hash_is_rejected() {
        let leaves = hashed(8);
        let root = hex::decode(ROOTS[7]).expect("hex");
        let proof = path(3, &leaves);
        let err = verify_inclusion(3, 8, &leaves[3], &proof[..2], &root).expect_err("short");
        assert!(matches!(
            err,
            MerkleError::WrongPathLength {
                expected: 3,
                found: 2,
                ..
            }
        ));
        let mut long = proof.clone();
        long.push(vec![0; 32]);
        assert!(verify_inclusion(3, 8, &leaves[3], &long, &root).is_err());
        let mut short_hash = proof.clone();
        short_hash[1].pop();
        let err = verify_inclusion(3, 8, &leaves[3], &short_hash, &root).expect_err("31 bytes");
        assert!(matches!(
            err,
            MerkleError::WrongHashLength { found: 31, .. }
        ));
        let err = verify_inclusion(3, 8, &leaves[3], &proof, &root[..16]).expect_err("root");
        assert!(matches!(
            err,
            MerkleError::WrongHashLength {
                what: "root hash",
                ..
            }
        ));
    }

    #[test]
    fn indices_and_sizes_at_the_top_of_the_u64_range_are_rejected_without_overflow() {
        let leaf = leaf_hash(b"x");
        // Index and last index differ in bit 63: the path length needs a shift by 64.
        assert_eq!(path_length(0, u64::MAX), 64);
        assert_eq!(path_length(u64::MAX - 1, u64::MAX), 63);
        assert_eq!(path_length(1 << 63, u64::MAX), 64);
        for (index, size) in [(0, u64::MAX), (u64::MAX - 1, u64::MAX), (1 << 63, u64::MAX)] {
            let err = root_from_inclusion_proof(index, size, &leaf, &[]).expect_err("too short");
            assert!(
                matches!(err, MerkleError::WrongPathLength { found: 0, .. }),
                "{err}"
            );
            let long = vec![vec![0u8; HASH_LEN]; MAX_PROOF_HASHES + 1];
            let err = root_from_inclusion_proof(index, size, &leaf, &long).expect_err("too long");
            assert!(matches!(err, MerkleError::WrongPathLength { .. }), "{err}");
        }
    }
}
