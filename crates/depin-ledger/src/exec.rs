//! Transaction checks and block execution.
//!
//! 1. Stateless ([`check_stateless`], [`verify_batch`]): chain id, size, fee floor, amount
//!    overflow, and every signature in the transaction (signer, device proof of possession,
//!    maker approval), batch-verified with the ZIP-215 rule. Passing yields a [`VerifiedTx`].
//! 2. Ante: nonce and fee (see `bank::charge_fee_and_nonce`). A transaction failing here cannot
//!    be in a block.
//! 3. Stateful check and execution by the owning component. A failure here rolls the action
//!    back but keeps the fee and nonce, and the receipt records the reason code.

use crate::components::{bank, credits, devices, escrow, rewards, staking, TxContext};
use crate::error::{ReasonCode, StateError, StatelessError, TxError};
use crate::module::ModuleRegistry;
use crate::state::{get, Overlay, StateRead, WriteSet};
use depin_types::block::{Receipt, TxStatus};
use depin_types::tx::{
    device_pop_bytes, maker_approval_bytes, Action, BankAction, DeviceAction, EscrowAction,
    StakingAction, MAX_CLASS_NAME_BYTES, MAX_MODULE_NAME_BYTES,
};
use depin_types::{Amount, BatchVerifier, ChainParams, Hash32, PublicKey, SignedTransaction};

/// State key of the chain id.
pub const CHAIN_ID_KEY: &[u8] = b"chain/id";
/// State key of the chain parameters.
pub const PARAMS_KEY: &[u8] = b"chain/params";
/// State key of the genesis hash.
pub const GENESIS_HASH_KEY: &[u8] = b"chain/genesis_hash";
/// State key of the last applied height (written by every block, so that every block changes
/// the state root).
pub const HEIGHT_KEY: &[u8] = b"chain/height";
/// Batches up to this size are verified on the calling thread; larger ones are split over
/// the cores. (Callers such as the node's admission already run several batches at once, and
/// ed25519 batch verification is near its best per signature at about 1,000 signatures.)
pub const VERIFY_CHUNK: usize = 4_096;

/// A transaction whose stateless checks (signatures included) passed.
#[derive(Clone, Debug)]
pub struct VerifiedTx {
    tx: SignedTransaction,
    id: Hash32,
    encoded_len: usize,
}

impl VerifiedTx {
    /// The transaction.
    pub fn tx(&self) -> &SignedTransaction {
        &self.tx
    }
    /// Its id.
    pub fn id(&self) -> Hash32 {
        self.id
    }
    /// Length of its borsh encoding, in bytes.
    pub fn encoded_len(&self) -> usize {
        self.encoded_len
    }
    /// Gives the transaction back.
    pub fn into_inner(self) -> SignedTransaction {
        self.tx
    }
}

/// Reads the chain parameters. Errors if genesis was never written.
pub fn params(s: &impl StateRead) -> Result<ChainParams, StateError> {
    get(s, PARAMS_KEY)?.ok_or(StateError {
        message: "no chain parameters: state has no genesis".into(),
    })
}

/// Reads the chain id.
pub fn chain_id(s: &impl StateRead) -> Result<String, StateError> {
    get(s, CHAIN_ID_KEY)?.ok_or(StateError {
        message: "no chain id: state has no genesis".into(),
    })
}

/// Reads the last applied height (0 = genesis only).
pub fn height(s: &impl StateRead) -> Result<u64, StateError> {
    Ok(get(s, HEIGHT_KEY)?.unwrap_or(0))
}

/// Stateless checks except signatures. `encoded_len` is the borsh length the transaction
/// arrived with; a module action is checked by its module ([`LedgerModule::check_stateless`]).
///
/// [`LedgerModule::check_stateless`]: crate::module::LedgerModule::check_stateless
pub fn check_stateless(
    stx: &SignedTransaction,
    encoded_len: usize,
    chain_id: &str,
    params: &ChainParams,
    modules: &ModuleRegistry,
) -> Result<(), StatelessError> {
    let tx = &stx.tx;
    if tx.chain_id != chain_id {
        return Err(StatelessError::WrongChainId {
            expected: chain_id.into(),
            got: tx.chain_id.clone(),
        });
    }
    if encoded_len > params.max_tx_bytes as usize {
        return Err(StatelessError::TooLarge {
            size_bytes: encoded_len,
            limit_bytes: params.max_tx_bytes,
        });
    }
    if tx.fee < params.min_fee_bones {
        return Err(StatelessError::FeeTooLow {
            fee: tx.fee.bones(),
            min: params.min_fee_bones.bones(),
        });
    }
    let amount = match &tx.action {
        Action::Bank(BankAction::Transfer { amount, .. })
        | Action::Staking(StakingAction::Bond { amount } | StakingAction::Unbond { amount })
        | Action::Escrow(EscrowAction::Deposit { amount, .. }) => Some(*amount),
        _ => None,
    };
    if let Some(a) = amount {
        if a == Amount::ZERO {
            return Err(StatelessError::ZeroAmount);
        }
        a.checked_add(tx.fee)
            .map_err(|_| StatelessError::AmountOverflow)?;
    }
    match &tx.action {
        Action::Devices(DeviceAction::Onboard(o))
            if o.class.is_empty() || o.class.len() > MAX_CLASS_NAME_BYTES =>
        {
            Err(StatelessError::InvalidClassName)
        }
        Action::Module(m) => {
            let module = modules
                .get(&m.module)
                .ok_or_else(|| StatelessError::UnknownModule {
                    module: m.module.chars().take(MAX_MODULE_NAME_BYTES).collect(),
                })?;
            module
                .check_stateless(&m.body)
                .map_err(StatelessError::Module)
        }
        _ => Ok(()),
    }
}

/// Which signature of a transaction a batch entry is.
#[derive(Clone, Copy)]
enum SigKind {
    Signer,
    Device,
    Maker,
}

/// Queues every signature of `stx`; returns its id and encoded length (computed from the
/// signing bytes, which are built once).
fn queue_signatures(
    stx: &SignedTransaction,
    msg: Vec<u8>,
    batch: &mut BatchVerifier,
    kinds: &mut Vec<SigKind>,
) -> (Hash32, usize) {
    let tx = &stx.tx;
    let id = Hash32::digest(&msg);
    let encoded_len = msg.len() - depin_types::tx::DOMAIN_TX.len() + 64;
    batch.queue_owned(&tx.signer, msg, &stx.signature);
    kinds.push(SigKind::Signer);
    if let Action::Devices(DeviceAction::Onboard(o)) = &tx.action {
        batch.queue(
            &o.device,
            &device_pop_bytes(&tx.chain_id, &o.device, &tx.signer),
            &o.device_signature,
        );
        kinds.push(SigKind::Device);
        let approval = maker_approval_bytes(&tx.chain_id, &o.device, &tx.signer, &o.class);
        batch.queue_owned(&o.maker, approval, &o.maker_signature);
        kinds.push(SigKind::Maker);
    }
    (id, encoded_len)
}

fn sig_error(kind: SigKind, signer: &PublicKey) -> StatelessError {
    match kind {
        SigKind::Signer => StatelessError::InvalidSignature {
            signer: signer.to_hex(),
        },
        SigKind::Device => StatelessError::InvalidDeviceSignature,
        SigKind::Maker => StatelessError::InvalidMakerSignature,
    }
}

/// Verifies every signature of every transaction (one batch per chunk, chunks on separate
/// threads), and returns each transaction's verdict in input order. The other stateless checks
/// are the caller's ([`check_stateless`]), since they need the encoded length.
pub fn verify_batch(txs: Vec<SignedTransaction>) -> Vec<Result<VerifiedTx, TxError>> {
    let items = txs.into_iter().map(|t| {
        let msg = t.tx.signing_bytes();
        (t, msg)
    });
    verify_signed_batch(items.collect())
}

/// As [`verify_batch`], for callers that hold each transaction's exact borsh encoding (e.g.
/// the node, from the request body): the signing bytes are `DOMAIN_TX ‖ encoding` without its
/// trailing 64-byte signature, so nothing is re-serialized.
///
/// The encoding must be the one `tx` was decoded from (borsh is canonical for these types, so
/// it equals `borsh(tx)`); checked by a debug assertion.
pub fn verify_batch_encoded(
    items: Vec<(SignedTransaction, &[u8])>,
) -> Vec<Result<VerifiedTx, TxError>> {
    let items = items.into_iter().map(|(t, enc)| {
        let body = enc.len().saturating_sub(64);
        let msg = [
            depin_types::tx::DOMAIN_TX,
            enc.get(..body).unwrap_or_default(),
        ]
        .concat();
        debug_assert_eq!(msg, t.tx.signing_bytes(), "encoding is not borsh(tx)");
        (t, msg)
    });
    verify_signed_batch(items.collect())
}

/// `(transaction, its signing bytes)` pairs, verified in chunks.
fn verify_signed_batch(
    items: Vec<(SignedTransaction, Vec<u8>)>,
) -> Vec<Result<VerifiedTx, TxError>> {
    if items.len() <= VERIFY_CHUNK {
        return verify_chunk(items);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = items.len().div_ceil(threads).max(VERIFY_CHUNK);
    let mut chunks: Vec<Vec<(SignedTransaction, Vec<u8>)>> = Vec::new();
    let mut it = items.into_iter().peekable();
    while it.peek().is_some() {
        chunks.push(it.by_ref().take(per).collect());
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| scope.spawn(|| verify_chunk(c)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("verify thread panicked"))
            .collect()
    })
}

fn verify_chunk(items: Vec<(SignedTransaction, Vec<u8>)>) -> Vec<Result<VerifiedTx, TxError>> {
    let mut batch = BatchVerifier::new();
    let mut kinds = Vec::new();
    let mut owner = Vec::new();
    let mut meta = Vec::with_capacity(items.len());
    let mut txs = Vec::with_capacity(items.len());
    for (i, (stx, msg)) in items.into_iter().enumerate() {
        let before = kinds.len();
        meta.push(queue_signatures(&stx, msg, &mut batch, &mut kinds));
        txs.push(stx);
        owner.extend(std::iter::repeat_n(i, kinds.len().saturating_sub(before)));
    }
    let verdicts = batch.verify_all();
    let mut first_bad: Vec<Option<SigKind>> = vec![None; txs.len()];
    for ((v, kind), i) in verdicts.iter().zip(&kinds).zip(&owner) {
        if v.is_err() && first_bad[*i].is_none() {
            first_bad[*i] = Some(*kind);
        }
    }
    txs.into_iter()
        .zip(first_bad)
        .zip(meta)
        .map(|((stx, bad), (id, encoded_len))| match bad {
            None => Ok(VerifiedTx {
                id,
                tx: stx,
                encoded_len,
            }),
            Some(kind) => Err(sig_error(kind, &stx.tx.signer).into()),
        })
        .collect()
}

/// Where and when a block executes.
#[derive(Clone, Debug)]
pub struct BlockContext {
    /// Chain id.
    pub chain_id: String,
    /// Height being built (previous height + 1).
    pub height: u64,
    /// Block time, ms since the Unix epoch.
    pub time_ms: u64,
    /// The block's proposer.
    pub proposer: PublicKey,
}

/// How to treat a transaction that fails its ante or stateless phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockMode {
    /// Building a block: leave it out and report it in [`BlockOutcome::dropped`].
    Build,
    /// Re-executing someone's block: the whole block is invalid.
    Verify,
}

/// What executing a block produced.
#[derive(Debug, Default)]
pub struct BlockOutcome {
    /// State writes, ordered by key.
    pub writes: WriteSet,
    /// One receipt per included transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// Indices (into the input) of the included transactions.
    pub included: Vec<usize>,
    /// Input indices left out in [`BlockMode::Build`], with why.
    pub dropped: Vec<(usize, TxError)>,
}

/// Why a block could not be executed.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// Storage failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// In [`BlockMode::Verify`], a transaction that may not be in a block.
    #[error("transaction {index} is invalid: {error}")]
    InvalidTx {
        /// Its index in the block.
        index: usize,
        /// Why.
        error: TxError,
    },
    /// The block does not follow the state it is applied to.
    #[error("block height {height} does not follow state height {state_height}")]
    WrongHeight {
        /// The block's height.
        height: u64,
        /// The state's height.
        state_height: u64,
    },
    /// More transactions than `max_block_txs`.
    #[error("block has {count} transactions, limit {limit}")]
    TooManyTxs {
        /// Count.
        count: usize,
        /// Limit.
        limit: u32,
    },
}

/// Executes a block's transactions over `base` and returns the writes and receipts.
///
/// Deterministic: the outcome depends only on `base`, `ctx`, `txs` and the chain's `modules`.
pub fn execute_block<T: std::borrow::Borrow<VerifiedTx>>(
    base: &dyn StateRead,
    ctx: &BlockContext,
    modules: &ModuleRegistry,
    txs: &[T],
    mode: BlockMode,
) -> Result<BlockOutcome, BlockError> {
    let state_height = get::<u64>(&base, HEIGHT_KEY)?.unwrap_or(0);
    if ctx.height != state_height.saturating_add(1) {
        return Err(BlockError::WrongHeight {
            height: ctx.height,
            state_height,
        });
    }
    let params = params(&base)?;
    if txs.len() > params.max_block_txs as usize {
        return Err(BlockError::TooManyTxs {
            count: txs.len(),
            limit: params.max_block_txs,
        });
    }
    let mut block = Overlay::new(base);
    staking::release_due(&mut block, ctx.height).map_err(fatal)?;
    block.put(HEIGHT_KEY.to_vec(), &ctx.height);
    let mut out = BlockOutcome::default();
    for (index, vtx) in txs.iter().enumerate() {
        let receipt_index = u32::try_from(out.receipts.len()).expect("bounded by max_block_txs");
        match apply_tx(
            &mut block,
            ctx,
            modules,
            &params,
            vtx.borrow(),
            receipt_index,
        ) {
            Ok(r) => {
                out.receipts.push(r);
                out.included.push(index);
            }
            Err(TxError::State(e)) => return Err(e.into()),
            Err(error) if mode == BlockMode::Verify => {
                return Err(BlockError::InvalidTx { index, error })
            }
            Err(error) => out.dropped.push((index, error)),
        }
    }
    out.writes = block.into_writes();
    Ok(out)
}

fn fatal(e: TxError) -> BlockError {
    match e {
        TxError::State(s) => BlockError::State(s),
        other => BlockError::State(StateError {
            message: format!("begin-block failed: {other}"),
        }),
    }
}

/// Applies one verified transaction on top of `block`.
///
/// `Err` means the transaction may not be in the block (stateless or ante failure) and nothing
/// was written; an action failure is an `Ok` receipt with a failed status (fee and nonce kept).
pub fn apply_tx(
    block: &mut Overlay<'_>,
    ctx: &BlockContext,
    modules: &ModuleRegistry,
    params: &ChainParams,
    vtx: &VerifiedTx,
    index: u32,
) -> Result<Receipt, TxError> {
    let stx = vtx.tx();
    check_stateless(stx, vtx.encoded_len(), &ctx.chain_id, params, modules)?;
    let tctx = TxContext::new(ctx, params, stx.tx.signer, modules);
    let ante = {
        let mut o = Overlay::new(&*block);
        bank::charge_fee_and_nonce(&mut o, &tctx, stx.tx.nonce, stx.tx.fee, &ctx.proposer)?;
        o.into_writes()
    };
    block.apply(ante);
    let result = {
        let mut o = Overlay::new(&*block);
        check_and_execute(&mut o, &tctx, &stx.tx.action).map(|()| o.into_writes())
    };
    let status = match result {
        Ok(writes) => {
            block.apply(writes);
            TxStatus::Success
        }
        Err(TxError::State(e)) => return Err(e.into()),
        Err(e) => TxStatus::Failed {
            code: e.code().to_string(),
            message: e.to_string(),
        },
    };
    Ok(Receipt {
        tx_id: vtx.id(),
        height: ctx.height,
        index,
        status,
        fee_bones: stx.tx.fee,
    })
}

/// Phase 3: the owning component's stateful check, then its execution (a module does both in
/// [`crate::module::LedgerModule::check_and_execute`]).
fn check_and_execute(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    action: &Action,
) -> Result<(), TxError> {
    // A module checks and executes its body in one call (it decodes the body once).
    if !matches!(action, Action::Module(_)) {
        check_action(s, ctx, action)?;
    }
    match action {
        Action::Bank(BankAction::Transfer { to, amount }) => {
            bank::execute_transfer(s, ctx, to, *amount)
        }
        Action::Devices(a) => devices::execute(s, ctx, a),
        Action::Staking(a) => staking::execute(s, ctx, a),
        Action::Credits(a) => credits::execute(s, ctx, a),
        Action::Rewards(a) => rewards::execute(s, ctx, a),
        Action::Escrow(a) => escrow::execute(s, ctx, a),
        Action::Module(m) => module_of(ctx, &m.module)?.check_and_execute(s, ctx, &m.body),
    }
}

/// Phase 3's read-only half: the owning component's stateful check.
fn check_action(s: &impl StateRead, ctx: &TxContext<'_>, action: &Action) -> Result<(), TxError> {
    match action {
        Action::Bank(BankAction::Transfer { amount, .. }) => bank::check_transfer(s, ctx, *amount),
        Action::Devices(a) => devices::check(s, ctx, a),
        Action::Staking(a) => staking::check(s, ctx, a),
        Action::Credits(a) => credits::check(s, ctx, a),
        Action::Rewards(a) => rewards::check(s, ctx, a),
        Action::Escrow(a) => escrow::check(s, ctx, a),
        Action::Module(m) => module_of(ctx, &m.module)?.check(&s, ctx, &m.body),
    }
}

/// The registered module `name` (the stateless check already refused unknown ones).
fn module_of<'c>(
    ctx: &'c TxContext<'_>,
    name: &str,
) -> Result<&'c dyn crate::module::LedgerModule, TxError> {
    ctx.modules.get(name).ok_or_else(|| {
        StatelessError::UnknownModule {
            module: name.chars().take(MAX_MODULE_NAME_BYTES).collect(),
        }
        .into()
    })
}

/// The mempool's admission check (as Cosmos' CheckTx): phase 2 (nonce and fee) on a scratch
/// layer, then the component's stateful check. Nothing is executed or kept; cheaper than
/// [`simulate`], and it refuses what would certainly fail as the signer's next transaction.
pub fn check_admission(
    base: &dyn StateRead,
    ctx: &BlockContext,
    modules: &ModuleRegistry,
    params: &ChainParams,
    vtx: &VerifiedTx,
) -> Result<(), TxError> {
    let stx = vtx.tx();
    let tctx = TxContext::new(ctx, params, stx.tx.signer, modules);
    let mut o = Overlay::new(base);
    bank::charge_fee_and_nonce(&mut o, &tctx, stx.tx.nonce, stx.tx.fee, &ctx.proposer)?;
    check_action(&o, &tctx, &stx.tx.action)
}

/// Runs phases 2 and 3 of `vtx` over `base` as if it were the next transaction, without
/// keeping anything: the wallet's "simulate".
pub fn simulate(
    base: &dyn StateRead,
    ctx: &BlockContext,
    modules: &ModuleRegistry,
    vtx: &VerifiedTx,
) -> Result<Receipt, TxError> {
    let params = params(&base)?;
    let mut o = Overlay::new(base);
    apply_tx(&mut o, ctx, modules, &params, vtx, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_types::tx::Transaction;
    use depin_types::SecretKey;

    #[test]
    fn a_verified_transaction_knows_its_id_and_encoded_length() {
        let sk = SecretKey::from_seed([3; 32]);
        let stx = Transaction {
            chain_id: "c".into(),
            signer: sk.public(),
            nonce: 4,
            fee: Amount(9),
            action: Action::Bank(BankAction::Transfer {
                to: sk.public(),
                amount: Amount(1),
            }),
        }
        .sign(&sk);
        let v = verify_batch(vec![stx.clone()]).pop().unwrap().unwrap();
        assert_eq!(v.id(), stx.id());
        assert_eq!(v.encoded_len(), stx.to_bytes().len());
    }
}
