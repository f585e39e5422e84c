//! Core types shared by every depin crate: hashes, ed25519 keys and signatures with one
//! verification rule (ZIP-215), addresses, token amounts, H3 locations and the signed
//! transaction envelope with every ledger action.
//!
//! Nothing here does I/O; everything encodes canonically with borsh.

pub mod address;
pub mod amount;
pub mod block;
pub mod clock;
pub mod crypto;
pub mod genesis;
pub mod hash;
pub mod location;
pub mod merkle;
pub mod par;
pub mod report;
pub mod rewards;
pub mod tx;

pub use address::{Address, AddressError, KeyType, Network};
pub use amount::{Amount, AmountError};
pub use block::{Block, BlockHeader, Receipt, TxStatus};
pub use clock::{wall_clock_ms, EpochClock};
pub use crypto::{verify_batch, BatchVerifier, CryptoError, PublicKey, SecretKey, Signature};
pub use genesis::{
    ChainParams, DeviceClassParams, FeePolicy, Genesis, GenesisError, ModuleWeight, RewardsParams,
};
pub use hash::Hash32;
pub use location::{Antenna, Location, LocationError};
pub use report::{Report, ReportOutcome, SignedReport};
pub use tx::{Action, SignedTransaction, Transaction};
