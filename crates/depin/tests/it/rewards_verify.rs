//! `depin rewards verify` passes on a real settled epoch and exits non-zero, naming the first
//! difference, on a tampered manifest or tampered inputs.

use crate::oracle_crash::{init_chain, key, now_ms, onboard, start_oracle, CHAIN};
use crate::process::{free_port, run, start_node};
use depin_client::{NodeClient, OracleClient};
use depin_types::Report;
use std::time::Duration;

const EPOCH_MS: &str = "3000";

/// Sends heartbeats from the test devices until the oracle has settled epoch 0.
async fn heartbeats_until_settled(o: &OracleClient) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if o.epochs().await.is_ok_and(|e| e.settled.contains(&0)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "epoch 0 was not settled"
        );
        for d in 0..4u8 {
            let dev = key(100 + d);
            let r = Report {
                chain_id: CHAIN.into(),
                module: "heartbeat".into(),
                device: dev.public(),
                timestamp_ms: now_ms(),
                payload: vec![],
            };
            let _ = o.submit(&r.sign(&dev)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn verify(args: &[&str]) -> (bool, String) {
    let out = run(&[&["rewards", "verify", "0"][..], args].concat());
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn rewards_verify_passes_on_a_settled_epoch_and_fails_on_tampered_files() {
    let dir = tempfile::tempdir().unwrap();
    let (node_home, oracle_home) = (dir.path().join("node"), dir.path().join("oracle"));
    init_chain(&node_home, EPOCH_MS);
    let node_port = free_port();
    let mut node = start_node(&node_home, node_port);
    let node_url = format!("http://127.0.0.1:{node_port}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(onboard(&NodeClient::new(&node_url)));
    let port = free_port();
    let mut oracle = start_oracle(&oracle_home, &node_home, &node_url, port, "1000");
    let oracle_url = format!("http://127.0.0.1:{port}");
    rt.block_on(heartbeats_until_settled(&OracleClient::new(&oracle_url)));

    let genesis = node_home.join("genesis.toml");
    let chain_args = [
        "--oracle",
        &oracle_url,
        "--node",
        &node_url,
        "--genesis",
        genesis.to_str().unwrap(),
    ];
    let (ok, out) = verify(&chain_args);
    assert!(ok, "a real epoch verifies: {out}");

    let published = oracle_home.join("published").join("epoch-0000000000");
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    let inputs = std::fs::read(published.join("inputs.bin")).unwrap();
    let manifest = std::fs::read_to_string(published.join("manifest.json")).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    m["verdict_counts"]["valid"] = serde_json::json!(1_000_000);
    std::fs::write(copy.join("manifest.json"), m.to_string()).unwrap();
    std::fs::write(copy.join("inputs.bin"), &inputs).unwrap();
    let offline = ["--dir", copy.to_str().unwrap(), "--offline"];
    let (ok, out) = verify(&offline);
    assert!(
        !ok && out.contains("verdict_counts.valid"),
        "a tampered manifest fails: {out}"
    );

    let mut tampered = inputs.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    std::fs::write(copy.join("manifest.json"), &manifest).unwrap();
    std::fs::write(copy.join("inputs.bin"), &tampered).unwrap();
    let (ok, out) = verify(&offline);
    assert!(!ok && out.contains("inputs"), "tampered inputs fail: {out}");
    for c in [&mut oracle, &mut node] {
        c.kill().unwrap();
        c.wait().unwrap();
    }
}
