//! The blocks a validator knows that are not final yet, and the path from the last finalized
//! block to any of them. Pure data: no I/O, no clock, no commonware.

use depin_types::{Block, Hash32};
use std::collections::BTreeMap;

/// Most unfinalized blocks kept (proposals, forks, blocks fetched while catching up). A block
/// past the bound is refused; it is fetched again when it is needed.
pub const MAX_TREE_BLOCKS: usize = 4_096;

/// How a block relates to the last finalized block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ancestry {
    /// The unfinalized blocks from just above the finalized tip up to and including the asked
    /// block, oldest first (empty when the asked hash is the tip itself).
    Ready(Vec<Block>),
    /// The block with this hash is not known yet: fetch it, then ask again.
    Missing(Hash32),
    /// The chain leaves the finalized chain below its tip: never valid.
    Conflicts,
}

/// The last finalized block plus the unfinalized blocks above it, by hash.
#[derive(Debug)]
pub struct BlockTree {
    tip_height: u64,
    tip_hash: Hash32,
    tip_time_ms: u64,
    blocks: BTreeMap<Hash32, Block>,
}

impl BlockTree {
    /// A tree whose finalized tip is `(height, hash, time_ms)`.
    pub fn new(tip: (u64, Hash32, u64)) -> BlockTree {
        BlockTree {
            tip_height: tip.0,
            tip_hash: tip.1,
            tip_time_ms: tip.2,
            blocks: BTreeMap::new(),
        }
    }

    /// The finalized tip: height, hash, time (ms).
    pub fn tip(&self) -> (u64, Hash32, u64) {
        (self.tip_height, self.tip_hash, self.tip_time_ms)
    }

    /// How many unfinalized blocks are kept.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether no unfinalized block is kept.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Keeps `block` if it is above the tip and the bound allows; returns whether it is kept
    /// (true also if it was already known).
    pub fn insert(&mut self, block: Block) -> bool {
        if block.header.height <= self.tip_height {
            return false;
        }
        let hash = block.header.hash();
        if self.blocks.contains_key(&hash) {
            return true;
        }
        if self.blocks.len() >= MAX_TREE_BLOCKS {
            return false;
        }
        self.blocks.insert(hash, block);
        true
    }

    /// The unfinalized block with this hash.
    pub fn get(&self, hash: &Hash32) -> Option<&Block> {
        self.blocks.get(hash)
    }

    /// The path from the tip to `hash` (see [`Ancestry`]).
    pub fn ancestry(&self, hash: Hash32) -> Ancestry {
        let mut path = Vec::new();
        let mut cursor = hash;
        while cursor != self.tip_hash {
            assert!(
                path.len() <= MAX_TREE_BLOCKS,
                "a path is never longer than the tree"
            );
            let Some(block) = self.blocks.get(&cursor) else {
                return Ancestry::Missing(cursor);
            };
            let h = block.header.height;
            if h <= self.tip_height
                || (h == self.tip_height + 1 && block.header.parent_hash != self.tip_hash)
            {
                return Ancestry::Conflicts;
            }
            path.push(block.clone());
            cursor = block.header.parent_hash;
        }
        path.reverse();
        Ancestry::Ready(path)
    }

    /// `block` (which extends the tip) is now final: it becomes the tip and every kept block
    /// at or below its height is dropped.
    pub fn advance(&mut self, block: &Block) {
        assert_eq!(
            block.header.height,
            self.tip_height + 1,
            "blocks are finalized one height at a time"
        );
        assert_eq!(
            block.header.parent_hash, self.tip_hash,
            "a finalized block extends the finalized tip"
        );
        self.tip_height = block.header.height;
        self.tip_hash = block.header.hash();
        self.tip_time_ms = block.header.time_ms;
        let tip_height = self.tip_height;
        self.blocks.retain(|_, b| b.header.height > tip_height);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_types::{BlockHeader, PublicKey};

    fn block(height: u64, parent: Hash32, salt: u8) -> Block {
        Block {
            header: BlockHeader {
                chain_id: "t".into(),
                height,
                time_ms: height * 10,
                parent_hash: parent,
                proposer: PublicKey([salt; 32]),
                tx_root: Hash32::ZERO,
                state_root: Hash32::ZERO,
                tx_count: 0,
            },
            txs: vec![],
        }
    }

    #[test]
    fn a_path_runs_from_the_tip_to_the_block_oldest_first() {
        let mut t = BlockTree::new((0, Hash32::ZERO, 0));
        let b1 = block(1, Hash32::ZERO, 0);
        let b2 = block(2, b1.header.hash(), 0);
        assert_eq!(t.ancestry(Hash32::ZERO), Ancestry::Ready(vec![]));
        assert!(t.insert(b2.clone()));
        assert_eq!(
            t.ancestry(b2.header.hash()),
            Ancestry::Missing(b1.header.hash())
        );
        assert!(t.insert(b1.clone()));
        assert_eq!(
            t.ancestry(b2.header.hash()),
            Ancestry::Ready(vec![b1.clone(), b2.clone()])
        );
        t.advance(&b1);
        assert_eq!(t.ancestry(b2.header.hash()), Ancestry::Ready(vec![b2]));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_fork_below_the_tip_conflicts_and_old_blocks_are_refused() {
        let mut t = BlockTree::new((0, Hash32::ZERO, 0));
        let b1 = block(1, Hash32::ZERO, 0);
        let other = block(1, Hash32::ZERO, 9);
        let child = block(2, other.header.hash(), 0);
        t.insert(b1.clone());
        t.insert(other.clone());
        t.insert(child.clone());
        t.advance(&b1);
        assert!(!t.insert(other.clone()), "at or below the tip");
        assert_eq!(t.ancestry(child.header.hash()), Ancestry::Conflicts);
    }

    #[test]
    fn the_tree_is_bounded() {
        let mut t = BlockTree::new((0, Hash32::ZERO, 0));
        for i in 0..MAX_TREE_BLOCKS {
            let salt = u8::try_from(i % 256).expect("mod 256");
            let parent = Hash32::digest(&(i as u64).to_le_bytes());
            assert!(t.insert(block(2 + (i / 256) as u64, parent, salt)));
        }
        assert!(!t.insert(block(99, Hash32::ZERO, 0)));
    }
}
