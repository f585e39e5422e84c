//! Re-verifying a published epoch: the inputs' digest, every report signature, the chain
//! facts (entropy, registry, emission, weights) against the node, and the manifest recomputed
//! from the inputs. Used by `depin rewards verify` and by follower oracles before they attest.

use crate::chain::{epoch_anchor, snapshot, ChainError};
use crate::core::VERIFY_CHUNK;
use crate::settle::{first_difference, settle_encoded, EpochInputs, SettleError, Settlement};
use depin_client::NodeClient;
use depin_module::ResourceModule;
use depin_types::rewards::emission_for_epoch;
use depin_types::{BatchVerifier, Genesis};
use std::sync::Arc;

/// Why a published epoch does not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// `inputs.bin` does not decode.
    #[error("inputs do not decode: {reason}")]
    Inputs {
        /// Why.
        reason: String,
    },
    /// A difference between what was published and what was recomputed or read.
    #[error("mismatch: {difference}")]
    Mismatch {
        /// The first difference found.
        difference: String,
    },
    /// Settlement failed.
    #[error(transparent)]
    Settle(#[from] SettleError),
    /// Reading the chain failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

fn mismatch(difference: String) -> VerifyError {
    VerifyError::Mismatch { difference }
}

/// Index of the first report whose signature does not verify, checking in batches of
/// [`VERIFY_CHUNK`] (one verification per report only inside a failed batch).
fn first_bad_signature(inputs: &EpochInputs) -> Option<usize> {
    for (c, chunk) in inputs.reports.chunks(VERIFY_CHUNK).enumerate() {
        let mut b = BatchVerifier::default();
        for r in chunk {
            b.queue_owned(&r.report.device, r.report.signing_bytes(), &r.signature);
        }
        if let Some(i) = b.verify_all().iter().position(Result::is_err) {
            return Some(c * VERIFY_CHUNK + i);
        }
    }
    None
}

/// Decodes `inputs.bin`, checks its digest and signatures and settles it again; the first
/// difference of the recomputed manifest from `published` is an error. Returns the inputs
/// and their settlement (a follower publishes it as it is).
///
/// Errors: [`VerifyError`].
pub fn recompute(
    inputs_bytes: &[u8],
    published: &serde_json::Value,
    modules: &[Arc<dyn ResourceModule>],
) -> Result<(EpochInputs, Settlement), VerifyError> {
    let inputs: EpochInputs = borsh::from_slice(inputs_bytes).map_err(|e| VerifyError::Inputs {
        reason: e.to_string(),
    })?;
    let digest = crate::settle::inputs_digest(inputs_bytes).to_hex();
    let claimed = published
        .get("inputs_digest")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if digest != claimed {
        return Err(mismatch(format!(
            "manifest.inputs_digest: published {claimed}, inputs hash to {digest}"
        )));
    }
    if let Some(i) = first_bad_signature(&inputs) {
        return Err(mismatch(format!(
            "inputs.reports[{i}]: signature does not verify"
        )));
    }
    let s = settle_encoded(&inputs, inputs_bytes, modules)?;
    let recomputed = serde_json::to_value(&s.manifest).expect("a manifest always serializes");
    if let Some(d) = first_difference(published, &recomputed) {
        return Err(mismatch(d));
    }
    Ok((inputs, s))
}

/// Checks the inputs' chain facts against the node and genesis.
///
/// Errors: [`VerifyError::Mismatch`] on the first difference; node errors.
pub async fn check_chain(
    node: &NodeClient,
    genesis: &Genesis,
    inputs: &EpochInputs,
    modules: &[Arc<dyn ResourceModule>],
) -> Result<(), VerifyError> {
    let rewards = genesis
        .rewards
        .as_ref()
        .ok_or_else(|| mismatch("genesis has no rewards section".into()))?;
    let emission = emission_for_epoch(
        rewards.initial_emission_bones,
        rewards.halving_interval_epochs,
        inputs.header.epoch,
    );
    if inputs.header.emission != emission {
        return Err(mismatch(format!(
            "inputs.emission: {} bones, schedule says {}",
            inputs.header.emission.0, emission.0
        )));
    }
    if inputs.header.module_weights != rewards.module_weights
        || inputs.header.remainder_account != rewards.remainder_account.key
    {
        return Err(mismatch(
            "inputs.module_weights or remainder_account differ from genesis".into(),
        ));
    }
    let start = rewards
        .clock(genesis.genesis_time_ms)
        .start_ms(inputs.header.epoch);
    if (inputs.header.start_ms, inputs.header.end_ms) != (start, start + rewards.epoch_length_ms) {
        return Err(mismatch(format!(
            "inputs epoch bounds {}..{} are not epoch {}'s",
            inputs.header.start_ms, inputs.header.end_ms, inputs.header.epoch
        )));
    }
    let (entropy, height) = epoch_anchor(node, inputs.header.start_ms, inputs.header.end_ms)
        .await?
        .ok_or_else(|| mismatch("the chain has not passed the epoch's end".into()))?;
    if entropy != inputs.header.entropy || height != inputs.header.snapshot.height {
        return Err(mismatch(format!(
            "inputs anchor (entropy {}, height {}) differs from the chain's ({entropy}, {height})",
            inputs.header.entropy, inputs.header.snapshot.height
        )));
    }
    let prefixes = crate::chain::state_prefixes(modules);
    let price = genesis.params.credit_price_bones;
    let snap = snapshot(node, Some(height), price, &prefixes).await?;
    if snap != inputs.header.snapshot {
        return Err(mismatch(format!(
            "inputs.snapshot differs from the registry at height {height}"
        )));
    }
    Ok(())
}
