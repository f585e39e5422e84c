//! The explorer, served by the node (`/explorer/`): a single-page web app built from
//! `explorer/` (MapLibre, h3-js, an offline Natural Earth basemap; `npm ci && npm run build`
//! writes `explorer/dist/`, committed), embedded in this binary so that serving it needs no
//! Node.js. Beside the app, the node's API gains two routes the app reads:
//! - `GET /v1/coverage/hexes`: every active hotspot with its HIP-17 hex scale (the coverage
//!   module's `HexScales` over the registry's asserted locations), and the res-8 hexes they
//!   sit in with their hotspot count and mean scale;
//! - `GET /explorer/oracle/v1/epochs…`: the oracle's published epochs (manifests, device
//!   verdicts), proxied from `--explorer-oracle` so the page has one origin.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use depin_client::NodeClient;
use depin_module_coverage::hex_density::HexScales;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a computed hex view is served before it is recomputed.
pub const HEXES_TTL: Duration = Duration::from_secs(10);
/// Resolution of the hexes drawn on the map (Helium's explorer draws res-8 hexes).
pub const MAP_HEX_RES: h3o::Resolution = h3o::Resolution::Eight;

/// The built app: (file name, content type, bytes).
const ASSETS: [(&str, &str, &[u8]); 4] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../../explorer/dist/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../explorer/dist/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../explorer/dist/app.css"),
    ),
    (
        "land.json",
        "application/json",
        include_bytes!("../../../explorer/dist/land.json"),
    ),
];

/// What the explorer routes need.
#[derive(Clone)]
pub struct Explorer {
    /// The node's own API URL, set once it listens.
    pub api_url: Arc<OnceLock<String>>,
    /// The oracle whose published epochs the pages show.
    pub oracle_url: Option<String>,
    cache: Arc<Mutex<Option<(Instant, Value)>>>,
    http: reqwest::Client,
}

impl Explorer {
    /// Explorer routes reading the node at `api_url` (once set) and the oracle at
    /// `oracle_url`.
    pub fn new(api_url: Arc<OnceLock<String>>, oracle_url: Option<String>) -> Explorer {
        Explorer {
            api_url,
            oracle_url,
            cache: Arc::new(Mutex::new(None)),
            http: reqwest::Client::new(),
        }
    }

    /// The routes, to merge into the node's API.
    pub fn routes(self) -> Router {
        Router::new()
            .route(
                "/explorer",
                get(|| async { Redirect::permanent("/explorer/") }),
            )
            .route("/explorer/", get(|| async { asset("index.html") }))
            .route("/explorer/oracle/{*path}", get(oracle_proxy))
            .route(
                "/explorer/{file}",
                get(|Path(f): Path<String>| async move { asset(&f) }),
            )
            .route("/v1/coverage/hexes", get(hexes))
            .with_state(self)
    }
}

fn asset(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => {
            ([(header::CONTENT_TYPE, *content_type)], *bytes).into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no explorer file {name:?}"),
        ),
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// `GET /explorer/oracle/{path}`: the oracle's `GET /{path}` for published epochs.
async fn oracle_proxy(State(e): State<Explorer>, Path(path): Path<String>) -> Response {
    let Some(base) = &e.oracle_url else {
        return error(
            StatusCode::NOT_FOUND,
            "no_oracle",
            "the node was started without --explorer-oracle",
        );
    };
    if !path.starts_with("v1/epochs") {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "only published epochs are proxied",
        );
    }
    let resp = match e.http.get(format!("{base}/{path}")).send().await {
        Ok(r) => r,
        Err(err) => {
            return error(
                StatusCode::BAD_GATEWAY,
                "oracle_unreachable",
                &err.to_string(),
            )
        }
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    match resp.bytes().await {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, content_type)],
            body.to_vec(),
        )
            .into_response(),
        Err(err) => error(
            StatusCode::BAD_GATEWAY,
            "oracle_unreachable",
            &err.to_string(),
        ),
    }
}

/// `GET /v1/coverage/hexes`.
async fn hexes(State(e): State<Explorer>) -> Response {
    if let Some((at, v)) = e.cache.lock().ok().and_then(|c| c.clone()) {
        if at.elapsed() < HEXES_TTL {
            return Json(v).into_response();
        }
    }
    let Some(url) = e.api_url.get() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "the node is starting",
        );
    };
    let (height, devices) = match NodeClient::new(url).all_devices(None).await {
        Ok(d) => d,
        Err(err) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "registry_unreadable",
                &err.to_string(),
            )
        }
    };
    let view = hex_view(height, &devices);
    if let Ok(mut c) = e.cache.lock() {
        *c = Some((Instant::now(), view.clone()));
    }
    Json(view).into_response()
}

/// Hotspots (active, located) with their HIP-17 scales, and the res-8 hexes they occupy.
fn hex_view(height: u64, devices: &[depin_api::DeviceView]) -> Value {
    let located: Vec<(&depin_api::DeviceView, h3o::CellIndex)> = devices
        .iter()
        .filter(|d| d.class == depin_module_coverage::CLASS && d.status == "active")
        .filter_map(|d| {
            let cell = d.location.as_deref()?.parse::<h3o::CellIndex>().ok()?;
            Some((d, cell))
        })
        .collect();
    let scales = HexScales::compute(located.iter().map(|(_, c)| *c));
    let mut by_hex: BTreeMap<h3o::CellIndex, (u64, Decimal)> = BTreeMap::new();
    let hotspots: Vec<Value> = located
        .iter()
        .map(|(d, cell)| {
            let scale = scales.scale(u64::from(*cell));
            if let Some(hex) = cell.parent(MAP_HEX_RES) {
                let e = by_hex.entry(hex).or_default();
                e.0 += 1;
                e.1 += scale;
            }
            json!({"device": d.address, "owner": d.owner, "location": d.location,
                   "lat": d.lat, "lng": d.lng, "scale": scale.round_dp(4).to_string()})
        })
        .collect();
    let hexes: Vec<Value> = by_hex
        .iter()
        .map(|(hex, (n, sum))| {
            let mean = (*sum / Decimal::from(*n)).round_dp(4);
            json!({"hex": hex.to_string(), "hotspots": n, "scale": mean.to_string()})
        })
        .collect();
    json!({"height": height, "hotspots": hotspots, "hexes": hexes})
}
