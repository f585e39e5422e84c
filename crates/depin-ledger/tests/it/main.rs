//! Integration tests of the ledger: a property test against a plain reference model, and
//! scenarios named as sentences.

mod harness;
mod model;
mod property;
mod scenarios;
