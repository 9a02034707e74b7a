//! cordon's service interfaces: the HTTP JSON API under `/v1` and the MCP server, over
//! streamable HTTP at `/mcp` and over stdio.
//!
//! Both are thin layers over [`cordon_runner::Runner`], which owns the queue, the records,
//! the policy checks and the processes. This crate adds what belongs to the wire: bearer
//! tokens (`auth`), request parsing that names the problem (`extract`), errors that keep
//! internals out of answers ([`error`]), the OpenAPI document ([`openapi`]), the MCP
//! tools (`tools`) and their adapter ([`mcp`], the only module that uses `rmcp`).
//!
//! Known limitations: no TLS (put a reverse proxy in front for anything but loopback);
//! no per-tenant request rate limit beyond the engine's queue bounds.
#![forbid(unsafe_code)]

mod auth;
pub mod error;
mod extract;
pub mod http;
pub mod mcp;
pub mod openapi;
mod tools;

use cordon_runner::{Runner, TenantName};
use serde_json::Value;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;

/// Failures of the service's front ends.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("failed to listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to serve HTTP: {0}")]
    Serve(#[source] std::io::Error),
    #[error(transparent)]
    Mcp(#[from] mcp::McpError),
}

/// How long open requests may take to finish once shutdown has begun.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// What the HTTP front end needs beyond the engine.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Address to listen on, e.g. `127.0.0.1:8470` (port 0: any free port).
    pub listen: String,
    /// `Host` header values the MCP endpoint accepts (DNS-rebinding defence).
    pub allowed_hosts: Vec<String>,
    /// Request body limit, in bytes.
    pub max_body_bytes: usize,
}

/// Serves the HTTP API and the MCP endpoint until `shutdown` completes; `on_listen` is
/// told the bound address once the socket is open.
pub async fn serve_http(
    runner: Runner,
    sandbox: Value,
    opts: HttpOptions,
    on_listen: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let bind_error = |source| ServerError::Bind {
        addr: opts.listen.clone(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .map_err(bind_error)?;
    on_listen(listener.local_addr().map_err(bind_error)?);
    let state = http::AppState {
        runner,
        sandbox: Arc::new(sandbox),
        max_body_bytes: opts.max_body_bytes,
    };
    let (mcp, mcp_stop) = mcp::http_router(&state, opts.allowed_hosts.clone());
    let app = http::app(state, mcp);
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let served = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        mcp_stop.stop();
        let _ = stopping.send(true);
    });
    // A request still open after the grace (a long `?wait=` on a queued run) is dropped.
    let grace = async move {
        let _ = stopped.wait_for(|s| *s).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = served.into_future() => result.map_err(ServerError::Serve),
        () = grace => {
            tracing::warn!("requests still open after the shutdown grace: dropping them");
            Ok(())
        }
    }
}

/// Serves the MCP tools on stdin/stdout for `tenant` until the client closes stdin.
pub async fn serve_stdio(
    runner: Runner,
    sandbox: Value,
    tenant: TenantName,
) -> Result<(), ServerError> {
    Ok(mcp::serve_stdio(runner, Arc::new(sandbox), tenant).await?)
}
