//! `bank`: accounts (balance and nonce), transfers, fees and the supply record.
//!
//! Keys: `bank/acct/<32-byte key>` → [`Account`]; `bank/supply` → [`Supply`].

use crate::components::TxContext;
use crate::error::{ReasonCode, StateError};
use crate::state::{get, Overlay, StateRead};
use borsh::{BorshDeserialize, BorshSerialize};
use depin_types::{Amount, FeePolicy, PublicKey};
use serde::{Deserialize, Serialize};

/// Key prefix of accounts.
pub const ACCOUNT_PREFIX: &[u8] = b"bank/acct/";
/// Key of the supply record.
pub const SUPPLY_KEY: &[u8] = b"bank/supply";

/// An account. A key never seen has the default: zero balance, nonce 0.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Account {
    /// Spendable bones.
    pub balance: Amount,
    /// The nonce the next transaction from this account must carry.
    pub nonce: u64,
}

/// Supply bookkeeping. Invariant after every block (checked by [`crate::audit_supply`]):
/// `genesis + minted − burned = Σ balances + Σ bonded + Σ unbonding + unclaimed rewards`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Supply {
    /// Bones allocated at genesis.
    pub genesis: Amount,
    /// Bones minted since (epoch rewards, when their roots take effect).
    pub minted: Amount,
    /// Bones destroyed since (burned fees, onboarding and location fees, credit burns, slashes).
    pub burned: Amount,
}

impl Supply {
    /// `genesis + minted − burned`: the bones that must exist somewhere.
    pub fn outstanding(&self) -> Result<Amount, StateError> {
        self.genesis
            .checked_add(self.minted)
            .and_then(|s| s.checked_sub(self.burned))
            .map_err(|e| StateError {
                message: format!("supply record inconsistent: {e}"),
            })
    }
}

/// Errors of the `bank` component.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum BankError {
    /// Balance too small for the amount plus what the transaction already spent.
    #[error("insufficient funds: balance {balance} bones, needed {needed} bones")]
    InsufficientFunds {
        /// Balance in bones.
        balance: u128,
        /// Bones needed.
        needed: u128,
    },
    /// The nonce was already used (a replay or a duplicate).
    #[error("nonce {got} already used; next nonce is {expected}")]
    NonceTooLow {
        /// Next valid nonce.
        expected: u64,
        /// Nonce given.
        got: u64,
    },
    /// The nonce skips ahead.
    #[error("nonce {got} is ahead of the next nonce {expected}")]
    NonceTooHigh {
        /// Next valid nonce.
        expected: u64,
        /// Nonce given.
        got: u64,
    },
    /// A credit to an account would overflow `u128`.
    #[error("balance overflow")]
    BalanceOverflow,
}

impl ReasonCode for BankError {
    fn code(&self) -> &'static str {
        match self {
            BankError::InsufficientFunds { .. } => "insufficient_funds",
            BankError::NonceTooLow { .. } => "nonce_too_low",
            BankError::NonceTooHigh { .. } => "nonce_too_high",
            BankError::BalanceOverflow => "balance_overflow",
        }
    }
}

/// The state key of `who`'s account.
pub fn account_key(who: &PublicKey) -> Vec<u8> {
    [ACCOUNT_PREFIX, &who.0].concat()
}

/// Reads an account (default if never seen).
pub fn account(s: &impl StateRead, who: &PublicKey) -> Result<Account, StateError> {
    Ok(get(s, &account_key(who))?.unwrap_or_default())
}

/// Reads the supply record.
pub fn supply(s: &impl StateRead) -> Result<Supply, StateError> {
    Ok(get(s, SUPPLY_KEY)?.unwrap_or_default())
}

fn put_account(s: &mut Overlay<'_>, who: &PublicKey, a: &Account) {
    s.put(account_key(who), a);
}

/// Takes `amount` from `who`'s balance. Entry point for other components.
///
/// Errors: [`BankError::InsufficientFunds`].
pub fn debit(s: &mut Overlay<'_>, who: &PublicKey, amount: Amount) -> Result<(), crate::TxError> {
    let mut a = account(s, who)?;
    a.balance = a
        .balance
        .checked_sub(amount)
        .map_err(|_| BankError::InsufficientFunds {
            balance: a.balance.bones(),
            needed: amount.bones(),
        })?;
    put_account(s, who, &a);
    Ok(())
}

/// Adds `amount` to `who`'s balance. Entry point for other components.
///
/// Errors: [`BankError::BalanceOverflow`].
pub fn credit(s: &mut Overlay<'_>, who: &PublicKey, amount: Amount) -> Result<(), crate::TxError> {
    let mut a = account(s, who)?;
    a.balance = a
        .balance
        .checked_add(amount)
        .map_err(|_| BankError::BalanceOverflow)?;
    put_account(s, who, &a);
    Ok(())
}

/// Takes `amount` from `who` and destroys it (recorded in `Supply::burned`).
pub fn burn_from(
    s: &mut Overlay<'_>,
    who: &PublicKey,
    amount: Amount,
) -> Result<(), crate::TxError> {
    debit(s, who, amount)?;
    record_burn(s, amount)
}

/// Records `amount` bones destroyed that were already taken out of circulation (e.g. slashed
/// stake).
pub fn record_burn(s: &mut Overlay<'_>, amount: Amount) -> Result<(), crate::TxError> {
    add_to_supply(s, amount, |sup| &mut sup.burned)
}

/// Records `amount` bones newly minted (epoch rewards), to be held somewhere on the right-hand
/// side of the supply equation by the caller.
pub fn record_mint(s: &mut Overlay<'_>, amount: Amount) -> Result<(), crate::TxError> {
    add_to_supply(s, amount, |sup| &mut sup.minted)
}

/// Adds `amount` to one counter of the supply record.
fn add_to_supply(
    s: &mut Overlay<'_>,
    amount: Amount,
    counter: impl FnOnce(&mut Supply) -> &mut Amount,
) -> Result<(), crate::TxError> {
    let mut sup = supply(s)?;
    let c = counter(&mut sup);
    *c = c
        .checked_add(amount)
        .map_err(|_| BankError::BalanceOverflow)?;
    s.put(SUPPLY_KEY.to_vec(), &sup);
    Ok(())
}

/// The ante phase of every transaction: checks the nonce and that the balance covers the fee,
/// then takes the fee, bumps the nonce, and burns the fee or pays it to the proposer.
///
/// Errors: [`BankError::NonceTooLow`], [`BankError::NonceTooHigh`],
/// [`BankError::InsufficientFunds`]. On error nothing was written.
pub fn charge_fee_and_nonce(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    nonce: u64,
    fee: Amount,
    proposer: &PublicKey,
) -> Result<(), crate::TxError> {
    let mut a = account(s, &ctx.signer)?;
    if nonce < a.nonce {
        return Err(BankError::NonceTooLow {
            expected: a.nonce,
            got: nonce,
        }
        .into());
    }
    if nonce > a.nonce {
        return Err(BankError::NonceTooHigh {
            expected: a.nonce,
            got: nonce,
        }
        .into());
    }
    a.balance = a
        .balance
        .checked_sub(fee)
        .map_err(|_| BankError::InsufficientFunds {
            balance: a.balance.bones(),
            needed: fee.bones(),
        })?;
    a.nonce = a
        .nonce
        .checked_add(1)
        .expect("a nonce cannot reach u64::MAX");
    put_account(s, &ctx.signer, &a);
    match ctx.params.fee_policy {
        FeePolicy::Burn => record_burn(s, fee),
        FeePolicy::Producer => credit(s, proposer, fee),
    }
}

/// Stateful check of a transfer: the signer (after the fee) holds `amount`.
pub fn check_transfer(
    s: &impl StateRead,
    ctx: &TxContext<'_>,
    amount: Amount,
) -> Result<(), crate::TxError> {
    let a = account(s, &ctx.signer)?;
    if a.balance < amount {
        return Err(BankError::InsufficientFunds {
            balance: a.balance.bones(),
            needed: amount.bones(),
        }
        .into());
    }
    Ok(())
}

/// Executes a transfer of `amount` from the signer to `to`.
pub fn execute_transfer(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    to: &PublicKey,
    amount: Amount,
) -> Result<(), crate::TxError> {
    debit(s, &ctx.signer, amount)?;
    credit(s, to, amount)
}
