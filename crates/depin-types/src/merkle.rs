//! Binary Merkle trees over leaf hashes, as in Certificate Transparency (RFC 6962 §2.1 /
//! RFC 9162 §2.1): leaf hash `SHA-256(0x00 || data)`, interior `SHA-256(0x01 || left || right)`,
//! a tree of `n` leaves splits at the largest power of two below `n`, so no leaf is duplicated
//! and a proof has at most ⌈log₂ n⌉ hashes. Reward manifests commit to their payouts this way.

use crate::hash::Hash32;
use sha2::{Digest, Sha256};

/// Longest accepted proof: a tree of up to 2^64 leaves never needs more.
pub const MAX_PROOF_HASHES: usize = 64;

/// Hash of one leaf's bytes: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash32 {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    Hash32(h.finalize().into())
}

/// Hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Hash32(h.finalize().into())
}

/// Largest power of two strictly below `n` (`n` ≥ 2).
fn split_point(n: usize) -> usize {
    assert!(n >= 2, "only trees of two or more leaves split");
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The root over `leaves` (leaf hashes, in order). The empty tree's root is `SHA-256("")`.
pub fn root(leaves: &[Hash32]) -> Hash32 {
    match leaves.len() {
        0 => Hash32(Sha256::digest([]).into()),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` (RFC 9162 `PATH(m, D[n])`), bottom first. `None` if `index`
/// is out of range.
pub fn proof(leaves: &[Hash32], index: usize) -> Option<Vec<Hash32>> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    path_into(leaves, index, &mut path);
    Some(path)
}

fn path_into(leaves: &[Hash32], index: usize, out: &mut Vec<Hash32>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split_point(leaves.len());
    if index < k {
        path_into(&leaves[..k], index, out);
        out.push(root(&leaves[k..]));
    } else {
        path_into(&leaves[k..], index - k, out);
        out.push(root(&leaves[..k]));
    }
}

/// Checks that `leaf` is leaf `index` of a `count`-leaf tree with `root`, given its audit path
/// (RFC 9162 §2.1.3.2). False on any mismatch, including an out-of-range index or an over-long
/// path. As in RFC 9162 the tree size is the verifier's input: a proof shows that the leaf is
/// in the tree, so callers that must pay a leaf once key that on the leaf's content, not on
/// `index`.
pub fn verify(leaf: &Hash32, index: u64, count: u64, path: &[Hash32], root: &Hash32) -> bool {
    if index >= count || path.len() > MAX_PROOF_HASHES {
        return false;
    }
    let (mut f, mut s) = (index, count - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash32> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_le_bytes()))
            .collect()
    }

    #[test]
    fn every_leaf_of_every_small_tree_proves_and_no_other_position_does() {
        for n in 1..=33 {
            let l = leaves(n);
            let r = root(&l);
            for i in 0..n {
                let p = proof(&l, i).unwrap();
                assert!(verify(&l[i], i as u64, n as u64, &p, &r), "n={n} i={i}");
                let other = (i + 1) % n;
                if other != i {
                    assert!(!verify(&l[i], other as u64, n as u64, &p, &r));
                }
                assert!(
                    !verify(&l[i], i as u64, i as u64, &p, &r),
                    "index past the count"
                );
            }
        }
    }

    #[test]
    fn a_three_leaf_root_is_the_rfc_6962_shape() {
        let l = leaves(3);
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
    }

    #[test]
    fn a_changed_leaf_changes_the_root_and_fails_its_proof() {
        let l = leaves(10);
        let r = root(&l);
        let p = proof(&l, 4).unwrap();
        let forged = leaf_hash(b"forged");
        assert!(!verify(&forged, 4, 10, &p, &r));
        let mut l2 = l.clone();
        l2[4] = forged;
        assert_ne!(root(&l2), r);
    }
}
