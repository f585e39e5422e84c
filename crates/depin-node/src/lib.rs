//! The depin node: mempool, block production through a consensus driver, REST API with an
//! OpenAPI document, Prometheus metrics.
//!
//! Data flow: `POST /v1/txs` → [`admission::NodeState::admit_batch`] (decode, stateless checks,
//! batch signature verification, replay and nonce checks, simulation) → [`mempool::Mempool`]
//! → the producer thread runs the [`depin_consensus::SoloDriver`], which asks
//! [`blocks::NodeApp`] to propose (select, execute, compute the state root) and finalize
//! (stage it, then one durable redb write on the committer thread) → `GET /v1/txs/{id}`
//! reports the receipt once durable.

pub mod admission;
pub mod api;
#[cfg(feature = "bft")]
pub mod bft;
pub mod blocks;
pub mod config;
pub mod home;
pub mod mempool;
pub mod module;
pub mod replay;
pub mod run;

pub use config::NodeConfig;
pub use module::{NodeModule, NodeModules};
pub use run::{start, start_full, Consensus, NodeHandle, NodeParts, StartError};
