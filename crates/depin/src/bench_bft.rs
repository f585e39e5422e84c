//! `depin bench bft`: the same signed transfers through one solo node and through
//! `--validators` BFT validators (feature `bft`; all in this process, p2p on loopback), in one
//! run: transfers per second to commitment, and finality latency (a probe transfer submitted
//! one after another on the idle chain, timed until its receipt). The solo node is the ceiling.

use crate::bench::{bench_genesis, encode_lanes, seed, sign_transfers, submit_and_wait};
use anyhow::{bail, Result};
use depin_client::NodeClient;
use depin_node::{home, NodeConfig};
use depin_types::genesis::{Allocation, GenesisValidator};
use depin_types::tx::{Action, BankAction, Transaction};
use depin_types::{Address, Amount, Network, SecretKey};
use serde_json::json;
use std::time::{Duration, Instant};

/// Most validators the bench runs.
pub const MAX_VALIDATORS: usize = 16;
/// Blocks finalized before anything is timed.
const WARMUP_BLOCKS: u64 = 3;
/// Finality probes per run.
const PROBES: u64 = 20;
/// Interval between finality probes.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// Longest a probe may wait for its receipt.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// `bench bft`
#[derive(clap::Args, Debug)]
pub struct BftArgs {
    /// Validators (BFT run).
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Transfers per run.
    #[arg(long, default_value_t = 50_000)]
    pub txs: usize,
    /// Sending accounts.
    #[arg(long, default_value_t = 1_000)]
    pub accounts: usize,
    /// Block time (solo) and least block interval (BFT), ms.
    #[arg(long, default_value_t = 200)]
    pub block_time_ms: u64,
    /// Most transfers per block (both runs).
    #[arg(long, default_value_t = 5_000)]
    pub max_block_txs: u32,
}

/// One run's figures.
struct RunFigures {
    tps: f64,
    finality_ms: Vec<u64>,
    height: u64,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn probe_key() -> SecretKey {
    SecretKey::from_seed([0x9b; 32])
}

/// Submits [`PROBES`] probe transfers one after another, [`PROBE_EVERY`] apart, each timed
/// from submission until its receipt, ms (sorted).
async fn probe(client: &NodeClient) -> Result<Vec<u64>> {
    let key = probe_key();
    let mut out = Vec::new();
    for nonce in 0..PROBES {
        let tx = Transaction {
            chain_id: "bench".into(),
            signer: key.public(),
            nonce,
            fee: Amount(1_000),
            action: Action::Bank(BankAction::Transfer {
                to: key.public(),
                amount: Amount(1),
            }),
        }
        .sign(&key);
        let started = Instant::now();
        client.submit_batch(std::slice::from_ref(&tx)).await?;
        client.wait_committed(&tx.id(), PROBE_TIMEOUT).await?;
        out.push(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        tokio::time::sleep(PROBE_EVERY).await;
    }
    out.sort_unstable();
    Ok(out)
}

/// Finality of single transfers on an idle chain, then the load submitted to `client` and
/// timed until all of it is committed.
async fn measure(client: &NodeClient, a: &BftArgs, keys: &[SecretKey]) -> Result<RunFigures> {
    // Warm-up: validators connect and finalize a few blocks before anything is timed.
    let deadline = Instant::now() + PROBE_TIMEOUT;
    while client.chain().await?.height < WARMUP_BLOCKS {
        if Instant::now() > deadline {
            bail!("the chain did not reach height {WARMUP_BLOCKS} within {PROBE_TIMEOUT:?}");
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
    let finality_ms = probe(client).await?;
    let txs = sign_transfers(keys, a.txs);
    let lanes = encode_lanes(&txs, keys.len());
    let start_height = client.chain().await?.height;
    let elapsed = submit_and_wait(client, lanes, txs.len() + finality_ms.len()).await?;
    let height = client.chain().await?.height - start_height;
    Ok(RunFigures {
        tps: a.txs as f64 / elapsed.as_secs_f64(),
        finality_ms,
        height,
    })
}

fn genesis(a: &BftArgs, keys: &[SecretKey], validators: &[SecretKey]) -> depin_types::Genesis {
    let mut g = bench_genesis(keys, a.block_time_ms);
    g.params.max_block_txs = a.max_block_txs;
    g.allocations.push(Allocation {
        address: Address::new(Network::Devnet, probe_key().public()),
        amount_bones: Amount(1_000_000_000_000),
    });
    g.validators = validators
        .iter()
        .map(|v| GenesisValidator {
            address: Address::new(Network::Devnet, v.public()),
            stake_bones: Amount(1_000_000_000_000),
        })
        .collect();
    g
}

fn config(a: &BftArgs) -> NodeConfig {
    let mut config = NodeConfig::default();
    config.api.listen = "127.0.0.1:0".into();
    config.mempool.max_txs = a.txs as u64 + 10_000;
    config
}

async fn solo(a: &BftArgs, keys: &[SecretKey]) -> Result<RunFigures> {
    let dir = tempfile::tempdir()?;
    home::write_genesis(dir.path(), &genesis(a, keys, &[]))?;
    let node = depin_node::start(dir.path(), config(a)).await?;
    let client = NodeClient::new(&format!("http://{}", node.api_addr));
    let figures = measure(&client, a, keys).await;
    node.stop().await;
    figures
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn replicated(a: &BftArgs, keys: &[SecretKey]) -> Result<RunFigures> {
    let dir = tempfile::tempdir()?;
    let vkeys: Vec<SecretKey> = (0..a.validators)
        .map(|i| {
            let mut seed = [0xa0; 32];
            seed[0] = u8::try_from(i).expect("at most MAX_VALIDATORS");
            SecretKey::from_seed(seed)
        })
        .collect();
    let ports: Vec<u16> = (0..a.validators)
        .map(|_| free_port())
        .collect::<Result<_>>()?;
    let peers: Vec<_> = vkeys
        .iter()
        .zip(&ports)
        .map(|(k, p)| (k.public(), std::net::SocketAddr::from(([127, 0, 0, 1], *p))))
        .collect();
    let g = genesis(a, keys, &vkeys);
    let mut nodes = Vec::new();
    for (i, k) in vkeys.iter().enumerate() {
        let h = dir.path().join(format!("v{i}"));
        home::write_genesis(&h, &g)?;
        let setup = depin_node::bft::ValidatorSetup {
            key: k.clone(),
            listen: peers[i].1,
            peers: peers.clone(),
            journal_dir: h.join("consensus"),
            timing: depin_consensus::bft::Timing {
                min_block_interval_ms: a.block_time_ms,
                ..depin_consensus::bft::Timing::default()
            },
        };
        let parts = depin_node::NodeParts {
            modules: depin_node::NodeModules::none(),
            extra: axum::Router::new(),
            consensus: depin_node::run::Consensus::Validator(Box::new(setup)),
        };
        nodes.push(depin_node::run::start_full(&h, config(a), parts).await?);
    }
    let client = NodeClient::new(&format!("http://{}", nodes[0].api_addr));
    let figures = measure(&client, a, keys).await;
    for n in nodes {
        n.stop().await;
    }
    figures
}

/// Runs the bench; the last line printed is its JSON.
///
/// Errors: bad arguments, a node that does not start, transfers that do not commit.
pub async fn bft(a: &BftArgs) -> Result<()> {
    if a.validators == 0 || a.validators > MAX_VALIDATORS || a.txs == 0 || a.accounts == 0 {
        bail!("--validators must be 1 to {MAX_VALIDATORS}; --txs and --accounts positive");
    }
    let keys: Vec<SecretKey> = (0..a.accounts)
        .map(|i| SecretKey::from_seed(seed(i)))
        .collect();
    let s = solo(a, &keys).await?;
    eprintln!(
        "solo: {} transfers at {:.0}/s in {} blocks; idle finality p50 {} ms, p99 {} ms ({} probes)",
        a.txs,
        s.tps,
        s.height,
        percentile(&s.finality_ms, 0.5),
        percentile(&s.finality_ms, 0.99),
        s.finality_ms.len()
    );
    let r = replicated(a, &keys).await?;
    eprintln!("bft, {} validators: {} transfers at {:.0}/s in {} blocks; idle finality p50 {} ms, p99 {} ms ({} probes)", a.validators, a.txs, r.tps, r.height, percentile(&r.finality_ms, 0.5), percentile(&r.finality_ms, 0.99), r.finality_ms.len());
    let ratio = r.tps / s.tps;
    eprintln!("ratio bft/solo: {ratio:.3}");
    println!(
        "{}",
        json!({"bench": "bft", "validators": a.validators, "finality_ms_p50": percentile(&r.finality_ms, 0.5), "finality_ms_p99": percentile(&r.finality_ms, 0.99), "solo_finality_ms_p50": percentile(&s.finality_ms, 0.5), "tps": r.tps.round(), "solo_tps": s.tps.round(), "ratio": (ratio * 1000.0).round() / 1000.0})
    );
    Ok(())
}
