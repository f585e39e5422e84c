//! The resource-module contract.
//!
//! A resource module is one sector of physical work (coverage, storage, compute, …) plugged
//! into the engine. It declares its device classes, checks its report payloads, and verifies
//! each epoch: given the epoch's reports, the device registry as of the epoch's last block and
//! the epoch's entropy, it returns a verdict per report (valid, or invalid with a reason code)
//! and a share per device. It may also meter usage (credit debits from payers) and request
//! penalties (slashing). Everything here is pure and deterministic: the same inputs give the
//! same verdicts and shares on every oracle, and `depin rewards verify` re-runs it from the
//! published inputs.
//!
//! The engine core (oracle, ledger) never names a module; the binary registers modules in one
//! place and hands them to the oracle as `Arc<dyn ResourceModule>`.

use borsh::{BorshDeserialize, BorshSerialize};
use depin_types::{Amount, Antenna, DeviceClassParams, Hash32, Location, PublicKey, Report};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

#[cfg(feature = "testkit")]
pub mod testkit;
mod verdicts;
pub use verdicts::{Verdicts, MAX_REASONS, TOO_MANY_REASONS};

/// Verdict reason code for a report whose module is not registered.
pub const UNKNOWN_MODULE: &str = "unknown_module";

/// One device as the ledger knew it at the epoch's snapshot height.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The device key.
    pub device: PublicKey,
    /// Its owner (who is paid).
    pub owner: PublicKey,
    /// Its class.
    pub class: String,
    /// Asserted location, for location-bound classes.
    pub location: Option<Location>,
    /// Antenna asserted with the location (radio classes).
    pub antenna: Option<Antenna>,
    /// Whether the device was active.
    pub active: bool,
}

/// The ledger view an epoch is verified against: the device registry at `height`.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct LedgerSnapshot {
    /// Height of the state read (the epoch's last block).
    pub height: u64,
    /// Devices by key.
    pub devices: BTreeMap<PublicKey, DeviceInfo>,
    /// Data-credit balances of payer keys (keys with a positive balance), for modules that
    /// charge usage.
    pub credits: BTreeMap<PublicKey, u64>,
    /// Bones burned per data credit (genesis `credit_price_bones`): what a spent credit is
    /// worth.
    pub credit_price_bones: Amount,
    /// The raw ledger entries (full key → borsh value) under the prefixes the registered
    /// modules read ([`ResourceModule::state_prefixes`]), e.g. the storage deals.
    pub module_state: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl LedgerSnapshot {
    /// The entries under `prefix`, in key order: `(key after the prefix, value)`.
    pub fn rows<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        self.module_state
            .range(prefix.to_vec()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(move |(k, v)| (&k[prefix.len()..], v.as_slice()))
    }
}

/// Largest report payload a module accepts unless it says otherwise, bytes.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 3_072;

/// What a module knows of an epoch before its reports: everything in [`EpochInput`] but
/// the reports, for a streamed verification ([`ResourceModule::collector`]).
#[derive(Clone, Copy)]
pub struct EpochContext<'a> {
    /// Epoch number.
    pub epoch: u64,
    /// First ms of the epoch (inclusive).
    pub start_ms: u64,
    /// End of the epoch, ms (exclusive).
    pub end_ms: u64,
    /// Unpredictable per-epoch randomness: the hash of the epoch's first block.
    pub entropy: Hash32,
    /// The device registry at the epoch's last block.
    pub snapshot: &'a LedgerSnapshot,
    /// This module's pool of the epoch's emission, bones (genesis module weights).
    pub pool_bones: Amount,
    /// State the module carried out of the previous epoch; empty for the first epoch.
    pub carry: &'a [u8],
}

impl<'a> EpochContext<'a> {
    /// The context of a whole-epoch input.
    pub fn of(input: &EpochInput<'a>) -> EpochContext<'a> {
        EpochContext {
            epoch: input.epoch,
            start_ms: input.start_ms,
            end_ms: input.end_ms,
            entropy: input.entropy,
            snapshot: input.snapshot,
            pool_bones: input.pool_bones,
            carry: input.carry,
        }
    }

    /// The whole-epoch input of this context with `reports`.
    pub fn with_reports(self, reports: &'a [&'a Report]) -> EpochInput<'a> {
        EpochInput {
            epoch: self.epoch,
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            entropy: self.entropy,
            reports,
            snapshot: self.snapshot,
            pool_bones: self.pool_bones,
            carry: self.carry,
        }
    }
}

/// One epoch's verification fed one report at a time, in the oracle's log order, so that
/// settlement can stream an epoch's reports (millions at Helium's scale) instead of holding
/// them all. The outcome must equal [`ResourceModule::verify_epoch`] on the same reports.
pub trait EpochCollector {
    /// Takes the epoch's next report of this module.
    fn push(&mut self, report: &Report);

    /// Reports taken so far.
    fn pushed(&self) -> usize;

    /// Verifies the epoch: one verdict per pushed report, in push order.
    fn finish(self: Box<Self>) -> EpochOutcome;
}

/// The collector of a module without its own: keeps the reports and runs
/// [`ResourceModule::verify_epoch`] on them at the end.
pub struct Buffered<'a, M: ResourceModule + ?Sized> {
    module: &'a M,
    context: EpochContext<'a>,
    reports: Vec<Report>,
}

impl<'a, M: ResourceModule + ?Sized> Buffered<'a, M> {
    /// An empty buffer for `module`'s epoch `context`.
    pub fn new(module: &'a M, context: EpochContext<'a>) -> Self {
        Buffered {
            module,
            context,
            reports: Vec::new(),
        }
    }
}

impl<M: ResourceModule + ?Sized> EpochCollector for Buffered<'_, M> {
    fn push(&mut self, report: &Report) {
        self.reports.push(report.clone());
    }

    fn pushed(&self) -> usize {
        self.reports.len()
    }

    fn finish(self: Box<Self>) -> EpochOutcome {
        let refs: Vec<&Report> = self.reports.iter().collect();
        self.module.verify_epoch(&self.context.with_reports(&refs))
    }
}

/// What a module gets to verify one epoch.
pub struct EpochInput<'a> {
    /// Epoch number.
    pub epoch: u64,
    /// First ms of the epoch (inclusive).
    pub start_ms: u64,
    /// End of the epoch, ms (exclusive).
    pub end_ms: u64,
    /// Unpredictable per-epoch randomness: the hash of the epoch's first block.
    pub entropy: Hash32,
    /// This module's reports of the epoch, in the oracle's log order; signatures, chain id and
    /// payload form were already checked at ingest.
    pub reports: &'a [&'a Report],
    /// The device registry at the epoch's last block.
    pub snapshot: &'a LedgerSnapshot,
    /// This module's pool of the epoch's emission, bones (genesis module weights).
    pub pool_bones: Amount,
    /// State the module carried out of the previous epoch ([`EpochOutcome::carry`]); empty
    /// for the first epoch.
    pub carry: &'a [u8],
}

/// A report's verdict.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "reason")]
pub enum Verdict {
    /// Counted towards its device's share.
    Valid,
    /// Refused, with a stable reason code (e.g. `duplicate_interval`). A static code costs
    /// no allocation: an epoch holds millions of verdicts.
    Invalid(Cow<'static, str>),
}

impl Verdict {
    /// An invalid verdict with a static reason code.
    pub const fn invalid(code: &'static str) -> Verdict {
        Verdict::Invalid(Cow::Borrowed(code))
    }
}

/// Usage to be charged: `credits` data credits from `payer`, credited as usage to `provider`
/// (Helium's packet DC burn; Filecoin's deal payments).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageCharge {
    /// The payer key debited.
    pub payer: PublicKey,
    /// The device that provided the service.
    pub provider: PublicKey,
    /// Data credits.
    pub credits: u64,
}

/// A penalty the module asks the ledger to apply (slash the faulty device's owner's stake;
/// for storage, mark its shards of a deal faulty): the ledger's own type, attested by the
/// oracles with the epoch's root.
pub use depin_types::tx::Penalty;

/// A module's result for one epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpochOutcome {
    /// One verdict per input report, same order.
    pub verdicts: Verdicts,
    /// Contribution units per device (only devices with a positive share). With
    /// `exact_rewards`, the units are bones the module computed out of `pool_bones` itself.
    pub shares: BTreeMap<PublicKey, u128>,
    /// Whether `shares` are exact rewards in bones (paid as they are, Σ ≤ pool; the rest of
    /// the pool goes to the remainder account) rather than pro-rata units.
    pub exact_rewards: bool,
    /// Usage to charge payers for.
    pub usage: Vec<UsageCharge>,
    /// Penalties to apply.
    pub penalties: Vec<Penalty>,
    /// State to hand to the next epoch's verification (module-defined bytes; empty if none).
    pub carry: Vec<u8>,
}

/// A report payload refused at ingest, with a stable reason code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadRejection {
    /// Reason code, e.g. `malformed_payload`.
    pub code: &'static str,
    /// Human-readable detail.
    pub message: String,
}

/// The contract every resource module implements.
pub trait ResourceModule: Send + Sync {
    /// Module name as written in reports and in genesis `module_weights` (e.g. `heartbeat`).
    fn name(&self) -> &'static str;

    /// Device classes the module rewards, with their onboarding rules (added to a new genesis).
    fn device_classes(&self) -> Vec<DeviceClassParams>;

    /// Parameters (JSON) a new genesis with epochs of `epoch_length_ms` writes for the module;
    /// empty for none (the module's defaults).
    fn genesis_params(&self, epoch_length_ms: u64) -> String {
        let _ = epoch_length_ms;
        String::new()
    }

    /// Ledger key prefixes whose entries the module's verifier reads (its ledger component's
    /// state, e.g. `storage/deal/`); the oracle puts them in [`LedgerSnapshot::module_state`].
    /// Every key under a prefix must be the prefix and 32 bytes.
    fn state_prefixes(&self) -> Vec<&'static [u8]> {
        Vec::new()
    }

    /// Largest payload the module's reports carry, bytes (the oracle refuses larger reports
    /// with `report_too_large`).
    fn max_payload_bytes(&self) -> usize {
        DEFAULT_MAX_PAYLOAD_BYTES
    }

    /// Stateless check of a report payload at ingest (size, form). Cheap: runs per report on
    /// the ingest path.
    ///
    /// Errors: a [`PayloadRejection`] with the module's reason code.
    fn check_payload(&self, payload: &[u8]) -> Result<(), PayloadRejection>;

    /// Verifies one epoch. Must be deterministic: no clock, no randomness but
    /// `input.entropy`, no hash-map iteration. `verdicts.len() == input.reports.len()`.
    fn verify_epoch(&self, input: &EpochInput<'_>) -> EpochOutcome;

    /// A streamed verification of the epoch `context` ([`EpochCollector`]). The default
    /// buffers the reports for [`ResourceModule::verify_epoch`]; a module with epochs of
    /// millions of reports keeps compact records instead (coverage does).
    fn collector<'a>(&'a self, context: EpochContext<'a>) -> Box<dyn EpochCollector + 'a> {
        Box::new(Buffered::new(self, context))
    }
}

/// Counts verdicts by reason (`valid` for valid ones), sorted by code.
pub fn verdict_counts(
    verdicts: impl IntoIterator<Item = impl std::borrow::Borrow<Verdict>>,
) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for v in verdicts {
        let code = match v.borrow() {
            Verdict::Valid => "valid",
            Verdict::Invalid(c) => c.as_ref(),
        };
        *out.entry(code.to_string()).or_insert(0) += 1;
    }
    out
}
