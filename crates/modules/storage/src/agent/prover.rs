//! The provider's prover: once the chain has the first block of an epoch (whose hash is the
//! epoch's entropy), it answers the challenge of every shard the ledger says it holds and
//! that is challenged in that epoch, sending one proof report per shard to the oracle.

use crate::agent::provider::{Provider, MAX_SHARDS_PER_EPOCH};
use crate::views::deal_from_view;
use depin_types::wall_clock_ms;
use depin_types::Hash32;
use std::collections::BTreeSet;
use std::sync::Arc;

pub use depin_types::EpochClock;

/// Time between prover passes, ms.
pub const PROVE_TICK_MS: u64 = 500;

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProveStats {
    /// Proofs the oracle acknowledged.
    pub proven: u64,
    /// Shards that could not be proven (missing or corrupt on disk), or whose report failed.
    pub failed: u64,
}

/// Proves every shard challenged in `epoch` not in `done`, adding those sent to `done`.
///
/// Errors: the node could not be read (the pass is retried).
pub async fn prove_epoch(
    p: &Provider,
    clock: &EpochClock,
    (epoch, entropy): (u64, &Hash32),
    challenges: u32,
    done: &mut BTreeSet<(Hash32, u32)>,
) -> Result<ProveStats, depin_client::ClientError> {
    let (_, views) = crate::queries::all_deals(&p.node, None).await?;
    let me = p.device.public();
    let mut stats = ProveStats::default();
    let end_ms = clock.start_ms(epoch + 1);
    for v in views.iter().take(MAX_SHARDS_PER_EPOCH) {
        let Ok(id) = v.id.parse::<Hash32>() else {
            continue;
        };
        let Ok(d) = deal_from_view(v) else { continue };
        let mine: Vec<u32> = d
            .challenged_in(epoch)
            .filter(|(i, s)| s.provider == me && !done.contains(&(id, *i)))
            .map(|(i, _)| i)
            .collect();
        for index in mine {
            let now = wall_clock_ms();
            if now >= end_ms {
                return Ok(stats);
            }
            match p.prove((&id, index, &d), (epoch, entropy), challenges, now) {
                Ok(report) => match p.oracle.submit(&report).await {
                    Ok(_) => {
                        done.insert((id, index));
                        stats.proven += 1;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, deal = %id, index, "proof not delivered");
                        stats.failed += 1;
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, deal = %id, index, "cannot prove a shard");
                    done.insert((id, index));
                    stats.failed += 1;
                }
            }
        }
    }
    Ok(stats)
}

/// Runs prover passes every [`PROVE_TICK_MS`] until `stop` turns true.
pub async fn run(
    p: Arc<Provider>,
    clock: EpochClock,
    challenges: u32,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut epoch = u64::MAX;
    let mut done = BTreeSet::new();
    loop {
        let now = clock.epoch_at(wall_clock_ms()).unwrap_or(0);
        if now != epoch {
            epoch = now;
            done.clear();
        }
        match p.node.first_block_at_or_after(clock.start_ms(epoch)).await {
            Ok(Some(first)) => match first.hash.parse::<Hash32>() {
                Ok(entropy) => {
                    let pass = prove_epoch(&p, &clock, (epoch, &entropy), challenges, &mut done);
                    match pass.await {
                        Ok(s) if s != ProveStats::default() => {
                            tracing::info!(
                                epoch,
                                proven = s.proven,
                                failed = s.failed,
                                "proofs sent"
                            );
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "prover pass failed; retrying"),
                    }
                }
                Err(_) => tracing::warn!(hash = %first.hash, "node returned a bad block hash"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "node unavailable; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(PROVE_TICK_MS)) => {}
            _ = stop.changed() => return,
        }
    }
}
