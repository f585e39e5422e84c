//! Typed client of the node's REST API, used by the CLI, agents and tests.
//!
//! Every call returns [`ClientError::Rejected`] with the node's stable reason code when the
//! node answers 4xx/5xx, so callers can match on codes such as `nonce_too_low`.

use depin_api::*;
use depin_types::{Hash32, ReportOutcome, SignedTransaction};
use std::time::Duration;

/// Errors of API calls.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node refused, with a reason code.
    #[error("node refused ({status}): {code}: {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Stable reason code.
        code: String,
        /// Detail.
        message: String,
    },
    /// The node could not be reached or the connection broke.
    #[error("cannot reach node at {url}: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The reply did not decode.
    #[error("unexpected reply from {url}: {message}")]
    Decode {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// Waiting for a transaction timed out.
    #[error("transaction {tx_id} not committed after {waited_ms} ms")]
    Timeout {
        /// The transaction.
        tx_id: String,
        /// How long we waited.
        waited_ms: u64,
    },
}

impl ClientError {
    /// The node's reason code, if the node answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// How often [`NodeClient::wait_committed`] polls, in ms.
pub const POLL_INTERVAL_MS: u64 = 50;

/// A client of one node.
#[derive(Clone, Debug)]
pub struct NodeClient {
    base: String,
    http: reqwest::Client,
}

/// `path?height=…&after=…` with the parameters given.
fn page_path(path: &str, height: Option<u64>, after: Option<&str>) -> String {
    let mut q = Vec::new();
    if let Some(h) = height {
        q.push(format!("height={h}"));
    }
    if let Some(a) = after {
        q.push(format!("after={a}"));
    }
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{}", q.join("&"))
}

/// A page of a listing read at one height (the node's and the modules' listings implement it,
/// so that [`NodeClient::all_pages`] reads them whole).
pub trait Paged: serde::de::DeserializeOwned {
    /// What the page lists.
    type Item;
    /// The height it was read at.
    fn height(&self) -> u64;
    /// Its items and the `after` of the next page.
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
}

impl Paged for DevicePage {
    type Item = DeviceView;
    fn height(&self) -> u64 {
        self.height
    }
    fn into_parts(self) -> (Vec<DeviceView>, Option<String>) {
        (self.devices, self.next)
    }
}

impl Paged for CreditPage {
    type Item = CreditBalanceView;
    fn height(&self) -> u64 {
        self.height
    }
    fn into_parts(self) -> (Vec<CreditBalanceView>, Option<String>) {
        (self.balances, self.next)
    }
}

impl Paged for StateRowPage {
    type Item = StateRowView;
    fn height(&self) -> u64 {
        self.height
    }
    fn into_parts(self) -> (Vec<StateRowView>, Option<String>) {
        (self.rows, self.next)
    }
}

impl NodeClient {
    /// A client of the node at `base_url` (e.g. `http://127.0.0.1:7650`).
    pub fn new(base_url: &str) -> NodeClient {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("a client without TLS always builds");
        NodeClient {
            base: base_url.trim_end_matches('/').to_string(),
            http,
        }
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        url: String,
        resp: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<T, ClientError> {
        let bytes = self.read_bytes(&url, resp).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url,
            message: e.to_string(),
        })
    }

    /// A successful reply's body; a 4xx/5xx as [`ClientError::Rejected`] with its code.
    async fn read_bytes(
        &self,
        url: &str,
        resp: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<bytes::Bytes, ClientError> {
        let url = url.to_string();
        let resp = resp.map_err(|source| ClientError::Transport {
            url: url.clone(),
            source,
        })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        if !status.is_success() {
            let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
            let (code, message) = body.map_or_else(
                || {
                    (
                        "http_error".to_string(),
                        String::from_utf8_lossy(&bytes).into_owned(),
                    )
                },
                |b| (b.code, b.message),
            );
            return Err(ClientError::Rejected {
                status: status.as_u16(),
                code,
                message,
            });
        }
        Ok(bytes)
    }

    /// Posts bytes asking for a borsh reply (`Accept: application/octet-stream`).
    async fn post_bytes_borsh<T: borsh::BorshDeserialize>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .send_octets(&url, body, "application/octet-stream")
            .await;
        let bytes = self.read_bytes(&url, resp).await?;
        borsh::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url,
            message: e.to_string(),
        })
    }

    /// `GET path` (e.g. a module's route), its JSON reply decoded.
    ///
    /// Errors: the node's (its status and reason code), transport and decoding errors.
    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let resp = self.http.get(&url).send().await;
        self.read(url, resp).await
    }

    async fn post_bytes<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let resp = self.send_octets(&url, body, "application/json").await;
        self.read(url, resp).await
    }

    /// POSTs an `application/octet-stream` body, accepting `accept`.
    async fn send_octets(
        &self,
        url: &str,
        body: Vec<u8>,
        accept: &str,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.http
            .post(url)
            .header("content-type", "application/octet-stream")
            .header("accept", accept)
            .body(body)
            .send()
            .await
    }

    /// Submits raw bytes as a transaction (for tests of malformed input).
    pub async fn submit_raw(&self, bytes: Vec<u8>) -> Result<SubmitResponse, ClientError> {
        self.post_bytes("/v1/txs", bytes).await
    }

    /// Submits a transaction; returns its id once it is in the mempool.
    pub async fn submit(&self, tx: &SignedTransaction) -> Result<Hash32, ClientError> {
        let r: SubmitResponse = self.submit_raw(tx.to_bytes()).await?;
        self.parse_id(&r.tx_id)
    }

    fn parse_id(&self, s: &str) -> Result<Hash32, ClientError> {
        s.parse()
            .map_err(|e: depin_types::hash::HashParseError| ClientError::Decode {
                url: self.base.clone(),
                message: e.to_string(),
            })
    }

    /// Submits many transactions; one verdict each, in order.
    pub async fn submit_batch(
        &self,
        txs: &[SignedTransaction],
    ) -> Result<BatchResponse, ClientError> {
        let items: Vec<Vec<u8>> = txs.iter().map(SignedTransaction::to_bytes).collect();
        self.submit_encoded_batch(borsh::to_vec(&items).expect("writing to a Vec cannot fail"))
            .await
    }

    /// Submits a batch already encoded as borsh `Vec<Vec<u8>>` (one encoded transaction each).
    pub async fn submit_encoded_batch(&self, body: Vec<u8>) -> Result<BatchResponse, ClientError> {
        self.post_bytes("/v1/txs/batch", body).await
    }

    /// Simulates a transaction as the signer's next one.
    pub async fn simulate(&self, tx: &SignedTransaction) -> Result<SimulateResponse, ClientError> {
        self.post_bytes("/v1/txs/simulate", tx.to_bytes()).await
    }

    /// Where a transaction is.
    pub async fn tx_status(&self, id: &Hash32) -> Result<TxStatusResponse, ClientError> {
        self.get(&format!("/v1/txs/{id}")).await
    }

    /// Polls until `id` is committed (returns its receipt) or dropped (returns the reason as
    /// [`ClientError::Rejected`]), for at most `timeout`.
    pub async fn wait_committed(
        &self,
        id: &Hash32,
        timeout: Duration,
    ) -> Result<ReceiptView, ClientError> {
        let start = std::time::Instant::now();
        loop {
            let s = self.tx_status(id).await?;
            match (s.status.as_str(), s.receipt, s.error) {
                ("committed", Some(r), _) => return Ok(r),
                ("dropped", _, Some(e)) => {
                    return Err(ClientError::Rejected {
                        status: 400,
                        code: e.code,
                        message: e.message,
                    })
                }
                _ => {}
            }
            if start.elapsed() > timeout {
                let waited_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                return Err(ClientError::Timeout {
                    tx_id: id.to_hex(),
                    waited_ms,
                });
            }
            tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
        }
    }

    /// An account (address or hex key).
    pub async fn account(&self, address: &str) -> Result<AccountView, ClientError> {
        self.get(&format!("/v1/accounts/{address}")).await
    }

    /// A device (address or hex key).
    pub async fn device(&self, address: &str) -> Result<DeviceView, ClientError> {
        self.get(&format!("/v1/devices/{address}")).await
    }

    /// A block by height, hash or `latest`.
    pub async fn block(&self, id: &str) -> Result<BlockView, ClientError> {
        self.get(&format!("/v1/blocks/{id}")).await
    }

    /// Chain facts.
    pub async fn chain(&self) -> Result<ChainInfo, ClientError> {
        self.get("/v1/chain").await
    }

    /// The supply audit.
    pub async fn supply(&self) -> Result<SupplyView, ClientError> {
        self.get("/v1/supply").await
    }

    /// One page of the device registry as of `height` (latest when `None`), starting after
    /// `after`.
    pub async fn devices_page(
        &self,
        height: Option<u64>,
        after: Option<&str>,
    ) -> Result<DevicePage, ClientError> {
        self.get(&page_path("/v1/devices", height, after)).await
    }

    /// The whole device registry as of `height` (latest when `None`), page by page (at most
    /// [`MAX_REGISTRY_PAGES`] pages).
    pub async fn all_devices(
        &self,
        height: Option<u64>,
    ) -> Result<(u64, Vec<DeviceView>), ClientError> {
        self.all_pages::<DevicePage>("/v1/devices", height).await
    }

    /// One page of data-credit balances as of `height` (latest when `None`), starting after
    /// `after`.
    pub async fn credits_page(
        &self,
        height: Option<u64>,
        after: Option<&str>,
    ) -> Result<CreditPage, ClientError> {
        self.get(&page_path("/v1/credits", height, after)).await
    }

    /// Every data-credit balance as of `height`, page by page (at most
    /// [`MAX_REGISTRY_PAGES`] pages).
    pub async fn all_credits(
        &self,
        height: Option<u64>,
    ) -> Result<(u64, Vec<CreditBalanceView>), ClientError> {
        self.all_pages::<CreditPage>("/v1/credits", height).await
    }

    /// Every item of the paged listing at `path` (a node or module route taking `height` and
    /// `after`) at one height: the first page fixes the height, the rest follow `next` (at
    /// most [`MAX_REGISTRY_PAGES`] pages).
    ///
    /// Errors: the node's, transport and decoding errors.
    pub async fn all_pages<P: Paged>(
        &self,
        path: &str,
        height: Option<u64>,
    ) -> Result<(u64, Vec<P::Item>), ClientError> {
        let first: P = self.get(&page_path(path, height, None)).await?;
        let at = first.height();
        let (mut out, mut next) = first.into_parts();
        for _ in 0..MAX_REGISTRY_PAGES {
            let Some(after) = next.take() else { break };
            let page: P = self.get(&page_path(path, Some(at), Some(&after))).await?;
            let (mut items, more) = page.into_parts();
            out.append(&mut items);
            next = more;
        }
        Ok((at, out))
    }

    /// Settlement of an epoch's rewards (and what `owner` was paid, if given).
    pub async fn epoch_rewards(
        &self,
        epoch: u64,
        owner: Option<&str>,
    ) -> Result<EpochRewardsView, ClientError> {
        let q = owner.map(|o| format!("?owner={o}")).unwrap_or_default();
        self.get(&format!("/v1/rewards/{epoch}{q}")).await
    }

    /// Every raw state entry under `prefix` as of `height` (latest when `None`):
    /// `(height, [(32-byte key suffix, borsh value)])`.
    ///
    /// Errors: the node's, or [`ClientError::Decode`] for a row that is not hex.
    pub async fn all_state_rows(
        &self,
        prefix: &[u8],
        height: Option<u64>,
    ) -> Result<(u64, Vec<([u8; 32], Vec<u8>)>), ClientError> {
        let path = format!("/v1/state/rows?prefix={}", hex::encode(prefix));
        let (at, rows) = self.all_pages::<StateRowPage>(&path, height).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let key = hex::decode(&r.key)
                .ok()
                .and_then(|k| <[u8; 32]>::try_from(k).ok());
            let value = hex::decode(&r.value).ok();
            let (Some(key), Some(value)) = (key, value) else {
                return Err(ClientError::Decode {
                    url: path,
                    message: format!("state row {:?} is not hex", r.key),
                });
            };
            out.push((key, value));
        }
        Ok((at, out))
    }

    /// An escrow account.
    pub async fn escrow(&self, id: &Hash32) -> Result<EscrowView, ClientError> {
        self.get(&format!("/v1/escrow/{id}")).await
    }

    /// The first block whose time is at or after `time_ms`, by binary search over heights;
    /// `None` if the chain has not reached that time.
    pub async fn first_block_at_or_after(
        &self,
        time_ms: u64,
    ) -> Result<Option<BlockView>, ClientError> {
        let latest = self.block("latest").await?;
        if latest.time_ms < time_ms {
            return Ok(None);
        }
        let (mut lo, mut hi) = (1u64, latest.height);
        let mut best = latest;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let b = self.block(&mid.to_string()).await?;
            if b.time_ms >= time_ms {
                hi = mid;
                best = b;
            } else {
                lo = mid + 1;
            }
        }
        if best.height != lo {
            best = self.block(&lo.to_string()).await?;
        }
        Ok(Some(best))
    }
}

/// Most registry pages [`NodeClient::all_devices`] reads (1,000 devices each).
pub const MAX_REGISTRY_PAGES: usize = 10_000;

/// A client of one oracle.
#[derive(Clone, Debug)]
pub struct OracleClient {
    inner: NodeClient,
}

impl OracleClient {
    /// A client of the oracle at `base_url`.
    pub fn new(base_url: &str) -> OracleClient {
        OracleClient {
            inner: NodeClient::new(base_url),
        }
    }

    /// Submits one signed report; the reply means it is durable.
    pub async fn submit(
        &self,
        report: &depin_types::SignedReport,
    ) -> Result<ReportAck, ClientError> {
        self.inner
            .post_bytes("/v1/reports", report.to_bytes())
            .await
    }

    /// Submits raw bytes as one report (tests of malformed input).
    pub async fn submit_raw(&self, bytes: Vec<u8>) -> Result<ReportAck, ClientError> {
        self.inner.post_bytes("/v1/reports", bytes).await
    }

    /// Submits encoded reports as one batch (borsh `Vec<Vec<u8>>`); one outcome per report,
    /// in order (the oracle's binary reply).
    pub async fn submit_batch(
        &self,
        reports: &[Vec<u8>],
    ) -> Result<Vec<ReportOutcome>, ClientError> {
        let body = borsh::to_vec(&reports).expect("writing to a Vec cannot fail");
        self.submit_encoded_batch(body).await
    }

    /// Submits an already encoded batch body (borsh `Vec<Vec<u8>>`); one outcome per
    /// report, in order.
    pub async fn submit_encoded_batch(
        &self,
        body: Vec<u8>,
    ) -> Result<Vec<ReportOutcome>, ClientError> {
        self.inner.post_bytes_borsh("/v1/reports/batch", body).await
    }

    /// Submits an encoded batch body and takes the JSON reply (what non-Rust clients get).
    pub async fn submit_encoded_batch_json(
        &self,
        body: Vec<u8>,
    ) -> Result<ReportBatchResponse, ClientError> {
        self.inner.post_bytes("/v1/reports/batch", body).await
    }

    /// A report's status.
    pub async fn status(&self, id: &Hash32) -> Result<ReportStatusView, ClientError> {
        self.inner.get(&format!("/v1/reports/{id}")).await
    }

    /// One device's reports, verdicts by reason and reward in settled `epoch`.
    pub async fn device_epoch(
        &self,
        epoch: u64,
        device: &str,
    ) -> Result<depin_api::DeviceEpochView, ClientError> {
        self.inner
            .get(&format!("/v1/epochs/{epoch}/devices/{device}"))
            .await
    }

    /// Settled and open epochs.
    pub async fn epochs(&self) -> Result<EpochsView, ClientError> {
        self.inner.get("/v1/epochs").await
    }

    /// A settled epoch's manifest, as published (JSON).
    pub async fn manifest(&self, epoch: u64) -> Result<serde_json::Value, ClientError> {
        self.inner
            .get(&format!("/v1/epochs/{epoch}/manifest"))
            .await
    }

    /// A settled epoch's `inputs.bin`.
    pub async fn inputs(&self, epoch: u64) -> Result<Vec<u8>, ClientError> {
        let url = format!("{}/v1/epochs/{epoch}/inputs", self.inner.base);
        let resp = self.inner.http.get(&url).send().await;
        let resp = resp.map_err(|source| ClientError::Transport {
            url: url.clone(),
            source,
        })?;
        if !resp.status().is_success() {
            let (status, body) = (
                resp.status().as_u16(),
                resp.text().await.unwrap_or_default(),
            );
            let e: Option<ErrorBody> = serde_json::from_str(&body).ok();
            let (code, message) = e.map_or(("http_error".into(), body), |b| (b.code, b.message));
            return Err(ClientError::Rejected {
                status,
                code,
                message,
            });
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Transport { url, source })?;
        Ok(bytes.to_vec())
    }
}
