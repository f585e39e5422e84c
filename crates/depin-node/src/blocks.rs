//! Block production: the [`Application`] the consensus driver calls, with pipelined
//! persistence.
//!
//! Block N is finalized by staging it (its writes and tree nodes become visible to the next
//! block's execution, see `Db::stage`) and handing it to a committer thread, which makes it
//! durable in one redb write transaction and only then removes its transactions from the
//! mempool and publishes its receipts. Meanwhile block N+1 executes on "durable state + block
//! N". At most one block is in flight: block N+1 is staged only after block N is durable, so a
//! crash loses at most blocks whose transactions were never reported committed.

use crate::admission::NodeState;
use depin_consensus::Application;
use depin_db::{DbError, PendingCommit};
use depin_ledger::exec::{self, BlockContext, BlockError, BlockMode};
use depin_ledger::state::WriteSet;
use depin_ledger::{ReasonCode, VerifiedTx};
use depin_types::block::{tx_root_of_ids, Receipt};
use depin_types::{Block, BlockHeader, Hash32, PublicKey};
use std::collections::BTreeSet;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

/// Errors of block production.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Execution failed.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// A block that does not match what this node computes.
    #[error("block {height} rejected: {reason}")]
    Rejected {
        /// Height.
        height: u64,
        /// Why.
        reason: String,
    },
    /// The committer thread is gone or its commit failed.
    #[error("committing block {height} failed: {reason}")]
    Commit {
        /// Height.
        height: u64,
        /// Why.
        reason: String,
    },
}

/// A block's execution results, kept from propose/verify to finalize.
struct Executed {
    hash: Hash32,
    writes: Arc<WriteSet>,
    pending: PendingCommit,
    receipts: Vec<Receipt>,
    dropped: Vec<(Hash32, String, String)>,
}

/// A block on its way to disk.
struct Job {
    block: Block,
    executed: Executed,
}

/// The block handed to the committer and not yet reported durable.
struct InFlight {
    height: u64,
    /// Its transactions and the ones it dropped: not to be proposed again meanwhile.
    ids: BTreeSet<Hash32>,
    /// Whether it was staged (else the next block must wait for it before executing).
    staged: bool,
}

/// The node as the consensus driver sees it.
pub struct NodeApp {
    node: Arc<NodeState>,
    proposer: PublicKey,
    executed: Option<Executed>,
    /// Last finalized block (staged or durable): height and hash.
    tip: (u64, Hash32),
    jobs: SyncSender<Job>,
    done: Receiver<Result<u64, String>>,
    in_flight: Option<InFlight>,
}

impl NodeApp {
    /// An application proposing as `proposer`, resuming at the last durable block; starts the
    /// committer thread.
    pub fn new(node: Arc<NodeState>, proposer: PublicKey) -> Result<NodeApp, AppError> {
        let tip = durable_tip(&node)?;
        let (jobs, job_rx) = sync_channel::<Job>(1);
        let (done_tx, done) = sync_channel(1);
        let committer_node = node.clone();
        std::thread::Builder::new()
            .name("depin-committer".into())
            .spawn(move || committer(committer_node, job_rx, done_tx))
            .map_err(|e| AppError::Commit {
                height: tip.0,
                reason: e.to_string(),
            })?;
        Ok(NodeApp {
            node,
            proposer,
            executed: None,
            tip,
            jobs,
            done,
            in_flight: None,
        })
    }

    /// The node this application produces for.
    pub fn node(&self) -> &Arc<NodeState> {
        &self.node
    }

    /// The key blocks are proposed as.
    pub fn proposer(&self) -> PublicKey {
        self.proposer
    }

    /// Ids of the transactions in the block on its way to disk (not to be proposed again).
    pub fn in_flight_ids(&self) -> BTreeSet<Hash32> {
        self.in_flight
            .as_ref()
            .map(|f| f.ids.clone())
            .unwrap_or_default()
    }

    /// Waits until every finalized block is durable.
    pub fn flush(&mut self) -> Result<(), AppError> {
        let Some(f) = self.in_flight.take() else {
            return Ok(());
        };
        match self.done.recv() {
            Ok(Ok(h)) => {
                assert_eq!(h, f.height, "the committer reports blocks in order");
                Ok(())
            }
            Ok(Err(reason)) => self.abandon(f.height, reason),
            Err(_) => self.abandon(f.height, "committer thread stopped".into()),
        }
    }

    /// A commit failed: forget the staged block and everything built on it; its transactions
    /// are still in the mempool and will be proposed again on top of durable state.
    fn abandon(&mut self, height: u64, reason: String) -> Result<(), AppError> {
        self.node.db.unstage();
        self.executed = None;
        self.tip = durable_tip(&self.node)?;
        Err(AppError::Commit { height, reason })
    }

    fn execute<T: std::borrow::Borrow<VerifiedTx>>(
        &self,
        header_in: (u64, u64, PublicKey),
        txs: &[T],
        mode: BlockMode,
    ) -> Result<(BlockHeader, Executed, Vec<usize>), AppError> {
        let (height, time_ms, proposer) = header_in;
        assert_eq!(
            height,
            self.tip.0.saturating_add(1),
            "blocks extend the last finalized block"
        );
        let snap = self.node.db.snapshot_ahead()?;
        assert_eq!(
            snap.height(),
            self.tip.0,
            "execution sees the last finalized block"
        );
        let ctx = BlockContext {
            chain_id: self.node.genesis.chain_id.clone(),
            height,
            time_ms,
            proposer,
        };
        let started = std::time::Instant::now();
        let out = exec::execute_block(&snap, &ctx, &self.node.modules, txs, mode)?;
        let executed_at = std::time::Instant::now();
        let pending = self.node.db.compute_root_on(&snap, &out.writes, height)?;
        tracing::debug!(
            height,
            txs = txs.len(),
            writes = out.writes.len(),
            execute_ms = millis(executed_at - started),
            root_ms = millis(executed_at.elapsed()),
            "block executed"
        );
        let header = BlockHeader {
            chain_id: ctx.chain_id,
            height,
            time_ms,
            parent_hash: self.tip.1,
            proposer,
            tx_root: tx_root_of_ids(out.included.iter().map(|i| txs[*i].borrow().id())),
            state_root: pending.root(),
            tx_count: u32::try_from(out.included.len()).expect("bounded by max_block_txs"),
        };
        let dropped = out
            .dropped
            .iter()
            .map(|(i, e)| (txs[*i].borrow().id(), e.code().to_string(), e.to_string()))
            .collect();
        let executed = Executed {
            hash: header.hash(),
            writes: Arc::new(out.writes),
            pending,
            receipts: out.receipts,
            dropped,
        };
        Ok((header, executed, out.included))
    }
}

/// `block`'s transactions with their signatures batch-verified.
///
/// Errors: [`AppError::Rejected`] naming the first transaction that does not verify.
pub fn verified_txs(block: &Block) -> Result<Vec<VerifiedTx>, AppError> {
    let verified: Result<Vec<VerifiedTx>, _> = depin_ledger::verify_batch(block.txs.clone())
        .into_iter()
        .collect();
    verified.map_err(|e| AppError::Rejected {
        height: block.header.height,
        reason: e.to_string(),
    })
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn durable_tip(node: &NodeState) -> Result<(u64, Hash32), AppError> {
    let h = node.db.height()?;
    if h == 0 {
        return Ok((0, Hash32::ZERO));
    }
    let header = node.db.header(h)?.ok_or(AppError::Rejected {
        height: h,
        reason: "missing block".into(),
    })?;
    Ok((h, header.hash()))
}

impl Application for NodeApp {
    type Error = AppError;

    fn last_finalized(&self) -> Result<(u64, Hash32), AppError> {
        Ok(self.tip)
    }

    fn propose(&mut self, time_ms: u64) -> Result<Block, AppError> {
        if self.in_flight.as_ref().is_some_and(|f| !f.staged) {
            self.flush()?;
        }
        let max = self.node.params.max_block_txs as usize;
        let skip = self.in_flight.as_ref().map(|f| &f.ids);
        let candidates = self.node.mempool().select(max, skip);
        let height = self.tip.0.saturating_add(1);
        let (header, executed, included) = self.execute(
            (height, time_ms, self.proposer),
            &candidates,
            BlockMode::Build,
        )?;
        let txs = included
            .into_iter()
            .map(|i| candidates[i].tx().clone())
            .collect();
        self.executed = Some(executed);
        Ok(Block { header, txs })
    }

    fn verify(&mut self, block: &Block) -> Result<(), AppError> {
        if self.in_flight.as_ref().is_some_and(|f| !f.staged) {
            self.flush()?;
        }
        let txs = verified_txs(block)?;
        let h = &block.header;
        let (header, executed, _) =
            self.execute((h.height, h.time_ms, h.proposer), &txs, BlockMode::Verify)?;
        if header != block.header {
            return Err(AppError::Rejected {
                height: header.height,
                reason: "state or tx root differs".into(),
            });
        }
        self.executed = Some(executed);
        Ok(())
    }

    fn finalize(&mut self, block: Block) -> Result<(), AppError> {
        let h = block.header.height;
        if h <= self.tip.0 {
            return self.check_already_final(&block);
        }
        if self.executed.as_ref().map(|e| e.hash) != Some(block.header.hash()) {
            self.verify(&block)?;
        }
        let executed = self.executed.take().expect("verify or propose filled it");
        self.flush()?;
        let staged = self
            .node
            .db
            .stage(h, executed.writes.clone(), &executed.pending);
        let mut ids: BTreeSet<Hash32> = executed.receipts.iter().map(|r| r.tx_id).collect();
        ids.extend(executed.dropped.iter().map(|d| d.0));
        let hash = block.header.hash();
        let job = Job { block, executed };
        self.jobs.send(job).map_err(|_| AppError::Commit {
            height: h,
            reason: "committer thread stopped".into(),
        })?;
        self.in_flight = Some(InFlight {
            height: h,
            ids,
            staged,
        });
        self.tip = (h, hash);
        Ok(())
    }
}

impl NodeApp {
    /// Finalizing an already final height is a no-op for the same block, an error otherwise.
    fn check_already_final(&mut self, block: &Block) -> Result<(), AppError> {
        let h = block.header.height;
        let same = if h == self.tip.0 {
            self.tip.1 == block.header.hash()
        } else {
            self.node
                .db
                .header(h)?
                .is_some_and(|x| x.hash() == block.header.hash())
        };
        if same {
            return Ok(());
        }
        Err(AppError::Rejected {
            height: h,
            reason: "a different block is final at this height".into(),
        })
    }
}

/// The committer thread: makes each block durable, then updates the mempool and metrics.
fn committer(node: Arc<NodeState>, jobs: Receiver<Job>, done: SyncSender<Result<u64, String>>) {
    while let Ok(Job { block, executed }) = jobs.recv() {
        let h = block.header.height;
        let started = std::time::Instant::now();
        let result = node.db.commit_block(
            &block,
            &executed.writes,
            executed.pending,
            &executed.receipts,
        );
        let verdict = match result {
            Ok(()) => {
                metrics::histogram!("depin_block_commit_seconds")
                    .record(started.elapsed().as_secs_f64());
                tracing::debug!(
                    height = h,
                    commit_ms = millis(started.elapsed()),
                    "block committed"
                );
                published(&node, &block, &executed.receipts, &executed.dropped);
                Ok(h)
            }
            Err(e) => {
                tracing::error!(height = h, error = %e, "block commit failed");
                Err(e.to_string())
            }
        };
        if done.send(verdict).is_err() {
            return;
        }
    }
}

/// After a block is durable: its transactions leave the mempool (dropped ones with their
/// reason), and the metrics move.
fn published(
    node: &NodeState,
    block: &Block,
    receipts: &[Receipt],
    dropped: &[(Hash32, String, String)],
) {
    let mut mempool = node.mempool();
    mempool.remove_committed(receipts.iter().map(|r| &r.tx_id));
    for (id, code, message) in dropped {
        mempool.drop_tx(id, code, message);
        metrics::counter!("depin_txs_dropped_total", "code" => code.clone()).increment(1);
    }
    metrics::gauge!("depin_mempool_txs").set(mempool.len() as f64);
    metrics::gauge!("depin_height").set(block.header.height as f64);
    metrics::counter!("depin_blocks_total").increment(1);
    metrics::counter!("depin_txs_committed_total").increment(u64::from(block.header.tx_count));
}
