//! Ledger components. Each owns the state keys under its prefix and the actions of its kind,
//! and exposes entry points that other components and resource modules call (fee charging,
//! slashing, credit debits).

pub mod bank;
pub mod credits;
pub mod devices;
pub mod escrow;
pub mod rewards;
pub mod staking;

use crate::module::ModuleRegistry;
use crate::state::Overlay;
use depin_types::{ChainParams, PublicKey};

/// What a component needs to know about the transaction being executed.
pub struct TxContext<'p> {
    /// Chain id.
    pub chain_id: &'p str,
    /// Chain parameters in force.
    pub params: &'p ChainParams,
    /// Height of the block being built.
    pub height: u64,
    /// Block time, ms since the Unix epoch.
    pub time_ms: u64,
    /// The transaction signer.
    pub signer: PublicKey,
    /// The chain's resource modules (for the hooks core components call).
    pub modules: &'p ModuleRegistry,
}

impl<'p> TxContext<'p> {
    /// The context of a transaction signed by `signer` in the block `block`.
    pub fn new(
        block: &'p crate::exec::BlockContext,
        params: &'p ChainParams,
        signer: PublicKey,
        modules: &'p ModuleRegistry,
    ) -> TxContext<'p> {
        TxContext {
            chain_id: &block.chain_id,
            params,
            height: block.height,
            time_ms: block.time_ms,
            signer,
            modules,
        }
    }
}

/// The state being written while a transaction executes.
pub type State<'o, 'a> = &'o mut Overlay<'a>;
