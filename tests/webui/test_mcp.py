"""``python app.py --mcp``: the API endpoints as MCP tools, named after the endpoints and described by the
handlers' docstrings, listed and called through the MCP protocol itself."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gradio as gr
import httpx
import pytest
from served_app import stop

from webui.launch import name_tools_after_endpoints, parse_args

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ("predict_age", "generate_faces", "animate", "colorize", "swap_faces", "generate_digits", "translate")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mcp_flag_and_gradio_variable(monkeypatch):
    monkeypatch.delenv("GRADIO_MCP_SERVER", raising=False)
    assert parse_args([]).mcp is False and parse_args(["--mcp"]).mcp is True
    monkeypatch.setenv("GRADIO_MCP_SERVER", "true")  # how a Space's settings turn Gradio's MCP server on
    assert parse_args([]).mcp is True


def test_tools_are_named_after_their_endpoints_and_keep_their_kind():
    def run(x: str, progress=gr.Progress()) -> str:
        """Plain."""
        return x

    def stream(n: float):
        """Streamed."""
        yield from range(int(n))

    with gr.Blocks() as demo:
        box, number, out = gr.Textbox(), gr.Number(), gr.Textbox()
        gr.Button().click(run, box, out, api_name="shout")
        gr.Button().click(stream, number, out, api_name="count")
        gr.Button().click(run, box, out, api_visibility="private")
    name_tools_after_endpoints(demo)
    fns = {fn.api_name: fn for fn in demo.fns.values()}
    assert fns["shout"].fn.__name__ == "shout" and fns["count"].fn.__name__ == "count"
    assert inspect.isgeneratorfunction(fns["count"].fn) and not inspect.isgeneratorfunction(fns["shout"].fn)
    assert inspect.getdoc(fns["shout"].fn) == "Plain." and "progress" in inspect.signature(fns["shout"].fn).parameters
    assert fns["shout"].fn("hi") == "hi" and list(fns["count"].fn(3)) == [0, 1, 2]
    assert [f for f in demo.fns.values() if f.api_visibility == "private"][0].fn is run  # private: untouched


@pytest.fixture(scope="module")
def mcp_app(tmp_path_factory):
    """The full app with --mcp, offline, with empty weights folders."""
    scratch = tmp_path_factory.mktemp("mcp")
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith(("HF_", "GEN_MODELS_", "GRADIO_"))}
    for name in ("weights", "hf-home", "cache", "outputs", "gradio"):
        (scratch / name).mkdir()
    env.update({"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}",
                "GEN_MODELS_WEIGHTS_DIR": str(scratch / "weights"), "HF_HOME": str(scratch / "hf-home"),
                "GEN_MODELS_CACHE": str(scratch / "cache"), "GEN_MODELS_OUTPUT_DIR": str(scratch / "outputs"),
                "GRADIO_TEMP_DIR": str(scratch / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False"})
    port, log = free_port(), tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "app.py", "--mcp", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"app.py --mcp exited early:\n{log.read().decode()[-3000:]}")
            try:
                if httpx.get(url + "/gradio_api/info", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "app.py --mcp did not answer within 120 s"
            time.sleep(0.5)
        yield url
    finally:
        stop(proc)
        log.close()


def test_schema_lists_the_endpoints_with_their_docstrings(mcp_app):
    import app

    schema = httpx.get(mcp_app + "/gradio_api/mcp/schema", timeout=30).json()
    tools = {tool["name"]: tool for tool in schema}
    assert set(EXPECTED) <= set(tools), sorted(tools)
    docs = {fn.api_name: inspect.getdoc(fn.fn) for fn in app.demo.fns.values() if fn.api_name}
    for name in EXPECTED:
        first_line = docs[name].splitlines()[0].strip()
        assert tools[name]["description"].startswith(first_line), (name, tools[name]["description"])
        assert tools[name]["meta"]["endpoint_name"] == name
    assert "files" in tools["predict_age"]["inputSchema"]["properties"]


def test_tools_listed_and_called_over_mcp(mcp_app):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def session_work():
        async with streamable_http_client(mcp_app + "/gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = (await session.list_tools()).tools
                result = await session.call_tool("generate_digits", {"model": "tutorial-all", "seed": 0, "count": 4})
                return listed, result

    # in a thread of its own: the browser suite's Playwright (sync API) keeps an event loop running in this one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        listed, result = pool.submit(asyncio.run, asyncio.wait_for(session_work(), 120)).result()
    assert set(EXPECTED) <= {tool.name for tool in listed}
    assert all(tool.description for tool in listed if tool.name in EXPECTED)
    assert not result.isError
    assert any(c.type == "image" for c in result.content)  # the bundled digits, generated offline
    assert any(c.type == "text" and "/gradio_api/file=" in c.text for c in result.content)
