//! The node's REST API types (JSON bodies), shared by the node (`depin-node`) and the typed
//! client (`depin-client`). Hashes and keys are lowercase hex; addresses base58check; amounts
//! strings of bones (`_bones`), because JSON numbers cannot hold a `u128`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// API version prefix of every route.
pub const API_PREFIX: &str = "/v1";

/// Every 4xx/5xx body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable reason code, e.g. `nonce_too_low`, `invalid_signature`, `tx_too_large`.
    pub code: String,
    /// Human-readable detail.
    pub message: String,
}

/// Reply to an accepted transaction (`202`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct SubmitResponse {
    /// Transaction id (hex).
    pub tx_id: String,
}

/// One result of a batch submission, in request order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BatchItem {
    /// Transaction id (hex); empty if the entry did not decode.
    pub tx_id: String,
    /// Accepted into the mempool?
    pub accepted: bool,
    /// Why not, if not.
    pub error: Option<ErrorBody>,
}

/// Reply to a batch submission.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BatchResponse {
    /// Per-transaction results, in request order.
    pub results: Vec<BatchItem>,
}

/// A receipt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReceiptView {
    /// Transaction id.
    pub tx_id: String,
    /// Block height.
    pub height: u64,
    /// Index in the block.
    pub index: u32,
    /// `success` or `failed`.
    pub status: String,
    /// Reason code when failed.
    pub code: Option<String>,
    /// Detail when failed.
    pub message: Option<String>,
    /// Fee charged.
    pub fee_bones: String,
}

/// Where a transaction is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct TxStatusResponse {
    /// Transaction id.
    pub tx_id: String,
    /// `pending` (in the mempool), `committed` (in a block; see the receipt), `dropped` (left
    /// out of a block; see `error`), or `unknown`.
    pub status: String,
    /// The receipt once committed.
    pub receipt: Option<ReceiptView>,
    /// Why it was dropped.
    pub error: Option<ErrorBody>,
}

/// Result of a simulation: what would happen if the transaction were the next one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct SimulateResponse {
    /// Transaction id.
    pub tx_id: String,
    /// The receipt it would get (height = next height).
    pub receipt: ReceiptView,
}

/// An account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AccountView {
    /// base58check address.
    pub address: String,
    /// ed25519 key (hex).
    pub key: String,
    /// Spendable balance.
    pub balance_bones: String,
    /// Next nonce in committed state.
    pub nonce: u64,
    /// Next nonce counting this node's pending transactions (use this to sign the next one).
    pub next_nonce: u64,
    /// Bonded stake.
    pub bonded_bones: String,
    /// Stake being unbonded.
    pub unbonding_bones: String,
    /// Data credits.
    pub credits: u64,
    /// Height of the state this was read at.
    pub height: u64,
}

/// A device.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct DeviceView {
    /// Device address.
    pub address: String,
    /// Owner address.
    pub owner: String,
    /// Class name.
    pub class: String,
    /// Maker address.
    pub maker: String,
    /// H3 res-12 cell (hex), if asserted.
    pub location: Option<String>,
    /// Cell centre latitude (degrees), if asserted.
    pub lat: Option<f64>,
    /// Cell centre longitude (degrees), if asserted.
    pub lng: Option<f64>,
    /// `active` or `inactive`.
    pub status: String,
    /// Onboarding height.
    pub onboarded_height: u64,
    /// Antenna gain, dBi × 10, when asserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain_ddbi: Option<i32>,
    /// Antenna elevation above ground, metres, when asserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elevation_m: Option<i32>,
    /// Height of the last location assertion.
    pub location_height: u64,
}

/// One page of the device registry as of a height.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct DevicePage {
    /// Height the registry was read at.
    pub height: u64,
    /// Devices in key order.
    pub devices: Vec<DeviceView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// One payer's data-credit balance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct CreditBalanceView {
    /// Payer address.
    pub address: String,
    /// Data credits.
    pub credits: u64,
}

/// One page of data-credit balances as of a height (keys with a balance, in key order).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct CreditPage {
    /// Height the balances were read at.
    pub height: u64,
    /// Balances in key order.
    pub balances: Vec<CreditBalanceView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// One oracle's attestation of an epoch's reward root.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AttestationView {
    /// Oracle address.
    pub oracle: String,
    /// Attested root (hex).
    pub root: String,
    /// Attested total, bones.
    pub total_bones: String,
    /// Digest of the attested usage and penalty lists (hex).
    pub effects_digest: String,
}

/// One payee of an escrow account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct EscrowPayeeView {
    /// Payee address.
    pub payee: String,
    /// Bones per epoch.
    pub rate_bones_per_epoch: String,
}

/// An escrow account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct EscrowView {
    /// Account id (hex).
    pub id: String,
    /// Owner address.
    pub owner: String,
    /// Bones held.
    pub balance_bones: String,
    /// First epoch of the term.
    pub start_epoch: u64,
    /// Epochs in the term.
    pub term_epochs: u64,
    /// Epochs before this one are paid.
    pub paid_through_epoch: u64,
    /// `open`, `overdrawn` or `closed`.
    pub state: String,
    /// Bones paid to payees so far.
    pub paid_bones: String,
    /// Payees and rates.
    pub payees: Vec<EscrowPayeeView>,
    /// Height of the state read.
    pub height: u64,
}

/// The settlement state of one epoch's rewards.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct EpochRewardsView {
    /// Epoch.
    pub epoch: u64,
    /// Effective root (hex), once `attest_threshold` oracles agreed.
    pub root: Option<String>,
    /// Bones minted for the epoch, once effective.
    pub total_bones: Option<String>,
    /// Bones claimed so far.
    pub claimed_bones: String,
    /// Height at which the root took effect.
    pub effective_height: Option<u64>,
    /// Data credits debited from payers for the epoch's usage, once effective.
    pub credits_debited: Option<u64>,
    /// Attested credits the payers no longer held, once effective.
    pub credits_unpaid: Option<u64>,
    /// Bones slashed by the epoch's penalties, once effective.
    pub bones_slashed: Option<String>,
    /// Attestations so far, by oracle.
    pub attestations: Vec<AttestationView>,
    /// Bones paid to `owner` for this epoch, when the request named one.
    pub owner_claimed_bones: Option<String>,
    /// Height of the state read.
    pub height: u64,
}

/// A block.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BlockView {
    /// Block hash.
    pub hash: String,
    /// Height.
    pub height: u64,
    /// Time, ms since the Unix epoch.
    pub time_ms: u64,
    /// Parent hash.
    pub parent_hash: String,
    /// Proposer address.
    pub proposer: String,
    /// Transaction root.
    pub tx_root: String,
    /// State root after the block.
    pub state_root: String,
    /// Transaction ids in order.
    pub tx_ids: Vec<String>,
}

/// Chain facts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ChainInfo {
    /// Chain id.
    pub chain_id: String,
    /// `mainnet`, `testnet` or `devnet`.
    pub network: String,
    /// Genesis hash.
    pub genesis_hash: String,
    /// Last committed height.
    pub height: u64,
    /// Hash of the last block (zero hash at genesis).
    pub latest_block_hash: String,
    /// State root at the last height.
    pub state_root: String,
    /// Target block time.
    pub block_time_ms: u64,
    /// Minimum fee.
    pub min_fee_bones: String,
    /// Largest accepted transaction.
    pub max_tx_bytes: u32,
    /// Transactions waiting in the mempool.
    pub mempool_txs: u64,
    /// Committed transactions.
    pub committed_txs: u64,
}

/// The supply audit (O(state); for operators and tests).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct SupplyView {
    /// Height audited.
    pub height: u64,
    /// `genesis + minted − burned`.
    pub outstanding_bones: String,
    /// Σ balances.
    pub balances_bones: String,
    /// Σ bonded.
    pub bonded_bones: String,
    /// Σ unbonding.
    pub unbonding_bones: String,
    /// Rewards minted by effective epoch roots and not yet claimed.
    pub unclaimed_rewards_bones: String,
    /// Σ escrow account balances, bones.
    pub escrowed_bones: String,
    /// The supply equation holds.
    pub ok: bool,
}

/// An oracle's acknowledgement of one report: durable when sent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReportAck {
    /// Receipt id (the report id, hex).
    pub id: String,
    /// The report's epoch.
    pub epoch: u64,
}

/// One item of a report batch's reply: an acknowledgement (`id`, `epoch`) or a refusal
/// (`code`, `message`); absent fields are omitted (a batch reply has one item per report).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReportBatchItem {
    /// Receipt id when acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Epoch when acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// Reason code when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Detail when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Reply to a report batch: one item per report, in order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReportBatchResponse {
    /// Items in submission order.
    pub results: Vec<ReportBatchItem>,
}

/// A report's status at the oracle.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReportStatusView {
    /// Report id.
    pub id: String,
    /// Its epoch.
    pub epoch: u64,
    /// `accepted` (durable, epoch open), `valid` or `invalid` (epoch settled).
    pub status: String,
    /// Reason code of an invalid verdict.
    pub reason: Option<String>,
}

/// One device's reports in a settled epoch at the oracle: how many, their verdicts by
/// reason, and the device's reward (explorer device pages).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct DeviceEpochView {
    /// Epoch.
    pub epoch: u64,
    /// Device address.
    pub device: String,
    /// Reports of the device in the epoch's inputs.
    pub reports: u64,
    /// Verdicts by reason code (`valid` for valid reports).
    pub verdicts: std::collections::BTreeMap<String, u64>,
    /// The device's reward, bones (`0` when it earned nothing).
    pub reward_bones: String,
    /// Module that paid it (absent when it earned nothing).
    pub module: Option<String>,
}

/// An open epoch at the oracle.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct OpenEpochView {
    /// Epoch.
    pub epoch: u64,
    /// Reports acknowledged so far.
    pub reports: u64,
}

/// The oracle's epochs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct EpochsView {
    /// Settled epochs (manifest published), ascending.
    pub settled: Vec<u64>,
    /// Open epochs with reports.
    pub open: Vec<OpenEpochView>,
    /// Lowest epoch still accepting reports.
    pub first_open: u64,
}

/// One raw state entry (borsh value) under a prefix.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct StateRowView {
    /// The 32 key bytes after the prefix (hex).
    pub key: String,
    /// The borsh-encoded value (hex).
    pub value: String,
}

/// One page of raw state entries under a prefix as of a height (what resource modules read
/// of their ledger component for an epoch's snapshot).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct StateRowPage {
    /// Height read.
    pub height: u64,
    /// Entries in key order.
    pub rows: Vec<StateRowView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}
