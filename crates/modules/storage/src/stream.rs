//! Objects coded as a stream, segment by segment, so that memory stays at a few segments
//! whatever the object's size: [`summarize`] reads an object once for its shard roots and
//! BLAKE3 (what a deal records), [`code_stream`] reads it again and hands each segment's `n`
//! shards to the uploads. The shards are the ones [`crate::object::encode_object`] gives.

use crate::erasure::{ErasureError, Layout};
use depin_types::Hash32;
use reed_solomon_simd::ReedSolomonEncoder;
use std::io::Read;
use std::sync::{Arc, Mutex};

/// Segments read, coded and hashed together by [`summarize`] (4 MiB of a 4-of-6 object at
/// the default shard size: a batch's shards stay in the cache until hashed).
pub const BATCH_SEGMENTS: usize = 4;

/// Why streaming an object failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading the object failed.
    #[error("reading the object: {message}")]
    Io {
        /// The reader's error.
        message: String,
    },
    /// The object ended before (or went on after) the size it was announced with.
    #[error("the object is not {expected} bytes long (it changed while being read?)")]
    Size {
        /// The size announced.
        expected: u64,
    },
    /// The codec refused.
    #[error(transparent)]
    Erasure(#[from] ErasureError),
}

/// The roots and hash of a coded object: what its deal records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// `BLAKE3` of shard file `i` (provider `i`'s).
    pub roots: Vec<Hash32>,
    /// `BLAKE3` of the object.
    pub object: Hash32,
}

/// Most shard buffers the process's pool keeps for reuse (128 MiB at the default shard size).
pub const MAX_POOLED_SHARDS: usize = 512;

/// Shard buffers given back once their bytes are used, for the next segments: fresh memory
/// costs a page fault and zeroing per page, reused memory is warm.
#[derive(Clone, Default)]
struct ShardPool(Arc<Mutex<Vec<Vec<u8>>>>);

/// The process's pool: every coder shares it, so a put's upload pass reuses the buffers its
/// first pass used.
static SHARED_POOL: std::sync::OnceLock<ShardPool> = std::sync::OnceLock::new();

impl ShardPool {
    /// An empty shard of at least `bytes` capacity: a reused buffer if any.
    fn shard(&self, bytes: usize) -> Shard {
        let reused = self.0.lock().ok().and_then(|mut p| p.pop());
        let mut v = reused.unwrap_or_default();
        v.clear();
        v.reserve_exact(bytes);
        Shard {
            bytes: v,
            pool: self.clone(),
        }
    }
}

/// One shard of a coded segment: its bytes, given back to the process's pool when dropped
/// (on whatever thread drops it).
pub struct Shard {
    bytes: Vec<u8>,
    pool: ShardPool,
}

impl std::ops::Deref for Shard {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl AsRef<[u8]> for Shard {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        if let Ok(mut pool) = self.pool.0.lock() {
            if pool.len() < MAX_POOLED_SHARDS {
                pool.push(bytes);
            }
        }
    }
}

/// Codes segments one after another with one encoder (its work space and shard buffers
/// reused).
pub struct SegmentCoder {
    layout: Layout,
    encoder: ReedSolomonEncoder,
    pool: ShardPool,
}

fn codec(e: reed_solomon_simd::Error) -> ErasureError {
    ErasureError::Codec {
        reason: e.to_string(),
    }
}

impl SegmentCoder {
    /// A coder for `layout`.
    ///
    /// Errors: [`ErasureError::Codec`] if the codec refuses the layout.
    pub fn new(layout: Layout) -> Result<SegmentCoder, ErasureError> {
        let encoder = ReedSolomonEncoder::new(
            layout.data_shards,
            layout.parity_shards(),
            layout.shard_bytes,
        )
        .map_err(codec)?;
        Ok(SegmentCoder {
            layout,
            encoder,
            pool: SHARED_POOL.get_or_init(ShardPool::default).clone(),
        })
    }

    /// The `n` shards of the next `len` bytes of `reader` (at most `k × shard_bytes`,
    /// zero-padded), read straight into the data shards (no copy of the segment); their
    /// buffers go back to the process's pool when the shards are dropped.
    ///
    /// Errors: [`StreamError::Size`] when `reader` ends before `len` bytes or `len` is
    /// longer than a segment; the reader's; the codec's.
    pub fn code(&mut self, reader: &mut impl Read, len: usize) -> Result<Vec<Shard>, StreamError> {
        let (k, ssb) = (self.layout.data_shards, self.layout.shard_bytes);
        if len > self.layout.segment_bytes() {
            let (got, expected) = (len, self.layout.segment_bytes());
            return Err(ErasureError::ShardSize {
                index: 0,
                got,
                expected,
            }
            .into());
        }
        let mut shards = Vec::with_capacity(self.layout.total_shards);
        for i in 0..k {
            let want = len.saturating_sub(i * ssb).min(ssb);
            let mut s = self.pool.shard(ssb);
            read_exactly(reader, &mut s.bytes, want)?;
            s.bytes.resize(ssb, 0);
            self.encoder.add_original_shard(&s.bytes).map_err(codec)?;
            shards.push(s);
        }
        let result = self.encoder.encode().map_err(codec)?;
        for parity in result.recovery_iter() {
            let mut s = self.pool.shard(ssb);
            s.bytes.extend_from_slice(parity);
            shards.push(s);
        }
        assert_eq!(
            shards.len(),
            self.layout.total_shards,
            "k data + (n − k) parity"
        );
        Ok(shards)
    }
}

/// Appends exactly `len` bytes of `reader` to `out` (no zeroing of the space first).
///
/// Errors: [`StreamError::Size`] (with `expected` = `len`) when the reader ends first; the
/// reader's.
fn read_exactly(reader: &mut impl Read, out: &mut Vec<u8>, len: usize) -> Result<(), StreamError> {
    let got = reader
        .take(len as u64)
        .read_to_end(out)
        .map_err(|e| StreamError::Io {
            message: e.to_string(),
        })?;
    if got != len {
        return Err(StreamError::Size {
            expected: len as u64,
        });
    }
    Ok(())
}

/// Reads the `size_bytes` object of `reader` segment by segment and calls `each(segment,
/// shards)` with each segment's `n` shards, in order, until it returns `false`.
///
/// Errors: the reader's, [`StreamError::Size`] when the object is not `size_bytes` long,
/// the codec's.
pub fn code_stream(
    layout: &Layout,
    mut reader: impl Read,
    size_bytes: u64,
    mut each: impl FnMut(u64, Vec<Shard>) -> bool,
) -> Result<(), StreamError> {
    let mut coder = SegmentCoder::new(*layout)?;
    let segment_bytes = layout.segment_bytes() as u64;
    let wrong_size = |_| StreamError::Size {
        expected: size_bytes,
    };
    for s in 0..layout.segments(size_bytes) {
        let want = (size_bytes - s * segment_bytes).min(segment_bytes);
        let want = usize::try_from(want).expect("a segment fits in memory");
        let shards = match coder.code(&mut reader, want) {
            Err(StreamError::Size { expected }) => return Err(wrong_size(expected)),
            other => other?,
        };
        if !each(s, shards) {
            return Ok(());
        }
    }
    let mut probe = Vec::with_capacity(1);
    match read_exactly(&mut reader, &mut probe, 1) {
        Err(StreamError::Size { .. }) => Ok(()),
        Err(e) => Err(e),
        Ok(()) => Err(wrong_size(0)),
    }
}

/// One batch of segments: each segment's object bytes (its data shards without the padding)
/// and its `n` shards.
type Batch = Arc<Vec<(usize, Vec<Shard>)>>;

/// Batches queued for each hashing thread while the next one is read and coded.
const BATCHES_IN_FLIGHT: usize = 2;

/// Feeds every batch `rx` delivers to the hashers: the object's bytes (its first `k`
/// shards less the padding) to `object` if given, shard `first + i` to `shards[i]`.
fn hash_batches(
    rx: &std::sync::mpsc::Receiver<Batch>,
    (k, mut object): (usize, Option<&mut blake3::Hasher>),
    first: usize,
    shards: &mut [blake3::Hasher],
) {
    for batch in rx {
        for (len, pieces) in batch.iter() {
            if let Some(object) = object.as_deref_mut() {
                let mut left = *len;
                for p in &pieces[..k] {
                    let take = left.min(p.len());
                    object.update(&p[..take]);
                    left -= take;
                }
            }
            for (h, p) in shards.iter_mut().zip(&pieces[first..]) {
                h.update(p);
            }
        }
    }
}

/// The shard roots and object hash of the `size_bytes` object of `reader`, read once in
/// batches of [`BATCH_SEGMENTS`]: while one batch is read and coded, the previous ones are
/// hashed on two threads (the object and the first shard on one, the other shards on the
/// other: about even).
///
/// Errors: as [`code_stream`].
pub fn summarize(
    layout: &Layout,
    reader: impl Read,
    size_bytes: u64,
) -> Result<Summary, StreamError> {
    let (n, k) = (layout.total_shards, layout.data_shards);
    let mut object = blake3::Hasher::new();
    let mut shards: Vec<blake3::Hasher> = (0..n).map(|_| blake3::Hasher::new()).collect();
    let (segment_bytes, segments) = (layout.segment_bytes() as u64, layout.segments(size_bytes));
    let (first, rest) = shards.split_at_mut(1);
    let coded = std::thread::scope(|scope| {
        let (to_a, rx_a) = std::sync::mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (to_b, rx_b) = std::sync::mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let object = &mut object;
        scope.spawn(move || hash_batches(&rx_a, (k, Some(object)), 0, first));
        scope.spawn(move || hash_batches(&rx_b, (k, None), 1, rest));
        let mut batch = Vec::with_capacity(BATCH_SEGMENTS);
        code_stream(layout, reader, size_bytes, |s, pieces| {
            let len = (size_bytes - s * segment_bytes).min(segment_bytes);
            batch.push((usize::try_from(len).unwrap_or(usize::MAX), pieces));
            if batch.len() == BATCH_SEGMENTS || s + 1 == segments {
                let full = Batch::new(std::mem::replace(
                    &mut batch,
                    Vec::with_capacity(BATCH_SEGMENTS),
                ));
                // The hashing threads stop only when these senders are dropped.
                let _ = to_a.send(full.clone());
                let _ = to_b.send(full);
            }
            true
        })
    });
    coded?;
    Ok(Summary {
        roots: shards
            .iter()
            .map(|h| Hash32(*h.finalize().as_bytes()))
            .collect(),
        object: Hash32(*object.finalize().as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::encode_object;

    #[test]
    fn streamed_shards_and_summary_are_the_in_memory_coding() {
        let data: Vec<u8> = (0..300_001u32).map(|i| (i * 13 % 251) as u8).collect();
        for (k, n, ssb) in [(4, 6, 4_096), (3, 5, 1_000), (2, 3, 64)] {
            let layout = Layout::new(k, n, ssb).expect("layout");
            let enc = encode_object(&layout, &data).expect("encode");
            let mut files: Vec<Vec<u8>> = vec![Vec::new(); n];
            code_stream(&layout, &data[..], data.len() as u64, |_, pieces| {
                for (f, p) in files.iter_mut().zip(pieces) {
                    f.extend_from_slice(&p);
                }
                true
            })
            .expect("stream");
            assert_eq!(files, enc.shard_files, "{k} of {n}, {ssb}");
            let summary = summarize(&layout, &data[..], data.len() as u64).expect("summary");
            assert_eq!((summary.roots, summary.object), (enc.roots, enc.object));
        }
    }

    #[test]
    fn shard_buffers_come_back_to_the_coder_once_dropped_and_are_reused() {
        let layout = Layout::new(2, 3, 64).expect("layout");
        let mut coder = SegmentCoder::new(layout).expect("coder");
        coder.pool = ShardPool::default(); // Its own, not the one other tests share.
        let data = vec![7u8; 256];
        let first = coder.code(&mut &data[..128], 128).expect("code");
        let addresses: Vec<*const u8> = first.iter().map(|s| s.as_ptr()).collect();
        drop(first);
        assert_eq!(
            coder.pool.0.lock().expect("pool").len(),
            3,
            "all three back"
        );
        let second = coder.code(&mut &data[128..], 128).expect("code");
        assert!(second.iter().all(|s| addresses.contains(&s.as_ptr())));
        assert_eq!(
            &second[0][..],
            &data[128..192],
            "a reused buffer holds the new bytes"
        );
        assert!(coder.pool.0.lock().expect("pool").is_empty());
    }

    #[test]
    fn an_object_of_another_size_than_announced_is_refused() {
        let layout = Layout::new(2, 3, 64).expect("layout");
        let data = vec![1u8; 1_000];
        for announced in [999, 1_001, 5_000] {
            assert!(matches!(
                summarize(&layout, &data[..], announced),
                Err(StreamError::Size { .. })
            ));
        }
        assert!(summarize(&layout, &[][..], 0).is_ok());
    }
}
