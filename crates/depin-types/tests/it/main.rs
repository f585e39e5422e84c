//! Integration tests of depin-types.

mod ed25519_vectors;
