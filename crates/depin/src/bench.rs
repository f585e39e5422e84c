//! `depin bench …`: throughput against a ceiling measured in the same run. Each prints its
//! figures on stderr and, as its last stdout line, one JSON object.

use crate::cmd::Ctx;
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use depin_client::NodeClient;
use depin_node::{home, NodeConfig};
use depin_types::genesis::Allocation;
use depin_types::tx::{Action, BankAction, Transaction};
use depin_types::{
    Address, Amount, BatchVerifier, ChainParams, Genesis, Network, SecretKey, SignedTransaction,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::time::{Duration, Instant};

/// Transactions per batch submission.
const SUBMIT_BATCH: usize = 1_000;
/// Concurrent submitting clients.
const SUBMITTERS: usize = 4;
/// Longest the ledger bench waits for its transfers to commit.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(600);

/// Benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Durable signed transfers per second through the node (HTTP batch submission, mempool,
    /// blocks, fsync'd commits) against the raw ed25519 batch-verify rate of the same
    /// signatures on the same cores. Target ratio ≥ 0.5.
    Ledger {
        /// Transfers to send.
        #[arg(long, default_value_t = 100_000)]
        txs: usize,
        /// Sending accounts.
        #[arg(long, default_value_t = 5_000)]
        accounts: usize,
        /// Block time of the benchmark chain, ms.
        #[arg(long, default_value_t = 250)]
        block_time_ms: u64,
    },
}

/// Runs a benchmark.
pub async fn run(_ctx: &Ctx, cmd: BenchCmd) -> Result<()> {
    match cmd {
        BenchCmd::Ledger {
            txs,
            accounts,
            block_time_ms,
        } => ledger(txs, accounts, block_time_ms).await,
    }
}

fn bench_genesis(keys: &[SecretKey], block_time_ms: u64) -> Genesis {
    let net = Network::Devnet;
    Genesis {
        chain_id: "bench".into(),
        network: net,
        genesis_time_ms: 0,
        producer: Address::new(net, SecretKey::from_seed([0xbe; 32]).public()),
        params: ChainParams {
            block_time_ms,
            max_block_txs: 50_000,
            ..ChainParams::default()
        },
        allocations: keys
            .iter()
            .map(|k| Allocation {
                address: Address::new(net, k.public()),
                amount_bones: Amount(1_000_000_000_000),
            })
            .collect(),
        makers: vec![],
        device_classes: vec![],
    }
}

/// Round-robin over accounts so each batch spreads across many senders.
fn sign_transfers(keys: &[SecretKey], n: usize) -> Vec<SignedTransaction> {
    let bar = bar(n as u64, "signing");
    let out = (0..n)
        .map(|i| {
            let from = i % keys.len();
            let to = (from + 1) % keys.len();
            let nonce = (i / keys.len()) as u64;
            bar.inc(1);
            Transaction {
                chain_id: "bench".into(),
                signer: keys[from].public(),
                nonce,
                fee: Amount(1_000),
                action: Action::Bank(BankAction::Transfer {
                    to: keys[to].public(),
                    amount: Amount(1 + i as u128),
                }),
            }
            .sign(&keys[from])
        })
        .collect();
    bar.finish_and_clear();
    out
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {per_sec}")
            .expect("static template"),
    );
    b.set_message(what.to_string());
    b
}

/// Raw batch verification of the same signatures, split over all cores like the node's
/// admission path; signatures per second.
fn raw_verify_rate(txs: &[SignedTransaction]) -> Result<f64> {
    let messages: Vec<Vec<u8>> = txs.iter().map(|t| t.tx.signing_bytes()).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = txs.len().div_ceil(threads);
    let start = Instant::now();
    let ok = std::thread::scope(|s| {
        let handles: Vec<_> = txs
            .chunks(chunk)
            .zip(messages.chunks(chunk))
            .map(|(ts, ms)| {
                s.spawn(move || {
                    let mut b = BatchVerifier::new();
                    for (t, m) in ts.iter().zip(ms) {
                        b.queue(&t.tx.signer, m, &t.signature);
                    }
                    b.verify().is_ok()
                })
            })
            .collect();
        handles.into_iter().all(|h| h.join().unwrap_or(false))
    });
    if !ok {
        bail!("benchmark signatures failed to verify");
    }
    Ok(txs.len() as f64 / start.elapsed().as_secs_f64())
}

async fn ledger(n: usize, accounts: usize, block_time_ms: u64) -> Result<()> {
    if n == 0 || accounts == 0 {
        bail!("--txs and --accounts must be positive");
    }
    let keys: Vec<SecretKey> = (0..accounts)
        .map(|i| SecretKey::from_seed(seed(i)))
        .collect();
    let txs = sign_transfers(&keys, n);
    let verify_per_s = raw_verify_rate(&txs)?;
    eprintln!(
        "raw ed25519 batch verify: {verify_per_s:.0} signatures/s on {} cores",
        cores()
    );

    let dir = tempfile::tempdir()?;
    home::write_genesis(dir.path(), &bench_genesis(&keys, block_time_ms))?;
    let mut config = NodeConfig::default();
    config.api.listen = "127.0.0.1:0".into();
    config.mempool.max_txs = n as u64 + 1;
    let node = depin_node::start(dir.path(), config).await?;
    let client = NodeClient::new(&format!("http://{}", node.api_addr));
    let cpu_before = cpu_seconds();
    let elapsed = submit_and_wait(&client, &txs, accounts).await?;
    let cpu_used = cpu_seconds() - cpu_before;
    eprintln!(
        "process CPU during the run: {cpu_used:.2} core-s over {:.2} s ({:.0}% of one core)",
        elapsed.as_secs_f64(),
        100.0 * cpu_used / elapsed.as_secs_f64()
    );
    let supply_ok = client.supply().await?.ok;
    let height = client.chain().await?.height;
    node.stop().await;
    let transfers_per_s = n as f64 / elapsed.as_secs_f64();
    let ratio = transfers_per_s / verify_per_s;
    eprintln!("node: {n} durable transfers in {:.2} s over {height} blocks = {transfers_per_s:.0}/s; supply ok: {supply_ok}", elapsed.as_secs_f64());
    eprintln!("ratio to raw verify: {ratio:.3} (target ≥ 0.5)");
    if !supply_ok {
        bail!("supply check failed after the benchmark");
    }
    println!(
        "{}",
        json!({"bench": "ledger", "transfers_per_s": transfers_per_s.round(), "verify_per_s": verify_per_s.round(), "ratio": (ratio * 1000.0).round() / 1000.0})
    );
    Ok(())
}

fn seed(i: usize) -> [u8; 32] {
    let mut s = [7u8; 32];
    s[..8].copy_from_slice(&(i as u64).to_le_bytes());
    s
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Submits through `SUBMITTERS` concurrent clients, each owning the accounts `a` with
/// `a % SUBMITTERS == k` (so every account's nonces arrive in order), and waits until every
/// transfer is committed.
async fn submit_and_wait(
    client: &NodeClient,
    txs: &[SignedTransaction],
    accounts: usize,
) -> Result<Duration> {
    let bar = bar(txs.len() as u64, "committed");
    let lanes = SUBMITTERS.min(accounts);
    let mut per_lane: Vec<Vec<SignedTransaction>> = vec![Vec::new(); lanes];
    for (i, t) in txs.iter().enumerate() {
        per_lane[(i % accounts) % lanes].push(t.clone());
    }
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for lane in per_lane {
        let client = client.clone();
        set.spawn(async move {
            for chunk in lane.chunks(SUBMIT_BATCH) {
                submit_chunk(&client, Some(chunk)).await?;
            }
            Ok::<(), anyhow::Error>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.context("submitter task")??;
    }
    eprintln!(
        "submitted {} transfers in {:.2} s",
        txs.len(),
        start.elapsed().as_secs_f64()
    );
    let target = txs.len() as u64;
    loop {
        let committed = client.chain().await?.committed_txs;
        bar.set_position(committed);
        if committed >= target {
            break;
        }
        if start.elapsed() > COMMIT_TIMEOUT {
            bail!("only {committed} of {target} transfers committed after {COMMIT_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bar.finish_and_clear();
    Ok(start.elapsed())
}

async fn submit_chunk(client: &NodeClient, chunk: Option<&[SignedTransaction]>) -> Result<()> {
    let Some(chunk) = chunk else { return Ok(()) };
    let r = client
        .submit_batch(chunk)
        .await
        .context("batch submission")?;
    if let Some(bad) = r.results.iter().find(|r| !r.accepted) {
        bail!("node refused a benchmark transfer: {:?}", bad.error);
    }
    Ok(())
}

/// User plus system CPU time of this process so far, in seconds (from /proc; 0 where absent).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
