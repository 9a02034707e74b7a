//! Bearer tokens mapped to tenants.
//!
//! Every route under `/v1` (except the OpenAPI document) and `/mcp` passes through
//! [`require_tenant`]: the `Authorization: Bearer <token>` header is looked up by the
//! engine (constant-time compare of hashes); the tenant found is put into the request's
//! extensions for the handler, and a missing or unknown token is answered 401 and written
//! to the audit log.

use crate::error::ApiError;
use crate::http::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Why a request carries no usable token; the texts are API.
const MISSING: &str = "missing bearer token: send `Authorization: Bearer <token>`";
const MALFORMED: &str = "malformed authorization header: expected `Bearer <token>`";
const UNKNOWN: &str = "unknown bearer token";

/// Axum middleware: admits the request with its tenant, or answers 401.
pub async fn require_tenant(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    match bearer(&req) {
        Ok(token) => match state.runner.authenticate(token) {
            Some(tenant) => {
                tracing::Span::current().record("tenant", tenant.0.as_str());
                req.extensions_mut().insert(tenant);
                next.run(req).await
            }
            None => refuse(&state, &req, UNKNOWN),
        },
        Err(why) => refuse(&state, &req, why),
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive, RFC 7235).
fn bearer(req: &Request) -> Result<&str, &'static str> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or(MISSING)?;
    let value = value.to_str().map_err(|_| MALFORMED)?;
    let (scheme, token) = value.split_once(' ').ok_or(MALFORMED)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(MALFORMED);
    }
    Ok(token)
}

fn refuse(state: &AppState, req: &Request, why: &str) -> Response {
    let what = format!("{} {}", req.method(), req.uri().path());
    state.runner.audit_refusal(None, &what, why);
    let mut response = ApiError::unauthorized(why).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_of(value: Option<&str>) -> Result<String, &'static str> {
        let mut req = Request::new(axum::body::Body::empty());
        if let Some(v) = value {
            req.headers_mut().insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(v).expect("a header"),
            );
        }
        bearer(&req).map(str::to_string)
    }

    #[test]
    fn bearer_scheme_is_required_and_case_insensitive() {
        assert_eq!(token_of(Some("Bearer abc")), Ok("abc".into()));
        assert_eq!(token_of(Some("bearer  abc ")), Ok("abc".into()));
        assert_eq!(token_of(None), Err(MISSING));
        for bad in [
            "Basic YWJjOmRlZg==",
            "Bearer",
            "Bearer ",
            "abc",
            "Token abc",
        ] {
            assert_eq!(token_of(Some(bad)), Err(MALFORMED), "{bad}");
        }
    }
}
