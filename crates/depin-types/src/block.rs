//! Blocks, headers and receipts.

use crate::amount::Amount;
use crate::crypto::PublicKey;
use crate::hash::Hash32;
use crate::tx::SignedTransaction;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Domain tag of block hashes.
pub const DOMAIN_BLOCK: &[u8] = b"depin/block/v1\0";
/// Domain tag of the transaction root.
pub const DOMAIN_TX_ROOT: &[u8] = b"depin/tx-root/v1\0";

/// A block header. The block hash is SHA-256 of `DOMAIN_BLOCK || borsh(header)`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BlockHeader {
    /// Chain id from genesis.
    pub chain_id: String,
    /// Height; the genesis state is height 0 and the first block is height 1.
    pub height: u64,
    /// Block time in milliseconds since the Unix epoch, chosen by the proposer and never less
    /// than its parent's. The ledger reads time only from here.
    pub time_ms: u64,
    /// Hash of the parent block ([`Hash32::ZERO`] for height 1).
    pub parent_hash: Hash32,
    /// The proposer's key (receives fees under `FeePolicy::Producer`).
    pub proposer: PublicKey,
    /// SHA-256 over the ordered transaction ids (see [`tx_root`]).
    pub tx_root: Hash32,
    /// Root of the Jellyfish Merkle tree over all state after this block.
    pub state_root: Hash32,
    /// Number of transactions.
    pub tx_count: u32,
}

impl BlockHeader {
    /// The block hash.
    pub fn hash(&self) -> Hash32 {
        Hash32::digest_with_domain(
            DOMAIN_BLOCK,
            &borsh::to_vec(self).expect("writing to a Vec cannot fail"),
        )
    }
}

/// A header and its transactions, in execution order.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions.
    pub txs: Vec<SignedTransaction>,
}

/// SHA-256 of `DOMAIN_TX_ROOT || id_1 || … || id_n`.
pub fn tx_root(txs: &[SignedTransaction]) -> Hash32 {
    tx_root_of_ids(txs.iter().map(SignedTransaction::id))
}

/// [`tx_root`] from transaction ids already known (no re-hashing of the transactions).
pub fn tx_root_of_ids(ids: impl IntoIterator<Item = Hash32>) -> Hash32 {
    let mut buf = Vec::new();
    for id in ids {
        buf.extend_from_slice(&id.0);
    }
    Hash32::digest_with_domain(DOMAIN_TX_ROOT, &buf)
}

/// The outcome of a committed transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    /// The action took effect.
    Success,
    /// The action failed and was rolled back; the fee was still charged and the nonce used.
    Failed {
        /// Stable reason code, e.g. `insufficient_funds`.
        code: String,
        /// Human-readable detail.
        message: String,
    },
}

/// What happened to one committed transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Receipt {
    /// Transaction id.
    pub tx_id: Hash32,
    /// Block height.
    pub height: u64,
    /// Index in the block.
    pub index: u32,
    /// Outcome.
    #[serde(flatten)]
    pub status: TxStatus,
    /// Fee charged, in bones.
    pub fee_bones: Amount,
}
