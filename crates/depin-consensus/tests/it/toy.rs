//! A reference ledger small enough to trust: balances and nonces in a `BTreeMap`, transfers
//! as the only transaction, the state root a SHA-256 of the whole state. The BFT driver is
//! tested against it: honest validators must end with the same blocks and the same roots.

use depin_consensus::bft::{Chain, Equivocation};
use depin_types::tx::{Action, BankAction};
use depin_types::{Amount, Block, BlockHeader, Hash32, PublicKey, SecretKey, SignedTransaction};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Most transactions in one block.
pub const MAX_BLOCK_TXS: usize = 50;
/// Most transactions waiting in one validator's mempool.
pub const MAX_MEMPOOL: usize = 1_000;

/// Balances (bones) and next nonces by account.
#[derive(Clone, Debug, Default, PartialEq, Eq, borsh::BorshSerialize)]
pub struct State {
    balances: BTreeMap<[u8; 32], u128>,
    nonces: BTreeMap<[u8; 32], u64>,
}

impl State {
    fn root(&self) -> Hash32 {
        Hash32::digest(&borsh::to_vec(self).expect("to a Vec"))
    }

    /// Applies a transfer; false (and no change) if its nonce or the balance is wrong.
    fn apply(&mut self, tx: &SignedTransaction) -> bool {
        let Action::Bank(BankAction::Transfer { to, amount }) = &tx.tx.action else {
            return false;
        };
        let from = tx.tx.signer.0;
        let nonce = self.nonces.get(&from).copied().unwrap_or(0);
        let balance = self.balances.get(&from).copied().unwrap_or(0);
        if tx.tx.nonce != nonce
            || balance < amount.0
            || tx
                .tx
                .signer
                .verify(&tx.tx.signing_bytes(), &tx.signature)
                .is_err()
        {
            return false;
        }
        self.nonces.insert(from, nonce + 1);
        self.balances.insert(from, balance - amount.0);
        *self.balances.entry(to.0).or_insert(0) += amount.0;
        true
    }
}

/// One validator's durable ledger (it survives a crash of the validator's tasks).
#[derive(Debug, Default)]
pub struct Ledger {
    /// Finalized blocks, height 1 first.
    pub blocks: Vec<Block>,
    /// State after the last finalized block.
    pub state: State,
    /// State root after each finalized block.
    pub roots: Vec<Hash32>,
    /// Transactions submitted here and not yet final.
    pub mempool: Vec<SignedTransaction>,
    /// Equivocations reported to this validator.
    pub evidence: Vec<Equivocation>,
}

/// The [`Chain`] the driver sees: a shared ledger and this validator's key.
#[derive(Clone)]
pub struct ToyChain {
    /// The ledger.
    pub ledger: Arc<Mutex<Ledger>>,
    /// The proposer key.
    pub me: PublicKey,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ToyError(String);

/// Genesis: each account starts with `amount` bones.
pub fn genesis(accounts: &[SecretKey], amount: u128) -> State {
    let mut state = State::default();
    for a in accounts {
        state.balances.insert(a.public().0, amount);
    }
    state
}

impl ToyChain {
    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// State after the finalized chain plus `ancestors`; error if one of them does not apply.
    fn state_on(&self, ancestors: &[Block]) -> Result<(State, (u64, Hash32)), ToyError> {
        let l = self.lock();
        let mut state = l.state.clone();
        let mut tip = l
            .blocks
            .last()
            .map_or((0, Hash32::ZERO), |b| (b.header.height, b.header.hash()));
        for b in ancestors {
            if b.header.parent_hash != tip.1 || !b.txs.iter().all(|t| state.apply(t)) {
                return Err(ToyError(format!(
                    "ancestor {} does not apply",
                    b.header.height
                )));
            }
            tip = (b.header.height, b.header.hash());
        }
        Ok((state, tip))
    }
}

fn tx_root(txs: &[SignedTransaction]) -> Hash32 {
    let ids: Vec<Hash32> = txs.iter().map(SignedTransaction::id).collect();
    Hash32::digest(&borsh::to_vec(&ids).expect("to a Vec"))
}

impl Chain for ToyChain {
    type Error = ToyError;

    fn finalized(&self) -> (u64, Hash32, u64) {
        let l = self.lock();
        l.blocks.last().map_or((0, Hash32::ZERO, 0), |b| {
            (b.header.height, b.header.hash(), b.header.time_ms)
        })
    }

    fn finalized_block(&self, hash: &Hash32) -> Option<Block> {
        self.lock()
            .blocks
            .iter()
            .rev()
            .find(|b| b.header.hash() == *hash)
            .cloned()
    }

    fn build(&mut self, ancestors: &[Block], time_ms: u64) -> Result<Block, ToyError> {
        let (mut state, (height, parent)) = self.state_on(ancestors)?;
        let candidates = self.lock().mempool.clone();
        let txs: Vec<SignedTransaction> = candidates
            .into_iter()
            .filter(|t| state.apply(t))
            .take(MAX_BLOCK_TXS)
            .collect();
        let header = BlockHeader {
            chain_id: "sim".into(),
            height: height + 1,
            time_ms,
            parent_hash: parent,
            proposer: self.me,
            tx_root: tx_root(&txs),
            state_root: state.root(),
            tx_count: u32::try_from(txs.len()).expect("bounded"),
        };
        Ok(Block { header, txs })
    }

    fn check(&mut self, ancestors: &[Block], block: &Block) -> Result<(), ToyError> {
        let (mut state, (height, parent)) = self.state_on(ancestors)?;
        let h = &block.header;
        if h.height != height + 1 || h.parent_hash != parent || block.txs.len() > MAX_BLOCK_TXS {
            return Err(ToyError("does not extend its parent".into()));
        }
        if !block.txs.iter().all(|t| state.apply(t)) {
            return Err(ToyError("a transaction does not apply".into()));
        }
        if h.state_root != state.root() || h.tx_root != tx_root(&block.txs) {
            return Err(ToyError("state or tx root differs".into()));
        }
        Ok(())
    }

    fn finalize(&mut self, block: Block) -> Result<(), ToyError> {
        self.check(&[], &block)?;
        let mut l = self.lock();
        for t in &block.txs {
            assert!(l.state.apply(t), "checked above");
        }
        let ids: Vec<Hash32> = block.txs.iter().map(SignedTransaction::id).collect();
        l.mempool.retain(|t| !ids.contains(&t.id()));
        let root = l.state.root();
        l.roots.push(root);
        l.blocks.push(block);
        Ok(())
    }

    fn evidence(&mut self, evidence: Equivocation) {
        self.lock().evidence.push(evidence);
    }
}

/// A signed transfer.
pub fn transfer(from: &SecretKey, nonce: u64, to: PublicKey, amount: u128) -> SignedTransaction {
    depin_types::tx::Transaction {
        chain_id: "sim".into(),
        signer: from.public(),
        nonce,
        fee: Amount(0),
        action: Action::Bank(BankAction::Transfer {
            to,
            amount: Amount(amount),
        }),
    }
    .sign(from)
}

/// Adds a transaction to a ledger's mempool (dropped when full).
pub fn submit(ledger: &Mutex<Ledger>, tx: SignedTransaction) {
    let mut l = ledger
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if l.mempool.len() < MAX_MEMPOOL {
        l.mempool.push(tx);
    }
}

/// Shared handle to a fresh ledger starting from `state`.
pub fn ledger(state: State) -> Arc<Mutex<Ledger>> {
    Arc::new(Mutex::new(Ledger {
        state,
        ..Ledger::default()
    }))
}
