//! What a devnet does once it is up: the client stores its files, the fleet runs its
//! epochs (watched with a progress bar), the client fetches every file back, and the devnet
//! waits until the last epoch's reward root is in effect on the chain.

use super::setup::{Layout, Network};
use super::DevnetArgs;
use anyhow::{bail, Context, Result};
use depin_client::{NodeClient, OracleClient};
use depin_module_storage::object::blake3_hash;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{RngCore, SeedableRng};
use std::path::Path;
use std::time::Duration;

/// Largest file the client stores, bytes (file `i` holds `1 KiB << (i mod 11)`).
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Pause between progress polls.
const POLL: Duration = Duration::from_secs(1);
/// Extra time, beyond an epoch and its grace, for the last root to take effect.
const ROOT_WAIT: Duration = Duration::from_secs(180);
/// Epochs the client pays storage for, beyond the run.
const EXTRA_DEAL_EPOCHS: u64 = 20;

/// What a finished run did.
pub struct Outcome {
    /// First epoch the fleet ran.
    pub first_epoch: u64,
    /// Last epoch the fleet ran (its root is in effect).
    pub last_epoch: u64,
    /// The fleet's totals (`agent fleet`'s JSON: onboarding, beacons, witnesses, packets).
    pub fleet: serde_json::Value,
    /// Files stored (one deal each).
    pub files_stored: usize,
    /// Files fetched back byte-exact (BLAKE3 equal).
    pub files_retrieved_ok: usize,
}

/// Runs the devnet's workload to its end.
///
/// Errors: a process that exits early, a refused `storage put`, a fleet failure, or a last
/// root that never takes effect.
pub async fn drive(net: &mut Network, a: &DevnetArgs) -> Result<Outcome> {
    let deals = store_files(net, a).await?;
    let fleet = watch_fleet(net).await?;
    let first_epoch = fleet["first_epoch"]
        .as_u64()
        .context("the fleet's result has no first_epoch")?;
    let last_epoch = first_epoch + a.epochs.max(1) - 1;
    let files_retrieved_ok = fetch_files(net, &deals).await?;
    wait_effective(net, last_epoch).await?;
    Ok(Outcome {
        first_epoch,
        last_epoch,
        fleet,
        files_stored: deals.len(),
        files_retrieved_ok,
    })
}

/// Writes the client's seeded files under `dir` (once).
fn write_files(dir: &Path, a: &DevnetArgs) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for i in 0..a.files {
        let path = dir.join(format!("file-{i:03}.bin"));
        if path.exists() {
            continue;
        }
        let len = (1024usize << (i % 11)).min(MAX_FILE_BYTES);
        let mut bytes = vec![0u8; len];
        rand::rngs::StdRng::seed_from_u64(a.seed ^ (i as u64) << 32).fill_bytes(&mut bytes);
        std::fs::write(&path, bytes)?;
    }
    Ok(())
}

/// `k` of `n` for `providers` providers: 4 of 6 when there are six or more, else all of
/// them with two parity shards (one when fewer than three).
fn coding(providers: usize) -> (usize, usize) {
    let n = providers.min(6);
    let parity = if n >= 3 { 2 } else { n.saturating_sub(1) };
    (n - parity, n)
}

/// Stores every client file (one deal each); the deals `storage put` printed.
async fn store_files(net: &Network, a: &DevnetArgs) -> Result<Vec<serde_json::Value>> {
    if a.files == 0 || net.providers.is_empty() {
        return Ok(Vec::new());
    }
    let files = net.layout.dir.join("files");
    write_files(&files, a)?;
    let (k, n) = coding(net.providers.len());
    let epochs = (a.epochs + EXTRA_DEAL_EPOCHS).to_string();
    let put = net
        .cli(&[
            "storage",
            "put",
            &Layout::arg(&files),
            "--k",
            &k.to_string(),
            "--n",
            &n.to_string(),
            "--epochs",
            &epochs,
            "--commit",
        ])
        .await?;
    let deals = put["deals"].as_array().cloned().unwrap_or_default();
    eprintln!("stored {} files, {k} of {n} shards each", deals.len());
    Ok(deals)
}

/// Fetches every deal's object into `fetched/` and counts those equal to their source.
async fn fetch_files(net: &Network, deals: &[serde_json::Value]) -> Result<usize> {
    let out = net.layout.dir.join("fetched");
    std::fs::create_dir_all(&out)?;
    let mut ok = 0;
    for d in deals {
        let (Some(id), Some(src)) = (d["deal"].as_str(), d["path"].as_str()) else {
            bail!("storage put printed a deal without id or path: {d}");
        };
        let target = out.join(format!("{id}.bin"));
        let _ = std::fs::remove_file(&target);
        if let Err(e) = net
            .cli(&["storage", "get", id, &Layout::arg(&target)])
            .await
        {
            eprintln!("fetching {src}: {e:#}");
            continue;
        }
        if blake3_hash(&std::fs::read(&target)?) == blake3_hash(&std::fs::read(src)?) {
            ok += 1;
        }
    }
    eprintln!("fetched {ok} of {} files back byte-exact", deals.len());
    Ok(ok)
}

fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("static template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Watches the fleet until it exits, with the chain's height and the settled epochs on a
/// progress line; returns its JSON result.
async fn watch_fleet(net: &mut Network) -> Result<serde_json::Value> {
    let bar = spinner();
    let node = NodeClient::new(&net.node_url);
    let oracle = OracleClient::new(&net.oracle_url);
    loop {
        if let Some(status) = net.procs.exited("fleet") {
            bar.finish_and_clear();
            if !status.success() {
                bail!("the fleet failed ({status}){}", net.procs.tail("fleet"));
            }
            return net.procs.output_json("fleet");
        }
        for name in ["node", "oracle-1", "oracle-2", "oracle-3"] {
            net.procs.check_alive(name)?;
        }
        let height = node.chain().await.map(|c| c.height).unwrap_or(0);
        let settled = oracle.epochs().await.map(|e| e.settled.len()).unwrap_or(0);
        bar.set_message(format!(
            "epoch {} · block {height} · {settled} epochs settled · fleet running (logs/fleet.log)",
            net.epoch_now()
        ));
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `epoch`'s reward root is in effect on the chain.
///
/// Errors: not within an epoch, the grace period and [`ROOT_WAIT`].
async fn wait_effective(net: &Network, epoch: u64) -> Result<()> {
    let bar = spinner();
    let node = NodeClient::new(&net.node_url);
    let epoch_ms = net
        .genesis
        .rewards
        .as_ref()
        .map_or(0, |r| r.epoch_length_ms);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(epoch_ms) + ROOT_WAIT;
    loop {
        let r = node.epoch_rewards(epoch, None).await;
        if r.as_ref().is_ok_and(|r| r.root.is_some()) {
            bar.finish_and_clear();
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "epoch {epoch}'s reward root did not take effect{}",
                net.procs.tail("oracle-1")
            );
        }
        let attestations = r.map(|r| r.attestations.len()).unwrap_or(0);
        bar.set_message(format!(
            "waiting for epoch {epoch}'s root: {attestations} of 2 attestations"
        ));
        tokio::time::sleep(POLL).await;
    }
}
