//! An epoch's verdicts, one byte per report: a Helium-scale epoch holds ten million of them,
//! and a [`Verdict`] is 24 bytes where its code in a table of the epoch's reasons is one.

use crate::Verdict;
use borsh::{BorshDeserialize, BorshSerialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io;

/// Distinct reason codes one [`Verdicts`] holds; any further reason is recorded as
/// [`TOO_MANY_REASONS`]. A module has a few dozen at most.
pub const MAX_REASONS: usize = 254;

/// Reason code recorded in place of a reason beyond [`MAX_REASONS`] (a module bug, not a
/// property of the input).
pub const TOO_MANY_REASONS: &str = "too_many_reasons";

/// One verdict per report, in report order, compact: `codes[i]` is 0 for a valid report and
/// `k` for the reason `reasons[k − 1]`. Reasons are kept in order of first use.
///
/// Borsh: `codes` (u32 length + bytes), then `reasons` (u32 length + strings); decoding
/// refuses a code with no reason, more than [`MAX_REASONS`] + 1 reasons and a repeated reason.
///
/// Two tables are equal when their verdicts are, whatever the order of their reasons.
#[derive(Clone, Debug, Default, BorshSerialize)]
pub struct Verdicts {
    codes: Vec<u8>,
    reasons: Vec<Cow<'static, str>>,
}

impl Verdicts {
    /// No verdicts yet, with room for `reports`.
    pub fn with_capacity(reports: usize) -> Verdicts {
        Verdicts {
            codes: Vec::with_capacity(reports),
            reasons: Vec::new(),
        }
    }

    /// `n` verdicts, each `v`.
    pub fn filled(n: usize, v: &Verdict) -> Verdicts {
        let mut out = Verdicts::default();
        let code = out.code_of(v);
        out.codes = vec![code; n];
        out
    }

    /// Number of verdicts.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Appends `v`.
    pub fn push(&mut self, v: &Verdict) {
        let code = self.code_of(v);
        self.codes.push(code);
    }

    /// Replaces verdict `i` with `v`. Panics if `i ≥ len()` (a caller's index bug).
    pub fn set(&mut self, i: usize, v: &Verdict) {
        let code = self.code_of(v);
        self.codes[i] = code;
    }

    /// Appends verdict `i` of `other`; nothing if `i` is past its end.
    pub fn push_from(&mut self, other: &Verdicts, i: usize) {
        if let Some(&c) = other.codes.get(i) {
            let code = match c {
                0 => 0,
                c => self.code_of_reason(&other.reasons[usize::from(c) - 1]),
            };
            self.codes.push(code);
        }
    }

    /// Verdict `i`, `None` past the end.
    pub fn get(&self, i: usize) -> Option<Verdict> {
        self.codes.get(i).map(|&c| self.verdict(c))
    }

    /// The reason code of verdict `i` (`valid` for a valid one), `None` past the end.
    pub fn code(&self, i: usize) -> Option<&str> {
        self.codes.get(i).map(|&c| self.name(c))
    }

    /// Whether verdict `i` is valid (`false` past the end).
    pub fn is_valid(&self, i: usize) -> bool {
        self.codes.get(i) == Some(&0)
    }

    /// The verdicts in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Verdict> + '_ {
        self.codes.iter().map(|&c| self.verdict(c))
    }

    /// How many verdicts each reason has (`valid` for valid ones), sorted by code.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut by_code = [0u64; MAX_REASONS + 2];
        for &c in &self.codes {
            by_code[usize::from(c)] += 1;
        }
        let mut out = BTreeMap::new();
        for (c, n) in by_code.iter().enumerate().filter(|(_, n)| **n > 0) {
            let code = u8::try_from(c).expect("codes are bytes");
            *out.entry(self.name(code).to_string()).or_insert(0) += n;
        }
        out
    }

    fn verdict(&self, code: u8) -> Verdict {
        match code {
            0 => Verdict::Valid,
            c => Verdict::Invalid(self.reasons[usize::from(c) - 1].clone()),
        }
    }

    fn name(&self, code: u8) -> &str {
        match code {
            0 => "valid",
            c => &self.reasons[usize::from(c) - 1],
        }
    }

    /// The byte of `v`, adding its reason to the table on first use.
    fn code_of(&mut self, v: &Verdict) -> u8 {
        match v {
            Verdict::Valid => 0,
            Verdict::Invalid(reason) => self.code_of_reason(reason),
        }
    }

    // The `Cow` is cloned into the table: a static reason stays borrowed, not copied.
    #[allow(clippy::ptr_arg)]
    fn code_of_reason(&mut self, reason: &Cow<'static, str>) -> u8 {
        if let Some(k) = self.reasons.iter().position(|r| same(r, reason)) {
            return byte(k + 1);
        }
        if self.reasons.len() < MAX_REASONS {
            self.reasons.push(reason.clone());
            return byte(self.reasons.len());
        }
        let full = Cow::Borrowed(TOO_MANY_REASONS);
        match self.reasons.iter().position(|r| same(r, &full)) {
            Some(k) => byte(k + 1),
            None => {
                self.reasons.push(full);
                byte(self.reasons.len())
            }
        }
    }
}

/// Equal reasons; the same static string is recognised by its address first.
fn same(a: &str, b: &str) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}

fn byte(code: usize) -> u8 {
    u8::try_from(code).expect("at most MAX_REASONS + 1 reasons")
}

impl PartialEq for Verdicts {
    fn eq(&self, other: &Verdicts) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Verdicts {}

impl FromIterator<Verdict> for Verdicts {
    fn from_iter<I: IntoIterator<Item = Verdict>>(iter: I) -> Verdicts {
        let mut out = Verdicts::default();
        for v in iter {
            out.push(&v);
        }
        out
    }
}

impl BorshDeserialize for Verdicts {
    fn deserialize_reader<R: io::Read>(reader: &mut R) -> io::Result<Verdicts> {
        let codes = Vec::<u8>::deserialize_reader(reader)?;
        let reasons = Vec::<String>::deserialize_reader(reader)?;
        let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
        if reasons.len() > MAX_REASONS + 1 {
            return Err(bad("verdicts: more reasons than MAX_REASONS + 1"));
        }
        let distinct: std::collections::BTreeSet<&String> = reasons.iter().collect();
        if distinct.len() != reasons.len() {
            return Err(bad("verdicts: a reason appears twice"));
        }
        if codes.iter().any(|&c| usize::from(c) > reasons.len()) {
            return Err(bad("verdicts: a code has no reason"));
        }
        let reasons = reasons.into_iter().map(Cow::Owned).collect();
        Ok(Verdicts { codes, reasons })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Verdict> {
        vec![
            Verdict::Valid,
            Verdict::invalid("late"),
            Verdict::Invalid("late".to_string().into()),
            Verdict::invalid("self_witness"),
            Verdict::Valid,
        ]
    }

    #[test]
    fn verdicts_give_back_what_was_pushed_and_count_by_reason() {
        let v: Verdicts = sample().into_iter().collect();
        assert_eq!(v.iter().collect::<Vec<_>>(), sample());
        assert_eq!(v.code(1), Some("late"));
        assert_eq!(v.code(5), None);
        assert!(v.is_valid(4) && !v.is_valid(3) && !v.is_valid(9));
        let counts: Vec<(String, u64)> = v.counts().into_iter().collect();
        let want = [("late", 2), ("self_witness", 1), ("valid", 2)];
        assert_eq!(counts, want.map(|(c, n)| (c.to_string(), n)));
    }

    #[test]
    fn set_replaces_one_verdict() {
        let mut v = Verdicts::filled(3, &Verdict::invalid("invalid_packet"));
        v.set(1, &Verdict::Valid);
        v.set(2, &Verdict::invalid("late"));
        let codes: Vec<_> = (0..3).map(|i| v.code(i).unwrap().to_string()).collect();
        assert_eq!(codes, ["invalid_packet", "valid", "late"]);
    }

    #[test]
    fn borsh_round_trips_and_refuses_a_code_without_a_reason() {
        let v: Verdicts = sample().into_iter().collect();
        let bytes = borsh::to_vec(&v).unwrap();
        assert_eq!(Verdicts::try_from_slice(&bytes).unwrap(), v);
        let mut bad = bytes.clone();
        bad[4 + 1] = 9; // the second code names reason 9 of 2
        assert!(Verdicts::try_from_slice(&bad).is_err());
    }

    #[test]
    fn reasons_beyond_the_table_become_too_many_reasons() {
        let mut v = Verdicts::default();
        for k in 0..MAX_REASONS + 5 {
            v.push(&Verdict::Invalid(format!("r{k}").into()));
        }
        assert_eq!(
            v.code(MAX_REASONS - 1),
            Some(format!("r{}", MAX_REASONS - 1).as_str())
        );
        assert_eq!(v.code(MAX_REASONS), Some(TOO_MANY_REASONS));
        assert_eq!(v.code(MAX_REASONS + 4), Some(TOO_MANY_REASONS));
        assert_eq!(v.counts()[TOO_MANY_REASONS], 5);
        let bytes = borsh::to_vec(&v).unwrap();
        assert_eq!(Verdicts::try_from_slice(&bytes).unwrap(), v);
    }
}
