//! The storage client (feature `agent`): reads a file once for its shard roots (streamed,
//! segment by segment), picks providers, builds the deal, then reads it again to stream each
//! segment's shards to the `n` providers at once; fetching is in [`fetch`].

pub mod fetch;

use crate::agent::{DEAL_TX_HEADER, RECEIPT_HEADER};
use crate::erasure::{ErasureError, Layout};
use crate::stream::{code_stream, summarize, Shard, StreamError, Summary};
use crate::types::{per_gib, RetrievalReceipt, ShardPlacement, SignedRetrieval, StorageAction};
use crate::views::ProviderView;
use depin_types::wall_clock_ms;
use depin_types::{Address, Amount, Hash32, PublicKey, SecretKey};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;

/// Time allowed for one shard upload or download.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);
/// Segment shards of an upload queued ahead of its connection.
pub const UPLOAD_SEGMENTS_IN_FLIGHT: usize = 16;
/// Domain of deal ids.
pub const DOMAIN_DEAL_ID: &[u8] = b"depin/storage/deal/v1\0";

/// Why a put or get failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Fewer providers than shards have room.
    #[error("need {need} providers with {file_bytes} bytes free, found {found}")]
    TooFewProviders {
        /// Providers needed (`n`).
        need: usize,
        /// Providers with room.
        found: usize,
        /// Bytes each must have free.
        file_bytes: u64,
    },
    /// The layout or codec refused.
    #[error(transparent)]
    Erasure(#[from] ErasureError),
    /// Fewer than `k` shard files could be fetched intact.
    #[error("deal {deal}: {have} of the {need} shards needed are available; missing {missing}")]
    Unavailable {
        /// The deal (hex).
        deal: String,
        /// Intact shards fetched.
        have: usize,
        /// Shards needed (`k`).
        need: usize,
        /// The missing shards and why, e.g. `0 (connection refused), 3 (root mismatch)`.
        missing: String,
    },
    /// The rebuilt object does not hash to the deal's object (never written out).
    #[error("rebuilt object hashes to {got}, the deal records {expected}")]
    ObjectMismatch {
        /// Hash of the rebuilt bytes.
        got: String,
        /// The deal's.
        expected: String,
    },
    /// Reading or coding the file to store failed.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// Writing the fetched object failed.
    #[error("writing the object: {message}")]
    Io {
        /// What failed.
        message: String,
    },
    /// A reply that does not parse.
    #[error("bad reply: {message}")]
    Reply {
        /// What failed.
        message: String,
    },
}

/// An object ready to be stored: its coding, the providers chosen, and the deal's terms.
pub struct PutPlan {
    /// The deal id, the file stored (read again by [`Transfers::upload_all`]), its coding
    /// and size.
    pub object: Coded,
    /// The shard roots and object hash.
    pub summary: Summary,
    /// Provider `i` gets shard file `i`.
    pub providers: Vec<ProviderView>,
    /// Epochs paid for.
    pub term_epochs: u64,
    /// `Σ ⌈price × file / GiB⌉ × term`, bones.
    pub deposit: Amount,
}

impl PutPlan {
    /// The `Open` action for this plan (its deposit as the limit).
    ///
    /// Errors: a provider address that does not parse.
    pub fn open_action(&self) -> Result<StorageAction, ClientError> {
        let shards = self
            .providers
            .iter()
            .zip(&self.summary.roots)
            .map(|(p, root)| {
                Ok(ShardPlacement {
                    provider: parse_address(&p.device)?,
                    root: *root,
                })
            })
            .collect::<Result<Vec<_>, ClientError>>()?;
        Ok(StorageAction::Open {
            id: self.object.deal,
            object: self.summary.object,
            size_bytes: self.object.size_bytes,
            k: u16::try_from(self.object.layout.data_shards).unwrap_or(u16::MAX),
            segment_shard_bytes: u32::try_from(self.object.layout.shard_bytes).unwrap_or(u32::MAX),
            shards,
            term_epochs: self.term_epochs,
            max_deposit_bones: self.deposit,
        })
    }
}

fn parse_address(s: &str) -> Result<PublicKey, ClientError> {
    s.parse::<Address>()
        .map(|a| a.key)
        .map_err(|_| ClientError::Reply {
            message: format!("address {s:?}"),
        })
}

fn price(p: &ProviderView) -> u128 {
    p.price_bones_per_gib_epoch.parse().unwrap_or(u128::MAX)
}

/// The `n` providers a shard file of `file_bytes` goes to: those with room, cheapest first,
/// then most free, then by address (one shard per provider, so never two of a segment).
///
/// Errors: [`ClientError::TooFewProviders`].
pub fn choose_providers(
    providers: &[ProviderView],
    n: usize,
    file_bytes: u64,
) -> Result<Vec<ProviderView>, ClientError> {
    let mut fit: Vec<&ProviderView> = providers
        .iter()
        .filter(|p| p.free_bytes >= file_bytes)
        .collect();
    fit.sort_by_cached_key(|p| (price(p), std::cmp::Reverse(p.free_bytes), p.device.clone()));
    if fit.len() < n {
        let (need, found) = (n, fit.len());
        return Err(ClientError::TooFewProviders {
            need,
            found,
            file_bytes,
        });
    }
    Ok(fit.into_iter().take(n).cloned().collect())
}

/// A deal id unique to the client, object and a client nonce.
pub fn deal_id(client: &PublicKey, object: &Hash32, nonce: u64) -> Hash32 {
    let bytes = [&client.0[..], &object.0, &nonce.to_be_bytes()].concat();
    Hash32::digest_with_domain(DOMAIN_DEAL_ID, &bytes)
}

/// Reads `source` once for its shard roots coded `k` of `n` and plans its deal over
/// `providers` for `term_epochs`.
///
/// Errors: reading the file, layout, too few providers, overflow of the price.
pub fn plan_put(
    client: &PublicKey,
    nonce: u64,
    source: &Path,
    (k, n): (usize, usize),
    providers: &[ProviderView],
    term_epochs: u64,
) -> Result<PutPlan, ClientError> {
    let io = |e: std::io::Error| ClientError::Io {
        message: format!("{}: {e}", source.display()),
    };
    let file = std::fs::File::open(source).map_err(io)?;
    let size_bytes = file.metadata().map_err(io)?.len();
    let ssb = crate::object::segment_shard_bytes_for(size_bytes, k);
    let layout = Layout::new(k, n, ssb)?;
    let summary = summarize(&layout, file, size_bytes)?;
    let file_bytes = layout.shard_file_bytes(size_bytes);
    let chosen = choose_providers(providers, n, file_bytes)?;
    let overflow = || ClientError::Reply {
        message: "price overflows".into(),
    };
    let mut rate = Amount::ZERO;
    for p in &chosen {
        let r = per_gib(Amount(price(p)), file_bytes).ok_or_else(overflow)?;
        rate = rate.checked_add(r).map_err(|_| overflow())?;
    }
    let deposit = rate
        .checked_mul(u128::from(term_epochs))
        .map_err(|_| overflow())?;
    Ok(PutPlan {
        object: Coded {
            deal: deal_id(client, &summary.object, nonce),
            source: source.to_path_buf(),
            layout,
            size_bytes,
        },
        providers: chosen,
        term_epochs,
        deposit,
        summary,
    })
}

/// An object in a file, as a deal codes it.
pub struct Coded {
    /// The deal.
    pub deal: Hash32,
    /// The file holding the object.
    pub source: PathBuf,
    /// The deal's coding.
    pub layout: Layout,
    /// Object size, bytes.
    pub size_bytes: u64,
}

/// Talks to providers over HTTP on behalf of a client key.
pub struct Transfers {
    http: reqwest::Client,
    /// Next receipt nonce (starts at the wall clock, so restarts do not repeat receipts).
    nonce: std::sync::atomic::AtomicU64,
    /// The client key (signs retrieval receipts).
    pub key: SecretKey,
    /// Chain id (in receipts).
    pub chain_id: String,
}

impl Transfers {
    /// Transfers signed by `key` on chain `chain_id`.
    pub fn new(key: SecretKey, chain_id: String) -> Transfers {
        let http = reqwest::Client::builder()
            .timeout(TRANSFER_TIMEOUT)
            .build()
            .unwrap_or_default();
        Transfers {
            http,
            nonce: std::sync::atomic::AtomicU64::new(wall_clock_ms()),
            key,
            chain_id,
        }
    }

    /// Uploads every shard file of `plan` at once: the file is read and coded again segment
    /// by segment on a blocking thread and each segment's shards are streamed to their
    /// providers ([`UPLOAD_SEGMENTS_IN_FLIGHT`] ahead at most); one result per shard. A
    /// provider that fails does not stop the others. `deal_tx`, the deal's signed `Open`,
    /// goes along so that providers receive while the deal's block is being made.
    pub async fn upload_all(
        &self,
        plan: &PutPlan,
        deal_tx: Option<&depin_types::SignedTransaction>,
    ) -> Vec<Result<(), String>> {
        let targets: Vec<(u32, String)> = (0u32..)
            .zip(&plan.providers)
            .map(|(i, p)| (i, p.endpoint.clone()))
            .collect();
        self.upload_shards(&plan.object, &targets, deal_tx).await
    }

    /// Uploads shard file `i` of `object` to `endpoint` for each `(i, endpoint)` of
    /// `targets` (distinct shards), coding the object from its file segment by segment as
    /// [`Transfers::upload_all`] does; one result per target, in order.
    pub async fn upload_shards(
        &self,
        object: &Coded,
        targets: &[(u32, String)],
        deal_tx: Option<&depin_types::SignedTransaction>,
    ) -> Vec<Result<(), String>> {
        let deal_tx = deal_tx.map(|t| hex::encode(t.to_bytes()));
        let file_bytes = object.layout.shard_file_bytes(object.size_bytes);
        let mut set = tokio::task::JoinSet::new();
        let mut senders: Vec<Option<mpsc::Sender<Shard>>> = vec![None; object.layout.total_shards];
        for (t, (i, endpoint)) in targets.iter().enumerate() {
            let (tx, rx) = mpsc::channel::<Shard>(UPLOAD_SEGMENTS_IN_FLIGHT);
            let Some(slot) = senders.get_mut(*i as usize) else {
                continue; // Not a shard of this layout: stays "not attempted".
            };
            *slot = Some(tx);
            let stream = tokio_stream::wrappers::ReceiverStream::new(rx)
                .map(|piece| Ok::<_, std::io::Error>(bytes_of(piece)));
            let mut request = self
                .http
                .put(shard_url(endpoint, &object.deal, *i))
                .header(reqwest::header::CONTENT_LENGTH, file_bytes)
                .body(reqwest::Body::wrap_stream(stream));
            if let Some(d) = &deal_tx {
                request = request.header(DEAL_TX_HEADER, d);
            }
            set.spawn(async move { (t, send_upload(request).await) });
        }
        let (layout, size, source) = (object.layout, object.size_bytes, object.source.clone());
        let producer = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&source).map_err(|e| e.to_string())?;
            code_stream(&layout, file, size, |_, pieces| {
                for (tx, piece) in senders.iter_mut().zip(pieces) {
                    if tx.as_ref().is_some_and(|t| t.blocking_send(piece).is_err()) {
                        *tx = None;
                    }
                }
                senders.iter().any(Option::is_some)
            })
            .map_err(|e| e.to_string())
        });
        let mut out: Vec<Result<(), String>> = vec![Err("not attempted".into()); targets.len()];
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((t, r)) => out[t] = r,
                Err(e) => tracing::error!(error = %e, "upload task failed"),
            }
        }
        let read = producer.await.map_err(|e| e.to_string()).and_then(|r| r);
        if let Err(e) = read {
            let why = format!("reading {}: {e}", object.source.display());
            out.iter_mut().for_each(|r| *r = Err(why.clone()));
        }
        out
    }

    pub(crate) fn receipt_header(&self, id: &Hash32, provider: PublicKey, bytes: u64) -> String {
        let receipt = RetrievalReceipt {
            chain_id: self.chain_id.clone(),
            deal: *id,
            provider,
            bytes,
            issued_ms: wall_clock_ms(),
            nonce: self
                .nonce
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        let signed = SignedRetrieval {
            signature: self.key.sign(&receipt.signing_bytes()),
            client: self.key.public(),
            receipt,
        };
        hex::encode(borsh::to_vec(&signed).expect("to a Vec"))
    }

    /// A `GET` of `url` carrying the retrieval receipt `receipt_header`.
    pub(crate) fn get_request(&self, url: &str, receipt_header: String) -> reqwest::RequestBuilder {
        self.http.get(url).header(RECEIPT_HEADER, receipt_header)
    }
}

pub(crate) fn shard_url(endpoint: &str, id: &Hash32, index: u32) -> String {
    format!("{}/v1/shards/{id}/{index}", endpoint.trim_end_matches('/'))
}

/// A shard piece as a request body chunk (no copy; its buffer goes back to the coder's pool
/// once sent).
fn bytes_of(piece: Shard) -> axum::body::Bytes {
    axum::body::Bytes::from_owner(piece)
}

async fn send_upload(request: reqwest::RequestBuilder) -> Result<(), String> {
    let r = request.send().await.map_err(|e| e.to_string())?;
    if r.status().is_success() {
        return Ok(());
    }
    let status = r.status();
    Err(format!("{status}: {}", r.text().await.unwrap_or_default()))
}
