//! `depin bench …` (filled in below).
use crate::cmd::Ctx;
use clap::Subcommand;

/// Benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Durable signed transfers per second through the node vs the raw ed25519 batch-verify rate.
    Ledger,
}

/// Runs a benchmark.
pub async fn run(_ctx: &Ctx, _cmd: BenchCmd) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
