//! The MCP tools driven by the official Python MCP client (`mcp` from PyPI, in a venv the
//! harness makes once), over stdio (`cordon mcp`) and streamable HTTP (`cordon serve`).

mod service;

use service::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/service/mcp_client.py");

fn run_client(args: &[&str]) -> serde_json::Value {
    let python = python_with_mcp();
    let out = Command::new(&python)
        .arg(CLIENT)
        .args(args)
        .env("CORDON_LOG", "info")
        .output()
        .expect("failed to start the Python MCP client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the MCP client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or("");
    serde_json::from_str(last).unwrap_or_else(|_| panic!("no summary line in:\n{stdout}"))
}

#[test]
fn python_client_over_stdio_runs_reads_and_cancels() {
    let setup = Setup::new(&["alice"], "");
    let config = setup.write_config();
    let summary = run_client(&[
        "stdio",
        &cordon_bin().display().to_string(),
        &config.display().to_string(),
        "alice",
    ]);
    assert_eq!(summary["ok"], true);
    // The runs are in the shared store, visible to the HTTP API too.
    let server = Server::start(&config);
    let ids = server.run_ids(setup.tenant("alice"));
    for id in summary["runs"].as_array().expect("run ids") {
        assert!(
            ids.contains(&id.as_str().unwrap_or("").to_string()),
            "{id} not stored"
        );
    }
}

#[test]
fn python_client_over_streamable_http_runs_reads_and_cancels() {
    let setup = Setup::new(&["alice", "bob"], "");
    let server = setup.serve();
    let alice = setup.tenant("alice");
    let url = format!("{}/mcp", server.base);
    let summary = run_client(&["http", &url, &alice.token]);
    assert_eq!(summary["ok"], true);
    // The token chose the tenant: the runs are alice's, and bob sees none of them.
    let ids = server.run_ids(alice);
    for id in summary["runs"].as_array().expect("run ids") {
        assert!(
            ids.contains(&id.as_str().unwrap_or("").to_string()),
            "{id} not alice's"
        );
    }
    assert!(server.run_ids(setup.tenant("bob")).is_empty());
}

/// A DNS-rebinding page reaches the loopback server under a foreign host name: the MCP
/// endpoint must refuse any `Host` outside `allowed_hosts`, even with a valid token.
#[test]
fn mcp_endpoint_refuses_foreign_host_headers() {
    let setup = Setup::new(
        &["alice"],
        "allowed_hosts = [\"127.0.0.1\"]\nmax_body_bytes = 65536\n",
    );
    let server = setup.serve();
    let token = &setup.tenant("alice").token;
    let addr = server.base.trim_start_matches("http://").to_string();
    let init = concat!(
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"#,
        r#""protocolVersion":"2025-06-18","capabilities":{},"#,
        r#""clientInfo":{"name":"t","version":"1"}}}"#
    );
    let foreign = raw_post(&addr, "attacker.example", token, init);
    assert!(
        foreign.starts_with("HTTP/1.1 403"),
        "foreign host: {foreign}"
    );
    let local = raw_post(&addr, &addr, token, init);
    assert!(local.starts_with("HTTP/1.1 200"), "allowed host: {local}");
    // Stateless: no session another token could join.
    assert!(
        !local.to_ascii_lowercase().contains("mcp-session-id"),
        "{local}"
    );
    // The body limit holds on the MCP endpoint too.
    let padding = "x".repeat(70_000);
    let big = init.replace("\"t\"", &format!("\"{padding}\""));
    // The server may close before reading all of it, and a reset can swallow its answer:
    // try a few times until an answer arrives.
    let oversized = (0..5)
        .map(|_| raw_post(&addr, &addr, token, &big))
        .find(|a| a.starts_with("HTTP/"))
        .unwrap_or_default();
    let status_line = oversized.lines().next().unwrap_or("");
    assert!(
        status_line.starts_with("HTTP/1.1 413"),
        "oversized: {status_line}"
    );
}

fn raw_post(addr: &str, host: &str, token: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("failed to connect");
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .expect("failed to send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn mcp_over_stdio_refuses_an_unknown_tenant() {
    let setup = Setup::new(&["alice", "bob"], "");
    let config = setup.write_config();
    for (args, fragment) in [
        (vec!["--tenant", "mallory"], "no tenant \"mallory\""),
        (vec![], "pick one with --tenant"),
    ] {
        let out = Command::new(cordon_bin())
            .args(["mcp", "--config"])
            .arg(Path::new(&config))
            .args(&args)
            .output()
            .expect("failed to run cordon mcp");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "stdout belongs to the protocol");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(fragment),
            "{args:?}"
        );
    }
}

/// Two services on one state directory would each take the other's runs for a crashed
/// predecessor's: the second one must refuse to start.
#[test]
fn mcp_over_stdio_refuses_a_state_dir_in_use() {
    let setup = Setup::new(&["alice"], "");
    let server = setup.serve();
    let out = Command::new(cordon_bin())
        .args(["mcp", "--config"])
        .arg(setup.config_path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("failed to run cordon mcp");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "stdout belongs to the protocol");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("another runner uses this state dir"),
        "{stderr}"
    );
    // The first service is unharmed.
    assert!(server.run_ids(setup.tenant("alice")).is_empty());
}
