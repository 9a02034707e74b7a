//! The MCP server: the one module that speaks `rmcp`'s types.
//!
//! The tools themselves live in [`crate::tools`]; this adapter lists them, dispatches
//! calls, and turns refusals into tool errors (`isError` results with the message) so a
//! model can read and act on them. Over stdio the tenant is fixed when the server starts;
//! over streamable HTTP it is the one the bearer token named, which the token middleware
//! put into the HTTP request that rmcp hands to each call.

use crate::http::AppState;
use crate::tools::{self, ToolError};
use axum::Router;
use cordon_runner::{Runner, TenantName};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

const INSTRUCTIONS: &str = "cordon runs commands in a Linux sandbox: no network unless \
    allowed, no access outside the run's own directory and read-only system folders, \
    limits on time, memory and processes. Use `run` to execute code, then `logs`, \
    `artifacts` and `read_artifact` to read what it produced.";

/// Failures of the MCP transports.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("failed to start the MCP session on stdio: {0}")]
    Start(String),
    #[error("failed to serve MCP on stdio: {0}")]
    Serve(String),
}

/// One MCP server instance (one per stdio process, one per HTTP session).
#[derive(Clone)]
pub struct CordonMcp {
    runner: Runner,
    sandbox: Arc<Value>,
    /// The tenant of a stdio server; `None` over HTTP, where each request names it.
    tenant: Option<TenantName>,
}

impl CordonMcp {
    pub fn new(runner: Runner, sandbox: Arc<Value>, tenant: Option<TenantName>) -> Self {
        CordonMcp {
            runner,
            sandbox,
            tenant,
        }
    }

    fn tenant_of(&self, ctx: &RequestContext<RoleServer>) -> Option<TenantName> {
        if let Some(tenant) = &self.tenant {
            return Some(tenant.clone());
        }
        let parts = ctx.extensions.get::<axum::http::request::Parts>()?;
        parts.extensions.get::<TenantName>().cloned()
    }

    async fn answer(&self, tenant: &TenantName, params: CallToolRequestParams) -> CallToolResult {
        let name = params.name.to_string();
        let args = params.arguments.unwrap_or_default();
        let outcome = match tools::parse(&name, args) {
            Ok(call) => tools::call(&self.runner, tenant, &self.sandbox, call).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(value) => success(value),
            Err(err) => {
                if err.needs_audit() {
                    let what = format!("MCP tool {name}");
                    self.runner
                        .audit_refusal(Some(tenant), &what, &err.to_string());
                }
                failure(&name, tenant, err)
            }
        }
    }
}

fn success(value: Value) -> CallToolResult {
    let note = tools::unfinished_note(&value);
    let mut result = CallToolResult::structured(value);
    if let Some(note) = note {
        result.content.push(ContentBlock::text(note));
    }
    result
}

fn failure(tool: &str, tenant: &TenantName, err: ToolError) -> CallToolResult {
    if let ToolError::Internal(detail) = &err {
        tracing::error!(tool, tenant = %tenant.0, %detail, "tool call failed");
    } else {
        tracing::debug!(tool, tenant = %tenant.0, error = %err, "tool call refused");
    }
    CallToolResult::error(vec![ContentBlock::text(err.to_string())])
}

fn tool_of(spec: &tools::ToolSpec) -> Tool {
    Tool::new(
        spec.name,
        spec.description,
        Arc::new(spec.input_schema.clone()),
    )
}

impl ServerHandler for CordonMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("cordon", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(
            tools::catalog().iter().map(tool_of).collect(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::catalog()
            .iter()
            .find(|t| t.name == name)
            .map(tool_of)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(tenant) = self.tenant_of(&ctx) else {
            // The token middleware admits no request without a tenant: this is a bug.
            tracing::error!("MCP call without a tenant");
            return Err(ErrorData::internal_error("no tenant for this call", None));
        };
        Ok(self.answer(&tenant, request).await.into())
    }
}

/// Serves the tools on stdin/stdout for `tenant` until the client closes stdin.
pub async fn serve_stdio(
    runner: Runner,
    sandbox: Arc<Value>,
    tenant: TenantName,
) -> Result<(), McpError> {
    let server = CordonMcp::new(runner, sandbox, Some(tenant));
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpError::Start(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| McpError::Serve(e.to_string()))?;
    Ok(())
}

/// Ends the open MCP sessions and streams, so that a graceful shutdown is not held up by
/// clients that keep a stream open.
pub struct McpStop(CancellationToken);

impl McpStop {
    pub fn stop(&self) {
        self.0.cancel();
    }
}

/// The streamable HTTP endpoint at `/mcp`, accepting only `allowed_hosts` in `Host`.
///
/// Stateless: no MCP session outlives its request. Each request carries its own token and
/// so its own tenant, and there is no session (or resumable stream) that a holder of
/// another token could join, nor any to expire.
pub fn http_router(state: &AppState, allowed_hosts: Vec<String>) -> (Router<AppState>, McpStop) {
    let runner = state.runner.clone();
    let sandbox = state.sandbox.clone();
    let stop = CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts)
        .with_max_request_body_bytes(state.max_body_bytes)
        .with_legacy_session_mode(false)
        .with_cancellation_token(stop.child_token());
    let service = StreamableHttpService::new(
        move || Ok(CordonMcp::new(runner.clone(), sandbox.clone(), None)),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    (Router::new().nest_service("/mcp", service), McpStop(stop))
}
