//! The node as a BFT validator (feature `bft`): [`BftChain`] is the ledger the commonware
//! driver in `depin-consensus` calls, and [`spawn_validator`] runs that driver on its own thread.
//!
//! A proposal may extend blocks that are notarized but not final. Those ancestors are executed
//! on an overlay of the finalized state (nothing staged, nothing written) and the block on top;
//! its state root is the tree root of the finalized state plus all their writes. A block that
//! extends the finalized tip goes through [`NodeApp`]'s pipelined path unchanged.

use crate::app::NodeState;
use crate::producer::{AppError, NodeApp};
use depin_consensus::bft::{self, Chain, Equivocation};
use depin_consensus::Application as _;
use depin_ledger::exec::{self, BlockContext, BlockMode};
use depin_ledger::state::Overlay;
use depin_ledger::VerifiedTx;
use depin_types::block::tx_root_of_ids;
use depin_types::{Block, BlockHeader, Hash32, PublicKey, SecretKey, SignedTransaction};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Finalized blocks kept in memory to answer peers before they are durable.
pub const RECENT_BLOCKS: usize = 256;

/// How this node runs as a validator.
#[derive(Clone)]
pub struct ValidatorSetup {
    /// The validator's signing key (its public key must be in genesis `validators`).
    pub key: SecretKey,
    /// p2p listen address.
    pub listen: SocketAddr,
    /// Every validator's key and p2p address (this one included).
    pub peers: Vec<(PublicKey, SocketAddr)>,
    /// Directory of the consensus journal.
    pub journal_dir: PathBuf,
    /// Timing; [`bft::Timing::default`] unless set.
    pub timing: bft::Timing,
}

/// The node's ledger as the BFT driver sees it.
pub struct BftChain {
    app: NodeApp,
    tip_time_ms: u64,
    recent: VecDeque<Block>,
}

impl BftChain {
    /// The chain over `node`, proposing as `proposer`.
    pub fn new(node: Arc<NodeState>, proposer: PublicKey) -> Result<BftChain, AppError> {
        let app = NodeApp::new(node.clone(), proposer)?;
        let (height, _) = app.last_finalized()?;
        let tip_time_ms = match node.db.header(height)? {
            Some(h) => h.time_ms,
            None => node.genesis.genesis_time_ms,
        };
        Ok(BftChain {
            app,
            tip_time_ms,
            recent: VecDeque::new(),
        })
    }

    /// Executes `ancestors` then `txs` as the next block on an overlay of the finalized state.
    fn speculate<T: std::borrow::Borrow<VerifiedTx>>(
        &self,
        ancestors: &[Block],
        header_in: (u64, PublicKey),
        txs: &[T],
        mode: BlockMode,
    ) -> Result<(BlockHeader, Vec<usize>), AppError> {
        let node = self.app.node();
        let snap = node.db.snapshot_ahead()?;
        let (tip_height, tip_hash) = self.app.last_finalized()?;
        assert_eq!(
            snap.height(),
            tip_height,
            "execution sees the finalized tip"
        );
        let mut overlay = Overlay::new(&snap);
        let mut parent = (tip_height, tip_hash);
        for a in ancestors {
            let rejected = |reason: &str| AppError::Rejected {
                height: a.header.height,
                reason: reason.into(),
            };
            if a.header.parent_hash != parent.1 || a.header.height != parent.0 + 1 {
                return Err(rejected("ancestor does not extend its parent"));
            }
            let verified: Result<Vec<VerifiedTx>, _> = depin_ledger::verify_batch(a.txs.clone())
                .into_iter()
                .collect();
            let verified = verified.map_err(|e| rejected(&e.to_string()))?;
            let ctx = self.context(a.header.height, a.header.time_ms, a.header.proposer);
            let out = exec::execute_block(&overlay, &ctx, &verified, BlockMode::Verify)?;
            overlay.apply(out.writes);
            parent = (a.header.height, a.header.hash());
        }
        let (time_ms, proposer) = header_in;
        let height = parent.0 + 1;
        let ctx = self.context(height, time_ms, proposer);
        let out = exec::execute_block(&overlay, &ctx, txs, mode)?;
        overlay.apply(out.writes);
        let writes = overlay.into_writes();
        let pending = node.db.compute_root_on(&snap, &writes, snap.height() + 1)?;
        let header = BlockHeader {
            chain_id: ctx.chain_id,
            height,
            time_ms,
            parent_hash: parent.1,
            proposer,
            tx_root: tx_root_of_ids(out.included.iter().map(|i| txs[*i].borrow().id())),
            state_root: pending.root(),
            tx_count: u32::try_from(out.included.len()).expect("bounded by max_block_txs"),
        };
        Ok((header, out.included))
    }

    fn context(&self, height: u64, time_ms: u64, proposer: PublicKey) -> BlockContext {
        BlockContext {
            chain_id: self.app.node().genesis.chain_id.clone(),
            height,
            time_ms,
            proposer,
        }
    }
}

impl Drop for BftChain {
    /// The last finalized block becomes durable before the chain goes away.
    fn drop(&mut self) {
        if let Err(e) = self.app.flush() {
            tracing::error!(error = %e, "last block could not be made durable");
        }
    }
}

impl Chain for BftChain {
    type Error = AppError;

    fn finalized(&self) -> (u64, Hash32, u64) {
        let (h, hash) = self.app.last_finalized().unwrap_or((0, Hash32::ZERO));
        (h, hash, self.tip_time_ms)
    }

    fn finalized_block(&self, hash: &Hash32) -> Option<Block> {
        if let Some(b) = self.recent.iter().find(|b| b.header.hash() == *hash) {
            return Some(b.clone());
        }
        let db = &self.app.node().db;
        let height = db.block_height_by_hash(hash).ok().flatten()?;
        db.block(height).ok().flatten()
    }

    fn build(&mut self, ancestors: &[Block], time_ms: u64) -> Result<Block, AppError> {
        if ancestors.is_empty() {
            return self.app.propose(time_ms);
        }
        let node = self.app.node().clone();
        let mut skip = self.app.in_flight_ids();
        skip.extend(
            ancestors
                .iter()
                .flat_map(|a| a.txs.iter().map(SignedTransaction::id)),
        );
        let candidates = node
            .mempool()
            .select(node.params.max_block_txs as usize, Some(&skip));
        let proposer = self.app.proposer();
        let (header, included) = self.speculate(
            ancestors,
            (time_ms, proposer),
            &candidates,
            BlockMode::Build,
        )?;
        let txs = included
            .into_iter()
            .map(|i| candidates[i].tx().clone())
            .collect();
        Ok(Block { header, txs })
    }

    fn check(&mut self, ancestors: &[Block], block: &Block) -> Result<(), AppError> {
        if ancestors.is_empty() {
            return self.app.verify(block);
        }
        let rejected = |reason: String| AppError::Rejected {
            height: block.header.height,
            reason,
        };
        let verified: Result<Vec<VerifiedTx>, _> = depin_ledger::verify_batch(block.txs.clone())
            .into_iter()
            .collect();
        let txs = verified.map_err(|e| rejected(e.to_string()))?;
        let h = &block.header;
        let (header, _) =
            self.speculate(ancestors, (h.time_ms, h.proposer), &txs, BlockMode::Verify)?;
        if header != block.header {
            return Err(rejected("state or tx root differs".into()));
        }
        Ok(())
    }

    fn finalize(&mut self, block: Block) -> Result<(), AppError> {
        let time_ms = block.header.time_ms;
        self.app.finalize(block.clone())?;
        self.tip_time_ms = time_ms;
        if self.recent.len() >= RECENT_BLOCKS {
            self.recent.pop_front();
        }
        self.recent.push_back(block);
        Ok(())
    }

    fn evidence(&mut self, evidence: Equivocation) {
        self.app.node().record_evidence(evidence);
    }

    fn gossip_out(&mut self, max: usize) -> Vec<SignedTransaction> {
        self.app.node().take_gossip(max)
    }

    fn gossip_in(&mut self, txs: Vec<SignedTransaction>) {
        let encoded: Vec<Vec<u8>> = txs
            .iter()
            .map(|t| borsh::to_vec(t).expect("writing to a Vec cannot fail"))
            .collect();
        let items: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        let _ = self.app.node().admit_from_peer(&items);
    }
}

impl From<Equivocation> for crate::app::EvidenceRecord {
    fn from(e: Equivocation) -> Self {
        crate::app::EvidenceRecord {
            validator: PublicKey(e.validator),
            view: e.view,
            kind: e.kind.to_string(),
            proof_hex: hex::encode(&e.proof),
        }
    }
}

/// Errors of starting a validator.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    /// The chain could not be opened.
    #[error(transparent)]
    App(#[from] AppError),
    /// The validator set or key is unusable.
    #[error(transparent)]
    Bft(#[from] bft::BftError),
    /// Genesis lists no validators.
    #[error("genesis has no validators: `node start --validator` needs a BFT genesis")]
    NoValidators,
}

/// Starts the validator thread: the commonware runtime with simplex, p2p and the driver.
///
/// Errors: [`ValidatorError`] for a genesis without validators, a key outside the set, or a
/// chain that does not open.
pub fn spawn_validator(
    node: Arc<NodeState>,
    setup: ValidatorSetup,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, ValidatorError> {
    let validators: Result<Vec<bft::ValidatorKey>, _> = node
        .genesis
        .validators
        .iter()
        .map(|v| bft::process::validator_key(v.address.key.0))
        .collect();
    let validators = validators?;
    if validators.is_empty() {
        return Err(ValidatorError::NoValidators);
    }
    let peers: Result<Vec<_>, _> = setup
        .peers
        .iter()
        .map(|(k, a)| bft::process::validator_key(k.0).map(|k| (k, *a)))
        .collect();
    let config = bft::Config {
        namespace: node.genesis.chain_id.as_bytes().to_vec(),
        validators,
        key: bft::process::validator_secret(setup.key.seed())?,
        partition: "simplex".into(),
        timing: setup.timing,
    };
    let network = bft::process::Network {
        listen: setup.listen,
        peers: peers?,
        storage_dir: setup.journal_dir.clone(),
        worker_threads: 2,
    };
    node.enable_gossip();
    let chain = BftChain::new(node, setup.key.public())?;
    let thread = std::thread::Builder::new()
        .name("depin-validator".into())
        .spawn(move || {
            if let Err(e) = bft::process::run(config, network, chain, stop) {
                tracing::error!(error = %e, "validator stopped");
            }
        })
        .map_err(|e| AppError::Commit {
            height: 0,
            reason: format!("cannot start the validator thread: {e}"),
        })?;
    Ok(thread)
}
