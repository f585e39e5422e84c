//! Random sequences of valid and invalid transactions applied to the ledger and to the
//! reference model give identical verdicts, balances, nonces, stakes, credits and supply; the
//! supply equation holds after every block (checked inside `Chain::block`).

use crate::model::{Model, Op};
use depin_ledger::components::{bank, credits, staking};
use depin_ledger::testkit::{key, Chain, Verdicts, CHAIN};
use depin_types::tx::{Action, BankAction, CreditsAction, StakingAction, Transaction};
use depin_types::{Amount, ChainParams, FeePolicy};
use proptest::prelude::*;

const ACCOUNTS: usize = 5;
const BALANCES: [u128; ACCOUNTS] = [
    1_000_000_000_000,
    1_000_000,
    5_000,
    0,
    1_000_000_000_000_000,
];

#[derive(Debug, Clone)]
struct TxSpec {
    signer: usize,
    op: Op,
    nonce_delta: i8,
    fee: u128,
    corrupt_signature: bool,
    wrong_chain: bool,
}

fn amount() -> impl Strategy<Value = u128> {
    prop_oneof![
        3 => 1u128..10_000,
        2 => 1u128..2_000_000,
        1 => Just(0u128),
        1 => Just(u128::MAX),
        1 => 1_000_000_000u128..2_000_000_000_000_000,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..ACCOUNTS, amount()).prop_map(|(to, amount)| Op::Transfer { to, amount }),
        1 => amount().prop_map(|amount| Op::Bond { amount }),
        1 => amount().prop_map(|amount| Op::Unbond { amount }),
        1 => (0u64..2_000).prop_map(|credits| Op::Burn { credits }),
        1 => (0..ACCOUNTS, 0u64..500).prop_map(|(to, credits)| Op::Delegate { to, credits }),
    ]
}

fn tx_spec() -> impl Strategy<Value = TxSpec> {
    (
        0..ACCOUNTS,
        op(),
        prop_oneof![8 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)],
        prop_oneof![6 => Just(10u128), 2 => 10u128..1_000, 1 => Just(9u128), 1 => Just(10_000_000u128)],
        proptest::bool::weighted(0.05),
        proptest::bool::weighted(0.03),
    )
        .prop_map(|(signer, op, nonce_delta, fee, corrupt_signature, wrong_chain)| TxSpec {
            signer,
            op,
            nonce_delta,
            fee,
            corrupt_signature,
            wrong_chain,
        })
}

fn action(op: &Op) -> Action {
    match op {
        Op::Transfer { to, amount } => Action::Bank(BankAction::Transfer {
            to: key(*to as u8).public(),
            amount: Amount(*amount),
        }),
        Op::Bond { amount } => Action::Staking(StakingAction::Bond {
            amount: Amount(*amount),
        }),
        Op::Unbond { amount } => Action::Staking(StakingAction::Unbond {
            amount: Amount(*amount),
        }),
        Op::Burn { credits } => Action::Credits(CreditsAction::Burn { credits: *credits }),
        Op::Delegate { to, credits } => Action::Credits(CreditsAction::Delegate {
            payer: key(*to as u8).public(),
            credits: *credits,
        }),
    }
}

fn params(fees_to_producer: bool) -> ChainParams {
    ChainParams {
        min_fee_bones: Amount(10),
        credit_price_bones: Amount(7),
        unbonding_period_blocks: 2,
        fee_policy: if fees_to_producer {
            FeePolicy::Producer
        } else {
            FeePolicy::Burn
        },
        ..ChainParams::default()
    }
}

/// Runs one block through both; returns the model's and the ledger's verdicts.
fn run_block(chain: &mut Chain, model: &mut Model, specs: &[TxSpec]) -> (Verdicts, Verdicts) {
    let height = chain.height + 1;
    model.begin_block(height);
    let mut txs = Vec::new();
    let mut expected = Vec::new();
    // Nonces are taken from the model as it stands after the block's earlier transactions.
    let mut shadow = model.clone();
    for s in specs {
        let base = shadow.next_nonce(s.signer);
        let nonce = base.saturating_add_signed(i64::from(s.nonce_delta));
        let chain_id = if s.wrong_chain { "other-chain" } else { CHAIN };
        let tx = Transaction {
            chain_id: chain_id.into(),
            signer: key(s.signer as u8).public(),
            nonce,
            fee: Amount(s.fee),
            action: action(&s.op),
        };
        let mut stx = tx.sign(&key(s.signer as u8));
        if s.corrupt_signature {
            stx.signature.0[5] ^= 0x40;
        }
        let verdict = if s.corrupt_signature {
            Err("invalid_signature".to_string())
        } else if s.wrong_chain {
            Err("wrong_chain_id".to_string())
        } else {
            shadow.apply(height, s.signer, nonce, s.fee, &s.op)
        };
        expected.push(verdict);
        txs.push(stx);
    }
    *model = shadow;
    let (_, got) = chain.block(txs);
    (expected, got)
}

fn compare_state(chain: &Chain, model: &Model) {
    for i in 0..ACCOUNTS {
        let pk = key(i as u8).public();
        let a = bank::account(&chain.state, &pk).unwrap();
        assert_eq!(
            a.balance.bones(),
            model.balance.get(&i).copied().unwrap_or(0),
            "balance of {i}"
        );
        assert_eq!(a.nonce, model.next_nonce(i), "nonce of {i}");
        let st = staking::stake(&chain.state, &pk).unwrap();
        assert_eq!(
            st.bonded.bones(),
            model.bonded.get(&i).copied().unwrap_or(0),
            "bonded of {i}"
        );
        assert_eq!(
            st.unbonding.bones(),
            model.unbonding.get(&i).copied().unwrap_or(0),
            "unbonding of {i}"
        );
        assert_eq!(
            credits::balance(&chain.state, &pk).unwrap(),
            model.credits.get(&i).copied().unwrap_or(0),
            "credits of {i}"
        );
    }
    let sup = bank::supply(&chain.state).unwrap();
    assert_eq!(sup.genesis.bones(), model.genesis);
    assert_eq!(sup.burned.bones(), model.burned, "burned");
}

proptest! {
    // PROPTEST_CASES raises the case count for longer runs.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_ledger_agrees_with_the_reference_model_block_by_block(
        blocks in proptest::collection::vec(proptest::collection::vec(tx_spec(), 0..12), 1..10),
        fees_to_producer in any::<bool>(),
    ) {
        // Account 4 produces blocks; with FeePolicy::Producer it receives the fees.
        let producer = key(4);
        let g = depin_ledger::testkit::genesis(&BALANCES, params(fees_to_producer), &producer);
        let mut chain = Chain::new(&g, producer);
        let mut model = Model::new(&BALANCES, 10, 7, 2, fees_to_producer.then_some(4));
        for specs in &blocks {
            let (expected, got) = run_block(&mut chain, &mut model, specs);
            prop_assert_eq!(&expected, &got, "verdicts differ at height {}", chain.height);
            compare_state(&chain, &model);
        }
        // Let every unbonding entry mature, then compare again.
        for _ in 0..3 {
            let (e, g) = run_block(&mut chain, &mut model, &[]);
            prop_assert_eq!(e, g);
            compare_state(&chain, &model);
        }
        prop_assert!(model.unbonding.values().all(|u| *u == 0));
    }
}
