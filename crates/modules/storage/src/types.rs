//! The storage module's ledger records, transactions and parameters, shared by its ledger
//! component ([`crate::ledger`]), its epoch verifier, the node API and the CLI.
//!
//! A **provider** is a device of class [`PROVIDER_CLASS`] whose owner announced its capacity,
//! price and endpoint. A **deal** stores one object: cut into segments, each Reed-Solomon
//! coded into `n` shards of which any `k` rebuild it; provider `i` of the deal holds shard `i`
//! of every segment, concatenated (its *shard file*, `shard_file_bytes` long), whose BLAKE3
//! root the deal records. The client pays each provider `⌈price × shard_file_bytes / GiB⌉`
//! bones per epoch from an escrow account with the deal's id (the ledger's `escrow`
//! component).

use borsh::{BorshDeserialize, BorshSerialize};
use depin_types::genesis::ModuleParams;
use depin_types::tx::{Action, ModuleAction};
use depin_types::Amount;
use depin_types::Hash32;
use depin_types::PublicKey;
use serde::{Deserialize, Serialize};

/// Module name in genesis `module_weights` and in reports.
pub const MODULE: &str = "storage";
/// Device class of storage providers.
pub const PROVIDER_CLASS: &str = "storage-provider";
/// Ledger key prefix of providers (`‖ device key` → borsh [`ProviderRecord`]).
pub const PROVIDER_PREFIX: &[u8] = b"storage/provider/";
/// Ledger key prefix of deals (`‖ deal id` → borsh [`Deal`]).
pub const DEAL_PREFIX: &[u8] = b"storage/deal/";
/// Bytes in a GiB, the unit prices and collateral are quoted per.
pub const GIB_BYTES: u64 = 1 << 30;
/// Longest provider endpoint URL, bytes.
pub const MAX_ENDPOINT_BYTES: usize = 256;
/// Most shards (`n`) in one deal (at most one per provider; as `erasure::MAX_SHARDS`).
pub const MAX_DEAL_SHARDS: usize = 64;
/// Most chunk groups challenged per shard and epoch (keeps a proof report bounded).
pub const MAX_CHALLENGES_PER_SHARD: u32 = 16;
/// Basis points in one (slash fractions are given in basis points).
pub const BPS: u128 = 10_000;

/// The storage module's governed parameters: the `storage` entry's `params` table in genesis
/// `module_weights` (JSON in state). Absent fields take [`StorageParams::default`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageParams {
    /// Stake a provider's owner must keep bonded per GiB of shards it stores, bones
    /// (Filecoin's provider collateral).
    pub collateral_bones_per_gib: Amount,
    /// Fraction of a faulty shard's collateral slashed per epoch it fails its proof, basis
    /// points (Filecoin's fault fee).
    pub slash_bps: u32,
    /// Chunk groups challenged per shard and epoch (`c`; see the module's
    /// `proof::epochs_to_detect`).
    pub challenges_per_shard: u32,
    /// Bytes of retrieval one data credit pays for.
    pub retrieval_bytes_per_credit: u64,
}

impl Default for StorageParams {
    fn default() -> Self {
        StorageParams {
            collateral_bones_per_gib: Amount(1_000_000_000),
            slash_bps: 1_000,
            challenges_per_shard: 8,
            retrieval_bytes_per_credit: 1 << 20,
        }
    }
}

impl StorageParams {
    /// Parses the genesis `params` of the `storage` module (empty: defaults).
    ///
    /// Errors: the JSON error, or a message for values out of range (`slash_bps` above
    /// 10,000, `challenges_per_shard` outside `1..=MAX_CHALLENGES_PER_SHARD`, zero
    /// `retrieval_bytes_per_credit`).
    pub fn from_module_params(p: &ModuleParams) -> Result<StorageParams, String> {
        let params: StorageParams = if p.is_empty() {
            StorageParams::default()
        } else {
            serde_json::from_str(p.as_json()).map_err(|e| e.to_string())?
        };
        if u128::from(params.slash_bps) > BPS {
            return Err("slash_bps above 10000".into());
        }
        if !(1..=MAX_CHALLENGES_PER_SHARD).contains(&params.challenges_per_shard) {
            return Err("challenges_per_shard outside 1..=16".into());
        }
        if params.retrieval_bytes_per_credit == 0 {
            return Err("retrieval_bytes_per_credit is zero".into());
        }
        Ok(params)
    }

    /// Collateral for `bytes` stored: `⌈collateral_bones_per_gib × bytes / GiB⌉`, or `None`
    /// on overflow.
    pub fn collateral_for(&self, bytes: u64) -> Option<Amount> {
        per_gib(self.collateral_bones_per_gib, bytes)
    }

    /// Bones slashed for one failed proof of a shard file of `bytes`:
    /// `⌊collateral_for(bytes) × slash_bps / 10,000⌋`.
    pub fn slash_for(&self, bytes: u64) -> Option<Amount> {
        let c = self.collateral_for(bytes)?.bones();
        Some(Amount(c.checked_mul(u128::from(self.slash_bps))? / BPS))
    }

    /// Data credits a retrieval of `bytes` costs: `⌈bytes / retrieval_bytes_per_credit⌉`.
    pub fn credits_for_retrieval(&self, bytes: u64) -> u64 {
        bytes.div_ceil(self.retrieval_bytes_per_credit.max(1))
    }
}

/// `⌈rate × bytes / GiB⌉`, or `None` on overflow (rounding up: a provider is never paid, nor
/// a collateral computed, below the quoted rate).
pub fn per_gib(rate: Amount, bytes: u64) -> Option<Amount> {
    let product = rate.bones().checked_mul(u128::from(bytes))?;
    Some(Amount(product.div_ceil(u128::from(GIB_BYTES))))
}

/// A storage provider's announcement, kept at `storage/provider/<device>`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProviderRecord {
    /// Owner of the device when it announced (paid, and bonds the collateral).
    pub owner: PublicKey,
    /// Bytes offered.
    pub capacity_bytes: u64,
    /// Bytes of shard files currently placed on it.
    pub used_bytes: u64,
    /// Price, bones per GiB of shard file per epoch.
    pub price_bones_per_gib_epoch: Amount,
    /// Base URL of its agent (e.g. `http://10.0.0.5:7400`).
    pub endpoint: String,
}

impl ProviderRecord {
    /// Bytes still free.
    pub fn free_bytes(&self) -> u64 {
        self.capacity_bytes.saturating_sub(self.used_bytes)
    }
}

/// One shard position of a deal.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct DealShard {
    /// The provider device holding it.
    pub provider: PublicKey,
    /// `BLAKE3` of the shard file.
    pub root: Hash32,
    /// Bones per epoch its provider's owner is paid (`⌈price × shard_file_bytes / GiB⌉` at
    /// the provider's price when the shard was placed).
    pub rate_bones_per_epoch: Amount,
    /// First epoch it is challenged in is the one after this (the epoch it was placed in).
    pub since_epoch: u64,
    /// Whether its provider failed a proof since it was placed (it is no longer challenged
    /// or paid for; repair moves it).
    pub faulty: bool,
}

/// Where a deal is in its life.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DealState {
    /// Every shard is proven each epoch.
    Active,
    /// At least one shard is faulty and awaits repair.
    Degraded,
    /// Cancelled by the client: paid through the epoch of cancelling, the rest refunded.
    Cancelled,
}

/// A storage deal, kept at `storage/deal/<id>`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Deal {
    /// Who pays (and who may cancel and repair).
    pub client: PublicKey,
    /// `BLAKE3` of the whole object.
    pub object: Hash32,
    /// Object size, bytes.
    pub size_bytes: u64,
    /// Data shards per segment.
    pub k: u16,
    /// Shards per segment (= providers of the deal).
    pub n: u16,
    /// Bytes of one shard of one segment.
    pub segment_shard_bytes: u32,
    /// Bytes of each provider's shard file (`segments × segment_shard_bytes`).
    pub shard_file_bytes: u64,
    /// Shard `i` is `shards[i]`.
    pub shards: Vec<DealShard>,
    /// First epoch of the term.
    pub start_epoch: u64,
    /// Epochs paid for.
    pub term_epochs: u64,
    /// Its state.
    pub state: DealState,
}

impl Deal {
    /// Whether epoch `epoch` is within the term and the deal was not cancelled.
    pub fn live_in(&self, epoch: u64) -> bool {
        self.state != DealState::Cancelled
            && epoch >= self.start_epoch
            && epoch < self.start_epoch.saturating_add(self.term_epochs)
    }

    /// The shards challenged in `epoch`: `(index, shard)` of those placed before it and not
    /// faulty, if the deal is live.
    pub fn challenged_in(&self, epoch: u64) -> impl Iterator<Item = (u32, &DealShard)> {
        let live = self.live_in(epoch);
        (0u32..)
            .zip(&self.shards)
            .filter(move |(_, s)| live && !s.faulty && s.since_epoch < epoch)
    }
}

/// A shard of a new deal as the client placed it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ShardPlacement {
    /// The provider device.
    pub provider: PublicKey,
    /// `BLAKE3` of the shard file.
    pub root: Hash32,
}

/// Actions of the ledger's `storage` component.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageAction {
    /// Announces (or updates) a provider: signed by the owner of `device`, an active device of
    /// class [`PROVIDER_CLASS`]. Capacity may not drop below the bytes already placed.
    Announce {
        /// The provider device.
        device: PublicKey,
        /// Bytes offered.
        capacity_bytes: u64,
        /// Bones per GiB of shard file per epoch.
        price_bones_per_gib_epoch: Amount,
        /// Base URL of its agent, at most [`MAX_ENDPOINT_BYTES`].
        endpoint: String,
    },
    /// Opens deal `id`: escrow `id` is funded with `Σ rate × term_epochs` from the signer,
    /// each provider's owner accruing `⌈price × shard_file_bytes / GiB⌉` per epoch. Each
    /// provider must have the free capacity, and its owner the collateral bonded for all it
    /// stores afterwards.
    Open {
        /// Deal (and escrow) id; must be new.
        id: Hash32,
        /// `BLAKE3` of the object.
        object: Hash32,
        /// Object size, bytes.
        size_bytes: u64,
        /// Data shards per segment.
        k: u16,
        /// Bytes of one shard of one segment (even).
        segment_shard_bytes: u32,
        /// The `n` shards, in index order; no provider twice.
        shards: Vec<ShardPlacement>,
        /// Epochs paid for.
        term_epochs: u64,
        /// Refuse if the deposit would exceed this (prices may change between quote and
        /// commit).
        max_deposit_bones: Amount,
    },
    /// Cancels deal `id` (client only): the escrow pays the epoch in progress and refunds the
    /// rest; providers' capacity is freed.
    Cancel {
        /// The deal.
        id: Hash32,
    },
    /// Moves faulty shard `index` of deal `id` to `provider` (client only), after the client
    /// rebuilt it from `k` healthy shards (the rebuilt shard is byte-identical, so its root is
    /// unchanged). Future escrow payments go to the new provider.
    Repair {
        /// The deal.
        id: Hash32,
        /// The shard index.
        index: u32,
        /// The new provider device.
        provider: PublicKey,
    },
}

impl StorageAction {
    /// This action as a ledger transaction's action (`Action::Module`, module [`MODULE`]).
    pub fn into_action(self) -> Action {
        Action::Module(ModuleAction::encode(MODULE, &self))
    }

    /// The storage action inside `action`, if it is one that decodes.
    pub fn from_action(action: &Action) -> Option<StorageAction> {
        match action {
            Action::Module(m) if m.module == MODULE => borsh::from_slice(&m.body).ok(),
            _ => None,
        }
    }
}

/// A storage report payload (module `storage`), signed by the provider device.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum StorageReport {
    /// The answer to epoch `epoch`'s challenge of shard `index` of deal `deal`: the
    /// challenged chunk groups and their Merkle paths (a bao range encoding).
    Proof {
        /// The deal.
        deal: Hash32,
        /// The shard index.
        index: u32,
        /// The epoch challenged.
        epoch: u64,
        /// The response.
        proof: Vec<u8>,
    },
    /// A retrieval the client signed for, to be charged to the client's data credits.
    Retrieval(SignedRetrieval),
}

/// Domain of retrieval-receipt signatures.
pub const DOMAIN_RETRIEVAL: &[u8] = b"depin/storage/retrieval/v1\0";

/// What a client signs for a download: `bytes` of deal `deal` served by `provider`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct RetrievalReceipt {
    /// Chain id (no replay across chains).
    pub chain_id: String,
    /// The deal.
    pub deal: Hash32,
    /// The provider device.
    pub provider: PublicKey,
    /// Bytes served.
    pub bytes: u64,
    /// When the client signed, ms since the Unix epoch (the receipt counts in that epoch
    /// only).
    pub issued_ms: u64,
    /// Client-chosen number making the receipt unique.
    pub nonce: u64,
}

impl RetrievalReceipt {
    /// The bytes the client signs: `DOMAIN_RETRIEVAL ‖ borsh(self)`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let body = borsh::to_vec(self).expect("writing to a Vec cannot fail");
        [DOMAIN_RETRIEVAL, &body].concat()
    }
}

/// A retrieval receipt and the client's signature.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedRetrieval {
    /// The receipt.
    pub receipt: RetrievalReceipt,
    /// The client key.
    pub client: PublicKey,
    /// `client`'s ed25519 signature of [`RetrievalReceipt::signing_bytes`].
    pub signature: depin_types::Signature,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_round_up_to_the_next_bone() {
        assert_eq!(per_gib(Amount(1_000), GIB_BYTES), Some(Amount(1_000)));
        assert_eq!(per_gib(Amount(1_000), GIB_BYTES / 2), Some(Amount(500)));
        assert_eq!(per_gib(Amount(1_000), 1), Some(Amount(1)));
        assert_eq!(per_gib(Amount(0), 1), Some(Amount(0)));
        assert_eq!(per_gib(Amount(u128::MAX), 2), None);
    }

    #[test]
    fn slash_is_the_governed_fraction_of_the_shard_collateral() {
        let p = StorageParams {
            collateral_bones_per_gib: Amount(10_000),
            slash_bps: 2_500,
            ..StorageParams::default()
        };
        assert_eq!(p.collateral_for(GIB_BYTES), Some(Amount(10_000)));
        assert_eq!(p.slash_for(GIB_BYTES), Some(Amount(2_500)));
        assert_eq!(p.credits_for_retrieval(0), 0);
        assert_eq!(p.credits_for_retrieval(1), 1);
    }

    #[test]
    fn params_parse_from_genesis_json_and_refuse_out_of_range_values() {
        let empty = StorageParams::from_module_params(&ModuleParams::default()).unwrap();
        assert_eq!(empty, StorageParams::default());
        let p = ModuleParams(r#"{"slash_bps":500,"challenges_per_shard":4}"#.into());
        let p = StorageParams::from_module_params(&p).unwrap();
        assert_eq!((p.slash_bps, p.challenges_per_shard), (500, 4));
        for bad in [
            r#"{"slash_bps":10001}"#,
            r#"{"challenges_per_shard":0}"#,
            r#"{"challenges_per_shard":17}"#,
            r#"{"retrieval_bytes_per_credit":0}"#,
            r#"{"surprise":1}"#,
        ] {
            assert!(StorageParams::from_module_params(&ModuleParams(bad.into())).is_err());
        }
    }

    #[test]
    fn only_shards_placed_before_an_epoch_and_healthy_are_challenged_in_it() {
        let shard = |since_epoch, faulty| DealShard {
            provider: PublicKey([1; 32]),
            root: Hash32([2; 32]),
            rate_bones_per_epoch: Amount(1),
            since_epoch,
            faulty,
        };
        let deal = Deal {
            client: PublicKey([3; 32]),
            object: Hash32([4; 32]),
            size_bytes: 10,
            k: 1,
            n: 3,
            segment_shard_bytes: 64,
            shard_file_bytes: 64,
            shards: vec![shard(5, false), shard(5, true), shard(6, false)],
            start_epoch: 5,
            term_epochs: 3,
            state: DealState::Degraded,
        };
        let idx = |e| deal.challenged_in(e).map(|(i, _)| i).collect::<Vec<_>>();
        assert_eq!(idx(5), Vec::<u32>::new());
        assert_eq!(idx(6), vec![0]);
        assert_eq!(idx(7), vec![0, 2]);
        assert_eq!(idx(8), Vec::<u32>::new(), "past the term");
    }
}
