//! The OpenAPI document served by a real `cordon serve` is true: every documented
//! operation is routed and guarded as documented, and the live answers match the
//! documented schemas.

mod service;

use serde_json::{json, Value};
use service::*;

/// A value for each required query parameter the document names.
fn sample(param: &str) -> &'static str {
    match param {
        "stream" => "stdout",
        "path" => "out.txt",
        other => panic!("no sample value for the required parameter {other}"),
    }
}

/// `path` with `{id}` filled in and every required query parameter given.
fn concrete(path: &str, op: &Value, id: &str) -> String {
    let mut url = path.replace("{id}", id);
    let required: Vec<String> = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query" && p["required"] == true)
        .map(|p| {
            let name = p["name"].as_str().expect("a parameter name");
            format!("{name}={}", sample(name))
        })
        .collect();
    if !required.is_empty() {
        url = format!("{url}?{}", required.join("&"));
    }
    url
}

fn call(server: &Server, method: &str, url: &str, token: Option<&str>) -> (u16, Value) {
    match method {
        "get" => server.get(token, url),
        "post" if url == "/v1/runs" => server.post_raw(
            token,
            url,
            "application/json",
            br#"{"argv": ["/bin/true"]}"#,
        ),
        "post" => server.post_raw(token, url, "application/json", b"{}"),
        other => panic!("undocumented method {other}"),
    }
}

/// Errors of `instance` against `schema`, resolving references into the document.
fn violations(doc: &Value, schema: &Value, instance: &Value) -> Vec<String> {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    let validator = jsonschema::validator_for(&root).expect("the document's schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

#[test]
fn every_documented_operation_is_served_guarded_and_answers_its_schema() {
    let setup = Setup::new(&["alice"], "");
    let server = setup.serve();
    let alice = setup.tenant("alice");
    let (status, doc) = server.get(None, "/v1/openapi.json");
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let run = server.submit(
        alice,
        json!({ "argv": ["/bin/sh", "-c", "echo hi > out.txt"] }),
    );
    let id = run["id"].as_str().expect("an id").to_string();
    server.wait_final(alice, &id);

    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let url = concrete(path, op, &id);
            let guarded = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let (status, body) = call(&server, method, &url, None);
            let expected = if guarded { 401 } else { 200 };
            assert_eq!(status, expected, "{method} {url} without a token: {body}");

            let (status, body) = call(&server, method, &url, Some(&alice.token));
            let code = status.to_string();
            let schema = op["responses"][&code]["content"]["application/json"]["schema"].clone();
            assert!(
                !schema.is_null(),
                "{method} {path} answered an undocumented {code}: {body}"
            );
            assert!(status < 300, "{method} {url}: {status} {body}");
            let errors = violations(&doc, &schema, &body);
            assert!(
                errors.is_empty(),
                "{method} {path} answer {body} breaks {errors:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 9, "only {checked} operations documented");
}

#[test]
fn error_answers_match_the_documented_error_schema() {
    let setup = Setup::new(&["alice"], "");
    let server = setup.serve();
    let alice = setup.tenant("alice");
    let (_, doc) = server.get(None, "/v1/openapi.json");
    let schema = json!({ "$ref": "#/components/schemas/ErrorBody" });
    let answers = [
        server.get(None, "/v1/runs"),
        server.get(Some(&alice.token), "/v1/runs/unknown"),
        server.get(Some(&alice.token), "/v1/runs?bogus=1"),
        server.post_raw(Some(&alice.token), "/v1/runs", "application/json", b"{"),
        server.get(Some(&alice.token), "/v1/no-such-route"),
    ];
    for (status, body) in answers {
        assert!((400..500).contains(&status), "{status} {body}");
        let errors = violations(&doc, &schema, &body);
        assert!(errors.is_empty(), "{body} breaks {errors:?}");
    }
}
