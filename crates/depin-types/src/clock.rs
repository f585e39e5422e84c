//! Time: the one epoch arithmetic that the ledger, the oracle and the agents share, and the
//! wall clock that processes (node, oracle, agents; never the ledger, which reads block time)
//! read it against. Epoch `e` is the half-open range `[genesis + e·len, genesis + (e+1)·len)`
//! of block and report time, ms.

/// Milliseconds since the Unix epoch by this machine's clock (0 before 1970, `u64::MAX` past
/// 584 million years). For processes only: the ledger is deterministic and reads block time.
pub fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The chain's epoch clock: genesis time and epoch length (genesis `rewards.epoch_length_ms`,
/// at least 1: a genesis with a zero length is refused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochClock {
    /// Genesis time, ms since the Unix epoch.
    pub genesis_time_ms: u64,
    /// Epoch length, ms.
    pub epoch_length_ms: u64,
}

impl EpochClock {
    /// The epoch containing `time_ms`; `None` before genesis.
    pub fn epoch_at(&self, time_ms: u64) -> Option<u64> {
        let since = time_ms.checked_sub(self.genesis_time_ms)?;
        Some(since / self.epoch_length_ms.max(1))
    }

    /// First ms of `epoch`, saturating.
    pub fn start_ms(&self, epoch: u64) -> u64 {
        self.genesis_time_ms
            .saturating_add(epoch.saturating_mul(self.epoch_length_ms))
    }

    /// First ms after `epoch` (its end, exclusive): the start of the next one, saturating.
    pub fn end_ms(&self, epoch: u64) -> u64 {
        self.start_ms(epoch.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_half_open_ranges_from_genesis() {
        let c = EpochClock {
            genesis_time_ms: 1_000,
            epoch_length_ms: 10,
        };
        assert_eq!(c.epoch_at(999), None);
        assert_eq!(c.epoch_at(1_000), Some(0));
        assert_eq!(c.epoch_at(1_009), Some(0));
        assert_eq!(c.epoch_at(1_010), Some(1));
        assert_eq!((c.start_ms(3), c.end_ms(3)), (1_030, 1_040));
        assert_eq!(c.end_ms(u64::MAX), u64::MAX, "saturates");
    }
}
