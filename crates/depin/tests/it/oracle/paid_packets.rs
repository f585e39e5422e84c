//! Paid data transfer end to end: a hotspot forwards packets for a payer; the coverage module
//! charges ⌈bytes / 24⌉ credits each against the payer's balance, refuses a payer without
//! credits, and once two oracles attest the epoch the chain debits the payer exactly what
//! the manifest's usage says.

use crate::oracle::harness::*;
use depin_client::NodeClient;
use depin_module::ResourceModule;
use depin_module_coverage::payload::{CoveragePayload, PacketReport};
use depin_module_coverage::region::uniform_plan;
use depin_module_coverage::{CoverageModule, CoverageParams, RegionCatalog};
use depin_oracle::Manifest;
use depin_types::genesis::{ModuleParams, ModuleWeight};
use depin_types::tx::{Action, CreditsAction, DeviceAction, OnboardDevice};
use depin_types::{Address, Antenna, Genesis, Hash32, Location, Network, Report};
use h3o::{CellIndex, Resolution};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const HOTSPOT: u8 = 20;
/// A payer that never bought credits.
const BROKE: u8 = 7;
const CELL: &str = "8c2a1072d04e1ff";
const BOUGHT_CREDITS: u64 = 1_000;

fn coverage() -> CoverageModule {
    let cell = CellIndex::try_from(Location::parse(CELL).unwrap().index()).unwrap();
    let region = cell.parent(Resolution::Two).unwrap();
    let catalog = RegionCatalog::new(
        BTreeMap::from([("TEST915".to_string(), vec![region])]),
        BTreeMap::from([("TEST915".to_string(), uniform_plan(903_900_000, 8))]),
    )
    .unwrap();
    let params = CoverageParams {
        beacon_interval_ms: EPOCH_MS,
        ..CoverageParams::default()
    };
    CoverageModule::new(params, catalog).unwrap()
}

fn coverage_genesis(m: &CoverageModule) -> Genesis {
    let mut g = genesis(now_ms());
    g.device_classes = m.device_classes();
    let rewards = g.rewards.as_mut().unwrap();
    rewards.module_weights = vec![ModuleWeight {
        module: depin_module_coverage::NAME.into(),
        weight: 1,
        params: ModuleParams(serde_json::to_string(m.params()).unwrap()),
    }];
    g
}

async fn onboard_hotspot(node: &NodeClient) {
    let (dev, maker) = (key(HOTSPOT), key(MAKER));
    let class = depin_module_coverage::CLASS;
    let location = Some(Location::parse(CELL).unwrap());
    let mut o = OnboardDevice::signed_by(
        CHAIN,
        &dev,
        &key(OWNERS[0]).public(),
        &maker,
        class,
        location,
    );
    o.antenna = Some(Antenna {
        gain_ddbi: 12,
        elevation_m: 5,
    });
    send(node, OWNERS[0], Action::Devices(DeviceAction::Onboard(o))).await;
}

fn packet(payer: u8, bytes: u32, n: u8, at_ms: u64) -> depin_types::SignedReport {
    let p = CoveragePayload::Packet(PacketReport {
        payer: key(payer).public(),
        payload_bytes: bytes,
        packet_hash: Hash32([n; 32]),
    });
    Report {
        chain_id: CHAIN.into(),
        module: depin_module_coverage::NAME.into(),
        device: key(HOTSPOT).public(),
        timestamp_ms: at_ms,
        payload: p.to_bytes(),
    }
    .sign(&key(HOTSPOT))
}

async fn credits_of(node: &NodeClient, who: u8) -> u64 {
    let me = Address::new(Network::Devnet, key(who).public()).to_string();
    let (_, all) = node.all_credits(None).await.unwrap();
    all.iter()
        .find(|c| c.address == me)
        .map_or(0, |c| c.credits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_a_payer_sent_are_debited_from_its_credits_once_two_oracles_attest() {
    let dir = tempfile::tempdir().unwrap();
    let module = coverage();
    let g = coverage_genesis(&module);
    let (node_h, node) = start_node(&dir.path().join("node"), &g).await;
    send(
        &node,
        PAYER,
        Action::Credits(CreditsAction::Burn {
            credits: BOUGHT_CREDITS,
        }),
    )
    .await;
    onboard_hotspot(&node).await;
    let modules: Vec<Arc<dyn ResourceModule>> = vec![Arc::new(module)];
    let leader_h = depin_oracle::start(
        oracle_config(&dir.path().join("a"), &g, &node, ORACLES[0]),
        modules.clone(),
    )
    .await
    .unwrap();
    let leader = depin_client::OracleClient::new(&format!("http://{}", leader_h.addr));
    let mut fcfg = oracle_config(&dir.path().join("b"), &g, &node, ORACLES[1]);
    fcfg.follow = Some(format!("http://{}", leader_h.addr));
    let follower_h = depin_oracle::start(fcfg, modules).await.unwrap();

    // Send early in an epoch, so all four packets fall in it.
    let mut t = now_ms();
    if (t - g.genesis_time_ms) % EPOCH_MS > EPOCH_MS / 2 {
        tokio::time::sleep(Duration::from_millis(
            EPOCH_MS - (t - g.genesis_time_ms) % EPOCH_MS + 50,
        ))
        .await;
        t = now_ms();
    }
    let epoch = (t - g.genesis_time_ms) / EPOCH_MS;
    // 10, 30 and 50 bytes: 1 + 2 + 3 credits; the broke payer's packet is refused.
    for (i, (payer, bytes)) in [(PAYER, 10), (PAYER, 30), (PAYER, 50), (BROKE, 10)]
        .into_iter()
        .enumerate()
    {
        leader
            .submit(&packet(payer, bytes, i as u8, t + i as u64))
            .await
            .unwrap();
    }
    let view = wait_root(&node, epoch, Duration::from_secs(40)).await;
    let m: Manifest = serde_json::from_value(leader.manifest(epoch).await.unwrap()).unwrap();
    assert_eq!(
        m.verdict_counts.get("valid"),
        Some(&3),
        "{:?}",
        m.verdict_counts
    );
    assert_eq!(m.verdict_counts.get("insufficient_credits"), Some(&1));
    let used: u64 = m.usage.iter().map(|u| u.credits).sum();
    assert_eq!(used, 6);
    assert_eq!(
        (view.credits_debited, view.credits_unpaid),
        (Some(6), Some(0))
    );
    assert_eq!(credits_of(&node, PAYER).await, BOUGHT_CREDITS - 6);
    let hotspot = Address::new(Network::Devnet, key(HOTSPOT).public()).to_string();
    assert!(
        m.devices
            .iter()
            .any(|d| d.device == hotspot && d.reward_bones != "0"),
        "the hotspot earned data-transfer rewards"
    );
    follower_h.stop().await;
    leader_h.stop().await;
    node_h.stop().await;
}
