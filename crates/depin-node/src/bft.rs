//! The node as a BFT validator (feature `bft`): [`BftChain`] is the ledger the commonware
//! driver in `depin-consensus` calls, and [`spawn_validator`] runs that driver on its own thread.
//!
//! A proposal may extend blocks that are notarized but not final. Those ancestors are executed
//! on an overlay of the finalized state (nothing staged, nothing written) and the block on top;
//! its state root is the tree root of the finalized state plus all their writes. A block that
//! extends the finalized tip goes through [`NodeApp`]'s pipelined path unchanged.

use crate::admission::NodeState;
use crate::blocks::{verified_txs, AppError, NodeApp};
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
    /// The last finalized blocks, with their hashes (answers to peers' fetches).
    recent: VecDeque<(Hash32, Block)>,
    /// This validator's key: it signs the slashing transactions of the equivocations it sees.
    key: SecretKey,
}

impl BftChain {
    /// The chain over `node`, proposing as `proposer`.
    pub fn new(node: Arc<NodeState>, key: SecretKey) -> Result<BftChain, AppError> {
        let app = NodeApp::new(node.clone(), key.public())?;
        let (height, _) = app.last_finalized()?;
        let tip_time_ms = match node.db.header(height)? {
            Some(h) => h.time_ms,
            None => node.genesis.genesis_time_ms,
        };
        Ok(BftChain {
            app,
            tip_time_ms,
            recent: VecDeque::new(),
            key,
        })
    }

    /// Refuses a block carrying a slashing transaction whose proof does not hold.
    fn check_slashes(&self, block: &Block) -> Result<(), AppError> {
        for tx in &block.txs {
            self.app
                .node()
                .check_evidence(tx)
                .map_err(|r| AppError::Rejected {
                    height: block.header.height,
                    reason: r.to_string(),
                })?;
        }
        Ok(())
    }

    /// Signs and admits (then gossips) the transaction slashing `e`'s validator.
    fn submit_slash(&self, e: &Equivocation) -> Result<Hash32, crate::admission::Rejection> {
        let node = self.app.node();
        let snap = node
            .db
            .snapshot()
            .map_err(crate::admission::Rejection::internal)?;
        let committed = depin_ledger::components::bank::account(&snap, &self.key.public())
            .map_err(crate::admission::Rejection::internal)?
            .nonce;
        let nonce = node.mempool().next_nonce(&self.key.public(), committed);
        let action = depin_types::tx::StakingAction::SlashValidator {
            validator: PublicKey(e.validator),
            view: e.view,
            kind: e.kind.to_string(),
            proof: e.proof.clone(),
        };
        let tx = depin_types::tx::Transaction {
            chain_id: node.genesis.chain_id.clone(),
            signer: self.key.public(),
            nonce,
            fee: node.params.min_fee_bones,
            action: depin_types::tx::Action::Staking(action),
        }
        .sign(&self.key);
        let bytes = borsh::to_vec(&tx).expect("writing to a Vec cannot fail");
        node.admit_batch(&[bytes.as_slice()])
            .pop()
            .unwrap_or_else(|| Err(crate::admission::Rejection::internal("no verdict")))
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
            let verified = verified_txs(a)?;
            let ctx = self.context(a.header.height, a.header.time_ms, a.header.proposer);
            let out =
                exec::execute_block(&overlay, &ctx, &node.modules, &verified, BlockMode::Verify)?;
            overlay.apply(out.writes);
            parent = (a.header.height, a.header.hash());
        }
        let (time_ms, proposer) = header_in;
        let height = parent.0 + 1;
        let ctx = self.context(height, time_ms, proposer);
        let out = exec::execute_block(&overlay, &ctx, &node.modules, txs, mode)?;
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
        if let Some((_, b)) = self.recent.iter().find(|(h, _)| h == hash) {
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
        self.check_slashes(block)?;
        if ancestors.is_empty() {
            return self.app.verify(block);
        }
        let txs = verified_txs(block)?;
        let h = &block.header;
        let (header, _) =
            self.speculate(ancestors, (h.time_ms, h.proposer), &txs, BlockMode::Verify)?;
        if header != block.header {
            return Err(AppError::Rejected {
                height: block.header.height,
                reason: "state or tx root differs".into(),
            });
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
        self.recent.push_back((block.header.hash(), block));
        Ok(())
    }

    fn evidence(&mut self, evidence: Equivocation) {
        match self.submit_slash(&evidence) {
            Ok(id) => {
                tracing::warn!(tx = %id, view = evidence.view, "slashing transaction submitted")
            }
            Err(r) => tracing::warn!(reason = %r, "slashing transaction refused"),
        }
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

impl From<Equivocation> for crate::admission::EvidenceRecord {
    fn from(e: Equivocation) -> Self {
        crate::admission::EvidenceRecord {
            validator: PublicKey(e.validator),
            view: e.view,
            kind: e.kind.to_string(),
            proof_hex: hex::encode(&e.proof),
        }
    }
}

/// Makes `node` check equivocation proofs against `validators` under `namespace` (at
/// admission and in every block it votes on).
pub fn install_evidence_check(
    node: &NodeState,
    namespace: Vec<u8>,
    validators: Vec<bft::ValidatorKey>,
) {
    node.set_evidence_check(Box::new(move |kind, proof| {
        bft::verify_equivocation(&namespace, &validators, kind, proof)
            .map(|(key, view)| (PublicKey(key), view))
            .map_err(|e| e.to_string())
    }));
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
    install_evidence_check(&node, config.namespace.clone(), config.validators.clone());
    let chain = BftChain::new(node, setup.key.clone())?;
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

#[cfg(all(test, feature = "sim"))]
#[allow(clippy::unwrap_used)] // test code: failing loudly is the point
mod tests {
    use super::*;
    use crate::mempool::MempoolLimits;
    use depin_types::genesis::{Allocation, GenesisValidator};
    use depin_types::{Address, Amount, ChainParams, Genesis, Network};

    fn keys() -> Vec<SecretKey> {
        (0..4u8)
            .map(|i| SecretKey::from_seed([10 + i; 32]))
            .collect()
    }

    fn genesis() -> Genesis {
        let addr = |k: &SecretKey| Address::new(Network::Devnet, k.public());
        Genesis {
            chain_id: "slash".into(),
            network: Network::Devnet,
            genesis_time_ms: 0,
            producer: addr(&keys()[0]),
            params: ChainParams::default(),
            allocations: keys()
                .iter()
                .map(|k| Allocation {
                    address: addr(k),
                    amount_bones: Amount(1_000_000_000),
                })
                .collect(),
            makers: vec![],
            device_classes: vec![],
            rewards: None,
            validators: keys()
                .iter()
                .map(|k| GenesisValidator {
                    address: addr(k),
                    stake_bones: Amount(1_000_000),
                })
                .collect(),
        }
    }

    fn validator_keys() -> Vec<bft::ValidatorKey> {
        keys()
            .iter()
            .map(|k| bft::process::validator_key(k.public().0).unwrap())
            .collect()
    }

    fn node(dir: &std::path::Path) -> Arc<NodeState> {
        let db = Arc::new(depin_db::Db::open(&dir.join("db.redb"), &Default::default()).unwrap());
        db.init_genesis(&genesis()).unwrap();
        let limits = MempoolLimits {
            max_txs: 100,
            max_per_account: 10,
        };
        let node = Arc::new(NodeState::new(db, genesis(), limits));
        install_evidence_check(&node, b"slash".to_vec(), validator_keys());
        node
    }

    fn stake_of(node: &NodeState, who: &SecretKey) -> Amount {
        let snap = node.db.snapshot().unwrap();
        depin_ledger::components::staking::stake(&snap, &who.public())
            .unwrap()
            .bonded
    }

    #[test]
    fn an_equivocation_becomes_a_slashing_transaction_that_every_validator_checks_and_applies() {
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (na, nb) = (node(da.path()), node(db.path()));
        let k = keys();
        let mut a = BftChain::new(na.clone(), k[0].clone()).unwrap();
        let mut b = BftChain::new(nb.clone(), k[1].clone()).unwrap();
        let offender = bft::process::validator_secret(k[3].seed()).unwrap();
        let proof =
            bft::forge_conflicting_notarize(b"slash", &validator_keys(), &offender, 5).unwrap();
        a.evidence(Equivocation {
            validator: k[3].public().0,
            view: 5,
            kind: "conflicting_notarize",
            proof: proof.clone(),
        });
        assert_eq!(na.mempool().len(), 1, "the slashing transaction is pending");
        assert_eq!(na.evidence().len(), 1);
        let block = a.build(&[], 1_000).unwrap();
        assert_eq!(block.txs.len(), 1);
        b.check(&[], &block).unwrap();
        a.finalize(block.clone()).unwrap();
        b.finalize(block).unwrap();
        a.app.flush().unwrap();
        b.app.flush().unwrap();
        for n in [&na, &nb] {
            assert_eq!(
                stake_of(n, &k[3]),
                Amount(950_000),
                "5 % of the stake burned"
            );
            assert_eq!(stake_of(n, &k[2]), Amount(1_000_000), "others untouched");
        }

        let mut forged = proof;
        let last = forged.len() - 1;
        forged[last] ^= 1;
        let tx = depin_types::tx::Transaction {
            chain_id: "slash".into(),
            signer: k[1].public(),
            nonce: 0,
            fee: ChainParams::default().min_fee_bones,
            action: depin_types::tx::Action::Staking(
                depin_types::tx::StakingAction::SlashValidator {
                    validator: k[3].public(),
                    view: 6,
                    kind: "conflicting_notarize".into(),
                    proof: forged,
                },
            ),
        }
        .sign(&k[1]);
        let bytes = borsh::to_vec(&tx).unwrap();
        let verdict = nb.admit_batch(&[bytes.as_slice()]).pop().unwrap();
        assert_eq!(verdict.unwrap_err().code, "invalid_evidence");
    }
}
