"""A real ``python -m llama_cpp.server`` on loopback, serving the embedded SmolLM2 GGUF.

Shared by the tests that talk to a model only over its OpenAI-compatible API
(chat completions for the graph, ``/v1/completions`` echo log-probs for
MExGen). Start-up is bounded and the server is always stopped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
MODEL_ALIAS = "smollm2"
"""The name the server answers to (``--model smollm2``)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # its own session: our child's group only
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


@dataclass(frozen=True)
class LlamaServer:
    """A running server: its API root and the log its requests are written to."""

    url: str
    log: Path

    def completions_requests(self) -> int:
        """``POST /v1/completions`` requests answered so far (uvicorn's access log)."""
        return self.log.read_text(errors="replace").count("POST /v1/completions")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    pytest.importorskip("langchain_openai", reason="pip install langchain-openai")
    pytest.importorskip("llama_cpp.server.app", reason="pip install 'llama-cpp-python[server]'")
    from langchain_genprog.models._resources import default_model_path

    gguf = default_model_path()
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--seed",
        "0",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited:\n{log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not up in {START_TIMEOUT:.0f}s")
            time.sleep(0.5)
        yield LlamaServer(url=url, log=log)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def base_url(llama_server: LlamaServer) -> str:
    """The API root of :func:`llama_server`, e.g. ``http://127.0.0.1:PORT/v1``."""
    return llama_server.url
