//! Integration tests of the node through its HTTP API.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)] // test code: failing loudly is the point

mod bad_input;
mod harness;
mod replay;
