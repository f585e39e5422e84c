//! The `storage` resource module's core, pure and I/O-free: how a stored object becomes
//! erasure-coded shards, and how a provider proves each epoch that it still holds them.
//!
//! - [`erasure`]: an object is cut into segments of `k × shard_bytes`; each segment is
//!   Reed-Solomon coded (reed-solomon-simd, GF(2^16) Leopard codes) into `k` data and `n − k`
//!   parity shards, any `k` of which rebuild it byte for byte.
//! - [`proof`]: each shard's root is its BLAKE3 hash, a Merkle tree over 1 KiB chunks
//!   (bao-tree, 16 KiB chunk groups). Each epoch a seed derived from the epoch's entropy, the
//!   deal and the provider picks `c` chunk groups per shard; the provider answers with the
//!   groups and their Merkle paths, which anyone can check against the root. A provider that
//!   lost a fraction `f` of a shard passes one challenge with probability `(1 − f)^c`
//!   ([`proof::epochs_to_detect`]).
//!
//! - [`object`] codes a whole object in memory; [`stream`] codes it segment by segment from a
//!   reader (a put reads its file twice: once for the roots the deal records, once to upload),
//!   memory staying at a few segments whatever the object's size.
//! - [`module`]: the module the oracle runs: per epoch, verdicts on proof and retrieval
//!   reports, shares for proven bytes, faults (penalties) for shards not proven, retrieval
//!   charges.
//!
//! - [`types`]: the module's ledger records, transactions and parameters; [`ledger`]: its
//!   ledger component ([`StorageLedger`]: providers, deals, collateral, penalties), registered
//!   with the ledger through `depin_ledger::module::LedgerModule`.
//!
//! - [`api`] (feature `node`): its node routes (providers, deals) and their OpenAPI paths;
//!   [`views`] (feature `views`): their JSON; [`queries`] (feature `client`): the routes as a
//!   node client reads them.
//!
//! - [`agent`] (feature `agent`): the provider agent (disk, uploads, paid downloads, proofs);
//!   [`client`] (feature `agent`): storing and fetching objects; `cli` (feature `cli`): the
//!   commands `depin storage put|get|ls|info|cancel|repair|providers|announce` and
//!   `depin agent storage`.

#[cfg(feature = "agent")]
pub mod agent;
#[cfg(feature = "node")]
pub mod api;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "agent")]
pub mod client;
pub mod erasure;
pub mod ledger;
pub mod module;
pub mod object;
pub mod proof;
#[cfg(feature = "client")]
pub mod queries;
#[cfg(feature = "registration")]
pub mod registration;
pub mod stream;
pub mod types;
#[cfg(feature = "views")]
pub mod views;

pub use ledger::StorageLedger;
pub use module::StorageModule;
#[cfg(feature = "registration")]
pub use registration::registration;
