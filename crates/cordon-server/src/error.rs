//! Client errors apart from internal ones.
//!
//! A 4xx answer names the problem in a stable `code` and a precise `message`. A 5xx answer
//! says nothing internal: the handler attaches the detail to the response as an extension,
//! and [`crate::http`]'s boundary middleware logs it once inside the request span and
//! replaces the body with a generic message carrying the request id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cordon_runner::RunnerError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The body of every error answer: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for a program (`code`) and for a person (`message`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`, `invalid_request`, `unauthorized`.
    pub code: String,
    /// Human-readable text naming the field, value or limit at fault.
    pub message: String,
}

/// The detail of an internal failure, carried from the handler to the boundary middleware
/// in the response's extensions (never in its body).
#[derive(Debug, Clone)]
pub struct InternalDetail(pub String);

/// Marks an answer whose refusal the engine already wrote to the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Audited;

/// An error answer of the HTTP API.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// A 4xx answer: shown to the client as is.
    Client {
        status: StatusCode,
        code: &'static str,
        message: String,
        /// Whether the refusal is already in the audit log.
        audited: bool,
    },
    /// A 5xx answer: the detail is logged, the client sees a generic text.
    Internal(String),
}

impl ApiError {
    pub fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Client {
            status,
            code,
            message: message.into(),
            audited: false,
        }
    }

    /// The same error, marked as already written to the audit log.
    pub fn audited(self) -> Self {
        match self {
            ApiError::Client {
                status,
                code,
                message,
                ..
            } => ApiError::Client {
                status,
                code,
                message,
                audited: true,
            },
            internal => internal,
        }
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::client(StatusCode::UNAUTHORIZED, "unauthorized", message).audited()
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
}

/// The stable code of each engine error, shared by the HTTP API and the MCP tools.
pub fn runner_code(err: &RunnerError) -> &'static str {
    match err {
        RunnerError::NotFound { .. } => "not_found",
        RunnerError::Invalid { .. } => "invalid_request",
        RunnerError::Forbidden { .. } => "forbidden",
        RunnerError::TooLarge { .. } => "too_large",
        RunnerError::Conflict { .. } => "conflict",
        _ => "internal",
    }
}

impl From<RunnerError> for ApiError {
    fn from(err: RunnerError) -> Self {
        let status =
            StatusCode::from_u16(err.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            return ApiError::Internal(err.to_string());
        }
        ApiError::Client {
            status,
            code: runner_code(&err),
            message: err.to_string(),
            audited: false,
        }
    }
}

/// The body of an error answer.
pub fn body(code: &str, message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody {
        error: ErrorDetail {
            code: code.to_string(),
            message: message.into(),
        },
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Client {
                status,
                code,
                message,
                audited,
            } => {
                let mut response = (status, body(code, message)).into_response();
                if audited {
                    response.extensions_mut().insert(Audited);
                }
                response
            }
            ApiError::Internal(detail) => {
                let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
                response.extensions_mut().insert(InternalDetail(detail));
                response
            }
        }
    }
}
