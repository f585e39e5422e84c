//! Proofs of storage: Merkle challenge and response over a shard's BLAKE3 tree (Sia's storage
//! proofs and Filecoin's PDP work the same way; PoRep's sealing needs GPUs and is not used).
//!
//! - A shard's root is `BLAKE3(shard)`: BLAKE3 is itself a Merkle tree over 1 KiB chunks.
//!   The provider keeps, next to the shard, its outboard (the tree's inner hashes at 16 KiB
//!   chunk-group granularity, ~0.4 % of the shard; bao-tree).
//! - Challenge: `c` chunk groups drawn (with replacement) from
//!   `SHA-256(DOMAIN ‖ entropy ‖ deal ‖ provider ‖ shard index ‖ i)` for `i = 0..c`.
//! - Response: the groups' bytes and the hashes on their paths to the root (a bao range
//!   encoding); [`verify`] needs only the root, the shard size and the challenge.
//! - A provider that lost (or corrupted) a fraction `f` of a shard's groups answers one
//!   challenge with probability at most `(1 − f)^c`, so it is caught within
//!   [`epochs_to_detect`] epochs at the confidence asked (e.g. `f` = 5 %, `c` = 8:
//!   34 % per epoch, 99 % within 12 epochs).

use bao_tree::io::outboard::PreOrderOutboard;
use bao_tree::io::sync::{encode_ranges_validated, CreateOutboard, DecodeResponseIter, ReadAt};
use bao_tree::io::BaoContentItem;
use bao_tree::{BaoTree, BlockSize, ChunkNum, ChunkRanges};
use depin_types::Hash32;
use sha2::{Digest, Sha256};

/// Chunk groups of 16 KiB (2^4 BLAKE3 chunks of 1 KiB): the unit challenged and proven.
pub const BLOCK_SIZE: BlockSize = BlockSize::from_chunk_log(4);
/// Bytes per chunk group.
pub const GROUP_BYTES: u64 = 16 * 1024;
/// BLAKE3 chunks per group.
const GROUP_CHUNKS: u64 = 16;
/// Most groups one challenge asks for.
pub const MAX_CHALLENGES: u32 = 256;
/// Domain tag of challenge seeds.
pub const DOMAIN_CHALLENGE: &[u8] = b"depin/storage/challenge/v1";

/// Errors of proofs.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// The provider's data does not match its own tree (lost or flipped bytes).
    #[error("the stored shard does not match its tree: {reason}")]
    Corrupt {
        /// What failed.
        reason: String,
    },
    /// A response that does not prove the challenge against the root.
    #[error("invalid storage proof: {reason}")]
    Invalid {
        /// What failed.
        reason: String,
    },
    /// A challenge larger than [`MAX_CHALLENGES`] or of zero groups.
    #[error("a challenge of {count} groups is outside 1..={max}")]
    ChallengeSize {
        /// Groups asked.
        count: u32,
        /// The limit.
        max: u32,
    },
}

/// A shard's tree: its root and the outboard its provider keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardTree {
    /// `BLAKE3(shard)`.
    pub root: Hash32,
    /// Shard size, bytes.
    pub size_bytes: u64,
    /// Inner hashes (bao pre-order outboard at [`BLOCK_SIZE`]).
    pub outboard: Vec<u8>,
}

impl ShardTree {
    /// The tree of the `size_bytes` shard `reader` yields, read once (16 KiB at a time).
    ///
    /// Errors: the reader's; `UnexpectedEof` when it ends before `size_bytes`.
    pub fn from_reader(reader: impl std::io::Read, size_bytes: u64) -> std::io::Result<ShardTree> {
        let ob = PreOrderOutboard::<Vec<u8>>::create_sized(reader, size_bytes, BLOCK_SIZE)?;
        Ok(ShardTree {
            root: Hash32(*ob.root.as_bytes()),
            size_bytes,
            outboard: ob.data,
        })
    }

    /// The tree of `shard`.
    pub fn new(shard: &[u8]) -> ShardTree {
        let ob = PreOrderOutboard::<Vec<u8>>::create_sized(shard, shard.len() as u64, BLOCK_SIZE)
            .expect("hashing an in-memory slice cannot fail");
        ShardTree {
            root: Hash32(*ob.root.as_bytes()),
            size_bytes: shard.len() as u64,
            outboard: ob.data,
        }
    }

    /// Chunk groups in the shard.
    pub fn groups(&self) -> u64 {
        self.size_bytes.div_ceil(GROUP_BYTES).max(1)
    }

    fn outboard(&self) -> PreOrderOutboard<&[u8]> {
        PreOrderOutboard {
            root: blake3::Hash::from_bytes(self.root.0),
            tree: BaoTree::new(self.size_bytes, BLOCK_SIZE),
            data: &self.outboard,
        }
    }
}

/// What a challenge is drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChallengeSeed<'a> {
    /// The epoch's entropy.
    pub entropy: &'a Hash32,
    /// The deal.
    pub deal: &'a Hash32,
    /// The provider's key bytes.
    pub provider: &'a [u8; 32],
    /// The shard's index in the deal.
    pub shard: u32,
}

/// The `count` chunk groups (of `groups`) challenged, in draw order (repeats possible).
///
/// Errors: [`ProofError::ChallengeSize`] outside `1..=MAX_CHALLENGES`.
pub fn challenge(
    seed: &ChallengeSeed<'_>,
    groups: u64,
    count: u32,
) -> Result<Vec<u64>, ProofError> {
    if count == 0 || count > MAX_CHALLENGES {
        return Err(ProofError::ChallengeSize {
            count,
            max: MAX_CHALLENGES,
        });
    }
    let base = Sha256::new()
        .chain_update(DOMAIN_CHALLENGE)
        .chain_update(seed.entropy.0)
        .chain_update(seed.deal.0)
        .chain_update(seed.provider)
        .chain_update(seed.shard.to_be_bytes());
    Ok((0..count)
        .map(|i| {
            let h: [u8; 32] = base.clone().chain_update(i.to_be_bytes()).finalize().into();
            u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) % groups.max(1)
        })
        .collect())
}

fn ranges(groups: &[u64]) -> ChunkRanges {
    let mut r = ChunkRanges::empty();
    for g in groups {
        r |= ChunkRanges::from(ChunkNum(g * GROUP_CHUNKS)..ChunkNum((g + 1) * GROUP_CHUNKS));
    }
    r
}

/// The provider's answer to a challenge of `groups`: the groups and their Merkle paths.
/// `shard` is read at the challenged groups only (a file on disk, or bytes in memory), so
/// answering costs `groups × 16 KiB` of reads whatever the shard's size.
///
/// Errors: [`ProofError::Corrupt`] when the stored shard no longer matches its tree, or a
/// challenged group cannot be read (the provider learns of a bit flip or a lost chunk here,
/// before the oracle does).
pub fn prove(shard: impl ReadAt, tree: &ShardTree, groups: &[u64]) -> Result<Vec<u8>, ProofError> {
    let mut out = Vec::new();
    encode_ranges_validated(shard, tree.outboard(), &ranges(groups), &mut out).map_err(|e| {
        ProofError::Corrupt {
            reason: e.to_string(),
        }
    })?;
    Ok(out)
}

/// Checks a response against the shard's root and size: every challenged group present and
/// hashing up to the root.
///
/// Errors: [`ProofError::Invalid`] with the first failure.
pub fn verify(
    root: &Hash32,
    size_bytes: u64,
    groups: &[u64],
    proof: &[u8],
) -> Result<(), ProofError> {
    let invalid = |reason: String| ProofError::Invalid { reason };
    let wanted = ranges(groups);
    let tree = BaoTree::new(size_bytes, BLOCK_SIZE);
    let mut reader = std::io::Cursor::new(proof);
    let iter =
        DecodeResponseIter::new(blake3::Hash::from_bytes(root.0), tree, &mut reader, &wanted);
    let mut leaves = std::collections::BTreeSet::new();
    for item in iter {
        match item.map_err(|e| invalid(e.to_string()))? {
            BaoContentItem::Leaf(l) => {
                leaves.insert(l.offset / GROUP_BYTES);
            }
            BaoContentItem::Parent(_) => {}
        }
    }
    let last = tree.size().div_ceil(GROUP_BYTES).max(1);
    if let Some(g) = groups.iter().find(|g| **g < last && !leaves.contains(g)) {
        return Err(invalid(format!("group {g} is not in the proof")));
    }
    if reader.position() != proof.len() as u64 {
        return Err(invalid("trailing bytes after the proof".into()));
    }
    Ok(())
}

/// Epochs within which a provider that lost a fraction `lost` of a shard is caught with
/// probability at least `confidence`, when each epoch challenges `per_epoch` groups drawn
/// with replacement: the least `e` with `1 − (1 − lost)^(per_epoch·e) ≥ confidence`.
/// (A probability for planning, not money: f64.)
pub fn epochs_to_detect(lost: f64, per_epoch: u32, confidence: f64) -> u32 {
    if lost <= 0.0 {
        return u32::MAX;
    }
    if lost >= 1.0 {
        return 1;
    }
    let pass_one_epoch = (1.0 - lost).powi(i32::try_from(per_epoch).unwrap_or(i32::MAX));
    let e = (1.0 - confidence).ln() / pass_one_epoch.ln();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    // e is positive and small for any sensible input
    let epochs = e.ceil().max(1.0) as u32;
    epochs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn seed() -> ([u8; 32], Hash32, Hash32) {
        ([7; 32], Hash32([1; 32]), Hash32([2; 32]))
    }

    #[test]
    fn the_root_is_the_blake3_hash_and_an_honest_proof_verifies() {
        let s = shard(200_000);
        let t = ShardTree::new(&s);
        assert_eq!(t.root.0, *blake3::hash(&s).as_bytes());
        let (p, e, d) = seed();
        let cs = ChallengeSeed {
            entropy: &e,
            deal: &d,
            provider: &p,
            shard: 3,
        };
        let groups = challenge(&cs, t.groups(), 8).expect("challenge");
        assert_eq!(
            groups,
            challenge(&cs, t.groups(), 8).expect("again"),
            "deterministic"
        );
        assert!(groups.iter().all(|g| *g < t.groups()));
        let proof = prove(&s, &t, &groups).expect("prove");
        verify(&t.root, t.size_bytes, &groups, &proof).expect("verifies");
        assert!(
            (proof.len() as u64) < 8 * GROUP_BYTES + 4_096,
            "groups + paths, not the shard"
        );
    }

    #[test]
    fn a_shard_on_disk_is_proven_as_in_memory_and_a_truncated_one_is_caught() {
        let s = shard(100_000);
        let t = ShardTree::new(&s);
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.shard");
        std::fs::write(&path, &s).expect("write");
        let file = std::fs::File::open(&path).expect("open");
        let groups = [0u64, 5, 6];
        assert_eq!(
            prove(&file, &t, &groups).expect("from disk"),
            prove(&s, &t, &groups).expect("from memory")
        );
        let cut = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        cut.set_len(2 * GROUP_BYTES).expect("truncate");
        assert!(prove(&file, &t, &[0]).is_ok(), "a group still held");
        assert!(matches!(
            prove(&file, &t, &[5]),
            Err(ProofError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_flipped_bit_fails_the_proof_at_the_provider_and_at_the_verifier() {
        let s = shard(100_000);
        let t = ShardTree::new(&s);
        let groups = [2u64];
        let mut flipped = s.clone();
        flipped[2 * GROUP_BYTES as usize + 5] ^= 1;
        assert!(matches!(
            prove(&flipped, &t, &groups),
            Err(ProofError::Corrupt { .. })
        ));
        let mut proof = prove(&s, &t, &groups).expect("prove");
        let n = proof.len();
        proof[n - 10] ^= 1;
        assert!(matches!(
            verify(&t.root, t.size_bytes, &groups, &proof),
            Err(ProofError::Invalid { .. })
        ));
        let other = prove(&s, &t, &[3]).expect("prove");
        assert!(
            verify(&t.root, t.size_bytes, &groups, &other).is_err(),
            "a proof of other groups"
        );
    }

    #[test]
    fn detection_epochs_follow_the_formula() {
        assert_eq!(epochs_to_detect(0.05, 8, 0.99), 12);
        assert_eq!(epochs_to_detect(0.05, 1, 0.99), 90);
        assert_eq!(epochs_to_detect(1.0, 1, 0.99), 1);
        assert!(challenge(
            &ChallengeSeed {
                entropy: &Hash32([0; 32]),
                deal: &Hash32([0; 32]),
                provider: &[0; 32],
                shard: 0
            },
            10,
            0
        )
        .is_err());
    }
}
