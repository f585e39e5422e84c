//! Storage roles: the provider agent ([`provider`], [`prover`]) and the client that stores
//! and fetches objects ([`client`]).

pub mod client;
pub mod direct;
pub mod fetch;
pub mod prover;
pub mod provider;

use depin_module_storage::types::{Deal, DealShard, DealState};
use depin_module_storage::views::DealView;
use depin_types::{Address, Amount, Hash32};

/// Header carrying a download's retrieval receipt (hex borsh `SignedRetrieval`).
pub const RECEIPT_HEADER: &str = "x-depin-receipt";
/// Header carrying the signed `Open` transaction of a deal an upload is for, while the deal
/// is not committed yet (hex borsh `SignedTransaction`).
pub const DEAL_TX_HEADER: &str = "x-depin-deal-tx";

/// Why a provider refused a request.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No open deal places this shard on this provider.
    #[error("upload not covered by a deal: {reason}")]
    NotCovered {
        /// Why.
        reason: String,
    },
    /// The body is not the deal's shard file size.
    #[error("shard file is {got} bytes, the deal records {expected}")]
    SizeMismatch {
        /// Bytes received.
        got: u64,
        /// Bytes the deal records.
        expected: u64,
    },
    /// The body does not hash to the deal's root.
    #[error("shard file hashes to {got}, the deal records {expected}")]
    RootMismatch {
        /// Root of the body (hex).
        got: String,
        /// Root in the deal (hex).
        expected: String,
    },
    /// A download without a valid receipt.
    #[error("a retrieval receipt from the deal's client is required: {reason}")]
    ReceiptRequired {
        /// Why.
        reason: String,
    },
    /// The shard is not on this provider's disk.
    #[error("shard {index} of deal {deal} is not held here")]
    NotHeld {
        /// The deal (hex).
        deal: String,
        /// The shard index.
        index: u32,
    },
    /// The stored shard no longer matches its tree.
    #[error("stored shard is corrupt: {reason}")]
    Corrupt {
        /// What failed.
        reason: String,
    },
    /// Reading or writing the disk failed.
    #[error("disk: {message}")]
    Io {
        /// What failed.
        message: String,
    },
    /// The node could not be asked.
    #[error("node: {message}")]
    Node {
        /// What failed.
        message: String,
    },
}

impl ProviderError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::NotCovered { .. } => "not_covered",
            ProviderError::SizeMismatch { .. } => "size_mismatch",
            ProviderError::RootMismatch { .. } => "root_mismatch",
            ProviderError::ReceiptRequired { .. } => "receipt_required",
            ProviderError::NotHeld { .. } => "not_found",
            ProviderError::Corrupt { .. } => "shard_corrupt",
            ProviderError::Io { .. } => "io_error",
            ProviderError::Node { .. } => "node_unavailable",
        }
    }
}

/// Milliseconds since the Unix epoch (agents run on the wall clock; the ledger never does).
pub fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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
