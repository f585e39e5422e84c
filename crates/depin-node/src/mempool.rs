//! The mempool: verified transactions waiting for a block.
//!
//! Per account, transactions are kept by nonce and must be contiguous from the account's
//! committed nonce, so a block can always take an account's transactions in order. Across
//! accounts, block selection is fee-prioritised: the highest-fee head transaction goes first
//! (ties by account key, so selection is deterministic). Bounded in total and per account;
//! a full mempool refuses with `mempool_full` rather than evicting.

use depin_ledger::VerifiedTx;
use depin_types::{Amount, Hash32, PublicKey};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::sync::Arc;

/// How many dropped transactions' reasons are remembered for the status API.
pub const MAX_DROPPED_REMEMBERED: usize = 100_000;

/// Mempool bounds.
#[derive(Clone, Copy, Debug)]
pub struct MempoolLimits {
    /// Most transactions in total.
    pub max_txs: usize,
    /// Most pending transactions per account.
    pub max_per_account: usize,
}

/// Why the mempool refused a transaction.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum MempoolError {
    /// The mempool holds `max_txs` already.
    #[error("mempool is full ({max_txs} transactions)")]
    Full {
        /// The bound.
        max_txs: usize,
    },
    /// The account has `max_per_account` pending already.
    #[error("account has {max_per_account} pending transactions already")]
    AccountFull {
        /// The bound.
        max_per_account: usize,
    },
    /// Same id already pending.
    #[error("transaction is already pending")]
    AlreadyPending,
    /// Not the account's next nonce (committed nonce plus pending count).
    #[error("nonce {got} is not the next nonce {expected}")]
    NonceGap {
        /// Expected nonce.
        expected: u64,
        /// Given nonce.
        got: u64,
    },
}

impl MempoolError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            MempoolError::Full { .. } => "mempool_full",
            MempoolError::AccountFull { .. } => "account_mempool_full",
            MempoolError::AlreadyPending => "tx_already_pending",
            MempoolError::NonceGap { .. } => "nonce_too_high",
        }
    }
}

/// Transaction id → (signer, nonce). A hash map: lookups only, never iterated, so its order
/// cannot leak into blocks; hashing a 32-byte id beats comparing 32-byte keys in a B-tree.
#[allow(clippy::disallowed_types)] // see above: never iterated
type IdIndex = std::collections::HashMap<Hash32, (PublicKey, u64)>;

/// The mempool.
pub struct Mempool {
    limits: MempoolLimits,
    by_account: BTreeMap<PublicKey, BTreeMap<u64, Arc<VerifiedTx>>>,
    /// Σ fees of each account's pending transactions, in bones (kept with `by_account`).
    fee_sums: BTreeMap<PublicKey, u128>,
    /// Lookup-only index (never iterated, so its order cannot leak into blocks).
    ids: IdIndex,
    dropped: BTreeMap<Hash32, (String, String)>,
    dropped_order: VecDeque<Hash32>,
}

impl Mempool {
    /// An empty mempool.
    pub fn new(limits: MempoolLimits) -> Mempool {
        Mempool {
            limits,
            by_account: BTreeMap::new(),
            fee_sums: BTreeMap::new(),
            ids: IdIndex::new(),
            dropped: BTreeMap::new(),
            dropped_order: VecDeque::new(),
        }
    }

    /// Number of pending transactions.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `id` is pending.
    pub fn contains(&self, id: &Hash32) -> bool {
        self.ids.contains_key(id)
    }

    /// Pending transactions of `account`.
    pub fn pending_count(&self, account: &PublicKey) -> usize {
        self.by_account.get(account).map_or(0, BTreeMap::len)
    }

    /// The nonce `account`'s next transaction must carry, given its committed nonce.
    ///
    /// Robust to a block being committed while its transactions are still here (the producer
    /// removes them just after the commit): such stale entries sit below the committed nonce.
    pub fn next_nonce(&self, account: &PublicKey, committed_nonce: u64) -> u64 {
        let after_pending = self
            .by_account
            .get(account)
            .and_then(|m| m.keys().next_back())
            .map_or(0, |last| last.saturating_add(1));
        committed_nonce.max(after_pending)
    }

    /// Sum of the fees of `account`'s pending transactions.
    pub fn pending_fees(&self, account: &PublicKey) -> Amount {
        self.by_account.get(account).map_or(Amount::ZERO, |m| {
            m.values().fold(Amount::ZERO, |a, t| {
                a.checked_add(t.tx().tx.fee).unwrap_or(Amount(u128::MAX))
            })
        })
    }

    /// Adds a verified transaction whose signer has committed nonce `committed_nonce`.
    pub fn insert(&mut self, vtx: VerifiedTx, committed_nonce: u64) -> Result<(), MempoolError> {
        let id = vtx.id();
        if self.ids.contains_key(&id) {
            return Err(MempoolError::AlreadyPending);
        }
        let signer = vtx.tx().tx.signer;
        let nonce = vtx.tx().tx.nonce;
        let expected = self.next_nonce(&signer, committed_nonce);
        if nonce != expected {
            return Err(MempoolError::NonceGap {
                expected,
                got: nonce,
            });
        }
        if self.ids.len() >= self.limits.max_txs {
            return Err(MempoolError::Full {
                max_txs: self.limits.max_txs,
            });
        }
        if self.pending_count(&signer) >= self.limits.max_per_account {
            return Err(MempoolError::AccountFull {
                max_per_account: self.limits.max_per_account,
            });
        }
        self.by_account
            .entry(signer)
            .or_default()
            .insert(nonce, Arc::new(vtx));
        self.ids.insert(id, (signer, nonce));
        Ok(())
    }

    /// Up to `max` transactions for the next block: fee-prioritised across accounts, nonce
    /// order within an account. Ids in `skip` (a block on its way to disk) are passed over.
    pub fn select(&self, max: usize, skip: Option<&BTreeSet<Hash32>>) -> Vec<Arc<VerifiedTx>> {
        let skipped = |t: &&Arc<VerifiedTx>| skip.is_some_and(|s| s.contains(&t.id()));
        // One cursor per account, in account-key order; the heap holds (fee, Reverse(cursor
        // index)), so equal fees go to the smaller key, deterministically.
        let mut cursors: Vec<_> = self
            .by_account
            .values()
            .map(|m| m.values().skip_while(skipped).peekable())
            .collect();
        let mut heap: BinaryHeap<(Amount, Reverse<usize>)> = cursors
            .iter_mut()
            .enumerate()
            .filter_map(|(i, c)| c.peek().map(|t| (t.tx().tx.fee, Reverse(i))))
            .collect();
        let mut out = Vec::with_capacity(max.min(self.ids.len()));
        while out.len() < max {
            let Some((_, Reverse(i))) = heap.pop() else {
                break;
            };
            let cursor = &mut cursors[i];
            let t = cursor.next().expect("a heap entry has a head");
            out.push(t.clone());
            if let Some(next) = cursor.peek() {
                heap.push((next.tx().tx.fee, Reverse(i)));
            }
        }
        out
    }

    /// Removes committed transactions (by id).
    pub fn remove_committed<'a>(&mut self, ids: impl IntoIterator<Item = &'a Hash32>) {
        for id in ids {
            if let Some((acct, nonce)) = self.ids.remove(id) {
                self.remove_entry(&acct, nonce);
            }
        }
    }

    /// Removes a transaction left out of a block, and the same account's later ones (their
    /// nonces can no longer be reached); remembers why for the status API.
    pub fn drop_tx(&mut self, id: &Hash32, code: &str, message: &str) {
        let Some((acct, nonce)) = self.ids.get(id).copied() else {
            return;
        };
        let later: Vec<(u64, Hash32)> = self
            .by_account
            .get(&acct)
            .map(|m| m.range(nonce..).map(|(n, t)| (*n, t.id())).collect())
            .unwrap_or_default();
        for (n, tid) in later {
            self.ids.remove(&tid);
            self.remove_entry(&acct, n);
            if tid == *id {
                self.remember_dropped(tid, code.to_string(), message.to_string());
            } else {
                self.remember_dropped(
                    tid,
                    "dropped_after_gap".into(),
                    format!("an earlier transaction of this account was dropped: {code}"),
                );
            }
        }
    }

    /// Why `id` was dropped, if it was (and is still remembered).
    pub fn dropped_reason(&self, id: &Hash32) -> Option<&(String, String)> {
        self.dropped.get(id)
    }

    fn remember_dropped(&mut self, id: Hash32, code: String, message: String) {
        if self.dropped_order.len() >= MAX_DROPPED_REMEMBERED {
            if let Some(old) = self.dropped_order.pop_front() {
                self.dropped.remove(&old);
            }
        }
        self.dropped.insert(id, (code, message));
        self.dropped_order.push_back(id);
    }

    fn remove_entry(&mut self, acct: &PublicKey, nonce: u64) {
        let Some(m) = self.by_account.get_mut(acct) else {
            return;
        };
        let Some(t) = m.remove(&nonce) else { return };
        if m.is_empty() {
            self.by_account.remove(acct);
            self.fee_sums.remove(acct);
        } else if let Some(sum) = self.fee_sums.get_mut(acct) {
            *sum = sum.saturating_sub(t.tx().tx.fee.bones());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_ledger::verify_batch;
    use depin_types::tx::{Action, BankAction, Transaction};
    use depin_types::SecretKey;

    fn vtx(seed: u8, nonce: u64, fee: u128) -> VerifiedTx {
        let sk = SecretKey::from_seed([seed; 32]);
        let tx = Transaction {
            chain_id: "t".into(),
            signer: sk.public(),
            nonce,
            fee: Amount(fee),
            action: Action::Bank(BankAction::Transfer {
                to: PublicKey([0; 32]),
                amount: Amount(1),
            }),
        };
        verify_batch(vec![tx.sign(&sk)]).pop().unwrap().unwrap()
    }

    fn limits() -> MempoolLimits {
        MempoolLimits {
            max_txs: 4,
            max_per_account: 3,
        }
    }

    #[test]
    fn selection_is_fee_prioritised_across_accounts_and_nonce_ordered_within() {
        let mut m = Mempool::new(limits());
        m.insert(vtx(1, 0, 10), 0).unwrap();
        m.insert(vtx(1, 1, 99), 0).unwrap();
        m.insert(vtx(2, 5, 50), 5).unwrap();
        let order: Vec<(u8, u64)> = m
            .select(10, None)
            .iter()
            .map(|t| {
                (
                    if t.tx().tx.fee.bones() == 50 { 2 } else { 1 },
                    t.tx().tx.nonce,
                )
            })
            .collect();
        assert_eq!(order, vec![(2, 5), (1, 0), (1, 1)]);
        assert_eq!(m.select(1, None).len(), 1);
    }

    #[test]
    fn gaps_duplicates_and_bounds_are_refused_with_their_codes() {
        let mut m = Mempool::new(limits());
        assert_eq!(
            m.insert(vtx(1, 1, 10), 0).unwrap_err().code(),
            "nonce_too_high"
        );
        m.insert(vtx(1, 0, 10), 0).unwrap();
        assert_eq!(
            m.insert(vtx(1, 0, 10), 0).unwrap_err().code(),
            "tx_already_pending"
        );
        m.insert(vtx(1, 1, 10), 0).unwrap();
        m.insert(vtx(1, 2, 10), 0).unwrap();
        assert_eq!(
            m.insert(vtx(1, 3, 10), 0).unwrap_err().code(),
            "account_mempool_full"
        );
        m.insert(vtx(2, 0, 10), 0).unwrap();
        assert_eq!(
            m.insert(vtx(3, 0, 10), 0).unwrap_err().code(),
            "mempool_full"
        );
    }

    #[test]
    fn dropping_a_transaction_drops_the_later_nonces_of_its_account() {
        let mut m = Mempool::new(limits());
        let a = vtx(1, 0, 10);
        let b = vtx(1, 1, 10);
        m.insert(a.clone(), 0).unwrap();
        m.insert(b.clone(), 0).unwrap();
        m.drop_tx(&a.id(), "insufficient_funds", "x");
        assert!(m.is_empty());
        assert_eq!(m.dropped_reason(&a.id()).unwrap().0, "insufficient_funds");
        assert_eq!(m.dropped_reason(&b.id()).unwrap().0, "dropped_after_gap");
        assert_eq!(m.next_nonce(&a.tx().tx.signer, 0), 0);
        assert_eq!(m.pending_fees(&a.tx().tx.signer), Amount::ZERO);
    }

    #[test]
    fn the_next_nonce_ignores_entries_a_committed_block_already_used() {
        let mut m = Mempool::new(limits());
        let a = vtx(1, 0, 10);
        m.insert(a.clone(), 0).unwrap();
        m.insert(vtx(1, 1, 10), 0).unwrap();
        // A block committed nonces 0 and 1 and the mempool has not been cleaned yet.
        assert_eq!(m.next_nonce(&a.tx().tx.signer, 2), 2);
        m.insert(vtx(1, 2, 10), 2).unwrap();
        assert_eq!(m.next_nonce(&a.tx().tx.signer, 2), 3);
    }

    #[test]
    fn pending_fees_follow_inserts_and_commits() {
        let mut m = Mempool::new(limits());
        let (a, b) = (vtx(1, 0, 10), vtx(1, 1, 32));
        m.insert(a.clone(), 0).unwrap();
        m.insert(b, 0).unwrap();
        assert_eq!(m.pending_fees(&a.tx().tx.signer), Amount(42));
        m.remove_committed([&a.id()]);
        assert_eq!(m.pending_fees(&a.tx().tx.signer), Amount(32));
    }
}
