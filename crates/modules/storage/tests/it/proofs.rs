//! Storage proofs over many epochs: a provider that deleted 5 % of a shard is caught within
//! the epochs `epochs_to_detect` predicts (at its confidence), and an honest one never fails.

use depin_module_storage::proof::{
    challenge, epochs_to_detect, prove, verify, ChallengeSeed, ShardTree, GROUP_BYTES,
};
use depin_types::Hash32;

const CHALLENGES_PER_EPOCH: u32 = 8;
const SHARD_BYTES: usize = 160 * GROUP_BYTES as usize; // 160 groups: 8 deleted are exactly 5 %
const DEALS: u8 = 200;

/// Epochs until the provider first fails a challenge (up to `max`), for deal `deal`.
fn epochs_until_caught(
    shard: &[u8],
    held: &[u8],
    tree: &ShardTree,
    deal: u8,
    max: u32,
) -> Option<u32> {
    let (deal, provider) = (Hash32([deal; 32]), [9u8; 32]);
    for epoch in 0..max {
        let entropy = Hash32::digest(&epoch.to_be_bytes());
        let seed = ChallengeSeed {
            entropy: &entropy,
            deal: &deal,
            provider: &provider,
            shard: 0,
        };
        let groups = challenge(&seed, tree.groups(), CHALLENGES_PER_EPOCH).unwrap();
        let answer = prove(held, tree, &groups);
        let ok = answer.is_ok_and(|p| verify(&tree.root, tree.size_bytes, &groups, &p).is_ok());
        if !ok {
            assert_ne!(held, shard, "an honest provider is never caught");
            return Some(epoch + 1);
        }
    }
    None
}

#[test]
fn a_provider_that_deleted_five_percent_is_caught_within_the_predicted_epochs() {
    let shard: Vec<u8> = (0..SHARD_BYTES).map(|i| (i * 7 % 253) as u8).collect();
    let tree = ShardTree::new(&shard);
    let groups = tree.groups();
    let mut lossy = shard.clone();
    let deleted: Vec<u64> = (0..groups).filter(|g| g % 20 == 7).collect(); // 5 %
    for g in &deleted {
        let from = (*g * GROUP_BYTES) as usize;
        lossy[from..from + GROUP_BYTES as usize].fill(0);
    }
    let predicted = epochs_to_detect(
        deleted.len() as f64 / groups as f64,
        CHALLENGES_PER_EPOCH,
        0.99,
    );
    assert_eq!(predicted, 12);
    let caught = (0..DEALS)
        .filter(|d| epochs_until_caught(&shard, &lossy, &tree, *d, predicted).is_some())
        .count();
    assert!(
        caught * 100 >= DEALS as usize * 96,
        "{caught} of {DEALS} caught within {predicted} epochs"
    );
    for d in 0..20 {
        assert_eq!(
            epochs_until_caught(&shard, &shard, &tree, d, 20),
            None,
            "honest over 20 epochs"
        );
    }
}
