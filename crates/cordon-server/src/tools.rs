//! The MCP tools, independent of the MCP library: their names, descriptions and input
//! schemas, how their arguments are parsed, and what each one asks of the engine.
//!
//! Each tool's input schema is the schema of the engine's own request type (inlined, so a
//! model sees one self-contained object), plus the run `id` where one is needed; parsing
//! takes the `id` out and hands the rest to the request type, whose `deny_unknown_fields`
//! rejects anything the schema does not name.

use crate::error::runner_code;
use cordon_runner::{
    ArtifactQuery, ListQuery, LogQuery, RunView, Runner, RunnerError, SubmitRequest, TenantName,
};
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use std::time::Duration;

/// How long `run` waits when the call does not say.
const DEFAULT_WAIT_SECONDS: u64 = 30;
/// The longest `run` may wait; a longer run is followed with `status`.
const MAX_WAIT_SECONDS: u64 = 300;

/// A tool as listed to the client.
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub input_schema: Map<String, Value>,
}

/// A parsed tool call.
pub enum ToolCall {
    Run {
        req: Box<SubmitRequest>,
        wait: Duration,
    },
    Status {
        id: String,
    },
    Logs {
        id: String,
        q: LogQuery,
    },
    Artifacts {
        id: String,
    },
    ReadArtifact {
        id: String,
        q: ArtifactQuery,
    },
    Cancel {
        id: String,
    },
    ListRuns {
        q: ListQuery,
    },
    SandboxInfo,
}

/// A failed tool call, as the client sees it: a precise text, never internals.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("invalid arguments for {tool}: {reason}")]
    Arguments { tool: String, reason: String },
    #[error("unknown tool {0}: call list_tools for the names")]
    UnknownTool(String),
    #[error("{code}: {message}")]
    Refused {
        code: &'static str,
        message: String,
        /// Whether the engine already wrote the refusal to the audit log.
        audited: bool,
    },
    /// The detail is logged by the adapter; the client sees a generic text.
    #[error("internal error; the server log has the detail")]
    Internal(String),
}

impl From<RunnerError> for ToolError {
    fn from(err: RunnerError) -> Self {
        if err.status_code() >= 500 {
            return ToolError::Internal(err.to_string());
        }
        ToolError::Refused {
            code: runner_code(&err),
            message: err.to_string(),
            audited: false,
        }
    }
}

impl ToolError {
    /// Whether the refusal still needs an audit log entry.
    pub fn needs_audit(&self) -> bool {
        !matches!(
            self,
            ToolError::Internal(_) | ToolError::Refused { audited: true, .. }
        )
    }

    fn audited(self) -> Self {
        match self {
            ToolError::Refused { code, message, .. } => ToolError::Refused {
                code,
                message,
                audited: true,
            },
            other => other,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NoArguments {}

const RUN: &str = "Run a command in cordon's sandbox and wait for it. `argv` is the command \
    and its arguments (no shell: use [\"sh\", \"-c\", \"...\"] for one). Put scripts and data \
    in `inputs` (inline files, or copies from earlier runs and shared folders); files the \
    command writes in its working directory become artifacts. Waits up to `wait_seconds` \
    (default 30, at most 300): the answer is the run's record with its state, exit code, \
    usage and the enforcement report; if the state is still `queued` or `running`, follow \
    it with `status` and the run id.";
const STATUS: &str = "The current record of a run: state (queued, running, succeeded, \
    failed, timed_out, cancelled, killed, lost), exit code, why it was killed or lost, \
    resource usage and which confinement layers were enforced.";
const LOGS: &str = "Read a run's stdout or stderr: the last `tail_lines` lines, or \
    `length` bytes from `offset`. `kept_bytes` is what was stored (streams are capped), \
    `total_bytes` what the command wrote.";
const ARTIFACTS: &str = "List the files and folders the run left in its directory (relative \
    path, size and kind), to read with `read_artifact`.";
const READ_ARTIFACT: &str = "Read one regular file from a run's directory by its relative \
    path (as listed by `artifacts`), from `offset` for at most `length` bytes. Text comes \
    back as `text`, anything else as `base64`; `eof` says whether the end was reached.";
const CANCEL: &str = "Cancel a queued or running run: its whole process tree is killed. A \
    run that already ended is returned unchanged.";
const LIST_RUNS: &str = "List your runs, newest first, optionally only those in one `state`; \
    pass `next_before` from the answer as `before` for the next page.";
const SANDBOX_INFO: &str = "What this host's sandbox enforces (kernel, Landlock ABI, \
    seccomp, namespaces, cgroups) and what is missing, as `cordon doctor` reports it.";

/// The tools, in the order they are listed.
pub fn catalog() -> &'static [ToolSpec] {
    static TOOLS: OnceLock<Vec<ToolSpec>> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let wait = json!({ "type": "integer", "minimum": 0, "maximum": MAX_WAIT_SECONDS,
            "description": "Seconds to wait for the run to end (default 30)." });
        let id = json!({ "type": "string", "description": "The run id." });
        vec![
            spec(
                "run",
                RUN,
                with(schema_of::<SubmitRequest>(), "wait_seconds", wait, false),
            ),
            spec(
                "status",
                STATUS,
                with(schema_of::<NoArguments>(), "id", id.clone(), true),
            ),
            spec(
                "logs",
                LOGS,
                with(schema_of::<LogQuery>(), "id", id.clone(), true),
            ),
            spec(
                "artifacts",
                ARTIFACTS,
                with(schema_of::<NoArguments>(), "id", id.clone(), true),
            ),
            spec(
                "read_artifact",
                READ_ARTIFACT,
                with(schema_of::<ArtifactQuery>(), "id", id.clone(), true),
            ),
            spec(
                "cancel",
                CANCEL,
                with(schema_of::<NoArguments>(), "id", id, true),
            ),
            spec("list_runs", LIST_RUNS, schema_of::<ListQuery>()),
            spec("sandbox_info", SANDBOX_INFO, schema_of::<NoArguments>()),
        ]
    })
}

fn spec(name: &'static str, description: &'static str, schema: Map<String, Value>) -> ToolSpec {
    ToolSpec {
        name,
        description,
        input_schema: schema,
    }
}

/// The type's schema with every subschema inlined: one self-contained object.
fn schema_of<T: JsonSchema>() -> Map<String, Value> {
    let schema = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator()
        .into_root_schema_for::<T>();
    let mut map = match schema.to_value() {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    map.insert("type".into(), json!("object"));
    map.remove("title");
    map
}

/// `schema` with one more property.
fn with(
    mut schema: Map<String, Value>,
    name: &str,
    prop: Value,
    required: bool,
) -> Map<String, Value> {
    let props = schema.entry("properties").or_insert_with(|| json!({}));
    props[name] = prop;
    if required {
        let list = schema.entry("required").or_insert_with(|| json!([]));
        if let Value::Array(items) = list {
            items.insert(0, json!(name));
        }
    }
    schema
}

/// Parses the arguments of tool `name`.
pub fn parse(name: &str, args: Map<String, Value>) -> Result<ToolCall, ToolError> {
    let bad = |reason: String| ToolError::Arguments {
        tool: name.to_string(),
        reason,
    };
    let mut args = args;
    match name {
        "run" => {
            let wait = take_wait(&mut args).map_err(bad)?;
            Ok(ToolCall::Run {
                req: rest(args).map_err(bad)?,
                wait,
            })
        }
        "list_runs" => Ok(ToolCall::ListRuns {
            q: rest(args).map_err(bad)?,
        }),
        "sandbox_info" => rest::<NoArguments>(args)
            .map(|_| ToolCall::SandboxInfo)
            .map_err(bad),
        "status" | "logs" | "artifacts" | "read_artifact" | "cancel" => {
            let id = take_id(&mut args).map_err(bad)?;
            parse_with_id(name, id, args).map_err(bad)
        }
        other => Err(ToolError::UnknownTool(other.to_string())),
    }
}

fn parse_with_id(name: &str, id: String, args: Map<String, Value>) -> Result<ToolCall, String> {
    Ok(match name {
        "logs" => ToolCall::Logs { id, q: rest(args)? },
        "read_artifact" => ToolCall::ReadArtifact { id, q: rest(args)? },
        _ => {
            rest::<NoArguments>(args)?;
            match name {
                "status" => ToolCall::Status { id },
                "artifacts" => ToolCall::Artifacts { id },
                _ => ToolCall::Cancel { id },
            }
        }
    })
}

fn take_id(args: &mut Map<String, Value>) -> Result<String, String> {
    match args.remove("id") {
        Some(Value::String(id)) => Ok(id),
        Some(_) => Err("`id` must be a string".into()),
        None => Err("missing field `id`".into()),
    }
}

fn take_wait(args: &mut Map<String, Value>) -> Result<Duration, String> {
    let seconds = match args.remove("wait_seconds") {
        None | Some(Value::Null) => DEFAULT_WAIT_SECONDS,
        Some(v) => v
            .as_u64()
            .filter(|s| *s <= MAX_WAIT_SECONDS)
            .ok_or(format!(
                "`wait_seconds` must be a whole number from 0 to {MAX_WAIT_SECONDS}"
            ))?,
    };
    Ok(Duration::from_secs(seconds))
}

fn rest<T: DeserializeOwned>(args: Map<String, Value>) -> Result<T, String> {
    serde_json::from_value(Value::Object(args)).map_err(|e| e.to_string())
}

/// Carries out a call for `tenant`; the answer is the engine's JSON.
pub async fn call(
    runner: &Runner,
    tenant: &TenantName,
    sandbox: &Value,
    call: ToolCall,
) -> Result<Value, ToolError> {
    let value = match call {
        ToolCall::Run { req, wait } => {
            let submitted = runner.submit(tenant, *req).await;
            let view = submitted.map_err(|e| ToolError::from(e).audited())?;
            to_json(&runner.wait(tenant, &view.id, wait).await?)?
        }
        ToolCall::Status { id } => to_json(&runner.status(tenant, &id).await?)?,
        ToolCall::Logs { id, q } => to_json(&runner.logs(tenant, &id, q).await?)?,
        ToolCall::Artifacts { id } => {
            json!({ "artifacts": to_json(&runner.artifacts(tenant, &id).await?)? })
        }
        ToolCall::ReadArtifact { id, q } => to_json(&runner.read_artifact(tenant, &id, q).await?)?,
        ToolCall::Cancel { id } => to_json(&runner.cancel(tenant, &id).await?)?,
        ToolCall::ListRuns { q } => to_json(&runner.list(tenant, q).await?)?,
        ToolCall::SandboxInfo => sandbox.clone(),
    };
    Ok(value)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, ToolError> {
    serde_json::to_value(value)
        .map_err(|e| ToolError::Internal(format!("failed to encode the answer: {e}")))
}

/// A note for a run that has not ended yet, telling the model what to do next.
pub fn unfinished_note(answer: &Value) -> Option<String> {
    let view: RunView = serde_json::from_value(answer.clone()).ok()?;
    (!view.state.is_final()).then(|| {
        format!(
            "run {} is still {}: call `status` with this id later, `logs` to follow it, or \
             `cancel` to stop it",
            view.id,
            view.state.as_str()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().expect("an object").clone()
    }

    fn refusal(name: &str, v: Value) -> String {
        match parse(name, args(v)) {
            Ok(_) => panic!("{name} accepted bad arguments"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_tool_schema_is_a_closed_object() {
        for tool in catalog() {
            assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
            assert_eq!(
                tool.input_schema["additionalProperties"], false,
                "{}",
                tool.name
            );
            assert!(
                !tool.input_schema.contains_key("$defs"),
                "{} is not inlined",
                tool.name
            );
        }
    }

    #[test]
    fn id_tools_require_the_id_in_their_schema_and_their_parser() {
        for name in ["status", "logs", "artifacts", "read_artifact", "cancel"] {
            let tool = catalog().iter().find(|t| t.name == name).expect("listed");
            assert_eq!(tool.input_schema["required"][0], "id", "{name}");
            let text = refusal(name, json!({ "stream": "stdout", "path": "x" }));
            assert!(text.contains("missing field `id`"), "{name}: {text}");
            let text = refusal(name, json!({ "id": 7 }));
            assert!(text.contains("`id` must be a string"), "{name}: {text}");
        }
    }

    #[test]
    fn unknown_arguments_are_refused_by_name() {
        let text = refusal("status", json!({ "id": "r", "verbose": true }));
        assert!(text.contains("unknown field `verbose`"), "{text}");
        let text = refusal("run", json!({ "argv": ["/bin/true"], "shell": "sh" }));
        assert!(text.contains("unknown field `shell`"), "{text}");
        let text = refusal("sandbox_info", json!({ "all": true }));
        assert!(text.contains("unknown field `all`"), "{text}");
        let text = refusal("format_disk", json!({}));
        assert!(text.contains("unknown tool format_disk"), "{text}");
    }

    #[test]
    fn run_waits_within_bounds() {
        let wait = |v: Value| match parse("run", args(v)) {
            Ok(ToolCall::Run { wait, .. }) => Ok(wait.as_secs()),
            Ok(_) => panic!("not a run"),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(
            wait(json!({ "argv": ["/bin/true"] })),
            Ok(DEFAULT_WAIT_SECONDS)
        );
        assert_eq!(
            wait(json!({ "argv": ["/bin/true"], "wait_seconds": 0 })),
            Ok(0)
        );
        for bad in [json!(301), json!(-1), json!(1.5), json!("10")] {
            let text = wait(json!({ "argv": ["/bin/true"], "wait_seconds": bad })).unwrap_err();
            assert!(text.contains("`wait_seconds` must be"), "{text}");
        }
    }
}
