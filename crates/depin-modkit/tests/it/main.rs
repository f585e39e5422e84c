//! Integration tests of the module test kit: a module written against the SDK alone (its own
//! transaction, state, device class and verifier) runs epochs with rewards, no core crate
//! edited.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)] // test code: failing loudly is the point

mod tally;
