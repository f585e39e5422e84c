//! The REST API (axum) and its OpenAPI document (utoipa), served at `/openapi.json`.
//!
//! Transactions are submitted as their borsh bytes (`application/octet-stream`); batches as the
//! borsh encoding of `Vec<Vec<u8>>` (each inner vector one encoded transaction). Every error is
//! a JSON [`ErrorBody`] with a stable reason code.

pub use crate::admission::Rejection;
use crate::admission::{read_latest, NodeState};
use crate::module::NodeModules;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use depin_api::*;
use depin_ledger::components::{bank, credits, devices, escrow, rewards, staking};
use depin_types::block::TxStatus;
use depin_types::tx::DeviceStatus;
use depin_types::{Address, Block, Hash32, PublicKey, Receipt};
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use utoipa::OpenApi;

/// A module's routes, served with the node's state (see `NodeModule`).
pub type ModuleRouter = Router<ApiState>;
/// An OpenAPI document (utoipa), e.g. a module's routes'.
pub type OpenApiDoc = utoipa::openapi::OpenApi;

/// State of every handler.
#[derive(Clone)]
pub struct ApiState {
    /// The node.
    pub node: Arc<NodeState>,
    /// Prometheus renderer.
    pub metrics: PrometheusHandle,
    /// Most transactions per batch.
    pub max_batch_txs: usize,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "depin node API",
        description = "Submit transactions and read chain state."
    ),
    paths(
        submit_tx,
        submit_batch,
        simulate_tx,
        tx_status,
        account,
        device,
        devices_at,
        credits_at,
        epoch_rewards,
        escrow_account,
        state_rows,
        block,
        chain,
        supply
    ),
    components(schemas(
        ErrorBody,
        SubmitResponse,
        BatchItem,
        BatchResponse,
        ReceiptView,
        TxStatusResponse,
        SimulateResponse,
        AccountView,
        DeviceView,
        DevicePage,
        CreditPage,
        CreditBalanceView,
        AttestationView,
        EpochRewardsView,
        EscrowView,
        EscrowPayeeView,
        StateRowView,
        StateRowPage,
        BlockView,
        ChainInfo,
        SupplyView
    ))
)]
struct ApiDoc;

/// The OpenAPI document: the node's routes and those of its `modules`.
pub fn openapi(modules: &NodeModules) -> utoipa::openapi::OpenApi {
    modules.merge_openapi(ApiDoc::openapi())
}

/// All routes (the node's and its `modules'`), with a body limit of `max_body_bytes`.
pub fn router(state: ApiState, max_body_bytes: usize, modules: &NodeModules) -> Router {
    let doc = Arc::new(openapi(modules));
    Router::new()
        .route("/v1/txs", post(submit_tx))
        .route("/v1/txs/batch", post(submit_batch))
        .route("/v1/txs/simulate", post(simulate_tx))
        .route("/v1/txs/{id}", get(tx_status))
        .route("/v1/accounts/{address}", get(account))
        .route("/v1/devices", get(devices_at))
        .route("/v1/credits", get(credits_at))
        .route("/v1/devices/{address}", get(device))
        .route("/v1/rewards/{epoch}", get(epoch_rewards))
        .route("/v1/escrow/{id}", get(escrow_account))
        .route("/v1/state/rows", get(state_rows))
        .merge(modules.routes())
        .route("/v1/blocks/{id}", get(block))
        .route("/v1/chain", get(chain))
        .route("/v1/supply", get(supply))
        .route(
            "/openapi.json",
            get(move || async move { Json((*doc).clone()) }),
        )
        .route("/metrics", get(metrics_text))
        .route("/health", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_client_error() {
            metrics::counter!("depin_txs_rejected_total", "code" => self.code.clone()).increment(1);
        }
        (
            status,
            Json(ErrorBody {
                code: self.code,
                message: self.message,
            }),
        )
            .into_response()
    }
}

fn body_or_reject(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Rejection> {
    body.map_err(|e| Rejection {
        status: e.status().as_u16(),
        code: if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "bad_body"
        }
        .into(),
        message: e.body_text(),
    })
}

/// Splits a batch body — borsh `Vec<Vec<u8>>`: a u32 LE count, then per item a u32 LE length
/// and its bytes — into byte ranges of the body, without copying. At most `max_items` items.
fn split_batch(body: &[u8], max_items: usize) -> Result<Vec<std::ops::Range<usize>>, Rejection> {
    let malformed = |why: &str| bad_request("malformed_batch", format!("batch body: {why}"));
    let read_u32 = |at: usize| -> Option<usize> {
        let b: [u8; 4] = body.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(b)).ok()
    };
    let count = read_u32(0).ok_or_else(|| malformed("shorter than its count"))?;
    if count > max_items {
        let message = format!("{count} transactions, limit {max_items}");
        return Err(Rejection {
            status: 413,
            code: "batch_too_large".into(),
            message,
        });
    }
    let mut ranges = Vec::with_capacity(count);
    let mut at = 4usize;
    for i in 0..count {
        let len = read_u32(at).ok_or_else(|| malformed(&format!("item {i} has no length")))?;
        let start = at.saturating_add(4);
        let end = start.checked_add(len).filter(|e| *e <= body.len());
        let end = end.ok_or_else(|| malformed(&format!("item {i} runs past the end")))?;
        ranges.push(start..end);
        at = end;
    }
    if at != body.len() {
        return Err(malformed("trailing bytes after the last item"));
    }
    Ok(ranges)
}

/// A 404 `not_found` rejection: "`what` not found".
pub fn not_found(what: &str) -> Rejection {
    Rejection {
        status: 404,
        code: "not_found".into(),
        message: format!("{what} not found"),
    }
}

/// A 400 rejection with reason code `code`.
pub fn bad_request(code: &str, message: String) -> Rejection {
    Rejection {
        status: 400,
        code: code.into(),
        message,
    }
}

/// Runs `f` (database reads) on tokio's blocking pool, so a handler does not hold a runtime
/// worker; a 500 `internal_error` if it panicked.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Rejection> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Rejection {
        status: 500,
        code: "internal_error".into(),
        message: e.to_string(),
    })
}

/// Submit one transaction.
#[utoipa::path(post, path = "/v1/txs",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "borsh SignedTransaction"),
    responses((status = 202, body = SubmitResponse), (status = 400, body = ErrorBody, description = "rejected; see code"),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn submit_tx(
    State(s): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Rejection> {
    let bytes = body_or_reject(body)?;
    let node = s.node.clone();
    let verdict = blocking(move || node.admit_batch(&[&bytes]).pop()).await?;
    let id = verdict.unwrap_or_else(|| {
        Err(Rejection {
            status: 500,
            code: "internal_error".into(),
            message: "no verdict".into(),
        })
    })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SubmitResponse { tx_id: id.to_hex() }),
    )
        .into_response())
}

/// Submit many transactions at once (borsh `Vec<Vec<u8>>`); one verdict each, in order.
#[utoipa::path(post, path = "/v1/txs/batch",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "borsh Vec<Vec<u8>> of SignedTransaction"),
    responses((status = 200, body = BatchResponse), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn submit_batch(
    State(s): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BatchResponse>, Rejection> {
    let bytes = body_or_reject(body)?;
    let ranges = split_batch(&bytes, s.max_batch_txs)?;
    let node = s.node.clone();
    let verdicts = blocking(move || {
        let refs: Vec<&[u8]> = ranges.iter().filter_map(|r| bytes.get(r.clone())).collect();
        node.admit_batch(&refs)
    })
    .await?;
    let results = verdicts
        .into_iter()
        .map(|v| match v {
            Ok(id) => BatchItem {
                tx_id: id.to_hex(),
                accepted: true,
                error: None,
            },
            Err(r) => {
                metrics::counter!("depin_txs_rejected_total", "code" => r.code.clone())
                    .increment(1);
                BatchItem {
                    tx_id: String::new(),
                    accepted: false,
                    error: Some(ErrorBody {
                        code: r.code,
                        message: r.message,
                    }),
                }
            }
        })
        .collect();
    Ok(Json(BatchResponse { results }))
}

/// Run a transaction as the signer's next one without keeping anything.
#[utoipa::path(post, path = "/v1/txs/simulate",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = SimulateResponse), (status = 400, body = ErrorBody)))]
async fn simulate_tx(
    State(s): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SimulateResponse>, Rejection> {
    let bytes = body_or_reject(body)?;
    let node = s.node.clone();
    let receipt = blocking(move || node.simulate(&bytes)).await??;
    Ok(Json(SimulateResponse {
        tx_id: receipt.tx_id.to_hex(),
        receipt: receipt_view(&receipt),
    }))
}

/// A receipt as JSON.
pub fn receipt_view(r: &Receipt) -> ReceiptView {
    let (status, code, message) = match &r.status {
        TxStatus::Success => ("success", None, None),
        TxStatus::Failed { code, message } => ("failed", Some(code.clone()), Some(message.clone())),
    };
    ReceiptView {
        tx_id: r.tx_id.to_hex(),
        height: r.height,
        index: r.index,
        status: status.into(),
        code,
        message,
        fee_bones: r.fee_bones.bones().to_string(),
    }
}

/// Where a transaction is: pending, committed (with receipt), dropped (with reason) or unknown.
#[utoipa::path(get, path = "/v1/txs/{id}", params(("id" = String, Path, description = "transaction id (hex)")),
    responses((status = 200, body = TxStatusResponse), (status = 400, body = ErrorBody)))]
async fn tx_status(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<TxStatusResponse>, Rejection> {
    let hash: Hash32 = id.parse().map_err(|e: depin_types::hash::HashParseError| {
        bad_request("invalid_tx_id", e.to_string())
    })?;
    let node = s.node.clone();
    blocking(move || {
        let mut out = TxStatusResponse {
            tx_id: hash.to_hex(),
            status: "unknown".into(),
            receipt: None,
            error: None,
        };
        if let Some(r) = node.db.receipt(&hash).map_err(|e| Rejection {
            status: 500,
            code: "internal_error".into(),
            message: e.to_string(),
        })? {
            out.status = "committed".into();
            out.receipt = Some(receipt_view(&r));
            return Ok(Json(out));
        }
        let mempool = node.mempool();
        if mempool.contains(&hash) {
            out.status = "pending".into();
        } else if let Some((code, message)) = mempool.dropped_reason(&hash) {
            out.status = "dropped".into();
            out.error = Some(ErrorBody {
                code: code.clone(),
                message: message.clone(),
            });
        }
        Ok(Json(out))
    })
    .await?
}

fn parse_key(s: &str) -> Result<PublicKey, Rejection> {
    if let Ok(a) = Address::parse(s) {
        return Ok(a.key);
    }
    PublicKey::from_hex(s).map_err(|_| {
        bad_request(
            "invalid_address",
            format!("{s:?} is neither a base58check address nor a hex key"),
        )
    })
}

/// An account: balance, nonces, stake, data credits.
#[utoipa::path(get, path = "/v1/accounts/{address}", params(("address" = String, Path, description = "base58check address or hex key")),
    responses((status = 200, body = AccountView), (status = 400, body = ErrorBody)))]
async fn account(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> Result<Json<AccountView>, Rejection> {
    let key = parse_key(&address)?;
    let node = s.node.clone();
    blocking(move || {
        let snap = node.db.snapshot().map_err(internal)?;
        let a = bank::account(&snap, &key).map_err(internal)?;
        let st = staking::stake(&snap, &key).map_err(internal)?;
        let credits = credits::balance(&snap, &key).map_err(internal)?;
        let next_nonce = node.mempool().next_nonce(&key, a.nonce);
        Ok(Json(AccountView {
            address: Address::new(node.genesis.network, key).to_string(),
            key: key.to_hex(),
            balance_bones: a.balance.bones().to_string(),
            nonce: a.nonce,
            next_nonce,
            bonded_bones: st.bonded.bones().to_string(),
            unbonding_bones: st.unbonding.bones().to_string(),
            credits,
            height: snap.height(),
        }))
    })
    .await?
}

/// A 500 `internal_error` rejection carrying `e` (the node's own failure, e.g. storage).
pub fn internal(e: impl std::fmt::Display) -> Rejection {
    Rejection {
        status: 500,
        code: "internal_error".into(),
        message: e.to_string(),
    }
}

/// A device.
#[utoipa::path(get, path = "/v1/devices/{address}", params(("address" = String, Path, description = "device address or hex key")),
    responses((status = 200, body = DeviceView), (status = 404, body = ErrorBody)))]
async fn device(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> Result<Json<DeviceView>, Rejection> {
    let key = parse_key(&address)?;
    let node = s.node.clone();
    blocking(move || {
        let d: devices::Device = read_latest(&node.db, &devices::device_key(&key))?
            .ok_or_else(|| not_found("device"))?;
        Ok(Json(device_view(node.genesis.network, key, d)))
    })
    .await?
}

fn device_view(net: depin_types::Network, key: PublicKey, d: devices::Device) -> DeviceView {
    let (lat, lng) = d.location.map(|l| l.center_lat_lng()).unzip();
    DeviceView {
        address: Address::new(net, key).to_string(),
        owner: Address::new(net, d.owner).to_string(),
        class: d.class,
        maker: Address::new(net, d.maker).to_string(),
        location: d.location.map(|l| l.to_string()),
        lat,
        lng,
        gain_ddbi: d.antenna.map(|a| a.gain_ddbi),
        elevation_m: d.antenna.map(|a| a.elevation_m),
        status: match d.status {
            DeviceStatus::Active => "active",
            DeviceStatus::Inactive => "inactive",
        }
        .into(),
        onboarded_height: d.onboarded_height,
        location_height: d.location_height,
    }
}

/// Most devices per registry page.
pub const MAX_DEVICE_PAGE: usize = 1_000;

/// Query of the paged listings at a height (`GET /v1/devices`, `GET /v1/credits`).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// Height to read at (default: the latest).
    pub height: Option<u64>,
    /// Start after this key (address or hex key).
    pub after: Option<String>,
    /// Page size (default and most: 1,000).
    pub limit: Option<usize>,
}

/// One page of the versioned rows under `prefix` (keys `prefix ‖ 32-byte key`) as of the
/// query's height: `(height, [(key, value)], next)`, `next` being the last key when the page
/// is full.
pub type RowPage = (u64, Vec<(PublicKey, Vec<u8>)>, Option<PublicKey>);

/// One page of the versioned rows under `prefix` (a prefix with history: the core's or a
/// module's `history_prefixes`), as the query asks.
///
/// Errors: a 400 for a bad `after` key or a height above the chain's; a 500 for storage
/// failures (including a prefix without history).
pub fn scan_page(node: &NodeState, prefix: &[u8], q: &PageQuery) -> Result<RowPage, Rejection> {
    let after = q.after.as_deref().map(parse_key).transpose()?;
    let limit = q.limit.unwrap_or(MAX_DEVICE_PAGE).clamp(1, MAX_DEVICE_PAGE);
    let height = read_height(node, q.height)?;
    let after_key = after.map(|k| [prefix, &k.0].concat());
    let rows = node
        .db
        .scan_at(prefix, height, after_key.as_deref(), limit)
        .map_err(internal)?;
    let mut out = Vec::with_capacity(rows.len());
    for (k, v) in rows {
        let key: [u8; 32] = k[prefix.len()..].try_into().map_err(internal)?;
        out.push((PublicKey(key), v));
    }
    let next = (out.len() == limit)
        .then(|| out.last().map(|(k, _)| *k))
        .flatten();
    Ok((height, out, next))
}

/// `(height, views, next key)` of one page.
pub type ViewPage<V> = (u64, Vec<V>, Option<PublicKey>);

/// One page under `prefix` (as [`scan_page`]) with each row turned into a view by `view`:
/// the one body of the paged listings (devices, credits, and modules' listings such as storage
/// providers and deals).
///
/// Errors: as [`scan_page`], and `view`'s.
pub fn view_page<V>(
    node: &NodeState,
    prefix: &[u8],
    q: &PageQuery,
    mut view: impl FnMut(PublicKey, &[u8]) -> Result<V, Rejection>,
) -> Result<ViewPage<V>, Rejection> {
    let (height, rows, next) = scan_page(node, prefix, q)?;
    let views = rows
        .into_iter()
        .map(|(key, v)| view(key, &v))
        .collect::<Result<Vec<V>, Rejection>>()?;
    Ok((height, views, next))
}

/// The device registry as of a height, one page at a time (oracles read an epoch's registry
/// at its last block).
#[utoipa::path(get, path = "/v1/devices", params(PageQuery),
    responses((status = 200, body = DevicePage), (status = 400, body = ErrorBody)))]
async fn devices_at(
    State(s): State<ApiState>,
    Query(q): Query<PageQuery>,
) -> Result<Json<DevicePage>, Rejection> {
    let node = s.node.clone();
    blocking(move || {
        let net = node.genesis.network;
        let (height, devices, next) = view_page(&node, devices::DEVICE_PREFIX, &q, |key, v| {
            let d: devices::Device = borsh::from_slice(v).map_err(internal)?;
            Ok(device_view(net, key, d))
        })?;
        let next = next.map(|k| Address::new(net, k).to_string());
        Ok(Json(DevicePage {
            height,
            devices,
            next,
        }))
    })
    .await?
}

/// Data-credit balances as of a height, one page at a time (oracles read payers' credits at
/// an epoch's last block to charge usage).
#[utoipa::path(get, path = "/v1/credits", params(PageQuery),
    responses((status = 200, body = CreditPage), (status = 400, body = ErrorBody)))]
async fn credits_at(
    State(s): State<ApiState>,
    Query(q): Query<PageQuery>,
) -> Result<Json<CreditPage>, Rejection> {
    let node = s.node.clone();
    blocking(move || {
        let net = node.genesis.network;
        let (height, balances, next) = view_page(&node, credits::BALANCE_PREFIX, &q, |key, v| {
            let credits: u64 = borsh::from_slice(v).map_err(internal)?;
            let address = Address::new(net, key).to_string();
            Ok(CreditBalanceView { address, credits })
        })?;
        let next = next.map(|k| Address::new(net, k).to_string());
        Ok(Json(CreditPage {
            height,
            balances,
            next,
        }))
    })
    .await?
}

/// `height` checked against the latest (default: the latest).
fn read_height(node: &NodeState, height: Option<u64>) -> Result<u64, Rejection> {
    let latest = node.db.height().map_err(internal)?;
    let height = height.unwrap_or(latest);
    if height > latest {
        return Err(bad_request(
            "height_in_future",
            format!("height {height} is past the latest {latest}"),
        ));
    }
    Ok(height)
}

/// Query of `GET /v1/rewards/{epoch}`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct RewardsQuery {
    /// Also report what this owner (address or hex key) was paid.
    pub owner: Option<String>,
}

/// Settlement of one epoch's rewards: attestations, the effective root, claims.
#[utoipa::path(get, path = "/v1/rewards/{epoch}", params(("epoch" = u64, Path, description = "epoch number"), RewardsQuery),
    responses((status = 200, body = EpochRewardsView), (status = 400, body = ErrorBody)))]
async fn epoch_rewards(
    State(s): State<ApiState>,
    Path(epoch): Path<u64>,
    Query(q): Query<RewardsQuery>,
) -> Result<Json<EpochRewardsView>, Rejection> {
    let owner = q.owner.as_deref().map(parse_key).transpose()?;
    let node = s.node.clone();
    blocking(move || {
        let snap = node.db.snapshot().map_err(internal)?;
        let net = node.genesis.network;
        let er = rewards::epoch_root(&snap, epoch).map_err(internal)?;
        let mut attestations = Vec::new();
        let oracles = node
            .genesis
            .rewards
            .as_ref()
            .map(|r| r.oracles.clone())
            .unwrap_or_default();
        for o in oracles {
            if let Some((root, total, effects)) =
                rewards::attestation(&snap, epoch, &o.key).map_err(internal)?
            {
                attestations.push(AttestationView {
                    oracle: Address::new(net, o.key).to_string(),
                    root: root.to_hex(),
                    total_bones: total.0.to_string(),
                    effects_digest: effects.to_hex(),
                });
            }
        }
        let owner_claimed_bones = owner
            .map(|o| rewards::claimed(&snap, epoch, &o).map(|c| c.to_string()))
            .transpose()
            .map_err(internal)?;
        Ok(Json(EpochRewardsView {
            epoch,
            root: er.as_ref().map(|e| e.root.to_hex()),
            total_bones: er.as_ref().map(|e| e.total.0.to_string()),
            claimed_bones: er.as_ref().map_or(0, |e| e.claimed.0).to_string(),
            effective_height: er.as_ref().map(|e| e.effective_height),
            credits_debited: er.as_ref().map(|e| e.credits_debited),
            credits_unpaid: er.as_ref().map(|e| e.credits_unpaid),
            bones_slashed: er.as_ref().map(|e| e.bones_slashed.0.to_string()),
            attestations,
            owner_claimed_bones,
            height: snap.height(),
        }))
    })
    .await?
}

/// A block by height, hash, or `latest`.
#[utoipa::path(get, path = "/v1/blocks/{id}", params(("id" = String, Path, description = "height, block hash (hex) or `latest`")),
    responses((status = 200, body = BlockView), (status = 404, body = ErrorBody)))]
async fn block(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<BlockView>, Rejection> {
    let node = s.node.clone();
    blocking(move || {
        let height = if id == "latest" {
            node.db.height().map_err(internal)?
        } else if let Ok(h) = id.parse::<u64>() {
            h
        } else {
            let hash: Hash32 = id.parse().map_err(|_| {
                bad_request(
                    "invalid_block_id",
                    format!("{id:?} is not a height or hash"),
                )
            })?;
            node.db
                .block_height_by_hash(&hash)
                .map_err(internal)?
                .ok_or_else(|| not_found("block"))?
        };
        let b = node
            .db
            .block(height)
            .map_err(internal)?
            .ok_or_else(|| not_found("block"))?;
        Ok(Json(block_view(&b, node.genesis.network)))
    })
    .await?
}

fn block_view(b: &Block, net: depin_types::Network) -> BlockView {
    let h = &b.header;
    BlockView {
        hash: h.hash().to_hex(),
        height: h.height,
        time_ms: h.time_ms,
        parent_hash: h.parent_hash.to_hex(),
        proposer: Address::new(net, h.proposer).to_string(),
        tx_root: h.tx_root.to_hex(),
        state_root: h.state_root.to_hex(),
        tx_ids: b.txs.iter().map(|t| t.id().to_hex()).collect(),
    }
}

/// Chain facts: id, height, roots, parameters, mempool size.
#[utoipa::path(get, path = "/v1/chain", responses((status = 200, body = ChainInfo)))]
async fn chain(State(s): State<ApiState>) -> Result<Json<ChainInfo>, Rejection> {
    let node = s.node.clone();
    blocking(move || {
        let height = node.db.height().map_err(internal)?;
        let latest = if height == 0 {
            Hash32::ZERO
        } else {
            node.db
                .header(height)
                .map_err(internal)?
                .map_or(Hash32::ZERO, |h| h.hash())
        };
        let g = &node.genesis;
        Ok(Json(ChainInfo {
            chain_id: g.chain_id.clone(),
            network: format!("{:?}", g.network).to_lowercase(),
            genesis_hash: g.hash().to_hex(),
            height,
            latest_block_hash: latest.to_hex(),
            state_root: node.db.state_root(height).map_err(internal)?.to_hex(),
            block_time_ms: g.params.block_time_ms,
            min_fee_bones: g.params.min_fee_bones.bones().to_string(),
            max_tx_bytes: g.params.max_tx_bytes,
            mempool_txs: node.mempool().len() as u64,
            committed_txs: node.db.tx_count().map_err(internal)?,
        }))
    })
    .await?
}

/// An escrow account.
#[utoipa::path(get, path = "/v1/escrow/{id}", params(("id" = String, Path, description = "account id (hex)")),
    responses((status = 200, body = EscrowView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn escrow_account(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<EscrowView>, Rejection> {
    let id: Hash32 = id
        .parse()
        .map_err(|_| bad_request("invalid_id", format!("{id:?} is not 64 hex digits")))?;
    let node = s.node.clone();
    blocking(move || {
        let snap = node.db.snapshot().map_err(internal)?;
        let a = escrow::account(&snap, &id)
            .map_err(internal)?
            .ok_or_else(|| not_found("escrow account"))?;
        let net = node.genesis.network;
        let payees = a
            .payees
            .iter()
            .map(|p| EscrowPayeeView {
                payee: Address::new(net, p.payee).to_string(),
                rate_bones_per_epoch: p.rate_bones_per_epoch.0.to_string(),
            })
            .collect();
        Ok(Json(EscrowView {
            id: id.to_hex(),
            owner: Address::new(net, a.owner).to_string(),
            balance_bones: a.balance.0.to_string(),
            start_epoch: a.start_epoch,
            term_epochs: a.term_epochs,
            paid_through_epoch: a.paid_through_epoch,
            state: serde_json::to_value(a.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            paid_bones: a.paid.0.to_string(),
            payees,
            height: snap.height(),
        }))
    })
    .await?
}

/// The supply audit over the whole state (O(state size)).
#[utoipa::path(get, path = "/v1/supply", responses((status = 200, body = SupplyView)))]
async fn supply(State(s): State<ApiState>) -> Result<Json<SupplyView>, Rejection> {
    let node = s.node.clone();
    blocking(move || {
        let height = node.db.height().map_err(internal)?;
        let entries = node.db.state_entries().map_err(internal)?;
        let a =
            depin_ledger::audit_supply(entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice())))
                .map_err(internal)?;
        Ok(Json(SupplyView {
            height,
            outstanding_bones: a.outstanding.to_string(),
            balances_bones: a.balances.to_string(),
            bonded_bones: a.bonded.to_string(),
            unbonding_bones: a.unbonding.to_string(),
            unclaimed_rewards_bones: a.unclaimed_rewards.to_string(),
            escrowed_bones: a.escrowed.to_string(),
            ok: a.ok,
        }))
    })
    .await?
}

async fn metrics_text(State(s): State<ApiState>) -> String {
    s.metrics.render()
}

#[cfg(test)]
mod tests {
    use super::split_batch;

    #[test]
    fn batch_framing_agrees_with_borsh_and_refuses_bad_bodies() {
        let items: Vec<Vec<u8>> = vec![vec![1, 2, 3], vec![], vec![9; 300]];
        let body = borsh::to_vec(&items).unwrap();
        let ranges = split_batch(&body, 10).unwrap();
        let got: Vec<Vec<u8>> = ranges.into_iter().map(|r| body[r].to_vec()).collect();
        assert_eq!(got, items);
        assert_eq!(
            split_batch(&body[..body.len() - 1], 10).unwrap_err().code,
            "malformed_batch"
        );
        let mut trailing = body.clone();
        trailing.push(0);
        assert_eq!(
            split_batch(&trailing, 10).unwrap_err().code,
            "malformed_batch"
        );
        assert_eq!(split_batch(&body, 2).unwrap_err().code, "batch_too_large");
        assert_eq!(
            split_batch(&[1, 0], 10).unwrap_err().code,
            "malformed_batch"
        );
        let huge_len = [1u8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(
            split_batch(&huge_len, 10).unwrap_err().code,
            "malformed_batch"
        );
    }
}

/// Longest prefix `GET /v1/state/rows` accepts, bytes.
pub const MAX_PREFIX_BYTES: usize = 64;

/// Query of `GET /v1/state/rows`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct RowsQuery {
    /// The key prefix (hex); every key under it must be the prefix and 32 bytes.
    pub prefix: String,
    /// Height to read at (default: the latest).
    pub height: Option<u64>,
    /// Start after this 32-byte key suffix (hex).
    pub after: Option<String>,
    /// Page size (default and most: 1,000).
    pub limit: Option<usize>,
}

/// Raw state entries under a prefix as of a height, one page at a time.
#[utoipa::path(get, path = "/v1/state/rows", params(RowsQuery),
    responses((status = 200, body = StateRowPage), (status = 400, body = ErrorBody)))]
async fn state_rows(
    State(s): State<ApiState>,
    Query(q): Query<RowsQuery>,
) -> Result<Json<StateRowPage>, Rejection> {
    let prefix = hex::decode(&q.prefix)
        .ok()
        .filter(|p| !p.is_empty() && p.len() <= MAX_PREFIX_BYTES)
        .ok_or_else(|| {
            bad_request(
                "invalid_prefix",
                "prefix must be 1 to 64 bytes of hex".into(),
            )
        })?;
    let page = PageQuery {
        height: q.height,
        after: q.after,
        limit: q.limit,
    };
    let node = s.node.clone();
    blocking(move || {
        let (height, rows, next) = scan_page(&node, &prefix, &page)?;
        let rows = rows
            .into_iter()
            .map(|(k, v)| StateRowView {
                key: k.to_hex(),
                value: hex::encode(v),
            })
            .collect();
        Ok(Json(StateRowPage {
            height,
            rows,
            next: next.map(|k| k.to_hex()),
        }))
    })
    .await?
}
