//! The heartbeat module's commands (feature `cli`): the agent role `depin agent heartbeat`.

use crate::agent::HeartbeatAgent;
use clap::{ArgMatches, Args};
use depin_cli::module::{parse, role, CliFuture, ModuleCli};
use depin_cli::{print, wallet::open, Ctx};
use depin_client::OracleClient;
use depin_types::wall_clock_ms;
use serde_json::json;
use std::path::PathBuf;

/// The module's commands, for its registration.
pub fn module_cli() -> ModuleCli {
    ModuleCli {
        commands: Vec::new,
        run_command: no_command,
        agents: || {
            vec![role::<HeartbeatArgs>(
                "heartbeat",
                "Send a signed heartbeat every interval with a device key (the wallet file given).",
            )]
        },
        run_agent,
    }
}

/// `agent heartbeat`
#[derive(Args, Debug)]
pub struct HeartbeatArgs {
    /// The device's wallet file.
    #[arg(long)]
    pub device_wallet: PathBuf,
    /// Oracle URL.
    #[arg(long, env = "DEPIN_ORACLE", default_value = "http://127.0.0.1:7660")]
    pub oracle: String,
    /// Time between heartbeats, ms.
    #[arg(long, default_value_t = 60_000)]
    pub interval_ms: u64,
    /// Stop after this many heartbeats.
    #[arg(long, default_value_t = u64::MAX)]
    pub count: u64,
}

fn no_command<'a>(_: &'a Ctx, name: &'a str, _: &'a ArgMatches) -> CliFuture<'a> {
    Box::pin(async move { anyhow::bail!("the heartbeat module has no command {name}") })
}

fn run_agent<'a>(ctx: &'a Ctx, _role: &'a str, matches: &'a ArgMatches) -> CliFuture<'a> {
    Box::pin(async move { heartbeat(ctx, parse(matches)?).await })
}

/// Sends `count` heartbeats, one per interval; prints how many were acknowledged.
async fn heartbeat(ctx: &Ctx, args: HeartbeatArgs) -> anyhow::Result<()> {
    let device = open(&args.device_wallet)?.key;
    let chain = ctx.client().chain().await?;
    let agent = HeartbeatAgent {
        device,
        chain_id: chain.chain_id,
        interval_ms: args.interval_ms,
    };
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let stats = agent
        .run(
            OracleClient::new(&args.oracle),
            wall_clock_ms,
            args.count,
            stop_rx,
        )
        .await;
    print(
        ctx.format,
        &json!({"acknowledged": stats.acknowledged, "failed": stats.failed}),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_heartbeat_role_parses_its_arguments() {
        let role = (super::module_cli().agents)().remove(0);
        let matches = role
            .try_get_matches_from(["heartbeat", "--device-wallet", "d.json", "--count", "3"])
            .unwrap();
        let args: super::HeartbeatArgs = depin_cli::module::parse(&matches).unwrap();
        assert_eq!((args.count, args.interval_ms), (3, 60_000));
    }
}
