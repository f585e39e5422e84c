//! The depin oracle: the middleware between devices and the ledger.
//!
//! ```text
//! agent --signed report--> ingest (checks; signatures batch-verified together with concurrent
//!   requests' by the batcher; dedup, rate limit)
//!   --> durable segmented log (group commit, fsync) --> acknowledgement with a receipt id
//! epoch runner: epoch over + chain past it --> registry at the epoch's last block, entropy
//!   --> settle (modules verify; emission split; Merkle root) --> published manifest
//!   --> AttestRoot transaction to the node
//! ```

pub mod api;
pub mod batcher;
pub mod chain;
pub mod claims;
pub mod core;
pub mod epochs;
pub mod ingest;
pub mod log;
pub mod publish;
pub mod reverify;
pub mod settle;
pub mod start;
pub mod stream;

pub use crate::core::{Ack, Core, IngestPolicy, Refusal, ReportStatus};
pub use settle::{settle, EpochInputs, Manifest, SettleError, Settlement};
pub use start::{start, OracleConfig, OracleHandle};
