//! `depin devnet`: a whole network on one machine in one command. It writes a genesis
//! (treasury, a maker, three oracle keys with 2-of-3 attestation, the modules' weights),
//! then starts, each as its own process: the node (solo, embedded storage), three oracles
//! (one ingests, two follow it and re-verify), a hotspot fleet (a seeded synthetic city, or
//! a real hotspots file) forwarding paid sensor packets, and storage providers; a client
//! buys data credits, stores files and fetches them back. It ends with a summary (a table,
//! then one JSON line) after `--epochs` epochs, or on Ctrl-C. Everything lives under
//! `--dir`; a second run resumes that chain.
//!
//! Layout of `--dir`: `node/` (the node's home: genesis, database, dev wallets),
//! `oracle-{1,2,3}/`, `wallets/` (oracle, payer and provider keys), `providers/<i>/`
//! (shard files), `files/` (the client's files), `fetched/`, `regions/` (generated region
//! catalog), `city-hotspots.json`, `logs/<process>.log`, `summary.json`.

mod procs;
pub mod setup;
mod summary;
mod validators;
mod workload;

use anyhow::Result;
use clap::Args;
use depin_cli::Ctx;
use std::path::PathBuf;

/// `depin devnet`
#[derive(Args, Debug, Clone)]
pub struct DevnetArgs {
    /// Hotspots file (Helium explorer JSON, e.g.
    /// ../shared/data/helium_hotspots_2020/hotspots_2020-06_h384053.json); default: a
    /// seeded synthetic city of `--city-hotspots` hotspots.
    #[arg(long)]
    pub hotspots: Option<PathBuf>,
    /// Hotspots of the synthetic city.
    #[arg(long, default_value_t = 300)]
    pub city_hotspots: usize,
    /// LoRaWAN region catalog (Helium `lorawan-h3` layout); default: a generated US915
    /// catalog covering every hotspot.
    #[arg(long)]
    pub regions: Option<PathBuf>,
    /// Storage provider processes (0: no storage).
    #[arg(long, default_value_t = 6)]
    pub storage_providers: usize,
    /// Files the client stores and fetches back.
    #[arg(long, default_value_t = 8)]
    pub files: usize,
    /// Sensor packets forwarded per beacon interval, paid from the client's data credits.
    #[arg(long, default_value_t = 20)]
    pub packets_per_interval: u32,
    /// Epoch length, seconds (new chains only).
    #[arg(long, default_value_t = 30)]
    pub epoch_secs: u64,
    /// Epochs the fleet runs before the summary.
    #[arg(long, default_value_t = 3)]
    pub epochs: u64,
    /// Seed of the synthetic city and of the client's files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory holding all state.
    #[arg(long, default_value = ".depin-devnet")]
    pub dir: PathBuf,
    /// Node API port (explorer at `/explorer/`); oracles on port + 10…12, storage providers
    /// from port + 20.
    #[arg(long, default_value_t = 7650)]
    pub port: u16,
    /// BFT validators replicating the chain (0: one solo node). Needs a build with
    /// `--features bft`; validator i ≥ 1 serves its API on port + 100 + i.
    #[arg(long, default_value_t = 0)]
    pub validators: usize,
}

/// Runs the devnet until its epochs are over or Ctrl-C, then prints the summary.
///
/// Errors: a process that fails to start or exits early (with its log's last lines), a
/// refused setup transaction, an unreadable hotspots file.
pub async fn run(ctx: &Ctx, a: DevnetArgs) -> Result<()> {
    anyhow::ensure!(
        a.hotspots.is_some() || a.city_hotspots > 0,
        "a devnet needs hotspots: --city-hotspots must be at least 1"
    );
    let mut net = setup::Network::start(&a).await?;
    let outcome = tokio::select! {
        r = workload::drive(&mut net, &a) => r.map(Some)?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: summarising what ran");
            None
        }
    };
    let summary = summary::collect(&net, &a, outcome.as_ref()).await?;
    net.procs.stop_all();
    summary::write(ctx, &a.dir, &summary)
}
