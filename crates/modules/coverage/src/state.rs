//! HIP-106 reciprocity state, carried from one epoch to the next: when each hotspot last
//! sent a valid witness, and when it last sent a valid beacon that was witnessed. A beacon
//! counts only if its beaconer witnessed someone within the window before it; a witness
//! counts only if its hotspot beaconed (and was heard) within the window before it.
//! helium/oracles `last_witness`, `last_beacon_reciprocity`.

use borsh::{BorshDeserialize, BorshSerialize};
use depin_types::PublicKey;

use crate::Lookup;

/// Format version of the carried bytes.
const VERSION: u8 = 1;

/// Whether a time `last_ms` (0 for never) is less than `window_ms` before `at_ms`.
pub fn within(last_ms: u64, at_ms: u64, window_ms: u64) -> bool {
    last_ms > 0 && at_ms.saturating_sub(last_ms) < window_ms
}

/// Per hotspot: `(last valid witness ms, last witnessed valid beacon ms)`, 0 for never.
/// A hash map (an epoch updates it once per witness); borsh encodes it sorted by key, so the
/// carried bytes do not depend on its iteration order.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Reciprocity {
    last: Lookup<PublicKey, (u64, u64)>,
}

impl Reciprocity {
    /// Decodes carried bytes; empty or unreadable bytes are an empty state (the first epoch,
    /// or a carry of another version: reciprocity then restarts, it never fabricates history).
    pub fn decode(bytes: &[u8]) -> Reciprocity {
        match bytes.split_first() {
            Some((&VERSION, rest)) => Reciprocity::try_from_slice(rest).unwrap_or_default(),
            _ => Reciprocity::default(),
        }
    }

    /// Encodes for the next epoch.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        BorshSerialize::serialize(self, &mut out).expect("writing to a Vec cannot fail");
        out
    }

    /// Records a valid witness by `hotspot` at `at_ms`.
    pub fn witnessed(&mut self, hotspot: PublicKey, at_ms: u64) {
        let e = self.last.entry(hotspot).or_insert((0, 0));
        e.0 = e.0.max(at_ms);
    }

    /// Records a valid, witnessed beacon by `hotspot` at `at_ms`.
    pub fn beaconed(&mut self, hotspot: PublicKey, at_ms: u64) {
        let e = self.last.entry(hotspot).or_insert((0, 0));
        e.1 = e.1.max(at_ms);
    }

    /// Whether `hotspot` witnessed validly less than `window_ms` before `at_ms`.
    pub fn has_witnessed_since(&self, hotspot: &PublicKey, at_ms: u64, window_ms: u64) -> bool {
        self.last
            .get(hotspot)
            .is_some_and(|(w, _)| within(*w, at_ms, window_ms))
    }

    /// Whether `hotspot` beaconed (witnessed) less than `window_ms` before `at_ms`.
    pub fn has_beaconed_since(&self, hotspot: &PublicKey, at_ms: u64, window_ms: u64) -> bool {
        self.last
            .get(hotspot)
            .is_some_and(|(_, b)| within(*b, at_ms, window_ms))
    }

    /// The `(last witness ms, last beacon ms)` of each of `keys`, `(0, 0)` for never: an
    /// epoch works on these by reporter index and puts them back ([`Reciprocity::put`]).
    pub fn take(&self, keys: &[PublicKey]) -> Vec<(u64, u64)> {
        keys.iter()
            .map(|k| self.last.get(k).copied().unwrap_or((0, 0)))
            .collect()
    }

    /// Puts back the times [`Reciprocity::take`] gave for `keys`, as the epoch left them
    /// (times only grow; a `(0, 0)` is never stored).
    pub fn put(&mut self, keys: &[PublicKey], times: &[(u64, u64)]) {
        assert_eq!(keys.len(), times.len(), "one pair of times per key");
        for (k, t) in keys.iter().zip(times).filter(|(_, t)| **t != (0, 0)) {
            self.last.insert(*k, *t);
        }
    }

    /// Drops hotspots whose both times are a full window before `now_ms` (they can no longer
    /// satisfy a check), which bounds the carried state by the recently active hotspots.
    pub fn pruned(mut self, now_ms: u64, window_ms: u64) -> Reciprocity {
        let horizon = now_ms.saturating_sub(window_ms);
        self.last.retain(|_, (w, b)| (*w).max(*b) > horizon);
        self
    }

    /// Hotspots tracked.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// Whether no hotspot is tracked.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_witness_counts_for_the_window_then_expires() {
        let k = PublicKey([1; 32]);
        let mut s = Reciprocity::default();
        assert!(!s.has_witnessed_since(&k, 10, 100));
        s.witnessed(k, 10);
        assert!(s.has_witnessed_since(&k, 109, 100));
        assert!(!s.has_witnessed_since(&k, 110, 100));
        assert!(!s.has_beaconed_since(&k, 20, 100));
        let back = Reciprocity::decode(&s.encode());
        assert_eq!(back, s);
        assert!(back.pruned(1_000, 100).is_empty());
        assert_eq!(Reciprocity::decode(b"garbage"), Reciprocity::default());
    }

    #[test]
    fn times_taken_by_index_come_back_and_never_store_a_never() {
        let (a, b, c) = (PublicKey([1; 32]), PublicKey([2; 32]), PublicKey([3; 32]));
        let mut s = Reciprocity::default();
        s.witnessed(a, 10);
        let mut times = s.take(&[a, b, c]);
        assert_eq!(times, [(10, 0), (0, 0), (0, 0)]);
        times[1].1 = 20;
        s.put(&[a, b, c], &times);
        assert!(s.has_witnessed_since(&a, 15, 10) && s.has_beaconed_since(&b, 25, 10));
        assert_eq!(s.len(), 2, "c stayed (0, 0) and is not stored");
        assert!(within(10, 19, 10) && !within(10, 20, 10) && !within(0, 5, 10));
    }

    #[test]
    fn the_carried_bytes_are_sorted_by_key_whatever_the_insertion_order() {
        let keys: Vec<PublicKey> = (0..200u8)
            .map(|i| PublicKey([i.wrapping_mul(37); 32]))
            .collect();
        let (mut a, mut b) = (Reciprocity::default(), Reciprocity::default());
        let mut sorted = std::collections::BTreeMap::new();
        for (n, k) in keys.iter().enumerate() {
            a.witnessed(*k, n as u64 + 1);
            sorted.insert(*k, (n as u64 + 1, 0u64));
        }
        for (n, k) in keys.iter().enumerate().rev() {
            b.witnessed(*k, n as u64 + 1);
        }
        assert_eq!(a.encode(), b.encode());
        let mut expected = vec![VERSION];
        BorshSerialize::serialize(&sorted, &mut expected).expect("vec");
        assert_eq!(a.encode(), expected, "the same bytes as a sorted map");
    }
}
