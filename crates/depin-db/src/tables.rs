//! Table definitions and the write helpers used inside one block's write transaction.

use depin_ledger::state::WriteSet;
use depin_types::{Block, Receipt, TxStatus};
use redb::{TableDefinition, WriteTransaction};

use crate::PendingCommit;

/// Latest state: raw key → value.
pub const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
/// Tree nodes: borsh(NodeKey) → borsh(Node).
pub const JMT_NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("jmt_nodes");
/// Blocks: height → borsh(Block).
pub const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// Headers: height → borsh(BlockHeader) (small; hash lookups need not decode whole blocks).
pub const HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("headers");
/// Block hash → height.
pub const BLOCK_HASHES: TableDefinition<&[u8; 32], u64> = TableDefinition::new("block_hashes");
/// Receipts of failed transactions: (height u64 BE ‖ index u32 BE) → borsh(Receipt).
/// A successful receipt is fully given by its [`TX_INDEX`] entry, so it has no row here.
pub const RECEIPTS: TableDefinition<&[u8; 12], &[u8]> = TableDefinition::new("failed_receipts");
/// Transaction id → [`TxLocation`] bytes: the one random-order insert per transaction.
pub const TX_INDEX: TableDefinition<&[u8; 32], &[u8; TX_LOCATION_BYTES]> =
    TableDefinition::new("tx_index");
/// Size of an encoded [`TxLocation`].
pub const TX_LOCATION_BYTES: usize = 29;

/// Where a committed transaction is and how it went: height (u64 BE), index (u32 BE), fee in
/// bones (u128 BE), failed flag (u8).
pub struct TxLocation {
    /// Block height.
    pub height: u64,
    /// Index in the block.
    pub index: u32,
    /// Fee charged, bones.
    pub fee: u128,
    /// Whether the action failed (then its receipt is in [`RECEIPTS`]).
    pub failed: bool,
}

impl TxLocation {
    /// The fixed-width encoding.
    pub fn encode(&self) -> [u8; TX_LOCATION_BYTES] {
        let mut b = [0u8; TX_LOCATION_BYTES];
        b[..8].copy_from_slice(&self.height.to_be_bytes());
        b[8..12].copy_from_slice(&self.index.to_be_bytes());
        b[12..28].copy_from_slice(&self.fee.to_be_bytes());
        b[28] = u8::from(self.failed);
        b
    }

    /// Decodes [`TxLocation::encode`]'s bytes.
    pub fn decode(b: &[u8; TX_LOCATION_BYTES]) -> TxLocation {
        let (h, rest) = b.split_at(8);
        let (i, rest) = rest.split_at(4);
        let (f, flag) = rest.split_at(16);
        TxLocation {
            height: u64::from_be_bytes(h.try_into().expect("8 bytes")),
            index: u32::from_be_bytes(i.try_into().expect("4 bytes")),
            fee: u128::from_be_bytes(f.try_into().expect("16 bytes")),
            failed: flag.first() == Some(&1),
        }
    }
}
/// Versioned values of the keys under [`CORE_HISTORY_PREFIXES`] and the registered modules'
/// `history_prefixes`: (key ‖ height u64 BE) → `[0]`
/// for a deletion or `[1] ‖ value`. Lets oracles read the device registry as of a past
/// height (an epoch's last block) while `state` holds only the latest values.
pub const HISTORY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("history");
/// Core key prefixes whose every version is kept in [`HISTORY`]: the device registry and credit
/// balances (what oracles read as of an epoch's last block; few writes each, never the
/// per-transaction account rows). Modules add theirs (`LedgerModule::history_prefixes`).
pub const CORE_HISTORY_PREFIXES: &[&[u8]] = &[
    depin_ledger::components::devices::DEVICE_PREFIX,
    depin_ledger::components::credits::BALANCE_PREFIX,
];

/// Metadata.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Meta key: last committed height (u64 BE).
pub const META_HEIGHT: &str = "height";
/// Meta key: genesis hash (32 bytes).
pub const META_GENESIS_HASH: &str = "genesis_hash";

pub fn create_tables(w: &WriteTransaction) -> Result<(), crate::DbError> {
    w.open_table(STATE)?;
    w.open_table(JMT_NODES)?;
    w.open_table(BLOCKS)?;
    w.open_table(HEADERS)?;
    w.open_table(BLOCK_HASHES)?;
    w.open_table(RECEIPTS)?;
    w.open_table(TX_INDEX)?;
    w.open_table(META)?;
    w.open_table(HISTORY)?;
    Ok(())
}

pub fn write_state(
    w: &WriteTransaction,
    writes: &WriteSet,
    pending: &PendingCommit,
    history_prefixes: &[&[u8]],
) -> Result<(), crate::DbError> {
    {
        let mut state = w.open_table(STATE)?;
        for (k, v) in writes {
            match v {
                Some(v) => state.insert(k.as_slice(), v.as_slice())?,
                None => state.remove(k.as_slice())?,
            };
        }
    }
    write_history(w, writes, pending.version, history_prefixes)?;
    let batch = &pending.batch.node_batch;
    let mut nodes = w.open_table(JMT_NODES)?;
    for (nk, node) in batch.nodes() {
        let kb = node_key_bytes(nk);
        let vb = borsh::to_vec(node).expect("writing to a Vec cannot fail");
        nodes.insert(kb.as_slice(), vb.as_slice())?;
    }
    Ok(())
}

fn write_history(
    w: &WriteTransaction,
    writes: &WriteSet,
    version: u64,
    history_prefixes: &[&[u8]],
) -> Result<(), crate::DbError> {
    let mut history = w.open_table(HISTORY)?;
    for (k, v) in writes {
        if !history_prefixes.iter().any(|p| k.starts_with(p)) {
            continue;
        }
        let key = [k.as_slice(), &version.to_be_bytes()].concat();
        let value = match v {
            Some(v) => [&[1u8][..], v].concat(),
            None => vec![0u8],
        };
        history.insert(key.as_slice(), value.as_slice())?;
    }
    Ok(())
}

pub fn write_block(
    w: &WriteTransaction,
    block: &Block,
    receipts: &[Receipt],
) -> Result<(), crate::DbError> {
    let h = block.header.height;
    let bytes = borsh::to_vec(block).expect("writing to a Vec cannot fail");
    w.open_table(BLOCKS)?.insert(h, bytes.as_slice())?;
    let header = borsh::to_vec(&block.header).expect("writing to a Vec cannot fail");
    w.open_table(HEADERS)?.insert(h, header.as_slice())?;
    w.open_table(BLOCK_HASHES)?
        .insert(&block.header.hash().0, h)?;
    {
        let mut failed = w.open_table(RECEIPTS)?;
        for r in receipts.iter().filter(|r| r.status != TxStatus::Success) {
            assert_eq!(r.height, h, "a block's receipts carry its height");
            let rb = borsh::to_vec(r).expect("writing to a Vec cannot fail");
            failed.insert(&receipt_key(h, r.index), rb.as_slice())?;
        }
        let mut index = w.open_table(TX_INDEX)?;
        let mut sorted: Vec<&Receipt> = receipts.iter().collect();
        sorted.sort_unstable_by_key(|r| r.tx_id);
        for r in sorted {
            let failed = r.status != TxStatus::Success;
            let at = TxLocation {
                height: h,
                index: r.index,
                fee: r.fee_bones.bones(),
                failed,
            };
            index.insert(&r.tx_id.0, &at.encode())?;
        }
    }
    w.open_table(META)?
        .insert(META_HEIGHT, h.to_be_bytes().as_slice())?;
    Ok(())
}

/// Storage key of a tree node: version (u64 big-endian) then the borsh nibble path, so the
/// nodes of one version are contiguous and versions are in order.
pub fn node_key_bytes(nk: &jmt::storage::NodeKey) -> Vec<u8> {
    let mut k = nk.version().to_be_bytes().to_vec();
    borsh::BorshSerialize::serialize(nk.nibble_path(), &mut k)
        .expect("writing to a Vec cannot fail");
    k
}

/// Key of a receipt: height (u64 BE) then index in the block (u32 BE).
pub fn receipt_key(height: u64, index: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&height.to_be_bytes());
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
}
