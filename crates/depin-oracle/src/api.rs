//! The oracle's HTTP API (axum; OpenAPI by utoipa at `/openapi.json`).
//!
//! `POST /v1/reports` takes one borsh [`depin_types::SignedReport`]; `POST /v1/reports/batch`
//! the borsh encoding of `Vec<Vec<u8>>` and replies JSON, or borsh
//! `Vec<`[`depin_types::ReportOutcome`]`>` when asked with `Accept: application/octet-stream`.
//! A 200 reply means the report is durable. Refusals
//! are `{"code", "message"}` with the reason codes of [`crate::ingest`]; a single report over
//! its device's rate gets 429, an oversized body 413 (`body_too_large`, counted in the epoch's
//! manifest like every refusal).

use crate::core::{Core, Refusal, ReportStatus};
use crate::publish::Published;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use depin_api::*;
use depin_module::Verdict;
use depin_types::{Hash32, ReportOutcome};
use std::sync::Arc;
use utoipa::OpenApi;

/// Most reports in one batch.
pub const MAX_BATCH_REPORTS: usize = 16_384;

/// State of every handler.
#[derive(Clone)]
pub struct OracleApi {
    /// The core (absent on a follower, which does not ingest).
    pub core: Option<Arc<Core>>,
    /// Published epochs.
    pub published: Published,
    /// The oracle's clock, ms since the Unix epoch.
    pub clock: fn() -> u64,
    /// Prometheus text renderer.
    pub metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "depin oracle API",
        description = "Submit signed device reports; read report statuses and published epochs."
    ),
    paths(
        submit_report,
        submit_batch,
        report_status,
        epochs,
        manifest,
        inputs,
        device_epoch
    ),
    components(schemas(
        ErrorBody,
        ReportAck,
        ReportBatchItem,
        ReportBatchResponse,
        ReportStatusView,
        DeviceEpochView,
        EpochsView,
        OpenEpochView
    ))
)]
struct ApiDoc;

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// An error reply.
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            metrics::counter!("depin_oracle_reports_refused_total", "code" => self.body.code.clone()).increment(1);
        }
        (self.status, Json(self.body)).into_response()
    }
}

fn err(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        body: ErrorBody {
            code: code.into(),
            message: message.into(),
        },
    }
}

fn refusal_status(code: &str) -> StatusCode {
    match code {
        "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
        "report_too_large" | "body_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "log_unavailable" | "verifier_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn from_refusal(r: Refusal) -> ApiError {
    err(refusal_status(r.code), r.code, r.message)
}

/// All routes, with a body limit of `max_body_bytes`.
pub fn router(state: OracleApi, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/v1/reports", post(submit_report))
        .route("/v1/reports/batch", post(submit_batch))
        .route("/v1/reports/{id}", get(report_status))
        .route("/v1/epochs", get(epochs))
        .route("/v1/epochs/{epoch}/manifest", get(manifest))
        .route("/v1/epochs/{epoch}/inputs", get(inputs))
        .route("/v1/epochs/{epoch}/devices/{device}", get(device_epoch))
        .route("/openapi.json", get(|| async { Json(openapi()) }))
        .route("/metrics", get(metrics_text))
        .route("/health", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

async fn metrics_text(State(s): State<OracleApi>) -> String {
    s.metrics.as_ref().map(|m| m()).unwrap_or_default()
}

async fn body_or_refuse(
    s: &OracleApi,
    core: &Arc<Core>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    match body {
        Ok(b) => Ok(b),
        Err(e) => {
            let r = Refusal {
                code: "body_too_large",
                message: e.body_text(),
            };
            core.count_refusal(&r, (s.clock)()).await;
            Err(from_refusal(r))
        }
    }
}

fn ingesting(s: &OracleApi) -> Result<Arc<Core>, ApiError> {
    s.core.clone().ok_or_else(|| {
        err(
            StatusCode::NOT_FOUND,
            "not_ingesting",
            "this oracle follows another and takes no reports",
        )
    })
}

/// Submit one signed report (borsh). 200 once durable.
#[utoipa::path(post, path = "/v1/reports", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = ReportAck), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn submit_report(
    State(s): State<OracleApi>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ReportAck>, ApiError> {
    let core = ingesting(&s)?;
    let body = body_or_refuse(&s, &core, body).await?;
    let mut out = core.ingest(vec![body.to_vec()], (s.clock)()).await;
    let r = out.pop().ok_or_else(|| {
        err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "no result",
        )
    })?;
    let ack = r.map_err(from_refusal)?;
    metrics::counter!("depin_oracle_reports_accepted_total").increment(1);
    Ok(Json(ReportAck {
        id: ack.id.to_hex(),
        epoch: ack.epoch,
    }))
}

/// Submit a batch (borsh `Vec<Vec<u8>>`); one result per report, in order. The reply is
/// JSON, or borsh `Vec<ReportOutcome>` when the request says
/// `Accept: application/octet-stream` (a gateway forwarding thousands of reports need not
/// parse JSON and hex).
#[utoipa::path(post, path = "/v1/reports/batch", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "one result per report: JSON, or borsh Vec<ReportOutcome> with Accept: application/octet-stream",
            content((ReportBatchResponse = "application/json"), (Vec<u8> = "application/octet-stream"))),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn submit_batch(
    State(s): State<OracleApi>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let core = ingesting(&s)?;
    let body = body_or_refuse(&s, &core, body).await?;
    let items: Vec<Vec<u8>> = borsh::from_slice(&body)
        .map_err(|e| err(StatusCode::BAD_REQUEST, "malformed_batch", e.to_string()))?;
    if items.len() > MAX_BATCH_REPORTS {
        let msg = format!("{} reports, limit {MAX_BATCH_REPORTS}", items.len());
        return Err(err(StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large", msg));
    }
    let results = core.ingest(items, (s.clock)()).await;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    metrics::counter!("depin_oracle_reports_accepted_total").increment(accepted as u64);
    let outcomes = results.into_iter().map(|r| match r {
        Ok(a) => ReportOutcome::Acknowledged {
            id: a.id,
            epoch: a.epoch,
        },
        Err(e) => ReportOutcome::Refused {
            code: e.code.into(),
            message: e.message,
        },
    });
    if wants_borsh(&headers) {
        let outcomes: Vec<ReportOutcome> = outcomes.collect();
        let bytes = borsh::to_vec(&outcomes).expect("writing to a Vec cannot fail");
        return Ok(([(CONTENT_TYPE, OCTET_STREAM)], bytes).into_response());
    }
    let results = outcomes.map(json_item).collect();
    Ok(Json(ReportBatchResponse { results }).into_response())
}

const OCTET_STREAM: &str = "application/octet-stream";

/// True when the request's `Accept` names `application/octet-stream`.
fn wants_borsh(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| {
            m.split(';')
                .next()
                .is_some_and(|t| t.trim() == OCTET_STREAM)
        })
}

fn json_item(o: ReportOutcome) -> ReportBatchItem {
    match o {
        ReportOutcome::Acknowledged { id, epoch } => ReportBatchItem {
            id: Some(id.to_hex()),
            epoch: Some(epoch),
            code: None,
            message: None,
        },
        ReportOutcome::Refused { code, message } => ReportBatchItem {
            id: None,
            epoch: None,
            code: Some(code),
            message: Some(message),
        },
    }
}

/// A report's status: `accepted`, then `valid` or `invalid` (with the reason) once its epoch
/// is settled; 404 `not_found` for an unknown report or one more than
/// [`crate::core::STATUS_RETAINED_EPOCHS`] settled epochs old (its verdict is in that epoch's
/// published `verdicts.bin`).
#[utoipa::path(get, path = "/v1/reports/{id}", params(("id" = String, Path, description = "report id (hex)")),
    responses((status = 200, body = ReportStatusView), (status = 404, body = ErrorBody)))]
async fn report_status(
    State(s): State<OracleApi>,
    Path(id): Path<String>,
) -> Result<Json<ReportStatusView>, ApiError> {
    let h: Hash32 = id.parse().map_err(|_| {
        err(
            StatusCode::BAD_REQUEST,
            "malformed_id",
            "a report id is 64 hex characters",
        )
    })?;
    let st = s.core.as_ref().and_then(|c| c.status(&h));
    let st = st.ok_or_else(|| err(StatusCode::NOT_FOUND, "not_found", "no such report"))?;
    let (epoch, status, reason) = match st {
        ReportStatus::Accepted { epoch } => (epoch, "accepted", None),
        ReportStatus::Settled {
            epoch,
            verdict: Verdict::Valid,
        } => (epoch, "valid", None),
        ReportStatus::Settled {
            epoch,
            verdict: Verdict::Invalid(c),
        } => (epoch, "invalid", Some(c.into_owned())),
    };
    Ok(Json(ReportStatusView {
        id: h.to_hex(),
        epoch,
        status: status.into(),
        reason,
    }))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    err(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        e.to_string(),
    )
}

/// Settled and open epochs.
#[utoipa::path(get, path = "/v1/epochs", responses((status = 200, body = EpochsView)))]
async fn epochs(State(s): State<OracleApi>) -> Result<Json<EpochsView>, ApiError> {
    let settled = s.published.settled().map_err(internal)?;
    let (open, first_open) = match &s.core {
        Some(c) => {
            let open = c
                .open_counts()
                .into_iter()
                .map(|(epoch, n)| OpenEpochView {
                    epoch,
                    reports: n as u64,
                })
                .collect();
            (open, c.closed_below())
        }
        None => (Vec::new(), settled.last().map_or(0, |l| l + 1)),
    };
    Ok(Json(EpochsView {
        settled,
        open,
        first_open,
    }))
}

/// A settled epoch's manifest.
#[utoipa::path(get, path = "/v1/epochs/{epoch}/manifest", params(("epoch" = u64, Path, description = "epoch")),
    responses((status = 200, description = "the manifest (JSON)"), (status = 404, body = ErrorBody)))]
async fn manifest(
    State(s): State<OracleApi>,
    Path(epoch): Path<u64>,
) -> Result<Response, ApiError> {
    let bytes = s.published.manifest_bytes(epoch).map_err(internal)?;
    settled_file(epoch, bytes, "application/json")
}

/// A published file of `epoch` as the response, or 404 `not_found` when it is not settled.
fn settled_file(
    epoch: u64,
    bytes: Option<Vec<u8>>,
    content_type: &'static str,
) -> Result<Response, ApiError> {
    let bytes = bytes.ok_or_else(|| {
        err(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("epoch {epoch} is not settled"),
        )
    })?;
    Ok(([("content-type", content_type)], bytes).into_response())
}

/// A settled epoch's inputs (`inputs.bin`, borsh), for `depin rewards verify`.
#[utoipa::path(get, path = "/v1/epochs/{epoch}/inputs", params(("epoch" = u64, Path, description = "epoch")),
    responses((status = 200, description = "inputs.bin", content_type = "application/octet-stream"), (status = 404, body = ErrorBody)))]
async fn inputs(State(s): State<OracleApi>, Path(epoch): Path<u64>) -> Result<Response, ApiError> {
    let bytes = s.published.inputs_bytes(epoch).map_err(internal)?;
    settled_file(epoch, bytes, "application/octet-stream")
}

/// One device's reports in a settled epoch: count, verdicts by reason, reward.
#[utoipa::path(get, path = "/v1/epochs/{epoch}/devices/{device}",
    params(("epoch" = u64, Path, description = "epoch"), ("device" = String, Path, description = "device address or hex key")),
    responses((status = 200, body = DeviceEpochView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn device_epoch(
    State(s): State<OracleApi>,
    Path((epoch, device)): Path<(u64, String)>,
) -> Result<Json<DeviceEpochView>, ApiError> {
    let key = depin_types::Address::parse(&device)
        .map(|a| a.key)
        .or_else(|_| depin_types::PublicKey::from_hex(&device))
        .map_err(|_| {
            let msg = format!("{device:?} is neither a base58check address nor a hex key");
            err(StatusCode::BAD_REQUEST, "invalid_address", msg)
        })?;
    let p = s.published.clone();
    let found = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::publish::PublishError>((p.device_verdicts(epoch, &key)?, p.manifest(epoch)?))
    })
    .await
    .map_err(internal)?
    .map_err(internal)?;
    let (Some((reports, verdicts)), Some(manifest)) = found else {
        let msg = format!("epoch {epoch} is not settled");
        return Err(err(StatusCode::NOT_FOUND, "not_found", msg));
    };
    let entry = manifest
        .devices
        .iter()
        .find(|d| depin_types::Address::parse(&d.device).is_ok_and(|a| a.key == key));
    Ok(Json(DeviceEpochView {
        epoch,
        device,
        reports,
        verdicts,
        reward_bones: entry.map_or_else(|| "0".into(), |d| d.reward_bones.clone()),
        module: entry.map(|d| d.module.clone()),
    }))
}

/// Serves the API on `listen` in a background task until the process ends (benchmarks and
/// tools; [`crate::start()`] runs the whole oracle with a graceful stop).
///
/// Errors: the address cannot be bound.
pub async fn spawn(
    state: OracleApi,
    listen: &str,
    max_body_bytes: usize,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = router(state, max_body_bytes);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "oracle API stopped");
        }
    });
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_borsh_reply_is_given_only_to_who_accepts_octet_streams() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.append(ACCEPT, HeaderValue::from_static(v));
            wants_borsh(&h)
        };
        assert!(!wants_borsh(&HeaderMap::new()));
        assert!(with("application/octet-stream"));
        assert!(with("application/json, application/octet-stream;q=0.5"));
        assert!(!with("application/json"));
        assert!(!with("*/*"));
    }

    #[test]
    fn the_batch_route_documents_both_reply_formats() {
        let doc = serde_json::to_value(openapi()).expect("openapi serializes");
        let content = &doc["paths"]["/v1/reports/batch"]["post"]["responses"]["200"]["content"];
        assert!(content.get("application/json").is_some(), "{content}");
        assert!(
            content.get("application/octet-stream").is_some(),
            "{content}"
        );
    }
}
