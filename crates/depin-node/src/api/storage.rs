//! Storage routes: providers, deals, and raw state rows under a module's prefix (what the
//! oracle reads of a module's ledger component for an epoch's snapshot).

use super::{
    bad_request, blocking, internal, not_found, scan_page, view_page, ApiState, ErrorBody,
    PageQuery, Rejection,
};
use axum::extract::{Path, Query, State};
use axum::Json;
use depin_api::{
    DealPage, DealShardView, DealView, ProviderPage, ProviderView, StateRowPage, StateRowView,
};
use depin_ledger::components::storage;
use depin_types::storage::{Deal, ProviderRecord};
use depin_types::{Address, Hash32, Network, PublicKey};
use utoipa::OpenApi;

/// Longest prefix `GET /v1/state/rows` accepts, bytes.
pub const MAX_PREFIX_BYTES: usize = 64;

#[derive(OpenApi)]
#[openapi(
    paths(providers, deals, deal, state_rows),
    components(schemas(
        ProviderView,
        ProviderPage,
        DealShardView,
        DealView,
        DealPage,
        StateRowView,
        StateRowPage
    ))
)]
pub(super) struct StorageDoc;

/// The storage routes.
pub(super) fn routes() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/v1/storage/providers", axum::routing::get(providers))
        .route("/v1/storage/deals", axum::routing::get(deals))
        .route("/v1/storage/deals/{id}", axum::routing::get(deal))
        .route("/v1/state/rows", axum::routing::get(state_rows))
}

fn provider_view(net: Network, device: PublicKey, p: ProviderRecord) -> ProviderView {
    ProviderView {
        device: Address::new(net, device).to_string(),
        owner: Address::new(net, p.owner).to_string(),
        capacity_bytes: p.capacity_bytes,
        used_bytes: p.used_bytes,
        free_bytes: p.free_bytes(),
        price_bones_per_gib_epoch: p.price_bones_per_gib_epoch.0.to_string(),
        endpoint: p.endpoint,
    }
}

/// The JSON name of a unit enum variant (`active`, `degraded`, …).
fn variant_name(v: impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A deal as the API shows it.
pub fn deal_view(net: Network, id: Hash32, d: Deal) -> DealView {
    let shards = (0u32..)
        .zip(d.shards)
        .map(|(index, s)| DealShardView {
            index,
            provider: Address::new(net, s.provider).to_string(),
            root: s.root.to_hex(),
            rate_bones_per_epoch: s.rate_bones_per_epoch.0.to_string(),
            since_epoch: s.since_epoch,
            faulty: s.faulty,
        })
        .collect();
    DealView {
        id: id.to_hex(),
        client: Address::new(net, d.client).to_string(),
        object: d.object.to_hex(),
        size_bytes: d.size_bytes,
        k: d.k,
        n: d.n,
        segment_shard_bytes: d.segment_shard_bytes,
        shard_file_bytes: d.shard_file_bytes,
        shards,
        start_epoch: d.start_epoch,
        term_epochs: d.term_epochs,
        state: variant_name(d.state),
    }
}

/// Storage providers as of a height, one page at a time.
#[utoipa::path(get, path = "/v1/storage/providers", params(PageQuery),
    responses((status = 200, body = ProviderPage), (status = 400, body = ErrorBody)))]
async fn providers(
    State(s): State<ApiState>,
    Query(q): Query<PageQuery>,
) -> Result<Json<ProviderPage>, Rejection> {
    let node = s.node.clone();
    blocking(move || {
        let net = node.genesis.network;
        let prefix = storage::PROVIDER_PREFIX;
        let (height, providers, next) = view_page(&node, prefix, &q, |key, v| {
            let p: ProviderRecord = borsh::from_slice(v).map_err(internal)?;
            Ok(provider_view(net, key, p))
        })?;
        let next = next.map(|k| Address::new(net, k).to_string());
        Ok(Json(ProviderPage {
            height,
            providers,
            next,
        }))
    })
    .await?
}

/// Storage deals as of a height, in id order, one page at a time (`after`: a deal id).
#[utoipa::path(get, path = "/v1/storage/deals", params(PageQuery),
    responses((status = 200, body = DealPage), (status = 400, body = ErrorBody)))]
async fn deals(
    State(s): State<ApiState>,
    Query(q): Query<PageQuery>,
) -> Result<Json<DealPage>, Rejection> {
    let node = s.node.clone();
    blocking(move || {
        let net = node.genesis.network;
        let (height, deals, next) = view_page(&node, storage::DEAL_PREFIX, &q, |key, v| {
            let d: Deal = borsh::from_slice(v).map_err(internal)?;
            Ok(deal_view(net, Hash32(key.0), d))
        })?;
        let next = next.map(|k| k.to_hex());
        Ok(Json(DealPage {
            height,
            deals,
            next,
        }))
    })
    .await?
}

/// A storage deal.
#[utoipa::path(get, path = "/v1/storage/deals/{id}", params(("id" = String, Path, description = "deal id (hex)")),
    responses((status = 200, body = DealView), (status = 404, body = ErrorBody)))]
async fn deal(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<DealView>, Rejection> {
    let id: Hash32 = id
        .parse()
        .map_err(|_| bad_request("invalid_id", format!("{id:?} is not 64 hex digits")))?;
    let node = s.node.clone();
    blocking(move || {
        let snap = node.db.snapshot().map_err(internal)?;
        let d = storage::deal(&snap, &id)
            .map_err(internal)?
            .ok_or_else(|| not_found("deal"))?;
        Ok(Json(deal_view(node.genesis.network, id, d)))
    })
    .await?
}

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
