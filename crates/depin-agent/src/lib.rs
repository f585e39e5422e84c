//! Device agents: the software a device runs. An agent holds the device key, signs reports
//! and sends them to an oracle through the typed client; the oracle's reply means the report
//! is durable. One role per resource module:
//!
//! - [`heartbeat`]: a liveness report every interval;
//! - [`coverage`]: LoRaWAN hotspots that beacon and witness, a fleet runner for a hotspots
//!   file, and the radio simulator that decides who hears whom where there are no radios;
//!
//! The storage provider lives in its module's crate (`depin_module_storage::agent`).

pub mod clock;
pub mod coverage;
pub mod heartbeat;

pub use heartbeat::{AgentStats, HeartbeatAgent};
