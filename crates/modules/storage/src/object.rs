//! Whole objects ↔ shard files: segment `s` of an object is coded into `n` shards and
//! provider `i` keeps shard `i` of every segment, concatenated (its shard file). Any `k`
//! shard files rebuild the object byte for byte.

use crate::erasure::{decode_segment, encode_segment, ErasureError, Layout, DEFAULT_SHARD_BYTES};
use crate::erasure::{MAX_SHARD_BYTES, MIN_SHARD_BYTES};
use depin_types::Hash32;

/// An object coded into shard files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// Shard file `i` for provider `i`.
    pub shard_files: Vec<Vec<u8>>,
    /// `BLAKE3` of each shard file (its root: BLAKE3 is itself the Merkle tree proofs use).
    pub roots: Vec<Hash32>,
    /// `BLAKE3` of the object.
    pub object: Hash32,
}

/// `BLAKE3` of `bytes`.
pub fn blake3_hash(bytes: &[u8]) -> Hash32 {
    Hash32(*blake3::hash(bytes).as_bytes())
}

/// The segment shard size for an object of `size_bytes` split `k` ways: the object's share
/// per data shard rounded up to an even size, within `MIN_SHARD_BYTES` and
/// `DEFAULT_SHARD_BYTES` (256 KiB: a segment's `n` shards stay in the cache while coded).
pub fn segment_shard_bytes_for(size_bytes: u64, k: usize) -> usize {
    let per = usize::try_from(size_bytes.div_ceil(k.max(1) as u64)).unwrap_or(MAX_SHARD_BYTES);
    let even = per.saturating_add(per % 2);
    even.clamp(MIN_SHARD_BYTES, DEFAULT_SHARD_BYTES)
}

/// Codes `data` into `n` shard files: segments coded in parallel, one contiguous run of
/// segments per core, each core writing its own part of every shard file (the bytes are
/// the sequential coding's whatever the thread count).
///
/// Errors: the codec's (none for a valid layout).
pub fn encode_object(layout: &Layout, data: &[u8]) -> Result<Encoded, ErasureError> {
    let segments = usize::try_from(layout.segments(data.len() as u64)).unwrap_or(usize::MAX);
    let ssb = layout.shard_bytes;
    let file_bytes = segments.saturating_mul(ssb);
    let mut files: Vec<Vec<u8>> = (0..layout.total_shards)
        .map(|_| vec![0u8; file_bytes])
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, depin_types::par::MAX_THREADS);
    let run_segments = segments.div_ceil(threads).max(1);
    let mut runs: Vec<Vec<&mut [u8]>> = (0..threads).map(|_| Vec::new()).collect();
    for file in &mut files {
        for (t, part) in file.chunks_mut(run_segments * ssb).enumerate() {
            runs[t].push(part);
        }
    }
    let results: Vec<Result<(), ErasureError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .into_iter()
            .enumerate()
            .filter(|(_, parts)| !parts.is_empty())
            .map(|(t, parts)| scope.spawn(move || code_run(layout, data, t * run_segments, parts)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    results.into_iter().collect::<Result<(), _>>()?;
    let roots = depin_types::par::map(&files, |f| blake3_hash(f));
    Ok(Encoded {
        shard_files: files,
        roots,
        object: blake3_hash(data),
    })
}

/// Codes the segments from `first` on into `parts` (part `i` is this run's slice of shard
/// file `i`; its length gives the number of segments).
fn code_run(
    layout: &Layout,
    data: &[u8],
    first: usize,
    mut parts: Vec<&mut [u8]>,
) -> Result<(), ErasureError> {
    let (ssb, segment_bytes) = (layout.shard_bytes, layout.segment_bytes());
    let count = parts.first().map_or(0, |p| p.len() / ssb);
    assert!(
        parts.len() == layout.total_shards && parts.iter().all(|p| p.len() == count * ssb),
        "one equal part per shard file"
    );
    for j in 0..count {
        let s = first + j;
        let from = (s * segment_bytes).min(data.len());
        let to = ((s + 1) * segment_bytes).min(data.len());
        let shards = encode_segment(layout, &data[from..to])?;
        for (part, shard) in parts.iter_mut().zip(shards) {
            part[j * ssb..(j + 1) * ssb].copy_from_slice(&shard);
        }
    }
    Ok(())
}

/// Rebuilds an object of `size_bytes` from its shard files (`files[i]` is shard file `i`,
/// `None` when missing; each must have been checked against its root).
///
/// Errors: [`ErasureError::TooFewShards`] naming the missing shards when fewer than `k` are
/// given; [`ErasureError::ShardSize`] for a file of the wrong length.
pub fn decode_object(
    layout: &Layout,
    size_bytes: u64,
    files: &[Option<&[u8]>],
) -> Result<Vec<u8>, ErasureError> {
    let segments = layout.segments(size_bytes);
    let ssb = layout.shard_bytes;
    let file_bytes = usize::try_from(layout.shard_file_bytes(size_bytes)).unwrap_or(usize::MAX);
    if let Some((index, f)) = files
        .iter()
        .enumerate()
        .find_map(|(i, f)| f.filter(|f| f.len() != file_bytes).map(|f| (i, f)))
    {
        let (got, expected) = (f.len(), file_bytes);
        return Err(ErasureError::ShardSize {
            index,
            got,
            expected,
        });
    }
    let mut out = Vec::with_capacity(usize::try_from(size_bytes).unwrap_or(0));
    for s in 0..segments as usize {
        let shards: Vec<Option<&[u8]>> = files
            .iter()
            .map(|f| f.map(|f| &f[s * ssb..(s + 1) * ssb]))
            .collect();
        out.extend_from_slice(&decode_segment(layout, s as u64, &shards)?);
    }
    out.truncate(usize::try_from(size_bytes).unwrap_or(usize::MAX));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_k_shard_files_rebuild_the_object_and_fewer_name_the_missing() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let ssb = segment_shard_bytes_for(data.len() as u64, 4).min(4_096);
        let layout = Layout::new(4, 6, ssb).unwrap();
        let enc = encode_object(&layout, &data).unwrap();
        assert_eq!(enc.roots[2], blake3_hash(&enc.shard_files[2]));
        let mut files: Vec<Option<&[u8]>> = enc.shard_files.iter().map(|f| Some(&f[..])).collect();
        files[0] = None;
        files[3] = None;
        assert_eq!(
            decode_object(&layout, data.len() as u64, &files).unwrap(),
            data
        );
        files[5] = None;
        match decode_object(&layout, data.len() as u64, &files) {
            Err(ErasureError::TooFewShards { missing, .. }) => assert_eq!(missing, vec![0, 3, 5]),
            other => panic!("expected too few shards, got {other:?}"),
        }
    }

    #[test]
    fn parallel_coding_gives_the_sequential_shard_files() {
        let data: Vec<u8> = (0..123_457u32).map(|i| (i * 17 % 253) as u8).collect();
        for ssb in [64, 1_024, 40_000] {
            let layout = Layout::new(3, 5, ssb).unwrap();
            let enc = encode_object(&layout, &data).unwrap();
            let mut expected: Vec<Vec<u8>> = vec![Vec::new(); 5];
            for segment in data.chunks(layout.segment_bytes()) {
                for (file, shard) in expected
                    .iter_mut()
                    .zip(encode_segment(&layout, segment).unwrap())
                {
                    file.extend_from_slice(&shard);
                }
            }
            assert_eq!(enc.shard_files, expected, "shard size {ssb}");
        }
    }

    #[test]
    fn segment_shards_are_even_and_bounded() {
        assert_eq!(segment_shard_bytes_for(0, 4), MIN_SHARD_BYTES);
        assert_eq!(segment_shard_bytes_for(1_001, 4), 252);
        assert_eq!(segment_shard_bytes_for(1 << 40, 4), DEFAULT_SHARD_BYTES);
    }
}
