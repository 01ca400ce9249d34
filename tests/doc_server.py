"""A small HTTP server on loopback that serves documents the way remote hosts misbehave."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.helpers import serving_in_thread


def _handler(directory: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path.startswith("/files/"):
                path = directory / parts.path.removeprefix("/files/")
                if not path.is_file():
                    return self._answer(404, b"")
                return self._answer(200, path.read_bytes())
            if parts.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", parse_qs(parts.query)["to"][0])
                self.send_header("Content-Length", "0")
                return self.end_headers()
            if parts.path == "/slow":  # one byte a second, for at most a minute
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                for _ in range(60):
                    try:
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    except OSError:
                        return None
                    time.sleep(1)
                return None
            if parts.path == "/big":  # endless bytes with no declared length
                self.send_response(200)
                self.end_headers()
                chunk = b"\0" * 65536
                try:
                    for _ in range(1024):
                        self.wfile.write(chunk)
                except OSError:
                    pass
                return None
            return self._answer(404, b"")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serving(directory: Path) -> AbstractContextManager[str]:
    """Serve ``directory`` under /files/ on a free loopback port; yields the base URL."""
    return serving_in_thread(_handler(directory))
