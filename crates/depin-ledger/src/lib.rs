//! The depin ledger: a pure, deterministic state machine.
//!
//! Input: a block's transactions plus a [`BlockContext`] (height, time, proposer) and a view of
//! the previous state ([`StateRead`]). Output: the state writes, one receipt per transaction.
//! No I/O, no clock, no randomness, no hash-map iteration: the same inputs give the same
//! writes on every machine. Storage and the state commitment live in `depin-db`.
//!
//! State is a flat key-value map. Each component owns the keys under its prefix and the
//! actions of its kind:
//! - [`components::bank`] — accounts (balance, nonce), transfers, fees, supply;
//! - [`components::devices`] — makers, device classes, onboarding, locations, ownership;
//! - [`components::staking`] — bonding, unbonding queue, slashing entry point;
//! - [`components::credits`] — burning tokens into data credits, delegation, debit entry point.
//!
//! Every transaction passes three phases (as in penumbra): a stateless check (encoding, size,
//! chain id, signatures; see [`exec::verify_batch`]), a stateful check, and execution.

pub mod audit;
pub mod components;
pub mod error;
pub mod exec;
pub mod genesis;
pub mod module;
pub mod state;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use audit::{audit_supply, SupplyAudit};
pub use error::{ReasonCode, StateError, TxError};
pub use exec::{execute_block, verify_batch, BlockContext, BlockMode, BlockOutcome, VerifiedTx};
pub use state::{MemState, Overlay, StateRead, WriteSet};
