//! Device agents: the software a device runs. An agent holds the device key, signs reports
//! and sends them to an oracle through the typed client; the oracle's reply means the report
//! is durable. One role per resource module:
//!
//! - [`heartbeat`]: a liveness report every interval;
//! - [`coverage`]: LoRaWAN hotspots that beacon and witness, a fleet runner for a hotspots
//!   file, and the radio simulator that decides who hears whom where there are no radios;
//! - [`storage`]: the storage provider (shard files on disk, uploads covered by deals,
//!   paid downloads, a proof per challenged shard each epoch) and the client that stores
//!   and fetches objects.

pub mod clock;
pub mod coverage;
pub mod heartbeat;
pub mod storage;

pub use heartbeat::{AgentStats, HeartbeatAgent};
