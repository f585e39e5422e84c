//! The `rewards` component: k-of-n attested roots, Merkle claims, the supply equation with
//! unclaimed rewards.

use depin_ledger::components::{bank, credits, rewards};
use depin_ledger::testkit::{addr, genesis, key, Chain};
use depin_types::genesis::{ModuleWeight, RewardsParams};
use depin_types::rewards::reward_leaf;
use depin_types::tx::{usage_debits, Action, CreditsAction, RewardsAction, UsageDebit};
use depin_types::{
    merkle, Amount, ChainParams, Hash32, PublicKey, SecretKey, SignedTransaction, Transaction,
};

const EMISSION: u128 = 1_000_000;

fn chain() -> Chain {
    let mut g = genesis(&[1_000_000; 14], ChainParams::default(), &key(99));
    g.params.min_fee_bones = Amount(10);
    g.rewards = Some(RewardsParams {
        epoch_length_ms: 5_000,
        initial_emission_bones: Amount(EMISSION),
        halving_interval_epochs: 0,
        oracles: vec![addr(&key(10)), addr(&key(11)), addr(&key(12))],
        attest_threshold: 2,
        module_weights: vec![ModuleWeight {
            module: "heartbeat".into(),
            weight: 1,
            params: Default::default(),
        }],
        remainder_account: addr(&key(13)),
    });
    Chain::new(&g, key(99))
}

fn tx(signer: &SecretKey, nonce: u64, action: RewardsAction) -> SignedTransaction {
    let t = Transaction {
        chain_id: depin_ledger::testkit::CHAIN.into(),
        signer: signer.public(),
        nonce,
        fee: Amount(10),
        action: Action::Rewards(action),
    };
    t.sign(signer)
}

fn payouts() -> Vec<(PublicKey, Amount)> {
    let mut p = vec![
        (key(1).public(), Amount(600_000)),
        (key(2).public(), Amount(400_000)),
    ];
    p.sort();
    p
}

fn attest(oracle: u8, nonce: u64, root: Hash32, total: u128) -> SignedTransaction {
    attest_usage(oracle, nonce, root, total, vec![])
}

fn attest_usage(
    oracle: u8,
    nonce: u64,
    root: Hash32,
    total: u128,
    usage: Vec<UsageDebit>,
) -> SignedTransaction {
    tx(
        &key(oracle),
        nonce,
        RewardsAction::AttestRoot {
            epoch: 0,
            root,
            total: Amount(total),
            usage,
            penalties: vec![],
        },
    )
}

fn claim(payer: u8, nonce: u64, index: usize, amount: u128) -> SignedTransaction {
    let p = payouts();
    let leaves: Vec<Hash32> = p.iter().map(|(o, a)| reward_leaf(0, o, *a)).collect();
    let proof = merkle::proof(&leaves, index).unwrap();
    let action = RewardsAction::Claim {
        epoch: 0,
        owner: p[index].0,
        amount: Amount(amount),
        index: index as u64,
        leaf_count: 2,
        proof,
    };
    tx(&key(payer), nonce, action)
}

fn codes(v: &[Result<String, String>]) -> Vec<String> {
    v.iter()
        .map(|r| r.clone().unwrap_or_else(|e| format!("dropped:{e}")))
        .collect()
}

#[test]
fn a_root_takes_effect_at_two_of_three_matching_attestations_and_each_owner_claims_once() {
    let mut c = chain();
    let root = depin_types::rewards::reward_root(0, &payouts());
    let (_, v) = c.block(vec![attest(10, 0, root, EMISSION)]);
    assert_eq!(
        codes(&v),
        ["epoch_not_closed"],
        "epoch 0 ends at 5,000 ms; block 1 is at 1,000"
    );
    while c.height < 4 {
        c.block(vec![]);
    }
    let (_, v) = c.block(vec![
        attest(10, 1, root, EMISSION),
        attest(1, 0, root, EMISSION),
        attest(11, 0, root, EMISSION - 1),
        attest(11, 1, Hash32([7; 32]), EMISSION),
    ]);
    assert_eq!(
        codes(&v),
        ["success", "not_oracle", "wrong_reward_total", "success"]
    );
    assert!(
        rewards::epoch_root(&c.state, 0).unwrap().is_none(),
        "10 and 11 disagree"
    );
    let (_, v) = c.block(vec![
        attest(10, 2, root, EMISSION),
        attest(12, 0, root, EMISSION),
    ]);
    assert_eq!(codes(&v), ["already_attested", "success"]);
    let er = rewards::epoch_root(&c.state, 0).unwrap().unwrap();
    assert_eq!((er.root, er.total.0), (root, EMISSION));
    assert_eq!(rewards::unclaimed(&c.state).unwrap(), EMISSION);
    assert_eq!(bank::supply(&c.state).unwrap().minted.0, EMISSION);

    let owner = payouts()[0];
    let before = bank::account(&c.state, &owner.0).unwrap().balance.0;
    let (_, v) = c.block(vec![
        claim(3, 0, 0, owner.1 .0),
        claim(3, 1, 0, owner.1 .0),
        claim(4, 0, 1, 999),
    ]);
    assert_eq!(
        codes(&v),
        ["success", "reward_already_claimed", "invalid_reward_proof"]
    );
    let after = bank::account(&c.state, &owner.0).unwrap().balance.0;
    assert_eq!(
        after - before,
        owner.1 .0,
        "the reward goes to the owner, not the fee payer"
    );
    assert_eq!(rewards::unclaimed(&c.state).unwrap(), EMISSION - owner.1 .0);
    let (_, v) = c.block(vec![attest(12, 1, root, EMISSION)]);
    assert_eq!(codes(&v), ["epoch_already_settled"]);
}

#[test]
fn claims_on_an_epoch_without_a_root_or_on_a_chain_without_rewards_fail() {
    let mut c = chain();
    let (_, v) = c.block(vec![claim(3, 0, 0, 600_000)]);
    assert_eq!(codes(&v), ["no_reward_root"]);
    let mut plain = Chain::new(
        &genesis(
            &[1_000_000; 4],
            ChainParams {
                min_fee_bones: Amount(10),
                ..ChainParams::default()
            },
            &key(99),
        ),
        key(99),
    );
    let (_, v) = plain.block(vec![claim(3, 0, 0, 600_000)]);
    assert_eq!(codes(&v), ["rewards_disabled"]);
}

fn burn(who: u8, nonce: u64, credits: u64) -> SignedTransaction {
    let t = Transaction {
        chain_id: depin_ledger::testkit::CHAIN.into(),
        signer: key(who).public(),
        nonce,
        fee: Amount(10),
        action: Action::Credits(CreditsAction::Burn { credits }),
    };
    t.sign(&key(who))
}

#[test]
fn attested_usage_debits_each_payers_credits_when_the_root_takes_effect() {
    let mut c = chain();
    let (_, v) = c.block(vec![burn(5, 0, 100), burn(6, 0, 10)]);
    assert_eq!(codes(&v), ["success", "success"]);
    while c.height < 5 {
        c.block(vec![]);
    }
    let root = depin_types::rewards::reward_root(0, &payouts());
    let (p5, p6) = (key(5).public(), key(6).public());
    let usage = usage_debits([(p5, 20), (p6, 25), (p5, 10)]).unwrap();
    let other = usage_debits([(p5, 30)]).unwrap();
    let mut unsorted = usage.clone();
    unsorted.reverse();
    let zero = vec![UsageDebit {
        payer: p5,
        credits: 0,
    }];
    let (_, v) = c.block(vec![
        attest_usage(10, 0, root, EMISSION, usage.clone()),
        attest_usage(11, 0, root, EMISSION, other),
        attest_usage(12, 0, root, EMISSION, unsorted),
        attest_usage(12, 1, root, EMISSION, zero),
    ]);
    assert_eq!(
        codes(&v),
        ["success", "success", "invalid_usage", "invalid_usage"]
    );
    assert!(
        rewards::epoch_root(&c.state, 0).unwrap().is_none(),
        "10 and 11 agree on the root but not on the usage"
    );
    assert_eq!(
        credits::balance(&c.state, &p5).unwrap(),
        100,
        "nothing debited before the root"
    );
    let (_, v) = c.block(vec![attest_usage(12, 2, root, EMISSION, usage)]);
    assert_eq!(codes(&v), ["success"]);
    let er = rewards::epoch_root(&c.state, 0).unwrap().unwrap();
    assert_eq!((er.credits_debited, er.credits_unpaid), (40, 15));
    assert_eq!(credits::balance(&c.state, &p5).unwrap(), 70);
    assert_eq!(
        credits::balance(&c.state, &p6).unwrap(),
        0,
        "a payer is debited at most what it holds"
    );
}
