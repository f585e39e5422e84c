//! An oracle SIGKILLed at random moments while devices send reports loses none of the
//! reports it acknowledged: after a restart each one is still `accepted` in its open epoch.
//! `DEPIN_CRASH_CYCLES` sets the number of kill cycles (default 20).

use crate::process::{free_port, run_json, start_node, start_serving};
use depin_client::{NodeClient, OracleClient};
use depin_types::tx::{Action, DeviceAction, OnboardDevice};
use depin_types::{Address, Amount, Hash32, Network, Report, SecretKey, Transaction};
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

pub const CHAIN: &str = "oracle-crash";
const DEVICES: u8 = 8;
const BATCH: u64 = 32;

fn cycles() -> usize {
    std::env::var("DEPIN_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

pub fn key(i: u8) -> SecretKey {
    SecretKey::from_seed([i; 32])
}

pub fn addr(i: u8) -> String {
    Address::new(Network::Devnet, key(i).public()).to_string()
}

pub fn init_chain(home: &Path, epoch_length_ms: &str) {
    let h = home.to_str().unwrap();
    let (alloc, maker, oracle, producer) = (
        format!("{}=1000", addr(1)),
        format!("m={}", addr(2)),
        addr(3),
        addr(4),
    );
    let args = [
        "node",
        "init",
        "--home",
        h,
        "--chain-id",
        CHAIN,
        "--block-time-ms",
        "100",
        "--producer",
        &producer,
    ];
    let rest = [
        "--alloc",
        &alloc,
        "--maker",
        &maker,
        "--oracle",
        &oracle,
        "--epoch-length-ms",
        epoch_length_ms,
    ];
    run_json(&[&args[..], &rest[..]].concat());
}

pub async fn onboard(node: &NodeClient) {
    let (owner, maker) = (key(1), key(2));
    for (nonce, d) in (0..DEVICES).enumerate() {
        let dev = key(100 + d);
        let o = OnboardDevice::signed_by(CHAIN, &dev, &owner.public(), &maker, "sensor", None);
        let action = Action::Devices(DeviceAction::Onboard(o));
        let tx = Transaction {
            chain_id: CHAIN.into(),
            signer: owner.public(),
            nonce: nonce as u64,
            fee: Amount(1_000),
            action,
        };
        let id = node.submit(&tx.sign(&owner)).await.unwrap();
        assert_eq!(
            node.wait_committed(&id, Duration::from_secs(20))
                .await
                .unwrap()
                .status,
            "success"
        );
    }
}

pub use depin_types::wall_clock_ms as now_ms;

/// Sends batches of heartbeats until the oracle dies; records every acknowledged id.
async fn report_until_killed(o: &OracleClient, seq: &mut u64, acked: &mut BTreeSet<Hash32>) {
    loop {
        let ts = now_ms();
        let batch: Vec<Vec<u8>> = (0..BATCH)
            .map(|i| {
                let dev = key(100 + (i % u64::from(DEVICES)) as u8);
                *seq += 1;
                let r = Report {
                    chain_id: CHAIN.into(),
                    module: "heartbeat".into(),
                    device: dev.public(),
                    timestamp_ms: ts + *seq % 1_000,
                    payload: vec![],
                };
                r.sign(&dev).to_bytes()
            })
            .collect();
        let Ok(reply) = o.submit_batch(&batch).await else {
            return;
        };
        acked.extend(reply.iter().filter_map(depin_types::ReportOutcome::id));
    }
}

pub fn start_oracle(
    home: &Path,
    node_home: &Path,
    node_url: &str,
    port: u16,
    max_skew_ms: &str,
) -> crate::process::Served {
    start_oracle_with(
        home,
        node_home,
        node_url,
        port,
        &["--max-skew-ms", max_skew_ms],
    )
}

/// `depin oracle start` on `home` for the chain of `node_home`, with per-device limits no
/// test reaches, and `extra` flags.
pub fn start_oracle_with(
    home: &Path,
    node_home: &Path,
    node_url: &str,
    port: u16,
    extra: &[&str],
) -> crate::process::Served {
    let genesis = node_home.join("genesis.toml");
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "oracle",
        "start",
        "--home",
        home.to_str().unwrap(),
        "--genesis",
        genesis.to_str().unwrap(),
        "--node",
        node_url,
    ];
    let rest = [
        "--api.listen",
        &listen,
        "--rate-burst",
        "100000",
        "--rate-per-minute",
        "10000000",
    ];
    start_serving(&[&args[..], &rest[..], extra].concat(), port)
}

#[test]
fn an_oracle_killed_at_random_moments_keeps_every_report_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (node_home, oracle_home) = (dir.path().join("node"), dir.path().join("oracle"));
    init_chain(&node_home, "3600000");
    let node_port = free_port();
    let mut node = start_node(&node_home, node_port);
    let node_url = format!("http://127.0.0.1:{node_port}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(onboard(&NodeClient::new(&node_url)));
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let (mut acked, mut seq) = (BTreeSet::new(), 0u64);
    for cycle in 0..cycles() {
        let port = free_port();
        let mut child = start_oracle(&oracle_home, &node_home, &node_url, port, "120000");
        let o = OracleClient::new(&format!("http://127.0.0.1:{port}"));
        let kill_after = Duration::from_millis(rng.gen_range(300..900));
        rt.block_on(async {
            let _ = tokio::time::timeout(kill_after, report_until_killed(&o, &mut seq, &mut acked))
                .await;
        });
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        eprintln!(
            "cycle {cycle}: killed after {kill_after:?}; {} acknowledged so far",
            acked.len()
        );
    }
    assert!(
        !acked.is_empty(),
        "no report was ever acknowledged: the test proved nothing"
    );
    let port = free_port();
    let mut child = start_oracle(&oracle_home, &node_home, &node_url, port, "120000");
    let o = OracleClient::new(&format!("http://127.0.0.1:{port}"));
    rt.block_on(async {
        for id in &acked {
            let st = o.status(id).await.unwrap();
            assert_eq!(
                st.status, "accepted",
                "report {id} was acknowledged and then lost"
            );
        }
        let held: u64 = o
            .epochs()
            .await
            .unwrap()
            .open
            .iter()
            .map(|e| e.reports)
            .sum();
        // A report made durable but killed before its reply is kept, never acknowledged.
        assert!(
            held >= acked.len() as u64 && held <= seq,
            "held {held}, acknowledged {}, sent {seq}",
            acked.len()
        );
    });
    child.kill().unwrap();
    child.wait().unwrap();
    node.kill().unwrap();
    node.wait().unwrap();
}
