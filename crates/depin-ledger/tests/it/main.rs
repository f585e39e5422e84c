//! Integration tests of the ledger: a property test against a plain reference model, and
//! scenarios named as sentences.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)] // test code: failing loudly is the point

mod escrow;
mod model;
mod property;
mod rewards;
mod scenarios;
