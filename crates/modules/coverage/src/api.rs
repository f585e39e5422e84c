//! The coverage module's node route (feature `node`): `GET /v1/coverage/hexes`, what the
//! explorer's coverage map draws. Every active, located hotspot of the registry with its
//! HIP-17 hex scale ([`HexScales`] over all of them), and the res-8 hexes they sit in with
//! their hotspot count and mean scale, as of one height. The view is computed at most once
//! per [`HEXES_TTL`] and served from memory in between.

use crate::hex_density::HexScales;
use crate::CLASS;
use axum::extract::State;
use axum::{Extension, Json};
use depin_api::ErrorBody;
use depin_ledger::components::devices::{Device, DEVICE_PREFIX};
use depin_node::admission::NodeState;
use depin_node::api::{blocking, internal, scan_page, ApiState, PageQuery, Rejection};
use depin_types::tx::DeviceStatus;
use depin_types::{Address, Location, PublicKey};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use utoipa::{OpenApi, ToSchema};

/// How long a computed view is served before it is computed again.
pub const HEXES_TTL: Duration = Duration::from_secs(10);
/// Resolution of the hexes drawn on the map (Helium's explorer draws res-8 hexes).
pub const MAP_HEX_RES: h3o::Resolution = h3o::Resolution::Eight;
/// Most registry pages one view reads (1,000 devices a page: 10 M devices).
pub const MAX_REGISTRY_PAGES: usize = 10_000;
/// Decimals of the scales shown (banker's rounding, as `coverage hex-scales` prints them).
pub const VIEW_SCALE_DECIMALS: u32 = 4;

/// One hotspot on the map.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HexHotspot {
    /// Device address.
    pub device: String,
    /// Owner address.
    pub owner: String,
    /// Asserted H3 res-12 cell (hex).
    pub location: String,
    /// Latitude of the cell's centre, degrees.
    pub lat: f64,
    /// Longitude of the cell's centre, degrees.
    pub lng: f64,
    /// Its HIP-17 scale, 4 decimals.
    pub scale: String,
}

/// One res-8 hex with hotspots in it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MapHex {
    /// H3 res-8 cell (hex).
    pub hex: String,
    /// Active hotspots in it.
    pub hotspots: u64,
    /// Mean HIP-17 scale of those hotspots, 4 decimals.
    pub scale: String,
}

/// `GET /v1/coverage/hexes`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HexesView {
    /// Height the registry was read at.
    pub height: u64,
    /// Every active, located hotspot.
    pub hotspots: Vec<HexHotspot>,
    /// The res-8 hexes they sit in, by cell index.
    pub hexes: Vec<MapHex>,
}

#[derive(OpenApi)]
#[openapi(paths(hexes), components(schemas(HexesView, HexHotspot, MapHex)))]
struct CoverageDoc;

/// The OpenAPI document of [`routes`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    CoverageDoc::openapi()
}

/// An active, located hotspot of the registry: its key, its record, its asserted cell.
type Located = (PublicKey, Device, Location);

/// The last view computed and when.
type HexCache = Arc<Mutex<Option<(Instant, HexesView)>>>;

/// The coverage route, with a cache of its own.
pub fn routes() -> axum::Router<ApiState> {
    let cache: HexCache = Arc::default();
    axum::Router::new()
        .route("/v1/coverage/hexes", axum::routing::get(hexes))
        .layer(Extension(cache))
}

/// Active hotspots with their HIP-17 scales, and the res-8 hexes they occupy.
#[utoipa::path(get, path = "/v1/coverage/hexes",
    responses((status = 200, body = HexesView), (status = 500, body = ErrorBody)))]
async fn hexes(
    State(s): State<ApiState>,
    Extension(cache): Extension<HexCache>,
) -> Result<Json<HexesView>, Rejection> {
    if let Some((at, view)) = cache.lock().ok().and_then(|c| c.clone()) {
        if at.elapsed() < HEXES_TTL {
            return Ok(Json(view));
        }
    }
    let node = s.node.clone();
    let view = blocking(move || hexes_view(&node)).await??;
    if let Ok(mut cached) = cache.lock() {
        *cached = Some((Instant::now(), view.clone()));
    }
    Ok(Json(view))
}

/// The active, located hotspots of the registry at its latest height, and that height.
fn located_hotspots(node: &NodeState) -> Result<(u64, Vec<Located>), Rejection> {
    let mut query = PageQuery {
        height: None,
        after: None,
        limit: None,
    };
    let mut located = Vec::new();
    for _ in 0..MAX_REGISTRY_PAGES {
        let (height, rows, next) = scan_page(node, DEVICE_PREFIX, &query)?;
        query.height = Some(height);
        for (key, value) in rows {
            let device: Device = borsh::from_slice(&value).map_err(internal)?;
            if device.class != CLASS || device.status != DeviceStatus::Active {
                continue;
            }
            if let Some(location) = device.location {
                located.push((key, device, location));
            }
        }
        let Some(last) = next else {
            return Ok((height, located));
        };
        query.after = Some(last.to_hex());
    }
    Err(internal(format!(
        "more than {MAX_REGISTRY_PAGES} registry pages"
    )))
}

/// The view of the registry at its latest height.
fn hexes_view(node: &NodeState) -> Result<HexesView, Rejection> {
    let (height, located) = located_hotspots(node)?;
    let network = node.genesis.network;
    let scales = HexScales::compute(located.iter().filter_map(|(_, _, l)| cell(*l)));
    let mut by_hex: BTreeMap<h3o::CellIndex, (u64, Decimal)> = BTreeMap::new();
    let mut hotspots = Vec::with_capacity(located.len());
    for (key, device, location) in &located {
        let scale = scales.scale(location.index());
        if let Some(hex) = cell(*location).and_then(|c| c.parent(MAP_HEX_RES)) {
            let entry = by_hex.entry(hex).or_default();
            entry.0 += 1;
            entry.1 += scale;
        }
        let (lat, lng) = location.center_lat_lng();
        hotspots.push(HexHotspot {
            device: Address::new(network, *key).to_string(),
            owner: Address::new(network, device.owner).to_string(),
            location: location.to_string(),
            lat,
            lng,
            scale: scale.round_dp(VIEW_SCALE_DECIMALS).to_string(),
        });
    }
    let hexes = by_hex
        .iter()
        .map(|(hex, (count, sum))| MapHex {
            hex: hex.to_string(),
            hotspots: *count,
            scale: (*sum / Decimal::from(*count))
                .round_dp(VIEW_SCALE_DECIMALS)
                .to_string(),
        })
        .collect();
    Ok(HexesView {
        height,
        hotspots,
        hexes,
    })
}

fn cell(location: Location) -> Option<h3o::CellIndex> {
    h3o::CellIndex::try_from(location.index()).ok()
}
