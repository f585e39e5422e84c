//! Table definitions and the write helpers used inside one block's write transaction.

use depin_ledger::state::WriteSet;
use depin_types::{Block, Receipt};
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
/// Receipts in block order: (height u64 BE ‖ index u32 BE) → borsh(Receipt). Appended in key
/// order, so a block's receipts touch only the table's last pages.
pub const RECEIPTS: TableDefinition<&[u8; 12], &[u8]> = TableDefinition::new("receipts");
/// Transaction id → (height u64 BE ‖ index u32 BE): the one random-order insert per
/// transaction, kept to 44 bytes a row.
pub const TX_INDEX: TableDefinition<&[u8; 32], &[u8; 12]> = TableDefinition::new("tx_index");
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
    Ok(())
}

pub fn write_state(
    w: &WriteTransaction,
    writes: &WriteSet,
    pending: &PendingCommit,
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
    let batch = &pending.batch.node_batch;
    let mut nodes = w.open_table(JMT_NODES)?;
    for (nk, node) in batch.nodes() {
        let kb = node_key_bytes(nk);
        let vb = borsh::to_vec(node).expect("writing to a Vec cannot fail");
        nodes.insert(kb.as_slice(), vb.as_slice())?;
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
        let mut rt = w.open_table(RECEIPTS)?;
        for r in receipts {
            assert_eq!(r.height, h, "a block's receipts carry its height");
            let rb = borsh::to_vec(r).expect("writing to a Vec cannot fail");
            rt.insert(&receipt_key(h, r.index), rb.as_slice())?;
        }
        let mut index = w.open_table(TX_INDEX)?;
        let mut sorted: Vec<&Receipt> = receipts.iter().collect();
        sorted.sort_unstable_by_key(|r| r.tx_id);
        for r in sorted {
            index.insert(&r.tx_id.0, &receipt_key(h, r.index))?;
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
