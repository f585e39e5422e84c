//! `depin oracle start`.

use anyhow::Result;
use clap::{Args, Subcommand};
use depin_cli::wallet::open;
use depin_cli::Ctx;
use depin_oracle::OracleConfig;
use std::path::PathBuf;
use std::sync::Arc;

/// Oracle commands.
#[derive(Subcommand, Debug)]
pub enum OracleCmd {
    /// Run an oracle: ingest signed reports, settle epochs, publish manifests, attest roots
    /// (or, with `--follow`, re-verify another oracle's epochs and attest those).
    Start(OracleStartArgs),
}

/// `oracle start`
#[derive(Args, Debug)]
pub struct OracleStartArgs {
    /// Oracle home directory (report log, published epochs).
    #[arg(long, env = "DEPIN_ORACLE_HOME", default_value = ".depin-oracle")]
    pub home: PathBuf,
    /// The chain's genesis file (`genesis.toml` in the node's home).
    #[arg(long, default_value = ".depin/genesis.toml")]
    pub genesis: PathBuf,
    /// API listen address.
    #[arg(
        long = "api.listen",
        env = "DEPIN_ORACLE_LISTEN",
        default_value = "127.0.0.1:7660"
    )]
    pub listen: String,
    /// Oracle wallet whose key attests roots (one of genesis `rewards.oracles`); without it
    /// the oracle settles and publishes but does not attest.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Follow the oracle at this URL instead of ingesting.
    #[arg(long)]
    pub follow: Option<String>,
    /// Accepted distance between a report's timestamp and the oracle's clock, ms.
    #[arg(long, default_value_t = 30_000)]
    pub max_skew_ms: u64,
    /// Reports a device may send at once.
    #[arg(long, default_value_t = 10)]
    pub rate_burst: u32,
    /// Reports per minute a device may sustain.
    #[arg(long, default_value_t = 60)]
    pub rate_per_minute: u32,
    /// Largest request body, bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// LoRaWAN region catalog of the coverage module (Helium `lorawan-h3` layout, e.g.
    /// `../shared/data/helium_lorawan_regions`); without it no hotspot can beacon.
    #[arg(long, env = "DEPIN_COVERAGE_REGIONS")]
    pub regions: Option<PathBuf>,
}

/// Runs an oracle command.
pub async fn oracle(ctx: &Ctx, cmd: OracleCmd) -> Result<()> {
    let OracleCmd::Start(a) = cmd;
    let genesis = depin_cli::read_genesis(&a.genesis)?;
    let genesis_rewards = genesis.rewards.clone();
    let key = a.key.as_deref().map(open).transpose()?.map(|w| w.key);
    let metrics = depin_node::run::prometheus();
    let cfg = OracleConfig {
        home: a.home.clone(),
        listen: a.listen.clone(),
        genesis,
        node_url: ctx.node.clone(),
        key,
        follow: a.follow.clone(),
        max_skew_ms: a.max_skew_ms,
        rate_burst: a.rate_burst,
        rate_per_minute: a.rate_per_minute,
        max_body_bytes: a.max_body_bytes,
        metrics: Some(Arc::new(move || metrics.render())),
    };
    let modules = match &genesis_rewards {
        Some(r) => crate::modules::configured(
            &r.module_weights,
            Some(r.epoch_length_ms),
            a.regions.as_deref(),
        )?,
        None => crate::modules::registry(),
    };
    let h = depin_oracle::start(cfg, modules).await?;
    eprintln!(
        "oracle listening on http://{} (home {})",
        h.addr,
        a.home.display()
    );
    tokio::signal::ctrl_c().await?;
    h.stop().await;
    Ok(())
}
