//! The epoch runner: closes each epoch once it is over (plus a grace period for reports in
//! flight) and the chain has passed it, settles it, publishes the manifest, and attests the
//! root on the ledger. A follower runner does not ingest: it re-verifies a leader's
//! published epochs and attests those that check out.

use crate::chain::{epoch_anchor, registry, snapshot, state_prefixes, ChainError};
use crate::core::Core;
use crate::publish::{PublishError, Published};
use crate::reverify::{check_chain, recompute, VerifyError};
use crate::settle::{settle_encoded, EpochHeader, EpochInputs, SettleError};
use depin_client::{ClientError, NodeClient, OracleClient};
use depin_types::rewards::emission_for_epoch;
use depin_types::tx::RewardsAction;
use depin_types::{Action, Amount, Genesis, RewardsParams, SecretKey, Transaction};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Time between runner passes, ms.
pub const TICK_MS: u64 = 250;
/// Waits for in-flight appends of a closing epoch, at most this many ticks.
pub const MAX_CLOSE_WAITS: u32 = 400;
/// Settled epochs whose attestation the runner still checks (older ones are left alone).
pub const ATTEST_LOOKBACK_EPOCHS: u64 = 16;
/// Resubmit an attestation not yet on chain after this long, ms.
pub const ATTEST_RETRY_MS: u64 = 5_000;

/// Errors of a runner pass (logged; the next pass retries).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// Reading the chain failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A node or oracle call failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Settlement failed.
    #[error(transparent)]
    Settle(#[from] SettleError),
    /// Writing the published directory failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// A leader's epoch did not verify.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The genesis has no rewards section.
    #[error("genesis has no rewards section")]
    NoRewards,
}

/// Where a runner's epochs come from.
pub enum Source {
    /// This oracle's own ingest.
    Ingest(Arc<Core>),
    /// Another oracle's published epochs.
    Follow(OracleClient),
}

/// What a runner is made of.
pub struct RunnerParts {
    /// Where its epochs come from.
    pub source: Source,
    /// The node.
    pub node: NodeClient,
    /// Where settled epochs are published.
    pub published: Published,
    /// The chain's genesis.
    pub genesis: Genesis,
    /// The registered modules.
    pub modules: Vec<Arc<dyn depin_module::ResourceModule>>,
    /// The key that attests roots (none: settle and publish only).
    pub key: Option<SecretKey>,
    /// Wait after an epoch's end before closing it, ms (covers reports in flight).
    pub grace_ms: u64,
}

/// The epoch runner.
pub struct Runner {
    parts: RunnerParts,
    attest_tried_ms: Mutex<BTreeMap<u64, u64>>,
    next_follow: Mutex<u64>,
}

impl std::ops::Deref for Runner {
    type Target = RunnerParts;
    fn deref(&self) -> &RunnerParts {
        &self.parts
    }
}

impl Runner {
    /// A runner; a follower starts after its last published epoch.
    pub fn new(parts: RunnerParts) -> Runner {
        let settled = parts.published.settled().ok();
        let first = settled.and_then(|s| s.last().map(|e| e + 1)).unwrap_or(0);
        Runner {
            parts,
            attest_tried_ms: Mutex::default(),
            next_follow: Mutex::new(first),
        }
    }

    fn rewards(&self) -> Result<&RewardsParams, RunnerError> {
        self.genesis.rewards.as_ref().ok_or(RunnerError::NoRewards)
    }

    /// One pass: refresh the registry, settle what is due, attest what is settled.
    ///
    /// Errors: the first failure of the pass.
    pub async fn tick(&self, now_ms: u64) -> Result<(), RunnerError> {
        match &self.source {
            Source::Ingest(core) => {
                core.set_registry(registry(&self.node, None).await?.1);
                while self.close_due(core, now_ms).await? {}
            }
            Source::Follow(leader) => self.follow(leader).await?,
        }
        self.attest_settled(now_ms).await
    }

    async fn close_due(&self, core: &Arc<Core>, now_ms: u64) -> Result<bool, RunnerError> {
        let r = self.rewards()?;
        let epoch = core.closed_below();
        let end_ms = r.clock(self.genesis.genesis_time_ms).end_ms(epoch);
        if now_ms < end_ms.saturating_add(self.grace_ms) {
            return Ok(false);
        }
        let start_ms = r.clock(self.genesis.genesis_time_ms).start_ms(epoch);
        let Some((entropy, height)) = epoch_anchor(&self.node, start_ms, end_ms).await? else {
            return Ok(false);
        };
        let price = self.genesis.params.credit_price_bones;
        let prefixes = state_prefixes(&self.modules);
        let snap = snapshot(&self.node, Some(height), price, &prefixes).await?;
        let mut closed = None;
        for _ in 0..MAX_CLOSE_WAITS {
            closed = core.take_epoch(epoch);
            if closed.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let Some(closed) = closed else {
            return Ok(false);
        };
        let header = EpochHeader {
            chain_id: self.genesis.chain_id.clone(),
            network: self.genesis.network,
            epoch,
            start_ms,
            end_ms,
            entropy,
            snapshot: snap,
            emission: emission_for_epoch(
                r.initial_emission_bones,
                r.halving_interval_epochs,
                epoch,
            ),
            module_weights: r.module_weights.clone(),
            remainder_account: r.remainder_account.key,
            ingest_rejections: closed.rejections,
            carry: self.carry_into(epoch)?,
        };
        let inputs = EpochInputs {
            header,
            reports: closed.reports,
        };
        let inputs_bin = inputs.to_bytes();
        let s = settle_encoded(&inputs, &inputs_bin, &self.modules)?;
        let verdicts = self.published.write((&inputs, &inputs_bin), &s)?;
        core.record_verdicts(epoch, &verdicts);
        core.forget_epoch(epoch);
        tracing::info!(epoch, reports = inputs.reports.len(), root = %s.manifest.root, "epoch settled");
        Ok(true)
    }

    /// What the modules carried out of `epoch − 1`, as this oracle published it (empty for
    /// epoch 0 or when this oracle did not settle the previous epoch).
    fn carry_into(&self, epoch: u64) -> Result<BTreeMap<String, Vec<u8>>, RunnerError> {
        let Some(prev) = epoch.checked_sub(1) else {
            return Ok(BTreeMap::new());
        };
        Ok(self.published.carry(prev)?.unwrap_or_default())
    }

    async fn follow(&self, leader: &OracleClient) -> Result<(), RunnerError> {
        let settled = leader.epochs().await?.settled;
        let next = *self
            .next_follow
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for epoch in settled.into_iter().filter(|e| *e >= next) {
            let manifest = leader.manifest(epoch).await?;
            let inputs_bytes = leader.inputs(epoch).await?;
            let (inputs, s) = recompute(&inputs_bytes, &manifest, &self.modules)?;
            check_chain(&self.node, &self.genesis, &inputs, &self.modules).await?;
            self.check_carry(&inputs)?;
            self.published.write((&inputs, &inputs_bytes), &s)?;
            tracing::info!(epoch, root = %s.manifest.root, "leader's epoch verified");
            *self
                .next_follow
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = epoch + 1;
        }
        Ok(())
    }

    /// A follower that settled the previous epoch itself requires the leader's carry-in to
    /// equal its own carry-out.
    fn check_carry(&self, inputs: &EpochInputs) -> Result<(), RunnerError> {
        let Some(prev) = inputs.header.epoch.checked_sub(1) else {
            return Ok(());
        };
        match self.published.carry(prev)? {
            Some(own) if own != inputs.header.carry => Err(VerifyError::Mismatch {
                difference: format!(
                    "inputs.carry of epoch {} differs from this oracle's carry out of epoch {prev}",
                    inputs.header.epoch
                ),
            }
            .into()),
            _ => Ok(()),
        }
    }

    async fn attest_settled(&self, now_ms: u64) -> Result<(), RunnerError> {
        let Some(key) = &self.key else { return Ok(()) };
        let settled = self.published.settled()?;
        let from = settled
            .last()
            .map_or(0, |l| l.saturating_sub(ATTEST_LOOKBACK_EPOCHS));
        for epoch in settled.into_iter().filter(|e| *e >= from) {
            let tried = self
                .attest_tried_ms
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&epoch)
                .copied();
            if tried.is_some_and(|t| now_ms < t + ATTEST_RETRY_MS) {
                continue;
            }
            let me = depin_types::Address::new(self.genesis.network, key.public()).to_string();
            let view = self.node.epoch_rewards(epoch, None).await?;
            if view.root.is_some() || view.attestations.iter().any(|a| a.oracle == me) {
                continue;
            }
            let Some(m) = self.published.manifest(epoch)? else {
                continue;
            };
            // Recorded before submitting, so a refused attestation (e.g. no funds for the fee)
            // is retried every ATTEST_RETRY_MS, not every tick.
            self.attest_tried_ms
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(epoch, now_ms);
            let action = crate::claims::attestation_of(&m).map_err(|e| VerifyError::Inputs {
                reason: e.to_string(),
            })?;
            self.submit_attestation(key, epoch, action).await?;
        }
        Ok(())
    }

    async fn submit_attestation(
        &self,
        key: &SecretKey,
        epoch: u64,
        action: RewardsAction,
    ) -> Result<(), RunnerError> {
        let acct = self.node.account(&key.public().to_hex()).await?;
        let chain = self.node.chain().await?;
        let fee = Amount(chain.min_fee_bones.parse().unwrap_or(0));
        let root = match &action {
            RewardsAction::AttestRoot { root, .. } => root.to_hex(),
            _ => String::new(),
        };
        let tx = Transaction {
            chain_id: self.genesis.chain_id.clone(),
            signer: key.public(),
            nonce: acct.next_nonce,
            fee,
            action: Action::Rewards(action),
        };
        let id = self.node.submit(&tx.sign(key)).await?;
        tracing::info!(epoch, %root, tx = %id, "attestation submitted");
        Ok(())
    }

    /// Runs passes every [`TICK_MS`] until `stop` turns true.
    pub async fn run(
        self: Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
        clock: fn() -> u64,
    ) {
        loop {
            if let Err(e) = self.tick(clock()).await {
                tracing::warn!(error = %e, "epoch runner pass failed; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_millis(TICK_MS)) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
