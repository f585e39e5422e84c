//! The consensus driver seam.
//!
//! A driver decides *when* a block is proposed and *when* it is final; the node's
//! [`Application`] decides *what* is in it (mempool, ledger, storage). The solo driver (here)
//! has one producer that proposes on a timer and finalizes at once. The BFT driver (a later
//! cargo feature, commonware `simplex`) will call the same [`Application`] methods: `propose`
//! on the leader, `verify` on every validator, `finalize` once a block is notarized and
//! finalized — possibly twice for the same height, which `finalize` must tolerate.
//!
//! This crate never touches tokio or the clock: callers pass the time in.

#[cfg(feature = "bft")]
pub mod bft;

use depin_types::{Block, Hash32};

/// What a driver needs from the node.
pub trait Application {
    /// The application's error.
    type Error: std::error::Error;

    /// The height and hash of the last finalized block (height 0 and [`Hash32::ZERO`] at
    /// genesis).
    fn last_finalized(&self) -> Result<(u64, Hash32), Self::Error>;

    /// Builds a proposal extending the last finalized block, stamped `time_ms`.
    fn propose(&mut self, time_ms: u64) -> Result<Block, Self::Error>;

    /// Re-executes someone else's proposal and checks its state root.
    fn verify(&mut self, block: &Block) -> Result<(), Self::Error>;

    /// Makes `block` final and durable. Idempotent by height: finalizing a height that is
    /// already final is a no-op if the hash matches and an error otherwise.
    fn finalize(&mut self, block: Block) -> Result<(), Self::Error>;
}

/// What one driver step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A block was finalized.
    Finalized {
        /// Its height.
        height: u64,
        /// Its hash.
        hash: Hash32,
        /// Its transaction count.
        tx_count: u32,
    },
}

/// A consensus driver.
pub trait Driver {
    /// Advances consensus once at wall-clock `now_ms` (ms since the Unix epoch).
    fn step<A: Application>(&mut self, app: &mut A, now_ms: u64) -> Result<Step, A::Error>;
}

/// One validator: propose, then finalize at once. Block time never goes backwards: a block is
/// stamped `max(now_ms, parent time)`.
#[derive(Debug, Default)]
pub struct SoloDriver {
    last_time_ms: u64,
}

impl SoloDriver {
    /// A solo driver whose chain's last block (or genesis) has time `last_time_ms`.
    pub fn new(last_time_ms: u64) -> SoloDriver {
        SoloDriver { last_time_ms }
    }
}

impl Driver for SoloDriver {
    fn step<A: Application>(&mut self, app: &mut A, now_ms: u64) -> Result<Step, A::Error> {
        let time_ms = now_ms.max(self.last_time_ms);
        let block = app.propose(time_ms)?;
        assert_eq!(
            block.header.time_ms, time_ms,
            "the application must use the driver's time"
        );
        let step = Step::Finalized {
            height: block.header.height,
            hash: block.header.hash(),
            tx_count: block.header.tx_count,
        };
        app.finalize(block)?;
        self.last_time_ms = time_ms;
        Ok(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_types::{BlockHeader, PublicKey};

    #[derive(Default)]
    struct Counter {
        blocks: Vec<Block>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("never")]
    struct Never;

    impl Application for Counter {
        type Error = Never;
        fn last_finalized(&self) -> Result<(u64, Hash32), Never> {
            Ok(self
                .blocks
                .last()
                .map_or((0, Hash32::ZERO), |b| (b.header.height, b.header.hash())))
        }
        fn propose(&mut self, time_ms: u64) -> Result<Block, Never> {
            let (h, parent) = self.last_finalized()?;
            let header = BlockHeader {
                chain_id: "t".into(),
                height: h + 1,
                time_ms,
                parent_hash: parent,
                proposer: PublicKey([0; 32]),
                tx_root: Hash32::ZERO,
                state_root: Hash32::ZERO,
                tx_count: 0,
            };
            Ok(Block {
                header,
                txs: vec![],
            })
        }
        fn verify(&mut self, _: &Block) -> Result<(), Never> {
            Ok(())
        }
        fn finalize(&mut self, block: Block) -> Result<(), Never> {
            self.blocks.push(block);
            Ok(())
        }
    }

    #[test]
    fn solo_blocks_chain_and_time_never_goes_backwards() {
        let mut app = Counter::default();
        let mut d = SoloDriver::new(100);
        d.step(&mut app, 50).unwrap();
        d.step(&mut app, 200).unwrap();
        d.step(&mut app, 150).unwrap();
        let times: Vec<u64> = app.blocks.iter().map(|b| b.header.time_ms).collect();
        assert_eq!(times, vec![100, 200, 200]);
        assert_eq!(
            app.blocks[1].header.parent_hash,
            app.blocks[0].header.hash()
        );
    }
}
