//! Heartbeat devices over several epochs, settled by one oracle, re-verified and attested by
//! a second (2 of 3), claimed by owners.

use crate::oracle::harness::*;
use depin_api::EpochRewardsView;
use depin_client::{NodeClient, OracleClient};
use depin_module_heartbeat::agent::HeartbeatAgent;
use depin_oracle::claims::{claim_for, payouts};
use depin_oracle::reverify::{check_chain, recompute};
use depin_oracle::Manifest;
use depin_types::rewards::emission_for_epoch;
use depin_types::{Action, Amount, Genesis, PublicKey};
use std::collections::BTreeMap;
use std::time::Duration;

const SETTLED_EPOCHS: u64 = 3;

pub async fn manifest(o: &OracleClient, epoch: u64) -> Manifest {
    serde_json::from_value(o.manifest(epoch).await.unwrap()).unwrap()
}

/// Runs one heartbeat agent per device until `epochs` epochs have effective roots.
pub async fn run_agents_until_settled(
    node: &NodeClient,
    oracle: &OracleClient,
    epochs: u64,
) -> Vec<EpochRewardsView> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let agents: Vec<_> = DEVICES
        .iter()
        .map(|d| {
            let a = HeartbeatAgent {
                device: key(*d),
                chain_id: CHAIN.into(),
                interval_ms: EPOCH_MS / 12,
            };
            tokio::spawn(a.run(oracle.clone(), now_ms, 1_000, stop_rx.clone()))
        })
        .collect();
    let mut views = Vec::new();
    for e in 0..epochs {
        views.push(wait_root(node, e, Duration::from_secs(40)).await);
    }
    stop_tx.send(true).unwrap();
    for a in agents {
        let stats = a.await.unwrap();
        assert!(stats.acknowledged > 0 && stats.failed == 0, "{stats:?}");
    }
    views
}

async fn balances(node: &NodeClient, who: &[u8]) -> BTreeMap<PublicKey, u128> {
    let mut out = BTreeMap::new();
    for a in who {
        let v = node.account(&key(*a).public().to_hex()).await.unwrap();
        out.insert(key(*a).public(), v.balance_bones.parse().unwrap());
    }
    out
}

/// Checks one settled epoch against the chain and its emission, re-verifies it, claims every
/// leaf from the payer; returns what each owner was paid.
async fn check_and_claim(
    node: &NodeClient,
    leader: &OracleClient,
    g: &Genesis,
    e: u64,
    view: &EpochRewardsView,
) -> Vec<(PublicKey, u128)> {
    let m = manifest(leader, e).await;
    assert_eq!(
        Some(m.root.clone()),
        view.root,
        "the effective root is the manifest's"
    );
    assert_eq!(
        view.attestations.len(),
        2,
        "leader and follower attested: {view:?}"
    );
    let emission = emission_for_epoch(Amount(EMISSION), 2, e).0;
    let paid: u128 = m
        .owners
        .iter()
        .map(|o| o.amount_bones.parse::<u128>().unwrap())
        .sum();
    let to_devices: u128 = m
        .devices
        .iter()
        .map(|d| d.reward_bones.parse::<u128>().unwrap())
        .sum();
    let remainder: u128 = m.remainder_bones.parse().unwrap();
    assert_eq!(
        (paid, to_devices + remainder),
        (emission, emission),
        "epoch {e}"
    );
    let published = serde_json::to_value(&m).unwrap();
    let (inputs, _) = recompute(&leader.inputs(e).await.unwrap(), &published, &modules()).unwrap();
    check_chain(node, g, &inputs, &modules()).await.unwrap();
    let mut out = Vec::new();
    for (owner, amount) in payouts(&m).unwrap() {
        send(node, PAYER, Action::Rewards(claim_for(&m, &owner).unwrap())).await;
        out.push((owner, amount.0));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_devices_are_paid_what_the_manifests_say_after_two_of_three_oracles_attest() {
    let dir = tempfile::tempdir().unwrap();
    let g = genesis(now_ms());
    let (node_h, node) = start_node(&dir.path().join("node"), &g).await;
    onboard_devices(&node).await;
    let (leader_h, leader) =
        start_oracle(oracle_config(&dir.path().join("a"), &g, &node, ORACLES[0])).await;
    let mut fcfg = oracle_config(&dir.path().join("b"), &g, &node, ORACLES[1]);
    fcfg.follow = Some(format!("http://{}", leader_h.addr));
    let (follower_h, _) = start_oracle(fcfg).await;
    let views = run_agents_until_settled(&node, &leader, SETTLED_EPOCHS).await;

    let before = balances(&node, &[OWNERS[0], OWNERS[1], REMAINDER]).await;
    let mut owed: BTreeMap<PublicKey, u128> = BTreeMap::new();
    for (e, view) in views.iter().enumerate() {
        for (owner, amount) in check_and_claim(&node, &leader, &g, e as u64, view).await {
            *owed.entry(owner).or_insert(0) += amount;
        }
    }
    assert!(
        owed.get(&key(OWNERS[0]).public()).is_some_and(|a| *a > 0),
        "devices earned"
    );
    let after = balances(&node, &[OWNERS[0], OWNERS[1], REMAINDER]).await;
    for (who, start) in before {
        assert_eq!(
            after[&who] - start,
            owed.get(&who).copied().unwrap_or(0),
            "{who} got its manifests' amounts"
        );
    }
    let supply = node.supply().await.unwrap();
    assert!(supply.ok, "{supply:?}");
    assert_eq!(
        supply.unclaimed_rewards_bones, "0",
        "every leaf was claimed"
    );
    follower_h.stop().await;
    leader_h.stop().await;
    node_h.stop().await;
}
