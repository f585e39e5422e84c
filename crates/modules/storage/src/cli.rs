//! The storage module's commands (feature `cli`): `depin storage …` stores files on
//! providers under paid deals, fetches them back, lists, cancels and repairs deals and
//! announces a provider; `depin agent storage` runs the provider.

use crate::agent::direct::DirectFile;
use crate::agent::prover::{self, EpochClock};
use crate::agent::provider::{self, Provider};
use crate::client::{plan_put, Coded, PutPlan, Transfers};
use crate::erasure::Layout;
use crate::queries;
use crate::types::{StorageAction, StorageParams, MODULE};
use crate::views::DealView;
use anyhow::{bail, Context, Result};
use clap::{ArgMatches, Args, Subcommand};
use depin_cli::module::{noun, parse, role, CliFuture, ModuleCli};
use depin_cli::tx::{commit_all, send, sign_all, submit_all, wait_all, TxOpts};
use depin_cli::{print, read_genesis, wallet::open, Ctx};
use depin_client::{NodeClient, OracleClient};
use depin_types::{Amount, Hash32};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The module's commands, for its registration.
pub fn module_cli() -> ModuleCli {
    ModuleCli {
        commands: || {
            vec![noun::<StorageCmd>(
                "storage",
                "Storage deals: put, get, ls, info, cancel, repair; providers and announcements.",
            )]
        },
        run_command,
        agents: || {
            vec![role::<StorageAgentArgs>(
                "storage",
                "Run a storage provider: keep shard files under `--dir`, accept uploads an open \
                 deal covers, serve paid downloads, and prove every challenged shard each epoch.",
            )]
        },
        run_agent,
    }
}

fn run_command<'a>(ctx: &'a Ctx, _name: &'a str, matches: &'a ArgMatches) -> CliFuture<'a> {
    Box::pin(async move { storage(ctx, parse(matches)?).await })
}

fn run_agent<'a>(ctx: &'a Ctx, _role: &'a str, matches: &'a ArgMatches) -> CliFuture<'a> {
    Box::pin(async move { agent(ctx, parse(matches)?).await })
}

/// Most files one `put` of a directory stores.
pub const MAX_PUT_FILES: usize = 10_000;

/// Storage commands (state-changing ones simulate unless `--commit`).
#[derive(Subcommand, Debug)]
pub enum StorageCmd {
    /// Store a file, or every file under a directory (one deal each): erasure-code it `k` of
    /// `n`, pick the `n` cheapest providers with room, open the deal with escrow, upload.
    Put {
        /// File or directory.
        path: PathBuf,
        /// Data shards per segment.
        #[arg(long, default_value_t = 4)]
        k: usize,
        /// Shards per segment (= providers).
        #[arg(long, default_value_t = 6)]
        n: usize,
        /// Epochs paid for.
        #[arg(long, default_value_t = 100)]
        epochs: u64,
        /// Fee and `--commit`.
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Fetch a deal's object: `k` shard files streamed at once and rebuilt segment by segment
    /// into `OUT.depin-partial`, renamed to `OUT` (after an fsync) only when every shard
    /// matched its root and the object its BLAKE3; a failing shard is replaced by another.
    Get {
        /// Deal id (hex).
        id: Hash32,
        /// Output file.
        out: PathBuf,
    },
    /// The wallet's deals (or an address's).
    Ls {
        /// Client address (default: the wallet's).
        #[arg(long)]
        client: Option<String>,
    },
    /// One deal.
    Info {
        /// Deal id (hex).
        id: Hash32,
    },
    /// Cancel a deal: pay the epoch in progress, refund the rest.
    Cancel {
        /// Deal id (hex).
        id: Hash32,
        /// Fee and `--commit`.
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Rebuild each faulty shard from `k` healthy ones and move it to a new provider.
    Repair {
        /// Deal id (hex).
        id: Hash32,
        /// Fee and `--commit`.
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Storage providers.
    Providers,
    /// Announce (or update) a storage provider device the wallet owns.
    Announce {
        /// The provider device's address.
        #[arg(long)]
        device: String,
        /// Bytes offered.
        #[arg(long)]
        capacity_bytes: u64,
        /// Tokens per GiB of shard file per epoch.
        #[arg(long)]
        price: String,
        /// Base URL of its agent, e.g. `http://10.0.0.5:7400`.
        #[arg(long)]
        endpoint: String,
        /// Fee and `--commit`.
        #[command(flatten)]
        opts: TxOpts,
    },
}

/// `agent storage`
#[derive(Args, Debug)]
pub struct StorageAgentArgs {
    /// The provider device's wallet file.
    #[arg(long)]
    pub device_wallet: PathBuf,
    /// Where shard files are kept.
    #[arg(long)]
    pub dir: PathBuf,
    /// Address to serve uploads and downloads on.
    #[arg(long, default_value = "127.0.0.1:7400")]
    pub listen: String,
    /// Oracle URL (proofs and retrieval receipts).
    #[arg(long, env = "DEPIN_ORACLE", default_value = "http://127.0.0.1:7660")]
    pub oracle: String,
    /// The chain's genesis file (epochs, the storage module's parameters).
    #[arg(long, default_value = ".depin/genesis.toml")]
    pub genesis: PathBuf,
}

/// Runs a storage command.
async fn storage(ctx: &Ctx, cmd: StorageCmd) -> Result<()> {
    match cmd {
        StorageCmd::Put {
            path,
            k,
            n,
            epochs,
            opts,
        } => put(ctx, &path, (k, n), epochs, &opts).await,
        StorageCmd::Get { id, out } => get(ctx, &id, &out).await,
        StorageCmd::Ls { client } => ls(ctx, client).await,
        StorageCmd::Info { id } => print(ctx.format, &queries::deal(&ctx.client(), &id).await?),
        StorageCmd::Cancel { id, opts } => {
            send(ctx, StorageAction::Cancel { id }.into_action(), &opts).await
        }
        StorageCmd::Repair { id, opts } => repair(ctx, &id, &opts).await,
        StorageCmd::Providers => print(
            ctx.format,
            &queries::all_providers(&ctx.client(), None).await?.1,
        ),
        StorageCmd::Announce {
            device,
            capacity_bytes,
            price,
            endpoint,
            opts,
        } => {
            let device: depin_types::Address = device.parse().context("--device")?;
            let action = StorageAction::Announce {
                device: device.key,
                capacity_bytes,
                price_bones_per_gib_epoch: Amount::parse_tokens(&price)?,
                endpoint,
            };
            send(ctx, action.into_action(), &opts).await
        }
    }
}

/// The files `path` names: itself, or every file under it (sorted, at most
/// [`MAX_PUT_FILES`]).
fn files_under(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.is_file() {
                out.push(p);
            }
            if out.len() > MAX_PUT_FILES {
                bail!("more than {MAX_PUT_FILES} files under {}", path.display());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn plan_json(path: &Path, p: &PutPlan) -> serde_json::Value {
    json!({
        "path": path.display().to_string(),
        "deal": p.object.deal.to_hex(),
        "object": p.summary.object.to_hex(),
        "size_bytes": p.object.size_bytes,
        "shard_file_bytes": p.object.layout.shard_file_bytes(p.object.size_bytes),
        "providers": p.providers.iter().map(|v| v.device.clone()).collect::<Vec<_>>(),
        "deposit_bones": p.deposit.0.to_string(),
    })
}

async fn put(
    ctx: &Ctx,
    path: &Path,
    (k, n): (usize, usize),
    epochs: u64,
    opts: &TxOpts,
) -> Result<()> {
    let node = ctx.client();
    let key = open(&ctx.wallet)?.key;
    let (_, providers) = queries::all_providers(&node, None).await?;
    let account = node.account(&key.public().to_hex()).await?;
    let mut plans = Vec::new();
    for (i, file) in (0u64..).zip(files_under(path)?) {
        let nonce = account.next_nonce + i;
        let plan = plan_put(&key.public(), nonce, &file, (k, n), &providers, epochs)
            .with_context(|| format!("planning {}", file.display()))?;
        plans.push((file, plan));
    }
    let actions = plans
        .iter()
        .map(|(_, p)| p.open_action().map(StorageAction::into_action))
        .collect::<Result<Vec<_>, _>>()?;
    let txs = sign_all(&node, &key, actions).await?;
    if !opts.commit {
        let first = node.simulate(&txs[0]).await?;
        let listed: Vec<_> = plans.iter().map(|(f, p)| plan_json(f, p)).collect();
        return print(
            ctx.format,
            &json!({"simulated": true, "first_receipt": first.receipt,
            "note": "nothing was submitted or uploaded; add --commit", "deals": listed}),
        );
    }
    // The uploads run while the deals' block is made (providers keep them once it is);
    // a deal transaction that fails stops them.
    let ids = submit_all(&node, &txs).await?;
    let chain = node.chain().await?;
    let transfers = Transfers::new(key, chain.chain_id);
    let uploads = async { Ok(upload_plans(&transfers, &plans, &txs).await) };
    let (_, out) = tokio::try_join!(wait_all(&node, &ids), uploads)?;
    print(ctx.format, &json!({"committed": true, "deals": out}))
}

/// Uploads each plan's shard files (with its deal transaction); one JSON summary each.
async fn upload_plans(
    transfers: &Transfers,
    plans: &[(PathBuf, PutPlan)],
    txs: &[depin_types::SignedTransaction],
) -> Vec<serde_json::Value> {
    let mut out = Vec::with_capacity(plans.len());
    for ((file, plan), tx) in plans.iter().zip(txs) {
        let results = transfers.upload_all(plan, Some(tx)).await;
        let failed: Vec<String> = (0..)
            .zip(&results)
            .filter_map(|(i, r): (u32, _)| r.as_ref().err().map(|e| format!("{i}: {e}")))
            .collect();
        let mut j = plan_json(file, plan);
        j["uploaded"] = json!(results.iter().filter(|r| r.is_ok()).count());
        j["upload_failures"] = json!(failed);
        out.push(j);
    }
    out
}

/// Device address → endpoint of every announced provider.
async fn endpoints(node: &NodeClient) -> Result<BTreeMap<String, String>> {
    let (_, providers) = queries::all_providers(node, None).await?;
    Ok(providers
        .into_iter()
        .map(|p| (p.device, p.endpoint))
        .collect())
}

async fn get(ctx: &Ctx, id: &Hash32, out: &Path) -> Result<()> {
    let node = ctx.client();
    let view = queries::deal(&node, id).await?;
    let key = open(&ctx.wallet)?.key;
    let chain = node.chain().await?;
    let transfers = Transfers::new(key, chain.chain_id);
    let tmp = out.with_extension("depin-partial");
    let fetched = transfers
        .fetch_into(&view, &endpoints(&node).await?, || DirectFile::create(&tmp))
        .await;
    let synced = fetched.map_err(anyhow::Error::from).and_then(|f| {
        f.finish()
            .with_context(|| format!("syncing {}", tmp.display()))
    });
    if let Err(e) = synced {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, out).with_context(|| format!("renaming to {}", out.display()))?;
    print(
        ctx.format,
        &json!({"deal": id.to_hex(), "out": out.display().to_string(),
        "size_bytes": view.size_bytes, "object": view.object}),
    )
}

async fn ls(ctx: &Ctx, client: Option<String>) -> Result<()> {
    let who = match client {
        Some(c) => c.parse::<depin_types::Address>().context("--client")?.key,
        None => open(&ctx.wallet)?.key.public(),
    };
    let (_, deals) = queries::all_deals(&ctx.client(), None).await?;
    let mine: Vec<DealView> = deals
        .into_iter()
        .filter(|d| {
            d.client
                .parse::<depin_types::Address>()
                .is_ok_and(|a| a.key == who)
        })
        .collect();
    print(ctx.format, &mine)
}

/// `count` providers with room for a shard file of `view` that hold none of its shards.
async fn replacements(
    node: &NodeClient,
    view: &DealView,
    count: usize,
) -> Result<Vec<crate::views::ProviderView>> {
    let (_, providers) = queries::all_providers(node, None).await?;
    let taken: Vec<&str> = view.shards.iter().map(|s| s.provider.as_str()).collect();
    let free: Vec<_> = providers
        .into_iter()
        .filter(|p| !taken.contains(&p.device.as_str()))
        .collect();
    let file_bytes = view.shard_file_bytes;
    Ok(crate::client::choose_providers(&free, count, file_bytes)?)
}

/// Rebuilds the faulty shards of `id` and moves each to the cheapest provider with room that
/// holds none of the deal's shards.
async fn repair(ctx: &Ctx, id: &Hash32, opts: &TxOpts) -> Result<()> {
    let node = ctx.client();
    let view = queries::deal(&node, id).await?;
    let faulty: Vec<u32> = view
        .shards
        .iter()
        .filter(|s| s.faulty)
        .map(|s| s.index)
        .collect();
    if faulty.is_empty() {
        return print(
            ctx.format,
            &json!({"deal": id.to_hex(), "repaired": [], "note": "no faulty shard"}),
        );
    }
    let chosen = replacements(&node, &view, faulty.len()).await?;
    let key = open(&ctx.wallet)?.key;
    let actions = faulty
        .iter()
        .zip(&chosen)
        .map(|(index, p)| {
            let provider: depin_types::Address = p.device.parse()?;
            Ok(StorageAction::Repair {
                id: *id,
                index: *index,
                provider: provider.key,
            }
            .into_action())
        })
        .collect::<Result<Vec<_>>>()?;
    let txs = sign_all(&node, &key, actions).await?;
    if !opts.commit {
        let sim = node.simulate(&txs[0]).await?;
        let to: Vec<_> = chosen.iter().map(|p| p.device.clone()).collect();
        return print(
            ctx.format,
            &json!({"simulated": true, "first_receipt": sim.receipt,
            "faulty": faulty, "new_providers": to, "note": "add --commit to repair"}),
        );
    }
    let chain = node.chain().await?;
    let transfers = Transfers::new(key, chain.chain_id);
    let tmp = std::env::temp_dir().join(format!("depin-repair-{id}-{}", std::process::id()));
    let rebuilt = rebuild(&transfers, &node, &view, &txs, &tmp).await;
    let targets: Vec<(u32, String)> = faulty
        .iter()
        .zip(&chosen)
        .map(|(i, p)| (*i, p.endpoint.clone()))
        .collect();
    let results = match rebuilt {
        Ok(object) => transfers.upload_shards(&object, &targets, None).await,
        Err(e) => vec![Err(format!("{e:#}")); targets.len()],
    };
    let _ = std::fs::remove_file(&tmp);
    let mut done = Vec::new();
    for ((index, p), r) in faulty.iter().zip(&chosen).zip(results) {
        r.map_err(|e| anyhow::anyhow!("rebuilding shard {index} onto {}: {e}", p.device))?;
        done.push(json!({"index": index, "provider": p.device}));
    }
    print(ctx.format, &json!({"deal": id.to_hex(), "repaired": done}))
}

/// Fetches the object of `view` into `tmp` (streamed, verified) and commits the repair
/// transactions `txs`; the object, coded as its deal says, ready to rebuild shards from.
async fn rebuild(
    transfers: &Transfers,
    node: &NodeClient,
    view: &DealView,
    txs: &[depin_types::SignedTransaction],
    tmp: &Path,
) -> Result<Coded> {
    let d = crate::views::deal_from_view(view).map_err(anyhow::Error::msg)?;
    let file = transfers
        .fetch_into(view, &endpoints(node).await?, || std::fs::File::create(tmp))
        .await?;
    drop(file);
    commit_all(node, txs).await?;
    Ok(Coded {
        deal: view.id.parse()?,
        source: tmp.to_path_buf(),
        layout: Layout::new(
            usize::from(d.k),
            usize::from(d.n),
            d.segment_shard_bytes as usize,
        )?,
        size_bytes: d.size_bytes,
    })
}

/// `agent storage`: serve shards and prove them every epoch until interrupted.
async fn agent(ctx: &Ctx, a: StorageAgentArgs) -> Result<()> {
    let genesis = read_genesis(&a.genesis)?;
    let Some(r) = &genesis.rewards else {
        bail!("genesis has no rewards section: no epochs to prove in");
    };
    let params = r.module_params(MODULE).cloned().unwrap_or_default();
    let params = StorageParams::from_module_params(&params).map_err(anyhow::Error::msg)?;
    let clock = EpochClock {
        genesis_time_ms: genesis.genesis_time_ms,
        epoch_length_ms: r.epoch_length_ms,
    };
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let p = Arc::new(Provider {
        device: open(&a.device_wallet)?.key,
        chain_id: genesis.chain_id.clone(),
        dir: a.dir.clone(),
        node: ctx.client(),
        oracle: OracleClient::new(&a.oracle),
    });
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("binding {}", a.listen))?;
    tracing::warn!(listen = %listener.local_addr()?, dir = %a.dir.display(), "storage provider serving");
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let prover = tokio::spawn(prover::run(
        p.clone(),
        clock,
        params.challenges_per_shard,
        stop,
    ));
    let server = axum::serve(listener, provider::router(p)).with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    server.await?;
    let _ = stop_tx.send(true);
    prover.await?;
    Ok(())
}
