//! The storage provider agent (feature `agent`): shard files on disk past the page cache
//! ([`direct`]), uploads covered by deals and paid downloads ([`provider`]), a proof per
//! challenged shard each epoch ([`prover`]). The client side is [`crate::client`].

pub mod direct;
pub mod prover;
pub mod provider;

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
