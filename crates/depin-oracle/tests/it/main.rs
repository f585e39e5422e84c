//! Integration tests of the oracle against a real node: heartbeat agents over several epochs,
//! 2-of-3 attestation, claims, refusals counted in manifests, re-verification.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)] // test code: failing loudly is the point

mod bad_input;
mod end_to_end;
mod harness;
mod paid_packets;
