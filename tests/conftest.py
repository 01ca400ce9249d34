"""Session-wide fixtures: generated documents, a real Redis, a real S3 server, a real Lector server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fixtures.generate import write_all
from tests.helpers import (
    ADMIN_KEY,
    API_KEY,
    SECRET,
    Server,
    start_redis,
    start_s3,
    start_server,
    start_worker,
    stop_process,
    stop_s3,
)
from tests.installs import build_wheel


@pytest.fixture(scope="session")
def docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every generated test document, by name."""
    return write_all(tmp_path_factory.mktemp("docs"))


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Lector's wheel, built from the checkout once per session."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real redis-server started for this test session."""
    process, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a real S3 server (SeaweedFS) started for this test session:
    ``LECTOR_STORAGE_URL`` and the standard ``AWS_*`` variables."""
    process, env = start_s3(tmp_path_factory.mktemp("s3"))
    yield env
    stop_s3(process)


@pytest.fixture(scope="session")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A Lector API with default limits, on loopback."""
    running = start_server(
        tmp_path_factory.mktemp("server"),
        LECTOR_REDIS_URL=redis_url,
        LECTOR_ADMIN_KEY=ADMIN_KEY,
        LECTOR_SECRET=SECRET,
    )
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client for ``server`` that sends the test API key."""
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120
    ) as http:
        yield http


@pytest.fixture(scope="session")
def workers(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list]:
    """Two real `lector worker` processes on the session's Redis."""
    log_dir = tmp_path_factory.mktemp("workers")
    # The API's secret too: the workers decrypt the PDF passwords the API encrypted with it.
    processes = [start_worker(log_dir, redis_url, LECTOR_SECRET=SECRET) for _ in range(2)]
    yield processes
    for process in processes:
        stop_process(process)
