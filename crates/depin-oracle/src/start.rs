//! Starting an oracle: open (or recover) the log, rebuild the open epochs and the statuses
//! of recent settled ones, serve the API, run the epoch runner.

use crate::api::{router, OracleApi};
use crate::core::{Core, IngestPolicy};
use crate::epochs::{Runner, RunnerParts, Source};
use crate::publish::Published;
use depin_client::{NodeClient, OracleClient};
use depin_module::ResourceModule;
use depin_types::wall_clock_ms;
use depin_types::{Genesis, SecretKey};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Errors starting an oracle.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The genesis has no rewards section.
    #[error("genesis has no rewards section; the chain mints no rewards")]
    NoRewards,
    /// The log could not be opened.
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
    /// The published directory could not be read.
    #[error(transparent)]
    Publish(#[from] crate::publish::PublishError),
    /// Binding or file system failure.
    #[error("oracle i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Oracle settings.
#[derive(Clone)]
pub struct OracleConfig {
    /// Home directory (`log/`, `published/`, `first_epoch`).
    pub home: PathBuf,
    /// API listen address (`127.0.0.1:0` picks a port).
    pub listen: String,
    /// The chain's genesis.
    pub genesis: Genesis,
    /// Node API URL.
    pub node_url: String,
    /// Oracle key that attests roots (none: publish only).
    pub key: Option<SecretKey>,
    /// Follow another oracle instead of ingesting.
    pub follow: Option<String>,
    /// Accepted clock skew of report timestamps, ms.
    pub max_skew_ms: u64,
    /// Per-device token-bucket capacity.
    pub rate_burst: u32,
    /// Per-device sustained reports per minute.
    pub rate_per_minute: u32,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Prometheus text renderer for `/metrics`.
    pub metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
}

/// A running oracle.
pub struct OracleHandle {
    /// Where the API listens.
    pub addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl OracleHandle {
    /// Stops the API and the runner.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The first epoch this oracle settles: after its last published epoch, else the one recorded
/// at its first start, else the current epoch (recorded now).
fn first_open_epoch(cfg: &OracleConfig, published: &Published) -> Result<u64, StartError> {
    if let Some(last) = published.settled()?.last() {
        return Ok(last + 1);
    }
    let path = cfg.home.join("first_epoch");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if let Ok(e) = s.trim().parse() {
            return Ok(e);
        }
    }
    let r = cfg.genesis.rewards.as_ref().ok_or(StartError::NoRewards)?;
    let e = r
        .clock(cfg.genesis.genesis_time_ms)
        .epoch_at(wall_clock_ms())
        .unwrap_or(0);
    std::fs::write(&path, e.to_string())?;
    Ok(e)
}

/// Opens the ingest core: the log, the open epochs, recent verdicts, a warm registry.
async fn open_core(
    cfg: &OracleConfig,
    published: &Published,
    node: &NodeClient,
    modules: Vec<Arc<dyn ResourceModule>>,
) -> Result<Arc<Core>, StartError> {
    let rewards = cfg.genesis.rewards.as_ref().ok_or(StartError::NoRewards)?;
    let policy = IngestPolicy {
        chain_id: cfg.genesis.chain_id.clone(),
        genesis_time_ms: cfg.genesis.genesis_time_ms,
        epoch_length_ms: rewards.epoch_length_ms,
        max_skew_ms: cfg.max_skew_ms,
        rate_burst: cfg.rate_burst,
        rate_per_minute: cfg.rate_per_minute,
    };
    let first = first_open_epoch(cfg, published)?;
    let core = Core::open(&cfg.home.join("log"), policy, modules, first)?;
    let settled = published.settled()?;
    // The verdicts of the last settled epochs, oldest first (older ones: the published files).
    let keep = usize::try_from(crate::core::STATUS_RETAINED_EPOCHS).unwrap_or(usize::MAX);
    for e in &settled[settled.len().saturating_sub(keep)..] {
        core.record_verdicts(*e, &published.verdicts(*e)?);
    }
    // A warm registry before the first report: a cold cache would refuse registered
    // devices as unknown until the runner's first pass.
    match crate::chain::registry(node, None).await {
        Ok((_, devices)) => core.set_registry(devices),
        Err(e) => {
            tracing::warn!(error = %e, "device registry not loaded yet; the runner retries")
        }
    }
    Ok(core)
}

/// Starts an oracle.
///
/// Errors: [`StartError`].
pub async fn start(
    cfg: OracleConfig,
    modules: Vec<Arc<dyn ResourceModule>>,
) -> Result<OracleHandle, StartError> {
    cfg.genesis.rewards.as_ref().ok_or(StartError::NoRewards)?;
    std::fs::create_dir_all(&cfg.home)?;
    let published = Published::new(&cfg.home.join("published"));
    let node = NodeClient::new(&cfg.node_url);
    let (core, source) = match &cfg.follow {
        Some(url) => (None, Source::Follow(OracleClient::new(url))),
        None => {
            let core = open_core(&cfg, &published, &node, modules.clone()).await?;
            (Some(core.clone()), Source::Ingest(core))
        }
    };
    let grace_ms = cfg.max_skew_ms + 1_000;
    let runner = Arc::new(Runner::new(RunnerParts {
        source,
        node,
        published: published.clone(),
        genesis: cfg.genesis.clone(),
        modules,
        key: cfg.key.clone(),
        grace_ms,
    }));
    let api = OracleApi {
        core,
        published,
        clock: wall_clock_ms,
        metrics: cfg.metrics.clone(),
    };
    let listener = tokio::net::TcpListener::bind(&cfg.listen).await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut stop_api = stop_rx.clone();
    let app = router(api, cfg.max_body_bytes);
    let serve = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop_api.changed().await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "oracle API stopped");
        }
    });
    let run = tokio::spawn(runner.run(stop_rx, wall_clock_ms));
    tracing::info!(%addr, "oracle listening");
    Ok(OracleHandle {
        addr,
        stop: stop_tx,
        tasks: vec![serve, run],
    })
}
