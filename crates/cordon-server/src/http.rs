//! The HTTP JSON API under `/v1`.
//!
//! Each handler is a thin translation: extract (tenant, path, query, body), call the
//! engine, answer JSON. Request bodies and query strings are parsed by the extractors of
//! [`crate::extract`], which reject unknown fields and name the problem; the engine checks
//! every path, size and permission. Routes are registered through [`Routes`], which
//! records each method and path so that a test can hold the OpenAPI document to them.

use crate::auth::require_tenant;
use crate::error::{body, ApiError, Audited, ErrorBody, InternalDetail};
use crate::extract::{JsonBody, QueryArgs};
use crate::openapi;
use axum::extract::{Path, Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::{Extension, Json, Router};
use cordon_runner::{
    Artifact, ArtifactContent, ArtifactQuery, ListQuery, LogChunk, LogQuery, RunList, RunView,
    Runner, SubmitRequest, TenantName,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The longest a submission may wait for its run (`?wait=`), in seconds.
pub const MAX_WAIT_SECONDS: u32 = 300;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub runner: Runner,
    /// What `cordon doctor --json` printed at start-up.
    pub sandbox: Arc<serde_json::Value>,
    /// The HTTP request body limit, for the 413 message.
    pub max_body_bytes: usize,
}

/// `?wait=SECONDS` on `POST /v1/runs`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// Wait up to this many seconds (at most 300) for the run to finish before answering.
    pub wait: Option<u32>,
}

/// The answer of `GET /v1/runs/{id}/artifacts`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct ArtifactList {
    /// Every entry of the run directory, depth first, paths relative to it.
    pub artifacts: Vec<Artifact>,
}

/// A router under construction that remembers each route it was given.
pub struct Routes {
    public: Router<AppState>,
    protected: Router<AppState>,
    table: Vec<(Method, &'static str)>,
}

impl Routes {
    fn new() -> Self {
        Routes {
            public: Router::new(),
            protected: Router::new(),
            table: Vec::new(),
        }
    }

    /// A route that needs a bearer token.
    fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.protected = self.protected.route(path, on(filter(&method), handler));
        self.table.push((method, path));
        self
    }

    /// A route anyone may call.
    fn add_public<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.public = self.public.route(path, on(filter(&method), handler));
        self.table.push((method, path));
        self
    }
}

fn filter(method: &Method) -> MethodFilter {
    // The table below uses only standard methods, which all have a filter.
    MethodFilter::try_from(method.clone()).expect("a standard HTTP method")
}

/// The API's routes, without state or middleware.
pub fn routes() -> Routes {
    Routes::new()
        .add(Method::POST, "/v1/runs", submit)
        .add(Method::GET, "/v1/runs", list)
        .add(Method::GET, "/v1/runs/{id}", status)
        .add(Method::GET, "/v1/runs/{id}/logs", logs)
        .add(Method::GET, "/v1/runs/{id}/artifacts", artifacts)
        .add(
            Method::GET,
            "/v1/runs/{id}/artifacts/content",
            read_artifact,
        )
        .add(Method::POST, "/v1/runs/{id}/cancel", cancel)
        .add(Method::GET, "/v1/sandbox", sandbox)
        .add_public(Method::GET, "/v1/openapi.json", openapi_document)
}

/// Every `(method, path)` the API serves, as registered.
pub fn route_table() -> Vec<(Method, &'static str)> {
    routes().table
}

/// The whole HTTP application: `/v1` plus the MCP endpoint (`mcp`, a router for `/mcp`),
/// behind the token check, the body limit and the request span.
pub fn app(state: AppState, mcp: Router<AppState>) -> Router {
    let routes = routes();
    let auth = middleware::from_fn_with_state(state.clone(), require_tenant);
    let audit = middleware::from_fn_with_state(state.clone(), audit_refusals);
    // Layers run outermost last: the token check first, then the audit of refusals.
    let protected = routes
        .protected
        .merge(mcp)
        .route_layer(audit)
        .route_layer(auth);
    Router::new()
        .merge(protected)
        .merge(routes.public)
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::extract::DefaultBodyLimit::max(state.max_body_bytes))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("a handler panicked".into()).into_response()
        }))
        .layer(middleware::from_fn(conceal_internal))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::map_request(drop_client_request_id))
        .with_state(state)
}

/// Request ids are the server's own: one sent by the client would otherwise be kept and
/// written into the log as is.
async fn drop_client_request_id(mut req: Request) -> Request {
    req.headers_mut().remove("x-request-id");
    req
}

fn request_span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = id,
        tenant = tracing::field::Empty,
    )
}

/// Logs the detail of a 5xx answer once, inside the request span, and gives the client a
/// generic text with the request id instead.
async fn conceal_internal(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_string();
    let response = next.run(req).await;
    if !response.status().is_server_error() {
        return response;
    }
    let status = response.status();
    match response.extensions().get::<InternalDetail>() {
        Some(InternalDetail(detail)) => tracing::error!(%detail, "request failed"),
        None => tracing::error!(%status, "request failed without detail"),
    }
    let message =
        format!("internal error; the server log has the detail (request id {request_id})");
    (status, body("internal", message)).into_response()
}

/// Writes each refused request of an authenticated tenant to the audit log, unless the
/// engine already did (it records its own refusals of submissions).
async fn audit_refusals(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let tenant = req.extensions().get::<TenantName>().cloned();
    let what = format!("{} {}", req.method(), req.uri().path());
    let (parts, body) = next.run(req).await.into_parts();
    if parts.status.is_client_error() && parts.extensions.get::<Audited>().is_none() {
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        let why = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| parts.status.to_string());
        state.runner.audit_refusal(tenant.as_ref(), &what, &why);
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    Response::from_parts(parts, body)
}

async fn unknown_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::client(
        StatusCode::NOT_FOUND,
        "unknown_route",
        format!("no route for {method} {}", uri.path()),
    )
}

async fn wrong_method(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::client(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not accept {method}", uri.path()),
    )
}

async fn submit(
    State(state): State<AppState>,
    Extension(tenant): Extension<TenantName>,
    QueryArgs(q): QueryArgs<WaitQuery>,
    JsonBody(req): JsonBody<SubmitRequest>,
) -> Result<Response, ApiError> {
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECONDS {
        return Err(ApiError::invalid(format!(
            "invalid wait: {wait} is more than {MAX_WAIT_SECONDS} seconds"
        )));
    }
    let submitted = state.runner.submit(&tenant, req).await;
    let mut view = submitted.map_err(|e| ApiError::from(e).audited())?;
    if wait > 0 {
        let timeout = Duration::from_secs(u64::from(wait));
        view = state.runner.wait(&tenant, &view.id, timeout).await?;
    }
    let location = HeaderValue::from_str(&format!("/v1/runs/{}", view.id))
        .map_err(|e| ApiError::Internal(format!("failed to build the location header: {e}")))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

async fn list(
    State(state): State<AppState>,
    Extension(tenant): Extension<TenantName>,
    QueryArgs(q): QueryArgs<ListQuery>,
) -> Result<Json<RunList>, ApiError> {
    Ok(Json(state.runner.list(&tenant, q).await?))
}

async fn status(
    State(state): State<AppState>,
    Extension(tenant): Extension<TenantName>,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    Ok(Json(state.runner.status(&tenant, &id).await?))
}

async fn logs(
    State(state): State<AppState>,
    Extension(tenant): Extension<TenantName>,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<LogQuery>,
) -> Result<Json<LogChunk>, ApiError> {
    Ok(Json(state.runner.logs(&tenant, &id, q).await?))
}

async fn artifacts(
    State(state): State<AppState>,
    Extension(tenant): Extension<TenantName>,
    Path(id): Path<String>,
) -> Result<Json<ArtifactList>, ApiError> {
    let artifacts = state.runner.artifacts(&tenant, &id).await?;
    Ok(Json(ArtifactList { artifacts }))
}

async fn read_artifact(
    State(state): State<AppState>,
    Extension(tenant): Extension<TenantName>,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<ArtifactQuery>,
) -> Result<Json<ArtifactContent>, ApiError> {
    Ok(Json(state.runner.read_artifact(&tenant, &id, q).await?))
}

async fn cancel(
    State(state): State<AppState>,
    Extension(tenant): Extension<TenantName>,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    Ok(Json(state.runner.cancel(&tenant, &id).await?))
}

async fn sandbox(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.sandbox.as_ref().clone())
}

async fn openapi_document() -> Json<serde_json::Value> {
    Json(openapi::document().clone())
}
