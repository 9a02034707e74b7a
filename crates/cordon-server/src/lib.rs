//! cordon's service interfaces: the HTTP JSON API under `/v1` and the MCP server.
#![forbid(unsafe_code)]
