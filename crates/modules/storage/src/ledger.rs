//! The storage module's ledger component ([`StorageLedger`]) — providers, deals and their
//! collateral.
//!
//! Rules (Filecoin's deals and provider collateral, paid as Akash leases through `escrow`):
//! - `Announce`: the owner of an active `storage-provider` device publishes its capacity,
//!   price (bones per GiB per epoch) and endpoint; capacity may not drop below what is placed.
//! - `Open`: every provider must have the free capacity for the deal's shard file, and its
//!   owner must keep bonded `⌈collateral_bones_per_gib × bytes stored / GiB⌉` for everything
//!   it stores afterwards (unbonding below it is refused). Escrow `id` is opened with payees
//!   the providers' owners at `Σ ⌈price × shard_file_bytes / GiB⌉` per epoch, funded with
//!   exactly `rate × term_epochs`.
//! - Penalties attested by the oracles: the `rewards` component slashes (burns) the stake of
//!   the provider's owner ([`LedgerModule::penalty_owner`]), then [`mark_faulty`] marks its
//!   shards of the deal faulty (the deal `Degraded`); faulty shards are no longer challenged. The escrow keeps paying until the client repairs.
//! - `Repair` (client): a faulty shard moves to a new provider, which is paid from then on.
//! - `Cancel` (client): the escrow pays the epoch in progress and refunds the rest; the
//!   providers' capacity and collateral are released. An ended term is released the same way.
//!
//! Keys: `storage/params` → [`StorageParams`] (parsed once, at genesis);
//! `storage/provider/<device>` → [`ProviderRecord`]; `storage/deal/<id>` → [`Deal`];
//! `storage/stored/<owner>` → `u64` bytes its providers store.

use crate::types::{
    per_gib, Deal, DealShard, DealState, ProviderRecord, ShardPlacement, StorageAction,
    StorageParams, MAX_DEAL_SHARDS, MAX_ENDPOINT_BYTES, MODULE, PROVIDER_CLASS,
};
use borsh::BorshDeserialize;
use depin_ledger::components::{devices, escrow, staking, TxContext};
use depin_ledger::error::{ReasonCode, StateError};
use depin_ledger::module::{LedgerModule, ModuleError};
use depin_ledger::state::{get, Overlay, StateRead};
use depin_ledger::TxError;
use depin_types::genesis::ModuleParams;
use depin_types::tx::{DeviceStatus, EscrowPayee, Penalty};
use depin_types::{Amount, Hash32, PublicKey};
use std::collections::BTreeMap;

pub use crate::types::{DEAL_PREFIX, PROVIDER_PREFIX};
/// The prefix of every key the storage module owns.
pub const PREFIX: &[u8] = b"storage/";
/// Key prefix of the bytes each owner's providers store.
pub const STORED_PREFIX: &[u8] = b"storage/stored/";
/// State key of the module's parameters.
pub const PARAMS_KEY: &[u8] = b"storage/params";

/// Errors of the `storage` component.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StorageError {
    /// The genesis parameters of the storage module do not parse.
    #[error("storage parameters are invalid: {reason}")]
    BadParams {
        /// Why.
        reason: String,
    },
    /// The device is not a registered, active storage provider device of the signer.
    #[error("device {device} cannot announce: {reason}")]
    NotProviderDevice {
        /// The device (hex).
        device: String,
        /// Why.
        reason: &'static str,
    },
    /// An announcement that cannot stand.
    #[error("invalid announcement: {reason}")]
    InvalidAnnounce {
        /// Why.
        reason: &'static str,
    },
    /// No provider record for a device.
    #[error("device {device} is not an announced storage provider")]
    UnknownProvider {
        /// The device (hex).
        device: String,
    },
    /// A deal's terms that cannot stand.
    #[error("invalid deal: {reason}")]
    InvalidDeal {
        /// Why.
        reason: &'static str,
    },
    /// A deal with this id exists.
    #[error("deal {id} already exists")]
    DealExists {
        /// The id.
        id: Hash32,
    },
    /// No deal with this id.
    #[error("no deal {id}")]
    DealNotFound {
        /// The id.
        id: Hash32,
    },
    /// Only the deal's client may do this.
    #[error("only the client of deal {id} may do this")]
    NotClient {
        /// The id.
        id: Hash32,
    },
    /// The deal was cancelled.
    #[error("deal {id} is cancelled")]
    DealCancelled {
        /// The id.
        id: Hash32,
    },
    /// A repair of a shard that is healthy or does not exist.
    #[error("shard {index} of deal {id} is not faulty")]
    ShardNotFaulty {
        /// The deal.
        id: Hash32,
        /// The shard index.
        index: u32,
    },
    /// A provider without room for the shard file.
    #[error("provider {device} has {free_bytes} bytes free, needs {need_bytes}")]
    InsufficientCapacity {
        /// The device (hex).
        device: String,
        /// Free bytes.
        free_bytes: u64,
        /// Bytes asked.
        need_bytes: u64,
    },
    /// A provider owner without the collateral bonded.
    #[error("owner {owner} has {bonded} bones bonded, needs {required} as collateral")]
    InsufficientCollateral {
        /// The owner (hex).
        owner: String,
        /// Bones bonded.
        bonded: u128,
        /// Bones required.
        required: u128,
    },
    /// The deposit exceeds the client's limit.
    #[error("deposit {deposit} bones exceeds the limit {max} bones")]
    DepositTooHigh {
        /// The deposit the prices give.
        deposit: u128,
        /// The client's limit.
        max: u128,
    },
    /// An amount or size would overflow.
    #[error("storage amount overflow")]
    Overflow,
}

impl From<StorageError> for TxError {
    fn from(e: StorageError) -> TxError {
        TxError::Module(ModuleError::new(MODULE, &e))
    }
}

impl ReasonCode for StorageError {
    fn code(&self) -> &'static str {
        match self {
            StorageError::BadParams { .. } => "storage_params_invalid",
            StorageError::NotProviderDevice { .. } => "not_provider_device",
            StorageError::InvalidAnnounce { .. } => "invalid_announce",
            StorageError::UnknownProvider { .. } => "unknown_provider",
            StorageError::InvalidDeal { .. } => "invalid_deal",
            StorageError::DealExists { .. } => "deal_exists",
            StorageError::DealNotFound { .. } => "deal_not_found",
            StorageError::NotClient { .. } => "not_deal_client",
            StorageError::DealCancelled { .. } => "deal_cancelled",
            StorageError::ShardNotFaulty { .. } => "shard_not_faulty",
            StorageError::InsufficientCapacity { .. } => "insufficient_capacity",
            StorageError::InsufficientCollateral { .. } => "insufficient_collateral",
            StorageError::DepositTooHigh { .. } => "deposit_too_high",
            StorageError::Overflow => "storage_overflow",
        }
    }
}

/// State key of provider `device`.
pub fn provider_key(device: &PublicKey) -> Vec<u8> {
    [PROVIDER_PREFIX, &device.0].concat()
}

/// State key of deal `id`.
pub fn deal_key(id: &Hash32) -> Vec<u8> {
    [DEAL_PREFIX, &id.0].concat()
}

fn stored_key(owner: &PublicKey) -> Vec<u8> {
    [STORED_PREFIX, &owner.0].concat()
}

/// Reads provider `device`.
pub fn provider(
    s: &impl StateRead,
    device: &PublicKey,
) -> Result<Option<ProviderRecord>, StateError> {
    get(s, &provider_key(device))
}

/// Reads deal `id`.
pub fn deal(s: &impl StateRead, id: &Hash32) -> Result<Option<Deal>, StateError> {
    get(s, &deal_key(id))
}

/// Bytes of shard files the providers of `owner` store.
pub fn stored_bytes(s: &impl StateRead, owner: &PublicKey) -> Result<u64, StateError> {
    Ok(get(s, &stored_key(owner))?.unwrap_or(0))
}

/// The storage module's parameters, as parsed at genesis (defaults on a chain whose genesis
/// wrote none).
///
/// Errors: storage failures.
pub fn params(s: &impl StateRead) -> Result<StorageParams, StateError> {
    Ok(get(s, PARAMS_KEY)?.unwrap_or_default())
}

/// Stake `owner` must keep bonded for what its providers store (0 if nothing).
///
/// Errors: bad parameters, overflow.
pub fn required_collateral(s: &impl StateRead, owner: &PublicKey) -> Result<Amount, TxError> {
    let bytes = stored_bytes(s, owner)?;
    if bytes == 0 {
        return Ok(Amount::ZERO);
    }
    params(s)?
        .collateral_for(bytes)
        .ok_or_else(|| StorageError::Overflow.into())
}

fn existing_deal(s: &impl StateRead, id: &Hash32) -> Result<Deal, TxError> {
    deal(s, id)?.ok_or_else(|| StorageError::DealNotFound { id: *id }.into())
}

fn existing_provider(s: &impl StateRead, device: &PublicKey) -> Result<ProviderRecord, TxError> {
    provider(s, device)?.ok_or_else(|| {
        StorageError::UnknownProvider {
            device: device.to_hex(),
        }
        .into()
    })
}

/// The deal of `id` if the signer is its client and it is not cancelled.
fn client_deal(s: &impl StateRead, ctx: &TxContext<'_>, id: &Hash32) -> Result<Deal, TxError> {
    let d = existing_deal(s, id)?;
    if d.client != ctx.signer {
        return Err(StorageError::NotClient { id: *id }.into());
    }
    if d.state == DealState::Cancelled {
        return Err(StorageError::DealCancelled { id: *id }.into());
    }
    Ok(d)
}

/// Largest segment shard accepted, bytes (as the module's erasure `MAX_SHARD_BYTES`).
pub const MAX_SEGMENT_SHARD_BYTES: u32 = 16 << 20;
/// Smallest segment shard accepted, bytes.
pub const MIN_SEGMENT_SHARD_BYTES: u32 = 64;

fn check_announce(
    s: &impl StateRead,
    ctx: &TxContext<'_>,
    device: &PublicKey,
    capacity_bytes: u64,
    price: Amount,
    endpoint: &str,
) -> Result<(), TxError> {
    let not = |reason| StorageError::NotProviderDevice {
        device: device.to_hex(),
        reason,
    };
    let d = devices::device(s, device)?.ok_or_else(|| not("not registered"))?;
    if d.owner != ctx.signer {
        return Err(not("signer is not its owner").into());
    }
    if d.class != PROVIDER_CLASS {
        return Err(not("not of class storage-provider").into());
    }
    if d.status != DeviceStatus::Active {
        return Err(not("inactive").into());
    }
    let bad = |reason| Err(StorageError::InvalidAnnounce { reason }.into());
    let url_ok = endpoint.starts_with("http://") || endpoint.starts_with("https://");
    if !url_ok || endpoint.len() > MAX_ENDPOINT_BYTES {
        return bad("endpoint must be an http(s) URL of at most 256 bytes");
    }
    if capacity_bytes == 0 || price == Amount::ZERO {
        return bad("capacity and price must be positive");
    }
    if let Some(p) = provider(s, device)? {
        if capacity_bytes < p.used_bytes {
            return bad("capacity below the bytes already placed");
        }
        if p.owner != ctx.signer && p.used_bytes > 0 {
            return bad("a provider with placed shards keeps the owner that announced it");
        }
    }
    Ok(())
}

fn execute_announce(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    device: &PublicKey,
    capacity_bytes: u64,
    price: Amount,
    endpoint: &str,
) -> Result<(), TxError> {
    let used_bytes = provider(s, device)?.map_or(0, |p| p.used_bytes);
    let record = ProviderRecord {
        owner: ctx.signer,
        capacity_bytes,
        used_bytes,
        price_bones_per_gib_epoch: price,
        endpoint: endpoint.to_string(),
    };
    s.put(provider_key(device), &record);
    Ok(())
}

/// The bytes of each provider's shard file for an object of `size_bytes` coded `k` of `n`
/// with segment shards of `segment_shard_bytes`.
///
/// Errors: [`StorageError::InvalidDeal`] for a layout that cannot be coded, overflow.
pub fn shard_file_bytes(
    size_bytes: u64,
    k: u16,
    n: usize,
    segment_shard_bytes: u32,
) -> Result<u64, StorageError> {
    let bad = |reason| Err(StorageError::InvalidDeal { reason });
    if k == 0 || usize::from(k) >= n || n > MAX_DEAL_SHARDS {
        return bad("need 1 <= k < n <= 64");
    }
    let ssb = segment_shard_bytes;
    if ssb % 2 != 0 || !(MIN_SEGMENT_SHARD_BYTES..=MAX_SEGMENT_SHARD_BYTES).contains(&ssb) {
        return bad("segment shard size must be even, 64 B to 16 MiB");
    }
    let segment_bytes = u64::from(k) * u64::from(ssb);
    let segments = size_bytes.div_ceil(segment_bytes).max(1);
    segments
        .checked_mul(u64::from(ssb))
        .ok_or(StorageError::Overflow)
}

/// What opening a deal does, computed once for the check and the execution.
struct OpenPlan {
    deal: Deal,
    payees: Vec<EscrowPayee>,
    deposit: Amount,
}

/// Shard `placement` on its provider at `epoch`, paid at the provider's price; checks the
/// provider's free capacity.
fn placed_shard(
    s: &impl StateRead,
    placement: &ShardPlacement,
    file_bytes: u64,
    epoch: u64,
) -> Result<(DealShard, PublicKey), TxError> {
    let p = existing_provider(s, &placement.provider)?;
    if p.free_bytes() < file_bytes {
        return Err(StorageError::InsufficientCapacity {
            device: placement.provider.to_hex(),
            free_bytes: p.free_bytes(),
            need_bytes: file_bytes,
        }
        .into());
    }
    let rate = per_gib(p.price_bones_per_gib_epoch, file_bytes).ok_or(StorageError::Overflow)?;
    let shard = DealShard {
        provider: placement.provider,
        root: placement.root,
        rate_bones_per_epoch: rate,
        since_epoch: epoch,
        faulty: false,
    };
    Ok((shard, p.owner))
}

/// The escrow payees of a deal: its shards' providers' owners, rates summed per owner.
fn payees_of(s: &impl StateRead, shards: &[DealShard]) -> Result<Vec<EscrowPayee>, TxError> {
    let mut rates: BTreeMap<PublicKey, Amount> = BTreeMap::new();
    for sh in shards {
        let owner = existing_provider(s, &sh.provider)?.owner;
        let r = rates.entry(owner).or_insert(Amount::ZERO);
        *r = r
            .checked_add(sh.rate_bones_per_epoch)
            .map_err(|_| StorageError::Overflow)?;
    }
    Ok(rates
        .into_iter()
        .map(|(payee, rate_bones_per_epoch)| EscrowPayee {
            payee,
            rate_bones_per_epoch,
        })
        .collect())
}

/// Checks each owner keeps the collateral for what it stores after adding `added`.
fn check_collateral(
    s: &impl StateRead,
    params: &StorageParams,
    added: BTreeMap<PublicKey, u64>,
) -> Result<(), TxError> {
    for (owner, bytes) in added {
        let total = stored_bytes(s, &owner)?
            .checked_add(bytes)
            .ok_or(StorageError::Overflow)?;
        let required = params.collateral_for(total).ok_or(StorageError::Overflow)?;
        let bonded = staking::stake(s, &owner)?.bonded;
        if bonded < required {
            return Err(StorageError::InsufficientCollateral {
                owner: owner.to_hex(),
                bonded: bonded.bones(),
                required: required.bones(),
            }
            .into());
        }
    }
    Ok(())
}

/// `Σ rate × term_epochs`, bones.
fn deposit_for(payees: &[EscrowPayee], term_epochs: u64) -> Result<Amount, StorageError> {
    let rate = payees.iter().try_fold(Amount::ZERO, |a, p| {
        a.checked_add(p.rate_bones_per_epoch)
            .map_err(|_| StorageError::Overflow)
    })?;
    rate.checked_mul(u128::from(term_epochs))
        .map_err(|_| StorageError::Overflow)
}

/// Everything `Open` checks, and what it will write.
fn plan_open(
    s: &impl StateRead,
    ctx: &TxContext<'_>,
    action: &StorageAction,
) -> Result<OpenPlan, TxError> {
    let StorageAction::Open {
        id,
        object,
        size_bytes,
        k,
        segment_shard_bytes,
        shards,
        term_epochs,
        max_deposit_bones,
    } = action
    else {
        return Err(StorageError::InvalidDeal {
            reason: "not an open",
        }
        .into());
    };
    let now = escrow::current_epoch(s, ctx)?;
    let file_bytes = shard_file_bytes(*size_bytes, *k, shards.len(), *segment_shard_bytes)?;
    let mut providers: Vec<&PublicKey> = shards.iter().map(|p| &p.provider).collect();
    providers.sort_unstable();
    if providers.windows(2).any(|w| w[0] == w[1]) {
        return Err(StorageError::InvalidDeal {
            reason: "a provider twice",
        }
        .into());
    }
    if deal(s, id)?.is_some() || escrow::account(s, id)?.is_some() {
        return Err(StorageError::DealExists { id: *id }.into());
    }
    let mut placed = Vec::with_capacity(shards.len());
    let mut added: BTreeMap<PublicKey, u64> = BTreeMap::new();
    for p in shards {
        let (shard, owner) = placed_shard(s, p, file_bytes, now)?;
        let a = added.entry(owner).or_insert(0);
        *a = a.checked_add(file_bytes).ok_or(StorageError::Overflow)?;
        placed.push(shard);
    }
    let payees = payees_of(s, &placed)?;
    escrow::check_terms(*term_epochs, &payees)?;
    let deposit = deposit_for(&payees, *term_epochs)?;
    if deposit > *max_deposit_bones {
        let (deposit, max) = (deposit.bones(), max_deposit_bones.bones());
        return Err(StorageError::DepositTooHigh { deposit, max }.into());
    }
    depin_ledger::components::bank::check_transfer(s, ctx, deposit)?;
    check_collateral(s, &params(s)?, added)?;
    let deal = Deal {
        client: ctx.signer,
        object: *object,
        size_bytes: *size_bytes,
        k: *k,
        n: u16::try_from(shards.len()).map_err(|_| StorageError::Overflow)?,
        segment_shard_bytes: *segment_shard_bytes,
        shard_file_bytes: file_bytes,
        shards: placed,
        start_epoch: now,
        term_epochs: *term_epochs,
        state: DealState::Active,
    };
    Ok(OpenPlan {
        deal,
        payees,
        deposit,
    })
}

fn execute_open(s: &mut Overlay<'_>, id: &Hash32, plan: OpenPlan) -> Result<(), TxError> {
    let d = plan.deal;
    for sh in &d.shards {
        record_placement(s, &sh.provider, d.shard_file_bytes)?;
    }
    let account = escrow::EscrowAccount {
        owner: d.client,
        balance: plan.deposit,
        start_epoch: d.start_epoch,
        term_epochs: d.term_epochs,
        paid_through_epoch: d.start_epoch,
        payees: plan.payees,
        state: escrow::EscrowState::Open,
        paid: Amount::ZERO,
    };
    escrow::open_account(s, id, account)?;
    s.put(deal_key(id), &d);
    Ok(())
}

/// Releases `bytes` placed on provider `device` (capacity and its owner's stored total).
fn release(s: &mut Overlay<'_>, device: &PublicKey, bytes: u64) -> Result<(), TxError> {
    let mut p = existing_provider(s, device)?;
    assert!(
        p.used_bytes >= bytes,
        "a provider holds what was placed on it"
    );
    p.used_bytes -= bytes;
    s.put(provider_key(device), &p);
    let stored = stored_bytes(s, &p.owner)?;
    assert!(stored >= bytes, "an owner stores what its providers hold");
    s.put(stored_key(&p.owner), &(stored - bytes));
    Ok(())
}

/// Records `bytes` placed on provider `device` (its used capacity and its owner's stored
/// total); the caller checked capacity and collateral. The twin of [`release`].
fn record_placement(s: &mut Overlay<'_>, device: &PublicKey, bytes: u64) -> Result<(), TxError> {
    let mut p = existing_provider(s, device)?;
    p.used_bytes = p
        .used_bytes
        .checked_add(bytes)
        .ok_or(StorageError::Overflow)?;
    assert!(p.used_bytes <= p.capacity_bytes, "capacity was checked");
    s.put(provider_key(device), &p);
    let stored = stored_bytes(s, &p.owner)?
        .checked_add(bytes)
        .ok_or(StorageError::Overflow)?;
    s.put(stored_key(&p.owner), &stored);
    Ok(())
}

fn execute_cancel(s: &mut Overlay<'_>, ctx: &TxContext<'_>, id: &Hash32) -> Result<(), TxError> {
    let mut d = client_deal(s, ctx, id)?;
    let now = escrow::current_epoch(s, ctx)?;
    escrow::close(s, id, now)?;
    for sh in &d.shards {
        release(s, &sh.provider, d.shard_file_bytes)?;
    }
    d.state = DealState::Cancelled;
    s.put(deal_key(id), &d);
    Ok(())
}

/// The client's deal `id` and the shard replacing its faulty shard `index` on `provider`
/// (capacity and collateral checked).
fn check_repair(
    s: &impl StateRead,
    ctx: &TxContext<'_>,
    id: &Hash32,
    index: u32,
    provider: &PublicKey,
) -> Result<(Deal, DealShard), TxError> {
    let d = client_deal(s, ctx, id)?;
    let shard = d.shards.get(index as usize).filter(|sh| sh.faulty);
    let shard = shard.ok_or(StorageError::ShardNotFaulty { id: *id, index })?;
    if d.shards.iter().any(|sh| sh.provider == *provider) {
        return Err(StorageError::InvalidDeal {
            reason: "the new provider already holds a shard of the deal",
        }
        .into());
    }
    let placement = ShardPlacement {
        provider: *provider,
        root: shard.root,
    };
    let now = escrow::current_epoch(s, ctx)?;
    let (shard, owner) = placed_shard(s, &placement, d.shard_file_bytes, now)?;
    check_collateral(
        s,
        &params(s)?,
        BTreeMap::from([(owner, d.shard_file_bytes)]),
    )?;
    Ok((d, shard))
}

fn execute_repair(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    id: &Hash32,
    index: u32,
    provider: &PublicKey,
) -> Result<(), TxError> {
    let (mut d, shard) = check_repair(s, ctx, id, index, provider)?;
    let now = escrow::current_epoch(s, ctx)?;
    let old = d.shards[index as usize].provider;
    release(s, &old, d.shard_file_bytes)?;
    record_placement(s, provider, d.shard_file_bytes)?;
    d.shards[index as usize] = shard;
    if d.shards.iter().all(|sh| !sh.faulty) {
        d.state = DealState::Active;
    }
    escrow::set_payees(s, id, payees_of(s, &d.shards)?, now)?;
    s.put(deal_key(id), &d);
    Ok(())
}

/// Whose stake a penalty against `device` slashes: the owner who announced it as a provider
/// (and bonded its collateral), if it ever did.
///
/// Errors: storage failures.
pub fn penalty_owner(
    s: &impl StateRead,
    device: &PublicKey,
) -> Result<Option<PublicKey>, StateError> {
    Ok(provider(s, device)?.map(|rec| rec.owner))
}

/// For a storage fault (`p.deal` set), marks the device's shards of the deal faulty (the
/// deal `Degraded`). A deal that no longer exists, or was cancelled, is skipped.
///
/// Errors: storage failures.
pub fn mark_faulty(s: &mut Overlay<'_>, p: &Penalty) -> Result<(), StateError> {
    let Some(id) = &p.deal else {
        return Ok(());
    };
    let Some(mut d) = deal(s, id)?.filter(|d| d.state != DealState::Cancelled) else {
        return Ok(());
    };
    let mut marked = false;
    for sh in d.shards.iter_mut().filter(|sh| sh.provider == p.device) {
        marked |= !sh.faulty;
        sh.faulty = true;
    }
    if marked {
        d.state = DealState::Degraded;
        s.put(deal_key(id), &d);
    }
    Ok(())
}

/// Stateful check of a storage action.
pub fn check(
    s: &impl StateRead,
    ctx: &TxContext<'_>,
    action: &StorageAction,
) -> Result<(), TxError> {
    match action {
        StorageAction::Announce {
            device,
            capacity_bytes,
            price_bones_per_gib_epoch,
            endpoint,
        } => check_announce(
            s,
            ctx,
            device,
            *capacity_bytes,
            *price_bones_per_gib_epoch,
            endpoint,
        ),
        StorageAction::Open { .. } => plan_open(s, ctx, action).map(|_| ()),
        StorageAction::Cancel { id } => client_deal(s, ctx, id).map(|_| ()),
        StorageAction::Repair {
            id,
            index,
            provider,
        } => check_repair(s, ctx, id, *index, provider).map(|_| ()),
    }
}

/// Executes a storage action (after [`check`] passed).
pub fn execute(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    action: &StorageAction,
) -> Result<(), TxError> {
    match action {
        StorageAction::Announce {
            device,
            capacity_bytes,
            price_bones_per_gib_epoch,
            endpoint,
        } => execute_announce(
            s,
            ctx,
            device,
            *capacity_bytes,
            *price_bones_per_gib_epoch,
            endpoint,
        ),
        StorageAction::Open { id, .. } => {
            let plan = plan_open(s, ctx, action)?;
            execute_open(s, id, plan)
        }
        StorageAction::Cancel { id } => execute_cancel(s, ctx, id),
        StorageAction::Repair {
            id,
            index,
            provider,
        } => execute_repair(s, ctx, id, *index, provider),
    }
}

/// A storage action in a block: its check, then its execution. A deal's `Open` is planned
/// once (the plan is the check); the other actions run [`check`] then [`execute`].
pub fn check_and_execute(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    action: &StorageAction,
) -> Result<(), TxError> {
    if let StorageAction::Open { id, .. } = action {
        let plan = plan_open(s, ctx, action)?;
        return execute_open(s, id, plan);
    }
    check(s, ctx, action)?;
    execute(s, ctx, action)
}

/// The storage module's ledger component, as registered with the ledger.
#[derive(Clone, Copy, Debug, Default)]
pub struct StorageLedger;

impl StorageLedger {
    fn decode(body: &[u8]) -> Result<StorageAction, ModuleError> {
        StorageAction::try_from_slice(body).map_err(|e| ModuleError {
            module: MODULE,
            code: "malformed_storage_action",
            message: format!("storage action does not decode: {e}"),
        })
    }
}

impl LedgerModule for StorageLedger {
    fn name(&self) -> &'static str {
        MODULE
    }

    fn prefix(&self) -> &'static [u8] {
        PREFIX
    }

    fn history_prefixes(&self) -> &'static [&'static [u8]] {
        &[PROVIDER_PREFIX, DEAL_PREFIX]
    }

    fn genesis(&self, params: &ModuleParams, state: &mut Overlay<'_>) -> Result<(), ModuleError> {
        let parsed = StorageParams::from_module_params(params)
            .map_err(|reason| ModuleError::new(MODULE, &StorageError::BadParams { reason }))?;
        state.put(PARAMS_KEY.to_vec(), &parsed);
        Ok(())
    }

    fn check_stateless(&self, body: &[u8]) -> Result<(), ModuleError> {
        Self::decode(body).map(|_| ())
    }

    fn check(
        &self,
        state: &dyn StateRead,
        ctx: &TxContext<'_>,
        body: &[u8],
    ) -> Result<(), TxError> {
        check(&state, ctx, &Self::decode(body)?)
    }

    fn execute(
        &self,
        state: &mut Overlay<'_>,
        ctx: &TxContext<'_>,
        body: &[u8],
    ) -> Result<(), TxError> {
        execute(state, ctx, &Self::decode(body)?)
    }

    fn check_and_execute(
        &self,
        state: &mut Overlay<'_>,
        ctx: &TxContext<'_>,
        body: &[u8],
    ) -> Result<(), TxError> {
        check_and_execute(state, ctx, &Self::decode(body)?)
    }

    fn required_collateral(
        &self,
        state: &dyn StateRead,
        owner: &PublicKey,
    ) -> Result<Amount, TxError> {
        required_collateral(&state, owner)
    }

    fn penalty_owner(
        &self,
        state: &dyn StateRead,
        device: &PublicKey,
    ) -> Result<Option<PublicKey>, StateError> {
        penalty_owner(&state, device)
    }

    fn on_penalty(&self, state: &mut Overlay<'_>, penalty: &Penalty) -> Result<(), TxError> {
        Ok(mark_faulty(state, penalty)?)
    }
}
