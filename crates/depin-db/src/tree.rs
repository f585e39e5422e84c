//! The Jellyfish Merkle tree over all state (penumbra's `jmt` with SHA-256). State keys are
//! hashed with SHA-256 into the tree's key space; values are stored as given.

use crate::tables::value_key;
use crate::{DbError, Snapshot};
use depin_ledger::state::WriteSet;
use depin_types::Hash32;
use jmt::proof::SparseMerkleProof;
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, RootHash, Version};
use sha2::Sha256;

fn terr(e: impl std::fmt::Display) -> DbError {
    DbError::Tree {
        message: e.to_string(),
    }
}

/// The tree key of a state key.
pub fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash(<Sha256 as sha2::Digest>::digest(key).into())
}

impl TreeReader for Snapshot {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let k = borsh::to_vec(node_key)?;
        match self.nodes.get(k.as_slice())? {
            None => Ok(None),
            Some(v) => Ok(Some(borsh::from_slice(v.value())?)),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        let lo = value_key(&key_hash.0, 0);
        let hi = value_key(&key_hash.0, max_version);
        let mut range = self.values.range(lo.as_slice()..=hi.as_slice())?;
        let Some(last) = range.next_back() else {
            return Ok(None);
        };
        let (_, v) = last?;
        match v.value().split_first() {
            Some((1, rest)) => Ok(Some(rest.to_vec())),
            _ => Ok(None),
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only used by jmt's state-sync restore, which depin does not use.
        anyhow::bail!("get_rightmost_leaf: tree restore is not supported by depin-db")
    }
}

/// Applies `writes` as tree version `version`; returns the new root and the nodes to store.
pub fn put(
    snap: &Snapshot,
    writes: &WriteSet,
    version: u64,
) -> Result<(Hash32, TreeUpdateBatch), DbError> {
    let tree = JellyfishMerkleTree::<_, Sha256>::new(snap);
    let set = writes.iter().map(|(k, v)| (key_hash(k), v.clone()));
    let (root, batch) = tree.put_value_set(set, version).map_err(terr)?;
    Ok((Hash32(root.0), batch))
}

/// The root at `version`.
pub fn root(snap: &Snapshot, version: u64) -> Result<Hash32, DbError> {
    let tree = JellyfishMerkleTree::<_, Sha256>::new(snap);
    tree.get_root_hash(version)
        .map(|r| Hash32(r.0))
        .map_err(terr)
}

/// A Merkle proof of a key's value (or absence) against a state root.
#[derive(Debug)]
pub struct StateProof {
    /// The root the proof is against.
    pub root: Hash32,
    /// The tree version (block height).
    pub version: u64,
    proof: SparseMerkleProof<Sha256>,
}

impl StateProof {
    /// Checks the proof: `value` is the value at `key` (`None`: the key is absent) in the state
    /// whose root is `self.root`.
    pub fn verify(&self, key: &[u8], value: Option<&[u8]>) -> Result<(), DbError> {
        self.proof
            .verify(RootHash(self.root.0), key_hash(key), value)
            .map_err(terr)
    }
}

/// The value at `key` at `version`, with its proof.
pub fn prove(
    snap: &Snapshot,
    key: &[u8],
    version: u64,
) -> Result<(Option<Vec<u8>>, StateProof), DbError> {
    let tree = JellyfishMerkleTree::<_, Sha256>::new(snap);
    let (value, proof) = tree.get_with_proof(key_hash(key), version).map_err(terr)?;
    let root = root(snap, version)?;
    Ok((
        value,
        StateProof {
            root,
            version,
            proof,
        },
    ))
}
