//! `depin`: one binary for the node, wallets, queries, transactions and benchmarks.
//! Noun-verb commands; JSON output by default, `--format table` for people; state-changing
//! commands simulate unless `--commit`.

mod bench;
#[cfg(feature = "bft")]
mod bench_bft;
mod bench_coverage;
mod bench_ingest;
mod bench_storage;
mod cmd;
mod devnet;
mod explorer;
mod modules;
mod output;
mod wallet;

use clap::{Parser, Subcommand};
use output::Format;

/// mimalloc instead of the system allocator: the node allocates from many threads at once
/// (admission, block production, persistence), where glibc's malloc spent ~6 % of its CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// depin — an open DePIN engine.
#[derive(Parser, Debug)]
#[command(name = "depin", version, about, propagate_version = true)]
pub struct Cli {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value = "json")]
    format: Format,
    /// Log format on stderr: `terminal` or `json`.
    #[arg(
        long = "log.format",
        global = true,
        env = "DEPIN_LOG_FORMAT",
        default_value = "terminal"
    )]
    log_format: String,
    /// Node API URL.
    #[arg(
        long,
        global = true,
        env = "DEPIN_NODE",
        default_value = "http://127.0.0.1:7650"
    )]
    node: String,
    /// Wallet file used to sign.
    #[arg(
        long,
        global = true,
        env = "DEPIN_WALLET",
        default_value = "wallet.json"
    )]
    wallet: std::path::PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// A whole network on this machine in one command: node, three oracles, a hotspot
    /// fleet, storage providers and a paying client; a summary at the end.
    Devnet(devnet::DevnetArgs),
    /// Run and set up a node.
    #[command(subcommand)]
    Node(cmd::node::NodeCmd),
    /// Create, import and inspect wallets.
    #[command(subcommand)]
    Wallet(cmd::wallet::WalletCmd),
    /// Read accounts.
    #[command(subcommand)]
    Account(cmd::query::AccountCmd),
    /// Send tokens (simulates unless --commit).
    Transfer(cmd::tx::TransferArgs),
    /// Onboard and manage devices.
    #[command(subcommand)]
    Device(cmd::tx::DeviceCmd),
    /// Bond and unbond stake.
    #[command(subcommand)]
    Stake(cmd::tx::StakeCmd),
    /// Burn tokens into data credits and delegate them.
    #[command(subcommand)]
    Credits(cmd::tx::CreditsCmd),
    /// Chain, block and transaction queries.
    #[command(subcommand)]
    Chain(cmd::query::ChainCmd),
    /// Oracle: report ingest, epoch settlement, attestation.
    #[command(subcommand)]
    Oracle(cmd::oracle::OracleCmd),
    /// Device agents.
    #[command(subcommand)]
    Agent(cmd::agent::AgentCmd),
    /// Escrow accounts paying providers per epoch.
    #[command(subcommand)]
    Escrow(cmd::escrow::EscrowCmd),
    /// Storage deals: put, get, ls, info, cancel, repair; providers and announcements.
    #[command(subcommand)]
    Storage(cmd::storage::StorageCmd),
    /// Epoch rewards: show, claim, verify.
    #[command(subcommand)]
    Rewards(cmd::rewards::RewardsCmd),
    /// Coverage module tools (HIP-17 hex scales).
    #[command(subcommand)]
    Coverage(cmd::coverage::CoverageCmd),
    /// Benchmarks against measured ceilings.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

fn init_logging(format: &str, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DEPIN_LOG_FILTER")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = if matches!(cli.command, Command::Node(_) | Command::Oracle(_)) {
        "info"
    } else {
        "warn"
    };
    init_logging(&cli.log_format, filter);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = cmd::Ctx {
        format: cli.format,
        node: cli.node,
        wallet: cli.wallet,
        log_format: cli.log_format,
    };
    match cli.command {
        Command::Devnet(a) => devnet::run(&ctx, a).await,
        Command::Node(c) => cmd::node::run(&ctx, c).await,
        Command::Wallet(c) => cmd::wallet::run(&ctx, c),
        Command::Account(c) => cmd::query::account(&ctx, c).await,
        Command::Chain(c) => cmd::query::chain(&ctx, c).await,
        Command::Oracle(c) => cmd::oracle::oracle(&ctx, c).await,
        Command::Agent(c) => cmd::agent::run(&ctx, c).await,
        Command::Rewards(c) => cmd::rewards::run(&ctx, c).await,
        Command::Escrow(c) => cmd::escrow::run(&ctx, c).await,
        Command::Storage(c) => cmd::storage::run(&ctx, c).await,
        Command::Transfer(a) => cmd::tx::transfer(&ctx, a).await,
        Command::Device(c) => cmd::tx::device(&ctx, c).await,
        Command::Stake(c) => cmd::tx::stake(&ctx, c).await,
        Command::Credits(c) => cmd::tx::credits(&ctx, c).await,
        Command::Coverage(c) => cmd::coverage::run(&ctx, c),
        Command::Bench(c) => bench::run(&ctx, c).await,
    }
}
