//! `depin node init|start`.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use depin_cli::print;
use depin_cli::wallet::Wallet;
use depin_cli::Ctx;
use depin_node::{home, NodeConfig};
use depin_types::genesis::ModuleParams;
use depin_types::genesis::{Allocation, MakerParams};
use depin_types::{
    Address, Amount, ChainParams, DeviceClassParams, Genesis, ModuleWeight, Network, RewardsParams,
};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Node commands.
#[derive(Subcommand, Debug)]
pub enum NodeCmd {
    /// Write a genesis document and a config file into a home directory.
    Init(InitArgs),
    /// Start the node of a home directory.
    Start(StartArgs),
    /// Re-execute every stored block from genesis into a scratch database and compare state
    /// roots (exits non-zero on the first difference). The node must be stopped.
    Replay {
        /// Home directory.
        #[arg(long, env = "DEPIN_HOME", default_value = ".depin")]
        home: PathBuf,
    },
}

/// `node init`
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// Home directory.
    #[arg(long, env = "DEPIN_HOME", default_value = ".depin")]
    pub home: PathBuf,
    /// Chain id.
    #[arg(long, default_value = "depin-devnet")]
    pub chain_id: String,
    /// Block producer address (default: a new producer wallet in the home directory).
    #[arg(long)]
    pub producer: Option<Address>,
    /// Initial balances, `ADDRESS=TOKENS`, repeatable.
    #[arg(long = "alloc")]
    pub allocs: Vec<String>,
    /// Approved makers, `NAME=ADDRESS`, repeatable.
    #[arg(long = "maker")]
    pub makers: Vec<String>,
    /// Block time in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub block_time_ms: u64,
    /// Development chain: also writes funded dev and maker wallets and, without `--oracle`,
    /// a dev oracle wallet (password from DEPIN_WALLET_PASSWORD, default `dev`).
    #[arg(long)]
    pub dev: bool,
    /// Oracle addresses allowed to attest reward roots, repeatable (none and no `--dev`: the
    /// chain mints no rewards).
    #[arg(long = "oracle")]
    pub oracles: Vec<Address>,
    /// Attestations of the same root needed (default: a majority of the oracles).
    #[arg(long)]
    pub attest_threshold: Option<u32>,
    /// Reward epoch length, ms.
    #[arg(long, default_value_t = 3_600_000)]
    pub epoch_length_ms: u64,
    /// Tokens minted for epoch 0 (halving every `--halving-interval-epochs`).
    #[arg(long, default_value = "1000")]
    pub initial_emission: String,
    /// Epochs between emission halvings (0: never).
    #[arg(long, default_value_t = 8_760)]
    pub halving_interval_epochs: u64,
    /// A BFT validator, `ADDRESS=STAKE_TOKENS` (repeatable); none: a solo chain.
    #[arg(long = "validator")]
    pub validators: Vec<String>,
}

/// `node start`
#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// Home directory.
    #[arg(long, env = "DEPIN_HOME", default_value = ".depin")]
    pub home: PathBuf,
    /// Initialise a development chain in the home directory first if it has none.
    #[arg(long)]
    pub dev: bool,
    /// API listen address (overrides config and DEPIN_API_LISTEN).
    #[arg(long = "api.listen")]
    pub api_listen: Option<String>,
    /// Extra Prometheus listen address (overrides config and DEPIN_METRICS_LISTEN).
    #[arg(long)]
    pub metrics: Option<String>,
    /// Oracle whose published epochs the explorer (`/explorer/`) shows: manifests, device
    /// verdicts and rewards.
    #[arg(long, env = "DEPIN_EXPLORER_ORACLE")]
    pub explorer_oracle: Option<String>,
    /// Run as one of genesis's BFT validators (needs a build with `--features bft`).
    #[arg(long)]
    pub validator: bool,
    /// The validator's wallet file (default `<home>/validator-wallet.json`).
    #[arg(long, requires = "validator")]
    pub validator_key: Option<PathBuf>,
    /// p2p listen address of the validator.
    #[arg(
        long = "p2p.listen",
        default_value = "127.0.0.1:7660",
        requires = "validator"
    )]
    pub p2p_listen: String,
    /// Every validator's p2p address, `ADDRESS@HOST:PORT`, comma-separated (this one too).
    #[arg(long, value_delimiter = ',', requires = "validator")]
    pub peers: Vec<String>,
}

/// Runs a node command.
pub async fn run(ctx: &Ctx, cmd: NodeCmd) -> Result<()> {
    match cmd {
        NodeCmd::Init(a) => {
            let summary = init(&a)?;
            print(ctx.format, &summary)
        }
        NodeCmd::Start(a) => start(ctx, a).await,
        NodeCmd::Replay { home } => replay(ctx, &home),
    }
}

const DEV_PASSWORD: &str = "dev";
/// Tokens allocated to the dev wallet.
const DEV_TOKENS: u128 = 1_000_000;
/// Tokens allocated to the dev oracle (attestation fees).
const DEV_ORACLE_TOKENS: u128 = 1_000;

/// The dev wallets' password: `DEPIN_WALLET_PASSWORD`, else `dev`.
pub(crate) fn dev_password() -> String {
    std::env::var("DEPIN_WALLET_PASSWORD").unwrap_or_else(|_| DEV_PASSWORD.to_string())
}

fn new_wallet_file(path: &Path, network: Network) -> Result<Address> {
    let w = Wallet::generate(12, network)?;
    w.seal(&dev_password())?.write_new(path)?;
    Ok(w.address())
}

fn parse_pair(s: &str, what: &str) -> Result<(String, String)> {
    let (a, b) = s
        .split_once('=')
        .with_context(|| format!("{what} must look like A=B, got {s:?}"))?;
    Ok((a.to_string(), b.to_string()))
}

/// `ADDRESS=STAKE_TOKENS` pairs as genesis validators.
fn genesis_validators(pairs: &[String]) -> Result<Vec<depin_types::genesis::GenesisValidator>> {
    let mut validators = Vec::new();
    for s in pairs {
        let (addr, tokens) = parse_pair(s, "--validator")?;
        validators.push(depin_types::genesis::GenesisValidator {
            address: addr.parse()?,
            stake_bones: Amount::parse_tokens(&tokens)?,
        });
    }
    Ok(validators)
}

/// Writes genesis and config into the home directory; returns a summary.
pub fn init(a: &InitArgs) -> Result<serde_json::Value> {
    if home::genesis_path(&a.home).exists() {
        bail!(
            "{} already has a genesis; remove it or use another --home",
            a.home.display()
        );
    }
    std::fs::create_dir_all(&a.home)?;
    let network = Network::Devnet;
    let producer = match a.producer {
        Some(p) => p,
        None => new_wallet_file(&a.home.join("producer-wallet.json"), network)?,
    };
    let mut allocations = Vec::new();
    for s in &a.allocs {
        let (addr, tokens) = parse_pair(s, "--alloc")?;
        allocations.push(Allocation {
            address: addr.parse()?,
            amount_bones: Amount::parse_tokens(&tokens)?,
        });
    }
    let mut makers = Vec::new();
    for s in &a.makers {
        let (name, addr) = parse_pair(s, "--maker")?;
        makers.push(MakerParams {
            name,
            key: addr.parse()?,
        });
    }
    let mut out = json!({"home": a.home, "chain_id": a.chain_id, "producer": producer});
    if a.dev {
        dev_accounts(&a.home, &mut allocations, &mut makers, &mut out)?;
    }
    let mut oracles = a.oracles.clone();
    if a.dev && oracles.is_empty() {
        let oracle = new_wallet_file(&a.home.join("dev-oracle.json"), network)?;
        out["dev_oracle"] = json!({"file": a.home.join("dev-oracle.json"), "address": oracle});
        allocations.push(Allocation {
            address: oracle,
            amount_bones: Amount::from_tokens(DEV_ORACLE_TOKENS)?,
        });
        oracles.push(oracle);
    }
    let rewards = rewards_params(a, oracles, producer)?;
    let genesis = Genesis {
        validators: genesis_validators(&a.validators)?,
        chain_id: a.chain_id.clone(),
        network,
        genesis_time_ms: depin_types::wall_clock_ms(),
        producer,
        params: ChainParams {
            block_time_ms: a.block_time_ms,
            ..ChainParams::default()
        },
        allocations,
        makers,
        device_classes: default_device_classes(),
        rewards,
    };
    genesis.validate()?;
    home::write_genesis(&a.home, &genesis)?;
    std::fs::write(
        home::config_path(&a.home),
        toml::to_string_pretty(&NodeConfig::default())?,
    )?;
    out["genesis_hash"] = json!(genesis.hash());
    Ok(out)
}

/// A funded dev wallet and a dev maker, written into `home`.
fn dev_accounts(
    home: &Path,
    allocations: &mut Vec<Allocation>,
    makers: &mut Vec<MakerParams>,
    out: &mut serde_json::Value,
) -> Result<()> {
    let network = Network::Devnet;
    let dev = new_wallet_file(&home.join("dev-wallet.json"), network)?;
    let maker = new_wallet_file(&home.join("dev-maker.json"), network)?;
    allocations.push(Allocation {
        address: dev,
        amount_bones: Amount::from_tokens(DEV_TOKENS)?,
    });
    makers.push(MakerParams {
        name: "dev-maker".into(),
        key: maker,
    });
    out["dev_wallet"] = json!({"file": home.join("dev-wallet.json"), "address": dev});
    out["dev_maker"] = json!({"file": home.join("dev-maker.json"), "address": maker});
    Ok(())
}

/// The rewards section: every registered resource module weighs 1; the remainder of each
/// epoch's split goes to the producer account.
fn rewards_params(
    a: &InitArgs,
    oracles: Vec<Address>,
    producer: Address,
) -> Result<Option<RewardsParams>> {
    if oracles.is_empty() {
        return Ok(None);
    }
    let majority = u32::try_from(oracles.len() / 2 + 1)?;
    let module_weights = crate::modules::registry()
        .iter()
        .map(|m| ModuleWeight {
            module: m.name().to_string(),
            weight: 1,
            params: ModuleParams(m.genesis_params(a.epoch_length_ms)),
        })
        .collect();
    Ok(Some(RewardsParams {
        epoch_length_ms: a.epoch_length_ms,
        initial_emission_bones: Amount::parse_tokens(&a.initial_emission)?,
        halving_interval_epochs: a.halving_interval_epochs,
        attest_threshold: a.attest_threshold.unwrap_or(majority),
        oracles,
        module_weights,
        remainder_account: producer,
    }))
}

/// The device classes a new chain starts with: the registered modules' classes, each with the
/// onboarding rules its module declares.
fn default_device_classes() -> Vec<DeviceClassParams> {
    crate::modules::registry()
        .iter()
        .flat_map(|m| m.device_classes())
        .collect()
}

async fn start(ctx: &Ctx, a: StartArgs) -> Result<()> {
    if a.dev && !home::genesis_path(&a.home).exists() {
        let init_args = InitArgs {
            home: a.home.clone(),
            chain_id: "depin-devnet".into(),
            producer: None,
            allocs: vec![],
            makers: vec![],
            block_time_ms: 500,
            dev: true,
            oracles: vec![],
            attest_threshold: None,
            epoch_length_ms: 60_000,
            initial_emission: "1000".into(),
            halving_interval_epochs: 8_760,
            validators: vec![],
        };
        let summary = init(&init_args)?;
        eprintln!(
            "initialised a dev chain in {}:\n{}",
            a.home.display(),
            serde_json::to_string_pretty(&summary)?
        );
        eprintln!(
            "dev wallets use the password {:?} (DEPIN_WALLET_PASSWORD)",
            dev_password()
        );
    }
    let consensus = consensus(&a)?;
    let mut config = NodeConfig::load(&home::config_path(&a.home))?;
    config.apply_env(std::env::vars())?;
    if let Some(l) = a.api_listen {
        config.api.listen = l;
    }
    if let Some(m) = a.metrics {
        config.metrics.listen = m;
    }
    let _ = &ctx.log_format;
    let explorer = crate::explorer::Explorer::new(a.explorer_oracle.clone());
    let parts = depin_node::NodeParts {
        modules: crate::modules::node_modules(),
        extra: explorer.routes(),
        consensus,
    };
    let node = depin_node::run::start_full(&a.home, config, parts).await?;
    eprintln!(
        "node API on http://{0} (OpenAPI at /openapi.json, metrics at /metrics, explorer at \
         http://{0}/explorer/); Ctrl-C stops",
        node.api_addr
    );
    tokio::signal::ctrl_c().await?;
    eprintln!("stopping: finishing the block in progress");
    node.stop().await;
    Ok(())
}

/// Solo, or the validator set up from `--validator*` and `--peers`.
#[cfg(not(feature = "bft"))]
fn consensus(a: &StartArgs) -> Result<depin_node::run::Consensus> {
    if a.validator {
        bail!(
            "this depin was built without BFT support: rebuild with `cargo build --release \
             --features bft` to run --validator"
        );
    }
    Ok(depin_node::run::Consensus::Solo)
}

/// Solo, or the validator set up from `--validator*` and `--peers`.
#[cfg(feature = "bft")]
fn consensus(a: &StartArgs) -> Result<depin_node::run::Consensus> {
    if !a.validator {
        return Ok(depin_node::run::Consensus::Solo);
    }
    let key_file = a
        .validator_key
        .clone()
        .unwrap_or_else(|| a.home.join("validator-wallet.json"));
    let wallet = depin_cli::wallet::open(&key_file)
        .with_context(|| format!("opening the validator key {}", key_file.display()))?;
    let mut peers = Vec::new();
    for p in &a.peers {
        let (addr, host) = p
            .split_once('@')
            .with_context(|| format!("--peers entries look like ADDRESS@HOST:PORT, got {p:?}"))?;
        let addr: Address = addr.parse()?;
        let host: std::net::SocketAddr = host
            .parse()
            .with_context(|| format!("--peers: {host:?} is not HOST:PORT"))?;
        peers.push((addr.key, host));
    }
    let setup = depin_node::bft::ValidatorSetup {
        key: wallet.key,
        listen: a
            .p2p_listen
            .parse()
            .context("--p2p.listen is not HOST:PORT")?,
        peers,
        journal_dir: a.home.join("consensus"),
        timing: depin_consensus::bft::Timing::default(),
    };
    Ok(depin_node::run::Consensus::Validator(Box::new(setup)))
}

fn replay(ctx: &Ctx, home_dir: &Path) -> Result<()> {
    let genesis = home::read_genesis(home_dir)?;
    let modules = crate::modules::node_modules();
    let src = depin_db::Db::open(&home::db_path(home_dir), modules.ledger())?;
    let scratch = tempfile_dir(home_dir)?;
    let dst = depin_db::Db::open(&scratch.join("replay.redb"), modules.ledger())?;
    let dst = std::sync::Arc::new(dst);
    let result = depin_node::replay::replay(&src, dst, &genesis);
    let _ = std::fs::remove_dir_all(&scratch);
    let report = result?;
    let ok = report.state_root == report.source_root;
    print(
        ctx.format,
        &json!({"height": report.height, "state_root": report.state_root, "source_root": report.source_root, "ok": ok}),
    )?;
    if !ok {
        bail!(
            "replayed state root differs from the stored one at height {}",
            report.height
        );
    }
    Ok(())
}

/// A fresh scratch directory inside the home directory (same filesystem, removed after use).
fn tempfile_dir(home_dir: &Path) -> Result<PathBuf> {
    let d = home_dir.join(format!("replay-scratch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
