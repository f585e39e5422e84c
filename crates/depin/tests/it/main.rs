//! Integration tests of the `depin` binary as real processes.

mod crash;
mod process;
