//! Starting and stopping a node: open the database, write genesis if new, serve the API,
//! run the block producer on its own thread (the ledger and storage are synchronous; only the
//! HTTP layer runs on tokio).

use crate::admission::NodeState;
use crate::api::{router, ApiState};
use crate::blocks::NodeApp;
use crate::config::NodeConfig;
use crate::home;
use crate::mempool::MempoolLimits;
use crate::module::NodeModules;
use depin_consensus::{Driver, SoloDriver, Step};
use depin_db::Db;
use depin_types::wall_clock_ms;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Longest the producer sleeps before re-checking the stop flag, in ms.
const STOP_POLL_MS: u64 = 50;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Home directory problem.
    #[error(transparent)]
    Home(#[from] home::HomeError),
    /// Database problem.
    #[error(transparent)]
    Db(#[from] depin_db::DbError),
    /// The block producer could not start.
    #[error(transparent)]
    Producer(#[from] crate::blocks::AppError),
    /// The BFT validator could not start.
    #[error("cannot start the validator: {reason}")]
    Validator {
        /// Why.
        reason: String,
    },
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    /// Could not bind a listen address.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// A running node.
pub struct NodeHandle {
    /// Where the API listens.
    pub api_addr: SocketAddr,
    /// Where the extra metrics listener listens, if configured.
    pub metrics_addr: Option<SocketAddr>,
    /// The node's shared state.
    pub state: Arc<NodeState>,
    stop: Arc<AtomicBool>,
    producer: Option<std::thread::JoinHandle<()>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl NodeHandle {
    /// Stops producing (after the block in progress is durable) and stops serving.
    pub async fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(p) = self.producer.take() {
            let _ = tokio::task::spawn_blocking(move || p.join()).await;
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
    }
}

/// The process-wide Prometheus recorder (installed once).
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then ours just renders empty.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Starts a solo node of core components only (no module) from `home` (genesis written by
/// `depin node init`) with `config`.
///
/// Errors: see [`start_full`].
pub async fn start(home_dir: &Path, config: NodeConfig) -> Result<NodeHandle, StartError> {
    let parts = NodeParts {
        modules: NodeModules::none(),
        extra: axum::Router::new(),
        consensus: Consensus::Solo,
    };
    start_full(home_dir, config, parts).await
}

/// What a node runs besides its core: modules, extra routes, its consensus.
pub struct NodeParts {
    /// The chain's resource modules (ledger components and their routes).
    pub modules: NodeModules,
    /// Routes served beside the node's (the binary adds the explorer); none may repeat a node
    /// or module route.
    pub extra: axum::Router,
    /// Who finalizes blocks.
    pub consensus: Consensus,
}

/// Who finalizes this node's blocks.
pub enum Consensus {
    /// This node alone: the genesis producer, on a timer.
    Solo,
    /// A BFT validator set (genesis `validators`), this node one of them.
    #[cfg(feature = "bft")]
    Validator(Box<crate::bft::ValidatorSetup>),
}

/// Starts a node from `home` with `config` running `parts`.
///
/// Errors: an unreadable home, a database that does not open, an invalid genesis for these
/// modules, an address that cannot be bound; for a validator also a genesis without
/// validators or a key outside the set.
pub async fn start_full(
    home_dir: &Path,
    config: NodeConfig,
    parts: NodeParts,
) -> Result<NodeHandle, StartError> {
    let NodeParts {
        modules,
        extra,
        consensus,
    } = parts;
    let genesis = home::read_genesis(home_dir)?;
    let db_path = home::db_path(home_dir);
    if let Some(parent) = db_path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| home::HomeError::Io {
            path: parent.display().to_string(),
            source,
        })?;
    }
    let db = Arc::new(Db::open(&db_path, modules.ledger())?);
    let root = db.init_genesis(&genesis)?;
    let limits = MempoolLimits {
        max_txs: usize::try_from(config.mempool.max_txs).unwrap_or(usize::MAX),
        max_per_account: usize::try_from(config.mempool.max_per_account).unwrap_or(usize::MAX),
    };
    let state = Arc::new(NodeState::new(db.clone(), genesis.clone(), limits));
    tracing::info!(chain_id = %genesis.chain_id, height = db.height()?, genesis_root = %root, "node opened");
    let api_state = ApiState {
        node: state.clone(),
        metrics: prometheus(),
        max_batch_txs: usize::try_from(config.api.max_batch_txs).unwrap_or(usize::MAX),
    };
    let max_body = usize::try_from(config.api.max_body_bytes).unwrap_or(usize::MAX);
    let app = router(api_state.clone(), max_body, &modules).merge(extra);
    let listener = bind(&config.api.listen).await?;
    let api_addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.api.listen.clone(),
        source,
    })?;
    let metrics_addr = serve_metrics(&config.metrics.listen, api_state).await?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let r = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "api server failed");
        }
    });
    tracing::info!(%api_addr, "api listening");
    let stop = Arc::new(AtomicBool::new(false));
    let producer = match consensus {
        Consensus::Solo => spawn_producer(state.clone(), stop.clone())?,
        #[cfg(feature = "bft")]
        Consensus::Validator(setup) => {
            crate::bft::spawn_validator(state.clone(), *setup, stop.clone()).map_err(|e| {
                StartError::Validator {
                    reason: e.to_string(),
                }
            })?
        }
    };
    Ok(NodeHandle {
        api_addr,
        metrics_addr,
        state,
        stop,
        producer: Some(producer),
        shutdown: Some(tx),
        server: Some(server),
    })
}

async fn bind(addr: &str) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: addr.to_string(),
            source,
        })
}

async fn serve_metrics(listen: &str, state: ApiState) -> Result<Option<SocketAddr>, StartError> {
    if listen.is_empty() {
        return Ok(None);
    }
    let listener = bind(listen).await?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: listen.to_string(),
        source,
    })?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async move { state.metrics.render() }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Some(addr))
}

fn spawn_producer(
    state: Arc<NodeState>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, StartError> {
    let height = state.db.height()?;
    let last_time = match state.db.header(height)? {
        Some(h) => h.time_ms,
        None => state.genesis.genesis_time_ms,
    };
    let block_time = Duration::from_millis(state.params.block_time_ms);
    let proposer = state.genesis.producer_key();
    let mut app = NodeApp::new(state, proposer)?;
    let thread = std::thread::Builder::new()
        .name("depin-producer".into())
        .spawn(move || {
            let mut driver = SoloDriver::new(last_time);
            let mut next = Instant::now() + block_time;
            while !stop.load(Ordering::SeqCst) {
                let now = Instant::now();
                if now < next {
                    std::thread::sleep((next - now).min(Duration::from_millis(STOP_POLL_MS)));
                    continue;
                }
                next += block_time;
                match driver.step(&mut app, wall_clock_ms()) {
                    Ok(Step::Finalized {
                        height,
                        hash,
                        tx_count,
                    }) => {
                        tracing::debug!(height, %hash, tx_count, "block finalized");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "block production failed; retrying next tick")
                    }
                }
            }
            // Stopping: the last finalized block becomes durable before the thread ends.
            if let Err(e) = app.flush() {
                tracing::error!(error = %e, "last block could not be made durable");
            }
        });
    thread.map_err(StartError::Thread)
}
