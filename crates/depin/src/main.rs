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

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use depin_cli::Format;

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
    /// A core command; `None` when the command given is a module's (`crate::modules`).
    #[command(subcommand)]
    command: Option<Command>,
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
    /// Escrow accounts paying providers per epoch.
    #[command(subcommand)]
    Escrow(cmd::escrow::EscrowCmd),
    /// Epoch rewards: show, claim, verify.
    #[command(subcommand)]
    Rewards(cmd::rewards::RewardsCmd),
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

/// The command line: the core commands with every registered module's commands attached.
fn command_line(commands: &depin_sdk::ModuleCommands) -> clap::Command {
    let root = Cli::command()
        .subcommand_required(true)
        .arg_required_else_help(true);
    commands
        .attach(root)
        .expect("module commands are named apart from the core ones")
}

fn main() -> std::process::ExitCode {
    let commands = modules::modules()
        .commands()
        .expect("no two modules add a command of one name");
    let matches = command_line(&commands).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let filter = if matches!(cli.command, Some(Command::Node(_) | Command::Oracle(_))) {
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
    match rt.block_on(run(cli, &commands, &matches)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(
    cli: Cli,
    commands: &depin_sdk::ModuleCommands,
    matches: &clap::ArgMatches,
) -> anyhow::Result<()> {
    let ctx = depin_cli::Ctx {
        format: cli.format,
        node: cli.node,
        wallet: cli.wallet,
        log_format: cli.log_format,
    };
    let Some(command) = cli.command else {
        let Some(module_command) = commands.dispatch(&ctx, matches) else {
            anyhow::bail!("no such command (see --help)");
        };
        return module_command.await;
    };
    match command {
        Command::Devnet(a) => devnet::run(&ctx, a).await,
        Command::Node(c) => cmd::node::run(&ctx, c).await,
        Command::Wallet(c) => cmd::wallet::run(&ctx, c),
        Command::Account(c) => cmd::query::account(&ctx, c).await,
        Command::Chain(c) => cmd::query::chain(&ctx, c).await,
        Command::Oracle(c) => cmd::oracle::oracle(&ctx, c).await,
        Command::Rewards(c) => cmd::rewards::run(&ctx, c).await,
        Command::Escrow(c) => cmd::escrow::run(&ctx, c).await,
        Command::Transfer(a) => cmd::tx::transfer(&ctx, a).await,
        Command::Device(c) => cmd::tx::device(&ctx, c).await,
        Command::Stake(c) => cmd::tx::stake(&ctx, c).await,
        Command::Credits(c) => cmd::tx::credits(&ctx, c).await,
        Command::Bench(c) => bench::run(&ctx, c).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_holds_every_module_command_and_agent_role() {
        let commands = modules::modules().commands().unwrap();
        let line = command_line(&commands);
        line.clone().debug_assert();
        for noun in ["storage", "coverage", "node", "wallet"] {
            assert!(line.find_subcommand(noun).is_some(), "{noun}");
        }
        let agent = line.find_subcommand("agent").expect("agent");
        let roles: Vec<_> = agent.get_subcommands().map(|c| c.get_name()).collect();
        assert_eq!(roles, ["heartbeat", "hotspot", "fleet", "storage"]);
    }

    #[test]
    fn a_module_command_reaches_its_module_and_a_core_command_does_not() {
        let commands = modules::modules().commands().unwrap();
        let matches = command_line(&commands)
            .try_get_matches_from(["depin", "--format", "table", "storage", "providers"])
            .unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.format, Format::Table);
        let matches = command_line(&commands)
            .try_get_matches_from(["depin", "wallet", "info"])
            .unwrap();
        assert!(Cli::from_arg_matches(&matches).unwrap().command.is_some());
    }
}
