//! The ledger's view of state: a read trait implemented by storage, and a write overlay that
//! collects a block's (or a transaction's) writes in a `BTreeMap`, so their order is
//! deterministic.

use crate::error::StateError;
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::BTreeMap;

/// Writes collected by an [`Overlay`]: key → new value, or `None` for a deletion. Ordered by key.
pub type WriteSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Read access to a state version.
pub trait StateRead {
    /// The value at `key`, if any. Errors: [`StateError`] if the backend fails.
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
}

impl<T: StateRead + ?Sized> StateRead for &T {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        (**self).get_raw(key)
    }
}

/// Reads and decodes a borsh value. A value that does not decode is a storage error: the
/// ledger only ever writes well-formed values.
pub fn get<T: BorshDeserialize>(s: &impl StateRead, key: &[u8]) -> Result<Option<T>, StateError> {
    match s.get_raw(key)? {
        None => Ok(None),
        Some(bytes) => borsh::from_slice(&bytes).map(Some).map_err(|e| StateError {
            message: format!("corrupt value at {}: {e}", hex_key(key)),
        }),
    }
}

fn hex_key(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

/// A layer of writes over a base state. Reads see the layer first.
pub struct Overlay<'a> {
    base: &'a dyn StateRead,
    writes: WriteSet,
}

impl<'a> Overlay<'a> {
    /// An empty layer over `base`.
    pub fn new(base: &'a dyn StateRead) -> Overlay<'a> {
        Overlay {
            base,
            writes: WriteSet::new(),
        }
    }

    /// Sets `key` to the borsh encoding of `value`.
    pub fn put<T: BorshSerialize>(&mut self, key: Vec<u8>, value: &T) {
        let bytes = borsh::to_vec(value).expect("writing to a Vec cannot fail");
        self.writes.insert(key, Some(bytes));
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Applies another layer's writes on top of this one.
    pub fn apply(&mut self, writes: WriteSet) {
        self.writes.extend(writes);
    }

    /// The collected writes.
    pub fn into_writes(self) -> WriteSet {
        self.writes
    }

    /// The collected writes, by reference.
    pub fn writes(&self) -> &WriteSet {
        &self.writes
    }
}

impl StateRead for Overlay<'_> {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get_raw(key),
        }
    }
}

/// State held in memory: for tests, simulations and the reference replay.
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub struct MemState {
    /// All entries, ordered by key.
    pub entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemState {
    /// Applies a write set.
    pub fn apply(&mut self, writes: WriteSet) {
        for (k, v) in writes {
            match v {
                Some(v) => self.entries.insert(k, v),
                None => self.entries.remove(&k),
            };
        }
    }
}

impl StateRead for MemState {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.entries.get(key).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_reads_its_own_writes_and_deletions_first() {
        let mut base = MemState::default();
        base.entries
            .insert(b"a".to_vec(), borsh::to_vec(&1u64).unwrap());
        base.entries
            .insert(b"b".to_vec(), borsh::to_vec(&2u64).unwrap());
        let mut o = Overlay::new(&base);
        o.put(b"a".to_vec(), &10u64);
        o.delete(b"b".to_vec());
        assert_eq!(get::<u64>(&o, b"a").unwrap(), Some(10));
        assert_eq!(get::<u64>(&o, b"b").unwrap(), None);
        let w = o.into_writes();
        base.apply(w);
        assert_eq!(base.entries.len(), 1);
    }
}
