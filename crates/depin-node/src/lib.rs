//! The depin node: mempool, block production through a consensus driver, REST API with an
//! OpenAPI document, Prometheus metrics.
//!
//! Data flow: `POST /v1/txs` → [`app::NodeState::admit_batch`] (decode, stateless checks,
//! batch signature verification, replay and nonce checks, simulation) → [`mempool::Mempool`]
//! → the producer thread runs the [`depin_consensus::SoloDriver`], which asks
//! [`app::NodeApp`] to propose (select, execute, compute the state root) and finalize (one
//! durable redb write) → `GET /v1/txs/{id}` reports the receipt.

pub mod api;
pub mod app;
pub mod config;
pub mod home;
pub mod mempool;
pub mod replay;
pub mod run;

pub use config::NodeConfig;
pub use run::{start, NodeHandle, StartError};
