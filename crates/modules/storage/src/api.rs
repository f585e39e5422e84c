//! The storage module's node routes (feature `node`): providers and deals as of a height.

use crate::ledger as storage;
use crate::types::{Deal, ProviderRecord};
use crate::views::{DealPage, DealShardView, DealView, ProviderPage, ProviderView};
use axum::extract::{Path, Query, State};
use axum::Json;
use depin_api::ErrorBody;
use depin_node::api::{
    bad_request, blocking, internal, not_found, view_page, ApiState, PageQuery, Rejection,
};
use depin_types::{Address, Hash32, Network, PublicKey};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    paths(providers, deals, deal),
    components(schemas(ProviderView, ProviderPage, DealShardView, DealView, DealPage))
)]
struct StorageDoc;

/// The OpenAPI document of [`routes`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    StorageDoc::openapi()
}

/// The storage routes: `GET /v1/storage/providers`, `/v1/storage/deals`,
/// `/v1/storage/deals/{id}`.
pub fn routes() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/v1/storage/providers", axum::routing::get(providers))
        .route("/v1/storage/deals", axum::routing::get(deals))
        .route("/v1/storage/deals/{id}", axum::routing::get(deal))
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
