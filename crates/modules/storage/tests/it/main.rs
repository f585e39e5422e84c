//! Integration tests of the storage module's core.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)] // test code: failing loudly is the point

mod erasure;
mod ledger;
mod module;
mod proofs;
mod refusals;
mod vectors;
