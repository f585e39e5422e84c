//! The storage provider agent: keeps shard files on disk, accepts uploads that an open deal
//! covers, serves downloads against a client-signed retrieval receipt (forwarded to the
//! oracle, which charges the client), and answers every epoch's challenge of each shard it
//! holds with a proof report.
//!
//! Disk layout under `--dir`: `<deal hex>/<index>.shard` (the shard file) and
//! `<deal hex>/<index>.obao` (its bao outboard); both written to a temporary name, synced and
//! renamed, so a crash never leaves a half shard under the real name. Shard files are written
//! past the page cache ([`crate::agent::direct`]): they stay cold until challenged.
//!
//! HTTP (all errors JSON `{code, message}`):
//! - `PUT /v1/shards/{deal}/{index}`: body the shard file, written to disk and hashed as it
//!   arrives (memory stays at a few 1 MiB blocks). `403 not_covered` unless the
//!   ledger's deal places shard `index` on this provider; `400 size_mismatch` /
//!   `root_mismatch` unless the body is exactly the shard file the deal records. A deal not
//!   yet committed is accepted with its signed `Open` transaction in `x-depin-deal-tx` (hex
//!   borsh): the body is received meanwhile and kept only once the deal lands as signed
//!   (within `DEAL_WAIT`), so an upload overlaps the deal's block. Such uploads hold at most
//!   `MAX_PENDING_UPLOAD_BYTES` at once (beyond: `403 not_covered`, retry after the block).
//! - `GET /v1/shards/{deal}/{index}` with header `x-depin-receipt` (hex borsh
//!   `SignedRetrieval` for the whole file): the shard file; `402 receipt_required` without a
//!   valid receipt from the deal's client; `404 not_found` if not held.

use crate::agent::direct::{open_direct, read_block, BlockPool, DirectFile, PooledBlock};
use crate::agent::{ProviderError, DEAL_TX_HEADER, RECEIPT_HEADER};
use crate::erasure::Layout;
use crate::proof::{self, ChallengeSeed, ShardTree};
use crate::types::{Deal, SignedRetrieval, StorageAction, StorageReport, MODULE};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use depin_client::{NodeClient, OracleClient};
use depin_types::tx::SignedTransaction;
use depin_types::{Hash32, Report, SecretKey};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

/// Bytes read from disk per chunk of a download.
pub const READ_CHUNK_BYTES: usize = 1 << 20;
/// How long a provider waits for the deal of an upload sent with its transaction
/// ([`DEAL_TX_HEADER`]) before dropping what it received.
pub const DEAL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// How often it asks the node meanwhile.
pub const DEAL_POLL: std::time::Duration = std::time::Duration::from_millis(50);
/// Bytes of each block of an upload (written to disk as it is, past the page cache): small,
/// so that an upload's blocks are few fresh pages.
pub const UPLOAD_BLOCK_BYTES: usize = 1 << 20;
/// Blocks of an upload queued between the socket and the disk writer.
pub const UPLOAD_BLOCKS_IN_FLIGHT: usize = 4;
/// Chunks of a download read ahead of the socket.
pub const CHUNKS_IN_FLIGHT: usize = 4;
/// Most bytes of a refused upload's body read and dropped before the refusal is sent
/// (16 MiB). The refusal usually comes before the body is read; a server that closes the
/// connection with unread bytes makes the client's kernel reset it, often before the client
/// has read the refusal (nginx's "lingering close" answers the same race). A longer body is
/// cut off and its client sees a transport error instead of the code.
pub const MAX_DRAIN_BYTES: u64 = 16 << 20;
/// Longest wait for a refused upload's body while draining it.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Most shards proven per epoch (a bound on the prover's loop).
pub const MAX_SHARDS_PER_EPOCH: usize = 100_000;

/// The provider's settings and connections.
pub struct Provider {
    /// The device key (signs reports; the deals name it).
    pub device: SecretKey,
    /// Chain id (reports and receipts).
    pub chain_id: String,
    /// Where shard files live.
    pub dir: PathBuf,
    /// The node (deals, entropy).
    pub node: NodeClient,
    /// The oracle (proof and retrieval reports).
    pub oracle: OracleClient,
}

/// A JSON error reply.
fn reply(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({"code": code, "message": message.into()});
    (status, Json(body)).into_response()
}

impl From<ProviderError> for Response {
    fn from(e: ProviderError) -> Response {
        let status = match &e {
            ProviderError::NotCovered { .. } => StatusCode::FORBIDDEN,
            ProviderError::ReceiptRequired { .. } => StatusCode::PAYMENT_REQUIRED,
            ProviderError::NotHeld { .. } => StatusCode::NOT_FOUND,
            ProviderError::SizeMismatch { .. } | ProviderError::RootMismatch { .. } => {
                StatusCode::BAD_REQUEST
            }
            ProviderError::Io { .. }
            | ProviderError::Node { .. }
            | ProviderError::Corrupt { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        reply(status, e.code(), e.to_string())
    }
}

impl Provider {
    fn shard_path(&self, deal: &Hash32, index: u32, ext: &str) -> PathBuf {
        self.dir.join(deal.to_hex()).join(format!("{index}.{ext}"))
    }

    /// The deal, if it places shard `index` on this provider.
    async fn covering_deal(&self, deal: &Hash32, index: u32) -> Result<Deal, ProviderError> {
        let view = crate::queries::deal(&self.node, deal)
            .await
            .map_err(|e| match e {
                depin_client::ClientError::Rejected { status: 404, .. } => {
                    ProviderError::NotCovered {
                        reason: format!("no deal {deal}"),
                    }
                }
                other => ProviderError::Node {
                    message: other.to_string(),
                },
            })?;
        let d = crate::views::deal_from_view(&view)
            .map_err(|message| ProviderError::Node { message })?;
        let me = self.device.public();
        match d.shards.get(index as usize) {
            Some(s) if s.provider == me && d.state != crate::types::DealState::Cancelled => Ok(d),
            _ => Err(ProviderError::NotCovered {
                reason: format!("deal {deal} places no shard {index} on this provider"),
            }),
        }
    }

    /// Stores an uploaded shard file after checking the deal covers it, byte for byte: the
    /// body is written to a temporary file as it arrives while its tree (root and outboard)
    /// is built in the same pass; only a body of the deal's size and root is synced and
    /// renamed into place.
    ///
    /// Errors: [`ProviderError::NotCovered`], size or root mismatch, I/O.
    pub async fn accept_upload(
        &self,
        (deal, index): (&Hash32, u32),
        (announced_bytes, deal_tx): (Option<u64>, Option<&str>),
        body: &mut Body,
    ) -> Result<(), ProviderError> {
        let want = self.expected_upload(deal, index, deal_tx).await?;
        let _held = want
            .pending
            .then(|| Pending::hold(want.file_bytes))
            .transpose()?;
        let expected = want.file_bytes;
        if let Some(got) = announced_bytes.filter(|b| *b != expected) {
            return Err(ProviderError::SizeMismatch { got, expected });
        }
        let path = self.shard_path(deal, index, "shard");
        // A name of its own, so that two uploads of one shard never write the same file.
        let upload = UPLOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("shard.{upload}.tmp"));
        let received = receive(&tmp, body, &want).await;
        let kept = match received {
            Ok(tree) if want.pending => self.wait_for_deal(deal, index, &want).await.map(|()| tree),
            other => other,
        };
        let tree = match kept {
            Ok(tree) => tree,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        write_atomic(&self.shard_path(deal, index, "obao"), &tree.outboard)?;
        std::fs::rename(&tmp, &path).map_err(|e| ProviderError::Io {
            message: format!("{}: {e}", path.display()),
        })
    }

    /// What an upload of shard `index` of `deal` must be: from the committed deal, or else
    /// from the deal's signed `Open` transaction sent with it (`deal_tx`).
    async fn expected_upload(
        &self,
        deal: &Hash32,
        index: u32,
        deal_tx: Option<&str>,
    ) -> Result<Expected, ProviderError> {
        match (self.covering_deal(deal, index).await, deal_tx) {
            (Ok(d), _) => Ok(Expected {
                file_bytes: d.shard_file_bytes,
                root: d.shards[index as usize].root,
                pending: false,
            }),
            (Err(ProviderError::NotCovered { .. }), Some(raw)) => {
                self.pending_open(deal, index, raw)
            }
            (Err(e), _) => Err(e),
        }
    }

    /// The upload a not yet committed deal expects, from its signed `Open` transaction
    /// (hex borsh): signed by its signer on this chain, for `deal`, placing shard `index` here.
    fn pending_open(
        &self,
        deal: &Hash32,
        index: u32,
        raw: &str,
    ) -> Result<Expected, ProviderError> {
        let refuse = |why: &str| ProviderError::NotCovered {
            reason: format!("deal {deal} is not committed and its transaction {why}"),
        };
        let bytes = hex::decode(raw).map_err(|_| refuse("is not hex"))?;
        let stx: SignedTransaction =
            borsh::from_slice(&bytes).map_err(|_| refuse("does not decode"))?;
        if stx.tx.chain_id != self.chain_id {
            return Err(refuse("is for another chain"));
        }
        let signed = stx
            .tx
            .signer
            .verify(&stx.tx.signing_bytes(), &stx.signature);
        signed.map_err(|_| refuse("signature does not verify"))?;
        let Some(StorageAction::Open {
            id,
            size_bytes,
            k,
            segment_shard_bytes,
            shards,
            ..
        }) = StorageAction::from_action(&stx.tx.action)
        else {
            return Err(refuse("is not a storage open"));
        };
        let me = self.device.public();
        let shard = shards.get(index as usize).filter(|s| s.provider == me);
        let Some(shard) = shard.filter(|_| id == *deal) else {
            return Err(refuse("places no such shard here"));
        };
        let layout = Layout::new(usize::from(k), shards.len(), segment_shard_bytes as usize)
            .map_err(|e| refuse(&e.to_string()))?;
        Ok(Expected {
            file_bytes: layout.shard_file_bytes(size_bytes),
            root: shard.root,
            pending: true,
        })
    }

    /// Waits (at most [`DEAL_WAIT`]) until the deal of an upload received with its
    /// transaction is committed as that transaction said.
    async fn wait_for_deal(
        &self,
        deal: &Hash32,
        index: u32,
        want: &Expected,
    ) -> Result<(), ProviderError> {
        let start = std::time::Instant::now();
        // Bounded by DEAL_WAIT.
        loop {
            match self.covering_deal(deal, index).await {
                Ok(d)
                    if d.shard_file_bytes == want.file_bytes
                        && d.shards[index as usize].root == want.root =>
                {
                    return Ok(())
                }
                Ok(_) => {
                    return Err(ProviderError::NotCovered {
                        reason: format!("deal {deal} was committed unlike its transaction"),
                    })
                }
                Err(ProviderError::NotCovered { .. }) if start.elapsed() < DEAL_WAIT => {
                    tokio::time::sleep(DEAL_POLL).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The shard file for a download paid by `receipt` (its length in bytes and a body that
    /// streams it from disk); the receipt goes to the oracle.
    ///
    /// Errors: [`ProviderError::ReceiptRequired`], [`ProviderError::NotHeld`], I/O.
    pub async fn serve_download(
        &self,
        deal: &Hash32,
        index: u32,
        receipt: Option<&str>,
    ) -> Result<(u64, Body), ProviderError> {
        let path = self.shard_path(deal, index, "shard");
        let not_held = || ProviderError::NotHeld {
            deal: deal.to_hex(),
            index,
        };
        let len = std::fs::metadata(&path).map_err(|_| not_held())?.len();
        let d = self.covering_deal(deal, index).await?;
        let receipt = self.check_receipt(&d, deal, len, receipt)?;
        let (file, _) = open_direct(&path).map_err(|_| not_held())?;
        let payload = StorageReport::Retrieval(receipt);
        let report = self.report(&payload, depin_types::wall_clock_ms());
        if let Err(e) = self.oracle.submit(&report).await {
            tracing::warn!(error = %e, deal = %deal, "retrieval receipt not delivered");
        }
        Ok((len, stream_file(file, len)))
    }

    fn check_receipt(
        &self,
        d: &Deal,
        deal: &Hash32,
        bytes: u64,
        header: Option<&str>,
    ) -> Result<SignedRetrieval, ProviderError> {
        let required = |reason: &str| ProviderError::ReceiptRequired {
            reason: reason.to_string(),
        };
        let raw = header.ok_or_else(|| required("no x-depin-receipt header"))?;
        let raw = hex::decode(raw).map_err(|_| required("receipt is not hex"))?;
        let r: SignedRetrieval =
            borsh::from_slice(&raw).map_err(|_| required("receipt does not decode"))?;
        let rc = &r.receipt;
        if rc.deal != *deal || rc.provider != self.device.public() || rc.bytes < bytes {
            return Err(required("receipt is not for this shard file"));
        }
        if r.client != d.client || rc.chain_id != self.chain_id {
            return Err(required("receipt is not from the deal's client"));
        }
        if r.client.verify(&rc.signing_bytes(), &r.signature).is_err() {
            return Err(required("receipt signature does not verify"));
        }
        Ok(r)
    }

    /// The proof report of shard `index` of `deal` for `epoch` with entropy `entropy`,
    /// challenging `count` groups.
    ///
    /// Errors: [`ProviderError::NotHeld`], or [`ProviderError::Corrupt`] when the stored
    /// shard no longer matches its tree (a bit flip found before answering).
    pub fn prove(
        &self,
        (deal, index, d): (&Hash32, u32, &Deal),
        (epoch, entropy): (u64, &Hash32),
        count: u32,
        now_ms: u64,
    ) -> Result<depin_types::SignedReport, ProviderError> {
        let not_held = || ProviderError::NotHeld {
            deal: deal.to_hex(),
            index,
        };
        // Read at the challenged groups only, never whole.
        let shard =
            std::fs::File::open(self.shard_path(deal, index, "shard")).map_err(|_| not_held())?;
        let outboard =
            std::fs::read(self.shard_path(deal, index, "obao")).map_err(|_| not_held())?;
        let root = d.shards[index as usize].root;
        let tree = ShardTree {
            root,
            size_bytes: d.shard_file_bytes,
            outboard,
        };
        let seed = ChallengeSeed {
            entropy,
            deal,
            provider: &self.device.public().0,
            shard: index,
        };
        let corrupt = |e: proof::ProofError| ProviderError::Corrupt {
            reason: e.to_string(),
        };
        let groups = proof::challenge(&seed, tree.groups(), count).map_err(corrupt)?;
        let proof = proof::prove(&shard, &tree, &groups).map_err(corrupt)?;
        let payload = StorageReport::Proof {
            deal: *deal,
            index,
            epoch,
            proof,
        };
        Ok(self.report(&payload, now_ms))
    }

    /// A storage report of `payload` stamped `now_ms`, signed by the device.
    fn report(&self, payload: &StorageReport, now_ms: u64) -> depin_types::SignedReport {
        let report = Report {
            chain_id: self.chain_id.clone(),
            module: MODULE.into(),
            device: self.device.public(),
            timestamp_ms: now_ms,
            payload: borsh::to_vec(payload).expect("writing to a Vec cannot fail"),
        };
        report.sign(&self.device)
    }
}

/// A body streaming the first `len` bytes of `file` (opened by [`open_direct`]), read
/// [`READ_CHUNK_BYTES`] at a time into recycled blocks on a blocking thread, at most
/// [`CHUNKS_IN_FLIGHT`] ahead of the socket. A read error ends the body early (the client
/// sees a short shard and tries another provider).
fn stream_file(mut file: std::fs::File, len: u64) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let pool = BlockPool::new(READ_CHUNK_BYTES);
        let mut left = len;
        // Bounded: each turn reads at least one byte of the `len` left, or stops.
        while left > 0 {
            let n = usize::try_from(left.min(READ_CHUNK_BYTES as u64)).unwrap_or(READ_CHUNK_BYTES);
            let mut block = pool.take();
            let read = match read_block(&mut file, &mut block, n) {
                Ok(got) if got == n => Ok(Bytes::from_owner(block)),
                Ok(_) => Err(std::io::ErrorKind::UnexpectedEof.into()),
                Err(e) => Err(e),
            };
            let failed = read.is_err();
            if tx.blocking_send(read).is_err() || failed {
                return;
            }
            left -= n as u64;
        }
    });
    Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// Most bytes a provider receives at once for deals not committed yet: a bound on what anyone
/// who signs an `Open` naming this provider can make it write before the deal is paid for.
pub const MAX_PENDING_UPLOAD_BYTES: u64 = 8 << 30;

/// Bytes of the uploads now waiting for their deal (this process's provider).
static PENDING_BYTES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A share of [`MAX_PENDING_UPLOAD_BYTES`] held by one upload, given back when dropped.
struct Pending(u64);

impl Pending {
    /// Holds `bytes` of the pending budget.
    ///
    /// Errors: [`ProviderError::NotCovered`] when they do not fit.
    fn hold(bytes: u64) -> Result<Pending, ProviderError> {
        use std::sync::atomic::Ordering;
        let fits = |held: u64| {
            held.checked_add(bytes)
                .filter(|t| *t <= MAX_PENDING_UPLOAD_BYTES)
        };
        match PENDING_BYTES.fetch_update(Ordering::AcqRel, Ordering::Acquire, fits) {
            Ok(_) => Ok(Pending(bytes)),
            Err(held) => Err(ProviderError::NotCovered {
                reason: format!(
                    "the deal is not committed and uploads waiting for theirs already hold \
                     {held} of {MAX_PENDING_UPLOAD_BYTES} bytes; retry once it is"
                ),
            }),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        PENDING_BYTES.fetch_sub(self.0, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Uploads started by this process (names their temporary files).
static UPLOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What an upload must be.
struct Expected {
    /// The shard file's size, bytes.
    file_bytes: u64,
    /// Its root.
    root: Hash32,
    /// The deal is not committed yet (the upload came with its transaction).
    pending: bool,
}

/// Receives the upload `body` into `tmp` (synced), building its tree in the same pass, and
/// checks it is the shard file `want` describes.
///
/// Errors: size or root mismatch, I/O.
async fn receive(
    tmp: &FsPath,
    body: &mut Body,
    want: &Expected,
) -> Result<ShardTree, ProviderError> {
    let expected = want.file_bytes;
    let (tx, rx) = tokio::sync::mpsc::channel(UPLOAD_BLOCKS_IN_FLIGHT);
    let file = create_file(tmp)?;
    let writer = tokio::task::spawn_blocking(move || write_and_hash(rx, file, expected));
    let received = forward_body(body, expected, tx).await;
    let written = writer.await.map_err(|e| ProviderError::Io {
        message: format!("upload writer: {e}"),
    })?;
    match (received, written) {
        (Err(e), _) => Err(e),
        (Ok(got), _) if got != expected => Err(ProviderError::SizeMismatch { got, expected }),
        (Ok(_), Err(e)) => Err(e),
        (Ok(_), Ok(tree)) if tree.root != want.root => Err(ProviderError::RootMismatch {
            got: tree.root.to_hex(),
            expected: want.root.to_hex(),
        }),
        (Ok(_), Ok(tree)) => Ok(tree),
    }
}

/// Creates `path` (and its directory) for writing past the page cache.
fn create_file(path: &FsPath) -> Result<DirectFile, ProviderError> {
    let io = |e: std::io::Error| ProviderError::Io {
        message: format!("{}: {e}", path.display()),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    DirectFile::create(path).map_err(io)
}

/// Copies the body's bytes into blocks as they arrive (so that the HTTP stack reuses its
/// buffers) and sends each full block, then the last one, to the writer, which gives them
/// back to the pool once written and hashed (at most `UPLOAD_BLOCKS_IN_FLIGHT + 3` blocks
/// exist at once: those queued, the one filling, the one waiting to be queued and the
/// writer's); the bytes received. Stops (and says so) as soon as the body is longer than
/// `expected`.
///
/// Errors: [`ProviderError::SizeMismatch`] for a body longer than `expected`;
/// [`ProviderError::Io`] when the body breaks off.
async fn forward_body(
    body: &mut Body,
    expected: u64,
    tx: tokio::sync::mpsc::Sender<PooledBlock>,
) -> Result<u64, ProviderError> {
    use http_body_util::BodyExt;
    let pool = BlockPool::new(UPLOAD_BLOCK_BYTES);
    let mut block = pool.take();
    let mut got = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ProviderError::Io {
            message: format!("upload body: {e}"),
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        got += data.len() as u64;
        if got > expected {
            return Err(ProviderError::SizeMismatch { got, expected });
        }
        let mut rest = &data[..];
        // Bounded by the frame: each turn takes at least one byte, or a full block out.
        while !rest.is_empty() {
            rest = &rest[block.fill_from(rest)..];
            if block.is_full()
                && tx
                    .send(std::mem::replace(&mut block, pool.take()))
                    .await
                    .is_err()
            {
                return Ok(got); // The writer stopped; its result says why.
            }
        }
    }
    if !block.is_empty() {
        let _ = tx.send(block).await;
    }
    Ok(got)
}

/// The upload's bytes, read block by block from the channel, each block written to `file`
/// as it comes: a reader for the tree builder that tees to disk.
struct TeeReader {
    rx: tokio::sync::mpsc::Receiver<PooledBlock>,
    block: Option<PooledBlock>,
    /// Bytes of `block` already read.
    read_bytes: usize,
    file: DirectFile,
}

impl std::io::Read for TeeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let done = |b: &Option<PooledBlock>, read: usize| {
            b.as_ref().is_none_or(|b| read == b.bytes().len())
        };
        // Bounded by the sender: each turn takes one block, and the channel ends with the body.
        while done(&self.block, self.read_bytes) {
            let Some(next) = self.rx.blocking_recv() else {
                return Ok(0);
            };
            self.file.write_block(&next)?;
            self.block = Some(next); // The block read before goes back to its pool.
            self.read_bytes = 0;
        }
        let Some(block) = &self.block else {
            return Ok(0);
        };
        let unread = &block.bytes()[self.read_bytes..];
        let n = buf.len().min(unread.len());
        buf[..n].copy_from_slice(&unread[..n]);
        self.read_bytes += n;
        Ok(n)
    }
}

/// Writes the `expected` bytes the channel delivers to `file` (synced) and returns their
/// tree, built in the same pass.
///
/// Errors: [`ProviderError::SizeMismatch`] when the channel ends early, I/O.
fn write_and_hash(
    rx: tokio::sync::mpsc::Receiver<PooledBlock>,
    file: DirectFile,
    expected: u64,
) -> Result<ShardTree, ProviderError> {
    let io = |e: std::io::Error| ProviderError::Io {
        message: format!("writing the shard: {e}"),
    };
    let mut reader = TeeReader {
        rx,
        block: None,
        read_bytes: 0,
        file,
    };
    let tree = match ShardTree::from_reader(&mut reader, expected) {
        Ok(tree) => tree,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(ProviderError::SizeMismatch { got: 0, expected })
        }
        Err(e) => return Err(io(e)),
    };
    reader.file.finish().map_err(io)?;
    Ok(tree)
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
fn write_atomic(path: &FsPath, bytes: &[u8]) -> Result<(), ProviderError> {
    use std::io::Write;
    let io = |e: std::io::Error| ProviderError::Io {
        message: format!("{}: {e}", path.display()),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The `400 invalid_id` reply to a deal id that is not 64 hex digits.
fn bad_deal_id() -> Response {
    reply(
        StatusCode::BAD_REQUEST,
        "invalid_id",
        "deal id is not 64 hex digits",
    )
}

async fn put_shard(
    State(p): State<Arc<Provider>>,
    Path((deal, index)): Path<(String, u32)>,
    headers: HeaderMap,
    mut body: Body,
) -> Response {
    let Ok(deal) = deal.parse::<Hash32>() else {
        drain(&mut body).await;
        return bad_deal_id();
    };
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let deal_tx = headers.get(DEAL_TX_HEADER).and_then(|v| v.to_str().ok());
    match p
        .accept_upload((&deal, index), (announced, deal_tx), &mut body)
        .await
    {
        Ok(()) => reply(
            StatusCode::CREATED,
            "stored",
            format!("shard {index} of {deal}"),
        ),
        Err(e) => {
            drain(&mut body).await;
            e.into()
        }
    }
}

/// Reads and drops what is left of a refused upload's `body`, at most [`MAX_DRAIN_BYTES`]
/// and for at most [`DRAIN_TIMEOUT`], so that the client reads the refusal rather than a
/// reset connection.
async fn drain(body: &mut Body) {
    use http_body_util::BodyExt;
    let read_to_end = async {
        let mut dropped_bytes = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            dropped_bytes += frame.data_ref().map_or(0, |d| d.len() as u64);
            if dropped_bytes > MAX_DRAIN_BYTES {
                return false;
            }
        }
        true
    };
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, read_to_end).await;
    if drained != Ok(true) {
        tracing::debug!("refused upload body cut off undrained");
    }
}

async fn get_shard(
    State(p): State<Arc<Provider>>,
    Path((deal, index)): Path<(String, u32)>,
    headers: HeaderMap,
) -> Response {
    let Ok(deal) = deal.parse::<Hash32>() else {
        return bad_deal_id();
    };
    let receipt = headers.get(RECEIPT_HEADER).and_then(|v| v.to_str().ok());
    match p.serve_download(&deal, index, receipt).await {
        Ok((len, body)) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_LENGTH, len.to_string())],
            body,
        )
            .into_response(),
        Err(e) => e.into(),
    }
}

/// The provider's HTTP routes.
pub fn router(p: Arc<Provider>) -> axum::Router {
    axum::Router::new()
        .route(
            "/v1/shards/{deal}/{index}",
            axum::routing::put(put_shard).get(get_shard),
        )
        .route("/health", axum::routing::get(|| async { "ok" }))
        .with_state(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_waiting_for_their_deal_share_a_bounded_budget() {
        let a = Pending::hold(MAX_PENDING_UPLOAD_BYTES - 10).expect("fits");
        assert!(matches!(
            Pending::hold(11),
            Err(ProviderError::NotCovered { .. })
        ));
        let b = Pending::hold(10).expect("fits exactly");
        drop(a);
        let c = Pending::hold(MAX_PENDING_UPLOAD_BYTES - 10).expect("given back when dropped");
        drop((b, c));
        assert_eq!(PENDING_BYTES.load(std::sync::atomic::Ordering::Acquire), 0);
        assert!(Pending::hold(u64::MAX).is_err(), "no overflow");
    }
}
