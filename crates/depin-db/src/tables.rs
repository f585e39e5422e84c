//! Table definitions and the write helpers used inside one block's write transaction.

use depin_ledger::state::WriteSet;
use depin_types::{Block, Receipt};
use redb::{TableDefinition, WriteTransaction};

use crate::PendingCommit;

/// Latest state: raw key → value.
pub const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
/// Tree nodes: borsh(NodeKey) → borsh(Node).
pub const JMT_NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("jmt_nodes");
/// Tree values: key hash (32) ‖ version (u64 BE) → 0x00 (deleted) or 0x01 ‖ value.
pub const JMT_VALUES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("jmt_values");
/// Blocks: height → borsh(Block).
pub const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// Block hash → height.
pub const BLOCK_HASHES: TableDefinition<&[u8; 32], u64> = TableDefinition::new("block_hashes");
/// Transaction id → borsh(Receipt).
pub const RECEIPTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("receipts");
/// Metadata.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Meta key: last committed height (u64 BE).
pub const META_HEIGHT: &str = "height";
/// Meta key: genesis hash (32 bytes).
pub const META_GENESIS_HASH: &str = "genesis_hash";

pub fn create_tables(w: &WriteTransaction) -> Result<(), crate::DbError> {
    w.open_table(STATE)?;
    w.open_table(JMT_NODES)?;
    w.open_table(JMT_VALUES)?;
    w.open_table(BLOCKS)?;
    w.open_table(BLOCK_HASHES)?;
    w.open_table(RECEIPTS)?;
    w.open_table(META)?;
    Ok(())
}

pub fn value_key(key_hash: &[u8; 32], version: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(key_hash);
    k[32..].copy_from_slice(&version.to_be_bytes());
    k
}

pub fn write_state(
    w: &WriteTransaction,
    writes: &WriteSet,
    pending: PendingCommit,
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
    let batch = pending.batch.node_batch;
    let mut nodes = w.open_table(JMT_NODES)?;
    for (nk, node) in batch.nodes() {
        let kb = borsh::to_vec(nk).expect("writing to a Vec cannot fail");
        let vb = borsh::to_vec(node).expect("writing to a Vec cannot fail");
        nodes.insert(kb.as_slice(), vb.as_slice())?;
    }
    let mut values = w.open_table(JMT_VALUES)?;
    for ((version, key_hash), v) in batch.values() {
        let k = value_key(&key_hash.0, *version);
        let stored = match v {
            Some(v) => [&[1u8][..], v].concat(),
            None => vec![0u8],
        };
        values.insert(k.as_slice(), stored.as_slice())?;
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
    w.open_table(BLOCK_HASHES)?
        .insert(&block.header.hash().0, h)?;
    {
        let mut rt = w.open_table(RECEIPTS)?;
        for r in receipts {
            let rb = borsh::to_vec(r).expect("writing to a Vec cannot fail");
            rt.insert(&r.tx_id.0, rb.as_slice())?;
        }
    }
    w.open_table(META)?
        .insert(META_HEIGHT, h.to_be_bytes().as_slice())?;
    Ok(())
}
