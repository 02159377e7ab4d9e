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


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started by :func:`spawn_logged` (SIGTERM, then SIGKILL), and its children."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # its own session: our child's group only
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


def spawn_logged(
    command: list[str], log: Path, *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session (so :func:`stop` ends it and its children only),
    its stdout and stderr both written to ``log``."""
    with log.open("wb") as output:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_up(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    *,
    name: str,
    timeout: float = START_TIMEOUT,
) -> None:
    """Poll ``url`` until it answers 200; fail with the log's tail if the process dies or
    ``timeout`` seconds pass (start-up is bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"{name} did not answer {url} in {timeout:.0f}s:\n{log.read_text()[-4000:]}")


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
    """``python -m llama_cpp.server`` serving the embedded GGUF as ``smollm2`` on loopback."""
    pytest.importorskip("langchain_openai", reason="pip install langchain-openai")
    pytest.importorskip("llama_cpp.server.app", reason="pip install 'llama-cpp-python[server]'")
    from langchain_genprog.models._resources import default_model_path

    gguf = default_model_path()
    port = free_port()
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
    process = spawn_logged(command, log)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_up(f"{url}/models", process, log, name="llama_cpp.server")
        yield LlamaServer(url=url, log=log)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def base_url(llama_server: LlamaServer) -> str:
    """The API root of :func:`llama_server`, e.g. ``http://127.0.0.1:PORT/v1``."""
    return llama_server.url
