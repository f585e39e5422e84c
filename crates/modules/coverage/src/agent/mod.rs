//! The coverage agents: hotspots that beacon and witness (`coverage` module), the fleet
//! runner that starts one hotspot per entry of a hotspots file, and the radio simulator that
//! decides who hears whom (feature `agent`).

pub mod city;
pub mod fleet;
pub mod hotspot;
pub mod onboard;
pub mod radio;

pub use fleet::{Fleet, Schedule, Traffic};
pub use hotspot::HotspotAgent;
pub use onboard::{read_hotspots, HotspotEntry, Onboarder};
pub use radio::{RadioParams, RadioSim};

use depin_client::ClientError;

/// Default antenna of hotspots whose file gives none: 1.2 dBi (Helium's default gain),
/// 5 m above ground.
pub const DEFAULT_ANTENNA: depin_types::Antenna = depin_types::Antenna {
    gain_ddbi: 12,
    elevation_m: 5,
};

/// Errors of the coverage agents.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Input that does not parse.
    #[error("malformed input: {reason}")]
    Malformed {
        /// Why.
        reason: String,
    },
    /// The node or oracle failed or refused.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Radio settings out of range.
    #[error(transparent)]
    Radio(#[from] radio::RadioError),
    /// An onboarding that passed simulation failed at submission or execution.
    #[error("onboarding of entry {index} failed: {reason}")]
    Onboarding {
        /// Entry index.
        index: usize,
        /// Why.
        reason: String,
    },
    /// The chain did not reach an epoch's start in time.
    #[error("no block at or after {start_ms} ms: the chain is not producing")]
    NoEntropy {
        /// Epoch start, ms.
        start_ms: u64,
    },
}
