//! Bringing a devnet up: genesis, the hotspots and region files, the node, the oracles,
//! the storage providers, the client's data credits and the hotspot fleet.

use super::procs::Procs;
use super::validators;
use super::DevnetArgs;
use crate::cmd::node::{self, InitArgs};
use anyhow::{Context, Result};
use depin_cli::wallet::{Keystore, Wallet};
use depin_module_coverage::agent::{city, HotspotEntry};
use depin_module_coverage::CLASS;
use depin_types::{Address, Amount, Genesis, Network as Net};
use std::path::{Path, PathBuf};

/// Oracles of a devnet; [`ATTEST_THRESHOLD`] of them must attest a root.
pub const ORACLES: usize = 3;
/// Attestations of the same root that make it take effect.
pub const ATTEST_THRESHOLD: u32 = 2;
/// Tokens each oracle holds for attestation fees.
const ORACLE_TOKENS: &str = "1000";
/// Tokens the client bonds as the storage providers' collateral (it owns them all).
const PROVIDER_BOND_TOKENS: &str = "1000";
/// Capacity each storage provider announces, bytes.
const PROVIDER_CAPACITY_BYTES: u64 = 1 << 30;
/// Block time, ms.
const BLOCK_TIME_MS: u64 = 500;
/// Most accepted clock distance between reports and oracles (one machine), ms; the epoch
/// grace period is this plus one second.
const MAX_SKEW_MS: &str = "5000";
/// Tokens the hotspot operator holds beyond its onboarding fees (transaction fees).
const OPERATOR_SPARE_TOKENS: u128 = 1_000;
/// Most storage providers a devnet runs.
pub const MAX_PROVIDERS: usize = 64;

/// Paths under `--dir`.
pub struct Layout {
    /// `--dir`.
    pub dir: PathBuf,
    /// The node's home.
    pub node: PathBuf,
    /// Keys of oracles, payer and providers.
    pub wallets: PathBuf,
    /// Process logs.
    pub logs: PathBuf,
}

impl Layout {
    fn new(dir: &Path) -> Layout {
        Layout {
            dir: dir.to_path_buf(),
            node: dir.join("node"),
            wallets: dir.join("wallets"),
            logs: dir.join("logs"),
        }
    }

    /// A path as a string argument.
    pub fn arg(p: &Path) -> String {
        p.display().to_string()
    }

    /// The dev wallet (treasury and client).
    pub fn dev_wallet(&self) -> PathBuf {
        self.node.join("dev-wallet.json")
    }

    fn genesis(&self) -> PathBuf {
        depin_node::home::genesis_path(&self.node)
    }
}

/// A running devnet.
pub struct Network {
    /// Paths.
    pub layout: Layout,
    /// Its processes.
    pub procs: Procs,
    /// The chain's genesis.
    pub genesis: Genesis,
    /// Node API URL.
    pub node_url: String,
    /// URL of the ingesting oracle.
    pub oracle_url: String,
    /// Storage providers' device addresses.
    pub providers: Vec<Address>,
    /// The client's address (pays for storage and, through `payer`, packets).
    pub client: Address,
    /// The key the fleet's packets are paid by (delegated credits).
    pub payer: Address,
    /// The hotspot operator: owns the fleet's hotspots (and is paid their rewards).
    pub operator: Address,
    /// The epoch in progress when the devnet came up.
    pub start_epoch: u64,
    /// The password of every devnet wallet.
    pub password: String,
}

/// Opens the wallet at `path`, creating it first when missing.
fn wallet_at(path: &Path, password: &str) -> Result<Wallet> {
    if !path.exists() {
        Wallet::generate(12, Net::Devnet)?
            .seal(password)?
            .write_new(path)?;
    }
    Keystore::read(path)?
        .unlock(password)
        .with_context(|| format!("unlocking {}", path.display()))
}

/// The validators' addresses (their wallets created when missing).
fn validator_addresses(l: &Layout, a: &DevnetArgs, password: &str) -> Result<Vec<Address>> {
    (0..a.validators)
        .map(|i| Ok(wallet_at(&validators::wallet(l, i), password)?.address()))
        .collect()
}

/// A new chain in `l.node`: dev treasury and maker, three oracles attesting 2 of 3.
fn init_chain(l: &Layout, a: &DevnetArgs, password: &str) -> Result<()> {
    let mut oracles = Vec::new();
    for i in 1..=ORACLES {
        oracles.push(wallet_at(&l.wallets.join(format!("oracle-{i}.json")), password)?.address());
    }
    let validator_keys = validator_addresses(l, a, password)?;
    let validators = validator_keys
        .iter()
        .map(|v| format!("{v}={}", validators::VALIDATOR_STAKE_TOKENS))
        .collect();
    let summary = node::init(&InitArgs {
        home: l.node.clone(),
        chain_id: "depin-devnet".into(),
        producer: None,
        allocs: oracles
            .iter()
            .map(|o| format!("{o}={ORACLE_TOKENS}"))
            // Validators pay the fees of the slashing transactions they submit.
            .chain(
                validator_keys
                    .iter()
                    .map(|v| format!("{v}={ORACLE_TOKENS}")),
            )
            .collect(),
        makers: vec![],
        block_time_ms: BLOCK_TIME_MS,
        dev: true,
        oracles,
        attest_threshold: Some(ATTEST_THRESHOLD),
        epoch_length_ms: a.epoch_secs.max(1) * 1_000,
        initial_emission: "1000".into(),
        halving_interval_epochs: 8_760,
        validators,
    })?;
    eprintln!(
        "new chain in {}: genesis {}",
        l.node.display(),
        summary["genesis_hash"]
    );
    Ok(())
}

/// The hotspots file: `--hotspots`, or the synthetic city written under `--dir`.
fn hotspots_file(l: &Layout, a: &DevnetArgs) -> Result<PathBuf> {
    if let Some(p) = &a.hotspots {
        return Ok(p.clone());
    }
    let path = l.dir.join("city-hotspots.json");
    if !path.exists() {
        city::write_hotspots(&path, &city::synthetic_city(a.seed, a.city_hotspots))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(path)
}

/// The region catalog: `--regions`, or one generated under `--dir` covering the hotspots.
fn regions_dir(l: &Layout, a: &DevnetArgs, entries: &[HotspotEntry]) -> Result<PathBuf> {
    if let Some(p) = &a.regions {
        return Ok(p.clone());
    }
    let dir = l.dir.join("regions");
    if !dir.join("serialized").exists() {
        city::write_covering_catalog(&dir, entries)?;
    }
    Ok(dir)
}

/// Port of the ingesting oracle (`i` = 0) and its followers.
fn oracle_port(a: &DevnetArgs, i: usize) -> u16 {
    a.port + 10 + i as u16
}

/// `oracle start` arguments of oracle `i` (0 ingests; the others follow it).
fn oracle_args(l: &Layout, a: &DevnetArgs, i: usize, regions: &Path) -> Vec<String> {
    let node_url = format!("http://127.0.0.1:{}", a.port);
    let mut args: Vec<String> = [
        "--node",
        &node_url,
        "oracle",
        "start",
        "--home",
        &Layout::arg(&l.dir.join(format!("oracle-{}", i + 1))),
        "--genesis",
        &Layout::arg(&l.genesis()),
        "--key",
        &Layout::arg(&l.wallets.join(format!("oracle-{}.json", i + 1))),
        "--api.listen",
        &format!("127.0.0.1:{}", oracle_port(a, i)),
        "--regions",
        &Layout::arg(regions),
        "--max-skew-ms",
        MAX_SKEW_MS,
        "--rate-burst",
        "100000",
        "--rate-per-minute",
        "10000000",
    ]
    .map(String::from)
    .to_vec();
    if i > 0 {
        args.extend([
            "--follow".into(),
            format!("http://127.0.0.1:{}", oracle_port(a, 0)),
        ]);
    }
    args
}

/// The node, or with `--validators N` the N validator processes (validator 0 is the node).
fn start_nodes(
    procs: &mut Procs,
    l: &Layout,
    a: &DevnetArgs,
    oracle_url: &str,
    password: &str,
) -> Result<()> {
    let explorer = ["--explorer-oracle".to_string(), oracle_url.to_string()];
    if a.validators == 0 {
        let listen = format!("127.0.0.1:{}", a.port);
        let mut args: Vec<String> = [
            "node",
            "start",
            "--home",
            &Layout::arg(&l.node),
            "--api.listen",
            &listen,
        ]
        .map(String::from)
        .to_vec();
        args.extend(explorer);
        return procs.start("node", &args, Some(a.port));
    }
    validators::prepare_homes(l, a.validators)?;
    let addresses = validator_addresses(l, a, password)?;
    for i in 0..a.validators {
        let mut args = validators::node_args(l, a, i, &addresses);
        if i == 0 {
            args.extend(explorer.clone());
        }
        let name = if i == 0 {
            "node".to_string()
        } else {
            format!("validator-{i}")
        };
        procs.start(&name, &args, Some(validators::api_port(a, i)))?;
    }
    Ok(())
}

impl Network {
    /// Writes what a new devnet needs, starts the node and oracles, sets up storage and
    /// credits, and starts the fleet.
    ///
    /// Errors: see [`super::run`].
    pub async fn start(a: &DevnetArgs) -> Result<Network> {
        anyhow::ensure!(
            a.storage_providers <= MAX_PROVIDERS,
            "--storage-providers {} is over {MAX_PROVIDERS}",
            a.storage_providers
        );
        anyhow::ensure!(
            usize::from(a.port) + 20 + MAX_PROVIDERS <= usize::from(u16::MAX),
            "--port {} leaves no room for the oracles and providers above it (at most {})",
            a.port,
            usize::from(u16::MAX) - 20 - MAX_PROVIDERS
        );
        validators::check(a)?;
        let l = Layout::new(&a.dir);
        let password = node::dev_password();
        if !l.genesis().exists() {
            init_chain(&l, a, &password)?;
        } else {
            eprintln!("resuming the chain in {}", l.node.display());
        }
        let genesis = depin_cli::read_genesis(&l.genesis())?;
        let hotspots = hotspots_file(&l, a)?;
        let entries = depin_module_coverage::agent::read_hotspots(&hotspots)?;
        let regions = regions_dir(&l, a, &entries)?;
        let client = wallet_at(&l.dev_wallet(), &password)?.address();
        let payer = wallet_at(&l.wallets.join("payer.json"), &password)?.address();
        let operator = wallet_at(&l.wallets.join("operator.json"), &password)?.address();
        let mut procs = Procs::new(&l.logs, &password)?;
        let oracle_url = format!("http://127.0.0.1:{}", oracle_port(a, 0));
        start_nodes(&mut procs, &l, a, &oracle_url, &password)?;
        for i in 0..ORACLES {
            let args = oracle_args(&l, a, i, &regions);
            procs.start(&format!("oracle-{}", i + 1), &args, Some(oracle_port(a, i)))?;
        }
        let mut net = Network {
            node_url: format!("http://127.0.0.1:{}", a.port),
            oracle_url,
            start_epoch: 0,
            genesis,
            layout: l,
            procs,
            providers: Vec::new(),
            client,
            payer,
            operator,
            password,
        };
        net.start_epoch = net.epoch_now();
        eprintln!("node API and explorer: {}/explorer/", net.node_url);
        net.start_providers(a).await?;
        net.fund_payer(a).await?;
        if entries.is_empty() {
            eprintln!("no hotspots: no fleet");
        } else {
            net.fund_operator(entries.len()).await?;
            net.start_fleet(a, &hotspots, &regions)?;
        }
        Ok(net)
    }

    /// The epoch in progress by the wall clock.
    pub fn epoch_now(&self) -> u64 {
        let now_ms = depin_types::wall_clock_ms();
        self.genesis
            .rewards
            .as_ref()
            .and_then(|r| r.clock(self.genesis.genesis_time_ms).epoch_at(now_ms))
            .unwrap_or(0)
    }

    /// `depin --node … --wallet <dev wallet> ARGS`, as JSON.
    pub async fn cli(&self, args: &[&str]) -> Result<serde_json::Value> {
        let mut all = vec![
            "--node".to_string(),
            self.node_url.clone(),
            "--wallet".into(),
            Layout::arg(&self.layout.dev_wallet()),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        self.procs.run_json(all).await
    }

    /// Bonds the providers' collateral, onboards and announces each provider (once), and
    /// starts its agent.
    async fn start_providers(&mut self, a: &DevnetArgs) -> Result<()> {
        if a.storage_providers == 0 {
            return Ok(());
        }
        let account = depin_client::NodeClient::new(&self.node_url)
            .account(&self.client.to_string())
            .await?;
        if account.bonded_bones == "0" {
            self.cli(&[
                "stake",
                "bond",
                "--amount",
                PROVIDER_BOND_TOKENS,
                "--commit",
            ])
            .await?;
        }
        for i in 0..a.storage_providers {
            let device = self.provider(a, i).await?;
            self.providers.push(device);
        }
        eprintln!("{} storage providers up", self.providers.len());
        Ok(())
    }

    /// Provider `i`: its wallet, onboarding and announcement on a new chain, its agent.
    async fn provider(&mut self, a: &DevnetArgs, i: usize) -> Result<Address> {
        let wallet = self.layout.wallets.join(format!("provider-{i}.json"));
        let device = wallet_at(&wallet, &self.password)?.address();
        let port = a.port + 20 + i as u16;
        let endpoint = format!("http://127.0.0.1:{port}");
        let node = depin_client::NodeClient::new(&self.node_url);
        if node.device(&device.to_string()).await.is_err() {
            let maker = Layout::arg(&self.layout.node.join("dev-maker.json"));
            let w = Layout::arg(&wallet);
            self.cli(&[
                "device",
                "onboard",
                "--class",
                "storage-provider",
                "--device-wallet",
                &w,
                "--maker-wallet",
                &maker,
                "--commit",
            ])
            .await?;
            let cap = PROVIDER_CAPACITY_BYTES.to_string();
            self.cli(&[
                "storage",
                "announce",
                "--device",
                &device.to_string(),
                "--capacity-bytes",
                &cap,
                "--price",
                "1",
                "--endpoint",
                &endpoint,
                "--commit",
            ])
            .await?;
        }
        let shards = self.layout.dir.join("providers").join(i.to_string());
        let args = [
            "--node",
            &self.node_url,
            "agent",
            "storage",
            "--device-wallet",
            &Layout::arg(&wallet),
            "--dir",
            &Layout::arg(&shards),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--oracle",
            &self.oracle_url,
            "--genesis",
            &Layout::arg(&self.layout.genesis()),
        ]
        .map(String::from);
        self.procs
            .start(&format!("provider-{i}"), &args, Some(port))?;
        Ok(device)
    }

    /// Burns data credits for the fleet's packets (two credits per 48-byte packet, twice
    /// what the run needs) and delegates them to the payer key.
    async fn fund_payer(&self, a: &DevnetArgs) -> Result<()> {
        if a.packets_per_interval == 0 {
            return Ok(());
        }
        let credits = (u64::from(a.packets_per_interval) * 2 * 2 * a.epochs.max(1)).to_string();
        self.cli(&["credits", "burn", "--credits", &credits, "--commit"])
            .await?;
        let payer = self.payer.to_string();
        self.cli(&[
            "credits",
            "delegate",
            "--payer",
            &payer,
            "--credits",
            &credits,
            "--commit",
        ])
        .await?;
        eprintln!("{credits} data credits delegated to the sensors' payer {payer}");
        Ok(())
    }

    /// Sends the hotspot operator what onboarding its hotspots costs (once): the hotspot
    /// class's onboarding and location fees per entry, and [`OPERATOR_SPARE_TOKENS`].
    async fn fund_operator(&self, entries: usize) -> Result<()> {
        let node = depin_client::NodeClient::new(&self.node_url);
        let account = node.account(&self.operator.to_string()).await?;
        if account.balance_bones != "0" {
            return Ok(());
        }
        let entries = entries as u128;
        let class = self.genesis.device_classes.iter().find(|c| c.name == CLASS);
        let per_entry = class.map_or(0, |c| c.onboarding_fee_bones.0 + c.location_fee_bones.0);
        let spare = Amount::from_tokens(OPERATOR_SPARE_TOKENS)?.0;
        let amount = Amount(per_entry * entries + spare).to_string();
        let to = self.operator.to_string();
        self.cli(&["transfer", "--to", &to, "--amount", &amount, "--commit"])
            .await?;
        eprintln!("hotspot operator {to} funded with {amount} tokens for {entries} hotspots");
        Ok(())
    }

    /// Starts the hotspot fleet: it onboards every entry (refusals reported with their
    /// reasons), then beacons, witnesses and forwards packets for `--epochs` epochs.
    fn start_fleet(&mut self, a: &DevnetArgs, hotspots: &Path, regions: &Path) -> Result<()> {
        let maker = Layout::arg(&self.layout.node.join("dev-maker.json"));
        let args = [
            "--node",
            &self.node_url,
            "--wallet",
            &Layout::arg(&self.layout.wallets.join("operator.json")),
            "agent",
            "fleet",
            "--hotspots",
            &Layout::arg(hotspots),
            "--maker-wallet",
            &maker,
            "--regions",
            &Layout::arg(regions),
            "--oracle",
            &self.oracle_url,
            "--genesis",
            &Layout::arg(&self.layout.genesis()),
            "--epochs",
            &a.epochs.to_string(),
            "--payer",
            &self.payer.to_string(),
            "--packets-per-interval",
            &a.packets_per_interval.to_string(),
        ]
        .map(String::from);
        let args = if a.packets_per_interval == 0 {
            args[..args.len() - 4].to_vec()
        } else {
            args.to_vec()
        };
        self.procs.start("fleet", &args, None)
    }
}
