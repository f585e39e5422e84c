//! The `escrow` component: exact payment per epoch of the term, refunds on close, overdrawn
//! accounts, refusals; and random sequences against a reference model that pays epoch by
//! epoch. The supply equation (with escrow balances) is checked after every block by
//! `Chain::block`.

use depin_ledger::components::{bank, escrow};
use depin_ledger::testkit::{genesis, key, Chain, CHAIN};
use depin_types::genesis::RewardsParams;
use depin_types::tx::{Action, EscrowAction, EscrowPayee, Transaction};
use depin_types::{Amount, ChainParams, Hash32, PublicKey, SignedTransaction};
use proptest::prelude::*;

/// Epoch length: five one-second blocks.
const EPOCH_MS: u64 = 5_000;
const FEE: u128 = 10;
const OWNER: u8 = 1;
const STRANGER: u8 = 2;
const PAYEES: [u8; 2] = [5, 6];
const ID: Hash32 = Hash32([42; 32]);

fn chain_with(rewards: bool) -> Chain {
    let mut g = genesis(
        &[0, 1_000_000_000, 1_000_000],
        ChainParams::default(),
        &key(99),
    );
    g.params.min_fee_bones = Amount(FEE);
    if rewards {
        g.rewards = Some(RewardsParams {
            epoch_length_ms: EPOCH_MS,
            initial_emission_bones: Amount(1_000),
            halving_interval_epochs: 0,
            oracles: vec![depin_ledger::testkit::addr(&key(10))],
            attest_threshold: 1,
            module_weights: vec![depin_types::genesis::ModuleWeight {
                module: "heartbeat".into(),
                weight: 1,
                params: Default::default(),
            }],
            remainder_account: depin_ledger::testkit::addr(&key(13)),
        });
    }
    Chain::new(&g, key(99))
}

fn tx(signer: u8, nonce: u64, action: EscrowAction) -> SignedTransaction {
    Transaction {
        chain_id: CHAIN.into(),
        signer: key(signer).public(),
        nonce,
        fee: Amount(FEE),
        action: Action::Escrow(action),
    }
    .sign(&key(signer))
}

fn payees(rates: &[u128]) -> Vec<EscrowPayee> {
    rates
        .iter()
        .zip(PAYEES)
        .map(|(r, p)| EscrowPayee {
            payee: key(p).public(),
            rate_bones_per_epoch: Amount(*r),
        })
        .collect()
}

fn open(nonce: u64, deposit: u128, term_epochs: u64, rates: &[u128]) -> SignedTransaction {
    let payees = payees(rates);
    tx(
        OWNER,
        nonce,
        EscrowAction::Open {
            id: ID,
            deposit: Amount(deposit),
            term_epochs,
            payees,
        },
    )
}

fn balance(c: &Chain, who: u8) -> u128 {
    bank::account(&c.state, &key(who).public())
        .unwrap()
        .balance
        .bones()
}

fn account(c: &Chain) -> escrow::EscrowAccount {
    escrow::account(&c.state, &ID).unwrap().unwrap()
}

fn codes(c: &mut Chain, txs: Vec<SignedTransaction>) -> Vec<String> {
    let (_, v) = c.block(txs);
    v.into_iter()
        .map(|r| r.unwrap_or_else(|e| format!("dropped:{e}")))
        .collect()
}

/// Produces empty blocks until the next block is in `epoch`.
fn advance_to_epoch(c: &mut Chain, epoch: u64) {
    while (c.height + 1) * 1000 / EPOCH_MS < epoch {
        c.block(vec![]);
    }
}

#[test]
fn an_escrow_pays_each_payee_its_rate_for_every_epoch_of_the_term_and_refunds_the_rest() {
    let mut c = chain_with(true);
    let before = balance(&c, OWNER);
    assert_eq!(
        codes(&mut c, vec![open(0, 1_000_000, 3, &[100, 50])]),
        ["success"]
    );
    assert_eq!(account(&c).start_epoch, 0);
    advance_to_epoch(&mut c, 7);
    assert_eq!(
        codes(
            &mut c,
            vec![tx(STRANGER, 0, EscrowAction::Settle { id: ID })]
        ),
        ["success"]
    );
    assert_eq!(
        (balance(&c, PAYEES[0]), balance(&c, PAYEES[1])),
        (300, 150),
        "three epochs, no more"
    );
    assert_eq!(account(&c).paid.bones(), 450);
    assert_eq!(
        codes(&mut c, vec![tx(OWNER, 1, EscrowAction::Close { id: ID })]),
        ["success"]
    );
    assert_eq!(
        balance(&c, OWNER),
        before - 450 - 2 * FEE,
        "the deposit minus the payments"
    );
    assert_eq!(account(&c).state, escrow::EscrowState::Closed);
}

#[test]
fn closing_mid_term_pays_the_epoch_in_progress_and_refunds_the_unspent_part() {
    let mut c = chain_with(true);
    let before = balance(&c, OWNER);
    assert_eq!(
        codes(&mut c, vec![open(0, 10_000, 10, &[100])]),
        ["success"]
    );
    advance_to_epoch(&mut c, 2);
    assert_eq!(
        codes(&mut c, vec![tx(OWNER, 1, EscrowAction::Close { id: ID })]),
        ["success"]
    );
    assert_eq!(
        balance(&c, PAYEES[0]),
        300,
        "epochs 0 and 1, and 2 in progress"
    );
    assert_eq!(balance(&c, OWNER), before - 300 - 2 * FEE);
    assert_eq!(
        codes(&mut c, vec![tx(OWNER, 2, EscrowAction::Close { id: ID })]),
        ["escrow_not_open"]
    );
}

#[test]
fn an_overdrawn_escrow_pays_the_whole_epochs_it_covers_and_accrues_nothing_more() {
    let mut c = chain_with(true);
    assert_eq!(codes(&mut c, vec![open(0, 250, 10, &[100])]), ["success"]);
    advance_to_epoch(&mut c, 5);
    let settle = tx(STRANGER, 0, EscrowAction::Settle { id: ID });
    let top_up = tx(
        OWNER,
        1,
        EscrowAction::Deposit {
            id: ID,
            amount: Amount(1_000),
        },
    );
    assert_eq!(
        codes(&mut c, vec![settle, top_up]),
        ["success", "escrow_not_open"]
    );
    let a = account(&c);
    assert_eq!(
        (a.state, a.balance.bones(), a.paid_through_epoch),
        (escrow::EscrowState::Overdrawn, 50, 2)
    );
    assert_eq!(balance(&c, PAYEES[0]), 200);
    let owner = balance(&c, OWNER);
    assert_eq!(
        codes(&mut c, vec![tx(OWNER, 2, EscrowAction::Close { id: ID })]),
        ["success"]
    );
    assert_eq!(
        balance(&c, OWNER),
        owner + 50 - FEE,
        "the remainder comes back"
    );
    assert_eq!(
        balance(&c, PAYEES[0]),
        200,
        "nothing accrues once overdrawn"
    );
}

#[test]
fn bad_terms_strangers_and_chains_without_epochs_are_refused_with_reasons() {
    let mut c = chain_with(true);
    let many: Vec<EscrowPayee> = (0..=depin_types::tx::MAX_ESCROW_PAYEES)
        .map(|i| EscrowPayee {
            payee: PublicKey([i as u8; 32]),
            rate_bones_per_epoch: Amount(1),
        })
        .collect();
    let one = |rate| EscrowPayee {
        payee: key(PAYEES[0]).public(),
        rate_bones_per_epoch: Amount(rate),
    };
    let twice = vec![one(1), one(2)];
    let bad = |nonce, term, payees| {
        tx(
            OWNER,
            nonce,
            EscrowAction::Open {
                id: ID,
                deposit: Amount(1),
                term_epochs: term,
                payees,
            },
        )
    };
    assert_eq!(
        codes(
            &mut c,
            vec![
                bad(0, 0, payees(&[1])),
                bad(1, 5, payees(&[0])),
                bad(2, 5, many),
                bad(3, 5, twice),
                bad(4, 5, vec![])
            ]
        ),
        ["invalid_escrow_terms"; 5]
    );
    assert_eq!(
        codes(
            &mut c,
            vec![
                open(5, 1_000, 2, &[1]),
                open(6, 1_000, 2, &[1]),
                open(7, u128::MAX / 2, 2, &[1])
            ]
        ),
        ["success", "escrow_exists", "escrow_exists"]
    );
    let unknown = EscrowAction::Settle {
        id: Hash32([1; 32]),
    };
    assert_eq!(
        codes(
            &mut c,
            vec![
                tx(STRANGER, 0, EscrowAction::Close { id: ID }),
                tx(STRANGER, 1, unknown)
            ]
        ),
        ["not_escrow_owner", "escrow_not_found"]
    );
    let mut plain = chain_with(false);
    assert_eq!(
        codes(&mut plain, vec![open(0, 1_000, 2, &[1])]),
        ["escrow_disabled"]
    );
}

/// The reference: pays epoch by epoch while the balance covers the whole epoch.
#[derive(Debug, Default)]
struct Model {
    balance: u128,
    paid_through: u64,
    overdrawn: bool,
    closed: bool,
    received: [u128; 2],
}

impl Model {
    fn settle(&mut self, until: u64, end: u64, rates: &[u128; 2]) {
        let rate = rates[0] + rates[1];
        while !self.overdrawn && !self.closed && self.paid_through < until.min(end) {
            if self.balance < rate {
                self.overdrawn = true;
                break;
            }
            self.balance -= rate;
            self.received[0] += rates[0];
            self.received[1] += rates[1];
            self.paid_through += 1;
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Wait(u8),
    Settle,
    Deposit(u128),
    Close,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u8..12).prop_map(Step::Wait),
        2 => Just(Step::Settle),
        2 => (1u128..2_000).prop_map(Step::Deposit),
        1 => Just(Step::Close),
    ]
}

/// The transaction of a step (signed by the owner or a stranger, with its next nonce) and
/// the epoch through which it settles; `None` for a wait.
fn step_tx(s: &Step, epoch: u64, nonces: &mut [u64; 2]) -> Option<(SignedTransaction, u64)> {
    let (who, action, until) = match s {
        Step::Wait(_) => return None,
        Step::Settle => (1, EscrowAction::Settle { id: ID }, epoch),
        Step::Deposit(a) => {
            let amount = Amount(*a);
            (0, EscrowAction::Deposit { id: ID, amount }, epoch)
        }
        Step::Close => (0, EscrowAction::Close { id: ID }, epoch + 1),
    };
    nonces[who] += 1;
    let signer = [OWNER, STRANGER][who];
    Some((tx(signer, nonces[who] - 1, action), until))
}

impl Model {
    /// Applies a step the ledger answered with `code`, checking the code.
    fn apply(
        &mut self,
        s: &Step,
        code: &str,
        until: u64,
        term: u64,
        rates: &[u128; 2],
    ) -> Result<(), TestCaseError> {
        let open_before = !self.overdrawn && !self.closed;
        match s {
            Step::Settle => self.settle(until, term, rates),
            Step::Deposit(a) if open_before => {
                self.balance += a;
                self.settle(until, term, rates);
            }
            Step::Close if !self.closed => {
                self.settle(until, term, rates);
                self.balance = 0;
                self.closed = true;
            }
            _ => {
                prop_assert_eq!(code, "escrow_not_open");
                return Ok(());
            }
        }
        prop_assert_eq!(code, "success");
        Ok(())
    }
}

fn run_steps(
    deposit: u128,
    term: u64,
    rates: [u128; 2],
    steps: &[Step],
) -> Result<(), TestCaseError> {
    let mut c = chain_with(true);
    let mut m = Model {
        balance: deposit,
        ..Model::default()
    };
    prop_assert_eq!(
        codes(&mut c, vec![open(0, deposit, term, &rates)]),
        ["success"]
    );
    let mut nonces = [1, 0];
    for s in steps {
        let epoch = (c.height + 1) * 1000 / EPOCH_MS;
        let Some((t, until)) = step_tx(s, epoch, &mut nonces) else {
            let Step::Wait(n) = s else {
                unreachable!("only waits have no transaction")
            };
            for _ in 0..*n {
                c.block(vec![]);
            }
            continue;
        };
        let code = codes(&mut c, vec![t]).remove(0);
        m.apply(s, &code, until, term, &rates)?;
        let a = account(&c);
        prop_assert_eq!(
            (a.balance.bones(), a.paid_through_epoch),
            (m.balance, m.paid_through)
        );
        prop_assert_eq!([balance(&c, PAYEES[0]), balance(&c, PAYEES[1])], m.received);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_escrow_histories_pay_exactly_what_an_epoch_by_epoch_model_pays(
        deposit in 1u128..5_000,
        term in 1u64..12,
        rates in (1u128..300, 1u128..300),
        steps in proptest::collection::vec(step(), 1..20),
    ) {
        run_steps(deposit, term, [rates.0, rates.1], &steps)?;
    }
}
