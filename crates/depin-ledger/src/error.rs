//! Errors with stable reason codes. A reason code is part of the API: clients match on it, so
//! a code, once released, never changes meaning.

use crate::components::escrow::EscrowError;
use crate::components::rewards::RewardsError;
use crate::components::staking::StakingError;
use crate::components::{bank::BankError, credits::CreditsError, devices::DevicesError};
use crate::module::ModuleError;

/// Something with a stable, machine-readable reason code (`snake_case`).
pub trait ReasonCode {
    /// The code, e.g. `insufficient_funds`.
    fn code(&self) -> &'static str;
}

/// The storage behind the ledger failed. Never caused by a transaction; a block that meets one
/// is abandoned whole.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("state storage failed: {message}")]
pub struct StateError {
    /// What the backend said.
    pub message: String,
}

/// Checks every transaction passes before any component sees it.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StatelessError {
    /// The transaction names another chain.
    #[error("transaction is for chain {got:?}, this is {expected:?}")]
    WrongChainId {
        /// This chain.
        expected: String,
        /// The transaction's chain.
        got: String,
    },
    /// Encoded size over the chain's `max_tx_bytes`.
    #[error("transaction is {size_bytes} bytes, limit {limit_bytes}")]
    TooLarge {
        /// Encoded size.
        size_bytes: usize,
        /// The limit.
        limit_bytes: u32,
    },
    /// Fee below `min_fee_bones`.
    #[error("fee {fee} bones is below the minimum {min} bones")]
    FeeTooLow {
        /// Offered fee.
        fee: u128,
        /// Minimum fee.
        min: u128,
    },
    /// Amount plus fee does not fit in `u128`.
    #[error("amount plus fee overflows")]
    AmountOverflow,
    /// A zero amount where a positive one is required.
    #[error("amount must be positive")]
    ZeroAmount,
    /// The signer's signature does not verify.
    #[error("signature does not verify for signer {signer}")]
    InvalidSignature {
        /// The signer key (hex).
        signer: String,
    },
    /// The device's proof of possession does not verify.
    #[error("device proof of possession does not verify")]
    InvalidDeviceSignature,
    /// The maker's approval does not verify.
    #[error("maker approval does not verify")]
    InvalidMakerSignature,
    /// A class name that cannot exist.
    #[error("device class name must be 1 to 32 bytes")]
    InvalidClassName,
    /// A module action for a module this chain does not run.
    #[error("no module {module:?} on this chain")]
    UnknownModule {
        /// The module named.
        module: String,
    },
    /// A module action whose body the module refuses (its reason code, e.g. a body that does
    /// not decode).
    #[error(transparent)]
    Module(ModuleError),
}

impl ReasonCode for StatelessError {
    fn code(&self) -> &'static str {
        match self {
            StatelessError::WrongChainId { .. } => "wrong_chain_id",
            StatelessError::TooLarge { .. } => "tx_too_large",
            StatelessError::FeeTooLow { .. } => "fee_too_low",
            StatelessError::AmountOverflow => "amount_overflow",
            StatelessError::ZeroAmount => "zero_amount",
            StatelessError::InvalidSignature { .. } => "invalid_signature",
            StatelessError::InvalidDeviceSignature => "invalid_device_signature",
            StatelessError::InvalidMakerSignature => "invalid_maker_signature",
            StatelessError::InvalidClassName => "invalid_class_name",
            StatelessError::UnknownModule { .. } => "unknown_module",
            StatelessError::Module(e) => e.code(),
        }
    }
}

/// Why a transaction was refused or failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TxError {
    /// Failed a stateless check.
    #[error(transparent)]
    Stateless(#[from] StatelessError),
    /// Failed in the `bank` component (including fee and nonce checks).
    #[error(transparent)]
    Bank(#[from] BankError),
    /// Failed in the `devices` component.
    #[error(transparent)]
    Devices(#[from] DevicesError),
    /// Failed in the `staking` component.
    #[error(transparent)]
    Staking(#[from] StakingError),
    /// Failed in the `credits` component.
    #[error(transparent)]
    Credits(#[from] CreditsError),
    /// Failed in the `rewards` component.
    #[error(transparent)]
    Rewards(#[from] RewardsError),
    /// Failed in the `escrow` component.
    #[error(transparent)]
    Escrow(#[from] EscrowError),
    /// Failed in a resource module's ledger component (its own reason code).
    #[error(transparent)]
    Module(#[from] ModuleError),
    /// The state store failed; not the transaction's fault.
    #[error(transparent)]
    State(#[from] StateError),
}

impl ReasonCode for TxError {
    fn code(&self) -> &'static str {
        match self {
            TxError::Stateless(e) => e.code(),
            TxError::Bank(e) => e.code(),
            TxError::Devices(e) => e.code(),
            TxError::Staking(e) => e.code(),
            TxError::Credits(e) => e.code(),
            TxError::Rewards(e) => e.code(),
            TxError::Escrow(e) => e.code(),
            TxError::Module(e) => e.code(),
            TxError::State(_) => "internal_storage_error",
        }
    }
}
