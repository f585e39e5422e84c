//! The Jellyfish Merkle tree over all state (penumbra's `jmt` with SHA-256). State keys are
//! hashed with SHA-256 into the tree's key space; values are stored as given.

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
        let k = crate::tables::node_key_bytes(node_key);
        if let Some(n) = self.recent.get(&k) {
            return Ok(Some(n.clone()));
        }
        match self.nodes.get(k.as_slice())? {
            None => Ok(None),
            Some(v) => Ok(Some(borsh::from_slice(v.value())?)),
        }
    }

    fn get_value_option(&self, _: Version, _: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        // jmt reads values only to build proofs; `prove` serves them through `ProofReader`.
        anyhow::bail!("tree values are kept in the state table; use Db::prove")
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only used by jmt's state-sync restore, which depin does not use.
        anyhow::bail!("get_rightmost_leaf: tree restore is not supported by depin-db")
    }
}

/// A reader for proving one raw key at the latest version: nodes from the snapshot, the value
/// from the state table.
struct ProofReader<'a> {
    snap: &'a Snapshot,
    raw_key: &'a [u8],
    key_hash: KeyHash,
}

impl TreeReader for ProofReader<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        self.snap.get_node_option(node_key)
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        anyhow::ensure!(
            key_hash == self.key_hash,
            "proof reader asked for another key"
        );
        anyhow::ensure!(
            max_version >= self.snap.height(),
            "only the latest state's values are stored"
        );
        Ok(depin_ledger::StateRead::get_raw(self.snap, self.raw_key)?)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("get_rightmost_leaf: tree restore is not supported by depin-db")
    }
}

/// Applies `writes` as tree version `version`; returns the new root and the nodes to store.
///
/// Without deletions it uses jmt's batched insert (one sorted pass over the tree); with any
/// deletion, jmt's general per-key path. Both produce the same tree.
pub fn put(
    snap: &Snapshot,
    writes: &WriteSet,
    version: u64,
) -> Result<(Hash32, TreeUpdateBatch), DbError> {
    let tree = JellyfishMerkleTree::<_, Sha256>::new(snap);
    if writes.is_empty() || writes.values().any(Option::is_none) {
        return put_general(&tree, writes, version);
    }
    let set: Vec<(KeyHash, OwnedValue)> = writes
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (key_hash(k), v.clone())))
        .collect();
    let (roots, batch) = tree
        .batch_put_value_sets(vec![set], None, version)
        .map_err(terr)?;
    let root = roots.first().ok_or_else(|| terr("jmt returned no root"))?;
    Ok((Hash32(root.0), batch))
}

/// jmt's general path (handles deletions).
pub fn put_general(
    tree: &JellyfishMerkleTree<'_, Snapshot, Sha256>,
    writes: &WriteSet,
    version: u64,
) -> Result<(Hash32, TreeUpdateBatch), DbError> {
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
    let reader = ProofReader {
        snap,
        raw_key: key,
        key_hash: key_hash(key),
    };
    let tree = JellyfishMerkleTree::<_, Sha256>::new(&reader);
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
