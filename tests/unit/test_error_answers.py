"""The error handlers and request logging, on a route that fails the way a bug does."""

import json
import logging

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from service.api.middleware import RequestLogMiddleware
from service.api.responses import EXCEPTION_HANDLERS
from service.logging import configure_logging


@get("/boom")
async def boom() -> None:
    secret = "document text that must stay private"  # noqa: F841 - a local that must not be logged
    raise RuntimeError("bug")


@pytest.fixture
def json_logs():
    """Lector's logging for one test, removed afterwards."""
    configure_logging("json", "info")
    yield
    logging.getLogger().handlers.clear()


def test_an_unexpected_error_is_500_with_the_request_id_and_logged(capsys, json_logs):
    app = Litestar(
        [boom],
        middleware=[RequestLogMiddleware()],
        exception_handlers=EXCEPTION_HANDLERS,
        logging_config=None,
    )
    with TestClient(app) as client:
        response = client.get("/boom", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    body = response.json()
    assert body == {"success": False, "message": "Internal error; quote request id req-42 when reporting it."}
    assert "Traceback" not in response.text
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    error = next(line for line in logged if line["event"] == "unhandled error")
    assert error["request_id"] == "req-42" and "RuntimeError: bug" in error["exception"]
    assert "must stay private" not in json.dumps(logged)
    request = next(line for line in logged if line["event"] == "request")
    assert (request["status"], request["path"], request["request_id"]) == (500, "/boom", "req-42")
