//! Integration tests of the `depin` binary as real processes.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)] // test code: failing loudly is the point

#[cfg(feature = "bft")]
mod bft;
mod browser;
mod crash;
mod devnet;
mod oracle;
mod oracle_crash;
mod process;
mod real_run;
mod rewards_verify;
mod storage_run;
