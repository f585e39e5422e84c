//! Integration tests of the coverage module.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)] // test code: failing loudly is the point

mod fleet;
mod helium_vectors;
mod spoofs;
