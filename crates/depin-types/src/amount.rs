//! Token amounts: `u128` counts of the smallest unit, the *bone*; one token is
//! 10^8 bones (8 decimals, as HNT). All arithmetic is checked; nothing here rounds.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Decimal places of one token.
pub const DECIMALS: u32 = 8;
/// Bones in one whole token (10^8).
pub const BONES_PER_TOKEN: u128 = 100_000_000;

/// Errors from amount arithmetic and parsing.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum AmountError {
    /// A sum or product exceeded `u128::MAX` bones.
    #[error("amount overflow")]
    Overflow,
    /// A difference would be negative.
    #[error("amount underflow: {have} bones minus {take} bones")]
    Underflow {
        /// Left operand in bones.
        have: u128,
        /// Right operand in bones.
        take: u128,
    },
    /// Not a decimal number with at most 8 fractional digits.
    #[error("invalid amount {input:?}: {reason}")]
    Parse {
        /// The rejected input.
        input: String,
        /// Why.
        reason: &'static str,
    },
}

/// A non-negative token amount in bones (10^-8 token).
///
/// JSON and TOML carry it as a decimal string of bones (`"150000000"` is 1.5 tokens) because
/// JSON numbers cannot hold a `u128` exactly. [`Amount::parse_tokens`] and the `Display` impl
/// use whole-token notation (`"1.5"`) for people.
#[derive(
    Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct Amount(pub u128);

impl Amount {
    /// Zero bones.
    pub const ZERO: Amount = Amount(0);

    /// `n` bones.
    pub const fn from_bones(n: u128) -> Amount {
        Amount(n)
    }

    /// `n` whole tokens. Errors: [`AmountError::Overflow`].
    pub fn from_tokens(n: u128) -> Result<Amount, AmountError> {
        n.checked_mul(BONES_PER_TOKEN)
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    /// The count of bones.
    pub const fn bones(self) -> u128 {
        self.0
    }

    /// `self + rhs`. Errors: [`AmountError::Overflow`].
    pub fn checked_add(self, rhs: Amount) -> Result<Amount, AmountError> {
        self.0
            .checked_add(rhs.0)
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    /// `self - rhs`. Errors: [`AmountError::Underflow`].
    pub fn checked_sub(self, rhs: Amount) -> Result<Amount, AmountError> {
        self.0
            .checked_sub(rhs.0)
            .map(Amount)
            .ok_or(AmountError::Underflow {
                have: self.0,
                take: rhs.0,
            })
    }

    /// `self × n`. Errors: [`AmountError::Overflow`].
    pub fn checked_mul(self, n: u128) -> Result<Amount, AmountError> {
        self.0
            .checked_mul(n)
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    /// Parses whole-token notation such as `"12"`, `"0.5"` or `"1.00000001"` (at most 8
    /// fractional digits; no sign, no exponent).
    pub fn parse_tokens(s: &str) -> Result<Amount, AmountError> {
        let err = |reason| AmountError::Parse {
            input: s.to_string(),
            reason,
        };
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(err("empty"));
        }
        if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
            return Err(err("only digits and one '.' are allowed"));
        }
        if frac.len() > DECIMALS as usize {
            return Err(err("more than 8 decimal places"));
        }
        let int_v: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| err("too large"))?
        };
        let frac_padded = format!("{frac:0<8}");
        let frac_v: u128 = frac_padded.parse().map_err(|_| err("bad fraction"))?;
        let whole = Amount::from_tokens(int_v).map_err(|_| err("too large"))?;
        whole
            .checked_add(Amount(frac_v))
            .map_err(|_| err("too large"))
    }
}

impl fmt::Display for Amount {
    /// Whole-token notation with trailing zeros trimmed: `1.5`, `0.00000001`, `12`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.0 / BONES_PER_TOKEN;
        let frac = self.0 % BONES_PER_TOKEN;
        if frac == 0 {
            return write!(f, "{int}");
        }
        let frac_s = format!("{frac:08}");
        write!(f, "{int}.{}", frac_s.trim_end_matches('0'))
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bones", self.0)
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    /// Parses a count of bones (the JSON form). Use [`Amount::parse_tokens`] for `"1.5"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<u128>()
            .map(Amount)
            .map_err(|_| AmountError::Parse {
                input: s.to_string(),
                reason: "not a count of bones",
            })
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_notation_round_trips() {
        for s in ["0", "1", "1.5", "0.00000001", "123456789.12345678"] {
            assert_eq!(Amount::parse_tokens(s).unwrap().to_string(), s);
        }
        assert_eq!(Amount::parse_tokens("1.5").unwrap().bones(), 150_000_000);
        assert_eq!(Amount::parse_tokens(".5").unwrap().bones(), 50_000_000);
    }

    #[test]
    fn bad_token_notation_is_refused_with_a_reason() {
        for s in [
            "",
            ".",
            "-1",
            "1e5",
            "1.000000001",
            "1,5",
            "999999999999999999999999999999999999999",
        ] {
            assert!(Amount::parse_tokens(s).is_err(), "{s} accepted");
        }
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(
            Amount(u128::MAX).checked_add(Amount(1)),
            Err(AmountError::Overflow)
        );
        assert!(matches!(
            Amount(1).checked_sub(Amount(2)),
            Err(AmountError::Underflow { .. })
        ));
        assert_eq!(Amount(2).checked_mul(3), Ok(Amount(6)));
    }

    #[test]
    fn json_form_is_a_string_of_bones() {
        let j = serde_json::to_string(&Amount(u128::MAX)).unwrap();
        assert_eq!(j, format!("\"{}\"", u128::MAX));
        assert_eq!(
            serde_json::from_str::<Amount>(&j).unwrap(),
            Amount(u128::MAX)
        );
    }
}
