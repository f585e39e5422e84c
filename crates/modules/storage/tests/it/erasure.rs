//! Erasure coding round trips: any `k` of `n` shards rebuild every segment byte for byte.

use depin_module_storage::erasure::{decode_segment, encode_segment, Layout};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn any_k_of_n_shards_rebuild_the_segment(
        k in 1usize..8,
        extra in 1usize..6,
        half_shard in 32usize..300,
        data in proptest::collection::vec(any::<u8>(), 0..4_000),
        drop_seed in any::<u64>(),
    ) {
        let layout = Layout::new(k, k + extra, half_shard * 2).unwrap();
        let data = &data[..data.len().min(layout.segment_bytes())];
        let shards = encode_segment(&layout, data).unwrap();
        prop_assert_eq!(shards.len(), k + extra);
        let mut order: Vec<usize> = (0..k + extra).collect();
        let mut s = drop_seed;
        for i in (1..order.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (s >> 33) as usize % (i + 1));
        }
        let dropped = &order[..extra];
        let view: Vec<Option<&[u8]>> = shards
            .iter()
            .enumerate()
            .map(|(i, sh)| (!dropped.contains(&i)).then_some(sh.as_slice()))
            .collect();
        let rebuilt = decode_segment(&layout, 0, &view).unwrap();
        prop_assert_eq!(&rebuilt[..data.len()], data);
        prop_assert!(rebuilt[data.len()..].iter().all(|b| *b == 0), "zero padding");
    }
}
