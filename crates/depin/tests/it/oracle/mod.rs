//! The oracle against a real node in this process: heartbeat agents over several epochs,
//! 2-of-3 attestation, claims, refusals counted in manifests, re-verification, paid packets.
//! (Here rather than in `depin-oracle`, which names no module.)

mod bad_input;
mod end_to_end;
mod harness;
mod paid_packets;
