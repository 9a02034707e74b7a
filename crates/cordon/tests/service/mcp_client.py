"""Drives cordon's MCP tools with the official Python MCP client, like an agent would.

Usage:
    mcp_client.py stdio CORDON CONFIG TENANT
    mcp_client.py http URL TOKEN

Lists the tools, runs a Python script that writes an artifact, reads its logs and the
artifact, checks that a bad path comes back as a tool error, and cancels a sleeping run.
Exits non-zero with a message on the first thing that is not as expected.
"""

import json
import sys
import time

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

TOOLS = {"run", "status", "logs", "artifacts", "read_artifact", "cancel", "list_runs",
         "sandbox_info"}

SCRIPT = """\
import pathlib
pathlib.Path("result.txt").write_text("42\\n")
print("computed 42")
"""


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")


def answer(result):
    """The tool's JSON answer (structured content, or the first text block)."""
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def error_text(result):
    return " ".join(getattr(block, "text", "") for block in result.content)


async def call(session, name, args):
    result = await session.call_tool(name, args)
    check(not result.is_error, f"{name} {args} failed: {error_text(result)}")
    return answer(result)


async def list_tools(session):
    tools = (await session.list_tools()).tools
    check({t.name for t in tools} == TOOLS, f"tool names: {[t.name for t in tools]}")
    for tool in tools:
        check(tool.description and len(tool.description) > 40, f"{tool.name} description")
        check(tool.input_schema.get("type") == "object", f"{tool.name} schema")
    run = next(t for t in tools if t.name == "run")
    check("argv" in run.input_schema["properties"], "run takes argv")
    check("wait_seconds" in run.input_schema["properties"], "run takes wait_seconds")


async def script_run(session):
    view = await call(session, "run", {
        "argv": ["/usr/bin/python3", "main.py"],
        "inputs": [{"kind": "inline", "path": "main.py", "content": SCRIPT}],
        "wait_seconds": 120,
    })
    check(view["state"] == "succeeded", f"script run: {view}")
    run_id = view["id"]
    logs = await call(session, "logs", {"id": run_id, "stream": "stdout", "tail_lines": 10})
    check("computed 42" in logs["text"], f"logs: {logs}")
    listed = await call(session, "artifacts", {"id": run_id})
    paths = {a["path"]: a["kind"] for a in listed["artifacts"]}
    check(paths.get("result.txt") == "file", f"artifacts: {listed}")
    content = await call(session, "read_artifact", {"id": run_id, "path": "result.txt"})
    check(content["text"] == "42\n", f"read_artifact: {content}")
    return run_id


async def refusals(session, run_id):
    for name, args in [
        ("read_artifact", {"id": run_id, "path": "../../../etc/passwd"}),
        ("status", {"id": run_id, "verbose": True}),
        ("status", {"id": "no-such-run"}),
        ("run", {"argv": ["/bin/true"], "mode": "off"}),
    ]:
        result = await session.call_tool(name, args)
        text = error_text(result)
        check(result.is_error, f"{name} {args} was not refused: {text}")
        check(text and "Traceback" not in text and "panicked" not in text, f"{name}: {text}")


async def cancel_sleeper(session):
    view = await call(session, "run", {"argv": ["sleep", "60"], "wait_seconds": 0})
    check(view["state"] in ("queued", "running"), f"sleeper: {view}")
    await call(session, "cancel", {"id": view["id"]})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = await call(session, "status", {"id": view["id"]})
        if status["state"] not in ("queued", "running"):
            break
        await anyio.sleep(0.2)
    check(status["state"] == "cancelled", f"after cancel: {status}")
    return view["id"]


async def exercise(read, write):
    async with ClientSession(read, write) as session:
        await session.initialize()
        await list_tools(session)
        run_id = await script_run(session)
        await refusals(session, run_id)
        sleeper = await cancel_sleeper(session)
        listed = await call(session, "list_runs", {})
        ids = {r["id"] for r in listed["runs"]}
        check({run_id, sleeper} <= ids, f"list_runs: {ids}")
        info = await call(session, "sandbox_info", {})
        check("kernel" in info, f"sandbox_info: {info}")
    print(json.dumps({"ok": True, "runs": [run_id, sleeper]}))


async def main(argv):
    if argv[1] == "stdio":
        cordon, config, tenant = argv[2:5]
        params = StdioServerParameters(
            command=cordon, args=["mcp", "--config", config, "--tenant", tenant])
        async with stdio_client(params) as (read, write):
            await exercise(read, write)
    else:
        url, token = argv[2:4]
        client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with client, streamable_http_client(url, http_client=client) as (read, write):
            await exercise(read, write)


if __name__ == "__main__":
    anyio.run(main, sys.argv)
