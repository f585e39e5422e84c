//! Messages on the blocks channel (borsh).

use borsh::{BorshDeserialize, BorshSerialize};
use depin_types::{Block, Hash32, SignedTransaction};

/// One message on [`super::CHANNEL_BLOCKS`].
#[derive(Debug, Clone, BorshSerialize, BorshDeserialize)]
pub enum Wire {
    /// A leader's proposal (or a forwarded one).
    Proposal(Block),
    /// Asks for the block with this hash and up to `max_blocks - 1` of its ancestors.
    Want {
        /// The block asked for.
        hash: Hash32,
        /// Most blocks in the answer (at most [`super::MAX_SYNC_BLOCKS`]).
        max_blocks: u16,
    },
    /// An answer: the asked block then its ancestors, newest first.
    Blocks(Vec<Block>),
    /// Transactions a validator admitted (at most [`super::MAX_GOSSIP_TXS`]).
    Txs(Vec<SignedTransaction>),
}

impl Wire {
    /// The encoded message.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("writing to a Vec cannot fail")
    }

    /// Decodes a message; `None` for bytes that are not one.
    pub fn decode(bytes: &[u8]) -> Option<Wire> {
        borsh::from_slice(bytes).ok()
    }
}
