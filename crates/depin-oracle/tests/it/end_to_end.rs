//! Heartbeat devices over several epochs, settled by one oracle, re-verified and attested by
//! a second (2 of 3), claimed by owners.

use crate::harness::*;
use depin_agent::HeartbeatAgent;
use depin_oracle::claims::claim_for;
use depin_oracle::verify::{check_chain, recompute};
use depin_oracle::Manifest;
use depin_types::rewards::emission_for_epoch;
use depin_types::{Action, Amount, PublicKey};
use std::collections::BTreeMap;
use std::time::Duration;

const SETTLED_EPOCHS: u64 = 3;

async fn manifest(o: &depin_client::OracleClient, epoch: u64) -> Manifest {
    serde_json::from_value(o.manifest(epoch).await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_devices_are_paid_what_the_manifests_say_after_two_of_three_oracles_attest() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("depin_oracle=debug")
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let g = genesis(now_ms());
    let (node_h, node) = start_node(&dir.path().join("node"), &g).await;
    onboard_devices(&node).await;
    let (leader_h, leader) =
        start_oracle(oracle_config(&dir.path().join("a"), &g, &node, ORACLES[0])).await;
    let mut fcfg = oracle_config(&dir.path().join("b"), &g, &node, ORACLES[1]);
    fcfg.follow = Some(format!("http://{}", leader_h.addr));
    let (follower_h, _) = start_oracle(fcfg).await;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let agents: Vec<_> = DEVICES
        .iter()
        .map(|d| {
            let a = HeartbeatAgent {
                device: key(*d),
                chain_id: CHAIN.into(),
                interval_ms: EPOCH_MS / 12,
            };
            tokio::spawn(a.run(leader.clone(), now_ms, 1_000, stop_rx.clone()))
        })
        .collect();
    let views: Vec<_> = {
        let mut v = Vec::new();
        for e in 0..SETTLED_EPOCHS {
            v.push(wait_root(&node, e, Duration::from_secs(40)).await);
        }
        v
    };
    stop_tx.send(true).unwrap();
    for a in agents {
        let stats = a.await.unwrap();
        assert!(stats.acknowledged > 0 && stats.failed == 0, "{stats:?}");
    }

    let mut owed: BTreeMap<PublicKey, u128> = BTreeMap::new();
    let mut before: BTreeMap<PublicKey, u128> = BTreeMap::new();
    for a in [OWNERS[0], OWNERS[1], REMAINDER] {
        let v = node.account(&key(a).public().to_hex()).await.unwrap();
        before.insert(key(a).public(), v.balance_bones.parse().unwrap());
    }
    for (e, view) in views.iter().enumerate() {
        let e = e as u64;
        let m = manifest(&leader, e).await;
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
        let (inputs, _) =
            recompute(&leader.inputs(e).await.unwrap(), &published, &modules()).unwrap();
        check_chain(&node, &g, &inputs).await.unwrap();
        for o in depin_oracle::claims::payouts(&m).unwrap() {
            *owed.entry(o.0).or_insert(0) += o.1 .0;
            send(&node, PAYER, Action::Rewards(claim_for(&m, &o.0).unwrap())).await;
        }
    }
    assert!(
        views
            .iter()
            .any(|_| owed.get(&key(OWNERS[0]).public()).is_some_and(|a| *a > 0)),
        "devices earned"
    );
    for (who, start) in before {
        let v = node.account(&who.to_hex()).await.unwrap();
        let now: u128 = v.balance_bones.parse().unwrap();
        assert_eq!(
            now - start,
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
