//! BLAKE3's own test vectors pin the shard root (a shard's root is its BLAKE3 hash, computed
//! through bao-tree's outboard).

use depin_module_storage::proof::ShardTree;

#[test]
fn shard_roots_equal_the_official_blake3_test_vectors() {
    let Some(path) = depin_testkit::shared_path("vectors/crypto/blake3_test_vectors.json") else {
        return;
    };
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() > 30);
    for c in cases {
        let len = c["input_len"].as_u64().unwrap() as usize;
        let input: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let want = &c["hash"].as_str().unwrap()[..64];
        assert_eq!(
            hex::encode(ShardTree::new(&input).root.0),
            want,
            "input of {len} bytes"
        );
    }
}
