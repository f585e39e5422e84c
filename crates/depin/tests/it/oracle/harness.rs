//! A node and oracles on temporary directories and loopback ports, with onboarded heartbeat
//! devices.

use depin_client::{NodeClient, OracleClient};
use depin_module::ResourceModule;
use depin_module_heartbeat::Heartbeat;
use depin_node::{home, NodeConfig, NodeHandle};
use depin_oracle::{OracleConfig, OracleHandle};
use depin_types::genesis::{Allocation, MakerParams, ModuleWeight, RewardsParams};
use depin_types::tx::{Action, DeviceAction, OnboardDevice};
use depin_types::{Address, Amount, ChainParams, Genesis, Hash32, Network, SecretKey, Transaction};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub const CHAIN: &str = "oracle-it";
pub const EPOCH_MS: u64 = 3_000;
pub const EMISSION: u128 = 1_000_000_000;
pub const OWNERS: [u8; 2] = [1, 2];
pub const DEVICES: [u8; 4] = [20, 21, 22, 23];
pub const MAKER: u8 = 30;
pub const ORACLES: [u8; 3] = [40, 41, 42];
pub const PAYER: u8 = 5;
pub const REMAINDER: u8 = 6;

pub fn key(i: u8) -> SecretKey {
    SecretKey::from_seed([i; 32])
}

pub fn addr(i: u8) -> Address {
    Address::new(Network::Devnet, key(i).public())
}

/// Owner of device `d`: the first two devices are owner 1's, the others owner 2's.
pub fn owner_of(d: u8) -> u8 {
    if d < DEVICES[2] {
        OWNERS[0]
    } else {
        OWNERS[1]
    }
}

pub fn modules() -> Vec<Arc<dyn ResourceModule>> {
    vec![Arc::new(Heartbeat)]
}

pub fn genesis(genesis_time_ms: u64) -> Genesis {
    let funded = [
        OWNERS[0], OWNERS[1], PAYER, ORACLES[0], ORACLES[1], ORACLES[2],
    ];
    Genesis {
        validators: vec![],
        chain_id: CHAIN.into(),
        network: Network::Devnet,
        genesis_time_ms,
        producer: addr(99),
        params: ChainParams {
            block_time_ms: 100,
            ..ChainParams::default()
        },
        allocations: funded
            .iter()
            .map(|i| Allocation {
                address: addr(*i),
                amount_bones: Amount(100_000_000_000),
            })
            .collect(),
        makers: vec![MakerParams {
            name: "maker".into(),
            key: addr(MAKER),
        }],
        device_classes: Heartbeat.device_classes(),
        rewards: Some(RewardsParams {
            epoch_length_ms: EPOCH_MS,
            initial_emission_bones: Amount(EMISSION),
            halving_interval_epochs: 2,
            oracles: ORACLES.iter().map(|o| addr(*o)).collect(),
            attest_threshold: 2,
            module_weights: vec![ModuleWeight {
                module: "heartbeat".into(),
                weight: 1,
                params: Default::default(),
            }],
            remainder_account: addr(REMAINDER),
        }),
    }
}

pub async fn start_node(dir: &Path, g: &Genesis) -> (NodeHandle, NodeClient) {
    home::write_genesis(dir, g).unwrap();
    let mut config = NodeConfig::default();
    config.api.listen = "127.0.0.1:0".into();
    let node = depin_node::start(dir, config).await.unwrap();
    let client = NodeClient::new(&format!("http://{}", node.api_addr));
    (node, client)
}

pub fn oracle_config(dir: &Path, g: &Genesis, node: &NodeClient, key: u8) -> OracleConfig {
    OracleConfig {
        home: dir.to_path_buf(),
        listen: "127.0.0.1:0".into(),
        genesis: g.clone(),
        node_url: node.base_url().to_string(),
        key: Some(self::key(key)),
        follow: None,
        max_skew_ms: 1_000,
        rate_burst: 20,
        rate_per_minute: 600,
        max_body_bytes: 64 * 1024,
        metrics: None,
    }
}

pub async fn start_oracle(cfg: OracleConfig) -> (OracleHandle, OracleClient) {
    let h = depin_oracle::start(cfg, modules()).await.unwrap();
    let c = OracleClient::new(&format!("http://{}", h.addr));
    (h, c)
}

/// Signs and submits `action` from `signer`, and waits until it is committed successfully.
pub async fn send(node: &NodeClient, signer: u8, action: Action) -> Hash32 {
    let k = key(signer);
    let acct = node.account(&k.public().to_hex()).await.unwrap();
    let tx = Transaction {
        chain_id: CHAIN.into(),
        signer: k.public(),
        nonce: acct.next_nonce,
        fee: Amount(1_000),
        action,
    };
    let id = node.submit(&tx.sign(&k)).await.unwrap();
    let receipt = node
        .wait_committed(&id, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(receipt.status, "success", "{receipt:?}");
    id
}

/// Onboards every test device with its owner, the maker approving.
pub async fn onboard_devices(node: &NodeClient) {
    for d in DEVICES {
        let (dev, owner, maker) = (key(d), key(owner_of(d)), key(MAKER));
        let class = depin_module_heartbeat::CLASS;
        let o = OnboardDevice::signed_by(CHAIN, &dev, &owner.public(), &maker, class, None);
        send(node, owner_of(d), Action::Devices(DeviceAction::Onboard(o))).await;
    }
}

pub fn now_ms() -> u64 {
    depin_types::wall_clock_ms()
}

/// Waits until `epoch`'s root is effective on the chain.
pub async fn wait_root(
    node: &NodeClient,
    epoch: u64,
    timeout: Duration,
) -> depin_api::EpochRewardsView {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let v = node.epoch_rewards(epoch, None).await.unwrap();
        if v.root.is_some() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "epoch {epoch} has no root after {timeout:?}: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
