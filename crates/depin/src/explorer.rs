//! The explorer, served by the node (`/explorer/`): a single-page web app built from
//! `explorer/` (MapLibre, h3-js, an offline Natural Earth basemap; `npm ci && npm run build`
//! writes `explorer/dist/`, committed), embedded in this binary so that serving it needs no
//! Node.js. Beside the app, the node's API gains the route `GET /explorer/oracle/v1/epochs…`:
//! the oracle's published epochs (manifests, device verdicts), proxied from
//! `--explorer-oracle` so the page has one origin. What module pages draw comes from the
//! modules' own node routes (the coverage map: `GET /v1/coverage/hexes`, coverage's
//! `api.rs`).

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

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
    /// The oracle whose published epochs the pages show.
    pub oracle_url: Option<String>,
    http: reqwest::Client,
}

impl Explorer {
    /// Explorer routes reading the oracle at `oracle_url`.
    pub fn new(oracle_url: Option<String>) -> Explorer {
        Explorer {
            oracle_url,
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
