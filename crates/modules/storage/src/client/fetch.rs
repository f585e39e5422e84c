//! Streaming retrieval: `k` shard files downloaded at once and cut into segment shards as
//! they arrive; a writer thread rebuilds each segment as soon as its `k` shards are in, hashes
//! the object and writes it out, so memory stays at `k × SEGMENTS_IN_FLIGHT` shards whatever
//! the object's size.
//!
//! Nothing unverified is ever handed over: each shard file is checked against its root when
//! its download ends and the object against its BLAKE3 when the last segment is written; the
//! sink of an attempt that fails any check is dropped (the CLI writes to a temporary file
//! and renames it only on success). A shard that fails (transport, refusal, size, root) is
//! excluded and the attempt restarts with the next one, healthy shards first.

use crate::client::{shard_url, ClientError, Transfers};
use crate::erasure::{decode_segment, Layout};
use crate::types::Deal;
use crate::views::deal_from_view;
use crate::views::DealView;
use axum::body::Bytes;
use depin_types::Hash32;
use std::collections::BTreeMap;
use std::io::Write;
use tokio::sync::mpsc;

/// Segment shards buffered per download before the assembler takes them.
pub const SEGMENTS_IN_FLIGHT: usize = 16;
/// Slices of the object queued between the assembler and the thread writing the sink.
pub const WRITES_IN_FLIGHT: usize = 256;

/// Why one shard's download ended early.
#[derive(Debug)]
enum StreamEnd {
    /// The shard is unusable (transport, refusal, size or root); excluded from the next try.
    Shard(String),
    /// The writer stopped reading (another shard failed, or the sink did).
    WriterGone,
}

/// What one shard's download must deliver.
#[derive(Clone, Copy)]
struct ShardSpec {
    /// Shard file size, bytes.
    file_bytes: u64,
    /// Its root (`BLAKE3` of the file).
    root: Hash32,
    /// Bytes per segment shard.
    piece_bytes: usize,
}

/// The outcome of one attempt with a set of `k` shards.
enum Attempt<W> {
    /// Every shard verified and the object hashed to this.
    Done(W, Hash32),
    /// These shards failed, with why.
    Failed(Vec<(u32, String)>),
}

/// One segment's shard as it arrived: slices of the received chunks, `shard_bytes` in all
/// (cut without copying).
type Piece = Vec<Bytes>;

/// Downloads one shard file, cut into pieces of `spec.piece_bytes` sent to the writer, and
/// checks its size and root once it has all of it.
async fn stream_shard(
    request: reqwest::RequestBuilder,
    spec: ShardSpec,
    tx: mpsc::Sender<Piece>,
) -> Result<(), StreamEnd> {
    let shard = |why: String| StreamEnd::Shard(why);
    let mut r = request.send().await.map_err(|e| shard(e.to_string()))?;
    if !r.status().is_success() {
        let status = r.status();
        return Err(shard(format!(
            "{status}: {}",
            r.text().await.unwrap_or_default()
        )));
    }
    let wrong_size = |got: u64| shard(format!("{got} bytes, expected {}", spec.file_bytes));
    if let Some(len) = r.content_length().filter(|l| *l != spec.file_bytes) {
        return Err(wrong_size(len));
    }
    let mut hasher = blake3::Hasher::new();
    let (mut piece, mut piece_bytes, mut total) = (Piece::new(), 0usize, 0u64);
    while let Some(chunk) = r.chunk().await.map_err(|e| shard(e.to_string()))? {
        total += chunk.len() as u64;
        if total > spec.file_bytes {
            return Err(wrong_size(total));
        }
        hasher.update(&chunk);
        let mut rest = chunk;
        while !rest.is_empty() {
            let take = (spec.piece_bytes - piece_bytes).min(rest.len());
            piece.push(rest.split_to(take));
            piece_bytes += take;
            if piece_bytes == spec.piece_bytes {
                let full = std::mem::take(&mut piece);
                piece_bytes = 0;
                tx.send(full).await.map_err(|_| StreamEnd::WriterGone)?;
            }
        }
    }
    if total != spec.file_bytes || piece_bytes != 0 {
        return Err(wrong_size(total));
    }
    if Hash32(*hasher.finalize().as_bytes()) != spec.root {
        return Err(shard("root mismatch (corrupt shard)".into()));
    }
    Ok(())
}

/// Why the assembler stopped.
enum AssembleError {
    /// A download ended early (its task says why).
    Stream,
    /// The writer stopped (the sink refused a write; the writer says why).
    WriterGone,
    /// The codec refused a segment.
    Erasure(crate::erasure::ErasureError),
}

/// Rebuilds the object segment by segment from the shards `rxs` deliver (`(index, pieces)`),
/// hands its bytes to the writer `out` in order (slices of the pieces, not copies) and
/// returns its `BLAKE3`.
fn assemble(
    layout: &Layout,
    size_bytes: u64,
    mut rxs: Vec<(usize, mpsc::Receiver<Piece>)>,
    out: &std::sync::mpsc::SyncSender<Bytes>,
) -> Result<Hash32, AssembleError> {
    let k = layout.data_shards;
    assert!(rxs.len() == k, "one download per needed shard");
    let (segments, segment_bytes) = (layout.segments(size_bytes), layout.segment_bytes() as u64);
    let mut hasher = blake3::Hasher::new();
    for s in 0..segments {
        let mut pieces: Vec<Option<Piece>> = vec![None; layout.total_shards];
        for (i, rx) in &mut rxs {
            pieces[*i] = Some(rx.blocking_recv().ok_or(AssembleError::Stream)?);
        }
        let take = usize::try_from((size_bytes - s * segment_bytes).min(segment_bytes))
            .expect("a segment fits in memory");
        let mut write = |bytes: Bytes| {
            hasher.update(&bytes);
            out.send(bytes).map_err(|_| AssembleError::WriterGone)
        };
        if pieces[..k].iter().all(Option::is_some) {
            let mut left = take;
            for part in pieces[..k].iter().flatten().flatten() {
                let n = left.min(part.len());
                if n > 0 {
                    write(part.slice(..n))?;
                }
                left -= n;
            }
        } else {
            let whole: Vec<Option<Vec<u8>>> = pieces
                .iter()
                .map(|p| p.as_ref().map(|p| p.concat()))
                .collect();
            let view: Vec<Option<&[u8]>> = whole.iter().map(|p| p.as_deref()).collect();
            let mut segment = decode_segment(layout, s, &view).map_err(AssembleError::Erasure)?;
            segment.truncate(take);
            write(Bytes::from(segment))?;
        }
    }
    Ok(Hash32(*hasher.finalize().as_bytes()))
}

/// The first `k` shards not yet excluded, healthy ones first.
fn pick(d: &Deal, excluded: &[(u32, String)]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..u32::from(d.n))
        .filter(|i| !excluded.iter().any(|(x, _)| x == i))
        .collect();
    order.sort_by_key(|i| d.shards[*i as usize].faulty);
    order.truncate(usize::from(d.k));
    order
}

impl Transfers {
    /// Streams the object of `view` into the sink `make_sink` opens (a fresh one per attempt)
    /// from `k` providers at once (`endpoints`: device address → URL).
    ///
    /// Errors: [`ClientError::Unavailable`] naming each missing shard and why when fewer than
    /// `k` shards can be had; [`ClientError::ObjectMismatch`]; [`ClientError::Io`] when the
    /// sink fails. The sink of a failed attempt is dropped, never returned.
    pub async fn fetch_into<W, F>(
        &self,
        view: &DealView,
        endpoints: &BTreeMap<String, String>,
        mut make_sink: F,
    ) -> Result<W, ClientError>
    where
        W: Write + Send + 'static,
        F: FnMut() -> std::io::Result<W>,
    {
        let d = deal_from_view(view).map_err(|message| ClientError::Reply { message })?;
        let id: Hash32 = view.id.parse().map_err(|_| ClientError::Reply {
            message: format!("deal id {:?}", view.id),
        })?;
        let layout = Layout::new(
            usize::from(d.k),
            usize::from(d.n),
            d.segment_shard_bytes as usize,
        )?;
        let mut missing: Vec<(u32, String)> = (0..u32::from(d.n))
            .filter(|i| !endpoints.contains_key(&view.shards[*i as usize].provider))
            .map(|i| (i, "provider not announced".to_string()))
            .collect();
        // Each failed attempt excludes at least one shard, so `n` attempts bound the loop.
        for _ in 0..=d.n {
            let chosen = pick(&d, &missing);
            if chosen.len() < usize::from(d.k) {
                break;
            }
            let sink = make_sink().map_err(|e| ClientError::Io {
                message: e.to_string(),
            })?;
            match self
                .attempt((&id, &d, view), &layout, &chosen, endpoints, sink)
                .await?
            {
                Attempt::Done(sink, object) if object == d.object => return Ok(sink),
                Attempt::Done(_, object) => {
                    return Err(ClientError::ObjectMismatch {
                        got: object.to_hex(),
                        expected: d.object.to_hex(),
                    })
                }
                Attempt::Failed(failed) => missing.extend(failed),
            }
        }
        missing.sort_by_key(|(i, _)| *i);
        let have = usize::from(d.n) - missing.len();
        let missing = missing
            .iter()
            .map(|(i, why)| format!("{i} ({why})"))
            .collect::<Vec<_>>()
            .join(", ");
        Err(ClientError::Unavailable {
            deal: view.id.clone(),
            have,
            need: usize::from(d.k),
            missing,
        })
    }

    /// One attempt with the shards `chosen`: their downloads and the writer, run together.
    async fn attempt<W: Write + Send + 'static>(
        &self,
        (id, d, view): (&Hash32, &Deal, &DealView),
        layout: &Layout,
        chosen: &[u32],
        endpoints: &BTreeMap<String, String>,
        mut sink: W,
    ) -> Result<Attempt<W>, ClientError> {
        let mut rxs = Vec::with_capacity(chosen.len());
        let mut tasks = Vec::with_capacity(chosen.len());
        for &i in chosen {
            let shard = &d.shards[i as usize];
            let url = shard_url(&endpoints[&view.shards[i as usize].provider], id, i);
            let header = self.receipt_header(id, shard.provider, d.shard_file_bytes);
            let request = self.get_request(&url, header);
            let spec = ShardSpec {
                file_bytes: d.shard_file_bytes,
                root: shard.root,
                piece_bytes: layout.shard_bytes,
            };
            let (tx, rx) = mpsc::channel(SEGMENTS_IN_FLIGHT);
            tasks.push((i, tokio::spawn(stream_shard(request, spec, tx))));
            rxs.push((i as usize, rx));
        }
        let (layout, size) = (*layout, d.size_bytes);
        let (out, bytes) = std::sync::mpsc::sync_channel::<Bytes>(WRITES_IN_FLIGHT);
        let writer = tokio::task::spawn_blocking(move || {
            bytes
                .iter()
                .try_for_each(|b| sink.write_all(&b))
                .map(|()| sink)
        });
        let assembled =
            tokio::task::spawn_blocking(move || assemble(&layout, size, rxs, &out)).await;
        let joined = |e: tokio::task::JoinError| ClientError::Io {
            message: format!("writer: {e}"),
        };
        let sink = writer.await.map_err(joined)?.map_err(|e| ClientError::Io {
            message: e.to_string(),
        })?;
        let written = assembled.map_err(joined)?.map(|object| (sink, object));
        let mut failed = Vec::new();
        for (i, task) in tasks {
            match task.await {
                Ok(Ok(()) | Err(StreamEnd::WriterGone)) => {}
                Ok(Err(StreamEnd::Shard(why))) => failed.push((i, why)),
                Err(e) => failed.push((i, format!("download task: {e}"))),
            }
        }
        match written {
            Err(AssembleError::WriterGone) => Err(ClientError::Io {
                message: "the writer stopped".into(),
            }),
            Err(AssembleError::Erasure(e)) => Err(e.into()),
            _ if !failed.is_empty() => Ok(Attempt::Failed(failed)),
            Ok((sink, object)) => Ok(Attempt::Done(sink, object)),
            Err(AssembleError::Stream) => Err(ClientError::Io {
                message: "a download stopped without a reason".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{blake3_hash, encode_object};

    /// Feeds shard files `files` (index, bytes) to [`assemble`] in pieces, as downloads do.
    fn run_assemble(layout: &Layout, size: u64, files: &[(usize, &[u8])]) -> (Vec<u8>, Hash32) {
        let mut rxs = Vec::new();
        for (i, f) in files {
            let (tx, rx) = mpsc::channel(f.len() / layout.shard_bytes + 1);
            for piece in f.chunks(layout.shard_bytes) {
                let (a, b) = piece.split_at(piece.len() / 3);
                let parts = vec![Bytes::copy_from_slice(a), Bytes::copy_from_slice(b)];
                tx.try_send(parts).expect("room for every piece");
            }
            rxs.push((*i, rx));
        }
        let (tx, written) = std::sync::mpsc::sync_channel(100_000);
        let Ok(object) = assemble(layout, size, rxs, &tx) else {
            panic!("assembly failed")
        };
        drop(tx);
        (written.iter().flat_map(|b| b.to_vec()).collect(), object)
    }

    #[test]
    fn any_k_streamed_shards_rebuild_the_object_and_its_hash() {
        let data: Vec<u8> = (0..70_001u32).map(|i| (i * 29 % 251) as u8).collect();
        let layout = Layout::new(3, 5, 4_096).expect("layout");
        let enc = encode_object(&layout, &data).expect("encode");
        for set in [[0, 1, 2], [2, 3, 4], [0, 3, 4], [1, 2, 4]] {
            let files: Vec<(usize, &[u8])> =
                set.iter().map(|&i| (i, &enc.shard_files[i][..])).collect();
            let (out, object) = run_assemble(&layout, data.len() as u64, &files);
            assert_eq!(out, data, "shards {set:?}");
            assert_eq!(object, blake3_hash(&data));
        }
    }

    #[test]
    fn a_download_that_stops_early_stops_the_writer() {
        let layout = Layout::new(2, 3, 64).expect("layout");
        let data = vec![7u8; 1_000];
        let enc = encode_object(&layout, &data).expect("encode");
        let half = &enc.shard_files[1][..enc.shard_files[1].len() / 2];
        let mut rxs = Vec::new();
        for (i, f) in [(0, &enc.shard_files[0][..]), (1, half)] {
            let (tx, rx) = mpsc::channel(64);
            for piece in f.chunks(64) {
                tx.try_send(vec![Bytes::copy_from_slice(piece)])
                    .expect("room");
            }
            rxs.push((i, rx));
        }
        let (tx, _written) = std::sync::mpsc::sync_channel(1_024);
        assert!(matches!(
            assemble(&layout, 1_000, rxs, &tx),
            Err(AssembleError::Stream)
        ));
    }
}
