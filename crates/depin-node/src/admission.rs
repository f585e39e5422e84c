//! The node's shared state and transaction admission (decode, stateless checks, batch
//! signature verification, nonce and CheckTx-style checks, mempool).

use crate::mempool::{Mempool, MempoolError, MempoolLimits};
use depin_db::Db;
use depin_ledger::exec::{self, check_stateless, BlockContext};
use depin_ledger::module::ModuleRegistry;
use depin_ledger::{components::bank, ReasonCode, StateRead, TxError, VerifiedTx};
use depin_types::block::Receipt;
use depin_types::{ChainParams, Genesis, Hash32, SignedTransaction};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// A refused submission: HTTP status, stable reason code, detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Rejection {
    /// HTTP status (4xx, or 5xx for the node's own failures).
    pub status: u16,
    /// Stable reason code.
    pub code: String,
    /// Detail.
    pub message: String,
}

impl Rejection {
    /// A rejection with this HTTP status, reason code and detail.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Rejection {
        Rejection {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    fn from_tx(e: &TxError) -> Rejection {
        let status = match e {
            TxError::Stateless(depin_ledger::error::StatelessError::TooLarge { .. }) => 413,
            TxError::State(_) => 500,
            _ => 400,
        };
        Rejection::new(status, e.code(), e.to_string())
    }

    fn from_mempool(e: &MempoolError) -> Rejection {
        let status = match e {
            MempoolError::Full { .. } | MempoolError::AccountFull { .. } => 429,
            MempoolError::AlreadyPending => 409,
            MempoolError::NonceGap { .. } => 400,
        };
        Rejection::new(status, e.code(), e.to_string())
    }

    /// A 500 `internal_error` rejection.
    pub fn internal(e: impl std::fmt::Display) -> Rejection {
        Rejection::new(500, "internal_error", e.to_string())
    }
}

/// State shared by the API handlers and the block producer.
pub struct NodeState {
    /// Storage.
    pub db: Arc<Db>,
    /// Pending transactions.
    pub mempool: Mutex<Mempool>,
    /// The genesis document.
    pub genesis: Genesis,
    /// Chain parameters.
    pub params: ChainParams,
    /// The chain's modules' ledger components (those the database was opened with).
    pub modules: ModuleRegistry,
    /// Signature verifications running at once: one per core, so concurrent requests do not
    /// share a core's cache between two batch verifiers.
    verify_slots: Slots,
    /// Transactions admitted through the API, waiting to be sent to the other validators
    /// (BFT only; `None` on a solo node).
    gossip: Mutex<Option<VecDeque<SignedTransaction>>>,
    /// Equivocations consensus reported, oldest first (at most [`MAX_EVIDENCE`]).
    evidence: Mutex<Vec<EvidenceRecord>>,
    /// Checks an equivocation proof (kind, bytes) and names its validator and view; set by a
    /// BFT validator. Without it, slashing transactions are refused at admission.
    evidence_check: std::sync::OnceLock<EvidenceCheck>,
}

/// An equivocation-proof checker: `(kind, proof)` → the offender and the view, or why not.
pub type EvidenceCheck =
    Box<dyn Fn(&str, &[u8]) -> Result<(depin_types::PublicKey, u64), String> + Send + Sync>;

/// Most admitted transactions waiting to be gossiped; older ones are dropped first (the
/// validator that admitted them still proposes them when it leads).
pub const MAX_GOSSIP_QUEUE: usize = 100_000;
/// Most equivocation records kept.
pub const MAX_EVIDENCE: usize = 1_024;

/// One equivocation reported by BFT consensus.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EvidenceRecord {
    /// The offending validator's key.
    pub validator: depin_types::PublicKey,
    /// The consensus view.
    pub view: u64,
    /// `conflicting_notarize`, `conflicting_finalize` or `nullify_finalize`.
    pub kind: String,
    /// The two signed votes (consensus encoding), hex.
    pub proof_hex: String,
}

/// A counting semaphore for CPU-bound work on blocking threads.
struct Slots {
    free: Mutex<usize>,
    freed: std::sync::Condvar,
}

/// A held slot; released on drop.
struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(n: usize) -> Slots {
        assert!(n > 0, "at least one slot");
        Slots {
            free: Mutex::new(n),
            freed: std::sync::Condvar::new(),
        }
    }

    fn acquire(&self) -> Slot<'_> {
        let mut free = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *free == 0 {
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self
            .0
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}

impl NodeState {
    /// Opens the node's state over an initialised database.
    pub fn new(db: Arc<Db>, genesis: Genesis, limits: MempoolLimits) -> NodeState {
        let params = genesis.params.clone();
        NodeState {
            modules: db.modules().clone(),
            db,
            mempool: Mutex::new(Mempool::new(limits)),
            genesis,
            params,
            verify_slots: Slots::new(std::thread::available_parallelism().map_or(1, |n| n.get())),
            gossip: Mutex::new(None),
            evidence: Mutex::new(Vec::new()),
            evidence_check: std::sync::OnceLock::new(),
        }
    }

    /// Installs the equivocation-proof checker (once; later calls are ignored).
    pub fn set_evidence_check(&self, check: EvidenceCheck) {
        let _ = self.evidence_check.set(check);
    }

    /// Whether `tx`, if it slashes a validator, carries a proof of exactly that validator and
    /// view. Other transactions pass.
    ///
    /// Errors: a 400 `invalid_evidence` rejection (also when this node cannot check proofs).
    pub fn check_evidence(&self, tx: &SignedTransaction) -> Result<(), Rejection> {
        use depin_types::tx::{Action, StakingAction};
        let Action::Staking(StakingAction::SlashValidator {
            validator,
            view,
            kind,
            proof,
        }) = &tx.tx.action
        else {
            return Ok(());
        };
        let reject = |m: String| Rejection::new(400, "invalid_evidence", m);
        let check = self
            .evidence_check
            .get()
            .ok_or_else(|| reject("this node does not check equivocation proofs".into()))?;
        let (who, at) = check(kind, proof).map_err(reject)?;
        if who != *validator || at != *view {
            return Err(reject(format!(
                "the proof is against {who} in view {at}, not {validator} in view {view}"
            )));
        }
        Ok(())
    }

    /// Starts queueing API-admitted transactions for the other validators.
    pub fn enable_gossip(&self) {
        let mut g = self
            .gossip
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.get_or_insert_with(VecDeque::new);
    }

    /// Up to `max` queued transactions, oldest first.
    pub fn take_gossip(&self, max: usize) -> Vec<SignedTransaction> {
        let mut g = self
            .gossip
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(q) = g.as_mut() else {
            return Vec::new();
        };
        let n = q.len().min(max);
        q.drain(..n).collect()
    }

    fn queue_gossip(&self, tx: &SignedTransaction) {
        let mut g = self
            .gossip
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(q) = g.as_mut() {
            if q.len() >= MAX_GOSSIP_QUEUE {
                q.pop_front();
            }
            q.push_back(tx.clone());
        }
    }

    /// Records an equivocation (kept for the API and counted in metrics).
    pub fn record_evidence(&self, e: impl Into<EvidenceRecord>) {
        let e = e.into();
        tracing::warn!(validator = %e.validator, view = e.view, kind = %e.kind, "equivocation");
        metrics::counter!("depin_equivocations_total").increment(1);
        let mut list = self
            .evidence
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if list.len() < MAX_EVIDENCE {
            list.push(e);
        }
    }

    /// The equivocations recorded so far.
    pub fn evidence(&self) -> Vec<EvidenceRecord> {
        self.evidence
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Locks the mempool (a poisoned lock means a panic elsewhere; keep serving).
    pub fn mempool(&self) -> MutexGuard<'_, Mempool> {
        self.mempool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Decodes a borsh transaction, distinguishing truncated from otherwise malformed input.
    pub fn decode(&self, bytes: &[u8]) -> Result<SignedTransaction, Rejection> {
        let limit = self.params.max_tx_bytes as usize;
        if bytes.len() > limit {
            return Err(Rejection::new(
                413,
                "tx_too_large",
                format!("transaction is {} bytes, limit {limit}", bytes.len()),
            ));
        }
        borsh::from_slice(bytes).map_err(|e| {
            let msg = e.to_string();
            if e.kind() == std::io::ErrorKind::UnexpectedEof
                || msg.contains("Unexpected length of input")
            {
                Rejection::new(
                    400,
                    "truncated_tx",
                    format!("transaction bytes end early: {msg}"),
                )
            } else {
                Rejection::new(
                    400,
                    "malformed_tx",
                    format!("transaction does not decode: {msg}"),
                )
            }
        })
    }

    /// Admits encoded transactions: decode, stateless checks, one batch signature
    /// verification, replay and nonce checks, CheckTx, mempool. One verdict per input.
    pub fn admit_batch(&self, items: &[&[u8]]) -> Vec<Result<Hash32, Rejection>> {
        self.admit(items, true)
    }

    /// As [`NodeState::admit_batch`], for transactions another validator gossiped (they are
    /// not gossiped again).
    pub fn admit_from_peer(&self, items: &[&[u8]]) -> Vec<Result<Hash32, Rejection>> {
        self.admit(items, false)
    }

    fn admit(&self, items: &[&[u8]], gossip: bool) -> Vec<Result<Hash32, Rejection>> {
        let gossip = gossip
            && self
                .gossip
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .is_some();
        let mut verdicts: Vec<Result<Hash32, Rejection>> = Vec::with_capacity(items.len());
        let mut to_verify = Vec::new();
        let mut slots = Vec::new();
        for (i, bytes) in items.iter().enumerate() {
            let checked = self.decode_checked(bytes);
            match checked {
                Ok(stx) => {
                    verdicts.push(Ok(Hash32::ZERO)); // replaced below, after verification
                    to_verify.push((stx, *bytes));
                    slots.push(i);
                }
                Err(r) => verdicts.push(Err(r)),
            }
        }
        let verified = {
            let _slot = self.verify_slots.acquire();
            depin_ledger::exec::verify_batch_encoded(to_verify)
        };
        // Lock first, then read the state: the snapshot is then never older than the mempool's
        // view (the producer commits a block before it removes the block's transactions).
        let mut mempool = self.mempool();
        let snap = match self.db.snapshot() {
            Ok(s) => s,
            Err(e) => return items.iter().map(|_| Err(Rejection::internal(&e))).collect(),
        };
        for (slot, v) in slots.into_iter().zip(verified) {
            verdicts[slot] = match v {
                Ok(vtx) => self.check_evidence(vtx.tx()).and_then(|()| {
                    let tx = gossip.then(|| vtx.tx().clone());
                    let verdict = self.admit_verified(&snap, &mut mempool, vtx);
                    if let (Ok(_), Some(tx)) = (&verdict, tx) {
                        self.queue_gossip(&tx);
                    }
                    verdict
                }),
                Err(e) => Err(Rejection::from_tx(&e)),
            };
        }
        verdicts
    }

    fn admit_verified(
        &self,
        snap: &depin_db::Snapshot,
        mempool: &mut Mempool,
        vtx: VerifiedTx,
    ) -> Result<Hash32, Rejection> {
        let id = vtx.id();
        let signer = vtx.tx().tx.signer;
        let acct = bank::account(snap, &signer).map_err(Rejection::internal)?;
        if vtx.tx().tx.nonce < acct.nonce {
            // Only a used nonce can be a replay, so only then look the id up.
            if snap.has_receipt(&id).map_err(Rejection::internal)? {
                let msg = format!("transaction {id} is already in a block");
                return Err(Rejection::new(409, "tx_already_committed", msg));
            }
            let expected = acct.nonce;
            let e: TxError = bank::BankError::NonceTooLow {
                expected,
                got: vtx.tx().tx.nonce,
            }
            .into();
            return Err(Rejection::from_tx(&e));
        }
        if mempool.contains(&id) {
            return Err(Rejection::from_mempool(&MempoolError::AlreadyPending));
        }
        if mempool.pending_count(&signer) == 0 {
            let ctx = self.next_context(
                snap.height().saturating_add(1),
                depin_types::wall_clock_ms(),
            );
            exec::check_admission(snap, &ctx, &self.modules, &self.params, &vtx)
                .map_err(|e| Rejection::from_tx(&e))?;
        } else {
            let needed = mempool
                .pending_fees(&signer)
                .checked_add(vtx.tx().tx.fee)
                .unwrap_or(depin_types::Amount(u128::MAX));
            if acct.balance < needed {
                let e: TxError = bank::BankError::InsufficientFunds {
                    balance: acct.balance.bones(),
                    needed: needed.bones(),
                }
                .into();
                return Err(Rejection::from_tx(&e));
            }
        }
        mempool
            .insert(vtx, acct.nonce)
            .map_err(|e| Rejection::from_mempool(&e))?;
        metrics::counter!("depin_txs_admitted_total").increment(1);
        Ok(id)
    }

    /// Decodes an encoded transaction and runs the stateless checks but signatures (as the
    /// ledger's [`check_stateless`], with this chain's modules).
    fn decode_checked(&self, bytes: &[u8]) -> Result<SignedTransaction, Rejection> {
        let stx = self.decode(bytes)?;
        let (chain, params) = (&self.genesis.chain_id, &self.params);
        check_stateless(&stx, bytes.len(), chain, params, &self.modules)
            .map_err(|e| Rejection::from_tx(&e.into()))?;
        Ok(stx)
    }

    /// Simulates an encoded transaction as the signer's next one (its nonce must be the
    /// committed nonce); nothing is kept.
    pub fn simulate(&self, bytes: &[u8]) -> Result<Receipt, Rejection> {
        let stx = self.decode_checked(bytes)?;
        let vtx = match depin_ledger::verify_batch(vec![stx]).pop() {
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(Rejection::from_tx(&e)),
            None => return Err(Rejection::internal("verifier returned nothing")),
        };
        let snap = self.db.snapshot().map_err(Rejection::internal)?;
        let ctx = self.next_context(
            snap.height().saturating_add(1),
            depin_types::wall_clock_ms(),
        );
        exec::simulate(&snap, &ctx, &self.modules, &vtx).map_err(|e| Rejection::from_tx(&e))
    }

    /// The context admission checks run in: the next height, stamped with the time the solo
    /// driver would give it now (block time is never below the wall clock at proposal).
    fn next_context(&self, height: u64, time_ms: u64) -> BlockContext {
        BlockContext {
            chain_id: self.genesis.chain_id.clone(),
            height,
            time_ms,
            proposer: self.genesis.producer_key(),
        }
    }
}

/// Reads `key` from the latest state (helper for the API).
pub fn read_latest<T: borsh::BorshDeserialize>(
    db: &Db,
    key: &[u8],
) -> Result<Option<T>, Rejection> {
    let snap = db.snapshot().map_err(Rejection::internal)?;
    let raw = snap.get_raw(key).map_err(Rejection::internal)?;
    raw.map(|b| borsh::from_slice(&b).map_err(Rejection::internal))
        .transpose()
}
