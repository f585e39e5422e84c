//! depin storage: one redb file per node.
//!
//! - The latest state (`state` table, raw key → value) that the ledger reads.
//! - The state commitment: a Jellyfish Merkle tree (penumbra's `jmt`, SHA-256) over all state,
//!   one tree version per block height, with inclusion and exclusion proofs
//!   ([`Db::prove`]). Old tree nodes are kept (no pruning yet), so proofs work at every height.
//! - Blocks by height and hash, and a receipt per transaction id, for the API.
//!
//! A block is committed in **one** redb write transaction (state writes, tree nodes, block,
//! receipts, height), durable (fsync) before [`Db::commit_block`] returns; a crash leaves the
//! last whole block, and a restart resumes there with the same state root.

mod tables;
mod tree;

use borsh::BorshDeserialize;
use depin_ledger::module::ModuleRegistry;
use depin_ledger::state::WriteSet;
use depin_ledger::{StateError, StateRead};
use depin_types::{Block, Genesis, Hash32, Receipt};
use jmt::storage::TreeUpdateBatch;
use redb::{Database, ReadOnlyTable, ReadableTable, ReadableTableMetadata};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tables::*;

pub use tree::StateProof;

/// One raw state entry: `(key, value)`.
pub type StateEntry = (Vec<u8>, Vec<u8>);

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// redb failed (I/O, corruption, …). Boxed: redb's error is large and errors are cold.
    #[error("database error: {0}")]
    Redb(Box<redb::Error>),
    /// The Merkle tree failed.
    #[error("state tree error: {message}")]
    Tree {
        /// What jmt said.
        message: String,
    },
    /// A stored value does not decode.
    #[error("corrupt {what} record: {message}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// Decoder message.
        message: String,
    },
    /// `init_genesis` on a database that already has a different genesis, or a block that does
    /// not extend the stored chain.
    #[error("{message}")]
    Conflict {
        /// What conflicts.
        message: String,
    },
}

fn rerr<E: Into<redb::Error>>(e: E) -> DbError {
    DbError::Redb(Box::new(e.into()))
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for DbError {
            fn from(e: $t) -> DbError {
                rerr(e)
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::TableError,
    redb::StorageError,
    redb::TransactionError,
    redb::CommitError,
    redb::DatabaseError
);

fn decode<T: BorshDeserialize>(what: &'static str, bytes: &[u8]) -> Result<T, DbError> {
    borsh::from_slice(bytes).map_err(|e| DbError::Corrupt {
        what,
        message: e.to_string(),
    })
}

/// A state root computed but not yet committed: the tree nodes of the new version.
pub struct PendingCommit {
    version: u64,
    root: Hash32,
    batch: TreeUpdateBatch,
}

impl PendingCommit {
    /// The new state root.
    pub fn root(&self) -> Hash32 {
        self.root
    }
}

/// Most tree nodes kept in memory from the last staged or committed block (at most about
/// 1 KiB each). A larger block is not staged: it is made durable before the next one starts.
pub const MAX_CACHED_NODES: usize = 131_072;

/// Tree nodes written by the last commit, by storage key. Nodes are immutable once written,
/// so the cache never goes stale; the next block re-reads most of them.
type NodeCache = BTreeMap<Vec<u8>, jmt::storage::Node>;

/// The node's database.
pub struct Db {
    db: Database,
    modules: ModuleRegistry,
    history_prefixes: Vec<&'static [u8]>,
    recent_nodes: Mutex<Arc<NodeCache>>,
    staged: Mutex<Option<Staged>>,
}

/// A block finalized but not yet durable: its writes (and, in the node cache, its tree nodes)
/// are visible to the execution of the next block through [`Db::snapshot_ahead`].
#[derive(Clone)]
struct Staged {
    height: u64,
    writes: Arc<WriteSet>,
}

fn push_live(out: &mut Vec<StateEntry>, entry: Option<(Vec<u8>, Option<Vec<u8>>)>) {
    if let Some((key, Some(value))) = entry {
        out.push((key, value));
    }
}

impl Db {
    /// Opens (or creates) the database file at `path` of a chain running `modules` (their
    /// genesis state and history prefixes), and makes sure every table exists.
    pub fn open(path: &Path, modules: &ModuleRegistry) -> Result<Db, DbError> {
        let db = Database::create(path).map_err(rerr)?;
        let w = db.begin_write().map_err(rerr)?;
        create_tables(&w)?;
        w.commit().map_err(rerr)?;
        let mut history_prefixes = tables::CORE_HISTORY_PREFIXES.to_vec();
        history_prefixes.extend(modules.history_prefixes());
        Ok(Db {
            db,
            modules: modules.clone(),
            history_prefixes,
            recent_nodes: Mutex::new(Arc::new(NodeCache::new())),
            staged: Mutex::new(None),
        })
    }

    /// The chain's modules (as given to [`Db::open`]).
    pub fn modules(&self) -> &ModuleRegistry {
        &self.modules
    }

    /// Writes the genesis state as tree version 0. Idempotent for the same genesis; errors with
    /// [`DbError::Conflict`] if the database holds another chain.
    pub fn init_genesis(&self, genesis: &Genesis) -> Result<Hash32, DbError> {
        if let Some(existing) = self.genesis_hash()? {
            if existing != genesis.hash() {
                return Err(DbError::Conflict {
                    message: format!("database holds genesis {existing}, not {}", genesis.hash()),
                });
            }
            return self.state_root(0);
        }
        let writes =
            depin_ledger::genesis::genesis_writes(genesis, &self.modules).map_err(|e| {
                DbError::Conflict {
                    message: format!("invalid genesis: {e}"),
                }
            })?;
        let pending = self.compute_root(&writes, 0)?;
        let root = pending.root;
        let w = self.db.begin_write().map_err(rerr)?;
        write_state(&w, &writes, &pending, &self.history_prefixes)?;
        {
            let mut meta = w.open_table(META).map_err(rerr)?;
            meta.insert(META_GENESIS_HASH, genesis.hash().0.as_slice())
                .map_err(rerr)?;
            meta.insert(META_HEIGHT, 0u64.to_be_bytes().as_slice())
                .map_err(rerr)?;
        }
        w.commit().map_err(rerr)?;
        self.remember_nodes(&pending);
        Ok(root)
    }

    /// The genesis hash, if genesis was written.
    pub fn genesis_hash(&self) -> Result<Option<Hash32>, DbError> {
        let r = self.db.begin_read().map_err(rerr)?;
        let meta = r.open_table(META).map_err(rerr)?;
        let v = meta.get(META_GENESIS_HASH).map_err(rerr)?;
        v.map(|g| g.value().try_into().map(Hash32))
            .transpose()
            .map_err(|_| DbError::Corrupt {
                what: "meta",
                message: "genesis hash length".into(),
            })
    }

    /// The height of the last committed block (0 = genesis only).
    pub fn height(&self) -> Result<u64, DbError> {
        let r = self.db.begin_read().map_err(rerr)?;
        read_height(&r.open_table(META).map_err(rerr)?)
    }

    /// A consistent read view of the latest committed state.
    pub fn snapshot(&self) -> Result<Snapshot, DbError> {
        let r = self.db.begin_read().map_err(rerr)?;
        Ok(Snapshot {
            height: read_height(&r.open_table(META).map_err(rerr)?)?,
            staged: None,
            state: r.open_table(STATE).map_err(rerr)?,
            nodes: r.open_table(JMT_NODES).map_err(rerr)?,
            recent: self
                .recent_nodes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            tx_index: r.open_table(TX_INDEX).map_err(rerr)?,
        })
    }

    /// The durable state plus the staged block's writes, if one is staged (see
    /// [`Db::stage`]): the view the next block executes on.
    pub fn snapshot_ahead(&self) -> Result<Snapshot, DbError> {
        let staged = self
            .staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut snap = self.snapshot()?;
        if let Some(st) = staged.filter(|st| st.height > snap.height) {
            assert_eq!(
                st.height,
                snap.height + 1,
                "at most one block is staged ahead"
            );
            snap.height = st.height;
            snap.staged = Some(st.writes);
        }
        Ok(snap)
    }

    /// Makes a finalized block's writes and tree nodes visible to [`Db::snapshot_ahead`] before
    /// it is durable. Returns false (and stages nothing) when its tree nodes are more than
    /// [`MAX_CACHED_NODES`]; the caller must then wait for its commit before the next block.
    pub fn stage(&self, height: u64, writes: Arc<WriteSet>, pending: &PendingCommit) -> bool {
        assert_eq!(
            pending.version, height,
            "staged nodes belong to the staged block"
        );
        if pending.batch.node_batch.nodes().len() > MAX_CACHED_NODES {
            return false;
        }
        self.remember_nodes(pending);
        *self
            .staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Staged { height, writes });
        true
    }

    /// Forgets the staged block (its commit failed); the next block builds on durable state.
    pub fn unstage(&self) {
        *self
            .staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        *self
            .recent_nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(NodeCache::new());
    }

    /// Computes the state root that `writes` applied on top of the latest state give, as tree
    /// version `version` (the block height), without writing anything.
    pub fn compute_root(&self, writes: &WriteSet, version: u64) -> Result<PendingCommit, DbError> {
        self.compute_root_on(&self.snapshot()?, writes, version)
    }

    /// As [`Db::compute_root`], on top of `snap` (e.g. a [`Db::snapshot_ahead`]).
    pub fn compute_root_on(
        &self,
        snap: &Snapshot,
        writes: &WriteSet,
        version: u64,
    ) -> Result<PendingCommit, DbError> {
        let (root, batch) = tree::put(snap, writes, version)?;
        Ok(PendingCommit {
            version,
            root,
            batch,
        })
    }

    /// Commits a block durably: its state writes and tree nodes, the block, its receipts and
    /// the new height, in one write transaction.
    ///
    /// Errors: [`DbError::Conflict`] if the block does not extend the stored chain or its
    /// header's state root differs from `pending`'s.
    pub fn commit_block(
        &self,
        block: &Block,
        writes: &WriteSet,
        pending: PendingCommit,
        receipts: &[Receipt],
    ) -> Result<(), DbError> {
        let h = block.header.height;
        let stored = self.height()?;
        if h != stored.saturating_add(1)
            || pending.version != h
            || block.header.state_root != pending.root
        {
            return Err(DbError::Conflict {
                message: format!(
                    "block {h} does not extend height {stored} with root {}",
                    pending.root
                ),
            });
        }
        let t0 = std::time::Instant::now();
        let w = self.db.begin_write().map_err(rerr)?;
        write_state(&w, writes, &pending, &self.history_prefixes)?;
        let t1 = std::time::Instant::now();
        write_block(&w, block, receipts)?;
        let t2 = std::time::Instant::now();
        w.commit().map_err(rerr)?;
        let t3 = std::time::Instant::now();
        let already_staged = self
            .staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .is_some_and(|st| st.height >= h);
        if !already_staged {
            self.remember_nodes(&pending);
        }
        tracing::debug!(
            height = h,
            state_and_tree_ms = ms(t1 - t0),
            block_and_receipts_ms = ms(t2 - t1),
            fsync_ms = ms(t3 - t2),
            nodes = pending.batch.node_batch.nodes().len(),
            "block written"
        );
        Ok(())
    }

    fn remember_nodes(&self, pending: &PendingCommit) {
        let nodes = pending.batch.node_batch.nodes();
        let cache: NodeCache = if nodes.len() <= MAX_CACHED_NODES {
            nodes
                .iter()
                .map(|(k, n)| (tables::node_key_bytes(k), n.clone()))
                .collect()
        } else {
            NodeCache::new()
        };
        *self
            .recent_nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(cache);
    }

    /// Entries under `prefix` as of `height`, in key order, from the versioned `history` table
    /// (only keys under the registry prefix `devices/dev/` have one): at most `limit` live entries
    /// with keys after `after`. Keys are all the same length under one prefix.
    ///
    /// Errors: [`DbError::Conflict`] for a prefix without history; storage errors.
    pub fn scan_at(
        &self,
        prefix: &[u8],
        height: u64,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<StateEntry>, DbError> {
        if !self.history_prefixes.contains(&prefix) {
            return Err(DbError::Conflict {
                message: format!(
                    "no history is kept under {}",
                    String::from_utf8_lossy(prefix)
                ),
            });
        }
        let r = self.db.begin_read().map_err(rerr)?;
        let t = r.open_table(HISTORY).map_err(rerr)?;
        let start = match after {
            Some(a) => [a, &[0xff; 8]].concat(),
            None => prefix.to_vec(),
        };
        let mut out: Vec<StateEntry> = Vec::new();
        let mut current: Option<(Vec<u8>, Option<Vec<u8>>)> = None;
        for item in t.range(start.as_slice()..).map_err(rerr)? {
            let (k, v) = item.map_err(rerr)?;
            let (k, v) = (k.value(), v.value());
            if !k.starts_with(prefix) || k.len() < prefix.len() + 8 {
                break;
            }
            let (key, ver) = k.split_at(k.len() - 8);
            let ver = u64::from_be_bytes(ver.try_into().expect("8 bytes"));
            if current.as_ref().is_some_and(|(ck, _)| ck.as_slice() != key) {
                push_live(&mut out, current.take());
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            let value = (v.first() == Some(&1)).then(|| v[1..].to_vec());
            if ver <= height {
                current = Some((key.to_vec(), value));
            } else if current.is_none() {
                current = Some((key.to_vec(), None));
            }
        }
        push_live(&mut out, current.take());
        out.truncate(limit);
        Ok(out)
    }

    /// The state root at `height` (the root stored in that block's header; version 0 is the
    /// genesis state).
    pub fn state_root(&self, height: u64) -> Result<Hash32, DbError> {
        let snap = self.snapshot()?;
        tree::root(&snap, height)
    }

    /// A block by height.
    pub fn block(&self, height: u64) -> Result<Option<Block>, DbError> {
        let r = self.db.begin_read().map_err(rerr)?;
        let t = r.open_table(BLOCKS).map_err(rerr)?;
        let v = t.get(height).map_err(rerr)?;
        v.map(|b| decode("block", b.value())).transpose()
    }

    /// A block's header by height (cheap: does not decode the transactions).
    pub fn header(&self, height: u64) -> Result<Option<depin_types::BlockHeader>, DbError> {
        let r = self.db.begin_read().map_err(rerr)?;
        let t = r.open_table(HEADERS).map_err(rerr)?;
        let v = t.get(height).map_err(rerr)?;
        v.map(|b| decode("header", b.value())).transpose()
    }

    /// A block's height by its hash.
    pub fn block_height_by_hash(&self, hash: &Hash32) -> Result<Option<u64>, DbError> {
        let r = self.db.begin_read().map_err(rerr)?;
        let t = r.open_table(BLOCK_HASHES).map_err(rerr)?;
        let v = t.get(&hash.0).map_err(rerr)?;
        Ok(v.map(|g| g.value()))
    }

    /// A committed transaction's receipt.
    pub fn receipt(&self, tx_id: &Hash32) -> Result<Option<Receipt>, DbError> {
        let r = self.db.begin_read().map_err(rerr)?;
        let Some(at) = r
            .open_table(TX_INDEX)
            .map_err(rerr)?
            .get(&tx_id.0)
            .map_err(rerr)?
        else {
            return Ok(None);
        };
        let at = TxLocation::decode(at.value());
        if !at.failed {
            let status = depin_types::TxStatus::Success;
            let fee_bones = depin_types::Amount(at.fee);
            return Ok(Some(Receipt {
                tx_id: *tx_id,
                height: at.height,
                index: at.index,
                status,
                fee_bones,
            }));
        }
        let t = r.open_table(RECEIPTS).map_err(rerr)?;
        let v = t.get(&receipt_key(at.height, at.index)).map_err(rerr)?;
        let receipt = v
            .map(|b| decode::<Receipt>("receipt", b.value()))
            .transpose()?;
        receipt.map(Some).ok_or(DbError::Corrupt {
            what: "receipt",
            message: format!("failed receipt of {tx_id} missing"),
        })
    }

    /// Number of committed transactions.
    pub fn tx_count(&self) -> Result<u64, DbError> {
        let r = self.db.begin_read().map_err(rerr)?;
        r.open_table(TX_INDEX).map_err(rerr)?.len().map_err(rerr)
    }

    /// Every state entry, ordered by key (for audits and replays; O(state)).
    pub fn state_entries(&self) -> Result<Vec<StateEntry>, DbError> {
        let r = self.db.begin_read().map_err(rerr)?;
        let t = r.open_table(STATE).map_err(rerr)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(rerr)? {
            let (k, v) = item.map_err(rerr)?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The value at `key` in the latest state with its Merkle proof against the latest root:
    /// an inclusion proof if present, an exclusion proof if absent. (Only the latest state's
    /// values are stored, so proofs are served at the latest height.)
    pub fn prove(&self, key: &[u8]) -> Result<(Option<Vec<u8>>, StateProof), DbError> {
        let snap = self.snapshot()?;
        tree::prove(&snap, key, snap.height)
    }
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn read_height(meta: &ReadOnlyTable<&str, &[u8]>) -> Result<u64, DbError> {
    match meta.get(META_HEIGHT).map_err(rerr)? {
        None => Ok(0),
        Some(v) => {
            let b: [u8; 8] = v.value().try_into().map_err(|_| DbError::Corrupt {
                what: "meta",
                message: "height length".into(),
            })?;
            Ok(u64::from_be_bytes(b))
        }
    }
}

/// A read view of one committed state version.
pub struct Snapshot {
    height: u64,
    staged: Option<Arc<WriteSet>>,
    state: ReadOnlyTable<&'static [u8], &'static [u8]>,
    nodes: ReadOnlyTable<&'static [u8], &'static [u8]>,
    recent: Arc<NodeCache>,
    tx_index: ReadOnlyTable<&'static [u8; 32], &'static [u8; TX_LOCATION_BYTES]>,
}

impl Snapshot {
    /// The height this view is at.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// Whether `tx_id` has a receipt in this view (is committed).
    pub fn has_receipt(&self, tx_id: &Hash32) -> Result<bool, DbError> {
        Ok(self.tx_index.get(&tx_id.0).map_err(rerr)?.is_some())
    }
}

impl StateRead for Snapshot {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(v) = self.staged.as_ref().and_then(|w| w.get(key)) {
            return Ok(v.clone());
        }
        let v = self.state.get(key).map_err(|e| StateError {
            message: e.to_string(),
        })?;
        Ok(v.map(|g| g.value().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_ledger::exec::{execute_block, verify_batch, BlockContext, BlockMode};
    use depin_types::tx::{Action, BankAction, Transaction};
    use depin_types::{
        genesis::Allocation, Address, Amount, BlockHeader, ChainParams, Network, SecretKey,
    };

    fn genesis(alice: &SecretKey) -> Genesis {
        Genesis {
            validators: vec![],
            chain_id: "test".into(),
            network: Network::Devnet,
            genesis_time_ms: 0,
            producer: Address::new(Network::Devnet, alice.public()),
            params: ChainParams::default(),
            allocations: vec![Allocation {
                address: Address::new(Network::Devnet, alice.public()),
                amount_bones: Amount(1_000_000_000),
            }],
            makers: vec![],
            device_classes: vec![],
            rewards: None,
        }
    }

    fn transfer(alice: &SecretKey, nonce: u64, amount: u128) -> depin_types::SignedTransaction {
        let to = SecretKey::from_seed([2; 32]).public();
        let action = Action::Bank(BankAction::Transfer {
            to,
            amount: Amount(amount),
        });
        Transaction {
            chain_id: "test".into(),
            signer: alice.public(),
            nonce,
            fee: Amount(1_000),
            action,
        }
        .sign(alice)
    }

    /// Executes `txs` as block 1 on top of genesis, commits it, returns it with its receipts.
    fn commit_first_block(
        db: &Db,
        alice: &SecretKey,
        txs: Vec<depin_types::SignedTransaction>,
    ) -> (Block, Vec<Receipt>) {
        let vtx: Vec<_> = verify_batch(txs.clone())
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let ctx = BlockContext {
            chain_id: "test".into(),
            height: 1,
            time_ms: 1,
            proposer: alice.public(),
        };
        let out = execute_block(
            &db.snapshot().unwrap(),
            &ctx,
            &ModuleRegistry::empty(),
            &vtx,
            BlockMode::Verify,
        )
        .unwrap();
        let pending = db.compute_root(&out.writes, 1).unwrap();
        let header = BlockHeader {
            chain_id: "test".into(),
            height: 1,
            time_ms: 1,
            parent_hash: Hash32::ZERO,
            proposer: alice.public(),
            tx_root: depin_types::block::tx_root(&txs),
            state_root: pending.root(),
            tx_count: u32::try_from(txs.len()).unwrap(),
        };
        let block = Block { header, txs };
        db.commit_block(&block, &out.writes, pending, &out.receipts)
            .unwrap();
        (block, out.receipts)
    }

    fn one_block(db: &Db, alice: &SecretKey) -> Block {
        commit_first_block(db, alice, vec![transfer(alice, 0, 5)]).0
    }

    #[test]
    fn a_failed_transaction_keeps_its_reason_code_and_a_successful_one_its_fee() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db.redb"), &ModuleRegistry::empty()).unwrap();
        let alice = SecretKey::from_seed([1; 32]);
        db.init_genesis(&genesis(&alice)).unwrap();
        let txs = vec![transfer(&alice, 0, 5), transfer(&alice, 1, 10_000_000_000)];
        let (_, receipts) = commit_first_block(&db, &alice, txs.clone());
        let ok = db.receipt(&txs[0].id()).unwrap().unwrap();
        assert_eq!(
            (ok.status, ok.fee_bones, ok.index),
            (depin_types::TxStatus::Success, Amount(1_000), 0)
        );
        let failed = db.receipt(&txs[1].id()).unwrap().unwrap();
        assert_eq!(failed, receipts[1]);
        assert!(
            matches!(failed.status, depin_types::TxStatus::Failed { ref code, .. } if code == "insufficient_funds")
        );
        assert_eq!(db.tx_count().unwrap(), 2);
    }

    #[test]
    fn a_reopened_database_resumes_at_the_last_block_with_the_same_root() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let alice = SecretKey::from_seed([1; 32]);
        let block = {
            let db = Db::open(&path, &ModuleRegistry::empty()).unwrap();
            let g0 = db.init_genesis(&genesis(&alice)).unwrap();
            let b = one_block(&db, &alice);
            assert_ne!(g0, b.header.state_root);
            b
        };
        let db = Db::open(&path, &ModuleRegistry::empty()).unwrap();
        assert_eq!(db.height().unwrap(), 1);
        assert_eq!(db.state_root(1).unwrap(), block.header.state_root);
        assert_eq!(db.block(1).unwrap().unwrap(), block);
        assert_eq!(
            db.block_height_by_hash(&block.header.hash()).unwrap(),
            Some(1)
        );
        assert!(db.receipt(&block.txs[0].id()).unwrap().is_some());
        // The same genesis again is accepted; another is refused.
        assert!(db.init_genesis(&genesis(&alice)).is_ok());
        assert!(db
            .init_genesis(&genesis(&SecretKey::from_seed([9; 32])))
            .is_err());
    }

    #[test]
    fn proofs_show_inclusion_and_exclusion_against_the_header_root() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db.redb"), &ModuleRegistry::empty()).unwrap();
        let alice = SecretKey::from_seed([1; 32]);
        db.init_genesis(&genesis(&alice)).unwrap();
        let block = one_block(&db, &alice);
        let key = depin_ledger::components::bank::account_key(&alice.public());
        let (value, proof) = db.prove(&key).unwrap();
        let value = value.expect("alice has an account");
        assert_eq!(proof.root, block.header.state_root);
        proof.verify(&key, Some(&value)).unwrap();
        assert!(proof.verify(&key, Some(b"forged")).is_err());
        assert!(proof.verify(&key, None).is_err());
        let absent =
            depin_ledger::components::bank::account_key(&SecretKey::from_seed([77; 32]).public());
        let (none, proof) = db.prove(&absent).unwrap();
        assert!(none.is_none());
        proof.verify(&absent, None).unwrap();
    }

    #[test]
    fn the_batched_and_the_general_tree_updates_give_the_same_roots() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db.redb"), &ModuleRegistry::empty()).unwrap();
        let alice = SecretKey::from_seed([1; 32]);
        db.init_genesis(&genesis(&alice)).unwrap();
        let snap = db.snapshot().unwrap();
        let mut writes = WriteSet::new();
        for i in 0..2_000u32 {
            writes.insert(
                format!("k/{i}").into_bytes(),
                Some(i.to_le_bytes().to_vec()),
            );
        }
        let tree = jmt::JellyfishMerkleTree::<_, sha2::Sha256>::new(&snap);
        let (batched, _) = tree::put(&snap, &writes, 1).unwrap();
        let (general, _) = tree::put_general(&tree, &writes, 1).unwrap();
        assert_eq!(batched, general);
    }

    #[test]
    fn a_block_that_does_not_extend_the_chain_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db.redb"), &ModuleRegistry::empty()).unwrap();
        let alice = SecretKey::from_seed([1; 32]);
        db.init_genesis(&genesis(&alice)).unwrap();
        let block = one_block(&db, &alice);
        let pending = db.compute_root(&WriteSet::new(), 1).unwrap();
        assert!(matches!(
            db.commit_block(&block, &WriteSet::new(), pending, &[]),
            Err(DbError::Conflict { .. })
        ));
    }
}
