//! A node on a temporary home directory, on an ephemeral loopback port.

use depin_client::NodeClient;
use depin_node::{home, NodeConfig, NodeHandle};
use depin_types::genesis::Allocation;
use depin_types::tx::{Action, BankAction, Transaction};
use depin_types::{Address, Amount, ChainParams, Genesis, Network, SecretKey, SignedTransaction};
use std::path::Path;

pub const CHAIN: &str = "it-chain";

pub fn key(i: u8) -> SecretKey {
    SecretKey::from_seed([i.wrapping_add(100); 32])
}

pub fn genesis(chain_id: &str) -> Genesis {
    Genesis {
        validators: vec![],
        chain_id: chain_id.into(),
        network: Network::Devnet,
        genesis_time_ms: 0,
        producer: Address::new(Network::Devnet, key(99).public()),
        params: ChainParams {
            block_time_ms: 50,
            max_tx_bytes: 1024,
            ..ChainParams::default()
        },
        allocations: (0..4)
            .map(|i| Allocation {
                address: Address::new(Network::Devnet, key(i).public()),
                amount_bones: Amount(10_000_000_000),
            })
            .collect(),
        makers: vec![],
        device_classes: vec![],
        rewards: None,
    }
}

pub async fn start(home_dir: &Path) -> (NodeHandle, NodeClient) {
    if !home::genesis_path(home_dir).exists() {
        home::write_genesis(home_dir, &genesis(CHAIN)).unwrap();
    }
    let mut config = NodeConfig::default();
    config.api.listen = "127.0.0.1:0".into();
    let node = depin_node::start(home_dir, config).await.unwrap();
    let client = NodeClient::new(&format!("http://{}", node.api_addr));
    (node, client)
}

pub fn transfer(chain_id: &str, from: u8, nonce: u64, amount: u128) -> SignedTransaction {
    let sk = key(from);
    Transaction {
        chain_id: chain_id.into(),
        signer: sk.public(),
        nonce,
        fee: Amount(1_000),
        action: Action::Bank(BankAction::Transfer {
            to: key(3).public(),
            amount: Amount(amount),
        }),
    }
    .sign(&sk)
}
