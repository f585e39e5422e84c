//! Segments and erasure coding. An object of `len` bytes is cut into segments of
//! `k × shard_bytes` bytes (the last one zero-padded); segment `s` becomes shards
//! `0..k` (its bytes, cut in `k`) and `k..n` (reed-solomon-simd recovery shards). Any `k`
//! shards of a segment rebuild it; the object's length trims the padding.
//!
//! Shards stay small (default 256 KiB) so that coding works in cache; parity is computed per
//! segment, so one lost disk costs only the shards it held.

/// Smallest shard, bytes.
pub const MIN_SHARD_BYTES: usize = 64;
/// Largest shard, bytes.
pub const MAX_SHARD_BYTES: usize = 16 << 20;
/// Most shards per segment (data + parity).
pub const MAX_SHARDS: usize = 256;
/// Default shard size, bytes.
pub const DEFAULT_SHARD_BYTES: usize = 256 << 10;

/// How objects are coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Data shards per segment (`k`).
    pub data_shards: usize,
    /// All shards per segment (`n`, data + parity).
    pub total_shards: usize,
    /// Bytes per shard.
    pub shard_bytes: usize,
}

/// Errors of the erasure layer.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ErasureError {
    /// A layout outside the supported range.
    #[error("invalid layout k={data_shards} n={total_shards} shard={shard_bytes} bytes: {reason}")]
    InvalidLayout {
        /// `k`.
        data_shards: usize,
        /// `n`.
        total_shards: usize,
        /// Shard size.
        shard_bytes: usize,
        /// Why.
        reason: &'static str,
    },
    /// Fewer than `k` shards of a segment are available.
    #[error("segment {segment} cannot be rebuilt: {have} of the {need} shards needed, missing shards {missing:?}")]
    TooFewShards {
        /// The segment.
        segment: u64,
        /// Shards available.
        have: usize,
        /// Shards needed (`k`).
        need: usize,
        /// Indexes of the missing shards.
        missing: Vec<usize>,
    },
    /// A shard of the wrong size.
    #[error("shard {index} is {got} bytes, the layout says {expected}")]
    ShardSize {
        /// Shard index.
        index: usize,
        /// Its size.
        got: usize,
        /// The layout's.
        expected: usize,
    },
    /// The codec refused (should not happen with a valid layout).
    #[error("reed-solomon: {reason}")]
    Codec {
        /// Its message.
        reason: String,
    },
}

impl Layout {
    /// A layout of `k` data shards out of `n`, `shard_bytes` each.
    ///
    /// Errors: [`ErasureError::InvalidLayout`] unless `1 ≤ k < n ≤ MAX_SHARDS` and the shard
    /// size is even and within `MIN_SHARD_BYTES..=MAX_SHARD_BYTES`.
    pub fn new(k: usize, n: usize, shard_bytes: usize) -> Result<Layout, ErasureError> {
        let bad = |reason| ErasureError::InvalidLayout {
            data_shards: k,
            total_shards: n,
            shard_bytes,
            reason,
        };
        if k == 0 || k >= n || n > MAX_SHARDS {
            return Err(bad("need 1 ≤ k < n ≤ 256"));
        }
        if shard_bytes % 2 != 0 || !(MIN_SHARD_BYTES..=MAX_SHARD_BYTES).contains(&shard_bytes) {
            return Err(bad("shard size must be even, 64 B to 16 MiB"));
        }
        Ok(Layout {
            data_shards: k,
            total_shards: n,
            shard_bytes,
        })
    }

    /// Bytes of object data per segment.
    pub fn segment_bytes(&self) -> usize {
        self.data_shards * self.shard_bytes
    }

    /// Segments of an object of `len` bytes (at least one, so an empty object has a shard
    /// set too).
    pub fn segments(&self, len: u64) -> u64 {
        len.div_ceil(self.segment_bytes() as u64).max(1)
    }

    /// Bytes of each shard file of an object of `len` bytes (one shard per segment).
    pub fn shard_file_bytes(&self, len: u64) -> u64 {
        self.segments(len).saturating_mul(self.shard_bytes as u64)
    }

    /// Parity shards per segment.
    pub fn parity_shards(&self) -> usize {
        self.total_shards - self.data_shards
    }
}

/// The `n` shards of one segment (`data` at most `k × shard_bytes` bytes; zero-padded).
///
/// Errors: [`ErasureError::Codec`] if the codec refuses, or [`ErasureError::ShardSize`] if
/// `data` is longer than a segment.
pub fn encode_segment(layout: &Layout, data: &[u8]) -> Result<Vec<Vec<u8>>, ErasureError> {
    if data.len() > layout.segment_bytes() {
        return Err(ErasureError::ShardSize {
            index: 0,
            got: data.len(),
            expected: layout.segment_bytes(),
        });
    }
    let mut shards: Vec<Vec<u8>> = (0..layout.data_shards)
        .map(|i| {
            let from = (i * layout.shard_bytes).min(data.len());
            let to = ((i + 1) * layout.shard_bytes).min(data.len());
            let mut s = data[from..to].to_vec();
            s.resize(layout.shard_bytes, 0);
            s
        })
        .collect();
    let recovery = reed_solomon_simd::encode(layout.data_shards, layout.parity_shards(), &shards)
        .map_err(|e| ErasureError::Codec {
        reason: e.to_string(),
    })?;
    shards.extend(recovery);
    assert_eq!(shards.len(), layout.total_shards, "k data + (n − k) parity");
    Ok(shards)
}

/// Rebuilds segment `segment` (its `k × shard_bytes` bytes, padding included) from the
/// shards available (`shards[i]` is shard `i`, `None` when missing).
///
/// Errors: [`ErasureError::TooFewShards`] naming the missing shards when fewer than `k`
/// are given; [`ErasureError::ShardSize`] for a shard of the wrong size.
pub fn decode_segment(
    layout: &Layout,
    segment: u64,
    shards: &[Option<&[u8]>],
) -> Result<Vec<u8>, ErasureError> {
    let k = layout.data_shards;
    let present: Vec<(usize, &[u8])> = shards
        .iter()
        .take(layout.total_shards)
        .enumerate()
        .filter_map(|(i, s)| s.map(|s| (i, s)))
        .collect();
    if let Some((index, s)) = present.iter().find(|(_, s)| s.len() != layout.shard_bytes) {
        let (index, got, expected) = (*index, s.len(), layout.shard_bytes);
        return Err(ErasureError::ShardSize {
            index,
            got,
            expected,
        });
    }
    if present.len() < k {
        let missing = (0..layout.total_shards)
            .filter(|i| !present.iter().any(|(p, _)| p == i))
            .collect();
        let have = present.len();
        return Err(ErasureError::TooFewShards {
            segment,
            have,
            need: k,
            missing,
        });
    }
    let originals: Vec<(usize, &[u8])> = present.iter().copied().filter(|(i, _)| *i < k).collect();
    let mut out = vec![0u8; layout.segment_bytes()];
    for (i, s) in &originals {
        out[i * layout.shard_bytes..(i + 1) * layout.shard_bytes].copy_from_slice(s);
    }
    if originals.len() == k {
        return Ok(out);
    }
    let recovery = present
        .iter()
        .filter(|(i, _)| *i >= k)
        .map(|(i, s)| (i - k, *s));
    let restored = reed_solomon_simd::decode(
        k,
        layout.parity_shards(),
        originals.iter().copied(),
        recovery,
    )
    .map_err(|e| ErasureError::Codec {
        reason: e.to_string(),
    })?;
    for (i, s) in restored {
        out[i * layout.shard_bytes..(i + 1) * layout.shard_bytes].copy_from_slice(&s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_out_of_range_are_refused_with_a_reason() {
        assert!(Layout::new(4, 6, 1024).is_ok());
        for (k, n, b) in [
            (0, 4, 1024),
            (4, 4, 1024),
            (4, 300, 1024),
            (4, 6, 1023),
            (4, 6, 2),
        ] {
            assert!(
                matches!(
                    Layout::new(k, n, b),
                    Err(ErasureError::InvalidLayout { .. })
                ),
                "{k} {n} {b}"
            );
        }
        let l = Layout::new(4, 6, 1024).expect("layout");
        assert_eq!(
            (l.segments(0), l.segments(4096), l.segments(4097)),
            (1, 1, 2)
        );
    }

    #[test]
    fn any_k_shards_rebuild_a_segment_and_k_minus_one_name_the_missing() {
        let l = Layout::new(3, 5, 64).expect("layout");
        let data: Vec<u8> = (0..150u8).collect();
        let shards = encode_segment(&l, &data).expect("encode");
        let mut padded = data.clone();
        padded.resize(l.segment_bytes(), 0);
        for drop in [[0, 1], [3, 4], [0, 4], [1, 2]] {
            let view: Vec<Option<&[u8]>> = shards
                .iter()
                .enumerate()
                .map(|(i, s)| (!drop.contains(&i)).then_some(s.as_slice()))
                .collect();
            assert_eq!(
                decode_segment(&l, 0, &view).expect("k shards"),
                padded,
                "{drop:?}"
            );
        }
        let view: Vec<Option<&[u8]>> = shards
            .iter()
            .enumerate()
            .map(|(i, s)| (i >= 3).then_some(s.as_slice()))
            .collect();
        let err = decode_segment(&l, 7, &view).expect_err("two of three");
        assert_eq!(
            err,
            ErasureError::TooFewShards {
                segment: 7,
                have: 2,
                need: 3,
                missing: vec![0, 1, 2]
            }
        );
    }
}
