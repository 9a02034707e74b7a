//! Request extractors whose rejections name the problem in the API's error shape.
//!
//! axum's own `Json` and `Query` answer with plain-text bodies and, for a body of the wrong
//! shape, 422; these answer `{"error": ...}` with 400 for anything the client sent wrong
//! (malformed JSON, unknown or missing fields, wrong types) and 413 over the body limit.

use crate::error::ApiError;
use crate::http::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

/// A JSON request body, parsed with the type's own `deny_unknown_fields`.
pub struct JsonBody<T>(pub T);

/// A query string, parsed with the type's own `deny_unknown_fields`.
pub struct QueryArgs<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        check_content_type(&req)?;
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::client(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("request body is larger than {} bytes", state.max_body_bytes),
                ),
                _ => ApiError::invalid(format!(
                    "failed to read the request body: {}",
                    e.body_text()
                )),
            })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body, telling bad syntax (`malformed_json`) from a well-formed body of the
/// wrong shape (`invalid_request`); serde's text names the line, column and field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| json_error(e.inner(), with_path(&e)))?;
    de.end().map_err(|e| json_error(&e, e.to_string()))?;
    Ok(value)
}

fn json_error(e: &serde_json::Error, text: String) -> ApiError {
    match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::invalid(format!("invalid request body: {text}"))
        }
        _ => ApiError::client(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("malformed JSON in the request body: {text}"),
        ),
    }
}

/// `field.sub[2]: what is wrong`, or just what is wrong at the top level.
fn with_path<E: std::fmt::Display>(e: &serde_path_to_error::Error<E>) -> String {
    let path = e.path().to_string();
    if path == "." {
        e.inner().to_string()
    } else {
        format!("{path}: {}", e.inner())
    }
}

fn check_content_type(req: &Request) -> Result<(), ApiError> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if json {
        return Ok(());
    }
    Err(ApiError::client(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "request body must be JSON: send `Content-Type: application/json`",
    ))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryArgs<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(QueryArgs)
            .map_err(|e| ApiError::invalid(format!("invalid query string: {}", with_path(&e))))
    }
}
