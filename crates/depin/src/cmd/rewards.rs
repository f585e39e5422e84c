//! `depin rewards show|claim|verify`: an epoch's manifest and settlement, claiming the
//! wallet's reward with its Merkle proof, and recomputing a published epoch from its inputs.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use depin_cli::print;
use depin_cli::tx::{send, TxOpts};
use depin_cli::wallet::open;
use depin_cli::Ctx;
use depin_client::OracleClient;
use depin_oracle::claims::claim_for;
use depin_oracle::reverify::{check_chain, recompute};
use depin_oracle::settle::EpochInputs;
use depin_oracle::Manifest;
use depin_types::{Action, Address};
use serde_json::json;
use std::path::PathBuf;

/// Rewards commands.
#[derive(Subcommand, Debug)]
pub enum RewardsCmd {
    /// An epoch's manifest summary and its settlement on the chain.
    Show {
        /// Epoch.
        epoch: u64,
        #[command(flatten)]
        src: Source,
    },
    /// Claim the wallet's (or `--owner`'s) reward of an epoch; simulates unless `--commit`.
    Claim {
        /// Epoch.
        #[arg(long)]
        epoch: u64,
        /// Claim for this owner (default: the wallet; the wallet pays the fee either way).
        #[arg(long)]
        owner: Option<Address>,
        #[command(flatten)]
        src: Source,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Recompute an epoch's manifest from its published inputs and check the inputs against
    /// the chain; exits non-zero with the first difference.
    Verify(VerifyArgs),
}

/// Where manifests come from.
#[derive(Args, Debug)]
pub struct Source {
    /// Oracle URL.
    #[arg(long, env = "DEPIN_ORACLE", default_value = "http://127.0.0.1:7660")]
    pub oracle: String,
}

/// `rewards verify`
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Epoch.
    pub epoch: u64,
    #[command(flatten)]
    pub src: Source,
    /// Read `manifest.json` and `inputs.bin` from this epoch directory instead of the oracle.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Genesis file, to check the chain facts (entropy, registry, emission) against the node.
    #[arg(long, default_value = ".depin/genesis.toml")]
    pub genesis: PathBuf,
    /// Skip the chain checks (offline recomputation only).
    #[arg(long)]
    pub offline: bool,
    /// The coverage module's region catalog, as the oracle ran with (`oracle start
    /// --regions`).
    #[arg(long, env = "DEPIN_COVERAGE_REGIONS")]
    pub regions: Option<PathBuf>,
}

/// Runs a rewards command.
pub async fn run(ctx: &Ctx, cmd: RewardsCmd) -> Result<()> {
    match cmd {
        RewardsCmd::Show { epoch, src } => show(ctx, epoch, &src).await,
        RewardsCmd::Claim {
            epoch,
            owner,
            src,
            opts,
        } => claim(ctx, epoch, owner, &src, &opts).await,
        RewardsCmd::Verify(a) => verify(ctx, &a).await,
    }
}

async fn manifest(src: &Source, epoch: u64) -> Result<Manifest> {
    let v = OracleClient::new(&src.oracle).manifest(epoch).await?;
    serde_json::from_value(v).context("the oracle's manifest does not parse")
}

async fn show(ctx: &Ctx, epoch: u64, src: &Source) -> Result<()> {
    let m = manifest(src, epoch).await?;
    let chain = ctx.client().epoch_rewards(epoch, None).await?;
    let out = json!({
        "epoch": m.epoch,
        "root": m.root,
        "effective_on_chain": chain.root.as_deref() == Some(m.root.as_str()),
        "attestations": chain.attestations,
        "claimed_bones": chain.claimed_bones,
        "emission_bones": m.emission_bones,
        "remainder_bones": m.remainder_bones,
        "reports": m.reports,
        "verdict_counts": m.verdict_counts,
        "ingest_rejections": m.ingest_rejections,
        "pools": m.pools,
        "owners": m.owners,
        "devices": m.devices,
    });
    print(ctx.format, &out)
}

async fn claim(
    ctx: &Ctx,
    epoch: u64,
    owner: Option<Address>,
    src: &Source,
    opts: &TxOpts,
) -> Result<()> {
    let m = manifest(src, epoch).await?;
    let owner = match owner {
        Some(o) => o.key,
        None => open(&ctx.wallet)?.key.public(),
    };
    let action = claim_for(&m, &owner)?;
    send(ctx, Action::Rewards(action), opts).await
}

async fn verify(ctx: &Ctx, a: &VerifyArgs) -> Result<()> {
    let (published, inputs_bytes) = match &a.dir {
        Some(d) => {
            let m = std::fs::read(d.join("manifest.json"))
                .with_context(|| format!("reading {}", d.display()))?;
            (
                serde_json::from_slice(&m)?,
                std::fs::read(d.join("inputs.bin"))?,
            )
        }
        None => {
            let o = OracleClient::new(&a.src.oracle);
            (o.manifest(a.epoch).await?, o.inputs(a.epoch).await?)
        }
    };
    let weights = borsh::from_slice::<EpochInputs>(&inputs_bytes)
        .map(|i| i.header.module_weights)
        .unwrap_or_default();
    let modules = crate::modules::configured(&weights, None, a.regions.as_deref())?;
    let (inputs, settled) = recompute(&inputs_bytes, &published, &modules)?;
    let m = settled.manifest;
    if inputs.header.epoch != a.epoch {
        bail!(
            "the inputs are for epoch {}, not {}",
            inputs.header.epoch,
            a.epoch
        );
    }
    if !a.offline {
        let genesis = depin_cli::read_genesis(&a.genesis)?;
        check_chain(&ctx.client(), &genesis, &inputs, &modules).await?;
        let on_chain = ctx.client().epoch_rewards(a.epoch, None).await?;
        if let Some(root) = on_chain.root.filter(|r| *r != m.root) {
            bail!(
                "the chain's effective root {root} differs from the recomputed {}",
                m.root
            );
        }
    }
    let out = json!({"epoch": a.epoch, "root": m.root, "reports": m.reports, "verified": true, "chain_checked": !a.offline});
    print(ctx.format, &out)
}
