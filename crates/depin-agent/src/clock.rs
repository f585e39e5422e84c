//! The chain's epoch clock as agents keep it (from genesis).

/// The chain's epoch clock (genesis time and epoch length), as agents keep it (the coverage
/// fleet's `Schedule` reads its epochs from it too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochClock {
    /// Genesis time, ms.
    pub genesis_time_ms: u64,
    /// Epoch length, ms.
    pub epoch_length_ms: u64,
}

impl EpochClock {
    /// The epoch `time_ms` is in (0 before genesis).
    pub fn epoch_at(&self, time_ms: u64) -> u64 {
        time_ms.saturating_sub(self.genesis_time_ms) / self.epoch_length_ms.max(1)
    }

    /// First ms of `epoch`.
    pub fn start_ms(&self, epoch: u64) -> u64 {
        self.genesis_time_ms
            .saturating_add(epoch.saturating_mul(self.epoch_length_ms))
    }
}
