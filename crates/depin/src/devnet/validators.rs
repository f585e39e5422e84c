//! `devnet --validators N`: the chain replicated by N BFT validator processes on 127.0.0.1
//! (needs a build with `--features bft`). Validator 0 is the devnet's node (API on `--port`,
//! explorer); validator i ≥ 1 has its API on `--port + 100 + i`; validator i's p2p listens on
//! `--port + 110 + i`.

use super::setup::Layout;
use super::DevnetArgs;
use anyhow::{Context, Result};
use depin_types::Address;
use serde_json::{json, Value};
use std::path::PathBuf;

/// Most validators a devnet runs.
pub const MAX_VALIDATORS: usize = 8;
/// Stake of each devnet validator in genesis, tokens.
pub const VALIDATOR_STAKE_TOKENS: &str = "1000";

/// Validator `i`'s API port.
pub fn api_port(a: &DevnetArgs, i: usize) -> u16 {
    if i == 0 {
        return a.port;
    }
    a.port + 100 + u16::try_from(i).expect("at most MAX_VALIDATORS")
}

/// Validator `i`'s p2p port.
fn p2p_port(a: &DevnetArgs, i: usize) -> u16 {
    a.port + 110 + u16::try_from(i).expect("at most MAX_VALIDATORS")
}

/// Validator `i`'s home (validator 0 is the devnet's node).
pub fn home(l: &Layout, i: usize) -> PathBuf {
    if i == 0 {
        return l.node.clone();
    }
    l.dir.join(format!("validator-{i}"))
}

/// Validator `i`'s wallet file.
pub fn wallet(l: &Layout, i: usize) -> PathBuf {
    l.wallets.join(format!("validator-{i}.json"))
}

/// Checks `--validators` against the bound and the build.
pub fn check(a: &DevnetArgs) -> Result<()> {
    anyhow::ensure!(
        a.validators <= MAX_VALIDATORS,
        "--validators {} is over {MAX_VALIDATORS}",
        a.validators
    );
    anyhow::ensure!(
        a.validators == 0 || cfg!(feature = "bft"),
        "--validators needs BFT support: run `cargo run --release --features bft -- devnet \
         --validators {}`",
        a.validators
    );
    Ok(())
}

/// Copies the genesis and config written in validator 0's home into the other homes.
pub fn prepare_homes(l: &Layout, n: usize) -> Result<()> {
    for i in 1..n {
        let h = home(l, i);
        std::fs::create_dir_all(&h)?;
        for path in [
            depin_node::home::genesis_path,
            depin_node::home::config_path,
        ] {
            if !path(&h).exists() {
                std::fs::copy(path(&l.node), path(&h)).with_context(|| {
                    format!("copying {} into {}", path(&l.node).display(), h.display())
                })?;
            }
        }
    }
    Ok(())
}

/// `node start` arguments of validator `i` of `addresses`.
pub fn node_args(l: &Layout, a: &DevnetArgs, i: usize, addresses: &[Address]) -> Vec<String> {
    let peers: Vec<String> = addresses
        .iter()
        .enumerate()
        .map(|(j, addr)| format!("{addr}@127.0.0.1:{}", p2p_port(a, j)))
        .collect();
    [
        "node".to_string(),
        "start".into(),
        "--home".into(),
        Layout::arg(&home(l, i)),
        "--api.listen".into(),
        format!("127.0.0.1:{}", api_port(a, i)),
        "--validator".into(),
        "--validator-key".into(),
        Layout::arg(&wallet(l, i)),
        "--p2p.listen".into(),
        format!("127.0.0.1:{}", p2p_port(a, i)),
        "--peers".into(),
        peers.join(","),
    ]
    .to_vec()
}

/// Each validator's height, last block hash and state root, and whether all validators
/// agree at the lowest height any of them has.
pub async fn agreement(a: &DevnetArgs) -> Result<Value> {
    let mut views = Vec::new();
    for i in 0..a.validators {
        let node = depin_client::NodeClient::new(&format!("http://127.0.0.1:{}", api_port(a, i)));
        views.push(node.chain().await?);
    }
    let Some(lowest) = views.iter().map(|c| c.height).min() else {
        return Ok(Value::Null);
    };
    let mut hashes = Vec::new();
    for i in 0..a.validators {
        let node = depin_client::NodeClient::new(&format!("http://127.0.0.1:{}", api_port(a, i)));
        let block = node.block(&lowest.to_string()).await?;
        hashes.push(block.hash);
    }
    let agree = hashes.windows(2).all(|w| w[0] == w[1]);
    let heights: Vec<u64> = views.iter().map(|c| c.height).collect();
    Ok(
        json!({"count": a.validators, "heights": heights, "compared_height": lowest, "agree": agree}),
    )
}
