//! Integration tests of depin-types.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)] // test code: failing loudly is the point

mod ed25519_vectors;
