//! BFT replication on commonware `simplex` (feature `bft`).
//!
//! Data flow for one validator:
//! - commonware's simplex engine runs the protocol (votes, certificates, view changes, its
//!   write-ahead journal) over three authenticated p2p channels and asks this driver, through
//!   [`Mailbox`], to *propose* a payload, *verify* a leader's payload and *broadcast* it; it
//!   reports every activity (certificates, conflicting votes) to the same mailbox.
//! - The payload is a block hash (SHA-256 of the depin block header). Whole blocks travel on a
//!   fourth channel ([`CHANNEL_BLOCKS`]): the leader pushes its proposal to every validator, and
//!   a validator missing a block asks peers for it by hash (with up to [`MAX_SYNC_BLOCKS`] of its
//!   ancestors); answers are accepted only along the hash chain it asked for.
//! - Proposals may build on a parent that is notarized but not yet final, so the [`Chain`]
//!   executes a block on top of the last finalized state *plus* its unfinalized ancestors
//!   ([`tree::BlockTree`] keeps them). `verify` answers only once the block and all its
//!   ancestors are known (commonware's rule: keep a verification pending rather than guess).
//! - A finalization certificate makes its block and all its ancestors final: they are handed
//!   to [`Chain::finalize`] in height order. A restarted validator learns finalizations from
//!   its peers and fetches the blocks it missed, so it catches up the same way.
//! - Conflicting votes reported by simplex become [`Equivocation`] evidence for the chain.
//!
//! Nothing here touches the wall clock directly: time comes from the commonware runtime
//! (deterministic in simulation, tokio in processes).

mod actor;
mod evidence;
pub mod process;
pub mod tree;
mod wire;

pub use actor::{Mailbox, Validator};
#[cfg(feature = "sim")]
pub use evidence::forge_conflicting_notarize;
pub use evidence::verify_equivocation;

use commonware_consensus::simplex;
use depin_types::{Block, Hash32, SignedTransaction};

/// The consensus payload: a block hash.
pub type Digest = commonware_cryptography::sha256::Digest;
/// A validator's identity (ed25519).
pub type ValidatorKey = commonware_cryptography::ed25519::PublicKey;
/// A validator's signing key (ed25519).
pub type ValidatorSecret = commonware_cryptography::ed25519::PrivateKey;
/// The certificate scheme: ed25519 multi-signatures, attributable (so faults are provable).
pub type Scheme = simplex::scheme::ed25519::Scheme;
/// A simplex activity as this driver receives it.
pub type Activity = simplex::types::Activity<Scheme, Digest>;

/// p2p channel of simplex votes.
pub const CHANNEL_VOTES: u64 = 0;
/// p2p channel of simplex certificates.
pub const CHANNEL_CERTIFICATES: u64 = 1;
/// p2p channel of simplex's certificate resolver (fetching missed notarizations).
pub const CHANNEL_RESOLVER: u64 = 2;
/// p2p channel of whole blocks (proposals and fetches).
pub const CHANNEL_BLOCKS: u64 = 3;
/// Most transactions in one gossip message.
pub const MAX_GOSSIP_TXS: usize = 1_000;
/// Most blocks in one fetch answer.
pub const MAX_SYNC_BLOCKS: u16 = 64;
/// Largest p2p message, bytes (a block with its transactions, or a fetch answer).
pub const MAX_MESSAGE_BYTES: u32 = 16 * 1024 * 1024;

/// The digest that stands for a block hash.
pub fn digest_of(hash: Hash32) -> Digest {
    commonware_cryptography::sha256::Digest(hash.0)
}

/// The block hash a digest stands for.
pub fn hash_of(digest: &Digest) -> Hash32 {
    Hash32(digest.0)
}

/// What the BFT driver needs from the node's ledger.
///
/// Unlike the solo [`crate::Application`], a block may extend blocks that are not final yet:
/// `ancestors` are those blocks, oldest first, each extending the previous one and the first
/// extending the last finalized block. Implementations execute them (without making anything
/// durable) and then the block. Calls come from one task, one at a time.
pub trait Chain: Send + 'static {
    /// The chain's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The last finalized block: height, hash, time (ms). Height 0 and [`Hash32::ZERO`] at
    /// genesis, with the genesis time.
    fn finalized(&self) -> (u64, Hash32, u64);

    /// A finalized block by hash, if this node has it (to answer peers' fetches).
    fn finalized_block(&self, hash: &Hash32) -> Option<Block>;

    /// Builds a block on top of `ancestors` stamped `time_ms`, proposed by this validator.
    fn build(&mut self, ancestors: &[Block], time_ms: u64) -> Result<Block, Self::Error>;

    /// Re-executes `block` on top of `ancestors` and checks its roots. An error means the
    /// block is invalid and the validator votes against it.
    fn check(&mut self, ancestors: &[Block], block: &Block) -> Result<(), Self::Error>;

    /// Makes `block` (which extends the last finalized block) final and durable.
    fn finalize(&mut self, block: Block) -> Result<(), Self::Error>;

    /// Evidence that a validator signed conflicting votes (for slashing).
    fn evidence(&mut self, evidence: Equivocation);

    /// Transactions this node admitted since the last call, at most `max`, to send to the
    /// other validators (so a transaction reaches every leader's mempool). None by default.
    fn gossip_out(&mut self, _max: usize) -> Vec<SignedTransaction> {
        Vec::new()
    }

    /// Transactions another validator admitted (to add to this node's mempool).
    fn gossip_in(&mut self, _txs: Vec<SignedTransaction>) {}
}

/// Proof that one validator signed two conflicting votes in one view, as reported by simplex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Equivocation {
    /// The offender's ed25519 key.
    pub validator: [u8; 32],
    /// The view.
    pub view: u64,
    /// `conflicting_notarize`, `conflicting_finalize` or `nullify_finalize`.
    pub kind: &'static str,
    /// The two signed votes, commonware-encoded (verifiable by anyone with the validator set).
    pub proof: Vec<u8>,
}

/// Timing of one validator (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a validator waits for the leader's proposal before voting to skip the view.
    pub leader_timeout_ms: u64,
    /// How long it waits for a notarized view to certify before voting to skip it.
    pub certification_timeout_ms: u64,
    /// How often it repeats its vote to skip while stuck in a view.
    pub timeout_retry_ms: u64,
    /// Least time between a block and its parent: the leader waits this long before proposing.
    pub min_block_interval_ms: u64,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            leader_timeout_ms: 1_000,
            certification_timeout_ms: 2_000,
            timeout_retry_ms: 5_000,
            min_block_interval_ms: 200,
        }
    }
}

/// One validator's configuration.
#[derive(Clone)]
pub struct Config {
    /// Signing namespace: the chain id (votes of one chain never count on another).
    pub namespace: Vec<u8>,
    /// The validator set from genesis.
    pub validators: Vec<ValidatorKey>,
    /// This validator's key (must be in `validators`).
    pub key: ValidatorSecret,
    /// Name of the storage partition holding simplex's journal.
    pub partition: String,
    /// Timeouts and block interval.
    pub timing: Timing,
}

/// Errors of starting a validator.
#[derive(Debug, thiserror::Error)]
pub enum BftError {
    /// The validator set is empty or has a key twice.
    #[error("invalid validator set: {reason}")]
    ValidatorSet {
        /// Why.
        reason: String,
    },
    /// An equivocation proof that does not hold.
    #[error("invalid equivocation evidence: {reason}")]
    Evidence {
        /// Why.
        reason: String,
    },
    /// This node's key is not in the validator set.
    #[error("key {key} is not in the validator set")]
    NotAValidator {
        /// The key, hex.
        key: String,
    },
}
