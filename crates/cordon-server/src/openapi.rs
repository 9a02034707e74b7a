//! The OpenAPI 3.1 document served at `/v1/openapi.json`.
//!
//! Schemas come from the request and response types themselves (schemars, JSON Schema
//! 2020-12, which OpenAPI 3.1 uses as is); query parameters are the properties of the
//! query types. Only the table of operations below is written by hand, and the tests hold
//! it to the router's registered routes and validate its examples against the schemas.

use crate::error::ErrorBody;
use crate::http::{ArtifactList, WaitQuery};
use cordon_runner::{
    ArtifactContent, ArtifactQuery, ListQuery, LogChunk, LogQuery, RunList, RunView, SubmitRequest,
};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// Makes (or refers to) one type's schema.
type SchemaFn = fn(&mut SchemaGenerator) -> schemars::Schema;

/// One operation of the API, as documented.
struct Operation {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    /// The query type whose properties are the query parameters.
    query: Option<SchemaFn>,
    /// The request body's type, and an example body.
    body: Option<(SchemaFn, fn() -> Value)>,
    /// The success status and its body's type.
    ok: (&'static str, SchemaFn),
    /// Whether the operation needs a bearer token.
    auth: bool,
}

fn schema<T: JsonSchema>(gen: &mut SchemaGenerator) -> schemars::Schema {
    gen.subschema_for::<T>()
}

fn inline<T: JsonSchema>(gen: &mut SchemaGenerator) -> schemars::Schema {
    T::json_schema(gen)
}

fn any_object(_: &mut SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object" })
}

/// An example submission: a Python script given inline, with limits.
pub fn submit_example() -> Value {
    json!({
        "argv": ["python3", "main.py"],
        "inputs": [
            { "kind": "inline", "path": "main.py",
              "content": "open('out.txt', 'w').write('hello')\n" }
        ],
        "limits": { "timeout": "30s", "memory": "512MiB" }
    })
}

const OPERATIONS: &[Operation] = &[
    Operation {
        method: "post",
        path: "/v1/runs",
        summary: "Submit a run; with ?wait=SECONDS, answer when it ends or the wait is over",
        query: Some(inline::<WaitQuery>),
        body: Some((schema::<SubmitRequest>, submit_example)),
        ok: ("201", schema::<RunView>),
        auth: true,
    },
    Operation {
        method: "get",
        path: "/v1/runs",
        summary: "List the tenant's runs, newest first",
        query: Some(inline::<ListQuery>),
        body: None,
        ok: ("200", schema::<RunList>),
        auth: true,
    },
    Operation {
        method: "get",
        path: "/v1/runs/{id}",
        summary: "A run's status, usage report and enforcement report",
        query: None,
        body: None,
        ok: ("200", schema::<RunView>),
        auth: true,
    },
    Operation {
        method: "get",
        path: "/v1/runs/{id}/logs",
        summary: "The last lines, or a byte range, of a run's stdout or stderr",
        query: Some(inline::<LogQuery>),
        body: None,
        ok: ("200", schema::<LogChunk>),
        auth: true,
    },
    Operation {
        method: "get",
        path: "/v1/runs/{id}/artifacts",
        summary: "Every file and folder in the run's directory",
        query: None,
        body: None,
        ok: ("200", schema::<ArtifactList>),
        auth: true,
    },
    Operation {
        method: "get",
        path: "/v1/runs/{id}/artifacts/content",
        summary: "Read one regular file of the run's directory (bounded)",
        query: Some(inline::<ArtifactQuery>),
        body: None,
        ok: ("200", schema::<ArtifactContent>),
        auth: true,
    },
    Operation {
        method: "post",
        path: "/v1/runs/{id}/cancel",
        summary: "Cancel a run: its whole process tree is killed; a finished run is unchanged",
        query: None,
        body: None,
        ok: ("200", schema::<RunView>),
        auth: true,
    },
    Operation {
        method: "get",
        path: "/v1/sandbox",
        summary: "What this host enforces (the findings of `cordon doctor --json`)",
        query: None,
        body: None,
        ok: ("200", any_object),
        auth: true,
    },
    Operation {
        method: "get",
        path: "/v1/openapi.json",
        summary: "This document",
        query: None,
        body: None,
        ok: ("200", any_object),
        auth: false,
    },
];

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> Value {
    let mut gen = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "#/components/schemas/".into();
            s.meta_schema = None;
        })
        .into_generator();
    let mut paths = Map::new();
    for op in OPERATIONS {
        let entry = paths.entry(op.path).or_insert_with(|| json!({}));
        entry[op.method] = operation(op, &mut gen);
    }
    let mut schemas = gen.take_definitions(true);
    schemas.insert("ErrorBody".into(), error_schema(&mut gen));
    schemas.extend(gen.take_definitions(true));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "cordon runner API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Run untrusted commands confined, queued per tenant. \
                Authenticate with `Authorization: Bearer <token>`."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        }
    })
}

fn error_schema(gen: &mut SchemaGenerator) -> Value {
    ErrorBody::json_schema(gen).to_value()
}

fn operation(op: &Operation, gen: &mut SchemaGenerator) -> Value {
    let mut parameters = Vec::new();
    if op.path.contains("{id}") {
        parameters.push(json!({
            "name": "id", "in": "path", "required": true,
            "description": "The run id", "schema": { "type": "string" }
        }));
    }
    if let Some(query) = op.query {
        parameters.extend(query_parameters(&query(gen)));
    }
    let mut out = json!({
        "summary": op.summary,
        "parameters": parameters,
        "responses": responses(op, gen),
    });
    if let Some((body, example)) = op.body {
        out["requestBody"] = json!({
            "required": true,
            "content": { "application/json": {
                "schema": body(gen).to_value(), "example": example()
            } }
        });
    }
    out["security"] = if op.auth {
        json!([{ "bearer": [] }])
    } else {
        json!([])
    };
    out
}

/// One query parameter per property of the query type's object schema.
fn query_parameters(schema: &schemars::Schema) -> Vec<Value> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, prop)| {
            let mut param = json!({
                "name": name, "in": "query",
                "required": required.contains(&name.as_str()), "schema": prop
            });
            if let Some(text) = prop.get("description") {
                param["description"] = text.clone();
            }
            param
        })
        .collect()
}

fn responses(op: &Operation, gen: &mut SchemaGenerator) -> Value {
    let error = json!({ "content": { "application/json": {
        "schema": { "$ref": "#/components/schemas/ErrorBody" } } } });
    let (status, ok) = op.ok;
    let mut out = json!({
        status: { "description": "Success",
                  "content": { "application/json": { "schema": ok(gen).to_value() } } },
        "400": with_description(&error, "Malformed JSON, unknown field or invalid value"),
        "500": with_description(&error, "Internal error: the log has the detail"),
    });
    if op.auth {
        out["401"] = with_description(&error, "Missing or unknown bearer token");
    }
    if op.path.contains("{id}") {
        out["404"] = with_description(&error, "No such run for this tenant");
    }
    if op.body.is_some() {
        out["403"] = with_description(&error, "Not permitted for this tenant");
        out["413"] = with_description(&error, "Request body or inline file too large");
        out["415"] = with_description(&error, "Request body is not JSON");
    }
    out
}

fn with_description(error: &Value, text: &str) -> Value {
    let mut out = error.clone();
    out["description"] = json!(text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn documented() -> BTreeSet<(String, String)> {
        let doc = document();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths is an object") {
            for method in item.as_object().expect("a path item is an object").keys() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
        out
    }

    #[test]
    fn document_lists_exactly_the_registered_routes() {
        let registered: BTreeSet<(String, String)> = crate::http::route_table()
            .into_iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(documented(), registered);
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().expect("a reference name");
            assert!(schemas.contains_key(name), "dangling reference to {name}");
        }
    }

    #[test]
    fn examples_match_their_schemas() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let Some(content) = op.pointer("/requestBody/content/application~1json") else {
                    continue;
                };
                let mut root = content["schema"].clone();
                root["components"] = doc["components"].clone();
                let validator = jsonschema::validator_for(&root).expect("a valid schema");
                let example = &content["example"];
                let errors: Vec<String> = validator
                    .iter_errors(example)
                    .map(|e| e.to_string())
                    .collect();
                assert!(errors.is_empty(), "{method} {path} example: {errors:?}");
            }
        }
    }

    #[test]
    fn submit_schema_rejects_unknown_fields() {
        let doc = document();
        let mut root = json!({ "$ref": "#/components/schemas/SubmitRequest" });
        root["components"] = doc["components"].clone();
        let validator = jsonschema::validator_for(&root).expect("a valid schema");
        let mut bad = submit_example();
        bad["shell"] = json!("rm -rf /");
        assert!(!validator.is_valid(&bad));
        assert!(validator.is_valid(&submit_example()));
    }
}
