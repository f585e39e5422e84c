//! Re-executing a chain from genesis: every block of a source database is verified and
//! finalized into a fresh database, exactly as a BFT validator would, and its state root is
//! compared with the header's. Used by `depin node replay` and the crash tests.

use crate::admission::NodeState;
use crate::blocks::{AppError, NodeApp};
use crate::mempool::MempoolLimits;
use depin_consensus::Application;
use depin_db::{Db, DbError};
use depin_types::{Genesis, Hash32};
use std::sync::Arc;

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    /// Blocks replayed.
    pub height: u64,
    /// State root after the last block, recomputed.
    pub state_root: Hash32,
    /// The source database's root at the same height.
    pub source_root: Hash32,
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A block did not re-execute to its header's state root (or did not verify).
    #[error(transparent)]
    Block(#[from] AppError),
    /// A block is missing from the source.
    #[error("source database has no block {height}")]
    Missing {
        /// The height.
        height: u64,
    },
}

/// Replays every block of `src` into the empty database `dst`, starting from `genesis`.
pub fn replay(src: &Db, dst: Arc<Db>, genesis: &Genesis) -> Result<ReplayReport, ReplayError> {
    dst.init_genesis(genesis)?;
    let limits = MempoolLimits {
        max_txs: 1,
        max_per_account: 1,
    };
    let state = Arc::new(NodeState::new(dst.clone(), genesis.clone(), limits));
    let mut app = NodeApp::new(state, genesis.producer_key())?;
    let top = src.height()?;
    for h in 1..=top {
        let block = src.block(h)?.ok_or(ReplayError::Missing { height: h })?;
        app.verify(&block)?;
        app.finalize(block)?;
    }
    app.flush()?;
    Ok(ReplayReport {
        height: top,
        state_root: dst.state_root(top)?,
        source_root: src.state_root(top)?,
    })
}
