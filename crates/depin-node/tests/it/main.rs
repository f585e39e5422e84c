//! Integration tests of the node through its HTTP API.

mod bad_input;
mod harness;
mod replay;
