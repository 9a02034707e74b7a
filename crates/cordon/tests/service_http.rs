//! The HTTP JSON API driven by a plain HTTP client against a real `cordon serve`: tokens,
//! tenant isolation, and bad input that must get its precise 4xx and change nothing.

mod service;

use serde_json::{json, Value};
use service::*;

const MAX_BODY: usize = 65_536;
const MAX_INLINE: usize = 4_096;

fn limits() -> String {
    format!("max_body_bytes = {MAX_BODY}\nmax_inline_bytes = {MAX_INLINE}\n")
}

#[test]
fn missing_or_wrong_token_is_401_and_audited() {
    let setup = Setup::new(&["alice"], &limits());
    let server = setup.serve();
    let alice = setup.tenant("alice");
    for (token, fragment) in [
        (None, "missing bearer token"),
        (Some("cordon_not-a-real-token"), "unknown bearer token"),
        (Some(""), "malformed authorization header"),
    ] {
        let (status, body) = server.get(token, "/v1/runs");
        assert_eq!(status, 401, "{token:?}: {body}");
        assert_eq!(error_code(&body), "unauthorized");
        assert!(error_message(&body).contains(fragment), "{body}");
        let (status, _) = server.post_raw(
            token,
            "/v1/runs",
            "application/json",
            b"{\"argv\":[\"/bin/true\"]}",
        );
        assert_eq!(status, 401);
    }
    // Another tenant's token hash is not a token.
    let hash_line = std::fs::read_to_string(setup.config_path()).expect("config");
    let hash = hash_line
        .split("token_sha256 = \"")
        .nth(1)
        .expect("hash")
        .split('"')
        .next();
    assert_eq!(server.get(hash, "/v1/runs").0, 401);
    // The MCP endpoint is behind the same check.
    let (status, _) = server.post_raw(None, "/mcp", "application/json", b"{}");
    assert_eq!(status, 401);
    assert!(
        server.run_ids(alice).is_empty(),
        "a refused submission created a run"
    );
    let audit = audit_text(&setup);
    assert!(
        audit.contains("unknown bearer token"),
        "audit log lacks the refusal:\n{audit}"
    );
    assert!(
        audit.contains("missing bearer token"),
        "audit log lacks the refusal:\n{audit}"
    );
}

fn audit_text(setup: &Setup) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(setup.state_dir())
        .expect("the state dir")
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with("audit") {
            text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
    }
    text
}

#[test]
fn tenants_cannot_read_cancel_or_list_each_others_runs() {
    let setup = Setup::new(&["alice", "bob"], &limits());
    let server = setup.serve();
    let (alice, bob) = (setup.tenant("alice"), setup.tenant("bob"));
    let run = server.submit(alice, argv(&["sleep", "60"]));
    let id = run["id"].as_str().expect("an id").to_string();
    server.wait_state(alice, &id, "running");

    let unknown = "0123456789abcdef0123456789abcdef";
    for path in [
        "/v1/runs/{}",
        "/v1/runs/{}/logs?stream=stdout",
        "/v1/runs/{}/artifacts",
        "/v1/runs/{}/artifacts/content?path=stdout.log",
    ] {
        let theirs = server.get(Some(&bob.token), &path.replace("{}", &id));
        let nobodys = server.get(Some(&bob.token), &path.replace("{}", unknown));
        assert_eq!(theirs.0, 404, "{path}: {}", theirs.1);
        assert_eq!(nobodys.0, 404, "{path}: {}", nobodys.1);
        assert_eq!(error_code(&theirs.1), "not_found");
        // Exactly like an unknown id: same code, same text but for the id itself.
        assert_eq!(
            error_message(&theirs.1).replace(&id, "ID"),
            error_message(&nobodys.1).replace(unknown, "ID"),
            "{path}"
        );
    }
    let (status, body) = server.post(&bob.token, &format!("/v1/runs/{id}/cancel"), &json!({}));
    assert_eq!(status, 404, "{body}");
    assert!(server.run_ids(bob).is_empty(), "bob sees alice's runs");
    let (_, listed) = server.get(Some(&bob.token), "/v1/runs?state=running");
    assert_eq!(listed["runs"], json!([]));

    // Alice's run was not touched by any of it.
    let (status, mine) = server.get(Some(&alice.token), &format!("/v1/runs/{id}"));
    assert_eq!((status, mine["state"].as_str()), (200, Some("running")));
    assert_eq!(server.run_ids(alice), vec![id.clone()]);
    let (status, cancelled) =
        server.post(&alice.token, &format!("/v1/runs/{id}/cancel"), &json!({}));
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(server.wait_final(alice, &id)["state"], "cancelled");
}

/// One bad request: what is sent, and the status and code it must get.
struct Bad {
    name: &'static str,
    body: Vec<u8>,
    content_type: &'static str,
    status: u16,
    code: &'static str,
    /// A piece of the message that names the problem.
    names: &'static str,
}

fn bad(
    name: &'static str,
    body: Value,
    status: u16,
    code: &'static str,
    names: &'static str,
) -> Bad {
    Bad {
        name,
        body: serde_json::to_vec(&body).expect("JSON"),
        content_type: "application/json",
        status,
        code,
        names,
    }
}

fn inline(path: &str, content: &str) -> Value {
    let input = json!({ "kind": "inline", "path": path, "content": content });
    json!({ "argv": ["/bin/true"], "inputs": [input] })
}

fn copy(root: &str, path: &str, to: Option<&str>) -> Value {
    let input = json!({ "kind": "copy", "root": root, "path": path, "to": to });
    json!({ "argv": ["/bin/true"], "inputs": [input] })
}

fn bad_submissions() -> Vec<Bad> {
    let raw = |name, body: &str, status, code, names| Bad {
        name,
        body: body.as_bytes().to_vec(),
        content_type: "application/json",
        status,
        code,
        names,
    };
    vec![
        raw(
            "malformed JSON",
            "{\"argv\": [\"/bin/true\"",
            400,
            "malformed_json",
            "line 1",
        ),
        raw(
            "not JSON at all",
            "argv=/bin/true",
            400,
            "malformed_json",
            "malformed JSON",
        ),
        Bad {
            content_type: "text/plain",
            ..raw(
                "wrong content type",
                "{\"argv\":[\"/bin/true\"]}",
                415,
                "unsupported_media_type",
                "Content-Type",
            )
        },
        bad(
            "unknown field",
            json!({"argv": ["/bin/true"], "shell": "rm -rf /"}),
            400,
            "invalid_request",
            "unknown field `shell`",
        ),
        bad(
            "unknown limit",
            json!({"argv": ["/bin/true"], "limits": {"gpu": "1"}}),
            400,
            "invalid_request",
            "unknown field `gpu`",
        ),
        bad(
            "argv as a string",
            json!({"argv": "/bin/true"}),
            400,
            "invalid_request",
            "argv",
        ),
        bad(
            "empty argv",
            json!({"argv": []}),
            400,
            "invalid_request",
            "argv",
        ),
        bad(
            "NUL in argv",
            json!({"argv": ["/bin/true\u{0}x"]}),
            400,
            "invalid_request",
            "argv",
        ),
        bad(
            "traversal in an inline path",
            inline("../escape.txt", "x"),
            400,
            "invalid_request",
            "path",
        ),
        bad(
            "deep traversal",
            inline("a/../../escape.txt", "x"),
            400,
            "invalid_request",
            "path",
        ),
        bad(
            "absolute inline path",
            inline("/tmp/escape.txt", "x"),
            400,
            "invalid_request",
            "path",
        ),
        bad(
            "NUL in an inline path",
            inline("a\u{0}b", "x"),
            400,
            "invalid_request",
            "path",
        ),
        bad(
            "traversal in a copy",
            copy("runs", "../../etc/passwd", None),
            400,
            "invalid_request",
            "path",
        ),
        bad(
            "absolute copy source",
            copy("runs", "/etc/passwd", None),
            400,
            "invalid_request",
            "path",
        ),
        bad(
            "traversal in a copy destination",
            copy("shared", "data.txt", Some("../../x")),
            400,
            "invalid_request",
            "to",
        ),
        bad(
            "symlink out of a shared root",
            copy("shared", "evil", None),
            400,
            "invalid_request",
            "path",
        ),
        bad(
            "symlinked folder out of a shared root",
            copy("shared", "dir/passwd", None),
            400,
            "invalid_request",
            "path",
        ),
        bad(
            "unknown shared root",
            copy("nowhere", "x", None),
            400,
            "invalid_request",
            "root",
        ),
        bad(
            "traversal in cwd",
            json!({"argv": ["/bin/true"], "cwd": "../.."}),
            400,
            "invalid_request",
            "cwd",
        ),
        bad(
            "mode off",
            json!({"argv": ["/bin/true"], "mode": "off"}),
            403,
            "forbidden",
            "off",
        ),
        bad(
            "network not allowed",
            json!({"argv": ["/bin/true"], "net": "allow"}),
            403,
            "forbidden",
            "net",
        ),
        bad(
            "oversized inline file",
            inline("big.txt", &"x".repeat(MAX_INLINE + 1)),
            413,
            "too_large",
            "4096",
        ),
        bad(
            "oversized body",
            inline("big.txt", &"x".repeat(MAX_BODY + 1)),
            413,
            "too_large",
            "65536",
        ),
    ]
}

#[test]
fn bad_submissions_get_their_precise_4xx_and_change_nothing() {
    let shared = tempfile::tempdir_in("/tmp").expect("a shared folder");
    std::fs::write(shared.path().join("data.txt"), "shared").expect("shared file");
    std::os::unix::fs::symlink("/etc/passwd", shared.path().join("evil")).expect("a symlink");
    std::os::unix::fs::symlink("/etc", shared.path().join("dir")).expect("a symlink");
    let extra = format!(
        "{}\n[shared_roots]\nshared = \"{}\"\n",
        limits(),
        shared.path().display()
    );
    let setup = Setup::new(&["alice"], &extra);
    let server = setup.serve();
    let alice = setup.tenant("alice");
    for case in bad_submissions() {
        let (status, body) = server.post_raw(
            Some(&alice.token),
            "/v1/runs",
            case.content_type,
            &case.body,
        );
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert_eq!(error_code(&body), case.code, "{}: {body}", case.name);
        assert!(
            error_message(&body).contains(case.names),
            "{}: the message does not name {:?}: {body}",
            case.name,
            case.names
        );
    }
    assert!(
        server.run_ids(alice).is_empty(),
        "a refused submission created a run"
    );
    // Each refusal is in the audit log, once, with the tenant.
    let audit = audit_text(&setup);
    for case in bad_submissions() {
        let wanted = if case.name == "wrong content type" {
            "Content-Type"
        } else {
            case.names
        };
        assert!(
            audit.contains(wanted),
            "{}: not audited:\n{audit}",
            case.name
        );
    }
    let refusals = audit
        .lines()
        .filter(|l| l.contains("\"refused\"") && l.contains("alice"));
    assert_eq!(refusals.count(), bad_submissions().len(), "{audit}");
    // At most the tenant's own (empty) folder may exist: no run folder, no file.
    assert_eq!(
        tree(&setup.run_root())
            .into_iter()
            .filter(|p| p != "alice")
            .collect::<Vec<_>>(),
        Vec::<String>::new(),
        "a refused submission wrote files"
    );
    assert_eq!(
        std::fs::read_to_string(shared.path().join("data.txt"))
            .ok()
            .as_deref(),
        Some("shared")
    );
}

#[test]
fn bad_queries_and_unknown_ids_get_their_precise_4xx() {
    let setup = Setup::new(&["alice"], &limits());
    let server = setup.serve();
    let alice = setup.tenant("alice");
    let view = server.submit(
        alice,
        json!({
            "argv": ["/bin/sh", "-c", "echo hello; echo data > out.txt"],
        }),
    );
    let id = view["id"].as_str().expect("an id").to_string();
    assert_eq!(server.wait_final(alice, &id)["state"], "succeeded");
    let cases: Vec<(String, u16, &str, &str)> = vec![
        ("/v1/runs/nope".into(), 404, "not_found", "nope"),
        (
            "/v1/runs/nope/logs?stream=stdout".into(),
            404,
            "not_found",
            "nope",
        ),
        (
            "/v1/runs?state=exploded".into(),
            400,
            "invalid_request",
            "exploded",
        ),
        (
            "/v1/runs?limit=-1".into(),
            400,
            "invalid_request",
            "invalid",
        ),
        (
            "/v1/runs?sort=evil".into(),
            400,
            "invalid_request",
            "unknown field `sort`",
        ),
        (
            format!("/v1/runs/{id}/logs"),
            400,
            "invalid_request",
            "stream",
        ),
        (
            format!("/v1/runs/{id}/logs?stream=stdin"),
            400,
            "invalid_request",
            "stdin",
        ),
        (
            format!("/v1/runs/{id}/artifacts/content?path=../../../etc/passwd"),
            400,
            "invalid_request",
            "path",
        ),
        (
            format!("/v1/runs/{id}/artifacts/content?path=/etc/passwd"),
            400,
            "invalid_request",
            "path",
        ),
        (
            format!("/v1/runs/{id}/artifacts/content?path=out.txt%00x"),
            400,
            "invalid_request",
            "path",
        ),
        (
            format!("/v1/runs/{id}/artifacts/content?path=missing.txt"),
            400,
            "invalid_request",
            "missing.txt",
        ),
        (
            "/v1/nothing-here".into(),
            404,
            "unknown_route",
            "/v1/nothing-here",
        ),
    ];
    for (path, status, code, names) in cases {
        let (got, body) = server.get(Some(&alice.token), &path);
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(error_code(&body), code, "{path}: {body}");
        assert!(error_message(&body).contains(names), "{path}: {body}");
    }
    let (status, body) = server.post(&alice.token, "/v1/runs?wait=100000", &argv(&["/bin/true"]));
    assert_eq!(
        (status, error_code(&body)),
        (400, "invalid_request"),
        "{body}"
    );
    let (status, body) = server.post(&alice.token, "/v1/runs/nope/cancel", &json!({}));
    assert_eq!((status, error_code(&body)), (404, "not_found"), "{body}");
    assert_eq!(
        server.run_ids(alice),
        vec![id.clone()],
        "a bad request created a run"
    );

    // The good answers, for contrast.
    let (status, logs) = server.get(
        Some(&alice.token),
        &format!("/v1/runs/{id}/logs?stream=stdout&tail_lines=5"),
    );
    assert_eq!(
        (status, logs["text"].as_str()),
        (200, Some("hello\n")),
        "{logs}"
    );
    let (status, file) = server.get(
        Some(&alice.token),
        &format!("/v1/runs/{id}/artifacts/content?path=out.txt"),
    );
    assert_eq!(
        (status, file["text"].as_str()),
        (200, Some("data\n")),
        "{file}"
    );
}

#[test]
fn artifacts_that_escape_through_symlinks_are_refused() {
    let setup = Setup::new(&["alice"], &limits());
    let server = setup.serve();
    let alice = setup.tenant("alice");
    // The run plants symlinks to a host file and to the host's root.
    let view = server.submit(
        alice,
        json!({
            "argv": ["/bin/sh", "-c", "ln -s /etc/passwd leak; ln -s / root; echo ok > real.txt"],
        }),
    );
    let id = view["id"].as_str().expect("an id").to_string();
    assert_eq!(server.wait_final(alice, &id)["state"], "succeeded");
    for path in ["leak", "root/etc/passwd"] {
        let (status, body) = server.get(
            Some(&alice.token),
            &format!("/v1/runs/{id}/artifacts/content?path={path}"),
        );
        assert!((400..500).contains(&status), "{path}: {status} {body}");
        assert!(
            body["text"].is_null() && body["base64"].is_null(),
            "{path} leaked: {body}"
        );
    }
    // Copying the planted symlink into a new run is refused too, and creates no run.
    let (status, body) = server.post(
        &alice.token,
        "/v1/runs",
        &json!({
            "argv": ["/bin/cat", "leak"],
            "inputs": [{ "kind": "copy", "root": "runs", "path": format!("{id}/leak") }],
        }),
    );
    assert!((400..500).contains(&status), "{status} {body}");
    assert_eq!(server.run_ids(alice), vec![id.clone()]);
    let (status, listed) = server.get(Some(&alice.token), &format!("/v1/runs/{id}/artifacts"));
    assert_eq!(status, 200, "{listed}");
    let kinds: Vec<(String, String)> = listed["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| {
            (
                a["path"].as_str().unwrap_or("").into(),
                a["kind"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("leak".into(), "symlink".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("real.txt".into(), "file".into())),
        "{kinds:?}"
    );
}

#[test]
fn server_stops_gracefully_on_sigterm() {
    let setup = Setup::new(&["alice"], &limits());
    let server = setup.serve();
    let alice = setup.tenant("alice");
    let view = server.submit(alice, argv(&["sleep", "60"]));
    let id = view["id"].as_str().expect("an id").to_string();
    server.wait_state(alice, &id, "running");
    let waiting = std::thread::scope(|scope| {
        let waiter =
            scope.spawn(|| server.post(&alice.token, "/v1/runs?wait=120", &argv(&["sleep", "60"])));
        // Let the second run start and its request wait on it.
        let started = wait_until(PATIENCE, || server.run_ids(alice).len() == 2);
        assert!(started, "the second run was not submitted");
        let pid = server.pid().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        waiter.join().expect("the waiting client")
    });
    // The waiting request was answered with its run's end, not dropped.
    assert_eq!(waiting.0, 201, "{}", waiting.1);
    assert_eq!(waiting.1["state"], "cancelled", "{}", waiting.1);
    assert!(server.terminate(), "cordon serve did not exit 0 on SIGTERM");
    // A graceful stop cancels runs (a crash would leave them lost).
    let server = Server::start(&setup.config_path());
    assert_eq!(server.wait_final(alice, &id)["state"], "cancelled");
}

/// An internal failure (here: the tenant's run folder replaced by a file behind the
/// service's back) answers 500 with a generic text and a request id; the detail is in the
/// service's log under that id, never in the answer.
#[test]
fn internal_errors_say_nothing_internal_and_are_logged_once() {
    let setup = Setup::new(&["alice"], &limits());
    let server = setup.serve();
    let alice = setup.tenant("alice");
    let tenant_dir = setup.run_root().join("alice");
    let _ = std::fs::remove_dir_all(&tenant_dir);
    std::fs::create_dir_all(setup.run_root()).expect("the run root");
    std::fs::write(&tenant_dir, "not a folder").expect("a file in the way");
    let (status, body) = server.post(&alice.token, "/v1/runs", &argv(&["/bin/true"]));
    assert_eq!(status, 500, "{body}");
    assert_eq!(error_code(&body), "internal");
    let message = error_message(&body);
    let request_id = message
        .split("request id ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no request id in {message:?}"));
    assert!(
        !message.contains("/tmp") && !message.contains("alice"),
        "{message}"
    );
    let logged = wait_until(PATIENCE, || {
        server
            .log()
            .lines()
            .any(|l| l.contains(request_id) && l.contains("request failed"))
    });
    assert!(
        logged,
        "the detail was not logged with the request id:\n{}",
        server.log()
    );
    let failures = server.log().matches("request failed").count();
    assert_eq!(failures, 1, "logged more than once:\n{}", server.log());
}
