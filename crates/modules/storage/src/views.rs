//! The storage module's JSON views (feature `views`): what its node routes return and its
//! client reads.

use crate::types::{Deal, DealShard, DealState};
use depin_types::{Address, Amount, Hash32};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A storage provider's announcement.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ProviderView {
    /// Provider device address.
    pub device: String,
    /// Owner address (paid; bonds the collateral).
    pub owner: String,
    /// Bytes offered.
    pub capacity_bytes: u64,
    /// Bytes placed.
    pub used_bytes: u64,
    /// Bytes free.
    pub free_bytes: u64,
    /// Price, bones per GiB of shard file per epoch.
    pub price_bones_per_gib_epoch: String,
    /// Base URL of its agent.
    pub endpoint: String,
}

/// One page of storage providers as of a height.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ProviderPage {
    /// Height read.
    pub height: u64,
    /// Providers in device-key order.
    pub providers: Vec<ProviderView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// One shard position of a deal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct DealShardView {
    /// Shard index.
    pub index: u32,
    /// Provider device address.
    pub provider: String,
    /// `BLAKE3` of the shard file (hex).
    pub root: String,
    /// Bones per epoch its provider's owner is paid.
    pub rate_bones_per_epoch: String,
    /// Epoch it was placed in (challenged from the next one).
    pub since_epoch: u64,
    /// Whether its provider failed a proof since.
    pub faulty: bool,
}

/// A storage deal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct DealView {
    /// Deal id (hex; also its escrow account's id).
    pub id: String,
    /// Client address.
    pub client: String,
    /// `BLAKE3` of the object (hex).
    pub object: String,
    /// Object size, bytes.
    pub size_bytes: u64,
    /// Data shards per segment.
    pub k: u16,
    /// Shards per segment.
    pub n: u16,
    /// Bytes of one shard of one segment.
    pub segment_shard_bytes: u32,
    /// Bytes of each provider's shard file.
    pub shard_file_bytes: u64,
    /// Shards by index.
    pub shards: Vec<DealShardView>,
    /// First epoch of the term.
    pub start_epoch: u64,
    /// Epochs paid for.
    pub term_epochs: u64,
    /// `active`, `degraded` or `cancelled`.
    pub state: String,
}

/// One page of deals as of a height.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct DealPage {
    /// Height read.
    pub height: u64,
    /// Deals in id order.
    pub deals: Vec<DealView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// The ledger record of a deal from its API view.
///
/// Errors: a message naming the field that does not parse.
pub fn deal_from_view(v: &DealView) -> Result<Deal, String> {
    let addr = |s: &str| {
        s.parse::<Address>()
            .map(|a| a.key)
            .map_err(|_| format!("address {s:?}"))
    };
    let hash = |s: &str| s.parse::<Hash32>().map_err(|_| format!("hash {s:?}"));
    let mut shards = Vec::with_capacity(v.shards.len());
    for s in &v.shards {
        shards.push(DealShard {
            provider: addr(&s.provider)?,
            root: hash(&s.root)?,
            rate_bones_per_epoch: Amount(
                s.rate_bones_per_epoch
                    .parse()
                    .map_err(|_| format!("rate {:?}", s.rate_bones_per_epoch))?,
            ),
            since_epoch: s.since_epoch,
            faulty: s.faulty,
        });
    }
    let state = match v.state.as_str() {
        "active" => DealState::Active,
        "degraded" => DealState::Degraded,
        "cancelled" => DealState::Cancelled,
        other => return Err(format!("state {other:?}")),
    };
    Ok(Deal {
        client: addr(&v.client)?,
        object: hash(&v.object)?,
        size_bytes: v.size_bytes,
        k: v.k,
        n: v.n,
        segment_shard_bytes: v.segment_shard_bytes,
        shard_file_bytes: v.shard_file_bytes,
        shards,
        start_epoch: v.start_epoch,
        term_epochs: v.term_epochs,
        state,
    })
}
