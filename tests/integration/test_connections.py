"""Slow and broken clients at the connection: every wait is bounded, and what uvicorn answers
by itself is in Lector's error shape. A real server with short limits, and raw sockets."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import API_KEY, Server, start_server

HEADER_TIMEOUT_S = 2
BODY_TIMEOUT_S = 2
KEEP_ALIVE_S = 1
MAX_CONNECTIONS = 4
#: How much later than its limit a connection may end: scheduling on a busy machine.
SLACK_S = 2.5


@pytest.fixture(scope="module")
def strict(redis_url, tmp_path_factory) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("strict"),
        LECTOR_REDIS_URL=redis_url,
        LECTOR_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        LECTOR_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
        LECTOR_BODY_MIN_KB_PER_S="8",
        LECTOR_KEEP_ALIVE_S=str(KEEP_ALIVE_S),
        LECTOR_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    )
    yield running
    running.stop()


def connect(server: Server) -> socket.socket:
    port = int(server.url.rsplit(":", 1)[1])
    connection = socket.create_connection(("127.0.0.1", port))
    connection.settimeout(0.05)
    return connection


def dribble(connection: socket.socket, data: bytes, give_up_s: float) -> tuple[bytes, float]:
    """Send ``data`` a byte a second until the server closes the connection; returns what it
    answered and after how many seconds it closed (``give_up_s`` if it never did)."""
    started = time.monotonic()
    answer = b""
    for byte in data:
        try:
            connection.send(bytes([byte]))
        except OSError:
            return answer, time.monotonic() - started
        second = time.monotonic() + 1
        while time.monotonic() < second:
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return answer, time.monotonic() - started
            if not chunk:
                return answer, time.monotonic() - started
            answer += chunk
        if time.monotonic() - started > give_up_s:
            break
    return answer, give_up_s


def read_until_closed(connection: socket.socket, give_up_s: float) -> tuple[bytes, float]:
    started = time.monotonic()
    answer = b""
    while time.monotonic() - started < give_up_s:
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        answer += chunk
    return answer, time.monotonic() - started


def parse(answer: bytes) -> tuple[int, dict[str, str], dict]:
    """Status, headers and JSON body of one HTTP answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def test_headers_sent_a_byte_a_second_are_answered_408_and_closed(strict):
    request = b"GET /health HTTP/1.1\r\nHost: lector\r\nX-Padding: " + b"a" * 40 + b"\r\n\r\n"
    answer, seconds = dribble(connect(strict), request, give_up_s=HEADER_TIMEOUT_S + 10)
    assert seconds < HEADER_TIMEOUT_S + SLACK_S
    status, headers, body = parse(answer)
    assert status == 408
    assert headers["content-type"] == "application/json"
    assert body == {
        "success": False,
        "message": f"The request's headers took over {HEADER_TIMEOUT_S} seconds to arrive.",
    }


def test_a_connection_that_sends_nothing_is_closed(strict):
    answer, seconds = read_until_closed(connect(strict), give_up_s=HEADER_TIMEOUT_S + 10)
    assert seconds < HEADER_TIMEOUT_S + SLACK_S
    assert answer == b""


def test_a_body_sent_a_byte_a_second_is_answered_408_and_closed(strict):
    connection = connect(strict)
    connection.sendall(
        b"POST /api/ocr/extract-text HTTP/1.1\r\nHost: lector\r\n"
        + f"Authorization: Bearer {API_KEY}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    answer, seconds = dribble(connection, b"{" + b" " * 998 + b"}", give_up_s=BODY_TIMEOUT_S + 10)
    assert seconds < BODY_TIMEOUT_S + SLACK_S
    status, headers, body = parse(answer)
    assert status == 408
    assert headers["connection"] == "close"
    assert body["success"] is False
    assert body["message"].startswith("The request body arrived too slowly:")


def test_a_body_that_keeps_the_minimum_pace_is_read_whole(strict):
    """8 KB a second earns a second each: 96 KB sent at 16 KB a second, 6 s in all, outlasts
    the 2 s base and is still read."""
    chunks = [b'{"document_type_code": "' + b"x" * (16 * 1024 - 26)] + [b"x" * 16 * 1024] * 4 + [b'"}']
    total = sum(len(chunk) for chunk in chunks)

    def paced() -> Iterator[bytes]:
        for chunk in chunks:
            yield chunk
            time.sleep(1)

    response = httpx.post(
        f"{strict.url}/api/convert-async",
        content=paced(),
        headers={
            "Authorization": f"Bearer {API_KEY}",
            "Content-Type": "application/json",
            "Content-Length": str(total),
        },
        timeout=30,
    )
    # The body arrived whole and was read: its fields are judged, not its pace.
    assert response.status_code == 422, response.text
    assert response.json()["errors"]


def test_an_idle_connection_is_closed_after_the_keep_alive(strict):
    connection = connect(strict)
    connection.sendall(b"GET /health HTTP/1.1\r\nHost: lector\r\n\r\n")
    answer, seconds = read_until_closed(connection, give_up_s=KEEP_ALIVE_S + 10)
    assert answer.startswith(b"HTTP/1.1 200")
    assert seconds < KEEP_ALIVE_S + SLACK_S
    assert b"HTTP/1.1 408" not in answer  # (a random request id may hold the digits 408)


def test_a_request_over_the_connection_limit_is_a_503_in_lectors_shape(strict):
    held = [connect(strict) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)
        response = httpx.get(f"{strict.url}/health", timeout=5)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json() == {
            "success": False,
            "message": f"The server holds its most connections ({MAX_CONNECTIONS}); try again shortly.",
        }
    finally:
        for connection in held:
            connection.close()
    time.sleep(0.3)
    assert httpx.get(f"{strict.url}/health", timeout=5).status_code == 200


MALFORMED_MESSAGE = "The request is not valid HTTP/1.1, or its request line and headers are over 16 KB."


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: lector\r\nNo colon here\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: lector\r\nContent-Length: -1\r\n\r\n",
        # h11 measures what it holds of an unfinished request: the headers' end never comes.
        b"GET /health HTTP/1.1\r\nHost: lector\r\nX-Big: " + b"a" * 20_000,
    ],
    ids=["no request line", "a header without a colon", "a negative length", "headers over 16 KB"],
)
def test_malformed_http_is_a_400_in_lectors_shape(strict, request_bytes):
    connection = connect(strict)
    connection.sendall(request_bytes)
    answer, seconds = read_until_closed(connection, give_up_s=10)
    assert seconds < 5  # answered and closed at once
    status, headers, body = parse(answer)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert body == {"success": False, "message": MALFORMED_MESSAGE}
